"""Human handoff end to end: widget shopper (socket.io) -> Rasa -> action server ->
handoff service -> agent -> Rasa tracker events API -> the shopper's own channel."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from tests.e2e.conftest import Stack
from tests.e2e.shopper import (
    Shopper,
    WebSocketShopper,
    agent_headers,
    create_agent,
    ticket_of,
)

pytestmark = pytest.mark.e2e


async def test_agent_takes_over_and_hands_back(stack: Stack) -> None:
    username, password = create_agent(stack)
    headers = agent_headers(stack, username, password)
    shopper = Shopper(stack.rasa_url)
    await shopper.connect()
    try:
        await shopper.say("Ich möchte bitte mit einem Mitarbeiter sprechen")
        announcement = await shopper.next()
        assert "Kundenservice" in announcement["text"]
        ticket = await ticket_of(stack, headers, shopper.session_id)
        assert ticket["channel"] == "socketio" and ticket["reason"] == "request_human"
        assert ticket["transcript"][0]["text"] == "Ich möchte bitte mit einem Mitarbeiter sprechen"

        token = headers["Authorization"].split()[1]
        ws_url = stack.handoff_url.replace("http", "ws") + f"/api/ws?token={token}"
        async with websockets.connect(ws_url) as ws, \
                httpx.AsyncClient(base_url=stack.handoff_url, headers=headers,
                                  timeout=15) as agent:
            claimed = await agent.post(f"/api/tickets/{ticket['id']}/claim")
            assert claimed.status_code == 200
            # outside business hours the widget also got the offer to leave an email
            joined = await shopper.wait_for(lambda m: "übernommen" in m["text"])
            assert "Jana" in joined["text"]

            # while the agent owns the chat the bot is silent, and the agent sees it live
            await shopper.say("Hallo? Meine Bestellnummer ist 10482 <script>x</script>")
            async def live_message() -> dict:
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 15))
                    if event["type"] == "message" and event["ticket_id"] == ticket["id"]:
                        return dict(event["message"])
            message = await live_message()
            assert message["from"] == "shopper" and "10482 <script>" in message["text"]
            assert await shopper.silence(1.5) == []

            reply = await agent.post(f"/api/tickets/{ticket['id']}/messages",
                                     json={"text": "Guten Tag, ich sehe mir das jetzt an."})
            assert reply.status_code == 201 and reply.json()["delivery"] == "delivered"
            received = await shopper.next()
            assert received["text"] == "Guten Tag, ich sehe mir das jetzt an."

            resolved = await agent.post(f"/api/tickets/{ticket['id']}/resolve")
            assert resolved.status_code == 200
            left = await shopper.next()
            assert "beendet" in left["text"]
            csat = await shopper.next()
            assert [b["payload"] for b in csat["quick_replies"]][-1] == \
                '/csat{"csat_score": "5"}'

            await shopper.say('/csat{"csat_score": "5"}')
            thanks = await shopper.next()
            assert "Bewertung" in thanks["text"], thanks
            stored = (await agent.get(f"/api/tickets/{ticket['id']}")).json()
            assert stored["status"] == "resolved" and stored["csat"] == 5
            transcript = [(e["from"], e["text"]) for e in stored["transcript"]]
            assert ("agent", "Guten Tag, ich sehe mir das jetzt an.") in transcript
            said = ("shopper", "Hallo? Meine Bestellnummer ist 10482 <script>x</script>")
            assert transcript.count(said) == 1

        # the conversation history in Rasa marks the agent's message
        events = stack.tracker(shopper.session_id)["events"]
        agent_events = [e for e in events if e["event"] == "bot"
                        and (e.get("metadata") or {}).get("handoff_event") == "message"]
        assert agent_events and agent_events[0]["metadata"]["agent"]["id"] == username
        # the bot answers again after the hand-back
        await shopper.say("Hallo")
        assert "Guten Tag" in (await shopper.next())["text"]
    finally:
        await shopper.close()


async def test_release_keeps_the_bot_silent_and_the_ticket_queued(stack: Stack) -> None:
    username, password = create_agent(stack)
    headers = agent_headers(stack, username, password)
    shopper = WebSocketShopper(stack.rasa_url)  # the browser's transport
    await shopper.connect()
    try:
        await shopper.say("Die Lieferung ist beschädigt angekommen, ich will eine Person")
        await shopper.next()
        ticket = await ticket_of(stack, headers, shopper.session_id)
        async with httpx.AsyncClient(base_url=stack.handoff_url, headers=headers) as agent:
            assert (await agent.post(f"/api/tickets/{ticket['id']}/claim")).status_code == 200
            await shopper.wait_for(lambda m: "übernommen" in m["text"])
            released = (await agent.post(f"/api/tickets/{ticket['id']}/release")).json()
            assert released["status"] == "queued" and released["due_at"] == ticket["due_at"]
        await shopper.say("Ist noch jemand da?")
        assert await shopper.silence(1.5) == []
    finally:
        await shopper.close()


async def test_a_shopper_returning_after_the_session_expired_still_waits_for_the_agent(
        stack: Stack) -> None:
    """Rasa starts a new session after 60 silent minutes; the handoff must survive it."""
    sender = f"e2e-expired-{uuid.uuid4().hex[:8]}"
    answers = stack.say(sender, "Ich möchte bitte mit einem Mitarbeiter sprechen")
    assert any("Kundenservice" in a.get("text", "") for a in answers)
    # two hours pass: move the whole conversation into the past
    events = stack.tracker(sender)["events"]
    for event in events:
        event["timestamp"] = event["timestamp"] - 2 * 3600
    replaced = httpx.put(f"{stack.rasa_url}/conversations/{sender}/tracker/events",
                         params={"token": stack.rasa_token}, json=events, timeout=30)
    replaced.raise_for_status()

    assert stack.say(sender, "Hallo, ist schon jemand da?") == []  # the bot stays silent
    after = stack.tracker(sender)["events"]
    kinds = [e["event"] for e in after]
    assert kinds.count("session_started") >= 1
    new_session = after[len(after) - 1 - kinds[::-1].index("session_started"):]
    assert [e["event"] for e in new_session if e["event"] in ("pause", "user")] == \
        ["pause", "user"]
    assert new_session[-1]["text"] == "Hallo, ist schon jemand da?"
