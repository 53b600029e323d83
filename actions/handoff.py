"""``action_handoff``: escalate to the human team with the full context.

The action builds the whole picture (transcript with timestamps, channel, language,
reason, intents and entities seen, verification, order summary, flags), hands it to the
handoff service, pauses the conversation and tells the shopper what happens next.
When the service is unreachable the escalation is stored durably: first in the Redis
stream ``kdbot:handoff:outbox`` (which the handoff service drains), and when Redis is down
too in a local spool file that this action server keeps retrying. No escalation is lost.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import redis
from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    EventType,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher

from actions.config import Settings, settings
from handoff.sla import Policy, load_policy

log = logging.getLogger(__name__)

LEGAL_THREAT = re.compile(
    r"\b(anwalt|anwält\w*|rechtsanwalt\w*|verbraucherzentrale|betrug\w*|betrüger\w*|"
    r"anzeige|polizei|klage|verklagen|gericht\w*|abmahnung|lawyer|attorney|fraud\w*|"
    r"scam\w*|sue|lawsuit|court|police|consumer protection)\b", re.IGNORECASE)
DAMAGED = re.compile(r"(beschädigt|kaputt|defekt|zerbrochen|gerissen|kaput|damaged|broken|"
                     r"defective|torn|cracked)", re.IGNORECASE)
WRONG = re.compile(r"(falsch|anderen artikel|andere größe|fehlt|fehlen|nicht enthalten|"
                   r"unvollständig|wrong|missing|incomplete|not included)", re.IGNORECASE)
INTENT_REASON = {"request_human": "request_human", "payment_issue": "payment_issue",
                 "cancel_order": "cancel_order", "change_address": "change_address",
                 "nlu_fallback": "fallback"}
WIDGET_CHANNELS = {"socketio", "widget"}
DE_DAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SPOOL_NAME = "handoff-outbox.jsonl"

_retry_task: asyncio.Task[None] | None = None


def _iso(timestamp: Any) -> str:
    try:
        moment = datetime.fromtimestamp(float(timestamp), timezone.utc)
    except (TypeError, ValueError):
        moment = datetime.now(timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def transcript(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation so far: every shopper and bot (or agent) message with its time."""
    lines: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user" and event.get("text"):
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            lines.append({"from": "shopper", "text": str(event["text"]),
                          "at": _iso(event.get("timestamp")), "intent": intent})
        elif kind == "bot" and event.get("text"):
            sender = "agent" if (event.get("metadata") or {}).get("handoff_event") else "bot"
            lines.append({"from": sender, "text": str(event["text"]),
                          "at": _iso(event.get("timestamp"))})
    return lines


