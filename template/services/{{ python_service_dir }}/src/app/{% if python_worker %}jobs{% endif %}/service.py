"""Submitting jobs (idempotently) and reading their status from Celery's result backend."""

from __future__ import annotations

import hashlib
import json
import uuid
from enum import StrEnum
from typing import Any

import anyio
from celery import Celery
from pydantic import BaseModel
from redis.asyncio import Redis

from app.core.config import Settings
from app.core.logging import request_id_var, traceparent_var
from app.jobs.work import TASK_NAME, JobCreate, JobResult


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


def _keys(settings: Settings, *, idempotency_key: str, job_id: str = "") -> tuple[str, str]:
    prefix = settings.jobs_queue
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{prefix}:idempotency:{digest}", f"{prefix}:job:{job_id}"


async def submit_job(
    *,
    redis: Redis,
    celery: Celery,
    settings: Settings,
    idempotency_key: str,
    job_create: JobCreate,
) -> tuple[uuid.UUID, bool]:
    """Queue a job once per idempotency key; return its id and whether this call created it.

    The key is claimed with SET NX before the task is sent, so two concurrent requests with the
    same key get the same job. The same key with a different body is a conflict.
    """
    payload = job_create.model_dump(mode="json")
    fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    job_id = str(uuid.uuid4())
    claim_key, job_key = _keys(settings, idempotency_key=idempotency_key, job_id=job_id)
    claim = json.dumps({"job_id": job_id, "fingerprint": fingerprint})
    ttl = settings.job_result_ttl
    if not await redis.set(claim_key, claim, nx=True, ex=ttl):
        existing = json.loads(await redis.get(claim_key) or claim)
        if existing["fingerprint"] != fingerprint:
            raise IdempotencyConflictError(idempotency_key)
        return uuid.UUID(existing["job_id"]), False
    await redis.set(job_key, TASK_NAME, ex=ttl)
    try:
        # Publishing is blocking network I/O: keep it off the event loop.
        # The request's id and trace travel as message headers: the worker logs them (tasks.py).
        headers = {"request_id": request_id_var.get(), "traceparent": traceparent_var.get()}
        await anyio.to_thread.run_sync(
            lambda: celery.send_task(TASK_NAME, args=[payload], task_id=job_id, headers=headers)
        )
    except BaseException:
        await redis.delete(claim_key, job_key)  # let the client retry with the same key
        raise
    return uuid.UUID(job_id), True


async def job_exists(*, redis: Redis, settings: Settings, job_id: uuid.UUID) -> bool:
    """Whether this service queued the job (and its record has not expired)."""
    _, job_key = _keys(settings, idempotency_key="", job_id=str(job_id))
    return bool(await redis.exists(job_key))


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
