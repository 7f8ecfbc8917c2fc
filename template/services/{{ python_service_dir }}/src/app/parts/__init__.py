"""The parts of the service: what it opens when it starts, checks when asked, and closes.

A part is one module (`app.parts.<name>`) present only when the project has it: the database,
the job queue, the model. The module holds a `part` (below) and the `Annotated` dependencies that
hand its clients to routes; `app.parts.main` lists the parts this service has, in start order.
Adding one is one new module and one line in that list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from app.core.config import Settings

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class PartUnavailable(Exception):
    """What a part depends on is not reachable; the message says what, for the /readyz problem."""


@dataclass(frozen=True, kw_only=True)
class Part:
    """One optional part of the service.

    `open(settings)` opens its clients when the app starts and closes them when it stops; it
    yields the entries it adds to the lifespan state, which its dependencies read from
    `request.state`. `check(request)` answers /readyz: it returns the check's name ("redis") or
    raises PartUnavailable. `exception_handlers` turn its clients' errors into problems.
    `middleware`: ASGI middleware classes (taking only the app) that wrap the whole app, outside
    the service's own, so that what they set holds for its access log line too.
    """

    name: str
    open: Callable[[Settings], AbstractAsyncContextManager[Mapping[str, Any]]]
    check: Callable[[Request], Awaitable[str]] | None = None
    exception_handlers: Mapping[type[Exception], ExceptionHandler] = field(default_factory=dict)
    middleware: Sequence[Callable[[ASGIApp], ASGIApp]] = ()
