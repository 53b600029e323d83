"""Delivery times computed from the shop policy, with or without an order."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.shop.context import language, verified_order_id
from actions.shop.dates import add_delivery_days, dispatch_date, format_date, format_time, shop_now
from actions.shop.policy import Policy
from actions.shop.services import get_services


def countries_in_text(text: str, policy: Policy) -> list[str]:
    """Destination countries of the policy named in ``text`` (by name or ISO code)."""
    codes = set(re.findall(r"\b[A-Z]{2}\b", text))  # "AT", "CH" written as codes
    lowered = text.lower()
    return [code for code, span in policy.delivery_days.items()
            if code in codes or any(name.lower() in lowered for name in span.name.values())]


def delivery_messages(dispatcher: CollectingDispatcher, policy: Policy, countries: list[str],
                      lang: str) -> None:
    """Dispatch day for an order placed now, then the delivery window per country.

    Args:
        dispatcher: Where the answers go.
        policy: The shop policy.
        countries: ISO codes to answer for (all of the policy's when empty).
        lang: ``de`` or ``en``.
    """
    now = shop_now(policy)
    leaves = dispatch_date(policy, now)
    if leaves == now.date():
        dispatcher.utter_message(response="utter_delivery_dispatch_today",
                                 cutoff=format_time(policy.cutoff))
    else:
        dispatcher.utter_message(response="utter_delivery_dispatch_later",
                                 dispatch_date=format_date(leaves, lang))
    for code in countries or list(policy.delivery_days):
        span = policy.delivery_days[code]
        dispatcher.utter_message(
            response="utter_delivery_country", destination=span.destination_in(lang, code),
            min_days=span.min_days, max_days=span.max_days,
            latest_date=format_date(add_delivery_days(leaves, span.max_days, policy), lang))


class ActionDeliveryTime(Action):
    """How long delivery takes: for the verified order's country, a named one, or all."""

    def name(self) -> str:
        """Action name."""
        return "action_delivery_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        """Answers from the policy file (cut-off, dispatch days, holidays, Sundays)."""
        services = get_services()
        policy, lang = services.policy, language(tracker)
        text = str((tracker.latest_message or {}).get("text") or "")
        countries = countries_in_text(text, policy)
        context = tracker.get_slot("order_context")
        if not countries and verified_order_id(
                tracker, services.settings.verification_ttl_seconds) and isinstance(context, dict):
            country = str(context.get("country") or "")
            if country in policy.delivery_days:
                countries = [country]
        delivery_messages(dispatcher, policy, countries, lang)
        return []
