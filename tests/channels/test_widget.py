"""The widget's socket.io channel against the real stack (Rasa + Redis over real sockets)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from socketio import exceptions as socketio_exceptions

from tests.channels.widget_client import WidgetClient
from tests.channels.widget_client import inject as inject_events
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
async def tab(stack: Stack) -> AsyncIterator[WidgetClient]:
    client = WidgetClient(stack.rasa_url)
    await client.connect()
    yield client
    await client.close()


def inject(stack: Stack, session_id: str, events: list[dict]) -> None:
    inject_events(stack.rasa_url, stack.rasa_token, session_id, events)


def user_texts(stack: Stack, session_id: str) -> list[str]:
    return [e["text"] for e in stack.tracker(session_id)["events"] if e["event"] == "user"]


AGENT = {"id": "anna", "name": "Anna"}


async def test_session_ids_are_random_and_only_valid_ones_are_kept(stack: Stack) -> None:
    fresh = WidgetClient(stack.rasa_url)
    first = await fresh.connect()
    assert first and re.fullmatch(r"[0-9a-f]{32}", first)
    await fresh.close()
    again = WidgetClient(stack.rasa_url)
    assert await again.connect(first) == first
    await again.close()
    # a client may not pick another channel's conversation (e.g. a WhatsApp number) as its id
    for forged in ("4915112345678", "e2e-greet", "../x", 42, {"a": 1}):
        client = WidgetClient(stack.rasa_url)
        got = await client.connect(forged)
        assert got != forged and got and re.fullmatch(r"[0-9a-f]{32}", got)
        await client.close()


async def test_greeting_round_trip_with_response_name(stack: Stack, tab: WidgetClient) -> None:
    ack = await tab.say("Hallo", message_id="m-1")
    assert ack == {"status": "ok", "message_id": "m-1"}
    messages = await tab.wait_for("bot_uttered")
    assert "Guten Tag" in messages[0]["text"]
    assert messages[0]["metadata"]["utter_action"] == "utter_greet"
    assert tab.session_id is not None
    assert user_texts(stack, tab.session_id) == ["Hallo"]


async def test_reload_and_second_tab_continue_the_conversation(stack: Stack,
                                                               tab: WidgetClient) -> None:
    await tab.say("Hallo", message_id="a1")
    await tab.wait_for("bot_uttered")
    # a second tab (or a reload) joins the same session and gets the transcript
    second = WidgetClient(stack.rasa_url)
    assert await second.connect(tab.session_id) == tab.session_id
    history = await second.history()
    assert history["status"] == "ok"
    assert [m["from"] for m in history["messages"]] == ["user", "bot"]
    assert history["messages"][0]["text"] == "Hallo"
    assert "Guten Tag" in history["messages"][1]["text"]
    # what one tab sends, the other sees, and both get the answer
    await second.say("Tschüss", message_id="b1")
    echo = await tab.wait_for("user_echo")
    assert echo[0]["text"] == "Tschüss"
    assert "Auf Wiedersehen" in (await tab.wait_for("bot_uttered", 2))[1]["text"]
    assert "Auf Wiedersehen" in (await second.wait_for("bot_uttered"))[0]["text"]
    assert "user_echo" not in second.events
    await second.close()


async def test_history_is_never_another_channels_conversation(stack: Stack) -> None:
    foreign = uuid.uuid4().hex  # a valid-looking id used by the REST channel
    stack.say(foreign, "Hallo")
    client = WidgetClient(stack.rasa_url)
    assert await client.connect(foreign) == foreign
    assert (await client.history())["messages"] == []
    await client.close()


async def test_agent_messages_carry_their_metadata(stack: Stack, tab: WidgetClient) -> None:
    await tab.say("Hallo", message_id="g1")
    await tab.wait_for("bot_uttered")
    assert tab.session_id is not None
    inject(stack, tab.session_id, [
        {"event": "bot", "text": "Anna hat den Chat übernommen.",
         "metadata": {"handoff_event": "joined", "agent": AGENT}},
        {"event": "bot", "text": "Guten Tag, ich sehe mir Ihre Bestellung an.",
         "metadata": {"handoff_event": "message", "agent": AGENT}},
        {"event": "bot", "text": "Anna hat den Chat verlassen.",
         "metadata": {"handoff_event": "left", "agent": AGENT}},
    ])
    messages = (await tab.wait_for("bot_uttered", 4))[1:]
    assert [m["metadata"]["handoff_event"] for m in messages] == ["joined", "message", "left"]
    assert all(m["metadata"]["agent"] == AGENT for m in messages)
    assert messages[1]["text"] == "Guten Tag, ich sehe mir Ihre Bestellung an."
    history = (await tab.history())["messages"]
    assert [m["from"] for m in history] == ["user", "bot", "system", "agent", "system"]
    assert history[3]["metadata"]["agent"]["name"] == "Anna"


async def test_buttons_arrive_as_quick_replies(stack: Stack, tab: WidgetClient) -> None:
    await tab.say("Hallo", message_id="q1")
    await tab.wait_for("bot_uttered")
    assert tab.session_id is not None
    buttons = [{"title": str(n), "payload": f'/csat{{"csat_score": {n}}}'} for n in range(1, 6)]
    inject(stack, tab.session_id, [
        {"event": "bot", "text": "Wie zufrieden waren Sie?", "data": {"buttons": buttons}}])
    message = (await tab.wait_for("bot_uttered", 2))[1]
    assert [r["title"] for r in message["quick_replies"]] == ["1", "2", "3", "4", "5"]
    assert message["quick_replies"][4]["payload"] == '/csat{"csat_score": 5}'
    assert (await tab.history())["messages"][-1]["quick_replies"][0]["title"] == "1"


@pytest.mark.parametrize(("payload", "code"), [
    ("just a string", "invalid_payload"),
    ([1, 2, 3], "invalid_payload"),
    ({"message": 123}, "invalid_message"),
    ({"message": "   "}, "invalid_message"),
    ({"message": "x" * 2001}, "message_too_long"),
    ({"message": "Hallo", "metadata": [1]}, "invalid_metadata"),
    ({"message": "Hallo", "metadata": "{not json"}, "invalid_metadata"),
    ({"message": "Hallo", "metadata": {"blob": "y" * 5000}}, "invalid_metadata"),
    ({"message": "Hallo", "message_id": "bad id!"}, "invalid_message_id"),
])
async def test_garbage_gets_an_error_and_nothing_is_processed(
        stack: Stack, tab: WidgetClient, payload: object, code: str) -> None:
    ack = await tab.sio.call("user_uttered", payload, timeout=30)
    assert ack == {"status": "error", "code": code}
    assert (await tab.wait_for("widget_error"))[0]["code"] == code
    assert tab.session_id is not None
    assert user_texts_or_empty(stack, tab.session_id) == []
    # the connection survives and the next good message is answered
    assert (await tab.say("Hallo"))["status"] == "ok"
    assert "Guten Tag" in (await tab.wait_for("bot_uttered"))[0]["text"]


def user_texts_or_empty(stack: Stack, session_id: str) -> list[str]:
    try:
        return user_texts(stack, session_id)
    except httpx.HTTPStatusError:
        return []


async def test_unknown_events_and_missing_session_are_harmless(stack: Stack) -> None:
    client = WidgetClient(stack.rasa_url)
    await client.connect(send_request=False)
    await client.sio.emit("no_such_event", {"x": 1})
    ack = await client.sio.call("user_uttered", {"message": "Hallo"}, timeout=10)
    assert ack == {"status": "error", "code": "no_session"}
    assert (await client.sio.call("history_request", {}, timeout=10))["code"] == "no_session"
    await client.close()


async def test_writing_into_another_session_is_refused(stack: Stack, tab: WidgetClient) -> None:
    victim = WidgetClient(stack.rasa_url)
    await victim.connect()
    ack = await tab.sio.call("user_uttered", {"message": "Hallo", "session_id": victim.session_id},
                             timeout=10)
    assert ack == {"status": "error", "code": "wrong_session"}
    assert victim.session_id is not None
    assert user_texts_or_empty(stack, victim.session_id) == []
    await victim.close()


async def test_a_resent_message_is_processed_once(stack: Stack, tab: WidgetClient) -> None:
    first, second = await asyncio.gather(tab.say("Hallo", message_id="dup-1"),
                                         tab.say("Hallo", message_id="dup-1"))
    assert sorted([first["status"], second["status"]]) == ["duplicate", "ok"]
    assert (await tab.say("Hallo", message_id="dup-1"))["status"] == "duplicate"
    await tab.wait_for("bot_uttered")
    await asyncio.sleep(1)
    assert len(tab.events["bot_uttered"]) == 1
    assert tab.session_id is not None
    assert user_texts(stack, tab.session_id) == ["Hallo"]


async def test_a_huge_packet_is_dropped_and_the_server_keeps_serving(stack: Stack,
                                                                     tab: WidgetClient) -> None:
    huge = {"message": "x" * 200_000, "session_id": tab.session_id, "message_id": "huge"}
    with pytest.raises(socketio_exceptions.SocketIOError):
        await tab.sio.call("user_uttered", huge, timeout=5)
    assert tab.session_id is not None
    assert user_texts_or_empty(stack, tab.session_id) == []
    other = WidgetClient(stack.rasa_url)
    await other.connect(tab.session_id)
    assert (await other.say("Hallo", message_id="after-huge"))["status"] == "ok"
    assert user_texts(stack, tab.session_id) == ["Hallo"]
    await other.close()
