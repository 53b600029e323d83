"""``GET /api/metrics`` (agents) and Prometheus text at ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from handoff.api.deps import AgentDep, ServiceDep
from handoff.metrics import prometheus

router = APIRouter(tags=["metrics"])


@router.get("/api/metrics")
async def metrics(_agent: AgentDep, service: ServiceDep) -> dict[str, Any]:
    """Queue length per language, response/resolution times and CSAT per channel,
    containment rate."""
    return await service.metrics.snapshot()


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics_text(service: ServiceDep) -> str:
    """The same figures for Prometheus (aggregates only, no personal data)."""
    return prometheus(await service.metrics.snapshot())
