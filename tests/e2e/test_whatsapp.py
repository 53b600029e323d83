"""WhatsApp end to end: signed Meta webhooks into the real Rasa server, answers out to
the fake Graph API (``WHATSAPP_API_URL`` of the test stack), agent replies through
Rasa's tracker events API with ``output_channel=latest``."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest
import redis

from tests.e2e.conftest import Stack
from tests.fakes.graph_api import FakeGraphAPI

pytestmark = pytest.mark.e2e
APP_SECRET = "e2e-app-secret"


def webhook(sender: str, message: dict[str, Any]) -> dict[str, Any]:
    """A webhook in Meta's documented shape carrying one message."""
    wamid = f"wamid.{uuid.uuid4().hex}"
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Jana"}, "wa_id": sender}],
            "messages": [{"from": sender, "id": wamid, "timestamp": str(int(time.time())),
                          **message}]}}]}]}


def post(stack: Stack, payload: dict[str, Any], secret: str = APP_SECRET) -> httpx.Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(f"{stack.rasa_url}/webhooks/whatsapp/webhook", content=body,
                      headers={"Content-Type": "application/json",
                               "X-Hub-Signature-256": signature}, timeout=10)


def texts_to(graph: FakeGraphAPI, phone: str) -> list[str]:
    return [m["text"]["body"] for m in graph.messages(to=phone) if m["type"] == "text"]


def test_signed_hallo_gets_a_german_answer_on_whatsapp(stack: Stack,
                                                       graph_api: FakeGraphAPI) -> None:
    phone = "4915100000001"
    payload = webhook(phone, {"type": "text", "text": {"body": "Hallo"}})
    started = time.monotonic()
    response = post(stack, payload)
    assert response.status_code == 200
    assert time.monotonic() - started < 5  # acknowledged without waiting for Rasa
    answers = graph_api.wait_for(lambda: texts_to(graph_api, phone), timeout=30)
    assert "Guten Tag" in answers[0]
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert any(r["message_id"] == wamid for r in graph_api.read_receipts())

    # Meta redelivers the same webhook: no second answer
    assert post(stack, payload).status_code == 200
    time.sleep(2)
    assert len(texts_to(graph_api, phone)) == 1

    # the conversation is keyed by a pseudonym, and Rasa knows its channel
    conversation = redis.Redis.from_url(stack.redis_url, decode_responses=True).get(
        f"kdbot:wa:conversation:{phone}")
    assert conversation and conversation.startswith("wa-")
    tracker = stack.tracker(conversation)
    assert tracker["latest_input_channel"] == "whatsapp"
    assert any(e["event"] == "user" and e["text"] == "Hallo" for e in tracker["events"])


def test_forged_signature_and_wrong_verify_token_are_refused(stack: Stack,
                                                             graph_api: FakeGraphAPI) -> None:
    phone = "4915100000002"
    assert post(stack, webhook(phone, {"type": "text", "text": {"body": "Hallo"}}),
                secret="forged").status_code == 401
    url = f"{stack.rasa_url}/webhooks/whatsapp/webhook"
    assert httpx.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "wrong",
                                  "hub.challenge": "42"}).status_code == 403
    ok = httpx.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "e2e-verify-token",
                                "hub.challenge": "42"})
    assert (ok.status_code, ok.text) == (200, "42")
    time.sleep(1)
    assert graph_api.messages(to=phone) == []


def test_an_image_gets_the_answer_what_the_bot_can_read(stack: Stack,
                                                        graph_api: FakeGraphAPI) -> None:
    phone = "4915100000003"
    payload = webhook(phone, {"type": "image", "image": {
        "mime_type": "image/jpeg", "sha256": "abc", "id": "1003383421387256"}})
    assert post(stack, payload).status_code == 200
    answers = graph_api.wait_for(lambda: texts_to(graph_api, phone), timeout=30)
    assert "nicht lesen" in answers[0]


def test_an_agent_reply_goes_out_on_whatsapp(stack: Stack, graph_api: FakeGraphAPI) -> None:
    phone = "4915100000004"
    assert post(stack, webhook(phone, {"type": "text", "text": {"body": "Hallo"}})
                ).status_code == 200
    graph_api.wait_for(lambda: texts_to(graph_api, phone), timeout=30)
    conversation = redis.Redis.from_url(stack.redis_url, decode_responses=True).get(
        f"kdbot:wa:conversation:{phone}")
    event = {"event": "bot", "text": "Guten Tag, hier ist Frau Weber. Ich kümmere mich darum.",
             "metadata": {"handoff_event": "message",
                          "agent": {"id": "weber", "name": "Frau Weber"}}}
    response = httpx.post(
        f"{stack.rasa_url}/conversations/{conversation}/tracker/events",
        params={"execute_side_effects": "true", "output_channel": "latest",
                "token": stack.rasa_token}, json=[event], timeout=30)
    assert response.status_code == 200, response.text
    graph_api.wait_for(lambda: event["text"] in texts_to(graph_api, phone), timeout=10)
