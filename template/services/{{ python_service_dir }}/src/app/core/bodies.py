"""Request bodies: JSON only, holding text that can round-trip.

`check_json_body` is a dependency of every router that has a route taking a body (app.main,
`json_body_checks`); it acts on the routes that take a body, before the body is validated, and
answers as the Node service does:

- a body in any media type but `application/json` (`text/plain`, a form, none named) is a 415
  problem. FastAPI would parse a body with no content type as JSON, and hand any other to the
  body's validation (a 422 that blames the fields, not the media type).
- a string or key holding a lone UTF-16 surrogate (`"x\\ud800y"`: a valid JSON escape, but no
  Unicode text, RFC 8259 section 8.2) is a 400 problem. Python keeps such strings, which then
  fail where they are encoded (a UTF-8 response, PostgreSQL), or are stored mangled.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute

JSON = "application/json"


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length != "0")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in a parsed JSON value (keys included) holds a lone surrogate.

    Iterative, so a deeply nested body cannot exhaust the stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


async def check_json_body(request: Request) -> None:
    """415 for a body that is not JSON, 400 for JSON text that is not Unicode (see above)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None or not _has_body(request):
        return
    if _media_type(request) != JSON:
        given = request.headers.get("content-type")
        raise HTTPException(
            415, f"The body must be {JSON}, not {given}." if given else f"The body must be {JSON}."
        )
    if has_lone_surrogate(await request.json()):
        raise HTTPException(400, "The body holds a lone UTF-16 surrogate, which is not text.")


def json_body_checks(router: APIRouter) -> list[DependsParam]:
    """The dependencies to include `router` with: `check_json_body` if any of its routes takes a
    body, else none (the probes: a dependency costs a GET /healthz about a twentieth of its time).
    """
    takes_body = any(
        isinstance(route, APIRoute) and route.body_field is not None for route in router.routes
    )
    return [Depends(check_json_body)] if takes_body else []
