"""The shop's domain files: every response German + English, formal, used, and existing.

``rasa data validate`` cannot see responses that actions dispatch; this test can.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = ["verification.yml", "orders.yml", "delivery.yml", "returns.yml"]
ACTION_FILES = ["verification.py", "orders.py", "delivery.py", "returns.py"]
# values the f-string response names in the actions can take
DYNAMIC = {"order.status": ["cancelled", "returned"],
           "returns.shipping_paid_by": ["shop", "customer"]}
DU_FORMS = re.compile(r"\b(du|dich|dir|dein|deine|deinen|deinem|deiner|euch|euer)\b", re.I)


def responses() -> dict[str, list[dict]]:
    merged: dict[str, list[dict]] = {}
    for name in FILES:
        merged.update(yaml.safe_load((ROOT / "bot/domain" / name).read_text())["responses"])
    return merged


def dispatched() -> set[str]:
    names: set[str] = set()
    for name in ACTION_FILES:
        source = (ROOT / "actions" / name).read_text()
        names |= set(re.findall(r'response="(utter_[a-z_]+)"', source))
        for prefix, expression in re.findall(r'response=f"(utter_[a-z_]+)\{([a-z_.]+)\}"',
                                             source):
            names |= {prefix + value for value in DYNAMIC[expression]}
    return names


@pytest.mark.parametrize("name", sorted(responses()))
def test_german_default_and_english_variant(name: str) -> None:
    variants = responses()[name]
    german = [v for v in variants if not v.get("condition")]
    english = [v for v in variants if v.get("condition") == [
        {"type": "slot", "name": "language", "value": "en"}]]
    assert len(german) == 1 and len(english) == 1 and len(variants) == 2
    assert set(re.findall(r"\{(\w+)\}", german[0]["text"])) == \
        set(re.findall(r"\{(\w+)\}", english[0]["text"]))
    for variant in variants:
        assert "!" not in variant["text"]
    assert not DU_FORMS.search(german[0]["text"])


def test_every_dispatched_response_exists() -> None:
    assert dispatched() - set(responses()) == set()


def test_every_response_is_dispatched_or_asked_by_the_form() -> None:
    asked_by_form = {"utter_ask_order_number", "utter_ask_zip_code"}
    assert set(responses()) - dispatched() - asked_by_form == set()
