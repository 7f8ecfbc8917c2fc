"""Jobs as the API reports them, sending them to the worker, and reading their status from Celery's
result backend. Which jobs this service queued, per idempotency key, is the ledger's business
(app.jobs.ledger: in PostgreSQL with a database, else in Redis)."""

from __future__ import annotations

import hashlib
import json
import uuid
from enum import StrEnum
from typing import Any

import anyio
from celery import Celery
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core.logging import request_id_var
from app.jobs.work import TASK_NAME, JobResult


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})

# Celery task states -> ours (PROGRESS is the custom state the task reports while it runs).
_STATUS_BY_STATE = {
    "PENDING": JobStatus.QUEUED,
    "RECEIVED": JobStatus.QUEUED,
    "STARTED": JobStatus.RUNNING,
    "PROGRESS": JobStatus.RUNNING,
    "RETRY": JobStatus.RETRYING,
    "SUCCESS": JobStatus.SUCCEEDED,
    "FAILURE": JobStatus.FAILED,
    "REVOKED": JobStatus.FAILED,
}


# How far a running job has got.
class JobProgress(BaseModel):
    done: int
    total: int


# A job as the API returns it.
class JobPublic(BaseModel):
    id: uuid.UUID
    status: JobStatus
    progress: JobProgress | None = None
    result: JobResult | None = None
    error: str | None = None


class IdempotencyConflictError(Exception):
    """The idempotency key was already used for a different request."""


def fingerprint(payload: dict[str, Any]) -> str:
    """A digest of a job's payload: the same key with another payload is a conflict."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


async def send_job(celery: Celery, payload: dict[str, Any], job_id: uuid.UUID) -> None:
    """Send the task for `job_id` to the worker's queue (RedisConnectionError if Redis is down)."""
    # Publishing is blocking network I/O: keep it off the event loop.
    # The request's id travels as a message header: the worker logs it (tasks.py). The trace goes
    # in headers of its own, through OpenTelemetry's Celery instrumentation (app.core.telemetry).
    headers = {"request_id": request_id_var.get()}
    try:
        await anyio.to_thread.run_sync(
            lambda: celery.send_task(
                TASK_NAME, args=[payload], task_id=str(job_id), headers=headers
            )
        )
    except RuntimeError as error:
        # Celery's result store gives up reconnecting with a RuntimeError: Redis is down.
        raise RedisConnectionError("The job queue is not reachable.") from error


def _public(job_id: uuid.UUID, meta: dict[str, Any]) -> JobPublic:
    state = str(meta.get("status", "PENDING"))
    status = _STATUS_BY_STATE.get(state, JobStatus.QUEUED)
    info = meta.get("result")
    job = JobPublic(id=job_id, status=status)
    if state == "PROGRESS" and isinstance(info, dict):
        job.progress = JobProgress.model_validate(info)
    elif status is JobStatus.SUCCEEDED:
        job.result = JobResult.model_validate(info)
    elif status is JobStatus.FAILED:
        # The exception's type only: its message may carry data the client should not see.
        kind = info.get("exc_type", "Error") if isinstance(info, dict) else "Error"
        job.error = f"The job failed ({kind})."
    return job


async def read_job(*, celery: Celery, job_id: uuid.UUID) -> JobPublic:
    """The job's current status, progress and result."""
    meta = await anyio.to_thread.run_sync(lambda: celery.backend.get_task_meta(str(job_id)))
    return _public(job_id, meta)
