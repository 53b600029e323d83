"""Rasa event broker that appends every tracker event to a Redis stream.

Configured in ``endpoints.yml``::

    event_broker:
      type: bot.broker.RedisStreamEventBroker
      url: ${REDIS_HOST}
      port: ${REDIS_PORT}
      ...
      stream: kdbot:events

Each event becomes one stream entry with the field ``event`` (the JSON Rasa publishes,
including ``sender_id``). The handoff service reads the stream with a consumer group;
the stream is capped with ``MAXLEN ~``. A local XADD takes well under a millisecond, so
the synchronous client does not hold up Rasa's event loop noticeably; events that
cannot be written while Redis is unreachable are kept in order (bounded) and written
with the next event.
"""

from __future__ import annotations

import json
import logging
from asyncio import AbstractEventLoop
from collections import deque
from typing import Any

import redis
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)
DEFAULT_STREAM = "kdbot:events"
DEFAULT_MAXLEN = 100_000
BACKLOG_LIMIT = 10_000


class RedisStreamEventBroker(EventBroker):
    """Publishes Rasa events to a Redis stream (XADD with an approximate MAXLEN cap).

    Args:
        host: Redis host.
        port: Redis port.
        db: Redis database number.
        password: Redis password (empty for none).
        stream: Stream key.
        maxlen: Approximate cap on the stream's length.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 6379, db: int = 0,
                 password: str | None = None, stream: str = DEFAULT_STREAM,
                 maxlen: int = DEFAULT_MAXLEN) -> None:
        self.client = redis.Redis(host=host, port=int(port), db=int(db),
                                  password=password or None, socket_timeout=2,
                                  socket_connect_timeout=2)
        self.stream = stream
        self.maxlen = int(maxlen)
        self.backlog: deque[str] = deque(maxlen=BACKLOG_LIMIT)

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig | None,
                                   event_loop: AbstractEventLoop | None = None,
                                   ) -> RedisStreamEventBroker | None:
        """Builds the broker from the ``event_broker`` section of endpoints.yml."""
        if broker_config is None:
            return None
        options = dict(broker_config.kwargs)
        return cls(host=broker_config.url or "127.0.0.1",
                   port=int(options.get("port") or 6379), db=int(options.get("db") or 0),
                   password=str(options.get("password") or "") or None,
                   stream=str(options.get("stream") or DEFAULT_STREAM),
                   maxlen=int(options.get("maxlen") or DEFAULT_MAXLEN))

    def publish(self, event: dict[str, Any]) -> None:
        """Appends one event to the stream (never raises: Rasa must keep answering)."""
        self.backlog.append(json.dumps(event, ensure_ascii=False, default=str))
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for body in self.backlog:
                    pipe.xadd(self.stream, {"event": body}, maxlen=self.maxlen,
                              approximate=True)
                pipe.execute()
            self.backlog.clear()
        except redis.RedisError as error:
            log.warning("event stream unavailable (%s); %d events kept for later",
                        type(error).__name__, len(self.backlog))

    def is_ready(self) -> bool:
        """Whether Redis answers."""
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    async def close(self) -> None:
        """Closes the connection pool."""
        self.client.close()
