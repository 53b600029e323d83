"""The embedded SQLite order store: import, idempotence, lookups, returns, requests."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from actions.shop.sqlite_backend import SQLiteOrderBackend
from tests.shop.helpers import DEMO_ORDERS


@pytest.fixture
def store(tmp_path: Path) -> SQLiteOrderBackend:
    backend = SQLiteOrderBackend(tmp_path / "orders.sqlite3", "https://shop.test/label/{rma}")
    backend.import_file(DEMO_ORDERS)
    return backend


def test_demo_shop_covers_what_the_answers_need() -> None:
    orders = json.loads(DEMO_ORDERS.read_text())
    assert len(orders) >= 30
    assert {o["status"] for o in orders} == {"processing", "shipped", "delivered", "cancelled",
                                             "returned"}
    assert {"DHL", "DPD", "Hermes", "GLS", "UPS"} <= {o["carrier"] for o in orders}
    assert {o["country"] for o in orders} == {"DE", "AT", "CH"}
    assert any(len(o["items"]) > 1 for o in orders) and any(len(o["items"]) == 1 for o in orders)
    assert len({o["order_id"] for o in orders}) == len(orders)


def test_import_is_idempotent(tmp_path: Path, store: SQLiteOrderBackend) -> None:
    count = store.count()
    assert store.import_file(DEMO_ORDERS) == 0  # unchanged file: skipped
    store.close()
    reopened = SQLiteOrderBackend(tmp_path / "orders.sqlite3")
    assert reopened.import_file(DEMO_ORDERS) == 0
    assert reopened.count() == count


def test_changed_file_updates_orders_in_place(tmp_path: Path, store: SQLiteOrderBackend) -> None:
    orders = json.loads(DEMO_ORDERS.read_text())
    orders[0]["status"] = "delivered"
    orders[0]["delivered_at"] = "2026-12-02T12:00:00+01:00"
    changed = tmp_path / "orders.json"
    changed.write_text(json.dumps(orders))
    assert store.import_file(changed) == len(orders)
    assert store.count() == len(orders)
    order = store.get_order(orders[0]["order_id"])
    assert order is not None and order.status == "delivered"


def test_bad_records_are_skipped_the_rest_imported(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    orders = json.loads(DEMO_ORDERS.read_text())[:3]
    orders.append({"order_id": "55555", "email": "secret.person@example.de"})  # no status
    orders.append({**orders[0], "order_id": "66666", "status": "lost"})
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(orders))
    backend = SQLiteOrderBackend(":memory:")
    with caplog.at_level(logging.WARNING):
        assert backend.import_file(path) == 3
    assert "record 3 skipped" in caplog.text and "record 4 skipped" in caplog.text
    assert "secret.person" not in caplog.text  # no personal data in logs


def test_not_a_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text('{"order_id": "1"}')
    with pytest.raises(ValueError, match="JSON list"):
        SQLiteOrderBackend(":memory:").import_file(path)


@pytest.mark.parametrize(("order_id", "kwargs", "found"), [
    ("10482", {"zip_code": "10115"}, True),
    ("10482", {"email": "JANA.BECKER@example.de"}, True),
    ("10482", {"zip_code": "10117"}, False),
    ("10482", {"email": "jana.becker@example.com"}, False),
    ("10482", {}, False),
    ("99999", {"zip_code": "10115"}, False),
    ("10482' OR '1'='1", {"zip_code": "10115"}, False),
])
def test_find_verified(store: SQLiteOrderBackend, order_id: str, kwargs: dict,
                       found: bool) -> None:
    assert (store.find_verified(order_id, **kwargs) is not None) is found


def test_returns_and_requests_are_recorded(store: SQLiteOrderBackend) -> None:
    order = store.get_order("10490")
    assert order is not None
    record = store.create_return(order, ("SK-101",), label=True)
    assert record.rma.startswith("RMA-10490-")
    assert record.label_url == f"https://shop.test/label/{record.rma}"
    assert store.returns_for("10490") == [record]
    assert store.create_return(order, ("SK-101",), label=False).label_url is None
    store.record_request("10483", "cancel_order", "conv-9")
    assert [r["kind"] for r in store.requests_for("10483")] == ["cancel_order"]


def test_a_broken_orders_file_keeps_the_stored_orders(tmp_path: Path, redis_url: str,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    from actions.config import settings
    from actions.shop.services import build_services

    monkeypatch.setenv("SHOP_DB_FILE", str(tmp_path / "orders.sqlite3"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SHOP_ORDERS_FILE", str(DEMO_ORDERS))
    assert build_services(settings()).backend.get_order("10482") is not None
    broken = tmp_path / "broken.json"
    broken.write_text("[{\"order_id\": ")
    monkeypatch.setenv("SHOP_ORDERS_FILE", str(broken))
    with caplog.at_level(logging.ERROR):
        services = build_services(settings())
    assert "not imported" in caplog.text
    assert services.backend.get_order("10482") is not None
