"""Settings of the handoff service, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Handoff-service settings (see the settings table in README.md)."""

    redis_url: str
    rasa_url: str
    rasa_token: str
    service_token: str


def settings() -> Settings:
    """Reads the settings from the environment, with the documented defaults."""
    return Settings(
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        rasa_url=os.environ.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
        rasa_token=os.environ.get("RASA_TOKEN", ""),
        service_token=os.environ.get("HANDOFF_SERVICE_TOKEN", ""),
    )
