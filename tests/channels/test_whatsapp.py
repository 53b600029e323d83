"""The WhatsApp channel over real HTTP, with a real Redis and a fake Graph API.

The channel's blueprint runs in a real Sanic server on a free port; a small handler
stands in for Rasa's ``agent.handle_message`` (it records the ``UserMessage`` and
answers through the message's output channel). The Graph API is the local fake in
``tests/fakes/graph_api.py``; webhook bodies are Meta's documented sample payloads
from ``tests/fixtures/whatsapp/``.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.channels.whatsapp import (
    WhatsAppInput,
    WhatsAppOutput,
    WhatsAppSettings,
    mask_phone,
    split_text,
)
from tests.conftest import free_port
from tests.fakes.graph_api import FakeGraphAPI

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
SHOPPER = "4915112345678"


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sample(name: str, *, sender: str = SHOPPER, text: str | None = None,
           message_id: str | None = None, timestamp: float | None = None) -> dict[str, Any]:
    """One of Meta's sample payloads with a fresh id, our sender and the current time."""
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    for contact in value.get("contacts", []):
        contact["wa_id"] = sender
    for message in value.get("messages", []):
        message["from"] = sender
        message["id"] = message_id or f"wamid.{uuid.uuid4().hex}"
        message["timestamp"] = str(int(timestamp if timestamp is not None else time.time()))
        if text is not None:
            message["text"] = {"body": text}
    for status in value.get("statuses", []):
        status["recipient_id"] = sender
        if message_id:
            status["id"] = message_id
    return payload


@dataclass
class Harness:
    """A running channel: its HTTP URL, the fake Graph API, Redis and what Rasa got."""

    url: str
    channel: WhatsAppInput
    graph: FakeGraphAPI
    redis: redis.Redis
    received: list[UserMessage] = field(default_factory=list)
    reply: Callable[[UserMessage], Awaitable[None]] | None = None

    async def post(self, payload: Any, *, raw: bytes | None = None,
                   signature: str | None = None, **headers: str) -> httpx.Response:
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json",
                   "X-Hub-Signature-256": signature if signature is not None else sign(body),
                   **headers}
        async with httpx.AsyncClient() as client:
            return await client.post(f"{self.url}/webhook", content=body, headers=headers)

    async def drain(self) -> None:
        await self.channel.runtime.drain()

    def key(self, *parts: str) -> str:
        return self.channel.runtime.key(*parts)

    def undelivered(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.redis.lrange(self.key("undelivered"), 0, -1)]


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI() as fake:
        yield fake


def channel_settings(graph: FakeGraphAPI, redis_url: str, key_prefix: str,
                     **overrides: Any) -> WhatsAppSettings:
    settings = WhatsAppSettings(
        verify_token=VERIFY_TOKEN, app_secret=APP_SECRET, access_token=graph.access_token,
        phone_number_id=graph.phone_number_id, api_url=graph.url, redis_url=redis_url,
        key_prefix=f"{key_prefix}wa:", template_name="kundendienst_antwort",
        retry_base_seconds=0.01, reclaim_idle_seconds=0.3, max_body_bytes=64 * 1024)
    return replace(settings, **overrides)


async def run_channel(settings: WhatsAppSettings, graph: FakeGraphAPI,
                      client: redis.Redis) -> AsyncIterator[Harness]:
    Sanic.test_mode = True
    channel = WhatsAppInput(settings)
    harness = Harness("", channel, graph, client)

    async def on_new_message(message: UserMessage) -> None:
        """Stands in for Rasa: records the message and answers on its output channel."""
        harness.received.append(message)
        if harness.reply is not None:
            await harness.reply(message)
        else:
            await message.output_channel.send_text_message(
                message.sender_id, f"Antwort auf: {message.text}")

    app = Sanic(f"whatsapp-test-{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/whatsapp")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, access_log=False,
                                     return_asyncio_server=True)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    harness.url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    try:
        yield harness
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


@pytest.fixture
async def wa(graph: FakeGraphAPI, redis_url: str, key_prefix: str,
             redis_client: redis.Redis) -> AsyncIterator[Harness]:
    async for harness in run_channel(channel_settings(graph, redis_url, key_prefix),
                                     graph, redis_client):
        yield harness


