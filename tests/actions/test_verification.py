"""The verification form: order number AND postal code or email, limits, expiry."""

from __future__ import annotations

import time

import pytest
import redis
import time_machine
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ActionAnswerOrderRequest
from actions.shop.limits import VerificationLimiter
from actions.shop.services import ShopServices
from actions.verification import ValidateOrderVerificationForm
from tests.shop.helpers import (
    FRIDAY_MORNING,
    events_as_dicts,
    form_tracker,
    make_tracker,
    responses,
    verified_slots,
)

DOMAIN = {"forms": {"order_verification_form": {"required_slots": ["order_number",
                                                                   "zip_code"]}}}


async def validate(tracker) -> tuple[CollectingDispatcher, dict]:
    dispatcher = CollectingDispatcher()
    events = await ValidateOrderVerificationForm().run(dispatcher, tracker, DOMAIN)
    return dispatcher, events_as_dicts(events)


async def test_order_number_and_matching_zip_verify(services: ShopServices) -> None:
    tracker = form_tracker({"order_number": "10482"}, {"zip_code": "10115"}, "10115")
    dispatcher, slots = await validate(tracker)
    assert slots["verification"] == "verified"
    assert slots["order_context"]["order_id"] == "10482"
    assert slots["order_context"]["status"] == "shipped"
    assert "email" not in slots["order_context"]  # no personal data in the summary
    assert slots["requested_slot"] is None
    assert responses(dispatcher) == []


async def test_both_in_one_message_verify_at_activation(services: ShopServices) -> None:
    tracker = form_tracker({}, {"order_number": "#10482", "zip_code": "10115"},
                           "Bestellung #10482, PLZ 10115", intent="track_order")
    _, slots = await validate(tracker)
    assert slots["verification"] == "verified"
    assert slots["order_number"] == "10482"


async def test_email_instead_of_zip_verifies_case_insensitively(services: ShopServices) -> None:
    tracker = form_tracker({"order_number": "10482"}, {"email": "Jana.Becker@Example.de"},
                           "Jana.Becker@Example.de")
    _, slots = await validate(tracker)
    assert slots["verification"] == "verified"


@pytest.mark.parametrize(("order_number", "zip_code"), [
    ("10482", "10117"),   # existing order, wrong postal code
    ("99999", "10115"),   # unknown order number
    ("10490", "80331"),   # another shopper's order with this shopper's zip
])
async def test_unknown_number_and_wrong_zip_get_the_same_answer(
        services: ShopServices, order_number: str, zip_code: str) -> None:
    tracker = form_tracker({"order_number": order_number}, {"zip_code": zip_code}, zip_code)
    dispatcher, slots = await validate(tracker)
    assert responses(dispatcher) == ["utter_verification_failed"]
    assert slots == {"order_number": None, "zip_code": None, "email": None,
                     "verification": "failed", "requested_slot": "order_number"}
    assert all(not m.get(k) for m in dispatcher.messages for k in ("order_id", "text"))


@pytest.mark.parametrize("bad", [
    "abc'; DROP TABLE orders;--", "{order_id}", "{{7*7}}", "1", "10482 OR 1=1",
    "<script>alert(1)</script>", "x" * 500,
])
async def test_malformed_order_numbers_get_a_clear_answer(services: ShopServices,
                                                          bad: str) -> None:
    tracker = form_tracker({}, {"order_number": bad}, bad)
    dispatcher, slots = await validate(tracker)
    assert responses(dispatcher) == ["utter_order_number_invalid"]
    assert slots["order_number"] is None
    assert slots["requested_slot"] == "order_number"
    assert services.backend.count() == 32  # type: ignore[attr-defined]


async def test_email_with_a_typo_is_questioned_not_counted(services: ShopServices,
                                                           redis_client: redis.Redis,
                                                           key_prefix: str) -> None:
    tracker = form_tracker({"order_number": "10482"}, {"email": "jana.becker@gmial.com"},
                           "jana.becker@gmial.com")
    dispatcher, slots = await validate(tracker)
    assert responses(dispatcher) == ["utter_email_invalid"]
    assert slots["requested_slot"] == "zip_code"
    assert redis_client.keys(key_prefix + "*") == []


async def test_malformed_zip_is_questioned(services: ShopServices) -> None:
    tracker = form_tracker({"order_number": "10482"}, {"zip_code": "1O115"}, "1O115")
    dispatcher, slots = await validate(tracker)
    assert responses(dispatcher) == ["utter_zip_code_invalid"]
    assert slots["requested_slot"] == "zip_code"


