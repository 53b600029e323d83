"""Fixtures of the handoff tests: the real app on a real Redis, agents, escalations."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from handoff.agents import AgentStore
from handoff.app import create_app
from handoff.settings import Settings, settings
from tests.conftest import free_port

SERVICE_TOKEN = "svc-" + "x" * 28


def make_settings(redis_url: str, key_prefix: str, rasa_url: str | None = None) -> Settings:
    """Settings for a test app; Rasa defaults to a port where nothing listens."""
    return replace(settings(), redis_url=redis_url, key_prefix=key_prefix,
                   events_stream=key_prefix + "events-stream",
                   rasa_url=rasa_url or f"http://127.0.0.1:{free_port()}",
                   rasa_token="rasa-token", service_token=SERVICE_TOKEN,
                   secret_key="k" * 40, worker_interval=0.2)


def add_agent(redis_url: str, prefix: str, username: str, languages: list[str],
              name: str = "") -> str:
    """Creates an agent; returns its password."""
    async def run() -> str:
        redis = Redis.from_url(redis_url, decode_responses=True)
        try:
            return await AgentStore(redis, prefix).add(username, languages, name)
        finally:
            await redis.close()
    # a thread of its own, so it works inside async tests too
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def escalation(conversation_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A realistic escalation body as action_handoff sends it."""
    body: dict[str, Any] = {
        "escalation_id": uuid.uuid4().hex,
        "conversation_id": conversation_id or f"conv-{uuid.uuid4().hex[:8]}",
        "channel": "socketio", "language": "de", "reason": "damaged_goods",
        "transcript": [
            {"from": "shopper", "text": "Meine Jacke ist kaputt angekommen",
             "at": "2026-12-04T10:00:00.000+00:00", "intent": "complaint"},
        ],
        "context": {"order": {"order_id": "10482", "tracking_number": "00340434161094015902",
                              "carrier": "DHL", "status": "delivered", "total": 89.9},
                    "verification": "verified", "flags": {"legal_threat": False,
                                                          "high_order_value": False}},
    }
    body.update(overrides)
    return body


class Api:
    """A TestClient plus helpers for agents and the bot."""

    def __init__(self, client: TestClient, config: Settings) -> None:
        self.client = client
        self.config = config
        self.bot = {"Authorization": f"Bearer {SERVICE_TOKEN}"}

    def login(self, username: str, password: str) -> dict[str, str]:
        response = self.client.post("/api/auth/token",
                                    data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def escalate(self, **overrides: Any) -> dict[str, Any]:
        response = self.client.post("/api/escalations", json=escalation(**overrides),
                                    headers=self.bot)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def api(redis_url: str, key_prefix: str) -> Iterator[Api]:
    """The real handoff app (lifespan running) on the session's Redis."""
    config = make_settings(redis_url, key_prefix)
    with TestClient(create_app(config)) as client:
        yield Api(client, config)


@pytest.fixture
def agent_de(api: Api, redis_url: str, key_prefix: str) -> dict[str, str]:
    password = add_agent(redis_url, key_prefix, "jana", ["de"], "Jana")
    return api.login("jana", password)


@pytest.fixture
def agent_de2(api: Api, redis_url: str, key_prefix: str) -> dict[str, str]:
    password = add_agent(redis_url, key_prefix, "lukas", ["de", "en"], "Lukas")
    return api.login("lukas", password)
