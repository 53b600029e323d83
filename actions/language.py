"""Sets the conversation language from what the NLU pipeline detected in each message.

Rasa runs this action after every user message (it is the custom mapping of the
``language`` slot in ``bot/domain/_shared.yml``), before the next response is chosen, so
the reply of the same turn is already in the new language. The ``language`` entity comes
from ``bot.components.language.LanguageDetector``:

- no entity (short or ambiguous message): the language stays as it is;
- an explicit request ("Can we speak English?"): switch and remember that the shopper
  chose it (``language_explicit``), so automatic detection no longer changes it;
- an automatic detection: switch, unless the shopper chose a language explicitly.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"


def detected_language(latest_message: Dict[str, Any]) -> tuple[str | None, bool]:
    """The language entity of a parsed message and whether it was an explicit request.

    Args:
        latest_message: ``tracker.latest_message`` (Rasa's parse data).

    Returns:
        ``(language, explicit)``; language is None when the message set none.
    """
    for entity in latest_message.get("entities") or []:
        if entity.get("entity") == "language" and entity.get("value") in LANGUAGES:
            return str(entity["value"]), bool(entity.get("explicit"))
    return None, False


def language_events(tracker: Tracker) -> List[EventType]:
    """The slot events that bring the conversation language up to date.

    Args:
        tracker: The conversation, its latest message already parsed.

    Returns:
        SlotSet events (empty when nothing changes).
    """
    language, explicit = detected_language(tracker.latest_message or {})
    if language is None:
        return []
    current = tracker.get_slot("language") or DEFAULT_LANGUAGE
    if explicit:
        events: List[EventType] = []
        if current != language:
            events.append(SlotSet("language", language))
        if not tracker.get_slot("language_explicit"):
            events.append(SlotSet("language_explicit", True))
        return events
    if tracker.get_slot("language_explicit") or current == language:
        return []
    return [SlotSet("language", language)]


class ActionSetLanguage(Action):
    """Custom slot mapping of ``language`` and ``language_explicit``."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_set_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Returns the slot events for the latest message (see module docstring)."""
        return language_events(tracker)
