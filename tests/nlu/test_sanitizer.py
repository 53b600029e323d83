"""The NLU copy of bad input: no control characters, bounded length."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.components.sanitizer import MAX_NLU_CHARS, TextSanitizer, sanitize_text


def test_control_characters_become_spaces() -> None:
    assert sanitize_text("wo\x00ist\x1b[31m meine\u200b Bestellung\r\n") == \
        "wo ist [31m meine Bestellung"


def test_invalid_utf8_surrogates_are_removed() -> None:
    broken = b"Bestellung \xff\xfe 10482".decode("utf-8", errors="surrogateescape")
    assert sanitize_text(broken) == "Bestellung 10482"
    assert sanitize_text("Bestellung \ufffd 10482") == "Bestellung 10482"


def test_long_text_is_cut_at_a_word_boundary() -> None:
    text = "Wo ist meine Bestellung " * 500
    cleaned = sanitize_text(text)
    assert len(cleaned) <= MAX_NLU_CHARS
    assert cleaned.endswith(("Wo", "ist", "meine", "Bestellung"))


def test_emoji_and_umlauts_are_kept() -> None:
    assert sanitize_text("Päckchen kaputt 😡") == "Päckchen kaputt 😡"


def test_component_changes_only_the_nlu_copy() -> None:
    original = "x" * 10_000
    message = Message(data={"text": original})
    TextSanitizer(200).process([message])
    assert len(message.get("text")) == 200
    assert len(original) == 10_000
