"""What one request may cost: a client's request rate, a request's time, and its body size.

Each limit is plain ASGI (no BaseHTTPMiddleware), so streamed responses pass through untouched,
and answers with a problem (app.core.errors) like the routes do. Each is created with the app's
`SettingsRef` (app.main.create_app) and reads the settings from it as it handles a request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import SettingsRef
from app.core.errors import send_problem

logger = logging.getLogger(__name__)


class RateLimitMiddleware:
    """At most RATE_LIMIT_MAX requests per client address in each window of
    RATE_LIMIT_WINDOW_SECONDS, else 429 with Retry-After; every counted answer carries the
    `RateLimit-*` headers (IETF draft) so clients can pace themselves.

    Fixed windows, counted in this process's memory: each replica counts on its own (move the
    counts to Redis, or to your ingress, for a shared budget). Probes are exempt so that an
    orchestrator is never throttled: by the route they reach, whatever the query string or a
    trailing slash (redirected to the route). The client address is the peer's, or the one a
    trusted proxy forwards (TRUST_PROXY, uvicorn's `forwarded_allow_ips`).
    """

    EXEMPT = frozenset({"/healthz", "/readyz"})
    # Addresses counted per window; past this, the oldest is forgotten (memory stays bounded).
    MAX_CLIENTS = 10_000

    def __init__(self, app: ASGIApp, *, settings: SettingsRef) -> None:
        self.app = app
        self._settings = settings
        self._window = -1  # which window the counts are for
        self._counts: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        settings = self._settings.current
        if not settings.rate_limit_enabled:
            await self.app(scope, receive, send)
            return
        limit, seconds = settings.rate_limit_max, settings.rate_limit_window_seconds

        now = time.monotonic()
        window = int(now // seconds)
        if window != self._window:
            self._window = window
            self._counts.clear()
        client = scope.get("client")
        key = client[0] if client else ""
        count = self._counts.get(key, 0) + 1
        if count == 1 and len(self._counts) >= self.MAX_CLIENTS:
            del self._counts[next(iter(self._counts))]
        self._counts[key] = count
        reset = math.ceil((window + 1) * seconds - now)
        if count > limit:
            await send_problem(
                scope,
                receive,
                send,
                429,
                f"More than {limit} requests in {seconds} s; retry in {reset} s.",
                headers={
                    "Retry-After": str(reset),
                    "RateLimit-Limit": str(limit),
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(reset),
                },
            )
            return

        headers = (
            (b"ratelimit-limit", b"%d" % limit),
            (b"ratelimit-remaining", b"%d" % (limit - count)),
            (b"ratelimit-reset", b"%d" % reset),
        )

        async def send_with_budget(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_budget)


class RequestTimeoutMiddleware:
    """Answer 503 when a request has not started its response after REQUEST_TIMEOUT_SECONDS, and
    cancel its handler (CancelledError at its current await; a `def` route's thread runs on).

    The clock stops when the response starts: a stream (Server-Sent Events) lasts as long as it
    needs once its first byte is out. 503 rather than 504, which says a gateway's upstream timed
    out: here the service itself could not answer in time, as when a dependency is unavailable
    (also 503), and clients retry a 503.

    One timer checks the waiting requests every second (a tenth of the limit, if that is
    shorter) instead of one timer per request, which cost about a tenth of the CPU time of a
    GET /healthz: a request is cut off up to that much after its limit.
    """

    def __init__(self, app: ASGIApp, *, settings: SettingsRef) -> None:
        self.app = app
        self._settings = settings
        self._tick = 1.0
        # Requests whose response has not started, with their deadlines (event loop time).
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seconds = self._settings.current.request_timeout_seconds
        task = asyncio.current_task()
        if not seconds or task is None:  # 0: no limit
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # the first request (in tests: the first on each new loop)
            self._loop = loop
            self._tick = min(1.0, seconds / 10)
            loop.call_later(self._tick, self._cancel_expired, loop)
        deadlines = self._deadlines
        deadlines[task] = loop.time() + seconds

        async def send_in_time(message: Message) -> None:
            if message["type"] == "http.response.start":
                deadlines.pop(task, None)
            await send(message)

        try:
            await self.app(scope, receive, send_in_time)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise  # cancelled by someone else: the server, at shutdown or disconnect
            task.uncancel()
            logger.warning("request timed out", extra={"timeout_seconds": seconds})
            detail = f"The request took longer than {seconds:g} s; it was cancelled."
            await send_problem(scope, receive, send, 503, detail)
        finally:
            deadlines.pop(task, None)
            self._expired.discard(task)

    def _cancel_expired(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return  # requests arrive on another loop now, which has its own check
        now = loop.time()
        for task in [task for task, deadline in self._deadlines.items() if deadline <= now]:
            del self._deadlines[task]
            self._expired.add(task)
            task.cancel()
        loop.call_later(self._tick, self._cancel_expired, loop)


class RequestBodyTooLargeError(HTTPException):
    """Raised from `receive` once a streamed body passes BODY_LIMIT. FastAPI re-raises an
    HTTPException met while reading a body, so the problem handler answers 413."""


class BodyLimitMiddleware:
    """Refuse request bodies larger than BODY_LIMIT bytes with 413: at once when Content-Length
    says so (the route never runs), and as the bytes arrive otherwise (a chunked body), without
    reading the rest. The server discards what the client still sends.
    """

    def __init__(self, app: ASGIApp, *, settings: SettingsRef) -> None:
        self.app = app
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._settings.current.body_limit
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    await self._refuse(scope, receive, send, limit)
                    return
                has_body = True
            elif name == b"transfer-encoding":
                has_body = True
        if not has_body:
            await self.app(scope, receive, send)
            return

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise RequestBodyTooLargeError(413, self._detail(limit))
            return message

        try:
            await self.app(scope, receive_limited, send)
        except RequestBodyTooLargeError:
            # Read outside any route (no handler made it a problem): answer it here.
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    def _detail(limit: int) -> str:
        return f"The request body is larger than {limit} bytes."

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await send_problem(scope, receive, send, 413, self._detail(limit))
