"""The language component: measured on a held-out set, deterministic, explicit switches."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.components.language import LanguageDetector, detect_language

HELDOUT = Path(__file__).with_name("language_heldout.yml")


def heldout() -> list[tuple[str, str, str]]:
    return [tuple(item) for item in yaml.safe_load(HELDOUT.read_text())["messages"]]


def reply_language(current: str, text: str) -> str:
    signal = detect_language(text)
    return signal.language if signal else current


def test_reply_language_accuracy_on_heldout_set() -> None:
    cases = heldout()
    assert len(cases) >= 80
    wrong = [(c, e, t) for c, e, t in cases if reply_language(c, t) != e]
    accuracy = 1 - len(wrong) / len(cases)
    assert accuracy >= 0.98, f"accuracy {accuracy:.3f}, wrong: {wrong}"


@pytest.mark.parametrize("text", ["Hallo", "ok", "Danke", "10482", "jana.becker@example.de",
                                  "", "👍", "Lieferzeit?", "PLZ 10115"])
def test_short_or_ambiguous_messages_carry_no_signal(text: str) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize(("text", "language"), [
    ("Can we speak English?", "en"), ("Bitte auf Deutsch", "de"),
    ("Sprechen Sie Englisch?", "en"), ("please answer in German", "de"),
])
def test_explicit_requests(text: str, language: str) -> None:
    signal = detect_language(text)
    assert signal is not None and signal.explicit and signal.language == language


def test_ordinary_sentences_are_not_explicit_requests() -> None:
    signal = detect_language("Where is my order, I ordered last week")
    assert signal is not None and signal.language == "en" and not signal.explicit


def test_detection_is_deterministic() -> None:
    texts = ["Hallo, where is my order?", "kann ich das zurück schicken bitte",
             "the parcel ist kaputt angekommen"]
    first = [detect_language(t) for t in texts]
    for _ in range(5):
        assert [detect_language(t) for t in texts] == first


def test_component_adds_language_entity_only_with_signal() -> None:
    from rasa.shared.nlu.training_data.message import Message

    component = LanguageDetector()
    messages = [Message(data={"text": "How long does shipping to Austria take?"}),
                Message(data={"text": "10482"})]
    component.process(messages)
    entities = [m.get("entities", []) for m in messages]
    assert [e["value"] for e in entities[0] if e["entity"] == "language"] == ["en"]
    assert not [e for e in entities[1] if e["entity"] == "language"]
