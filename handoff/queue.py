"""Tickets in Redis: a small state machine whose every transition is one Lua script.

Keys (all under the service's prefix, default ``kdbot:handoff:``):

- ``ticket:{id}`` hash: ``data`` (JSON of the immutable part: conversation, channel,
  language, reason, priority, created_at, due_at, context), and the state fields
  ``status``, ``assigned_to``, ``claimed_at``, ``first_response_at``, ``resolved_at``,
  ``score``, ``csat``.
- ``transcript:{id}`` list of JSON entries ``{"id", "from", "text", "at", ...}``.
- ``queue:{language}`` sorted set of queued ticket ids, scored by the SLA due time
  (epoch ms) that severity has already pulled forward.
- ``conv:{conversation_id}`` the conversation's open ticket; ``conv_last:{...}`` its latest.
- ``escalation:{escalation_id}`` the ticket an escalation became (idempotent create).
- ``events`` stream and ``live`` pub/sub channel of every transition.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from redis.asyncio import Redis

TRANSITION_EVENT = """
local function emit(p, kind, id, status, agent, at)
  redis.call('XADD', p..'events', 'MAXLEN', '~', '10000', '*',
             'type', kind, 'ticket', id, 'agent', agent, 'at', at)
  redis.call('PUBLISH', p..'live', cjson.encode({type=kind, ticket_id=id,
             status=status, agent=agent, at=at}))
end
"""

CREATE = TRANSITION_EVENT + """
local p, esc, conv, lang, score, data, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  ARGV[6], ARGV[7]
local existing = redis.call('GET', p..'escalation:'..esc)
if existing then return {existing, 0} end
local active = redis.call('GET', p..'conv:'..conv)
if active then
  redis.call('SET', p..'escalation:'..esc, active, 'EX', 2592000)
  for i = 8, #ARGV do redis.call('RPUSH', p..'transcript:'..active, ARGV[i]) end
  return {active, 0}
end
local id = tostring(redis.call('INCR', p..'seq'))
redis.call('HSET', p..'ticket:'..id, 'data', data, 'status', 'queued', 'assigned_to', '',
           'score', score, 'language', lang, 'conversation_id', conv)
for i = 8, #ARGV do redis.call('RPUSH', p..'transcript:'..id, ARGV[i]) end
redis.call('ZADD', p..'queue:'..lang, score, id)
redis.call('SET', p..'conv:'..conv, id)
redis.call('SET', p..'conv_last:'..conv, id)
redis.call('SET', p..'escalation:'..esc, id, 'EX', 2592000)
redis.call('SADD', p..'m:escalated', conv)
redis.call('SADD', p..'m:conversations', conv)
emit(p, 'ticket.created', id, 'queued', '', now)
return {id, 1}
"""

CLAIM_BODY = """
local function claim(p, id, agent, now, langs)
  local key = p..'ticket:'..id
  local st = redis.call('HMGET', key, 'status', 'assigned_to', 'language')
  if not st[1] then return {'err', 'not_found'} end
  if st[1] == 'resolved' then return {'err', 'resolved'} end
  if st[1] == 'assigned' then
    if st[2] == agent then return {'ok', id} end
    return {'err', 'taken'}
  end
  if langs[st[3]] == nil then return {'err', 'wrong_language'} end
  redis.call('ZREM', p..'queue:'..st[3], id)
  redis.call('HSET', key, 'status', 'assigned', 'assigned_to', agent, 'claimed_at', now)
  redis.call('HSETNX', key, 'first_claimed_at', now)
  redis.call('SADD', p..'agent_tickets:'..agent, id)
  emit(p, 'ticket.claimed', id, 'assigned', agent, now)
  return {'ok', id}
end
local function langset(csv)
  local set = {}
  for lang in string.gmatch(csv, '[^,]+') do set[lang] = true end
  return set
