"""Answers about a verified order: tracking, cancellation and address-change requests.

``action_answer_order_request`` runs after the verification form and answers the wish
the shopper expressed before it (tracking, return, cancellation, address change).
"""

from __future__ import annotations

import datetime as dt
import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.returns import (
    deadline_messages,
    last_return_day,
    load_verified_order,
    start_return,
)
from actions.shop.backend import BackendUnavailable
from actions.shop.carriers import CarrierStatus, CarrierUnavailable
from actions.shop.context import language, off_loop, pending_request
from actions.shop.dates import (
    add_delivery_days,
    dispatch_date,
    format_date,
    format_time,
    shop_now,
    to_local_date,
)
from actions.shop.models import Order
from actions.shop.services import ShopServices, get_services

logger = logging.getLogger(__name__)


async def live_status(services: ShopServices, order: Order, lang: str) -> CarrierStatus | None:
    """The carrier's latest status, or None when not configured, unknown, down or slow."""
    if not order.tracking_number or not services.carriers.supports(order.carrier):
        return None
    try:
        return await services.carriers.status(order.tracking_number, lang)
    except CarrierUnavailable as exc:
        logger.warning("carrier status unavailable: %s", exc)
        return None


async def tracking_messages(dispatcher: CollectingDispatcher, services: ShopServices,
                            order: Order, lang: str) -> None:
    """Status in plain words, last change, carrier, tracking number, link, expected day."""
    policy = services.policy
    last_change = to_local_date(order.last_change(), policy)
    last_change_date = format_date(last_change, lang) if last_change else ""
    ordered = to_local_date(order.ordered_at, policy)
    tracking_url = policy.tracking_url(order.carrier, order.tracking_number)
    if order.status == "processing":
        placed = dt.datetime.fromisoformat(order.ordered_at.replace("Z", "+00:00"))
        leaves = dispatch_date(policy, max(shop_now(policy), shop_now(policy, placed)))
        dispatcher.utter_message(
            response="utter_order_processing", order_id=order.order_id,
            ordered_date=format_date(ordered, lang) if ordered else "",
            last_change_date=last_change_date, dispatch_date=format_date(leaves, lang))
    elif order.status == "shipped":
        shipped = to_local_date(order.shipped_at, policy) or shop_now(policy).date()
        span = policy.delivery_days.get(order.country)
        expected = add_delivery_days(shipped, span.max_days if span else 5, policy)
        status = await live_status(services, order, lang)
        if status is not None and status.estimated_delivery is not None:
            expected = shop_now(policy, status.estimated_delivery).date()
        dispatcher.utter_message(
            response="utter_order_shipped", order_id=order.order_id, carrier=order.carrier,
            shipped_date=format_date(shipped, lang), tracking_number=order.tracking_number,
            expected_delivery_date=format_date(expected, lang))
        if status is not None:
            local = shop_now(policy, status.timestamp)
            dispatcher.utter_message(
                response="utter_carrier_live_status", carrier=order.carrier,
                carrier_status_date=format_date(local, lang),
                carrier_status_time=format_time(local.time()),
                carrier_status=status.description)
        else:
            dispatcher.utter_message(response="utter_carrier_status_unavailable",
                                     carrier=order.carrier, last_change_date=last_change_date)
        if tracking_url:
            dispatcher.utter_message(response="utter_order_tracking_link",
                                     carrier=order.carrier, tracking_url=tracking_url)
    elif order.status == "delivered":
        delivered = to_local_date(order.delivered_at, policy)
        dispatcher.utter_message(
            response="utter_order_delivered", order_id=order.order_id, carrier=order.carrier,
            delivered_date=format_date(delivered, lang) if delivered else last_change_date,
            tracking_number=order.tracking_number)
    elif order.status == "cancelled":
        dispatcher.utter_message(response="utter_order_cancelled", order_id=order.order_id,
                                 last_change_date=last_change_date)
    else:
        dispatcher.utter_message(response="utter_order_returned", order_id=order.order_id,
                                 last_change_date=last_change_date,
                                 refund_days=policy.returns.refund_days)


async def change_request(dispatcher: CollectingDispatcher, tracker: Tracker,
                         services: ShopServices, order: Order, kind: str) -> list[EventType]:
    """Cancel order / change address: record and escalate, or explain the options.

    Args:
        dispatcher: Where the answers go.
        tracker: The conversation.
        services: Shop services.
        order: The verified order.
        kind: ``cancel_order`` or ``change_address`` (also the handoff reason).

    Returns:
        The escalation events, or none.
    """
    policy, lang = services.policy, language(tracker)
    if order.status == "processing":
        try:
            await off_loop(services.backend.record_request, order.order_id, kind,
                           tracker.sender_id)
        except BackendUnavailable as exc:
            logger.warning("could not record %s: %s", kind, exc)
        if kind == "cancel_order":
            dispatcher.utter_message(response="utter_cancel_recorded", order_id=order.order_id)
        else:
            dispatcher.utter_message(response="utter_change_address_recorded",
                                     order_id=order.order_id)
        return [SlotSet("handoff_reason", kind), FollowupAction("action_handoff")]
    if order.status == "shipped":
        if kind == "cancel_order":
            dispatcher.utter_message(response="utter_cancel_shipped_options",
                                     order_id=order.order_id,
                                     return_days=policy.returns.period_days)
        else:
            dispatcher.utter_message(
                response="utter_change_address_shipped_options", order_id=order.order_id,
                carrier=order.carrier,
                tracking_url=policy.tracking_url(order.carrier, order.tracking_number)
                or order.tracking_number)
        return []
    if order.status == "delivered":
        delivered = to_local_date(order.delivered_at, policy)
        last = last_return_day(order, policy)
        dispatcher.utter_message(
            response="utter_order_already_delivered", order_id=order.order_id,
            delivered_date=format_date(delivered, lang) if delivered else "",
            last_return_date=format_date(last, lang) if last else "")
        return []
    dispatcher.utter_message(response=f"utter_order_already_{order.status}",
                             order_id=order.order_id)
    return []


class ActionAnswerOrderRequest(Action):
    """Runs after the verification form: answers, escalates, or hands over when locked."""

    def name(self) -> str:
        """Action name."""
        return "action_answer_order_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        """Routes to the answer for the shopper's pending wish."""
        if tracker.get_slot("verification") == "locked":
            dispatcher.utter_message(response="utter_verification_locked")
            return [SlotSet("handoff_reason", "verification_locked"),
                    FollowupAction("action_handoff")]
        services = get_services()
        order = await load_verified_order(dispatcher, tracker, services)
        if order is None:
            return []
        events: list[EventType] = [SlotSet("order_context", order.summary())]
        request, lang = pending_request(tracker), language(tracker)
        if request in ("cancel_order", "change_address"):
            return events + await change_request(dispatcher, tracker, services, order, request)
        if request == "start_return":
            return events + await start_return(dispatcher, tracker, services, order)
        if request == "return_policy":
            if order.status == "delivered":
                deadline_messages(dispatcher, order, services.policy, lang)
                return events
        await tracking_messages(dispatcher, services, order, lang)
        return events