def seen(events: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Intents (in order, once each) and entities (once each) the shopper's messages had."""
    intents: list[str] = []
    entities: list[dict[str, Any]] = []
    for event in events:
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        name = (parse.get("intent") or {}).get("name")
        if name and name not in intents:
            intents.append(name)
        for entity in parse.get("entities") or []:
            item = {"entity": entity.get("entity"), "value": entity.get("value")}
            if item not in entities:
                entities.append(item)
    return intents, entities


def detect_reason(tracker: Tracker) -> str:
    """The escalation reason: the ``handoff_reason`` slot, else from intent and text."""
    slot = tracker.get_slot("handoff_reason")
    if slot:
        return str(slot)
    text = tracker.latest_message.get("text") or ""
    intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
    if LEGAL_THREAT.search(text):
        return "legal_threat"
    if intent == "complaint":
        if DAMAGED.search(text):
            return "damaged_goods"
        if WRONG.search(text):
            return "wrong_goods"
        return "complaint"
    return INTENT_REASON.get(intent, "request_human")


def build_escalation(tracker: Tracker, policy: Policy) -> dict[str, Any]:
    """Everything the agent needs, so nobody has to ask the shopper again."""
    events = list(tracker.events)
    lines = transcript(events)
    intents, entities = seen(events)
    order = tracker.get_slot("order_context")
    shopper_text = " ".join(line["text"] for line in lines if line["from"] == "shopper")
    total = order.get("total") if isinstance(order, dict) else None
    flags = {
        "legal_threat": bool(LEGAL_THREAT.search(shopper_text)),
        "high_order_value": isinstance(total, (int, float))
        and total >= policy.high_order_value,
    }
    latest: dict[str, Any] = next(
        (e for e in reversed(events) if e.get("event") == "user"), {})
    key = f"{tracker.sender_id}|{latest.get('timestamp')}|{len(events)}"
    language = tracker.get_slot("language") or "de"
    return {
        "escalation_id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel() or "rest",
        "language": language if language in ("de", "en") else "de",
        "reason": detect_reason(tracker),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "transcript": lines,
        "context": {
            "order": order if isinstance(order, dict) else None,
            "order_id": order.get("order_id") if isinstance(order, dict) else next(
                (e["value"] for e in entities if e["entity"] == "order_id"), None),
            "order_status": order.get("status") if isinstance(order, dict) else None,
            "verification": tracker.get_slot("verification"),
            "intents": intents,
            "entities": entities,
            "flags": flags,
        },
    }


def _spool(config: Settings) -> Path:
    return config.var_dir / SPOOL_NAME


def outbox_key() -> str:
    return os.environ.get("HANDOFF_KEY_PREFIX", "kdbot:handoff:") + "outbox"


def add_to_outbox(kind: str, body: str, config: Settings) -> None:
    """Appends an entry (``escalation`` or ``csat``) to the Redis outbox the service drains.

    Raises:
        redis.RedisError: Redis is unavailable.
    """
    client = redis.Redis.from_url(config.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.xadd(outbox_key(), {kind: body})
    finally:
        client.close()


def store_durably(escalation: dict[str, Any], config: Settings) -> str:
    """Keeps an escalation the service could not take: Redis outbox, else spool file.

    Returns:
        ``outbox`` or ``spool``.

    Raises:
        OSError: when neither Redis nor the disk takes it.
    """
    body = json.dumps(escalation, ensure_ascii=False)
    try:
        add_to_outbox("escalation", body, config)
        return "outbox"
    except redis.RedisError:
        path = _spool(config)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as spool:
            fcntl.flock(spool, fcntl.LOCK_EX)
            spool.write(body + "\n")
            spool.flush()
            os.fsync(spool.fileno())
        return "spool"


async def post_escalation(escalation: dict[str, Any], config: Settings
                          ) -> dict[str, Any] | None:
    """Hands an escalation to the service; None when it did not take it."""
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.post(
                f"{config.handoff_url}/api/escalations", json=escalation,
                headers={"Authorization": f"Bearer {config.handoff_service_token}"})
    except httpx.HTTPError as error:
        log.warning("handoff service unreachable (%s)", type(error).__name__)
        return None
    if not response.is_success:
        log.error("handoff service refused the escalation: HTTP %s", response.status_code)
        return None
    return dict(response.json())


async def flush_spool(config: Settings) -> int:
    """Moves spooled escalations to the service (or the Redis outbox).

    Returns:
        How many escalations are still spooled.
    """
    path = _spool(config)
    if not path.exists():
        return 0
    with path.open("r+", encoding="utf-8") as spool:
        fcntl.flock(spool, fcntl.LOCK_EX)
        lines = [line for line in spool.read().splitlines() if line.strip()]
        keep: list[str] = []
        for line in lines:
            escalation = json.loads(line)
            if await post_escalation(escalation, config) is not None:
                continue
            try:
                client = redis.Redis.from_url(config.redis_url, socket_timeout=2,
                                              socket_connect_timeout=2)
                try:
                    client.xadd(outbox_key(), {"escalation": line})
                finally:
                    client.close()
            except redis.RedisError:
                keep.append(line)
        spool.seek(0)
        spool.truncate()
        spool.write("".join(f"{line}\n" for line in keep))
        spool.flush()
        os.fsync(spool.fileno())
    return len(keep)


async def _retry_spool(config: Settings, interval: float = 5.0) -> None:
    while await flush_spool(config):
        await asyncio.sleep(interval)


def ensure_retry(config: Settings) -> None:
    """Starts the spool retry loop of this action server (once, when needed)."""
    global _retry_task
    if _retry_task is None or _retry_task.done():
        _retry_task = asyncio.get_running_loop().create_task(_retry_spool(config))


def opening_text(moment: datetime, policy: Policy, language: str) -> str:
    """``Montag, 07.12., 08:00 Uhr`` / ``Monday, 07/12, 08:00`` in the shop's time zone."""
    local = moment.astimezone(policy.timezone)
    if language == "en":
        return f"{EN_DAYS[local.weekday()]}, {local:%d/%m}, {local:%H:%M}"
    return f"{DE_DAYS[local.weekday()]}, {local:%d.%m.}, {local:%H:%M} Uhr"


class ActionHandoff(Action):
    """Escalates the conversation to the human queue and pauses the bot."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        """Hands over, pauses, and tells the shopper what happens next."""
        config = settings()
        policy = load_policy(config.shop_policy_file)
        if await flush_spool(config):
            ensure_retry(config)
        escalation = build_escalation(tracker, policy)
        result = await post_escalation(escalation, config)
        if result is None:
            try:
                where = store_durably(escalation, config)
            except OSError:
                log.exception("escalation of a conversation could not be stored")
                dispatcher.utter_message(response="utter_handoff_failed")
                return [SlotSet("handoff_reason", None)]
            if where == "spool":
                ensure_retry(config)
            dispatcher.utter_message(response="utter_handoff_stored")
        elif result.get("business_open"):
            dispatcher.utter_message(response="utter_handoff_queued",
                                     wait_minutes=max(1, int(result.get("wait_minutes") or 1)))
        else:
            opens = datetime.fromisoformat(str(result["opens_at"]))
            dispatcher.utter_message(response="utter_handoff_closed",
                                     opens_at=opening_text(opens, policy,
                                                           escalation["language"]))
            if escalation["channel"] in WIDGET_CHANNELS:
                dispatcher.utter_message(response="utter_handoff_offer_email")
        return [SlotSet("handoff_reason", None), ConversationPaused()]


def paused_for_a_person(events: list[dict[str, Any]]) -> bool:
    """Whether the latest pause/resume/restart of the conversation is a pause.

    A pause comes from ``action_handoff`` or from the handoff service when an agent takes
    over; ``resume`` is the hand-back, ``restart`` a fresh start.
    """
    for event in reversed(events):
        kind = event.get("event")
        if kind == "pause":
            return True
        if kind in ("resume", "restart"):
            return False
    return False


class ActionSessionStart(Action):
    """Rasa's session start, which keeps a conversation with a person paused.

    Rasa starts a new session when the shopper writes after ``session_expiration_time``
    (60 minutes) and a new session un-pauses the conversation. While a ticket waits for
    or belongs to an agent ("until then I will not answer automatically"), the bot would
    then answer the shopper's next message in the middle of the agent's case. Otherwise
    this is Rasa's default: carry the slots over (``carry_over_slots_to_new_session``),
    then listen.
    """

    def name(self) -> str:
        """The action's name in the domain (replaces Rasa's built-in one)."""
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        """A new session with the slots carried over, still paused during a handoff."""
        events: list[EventType] = [SessionStarted()]
        carry_over = (domain.get("session_config") or {}).get(
            "carry_over_slots_to_new_session", True)
        if carry_over:
            events += [SlotSet(name, value) for name, value in tracker.slots.items()
                       if value is not None]
        events.append(ActionExecuted("action_listen"))
        if paused_for_a_person(tracker.events):
            events.append(ConversationPaused())
        return events
