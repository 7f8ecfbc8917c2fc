"""The Celery worker's job metric: `messaging.process.duration` of each task run, the semantic
conventions' name (https://opentelemetry.io/docs/specs/semconv/messaging/messaging-metrics/), as
the BullMQ worker of a hybrid project records it. Celery's own instrumentation records only
`flower.task.runtime.seconds`, without the outcome.

Recorded in the pool process that ran the task, once telemetry is on (app.core.telemetry calls
`record_task_durations` when the process starts).
"""

from __future__ import annotations

import time
from typing import Any

from celery import Task, signals
from opentelemetry import metrics

_started: dict[str, float] = {}  # task id -> time.monotonic() when it started, in this process


def _task_started(task_id: str, **_: Any) -> None:
    _started[task_id] = time.monotonic()


def record_task_durations() -> None:
    """Record `messaging.process.duration` (s) when each task run ends: with `messaging.system`
    (celery), `messaging.operation.name` (process), `messaging.destination.name` (the queue it
    came from) and, for a run that failed or asked for a retry, `error.type` (the exception's
    class). A retried run counts as one failed operation, as in the BullMQ worker."""
    duration = metrics.get_meter(__name__).create_histogram(
        "messaging.process.duration", unit="s", description="Duration of processing operation."
    )

    def task_ended(
        task_id: str, task: Task[Any, Any], retval: Any = None, state: str = "", **_: Any
    ) -> None:
        started = _started.pop(task_id, None)
        if started is None:
            return
        delivery = task.request.delivery_info or {}
        queue = delivery.get("routing_key") or task.app.conf.task_default_queue
        attributes = {
            "messaging.system": "celery",
            "messaging.operation.name": "process",
            "messaging.destination.name": str(queue),
        }
        if state != "SUCCESS":
            error = getattr(retval, "exc", None) or retval  # a Retry carries the exception
            attributes["error.type"] = type(error).__qualname__ if error is not None else state
        duration.record(time.monotonic() - started, attributes)

    # weak=False: the receivers are local functions, kept alive by the signals themselves.
    signals.task_prerun.connect(_task_started, weak=False)
    signals.task_postrun.connect(task_ended, weak=False)
