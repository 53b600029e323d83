"""Every response in every domain file: bilingual, formal "Sie", never a product tip.

These tests read all of ``bot/domain/*.yml``, so they also check the responses other
features add.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "bot" / "domain"

# Informal German: du-pronouns, informal plural, and verb forms that only go with "du".
DU_FORMS = re.compile(
    r"\b(du|dich|dir|dein|deine|deinen|deinem|deiner|deines|euch|euer|eure|euren|eurem|"
    r"eurer|bist|hast|kannst|willst|möchtest|musst|sollst|darfst|wirst|weißt|brauchst|"
    r"findest|gibst|siehst|schreibst|meldest|klickst|wählst|schickst|bekommst)\b"
    r"|(?<![.!?:]\s)(?<!^)\bihr\b",  # lower-case "ihr" = informal plural (not formal "Ihr")
)

# Phrasing that recommends, suggests or promotes a product (German and English).
RECOMMENDING = re.compile(
    r"\b(ich|wir) empfehlen?\b|\bempfehle ich\b|\bempfehlen wir\b|\bempfehlenswert\b"
    r"|\bunser(e|en|em)? (tipp|bestseller|favorit|empfehlung)"
    r"|\bkönnte(n)? ihnen (auch )?gefallen\b|\bprobieren sie\b|\bgreifen sie zu\b"
    r"|\bpasst (gut|perfekt|ideal)\b|\bdazu passt\b|\bsehr beliebt\b|\bkunden kauften auch\b"
    r"|\bi (would |'d )?recommend\b|\bwe (would |'d )?recommend\b|\bi suggest\b"
    r"|\byou (might|may|will) (also )?(like|love)\b"
    r"|\b(our|a) (bestseller|top pick|favourite|favorite)\b"
    r"|\bcustomers also bought\b|\btry (our|the|this)\b|\bperfect (for you|choice)\b",
    re.IGNORECASE,
)


def load_responses() -> list[tuple[str, str, dict[str, Any]]]:
    """All response variants as (file, response name, variant)."""
    found = []
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        domain = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variants in (domain.get("responses") or {}).items():
            for variant in variants or []:
                found.append((path.name, name, variant))
    return found


def is_english(variant: dict[str, Any]) -> bool:
    return any(c.get("type") == "slot" and c.get("name") == "language"
               and c.get("value") == "en" for c in variant.get("condition") or [])


def variant_texts(variant: dict[str, Any]) -> list[str]:
    """The text and the button titles of a variant."""
    texts = [str(variant.get("text") or "")]
    texts += [str(b.get("title", "")) for b in variant.get("buttons") or []]
    return [t for t in texts if t]


RESPONSES = load_responses()
GERMAN = [(f, n, v) for f, n, v in RESPONSES if not v.get("condition")]
ALL_TEXTS = [(f, n, t) for f, n, v in RESPONSES for t in variant_texts(v)]


def test_domain_has_responses() -> None:
    assert len({n for _, n, _ in RESPONSES}) >= 8


def test_every_response_exists_in_german_and_english() -> None:
    by_name: dict[str, dict[str, int]] = {}
    for file, name, variant in RESPONSES:
        counts = by_name.setdefault(f"{file}:{name}", {"de": 0, "en": 0, "other": 0})
        if not variant.get("condition"):
            counts["de"] += 1
        elif is_english(variant):
            counts["en"] += 1
        else:
            counts["other"] += 1
    missing = {name: c for name, c in by_name.items() if not c["de"] or not c["en"]}
    assert not missing, f"responses without a German default or an English variant: {missing}"


def test_english_variants_are_not_german() -> None:
    """A copy-pasted German text in the English slot would slip past the check above."""
    from bot.components.language import detect_language

    wrong = []
    for file, name, variant in RESPONSES:
        if is_english(variant):
            signal = detect_language(str(variant.get("text") or ""))
            if signal is not None and signal.language == "de":
                wrong.append(f"{file}:{name}")
    assert not wrong


@pytest.mark.parametrize(("file", "name", "variant"), GERMAN,
                         ids=[f"{f}:{n}" for f, n, _ in GERMAN])
def test_german_responses_use_formal_sie(file: str, name: str, variant: dict) -> None:
    for text in variant_texts(variant):
        match = DU_FORMS.search(text)
        assert match is None, f"{file}:{name} uses the du-form {match.group(0)!r}: {text}"


@pytest.mark.parametrize(("file", "name", "text"), ALL_TEXTS,
                         ids=[f"{f}:{n}" for f, n, _ in ALL_TEXTS])
def test_no_exclamation_cheerfulness(file: str, name: str, text: str) -> None:
    assert "!" not in text, f"{file}:{name}: {text}"


@pytest.mark.parametrize(("file", "name", "text"), ALL_TEXTS,
                         ids=[f"{f}:{n}" for f, n, _ in ALL_TEXTS])
def test_no_response_recommends_products(file: str, name: str, text: str) -> None:
    match = RECOMMENDING.search(text)
    assert match is None, f"{file}:{name} recommends ({match.group(0)!r}): {text}"


@pytest.mark.parametrize("text", [
    "Kannst du mir kurz deine Bestellnummer schicken?",
    "Hast du noch Fragen?",
    "Wie kann ich dir helfen?",
    "Schön, dass ihr da seid.",
])
def test_du_check_catches_informal_german(text: str) -> None:
    assert DU_FORMS.search(text)


@pytest.mark.parametrize("text", [
    "Wie kann ich Ihnen helfen?", "Ihr Paket ist unterwegs.", "Haben Sie Ihre Bestellnummer?",
    "Bitte nennen Sie Ihre Postleitzahl. Ihr Paket wird morgen zugestellt.",
])
def test_du_check_accepts_formal_german(text: str) -> None:
    assert DU_FORMS.search(text) is None


@pytest.mark.parametrize("text", [
    "Ich empfehle Ihnen die Regenjacke Nordkap.", "Dazu passt gut unsere Mütze.",
    "Unser Bestseller ist die Jacke Fjord.", "Das könnte Ihnen auch gefallen.",
    "I recommend the Nordkap jacket.", "You might also like our hiking boots.",
    "Customers also bought this backpack.",
])
def test_recommendation_check_catches_product_tips(text: str) -> None:
    assert RECOMMENDING.search(text)
