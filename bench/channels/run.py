"""Both shopper channels side by side in one run, next to Rasa's stock channels.

In one run, against one Redis and the same trained model:

* **widget round trip** (``user_uttered`` -> first ``bot_uttered``) with 50 concurrent
  sessions: ours (``bot.channels.widget`` of the real stack, with its shared Redis
  manager) against Rasa's stock ``socketio`` and ``rest`` channels of a second Rasa
  process. The socket.io clients speak the Engine.IO 4 / Socket.IO 5 wire protocol over a
  real websocket (like a browser), implemented here on the ``websockets`` package. Each
  session sends ``ROUNDS`` greetings one after another; the channels take turns.
* **WhatsApp webhook acknowledgement** at 100 requests/s, open loop (requests leave on
  schedule whether or not earlier ones finished, so a slow server cannot hide its
  queueing): signed webhooks in Meta's shape to the stack's public Rasa server, whose
  inbox worker (a second Rasa process, ``scripts/stack.py``) answers at the local fake
  Graph API; next to the stock ``rest`` channel driven the same way. Then once more while
  the 50 widget sessions chat with the same public Rasa server.

Usage: ``python bench/channels/run.py`` (``BENCH_SESSIONS``, ``BENCH_ROUNDS``,
``BENCH_RATE``, ``BENCH_SECONDS`` change the load).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.report import ROOT, machine, percentile, write_section  # noqa: E402
from scripts.stack import current_model, redis_env  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.e2e.conftest import session_graph_api, start_stack, stop_stack  # noqa: E402

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "50"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
RATE = float(os.environ.get("BENCH_RATE", "100"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WA_SHOPPERS = 50
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


# ---- WhatsApp webhooks -------------------------------------------------------------
def signed(secret: str, value: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A webhook body in Meta's shape around ``value``, signed like Meta signs it."""
    payload = {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": "106540352242922"}, **value}}]}]}
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}


def text_webhook(secret: str, sender: str) -> tuple[bytes, dict[str, str]]:
    return signed(secret, {
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": sender}],
        "messages": [{"from": sender, "id": f"wamid.{uuid.uuid4().hex}",
                      "timestamp": str(int(time.time())), "type": "text",
                      "text": {"body": MESSAGE}}]})


def status_webhook(secret: str) -> tuple[bytes, dict[str, str]]:
    """A "sent" status of a message we never sent: exercises the path, no Rasa work."""
    return signed(secret, {"statuses": [{
        "id": f"wamid.{uuid.uuid4().hex}", "status": "sent",
        "timestamp": str(int(time.time())), "recipient_id": "4915100000000"}]})


async def open_loop(requests: list[tuple[str, bytes, dict[str, str]]], rate: float
                    ) -> tuple[list[float], dict[str, int]]:
    """Sends the requests on schedule at ``rate``/s; latencies (ms) and non-200 counts.

    A failure is counted by its HTTP status, or by the client's error when no HTTP
    answer came (``RemoteProtocolError``: the server closed the connection).
    """
    latencies: list[float] = []
    failures: dict[str, int] = {}
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        start = time.monotonic() + 0.5

        async def one(index: int, url: str, body: bytes, headers: dict[str, str]) -> None:
            scheduled = start + index / rate
            await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
            try:
                status = str((await client.post(url, content=body, headers=headers)).status_code)
            except httpx.HTTPError as error:
                status = type(error).__name__  # no HTTP answer at all
            if status != "200":
                failures[status] = failures.get(status, 0) + 1
            latencies.append((time.monotonic() - scheduled) * 1000)

        await asyncio.gather(*(one(i, *r) for i, r in enumerate(requests)))
    return latencies, failures


def webhooks(url: str, secret: str, count: int) -> list[tuple[str, bytes, dict[str, str]]]:
    senders = [f"49151{i:08d}" for i in range(WA_SHOPPERS)]
    return [(url, *text_webhook(secret, senders[i % WA_SHOPPERS])) for i in range(count)]


def wait_answers(graph: Any, before: int, count: int, started: float) -> tuple[int, float]:
    """Waits until ``count`` more answers reached the fake Graph API, or 60 s without one.

    Returns how many arrived and when the last one did (seconds after ``started``).
    """
    answered, last_at = 0, time.monotonic()
    while answered < count and time.monotonic() - last_at < 60:
        time.sleep(0.2)
        now = len(graph.messages()) - before
        if now > answered:
            answered, last_at = now, time.monotonic()
    return answered, last_at - started


async def acks_while_widget_chats(url: str, secret: str, rasa_url: str, count: int
                                  ) -> tuple[list[float], dict[str, int], list[float]]:
    """WhatsApp webhooks at RATE while SESSIONS widget sessions chat non-stop."""
    rounds = max(1, int(SECONDS * 2))
    chat = asyncio.ensure_future(measure_socketio(rasa_url, True, rounds))
    await asyncio.sleep(2.0)  # the sessions are connected and talking
    latencies, failures = await open_loop(webhooks(url, secret, count), RATE)
    widget = await chat
    return latencies, failures, widget


def accepted(latencies: list[float], failures: dict[str, int]) -> int:
    """Requests answered with 200."""
    return len(latencies) - sum(failures.values())


