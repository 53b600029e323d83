"""Working days, dispatch and delivery dates, and dates written the German way.

Everything is computed in the shop's time zone from the policy: dispatch cut-off,
dispatch weekdays, delivery days (Monday to Saturday, without Sundays and the public
holidays of the shop's federal state).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from actions.shop.policy import DeliveryRange, Policy

GERMAN_WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag",
                   "Sonntag")
GERMAN_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
                 "September", "Oktober", "November", "Dezember")
ENGLISH_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                    "Sunday")
ENGLISH_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December")


def format_date(day: dt.date, language: str = "de") -> str:
    """Writes a date in full: "Dienstag, 8. Dezember 2026" / "Tuesday, 8 December 2026".

    Args:
        day: The date (a datetime is reduced to its date).
        language: ``de`` or ``en``.

    Returns:
        The written date.
    """
    if isinstance(day, dt.datetime):
        day = day.date()
    if language == "en":
        return f"{ENGLISH_WEEKDAYS[day.weekday()]}, {day.day} {ENGLISH_MONTHS[day.month - 1]} " \
               f"{day.year}"
    return f"{GERMAN_WEEKDAYS[day.weekday()]}, {day.day}. {GERMAN_MONTHS[day.month - 1]} {day.year}"


def format_time(value: dt.time) -> str:
    """Writes a clock time as HH:MM."""
    return f"{value.hour:02d}:{value.minute:02d}"


@lru_cache(maxsize=16)
def _holidays(state: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("DE", subdiv=state, years=year).keys())


def is_public_holiday(day: dt.date, policy: Policy) -> bool:
    """True when ``day`` is a public holiday in the shop's federal state."""
    return day in _holidays(policy.federal_state, day.year)


def is_delivery_day(day: dt.date, policy: Policy) -> bool:
    """Carriers deliver Monday to Saturday, not on Sundays and public holidays."""
    return day.weekday() != 6 and not is_public_holiday(day, policy)


def is_dispatch_day(day: dt.date, policy: Policy) -> bool:
    """The warehouse ships on the policy's dispatch weekdays that are not holidays."""
    return day.weekday() in policy.dispatch_weekdays and not is_public_holiday(day, policy)


def shop_now(policy: Policy, now: dt.datetime | None = None) -> dt.datetime:
    """The current time (or ``now``) in the shop's time zone."""
    zone = ZoneInfo(policy.timezone)
    if now is None:
        return dt.datetime.now(zone)
    if now.tzinfo is None:
        return now.replace(tzinfo=zone)
    return now.astimezone(zone)


def dispatch_date(policy: Policy, placed_at: dt.datetime | None = None) -> dt.date:
    """The day an order placed at ``placed_at`` (default: now) leaves the warehouse.

    Same day when placed before the cut-off on a dispatch day, else the next dispatch day.
    """
    local = shop_now(policy, placed_at)
    day = local.date()
    if is_dispatch_day(day, policy) and local.time() < policy.cutoff:
        return day
    day += dt.timedelta(days=1)
    for _ in range(60):
        if is_dispatch_day(day, policy):
            return day
        day += dt.timedelta(days=1)
    raise ValueError("policy: no dispatch day within 60 days")


def add_delivery_days(start: dt.date, days: int, policy: Policy) -> dt.date:
    """The date ``days`` delivery days after ``start`` (Sundays and holidays skipped)."""
    day = start
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_delivery_day(day, policy):
            remaining -= 1
    return day


def delivery_window(start: dt.date, span: DeliveryRange, policy: Policy
                    ) -> tuple[dt.date, dt.date]:
    """Earliest and latest delivery day for a parcel that leaves on ``start``."""
    return (add_delivery_days(start, span.min_days, policy),
            add_delivery_days(start, span.max_days, policy))


def to_local_date(value: str | None, policy: Policy) -> dt.date | None:
    """The shop-local date of an ISO 8601 timestamp, or None when empty or unparsable."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return shop_now(policy, parsed).date()
