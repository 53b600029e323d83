"""Helpers the shop actions share: language, verified order, backend calls off the loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, TypeVar

from rasa_sdk import Tracker

T = TypeVar("T")

ORDER_INTENTS = ("track_order", "start_return", "cancel_order", "change_address",
                 "return_policy", "delivery_time")


def language(tracker: Tracker) -> str:
    """``en`` when the conversation is in English, else ``de``."""
    return "en" if tracker.get_slot("language") == "en" else "de"


def verified_order_id(tracker: Tracker, ttl_seconds: int, now: float | None = None
                      ) -> str | None:
    """The order number this conversation verified, unless the verification expired."""
    if tracker.get_slot("verification") != "verified":
        return None
    context = tracker.get_slot("order_context")
    verified_at = tracker.get_slot("verified_at")
    if not isinstance(context, dict) or not isinstance(verified_at, (int, float)):
        return None
    current = time.time() if now is None else now
    if current - float(verified_at) > ttl_seconds:
        return None
    order_id = context.get("order_id")
    return str(order_id) if order_id else None


def pending_request(tracker: Tracker) -> str:
    """The shopper's latest order-related wish (intent name); ``track_order`` by default."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
        if intent in ORDER_INTENTS:
            return str(intent)
    return "track_order"


async def off_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs a blocking backend call in a worker thread, keeping the action server responsive."""
    return await asyncio.to_thread(function, *args, **kwargs)
