"""Deprecated routes: the headers that say when a route was deprecated, when it may stop
answering, and which route replaces it.

- `Deprecation` (RFC 9745): the date of deprecation, as a Structured Field Date (`@` and Unix
  seconds).
- `Sunset` (RFC 8594): the HTTP-date after which the route may be removed (the next release).
- `Link` with rel="successor-version" (RFC 5829): the route to call instead.

The route is marked `deprecated` in the OpenAPI document too (`@router.post(..., deprecated=True)`).
Answers the route itself gives carry the headers; a refusal before the route runs (a 400 on the
body) does not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime

from fastapi import Response

DEPRECATED_ON = datetime(2026, 12, 1, tzinfo=UTC)
SUNSET_ON = datetime(2027, 6, 1, tzinfo=UTC)


def deprecation_headers(successor: str) -> dict[str, str]:
    """The headers of an answer from a deprecated route replaced by `successor` (a path)."""
    return {
        "Deprecation": f"@{int(DEPRECATED_ON.timestamp())}",
        "Sunset": format_datetime(SUNSET_ON, usegmt=True),
        "Link": f'<{successor}>; rel="successor-version"',
    }


def deprecated_for(successor: str) -> Callable[[Response], Awaitable[None]]:
    """A dependency that puts `deprecation_headers(successor)` on the route's answer."""

    async def add_deprecation_headers(response: Response) -> None:
        response.headers.update(deprecation_headers(successor))

    return add_deprecation_headers
