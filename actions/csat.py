"""``action_store_csat``: stores the shopper's rating (1-5) on the ticket.

When the handoff service cannot take the rating (down, 5xx), it goes into the same Redis
outbox as escalations (``<HANDOFF_KEY_PREFIX>outbox``), which the service drains when it
runs again; a shopper's rating is not lost to a restart of the service.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import httpx
import redis
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import Settings, settings
from actions.handoff import add_to_outbox

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


def keep_for_later(conversation_id: str, score: int, config: Settings, why: str) -> None:
    """Puts the rating into the handoff service's Redis outbox (drained when it runs)."""
    body = json.dumps({"conversation_id": conversation_id, "score": score})
    try:
        add_to_outbox("csat", body, config)
        log.warning("handoff service did not take a rating (%s); kept in the outbox", why)
    except redis.RedisError as error:
        log.error("rating lost: handoff service (%s) and Redis (%s) unavailable", why,
                  type(error).__name__)


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
            if response.status_code >= 500:
                keep_for_later(tracker.sender_id, score, config, f"HTTP {response.status_code}")
            elif not response.is_success:
                log.warning("rating not stored: HTTP %s", response.status_code)
        except httpx.HTTPError as error:
            keep_for_later(tracker.sender_id, score, config, type(error).__name__)
        dispatcher.utter_message(response="utter_csat_thanks")
        return [SlotSet("csat_score", score)]


class ActionAskCsat(Action):
    """Asks for the rating after a hand-back, and listens in the same step.

    The handoff service runs this through Rasa's ``/execute``, which holds the
    conversation's lock but does not listen afterwards. Returning ``action_listen`` here
    puts it into the tracker inside that lock, before the shopper can answer; when the
    service appended it in a second request, a quick answer could arrive in between and
    then matched no rule (the rating got "I did not understand").
    """

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_ask_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        """The rating question with its five buttons, then listen."""
        dispatcher.utter_message(response="utter_ask_csat")
        return [ActionExecuted("action_listen")]
