"""action_handoff and action_store_csat, rasa-sdk style, against the real service and Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis
import time_machine
import uvicorn
from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import settings as action_settings
from actions.csat import ActionStoreCsat
from actions.handoff import ActionHandoff, flush_spool
from handoff.app import create_app
from tests.conftest import free_port
from tests.handoff.conftest import SERVICE_TOKEN, add_agent, make_settings

BERLIN = ZoneInfo("Europe/Berlin")
OPEN = datetime(2026, 12, 4, 10, 30, tzinfo=BERLIN)  # a Friday morning
CLOSED = datetime(2026, 12, 5, 20, 0, tzinfo=BERLIN)  # Saturday evening
HOLIDAY = datetime(2026, 12, 25, 11, 0, tzinfo=BERLIN)  # Christmas Day, a Friday
ORDER = {"order_id": "10482", "status": "delivered", "carrier": "DHL",
         "tracking_number": "00340434161094015902", "total": 289.0, "currency": "EUR"}


class LiveService:
    """The real handoff app served by uvicorn in a thread."""

    def __init__(self, redis_url: str, key_prefix: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = make_settings(redis_url, key_prefix)
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.config), host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server and self.thread:
            self.server.should_exit = True
            self.thread.join(timeout=10)

    def get(self, ticket_id: str, password: str) -> dict[str, Any]:
        username = self.last_agent
        token = httpx.post(f"{self.url}/api/auth/token",
                           data={"username": username, "password": password}).json()
        response = httpx.get(f"{self.url}/api/tickets/{ticket_id}",
                             headers={"Authorization": f"Bearer {token['access_token']}"})
        return dict(response.json())

    last_agent = ""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, redis_url: str, key_prefix: str,
        tmp_path: Path) -> Iterator[LiveService]:
    service = LiveService(redis_url, key_prefix)
    monkeypatch.setenv("HANDOFF_URL", service.url)
    monkeypatch.setenv("HANDOFF_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("HANDOFF_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("KDBOT_VAR_DIR", str(tmp_path))
    yield service
    service.stop()


def open_ticket(service: LiveService, conversation: str) -> dict[str, Any]:
    client = redis.Redis.from_url(service.config.redis_url, decode_responses=True)
    ticket_id = client.get(f"{service.config.key_prefix}conv:{conversation}")
    client.close()
    assert ticket_id, "no ticket for the conversation"
    username = f"a{time.monotonic_ns() % 10**9}"
    password = add_agent(service.config.redis_url, service.config.key_prefix, username,
                         ["de", "en"])
    service.last_agent = username
    return service.get(ticket_id, password)


def user(text: str, intent: str, ts: float, entities: list[dict[str, Any]] | None = None
         ) -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": ts, "input_channel": "socketio",
            "parse_data": {"intent": {"name": intent, "confidence": 0.9},
                           "entities": entities or [], "text": text}}


def bot(text: str, ts: float) -> dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": ts, "metadata": {}}


def tracker(sender: str, events: list[dict[str, Any]], channel: str = "socketio",
            **slots: Any) -> Tracker:
    for event in events:
        if event["event"] == "user":
            event["input_channel"] = channel
    latest = next(e for e in reversed(events) if e["event"] == "user")
    return Tracker(sender, {"language": "de", **slots}, latest["parse_data"], events, False,
                   None, {}, "action_listen")


def conversation(now: float, last_text: str, intent: str) -> list[dict[str, Any]]:
    return [
        {"event": "action", "name": "action_listen", "timestamp": now - 60},
        user("Wo ist meine Bestellung 10482?", "track_order", now - 50,
             [{"entity": "order_id", "value": "10482"}]),
        bot("Ihre Bestellung wurde zugestellt.", now - 49),
        user(last_text, intent, now - 1),
    ]


async def run_handoff(t: Tracker) -> tuple[CollectingDispatcher, list[Any]]:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, t, {})
    return dispatcher, events


async def test_complaint_hands_over_the_full_context(env: LiveService) -> None:
    env.start()
    with time_machine.travel(OPEN, tick=True):
        now = time.time()
        t = tracker("shop-1", conversation(now, "Die Jacke ist kaputt angekommen",
                                           "complaint"),
                    verification="verified", order_context=ORDER)
        dispatcher, events = await run_handoff(t)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_queued"]
    assert dispatcher.messages[0]["wait_minutes"] >= 1
    assert events == [SlotSet("handoff_reason", None), ConversationPaused()]
    ticket = open_ticket(env, "shop-1")
    assert ticket["reason"] == "damaged_goods" and ticket["channel"] == "socketio"
    assert ticket["context"]["verification"] == "verified"
    assert ticket["context"]["order_id"] == "10482"
    assert ticket["context"]["order_status"] == "delivered"
    assert ticket["context"]["order"]["tracking_number"] == "00340434161094015902"
    assert ticket["context"]["flags"] == {"legal_threat": False, "high_order_value": True}
    assert ticket["context"]["intents"] == ["track_order", "complaint"]
    assert {"entity": "order_id", "value": "10482"} in ticket["context"]["entities"]
    assert [(e["from"], e["text"]) for e in ticket["transcript"]] == [
        ("shopper", "Wo ist meine Bestellung 10482?"),
        ("bot", "Ihre Bestellung wurde zugestellt."),
        ("shopper", "Die Jacke ist kaputt angekommen")]
    assert all(e["at"].startswith("2026-12-04T09:") for e in ticket["transcript"])
    assert ticket["priority"] == 3  # damaged goods + high order value


@pytest.mark.parametrize(("text", "intent", "slots", "reason", "priority"), [
    ("Ich gehe zum Anwalt, das ist Betrug", "complaint", {}, "legal_threat", 3),
    ("Ich möchte mit einem Menschen sprechen", "request_human", {}, "request_human", 0),
    ("Meine Zahlung wurde doppelt abgebucht", "payment_issue", {}, "payment_issue", 2),
    ("Da fehlt ein Artikel", "complaint", {}, "wrong_goods", 1),
    ("10115", "provide_order_details", {"handoff_reason": "verification_locked"},
     "verification_locked", 0),
])
async def test_reason_and_priority(env: LiveService, text: str, intent: str,
                                   slots: dict[str, Any], reason: str, priority: int) -> None:
    env.start()
    sender = f"r-{reason}"
    with time_machine.travel(OPEN, tick=True):
        t = tracker(sender, conversation(time.time(), text, intent), **slots)
        await run_handoff(t)
    ticket = open_ticket(env, sender)
    assert ticket["reason"] == reason and ticket["priority"] == priority
    assert ticket["context"]["flags"]["legal_threat"] is (reason == "legal_threat")


@pytest.mark.parametrize(("moment", "channel", "responses", "opens"), [
    (CLOSED, "socketio", ["utter_handoff_closed", "utter_handoff_offer_email"],
     "Montag, 07.12., 08:00 Uhr"),
    (CLOSED, "whatsapp", ["utter_handoff_closed"], "Montag, 07.12., 08:00 Uhr"),
    (HOLIDAY, "socketio", ["utter_handoff_closed", "utter_handoff_offer_email"],
     "Montag, 28.12., 08:00 Uhr"),
])
async def test_outside_business_hours_says_when_the_team_answers(
        env: LiveService, moment: datetime, channel: str, responses: list[str],
        opens: str) -> None:
    env.start()
    with time_machine.travel(moment, tick=True):
        t = tracker(f"closed-{channel}", conversation(time.time(), "Ich will einen Menschen",
                                                      "request_human"), channel=channel)
        dispatcher, _ = await run_handoff(t)
    assert [m["response"] for m in dispatcher.messages] == responses
    assert dispatcher.messages[0]["opens_at"] == opens


async def test_unreachable_service_stores_escalation_in_redis_outbox(
        env: LiveService) -> None:
    with time_machine.travel(OPEN, tick=True):
        t = tracker("down-1", conversation(time.time(), "Ich will einen Menschen",
                                           "request_human"))
        dispatcher, events = await run_handoff(t)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_stored"]
    assert ConversationPaused() in events
    client = redis.Redis.from_url(env.config.redis_url, decode_responses=True)
    assert client.xlen(f"{env.config.key_prefix}outbox") == 1
    env.start()  # the service drains the outbox when it runs
    deadline = time.monotonic() + 10
    while client.xlen(f"{env.config.key_prefix}outbox") and time.monotonic() < deadline:
        time.sleep(0.1)
    client.close()
    ticket = open_ticket(env, "down-1")
    assert ticket["transcript"][-1]["text"] == "Ich will einen Menschen"


async def test_service_and_redis_down_spools_to_disk_then_delivers(
        env: LiveService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    with time_machine.travel(OPEN, tick=True):
        t = tracker("down-2", conversation(time.time(), "Zahlung fehlgeschlagen",
                                           "payment_issue"))
        dispatcher, _ = await run_handoff(t)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_stored"]
    spool = tmp_path / "handoff-outbox.jsonl"
    assert len(spool.read_text().splitlines()) == 1
    env.start()
    monkeypatch.setenv("REDIS_URL", env.config.redis_url)
    assert await flush_spool(action_settings()) == 0
    assert spool.read_text() == ""
    assert open_ticket(env, "down-2")["reason"] == "payment_issue"


async def test_csat_is_stored_on_the_ticket(env: LiveService) -> None:
    env.start()
    with time_machine.travel(OPEN, tick=True):
        await run_handoff(tracker("rate-1", conversation(time.time(), "Mensch bitte",
                                                         "request_human")))
    ticket = open_ticket(env, "rate-1")
    rating = user('/csat{"csat_score": "4"}', "csat", time.time(),
                  [{"entity": "csat_score", "value": "4"}])
    dispatcher = CollectingDispatcher()
    events = await ActionStoreCsat().run(dispatcher, tracker("rate-1", [rating]), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_csat_thanks"]
    assert events == [SlotSet("csat_score", 4)]
    assert open_ticket(env, "rate-1")["csat"] == 4
    assert ticket["id"] == open_ticket(env, "rate-1")["id"]


async def test_invalid_csat_asks_again(env: LiveService) -> None:
    rating = user("9 Sterne", "csat", time.time(), [{"entity": "csat_score", "value": "9"}])
    dispatcher = CollectingDispatcher()
    await ActionStoreCsat().run(dispatcher, tracker("rate-2", [rating]), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_csat"]


# ---- a new session keeps a handed-over conversation paused ------------------------
def session_tracker(events: list[dict[str, Any]], slots: dict[str, Any]) -> Tracker:
    return Tracker("shopper-1", slots, {}, events, False, None, {}, "action_listen")


@pytest.mark.parametrize(("history", "paused"), [
    ([], False),
    ([{"event": "pause"}], True),  # waiting for or talking to an agent
    ([{"event": "pause"}, {"event": "bot", "text": "Jana"}, {"event": "user"}], True),
    ([{"event": "pause"}, {"event": "resume"}], False),  # handed back to the bot
    ([{"event": "pause"}, {"event": "restart"}], False),
])
async def test_session_start_keeps_a_handed_over_conversation_paused(
        history: list[dict[str, Any]], paused: bool) -> None:
    from actions.handoff import ActionSessionStart

    tracker = session_tracker(history, {"language": "en", "order_context": None})
    events = await ActionSessionStart().run(CollectingDispatcher(), tracker,
                                            {"session_config": {}})
    kinds = [e["event"] for e in events]
    assert kinds[0] == "session_started"
    assert {"event": "slot", "timestamp": None, "name": "language", "value": "en"} in events
    assert "order_context" not in [e.get("name") for e in events]
    tail = ["action", "pause"] if paused else ["action"]  # listen, then (maybe) pause
    assert kinds[-len(tail):] == tail and kinds.count("pause") == len(tail) - 1


async def test_a_rating_given_while_the_service_is_down_is_stored_later(
        env: LiveService) -> None:
    env.start()
    with time_machine.travel(OPEN, tick=True):
        await run_handoff(tracker("rate-3", conversation(time.time(), "Mensch bitte",
                                                         "request_human")))
    env.stop()
    rating = user('/csat{"csat_score": "2"}', "csat", time.time(),
                  [{"entity": "csat_score", "value": "2"}])
    dispatcher = CollectingDispatcher()
    await ActionStoreCsat().run(dispatcher, tracker("rate-3", [rating]), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_csat_thanks"]
    client = redis.Redis.from_url(env.config.redis_url, decode_responses=True)
    assert client.xlen(f"{env.config.key_prefix}outbox") == 1
    env.start()  # the service drains the outbox when it runs again
    deadline = time.monotonic() + 10
    while client.xlen(f"{env.config.key_prefix}outbox") and time.monotonic() < deadline:
        time.sleep(0.1)
    client.close()
    assert open_ticket(env, "rate-3")["csat"] == 2


async def test_asking_for_the_rating_listens_in_the_same_step() -> None:
    from actions.csat import ActionAskCsat

    dispatcher = CollectingDispatcher()
    events = await ActionAskCsat().run(dispatcher, tracker("rate-4", [
        user("Danke", "thank", time.time())]), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_csat"]
    assert [(e["event"], e.get("name")) for e in events] == [("action", "action_listen")]
