"""Security headers on every response, errors included: the set the Node API sends.

The list is helmet 8's defaults with the Node API's CSP (`services/api/src/plugins/external/
helmet.ts` in a node-api or hybrid project), written out once here: a JSON API needs no more, and
appending a precomputed list costs nothing per request. (helmet also removes `X-Powered-By`, which
this service never sends.)
@see https://helmetjs.github.io/
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CSP = (
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
    "frame-ancestors 'self';img-src 'self' data: validator.swagger.io;object-src 'none';"
    "script-src 'self';script-src-attr 'none';style-src 'self' 'unsafe-inline';"
    "upgrade-insecure-requests"
)
# The docs UI (/docs, only when DOCS_ENABLED) loads Swagger UI from the jsDelivr CDN and starts it
# with an inline script, which the API's CSP forbids: that one page gets a CSP that allows both.
_DOCS_CSP = (
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
    "frame-ancestors 'self';img-src 'self' data: https://fastapi.tiangolo.com;object-src 'none';"
    "script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline';script-src-attr 'none';"
    "style-src 'self' https://cdn.jsdelivr.net"
)
_OTHER_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Origin-Agent-Cluster": "?1",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-DNS-Prefetch-Control": "off",
    "X-Download-Options": "noopen",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Permitted-Cross-Domain-Policies": "none",
    "X-XSS-Protection": "0",
}


def _encode(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.lower().encode(), value.encode()) for name, value in headers.items())


SECURITY_HEADERS = _encode({"Content-Security-Policy": _CSP, **_OTHER_HEADERS})
DOCS_SECURITY_HEADERS = _encode({"Content-Security-Policy": _DOCS_CSP, **_OTHER_HEADERS})
DOCS_PATH = "/docs"


class SecurityHeadersMiddleware:
    """Add SECURITY_HEADERS to every HTTP response (DOCS_SECURITY_HEADERS to the docs UI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = DOCS_SECURITY_HEADERS if scope["path"] == DOCS_PATH else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