# ---- verification handshake ----------------------------------------------------
async def test_verification_handshake_returns_the_challenge(wa: Harness) -> None:
    async with httpx.AsyncClient() as client:
        ok = await client.get(f"{wa.url}/webhook", params={
            "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444"})
        wrong = await client.get(f"{wa.url}/webhook", params={
            "hub.mode": "subscribe", "hub.verify_token": "guessed", "hub.challenge": "1"})
        wrong_mode = await client.get(f"{wa.url}/webhook", params={
            "hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"})
        missing = await client.get(f"{wa.url}/webhook")
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert wrong.status_code == 403 and "1" not in wrong.text
    assert wrong_mode.status_code == 403
    assert missing.status_code == 403


# ---- inbound -------------------------------------------------------------------
async def test_text_with_umlauts_and_emoji_reaches_rasa_and_the_answer_goes_out(
        wa: Harness) -> None:
    text = "Grüße aus Köln 👋 Wo bleibt meine Bestellung? Straße ß 🇩🇪"
    payload = sample("text", text=text)
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    response = await wa.post(payload)
    assert response.status_code == 200
    await wa.drain()

    assert [m.text for m in wa.received] == [text]
    message = wa.received[0]
    assert message.input_channel == "whatsapp"
    assert message.message_id == wamid
    assert message.sender_id.startswith("wa-") and SHOPPER not in message.sender_id
    assert message.metadata == {"whatsapp": {"message_id": wamid, "type": "text"}}
    # read receipt with typing indicator first, then the answer with the text intact
    receipts = wa.graph.read_receipts()
    assert receipts and receipts[0]["message_id"] == wamid
    assert receipts[0]["typing_indicator"] == {"type": "text"}
    sent = wa.graph.messages(to=SHOPPER)
    assert [m["text"]["body"] for m in sent] == [f"Antwort auf: {text}"]
    assert sent[0]["messaging_product"] == "whatsapp" and sent[0]["type"] == "text"
    # the same shopper keeps the same conversation
    await wa.post(sample("text", text="Noch eine Frage"))
    await wa.drain()
    assert wa.received[1].sender_id == message.sender_id


@pytest.mark.parametrize(("fixture", "expected_text", "title"), [
    ("interactive_button_reply", "cancel-button", "Cancel"),
    ("interactive_list_reply", "priority_express", "Priority Mail Express"),
    ("button", "Unsubscribe from Promos", "Unsubscribe from Promos"),
])
async def test_reply_buttons_list_rows_and_template_buttons_pass_their_payload(
        wa: Harness, fixture: str, expected_text: str, title: str) -> None:
    assert (await wa.post(sample(fixture))).status_code == 200
    await wa.drain()
    assert [m.text for m in wa.received] == [expected_text]
    assert wa.received[0].metadata["whatsapp"]["reply_title"] == title


@pytest.mark.parametrize("fixture", ["image", "audio", "location", "unsupported"])
async def test_content_the_bot_cannot_read_triggers_the_explaining_intent(
        wa: Harness, fixture: str) -> None:
    assert (await wa.post(sample(fixture))).status_code == 200
    await wa.drain()
    assert [m.text for m in wa.received] == ["/whatsapp_unsupported"]
    assert wa.received[0].metadata["whatsapp"]["unsupported_type"] == fixture
    # the shopper still gets an answer (from the domain via Rasa)
    assert len(wa.graph.messages(to=SHOPPER)) == 1


async def test_reactions_are_not_answered_but_open_the_window(wa: Harness) -> None:
    assert (await wa.post(sample("reaction"))).status_code == 200
    await wa.drain()
    assert wa.received == []
    assert wa.graph.messages() == []
    assert wa.redis.exists(wa.key("window", SHOPPER))


async def test_every_entry_change_and_message_of_a_batch_is_processed_in_order(
        wa: Harness) -> None:
    first = sample("text", text="eins")
    batch = copy.deepcopy(first)
    value = batch["entry"][0]["changes"][0]["value"]
    value["messages"].append(sample("text", text="zwei")["entry"][0]["changes"][0]["value"]
                             ["messages"][0])
    other = "4917600000001"
    batch["entry"][0]["changes"].append({"field": "account_update", "value": {"x": 1}})
    batch["entry"][0]["changes"].append(sample("interactive_button_reply", sender=other)
                                        ["entry"][0]["changes"][0])
    batch["entry"].append(sample("text", text="drei")["entry"][0])
    batch["entry"].append(sample("status_sent")["entry"][0])
    batch["unknown_top_level_field"] = {"ignored": True}
    batch["entry"][0]["unknown_entry_field"] = [1, 2]

    response = await wa.post(batch)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "new": 5, "duplicates": 0}
    await wa.drain()
    by_sender: dict[str, list[str]] = {}
    for message in wa.received:
        by_sender.setdefault(message.sender_id, []).append(str(message.text))
    assert sorted(by_sender.values()) == [["cancel-button"], ["eins", "zwei", "drei"]]


