"""``POST /api/auth/token``: agents log in with form fields username and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, status

from handoff.api.deps import AgentDep, AgentsDep, SettingsDep
from handoff.auth import issue_token
from handoff.models import Token

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/auth/token", response_model=Token)
async def login(username: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=256)],
                agents: AgentsDep, config: SettingsDep) -> Token:
    """Exchanges an agent's username and password for an expiring bearer token."""
    agent = await agents.authenticate(username.strip().lower(), password)
    if agent is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    return Token(access_token=issue_token(agent.username, config.secret_key,
                                          config.token_ttl_seconds),
                 expires_in=config.token_ttl_seconds)


@router.get("/me")
async def me(agent: AgentDep) -> dict[str, object]:
    """The logged-in agent."""
    return {"username": agent.username, "name": agent.name, "languages": agent.languages}
