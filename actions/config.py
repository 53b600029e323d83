"""Settings of the action server, read from the environment in one place.

Nothing here runs at import time except reading defaults; call :func:`settings` to
get a snapshot of the current environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Action-server settings (see the settings table in README.md)."""

    redis_url: str
    handoff_url: str
    handoff_service_token: str
    shop_orders_file: Path
    shop_policy_file: Path
    var_dir: Path


def settings() -> Settings:
    """Reads the settings from the environment, with the documented defaults."""
    var_dir = Path(os.environ.get("KDBOT_VAR_DIR", PROJECT_ROOT / "var"))
    return Settings(
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        handoff_url=os.environ.get("HANDOFF_URL", "http://127.0.0.1:8000").rstrip("/"),
        handoff_service_token=os.environ.get("HANDOFF_SERVICE_TOKEN", ""),
        shop_orders_file=Path(
            os.environ.get("SHOP_ORDERS_FILE", PROJECT_ROOT / "data/shop/demo-orders.json")
        ),
        shop_policy_file=Path(
            os.environ.get("SHOP_POLICY_FILE", PROJECT_ROOT / "data/shop/policy.yml")
        ),
        var_dir=var_dir,
    )
