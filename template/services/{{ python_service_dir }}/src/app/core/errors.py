"""Errors as `application/problem+json` (RFC 9457), for every status the service returns.

The bodies are those of the Node service (`packages/contracts/src/problem.ts` in a node-api
project), so a client reads errors the same way under every architecture: `requestId` names the
request (as the X-Request-ID header does), and a request that fails validation (body, query or
path) is a 400 whose `errors` point at each field (`{"path": "body.title", "message": ...}`).
Handlers are registered for HTTP errors, validation errors and anything unexpected (500, without
internals).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from app.core.logging import request_id_var

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Where a field is, in the words of the Node service (Fastify's validation contexts): FastAPI's
# `("query", "limit")` is "querystring.limit" there.
_LOCATIONS = {"query": "querystring", "path": "params", "header": "headers", "cookie": "cookies"}


# An optional field that is left out of the body when it has no value (never sent as null).
Absent = SkipJsonSchema[None]


class FieldError(BaseModel):
    """One invalid field of a request, as reported in a 400 problem's `errors`."""

    path: Annotated[str, Field(description='Where the problem is, e.g. "body.title"')]
    message: str


class Problem(BaseModel):
    """Every error response: an RFC 9457 problem details object."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    # Required, as in the Node API's Problem: every problem this service sends names its type.
    type: Annotated[
        str, Field(description='A URI reference naming the problem type ("about:blank" if none)')
    ]
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    # Absent rather than null when unset (responses drop None), so documented as `string`.
    detail: str | Absent = None
    instance: str | Absent = Field(None, description="The request path")
    request_id: str | Absent = Field(None, description="Quote it when reporting the problem")
    errors: list[FieldError] | Absent = None


# For `responses=` in routers, so the OpenAPI document shows the problem body.
PROBLEM_RESPONSE: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}


def problem_response(
    request: HTTPConnection,
    status: int,
    detail: str | None = None,
    *,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build a problem+json response for `request` (with the id RequestIdMiddleware gave it), or
    for a WebSocket handshake that is refused."""
    problem = Problem(
        type="about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=request_id_var.get(),
        errors=errors,
    )
    return JSONResponse(
        problem.model_dump(by_alias=True, exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


async def send_problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer with a problem from plain ASGI middleware, where no route or handler runs."""
    response = problem_response(Request(scope), status, detail, headers=headers)
    await response(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 (registered for this type)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(request, exc.status_code, detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 (registered for this type)
    errors = [
        FieldError(path=field_path(error["loc"], exc.body), message=error["msg"])
        for error in jsonable_encoder(exc.errors())
    ]
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return problem_response(request, 400, "The body is not valid JSON.", errors=errors)
    return problem_response(request, 400, "The request is invalid.", errors=errors)


def field_path(location: list[str | int], body: Any = None) -> str:
    """Where a validation error is, in the Node service's terms: `["body", "tags", 0]` as
    "body.tags.0", `["query", "limit"]` as "querystring.limit", `["header", "Idempotency-Key"]` as
    "headers.idempotency-key" (HTTP field names are case-insensitive; Node's are lower case).

    pydantic puts the label of a union's member in the location too (`constrained-str`, a
    discriminator's tag such as `digest`): a parameter's path ends at its name, and a body's keeps
    only the keys that lead through `body`, the request's parsed JSON (and a last key that is
    missing from it, the field the error is about).
    """
    where, *rest = location
    if where != "body":
        rest = [str(rest[0]).lower() if where == "header" else rest[0]] if rest else []
    else:
        rest = _keys_through(body, rest)
    return ".".join([_LOCATIONS.get(str(where), str(where)), *map(str, rest)])


def _keys_through(value: Any, keys: list[str | int]) -> list[str | int]:
    kept: list[str | int] = []
    for index, key in enumerate(keys):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            value = value[key]
        elif index < len(keys) - 1:
            continue  # a union member's label, not a key of the request
        kept.append(key)
    return kept


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    return problem_response(request, 500, "An unexpected error occurred.")


def add_problem_handlers(app: FastAPI) -> None:
    """Answer every error with a problem body."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
