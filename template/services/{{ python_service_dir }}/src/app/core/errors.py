"""Errors as `application/problem+json` (RFC 9457), for every status the service returns.

Handlers are registered for HTTP errors, validation errors (422, keeping each problem's location,
message and type so a client can point at the field) and anything unexpected (500, without
internals).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ValidationProblem(BaseModel):
    """One invalid part of a request."""

    loc: list[str | int] = Field(description="Where: body, query, path or header, then the field")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ValidationProblem] | None = None


# For `responses=` in routers, so the OpenAPI document shows the problem body.
PROBLEM_RESPONSE: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}


def problem_response(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    errors: list[ValidationProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build a problem+json response for `request`."""
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
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
        ValidationProblem(loc=list(error["loc"]), msg=error["msg"], type=error["type"])
        for error in jsonable_encoder(exc.errors())
    ]
    return problem_response(request, 422, "The request is not valid.", errors=errors)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    return problem_response(request, 500, "An unexpected error occurred.")


def add_problem_handlers(app: FastAPI) -> None:
    """Answer every error with a problem body."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
