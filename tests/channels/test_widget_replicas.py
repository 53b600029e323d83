"""Two Rasa processes sharing Redis: an agent reply entering the tracker on one reaches a
browser connected to the other (the shared socket.io Redis manager)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.stack import current_model, redis_env
from tests.channels.widget_client import WidgetClient, inject
from tests.conftest import free_port
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def replica(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second Rasa server (process B) on the stack's Redis, tracker and lock store."""
    port = free_port()
    log = tmp_path_factory.mktemp("replica") / "rasa-b.log"
    env = {**stack.env, **redis_env(stack.redis_url), "REDIS_URL": stack.redis_url,
           "ACTION_SERVER_URL": f"{stack.action_url}/webhook", "PYTHONPATH": str(ROOT),
           "RASA_TELEMETRY_ENABLED": "false"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rasa", "run", "--enable-api", "--auth-token",
             stack.rasa_token, "--interface", "127.0.0.1", "--port", str(port),
             "--model", current_model(), "--endpoints", "endpoints.yml",
             "--credentials", "credentials.yml"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 420
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"Rasa B exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("Rasa B did not start")
        time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


async def test_agent_reply_injected_on_b_reaches_browser_on_a(stack: Stack, replica: str) -> None:
    on_a = WidgetClient(stack.rasa_url)
    await on_a.connect()
    await on_a.say("Hallo", message_id="r1")
    await on_a.wait_for("bot_uttered")
    assert on_a.session_id is not None
    agent = {"id": "anna", "name": "Anna"}
    inject(replica, stack.rasa_token, on_a.session_id, [
        {"event": "bot", "text": "Hier ist Anna vom Kundenservice.",
         "metadata": {"handoff_event": "message", "agent": agent}}])
    arrived = (await on_a.wait_for("bot_uttered", 2, timeout=15))[1]
    assert arrived["text"] == "Hier ist Anna vom Kundenservice."
    assert arrived["metadata"]["agent"] == agent
    await on_a.close()


async def test_two_tabs_on_two_replicas_share_one_conversation(stack: Stack,
                                                               replica: str) -> None:
    on_a = WidgetClient(stack.rasa_url)
    await on_a.connect()
    on_b = WidgetClient(replica)
    assert await on_b.connect(on_a.session_id) == on_a.session_id
    await on_b.say("Hallo", message_id="t1")
    # the answer produced on B and the echo reach the tab on A too
    assert (await on_a.wait_for("user_echo", timeout=15))[0]["text"] == "Hallo"
    assert "Guten Tag" in (await on_a.wait_for("bot_uttered", timeout=15))[0]["text"]
    # the transcript on A includes what was said through B
    history = (await on_a.history())["messages"]
    assert [m["from"] for m in history] == ["user", "bot"]
    # a message id already processed on B is not processed again on A
    assert on_a.session_id is not None
    assert (await on_a.say("Hallo", message_id="t1"))["status"] == "duplicate"
    await on_a.close()
    await on_b.close()
