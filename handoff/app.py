"""FastAPI application of the handoff service (``uvicorn handoff.app:create_app --factory``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff.agents import AgentStore
from handoff.api.routes import auth, bot, metrics, tickets, ws
from handoff.consumer import EventConsumer
from handoff.metrics import Metrics
from handoff.queue import TicketStore
from handoff.rasa import RasaClient
from handoff.service import HandoffService, load_templates
from handoff.settings import Settings, settings
from handoff.sla import load_policy

CONSOLE = Path(__file__).resolve().parent / "console"
log = logging.getLogger("handoff")


async def background(service: HandoffService, consumer: EventConsumer, interval: float,
                     stop: asyncio.Event) -> None:
    """Retries deliveries to Rasa and drains the escalation outbox until ``stop``."""
    while not stop.is_set():
        try:
            await service.drain_outbox()
            await service.flush_all()
        except (RedisError, OSError) as error:
            log.warning("background round failed: %s", type(error).__name__)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def create_app(config: Settings | None = None) -> FastAPI:
    """Builds the app; connections are opened at startup, not at import or build time.

    Args:
        config: Settings (default: from the environment).
    """
    config = config or settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config.check()
        redis = Redis.from_url(config.redis_url, decode_responses=True)
        http = httpx.AsyncClient()
        store = TicketStore(redis, config.key_prefix)
        service = HandoffService(
            redis=redis, prefix=config.key_prefix, store=store,
            metrics=Metrics(redis, config.key_prefix),
            rasa=RasaClient(config.rasa_url, config.rasa_token, http),
            policy=load_policy(config.policy_file),
            templates=load_templates(config.templates_file))
        consumer = EventConsumer(redis, config.events_stream, store, service.metrics)
        app.state.service = service
        app.state.agents = AgentStore(redis, config.key_prefix)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(consumer.run(stop)),
                 asyncio.create_task(background(service, consumer, config.worker_interval,
                                                stop))]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await http.aclose()
            await redis.close()

    app = FastAPI(title="Kundendienst-Bot handoff service", version="0.2.0", lifespan=lifespan)
    app.state.settings = config

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in (auth.router, tickets.router, bot.router, metrics.router, ws.router):
        app.include_router(router)

    @app.get("/console", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(CONSOLE / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console")

    app.mount("/console/static", StaticFiles(directory=CONSOLE), name="console")
    return app
