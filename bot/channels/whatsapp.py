"""WhatsApp Cloud API channel: webhook input and Graph API output in one module.

Inbound (``/webhooks/whatsapp/webhook``):

* ``GET``: Meta's verification handshake (``hub.mode``, ``hub.verify_token``,
  ``hub.challenge``): the challenge on success, 403 otherwise.
* ``POST``: the body is read up to a size limit (413 beyond), its
  ``X-Hub-Signature-256`` is checked over the raw bytes with the app secret in
  constant time (401 on mismatch, nothing processed), then every message and status
  of every entry and change is deduplicated by id (Redis ``SET NX EX``, 48 h) and
  appended to a Redis stream in one atomic script, and Meta gets its 200 at once.
  A background worker (consumer group, so several Rasa workers or replicas share the
  work) hands the messages to Rasa, one conversation at a time in arrival order,
  and acknowledges a stream entry only after it was handled; entries a crashed
  process left behind are claimed again, so an acknowledged webhook is never lost.

Outbound (:class:`WhatsAppOutput`): text (split above 4,096 characters), reply
buttons (at most 3, titles at most 20 characters) or a list (rows of 10) beyond
that, images by link, mark-as-read with typing indicator. Free text is sent only
inside the 24-hour customer-service window; outside it a configured template is sent
and the text waits in Redis until the shopper writes again (error 131047 in a send
response or in a later status webhook leads to the same path). Rate-limit errors
(130429, 131056, HTTP 429) and server errors are retried with exponential back-off,
a token error (190) is logged as critical; whatever cannot be delivered is kept in
the Redis list ``<prefix>undelivered`` and logged, never dropped silently.

Conversations are keyed by a pseudonymous id (``wa-<hex>``), not by the phone
number; Redis maps one to the other so agent replies (``output_channel=latest``)
reach the right phone. Phone numbers appear in logs only masked.

Settings (environment): ``WHATSAPP_VERIFY_TOKEN``, ``WHATSAPP_APP_SECRET``,
``WHATSAPP_ACCESS_TOKEN``, ``WHATSAPP_PHONE_NUMBER_ID``, ``WHATSAPP_API_URL``,
``REDIS_URL`` and the optional ones in :meth:`WhatsAppSettings.from_env`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import random
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)
# httpx logs every Graph API request at INFO (two lines per answered message); our own
# log lines say what matters, with masked numbers
logging.getLogger("httpx").setLevel(logging.WARNING)

CHANNEL_NAME = "whatsapp"
DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
MAX_REPLY_BUTTONS = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
MAX_LIST_ROWS = 10
ROW_TITLE_LIMIT = 24
ROW_ID_LIMIT = 200
TEMPLATE_PARAM_LIMIT = 1024

DEDUP_SECONDS = 48 * 3600
WINDOW_SECONDS = 24 * 3600
OUTBOUND_RECORD_SECONDS = 7 * 24 * 3600
STATUS_RECORD_SECONDS = 30 * 24 * 3600

ERROR_WINDOW_CLOSED = 131047
ERROR_TOKEN = 190
RATE_LIMIT_ERRORS = frozenset({130429, 131056})
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}

# The intent Rasa receives for content the bot cannot read (images, audio, ...);
# its answer lives in bot/domain/whatsapp.yml.
UNSUPPORTED_INTENT = "whatsapp_unsupported"
UNSUPPORTED_TYPES = frozenset({
    "image", "audio", "video", "document", "sticker", "location", "contacts",
    "unsupported", "order",
})
IGNORED_TYPES = frozenset({"reaction", "system", "request_welcome", "ephemeral"})

_CLAIM_AND_ENQUEUE = """
local added = 0
for i = 1, #ARGV - 1, 2 do
  if redis.call('SET', KEYS[2] .. ARGV[i], '1', 'NX', 'EX', tonumber(KEYS[3])) then
    redis.call('XADD', KEYS[1], '*', 'item', ARGV[i + 1])
    added = added + 1
  end
end
return added
"""

_RECORD_STATUS = """
local current = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
local rank = tonumber(ARGV[2])
if rank <= current then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', rank, 'timestamp', ARGV[3],
           'error', ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return 1