async def test_replayed_webhooks_are_processed_once(wa: Harness) -> None:
    payload = sample("text", text="Hallo")
    responses = await asyncio.gather(*(wa.post(payload) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert sum(r.json()["new"] for r in responses) == 1
    await wa.drain()
    await wa.post(payload)  # Meta redelivers later
    await wa.drain()
    assert [m.text for m in wa.received] == ["Hallo"]
    assert len(wa.graph.messages()) == 1
    ttl = wa.redis.ttl(wa.key("seen", "msg:" + str(wa.received[0].message_id)))
    assert 47 * 3600 < ttl <= 48 * 3600


# ---- bad input -----------------------------------------------------------------
async def test_forged_or_missing_signatures_are_refused_and_nothing_is_processed(
        wa: Harness) -> None:
    payload = sample("text", text="Hallo")
    body = json.dumps(payload).encode()
    forged = await wa.post(payload, raw=body, signature=sign(body, "wrong-secret"))
    tampered = await wa.post(payload, raw=body.replace(b"Hallo", b"Hallx"),
                             signature=sign(body))
    missing = await wa.post(payload, raw=body, signature="")
    sha1 = await wa.post(payload, raw=body, signature="sha1=" + hmac.new(
        APP_SECRET.encode(), body, hashlib.sha1).hexdigest())
    assert [r.status_code for r in (forged, tampered, missing, sha1)] == [401] * 4
    await asyncio.sleep(0.3)
    assert wa.received == [] and wa.graph.requests == []
    assert wa.redis.keys(wa.key("*")) == [] or wa.redis.xlen(wa.key("inbox")) == 0
    assert not wa.redis.keys(wa.key("seen", "*"))
    # the genuine delivery afterwards is still processed (nothing was marked as seen)
    assert (await wa.post(payload, raw=body)).status_code == 200
    await wa.drain()
    assert [m.text for m in wa.received] == ["Hallo"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"',
                                 b'{"object": "whatsapp_business_account", "entry": "x"}',
                                 b"\xff\xfe\x00"])
async def test_malformed_payloads_get_400(wa: Harness, raw: bytes) -> None:
    response = await wa.post(None, raw=raw)
    assert response.status_code == 400
    assert "error" in response.json()


async def test_bodies_over_the_limit_get_413_and_are_not_processed(
        graph: FakeGraphAPI, redis_url: str, key_prefix: str,
        redis_client: redis.Redis) -> None:
    settings = channel_settings(graph, redis_url, key_prefix, max_body_bytes=2048)
    async for wa in run_channel(settings, graph, redis_client):
        payload = sample("text", text="ä" * 4000)
        response = await wa.post(payload)
        assert response.status_code == 413
        chunked = await wa.post(None, raw=b"", signature="x")  # small body still checked
        assert chunked.status_code == 401
        assert (await wa.post(sample("text", text="kurz"))).status_code == 200
        await wa.drain()
        assert [m.text for m in wa.received] == ["kurz"]


async def test_unconfigured_channel_refuses_everything(
        graph: FakeGraphAPI, redis_url: str, key_prefix: str,
        redis_client: redis.Redis) -> None:
    settings = replace(channel_settings(graph, redis_url, key_prefix), app_secret="",
                       verify_token="")
    async for wa in run_channel(settings, graph, redis_client):
        assert (await wa.post(sample("text"))).status_code == 503
        async with httpx.AsyncClient() as client:
            handshake = await client.get(f"{wa.url}/webhook", params={
                "hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
        assert handshake.status_code == 403


async def test_redis_outage_answers_503_so_meta_redelivers(
        graph: FakeGraphAPI, key_prefix: str, redis_client: redis.Redis) -> None:
    settings = channel_settings(graph, f"redis://127.0.0.1:{free_port()}/0", key_prefix)
    async for wa in run_channel(settings, graph, redis_client):
        assert (await wa.post(sample("text"))).status_code == 503


# ---- statuses ------------------------------------------------------------------
async def test_statuses_are_recorded_and_never_move_backwards(wa: Harness) -> None:
    wamid = f"wamid.{uuid.uuid4().hex}"
    for name in ("status_sent", "status_read", "status_delivered", "status_sent"):
        assert (await wa.post(sample(name, message_id=wamid))).status_code == 200
        await wa.drain()
    assert wa.redis.hget(wa.key("status", wamid), "status") == "read"


# ---- outbound ------------------------------------------------------------------
async def shopper_wrote(wa: Harness, when: float | None = None) -> str:
    """The shopper writes once; returns the conversation id."""
    await wa.post(sample("text", text="Hallo", timestamp=when))
    await wa.drain()
    return wa.received[-1].sender_id


async def test_long_text_is_split_at_4096_characters_without_loss(wa: Harness) -> None:
    paragraph = "Sehr geehrte Kundin, Ihre Sendung ist unterwegs. Grüße 📦 " * 30
    long_text = "\n\n".join([paragraph.strip()] * 6)
    assert len(long_text) > 2 * 4096

    async def answer(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, long_text)

    wa.reply = answer
    await shopper_wrote(wa)
    bodies = [m["text"]["body"] for m in wa.graph.messages(to=SHOPPER)]
    assert len(bodies) == 3 and all(len(b) <= 4096 for b in bodies)
    assert "".join(bodies).replace("\n", "").replace(" ", "") == \
        long_text.replace("\n", "").replace(" ", "")
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]


async def test_buttons_become_reply_buttons_or_lists_within_meta_limits(
        wa: Harness) -> None:
    buttons = [{"title": f"Möglichkeit Nummer {i} mit langem Titel", "payload": f"/choice{i}"}
               for i in range(12)]

    async def answer(message: UserMessage) -> None:
        out = message.output_channel
        await out.send_text_with_buttons(message.sender_id, "Wählen Sie:", buttons[:3])
        await out.send_text_with_buttons(message.sender_id, "Wählen Sie:", buttons[:7])
        await out.send_text_with_buttons(message.sender_id, "Wählen Sie:", buttons)

    wa.reply = answer
    await shopper_wrote(wa)
    sent = [m["interactive"] for m in wa.graph.messages(to=SHOPPER)]
    assert [i["type"] for i in sent] == ["button", "list", "list", "list"]
    reply = sent[0]["action"]["buttons"]
    assert [b["reply"]["id"] for b in reply] == ["/choice0", "/choice1", "/choice2"]
    assert all(len(b["reply"]["title"]) <= 20 for b in reply)
    assert reply[0]["reply"]["title"].startswith("Möglichkeit")
    rows = [[r["id"] for s in i["action"]["sections"] for r in s["rows"]] for i in sent[1:]]
    assert rows == [[f"/choice{i}" for i in range(7)], [f"/choice{i}" for i in range(10)],
                    ["/choice10", "/choice11"]]


async def test_agent_replies_via_get_output_channel_reach_the_shopper(wa: Harness) -> None:
    conversation = await shopper_wrote(wa)
    output = wa.channel.get_output_channel()
    assert isinstance(output, WhatsAppOutput) and output.name() == "whatsapp"
    await output.send_response(conversation, {
        "text": "Guten Tag, hier ist Frau Weber vom Kundenservice. 😊",
        "handoff_event": "message", "agent": {"id": "weber", "name": "Frau Weber"}})
    bodies = [m["text"]["body"] for m in wa.graph.messages(to=SHOPPER)]
    assert bodies[-1] == "Guten Tag, hier ist Frau Weber vom Kundenservice. 😊"


async def test_outside_the_24_hour_window_the_template_goes_out_and_the_text_waits(
        wa: Harness) -> None:
    conversation = await shopper_wrote(wa, when=time.time() - 25 * 3600)
    assert not wa.redis.exists(wa.key("window", SHOPPER))
    assert [m["type"] for m in wa.graph.messages(to=SHOPPER)] == ["template"]  # the reply
    output = wa.channel.get_output_channel()
    await output.send_text_message(conversation, "Wie zufrieden waren Sie? (1-5)")
    sent = wa.graph.messages(to=SHOPPER)
    assert [m["type"] for m in sent] == ["template"]  # one template for waiting messages
    assert sent[0]["template"] == {"name": "kundendienst_antwort", "language": {"code": "de"}}
    assert wa.redis.llen(wa.key("pending", SHOPPER)) == 2

    # the shopper answers the template: the window opens, waiting messages go out first
    await wa.post(sample("button"))
    await wa.drain()
    bodies = [m["text"]["body"] for m in wa.graph.messages(to=SHOPPER) if m["type"] == "text"]
    assert bodies == ["Antwort auf: Hallo", "Wie zufrieden waren Sie? (1-5)",
                      "Antwort auf: Unsubscribe from Promos"]
    assert wa.redis.llen(wa.key("pending", SHOPPER)) == 0


async def test_error_131047_in_the_send_response_falls_back_to_the_template(
        wa: Harness) -> None:
    conversation = await shopper_wrote(wa)
    wa.graph.closed_windows.add(SHOPPER)  # Meta knows better than our clock
    await wa.channel.get_output_channel().send_text_message(conversation, "Ihre Antwort")
    sent = wa.graph.messages(to=SHOPPER)
    assert sent[-1]["type"] == "template"
    assert json.loads(wa.redis.lindex(wa.key("pending", SHOPPER), 0))["text"]["body"] == \
        "Ihre Antwort"


async def test_error_131047_in_a_later_status_webhook_falls_back_to_the_template(
        wa: Harness) -> None:
    conversation = await shopper_wrote(wa)
    output = wa.channel.get_output_channel()
    assert isinstance(output, WhatsAppOutput)
    wamid = await output.post_message({"messaging_product": "whatsapp", "to": SHOPPER,
                                       "type": "text", "text": {"body": "Späte Antwort"}})
    assert conversation
    await wa.post(sample("status_failed_131047", message_id=wamid))
    await wa.drain()
    assert wa.graph.messages(to=SHOPPER)[-1]["type"] == "template"
    assert wa.redis.hget(wa.key("status", wamid), "status") == "failed"
    pending = json.loads(wa.redis.lindex(wa.key("pending", SHOPPER), 0))
    assert pending["text"]["body"] == "Späte Antwort"


@pytest.mark.parametrize("code", [130429, 131056])
async def test_rate_limits_back_off_and_retry(wa: Harness, code: int) -> None:
    conversation = await shopper_wrote(wa)
    wa.graph.fail_next(code, times=2)
    started = time.monotonic()
    await wa.channel.get_output_channel().send_text_message(conversation, "Nach dem Limit")
    assert [m["text"]["body"] for m in wa.graph.messages(to=SHOPPER)][-1] == "Nach dem Limit"
    assert time.monotonic() - started >= 0.01 + 0.02  # two back-offs
    assert wa.undelivered() == []


async def test_token_error_is_logged_loudly_and_the_message_kept(
        wa: Harness, caplog: pytest.LogCaptureFixture) -> None:
    conversation = await shopper_wrote(wa)
    wa.graph.fail_next(190)
    with caplog.at_level(logging.WARNING, logger="bot.channels.whatsapp"):
        await wa.channel.get_output_channel().send_text_message(conversation, "Verloren?")
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert critical and "access token" in critical[0].getMessage()
    kept = wa.undelivered()
    assert kept[-1]["code"] == 190
    assert kept[-1]["record"]["payload"]["text"]["body"] == "Verloren?"


async def test_persistent_server_errors_end_in_the_undelivered_list(wa: Harness) -> None:
    conversation = await shopper_wrote(wa)
    wa.graph.fail_next(131000, times=10)
    await wa.channel.get_output_channel().send_text_message(conversation, "Nicht verlieren")
    assert wa.undelivered()[-1]["record"]["payload"]["text"]["body"] == "Nicht verlieren"


async def test_phone_numbers_never_appear_in_logs(
        wa: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await shopper_wrote(wa, when=time.time() - 25 * 3600)
        wa.graph.fail_next(130429)
        await wa.post(sample("text", text="Hallo nochmal"))
        await wa.post(sample("status_failed_131047"))
        await wa.drain()
    assert caplog.records
    assert SHOPPER not in caplog.text
    assert mask_phone(SHOPPER) == "***678"


# ---- nothing lost ----------------------------------------------------------------
async def test_a_crashed_consumer_s_messages_are_processed_by_the_next_one(
        graph: FakeGraphAPI, redis_url: str, key_prefix: str,
        redis_client: redis.Redis) -> None:
    settings = channel_settings(graph, redis_url, key_prefix)
    accepting = WhatsAppInput(settings).runtime
    payload = sample("text", text="Überlebt den Absturz")
    from bot.channels.whatsapp import webhook_items

    assert await accepting.accept(webhook_items(payload)) == 1
    # a consumer reads the entry and dies before acknowledging it
    await accepting._ensure_group()
    read = await accepting.redis.xreadgroup(accepting.group, "dead-consumer",
                                            {accepting.inbox: ">"}, count=10)
    assert read and len(read[0][1]) == 1
    await accepting.close()
    await asyncio.sleep(settings.reclaim_idle_seconds)

    async for wa in run_channel(settings, graph, redis_client):
        await asyncio.sleep(0.5)
        await wa.drain()
        assert [m.text for m in wa.received] == ["Überlebt den Absturz"]


async def test_an_acknowledging_only_process_leaves_the_handling_to_the_worker(
        graph: FakeGraphAPI, redis_url: str, key_prefix: str,
        redis_client: redis.Redis) -> None:
    """The stack's split: the public Rasa acknowledges, the inbox worker answers."""
    front_settings = replace(channel_settings(graph, redis_url, key_prefix),
                             inbox_consumer=False)
    worker_settings = channel_settings(graph, redis_url, key_prefix)
    async for front in run_channel(front_settings, graph, redis_client):
        reply = await front.post(sample("text", text="Wo bleibt meine Bestellung?"))
        assert reply.status_code == 200
        await asyncio.sleep(0.3)
        assert front.received == []
        assert redis_client.xlen(front.channel.runtime.inbox) == 1  # waits, durable
        async for worker in run_channel(worker_settings, graph, redis_client):
            await asyncio.sleep(0.3)
            await worker.drain()
            assert [m.text for m in worker.received] == ["Wo bleibt meine Bestellung?"]
            assert front.received == []
            sent = graph.messages(to=SHOPPER)
            assert [m["text"]["body"] for m in sent] == [
                "Antwort auf: Wo bleibt meine Bestellung?"]


async def test_a_failing_handler_is_retried_then_kept(wa: Harness) -> None:
    calls: list[str] = []

    async def broken(message: UserMessage) -> None:
        calls.append(str(message.text))
        raise RuntimeError("Rasa is down")

    wa.reply = broken
    await wa.post(sample("text", text="Bitte nicht verlieren"))
    await asyncio.sleep(0.2)
    await wa.drain()
    assert calls == ["Bitte nicht verlieren"] * 3
    kept = wa.undelivered()
    assert kept[-1]["reason"] == "inbound processing failed"
    assert kept[-1]["record"]["message"]["text"]["body"] == "Bitte nicht verlieren"


async def test_from_credentials_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "s")
    monkeypatch.setenv("WHATSAPP_API_URL", "http://127.0.0.1:9/v21.0/")
    monkeypatch.delenv("WHATSAPP_TEMPLATE_NAME", raising=False)
    channel = WhatsAppInput.from_credentials({"template_name": "csat_frage",
                                              "app_secret": "ignored"})
    assert isinstance(channel, WhatsAppInput)
    assert channel.settings.app_secret == "s"
    assert channel.settings.api_url == "http://127.0.0.1:9/v21.0"
    assert channel.settings.template_name == "csat_frage"
    monkeypatch.setenv("WHATSAPP_SEND_ATTEMPTS", "viele")
    with pytest.raises(ValueError, match="WHATSAPP_SEND_ATTEMPTS"):
        WhatsAppSettings.from_env()


async def test_a_backlog_longer_than_the_reclaim_time_is_still_handled_once(
        graph: FakeGraphAPI, redis_url: str, key_prefix: str,
        redis_client: redis.Redis) -> None:
    settings = channel_settings(graph, redis_url, key_prefix, max_concurrent_conversations=2,
                                reclaim_idle_seconds=0.2)
    async for wa in run_channel(settings, graph, redis_client):
        async def slow(message: UserMessage) -> None:
            await asyncio.sleep(0.3)  # slower than the reclaim idle time

        wa.reply = slow
        texts = [f"Nachricht {i}" for i in range(6)]
        for text in texts:
            assert (await wa.post(sample("text", text=text))).status_code == 200
        await asyncio.sleep(0.5)
        await wa.channel.runtime.drain(timeout=20)
        assert [m.text for m in wa.received] == texts
