"""Real shop services for the action tests (SQLite demo shop, real Redis limiter)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine

from actions.shop.services import ShopServices, set_services
from tests.shop.helpers import FRIDAY_MORNING, make_services


@pytest.fixture
def services(tmp_path: Path, redis_url: str, key_prefix: str) -> Iterator[ShopServices]:
    """Installs real services for the actions under test."""
    built = make_services(tmp_path, redis_url, key_prefix)
    set_services(built)
    yield built
    set_services(None)


@pytest.fixture
def friday_morning() -> Iterator[None]:
    """Freezes the clock at Friday, 4 December 2026, 10:00 Berlin time."""
    with time_machine.travel(FRIDAY_MORNING, tick=False):
        yield
