"""Widget round trip (``user_uttered`` -> first ``bot_uttered``) with 50 concurrent sessions.

In one run, against one Redis and the same trained model:

* **ours**: the widget channel (``bot.channels.widget``) of the real stack, with its shared
  Redis manager;
* **stock socket.io**: a second Rasa process with Rasa's own ``socketio`` channel;
* **REST**: Rasa's ``rest`` channel of that second process (request -> response).

The socket.io clients speak the Engine.IO 4 / Socket.IO 5 wire protocol over a real
websocket (like a browser), implemented here on the ``websockets`` package. Each of the 50
sessions sends ``ROUNDS`` greetings one after another; the figure is the time from sending a
message to receiving its first answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.report import ROOT, machine, percentile, write_section  # noqa: E402
from scripts.stack import current_model, redis_env  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.e2e.conftest import start_stack, stop_stack  # noqa: E402

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "50"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
BLOCKS = 5  # the channels take turns, ROUNDS / BLOCKS messages per session each turn
MESSAGE = "Hallo"
STOCK_CREDENTIALS = """rest:
socketio:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: {persistence}
"""


class SocketIOSession:
    """A minimal Socket.IO 5 client over one websocket (connect, emit, receive events)."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws: Any = None
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None

    async def connect(self) -> str:
        self.ws = await websockets.connect(self.url, max_size=2**20)
        opened = await self.ws.recv()
        assert opened.startswith("0"), opened
        await self.ws.send("40")
        self.reader = asyncio.create_task(self._read())
        await self.emit("session_request", {"session_id": None})
        name, session_id = await self.next_event()
        assert name == "session_confirm", name
        return str(session_id)

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame == "2":
                await self.ws.send("3")  # Engine.IO ping -> pong
            elif frame.startswith("42"):
                name, *args = json.loads(frame[2:])
                await self.events.put((name, args[0] if args else None))

    async def emit(self, name: str, data: Any) -> None:
        await self.ws.send("42" + json.dumps([name, data]))

    async def next_event(self, timeout: float = 60) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def close(self) -> None:
        if self.reader:
            self.reader.cancel()
        await self.ws.close()


async def socketio_session(base_url: str, persistence: bool, rounds: int) -> list[float]:
    client = SocketIOSession(base_url)
    session_id = await client.connect()
    latencies = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            payload = {"message": MESSAGE}
            if persistence:
                payload["session_id"] = session_id
            await client.emit("user_uttered", payload)
            while True:
                name, _data = await client.next_event()
                if name == "bot_uttered":
                    break
            latencies.append(time.perf_counter() - started)
            # drain further parts of the same answer before the next message
            await asyncio.sleep(0.05)
            while not client.events.empty():
                client.events.get_nowait()
    finally:
        await client.close()
    return latencies


async def rest_session(base_url: str, sender: str, rounds: int,
                       client: httpx.AsyncClient) -> list[float]:
    latencies = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.post(f"{base_url}/webhooks/rest/webhook",
                                     json={"sender": sender, "message": MESSAGE})
        response.raise_for_status()
        assert response.json(), "no answer"
        latencies.append(time.perf_counter() - started)
    return latencies


async def measure_socketio(base_url: str, persistence: bool, rounds: int) -> list[float]:
    results = await asyncio.gather(*(socketio_session(base_url, persistence, rounds)
                                     for _ in range(SESSIONS)))
    return [x for r in results for x in r]


