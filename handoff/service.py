"""What the handoff service does, independent of HTTP: escalate, reply, hand back.

Everything that must reach the shopper goes through a per-ticket outgoing queue in
Redis (``outq:{ticket}``) and is delivered to Rasa in order; when Rasa is down the
jobs stay queued, the agent sees ``retrying`` and a background loop delivers them later.
"""

from __future__ import annotations

import json
import logging
import math
import string
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from redis.asyncio import Redis

from handoff.agents import Agent
from handoff.metrics import Metrics
from handoff.models import Escalation, EscalationResult
from handoff.queue import NewTicket, TicketError, TicketStore, now_iso, parse_iso
from handoff.rasa import RasaClient, RasaUnavailable
from handoff.routing import queue_language, severity
from handoff.sla import Policy

log = logging.getLogger("handoff")
CSAT_ACTION = "action_ask_csat"  # asks and listens inside one Rasa lock


class _Defaulting(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: dict[str, Any]) -> str:
    """Fills ``{placeholders}``; unknown ones stay visible for the agent to complete."""
    return string.Formatter().vformat(template, (), _Defaulting(
        {k: v for k, v in values.items() if v not in (None, "")}))


def load_templates(path: Path) -> dict[str, Any]:
    """Reads the templates YAML (``system`` texts and console ``templates``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {"system": data.get("system", {}), "templates": data.get("templates", [])}


def placeholder_values(ticket: dict[str, Any], agent: Agent | None = None) -> dict[str, Any]:
    """Values for template placeholders, from the ticket's context."""
    context = ticket.get("context") or {}
    order = context.get("order") or {}
    values = {"order_id": order.get("order_id") or context.get("order_id"),
              "tracking_number": order.get("tracking_number"),
              "carrier": order.get("carrier"), "status": order.get("status")}
    if agent:
        values["agent_name"] = agent.name
    return values


