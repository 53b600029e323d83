"""``action_store_csat``: stores the shopper's rating (1-5) on the ticket."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import settings

log = logging.getLogger(__name__)


def csat_score(tracker: Tracker) -> int | None:
    """The rating from the latest message's ``csat_score`` entity (or slot), if 1..5."""
    values = list(tracker.get_latest_entity_values("csat_score"))
    value = values[-1] if values else tracker.get_slot("csat_score")
    try:
        score = int(float(str(value)))
    except (TypeError, ValueError):
        return None
    return score if 1 <= score <= 5 else None


class ActionStoreCsat(Action):
    """Sends the rating to the handoff service and thanks the shopper."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_store_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        """Stores a valid rating; asks again for an invalid one."""
        score = csat_score(tracker)
        if score is None:
            dispatcher.utter_message(response="utter_ask_csat")
            return [SlotSet("csat_score", None)]
        config = settings()
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.post(
                    f"{config.handoff_url}/api/conversations/"
                    f"{quote(tracker.sender_id, safe='')}/csat",
                    json={"score": score},
                    headers={"Authorization": f"Bearer {config.handoff_service_token}"})
            if not response.is_success:
                log.warning("rating not stored: HTTP %s", response.status_code)
        except httpx.HTTPError as error:
            log.warning("rating not stored: %s", type(error).__name__)
        dispatcher.utter_message(response="utter_csat_thanks")
        return [SlotSet("csat_score", score)]
