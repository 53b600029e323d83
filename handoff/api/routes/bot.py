"""Endpoints the bot (action server) calls with ``HANDOFF_SERVICE_TOKEN``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from handoff.api.deps import BotDep, ServiceDep
from handoff.models import CsatIn, Escalation, EscalationResult
from handoff.queue import TicketError

router = APIRouter(prefix="/api", tags=["bot"])


@router.post("/escalations", response_model=EscalationResult,
             status_code=status.HTTP_201_CREATED)
async def escalate(body: Escalation, _bot: BotDep, service: ServiceDep) -> EscalationResult:
    """Queues an escalation as a ticket (idempotent per ``escalation_id``)."""
    return await service.escalate(body)


@router.get("/escalations/{ticket_id}", response_model=EscalationResult)
async def standing(ticket_id: str, _bot: BotDep, service: ServiceDep) -> EscalationResult:
    """Where a ticket stands: position, expected wait, next opening."""
    try:
        return await service.standing(ticket_id)
    except TicketError as error:
        raise HTTPException(error.status, str(error)) from error


@router.post("/conversations/{conversation_id}/csat")
async def csat(conversation_id: str, body: CsatIn, _bot: BotDep,
               service: ServiceDep) -> dict[str, object]:
    """Stores the shopper's rating (1-5) on the conversation's latest ticket."""
    try:
        ticket_id = await service.store_csat(conversation_id, body.score)
    except TicketError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            "the conversation has no ticket to rate") from error
    return {"ticket_id": ticket_id, "csat": body.score}
