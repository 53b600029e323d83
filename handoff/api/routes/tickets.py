"""Agent API: queue, tickets, claim, reply, release, resolve."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from handoff.api.deps import AgentDep, ServiceDep, SettingsDep
from handoff.models import ReplyIn
from handoff.queue import TicketError
from handoff.service import fill, placeholder_values

router = APIRouter(prefix="/api", tags=["agents"])


def _http(error: TicketError) -> HTTPException:
    return HTTPException(error.status, detail={"code": error.code, "message": str(error)})


async def _ticket(service: ServiceDep, ticket_id: str) -> dict[str, Any]:
    ticket = await service.store.get(ticket_id)
    if ticket is None:
        raise _http(TicketError("not_found"))
    return ticket


@router.get("/queue")
async def queue(agent: AgentDep, service: ServiceDep) -> list[dict[str, Any]]:
    """Queued tickets in the agent's languages, most urgent (earliest SLA due) first."""
    return await service.store.queued(agent.languages)


@router.get("/tickets")
async def my_tickets(agent: AgentDep, service: ServiceDep) -> list[dict[str, Any]]:
    """The tickets the agent owns now."""
    return await service.store.assigned_to(agent.username)


@router.post("/queue/claim-next", responses={204: {"description": "the queues are empty"}})
async def claim_next(agent: AgentDep, service: ServiceDep) -> Any:
    """Claims the most urgent queued ticket in the agent's languages."""
    ticket_id = await service.claim_next(agent)
    if ticket_id is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return await _ticket(service, ticket_id)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: str, agent: AgentDep, service: ServiceDep) -> dict[str, Any]:
    """A ticket with its whole transcript and context."""
    ticket = await _ticket(service, ticket_id)
    if ticket["language"] not in agent.languages and ticket["assigned_to"] != agent.username:
        raise _http(TicketError("wrong_language"))
    return ticket


@router.get("/tickets/{ticket_id}/templates")
async def templates(ticket_id: str, agent: AgentDep,
                    service: ServiceDep) -> list[dict[str, str]]:
    """Reply templates with placeholders filled from the ticket's context."""
    ticket = await get_ticket(ticket_id, agent, service)
    values = placeholder_values(ticket, agent)
    return [{"title": str(t.get("title", "")), "text": fill(str(t.get("text", "")), values)}
            for t in service.templates["templates"]]


@router.post("/tickets/{ticket_id}/claim")
async def claim(ticket_id: str, agent: AgentDep, service: ServiceDep) -> dict[str, Any]:
    """Assigns a queued ticket to the agent; 409 when another agent has it or it is resolved."""
    try:
        await service.claim(ticket_id, agent)
    except TicketError as error:
        raise _http(error) from error
    return await _ticket(service, ticket_id)


@router.post("/tickets/{ticket_id}/messages", status_code=status.HTTP_201_CREATED)
async def reply(ticket_id: str, body: ReplyIn, agent: AgentDep, service: ServiceDep,
                config: SettingsDep) -> dict[str, Any]:
    """Sends a reply to the shopper's channel; ``delivery`` tells whether Rasa has it yet.

    When Rasa is down the reply is kept (``retrying``) and delivered in order later.
    """
    text = body.text.strip()
    if not text:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "the reply is empty")
    if len(text) > config.max_message_chars:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                            f"the reply has {len(text)} characters; at most "
                            f"{config.max_message_chars} are allowed")
    try:
        return await service.reply(ticket_id, agent, text)
    except TicketError as error:
        raise _http(error) from error


@router.post("/tickets/{ticket_id}/release")
async def release(ticket_id: str, agent: AgentDep, service: ServiceDep) -> dict[str, Any]:
    """Puts the ticket back into the queue untouched."""
    try:
        await service.release(ticket_id, agent)
    except TicketError as error:
        raise _http(error) from error
    return await _ticket(service, ticket_id)


@router.post("/tickets/{ticket_id}/resolve")
async def resolve(ticket_id: str, agent: AgentDep, service: ServiceDep) -> dict[str, Any]:
    """Hands the chat back to the bot, which then asks for a rating."""
    try:
        await service.resolve(ticket_id, agent)
    except TicketError as error:
        raise _http(error) from error
    return await _ticket(service, ticket_id)
