"""WhatsApp webhook acknowledgement under load, next to Rasa's stock REST channel.

Starts the real stack (scripts/stack.py on free ports, embedded Redis, the WhatsApp
channel sending to the local fake Graph API), then drives each channel open-loop at
a fixed rate (requests leave on schedule whether or not earlier ones finished, so a
slow server cannot hide its queueing): first the stock REST channel with "Hallo",
then signed WhatsApp webhooks with "Hallo" from 50 shoppers. A latency is measured
from a request's scheduled start to its response. For WhatsApp it is the
acknowledgement (the answer is produced in the background); the run also waits until
every shopper message got its answer at the fake Graph API and reports how long that
took. Usage: ``python bench/whatsapp/run.py [--rate 100] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.report import machine, percentile, write_section  # noqa: E402
from tests.e2e.conftest import session_graph_api, start_stack, stop_stack  # noqa: E402

SHOPPERS = 50


def signed_status(secret: str) -> tuple[bytes, dict[str, str]]:
    """A signed status webhook ("sent") of a message we never sent: no Rasa work."""
    payload = {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": "106540352242922"},
            "statuses": [{"id": f"wamid.{uuid.uuid4().hex}", "status": "sent",
                          "timestamp": str(int(time.time())),
                          "recipient_id": "4915100000000"}]}}]}]}
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}


def signed_webhook(secret: str, sender: str) -> tuple[bytes, dict[str, str]]:
    """A signed webhook in Meta's shape with one text message."""
    payload = {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Bench"}, "wa_id": sender}],
            "messages": [{"from": sender, "id": f"wamid.{uuid.uuid4().hex}",
                          "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": "Hallo"}}]}}]}]}
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}


async def drive(requests: list[tuple[str, bytes, dict[str, str]]], rate: float
                ) -> tuple[list[float], int]:
    """Sends the requests open-loop at ``rate`` per second; latencies in ms, error count."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        start = time.monotonic() + 0.5

        async def one(index: int, url: str, body: bytes, headers: dict[str, str]) -> None:
            nonlocal errors
            scheduled = start + index / rate
            await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
            try:
                response = await client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.monotonic() - scheduled) * 1000)

        await asyncio.gather(*(one(i, *r) for i, r in enumerate(requests)))
    return latencies, errors


def summary(latencies: list[float]) -> tuple[float, float, float]:
    return (percentile(latencies, 50), percentile(latencies, 99), max(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    graph = session_graph_api()
    with tempfile.TemporaryDirectory() as tmp:
        process, stack = start_stack(Path(tmp), None)
        try:
            secret = stack.env["WHATSAPP_APP_SECRET"]
            # warm-up: load the model's code paths in both channels
            httpx.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                       json={"sender": "warm", "message": "Hallo"}, timeout=60)
            rest_url = f"{stack.rasa_url}/webhooks/rest/webhook"
            rest = [(rest_url, json.dumps({"sender": f"bench-rest-{i % SHOPPERS}",
                                           "message": "Hallo"}).encode(),
                     {"Content-Type": "application/json"}) for i in range(count)]
            rest_latencies, rest_errors = asyncio.run(drive(rest, args.rate))
            time.sleep(5)

            wa_url = f"{stack.rasa_url}/webhooks/whatsapp/webhook"
            warm = [(wa_url, *signed_status(secret)) for _ in range(50)]
            asyncio.run(drive(warm, 50))  # connections and scripts, no Rasa work
            load = os.getloadavg()[0]
            before = len(graph.messages())
            senders = [f"49151{i:08d}" for i in range(SHOPPERS)]
            webhooks = [(wa_url, *signed_webhook(secret, senders[i % SHOPPERS]))
                        for i in range(count)]
            started = time.monotonic()
            wa_latencies, wa_errors = asyncio.run(drive(webhooks, args.rate))
            deadline = time.monotonic() + 600
            while len(graph.messages()) - before < count and time.monotonic() < deadline:
                time.sleep(0.2)
            answered = len(graph.messages()) - before
            all_answered = time.monotonic() - started
        finally:
            stop_stack(process)
            graph.stop()

    rest_p50, rest_p99, rest_max = summary(rest_latencies)
    wa_p50, wa_p99, wa_max = summary(wa_latencies)
    rest_row = (f"| Rasa stock REST (`/webhooks/rest/webhook`, \"Hallo\") | {rest_p50:.1f} | "
                f"{rest_p99:.1f} | {rest_max:.1f} | {rest_errors} |")
    wa_row = (f"| WhatsApp acknowledgement (`/webhooks/whatsapp/webhook`) | {wa_p50:.1f} | "
              f"{wa_p99:.1f} | {wa_max:.1f} | {wa_errors} |")
    ratio_row = (f"| **ratio WhatsApp / REST** | **{wa_p50 / rest_p50:.3f}** | "
                 f"**{wa_p99 / rest_p99:.3f}** | | |")
    verdict = "met" if wa_p99 < 50 else "NOT met"
    body = f"""## WhatsApp webhook acknowledgement (`bench/whatsapp/run.py`)

{machine()}

Open loop at {args.rate:.0f} requests/s for {args.seconds:.0f} s ({count} requests per
channel, {SHOPPERS} shoppers) against the real Rasa server of the stack; latency from a
request's scheduled start to its HTTP response. The stock REST channel answers only
after Rasa has handled the message; the WhatsApp channel acknowledges after the
signature check, deduplication and the durable Redis enqueue, and answers in the
background.

| channel | p50 ms | p99 ms | max ms | non-200 |
| --- | ---: | ---: | ---: | ---: |
{rest_row}
{wa_row}
{ratio_row}

Target: WhatsApp acknowledgement p99 < 50 ms at 100 requests/s: **{verdict}**
({wa_p99:.1f} ms). Every WhatsApp message answered at the fake Graph API: {answered} of
{count}, the last {all_answered:.1f} s after the first webhook (Rasa's own processing
rate on this machine, not the acknowledgement). Load average (1 min) when the WhatsApp
run started: {load:.1f} on {os.cpu_count()} cores (the machine is shared; with Rasa
busy answering, the acknowledgements share the interpreter with it: see
docs/whatsapp.md, "Performance")."""
    write_section("whatsapp", body)
    print(body)


if __name__ == "__main__":
    main()
