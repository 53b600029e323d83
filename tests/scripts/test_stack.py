"""The stack supervisor as a user meets it: busy ports, dead children, restarts."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import ROOT, start_stack, stop_stack


def test_busy_port_is_named_with_its_variable(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "KDBOT_VAR_DIR": str(tmp_path), "RASA_PORT": str(port),
               "ACTION_PORT": str(free_port()), "HANDOFF_PORT": str(free_port()),
               "STOREFRONT_PORT": str(free_port()), "REDIS_URL": "redis://127.0.0.1:1/0"}
        result = subprocess.run([sys.executable, "scripts/stack.py"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"port {port} (RASA_PORT) is already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_python310_gets_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts/install.sh", tmp_path / "scripts/install.sh")
    shutil.copy(ROOT / "requirements.lock", tmp_path / "requirements.lock")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if Path("/usr/bin/python3.10").exists():
        pytest.skip("this machine has a system python3.10")
    result = subprocess.run(["bash", str(tmp_path / "scripts/install.sh")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Python 3.10 is required" in result.stderr
    assert not (tmp_path / ".venv").exists()


def test_a_killed_child_is_reported_and_the_rest_stopped(tmp_path: Path, redis_url: str) -> None:
    process, _stack = start_stack(tmp_path, redis_url)
    try:
        children = psutil.Process(process.pid).children()
        actions = next(c for c in children if "rasa_sdk" in " ".join(c.cmdline()))
        others = [c for c in children if c.pid != actions.pid]
        os.kill(actions.pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            stop_stack(process)
    assert process.returncode == 1
    assert "actions was killed by SIGKILL" in output
    time.sleep(0.5)
    assert not [c for c in others if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_restarted_stack_continues_the_conversation(tmp_path: Path) -> None:
    process, stack = start_stack(tmp_path, None)  # embedded Redis with AOF in tmp_path
    try:
        stack.say("restart-1", "Guten Tag")
    finally:
        stop_stack(process)
    assert process.returncode == 0
    assert any((tmp_path / "redis").iterdir())

    process, stack = start_stack(tmp_path, None)
    try:
        stack.say("restart-1", "Danke")
        user_texts = [e["text"] for e in stack.tracker("restart-1")["events"]
                      if e["event"] == "user"]
    finally:
        stop_stack(process)
    assert user_texts == ["Guten Tag", "Danke"]
