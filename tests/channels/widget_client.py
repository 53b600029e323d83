"""A socket.io test client of the widget channel (python-socketio over HTTP long-polling;
the browser tests cover websockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import socketio


class WidgetClient:
    """One browser tab, as the channel sees it: connects, joins a session, collects events."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = {}
        self.session_id: str | None = None
        self._confirmed = asyncio.Event()
        self._arrived = asyncio.Condition()
        for name in ("bot_uttered", "user_echo", "widget_error"):
            self.sio.on(name, self._collector(name))

        @self.sio.on("session_confirm")
        async def confirm(data: Any) -> None:
            self.session_id = data
            self._confirmed.set()

    def _collector(self, name: str) -> Any:
        async def collect(data: Any = None) -> None:
            self.events.setdefault(name, []).append(data)
            async with self._arrived:
                self._arrived.notify_all()
        return collect

    async def connect(self, session_id: Any = None, send_request: bool = True) -> str | None:
        # long-polling: the websocket transport of python-engineio needs a newer aiohttp
        await self.sio.connect(self.url, socketio_path="/socket.io", transports=["polling"])
        if send_request:
            await self.sio.emit("session_request", {"session_id": session_id})
            await asyncio.wait_for(self._confirmed.wait(), 10)
        return self.session_id

    async def say(self, text: Any, **extra: Any) -> Any:
        """Sends user_uttered for this session and returns the channel's acknowledgement."""
        payload = {"message": text, "session_id": self.session_id, **extra}
        return await self.sio.call("user_uttered", payload, timeout=60)

    async def history(self) -> Any:
        return await self.sio.call("history_request", {}, timeout=10)

    async def wait_for(self, name: str, count: int = 1, timeout: float = 30) -> list[Any]:
        """Waits until ``count`` events of ``name`` have arrived; returns all of them."""
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.events.get(name, [])) >= count)
        await asyncio.wait_for(enough(), timeout)
        return self.events[name]

    def texts(self, name: str = "bot_uttered") -> list[str]:
        return [e.get("text", "") for e in self.events.get(name, []) if isinstance(e, dict)]

    async def close(self) -> None:
        """Closes at once (a polite polling disconnect waits for the open long-poll)."""
        await self.sio.eio.disconnect(abort=True)


def inject(rasa_url: str, rasa_token: str, session_id: str, events: list[dict]) -> None:
    """What the handoff service does: events into the tracker, delivered via the channel."""
    response = httpx.post(
        f"{rasa_url}/conversations/{session_id}/tracker/events",
        params={"token": rasa_token, "execute_side_effects": "true", "output_channel": "latest"},
        json=events, timeout=30)
    response.raise_for_status()
