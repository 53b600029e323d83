"""A shopper on the storefront widget: Rasa's socket.io protocol, played by python-socketio."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import socketio

from tests.e2e.conftest import ROOT, Stack


class Shopper:
    """Connects like the widget, sends messages and collects ``bot_uttered`` events."""

    def __init__(self, rasa_url: str) -> None:
        self.rasa_url = rasa_url
        self.session_id = uuid.uuid4().hex  # the widget channel accepts 32 hex digits
        self.client = socketio.AsyncClient()
        self.received: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.confirmed = asyncio.Event()

        @self.client.on("bot_uttered")
        async def on_bot(data: dict[str, Any]) -> None:
            await self.received.put((time.perf_counter(), data))

        @self.client.on("session_confirm")
        async def on_confirm(data: Any) -> None:
            self.session_id = str(data)  # the channel may assign another id
            self.confirmed.set()

    async def connect(self) -> None:
        # polling: the aiohttp that rasa pins lacks what engineio needs for websockets
        await self.client.connect(self.rasa_url, transports=["polling"])
        await self.client.emit("session_request", {"session_id": self.session_id})
        await asyncio.wait_for(self.confirmed.wait(), 10)

    async def say(self, text: str) -> None:
        await self.client.emit("user_uttered", {"message": text,
                                                "session_id": self.session_id})

    async def next(self, timeout: float = 30) -> dict[str, Any]:
        return (await asyncio.wait_for(self.received.get(), timeout))[1]

    async def wait_for(self, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        """The next message for which ``predicate(message)`` is true (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.next(max(0.1, deadline - time.monotonic()))
            if predicate(message):
                return message

    async def silence(self, seconds: float) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (expected: nothing)."""
        got = []
        try:
            while True:
                got.append(await self.next(seconds))
        except asyncio.TimeoutError:
            return got

    async def close(self) -> None:
        await self.client.disconnect()


def create_agent(stack: Stack, languages: str = "de,en") -> tuple[str, str]:
    """Runs the agents CLI against the stack's Redis; returns (username, password)."""
    username = f"agent{uuid.uuid4().hex[:8]}"
    result = subprocess.run([sys.executable, "-m", "handoff.agents", "add", username,
                             "--languages", languages, "--display-name", "Jana"],
                            env={**os.environ, **stack.env, "REDIS_URL": stack.redis_url,
                                 "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, check=True, timeout=60)
    return username, result.stdout.split()[-1]


def agent_headers(stack: Stack, username: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{stack.handoff_url}/api/auth/token",
                          data={"username": username, "password": password}, timeout=10)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def ticket_of(stack: Stack, headers: dict[str, str], conversation_id: str,
                    timeout: float = 15) -> dict[str, Any]:
    """Waits until the conversation's ticket shows in the agent's queue or own tickets."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=stack.handoff_url, headers=headers) as client:
        while time.monotonic() < deadline:
            for path in ("/api/queue", "/api/tickets"):
                for ticket in (await client.get(path)).json():
                    if ticket["conversation_id"] == conversation_id:
                        return dict((await client.get(f"/api/tickets/{ticket['id']}")).json())
            await asyncio.sleep(0.1)
    raise AssertionError(f"no ticket for {conversation_id}")


class WebSocketShopper(Shopper):
    """The same shopper over the socket.io WebSocket transport, as browsers use it.

    python-socketio's client needs a newer aiohttp for WebSockets than Rasa allows, so
    this speaks the small part of Engine.IO 4 / Socket.IO 5 it needs directly.
    """

    def __init__(self, rasa_url: str) -> None:
        super().__init__(rasa_url)
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        import websockets

        url = self.rasa_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await websockets.connect(url)
        assert str(await self.ws.recv()).startswith("0")  # engine.io open
        await self.ws.send("40")
        opened = str(await self.ws.recv())
        assert opened.startswith("40"), opened
        self.reader = asyncio.create_task(self._read())
        await self._emit("session_request", {"session_id": self.session_id})
        await asyncio.wait_for(self.confirmed.wait(), 10)

    async def _emit(self, event: str, data: Any) -> None:
        await self.ws.send("42" + json.dumps([event, data]))

    async def _read(self) -> None:
        async for frame in self.ws:
            text = str(frame)
            if text == "2":
                await self.ws.send("3")  # pong
            elif text.startswith("42"):
                event, *args = json.loads(text[2:])
                if event == "bot_uttered":
                    await self.received.put((time.perf_counter(), args[0]))
                elif event == "session_confirm":
                    self.session_id = str(args[0])
                    self.confirmed.set()

    async def say(self, text: str) -> None:
        await self._emit("user_uttered", {"message": text, "session_id": self.session_id})

    async def close(self) -> None:
        if self.reader:
            self.reader.cancel()
        if self.ws:
            await self.ws.close()
