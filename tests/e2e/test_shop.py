"""Shop conversations through the real stack: REST channel -> Rasa -> action server."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def texts(messages: list[dict]) -> str:
    return " ".join(m.get("text", "") for m in messages)


def conversation() -> str:
    return f"e2e-shop-{uuid.uuid4().hex[:8]}"


def test_tracking_needs_order_number_and_postal_code(stack: Stack) -> None:
    sender = conversation()
    said = [texts(stack.say(sender, "Wo ist meine Bestellung?"))]
    assert "Bestellnummer" in said[-1]
    said.append(texts(stack.say(sender, "10482")))
    assert "Postleitzahl" in said[-1]
    said.append(texts(stack.say(sender, "10115")))
    answer = said[-1]
    assert "00340434161094015902" in answer and "DHL" in answer
    assert "piececode=00340434161094015902" in answer
    assert not any("00340434161094015902" in t for t in said[:-1])
    slots = stack.tracker(sender)["slots"]
    assert slots["verification"] == "verified"
    assert slots["order_context"]["order_id"] == "10482"


def test_unknown_number_and_wrong_postal_code_look_the_same(stack: Stack) -> None:
    answers = []
    for number, zip_code in (("10482", "10117"), ("99999", "10115")):
        sender = conversation()
        stack.say(sender, "Wo ist meine Bestellung?")
        stack.say(sender, number)
        answers.append(texts(stack.say(sender, zip_code)))
    assert answers[0] == answers[1]
    assert "keine Bestellung" in answers[0]


def test_three_failures_stop_the_checking(stack: Stack) -> None:
    sender = conversation()
    stack.say(sender, "Wo ist meine Bestellung?")
    for wrong in ("10116", "10117", "10118"):
        stack.say(sender, "10482")
        answer = texts(stack.say(sender, wrong))
    assert "nicht weiter prüfen" in answer and "Kundenservice" in answer
    events = stack.tracker(sender)["events"]
    assert {"event": "slot", "name": "handoff_reason", "value": "verification_locked"}.items() \
        <= next(e for e in events if e.get("name") == "handoff_reason").items()
    assert any(e["event"] == "action" and e["name"] == "action_handoff" for e in events)
    # a person has the chat now; even the right postal code reveals nothing any more
    stack.say(sender, "10482")
    answer = texts(stack.say(sender, "10115"))
    assert "00340434161094015902" not in answer


def test_delivery_time_without_an_order(stack: Stack) -> None:
    answer = texts(stack.say(conversation(), "Wie lange dauert die Lieferung nach Österreich?"))
    assert "nach Österreich dauert 2–4 Werktage" in answer


def test_return_policy_from_the_policy_file(stack: Stack) -> None:
    answer = texts(stack.say(conversation(), "Wie lange habe ich Zeit für eine Rücksendung?"))
    assert "30 Tagen" in answer and "kostenlos" in answer


def test_start_a_return_for_one_of_several_items(stack: Stack) -> None:
    sender = conversation()
    stack.say(sender, "Ich möchte etwas zurücksenden")
    stack.say(sender, "10490")
    asked = stack.say(sender, "10115")
    assert "Welchen möchten Sie zurücksenden" in texts(asked)
    buttons = [b for m in asked for b in m.get("buttons", [])]
    socks = next(b for b in buttons if "Merino-Socken" in b["title"])
    answer = texts(stack.say(sender, socks["payload"]))
    assert "RMA-10490-" in answer and "Merino-Socken" in answer


def test_english_tracking_with_email(stack: Stack) -> None:
    sender = conversation()
    assert "order number" in texts(stack.say(sender, "Where is my order?"))
    assert "postal code" in texts(stack.say(sender, "my order number is 10490"))
    answer = texts(stack.say(sender, "my email is jana.becker@example.com"))
    assert "cannot find an order" in answer  # 10490 belongs to another address
    stack.say(sender, "10482")
    answer = texts(stack.say(sender, "my email is jana.becker@example.de"))
    assert "00340434161094015902" in answer and "on its way" in answer


def test_injection_strings_get_a_clear_answer(stack: Stack) -> None:
    sender = conversation()
    stack.say(sender, "Wo ist meine Bestellung?")
    for bad in ("'; DROP TABLE orders;--", "{{7*7}} ${order_id}", "<script>x</script>"):
        answer = texts(stack.say(sender, bad))
        assert answer  # the conversation goes on
        assert "49" not in answer and "Traceback" not in answer
    stack.say(sender, "10482")
    assert "00340434161094015902" in texts(stack.say(sender, "10115"))
