"""Socket.io channel of the storefront widget (replaces Rasa's stock ``socketio`` channel).

It speaks the protocol of Rasa's stock channel (``session_request``/``session_confirm``,
``user_uttered``/``bot_uttered``, ``metadata``; path ``/socket.io``), so the stock
``rasa-webchat`` widget works with it too, and adds what the stock channel lacks:

* a shared ``socketio.AsyncRedisManager`` (``REDIS_URL``): an agent reply that enters the
  tracker on any Rasa worker or replica reaches the browser connected to another one;
* the sender id is the session the socket joined with ``session_request`` (a random
  32-hex id); a client cannot write into or read another conversation by naming its id;
* the metadata of agent messages (``handoff_event``, ``agent``) and the response name
  (``utter_action``) are forwarded in ``bot_uttered.metadata``;
* ``history_request`` returns the transcript of the socket's own session (a reload or a
  second tab shows the conversation), ``user_echo`` shows a message typed in one tab in
  the others;
* bad input (not an object, no text, too long, unknown session) gets a ``widget_error``
  event and is not processed; a message id seen before (the widget resends unacknowledged
  messages after a reconnect) is acknowledged but not processed twice.

Registered in ``credentials.yml`` as ``bot.channels.widget.WidgetInput``; its name stays
``socketio`` so ``output_channel=latest`` and existing trackers keep working.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import socketio
from rasa.core.channels.channel import (
    InputChannel,
    OutputChannel,
    UserMessage,
    decode_bearer_token,
)
from rasa.core.channels.socketio import SocketBlueprint
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.processing import PROCESSING, on_loop

logger = logging.getLogger(__name__)

CHANNEL_NAME = "socketio"
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FORWARDED_METADATA = ("handoff_event", "agent", "utter_action")
RESERVED_USER_METADATA = ("handoff_event", "agent")
DEFAULT_MAX_MESSAGE_CHARS = 2000
DEFAULT_MAX_METADATA_BYTES = 4096
DEFAULT_HISTORY_LIMIT = 200
DEDUP_TTL_SECONDS = 24 * 3600
REDIS_CHANNEL = "kdbot:widget:socketio"
DEDUP_PREFIX = "kdbot:widget:mid:"
ERROR_EVENT = "widget_error"


def forwarded_metadata(values: dict[str, Any]) -> dict[str, Any]:
    """The metadata of a bot message that the widget needs (agent, handoff event, response).

    Args:
        values: keyword arguments Rasa passed to the output channel (a bot event's
            metadata is merged into them).

    Returns:
        Only the forwarded keys that are set.
    """
    return {key: values[key] for key in FORWARDED_METADATA if values.get(key)}


def quick_replies(buttons: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rasa buttons as socket.io quick replies (the stock channel's format)."""
    return [{"content_type": "text", "title": str(button.get("title", "")),
             "payload": str(button.get("payload", ""))} for button in buttons]


