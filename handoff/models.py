"""Request and response bodies of the handoff API (pydantic v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, validator

MAX_TRANSCRIPT_ENTRIES = 2000
MAX_ENTRY_CHARS = 10000


class TranscriptEntry(BaseModel):
    """One line of the conversation as the bot saw it."""

    sender: Literal["shopper", "bot", "agent"] = Field(..., alias="from")
    text: str = Field("", max_length=MAX_ENTRY_CHARS)
    at: str = Field(..., description="ISO 8601 timestamp")
    intent: str | None = None
    entities: list[dict[str, Any]] | None = None

    class Config:
        allow_population_by_field_name = True

    @validator("at")
    def _iso_timestamp(cls, value: str) -> str:  # noqa: N805
        datetime.fromisoformat(value)  # ValueError -> 422
        return value


class Escalation(BaseModel):
    """What the bot hands over (``POST /api/escalations``, service token)."""

    escalation_id: str = Field(..., min_length=8, max_length=64, regex=r"^[A-Za-z0-9_-]+$")
    conversation_id: str = Field(..., min_length=1, max_length=200)
    channel: str = Field(..., min_length=1, max_length=40)
    language: str = Field("de", max_length=5)
    reason: str = Field(..., min_length=1, max_length=40, regex=r"^[a-z_]+$")
    created_at: str | None = None
    transcript: list[TranscriptEntry] = Field(default_factory=list,
                                              max_items=MAX_TRANSCRIPT_ENTRIES)
    context: dict[str, Any] = Field(default_factory=dict)

    @validator("created_at")
    def _iso_created(cls, value: str | None) -> str | None:  # noqa: N805
        if value is not None:
            datetime.fromisoformat(value)  # ValueError -> 422
        return value

    @validator("language")
    def _known_language(cls, value: str) -> str:  # noqa: N805
        return value if value in ("de", "en") else "de"


class EscalationResult(BaseModel):
    """Where the escalation stands, for the bot's answer to the shopper."""

    ticket_id: str
    created: bool
    status: str
    position: int | None
    business_open: bool
    wait_minutes: int | None
    opens_at: str | None
    due_at: str


class ReplyIn(BaseModel):
    """An agent's reply (``POST /api/tickets/{id}/messages``)."""

    text: str = Field(..., min_length=1)


class CsatIn(BaseModel):
    """A shopper's rating, stored by the bot."""

    score: int = Field(..., ge=1, le=5)


class Token(BaseModel):
    """OAuth2 bearer token answer."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
