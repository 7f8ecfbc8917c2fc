"""Work the app does when the server stops, before the server drops the connections still open.

On SIGTERM uvicorn stops accepting connections, closes each open WebSocket itself (code 1012,
"service restart"), waits for requests in flight, and only then runs the lifespan shutdown. A part
whose sockets must close otherwise (the real-time channel's: 1001, "going away") registers a hook
here while it is open; the server of app.__main__ runs the hooks first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

Hook = Callable[[], Awaitable[None]]

_hooks: set[Hook] = set()


@contextmanager
def before_server_shutdown(hook: Hook) -> Iterator[None]:
    """Run `hook` when the server starts to shut down, for as long as the context is open."""
    _hooks.add(hook)
    try:
        yield
    finally:
        _hooks.discard(hook)


async def run_before_server_shutdown() -> None:
    """Run every registered hook, together; returns when all have."""
    await asyncio.gather(*(hook() for hook in list(_hooks)))
