"""The first real conversation: REST channel -> Rasa -> Redis tracker store."""

from __future__ import annotations

import redis

from tests.e2e.conftest import Stack


def texts(messages: list[dict]) -> str:
    return " ".join(m.get("text", "") for m in messages)


def test_german_greeting_and_goodbye(stack: Stack) -> None:
    answer = texts(stack.say("e2e-greet", "Hallo"))
    assert "Guten Tag" in answer
    assert "Lieferzeiten" in answer
    assert "Auf Wiedersehen" in texts(stack.say("e2e-greet", "Tschüss"))


def test_gibberish_gets_a_german_fallback(stack: Stack) -> None:
    answer = texts(stack.say("e2e-fallback", "xqzv plörk"))
    assert "nicht verstanden" in answer


def test_conversation_is_stored_in_redis(stack: Stack) -> None:
    stack.say("e2e-redis", "Guten Morgen")
    client = redis.Redis.from_url(stack.redis_url)
    stored = client.get("kdbot:tracker:e2e-redis")
    assert stored is not None and b"Guten Morgen" in stored
    events = stack.tracker("e2e-redis")["events"]
    assert any(e["event"] == "user" and e["text"] == "Guten Morgen" for e in events)
