"""The agent console in headless Chromium: log in -> claim -> reply -> the shopper gets it
-> resolve -> the CSAT prompt arrives. Shopper text with HTML is shown, never run."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import Stack
from tests.e2e.shopper import Shopper, create_agent

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
XSS = '<img src=x onerror="window.__pwned=1">'


async def test_console_claim_reply_resolve(stack: Stack) -> None:
    username, password = create_agent(stack)
    shopper = Shopper(stack.rasa_url)
    await shopper.connect()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium",
                                          args=CHROMIUM_ARGS)
        page = await browser.new_page()
        try:
            await page.goto(f"{stack.handoff_url}/console")
            await page.fill("#username", username)
            await page.fill("#password", "wrong")
            await page.click("#login-button")
            await expect(page.locator("#login-error")).to_contain_text("falsch")
            await page.fill("#password", password)
            await page.click("#login-button")
            await expect(page.locator("#live")).to_have_text("live")

            await shopper.say(f"Ich möchte mit einem Menschen sprechen {XSS}")
            await shopper.next()  # the bot says what happens next
            row = page.locator("#queue tbody tr").filter(has_text="Wunsch nach Person")
            await expect(row.first).to_be_visible(timeout=15000)
            await row.last.click()
            await expect(page.locator("#transcript")).to_contain_text(XSS)
            await expect(page.locator("#context")).to_contain_text("socketio")
            await page.click("#claim")
            await expect(page.locator("#reply-form")).to_be_visible()
            await shopper.wait_for(lambda m: "übernommen" in m["text"])

            await shopper.say("Sind Sie jetzt da?")
            await expect(page.locator("#transcript")).to_contain_text("Sind Sie jetzt da?",
                                                                       timeout=15000)
            await page.select_option("#templates", label="Begrüßung")
            await expect(page.locator("#reply")).to_have_value(
                "Guten Tag, mein Name ist Jana. Ich habe Ihre Nachricht gelesen und kümmere "
                "mich jetzt um Ihr Anliegen.")
            await page.click("#send")
            received = await shopper.next()
            assert received["text"].startswith("Guten Tag, mein Name ist Jana.")
            await expect(page.locator("#transcript li.agent .delivery").last).to_contain_text(
                "zugestellt")

            await page.click("#resolve")
            await expect(page.locator("#t-status")).to_have_text("abgeschlossen")
            left = await shopper.next()
            assert "beendet" in left["text"]
            csat = await shopper.next()
            assert len(csat["quick_replies"]) == 5
            assert await page.evaluate("window.__pwned") is None  # the img never ran
        finally:
            await browser.close()
            await shopper.close()
            await asyncio.sleep(0)
