"""The policy reader: typed values, and clear errors for what a shop owner gets wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from actions.shop.policy import PolicyError, load_policy, parse_policy
from tests.shop.helpers import POLICY


def raw_policy() -> dict:
    return yaml.safe_load(POLICY.read_text())


def test_demo_policy_is_read() -> None:
    policy = load_policy(POLICY)
    assert policy.cutoff == dt.time(14, 0)
    assert policy.dispatch_weekdays == frozenset({0, 1, 2, 3, 4})
    assert policy.delivery_days["AT"].min_days == 2
    assert policy.delivery_days["CH"].destination_in("de", "CH") == "in die Schweiz"
    assert policy.returns.period_days >= 14
    assert policy.tracking_url("DHL", "123").endswith("piececode=123")
    assert policy.tracking_url("Unknown", "123") is None


@pytest.mark.parametrize(("path", "value", "message"), [
    (("returns", "period_days"), 10, "statutory"),
    (("dispatch", "cutoff"), "2 pm", "HH:MM"),
    (("dispatch", "weekdays"), ["mon", "funday"], "unknown day"),
    (("returns", "return_shipping_paid_by"), "nobody", "shop or customer"),
])
def test_bad_values_are_refused_clearly(path: tuple[str, str], value: object,
                                        message: str) -> None:
    raw = raw_policy()
    raw[path[0]][path[1]] = value
    with pytest.raises(PolicyError, match=message):
        parse_policy(raw)


def test_missing_key_is_named(tmp_path: Path) -> None:
    raw = raw_policy()
    del raw["dispatch"]["cutoff"]
    target = tmp_path / "policy.yml"
    target.write_text(yaml.safe_dump(raw))
    with pytest.raises(PolicyError, match="dispatch.cutoff"):
        load_policy(target)


def test_unreadable_file_is_a_policy_error(tmp_path: Path) -> None:
    target = tmp_path / "policy.yml"
    target.write_text("returns: [unclosed")
    with pytest.raises(PolicyError):
        load_policy(target)
