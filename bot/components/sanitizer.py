"""Makes any shopper message safe for the NLU pipeline without changing the history.

Rasa stores the shopper's original text in the tracker (the ``user`` event); this
component only changes the copy the NLU pipeline sees: control characters and invalid
code points are replaced by spaces and the text is cut to :data:`MAX_NLU_CHARS`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

MAX_NLU_CHARS = 500
_SPACES = re.compile(r"\s+")


def sanitize_text(text: str, max_chars: int = MAX_NLU_CHARS) -> str:
    """The NLU copy of a message: printable, single-spaced, at most ``max_chars`` long.

    Control and format characters, lone surrogates (from invalid UTF-8) and the Unicode
    replacement character become spaces. The cut happens at a word boundary when one is
    near.

    Args:
        text: The shopper's message.
        max_chars: Longest text handed to the NLU pipeline.

    Returns:
        The cleaned text (may be empty).
    """
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") or ch == "\ufffd"
        else ch
        for ch in text
    )
    cleaned = _SPACES.sub(" ", cleaned).strip()
    if len(cleaned) > max_chars:
        cut = cleaned.rfind(" ", max_chars - 50, max_chars)
        cleaned = cleaned[: cut if cut > 0 else max_chars].rstrip()
    return cleaned


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class TextSanitizer(GraphComponent):
    """First pipeline step: cleans and truncates the text the NLU components see."""

    def __init__(self, max_chars: int) -> None:
        """Creates the component.

        Args:
            max_chars: Longest text handed to the NLU pipeline.
        """
        self.max_chars = max_chars

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """The component's default config (``max_chars``)."""
        return {"max_chars": MAX_NLU_CHARS}

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> TextSanitizer:
        """Creates the component (see parent class for the arguments)."""
        return cls(int(config.get("max_chars", MAX_NLU_CHARS)))

    def _clean(self, message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str):
            message.set(TEXT, sanitize_text(text, self.max_chars))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Cleans the training examples the same way as live messages."""
        for example in training_data.training_examples:
            self._clean(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Cleans every message of this turn."""
        for message in messages:
            self._clean(message)
        return messages
