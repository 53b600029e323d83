"""Reply-language detection for German-first conversations.

:func:`detect_language` decides, for one message, whether it carries enough signal to
set the conversation language (``de`` or ``en``) and whether it is an explicit request
("Can we speak English?", "Bitte auf Deutsch"). :class:`LanguageDetector` is the Rasa NLU
component that runs it on every message and adds the result as a ``language`` entity;
``actions/language.py`` turns that entity into the ``language`` slot, keeping the current
language when the message says nothing (short messages, numbers, e-mail addresses).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

LANGUAGES = ("de", "en")
ENTITY_NAME = "language"
EXTRACTOR_NAME = "LanguageDetector"

# Explicit requests to switch the language; checked before anything else.
_EXPLICIT = {
    "en": [
        r"\b(speak|talk|write|answer|reply|respond|continue|switch)\b.{0,20}\benglish\b",
        r"\bin english\b",
        r"\benglish,?\s*(please|pls|plz)\b",
        r"\bi (don'?t|do not|can'?t|cannot) (speak|understand|read) german\b",
        r"^\W*english\W*$",
        r"\b(auf|in) englisch\b",
        r"\b(sprechen|sprichst|schreiben|antworten|reden)\b.{0,20}\benglisch\b",
        r"\benglisch,?\s*bitte\b",
        r"^\W*englisch\W*$",
        r"\bich (spreche|verstehe|kann) kein(e|en)? deutsch\b",
    ],
    "de": [
        r"\b(auf|in) deutsch\b",
        r"\b(sprechen|sprichst|schreiben|antworten|reden)\b.{0,20}\bdeutsch\b",
        r"\bdeutsch,?\s*bitte\b",
        r"^\W*deutsch\W*$",
        r"\bich (spreche|verstehe|kann) kein(e|en)? englisch\b",
        r"\b(speak|talk|write|answer|reply|respond|continue|switch)\b.{0,20}\bgerman\b",
        r"\bin german\b",
        r"\bgerman,?\s*(please|pls|plz)\b",
        r"^\W*german\W*$",
    ],
}
_EXPLICIT_RE = {lang: [re.compile(p, re.IGNORECASE) for p in pats]
                for lang, pats in _EXPLICIT.items()}

# Parts of a message that carry no language: links, e-mail addresses, numbers, emoji.
_NOISE_RE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+|[#\d]+\S*")
_WORD_RE = re.compile(r"[^\W\d_]{2,}")

# Words that are the same or common in both languages and say nothing on their own.
_NEUTRAL = {"hallo", "hi", "hey", "ok", "okay", "danke", "bitte", "super", "sorry",
            "tracking", "paypal", "dhl", "ups", "hermes", "dpd", "gls", "klarna", "email",
            "mail", "shop", "service", "support", "status", "retoure", "storno"}

MIN_WORDS = 3
MIN_PROBABILITY = 0.90


@dataclass(frozen=True)
class LanguageSignal:
    """What one message says about the conversation language.

    Attributes:
        language: ``de`` or ``en``.
        explicit: True if the shopper asked for this language in words.
        confidence: Detector probability (1.0 for explicit requests).
    """

    language: str
    explicit: bool
    confidence: float


class _Detector:
    """A langdetect factory restricted to German and English, with a fixed seed."""

    def __init__(self) -> None:
        import langdetect
        from langdetect.detector_factory import DetectorFactory

        profiles = Path(langdetect.__file__).parent / "profiles"
        factory = DetectorFactory()
        factory.load_json_profile([(profiles / lang).read_text(encoding="utf-8")
                                   for lang in LANGUAGES])
        factory.seed = 0
        self._factory = factory
        self._lock = threading.Lock()

    def probabilities(self, text: str) -> Dict[str, float]:
        from langdetect.lang_detect_exception import LangDetectException

        with self._lock:
            detector = self._factory.create()
            detector.append(text)
            try:
                return {p.lang: float(p.prob) for p in detector.get_probabilities()}
            except LangDetectException:
                return {}


_detector: _Detector | None = None


def _get_detector() -> _Detector:
    global _detector
    if _detector is None:
        _detector = _Detector()
    return _detector


def explicit_request(text: str) -> str | None:
    """The language the shopper explicitly asks for, if any.

    Args:
        text: The shopper's message.

    Returns:
        ``de``, ``en`` or None.
    """
    sample = text[:300]
    for lang in LANGUAGES:
        if any(p.search(sample) for p in _EXPLICIT_RE[lang]):
            return lang
    return None


def detect_language(text: str) -> LanguageSignal | None:
    """Decides whether a message sets the conversation language.

    Short or ambiguous messages ("Hallo", "ok", "10482", an e-mail address) return None,
    so the conversation keeps its current language.

    Args:
        text: The shopper's message.

    Returns:
        The signal, or None when the message does not carry enough of it.
    """
    if not text or not text.strip():
        return None
    requested = explicit_request(text)
    if requested:
        return LanguageSignal(requested, True, 1.0)
    cleaned = _NOISE_RE.sub(" ", text[:1000])
    words = [w for w in _WORD_RE.findall(cleaned) if w.lower() not in _NEUTRAL]
    if len(words) < MIN_WORDS:
        return None
    probabilities = _get_detector().probabilities(" ".join(words))
    if not probabilities:
        return None
    language, probability = max(probabilities.items(), key=lambda item: item[1])
    if probability < MIN_PROBABILITY:
        return None
    return LanguageSignal(language, False, probability)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds a ``language`` entity (``de``/``en``) when a message carries enough signal.

    The entity has ``"explicit": true`` when the shopper asked for the language in words.
    Nothing is added for short or ambiguous messages.
    """

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> LanguageDetector:
        """Creates the component (see parent class for the arguments)."""
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the language entity to every message that carries a language signal.

        Args:
            messages: Messages of this turn.

        Returns:
            The same messages.
        """
        for message in messages:
            text = message.get(TEXT) or ""
            signal = detect_language(text)
            if signal is None:
                continue
            entity = {"entity": ENTITY_NAME, "value": signal.language,
                      "start": 0, "end": len(text), "confidence_entity": signal.confidence,
                      "extractor": EXTRACTOR_NAME, "explicit": signal.explicit}
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
