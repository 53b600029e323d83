"""Handoff latencies on the real stack (scripts/stack.py on free ports, embedded Redis).

1. Escalation -> ticket visible to agents: the bot's POST /api/escalations until the
   agent console's WebSocket announces the ticket (p50/p99, target p99 < 250 ms).
2. Agent reply -> shopper's channel: the agent's POST /api/tickets/{id}/messages until
   the shopper's socket.io client receives it from Rasa (target p99 < 150 ms).
3. Claim-next with 100,000 vs 100 queued tickets (TicketStore.claim_next, the Lua
   script the API runs; target: at most 2x slower).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import websockets
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.report import machine, percentile, write_section  # noqa: E402
from handoff.queue import NewTicket, TicketStore  # noqa: E402
from tests.e2e.conftest import start_stack, stop_stack  # noqa: E402
from tests.e2e.shopper import WebSocketShopper, agent_headers, create_agent  # noqa: E402

ESCALATIONS = 300
REPLIES = 200
CLAIMS = 300


def body(conversation: str) -> dict[str, object]:
    return {"escalation_id": uuid.uuid4().hex, "conversation_id": conversation,
            "channel": "socketio", "language": "de", "reason": "request_human",
            "transcript": [{"from": "shopper", "text": "Ich möchte eine Person sprechen",
                            "at": datetime.now(timezone.utc).isoformat()}],
            "context": {"flags": {}}}


async def escalation_latency(stack, headers) -> list[float]:  # type: ignore[no-untyped-def]
    token = headers["Authorization"].split()[1]
    url = stack.handoff_url.replace("http", "ws") + f"/api/ws?token={token}"
    bot = {"Authorization": f"Bearer {stack.handoff_service_token}"}
    samples = []
    async with websockets.connect(url) as ws, httpx.AsyncClient(
            base_url=stack.handoff_url, headers=bot) as client:
        await asyncio.sleep(0.5)
        for i in range(ESCALATIONS):
            started = time.perf_counter()
            response = await client.post("/api/escalations", json=body(f"bench-esc-{i}"))
            ticket_id = response.json()["ticket_id"]
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if event.get("type") == "ticket.created" and event["ticket_id"] == ticket_id:
                    break
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def reply_latency(stack, headers) -> list[float]:  # type: ignore[no-untyped-def]
    shopper = WebSocketShopper(stack.rasa_url)
    await shopper.connect()
    samples = []
    try:
        await shopper.say("Ich möchte bitte mit einem Mitarbeiter sprechen")
        await shopper.next()
        async with httpx.AsyncClient(base_url=stack.handoff_url, headers=headers,
                                     timeout=10) as agent:
            redis = Redis.from_url(stack.redis_url, decode_responses=True)
            ticket_id = None
            for _ in range(100):
                ticket_id = await redis.get(f"kdbot:handoff:conv:{shopper.session_id}")
                if ticket_id:
                    break
                await asyncio.sleep(0.1)
            await redis.close()
            assert ticket_id, "no ticket"
            await agent.post(f"/api/tickets/{ticket_id}/claim")
            await shopper.wait_for(lambda m: "übernommen" in m.get("text", ""))
            for i in range(REPLIES):
                text = f"Antwort {i}"
                started = time.perf_counter()
                task = asyncio.create_task(agent.post(f"/api/tickets/{ticket_id}/messages",
                                                      json={"text": text}))
                while True:
                    arrived, message = await asyncio.wait_for(shopper.received.get(), 10)
                    if message.get("text") == text:
                        break
                samples.append((arrived - started) * 1000)
                await task
    finally:
        await shopper.close()
    return samples


async def claim_next_latency(redis_url: str, queued: int) -> list[float]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    store = TicketStore(redis, f"bench:{uuid.uuid4().hex[:8]}:")
    now = datetime.now(timezone.utc)
    creates = [store.create(NewTicket(
        escalation_id=f"esc{i:09d}", conversation_id=f"c{i}", channel="whatsapp",
        language="de" if i % 3 else "en", reason="request_human", priority=i % 4,
        created_at=now, due_at=now + timedelta(seconds=i % 3600), context={},
        transcript=[{"from": "shopper", "text": "Hallo", "at": now.isoformat()}]))
        for i in range(queued + CLAIMS)]
    for start in range(0, len(creates), 500):
        await asyncio.gather(*creates[start:start + 500])
    samples = []
    for _ in range(CLAIMS):
        started = time.perf_counter()
        assert await store.claim_next("bench-agent", ["de", "en"])
        samples.append((time.perf_counter() - started) * 1000)
    keys = [key async for key in redis.scan_iter(f"{store.prefix}*", count=5000)]
    for start in range(0, len(keys), 5000):
        await redis.delete(*keys[start:start + 5000])
    await redis.close()
    return samples


def row(name: str, samples: list[float], target: str) -> str:
    return (f"| {name} | {len(samples)} | {percentile(samples, 50):.1f} | "
            f"{percentile(samples, 99):.1f} | {target} |")


async def measure(stack) -> str:  # type: ignore[no-untyped-def]
    username, password = create_agent(stack)
    headers = agent_headers(stack, username, password)
    escalations = await escalation_latency(stack, headers)
    replies = await reply_latency(stack, headers)
    small = await claim_next_latency(stack.redis_url, 100)
    large = await claim_next_latency(stack.redis_url, 100_000)
    ratio = percentile(large, 50) / percentile(small, 50)
    return "\n".join([
        "## Handoff (`bench/handoff/run.py`)", "", machine(), "",
        "Whole stack from `scripts/stack.py` (embedded Redis, one Rasa worker); the agent "
        "is an HTTP client with the console's WebSocket, the shopper a socket.io client.", "",
        "| measurement | n | median ms | p99 ms | target |", "| --- | --- | --- | --- | --- |",
        row("escalation -> ticket announced on the agent WebSocket", escalations,
            "p99 < 250 ms"),
        row("agent reply -> received by the shopper's socket.io client", replies,
            "p99 < 150 ms"),
        row("claim-next, 100 queued", small, "-"),
        row("claim-next, 100,000 queued", large, "<= 2x the 100 case"),
        "", f"Claim-next median with 100,000 queued is {ratio:.2f}x the median with 100 "
        "(one Lua script: ZRANGE of each language queue head + ZREM, O(log n)).",
    ])


def main() -> int:
    with tempfile.TemporaryDirectory() as var_dir:
        process, stack = start_stack(Path(var_dir), None)
        try:
            report = asyncio.run(measure(stack))
        finally:
            stop_stack(process)
    write_section("handoff", report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
