"""Business hours, public holidays and SLA deadlines from the shop's policy file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SLA_MINUTES = 60
# share of the SLA target left per severity (0 normal .. 3 legal threat)
SEVERITY_FACTOR = (1.0, 0.75, 0.5, 0.25)


@dataclass(frozen=True)
class Policy:
    """The parts of the shop policy the handoff needs.

    Attributes:
        timezone: The shop's time zone.
        federal_state: German federal state whose public holidays apply.
        business_hours: Opening and closing time per weekday key (``mon`` ..).
        sla_minutes: First-response target per channel.
        high_order_value: Order total from which an escalation is flagged.
    """

    timezone: ZoneInfo
    federal_state: str
    business_hours: dict[str, tuple[time, time]]
    sla_minutes: dict[str, int]
    high_order_value: float

    def sla_for(self, channel: str) -> int:
        """First-response target in minutes for a channel (widget default for unknown)."""
        return int(self.sla_minutes.get(channel, self.sla_minutes.get("widget",
                                                                      DEFAULT_SLA_MINUTES)))

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday in the shop's federal state."""
        return day in holidays.country_holidays("DE", subdiv=self.federal_state,
                                                years=day.year)

    def is_open(self, moment: datetime) -> bool:
        """Whether the human team works at ``moment`` (an aware datetime)."""
        local = moment.astimezone(self.timezone)
        hours = self.business_hours.get(WEEKDAYS[local.weekday()])
        if hours is None or self.is_holiday(local.date()):
            return False
        return hours[0] <= local.time() < hours[1]

    def next_opening(self, moment: datetime) -> datetime:
        """The moment the team is (or next will be) at work, from ``moment`` on."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.timezone)
        for offset in range(0, 15):
            day = local.date() + timedelta(days=offset)
            hours = self.business_hours.get(WEEKDAYS[day.weekday()])
            if hours is None or self.is_holiday(day):
                continue
            opening = datetime.combine(day, hours[0], tzinfo=self.timezone)
            if opening > local:
                return opening
        raise ValueError("the policy has no business hours in the next two weeks")

    def due_at(self, created: datetime, channel: str, severity: int) -> datetime:
        """SLA deadline: target per channel, shortened by severity, from the next opening."""
        factor = SEVERITY_FACTOR[max(0, min(severity, len(SEVERITY_FACTOR) - 1))]
        minutes = self.sla_for(channel) * factor
        return self.next_opening(created) + timedelta(minutes=minutes)


def _clock(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def load_policy(path: Path) -> Policy:
    """Reads the policy file.

    Args:
        path: ``SHOP_POLICY_FILE``.

    Returns:
        The handoff-relevant policy.
    """
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    shop = data.get("shop", {})
    service = data.get("customer_service", {})
    hours = {day: (_clock(span[0]), _clock(span[1]))
             for day, span in (service.get("business_hours") or {}).items()}
    return Policy(
        timezone=ZoneInfo(shop.get("timezone", "Europe/Berlin")),
        federal_state=str(shop.get("federal_state", "BE")),
        business_hours=hours,
        sla_minutes={k: int(v) for k, v in (service.get("sla_minutes") or {}).items()},
        high_order_value=float(shop.get("high_order_value", 250)),
    )
