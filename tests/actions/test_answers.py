"""Tracking, delivery time, returns, cancellation and address change (frozen clock)."""

from __future__ import annotations

import pytest
import time_machine
from rasa_sdk.executor import CollectingDispatcher

from actions.delivery import ActionDeliveryTime
from actions.orders import ActionAnswerOrderRequest
from actions.returns import ActionGoodwillHandoff, ActionReturnPolicy, ActionStartReturn
from actions.shop.services import ShopServices
from tests.shop.helpers import (
    berlin,
    events_as_dicts,
    make_tracker,
    message,
    responses,
    user_event,
    verified_slots,
)

ZIPS = {"10482": "10115", "10483": "80331", "10490": "10115", "10492": "8001",
        "10377": "60311", "10495": "04109", "10497": "28195", "10500": "90402",
        "10486": "5020", "10501": "8010"}


def asked(intent: str) -> list[dict]:
    return [user_event("...", intent)]


async def answer(order_id: str, intent: str = "track_order", language: str = "de",
                 **slots) -> tuple[CollectingDispatcher, dict]:
    tracker = make_tracker({**verified_slots(order_id, ZIPS[order_id]), "language": language,
                            **slots}, events=asked(intent), text=ZIPS[order_id],
                           intent="provide_order_details")
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderRequest().run(dispatcher, tracker, {})
    return dispatcher, events_as_dicts(events)


# ---- nothing without verification ------------------------------------------------------

@pytest.mark.parametrize("verification", [None, "failed"])
async def test_no_order_data_without_verification(services: ShopServices,
                                                  verification: str | None) -> None:
    tracker = make_tracker({"order_number": "10482", "verification": verification},
                           text="Wo ist meine Bestellung 10482?")
    dispatcher = CollectingDispatcher()
    assert await ActionAnswerOrderRequest().run(dispatcher, tracker, {}) == []
    assert dispatcher.messages == []
    dispatcher = CollectingDispatcher()
    await ActionStartReturn().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_return_needs_verification"]


async def test_expired_verification_shows_nothing(services: ShopServices) -> None:
    with time_machine.travel(berlin(2026, 12, 4, 10, 0), tick=False):
        slots = verified_slots("10482", "10115")
    with time_machine.travel(berlin(2026, 12, 4, 10, 31), tick=False):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(slots, events=asked("track_order"))
        assert await ActionAnswerOrderRequest().run(dispatcher, tracker, {}) == []
    assert dispatcher.messages == []


# ---- tracking --------------------------------------------------------------------------

async def test_shipped_order_tracking(services: ShopServices, friday_morning: None) -> None:
    dispatcher, slots = await answer("10482")
    assert responses(dispatcher) == ["utter_order_shipped", "utter_carrier_status_unavailable",
                                     "utter_order_tracking_link"]
    shipped = message(dispatcher, "utter_order_shipped")
    assert shipped["shipped_date"] == "Montag, 30. November 2026"
    assert shipped["carrier"] == "DHL"
    assert shipped["tracking_number"] == "00340434161094015902"
    # DE: 1-2 delivery days after Monday's dispatch
    assert shipped["expected_delivery_date"] == "Mittwoch, 2. Dezember 2026"
    fallback = message(dispatcher, "utter_carrier_status_unavailable")
    assert fallback["last_change_date"] == "Montag, 30. November 2026"
    link = message(dispatcher, "utter_order_tracking_link")["tracking_url"]
    assert link.endswith("piececode=00340434161094015902")
    assert slots["order_context"]["status"] == "shipped"


async def test_processing_order_gets_its_dispatch_day(services: ShopServices) -> None:
    with time_machine.travel(berlin(2026, 12, 4, 10, 0), tick=False):
        dispatcher, _ = await answer("10483")
    assert responses(dispatcher) == ["utter_order_processing"]
    assert message(dispatcher, "utter_order_processing")["dispatch_date"] == \
        "Freitag, 4. Dezember 2026"
    with time_machine.travel(berlin(2026, 12, 4, 16, 0), tick=False):
        dispatcher, _ = await answer("10500", language="en")
    assert message(dispatcher, "utter_order_processing")["dispatch_date"] == \
        "Monday, 7 December 2026"


@pytest.mark.parametrize(("order_id", "response", "key", "value"), [
    ("10490", "utter_order_delivered", "delivered_date", "Dienstag, 24. November 2026"),
    ("10495", "utter_order_cancelled", "last_change_date", "Sonntag, 29. November 2026"),
    ("10497", "utter_order_returned", "last_change_date", "Freitag, 20. November 2026"),
])
async def test_other_statuses_in_plain_words(services: ShopServices, friday_morning: None,
                                             order_id: str, response: str, key: str,
                                             value: str) -> None:
    dispatcher, _ = await answer(order_id)
    assert responses(dispatcher) == [response]
    assert message(dispatcher, response)[key] == value


