"""One background thread with its own event loop for Rasa's CPU-bound message handling.

Rasa runs NLU and policies synchronously inside ``agent.handle_message``; on the server's
event loop every message blocks all other work of that loop for tens of milliseconds.
With many widget sessions talking at once the loop's queue grew to seconds: socket.io
pings, new connections and WhatsApp webhook acknowledgements all waited behind NLU.
Channels therefore hand the handling to this thread and keep the server's loop for I/O;
the interpreter lock is still shared, but the server's loop gets it back every few
milliseconds instead of queueing behind every message.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class ProcessingLoop:
    """A daemon thread running an event loop; coroutines are awaited across threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        """The thread's loop, started on first use."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=main, name=self.name, daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    async def run(self, work: Awaitable[T]) -> T:
        """Awaits ``work`` on the processing thread; the caller's loop stays free.

        Exceptions of ``work`` are raised here; cancelling the caller cancels ``work``.
        """
        async def on_thread() -> T:
            return await work

        future = asyncio.run_coroutine_threadsafe(on_thread(), self.loop())
        return await asyncio.wrap_future(future)


async def on_loop(loop: asyncio.AbstractEventLoop | None,
                  coro: Coroutine[Any, Any, T]) -> T:
    """Awaits ``coro`` on ``loop`` (the one its objects belong to), from any thread."""
    if loop is None or loop is asyncio.get_running_loop():
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


#: The Rasa process's processing thread, shared by its channels.
PROCESSING = ProcessingLoop("kdbot-processing")
