"""Static server of the demo storefront (started by ``scripts/stack.py``).

Serves ``storefront/`` and the built widget ``widget/dist/kdbot-widget.js`` at
``/kdbot-widget.js``. In HTML pages it replaces ``__RASA_URL__`` with the Rasa server's
public URL (``RASA_PUBLIC_URL``, default ``http://127.0.0.1:$RASA_PORT``), so the demo page
finds the socket.io channel whatever port the stack runs on. Query parameters
``lang``, ``color`` and ``position`` override the widget's data attributes of the demo
page (for trying them out).

Usage: ``python storefront/serve.py --port 8080``
"""

from __future__ import annotations

import argparse
import html
import os
import re
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "storefront"
WIDGET = ROOT / "widget" / "dist" / "kdbot-widget.js"
OVERRIDES = {"lang": re.compile(r"^(de|en|auto)$"), "color": re.compile(r"^#?[0-9a-fA-F]{3,6}$"),
             "position": re.compile(r"^(left|right)$")}


def public_rasa_url() -> str:
    """Where browsers reach the Rasa server's socket.io channel."""
    return os.environ.get("RASA_PUBLIC_URL") or (
        f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}")


class StorefrontHandler(SimpleHTTPRequestHandler):
    """Serves the pages, the templated server URL and the built widget."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the access log is not needed for a demo page."""

    def do_GET(self) -> None:  # noqa: N802
        """Widget file, templated HTML pages, else static files."""
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/kdbot-widget.js":
            self._send_file(WIDGET, "application/javascript; charset=utf-8")
            return
        page = url.path.rstrip("/") + "/index.html" if url.path.endswith("/") else url.path
        target = (PAGES / page.lstrip("/")).resolve()
        if target.suffix == ".html" and target.is_file() and PAGES in target.parents:
            text = target.read_text(encoding="utf-8").replace(
                "__RASA_URL__", html.escape(public_rasa_url(), quote=True))
            params = urllib.parse.parse_qs(url.query)
            for name, pattern in OVERRIDES.items():
                value = params.get(name, [""])[0]
                if value and pattern.match(value):
                    text = re.sub(rf'data-{name}="[^"]*"', f'data-{name}="{value}"', text)
            self._send_bytes(text.encode("utf-8"), "text/html; charset=utf-8")
            return
        super().do_GET()

    def _send_file(self, path: Path, content_type: str) -> None:
        if not path.is_file():
            self.send_error(404, "widget not built: run `make widget`")
            return
        self._send_bytes(path.read_bytes(), content_type)

    def _send_bytes(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    """Parses ``--port``/``--bind`` and serves until stopped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("STOREFRONT_PORT", 8080)))
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args()
    handler = partial(StorefrontHandler, directory=str(PAGES))
    with ThreadingHTTPServer((args.bind, args.port), handler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