@dataclass
class HandoffService:
    """The handoff service's behaviour.

    Attributes:
        redis: Asyncio client (decode_responses).
        prefix: Key prefix.
        store: Tickets.
        metrics: Metrics series.
        rasa: Rasa HTTP API client.
        policy: Business hours and SLA targets.
        templates: System texts and console templates.
    """

    redis: Redis
    prefix: str
    store: TicketStore
    metrics: Metrics
    rasa: RasaClient
    policy: Policy
    templates: dict[str, Any]

    # -- escalation ------------------------------------------------------------------
    async def escalate(self, escalation: Escalation) -> EscalationResult:
        """Turns an escalation into a queued ticket (idempotent per escalation id)."""
        created_at = (parse_iso(escalation.created_at) if escalation.created_at
                      else datetime.now(timezone.utc))
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        flags = dict(escalation.context.get("flags") or {})
        level = severity(escalation.reason, flags)
        language = queue_language(escalation.language)
        due = self.policy.due_at(created_at, escalation.channel, level)
        transcript = [entry.dict(by_alias=True, exclude_none=True)
                      for entry in escalation.transcript]
        context = dict(escalation.context)
        ticket_id, created = await self.store.create(NewTicket(
            escalation_id=escalation.escalation_id, conversation_id=escalation.conversation_id,
            channel=escalation.channel, language=language, reason=escalation.reason,
            priority=level, created_at=created_at, due_at=due, context=context,
            transcript=transcript))
        return await self.standing(ticket_id, created)

    async def standing(self, ticket_id: str, created: bool = False) -> EscalationResult:
        """Queue position, expected wait or next opening for a ticket."""
        ticket = await self.store.get(ticket_id, with_transcript=False)
        if ticket is None:
            raise TicketError("not_found")
        now = datetime.now(timezone.utc)
        is_open = self.policy.is_open(now)
        position = (await self.store.position(ticket_id, ticket["language"])
                    if ticket["status"] == "queued" else None)
        wait = None
        if is_open and position is not None:
            online = int(await self.redis.zcount(self.store.key("online"),
                                                 now.timestamp() - 120, "+inf"))
            if online:
                handle = await self.metrics.median_handle_seconds()
                wait = max(1, math.ceil(position * handle / online / 60))
            else:
                wait = self.policy.sla_for(ticket["channel"])
        elif is_open:
            wait = 0
        opens = None if is_open else self.policy.next_opening(now).isoformat()
        return EscalationResult(ticket_id=ticket_id, created=created, status=ticket["status"],
                                position=position, business_open=is_open, wait_minutes=wait,
                                opens_at=opens, due_at=ticket["due_at"])

    async def drain_outbox(self) -> int:
        """Delivers escalations and ratings the bot stored while this service was down.

        Reads the Redis stream ``outbox`` and the action server's spool file (used when
        Redis was down too); an entry is removed only after its ticket exists.

        Returns:
            Number of escalations turned into tickets (or found to exist).
        """
        done = 0
        key = self.store.key("outbox")
        for entry_id, fields in await self.redis.xrange(key, count=200):
            try:
                if "csat" in fields:  # a rating the bot could not hand over
                    rating = json.loads(fields["csat"])
                    try:
                        await self.store_csat(str(rating["conversation_id"]),
                                              int(rating["score"]))
                    except TicketError:
                        log.warning("outbox rating %s has no ticket; dropped", entry_id)
                else:
                    await self.escalate(Escalation.parse_raw(fields["escalation"]))
            except (ValueError, KeyError, TypeError) as error:
                log.error("outbox entry %s is invalid (%s); moved to outbox:dead", entry_id,
                          type(error).__name__)
                await self.redis.xadd(self.store.key("outbox:dead"), fields)
            await self.redis.xdel(key, entry_id)
            done += 1
        return done

    # -- agent side ------------------------------------------------------------------
    async def claim(self, ticket_id: str, agent: Agent) -> None:
        """Claims a ticket and tells the shopper that a person joined."""
        before = await self.store.get(ticket_id, with_transcript=False)
        await self.store.claim(ticket_id, agent.username, agent.languages)
        if before and before["status"] == "queued":
            await self._joined(ticket_id, agent)

    async def claim_next(self, agent: Agent) -> str | None:
        """Claims the most urgent ticket in the agent's languages."""
        ticket_id = await self.store.claim_next(agent.username, agent.languages)
        if ticket_id:
            await self._joined(ticket_id, agent)
        return ticket_id

    async def _joined(self, ticket_id: str, agent: Agent) -> None:
        ticket = await self.store.get(ticket_id, with_transcript=False)
        assert ticket is not None
        text = self._system_text("joined", ticket, agent)
        await self.enqueue(ticket_id, {"kind": "pause"})
        await self.enqueue(ticket_id, {"kind": "system", "event": "joined", "text": text,
                                       "agent": {"id": agent.username, "name": agent.name}})
        await self.flush(ticket_id)

    def _system_text(self, kind: str, ticket: dict[str, Any], agent: Agent) -> str:
        texts = self.templates["system"].get(kind, {})
        template = texts.get(ticket["language"]) or texts.get("de") or ""
        return fill(str(template), placeholder_values(ticket, agent))

    async def reply(self, ticket_id: str, agent: Agent, text: str) -> dict[str, Any]:
        """Stores an agent reply on the ticket and delivers it to the shopper's channel.

        Returns:
            The transcript entry with its ``delivery`` state
            (``delivered`` | ``retrying`` | ``pending``).

        Raises:
            TicketError: the ticket is not assigned to this agent.
        """
        ticket = await self.store.get(ticket_id, with_transcript=False)
        if ticket is None:
            raise TicketError("not_found")
        if ticket["status"] != "assigned":
            raise TicketError("resolved" if ticket["status"] == "resolved" else "not_assigned")
        if ticket["assigned_to"] != agent.username:
            raise TicketError("not_yours")
        at = now_iso()
        entry = await self.store.append(ticket_id, {"from": "agent", "text": text, "at": at,
                                                    "agent": {"id": agent.username,
                                                              "name": agent.name}})
        await self.redis.hset(self.store.key("delivery", ticket_id), entry["id"], "pending")
        if await self.store.set_first(ticket_id, "first_response_at", at):
            waited = (parse_iso(at) - parse_iso(ticket["created_at"])).total_seconds()
            await self.metrics.record("first_response", ticket["channel"], waited)
        await self.enqueue(ticket_id, {"kind": "message", "msg_id": entry["id"], "text": text,
                                       "agent": {"id": agent.username, "name": agent.name}})
        await self.flush(ticket_id)
        entry["delivery"] = await self.redis.hget(self.store.key("delivery", ticket_id),
                                                  entry["id"])
        return entry

    async def release(self, ticket_id: str, agent: Agent) -> None:
        """Puts the ticket back into the queue untouched (the chat stays paused)."""
        await self.store.release(ticket_id, agent.username)

    async def resolve(self, ticket_id: str, agent: Agent) -> None:
        """Resolves the ticket; the shopper is told, the bot resumes and asks for CSAT."""
        await self.store.resolve(ticket_id, agent.username)
        ticket = await self.store.get(ticket_id, with_transcript=False)
        assert ticket is not None
        resolved = parse_iso(ticket["resolved_at"])
        await self.metrics.record("resolution", ticket["channel"],
                                  (resolved - parse_iso(ticket["created_at"])).total_seconds())
        if ticket.get("claimed_at"):
            await self.metrics.record("handle", ticket["channel"],
                                      (resolved - parse_iso(ticket["claimed_at"])).total_seconds())
        text = self._system_text("left", ticket, agent)
        await self.enqueue(ticket_id, {"kind": "system", "event": "left", "text": text,
                                       "agent": {"id": agent.username, "name": agent.name}})
        await self.enqueue(ticket_id, {"kind": "resume"})
        await self.enqueue(ticket_id, {"kind": "csat"})
        await self.flush(ticket_id)

    async def store_csat(self, conversation_id: str, score: int) -> str:
        """Stores a rating on the conversation's latest ticket.

        Returns:
            The ticket id.

        Raises:
            TicketError: the conversation has no ticket.
        """
        ticket_id = await self.store.latest_ticket(conversation_id)
        ticket = await self.store.get(ticket_id, with_transcript=False) if ticket_id else None
        if ticket is None or ticket_id is None:
            raise TicketError("not_found")
        first = await self.store.set_first(ticket_id, "csat", str(score))
        if not first:
            await self.store.set_fields(ticket_id, csat=str(score))
        else:
            await self.metrics.record("csat", ticket["channel"], score)
        await self.store.publish({"type": "ticket.csat", "ticket_id": ticket_id,
                                  "score": score})
        return ticket_id

    # -- outgoing queue to Rasa --------------------------------------------------------
    async def enqueue(self, ticket_id: str, job: dict[str, Any]) -> None:
        """Queues a job for the shopper's channel (kept until Rasa accepted it)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self.store.key("outq", ticket_id), json.dumps(job, ensure_ascii=False))
            pipe.sadd(self.store.key("outq:pending"), ticket_id)
            await pipe.execute()

    async def flush(self, ticket_id: str) -> bool:
        """Delivers a ticket's queued jobs in order.

        Returns:
            True when nothing is left queued.
        """
        lock = self.store.key("outq:lock", ticket_id)
        if not await self.redis.set(lock, "1", nx=True, px=15000):
            return False
        try:
            ticket = await self.store.get(ticket_id, with_transcript=False)
            if ticket is None:
                await self.redis.srem(self.store.key("outq:pending"), ticket_id)
                return True
            queue_key = self.store.key("outq", ticket_id)
            while (raw := await self.redis.lindex(queue_key, 0)) is not None:
                job = json.loads(raw)
                try:
                    await self._deliver(ticket, job)
                except RasaUnavailable as error:
                    log.warning("ticket %s: delivery to Rasa failed (%s); will retry",
                                ticket_id, error)
                    for waiting in await self.redis.lrange(queue_key, 0, -1):
                        await self._mark(ticket_id, json.loads(waiting), "retrying")
                    return False
                await self.redis.lpop(queue_key)
                await self._mark(ticket_id, job, "delivered")
            await self.redis.srem(self.store.key("outq:pending"), ticket_id)
            return True
        finally:
            await self.redis.delete(lock)

    async def _mark(self, ticket_id: str, job: dict[str, Any], state: str) -> None:
        if job.get("kind") != "message":
            return
        key = self.store.key("delivery", ticket_id)
        if await self.redis.hget(key, job["msg_id"]) == state:
            return
        await self.redis.hset(key, job["msg_id"], state)
        await self.store.publish({"type": "message.delivery", "ticket_id": ticket_id,
                                  "message_id": job["msg_id"], "delivery": state})

    async def _deliver(self, ticket: dict[str, Any], job: dict[str, Any]) -> None:
        conversation = ticket["conversation_id"]
        kind = job["kind"]
        if kind == "pause":
            await self.rasa.append_events(conversation, [{"event": "pause"}],
                                          side_effects=False)
        elif kind == "resume":
            await self.rasa.append_events(conversation, [{"event": "resume"}],
                                          side_effects=False)
        elif kind == "csat":
            await self.rasa.execute(conversation, CSAT_ACTION)
        elif kind == "listen":
            # only in jobs queued by an older version (action_ask_csat listens itself)
            await self.rasa.append_events(conversation, [
                {"event": "action", "name": "action_listen"}], side_effects=False)
        else:
            handoff_event = "message" if kind == "message" else job["event"]
            await self.rasa.append_events(conversation, [{
                "event": "bot", "text": job["text"],
                "metadata": {"handoff_event": handoff_event, "agent": job["agent"]}}])

    async def flush_all(self) -> None:
        """Retries every ticket with queued jobs (background loop)."""
        for ticket_id in await self.redis.smembers(self.store.key("outq:pending")):
            await self.flush(str(ticket_id))