# ---- delivery time ---------------------------------------------------------------------

async def delivery(text: str, language: str = "de", **slots) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    await ActionDeliveryTime().run(
        dispatcher, make_tracker({"language": language, **slots}, text=text,
                                 intent="delivery_time"), {})
    return dispatcher


async def test_delivery_time_before_the_cutoff(services: ShopServices,
                                               friday_morning: None) -> None:
    dispatcher = await delivery("Wie lange dauert die Lieferung?")
    assert responses(dispatcher) == ["utter_delivery_dispatch_today"] + \
        ["utter_delivery_country"] * 3
    assert dispatcher.messages[0]["cutoff"] == "14:00"
    by_destination = {m["destination"]: m for m in dispatcher.messages[1:]}
    austria = by_destination["nach Österreich"]
    assert (austria["min_days"], austria["max_days"]) == (2, 4)
    assert austria["latest_date"] == "Mittwoch, 9. Dezember 2026"
    assert by_destination["nach Deutschland"]["latest_date"] == "Montag, 7. Dezember 2026"


async def test_delivery_time_for_a_named_country_after_the_cutoff(
        services: ShopServices) -> None:
    with time_machine.travel(berlin(2026, 12, 4, 14, 30), tick=False):
        dispatcher = await delivery("How long does delivery to Switzerland take?", "en")
    assert responses(dispatcher) == ["utter_delivery_dispatch_later", "utter_delivery_country"]
    assert dispatcher.messages[0]["dispatch_date"] == "Monday, 7 December 2026"
    assert dispatcher.messages[1]["destination"] == "to Switzerland"
    assert dispatcher.messages[1]["latest_date"] == "Saturday, 12 December 2026"


async def test_delivery_time_over_christmas(services: ShopServices) -> None:
    with time_machine.travel(berlin(2026, 12, 24, 15, 0), tick=False):
        dispatcher = await delivery("Lieferzeit nach Deutschland?")
    assert dispatcher.messages[0]["dispatch_date"] == "Montag, 28. Dezember 2026"
    assert dispatcher.messages[1]["latest_date"] == "Mittwoch, 30. Dezember 2026"


async def test_delivery_time_uses_the_verified_orders_country(services: ShopServices,
                                                              friday_morning: None) -> None:
    dispatcher = await delivery("Wann kommt es an?", **verified_slots("10486", "5020", "AT"))
    assert [m.get("destination") for m in dispatcher.messages[1:]] == ["nach Österreich"]


# ---- returns ---------------------------------------------------------------------------

async def return_policy(**slots) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    await ActionReturnPolicy().run(dispatcher, make_tracker(slots, intent="return_policy"), {})
    return dispatcher


async def test_return_policy_from_the_policy_file(services: ShopServices) -> None:
    dispatcher = await return_policy()
    assert responses(dispatcher) == ["utter_return_policy", "utter_return_shipping_shop"]
    policy = dispatcher.messages[0]
    assert (policy["period_days"], policy["refund_days"]) == (30, 14)
    assert "Originalverpackung" in policy["condition"]


async def test_return_policy_with_the_exact_last_day(services: ShopServices,
                                                     friday_morning: None) -> None:
    dispatcher = await return_policy(**verified_slots("10490", "10115"))
    assert responses(dispatcher)[-1] == "utter_return_deadline"
    # delivered Tuesday 24 November + 30 days
    assert dispatcher.messages[-1]["last_return_date"] == "Donnerstag, 24. Dezember 2026"


async def test_past_the_deadline_offers_a_person(services: ShopServices,
                                                 friday_morning: None) -> None:
    dispatcher = await return_policy(**verified_slots("10377", "60311"))
    assert responses(dispatcher)[-1] == "utter_return_deadline_passed"
    assert dispatcher.messages[-1]["last_return_date"] == "Sonntag, 15. November 2026"
    dispatcher = CollectingDispatcher()
    events = await ActionGoodwillHandoff().run(
        dispatcher, make_tracker(verified_slots("10377", "60311"), intent="affirm"), {})
    assert events_as_dicts(events) == {"handoff_reason": "goodwill_return",
                                       "followup": "action_handoff"}


async def test_goodwill_not_needed_inside_the_window(services: ShopServices,
                                                     friday_morning: None) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionGoodwillHandoff().run(
        dispatcher, make_tracker(verified_slots("10490", "10115"), intent="affirm"), {})
    assert events == [] and responses(dispatcher) == ["utter_goodwill_not_needed"]


