"""The embedded order backend: SQLite, filled from ``SHOP_ORDERS_FILE``.

One connection per process (the action server runs its actions on one event loop);
every query is parameterised and rows are read by column name.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from actions.shop.backend import BackendUnavailable, ReturnRecord
from actions.shop.models import InvalidOrderData, Order, OrderItem, parse_order

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    zip_code TEXT NOT NULL,
    country TEXT NOT NULL,
    status TEXT NOT NULL,
    ordered_at TEXT NOT NULL,
    shipped_at TEXT,
    delivered_at TEXT,
    updated_at TEXT,
    carrier TEXT,
    tracking_number TEXT,
    items TEXT NOT NULL,
    total REAL NOT NULL,
    currency TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS returns (
    rma TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    skus TEXT NOT NULL,
    label_url TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

UPSERT = """
INSERT INTO orders (order_id, email, zip_code, country, status, ordered_at, shipped_at,
                    delivered_at, updated_at, carrier, tracking_number, items, total, currency)
VALUES (:order_id, :email, :zip_code, :country, :status, :ordered_at, :shipped_at,
        :delivered_at, :updated_at, :carrier, :tracking_number, :items, :total, :currency)
ON CONFLICT(order_id) DO UPDATE SET
    email = excluded.email, zip_code = excluded.zip_code, country = excluded.country,
    status = excluded.status, ordered_at = excluded.ordered_at,
    shipped_at = excluded.shipped_at, delivered_at = excluded.delivered_at,
    updated_at = excluded.updated_at, carrier = excluded.carrier,
    tracking_number = excluded.tracking_number, items = excluded.items,
    total = excluded.total, currency = excluded.currency
"""


def _row_to_order(row: sqlite3.Row) -> Order:
    items = tuple(OrderItem(sku=i["sku"], name=i["name"], quantity=int(i["quantity"]),
                            price=float(i["price"])) for i in json.loads(row["items"]))
    return Order(
        order_id=row["order_id"], email=row["email"], zip_code=row["zip_code"],
        country=row["country"], status=row["status"], ordered_at=row["ordered_at"],
        shipped_at=row["shipped_at"], delivered_at=row["delivered_at"],
        carrier=row["carrier"], tracking_number=row["tracking_number"], items=items,
        total=float(row["total"]), currency=row["currency"], updated_at=row["updated_at"])


def _order_params(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id, "email": order.email, "zip_code": order.zip_code,
        "country": order.country, "status": order.status, "ordered_at": order.ordered_at,
        "shipped_at": order.shipped_at, "delivered_at": order.delivered_at,
        "updated_at": order.updated_at, "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "items": json.dumps([{"sku": i.sku, "name": i.name, "quantity": i.quantity,
                              "price": i.price} for i in order.items], ensure_ascii=False),
        "total": order.total, "currency": order.currency,
    }


def _release_memory() -> None:
    """Hands the memory of a large parsed orders file back to the OS (glibc only)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the memory is reused by the process instead


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class SQLiteOrderBackend:
    """Orders in a SQLite database file (or ``:memory:``)."""

    def __init__(self, database: str | Path, label_url_template: str | None = None) -> None:
        """Opens (and creates) the database.

        Args:
            database: Path of the database file, or ``":memory:"``.
            label_url_template: Return-label link with ``{rma}``, or None.
        """
        if str(database) != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(database), check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._label_url_template = label_url_template
        with self._lock, self._conn:
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        """Closes the connection."""
        self._conn.close()

    def import_file(self, path: Path) -> int:
        """Loads the orders file; a file already imported unchanged is skipped.

        Malformed records are skipped with a warning naming their position (never their
        content, which holds personal data); the valid ones are imported.

        Args:
            path: The JSON orders file (``SHOP_ORDERS_FILE``).

        Returns:
            The number of orders written (0 when the file was already imported).

        Raises:
            ValueError: When the file is not a JSON list.
        """
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?",
                                     ("orders_file_sha256",)).fetchone()
        if row is not None and row["value"] == digest:
            return 0
        records = json.loads(data)
        if not isinstance(records, list):
            raise ValueError(f"{path}: the orders file must hold a JSON list")
        orders: list[Order] = []
        for position, record in enumerate(records):
            try:
                orders.append(parse_order(record))
            except InvalidOrderData as exc:
                logger.warning("orders file %s: record %d skipped: %s", path.name, position,
                               exc)
        self.upsert(orders)
        count = len(orders)
        del records, orders, data
        _release_memory()
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                ("orders_file_sha256", digest))
        logger.info("imported %d orders from %s", count, path.name)
        return count

    def upsert(self, orders: list[Order]) -> None:
        """Inserts or replaces orders (idempotent)."""
        with self._lock, self._conn:
            self._conn.executemany(UPSERT, [_order_params(o) for o in orders])

    def count(self) -> int:
        """Number of orders stored."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) AS n FROM orders").fetchone()["n"])

    def get_order(self, order_id: str) -> Order | None:
        """The order with this number, or None."""
        try:
            with self._lock:
                row = self._conn.execute("SELECT * FROM orders WHERE order_id = ?",
                                         (order_id,)).fetchone()
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"sqlite: {exc}") from exc
        return _row_to_order(row) if row is not None else None

    def find_verified(self, order_id: str, *, zip_code: str | None = None,
                      email: str | None = None) -> Order | None:
        """The order if the number exists and the zip code or email matches, else None."""
        order = self.get_order(order_id)
        # compare against a dummy when the order is unknown, so both paths do the same work
        expected_zip = order.zip_code if order else "\x00" * 5
        expected_email = order.email if order else "\x00" * 16
        matches = False
        if zip_code is not None:
            matches = _same(expected_zip, zip_code)
        elif email is not None:
            matches = _same(expected_email, email.lower())
        return order if order is not None and matches else None

    def create_return(self, order: Order, skus: tuple[str, ...], label: bool) -> ReturnRecord:
        """Stores a return with a new RMA number (and a label link when ``label``)."""
        rma = f"RMA-{order.order_id}-{secrets.token_hex(3).upper()}"
        label_url = (self._label_url_template.replace("{rma}", rma)
                     if label and self._label_url_template else None)
        try:
            with self._lock, self._conn:
                self._conn.execute(
                    "INSERT INTO returns (rma, order_id, skus, label_url, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (rma, order.order_id, json.dumps(list(skus)), label_url,
                     dt.datetime.now(dt.timezone.utc).isoformat()))
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"sqlite: {exc}") from exc
        return ReturnRecord(rma=rma, order_id=order.order_id, skus=skus, label_url=label_url)

    def returns_for(self, order_id: str) -> list[ReturnRecord]:
        """Returns created for an order, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM returns WHERE order_id = ? ORDER BY created_at",
                (order_id,)).fetchall()
        return [ReturnRecord(rma=r["rma"], order_id=r["order_id"],
                             skus=tuple(json.loads(r["skus"])), label_url=r["label_url"])
                for r in rows]

    def record_request(self, order_id: str, kind: str, conversation_id: str) -> None:
        """Stores a cancel / change-address request for the team."""
        try:
            with self._lock, self._conn:
                self._conn.execute(
                    "INSERT INTO requests (order_id, kind, conversation_id, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (order_id, kind, conversation_id,
                     dt.datetime.now(dt.timezone.utc).isoformat()))
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"sqlite: {exc}") from exc

    def requests_for(self, order_id: str) -> list[dict[str, str]]:
        """Recorded requests of an order (for tests and the team)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, conversation_id, created_at FROM requests WHERE order_id = ? "
                "ORDER BY id", (order_id,)).fetchall()
        return [dict(r) for r in rows]
