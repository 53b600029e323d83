"""Process-wide shop clients, built lazily on first use (never at import time).

The action server imports the ``actions`` package at start; the first action that needs
the shop opens the SQLite store and imports ``SHOP_ORDERS_FILE`` (idempotent: an
unchanged file is not imported again).
"""

from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass

import redis

from actions.config import Settings, settings
from actions.shop.backend import OrderBackend
from actions.shop.carriers import CarrierClient, DHLTrackingClient, NoCarrierClient
from actions.shop.dates import is_public_holiday
from actions.shop.limits import VerificationLimiter
from actions.shop.policy import Policy, load_policy

logger = logging.getLogger(__name__)


@dataclass
class ShopServices:
    """Everything the shop actions need."""

    settings: Settings
    policy: Policy
    backend: OrderBackend
    carriers: CarrierClient
    limiter: VerificationLimiter


_lock = threading.Lock()
_services: ShopServices | None = None


def build_services(config: Settings) -> ShopServices:
    """Builds the clients for the given settings.

    Args:
        config: Action-server settings.

    Returns:
        The shop services.
    """
    policy = load_policy(config.shop_policy_file)
    # load the holiday tables now, not during the first shopper's question
    today = datetime.date.today()
    for year in (today.year, today.year + 1):
        is_public_holiday(datetime.date(year, 1, 1), policy)
    backend: OrderBackend
    if config.shop_backend == "shopify":
        from actions.shop.shopify import ShopifyOrderBackend

        backend = ShopifyOrderBackend(config.shopify_store_url, config.shopify_access_token,
                                      api_version=config.shopify_api_version,
                                      timeout=config.shop_http_timeout)
    elif config.shop_backend == "sqlite":
        from actions.shop.sqlite_backend import SQLiteOrderBackend

        sqlite_backend = SQLiteOrderBackend(config.shop_db_file, policy.returns.label_url)
        try:
            sqlite_backend.import_file(config.shop_orders_file)
        except (OSError, ValueError) as exc:
            # keep serving what the store already holds; the log says what to fix
            logger.error("orders file %s not imported: %s", config.shop_orders_file, exc)
        backend = sqlite_backend
    else:
        raise ValueError(f"SHOP_BACKEND must be sqlite or shopify, not {config.shop_backend!r}")
    carriers: CarrierClient = (
        DHLTrackingClient(config.dhl_api_key, config.dhl_api_url, config.shop_http_timeout)
        if config.dhl_api_key else NoCarrierClient())
    limiter = VerificationLimiter(
        redis.Redis.from_url(config.redis_url, decode_responses=True,
                             socket_timeout=2, socket_connect_timeout=2),
        max_per_conversation=config.verify_max_per_conversation,
        max_per_order=config.verify_max_per_order_hour)
    return ShopServices(settings=config, policy=policy, backend=backend, carriers=carriers,
                        limiter=limiter)


def get_services() -> ShopServices:
    """The process-wide services, built on first call."""
    global _services
    with _lock:
        if _services is None:
            _services = build_services(settings())
        return _services


def set_services(services: ShopServices | None) -> None:
    """Replaces the process-wide services (tests; ``None`` forces a rebuild)."""
    global _services
    with _lock:
        _services = services
