"""The storefront widget in headless Chromium against the real stack."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import node_module
from tests.browser.tcp_proxy import CuttableProxy
from tests.channels.widget_client import inject
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AGENT = {"id": "anna", "name": "Anna"}
OPEN_DE = "Kundenservice-Chat"


def open_widget(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name=OPEN_DE, exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Verbunden")


def session_of(page: Page) -> str:
    session = page.evaluate(
        "Object.entries(localStorage).find(([k]) => k.startsWith('kdbot:session:'))[1]")
    assert re.fullmatch(r"[0-9a-f]{32}", session)
    return str(session)


def say(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Ihre Nachricht")
    box.fill(text)
    box.press("Enter")


def watch_typing(page: Page) -> None:
    """Records whether the typing indicator was ever shown (it may be brief)."""
    page.evaluate("""() => {
        const root = document.getElementById('kdbot-widget').shadowRoot;
        const typing = root.querySelector('.kd-typing');
        window.__typingSeen = false;
        new MutationObserver(() => { if (!typing.hidden) window.__typingSeen = true; })
            .observe(typing, {attributes: true});
    }""")


def user_texts(stack: Stack, session_id: str) -> list[str]:
    return [e["text"] for e in stack.tracker(session_id)["events"] if e["event"] == "user"]


def test_keyboard_conversation_reload_and_second_tab(stack: Stack, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(stack.storefront_url)
    launcher = page.get_by_role("button", name=OPEN_DE, exact=True)
    page.keyboard.press("Tab")
    expect(launcher).to_be_focused()
    page.keyboard.press("Enter")
    expect(launcher).to_have_attribute("aria-expanded", "true")
    box = page.get_by_role("textbox", name="Ihre Nachricht")
    expect(box).to_be_focused()
    expect(page.get_by_role("status")).to_have_text("Verbunden")
    watch_typing(page)
    page.keyboard.type("Hallo")
    page.keyboard.press("Enter")
    log = page.get_by_role("log", name="Gesprächsverlauf")
    expect(log).to_contain_text("Guten Tag")
    expect(log.locator(".kd-user")).to_have_text(["Sie: Hallo"])
    assert page.evaluate("window.__typingSeen") is True
    expect(page.locator(".kd-typing")).to_be_hidden()
    session_id = session_of(page)

    # a reload continues the conversation and shows its history
    page.reload()
    expect(log).to_contain_text("Hallo")
    expect(log).to_contain_text("Guten Tag")
    assert session_of(page) == session_id

    # a second tab joins the same conversation; each tab sees what the other sends
    other = context.new_page()
    open_widget(other, stack.storefront_url)
    other_log = other.get_by_role("log", name="Gesprächsverlauf")
    expect(other_log).to_contain_text("Guten Tag")
    say(other, "Tschüss")
    expect(other_log).to_contain_text("Auf Wiedersehen")
    expect(log).to_contain_text("Tschüss")
    expect(log).to_contain_text("Auf Wiedersehen")
    assert user_texts(stack, session_id) == ["Hallo", "Tschüss"]

    # Escape closes the panel and gives the focus back to the launcher
    box.focus()
    page.keyboard.press("Escape")
    expect(launcher).to_be_focused()
    expect(log).to_be_hidden()


def test_agent_joins_writes_and_leaves_then_csat_buttons(stack: Stack,
                                                         context: BrowserContext) -> None:
    page = context.new_page()
    open_widget(page, stack.storefront_url)
    say(page, "Hallo")
    log = page.get_by_role("log")
    expect(log).to_contain_text("Guten Tag")
    session_id = session_of(page)
    inject(stack.rasa_url, stack.rasa_token, session_id, [
        {"event": "bot", "text": "Anna vom Kundenservice ist jetzt für Sie da.",
         "metadata": {"handoff_event": "joined", "agent": AGENT}},
        {"event": "bot", "text": "Ich prüfe Ihre Bestellung.",
         "metadata": {"handoff_event": "message", "agent": AGENT}}])
    expect(log.locator(".kd-system")).to_have_text(
        ["Hinweis: Anna vom Kundenservice ist jetzt für Sie da."])
    agent_message = log.locator(".kd-agent")
    expect(agent_message).to_contain_text("Ich prüfe Ihre Bestellung.")
    expect(agent_message.locator(".kd-who")).to_have_text("Anna (Kundenservice-Team)")
    inject(stack.rasa_url, stack.rasa_token, session_id, [
        {"event": "bot", "text": "", "metadata": {"handoff_event": "left", "agent": AGENT}}])
    expect(log.locator(".kd-system").nth(1)).to_contain_text("Anna hat den Chat verlassen")

    # CSAT-style buttons render as quick replies and work by keyboard; the shopper sees the
    # title, Rasa gets the payload
    buttons = [{"title": "1 – unzufrieden", "payload": "/deny"},
               {"title": "5 – sehr zufrieden", "payload": "/greet"}]
    inject(stack.rasa_url, stack.rasa_token, session_id, [
        {"event": "bot", "text": "Wie zufrieden waren Sie?", "data": {"buttons": buttons}}])
    group = page.get_by_role("group", name="Antwortvorschläge")
    expect(group.get_by_role("button")).to_have_count(2)
    group.get_by_role("button", name="5 – sehr zufrieden").focus()
    page.keyboard.press("Enter")
    expect(group).to_have_count(0)
    expect(log.locator(".kd-user").last).to_have_text("Sie: 5 – sehr zufrieden")
    expect(log.locator(".kd-bot").last).to_contain_text("Guten Tag")
    assert user_texts(stack, session_id)[-1] == "/greet"

    # after a reload the history shows who wrote what, and the button title
    page.reload()
    expect(log.locator(".kd-agent")).to_contain_text("Ich prüfe Ihre Bestellung.")
    expect(log.locator(".kd-system")).to_have_count(2)
    expect(log.locator(".kd-user").last).to_have_text("Sie: 5 – sehr zufrieden")


def test_english_ui_on_request(stack: Stack, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{stack.storefront_url}/?lang=en&position=left")
    page.get_by_role("button", name="Customer service chat").click()
    expect(page.get_by_role("status")).to_have_text("Connected")
    expect(page.get_by_role("textbox", name="Your message")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Close chat")).to_be_visible()
    expect(page.get_by_role("log", name="Conversation")).to_be_visible()
    box = page.get_by_role("button", name="Customer service chat").bounding_box()
    assert box is not None and box["x"] < 200  # data-position="left"


@pytest.fixture
def proxy(stack: Stack) -> Iterator[CuttableProxy]:
    port = int(stack.rasa_url.rsplit(":", 1)[1])
    instance = CuttableProxy(("127.0.0.1", port))
    instance.start()
    yield instance
    instance.stop()


WIDGET_JS = Path(__file__).resolve().parents[2] / "widget" / "dist" / "kdbot-widget.js"


def test_connection_drop_and_return(stack: Stack, context: BrowserContext,
                                    proxy: CuttableProxy,
                                    static_site: Callable[[dict[str, str | Path]], str]) -> None:
    page = context.new_page()
    site = static_site({"kdbot-widget.js": WIDGET_JS, "index.html": (
        '<!doctype html><html lang="de"><head><title>Shop</title></head><body><main>'
        '<h1>Shop</h1></main><script src="/kdbot-widget.js" '
        f'data-server-url="{proxy.url}"></script></body></html>')})
    page_url = f"{site}/index.html"
    open_widget(page, page_url)
    log = page.get_by_role("log")
    say(page, "Hallo")
    expect(log).to_contain_text("Guten Tag")
    expect(log.locator(".kd-pending")).to_have_count(0)  # acknowledged
    session_id = session_of(page)

    proxy.cut()
    expect(page.get_by_role("status")).to_contain_text("Verbindung unterbrochen")
    say(page, "Tschüss")
    expect(log.locator(".kd-pending")).to_contain_text("wird gesendet")
    # an agent writes while the shopper is offline: it must not be lost
    inject(stack.rasa_url, stack.rasa_token, session_id, [
        {"event": "bot", "text": "Ihre Sendung ist unterwegs.",
         "metadata": {"handoff_event": "message", "agent": AGENT}}])

    proxy.restore()
    expect(page.get_by_role("status")).to_have_text("Verbindung wiederhergestellt.")
    expect(log).to_contain_text("Ihre Sendung ist unterwegs.")
    expect(log).to_contain_text("Auf Wiedersehen")
    expect(log.locator(".kd-pending")).to_have_count(0)
    assert user_texts(stack, session_id) == ["Hallo", "Tschüss"]


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Page) -> list[dict]:
    page.add_script_tag(path=str(node_module("axe-core/axe.min.js")))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [{"id": v["id"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]]


@pytest.mark.parametrize("query", ["", "?lang=en&color=ffd400", "?color=ffffff"])
def test_axe_finds_no_wcag_21_aa_violations(stack: Stack, context: BrowserContext,
                                            query: str) -> None:
    page = context.new_page()
    page.goto(f"{stack.storefront_url}/{query}")
    assert axe_violations(page) == []  # closed: only the launcher
    page.locator("#kdbot-widget .kd-launcher").click()
    expect(page.locator(".kd-status")).not_to_have_text(re.compile("aufgebaut|Connecting"))
    page.get_by_role("textbox").fill("Hallo")
    page.get_by_role("textbox").press("Enter")
    expect(page.locator(".kd-bot")).to_have_count(1)
    session_id = session_of(page)
    inject(stack.rasa_url, stack.rasa_token, session_id, [
        {"event": "bot", "text": "Anna ist jetzt für Sie da.",
         "metadata": {"handoff_event": "joined", "agent": AGENT}},
        {"event": "bot", "text": "Wie kann ich helfen?",
         "metadata": {"handoff_event": "message", "agent": AGENT}},
        {"event": "bot", "text": "Wie zufrieden waren Sie?",
         "data": {"buttons": [{"title": str(n), "payload": "/greet"} for n in range(1, 6)]}}])
    expect(page.locator(".kd-reply")).to_have_count(5)
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1, ensure_ascii=False)


def test_every_control_is_reachable_by_tab_with_a_visible_focus(stack: Stack,
                                                               context: BrowserContext) -> None:
    page = context.new_page()
    open_widget(page, stack.storefront_url)
    session_id = session_of(page)
    say(page, "Hallo")
    expect(page.locator(".kd-bot")).to_have_count(1)
    inject(stack.rasa_url, stack.rasa_token, session_id, [
        {"event": "bot", "text": "Frage?", "data": {"buttons": [
            {"title": "Ja", "payload": "/affirm"}, {"title": "Nein", "payload": "/deny"}]}}])
    expect(page.locator(".kd-reply")).to_have_count(2)
    page.locator(".kd-launcher").focus()
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focus = page.evaluate("""() => {
            const el = document.getElementById('kdbot-widget').shadowRoot.activeElement;
            if (!el) return null;
            const style = getComputedStyle(el);
            return {name: el.getAttribute('aria-label') || el.textContent.trim() ||
                          el.getAttribute('id'),
                    outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
        }""")
        if focus is None:
            continue
        assert focus["outline"] != "none" and focus["width"] >= 2, focus
        reached.append(focus["name"])
    for control in ("Chat schließen", "Gesprächsverlauf", "Ja", "Nein", "kd-input", "Senden"):
        assert any(control in str(name) for name in reached), (control, reached)


def test_agent_reply_while_closed_shows_an_unread_badge(stack: Stack,
                                                        context: BrowserContext) -> None:
    page = context.new_page()
    open_widget(page, stack.storefront_url)
    say(page, "Hallo")
    expect(page.get_by_role("log")).to_contain_text("Guten Tag")
    page.keyboard.press("Escape")
    inject(stack.rasa_url, stack.rasa_token, session_of(page), [
        {"event": "bot", "text": "Ihre Rücksendung ist angekommen.",
         "metadata": {"handoff_event": "message", "agent": AGENT}}])
    launcher = page.get_by_role("button", name="Kundenservice-Chat, 1 neue Nachricht")
    expect(launcher).to_be_visible()
    expect(page.locator(".kd-badge")).to_have_text("1")
    launcher.press("Enter")
    expect(page.get_by_role("log")).to_contain_text("Ihre Rücksendung ist angekommen.")
    expect(page.locator(".kd-badge")).to_be_hidden()
    expect(page.get_by_role("button", name=OPEN_DE, exact=True)).to_be_visible()
