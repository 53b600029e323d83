"""Typed reader of the shop policy file (``SHOP_POLICY_FILE``, default data/shop/policy.yml)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STATUTORY_RETURN_DAYS = 14


class PolicyError(ValueError):
    """The policy file is missing a key or holds a value we cannot use."""


@dataclass(frozen=True)
class DeliveryRange:
    """Working days from dispatch to delivery for one destination country."""

    min_days: int
    max_days: int
    name: dict[str, str] = field(default_factory=dict)  # language -> country name
    destination: dict[str, str] = field(default_factory=dict)  # "nach Österreich"

    def name_in(self, language: str, country: str) -> str:
        """The country's name in ``language`` (the ISO code when the policy has none)."""
        return self.name.get(language) or self.name.get("de") or country

    def destination_in(self, language: str, country: str) -> str:
        """The phrase for "delivery ... takes" in ``language`` ("nach Österreich")."""
        return self.destination.get(language) or self.destination.get("de") or country


@dataclass(frozen=True)
class ReturnPolicy:
    """What the shop promises about returns."""

    period_days: int
    shipping_paid_by: str  # "shop" | "customer"
    refund_days: int
    condition: dict[str, str]
    label_countries: tuple[str, ...]
    label_url: str | None = None  # return-label link with {rma}


@dataclass(frozen=True)
class Policy:
    """The parts of the shop policy the shop answers need."""

    shop_name: str
    timezone: str
    federal_state: str
    currency: str
    cutoff: dt.time
    dispatch_weekdays: frozenset[int]  # 0 = Monday
    delivery_days: dict[str, DeliveryRange]
    returns: ReturnPolicy
    tracking_urls: dict[str, str] = field(default_factory=dict)

    def tracking_url(self, carrier: str | None, tracking_number: str | None) -> str | None:
        """The carrier's public tracking link for a parcel, or None when unknown."""
        if not carrier or not tracking_number:
            return None
        template = self.tracking_urls.get(carrier) or next(
            (url for name, url in self.tracking_urls.items() if name.lower() == carrier.lower()),
            None)
        if template is None:
            return None
        return template.replace("{tracking_number}", tracking_number)


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise PolicyError(f"policy: missing key {where}{key}")
    return mapping[key]


def _parse_time(value: Any, where: str) -> dt.time:
    try:
        hours, minutes = str(value).split(":")
        return dt.time(int(hours), int(minutes))
    except (ValueError, TypeError) as exc:
        raise PolicyError(f"policy: {where} must be HH:MM, not {value!r}") from exc


def parse_policy(raw: Any) -> Policy:
    """Builds a :class:`Policy` from the parsed YAML.

    Args:
        raw: The YAML document as loaded by ``yaml.safe_load``.

    Returns:
        The typed policy.

    Raises:
        PolicyError: When a key is missing or a value is unusable.
    """
    shop = _require(raw, "shop", "")
    dispatch = _require(raw, "dispatch", "")
    returns = _require(raw, "returns", "")
    weekdays = _require(dispatch, "weekdays", "dispatch.")
    try:
        dispatch_days = frozenset(WEEKDAYS.index(str(day).lower()[:3]) for day in weekdays)
    except ValueError as exc:
        raise PolicyError(f"policy: dispatch.weekdays has an unknown day: {weekdays}") from exc
    delivery: dict[str, DeliveryRange] = {}
    for country, days in dict(_require(raw, "delivery_days", "")).items():
        low, high = int(_require(days, "min", f"delivery_days.{country}.")), int(
            _require(days, "max", f"delivery_days.{country}."))
        if low < 0 or high < low:
            raise PolicyError(f"policy: delivery_days.{country} needs 0 <= min <= max")
        delivery[str(country).upper()] = DeliveryRange(
            low, high,
            name={str(k): str(v) for k, v in dict(days.get("name") or {}).items()},
            destination={str(k): str(v) for k, v in dict(days.get("to") or {}).items()})
    period = int(_require(returns, "period_days", "returns."))
    if period < STATUTORY_RETURN_DAYS:
        raise PolicyError(f"policy: returns.period_days must be at least the statutory "
                          f"{STATUTORY_RETURN_DAYS} days, not {period}")
    paid_by = str(_require(returns, "return_shipping_paid_by", "returns."))
    if paid_by not in ("shop", "customer"):
        raise PolicyError("policy: returns.return_shipping_paid_by must be shop or customer")
    condition = returns.get("condition") or {}
    if isinstance(condition, str):
        condition = {"de": condition, "en": condition}
    carriers = raw.get("carriers") or {}
    return Policy(
        shop_name=str(shop.get("name", "")),
        timezone=str(shop.get("timezone", "Europe/Berlin")),
        federal_state=str(_require(shop, "federal_state", "shop.")),
        currency=str(shop.get("currency", "EUR")),
        cutoff=_parse_time(_require(dispatch, "cutoff", "dispatch."), "dispatch.cutoff"),
        dispatch_weekdays=dispatch_days,
        delivery_days=delivery,
        returns=ReturnPolicy(
            period_days=period, shipping_paid_by=paid_by,
            refund_days=int(returns.get("refund_days", 14)),
            condition={str(k): str(v) for k, v in dict(condition).items()},
            label_countries=tuple(str(c).upper() for c in returns.get("label_countries", [])),
            label_url=str(returns["label_url"]) if returns.get("label_url") else None,
        ),
        tracking_urls={str(name): str(value.get("tracking_url", ""))
                       for name, value in dict(carriers).items() if isinstance(value, dict)},
    )


def load_policy(path: Path) -> Policy:
    """Reads and validates the policy file.

    Args:
        path: Path of the YAML policy file.

    Returns:
        The typed policy.

    Raises:
        PolicyError: When the file cannot be read or is invalid.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"policy: cannot read {path}: {exc}") from exc
    return parse_policy(raw)
