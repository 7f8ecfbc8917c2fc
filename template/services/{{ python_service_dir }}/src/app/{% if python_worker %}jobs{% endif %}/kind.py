"""What a job type is: the payload a client sends, the result it reads back, and the work.

Each job type is one module of app.jobs that exports a `KIND`; app.jobs.kinds lists them. The API
takes their bodies, the worker (app.worker.tasks) registers one Celery task per kind, and tests can
call `run` directly, without a queue.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

DataT = TypeVar("DataT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)

# Called as a job advances, with the share done in whole percents (0-100).
ProgressCallback = Callable[[int], None]


def nothing_to_warm_up() -> None:
    """For kinds that need nothing loaded before their first job."""


@dataclass(frozen=True)
class JobKind(Generic[DataT, ResultT]):
    """One job type: `type` is what a client sends and reads back (`digest`), `task_name` the
    Celery task that runs it, `example` a `data` to show in the API's documentation,
    `run(data, report)` the work, `warm_up()` what each worker process loads once before its
    first job (a model)."""

    type: str
    task_name: str
    # `builtins.type`: in this class, `type` is the field above.
    data: builtins.type[DataT]
    result: builtins.type[ResultT]
    example: dict[str, Any]
    run: Callable[[DataT, ProgressCallback], ResultT]
    warm_up: Callable[[], None] = nothing_to_warm_up