class WidgetOutput(OutputChannel):
    """Sends bot and agent messages to every socket of a session (all tabs, all replicas)."""

    @classmethod
    def name(cls) -> str:
        """Name of the channel (the stock name, so ``output_channel=latest`` finds us)."""
        return CHANNEL_NAME

    def __init__(self, sio: socketio.AsyncServer, bot_message_evt: str,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Creates the output channel.

        Args:
            sio: the socket.io server (its client manager reaches other replicas).
            bot_message_evt: event name of bot messages (``bot_uttered``).
            loop: the server's event loop, which the socket.io server and its Redis
                manager belong to; sends from Rasa's processing thread hop onto it.
        """
        self.sio = sio
        self.bot_message_evt = bot_message_evt
        self.loop = loop

    async def _send(self, recipient_id: str, message: dict[str, Any],
                     kwargs: dict[str, Any]) -> None:
        metadata = forwarded_metadata(kwargs)
        if metadata:
            message = {**message, "metadata": metadata}
        await on_loop(self.loop, self.sio.emit(self.bot_message_evt, message,
                                               room=recipient_id))

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Like Rasa's, but an agent's "joined"/"left" event is sent even without text."""
        if not message.get("text") and message.get("handoff_event") in ("joined", "left"):
            await self._send(recipient_id, {"text": ""}, message)
            return
        await super().send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Sends a text, split at blank lines like the stock channel."""
        for part in text.strip().split("\n\n"):
            await self._send(recipient_id, {"text": part}, kwargs)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        """Sends a text with its buttons as quick replies on the last part."""
        parts = text.strip().split("\n\n") or [text]
        for index, part in enumerate(parts):
            message: dict[str, Any] = {"text": part, "quick_replies": []}
            if index == len(parts) - 1:
                message["quick_replies"] = quick_replies(buttons)
            await self._send(recipient_id, message, kwargs)

    async def send_quick_replies(self, recipient_id: str, text: str,
                                 quick_replies: list[dict[str, Any]], **kwargs: Any) -> None:
        """Quick replies are buttons here."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """Sends an image as an attachment."""
        await self._send(recipient_id,
                         {"attachment": {"type": "image", "payload": {"src": image}}}, kwargs)

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: str, attachment: dict[str, Any], **kwargs: Any
    ) -> None:
        """Sends an attachment."""
        await self._send(recipient_id, {"attachment": attachment}, kwargs)

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]],
                            **kwargs: Any) -> None:
        """Sends each element as a generic template (the stock format)."""
        for element in elements:
            await self._send(recipient_id, {"attachment": {
                "type": "template",
                "payload": {"template_type": "generic", "elements": element}}}, kwargs)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        """Sends a custom payload as the message itself, to this session only."""
        await self._send(recipient_id, dict(json_message), kwargs)


class SeenMessages:
    """Remembers message ids for a day, in Redis when available (shared by all replicas)."""

    def __init__(self, redis_url: str | None, local_capacity: int = 10_000) -> None:
        """Creates the store; connects lazily inside the event loop.

        Args:
            redis_url: Redis to keep the ids in; ``None`` keeps them in this process.
            local_capacity: how many ids the in-process fallback remembers.
        """
        self.redis_url = redis_url
        self._redis: Any = None
        self._local: OrderedDict[str, float] = OrderedDict()
        self._capacity = local_capacity

    async def first_time(self, session_id: str, message_id: str) -> bool:
        """Records the id; ``True`` when it was not seen before."""
        key = f"{DEDUP_PREFIX}{session_id}:{message_id}"
        if self.redis_url:
            if self._redis is None:
                from redis import asyncio as aioredis

                self._redis = aioredis.Redis.from_url(self.redis_url)
            return bool(await self._redis.set(key, "1", nx=True, ex=DEDUP_TTL_SECONDS))
        now = time.monotonic()
        seen = self._local.get(key)
        if seen is not None and now - seen < DEDUP_TTL_SECONDS:
            return False
        self._local[key] = now
        while len(self._local) > self._capacity:
            self._local.popitem(last=False)
        return True


class WidgetInput(InputChannel):
    """Socket.io input channel of the storefront widget."""

    @classmethod
    def name(cls) -> str:
        """Name of the channel (kept ``socketio`` for compatibility)."""
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Builds the channel from its ``credentials.yml`` section.

        Keys of the stock channel (``user_message_evt``, ``bot_message_evt``,
        ``namespace``, ``session_persistence``, ``socketio_path``, ``jwt_key``,
        ``jwt_method``, ``metadata_key``) plus ``redis_url`` (default: ``REDIS_URL``),
        ``max_message_chars``, ``history_limit`` and ``cors_allowed_origins`` (a list of
        shop origins allowed to open the socket; default: no check of our own, Rasa's
        ``--cors`` applies).
        """
        credentials = credentials or {}
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            session_persistence=bool(credentials.get("session_persistence", True)),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            jwt_key=credentials.get("jwt_key"),
            jwt_method=credentials.get("jwt_method", "HS256"),
            metadata_key=credentials.get("metadata_key", "metadata"),
            redis_url=credentials.get("redis_url") or os.environ.get("REDIS_URL") or None,
            max_message_chars=int(credentials.get("max_message_chars",
                                                  DEFAULT_MAX_MESSAGE_CHARS)),
            history_limit=int(credentials.get("history_limit", DEFAULT_HISTORY_LIMIT)),
            cors_allowed_origins=list(credentials.get("cors_allowed_origins") or []),
        )

    def __init__(
        self,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        namespace: str | None = None,
        session_persistence: bool = True,
        socketio_path: str = "/socket.io",
        jwt_key: str | None = None,
        jwt_method: str = "HS256",
        metadata_key: str = "metadata",
        redis_url: str | None = None,
        max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        cors_allowed_origins: list[str] | None = None,
    ) -> None:
        """Creates the channel; nothing connects before the server starts."""
        self.user_message_evt = user_message_evt
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace
        self.session_persistence = session_persistence
        self.socketio_path = socketio_path
        self.jwt_key = jwt_key
        self.jwt_method = jwt_method
        self.metadata_key = metadata_key
        self.redis_url = redis_url
        self.max_message_chars = max_message_chars
        self.history_limit = history_limit
        self.cors_allowed_origins = list(cors_allowed_origins or [])
        self.sio: socketio.AsyncServer | None = None
        self.app: Sanic | None = None
        self.seen = SeenMessages(redis_url)

    def get_output_channel(self) -> OutputChannel | None:
        """Output channel for messages that do not answer a socket (agent replies, CSAT)."""
        if self.sio is None:
            return None
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        return WidgetOutput(self.sio, self.bot_message_evt, loop)

    def _new_server(self) -> socketio.AsyncServer:
        manager: socketio.AsyncManager | None = None
        if self.redis_url:
            manager = socketio.AsyncRedisManager(self.redis_url, channel=REDIS_CHANNEL)
        else:
            logger.warning("widget channel without REDIS_URL: agent replies reach the "
                           "browser only with a single Rasa worker")
        # an empty cors_allowed_origins leaves CORS to Rasa's --cors (as the stock channel
        # does); the buffer limit closes connections that send megabytes in one packet.
        return socketio.AsyncServer(async_mode="sanic",
                                    cors_allowed_origins=self.cors_allowed_origins,
                                    client_manager=manager, max_http_buffer_size=64 * 1024)

    async def _error(self, sid: str, code: str, detail: str) -> dict[str, Any]:
        assert self.sio is not None
        await self.sio.emit(ERROR_EVENT, {"code": code, "detail": detail}, room=sid,
                            namespace=self.namespace)
        return {"status": "error", "code": code}

    async def _session_of(self, sid: str) -> str | None:
        assert self.sio is not None
        if not self.session_persistence:
            return sid
        try:
            stored = await self.sio.get_session(sid, namespace=self.namespace)
        except KeyError:
            return None
        session_id = stored.get("session_id")
        return session_id if isinstance(session_id, str) else None

    def _user_metadata(self, data: dict[str, Any]) -> dict[str, Any] | None:
        raw = data.get(self.metadata_key)
        if raw is None:
            raw = data.get("customData")  # rasa-webchat's key
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return None
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            return None
        if len(json.dumps(raw, default=str)) > DEFAULT_MAX_METADATA_BYTES:
            return None
        return {k: v for k, v in raw.items() if k not in RESERVED_USER_METADATA}

    async def transcript(self, session_id: str) -> list[dict[str, Any]]:
        """The shopper-visible messages of one widget session, oldest first.

        Args:
            session_id: the session (sender id) whose transcript to return.

        Returns:
            ``{"from": "user"|"bot"|"agent"|"system", "text", "at", ...}`` dicts, at most
            ``history_limit``; empty for unknown sessions and conversations of other
            channels.
        """
        agent = getattr(self.app.ctx, "agent", None) if self.app else None
        if agent is None or agent.tracker_store is None:
            return []
        tracker = await agent.tracker_store.retrieve_full_tracker(session_id)
        if tracker is None or tracker.get_latest_input_channel() != CHANNEL_NAME:
            return []
        messages: list[dict[str, Any]] = []
        for event in tracker.events:
            if isinstance(event, UserUttered) and event.text:
                messages.append({"from": "user", "text": event.text, "at": event.timestamp})
            elif isinstance(event, BotUttered):
                metadata = forwarded_metadata(event.metadata or {})
                if not (event.text or event.data.get("buttons") or metadata.get("handoff_event")):
                    continue
                handoff = metadata.get("handoff_event")
                sender = ("agent" if handoff == "message"
                          else "system" if handoff in ("joined", "left") else "bot")
                item: dict[str, Any] = {"from": sender, "text": event.text or "",
                                        "at": event.timestamp}
                buttons = event.data.get("buttons") or event.data.get("quick_replies")
                if buttons:
                    item["quick_replies"] = quick_replies(buttons)
                if metadata:
                    item["metadata"] = metadata
                messages.append(item)
        return messages[-self.history_limit:]

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The socket.io server at ``socketio_path`` and a health route."""
        sio = self._new_server()
        self.sio = sio
        channel = self
        namespace = self.namespace

        class WidgetBlueprint(SocketBlueprint):
            def register(self, app: Sanic, options: dict[str, Any]) -> None:
                channel.app = app
                super().register(app, options)

        widget_webhook = WidgetBlueprint(sio, self.socketio_path, "widget_webhook", __name__)

        @widget_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            if not self.jwt_key:
                return True
            token = auth.get("token") if isinstance(auth, dict) else None
            payload = decode_bearer_token(token, self.jwt_key, self.jwt_method) if token else None
            return bool(payload)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            if not self.session_persistence:
                session_id = sid
            elif isinstance(requested, str) and SESSION_ID.match(requested):
                session_id = requested
            else:
                session_id = uuid.uuid4().hex
            previous = await self._session_of(sid)
            if previous and previous != session_id and self.session_persistence:
                await sio.leave_room(sid, previous, namespace=namespace)
            if self.session_persistence:
                await sio.save_session(sid, {"session_id": session_id}, namespace=namespace)
                await sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        @sio.on("history_request", namespace=namespace)
        async def history_request(sid: str, data: Any = None) -> dict[str, Any]:
            session_id = await self._session_of(sid)
            if session_id is None:
                return await self._error(sid, "no_session", "send session_request first")
            return {"status": "ok", "session_id": session_id,
                    "messages": await self.transcript(session_id)}

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any = None) -> dict[str, Any]:
            if not isinstance(data, dict):
                return await self._error(sid, "invalid_payload", "expected an object")
            text = data.get("message")
            if not isinstance(text, str) or not text.strip():
                return await self._error(sid, "invalid_message", "message must be a text")
            if len(text) > self.max_message_chars:
                return await self._error(
                    sid, "message_too_long",
                    f"messages are limited to {self.max_message_chars} characters")
            session_id = await self._session_of(sid)
            if session_id is None:
                return await self._error(sid, "no_session", "send session_request first")
            claimed = data.get("session_id")
            if self.session_persistence and claimed is not None and claimed != session_id:
                return await self._error(sid, "wrong_session",
                                         "session_id is not this socket's session")
            metadata = self._user_metadata(data)
            if metadata is None:
                return await self._error(sid, "invalid_metadata",
                                         "metadata must be a small JSON object")
            message_id = data.get("message_id")
            if message_id is not None:
                if not isinstance(message_id, str) or not MESSAGE_ID.match(message_id):
                    return await self._error(sid, "invalid_message_id",
                                             "message_id: 1-64 letters, digits, - or _")
                if not await self.seen.first_time(session_id, message_id):
                    return {"status": "duplicate", "message_id": message_id}
                metadata["message_id"] = message_id
                if self.session_persistence:
                    await sio.emit("user_echo", {"text": text, "message_id": message_id},
                                   room=session_id, skip_sid=sid, namespace=namespace)
            # Rasa's handling runs on the processing thread; this loop stays free for
            # socket.io traffic and webhooks (bot/channels/processing.py)
            output = WidgetOutput(sio, self.bot_message_evt, asyncio.get_running_loop())
            await PROCESSING.run(on_new_message(UserMessage(
                text, output, session_id, input_channel=CHANNEL_NAME, metadata=metadata)))
            return {"status": "ok", "message_id": message_id}

        return widget_webhook
