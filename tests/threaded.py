"""An asyncio test server run in a thread of its own, for synchronous tests that need one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def in_thread(manager: AbstractAsyncContextManager[T], name: str) -> Iterator[T]:
    """Enter ``manager`` on an event loop in a new thread; exit it and stop the loop after."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    try:
        srv = asyncio.run_coroutine_threadsafe(manager.__aenter__(), loop).result(10)
        try:
            yield srv
        finally:
            asyncio.run_coroutine_threadsafe(manager.__aexit__(None, None, None), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
