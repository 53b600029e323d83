"""Escalations that other features trigger, through the real stack: a second
consecutive misunderstanding and a repeated wish for product advice reach a person."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.shopper import agent_headers, create_agent, ticket_of

pytestmark = pytest.mark.e2e


def texts(messages: list[dict]) -> str:
    return " ".join(m.get("text", "") for m in messages)


async def test_second_miss_in_a_row_goes_to_a_person(stack: Stack) -> None:
    who = f"esc-fallback-{uuid.uuid4().hex[:8]}"
    first = texts(stack.say(who, "xqzv plörk"))
    assert "nicht verstanden" in first and "Kundenservice" not in first
    second = texts(stack.say(who, "xqzv plörk"))
    assert "Kundenservice" in second, second

    headers = agent_headers(stack, *create_agent(stack))
    ticket = await ticket_of(stack, headers, who)
    assert ticket["reason"] == "fallback"
    assert [m["text"] for m in ticket["transcript"] if m["from"] == "shopper"] == [
        "xqzv plörk", "xqzv plörk"]
    # the bot is silent while the ticket waits for an agent
    assert texts(stack.say(who, "Hallo?")) == ""


async def test_asking_again_for_product_advice_goes_to_a_person(stack: Stack) -> None:
    who = f"esc-advice-{uuid.uuid4().hex[:8]}"
    refusal = texts(stack.say(who, "Welche Regenjacke können Sie mir empfehlen?"))
    assert "Kundenservice" not in refusal and refusal
    again = texts(stack.say(who, "Bitte empfehlen Sie mir trotzdem eine Jacke"))
    assert "Kundenservice" in again, again

    headers = agent_headers(stack, *create_agent(stack))
    ticket = await ticket_of(stack, headers, who)
    assert ticket["reason"] == "request_human"
    assert ticket["language"] == "de"
