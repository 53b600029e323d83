"""Return policy, the exact last return day, starting a return, goodwill escalation."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.shop.backend import BackendUnavailable
from actions.shop.context import language, off_loop, verified_order_id
from actions.shop.dates import format_date, shop_now, to_local_date
from actions.shop.models import Order
from actions.shop.policy import Policy
from actions.shop.services import ShopServices, get_services

logger = logging.getLogger(__name__)

ALL_ITEMS = "ALL"


def last_return_day(order: Order, policy: Policy) -> dt.date | None:
    """The last day the shopper may send a delivered order back (None if not delivered)."""
    delivered = to_local_date(order.delivered_at, policy)
    if delivered is None:
        return None
    return delivered + dt.timedelta(days=policy.returns.period_days)


def return_window_open(order: Order, policy: Policy, now: dt.datetime | None = None) -> bool:
    """True while today (shop time) is on or before the last return day."""
    last = last_return_day(order, policy)
    return last is not None and shop_now(policy, now).date() <= last


async def load_verified_order(dispatcher: CollectingDispatcher, tracker: Tracker,
                              services: ShopServices) -> Order | None:
    """The conversation's verified order from the backend, or None (after telling why)."""
    order_id = verified_order_id(tracker, services.settings.verification_ttl_seconds)
    if order_id is None:
        return None
    try:
        order = await off_loop(services.backend.get_order, order_id)
    except BackendUnavailable as exc:
        logger.warning("order backend unavailable: %s", exc)
        dispatcher.utter_message(response="utter_shop_unavailable")
        return None
    if order is None:
        dispatcher.utter_message(response="utter_shop_unavailable")
    return order


def deadline_messages(dispatcher: CollectingDispatcher, order: Order, policy: Policy,
                      lang: str) -> None:
    """Tells the last return day of a delivered order, or that it has passed."""
    last = last_return_day(order, policy)
    if last is None or order.delivered_at is None:
        return
    delivered = to_local_date(order.delivered_at, policy)
    assert delivered is not None
    if return_window_open(order, policy):
        dispatcher.utter_message(response="utter_return_deadline", order_id=order.order_id,
                                 delivered_date=format_date(delivered, lang),
                                 last_return_date=format_date(last, lang))
    else:
        dispatcher.utter_message(response="utter_return_deadline_passed",
                                 order_id=order.order_id,
                                 last_return_date=format_date(last, lang))


async def start_return(dispatcher: CollectingDispatcher, tracker: Tracker,
                       services: ShopServices, order: Order) -> list[EventType]:
    """Creates a return for a verified order, or explains why it cannot.

    Args:
        dispatcher: Where the answers go.
        tracker: The conversation (``return_item`` and ``language`` slots).
        services: Shop services.
        order: The verified order, freshly read from the backend.

    Returns:
        Events (``return_item`` is cleared once used).
    """
    policy, lang = services.policy, language(tracker)
    if order.status in ("processing", "shipped"):
        dispatcher.utter_message(response="utter_return_not_delivered_yet",
                                 order_id=order.order_id)
        return []
    if order.status in ("cancelled", "returned"):
        dispatcher.utter_message(response=f"utter_return_not_possible_{order.status}",
                                 order_id=order.order_id)
        return []
    last = last_return_day(order, policy)
    if last is None or not return_window_open(order, policy):
        deadline_messages(dispatcher, order, policy, lang)
        return []
    chosen = tracker.get_slot("return_item")
    skus: tuple[str, ...]
    if len(order.items) == 1:
        skus = (order.items[0].sku,)
    elif chosen is None:
        ask_for_item(dispatcher, order)
        return []
    elif str(chosen).strip().upper() == ALL_ITEMS:
        skus = tuple(item.sku for item in order.items)
    else:
        match = [i.sku for i in order.items if i.sku.upper() == str(chosen).strip().upper()]
        if not match:
            dispatcher.utter_message(response="utter_return_item_unknown")
            ask_for_item(dispatcher, order)
            return [SlotSet("return_item", None)]
        skus = (match[0],)
    with_label = order.country in policy.returns.label_countries
    try:
        record = await off_loop(services.backend.create_return, order, skus, with_label)
    except BackendUnavailable as exc:
        logger.warning("order backend unavailable: %s", exc)
        dispatcher.utter_message(response="utter_shop_unavailable")
        return [SlotSet("return_item", None)]
    names = ", ".join(i.name for i in order.items if i.sku in skus)
    variables: dict[str, Any] = {"rma": record.rma, "items": names,
                                 "last_return_date": format_date(last, lang)}
    if record.label_url:
        dispatcher.utter_message(response="utter_return_created_label",
                                 label_url=record.label_url, **variables)
    else:
        dispatcher.utter_message(response="utter_return_created_instructions", **variables)
    logger.info("return created for a verified order")
    return [SlotSet("return_item", None)]


def ask_for_item(dispatcher: CollectingDispatcher, order: Order) -> None:
    """Asks which item to return, with one button per item (plus "all" from the domain)."""
    buttons = [{"title": f"{item.name}" + (f" ({item.quantity}x)" if item.quantity > 1 else ""),
                "payload": "/choose_return_item" + json.dumps({"return_item": item.sku})}
               for item in order.items]
    dispatcher.utter_message(response="utter_ask_return_item", order_id=order.order_id,
                             buttons=buttons)


class ActionReturnPolicy(Action):
    """The return policy from the policy file, plus the last return day of a verified order."""

    def name(self) -> str:
        """Action name."""
        return "action_return_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        """Answers from the policy; adds the order's deadline when verified and delivered."""
        services = get_services()
        policy, lang = services.policy, language(tracker)
        returns = policy.returns
        dispatcher.utter_message(
            response="utter_return_policy", period_days=returns.period_days,
            condition=returns.condition.get(lang) or returns.condition.get("de", ""),
            refund_days=returns.refund_days)
        dispatcher.utter_message(response=f"utter_return_shipping_{returns.shipping_paid_by}")
        order = await load_verified_order(dispatcher, tracker, services)
        if order is not None and order.status == "delivered":
            deadline_messages(dispatcher, order, policy, lang)
        return []


class ActionStartReturn(Action):
    """Starts a return for the verified order (also after the shopper picked an item)."""

    def name(self) -> str:
        """Action name."""
        return "action_start_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        """Creates the return or explains why not."""
        services = get_services()
        if verified_order_id(tracker, services.settings.verification_ttl_seconds) is None:
            dispatcher.utter_message(response="utter_return_needs_verification")
            return [SlotSet("return_item", None)]
        order = await load_verified_order(dispatcher, tracker, services)
        if order is None:
            return [SlotSet("return_item", None)]
        return await start_return(dispatcher, tracker, services, order)


class ActionGoodwillHandoff(Action):
    """Hands a return past its deadline to a person (handoff reason ``goodwill_return``)."""

    def name(self) -> str:
        """Action name."""
        return "action_goodwill_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        """Escalates only a verified, delivered order whose return window has closed."""
        services = get_services()
        order = await load_verified_order(dispatcher, tracker, services)
        if order is None or order.status != "delivered":
            dispatcher.utter_message(response="utter_anything_else")
            return []
        if return_window_open(order, services.policy):
            last = last_return_day(order, services.policy)
            assert last is not None
            dispatcher.utter_message(response="utter_goodwill_not_needed",
                                     order_id=order.order_id,
                                     last_return_date=format_date(last, language(tracker)))
            return []
        return [SlotSet("handoff_reason", "goodwill_return"), FollowupAction("action_handoff")]