async def test_start_return_with_several_items_asks_which(services: ShopServices,
                                                          friday_morning: None) -> None:
    dispatcher, _ = await answer("10490", "start_return")
    assert responses(dispatcher) == ["utter_ask_return_item"]
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == [
        '/choose_return_item{"return_item": "JK-204-M"}',
        '/choose_return_item{"return_item": "SK-101"}',
        '/choose_return_item{"return_item": "MU-007"}']
    assert services.backend.returns_for("10490") == []  # type: ignore[attr-defined]
    # the shopper picks the socks
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({**verified_slots("10490", "10115"), "return_item": "SK-101"},
                           intent="choose_return_item")
    events = await ActionStartReturn().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_return_created_label"]
    created = dispatcher.messages[0]
    assert created["items"] == "Merino-Socken, 3 Paar"
    assert created["label_url"].endswith(created["rma"])
    assert created["last_return_date"] == "Donnerstag, 24. Dezember 2026"
    stored = services.backend.returns_for("10490")  # type: ignore[attr-defined]
    assert [r.rma for r in stored] == [created["rma"]] and stored[0].skus == ("SK-101",)
    assert events_as_dicts(events) == {"return_item": None}


async def test_start_return_all_items_and_an_unknown_item(services: ShopServices,
                                                          friday_morning: None) -> None:
    for choice, expected in (("NOPE-1", "utter_return_item_unknown"),
                             ("ALL", "utter_return_created_label")):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker({**verified_slots("10490", "10115"), "return_item": choice},
                               intent="choose_return_item")
        await ActionStartReturn().run(dispatcher, tracker, {})
        assert responses(dispatcher)[0] == expected
    stored = services.backend.returns_for("10490")  # type: ignore[attr-defined]
    assert len(stored) == 1 and len(stored[0].skus) == 3


async def test_single_item_to_switzerland_gets_instructions(services: ShopServices,
                                                            friday_morning: None) -> None:
    dispatcher, _ = await answer("10492", "start_return")
    # delivered 13 November: window until 13 December
    assert responses(dispatcher) == ["utter_return_created_instructions"]
    assert dispatcher.messages[0]["rma"].startswith("RMA-10492-")


@pytest.mark.parametrize(("order_id", "response"), [
    ("10482", "utter_return_not_delivered_yet"),
    ("10483", "utter_return_not_delivered_yet"),
    ("10495", "utter_return_not_possible_cancelled"),
    ("10497", "utter_return_not_possible_returned"),
    ("10377", "utter_return_deadline_passed"),
])
async def test_returns_that_cannot_start(services: ShopServices, friday_morning: None,
                                         order_id: str, response: str) -> None:
    dispatcher, _ = await answer(order_id, "start_return")
    assert responses(dispatcher) == [response]
    assert services.backend.returns_for(order_id) == []  # type: ignore[attr-defined]


# ---- cancel / change address -----------------------------------------------------------

@pytest.mark.parametrize(("intent", "response"), [
    ("cancel_order", "utter_cancel_recorded"),
    ("change_address", "utter_change_address_recorded"),
])
async def test_not_yet_shipped_is_recorded_and_escalated(services: ShopServices,
                                                         friday_morning: None, intent: str,
                                                         response: str) -> None:
    dispatcher, slots = await answer("10483", intent)
    assert responses(dispatcher) == [response]
    assert slots["handoff_reason"] == intent
    assert slots["followup"] == "action_handoff"
    assert [r["kind"] for r in services.backend.requests_for("10483")] == [intent]  # type: ignore[attr-defined]


async def test_shipped_order_explains_the_options(services: ShopServices,
                                                  friday_morning: None) -> None:
    dispatcher, slots = await answer("10482", "cancel_order")
    assert responses(dispatcher) == ["utter_cancel_shipped_options"]
    assert dispatcher.messages[0]["return_days"] == 30
    assert "handoff_reason" not in slots
    dispatcher, slots = await answer("10482", "change_address")
    assert responses(dispatcher) == ["utter_change_address_shipped_options"]
    assert "piececode=00340434161094015902" in dispatcher.messages[0]["tracking_url"]
    assert services.backend.requests_for("10482") == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("order_id", "response"), [
    ("10490", "utter_order_already_delivered"),
    ("10495", "utter_order_already_cancelled"),
    ("10497", "utter_order_already_returned"),
])
async def test_closed_orders_cannot_change(services: ShopServices, friday_morning: None,
                                           order_id: str, response: str) -> None:
    dispatcher, slots = await answer(order_id, "cancel_order")
    assert responses(dispatcher) == [response]
    assert "handoff_reason" not in slots
