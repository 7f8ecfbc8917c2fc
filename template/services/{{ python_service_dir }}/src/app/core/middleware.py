"""ASGI middleware: request ids with an access log line, HEAD answered as GET, and CORS
configured from the settings.

All are plain ASGI (no BaseHTTPMiddleware), so streamed responses pass through untouched.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterable

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings, SettingsRef
from app.core.logging import request_id_var

logger = logging.getLogger("app.access")

# Accept a caller's id only if it is short and harmless to echo and log.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Tag each request with an id (the caller's `X-Request-ID` or a new one) and log it.

    Jobs the request queues carry the id to the worker. The caller's `traceparent` is read by
    OpenTelemetry (app.core.telemetry). Probes (PROBE_PATHS) get an id but no access line: an
    orchestrator calls them every few seconds, and a line each is noise and cost (the Node
    service logs them at `warn` only); a failing probe logs its own warning.
    """

    PROBE_PATHS = frozenset({"/healthz", "/readyz"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope["headers"])
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        id_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["path"] not in self.PROBE_PATHS:
                logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        # The peer, or the client a trusted proxy forwards (TRUST_PROXY).
                        "client": scope["client"][0] if scope.get("client") else None,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def _request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID if it is valid, else a new random id (32 hex digits).

    New ids come from `random`, not `uuid.uuid4()`: an id must be unique, not secret, and
    uuid4's read of the OS's random source per request cost a probe about 5 % of its time.
    (`random` is seeded from the OS at start-up and again in every forked process.)
    """
    for name, value in headers:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(given):
                return given
            break
    return f"{random.getrandbits(128):032x}"


class HeadAsGetMiddleware:
    """Answer HEAD on every GET route: the GET's status and headers, without its body (RFC 9110
    section 9.3.2). FastAPI routes declared with `@router.get` match GET only, so HEAD would get
    405; the Node service (Fastify's `exposeHeadRoutes`) answers it.

    The route sees a GET; the server still sees the HEAD, and `Content-Length` stays the GET's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)


class SettingsCORSMiddleware:
    """Starlette's CORSMiddleware with the origins of `CORS_ORIGINS`; none configured means no
    CORS headers at all. Created with the app's `SettingsRef`, it builds the CORS handler from the
    settings the app started with (again only if it is started with others, as tests do)."""

    def __init__(self, app: ASGIApp, *, settings: SettingsRef) -> None:
        self.app = app
        self._settings = settings
        self._built_for: Settings | None = None
        self._handler: ASGIApp = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self._settings.current
        if settings is not self._built_for:
            self._handler = self._build(settings.cors_origins)
            self._built_for = settings
        await self._handler(scope, receive, send)

    def _build(self, origins: list[str]) -> ASGIApp:
        if not origins:
            return self.app
        return CORSMiddleware(
            self.app,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Idempotency-Key", "X-Request-ID"],
            # Readable by the browser app: the id, and how long to wait after a 429/503.
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
        )
