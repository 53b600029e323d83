"""The ticket state machine against a real Redis: transitions, ordering, concurrency."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from handoff.queue import NewTicket, TicketError, TicketStore

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)


def new_ticket(n: int, language: str = "de", due_minutes: float = 5,
               conversation: str | None = None) -> NewTicket:
    return NewTicket(escalation_id=f"esc-{n:08d}", conversation_id=conversation or f"c{n}",
                     channel="socketio", language=language, reason="request_human",
                     priority=0, created_at=NOW, due_at=NOW + timedelta(minutes=due_minutes),
                     context={"intents": []}, transcript=[
                         {"from": "shopper", "text": f"Hallo {n}", "at": NOW.isoformat()}])


@pytest.fixture
async def store(redis_url: str, key_prefix: str):  # type: ignore[no-untyped-def]
    redis = Redis.from_url(redis_url, decode_responses=True)
    yield TicketStore(redis, key_prefix)
    await redis.close()


async def test_lifecycle_queued_assigned_resolved(store: TicketStore) -> None:
    ticket_id, created = await store.create(new_ticket(1))
    assert created
    ticket = await store.get(ticket_id)
    assert ticket is not None and ticket["status"] == "queued"
    assert ticket["transcript"][0]["text"] == "Hallo 1"
    assert ticket["context"] == {"intents": []}  # empty lists survive the round trip
    await store.claim(ticket_id, "jana", ["de"])
    ticket = await store.get(ticket_id)
    assert ticket and ticket["status"] == "assigned" and ticket["assigned_to"] == "jana"
    assert await store.queue_length("de") == 0
    await store.resolve(ticket_id, "jana")
    ticket = await store.get(ticket_id)
    assert ticket and ticket["status"] == "resolved" and ticket["resolved_at"]
    assert await store.open_ticket("c1") is None
    assert await store.latest_ticket("c1") == ticket_id


async def test_release_puts_ticket_back_with_its_deadline(store: TicketStore) -> None:
    urgent, _ = await store.create(new_ticket(1, due_minutes=1))
    later, _ = await store.create(new_ticket(2, due_minutes=30))
    await store.claim(urgent, "jana", ["de"])
    assert [t["id"] for t in await store.queued(["de"])] == [later]
    await store.release(urgent, "jana")
    assert [t["id"] for t in await store.queued(["de"])] == [urgent, later]
    ticket = await store.get(urgent)
    assert ticket and ticket["status"] == "queued" and ticket["assigned_to"] is None


@pytest.mark.parametrize(("setup", "action", "code"), [
    ("resolved", "claim", "resolved"),
    ("assigned", "claim", "taken"),
    ("queued", "resolve", "not_assigned"),
    ("queued", "release", "not_assigned"),
    ("assigned", "resolve", "not_yours"),
    ("assigned", "release", "not_yours"),
    ("missing", "claim", "not_found"),
])
async def test_forbidden_transitions(store: TicketStore, setup: str, action: str,
                                     code: str) -> None:
    ticket_id, _ = await store.create(new_ticket(1))
    if setup in ("assigned", "resolved"):
        await store.claim(ticket_id, "jana", ["de"])
    if setup == "resolved":
        await store.resolve(ticket_id, "jana")
    if setup == "missing":
        ticket_id = "999999"
    before = await store.get(ticket_id)
    with pytest.raises(TicketError) as error:
        if action == "claim":
            await store.claim(ticket_id, "lukas", ["de"])
        elif action == "resolve":
            await store.resolve(ticket_id, "lukas")
        else:
            await store.release(ticket_id, "lukas")
    assert error.value.code == code
    assert await store.get(ticket_id) == before  # nothing changed


async def test_wrong_language_cannot_claim(store: TicketStore) -> None:
    ticket_id, _ = await store.create(new_ticket(1, language="en"))
    with pytest.raises(TicketError) as error:
        await store.claim(ticket_id, "jana", ["de"])
    assert error.value.code == "wrong_language"


async def test_create_is_idempotent_per_escalation_and_conversation(
        store: TicketStore) -> None:
    first, created = await store.create(new_ticket(1))
    again, created_again = await store.create(new_ticket(1))
    assert created and not created_again and first == again
    # a second escalation of the same open conversation joins the open ticket
    other = new_ticket(2, conversation="c1")
    joined, created_other = await store.create(other)
    assert joined == first and not created_other
    assert await store.queue_length("de") == 1


async def test_two_agents_never_own_the_same_ticket(redis_url: str, key_prefix: str) -> None:
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(20)]
    stores = [TicketStore(client, key_prefix) for client in clients]
    try:
        ticket_id, _ = await stores[0].create(new_ticket(1))

        async def attempt(i: int) -> str:
            try:
                await stores[i].claim(ticket_id, f"agent{i}", ["de"])
                return f"agent{i}"
            except TicketError as error:
                assert error.code == "taken"
                return ""

        winners = [w for w in await asyncio.gather(*(attempt(i) for i in range(20))) if w]
        assert len(winners) == 1
        ticket = await stores[0].get(ticket_id)
        assert ticket and ticket["assigned_to"] == winners[0]
    finally:
        for client in clients:
            await client.close()


async def test_concurrent_claim_next_hands_out_each_ticket_once(
        redis_url: str, key_prefix: str) -> None:
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(8)]
    stores = [TicketStore(client, key_prefix) for client in clients]
    try:
        for n in range(40):
            await stores[0].create(new_ticket(n, language="de" if n % 2 else "en",
                                              due_minutes=n))

        async def agent(i: int) -> list[str]:
            got = []
            while (ticket_id := await stores[i].claim_next(f"a{i}", ["de", "en"])):
                got.append(ticket_id)
            return got

        results = await asyncio.gather(*(agent(i) for i in range(8)))
        claimed = [t for r in results for t in r]
        assert len(claimed) == 40 and len(set(claimed)) == 40
        for i, ids in enumerate(results):
            for ticket_id in ids:
                ticket = await stores[0].get(ticket_id, with_transcript=False)
                assert ticket and ticket["assigned_to"] == f"a{i}"
    finally:
        for client in clients:
            await client.close()


async def test_claim_next_takes_earliest_deadline_across_languages(store: TicketStore) -> None:
    await store.create(new_ticket(1, language="de", due_minutes=20))
    urgent_en, _ = await store.create(new_ticket(2, language="en", due_minutes=3))
    await store.create(new_ticket(3, language="de", due_minutes=10))
    assert await store.claim_next("lukas", ["de", "en"]) == urgent_en
    nxt = await store.claim_next("jana", ["de"])
    ticket = await store.get(str(nxt))
    assert ticket and ticket["conversation_id"] == "c3"
