"""Talk to the running bot from a terminal (``make shell``).

Sends each line through Rasa's REST channel of the stack that ``make run`` started
(``RASA_URL``, default http://127.0.0.1:5005) and prints the answers and their buttons.
A button is chosen by typing its number.
"""

from __future__ import annotations

import os
import sys
import uuid

import httpx


def send(url: str, sender: str, text: str) -> list[dict]:
    """One shopper message through the REST channel; returns the bot's answers."""
    response = httpx.post(f"{url}/webhooks/rest/webhook",
                          json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return list(response.json())


def main() -> int:
    url = os.environ.get("RASA_URL", f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}")
    sender = f"shell-{uuid.uuid4().hex[:8]}"
    print(f"Kundendienst-Bot at {url} (conversation {sender}); Ctrl-D to quit")
    buttons: list[dict] = []
    for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("Sie: "), None):
        text = line.strip()
        if text.isdigit() and buttons and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            answers = send(url, sender, text)
        except httpx.HTTPError as error:
            print(f"error: the bot does not answer at {url} ({error}); is `make run` running?",
                  file=sys.stderr)
            return 1
        buttons = []
        for answer in answers:
            if answer.get("text"):
                print(f"Bot: {answer['text']}")
            for button in answer.get("buttons", []):
                buttons.append(button)
                print(f"     [{len(buttons)}] {button.get('title')}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (EOFError, KeyboardInterrupt):
        print()
        sys.exit(0)
