"""Cold and warm start of the stack, as a user meets them with `make run`.

Cold: a fresh clone with no virtual environment and no model: `make install`,
`make train`, then the stack until every service answers. Warm: the same clone
again, nothing to install or train. (The uv package cache of this machine is warm;
on a machine that never installed the lock, downloads come on top.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.report import ROOT, machine, write_section  # noqa: E402
from tests.conftest import free_port  # noqa: E402


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def stack_up(cwd: Path, env: dict[str, str]) -> float:
    """Seconds from `make run` to the supervisor's "all services are up" line."""
    ports = {k: str(free_port()) for k in
             ("RASA_PORT", "ACTION_PORT", "HANDOFF_PORT", "STOREFRONT_PORT", "REDIS_PORT",
              "WHATSAPP_WORKER_PORT")}
    started = time.monotonic()
    process = subprocess.Popen(["make", "-s", "run"], cwd=cwd, env={**env, **ports},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith("all services are up"):
                return time.monotonic() - started
            if line.startswith("error"):
                raise RuntimeError(line)
        raise RuntimeError("stack exited before it was up")
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=60)


def main() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "REDIS_"))}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        install = timed(["make", "-s", "install"], clone, env)
        train = timed(["make", "-s", "train"], clone, env)
        cold_up = stack_up(clone, env)
        warm_up = stack_up(clone, env)
        # with WhatsApp configured the stack also starts the inbox worker (a second Rasa)
        whatsapp = {"WHATSAPP_APP_SECRET": "bench-secret", "WHATSAPP_VERIFY_TOKEN": "bench",
                    "WHATSAPP_ACCESS_TOKEN": "bench", "WHATSAPP_PHONE_NUMBER_ID": "1",
                    "WHATSAPP_API_URL": f"http://127.0.0.1:{free_port()}/v21.0"}
        warm_whatsapp = stack_up(clone, {**env, **whatsapp})
    cold = install + train + cold_up
    body = f"""## Start-up (`bench/startup/run.py`)

{machine()}

| phase | seconds |
| --- | ---: |
| cold: `make install` (new venv from the lock, warm uv cache) | {install:.1f} |
| cold: `make train` (no model yet) | {train:.1f} |
| cold: stack until all services answer | {cold_up:.1f} |
| **cold start total** | **{cold:.1f}** |
| **warm start** (`make run`, nothing to install or train, until all answer) | **{warm_up:.1f}** |
| warm start with WhatsApp configured (plus the inbox worker, a 2nd Rasa) | {warm_whatsapp:.1f} |

Target: warm start under 60 s."""
    write_section("startup", body)
    print(body)


if __name__ == "__main__":
    main()
