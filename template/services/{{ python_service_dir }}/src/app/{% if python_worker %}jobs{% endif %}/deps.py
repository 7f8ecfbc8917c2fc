"""Dependencies of the job routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, HTTPException

from app.jobs.ledger import LedgerDep


async def get_known_job_id(job_id: uuid.UUID, ledger: LedgerDep) -> uuid.UUID:
    """The job id from the path, if this service queued that job; 404 otherwise."""
    if not await ledger.exists(job_id):
        raise HTTPException(404, f"Job {job_id} does not exist (or has expired).")
    return job_id


KnownJobIdDep = Annotated[uuid.UUID, Depends(get_known_job_id)]
