"""What both renderings of the job ledger (app.jobs.ledger) answer and raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Submission:
    """The job an Idempotency-Key started: `created` if this request started it."""

    job_id: str
    created: bool
    submitted_at: datetime


class IdempotencyConflictError(Exception):
    """The idempotency key was already used for a different request."""
