"""Celery tasks: thin adapters from Celery to the job code in app.jobs.work.

A job that keeps failing ends in the dead-letter record: its FAILURE result in the result backend
(kept JOB_RESULT_TTL seconds; GET /v1/jobs/{id} shows it as failed) and the worker's ERROR log line
with the traceback. Nothing runs it again unless it is resubmitted.
"""

from __future__ import annotations

import logging
from contextvars import Token
from typing import Any

from celery import Task
from celery.signals import task_postrun, task_prerun, worker_process_init

from app.core.logging import request_id_var
from app.core.settings.jobs import JOB_MAX_RETRIES, RETRY_BACKOFF_MAX
from app.jobs import work
from app.jobs.errors import TransientJobError
from app.worker.celery import app

# Retry errors that can pass, with exponential backoff and full jitter (so retries of many jobs
# do not arrive together); every other error fails the job at once. A job whose pool process died
# is retried too (task_retry_on_worker_lost), after default_retry_delay seconds.
RETRY_TRANSIENT_ERRORS: dict[str, Any] = {
    "autoretry_for": (TransientJobError, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": JOB_MAX_RETRIES,
    "default_retry_delay": 1,
}


@worker_process_init.connect
def _warm_up(**_: object) -> None:
    # Each pool process loads what jobs need (the model) once, when it starts.
    work.warm_up()


logger = logging.getLogger(__name__)
# Context tokens of the task running in this process (one at a time: prefetch is 1 per process).
_TOKENS: dict[str, Token[str | None]] = {}


def _header(task: Task[Any, Any], name: str) -> str | None:
    # Custom message headers are attributes of the request context (older clients nest them).
    value = getattr(task.request, name, None) or (task.request.headers or {}).get(name)
    return value if isinstance(value, str) else None


@task_prerun.connect
def _bind_request(task_id: str, task: Task[Any, Any], **_: object) -> None:
    # The id of the request that queued the job appears in every log line of its run (and the
    # trace, continued by OpenTelemetry's Celery instrumentation: app.core.telemetry).
    _TOKENS[task_id] = request_id_var.set(_header(task, "request_id"))


@task_postrun.connect
def _unbind_request(task_id: str, **_: object) -> None:
    token = _TOKENS.pop(task_id, None)
    if token:
        request_id_var.reset(token)


@app.task(name=work.TASK_NAME, bind=True, pydantic=True, **RETRY_TRANSIENT_ERRORS)
def run_job(self: Task[Any, Any], job_create: work.JobCreate) -> work.JobResult:
    """Run one job, reporting progress as the PROGRESS state."""

    def report(done: int, total: int) -> None:
        self.update_state(state="PROGRESS", meta={"done": done, "total": total})

    logger.info("job started", extra={"job_id": self.request.id})
    return work.run(job_create, report)
