"""Builders shared by the shop tests: real SQLite store, real Redis limiter, trackers."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis
from rasa_sdk import Tracker

from actions.config import settings
from actions.shop.carriers import CarrierClient, NoCarrierClient
from actions.shop.limits import VerificationLimiter
from actions.shop.policy import load_policy
from actions.shop.services import ShopServices
from actions.shop.sqlite_backend import SQLiteOrderBackend

ROOT = Path(__file__).resolve().parents[2]
DEMO_ORDERS = ROOT / "data" / "shop" / "demo-orders.json"
POLICY = ROOT / "data" / "shop" / "policy.yml"
BERLIN = ZoneInfo("Europe/Berlin")
# the clock the demo data is written around: Friday, 4 December 2026, 10:00 in Berlin
FRIDAY_MORNING = dt.datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN)


def berlin(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A wall-clock time in the shop's time zone."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def make_services(tmp_path: Path, redis_url: str, key_prefix: str,
                  carriers: CarrierClient | None = None, backend: Any = None) -> ShopServices:
    """Real services: SQLite with the demo shop, Redis limiter under a test prefix."""
    if backend is None:
        backend = SQLiteOrderBackend(tmp_path / "orders.sqlite3",
                                     "https://shop.test/label/{rma}")
        backend.import_file(DEMO_ORDERS)
    limiter = VerificationLimiter(redis.Redis.from_url(redis_url, decode_responses=True),
                                  prefix=key_prefix + "kdbot:verify:")
    return ShopServices(settings=settings(), policy=load_policy(POLICY), backend=backend,
                        carriers=carriers or NoCarrierClient(), limiter=limiter)


def user_event(text: str, intent: str, entities: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    """A ``user`` event as Rasa sends it to the action server."""
    return {"event": "user", "timestamp": time.time(), "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": 0.99},
                           "entities": entities or [], "text": text}}


def make_tracker(slots: dict[str, Any] | None = None, events: list[dict[str, Any]] | None = None,
                 text: str = "", intent: str = "track_order", sender_id: str = "conv-1",
                 active_loop: str | None = None, entities: list[dict[str, Any]] | None = None
                 ) -> Tracker:
    """A tracker whose latest message is ``text``; ``events`` come before it."""
    latest = user_event(text, intent, entities)
    all_events = list(events or []) + [latest]
    base = {"language": "de", "verification": None, "order_context": None,
            "handoff_reason": None, "order_number": None, "zip_code": None, "email": None,
            "verified_at": None, "return_item": None, "requested_slot": None}
    base.update(slots or {})
    return Tracker(sender_id=sender_id, slots=base, latest_message=latest["parse_data"] | {
        "text": text}, events=all_events, paused=False, followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen")


def slot_set_events(slots: dict[str, Any]) -> list[dict[str, Any]]:
    """``slot`` events, as the form's candidates since the latest message."""
    return [{"event": "slot", "timestamp": time.time(), "name": k, "value": v}
            for k, v in slots.items()]


def form_tracker(slots_before: dict[str, Any], candidates: dict[str, Any], text: str,
                 intent: str = "provide_order_details", sender_id: str = "conv-1",
                 history: list[dict[str, Any]] | None = None) -> Tracker:
    """A tracker as the form validation sees it: candidates set after the latest message."""
    tracker = make_tracker(slots={**slots_before, **candidates}, events=history, text=text,
                           intent=intent, sender_id=sender_id,
                           active_loop="order_verification_form")
    tracker.events.extend(slot_set_events(candidates))
    return tracker


def verified_slots(order_id: str, zip_code: str, country: str = "DE",
                   at: float | None = None) -> dict[str, Any]:
    """Slots of a conversation that verified ``order_id``."""
    return {"order_number": order_id, "zip_code": zip_code, "verification": "verified",
            "order_context": {"order_id": order_id, "country": country},
            "verified_at": time.time() if at is None else at}


def responses(dispatcher: Any) -> list[str]:
    """Names of the responses an action dispatched."""
    return [m.get("response") for m in dispatcher.messages]


def message(dispatcher: Any, name: str) -> dict[str, Any]:
    """The dispatched message with response ``name``."""
    return next(m for m in dispatcher.messages if m.get("response") == name)


def events_as_dicts(events: list[Any]) -> dict[str, Any]:
    """Slot values set by the events (last one wins), plus ``followup``."""
    result: dict[str, Any] = {}
    for event in events:
        if event.get("event") == "slot":
            result[event["name"]] = event["value"]
        if event.get("event") == "followup":
            result["followup"] = event["name"]
    return result
