"""What the bot does when it does not understand a message.

First miss: ask to rephrase, with buttons for the three main topics
(``utter_ask_rephrase``). Second consecutive miss: escalate to a person
(``handoff_reason="fallback"`` and ``action_handoff``).
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

FALLBACK_INTENT = "nlu_fallback"
MISSES_BEFORE_HANDOFF = 2


def consecutive_misses(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the bot did not understand.

    Counts back from the latest user message within the current session.

    Args:
        tracker: The conversation.

    Returns:
        The number of consecutive not-understood user messages (0 if the latest was
        understood).
    """
    misses = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") != FALLBACK_INTENT:
            break
        misses += 1
    return misses


class ActionFallback(Action):
    """Asks to rephrase on the first miss, hands over to a person on the second."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[str, Any]) -> List[EventType]:
        """Dispatches ``utter_ask_rephrase`` or escalates (see module docstring)."""
        if consecutive_misses(tracker) >= MISSES_BEFORE_HANDOFF:
            return [SlotSet("handoff_reason", "fallback"), FollowupAction("action_handoff")]
        dispatcher.utter_message(response="utter_ask_rephrase")
        return []
