"""The handoff API as agents and the bot use it, on the real app and a real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import redis
from fastapi.testclient import TestClient

from handoff.app import create_app
from handoff.auth import issue_token
from tests.e2e.conftest import ROOT
from tests.handoff.conftest import Api, add_agent, escalation, make_settings


def test_agent_endpoints_need_a_valid_token(api: Api) -> None:
    for method, path in [("GET", "/api/queue"), ("GET", "/api/tickets/1"),
                         ("POST", "/api/tickets/1/claim"), ("POST", "/api/tickets/1/release"),
                         ("POST", "/api/tickets/1/resolve"), ("GET", "/api/metrics"),
                         ("POST", "/api/queue/claim-next")]:
        assert api.client.request(method, path).status_code == 401, path
        bad = {"Authorization": "Bearer abc.def"}
        assert api.client.request(method, path, headers=bad).status_code == 401, path
    # the bot's service token is not an agent token
    assert api.client.get("/api/queue", headers=api.bot).status_code == 401


def test_expired_and_forged_tokens_are_rejected(api: Api, redis_url: str,
                                                key_prefix: str) -> None:
    add_agent(redis_url, key_prefix, "jana", ["de"])
    expired = issue_token("jana", api.config.secret_key, -10)
    response = api.client.get("/api/queue", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    forged = issue_token("jana", "another-key-" + "z" * 30, 3600)
    response = api.client.get("/api/queue", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_login_with_wrong_password_fails(api: Api, redis_url: str, key_prefix: str) -> None:
    add_agent(redis_url, key_prefix, "jana", ["de"])
    response = api.client.post("/api/auth/token", data={"username": "jana", "password": "no"})
    assert response.status_code == 401
    assert api.client.post("/api/auth/token", data={}).status_code == 422


def test_escalation_needs_the_service_token(api: Api) -> None:
    body = escalation()
    assert api.client.post("/api/escalations", json=body).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert api.client.post("/api/escalations", json=body, headers=wrong).status_code == 401


def test_escalation_becomes_a_ticket_with_full_context(api: Api,
                                                       agent_de: dict[str, str]) -> None:
    result = api.escalate(conversation_id="shopper-1")
    assert result["created"] and result["status"] == "queued" and result["position"] == 1
    queue = api.client.get("/api/queue", headers=agent_de).json()
    assert [t["id"] for t in queue] == [result["ticket_id"]]
    ticket = api.client.get(f"/api/tickets/{result['ticket_id']}", headers=agent_de).json()
    assert ticket["conversation_id"] == "shopper-1"
    assert ticket["reason"] == "damaged_goods" and ticket["priority"] == 2
    assert ticket["context"]["order"]["order_id"] == "10482"
    assert ticket["transcript"][0]["from"] == "shopper"
    assert ticket["transcript"][0]["text"] == "Meine Jacke ist kaputt angekommen"
    for field in ("created_at", "due_at", "channel", "language", "status", "assigned_to"):
        assert field in ticket


def test_same_escalation_twice_makes_one_ticket(api: Api) -> None:
    body = escalation()
    first = api.client.post("/api/escalations", json=body, headers=api.bot).json()
    second = api.client.post("/api/escalations", json=body, headers=api.bot).json()
    assert first["ticket_id"] == second["ticket_id"] and not second["created"]


def test_severity_orders_the_queue(api: Api, agent_de: dict[str, str]) -> None:
    normal = api.escalate(reason="request_human")
    legal = api.escalate(reason="legal_threat")
    high_value = api.escalate(reason="request_human", context={
        "flags": {"high_order_value": True}})
    order = [t["id"] for t in api.client.get("/api/queue", headers=agent_de).json()]
    assert order == [legal["ticket_id"], high_value["ticket_id"], normal["ticket_id"]]


def test_invalid_escalations_get_422(api: Api) -> None:
    for broken in ({"reason": "<script>"}, {"escalation_id": "x"},
                   {"transcript": [{"from": "hacker", "text": "x", "at": "now"}]}):
        response = api.client.post("/api/escalations", json=escalation(**broken),
                                   headers=api.bot)
        assert response.status_code == 422, broken


def test_claim_conflicts_and_resolved_tickets(api: Api, agent_de: dict[str, str],
                                              agent_de2: dict[str, str]) -> None:
    ticket_id = api.escalate()["ticket_id"]
    assert api.client.post(f"/api/tickets/{ticket_id}/claim",
                           headers=agent_de).status_code == 200
    taken = api.client.post(f"/api/tickets/{ticket_id}/claim", headers=agent_de2)
    assert taken.status_code == 409 and taken.json()["detail"]["code"] == "taken"
    assert api.client.post(f"/api/tickets/{ticket_id}/resolve",
                           headers=agent_de2).status_code == 403
    assert api.client.post(f"/api/tickets/{ticket_id}/resolve",
                           headers=agent_de).status_code == 200
    again = api.client.post(f"/api/tickets/{ticket_id}/claim", headers=agent_de2)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "resolved"
    assert api.client.post("/api/tickets/424242/claim", headers=agent_de).status_code == 404


def test_release_returns_ticket_untouched(api: Api, agent_de: dict[str, str]) -> None:
    ticket_id = api.escalate()["ticket_id"]
    before = api.client.get(f"/api/tickets/{ticket_id}", headers=agent_de).json()
    api.client.post(f"/api/tickets/{ticket_id}/claim", headers=agent_de)
    released = api.client.post(f"/api/tickets/{ticket_id}/release", headers=agent_de).json()
    assert released["status"] == "queued" and released["assigned_to"] is None
    assert released["due_at"] == before["due_at"]
    assert released["transcript"] == before["transcript"]
    assert [t["id"] for t in api.client.get("/api/queue", headers=agent_de).json()] == [
        ticket_id]


def test_reply_is_kept_and_retried_while_rasa_is_down(api: Api,
                                                      agent_de: dict[str, str]) -> None:
    ticket_id = api.escalate()["ticket_id"]
    api.client.post(f"/api/tickets/{ticket_id}/claim", headers=agent_de)
    response = api.client.post(f"/api/tickets/{ticket_id}/messages",
                               json={"text": "Guten Tag, ich <b>prüfe</b> das."},
                               headers=agent_de)
    assert response.status_code == 201
    assert response.json()["delivery"] == "retrying"
    ticket = api.client.get(f"/api/tickets/{ticket_id}", headers=agent_de).json()
    reply = ticket["transcript"][-1]
    assert reply["from"] == "agent" and reply["text"] == "Guten Tag, ich <b>prüfe</b> das."
    assert reply["delivery"] == "retrying" and reply["agent"]["id"] == "jana"
    client = redis.Redis.from_url(api.config.redis_url, decode_responses=True)
    queued = client.lrange(f"{api.config.key_prefix}outq:{ticket_id}", 0, -1)
    client.close()
    assert any("prüfe" in job for job in queued)  # pause, joined, then the reply


def test_oversized_and_empty_replies(api: Api, agent_de: dict[str, str]) -> None:
    ticket_id = api.escalate()["ticket_id"]
    api.client.post(f"/api/tickets/{ticket_id}/claim", headers=agent_de)
    big = api.client.post(f"/api/tickets/{ticket_id}/messages", json={"text": "x" * 2001},
                          headers=agent_de)
    assert big.status_code == 413
    assert api.client.post(f"/api/tickets/{ticket_id}/messages", json={"text": "  "},
                           headers=agent_de).status_code == 422
    assert api.client.post(f"/api/tickets/{ticket_id}/messages", json={},
                           headers=agent_de).status_code == 422
    ticket = api.client.get(f"/api/tickets/{ticket_id}", headers=agent_de).json()
    assert [e["from"] for e in ticket["transcript"]] == ["shopper"]


def test_reply_on_unclaimed_ticket_is_refused(api: Api, agent_de: dict[str, str]) -> None:
    ticket_id = api.escalate()["ticket_id"]
    response = api.client.post(f"/api/tickets/{ticket_id}/messages", json={"text": "Hallo"},
                               headers=agent_de)
    assert response.status_code == 409


def test_templates_are_filled_from_context(api: Api, agent_de: dict[str, str]) -> None:
    ticket_id = api.escalate()["ticket_id"]
    templates = api.client.get(f"/api/tickets/{ticket_id}/templates", headers=agent_de).json()
    tracking = next(t for t in templates if t["title"] == "Sendungsnummer")
    assert "10482" in tracking["text"] and "00340434161094015902" in tracking["text"]
    assert "{" not in tracking["text"]
    greeting = next(t for t in templates if t["title"] == "Begrüßung")
    assert "Jana" in greeting["text"]


def test_csat_metrics_and_containment(api: Api, agent_de: dict[str, str]) -> None:
    ticket_id = api.escalate(conversation_id="rated", channel="whatsapp")["ticket_id"]
    api.client.post(f"/api/tickets/{ticket_id}/claim", headers=agent_de)
    api.client.post(f"/api/tickets/{ticket_id}/messages", json={"text": "Hallo"},
                    headers=agent_de)
    api.client.post(f"/api/tickets/{ticket_id}/resolve", headers=agent_de)
    assert api.client.post("/api/conversations/rated/csat", json={"score": 6},
                           headers=api.bot).status_code == 422
    assert api.client.post("/api/conversations/nobody/csat", json={"score": 4},
                           headers=api.bot).status_code == 404
    stored = api.client.post("/api/conversations/rated/csat", json={"score": 4},
                             headers=api.bot)
    assert stored.status_code == 200
    assert api.client.get(f"/api/tickets/{ticket_id}", headers=agent_de).json()["csat"] == 4
    client = redis.Redis.from_url(api.config.redis_url, decode_responses=True)
    client.sadd(f"{api.config.key_prefix}m:conversations", "c-a", "c-b", "c-c")
    client.close()
    metrics = api.client.get("/api/metrics", headers=agent_de).json()
    assert metrics["channels"]["whatsapp"]["csat"] == {"average": 4.0, "count": 1}
    assert metrics["channels"]["whatsapp"]["first_response_seconds"]["count"] == 1
    assert metrics["channels"]["whatsapp"]["resolution_seconds"]["median"] is not None
    assert metrics["conversations"] == 4 and metrics["escalated_conversations"] == 1
    assert metrics["containment_rate"] == 0.75
    text = api.client.get("/metrics").text
    assert 'kdbot_handoff_queue_length{language="de"} 0' in text
    assert 'kdbot_handoff_csat_average{channel="whatsapp"} 4.0' in text
    assert "kdbot_containment_rate 0.75" in text


def test_websocket_rejects_bad_tokens_and_streams_events(api: Api,
                                                         agent_de: dict[str, str]) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as closed, \
            api.client.websocket_connect("/api/ws?token=forged.token") as ws:
        ws.receive_text()
    assert closed.value.code == 4401
    token = agent_de["Authorization"].split()[1]
    with api.client.websocket_connect(f"/api/ws?token={token}") as ws:
        time.sleep(0.3)
        ticket_id = api.escalate()["ticket_id"]
        event = ws.receive_json()
        assert event["type"] == "ticket.created" and event["ticket_id"] == ticket_id


def test_service_refuses_to_start_without_secrets(redis_url: str, key_prefix: str) -> None:
    config = replace(make_settings(redis_url, key_prefix), secret_key="")
    with pytest.raises(RuntimeError, match="HANDOFF_SECRET_KEY"), \
            TestClient(create_app(config)):
        pass


def test_agents_cli_prints_password_last(redis_url: str, key_prefix: str, api: Api) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "HANDOFF_KEY_PREFIX": key_prefix,
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "handoff.agents", "add", "mara",
                             "--languages", "de,en"], env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    password = result.stdout.split()[-1]
    headers = api.login("mara", password)
    me = api.client.get("/api/me", headers=headers).json()
    assert me["languages"] == ["de", "en"]
    again = subprocess.run([sys.executable, "-m", "handoff.agents", "add", "mara"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "exists" in again.stderr
    bad = subprocess.run([sys.executable, "-m", "handoff.agents", "add", "x y",
                          "--languages", "fr"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "error" in bad.stderr
