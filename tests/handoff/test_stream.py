"""Event broker -> Redis stream -> consumer group -> ticket transcript, on a real Redis."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from rasa.utils.endpoints import EndpointConfig
from redis.asyncio import Redis

from bot.broker import RedisStreamEventBroker
from handoff.consumer import GROUP, EventConsumer
from handoff.metrics import Metrics
from handoff.queue import TicketStore
from tests.conftest import RedisServer
from tests.handoff.test_queue import NOW, new_ticket


async def make_broker(url: str, stream: str) -> RedisStreamEventBroker:
    parsed = urlparse(url)
    broker = await RedisStreamEventBroker.from_endpoint_config(EndpointConfig(
        url=parsed.hostname, port=parsed.port, db=0, password="", stream=stream, maxlen=1000,
        type="bot.broker.RedisStreamEventBroker"))
    assert broker is not None
    return broker


def user_event(sender: str, text: str, ts: float, **parse: object) -> dict[str, object]:
    return {"sender_id": sender, "event": "user", "text": text, "timestamp": ts,
            "parse_data": {"intent": {"name": "inform"}, "entities": [], **parse}}


@pytest.fixture
async def parts(redis_url: str, key_prefix: str):  # type: ignore[no-untyped-def]
    redis = Redis.from_url(redis_url, decode_responses=True)
    store = TicketStore(redis, key_prefix)
    stream = key_prefix + "rasa-events"
    yield redis, store, stream
    await redis.close()


async def test_shopper_messages_reach_the_open_ticket_once(parts, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    redis, store, stream = parts
    ticket_id, _ = await store.create(new_ticket(1, conversation="shopper-a"))
    ticket = await store.get(ticket_id)
    assert ticket is not None
    broker = await make_broker(redis_url, stream)
    old = NOW.timestamp() - 60  # already in the handed-over transcript
    broker.publish(user_event("shopper-a", "schon bekannt", old))
    broker.publish(user_event("shopper-a", "Hallo, sind Sie da?", time.time()))
    broker.publish(user_event("other", "ohne Ticket", time.time()))
    broker.publish({"sender_id": "shopper-a", "event": "bot", "text": "von Agentin",
                    "timestamp": time.time(), "metadata": {"handoff_event": "message"}})
    broker.publish(user_event("shopper-a", "Meine Adresse: test@example.de", time.time(),
                              entities=[{"entity": "email", "value": "test@example.de"}]))
    consumer = EventConsumer(redis, stream, store, Metrics(redis, store.prefix), name="c1")
    await consumer.ensure_group()
    assert await consumer.run_once(block_ms=100) == 5
    ticket = await store.get(ticket_id)
    assert ticket is not None
    texts = [e["text"] for e in ticket["transcript"]]
    assert texts == ["Hallo 1", "Hallo, sind Sie da?", "Meine Adresse: test@example.de"]
    assert ticket["transcript"][1]["from"] == "shopper"
    assert ticket["contact_email"] == "test@example.de"
    pending = await redis.xpending(stream, GROUP)
    assert pending["pending"] == 0  # everything acknowledged after the work


async def test_dead_consumers_messages_are_taken_over(parts, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    redis, store, stream = parts
    ticket_id, _ = await store.create(new_ticket(1, conversation="shopper-b"))
    broker = await make_broker(redis_url, stream)
    dead = EventConsumer(redis, stream, store, Metrics(redis, store.prefix), name="dead")
    await dead.ensure_group()
    broker.publish(user_event("shopper-b", "Nachricht während Absturz", time.time()))
    # the dead consumer read it but died before doing the work
    await redis.xreadgroup(GROUP, "dead", {stream: ">"}, count=10)
    assert (await redis.xpending(stream, GROUP))["pending"] == 1
    alive = EventConsumer(redis, stream, store, Metrics(redis, store.prefix), name="alive",
                          min_idle_ms=0)
    assert await alive.reclaim() == 1
    ticket = await store.get(ticket_id)
    assert ticket and ticket["transcript"][-1]["text"] == "Nachricht während Absturz"
    assert (await redis.xpending(stream, GROUP))["pending"] == 0


async def test_broker_keeps_events_while_redis_is_down(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        broker = await make_broker(server.url, "kdbot:events")
        broker.publish(user_event("s", "eins", 1.0))
        server.stop()
        broker.publish(user_event("s", "zwei", 2.0))  # must not raise
        assert not broker.is_ready()
        server.start()
        broker.publish(user_event("s", "drei", 3.0))
        client = Redis.from_url(server.url, decode_responses=True)
        entries = await client.xrange("kdbot:events")
        await client.close()
        assert [json.loads(f["event"])["text"] for _, f in entries] == ["eins", "zwei", "drei"]
    finally:
        server.stop()


async def test_tickets_and_transcripts_survive_a_redis_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        redis = Redis.from_url(server.url, decode_responses=True)
        store = TicketStore(redis, "kdbot:handoff:")
        ticket_id, _ = await store.create(new_ticket(7))
        await store.claim(ticket_id, "jana", ["de"])
        await store.append(ticket_id, {"from": "agent", "text": "Ich helfe", "at": "x"})
        await redis.close()
        server.restart()
        redis = Redis.from_url(server.url, decode_responses=True)
        store = TicketStore(redis, "kdbot:handoff:")
        ticket = await store.get(ticket_id)
        await redis.close()
        assert ticket and ticket["status"] == "assigned" and ticket["assigned_to"] == "jana"
        assert [e["text"] for e in ticket["transcript"]] == ["Hallo 7", "Ich helfe"]
    finally:
        server.stop()
        await asyncio.sleep(0)
