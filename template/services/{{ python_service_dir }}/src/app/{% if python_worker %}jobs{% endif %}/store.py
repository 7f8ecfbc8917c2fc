"""Jobs as the API reports them: starting them on the worker's queue and reading them back.

Each job has a record in Redis, a hash under `JOBS_QUEUE:job:<id>` kept JOB_RESULT_TTL seconds:
its `type` and `createdAt`, written when the job is queued, and its `progress` and `attemptsMade`,
written by the worker (app.worker.tasks). Its state, result and finishing time come from Celery's
result backend. Which job an Idempotency-Key started is the ledger's business (app.jobs.ledger).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, cast

import anyio
from celery import Celery
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core.logging import request_id_var
from app.jobs.kind import JobKind
from app.jobs.kinds import KINDS, JobCreate, JobResult, JobType


class JobState(StrEnum):
    """Where a job is in its life, in BullMQ's terms (the Node service's `JobState`), so a client
    reads the same states from every architecture.

    From Celery's states: PENDING is `waiting` (Celery cannot tell a queued job from a lost one:
    the record above says the job was queued), STARTED is `active`, RETRY (waiting out a retry's
    backoff) is `delayed`, SUCCESS is `completed`, FAILURE and REVOKED are `failed`.
    `waiting-children` and `prioritized` never occur here; `unknown` is a job whose key the ledger
    remembers but whose record Redis no longer has (flushed).
    """

    WAITING = "waiting"
    WAITING_CHILDREN = "waiting-children"
    PRIORITIZED = "prioritized"
    DELAYED = "delayed"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"


FINISHED = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.UNKNOWN})

_STATE_BY_CELERY_STATE = {
    "PENDING": JobState.WAITING,
    "RECEIVED": JobState.WAITING,
    "STARTED": JobState.ACTIVE,
    "RETRY": JobState.DELAYED,
    "SUCCESS": JobState.COMPLETED,
    "FAILURE": JobState.FAILED,
    "REVOKED": JobState.FAILED,
}


# A job as the API reports it (the same fields as the Node service's `JobPublic`). Fields without
# a value are left out of the answer, not sent as null.
class JobPublic(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    type: JobType
    state: JobState
    # Share done, in percent.
    progress: Annotated[float, Field(ge=0, le=100)]
    # Attempts that ended (1 once a job finished on its first attempt; more after retries).
    attempts_made: Annotated[int, Field(ge=0)]
    result: JobResult | SkipJsonSchema[None] = None
    failed_reason: str | SkipJsonSchema[None] = None
    created_at: datetime
    finished_at: datetime | SkipJsonSchema[None] = None


def fingerprint(job_create: JobCreate) -> str:
    """A digest of a job's request: the same Idempotency-Key with another request is a conflict."""
    payload = job_create.model_dump(mode="json", by_alias=True)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def record_key(prefix: str, job_id: str) -> str:
    """The Redis key of a job's record (JOBS_QUEUE is the prefix)."""
    return f"{prefix}:job:{job_id}"


def forgotten_job(job_id: str, job_type: JobType, created_at: datetime) -> JobPublic:
    """A job the ledger remembers but Redis no longer has: `unknown`, and never run again."""
    return JobPublic(
        id=job_id,
        type=job_type,
        state=JobState.UNKNOWN,
        progress=0,
        attempts_made=0,
        created_at=created_at,
    )


def _finished_at(meta: dict[str, Any]) -> datetime | None:
    done = meta.get("date_done")
    if not done:
        return None
    finished = done if isinstance(done, datetime) else datetime.fromisoformat(str(done))
    return finished if finished.tzinfo else finished.replace(tzinfo=UTC)


class JobStore:
    """Start jobs and read them back: records in Redis, tasks through Celery."""

    def __init__(self, *, redis: Redis, celery: Celery, prefix: str, ttl: int) -> None:
        self._redis = redis
        self._celery = celery
        self._prefix = prefix
        self._ttl = ttl

    async def start(self, kind: JobKind[Any, Any], data: BaseModel, job_id: str) -> None:
        """Write the job's record, then send its task to the worker's queue (RedisConnectionError
        if Redis is down; the record is then removed again)."""
        key = record_key(self._prefix, job_id)
        created_at = datetime.now(UTC).isoformat()
        await self._redis.hset(
            key,
            mapping={"type": kind.type, "createdAt": created_at, "progress": 0, "attemptsMade": 0},
        )
        await self._redis.expire(key, self._ttl)
        # The request's id travels as a message header: the worker logs it (app.worker.tasks).
        # The trace goes in headers of its own, through OpenTelemetry's Celery instrumentation.
        headers = {"request_id": request_id_var.get()}
        payload = data.model_dump(mode="json", by_alias=True)
        try:
            # Publishing is blocking network I/O: keep it off the event loop.
            await anyio.to_thread.run_sync(
                lambda: self._celery.send_task(
                    kind.task_name, args=[payload], task_id=job_id, headers=headers
                )
            )
        except BaseException as error:
            await self._redis.delete(key)
            if isinstance(error, RuntimeError):
                # Celery's result store gives up reconnecting with a RuntimeError: Redis is down.
                raise RedisConnectionError("The job queue is not reachable.") from error
            raise

    async def read(self, job_id: str) -> JobPublic | None:
        """The job as the API reports it; None if this service did not queue it (or its record
        expired after JOB_RESULT_TTL seconds)."""
        # Strings: the client decodes responses (app.parts.jobs).
        record = cast(dict[str, str], await self._redis.hgetall(record_key(self._prefix, job_id)))
        if not record:
            return None
        meta: dict[str, Any] = await anyio.to_thread.run_sync(
            lambda: self._celery.backend.get_task_meta(job_id)
        )
        celery_state = str(meta.get("status", "PENDING"))
        state = _STATE_BY_CELERY_STATE.get(celery_state, JobState.WAITING)
        job: dict[str, Any] = {**record, "id": job_id, "state": state}
        info = meta.get("result")
        if state is JobState.COMPLETED:
            job |= {"result": KINDS[record["type"]].result.model_validate(info), "progress": 100}
        elif state is JobState.FAILED:
            # The exception's type only: its message may carry data the client should not see.
            # Celery's result backend gives the exception back rebuilt (`exception_to_python`).
            kind = type(info).__name__ if isinstance(info, BaseException) else "Error"
            job["failedReason"] = f"The job failed ({kind})."
        if state in FINISHED:
            job["finishedAt"] = _finished_at(meta)
        return JobPublic.model_validate(job)
