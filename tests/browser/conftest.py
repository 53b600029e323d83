"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's sync API."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WIDGET_DIR = Path(__file__).resolve().parents[2] / "widget"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API keeps an event loop running while it is open,
    which would break the asyncio tests that run after the browser tests."""
    if not Path(CHROMIUM).exists():
        pytest.fail("headless Chromium is missing: run `make browser`")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile per test (own localStorage), German locale."""
    ctx = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


def node_module(path: str) -> Path:
    """A file of the widget's npm dependencies (axe-core, rasa-webchat)."""
    file = WIDGET_DIR / "node_modules" / path
    if not file.exists():
        pytest.fail(f"{file} is missing: run `make widget` (npm ci)")
    return file


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[Callable[[dict[str, str | Path]], str]]:
    """Serves given files (text or a file to copy) from a real local web server; returns its URL.

    A page fulfilled by Playwright's routing counts as public for Chromium's local network
    access checks, so pages that talk to our 127.0.0.1 servers must come from a real server.
    """
    servers: list[ThreadingHTTPServer] = []

    def serve(files: dict[str, str | Path]) -> str:
        for name, content in files.items():
            if isinstance(content, Path):
                shutil.copy(content, tmp_path / name)
            else:
                (tmp_path / name).write_text(content, encoding="utf-8")
        server = ThreadingHTTPServer(("127.0.0.1", 0),
                                     partial(QuietHandler, directory=str(tmp_path)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
