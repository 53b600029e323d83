"""Language, register, product advice, fallback and bad input through the real stack.

Every message goes through Rasa's REST channel of the stack that ``scripts/stack.py``
starts (real Rasa server, action server, Redis tracker store).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def texts(messages: list[dict]) -> str:
    return " ".join(m.get("text", "") for m in messages)


def sender(name: str) -> str:
    return f"nlu-{name}-{uuid.uuid4().hex[:8]}"


def slots(stack: Stack, conversation: str) -> dict:
    return dict(stack.tracker(conversation)["slots"])


def test_new_conversation_starts_in_german_and_follows_english(stack: Stack) -> None:
    who = sender("lang")
    assert "Guten Tag" in texts(stack.say(who, "Hallo"))
    assert slots(stack, who)["language"] == "de"
    answer = texts(stack.say(who, "Am I talking to a bot or to a real person?"))
    assert "automated assistant" in answer
    assert slots(stack, who)["language"] == "en"
    # short messages keep the language of the conversation
    assert "You are welcome" in texts(stack.say(who, "Danke"))
    assert slots(stack, who)["language"] == "en"


def test_explicit_request_switches_and_sticks(stack: Stack) -> None:
    who = sender("explicit")
    assert "in English" in texts(stack.say(who, "Can we speak English?"))
    assert slots(stack, who)["language"] == "en"
    assert "auf Deutsch" in texts(stack.say(who, "Bitte auf Deutsch"))
    # a long English message after the explicit choice does not switch back
    answer = texts(stack.say(who, "Can you tell me a funny joke about cats please"))
    assert "Ich beantworte nur Fragen" in answer
    assert slots(stack, who)["language"] == "de"


def test_product_advice_is_refused_in_english(stack: Stack) -> None:
    who = sender("advice")
    answer = texts(stack.say(who, "Which rain jacket would you recommend for hiking?"))
    assert "do not give product advice" in answer
    assert "order status" in answer


def test_first_miss_asks_to_rephrase_with_topic_buttons(stack: Stack) -> None:
    who = sender("fallback")
    messages = stack.say(who, "xqzv plörk")
    assert "nicht verstanden" in texts(messages)
    payloads = [b["payload"] for m in messages for b in m.get("buttons", [])]
    assert payloads == ["/track_order", "/delivery_time", "/return_policy"]


@pytest.mark.parametrize("text", ["", "😀😀😀", "\x00\x07\x1b[2J",
                                  "Wo ist\x00 meine\u200b Bestellung"])
def test_bad_input_gets_a_reply_and_stays_in_history(stack: Stack, text: str) -> None:
    who = sender("bad")
    messages = stack.say(who, text)
    assert messages, "no reply"
    assert "Traceback" not in texts(messages)
    events = stack.tracker(who)["events"]
    assert any(e["event"] == "user" and e["text"] == text for e in events)


def test_very_long_message_is_answered_and_kept_whole(stack: Stack) -> None:
    who = sender("long")
    text = ("Wo ist meine Bestellung, ich warte schon so lange. " * 200)[:10_000]
    messages = stack.say(who, text)
    assert messages and "Traceback" not in texts(messages)
    events = stack.tracker(who)["events"]
    stored = [e for e in events if e["event"] == "user"]
    assert stored and stored[-1]["text"] == text and len(stored[-1]["text"]) == 10_000
    assert len(stored[-1]["parse_data"]["text"]) <= 500


def test_invalid_utf8_is_rejected_cleanly_and_nothing_breaks(stack: Stack) -> None:
    who = sender("utf8")
    body = b'{"sender": "' + who.encode() + b'", "message": "Hallo \xff\xfe"}'
    response = httpx.post(f"{stack.rasa_url}/webhooks/rest/webhook", content=body,
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code < 500
    assert "Traceback" not in response.text
    assert "Guten Tag" in texts(stack.say(who, "Hallo"))
