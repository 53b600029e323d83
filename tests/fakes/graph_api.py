"""A local fake of Meta's Graph API (WhatsApp Cloud API messages endpoint).

Real HTTP on a free port, in a background thread, so both in-process tests and the
real Rasa server (via ``WHATSAPP_API_URL``) can talk to it. It speaks the
documented wire format of ``POST /{phone-number-id}/messages``:

* a message -> ``{"messaging_product": "whatsapp", "contacts": [...],
  "messages": [{"id": "wamid...."}]}``
* mark-as-read (``"status": "read"``) -> ``{"success": true}``
* errors -> HTTP 4xx/5xx with ``{"error": {"message", "type", "code",
  "error_subcode", "fbtrace_id"}}``

It enforces the documented limits (text <= 4,096 characters, <= 3 reply buttons with
titles <= 20, <= 10 list rows with titles <= 24) so a channel that breaks them fails
its tests, checks the bearer token (error 190 otherwise), answers 131047 for free
text to recipients whose window the test closed, and can be told to fail the next
requests with a given error (rate limits 130429/131056, ...).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERROR_TITLES = {
    100: ("OAuthException", 400, "(#100) Invalid parameter"),
    190: ("OAuthException", 401, "Error validating access token: Session has expired"),
    130429: ("OAuthException", 400, "(#130429) Rate limit hit"),
    131056: ("OAuthException", 400, "(#131056) (Business Account, Consumer Account) pair "
                                     "rate limit hit"),
    131047: ("OAuthException", 400, "(#131047) Re-engagement message"),
    131000: ("OAuthException", 500, "(#131000) Something went wrong"),
}


@dataclass
class Received:
    """One request the fake received."""

    path: str
    authorization: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeGraphAPI:
    """The fake server; use as a context manager or call start()/stop()."""

    def __init__(self, access_token: str = "test-access-token",  # noqa: S107
                 phone_number_id: str = "106540352242922") -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.requests: list[Received] = []
        self.closed_windows: set[str] = set()
        self._failures: list[tuple[int, int | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- control ---------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to use as WHATSAPP_API_URL."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v21.0"

    def fail_next(self, code: int, times: int = 1, http_status: int | None = None) -> None:
        """The next ``times`` requests fail with Meta error ``code``."""
        with self._lock:
            self._failures += [(code, http_status)] * times

    def start(self) -> FakeGraphAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = {"_raw": raw.decode(errors="replace")}
                status, answer = fake._answer(self.path, self.headers.get("Authorization", ""),
                                              body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGraphAPI:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ---- inspection ------------------------------------------------------------
    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Accepted outgoing messages (not mark-as-read), optionally for one recipient."""
        with self._lock:
            return [r.body for r in self.requests
                    if r.body.get("_accepted") and "to" in r.body
                    and (to is None or r.body["to"] == to)]

    def read_receipts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests if r.body.get("status") == "read"]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Polls ``condition`` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"condition not met within {timeout} s; got {self.requests!r}")

    # ---- behaviour -------------------------------------------------------------
    @staticmethod
    def error(code: int, http_status: int | None = None) -> tuple[int, dict[str, Any]]:
        kind, default_status, message = ERROR_TITLES.get(code, ("OAuthException", 400,
                                                                 f"(#{code}) Error"))
        return (http_status or default_status,
                {"error": {"message": message, "type": kind, "code": code,
                           "error_subcode": 2494010 if code == 131047 else None,
                           "fbtrace_id": uuid.uuid4().hex[:20]}})

    def _answer(self, path: str, authorization: str, body: dict[str, Any]
                ) -> tuple[int, dict[str, Any]]:
        received = Received(path, authorization, body)
        with self._lock:
            self.requests.append(received)
            failure = self._failures.pop(0) if self._failures else None
        if path != f"/v21.0/{self.phone_number_id}/messages":
            return self.error(100, 404)
        if authorization != f"Bearer {self.access_token}":
            return self.error(190)
        if failure is not None:
            return self.error(*failure)
        if body.get("messaging_product") != "whatsapp":
            return self.error(100)
        if body.get("status") == "read":
            if not str(body.get("message_id", "")).startswith("wamid."):
                return self.error(100)
            return 200, {"success": True}
        problem = self.invalid(body)
        if problem:
            return 400, {"error": {"message": f"(#100) {problem}", "type": "OAuthException",
                                   "code": 100, "fbtrace_id": "x"}}
        if body["to"] in self.closed_windows and body.get("type") != "template":
            return self.error(131047)
        body["_accepted"] = True
        wamid = "wamid." + uuid.uuid4().hex.upper()
        return 200, {"messaging_product": "whatsapp",
                     "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                     "messages": [{"id": wamid}]}

    @staticmethod
    def invalid(body: dict[str, Any]) -> str | None:
        """What is wrong with an outgoing message according to Meta's limits."""
        if not body.get("to"):
            return "to is required"
        kind = body.get("type")
        if kind == "text":
            text = (body.get("text") or {}).get("body") or ""
            if not text or len(text) > 4096:
                return "text.body must have 1 to 4096 characters"
        elif kind == "interactive":
            interactive = body.get("interactive") or {}
            if not 1 <= len((interactive.get("body") or {}).get("text") or "") <= 1024:
                return "interactive.body.text must have 1 to 1024 characters"
            action = interactive.get("action") or {}
            if interactive.get("type") == "button":
                buttons = action.get("buttons") or []
                if not 1 <= len(buttons) <= 3:
                    return "buttons must have 1 to 3 elements"
                for button in buttons:
                    reply = button.get("reply") or {}
                    if not 1 <= len(reply.get("title") or "") <= 20:
                        return "button title must have 1 to 20 characters"
                    if not 1 <= len(reply.get("id") or "") <= 256:
                        return "button id must have 1 to 256 characters"
            elif interactive.get("type") == "list":
                if not 1 <= len(action.get("button") or "") <= 20:
                    return "list button must have 1 to 20 characters"
                rows = [row for section in action.get("sections") or []
                        for row in section.get("rows") or []]
                if not 1 <= len(rows) <= 10:
                    return "a list must have 1 to 10 rows"
                for row in rows:
                    if not 1 <= len(row.get("title") or "") <= 24:
                        return "row title must have 1 to 24 characters"
                    if not 1 <= len(row.get("id") or "") <= 200:
                        return "row id must have 1 to 200 characters"
            else:
                return "unknown interactive type"
        elif kind == "template":
            template = body.get("template") or {}
            if not template.get("name") or not (template.get("language") or {}).get("code"):
                return "template name and language are required"
        elif kind == "image":
            if not (body.get("image") or {}).get("link"):
                return "image.link is required"
        else:
            return f"unsupported type {kind!r}"
        return None