async def test_third_failure_in_a_conversation_locks_and_hands_over(
        services: ShopServices) -> None:
    for attempt in range(3):
        tracker = form_tracker({"order_number": "10482"}, {"zip_code": f"1011{attempt + 6}"},
                               f"1011{attempt + 6}", sender_id="conv-locked")
        dispatcher, slots = await validate(tracker)
    assert slots["verification"] == "locked"
    assert slots["requested_slot"] is None
    # once locked, even the right postal code is not checked any more
    tracker = form_tracker({"order_number": "10482", "verification": "locked"},
                           {"zip_code": "10115"}, "10115", sender_id="conv-locked")
    dispatcher, slots = await validate(tracker)
    assert slots == {"requested_slot": None}
    # the answer action then hands the chat to a person
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderRequest().run(
        dispatcher, make_tracker({"verification": "locked"}), {})
    assert responses(dispatcher) == ["utter_verification_locked"]
    assert events_as_dicts(events) == {"handoff_reason": "verification_locked",
                                       "followup": "action_handoff"}


async def test_ten_failures_per_order_lock_it_across_conversations(
        services: ShopServices) -> None:
    for n in range(10):
        tracker = form_tracker({"order_number": "10490"}, {"zip_code": "99999"}, "99999",
                               sender_id=f"guesser-{n}")
        await validate(tracker)
    tracker = form_tracker({"order_number": "10490"}, {"zip_code": "10115"}, "10115",
                           sender_id="real-owner")
    _, slots = await validate(tracker)
    assert slots["verification"] == "locked"


async def test_per_order_window_expires_after_an_hour(services: ShopServices,
                                                      redis_client: redis.Redis,
                                                      key_prefix: str) -> None:
    limiter = services.limiter
    for _ in range(3):
        limiter.record_failure("c1", "10482")
    ttls = [redis_client.ttl(k) for k in redis_client.keys(key_prefix + "kdbot:verify:order:*")]
    assert len(ttls) == 1 and 3500 < ttls[0] <= 3600
    assert "10482" not in " ".join(redis_client.keys(key_prefix + "*"))


async def test_verification_expires_after_30_minutes(services: ShopServices) -> None:
    with time_machine.travel(FRIDAY_MORNING, tick=False):
        verified_at = time.time()
    with time_machine.travel(FRIDAY_MORNING.timestamp() + 31 * 60, tick=False):
        tracker = form_tracker(verified_slots("10482", "10115", at=verified_at),
                               {"order_number": "10482", "zip_code": "10115"}, "Wo ist sie?",
                               intent="track_order")
        dispatcher, slots = await validate(tracker)
    assert responses(dispatcher) == ["utter_verification_expired"]
    assert slots["verification"] is None
    assert slots["order_context"] is None
    assert slots["requested_slot"] == "zip_code"


async def test_verification_holds_within_30_minutes(services: ShopServices) -> None:
    with time_machine.travel(FRIDAY_MORNING, tick=False):
        verified_at = time.time()
    with time_machine.travel(FRIDAY_MORNING.timestamp() + 29 * 60, tick=False):
        tracker = form_tracker(verified_slots("10482", "10115", at=verified_at),
                               {"order_number": "10482", "zip_code": "10115"}, "Und jetzt?",
                               intent="track_order")
        dispatcher, slots = await validate(tracker)
    assert responses(dispatcher) == []
    assert slots["requested_slot"] is None
    assert "verification" not in slots and "order_context" not in slots


async def test_another_order_number_needs_its_own_verification(services: ShopServices) -> None:
    tracker = form_tracker(verified_slots("10482", "10115"),
                           {"order_number": "10490", "zip_code": "10115"},
                           "Und Bestellung 10490?", intent="track_order")
    _, slots = await validate(tracker)
    assert slots["order_number"] == "10490"
    assert slots["verification"] is None
    assert slots["order_context"] is None
    assert slots["requested_slot"] == "zip_code"


async def test_redis_down_gives_a_clear_answer(services: ShopServices) -> None:
    services.limiter = VerificationLimiter(redis.Redis(port=1, socket_connect_timeout=0.2))
    tracker = form_tracker({"order_number": "10482"}, {"zip_code": "10115"}, "10115")
    dispatcher, slots = await validate(tracker)
    assert responses(dispatcher) == ["utter_shop_unavailable"]
    assert slots["requested_slot"] is None
    assert "verification" not in slots


async def test_nothing_understood_lets_the_form_ask_again(services: ShopServices) -> None:
    tracker = form_tracker({"order_number": "10482"}, {}, "hm")
    dispatcher, slots = await validate(tracker)
    assert slots == {"requested_slot": "zip_code"}
    assert responses(dispatcher) == []


async def test_email_set_by_slot_extraction_before_the_form_is_seen(
        services: ShopServices) -> None:
    # Rasa's form passes only required/requested slots as candidates; the email slot is
    # set by action_extract_slots before the form's own events
    tracker = make_tracker({"order_number": "10482", "requested_slot": "zip_code",
                            "email": "jana.becker@example.de"},
                           text="my email is jana.becker@example.de",
                           active_loop="order_verification_form")
    tracker.events.append({"event": "slot", "timestamp": time.time(), "name": "email",
                           "value": "jana.becker@example.de"})
    tracker.events.append({"event": "slot", "timestamp": time.time(),
                           "name": "requested_slot", "value": "zip_code"})
    tracker.events.append({"event": "action", "timestamp": time.time(),
                           "name": "order_verification_form"})
    _, slots = await validate(tracker)
    assert slots["verification"] == "verified"