"""


def mask_phone(number: str | None) -> str:
    """Masks a phone number for logs, keeping only its last three digits.

    Args:
        number: a phone number or WhatsApp id such as ``4915112345678``.

    Returns:
        For example ``***678``; ``***`` for empty input.
    """
    digits = "".join(ch for ch in str(number or "") if ch.isdigit())
    return "***" + digits[-3:] if len(digits) > 6 else "***"


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Splits a text into parts of at most ``limit`` characters.

    Prefers paragraph, line and word boundaries; cuts hard only inside a word
    longer than the limit. Nothing is lost: the parts joined with the separators
    they were split at give the original text (minus whitespace at the cuts).

    Args:
        text: the text to send.
        limit: maximum length of one part.

    Returns:
        The parts, at least one (possibly empty for empty input).
    """
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return parts


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class WhatsAppSettings:
    """Everything the channel needs; secrets come only from the environment."""

    verify_token: str = ""
    app_secret: str = ""
    access_token: str = ""
    phone_number_id: str = ""
    api_url: str = DEFAULT_API_URL
    redis_url: str = DEFAULT_REDIS_URL
    key_prefix: str = "kdbot:wa:"
    template_name: str = ""
    template_language: str = "de"
    template_text_parameter: bool = False
    list_button_label: str = "Auswahl"
    max_body_bytes: int = 1024 * 1024
    send_attempts: int = 5
    retry_base_seconds: float = 1.0
    http_timeout_seconds: float = 10.0
    reclaim_idle_seconds: float = 60.0
    max_processing_attempts: int = 3
    max_concurrent_conversations: int = 16
    inbox_consumer: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WhatsAppSettings:
        """Reads the settings from the environment.

        Besides the contract variables (``WHATSAPP_VERIFY_TOKEN``,
        ``WHATSAPP_APP_SECRET``, ``WHATSAPP_ACCESS_TOKEN``,
        ``WHATSAPP_PHONE_NUMBER_ID``, ``WHATSAPP_API_URL``, ``REDIS_URL``) it reads
        ``WHATSAPP_TEMPLATE_NAME``, ``WHATSAPP_TEMPLATE_LANG`` (default ``de``),
        ``WHATSAPP_TEMPLATE_TEXT_PARAM`` (``1``: the withheld text is the template's
        body parameter ``{{1}}``), ``WHATSAPP_LIST_BUTTON`` (label of the list
        button), ``WHATSAPP_MAX_BODY_BYTES``, ``WHATSAPP_SEND_ATTEMPTS``,
        ``WHATSAPP_RETRY_BASE_SECONDS``, ``WHATSAPP_RECLAIM_IDLE_SECONDS`` and
        ``WHATSAPP_CONCURRENCY`` (conversations handled at once per process) and
        ``WHATSAPP_INBOX_CONSUMER`` (``0``: this process only acknowledges and enqueues
        webhooks and leaves the handling to other processes, see "Performance" in
        docs/whatsapp.md; default ``1``).

        Args:
            environ: the mapping to read; ``os.environ`` when omitted.

        Returns:
            The settings.

        Raises:
            ValueError: a numeric setting is not a number.
        """
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return float(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a number") from None

        return cls(
            verify_token=env.get("WHATSAPP_VERIFY_TOKEN", ""),
            app_secret=env.get("WHATSAPP_APP_SECRET", ""),
            access_token=env.get("WHATSAPP_ACCESS_TOKEN", ""),
            phone_number_id=env.get("WHATSAPP_PHONE_NUMBER_ID", ""),
            api_url=(env.get("WHATSAPP_API_URL") or DEFAULT_API_URL).rstrip("/"),
            redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
            template_name=env.get("WHATSAPP_TEMPLATE_NAME", ""),
            template_language=env.get("WHATSAPP_TEMPLATE_LANG") or "de",
            template_text_parameter=env.get("WHATSAPP_TEMPLATE_TEXT_PARAM", "") in ("1", "true"),
            list_button_label=env.get("WHATSAPP_LIST_BUTTON") or "Auswahl",
            max_body_bytes=int(number("WHATSAPP_MAX_BODY_BYTES", 1024 * 1024)),
            send_attempts=max(1, int(number("WHATSAPP_SEND_ATTEMPTS", 5))),
            retry_base_seconds=number("WHATSAPP_RETRY_BASE_SECONDS", 1.0),
            reclaim_idle_seconds=number("WHATSAPP_RECLAIM_IDLE_SECONDS", 60.0),
            max_concurrent_conversations=max(1, int(number("WHATSAPP_CONCURRENCY", 16))),
            inbox_consumer=env.get("WHATSAPP_INBOX_CONSUMER", "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )


class GraphAPIError(Exception):
    """The Graph API refused a request (or could not be reached)."""

    def __init__(self, code: int, message: str, http_status: int = 0) -> None:
        """Creates the error.

        Args:
            code: Meta's error code (0 for a network error).
            message: Meta's error message.
            http_status: HTTP status of the response (0 for a network error).
        """
        super().__init__(f"Graph API error {code} (HTTP {http_status}): {message}")
        self.code = code
        self.message = message
        self.http_status = http_status

    @property
    def retryable(self) -> bool:
        """True for rate limits, server errors and network errors."""
        return (self.code in RATE_LIMIT_ERRORS or self.http_status == 429
                or self.http_status >= 500 or self.http_status == 0)


class WhatsAppRuntime:
    """Redis state, Graph API client and the inbound worker of one channel instance.

    Clients are created lazily on first use (inside the running event loop), so
    constructing a channel has no side effects.
    """

    def __init__(self, settings: WhatsAppSettings) -> None:
        """Creates the runtime.

        Args:
            settings: the channel settings.
        """
        self.settings = settings
        self._clients: dict[asyncio.AbstractEventLoop, dict[str, Any]] = {}
        self._clients_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._worker_loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()
        self._conversation_locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}
        self._semaphore: asyncio.Semaphore | None = None
        self._stopping = False
        self.on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    # ---- keys -------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        """A Redis key of this channel (``<prefix>part:part``)."""
        return self.settings.key_prefix + ":".join(parts)

    @property
    def inbox(self) -> str:
        """The stream of accepted webhook items."""
        return self.key("inbox")

    @property
    def group(self) -> str:
        """The consumer group of the Rasa processes."""
        return "rasa"

    # ---- clients (one set per event loop: Rasa's and the inbox worker's) ---------
    def _loop_clients(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        with self._clients_lock:
            clients = self._clients.get(loop)
            if clients is None:
                import redis.asyncio as aioredis

                clients = {"redis": aioredis.Redis.from_url(self.settings.redis_url,
                                                            decode_responses=True),
                           "http": None, "scripts": {}}
                self._clients[loop] = clients
            return clients

    @property
    def redis(self) -> Any:
        """The asyncio Redis client of the running loop (created on first use)."""
        return self._loop_clients()["redis"]

    @property
    def http(self) -> httpx.AsyncClient:
        """The Graph API HTTP client of the running loop (created on first use)."""
        clients = self._loop_clients()
        if clients["http"] is None:
            clients["http"] = httpx.AsyncClient(
                base_url=self.settings.api_url, timeout=self.settings.http_timeout_seconds,
                headers={"Authorization": f"Bearer {self.settings.access_token}"})
        client: httpx.AsyncClient = clients["http"]
        return client

    def _script(self, name: str, source: str) -> Any:
        scripts: dict[str, Any] = self._loop_clients()["scripts"]
        if name not in scripts:
            scripts[name] = self.redis.register_script(source)
        return scripts[name]

    async def _close_loop_clients(self) -> None:
        with self._clients_lock:
            clients = self._clients.pop(asyncio.get_running_loop(), None)
        if clients is not None:
            if clients["http"] is not None:
                await clients["http"].aclose()
            await clients["redis"].close()

    async def close(self) -> None:
        """Stops the worker and closes the clients of the running loop."""
        await self.stop_worker()
        await self._close_loop_clients()

    # ---- inbound: accept --------------------------------------------------------
    async def accept(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """Deduplicates and enqueues webhook items atomically.

        Args:
            items: ``(dedup id, item)`` pairs.

        Returns:
            How many items were new (the rest were redeliveries).
        """
        if not items:
            return 0
        args: list[str] = []
        for dedup_id, item in items:
            args += [dedup_id, json.dumps(item, ensure_ascii=False)]
        script = self._script("claim", _CLAIM_AND_ENQUEUE)
        added = await script(keys=[self.inbox, self.key("seen", ""), DEDUP_SECONDS], args=args)
        return int(added)

    # ---- inbound: worker --------------------------------------------------------
    def start_worker(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Starts the inbox worker in its own thread and event loop (idempotent).

        Rasa's message handling is CPU-bound (NLU, policies); in its own thread it
        cannot hold up the acknowledgement of new webhooks on the server's loop for
        longer than one interpreter switch interval.

        Args:
            on_new_message: Rasa's handler for user messages.
        """
        self.on_new_message = on_new_message
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._thread_main, name="whatsapp-inbox",
                                        daemon=True)
        self._thread.start()

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._worker_loop = loop
        try:
            loop.run_until_complete(self._worker_main())
        finally:
            loop.close()

    async def _worker_main(self) -> None:
        self._semaphore = asyncio.Semaphore(self.settings.max_concurrent_conversations)
        self._worker = asyncio.current_task()
        try:
            await self._work()
        except asyncio.CancelledError:
            pass
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._close_loop_clients()

    async def stop_worker(self) -> None:
        """Stops the worker; items in flight stay pending and are claimed again later."""
        self._stopping = True
        loop, worker, thread = self._worker_loop, self._worker, self._thread
        if loop is not None and worker is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(worker.cancel)
            except RuntimeError:  # the loop closed in between
                pass
        if thread is not None:
            await asyncio.to_thread(thread.join, 15)
        self._thread = self._worker = self._worker_loop = None

    async def drain(self, timeout: float = 10.0) -> None:
        """Waits until every item read so far has been handled (for tests and shutdown).

        Args:
            timeout: seconds to wait at most.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = await self.redis.xpending(self.inbox, self.group)
            backlog = await self.redis.xlen(self.inbox)
            if not self._tasks and not pending.get("pending") and not backlog:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("WhatsApp inbox not drained")

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.inbox, self.group, id="0", mkstream=True)
        except Exception as error:  # BUSYGROUP: exists already
            if "BUSYGROUP" not in str(error):
                raise

    async def _work(self) -> None:
        last_reclaim = 0.0
        while not self._stopping:
            try:
                await self._ensure_group()
                if time.monotonic() - last_reclaim > min(5.0, self.settings.reclaim_idle_seconds):
                    last_reclaim = time.monotonic()
                    await self._heartbeat()
                    await self._reclaim()
                # read only what can be worked on now, so nothing waits unclaimed in the
                # pending list long enough to look abandoned
                capacity = self.settings.max_concurrent_conversations - len(self._tasks)
                if capacity <= 0:
                    await asyncio.sleep(0.02)
                    continue
                batches = await self.redis.xreadgroup(
                    self.group, self.consumer, {self.inbox: ">"}, count=capacity, block=1000)
                for _stream, entries in batches or []:
                    for entry_id, fields in entries:
                        self._dispatch(entry_id, fields)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("whatsapp: inbox worker error; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _reclaim(self) -> None:
        """Takes over entries another (dead) consumer read but never acknowledged."""
        idle_ms = int(self.settings.reclaim_idle_seconds * 1000)
        result = await self.redis.xautoclaim(self.inbox, self.group, self.consumer,
                                             min_idle_time=idle_ms, start_id="0-0", count=100)
        entries = result[1] if len(result) > 1 else []
        for entry_id, fields in entries:
            if fields:
                logger.warning("whatsapp: re-processing unacknowledged inbox entry %s",
                               entry_id)
                self._dispatch(entry_id, fields)

    async def _heartbeat(self) -> None:
        """Resets the idle time of entries still being worked on (no one reclaims them)."""
        if self._inflight:
            await self.redis.xclaim(self.inbox, self.group, self.consumer, min_idle_time=0,
                                    message_ids=list(self._inflight), justid=True)

    def _dispatch(self, entry_id: str, fields: Mapping[str, str]) -> None:
        if entry_id in self._inflight:
            return  # still being handled here
        self._inflight.add(entry_id)
        try:
            item = json.loads(fields.get("item", "{}"))
        except json.JSONDecodeError:
            item = {}
        task = asyncio.get_running_loop().create_task(self._handle_entry(entry_id, item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _task: self._inflight.discard(entry_id))

    async def _handle_entry(self, entry_id: str, item: dict[str, Any]) -> None:
        phone = str(item.get("from") or item.get("recipient_id") or "")
        lock = self._conversation_locks.setdefault(phone, asyncio.Lock())
        self._lock_users[phone] = self._lock_users.get(phone, 0) + 1
        try:
            await self._handle_entry_locked(entry_id, item, lock)
        finally:
            self._lock_users[phone] -= 1
            if not self._lock_users[phone]:
                del self._lock_users[phone]
                self._conversation_locks.pop(phone, None)

    async def _handle_entry_locked(self, entry_id: str, item: dict[str, Any],
                                   lock: asyncio.Lock) -> None:
        assert self._semaphore is not None
        async with lock, self._semaphore:
            try:
                if item.get("kind") == "message":
                    await self.handle_message(item)
                elif item.get("kind") == "status":
                    await self.handle_status(item)
                else:
                    logger.warning("whatsapp: inbox entry %s has no known kind", entry_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                attempts = await self.redis.incr(self.key("attempts", entry_id))
                await self.redis.expire(self.key("attempts", entry_id), DEDUP_SECONDS)
                if attempts < self.settings.max_processing_attempts:
                    logger.exception("whatsapp: handling inbox entry %s failed (attempt %s); "
                                     "it will be retried", entry_id, attempts)
                    return
                logger.exception("whatsapp: giving up on inbox entry %s after %s attempts; "
                                 "kept in %s", entry_id, attempts, self.key("undelivered"))
                await self.keep_undelivered("inbound processing failed", item)
            await self.redis.xack(self.inbox, self.group, entry_id)
            await self.redis.xdel(self.inbox, entry_id)

    # ---- conversations and window -------------------------------------------------
    async def conversation_for(self, phone: str) -> str:
        """The pseudonymous conversation id of a phone number (created on first use).

        Args:
            phone: the shopper's WhatsApp id.

        Returns:
            ``wa-<hex>``, stable for this phone number.
        """
        key = self.key("conversation", phone)
        existing = await self.redis.get(key)
        if existing:
            return str(existing)
        candidate = f"wa-{secrets.token_hex(8)}"
        if await self.redis.set(key, candidate, nx=True):
            await self.redis.set(self.key("phone", candidate), phone)
            return candidate
        return str(await self.redis.get(key))

    async def phone_for(self, conversation_id: str) -> str | None:
        """The phone number behind a conversation id, or None when unknown.

        Args:
            conversation_id: the Rasa sender id.

        Returns:
            The WhatsApp id to send to.
        """
        phone = await self.redis.get(self.key("phone", conversation_id))
        if phone:
            return str(phone)
        return None

    async def open_window(self, phone: str, timestamp: float) -> None:
        """Records a shopper message: free text may be sent for 24 h from ``timestamp``.

        Args:
            phone: the shopper's WhatsApp id.
            timestamp: Unix time the shopper's message was sent.
        """
        remaining_ms = int((timestamp + WINDOW_SECONDS - time.time()) * 1000)
        key = self.key("window", phone)
        if remaining_ms <= 0:
            return
        current = await self.redis.pttl(key)
        if current is None or current < remaining_ms:
            await self.redis.set(key, str(int(timestamp)), px=remaining_ms)

    async def window_open(self, phone: str) -> bool:
        """True while the 24-hour customer-service window of ``phone`` is open."""
        return bool(await self.redis.exists(self.key("window", phone)))

    async def keep_undelivered(self, reason: str, record: Mapping[str, Any],
                               code: int | None = None) -> None:
        """Keeps something that could not be delivered in the ``undelivered`` list.

        Args:
            reason: why it could not be delivered.
            record: what it was (payload, item).
            code: Meta's error code, if any.
        """
        entry = {"reason": reason, "code": code, "at": time.time(), "record": dict(record)}
        await self.redis.rpush(self.key("undelivered"), json.dumps(entry, ensure_ascii=False))

    # ---- inbound: handling ------------------------------------------------------
    async def handle_message(self, item: dict[str, Any]) -> None:
        """Hands one shopper message to Rasa (after mark-as-read and pending replies).

        Args:
            item: the stored webhook message (``kind``, ``from``, ``message``).
        """
        message: dict[str, Any] = item.get("message") or {}
        phone = str(message.get("from") or item.get("from") or "")
        wamid = str(message.get("id") or "")
        kind = str(message.get("type") or "unsupported")
        if not phone:
            logger.warning("whatsapp: message %s without sender ignored", wamid)
            return
        try:
            sent_at = float(message.get("timestamp") or time.time())
        except (TypeError, ValueError):
            sent_at = time.time()
        await self.open_window(phone, sent_at)
        if kind in IGNORED_TYPES:
            logger.info("whatsapp: %s message %s from %s not answered", kind, wamid,
                        mask_phone(phone))
            return
        conversation = await self.conversation_for(phone)
        output = WhatsAppOutput(self)
        if wamid:
            await output.mark_read(wamid)
        await output.flush_pending(phone)
        text, extra = message_text(message)
        metadata = {"whatsapp": {"message_id": wamid, "type": kind, **extra}}
        logger.debug("whatsapp: %s message %s from %s", kind, wamid, mask_phone(phone))
        if self.on_new_message is None:
            raise RuntimeError("WhatsApp channel has no message handler yet")
        await self.on_new_message(UserMessage(
            text, output, conversation, input_channel=CHANNEL_NAME,
            message_id=wamid or None, metadata=metadata))

    async def handle_status(self, item: dict[str, Any]) -> None:
        """Records a delivery status (never backwards) and reacts to failures.

        Args:
            item: the stored webhook status (``kind``, ``status``).
        """
        status: dict[str, Any] = item.get("status") or {}
        wamid = str(status.get("id") or "")
        name = str(status.get("status") or "")
        errors = status.get("errors") or []
        first_error = errors[0] if errors and isinstance(errors[0], dict) else {}
        code = int(first_error.get("code") or 0)
        rank = STATUS_RANK.get(name)
        if not wamid or rank is None:
            logger.info("whatsapp: status %r of %s not recorded", name, wamid)
            return
        script = self._script("status", _RECORD_STATUS)
        changed = await script(keys=[self.key("status", wamid)], args=[
            name, rank, str(status.get("timestamp") or ""), str(code or ""),
            STATUS_RECORD_SECONDS])
        if not changed or name != "failed":
            return
        record_raw = await self.redis.get(self.key("outbound", wamid))
        record = json.loads(record_raw) if record_raw else None
        phone = str(status.get("recipient_id") or (record or {}).get("to") or "")
        if code == ERROR_WINDOW_CLOSED and record is not None:
            logger.warning("whatsapp: message %s to %s was outside the 24-hour window; "
                           "sending the template instead", wamid, mask_phone(phone))
            await WhatsAppOutput(self).withhold(phone, record["payload"])
            return
        if code == ERROR_TOKEN:
            logger.critical("whatsapp: message %s failed: the access token is invalid or "
                            "expired (error 190); renew WHATSAPP_ACCESS_TOKEN", wamid)
        else:
            logger.error("whatsapp: message %s to %s failed with error %s: %s", wamid,
                         mask_phone(phone), code, first_error.get("title", ""))
        await self.keep_undelivered("failed status", {"message_id": wamid,
                                    "payload": (record or {}).get("payload")}, code)


def message_text(message: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The text Rasa receives for one WhatsApp message, and extra metadata.

    Text is passed as is; a reply button, list row or template quick-reply button
    yields its id/payload (the Rasa button payload we sent, such as ``/affirm``);
    content the bot cannot read (images, audio, locations, ...) yields the intent
    ``/whatsapp_unsupported`` so the domain answers what the bot can read.

    Args:
        message: one element of a webhook's ``messages`` list.

    Returns:
        ``(text, metadata)``.
    """
    kind = message.get("type")
    if kind == "text":
        return str((message.get("text") or {}).get("body") or ""), {}
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get(interactive.get("type") or "") or {}
        if isinstance(reply, dict) and (reply.get("id") or reply.get("title")):
            return (str(reply.get("id") or reply.get("title")),
                    {"reply_title": str(reply.get("title") or "")})
    if kind == "button":
        button = message.get("button") or {}
        return (str(button.get("payload") or button.get("text") or ""),
                {"reply_title": str(button.get("text") or "")})
    return f"/{UNSUPPORTED_INTENT}", {"unsupported_type": str(kind)}


def webhook_items(payload: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every message and status of every entry and change of a webhook payload.

    Unknown fields and change types are ignored; elements that are not objects are
    skipped with a warning.

    Args:
        payload: the parsed webhook body.

    Returns:
        ``(dedup id, item)`` pairs in delivery order.

    Raises:
        ValueError: ``entry`` is not a list.
    """
    entries = payload.get("entry", [])
    if not isinstance(entries, list):
        raise ValueError("'entry' must be a list")
    items: list[tuple[str, dict[str, Any]]] = []
    for entry in entries:
        changes = entry.get("changes", []) if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            logger.warning("whatsapp: skipped a malformed webhook entry")
            continue
        for change in changes:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            phone_number_id = str((value.get("metadata") or {}).get("phone_number_id") or "")
            for message in value.get("messages") or []:
                if not isinstance(message, dict) or not message.get("id"):
                    logger.warning("whatsapp: skipped a message without id")
                    continue
                items.append((f"msg:{message['id']}", {
                    "kind": "message", "from": str(message.get("from") or ""),
                    "phone_number_id": phone_number_id, "message": message}))
            for status in value.get("statuses") or []:
                if not isinstance(status, dict) or not status.get("id"):
                    continue
                items.append((f"status:{status['id']}:{status.get('status')}", {
                    "kind": "status", "recipient_id": str(status.get("recipient_id") or ""),
                    "status": status}))
    return items


def signature_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    """Checks ``X-Hub-Signature-256`` (``sha256=<hex>``) over the raw body.

    Args:
        app_secret: the Meta app secret.
        body: the raw request bytes.
        header: the header value, or None when missing.

    Returns:
        True only for a correct signature (compared in constant time).
    """
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[len("sha256="):].strip().encode())


class WhatsAppOutput(OutputChannel):
    """Sends bot and agent messages to a shopper through the Graph API."""

    def __init__(self, runtime: WhatsAppRuntime) -> None:
        """Creates the output channel.

        Args:
            runtime: the channel runtime (settings, Redis, HTTP client).
        """
        self.runtime = runtime

    @classmethod
    def name(cls) -> str:
        """The channel name, ``whatsapp``."""
        return CHANNEL_NAME

    # ---- Rasa's interface -------------------------------------------------------
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Sends text, split above 4,096 characters (agent metadata is ignored).

        Args:
            recipient_id: the conversation id (or a WhatsApp id).
            text: the text.
            **kwargs: message metadata (for example ``handoff_event``, ``agent``).
        """
        for part in split_text(text):
            if part:
                await self.deliver(recipient_id, {"type": "text",
                                                  "text": {"preview_url": False, "body": part}})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        """Sends reply buttons (up to 3) or a list (rows of up to 10).

        Args:
            recipient_id: the conversation id.
            text: the message text.
            buttons: Rasa buttons (``title``, ``payload``).
            **kwargs: ``list_button`` may set the list button label.
        """
        if not buttons:
            await self.send_text_message(recipient_id, text)
            return
        body = text.strip()
        if len(body) > INTERACTIVE_BODY_LIMIT:
            paragraphs = body.rsplit("\n\n", 1)
            if len(paragraphs) == 2 and len(paragraphs[1]) <= INTERACTIVE_BODY_LIMIT:
                await self.send_text_message(recipient_id, paragraphs[0])
                body = paragraphs[1]
            else:
                await self.send_text_message(recipient_id, body)
                body = _shorten(body.split("\n")[-1], INTERACTIVE_BODY_LIMIT)
        if len(buttons) <= MAX_REPLY_BUTTONS:
            await self.deliver(recipient_id, {"type": "interactive", "interactive": {
                "type": "button", "body": {"text": body or "…"},
                "action": {"buttons": [
                    {"type": "reply", "reply": {
                        "id": _button_id(button, BUTTON_ID_LIMIT),
                        "title": _shorten(button.get("title", ""), BUTTON_TITLE_LIMIT)}}
                    for button in buttons]}}})
            return
        label = _shorten(str(kwargs.get("list_button") or
                             self.runtime.settings.list_button_label), BUTTON_TITLE_LIMIT)
        for start in range(0, len(buttons), MAX_LIST_ROWS):
            rows = [{"id": _button_id(button, ROW_ID_LIMIT),
                     "title": _shorten(button.get("title", ""), ROW_TITLE_LIMIT)}
                    for button in buttons[start:start + MAX_LIST_ROWS]]
            await self.deliver(recipient_id, {"type": "interactive", "interactive": {
                "type": "list", "body": {"text": body or "…"},
                "action": {"button": label, "sections": [{"rows": rows}]}}})

    async def send_quick_replies(self, recipient_id: str, text: str,
                                 quick_replies: list[dict[str, Any]], **kwargs: Any) -> None:
        """Quick replies are sent as reply buttons or a list."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """Sends an image by its public URL."""
        await self.deliver(recipient_id, {"type": "image", "image": {"link": image}})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        """Sends ``custom.whatsapp`` as a raw Graph API message; other custom JSON as text."""
        raw = json_message.get("whatsapp")
        if isinstance(raw, dict) and raw.get("type"):
            await self.deliver(recipient_id, dict(raw))
        else:
            await super().send_custom_json(recipient_id, json_message, **kwargs)

    # ---- delivery ---------------------------------------------------------------
    async def deliver(self, recipient_id: str, content: dict[str, Any]) -> None:
        """Sends one message, respecting the 24-hour window; never drops it silently.

        Args:
            recipient_id: the conversation id (or a WhatsApp id).
            content: the Graph API message without ``messaging_product`` and ``to``.
        """
        runtime = self.runtime
        phone = await runtime.phone_for(recipient_id)
        if phone is None and recipient_id.isdigit():
            phone = recipient_id
        if phone is None:
            logger.error("whatsapp: no phone number known for conversation %s; message kept "
                         "in %s", recipient_id, runtime.key("undelivered"))
            await runtime.keep_undelivered("unknown conversation",
                                           {"conversation": recipient_id, "payload": content})
            return
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": phone, **content}
        if not await runtime.window_open(phone):
            await self.withhold(phone, payload)
            return
        try:
            await self.post_message(payload)
        except GraphAPIError as error:
            if error.code == ERROR_WINDOW_CLOSED:
                await self.withhold(phone, payload)
                return
            self._log_failure(error, phone)
            await runtime.keep_undelivered("send failed", {"payload": payload}, error.code)

    async def post_message(self, payload: dict[str, Any]) -> str:
        """POSTs a message to the Graph API with retries; records it by message id.

        Args:
            payload: the complete Graph API message.

        Returns:
            The WhatsApp message id (``wamid``).

        Raises:
            GraphAPIError: the API refused it, or retries were exhausted.
        """
        result = await self._post(payload)
        messages = result.get("messages") or [{}]
        wamid = str(messages[0].get("id") or "")
        if wamid:
            record = {"to": payload.get("to"), "payload": payload}
            await self.runtime.redis.set(self.runtime.key("outbound", wamid),
                                         json.dumps(record, ensure_ascii=False),
                                         ex=OUTBOUND_RECORD_SECONDS)
        return wamid

    async def mark_read(self, message_id: str) -> None:
        """Marks a shopper message as read and shows the typing indicator (best effort).

        Args:
            message_id: the ``wamid`` of the shopper's message.
        """
        try:
            await self._post({"messaging_product": "whatsapp", "status": "read",
                              "message_id": message_id, "typing_indicator": {"type": "text"}},
                             attempts=1)
        except GraphAPIError as error:
            self._log_failure(error, None, what="mark-as-read")

    async def withhold(self, phone: str, payload: dict[str, Any]) -> None:
        """Keeps a message until the shopper writes again and sends the template once.

        Args:
            phone: the shopper's WhatsApp id.
            payload: the complete Graph API message that may not be sent now.
        """
        runtime = self.runtime
        settings = runtime.settings
        waiting = await runtime.redis.rpush(runtime.key("pending", phone),
                                            json.dumps(payload, ensure_ascii=False))
        logger.info("whatsapp: 24-hour window of %s is closed; message kept until the "
                    "shopper writes again", mask_phone(phone))
        if waiting != 1:
            return  # the template went out with the first waiting message
        if not settings.template_name:
            logger.error("whatsapp: 24-hour window of %s is closed and no template is "
                         "configured (WHATSAPP_TEMPLATE_NAME); the message waits in Redis "
                         "until the shopper writes again", mask_phone(phone))
            return
        template: dict[str, Any] = {"name": settings.template_name,
                                    "language": {"code": settings.template_language}}
        if settings.template_text_parameter:
            body = (payload.get("text") or {}).get("body") or \
                ((payload.get("interactive") or {}).get("body") or {}).get("text") or ""
            template["components"] = [{"type": "body", "parameters": [
                {"type": "text", "text": _shorten(body, TEMPLATE_PARAM_LIMIT)}]}]
        template_payload = {"messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": phone, "type": "template", "template": template}
        try:
            await self.post_message(template_payload)
        except GraphAPIError as error:
            self._log_failure(error, phone, what="template")
            await runtime.keep_undelivered("template failed", {"payload": template_payload},
                                           error.code)

    async def flush_pending(self, phone: str) -> None:
        """Sends the messages kept while the window was closed (it is open again).

        Args:
            phone: the shopper's WhatsApp id.
        """
        runtime = self.runtime
        key = runtime.key("pending", phone)
        async with runtime.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            waiting, _ = await pipe.execute()
        for raw in waiting:
            payload = json.loads(raw)
            try:
                await self.post_message(payload)
            except GraphAPIError as error:
                self._log_failure(error, phone)
                await runtime.keep_undelivered("send failed", {"payload": payload}, error.code)

    async def _post(self, payload: dict[str, Any], attempts: int | None = None
                    ) -> dict[str, Any]:
        settings = self.runtime.settings
        path = f"/{settings.phone_number_id}/messages"
        attempts = attempts or settings.send_attempts
        for attempt in range(1, attempts + 1):
            try:
                reply = await self.runtime.http.post(path, json=payload)
                error = _graph_error(reply)
                if error is None:
                    result: dict[str, Any] = reply.json()
                    return result
            except httpx.HTTPError as network_error:
                error = GraphAPIError(0, type(network_error).__name__)
            if not error.retryable or attempt == attempts:
                raise error
            delay = settings.retry_base_seconds * 2 ** (attempt - 1)
            delay *= 1 + random.random() / 4  # noqa: S311
            logger.warning("whatsapp: Graph API error %s (HTTP %s), attempt %s of %s; "
                           "retrying in %.2f s", error.code, error.http_status, attempt,
                           attempts, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    @staticmethod
    def _log_failure(error: GraphAPIError, phone: str | None, what: str = "message") -> None:
        if error.code == ERROR_TOKEN or error.http_status == 401:
            logger.critical("whatsapp: %s not sent: the access token is invalid or expired "
                            "(error %s); renew WHATSAPP_ACCESS_TOKEN", what, error.code)
        else:
            logger.error("whatsapp: %s to %s not sent: error %s (HTTP %s): %s", what,
                         mask_phone(phone), error.code, error.http_status, error.message)


def _button_id(button: Mapping[str, Any], limit: int) -> str:
    payload = str(button.get("payload") or button.get("title") or "")
    if len(payload) > limit:
        logger.warning("whatsapp: button payload longer than %s characters was cut", limit)
    return payload[:limit]


def _graph_error(reply: httpx.Response) -> GraphAPIError | None:
    if 200 <= reply.status_code < 300:
        return None
    try:
        error = reply.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    return GraphAPIError(int(error.get("code") or 0) if isinstance(error, dict) else 0,
                         str(error.get("message") if isinstance(error, dict) else reply.text),
                         reply.status_code)


@dataclass
class WhatsAppInput(InputChannel):
    """Receives Meta's webhooks at ``/webhooks/whatsapp/webhook``."""

    settings: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    runtime: WhatsAppRuntime = field(init=False)

    def __post_init__(self) -> None:
        """Creates the (lazy) runtime."""
        self.runtime = WhatsAppRuntime(self.settings)

    @classmethod
    def name(cls) -> str:
        """The channel name, ``whatsapp`` (also the webhook path)."""
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Builds the channel from the environment (credentials.yml holds no secrets).

        Non-secret keys in ``credentials`` (``template_name``, ``template_language``,
        ``list_button_label``, ``max_body_bytes``) override the environment.

        Args:
            credentials: the channel's section of credentials.yml (may be empty).

        Returns:
            The input channel; without settings it answers webhooks with 403/503.
        """
        settings = WhatsAppSettings.from_env()
        allowed = {"template_name", "template_language", "list_button_label", "max_body_bytes"}
        overrides = {k: v for k, v in (credentials or {}).items() if k in allowed and v}
        if overrides:
            settings = replace(settings, **overrides)
        if not (settings.app_secret and settings.access_token and settings.phone_number_id):
            logger.info("whatsapp: channel not configured (WHATSAPP_APP_SECRET, "
                        "WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID); webhooks refused")
        return cls(settings)

    def get_output_channel(self) -> OutputChannel:
        """The output channel for messages Rasa sends on its own (agent replies, CSAT)."""
        return WhatsAppOutput(self.runtime)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
                  ) -> Blueprint:
        """The webhook routes.

        Args:
            on_new_message: Rasa's handler for user messages.

        Returns:
            The Sanic blueprint.
        """
        runtime = self.runtime
        settings = self.settings
        blueprint = Blueprint(f"whatsapp_webhook_{id(self)}", __name__)

        @blueprint.listener("after_server_start")
        async def start(_app: Any, _loop: Any) -> None:
            if settings.app_secret and settings.inbox_consumer:
                runtime.start_worker(on_new_message)
            elif settings.app_secret:
                logger.info("whatsapp: acknowledging webhooks only; another process "
                            "(WHATSAPP_INBOX_CONSUMER=1) handles the inbox")

        @blueprint.listener("before_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            await runtime.close()

        @blueprint.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            mode = request.args.get("hub.mode", "")
            token = request.args.get("hub.verify_token", "")
            challenge = request.args.get("hub.challenge", "")
            if (mode == "subscribe" and settings.verify_token and challenge and
                    hmac.compare_digest(token.encode(), settings.verify_token.encode())):
                return response.text(challenge)
            logger.warning("whatsapp: verification handshake refused (wrong mode or token)")
            return response.text("forbidden", status=403)

        @blueprint.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if not settings.app_secret:
                await _discard_body(request)
                return response.json({"error": "WhatsApp channel is not configured"},
                                     status=503)
            body = await _read_limited(request, settings.max_body_bytes)
            if body is None:
                logger.warning("whatsapp: webhook body over %s bytes refused",
                               settings.max_body_bytes)
                return response.json({"error": "body too large"}, status=413)
            if not signature_valid(settings.app_secret, body,
                                   request.headers.get("x-hub-signature-256")):
                logger.warning("whatsapp: webhook with a missing or wrong signature refused")
                return response.json({"error": "invalid signature"}, status=401)
            try:
                payload = json.loads(body)
                if not isinstance(payload, dict):
                    raise ValueError("not an object")
                items = webhook_items(payload)
            except (ValueError, UnicodeDecodeError) as error:
                logger.warning("whatsapp: malformed webhook refused: %s", error)
                return response.json({"error": "malformed JSON payload"}, status=400)
            if payload.get("object") not in (None, "whatsapp_business_account"):
                return response.json({"status": "ignored"})
            try:
                added = await runtime.accept(items)
            except Exception:
                logger.exception("whatsapp: could not store webhook; Meta will redeliver")
                return response.json({"error": "temporarily unavailable"}, status=503)
            if settings.inbox_consumer:
                runtime.start_worker(on_new_message)
            return response.json({"status": "accepted", "new": added,
                                  "duplicates": len(items) - added})

        return blueprint


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.stream.read() if request.stream else None
        if chunk is None:
            break
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _discard_body(request: Request) -> None:
    while request.stream and await request.stream.read() is not None:
        pass

