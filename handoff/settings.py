"""Settings of the handoff service, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret"}


@dataclass(frozen=True)
class Settings:
    """Handoff-service settings (see the settings table in README.md).

    Attributes:
        redis_url: Redis holding tickets, agents and the event stream.
        rasa_url: Base URL of Rasa's HTTP API.
        rasa_token: Token of Rasa's HTTP API.
        service_token: Bearer token the bot (action server) uses at this service.
        secret_key: Key that signs agents' bearer tokens.
        key_prefix: Prefix of every Redis key of the handoff service.
        events_stream: Redis stream the Rasa event broker writes to.
        token_ttl_seconds: Lifetime of an agent's bearer token.
        max_message_chars: Longest agent reply accepted.
        policy_file: The shop's policy (business hours, SLA targets).
        templates_file: German/English reply templates of the console.
        var_dir: Runtime state directory (escalation spool file of the action server).
        worker_interval: Seconds between background rounds (retries, outbox).
    """

    redis_url: str
    rasa_url: str
    rasa_token: str
    service_token: str
    secret_key: str
    key_prefix: str = "kdbot:handoff:"
    events_stream: str = "kdbot:events"
    token_ttl_seconds: int = 8 * 3600
    max_message_chars: int = 2000
    policy_file: Path = PROJECT_ROOT / "data/shop/policy.yml"
    templates_file: Path = PROJECT_ROOT / "handoff/templates.yml"
    var_dir: Path = PROJECT_ROOT / "var"
    worker_interval: float = 1.0

    def check(self) -> None:
        """Refuses placeholder secrets (the service would accept forged tokens).

        Raises:
            RuntimeError: when a secret is empty or a known placeholder.
        """
        for name, value in (("HANDOFF_SECRET_KEY", self.secret_key),
                            ("HANDOFF_SERVICE_TOKEN", self.service_token)):
            if value.strip().lower() in PLACEHOLDER_SECRETS:
                raise RuntimeError(f"{name} is not set (or is a placeholder); "
                                   "`make run` generates one into var/secrets.env")


def settings() -> Settings:
    """Reads the settings from the environment, with the documented defaults."""
    return Settings(
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        rasa_url=os.environ.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
        rasa_token=os.environ.get("RASA_TOKEN", ""),
        service_token=os.environ.get("HANDOFF_SERVICE_TOKEN", ""),
        secret_key=os.environ.get("HANDOFF_SECRET_KEY", ""),
        key_prefix=os.environ.get("HANDOFF_KEY_PREFIX", "kdbot:handoff:"),
        events_stream=os.environ.get("KDBOT_EVENTS_STREAM", "kdbot:events"),
        token_ttl_seconds=int(os.environ.get("HANDOFF_TOKEN_TTL", str(8 * 3600))),
        max_message_chars=int(os.environ.get("HANDOFF_MAX_MESSAGE_CHARS", "2000")),
        policy_file=Path(os.environ.get("SHOP_POLICY_FILE",
                                        PROJECT_ROOT / "data/shop/policy.yml")),
        templates_file=Path(os.environ.get("HANDOFF_TEMPLATES_FILE",
                                           PROJECT_ROOT / "handoff/templates.yml")),
        var_dir=Path(os.environ.get("KDBOT_VAR_DIR", PROJECT_ROOT / "var")),
        worker_interval=float(os.environ.get("HANDOFF_WORKER_INTERVAL", "1.0")),
    )
