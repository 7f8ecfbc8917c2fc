"""Celery tasks: thin adapters from Celery to the job kinds of app.jobs.kinds, one task each.

A job that keeps failing ends in the dead-letter record: its FAILURE result in the result backend
(kept JOB_RESULT_TTL seconds; GET /v1/jobs/{id} shows it as failed) and the worker's ERROR log line
with the traceback. Nothing runs it again unless it is resubmitted.
"""

from __future__ import annotations

import logging
from contextvars import Token
from functools import cache
from typing import Any

from celery import Task
from celery.signals import task_postrun, task_prerun, worker_process_init
from celery.utils.dispatch import Signal
from redis import Redis
from redis.exceptions import RedisError

from app.core.config import get_settings
from app.core.logging import request_id_var
from app.core.settings.jobs import JOB_MAX_RETRIES, RETRY_BACKOFF_MAX
from app.jobs.errors import TransientJobError
from app.jobs.kind import JobKind
from app.jobs.kinds import KINDS
from app.jobs.store import record_key
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
    for kind in KINDS.values():
        kind.warm_up()


logger = logging.getLogger(__name__)
# Sent with `job_id` and `progress` (percent) each time a job reports progress, after its record
# has it: for what else wants to hear it (app.worker.realtime, when the project has one).
job_progress = Signal(name="job_progress")
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


@cache
def _records() -> Redis:
    # One connection pool per worker process, to the Redis that holds the job records.
    return Redis.from_url(get_settings().redis_url, socket_timeout=5, decode_responses=True)


def _update_record(
    job_id: str, *, progress: int | None = None, attempt_ended: bool = False
) -> None:
    """Write a job's progress, or count an ended attempt, into its record (app.jobs.store).
    Best effort: a job does not fail because Redis missed one of these."""
    settings = get_settings()
    key = record_key(settings.jobs_queue, job_id)
    try:
        with _records().pipeline() as pipe:
            if progress is not None:
                pipe.hset(key, "progress", progress)
            if attempt_ended:
                pipe.hincrby(key, "attemptsMade", 1)
            pipe.expire(key, settings.job_result_ttl)
            pipe.execute()
    except RedisError as error:
        logger.warning("job record not updated", extra={"job_id": job_id, "error": str(error)})


def _report_progress(kind: JobKind[Any, Any], job_id: str, percent: int) -> None:
    _update_record(job_id, progress=percent)
    job_progress.send(sender=kind.task_name, job_id=job_id, progress=percent)


def _task_for(kind: JobKind[Any, Any]) -> Task[Any, Any]:
    """The Celery task that runs `kind`: parses the payload, reports progress, counts attempts."""

    @app.task(name=kind.task_name, bind=True, **RETRY_TRANSIENT_ERRORS)
    def run_job(self: Task[Any, Any], data: dict[str, Any]) -> dict[str, Any]:
        job_id = str(self.request.id)
        logger.info("job started", extra={"job_id": job_id, "job_type": kind.type})
        try:
            # A payload that can never succeed fails at once (a ValidationError is not retried).
            result = kind.run(
                kind.data.model_validate(data),
                lambda percent: _report_progress(kind, job_id, percent),
            )
        finally:
            _update_record(job_id, attempt_ended=True)
        return dict(result.model_dump(mode="json", by_alias=True))

    task: Task[Any, Any] = run_job
    return task


TASKS = {kind.type: _task_for(kind) for kind in KINDS.values()}