async def measure_rest(base_url: str, rounds: int) -> list[float]:
    limits = httpx.Limits(max_connections=SESSIONS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        results = await asyncio.gather(*(rest_session(base_url, f"bench-rest-{i}-{time.time()}",
                                                      rounds, client)
                                         for i in range(SESSIONS)))
    return [x for r in results for x in r]


async def stock_persistence_works(base_url: str) -> bool:
    """Whether Rasa's stock channel answers with session_persistence: true (see docs)."""
    try:
        await asyncio.wait_for(socketio_session(base_url, True, 1), 10)
        return True
    except asyncio.TimeoutError:
        return False


def start_stock_rasa(stack_env: dict[str, str], redis_url: str, action_url: str,
                     token: str, credentials: Path, log: Path) -> tuple[subprocess.Popen[bytes],
                                                                      str]:
    port = free_port()
    env = {**stack_env, **redis_env(redis_url), "REDIS_URL": redis_url,
           "ACTION_SERVER_URL": f"{action_url}/webhook", "PYTHONPATH": str(ROOT),
           "RASA_TELEMETRY_ENABLED": "false"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rasa", "run", "--enable-api", "--auth-token", token,
             "--interface", "127.0.0.1", "--port", str(port), "--model", current_model(),
             "--endpoints", "endpoints.yml", "--credentials", str(credentials)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stock Rasa exited, see {log}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("stock Rasa did not start")


def row(name: str, values: list[float], ours: list[float]) -> str:
    p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
    o50, o99 = percentile(ours, 50) * 1000, percentile(ours, 99) * 1000
    return (f"| {name} | {len(values)} | {p50:.0f} | {p99:.0f} | "
            f"{o50 / p50:.2f} | {o99 / p99:.2f} |")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "var").mkdir()
        process, stack = start_stack(tmp_path / "var", None)
        stock = None
        try:
            persistence_flag = tmp_path / "stock-persist.yml"
            persistence_flag.write_text(STOCK_CREDENTIALS.format(persistence="true"))
            stock, stock_url = start_stock_rasa(stack.env, stack.redis_url, stack.action_url,
                                                stack.rasa_token, persistence_flag,
                                                tmp_path / "stock.log")
            persistence_ok = asyncio.run(stock_persistence_works(stock_url))
            stock.terminate()
            stock.wait(timeout=30)
            credentials = tmp_path / "stock.yml"
            credentials.write_text(STOCK_CREDENTIALS.format(persistence="false"))
            stock, stock_url = start_stock_rasa(stack.env, stack.redis_url, stack.action_url,
                                                stack.rasa_token, credentials,
                                                tmp_path / "stock2.log")
            # warm-up (model caches, connections), then measure in turn
            asyncio.run(socketio_session(stack.rasa_url, True, 2))
            asyncio.run(socketio_session(stock_url, False, 2))
            ours: list[float] = []
            stock_sio: list[float] = []
            rest: list[float] = []
            per_block = max(1, ROUNDS // BLOCKS)
            for _ in range(BLOCKS):  # taking turns evens out the shared machine's load
                ours += asyncio.run(measure_socketio(stack.rasa_url, True, per_block))
                stock_sio += asyncio.run(measure_socketio(stock_url, False, per_block))
                rest += asyncio.run(measure_rest(stock_url, per_block))
        finally:
            if stock:
                stock.terminate()
                stock.wait(timeout=30)
            stop_stack(process)
    body = f"""## Channels: widget round trip (`bench/channels/run.py`)

{machine()}

{SESSIONS} concurrent sessions x {ROUNDS} messages ("{MESSAGE}" -> `utter_greet`), one run,
same model and Redis; socket.io clients on real websockets; the three channels take turns in
{BLOCKS} blocks. Time from sending a message to
its first answer, in milliseconds. Ratio = ours / that channel (below 1: ours is faster).

| channel | round trips | p50 ms | p99 ms | ours/this p50 | ours/this p99 |
| --- | ---: | ---: | ---: | ---: | ---: |
{row("**ours** (`bot.channels.widget`, Redis manager)", ours, ours)}
{row("Rasa stock `socketio` (session_persistence: false)", stock_sio, ours)}
{row("Rasa stock `rest`", rest, ours)}

Ours emits every message through the Redis manager (one Redis publish per message), which
is what lets agent replies reach a browser on another worker or replica. Rasa's stock
channel with `session_persistence: true` answered: **{"yes" if persistence_ok else "no"}**
(with python-socketio 5.x its un-awaited `enter_room` never joins the session room, so
persisted sessions get no answers; the stock figures therefore use
`session_persistence: false`). The machine is shared (2 cores, other work running), so
compare the ratios of one run rather than absolute figures across runs."""
    write_section("channels", body)
    print(body)


if __name__ == "__main__":
    main()
