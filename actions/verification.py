"""Verification form: order number AND matching postal code or email, before any order data.

An unknown order number and a wrong postal code get the same answer. Failed attempts are
counted in Redis (per conversation and per order number per hour); at the limit the form
stops checking and ``action_answer_order_request`` hands the chat to a person. A
verification holds for this conversation and expires after VERIFICATION_TTL_SECONDS.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from actions.shop.backend import BackendUnavailable
from actions.shop.context import off_loop
from actions.shop.limits import LimiterUnavailable
from actions.shop.models import normalise_email, normalise_order_id, normalise_zip
from actions.shop.services import get_services

logger = logging.getLogger(__name__)

RESET = {"zip_code": None, "email": None, "verification": None, "order_context": None,
         "verified_at": None}


def _candidates(tracker: Tracker) -> dict[str, Any]:
    """Slots set since the latest user message.

    Rasa's form passes only its required and requested slots as candidates; an email
    address given instead of the postal code is set by slot extraction before that, so
    the candidates are collected from every ``slot`` event after the latest message.
    """
    events = tracker.events
    start = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    candidates: dict[str, Any] = {}
    for event in events[start + 1:]:
        if event.get("event") == "slot" and event.get("name") != REQUESTED_SLOT:
            candidates[str(event.get("name"))] = event.get("value")
    return candidates


def _fresh(value: Any, tracker: Tracker) -> bool:
    """True when ``value`` was typed in the latest message (not left over from before)."""
    text = str((tracker.latest_message or {}).get("text") or "")
    return value is not None and str(value).strip().lower() in text.lower()


class ValidateOrderVerificationForm(FormValidationAction):
    """Validates ``order_verification_form`` and performs the verification itself."""

    def name(self) -> str:
        """Action name."""
        return "validate_order_verification_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        """Checks what the shopper gave and decides the next slot to ask for.

        Returns only the slots that changed, plus ``requested_slot`` (``None`` ends the
        form: verified, locked, or the shop is unreachable).
        """
        services = get_services()
        config = services.settings
        now = time.time()
        candidates = _candidates(tracker)
        changes: dict[str, Any] = {}
        slots = dict(tracker.slots)

        def change(values: dict[str, Any]) -> None:
            changes.update(values)
            slots.update(values)

        if slots.get("verification") == "locked":
            return [SlotSet(REQUESTED_SLOT, None)]

        verified_at = slots.get("verified_at")
        if slots.get("verification") == "verified" and (
                not isinstance(verified_at, (int, float))
                or now - float(verified_at) > config.verification_ttl_seconds):
            dispatcher.utter_message(response="utter_verification_expired")
            change(RESET)

        if "order_number" in candidates:
            number = normalise_order_id(candidates["order_number"])
            if number is None:
                dispatcher.utter_message(response="utter_order_number_invalid")
                change({"order_number": None})
            else:
                context = slots.get("order_context") or {}
                if slots.get("verification") == "verified" and context.get("order_id") != number:
                    change(RESET)  # another order number: verify again
                change({"order_number": number})

        if slots.get("verification") == "verified":
            return [SlotSet(k, v) for k, v in changes.items()] + [SlotSet(REQUESTED_SLOT, None)]

        zip_given = candidates.get("zip_code")
        email_given = candidates.get("email")
        zip_code = email = None
        if zip_given is not None and _fresh(zip_given, tracker):
            zip_code = normalise_zip(zip_given)
            if zip_code is None:
                dispatcher.utter_message(response="utter_zip_code_invalid")
                change({"zip_code": None})
        elif email_given is not None and _fresh(email_given, tracker):
            email = normalise_email(email_given)
            if email is None:
                dispatcher.utter_message(response="utter_email_invalid")
                change({"email": None})
        elif zip_given is not None or email_given is not None:
            change({"zip_code": None, "email": None})  # stale values from an earlier check

        order_number = slots.get("order_number")
        if order_number and (zip_code or email):
            events = await self._verify(dispatcher, tracker, str(order_number), zip_code, email,
                                        now)
            if events is not None:
                return [SlotSet(k, v) for k, v in changes.items()] + events
        elif zip_code or email:
            change({"zip_code": zip_code, "email": email})

        next_slot = "order_number" if not slots.get("order_number") else "zip_code"
        return [SlotSet(k, v) for k, v in changes.items()] + [SlotSet(REQUESTED_SLOT, next_slot)]

    async def _verify(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                      order_number: str, zip_code: str | None, email: str | None, now: float
                      ) -> list[EventType] | None:
        """Checks the pair; returns the final events, or None to ask again."""
        services = get_services()
        conversation = tracker.sender_id
        try:
            if await off_loop(services.limiter.is_locked, conversation, order_number):
                return [SlotSet("verification", "locked"), SlotSet(REQUESTED_SLOT, None)]
            order = await off_loop(services.backend.find_verified, order_number,
                                   zip_code=zip_code, email=email)
            if order is None:
                locked = await off_loop(services.limiter.record_failure, conversation,
                                        order_number)
        except (BackendUnavailable, LimiterUnavailable) as exc:
            logger.warning("verification impossible: %s", type(exc).__name__)
            dispatcher.utter_message(response="utter_shop_unavailable")
            return [SlotSet("zip_code", None), SlotSet("email", None),
                    SlotSet(REQUESTED_SLOT, None)]
        if order is not None:
            logger.info("conversation verified an order")
            return [SlotSet("zip_code", zip_code), SlotSet("email", email),
                    SlotSet("verification", "verified"),
                    SlotSet("order_context", order.summary()), SlotSet("verified_at", now),
                    SlotSet(REQUESTED_SLOT, None)]
        logger.info("verification attempt failed")
        if locked:
            return [SlotSet("order_number", None), SlotSet("zip_code", None),
                    SlotSet("email", None), SlotSet("verification", "locked"),
                    SlotSet(REQUESTED_SLOT, None)]
        dispatcher.utter_message(response="utter_verification_failed")
        return [SlotSet("order_number", None), SlotSet("zip_code", None), SlotSet("email", None),
                SlotSet("verification", "failed"), SlotSet(REQUESTED_SLOT, "order_number")]
