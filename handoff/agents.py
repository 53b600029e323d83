"""Agents of the human team, and the CLI that creates them.

``python -m handoff.agents add NAME --languages de,en [--display-name "Jana B."]`` creates
an agent (in the Redis of ``REDIS_URL``) and prints the generated password as the last
word. ``list`` shows agents, ``passwd NAME`` sets a new password.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys
from dataclasses import dataclass

from redis.asyncio import Redis

from handoff.auth import hash_password, verify_password
from handoff.routing import LANGUAGES
from handoff.settings import settings

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


@dataclass(frozen=True)
class Agent:
    """A person in the human team.

    Attributes:
        username: Login name (lowercase).
        name: Display name shown to shoppers.
        languages: Queues the agent works (``de``, ``en``).
    """

    username: str
    name: str
    languages: list[str]


class AgentStore:
    """Agents in Redis (hash ``{prefix}agent:{username}``).

    Args:
        redis: Asyncio client with ``decode_responses=True``.
        prefix: Key prefix of the handoff service.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, username: str) -> str:
        return f"{self.prefix}agent:{username}"

    async def add(self, username: str, languages: list[str], name: str = "") -> str:
        """Creates an agent with a generated password.

        Returns:
            The password (shown once; only its scrypt hash is stored).

        Raises:
            ValueError: invalid username or language, or the agent exists.
        """
        if not USERNAME.match(username):
            raise ValueError("username: 2-32 characters a-z, 0-9, '.', '_', '-'")
        unknown = [lang for lang in languages if lang not in LANGUAGES]
        if unknown or not languages:
            raise ValueError(f"languages must be among {', '.join(LANGUAGES)}")
        password = secrets.token_urlsafe(12)
        created = await self.redis.hsetnx(self._key(username), "password", "pending")
        if not created:
            raise ValueError(f"agent {username} exists")
        await self.redis.hset(self._key(username), mapping={
            "password": hash_password(password), "name": name or username,
            "languages": ",".join(languages)})
        await self.redis.sadd(f"{self.prefix}agents", username)
        return password

    async def set_password(self, username: str) -> str:
        """Gives an existing agent a new generated password and returns it."""
        if not await self.redis.exists(self._key(username)):
            raise ValueError(f"no agent {username}")
        password = secrets.token_urlsafe(12)
        await self.redis.hset(self._key(username), "password", hash_password(password))
        return password

    async def get(self, username: str) -> Agent | None:
        """The agent, or None."""
        raw = await self.redis.hgetall(self._key(username))
        if not raw or "languages" not in raw:
            return None
        return Agent(username, raw.get("name") or username,
                     [lang for lang in raw["languages"].split(",") if lang])

    async def authenticate(self, username: str, password: str) -> Agent | None:
        """The agent when the password is right, else None."""
        stored = await self.redis.hget(self._key(username), "password")
        if not stored or not verify_password(password, str(stored)):
            return None
        return await self.get(username)

    async def all(self) -> list[Agent]:
        """Every agent, by username."""
        names = sorted(await self.redis.smembers(f"{self.prefix}agents"))
        agents = [await self.get(name) for name in names]
        return [agent for agent in agents if agent]


async def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff.agents",
                                     description="Manage agents of the handoff service.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an agent; prints its password last")
    add.add_argument("name", help="login name")
    add.add_argument("--languages", default="de", help="comma-separated, e.g. de,en")
    add.add_argument("--display-name", default="", help="name shown to shoppers")
    passwd = commands.add_parser("passwd", help="generate a new password")
    passwd.add_argument("name")
    commands.add_parser("list", help="list agents")
    args = parser.parse_args(argv)
    config = settings()
    redis = Redis.from_url(config.redis_url, decode_responses=True)
    store = AgentStore(redis, config.key_prefix)
    try:
        if args.command == "add":
            languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
            password = await store.add(args.name.lower(), languages, args.display_name)
            print(f"agent {args.name.lower()} ({','.join(languages)}) created; "
                  f"password: {password}")
        elif args.command == "passwd":
            print(f"new password for {args.name}: {await store.set_password(args.name)}")
        else:
            for agent in await store.all():
                print(f"{agent.username}\t{agent.name}\t{','.join(agent.languages)}")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        await redis.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the agents CLI."""
    return asyncio.run(_main(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
