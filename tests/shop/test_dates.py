"""Dispatch and delivery days around weekends, Christmas and New Year; German dates."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from actions.shop.dates import add_delivery_days, dispatch_date, format_date
from actions.shop.policy import load_policy
from tests.shop.helpers import POLICY, berlin

policy = load_policy(POLICY)


@pytest.mark.parametrize(("day", "language", "written"), [
    (dt.date(2026, 12, 8), "de", "Dienstag, 8. Dezember 2026"),
    (dt.date(2026, 12, 8), "en", "Tuesday, 8 December 2026"),
    (dt.date(2027, 3, 1), "de", "Montag, 1. März 2027"),
    (dt.date(2027, 1, 3), "de", "Sonntag, 3. Januar 2027"),
])
def test_dates_are_written_in_full(day: dt.date, language: str, written: str) -> None:
    assert format_date(day, language) == written


@pytest.mark.parametrize(("placed", "leaves"), [
    (berlin(2026, 12, 4, 10, 0), dt.date(2026, 12, 4)),    # Friday before the cut-off
    (berlin(2026, 12, 4, 13, 59), dt.date(2026, 12, 4)),
    (berlin(2026, 12, 4, 14, 0), dt.date(2026, 12, 7)),    # Friday at the cut-off: Monday
    (berlin(2026, 12, 5, 9, 0), dt.date(2026, 12, 7)),     # Saturday
    (berlin(2026, 12, 6, 9, 0), dt.date(2026, 12, 7)),     # Sunday
    (berlin(2026, 12, 24, 10, 0), dt.date(2026, 12, 24)),  # Christmas Eve is a working day
    (berlin(2026, 12, 24, 15, 0), dt.date(2026, 12, 28)),  # 25th, 26th holidays, 27th Sunday
    (berlin(2026, 12, 31, 15, 0), dt.date(2027, 1, 4)),    # New Year's Day is a Friday
    (berlin(2027, 3, 5, 15, 0), dt.date(2027, 3, 9)),      # 8 March: holiday in Berlin only
])
def test_dispatch_day(placed: dt.datetime, leaves: dt.date) -> None:
    assert dispatch_date(policy, placed) == leaves


def test_utc_input_is_read_in_shop_time() -> None:
    # 13:30 UTC is 14:30 in Berlin: after the cut-off
    placed = dt.datetime(2026, 12, 4, 13, 30, tzinfo=dt.timezone.utc)
    assert dispatch_date(policy, placed) == dt.date(2026, 12, 7)


@pytest.mark.parametrize(("start", "days", "arrives"), [
    (dt.date(2026, 12, 4), 2, dt.date(2026, 12, 7)),   # Saturday counts, Sunday does not
    (dt.date(2026, 12, 4), 4, dt.date(2026, 12, 9)),
    (dt.date(2026, 12, 24), 2, dt.date(2026, 12, 29)),  # over both Christmas days + Sunday
    (dt.date(2026, 12, 31), 4, dt.date(2027, 1, 6)),    # over New Year
])
def test_delivery_days_skip_sundays_and_holidays(start: dt.date, days: int,
                                                 arrives: dt.date) -> None:
    assert add_delivery_days(start, days, policy) == arrives


def test_holidays_follow_the_federal_state_of_the_policy() -> None:
    bavaria = dataclasses.replace(policy, federal_state="BY")
    # 6 January (Epiphany) is a holiday in Bavaria, not in Berlin
    assert add_delivery_days(dt.date(2026, 12, 31), 4, policy) == dt.date(2027, 1, 6)
    assert add_delivery_days(dt.date(2026, 12, 31), 4, bavaria) == dt.date(2027, 1, 7)
    assert dispatch_date(bavaria, berlin(2027, 3, 5, 15, 0)) == dt.date(2027, 3, 8)
