"""WebSocket ``/api/ws?token=...``: live queue and message events for the console."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from handoff.agents import Agent
from handoff.api.deps import agent_from_token
from handoff.service import HandoffService

router = APIRouter(tags=["agents"])


async def _visible(service: HandoffService, agent: Agent, event: dict[str, object]) -> bool:
    """Message events only reach the agent who owns the ticket."""
    if event.get("type") not in ("message", "message.delivery"):
        return True
    owner = await service.redis.hget(service.store.key("ticket", str(event["ticket_id"])),
                                     "assigned_to")
    return owner == agent.username


@router.websocket("/api/ws")
async def live(websocket: WebSocket) -> None:
    """Sends every ticket event (JSON) to an authenticated agent; a bad token closes 4401."""
    app = websocket.app
    token = websocket.query_params.get("token", "")
    try:
        agent = await agent_from_token(token, app.state.settings, app.state.agents)
    except HTTPException:
        await websocket.close(code=4401)
        return
    await websocket.accept()
    service: HandoffService = app.state.service
    online_key = service.store.key("online")
    pubsub = service.redis.pubsub()
    await pubsub.subscribe(service.store.key("live"))

    async def heartbeat() -> None:
        while True:
            await service.redis.zadd(online_key, {agent.username: time.time()})
            await asyncio.sleep(30)

    async def forward() -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            event = json.loads(message["data"])
            if await _visible(service, agent, event):
                await websocket.send_text(message["data"])

    async def receive() -> None:
        while True:
            await websocket.receive_text()  # pings from the console; closes on disconnect

    tasks = [asyncio.create_task(job()) for job in (heartbeat, forward, receive)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        for task in tasks:
            task.cancel()
        # the connection is over either way: a cancellation of this handler while it
        # cleans up (server shutdown, a test client closing) must not escape as an error
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
            await service.redis.zrem(online_key, agent.username)
            await pubsub.unsubscribe()
            await pubsub.close()
