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
    # shop answers (issue 4)
    shop_backend: str = "sqlite"  # sqlite | shopify
    shop_db_file: Path = PROJECT_ROOT / "var/shop/orders.sqlite3"
    shopify_store_url: str = ""  # https://<store>.myshopify.com
    shopify_access_token: str = ""
    shopify_api_version: str = "2025-01"
    dhl_api_key: str = ""
    dhl_api_url: str = "https://api-eu.dhl.com"
    shop_http_timeout: float = 3.0
    verify_max_per_conversation: int = 3
    verify_max_per_order_hour: int = 10
    verification_ttl_seconds: int = 1800


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
        shop_backend=os.environ.get("SHOP_BACKEND", "sqlite").strip().lower(),
        shop_db_file=Path(os.environ.get("SHOP_DB_FILE", var_dir / "shop/orders.sqlite3")),
        shopify_store_url=os.environ.get("SHOPIFY_STORE_URL", "").rstrip("/"),
        shopify_access_token=os.environ.get("SHOPIFY_ACCESS_TOKEN", ""),
        shopify_api_version=os.environ.get("SHOPIFY_API_VERSION", "2025-01"),
        dhl_api_key=os.environ.get("DHL_API_KEY", ""),
        dhl_api_url=os.environ.get("DHL_API_URL", "https://api-eu.dhl.com").rstrip("/"),
        shop_http_timeout=float(os.environ.get("SHOP_HTTP_TIMEOUT", "3")),
        verify_max_per_conversation=int(os.environ.get("VERIFY_MAX_PER_CONVERSATION", "3")),
        verify_max_per_order_hour=int(os.environ.get("VERIFY_MAX_PER_ORDER_HOUR", "10")),
        verification_ttl_seconds=int(os.environ.get("VERIFICATION_TTL_SECONDS", "1800")),
    )
