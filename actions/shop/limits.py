"""Counting failed verification attempts in Redis (keys ``kdbot:verify:...``).

Two limits: per conversation (default 3 failures) and per order number (default 10 per
hour, across conversations, against guessing another shopper's postal code). The order
number is hashed in the key so keys hold nothing a shopper typed.
"""

from __future__ import annotations

import hashlib

import redis


class LimiterUnavailable(RuntimeError):
    """Redis cannot be reached; verification is refused rather than left unlimited."""


def _order_key(order_id: str) -> str:
    return hashlib.sha256(order_id.encode("utf-8")).hexdigest()[:24]


class VerificationLimiter:
    """Failed-attempt counters with expiry."""

    def __init__(self, client: redis.Redis, prefix: str = "kdbot:verify:",
                 max_per_conversation: int = 3, max_per_order: int = 10,
                 order_window_seconds: int = 3600,
                 conversation_ttl_seconds: int = 86400) -> None:
        """Creates the limiter.

        Args:
            client: A Redis client.
            prefix: Key prefix (``kdbot:verify:``; tests use their own).
            max_per_conversation: Failures allowed in one conversation.
            max_per_order: Failures allowed per order number within the window.
            order_window_seconds: Length of the per-order window.
            conversation_ttl_seconds: How long a conversation's counter is kept.
        """
        self._redis = client
        self._prefix = prefix
        self.max_per_conversation = max_per_conversation
        self.max_per_order = max_per_order
        self._order_window = order_window_seconds
        self._conversation_ttl = conversation_ttl_seconds

    def _keys(self, conversation_id: str, order_id: str | None) -> tuple[str, str | None]:
        conv = f"{self._prefix}conv:{conversation_id}"
        order = f"{self._prefix}order:{_order_key(order_id)}" if order_id else None
        return conv, order

    def is_locked(self, conversation_id: str, order_id: str | None) -> bool:
        """True when either limit is reached.

        Raises:
            LimiterUnavailable: When Redis cannot answer.
        """
        conv, order = self._keys(conversation_id, order_id)
        try:
            values = self._redis.mget([conv] + ([order] if order else []))
        except redis.RedisError as exc:
            raise LimiterUnavailable(str(exc)) from exc
        conv_count = int(values[0] or 0)
        order_count = int(values[1] or 0) if order else 0
        return conv_count >= self.max_per_conversation or order_count >= self.max_per_order

    def record_failure(self, conversation_id: str, order_id: str | None) -> bool:
        """Counts one failed attempt; returns True when a limit is now reached.

        Raises:
            LimiterUnavailable: When Redis cannot answer.
        """
        conv, order = self._keys(conversation_id, order_id)
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(conv)
            pipe.expire(conv, self._conversation_ttl)
            if order:
                pipe.incr(order)
                pipe.ttl(order)
            results = pipe.execute()
            order_count = 0
            if order:
                order_count = int(results[2])
                if int(results[3]) < 0:  # a new window starts with the first failure
                    self._redis.expire(order, self._order_window)
        except redis.RedisError as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return (int(results[0]) >= self.max_per_conversation
                or order_count >= self.max_per_order)
