"""Product-advice requests: the bot never recommends products.

The first request in a conversation gets ``utter_no_recommendation`` (a plain refusal
and what the bot can do); asking again in the same conversation hands the shopper to a
person (``handoff_reason="request_human"`` and ``action_handoff``).
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

RECOMMENDATION_INTENT = "ask_recommendation"


def recommendation_requests(tracker: Tracker) -> int:
    """How many user messages of the current session asked for product advice.

    Args:
        tracker: The conversation (its latest message included).

    Returns:
        The number of ``ask_recommendation`` messages since the session started.
    """
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            if intent.get("name") == RECOMMENDATION_INTENT:
                count += 1
    return count


class ActionRefuseRecommendation(Action):
    """Refuses product advice; the second request goes to a person."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_refuse_recommendation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[str, Any]) -> List[EventType]:
        """Dispatches the refusal or escalates (see module docstring)."""
        if recommendation_requests(tracker) >= 2:
            dispatcher.utter_message(response="utter_recommendation_to_person")
            return [SlotSet("handoff_reason", "request_human"),
                    FollowupAction("action_handoff")]
        dispatcher.utter_message(response="utter_no_recommendation")
        return []
