"""Order lookup + answer inside the real action server, with 100,000 orders in SQLite.

Starts ``python -m rasa_sdk`` (the same command the stack supervisor uses) with
SHOP_ORDERS_FILE pointing at 100,000 synthetic orders and a real Redis, then times HTTP
calls to its ``/webhook`` for the two actions every order question runs: the verification
(SQLite lookup, constant-time compare, Redis attempt counter) and the answer (fresh
SQLite read, policy dates, response selection). Reports p50/p99 and the action server's
memory (RSS).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.report import ROOT, machine, percentile, write_section  # noqa: E402
from bench.shop.orders import bulk_orders  # noqa: E402
from tests.conftest import RedisServer, free_port  # noqa: E402

ORDERS = 100_000
CALLS = 2_000


def wait_healthy(client: httpx.Client, url: str, what: str) -> None:
    """Waits up to 120 s until the action server at ``url`` answers its health check."""
    deadline = time.monotonic() + 120
    while True:
        try:
            if client.get(f"{url}/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"action server did not {what}")
        time.sleep(0.2)


def tracker(order: dict[str, Any], verify: bool) -> dict[str, Any]:
    """The tracker JSON Rasa sends to the action server for one of the two actions."""
    now = time.time()
    text = order["zip_code"] if verify else "Wo ist meine Bestellung?"
    user = {"event": "user", "timestamp": now, "text": text,
            "parse_data": {"intent": {"name": "track_order", "confidence": 0.99},
                           "entities": [], "text": text}}
    slots: dict[str, Any] = {"language": "de", "order_number": order["order_id"],
                             "zip_code": order["zip_code"]}
    events = [user]
    if verify:
        events.append({"event": "slot", "timestamp": now, "name": "zip_code",
                       "value": order["zip_code"]})
    else:
        slots.update({"verification": "verified", "verified_at": now,
                      "order_context": {"order_id": order["order_id"],
                                        "country": order["country"]}})
    return {"sender_id": f"bench-{order['order_id']}", "slots": slots, "latest_message":
            user["parse_data"] | {"text": text}, "events": events, "paused": False,
            "followup_action": None,
            "active_loop": {"name": "order_verification_form"} if verify else {},
            "latest_action_name": "action_listen"}


def in_process(orders: list[dict[str, Any]], database: Path, redis_url: str
               ) -> dict[str, list[float]]:
    """The same two actions called in this process (no HTTP, no JSON), same database."""
    import asyncio

    import redis
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.config import settings
    from actions.orders import ActionAnswerOrderRequest
    from actions.shop.carriers import NoCarrierClient
    from actions.shop.limits import VerificationLimiter
    from actions.shop.policy import load_policy
    from actions.shop.services import ShopServices, set_services
    from actions.shop.sqlite_backend import SQLiteOrderBackend
    from actions.verification import ValidateOrderVerificationForm

    config = settings()
    set_services(ShopServices(
        settings=config, policy=load_policy(config.shop_policy_file),
        backend=SQLiteOrderBackend(database), carriers=NoCarrierClient(),
        limiter=VerificationLimiter(redis.Redis.from_url(redis_url, decode_responses=True),
                                    max_per_conversation=10**9, max_per_order=10**9)))
    actions = {"validate_order_verification_form": ValidateOrderVerificationForm(),
               "action_answer_order_request": ActionAnswerOrderRequest()}
    timings: dict[str, list[float]] = {name: [] for name in actions}
    rng = random.Random(2)

    async def run() -> None:
        for _ in range(CALLS):
            order = rng.choice(orders)
            for name, action in actions.items():
                state = tracker(order, name.startswith("validate"))
                started = time.perf_counter()
                await action.run(CollectingDispatcher(), Tracker.from_dict(state), {})
                timings[name].append((time.perf_counter() - started) * 1000)

    asyncio.run(run())
    set_services(None)
    return timings


def main() -> None:
    """Runs the benchmark and writes its section of docs/BENCHMARKS.md."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        orders = bulk_orders(ORDERS)
        orders_file = work / "orders.json"
        orders_file.write_text(json.dumps(orders))
        redis_server = RedisServer(work)
        redis_server.start()
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOP_ORDERS_FILE": str(orders_file),
               "SHOP_DB_FILE": str(work / "orders.sqlite3"), "REDIS_URL": redis_server.url,
               "KDBOT_VAR_DIR": str(work / "var"), "VERIFY_MAX_PER_CONVERSATION": "1000000",
               "VERIFY_MAX_PER_ORDER_HOUR": "1000000"}
        env.pop("DHL_API_KEY", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=120) as client:
                wait_healthy(client, url, "start")
                rss_idle = psutil.Process(process.pid).memory_info().rss

                def call(action: str, order: dict[str, Any]) -> tuple[float, dict[str, Any]]:
                    body = {"next_action": action, "sender_id": "bench", "version": "3.6.21",
                            "tracker": tracker(order, action.startswith("validate")),
                            "domain": {}}
                    started = time.perf_counter()
                    response = client.post(f"{url}/webhook", json=body)
                    elapsed = (time.perf_counter() - started) * 1000
                    response.raise_for_status()
                    return elapsed, response.json()

                # first call: opens SQLite and imports the 100,000 orders
                first_ms, answer = call("action_answer_order_request", orders[0])
                assert answer["responses"], answer
                rng = random.Random(1)
                timings: dict[str, list[float]] = {"validate_order_verification_form": [],
                                                   "action_answer_order_request": []}
                for _ in range(100):  # warm-up
                    call("action_answer_order_request", rng.choice(orders))
                for n in range(CALLS):
                    order = rng.choice(orders)
                    for action in timings:
                        elapsed, answer = call(action, order)
                        timings[action].append(elapsed)
                        if n == 0 and action.startswith("validate"):
                            slots = {e["name"]: e["value"] for e in answer["events"]
                                     if e["event"] == "slot"}
                            assert slots.get("verification") == "verified", answer
                rss_loaded = psutil.Process(process.pid).memory_info().rss
        finally:
            process.terminate()
            process.wait(timeout=30)
            redis_server.stop()
        # restart on the same database: the unchanged file is not imported again
        process = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        redis_server.start()
        local = in_process(orders, work / "orders.sqlite3", redis_server.url)
        try:
            with httpx.Client(timeout=120) as client:
                wait_healthy(client, url, "restart")
                started = time.perf_counter()
                client.post(f"{url}/webhook", json={
                    "next_action": "action_answer_order_request", "sender_id": "bench",
                    "version": "3.6.21", "tracker": tracker(orders[1], False), "domain": {}
                }).raise_for_status()
                warm_first_ms = (time.perf_counter() - started) * 1000
        finally:
            process.terminate()
            process.wait(timeout=30)
            redis_server.stop()

    rows = "\n".join(
        f"| `{action}` | {CALLS} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} "
        f"| {max(values):.1f} |" for action, values in timings.items())
    local_rows = "\n".join(
        f"| `{action}` | {CALLS} | {percentile(values, 50):.2f} | {percentile(values, 99):.2f} "
        f"| {max(values):.1f} |" for action, values in local.items())
    load = os.getloadavg()[0]
    body = f"""## Shop answers (`bench/shop/run.py`)

{machine()}

The real action server (`python -m rasa_sdk`) with {ORDERS:,} orders in its SQLite store and
a real Redis; each figure is one HTTP call to its `/webhook` from this machine, so it
includes JSON (de)serialisation of the tracker. Random orders, no carrier API configured.

| action (HTTP to the action server) | calls | p50 ms | p99 ms | max ms |
| --- | ---: | ---: | ---: | ---: |
{rows}

The same actions called in-process on the same database (lookup + answer only, no HTTP):

| action (in-process) | calls | p50 ms | p99 ms | max ms |
| --- | ---: | ---: | ---: | ---: |
{local_rows}

Load average during the run: {load:.1f} on {os.cpu_count()} cores (the machine is shared;
tail latencies grow with the load).

| | |
| --- | ---: |
| first call after start (opens SQLite, imports {ORDERS:,} orders) | {first_ms:,.0f} ms |
| first call after a restart on the same database (no re-import) | {warm_first_ms:,.0f} ms |
| action server memory (RSS) after start, before the first call | {rss_idle / 2**20:.0f} MiB |
| action server memory (RSS) after the run, orders loaded | {rss_loaded / 2**20:.0f} MiB |

Target: p99 under 20 ms."""
    write_section("shop", body)
    print(body)


if __name__ == "__main__":
    main()
