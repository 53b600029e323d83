"""Rasa's handling of widget messages runs off the server's event loop.

Rasa's NLU and policies block whatever loop they run on. Here a stand-in for Rasa blocks
its thread for seconds (like a long graph run): the server must keep answering other
clients meanwhile, and the answer sent from the processing thread must still reach the
browser through the server's socket.io machinery.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.channels.widget import WidgetInput
from tests.channels.widget_client import WidgetClient
from tests.conftest import free_port

BLOCK_SECONDS = 3.0


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """The channel in a Sanic server on its own thread (the test's loop stays separate)."""
    Sanic.test_mode = True
    handled_on: list[str] = []

    async def blocking_rasa(message: UserMessage) -> None:
        handled_on.append(threading.current_thread().name)
        time.sleep(BLOCK_SECONDS)  # CPU-bound work that never yields, like a graph run
        await message.output_channel.send_text_message(message.sender_id,
                                                       f"Antwort auf: {message.text}")

    port = free_port()
    ready = threading.Event()
    stop: list[asyncio.Event] = []

    async def serve() -> None:
        channel = WidgetInput(redis_url=None)
        app = Sanic(f"widget-processing-{uuid.uuid4().hex[:8]}")
        app.blueprint(channel.blueprint(blocking_rasa), url_prefix="/webhooks/socketio")
        server = await app.create_server(host="127.0.0.1", port=port, access_log=False,
                                         return_asyncio_server=True)
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.after_start()
        stop.append(asyncio.Event())
        ready.set()
        await stop[0].wait()
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield f"http://127.0.0.1:{port}", handled_on
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)


async def test_the_server_answers_others_while_a_message_is_handled(
        server: tuple[str, list[str]]) -> None:
    url, handled_on = server
    shopper = WidgetClient(url)
    await shopper.connect()
    sending = asyncio.create_task(shopper.say("Wo ist mein Paket?"))
    await asyncio.sleep(0.5)  # the handler is now blocking its thread
    assert handled_on

    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{url}/webhooks/socketio/", timeout=10)
    other = WidgetClient(url)
    assert await other.connect()  # a new shopper gets a session meanwhile
    waited = time.monotonic() - started
    assert health.status_code == 200
    assert waited < BLOCK_SECONDS / 2, f"the server loop waited {waited:.1f} s for Rasa"

    assert (await sending)["status"] == "ok"
    answers = await shopper.wait_for("bot_uttered")
    assert answers[0]["text"] == "Antwort auf: Wo ist mein Paket?"
    await other.close()
    await shopper.close()
