"""Dependencies of the API routes: the service objects and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from handoff.agents import Agent, AgentStore
from handoff.auth import InvalidToken, service_token_matches, verify_token
from handoff.service import HandoffService
from handoff.settings import Settings

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_service(request: Request) -> HandoffService:
    """The app's :class:`HandoffService`."""
    service: HandoffService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    config: Settings = request.app.state.settings
    return config


def get_agents(request: Request) -> AgentStore:
    """The app's agent store."""
    agents: AgentStore = request.app.state.agents
    return agents


ServiceDep = Annotated[HandoffService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AgentsDep = Annotated[AgentStore, Depends(get_agents)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


async def agent_from_token(token: str, config: Settings, agents: AgentStore) -> Agent:
    """The agent a bearer token belongs to.

    Raises:
        HTTPException: 401 for a missing, invalid or expired token or a deleted agent.
    """
    try:
        username = verify_token(token, config.secret_key)
    except InvalidToken as error:
        raise _unauthorized(str(error)) from error
    agent = await agents.get(username)
    if agent is None:
        raise _unauthorized("unknown agent")
    return agent


async def current_agent(credentials: Credentials, config: SettingsDep,
                        agents: AgentsDep) -> Agent:
    """The authenticated agent (bearer token from ``POST /api/auth/token``)."""
    if credentials is None:
        raise _unauthorized("missing bearer token")
    return await agent_from_token(credentials.credentials, config, agents)


async def require_bot(credentials: Credentials, config: SettingsDep) -> None:
    """Accepts only the bot's ``HANDOFF_SERVICE_TOKEN``."""
    if credentials is None or not service_token_matches(credentials.credentials,
                                                        config.service_token):
        raise _unauthorized("the service token is missing or wrong")


AgentDep = Annotated[Agent, Depends(current_agent)]
BotDep = Annotated[None, Depends(require_bot)]
