"""What the bot does when it does not understand a message.

First miss: ask to rephrase, with buttons for the three main topics
(``utter_ask_rephrase``). Second consecutive miss: escalate to a person
(``handoff_reason="fallback"`` and ``action_handoff``). A miss is an ``nlu_fallback``
message or one the dialogue policies had no answer for (this action is also the
RulePolicy's core fallback action in ``config.yml``).
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTION = "action_fallback"
# actions Rasa logs around every turn that say nothing about understanding
_BOOKKEEPING = {"action_listen", "action_extract_slots", "action_set_language",
                "action_session_start"}
MISSES_BEFORE_HANDOFF = 2


def _was_miss(events: list[dict[str, Any]], index: int) -> bool:
    """Whether the user message at ``index`` was not understood.

    It was not understood if NLU said so (``nlu_fallback``) or if the bot's first action
    after it was this fallback action (the dialogue policies had no answer).
    """
    intent = (events[index].get("parse_data") or {}).get("intent") or {}
    if intent.get("name") == FALLBACK_INTENT:
        return True
    for event in events[index + 1:]:
        if event.get("event") == "user":
            break
        if event.get("event") == "action" and event.get("name") not in _BOOKKEEPING:
            return event.get("name") == FALLBACK_ACTION
    return False


def consecutive_misses(tracker: Tracker) -> int:
    """How many user messages in a row, up to the latest, the bot did not understand.

    The latest message counts as a miss (this action runs because of it); earlier ones
    count while they were misses too, within the current session.

    Args:
        tracker: The conversation.

    Returns:
        The number of consecutive not-understood user messages, at least 1.
    """
    events = list(tracker.events)
    users = []
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            break
        if events[index].get("event") == "user":
            users.append(index)
    misses = 1
    for index in users[1:]:
        if not _was_miss(events, index):
            break
        misses += 1
    return misses


class ActionFallback(Action):
    """Asks to rephrase on the first miss, hands over to a person on the second."""

    def name(self) -> str:
        """The action's name in the domain."""
        return FALLBACK_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[str, Any]) -> List[EventType]:
        """Dispatches ``utter_ask_rephrase`` or escalates (see module docstring)."""
        # Like Rasa's own default fallback, the misunderstood message is reverted for the
        # dialogue policies (it stays in the event history), so they wait for the next
        # message instead of predicting this action again in a loop.
        if consecutive_misses(tracker) >= MISSES_BEFORE_HANDOFF:
            return [UserUtteranceReverted(), SlotSet("handoff_reason", "fallback"),
                    FollowupAction("action_handoff")]
        dispatcher.utter_message(response="utter_ask_rephrase")
        return [UserUtteranceReverted()]
