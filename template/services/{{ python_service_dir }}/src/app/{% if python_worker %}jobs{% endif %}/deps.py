"""Dependencies of the job routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path

from app.api.deps import SettingsDep
from app.jobs.store import JobPublic, JobStore
from app.parts.jobs import CeleryDep, RedisDep


async def get_job_store(redis: RedisDep, celery: CeleryDep, settings: SettingsDep) -> JobStore:
    return JobStore(
        redis=redis, celery=celery, prefix=settings.jobs_queue, ttl=settings.job_result_ttl
    )


JobStoreDep = Annotated[JobStore, Depends(get_job_store)]


async def get_known_job(
    # The same path parameter as the Node service's (`JobParams`): any id; 404 if it is no job.
    id: Annotated[str, Path(min_length=1, max_length=100)],
    jobs: JobStoreDep,
) -> JobPublic:
    """The job the path names; a 404 problem if this service did not queue it (or it expired)."""
    job = await jobs.read(id)
    if job is None:
        raise HTTPException(404, f"Job {id} does not exist.")
    return job


KnownJobDep = Annotated[JobPublic, Depends(get_known_job)]