end
"""

CLAIM = TRANSITION_EVENT + CLAIM_BODY + """
return claim(ARGV[1], ARGV[2], ARGV[3], ARGV[4], langset(ARGV[5]))
"""

CLAIM_NEXT = TRANSITION_EVENT + CLAIM_BODY + """
local p, agent, now = ARGV[1], ARGV[2], ARGV[3]
local best, best_score
for lang in string.gmatch(ARGV[4], '[^,]+') do
  local head = redis.call('ZRANGE', p..'queue:'..lang, 0, 0, 'WITHSCORES')
  if head[1] and (best == nil or tonumber(head[2]) < best_score) then
    best, best_score = head[1], tonumber(head[2])
  end
end
if best == nil then return {'empty', ''} end
return claim(p, best, agent, now, langset(ARGV[4]))
"""

RELEASE = TRANSITION_EVENT + """
local p, id, agent, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p..'ticket:'..id
local st = redis.call('HMGET', key, 'status', 'assigned_to', 'language', 'score')
if not st[1] then return {'err', 'not_found'} end
if st[1] ~= 'assigned' then return {'err', 'not_assigned'} end
if st[2] ~= agent then return {'err', 'not_yours'} end
redis.call('HSET', key, 'status', 'queued', 'assigned_to', '')
redis.call('ZADD', p..'queue:'..st[3], st[4], id)
redis.call('SREM', p..'agent_tickets:'..agent, id)
emit(p, 'ticket.released', id, 'queued', agent, now)
return {'ok', id}
"""

RESOLVE = TRANSITION_EVENT + """
local p, id, agent, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p..'ticket:'..id
local st = redis.call('HMGET', key, 'status', 'assigned_to', 'conversation_id')
if not st[1] then return {'err', 'not_found'} end
if st[1] ~= 'assigned' then return {'err', 'not_assigned'} end
if st[2] ~= agent then return {'err', 'not_yours'} end
redis.call('HSET', key, 'status', 'resolved', 'resolved_at', now)
if redis.call('GET', p..'conv:'..st[3]) == id then redis.call('DEL', p..'conv:'..st[3]) end
redis.call('SREM', p..'agent_tickets:'..agent, id)
emit(p, 'ticket.resolved', id, 'resolved', agent, now)
return {'ok', id}
"""

APPEND = """
local p, id, entry = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', p..'ticket:'..id) == 0 then return 0 end
local n = redis.call('RPUSH', p..'transcript:'..id, entry)
redis.call('PUBLISH', p..'live', cjson.encode({type='message', ticket_id=id,
           message=cjson.decode(entry)}))
