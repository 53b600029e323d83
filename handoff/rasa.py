"""Client of Rasa's HTTP API: the only way agent words reach a shopper's channel."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class RasaUnavailable(Exception):
    """Rasa did not accept a request (down, timeout, 5xx or rejected token)."""


class RasaClient:
    """Appends events to conversations and runs actions there.

    Args:
        base_url: ``RASA_URL``.
        token: ``RASA_TOKEN`` (sent as ``?token=``).
        client: A shared ``httpx.AsyncClient``.
    """

    def __init__(self, base_url: str, token: str, client: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client = client

    async def _post(self, path: str, params: dict[str, str], body: Any) -> None:
        try:
            response = await self.client.post(f"{self.base_url}{path}",
                                               params={**params, "token": self.token},
                                               json=body, timeout=10)
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa unreachable: {type(error).__name__}") from error
        if not response.is_success:
            raise RasaUnavailable(f"Rasa answered {response.status_code}")

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]],
                            side_effects: bool = True) -> None:
        """Appends events; bot events are sent through the conversation's latest channel."""
        params = {"output_channel": "latest"}
        if side_effects:
            params["execute_side_effects"] = "true"
        await self._post(f"/conversations/{quote(conversation_id, safe='')}/tracker/events",
                         params, events)

    async def execute(self, conversation_id: str, action: str) -> None:
        """Runs an action (e.g. ``utter_ask_csat``) with output to the latest channel."""
        await self._post(f"/conversations/{quote(conversation_id, safe='')}/execute",
                         {"output_channel": "latest"}, {"name": action})
