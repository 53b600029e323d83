"""Follows the Rasa event stream (``kdbot:events``) with a consumer group.

Shopper messages of conversations with an open ticket go to the ticket transcript and
live to the agent console. A message is acknowledged only after that work is done;
messages a dead consumer left pending are taken over with XAUTOCLAIM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from datetime import datetime, timezone
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from handoff.metrics import Metrics
from handoff.queue import TicketError, TicketStore, parse_iso

log = logging.getLogger("handoff.consumer")
GROUP = "handoff"


def consumer_name() -> str:
    """A name unique per process (host and pid)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _iso(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(float(timestamp), timezone.utc).isoformat(
            timespec="milliseconds")
    except (TypeError, ValueError):
        return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class EventConsumer:
    """Consumes the event stream for the handoff service.

    Args:
        redis: Asyncio client (decode_responses).
        stream: The stream key (``kdbot:events``).
        store: Tickets.
        metrics: Metrics (conversations seen, for the containment rate).
        name: This consumer's name in the group.
        min_idle_ms: How long a message must be pending before another consumer takes it.
    """

    def __init__(self, redis: Redis, stream: str, store: TicketStore, metrics: Metrics,
                 name: str | None = None, min_idle_ms: int = 30000) -> None:
        self.redis = redis
        self.stream = stream
        self.store = store
        self.metrics = metrics
        self.name = name or consumer_name()
        self.min_idle_ms = min_idle_ms

    async def ensure_group(self) -> None:
        """Creates the consumer group (idempotent), reading from the stream's start."""
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def handle(self, fields: dict[str, str]) -> None:
        """Does the work for one stream entry (broker format: field ``event`` = JSON)."""
        try:
            event = json.loads(fields.get("event", "{}"))
        except ValueError:
            log.error("skipping an event that is not JSON")
            return
        sender = event.get("sender_id")
        kind = event.get("event")
        if not sender or kind not in ("user", "bot"):
            return
        if kind == "user":
            await self.metrics.seen_conversation(sender)
        ticket_id = await self.store.open_ticket(sender)
        if not ticket_id:
            return
        metadata = event.get("metadata") or {}
        if kind == "bot" and metadata.get("handoff_event"):
            return  # the service wrote it; it is in the transcript already
        ticket = await self.store.get(ticket_id, with_transcript=False)
        if ticket is None:
            return
        at = _iso(event.get("timestamp"))
        until = ticket.get("transcript_until")
        if until and parse_iso(at) <= parse_iso(until):
            return  # part of the transcript the bot handed over
        entry: dict[str, Any] = {"from": "shopper" if kind == "user" else "bot",
                                 "text": event.get("text") or "", "at": at}
        parse = event.get("parse_data") or {}
        if kind == "user":
            entry["intent"] = (parse.get("intent") or {}).get("name")
            emails = [e.get("value") for e in parse.get("entities") or []
                      if e.get("entity") == "email" and e.get("value")]
            if emails:
                await self.store.set_fields(ticket_id, contact_email=str(emails[-1]))
        elif not entry["text"]:
            return
        try:
            await self.store.append(ticket_id, entry)
        except TicketError:
            return

    async def _process(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        for entry_id, fields in entries:
            await self.handle(fields)
            await self.redis.xack(self.stream, GROUP, entry_id)
        return len(entries)

    async def reclaim(self) -> int:
        """Takes over and processes entries a dead consumer left unacknowledged."""
        total = 0
        start = "0-0"
        while True:
            result = await self.redis.xautoclaim(self.stream, GROUP, self.name,
                                                 self.min_idle_ms, start_id=start, count=100)
            start, entries = result[0], result[1]
            total += await self._process([(i, f) for i, f in entries if f is not None])
            if start in ("0-0", b"0-0") or not entries:
                return total

    async def run_once(self, block_ms: int = 1000) -> int:
        """Reads and processes new entries (blocking up to ``block_ms``)."""
        response = await self.redis.xreadgroup(GROUP, self.name, {self.stream: ">"},
                                               count=100, block=block_ms)
        total = 0
        for _stream, entries in response or []:
            total += await self._process(entries)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Consumes until ``stop`` is set; survives Redis outages."""
        reclaimed_at = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await self.ensure_group()
                if loop.time() - reclaimed_at > self.min_idle_ms / 1000:
                    reclaimed_at = loop.time()
                    await self.reclaim()
                await self.run_once()
            except (RedisError, OSError) as error:
                log.warning("event stream: %s; retrying", type(error).__name__)
                await asyncio.sleep(1)
