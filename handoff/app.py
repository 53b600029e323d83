"""FastAPI application of the handoff service (``uvicorn handoff.app:create_app --factory``)."""

from __future__ import annotations

from fastapi import FastAPI

from handoff.settings import settings


def create_app() -> FastAPI:
    """Builds the app; no connections are opened before startup."""
    config = settings()
    app = FastAPI(title="Kundendienst-Bot handoff service", version="0.1.0")
    app.state.settings = config

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