return n
"""

ERROR_STATUS = {
    "not_found": 404,
    "resolved": 409,
    "taken": 409,
    "not_assigned": 409,
    "not_yours": 403,
    "wrong_language": 403,
}
ERROR_TEXT = {
    "not_found": "no such ticket",
    "resolved": "the ticket is already resolved",
    "taken": "another agent owns this ticket",
    "not_assigned": "the ticket is not assigned (claim it first)",
    "not_yours": "the ticket is assigned to another agent",
    "wrong_language": "the ticket's language is not one of yours",
}


class TicketError(Exception):
    """A transition that the ticket's state does not allow.

    Attributes:
        code: ``not_found``, ``resolved``, ``taken``, ``not_assigned``, ``not_yours``
            or ``wrong_language``.
    """

    def __init__(self, code: str) -> None:
        super().__init__(ERROR_TEXT.get(code, code))
        self.code = code

    @property
    def status(self) -> int:
        """The HTTP status that fits the error."""
        return ERROR_STATUS.get(self.code, 409)


def now_iso() -> str:
    """The current time as an ISO 8601 UTC string."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def parse_iso(value: str) -> datetime:
    """Parses an ISO 8601 timestamp (naive values are taken as UTC)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _moment(value: str) -> float:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True)
class NewTicket:
    """What an escalation turns into before it has an id.

    Attributes:
        escalation_id: Idempotency key chosen by the bot.
        conversation_id: Rasa sender id.
        channel: Input channel name (``socketio``, ``whatsapp`` ...).
        language: ``de`` or ``en`` (also the queue).
        reason: Reason word.
        priority: Severity 0..3.
        created_at: Escalation time (aware).
        due_at: SLA deadline (aware).
        context: Everything the bot knew (order, verification, intents, flags ...).
        transcript: Entries ``{"from", "text", "at"}``.
    """

    escalation_id: str
    conversation_id: str
    channel: str
    language: str
    reason: str
    priority: int
    created_at: datetime
    due_at: datetime
    context: dict[str, Any]
    transcript: list[dict[str, Any]]


class TicketStore:
    """Tickets, queues and transcripts in Redis.

    Args:
        redis: An asyncio Redis client with ``decode_responses=True``.
        prefix: Key prefix, e.g. ``kdbot:handoff:``.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._create = redis.register_script(CREATE)
        self._claim = redis.register_script(CLAIM)
        self._claim_next = redis.register_script(CLAIM_NEXT)
        self._release = redis.register_script(RELEASE)
        self._resolve = redis.register_script(RESOLVE)
        self._append = redis.register_script(APPEND)

    def key(self, *parts: str) -> str:
        """A key under the prefix."""
        return self.prefix + ":".join(parts)

    async def create(self, ticket: NewTicket) -> tuple[str, bool]:
        """Creates a queued ticket (idempotent per escalation id and per open conversation).

        Returns:
            The ticket id and whether it was created now (False: it existed).
        """
        data = {
            "conversation_id": ticket.conversation_id,
            "channel": ticket.channel,
            "language": ticket.language,
            "reason": ticket.reason,
            "priority": ticket.priority,
            "created_at": ticket.created_at.astimezone(timezone.utc).isoformat(
                timespec="milliseconds"),
            "due_at": ticket.due_at.astimezone(timezone.utc).isoformat(timespec="milliseconds"),
            "escalation_id": ticket.escalation_id,
            "context": ticket.context,
            # newest moment the handed-over transcript covers (later events are new)
            "transcript_until": max((str(e["at"]) for e in ticket.transcript),
                                    key=_moment, default=None),
        }
        score = int(ticket.due_at.timestamp() * 1000)
        entries = [json.dumps({"id": uuid.uuid4().hex[:12], **entry}, ensure_ascii=False)
                   for entry in ticket.transcript]
        result = await self._create(args=[
            self.prefix, ticket.escalation_id, ticket.conversation_id, ticket.language,
            score, json.dumps(data, ensure_ascii=False), now_iso(), *entries])
        return str(result[0]), bool(int(result[1]))

    async def _transition(self, script: Any, *args: str) -> str | None:
        status, value = await script(args=[self.prefix, *args])
        if status == "err":
            raise TicketError(str(value))
        return None if status == "empty" else str(value)

    async def claim(self, ticket_id: str, agent: str, languages: list[str]) -> None:
        """Assigns a queued ticket to ``agent`` (idempotent for its owner).

        Raises:
            TicketError: not found, resolved, taken by another agent, wrong language.
        """
        await self._transition(self._claim, ticket_id, agent, now_iso(), ",".join(languages))

    async def claim_next(self, agent: str, languages: list[str]) -> str | None:
        """Claims the most urgent queued ticket in the agent's languages.

        Returns:
            The claimed ticket id, or None when the queues are empty.
        """
        for _ in range(5):  # the head may be taken between read and claim: retry
            try:
                return await self._transition(self._claim_next, agent, now_iso(),
                                              ",".join(languages))
            except TicketError as error:
                if error.code != "taken":
                    raise
        return None

    async def release(self, ticket_id: str, agent: str) -> None:
        """Puts an assigned ticket back into its queue, with its original deadline."""
        await self._transition(self._release, ticket_id, agent, now_iso())

    async def resolve(self, ticket_id: str, agent: str) -> None:
        """Closes an assigned ticket; the conversation has no open ticket afterwards."""
        await self._transition(self._resolve, ticket_id, agent, now_iso())

    async def append(self, ticket_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Appends a transcript entry and publishes it live.

        Returns:
            The stored entry (with its id).

        Raises:
            TicketError: when the ticket does not exist.
        """
        stored = {"id": uuid.uuid4().hex[:12], **entry}
        length = await self._append(args=[self.prefix, ticket_id,
                                          json.dumps(stored, ensure_ascii=False)])
        if not int(length):
            raise TicketError("not_found")
        return stored

    async def set_fields(self, ticket_id: str, **fields: str) -> None:
        """Sets plain state fields (``first_response_at``, ``csat`` ...) of a ticket."""
        mapping: dict[str | bytes, bytes | float | int | str] = {
            key: value for key, value in fields.items()}
        await self.redis.hset(self.key("ticket", ticket_id), mapping=mapping)

    async def set_first(self, ticket_id: str, field: str, value: str) -> bool:
        """Sets a field only once; True when it was set now."""
        return bool(await self.redis.hsetnx(self.key("ticket", ticket_id), field, value))

    async def get(self, ticket_id: str, with_transcript: bool = True) -> dict[str, Any] | None:
        """The ticket as JSON (``None`` when unknown), with transcript and delivery states."""
        raw = await self.redis.hgetall(self.key("ticket", ticket_id))
        if not raw:
            return None
        ticket = self._ticket(ticket_id, raw)
        if with_transcript:
            entries = await self.redis.lrange(self.key("transcript", ticket_id), 0, -1)
            states = await self.redis.hgetall(self.key("delivery", ticket_id))
            transcript = [json.loads(entry) for entry in entries]
            for entry in transcript:
                if entry.get("id") in states:
                    entry["delivery"] = states[entry["id"]]
            ticket["transcript"] = transcript
        return ticket

    @staticmethod
    def _ticket(ticket_id: str, raw: dict[str, str]) -> dict[str, Any]:
        data = json.loads(raw["data"])
        ticket: dict[str, Any] = {"id": ticket_id, **data}
        for field in ("status", "claimed_at", "first_claimed_at", "first_response_at",
                      "resolved_at"):
            ticket[field] = raw.get(field) or None
        ticket["assigned_to"] = raw.get("assigned_to") or None
        ticket["csat"] = int(raw["csat"]) if raw.get("csat") else None
        ticket["contact_email"] = raw.get("contact_email") or None
        return ticket

    async def many(self, ticket_ids: list[str]) -> list[dict[str, Any]]:
        """Tickets without transcripts, in the given order (unknown ids skipped)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in ticket_ids:
                pipe.hgetall(self.key("ticket", ticket_id))
            rows = await pipe.execute()
        return [self._ticket(tid, raw) for tid, raw in zip(ticket_ids, rows, strict=True) if raw]

    async def queued(self, languages: list[str], limit: int = 200) -> list[dict[str, Any]]:
        """The most urgent queued tickets in ``languages``, most urgent first."""
        scored: list[tuple[float, str]] = []
        for language in languages:
            head = await self.redis.zrange(self.key("queue", language), 0, limit - 1,
                                           withscores=True)
            scored += [(score, ticket_id) for ticket_id, score in head]
        ids = [ticket_id for _, ticket_id in sorted(scored)[:limit]]
        return await self.many(ids)

    async def assigned_to(self, agent: str) -> list[dict[str, Any]]:
        """The tickets an agent owns now."""
        ids = sorted(await self.redis.smembers(self.key("agent_tickets", agent)), key=int)
        return await self.many(ids)

    async def queue_length(self, language: str) -> int:
        """Number of queued tickets in a language."""
        return int(await self.redis.zcard(self.key("queue", language)))

    async def position(self, ticket_id: str, language: str) -> int | None:
        """1-based place of a queued ticket in its queue."""
        rank = await self.redis.zrank(self.key("queue", language), ticket_id)
        return None if rank is None else int(rank) + 1

    async def open_ticket(self, conversation_id: str) -> str | None:
        """The conversation's queued or assigned ticket, if any."""
        value = await self.redis.get(self.key("conv", conversation_id))
        return str(value) if value else None

    async def latest_ticket(self, conversation_id: str) -> str | None:
        """The conversation's most recent ticket, open or resolved."""
        value = await self.redis.get(self.key("conv_last", conversation_id))
        return str(value) if value else None

    async def publish(self, event: dict[str, Any]) -> None:
        """Publishes an event to the consoles (``live`` channel)."""
        await self.redis.publish(self.key("live"), json.dumps(event, ensure_ascii=False))