def failure_text(failures: dict[str, int]) -> str:
    if not failures:
        return "0"
    return ", ".join(f"{n} x {what}" for what, n in sorted(failures.items()))


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
    count = int(RATE * SECONDS)
    graph = session_graph_api()
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

            # WhatsApp acknowledgement next to the stock REST channel, same open loop
            secret = stack.env["WHATSAPP_APP_SECRET"]
            wa_url = f"{stack.rasa_url}/webhooks/whatsapp/webhook"
            rest_url = f"{stock_url}/webhooks/rest/webhook"
            rest_load = [(rest_url, json.dumps({"sender": f"bench-rest-{i % WA_SHOPPERS}",
                                                "message": MESSAGE}).encode(),
                          {"Content-Type": "application/json"}) for i in range(count)]
            rest_acks, rest_failures = asyncio.run(open_loop(rest_load, RATE))
            time.sleep(5)
            asyncio.run(open_loop([(wa_url, *status_webhook(secret)) for _ in range(50)], 50))
            load = os.getloadavg()[0]
            before = len(graph.messages())
            started = time.monotonic()
            wa_acks, wa_failures = asyncio.run(open_loop(webhooks(wa_url, secret, count), RATE))
            answered, answered_after = wait_answers(graph, before, accepted(wa_acks,
                                                                            wa_failures),
                                                    started)

            before = len(graph.messages())
            started = time.monotonic()
            busy_acks, busy_failures, busy_widget = asyncio.run(
                acks_while_widget_chats(wa_url, secret, stack.rasa_url, count))
            busy_answered, busy_after = wait_answers(graph, before,
                                                     accepted(busy_acks, busy_failures), started)
        finally:
            if stock:
                stock.terminate()
                stock.wait(timeout=30)
            stop_stack(process)
            graph.stop()

    def ms(values: list[float], pct: float) -> str:
        return f"{percentile(values, pct):.1f}"

    def ack_row(name: str, values: list[float], failures: dict[str, int]) -> str:
        return (f"| {name} | {ms(values, 50)} | {ms(values, 99)} | {max(values):.1f} | "
                f"{failure_text(failures)} |")

    wa_p50, wa_p99 = percentile(wa_acks, 50), percentile(wa_acks, 99)
    verdict = "met" if wa_p99 < 50 and not wa_failures else "NOT met"
    body = f"""## Channels: widget and WhatsApp side by side (`bench/channels/run.py`)

{machine()}

One run, one Redis, the same trained model. "Ours" is the stack of `scripts/stack.py`
(public Rasa server with our channels, plus the WhatsApp inbox worker, a second Rasa
process); "stock" is a third Rasa process with Rasa's own `socketio` and `rest` channels.

### Widget round trip

{SESSIONS} concurrent sessions x {ROUNDS} messages ("{MESSAGE}" -> `utter_greet`);
socket.io clients on real websockets; the three channels take turns in {BLOCKS} blocks.
Time from sending a message to its first answer, in milliseconds. Ratio = ours / that
channel (below 1: ours is faster).

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
`session_persistence: false`).

### WhatsApp webhook acknowledgement

Open loop at {RATE:.0f} requests/s for {SECONDS:.0f} s ({count} requests, "{MESSAGE}" from
{WA_SHOPPERS} shoppers); latency from a request's scheduled start to its HTTP response.
The stock REST channel answers only after Rasa has handled the message; the WhatsApp
channel acknowledges after the signature check, deduplication and the durable Redis
enqueue, and the inbox worker answers in the background.

| channel | p50 ms | p99 ms | max ms | not 200 |
| --- | ---: | ---: | ---: | --- |
{ack_row("Rasa stock `rest` (`/webhooks/rest/webhook`)", rest_acks, rest_failures)}
{ack_row("**WhatsApp acknowledgement** (`/webhooks/whatsapp/webhook`)", wa_acks, wa_failures)}
{ack_row(f"WhatsApp acknowledgement while {SESSIONS} widget sessions chat", busy_acks,
         busy_failures)}
| **ratio WhatsApp / stock `rest`** | **{wa_p50 / percentile(rest_acks, 50):.4f}** | \
**{wa_p99 / percentile(rest_acks, 99):.4f}** | | |

Target: WhatsApp acknowledgement p99 < 50 ms at {RATE:.0f} requests/s: **{verdict}**
({wa_p99:.1f} ms). Answers at the fake Graph API: {answered} of the
{accepted(wa_acks, wa_failures)} acknowledged webhooks, the last {answered_after:.1f} s after
the first webhook (the inbox worker's processing rate on this machine; Meta expects a fast
200, not a fast answer). While the widget sessions chatted: {busy_answered} of
{accepted(busy_acks, busy_failures)} answered, the last after {busy_after:.1f} s; widget round
trip meanwhile p50 {percentile(busy_widget, 50) * 1000:.0f} / p99
{percentile(busy_widget, 99) * 1000:.0f} ms ({len(busy_widget)} round trips).
Load average (1 min) before the WhatsApp runs: {load:.1f} on {os.cpu_count()} cores.

The stock `rest` row shows what answering inside the webhook request would cost: requests
queue behind Rasa's processing (~10-15 answers/s on this machine) until clients give up.
In the third row the acknowledgements share the public Rasa process with the widget
sessions' NLU work, which runs on its processing thread (bot/channels/processing.py), so
they wait for the interpreter lock but not behind queued messages (docs/whatsapp.md,
"Performance")."""
    write_section("channels", body)
    print(body)


if __name__ == "__main__":
    main()
