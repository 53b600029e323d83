"""Service metrics: queue lengths, response and resolution times, CSAT, containment."""

from __future__ import annotations

import statistics
from typing import Any

from redis.asyncio import Redis

from handoff.routing import LANGUAGES

KEEP = 10000  # samples kept per series


def _quantile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 1)


class Metrics:
    """Samples in Redis lists ``{prefix}m:{series}:{channel}``.

    Args:
        redis: Asyncio client with ``decode_responses=True``.
        prefix: Key prefix of the handoff service.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def record(self, series: str, channel: str, value: float) -> None:
        """Adds a sample (seconds, or a CSAT score) to a series of a channel."""
        key = f"{self.prefix}m:{series}:{channel}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, value)
            pipe.ltrim(key, -KEEP, -1)
            pipe.sadd(f"{self.prefix}m:channels", channel)
            await pipe.execute()

    async def samples(self, series: str, channel: str) -> list[float]:
        """The kept samples of a series."""
        values = await self.redis.lrange(f"{self.prefix}m:{series}:{channel}", 0, -1)
        return [float(value) for value in values]

    async def seen_conversation(self, conversation_id: str) -> None:
        """Counts a conversation for the containment rate."""
        await self.redis.sadd(f"{self.prefix}m:conversations", conversation_id)

    async def median_handle_seconds(self, default: float = 360.0) -> float:
        """Median claim-to-resolve time over all channels (default when unknown)."""
        values: list[float] = []
        for channel in sorted(await self.redis.smembers(f"{self.prefix}m:channels")):
            values += await self.samples("handle", channel)
        return statistics.median(values) if values else default

    async def snapshot(self) -> dict[str, Any]:
        """Everything ``GET /api/metrics`` shows."""
        queue = {lang: int(await self.redis.zcard(f"{self.prefix}queue:{lang}"))
                 for lang in LANGUAGES}
        channels: dict[str, Any] = {}
        for channel in sorted(await self.redis.smembers(f"{self.prefix}m:channels")):
            first = await self.samples("first_response", channel)
            resolution = await self.samples("resolution", channel)
            csat = await self.samples("csat", channel)
            channels[channel] = {
                "first_response_seconds": {"median": _quantile(first, 50),
                                           "p90": _quantile(first, 90), "count": len(first)},
                "resolution_seconds": {"median": _quantile(resolution, 50),
                                       "p90": _quantile(resolution, 90),
                                       "count": len(resolution)},
                "csat": {"average": round(statistics.mean(csat), 2) if csat else None,
                         "count": len(csat)},
            }
        conversations = int(await self.redis.scard(f"{self.prefix}m:conversations"))
        escalated = int(await self.redis.scard(f"{self.prefix}m:escalated"))
        containment = None if not conversations else round(
            max(0.0, 1 - escalated / conversations), 4)
        return {"queue_length": queue, "channels": channels,
                "conversations": conversations, "escalated_conversations": escalated,
                "containment_rate": containment}


def prometheus(snapshot: dict[str, Any]) -> str:
    """The snapshot in the Prometheus text exposition format."""
    lines = ["# HELP kdbot_handoff_queue_length Queued tickets per language.",
             "# TYPE kdbot_handoff_queue_length gauge"]
    for lang, count in snapshot["queue_length"].items():
        lines.append(f'kdbot_handoff_queue_length{{language="{lang}"}} {count}')
    for series, help_text in (("first_response_seconds", "First agent response after "
                               "escalation."), ("resolution_seconds", "Escalation to resolve.")):
        name = f"kdbot_handoff_{series}"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for channel, data in snapshot["channels"].items():
            for quantile, key in (("0.5", "median"), ("0.9", "p90")):
                value = data[series][key]
                if value is not None:
                    lines.append(f'{name}{{channel="{channel}",quantile="{quantile}"}} {value}')
    lines += ["# HELP kdbot_handoff_csat_average Average CSAT score (1-5).",
              "# TYPE kdbot_handoff_csat_average gauge"]
    for channel, data in snapshot["channels"].items():
        if data["csat"]["average"] is not None:
            lines.append(f'kdbot_handoff_csat_average{{channel="{channel}"}} '
                         f'{data["csat"]["average"]}')
    lines += ["# HELP kdbot_conversations_total Conversations seen.",
              "# TYPE kdbot_conversations_total gauge",
              f"kdbot_conversations_total {snapshot['conversations']}",
              "# HELP kdbot_escalated_conversations_total Conversations escalated to a person.",
              "# TYPE kdbot_escalated_conversations_total gauge",
              f"kdbot_escalated_conversations_total {snapshot['escalated_conversations']}"]
    if snapshot["containment_rate"] is not None:
        lines += ["# HELP kdbot_containment_rate Share of conversations never escalated.",
                  "# TYPE kdbot_containment_rate gauge",
                  f"kdbot_containment_rate {snapshot['containment_rate']}"]
    return "\n".join(lines) + "\n"
