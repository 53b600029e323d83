"""The whole stack, started for real by ``scripts/stack.py`` on free ports.

It uses the session's Redis (``REDIS_URL``) and a temporary ``KDBOT_VAR_DIR``, so a
developer's running ``make run`` is never disturbed. Start-up takes ~30 s once per
test session; tests that need it take the ``stack`` fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.fakes.graph_api import FakeGraphAPI

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    """URLs and secrets of a running stack."""

    rasa_url: str
    action_url: str
    handoff_url: str
    storefront_url: str
    redis_url: str
    rasa_token: str
    handoff_service_token: str
    var_dir: Path
    env: dict[str, str]

    def say(self, sender: str, text: str, **metadata: object) -> list[dict]:
        """Sends a shopper message through Rasa's REST channel; returns the bot's answers."""
        response = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook",
                              json={"sender": sender, "message": text, "metadata": metadata},
                              timeout=30)
        response.raise_for_status()
        return list(response.json())

    def tracker(self, sender: str) -> dict:
        response = httpx.get(f"{self.rasa_url}/conversations/{sender}/tracker",
                             params={"token": self.rasa_token}, timeout=10)
        response.raise_for_status()
        return dict(response.json())


def start_stack(var_dir: Path, redis_url: str | None, extra_env: dict[str, str] | None = None
                ) -> tuple[subprocess.Popen[str], Stack]:
    """Starts scripts/stack.py on free ports; ``redis_url=None`` uses its embedded Redis."""
    ports = {name: free_port() for name in
             ("RASA_PORT", "ACTION_PORT", "HANDOFF_PORT", "STOREFRONT_PORT", "REDIS_PORT",
              "WHATSAPP_WORKER_PORT")}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()},
           "KDBOT_VAR_DIR": str(var_dir),
           "RASA_TOKEN": "test-rasa-token", "HANDOFF_SERVICE_TOKEN": "test-service-token",
           # generous: Rasa's start (TensorFlow import, model load) crawls on a busy machine
           "KDBOT_START_TIMEOUT": "420",
           **(extra_env or {})}
    env = {**whatsapp_env(session_graph_api()), **env}  # WhatsApp -> local fake Graph API
    for key in ("RASA_URL", "ACTION_SERVER_URL", "HANDOFF_URL", "REDIS_URL"):
        env.pop(key, None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        redis_url = f"redis://127.0.0.1:{ports['REDIS_PORT']}/0"
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts/stack.py")], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 480
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("all services are up"):
            break
        if time.monotonic() > deadline:
            break
    else:
        raise RuntimeError("stack did not start:\n" + "".join(lines))
    stack = Stack(
        rasa_url=f"http://127.0.0.1:{ports['RASA_PORT']}",
        action_url=f"http://127.0.0.1:{ports['ACTION_PORT']}",
        handoff_url=f"http://127.0.0.1:{ports['HANDOFF_PORT']}",
        storefront_url=f"http://127.0.0.1:{ports['STOREFRONT_PORT']}",
        redis_url=redis_url, rasa_token=env["RASA_TOKEN"],
        handoff_service_token=env["HANDOFF_SERVICE_TOKEN"], var_dir=var_dir, env=env)
    return process, stack


_GRAPH_API: list[FakeGraphAPI] = []


def session_graph_api() -> FakeGraphAPI:
    """The fake Meta Graph API every test stack's WhatsApp channel sends to (started once)."""
    if not _GRAPH_API:
        _GRAPH_API.append(FakeGraphAPI().start())
    return _GRAPH_API[0]


def whatsapp_env(graph: FakeGraphAPI) -> dict[str, str]:
    """WHATSAPP_* settings pointing a stack's WhatsApp channel at the fake Graph API."""
    return {"WHATSAPP_VERIFY_TOKEN": "e2e-verify-token", "WHATSAPP_APP_SECRET": "e2e-app-secret",
            "WHATSAPP_ACCESS_TOKEN": graph.access_token,
            "WHATSAPP_PHONE_NUMBER_ID": graph.phone_number_id, "WHATSAPP_API_URL": graph.url,
            "WHATSAPP_TEMPLATE_NAME": "kundendienst_antwort", "WHATSAPP_TEMPLATE_LANG": "de",
            "WHATSAPP_RETRY_BASE_SECONDS": "0.05"}


@pytest.fixture(scope="session")
def graph_api() -> FakeGraphAPI:
    """The fake Graph API of the test stacks (see ``whatsapp_env``)."""
    return session_graph_api()


def stop_stack(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    """One running stack for the whole test session."""
    process, running = start_stack(tmp_path_factory.mktemp("stack-var"), redis_url)
    yield running
    stop_stack(process)


# The session's `stack` fixture is defined once in tests/conftest.py so that tests/channels
# and tests/browser share the same stack; this folder's copy would start a second one.
del stack
