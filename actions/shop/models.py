"""Orders as the shop answers see them, and the normalisation of what shoppers type."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

STATUSES = ("processing", "shipped", "delivered", "cancelled", "returned")

_ORDER_ID = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,19}$")
_ZIP = re.compile(r"^[0-9]{4,5}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$")
_COMMON_EMAIL_TYPOS = re.compile(
    r"@(gmial|gmai|gamil|gnail|gmx\.dee|web\.dee|yahooo|hotmial|outlok)\.|\.(con|cmo|dee|ocm)$",
    re.I)


class InvalidOrderData(ValueError):
    """An order record (from the orders file or a backend) is malformed."""


@dataclass(frozen=True)
class OrderItem:
    """One line of an order."""

    sku: str
    name: str
    quantity: int
    price: float


@dataclass(frozen=True)
class Order:
    """One order, with the shopper's email and postal code used for verification."""

    order_id: str
    email: str
    zip_code: str
    country: str
    status: str
    ordered_at: str
    shipped_at: str | None
    delivered_at: str | None
    carrier: str | None
    tracking_number: str | None
    items: tuple[OrderItem, ...]
    total: float
    currency: str
    updated_at: str | None = None

    def summary(self) -> dict[str, Any]:
        """The ``order_context`` slot value (docs/conventions.md); no email, no address."""
        return {
            "order_id": self.order_id, "status": self.status, "carrier": self.carrier,
            "tracking_number": self.tracking_number, "total": self.total,
            "currency": self.currency, "country": self.country,
            "items": [{"sku": i.sku, "name": i.name, "quantity": i.quantity} for i in self.items],
            "ordered_at": self.ordered_at, "shipped_at": self.shipped_at,
            "delivered_at": self.delivered_at,
        }

    def last_change(self) -> str:
        """Timestamp of the latest status change known in the order data."""
        stamps = [s for s in (self.updated_at, self.delivered_at, self.shipped_at,
                              self.ordered_at) if s]
        return max(stamps, key=_timestamp)


def _timestamp(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _check_time(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        _timestamp(value)
    except ValueError as exc:
        raise InvalidOrderData(f"{field} is not an ISO 8601 timestamp") from exc
    return value


def parse_order(raw: Any) -> Order:
    """Validates one order record of the orders file (format in ARCHITECTURE.md).

    Args:
        raw: One decoded JSON object.

    Returns:
        The order.

    Raises:
        InvalidOrderData: When a required field is missing or malformed.
    """
    if not isinstance(raw, dict):
        raise InvalidOrderData("an order must be a JSON object")
    try:
        order_id = normalise_order_id(str(raw["order_id"]))
        if order_id is None:
            raise InvalidOrderData("order_id is malformed")
        status = str(raw["status"])
        if status not in STATUSES:
            raise InvalidOrderData(f"status must be one of {', '.join(STATUSES)}")
        items = tuple(
            OrderItem(sku=str(i["sku"]), name=str(i["name"]), quantity=int(i["quantity"]),
                      price=float(i["price"]))
            for i in raw.get("items") or [])
        if not items:
            raise InvalidOrderData("an order needs at least one item")
        return Order(
            order_id=order_id,
            email=str(raw["email"]).strip().lower(),
            zip_code=str(raw["zip_code"]).strip(),
            country=str(raw["country"]).upper(),
            status=status,
            ordered_at=str(_check_time(str(raw["ordered_at"]), "ordered_at")),
            shipped_at=_check_time(_opt_str(raw.get("shipped_at")), "shipped_at"),
            delivered_at=_check_time(_opt_str(raw.get("delivered_at")), "delivered_at"),
            carrier=_opt_str(raw.get("carrier")),
            tracking_number=_opt_str(raw.get("tracking_number")),
            items=items,
            total=float(raw["total"]),
            currency=str(raw.get("currency", "EUR")),
            updated_at=_check_time(_opt_str(raw.get("updated_at")), "updated_at"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidOrderData):
            raise
        raise InvalidOrderData(f"order record is malformed: {type(exc).__name__} {exc}") from exc


def normalise_order_id(text: str | None) -> str | None:
    """An order number as the shop stores it ("#10482 " -> "10482"), or None if malformed."""
    if text is None:
        return None
    value = re.sub(r"\s+", "", str(text)).lstrip("#").upper()
    for prefix in ("NR.", "NR", "NO."):
        if value.startswith(prefix) and len(value) > len(prefix):
            value = value[len(prefix):]
    return value if _ORDER_ID.match(value) else None


def normalise_zip(text: str | None) -> str | None:
    """A postal code of DE (5 digits), AT or CH (4 digits), or None if malformed."""
    if text is None:
        return None
    value = re.sub(r"\s+", "", str(text))
    for prefix in ("D-", "A-", "CH-", "DE-", "AT-"):
        if value.upper().startswith(prefix):
            value = value[len(prefix):]
    return value if _ZIP.match(value) else None


def normalise_email(text: str | None) -> str | None:
    """A syntactically valid email address in lower case, or None.

    Obvious domain typos ("gmial.com", ".con") are rejected too, so the shopper is asked
    to check the address instead of being told it does not match.
    """
    if text is None:
        return None
    value = str(text).strip().lower()
    if not _EMAIL.match(value) or ".." in value or _COMMON_EMAIL_TYPOS.search(value):
        return None
    return value
