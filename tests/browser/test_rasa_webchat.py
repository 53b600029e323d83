"""The popular rasa-webchat widget (its UMD build from npm) works against our channel."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import node_module
from tests.channels.widget_client import inject
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def webchat_page(rasa_url: str) -> str:
    options = {"selector": "#webchat", "socketUrl": rasa_url, "socketPath": "/socket.io/",
               "initPayload": "Hallo", "title": "Kundenservice", "customData": {"language": "de"},
               "params": {"storage": "local"}}
    return ('<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Shop</title>'
            '</head><body><div id="webchat"></div><script src="/webchat.js"></script>'
            f"<script>WebChat.default({json.dumps(options)}, null);</script></body></html>")


def test_rasa_webchat_talks_to_our_channel(stack: Stack, context: BrowserContext,
                                           static_site: Callable[[dict[str, str | Path]], str]
                                           ) -> None:
    site = static_site({"webchat.js": node_module("rasa-webchat/lib/index.js"),
                        "index.html": webchat_page(stack.rasa_url)})
    page = context.new_page()
    page.goto(f"{site}/index.html")
    page.locator(".rw-launcher").click()
    # the init payload "Hallo" is answered by the bot
    expect(page.locator(".rw-response").first).to_contain_text("Guten Tag")
    page.locator(".rw-new-message").fill("Tschüss")
    page.locator(".rw-new-message").press("Enter")
    expect(page.locator(".rw-response").last).to_contain_text("Auf Wiedersehen")

    stored = page.evaluate("localStorage.getItem('chat_session')")
    session_id = json.loads(stored)["session_id"]
    users = [e["text"] for e in stack.tracker(session_id)["events"] if e["event"] == "user"]
    assert users == ["Hallo", "Tschüss"]
    # an agent's reply reaches rasa-webchat too
    inject(stack.rasa_url, stack.rasa_token, session_id, [
        {"event": "bot", "text": "Hier ist Anna vom Kundenservice.",
         "metadata": {"handoff_event": "message", "agent": {"id": "anna", "name": "Anna"}}}])
    expect(page.locator(".rw-response").last).to_contain_text("Hier ist Anna vom Kundenservice.")
    # and a reload keeps rasa-webchat's session (session persistence)
    page.reload()
    page.locator(".rw-launcher").wait_for()
    if not page.locator(".rw-messages-container").is_visible():  # it may remember "open"
        page.locator(".rw-launcher").click()
    expect(page.locator(".rw-response").last).to_contain_text("Hier ist Anna vom Kundenservice.")
    assert json.loads(page.evaluate("localStorage.getItem('chat_session')"))[
        "session_id"] == session_id
