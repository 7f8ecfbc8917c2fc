"""Celery tasks: thin adapters from Celery to the job code in app.jobs.work."""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.signals import worker_process_init

from app.jobs import work
from app.jobs.errors import TransientJobError
from app.worker.celery import RETRY_BACKOFF_MAX, app

# Retry errors that can pass, with exponential backoff and full jitter (so retries of many jobs
# do not arrive together); every other error fails the job at once.
RETRY_TRANSIENT_ERRORS: dict[str, Any] = {
    "autoretry_for": (TransientJobError, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": 5,
}


@worker_process_init.connect
def _warm_up(**_: object) -> None:
    # Each pool process loads what jobs need (the model) once, when it starts.
    work.warm_up()


@app.task(name=work.TASK_NAME, bind=True, pydantic=True, **RETRY_TRANSIENT_ERRORS)
def run_job(self: Task[Any, Any], job_create: work.JobCreate) -> work.JobResult:
    """Run one job, reporting progress as the PROGRESS state."""

    def report(done: int, total: int) -> None:
        self.update_state(state="PROGRESS", meta={"done": done, "total": total})

    return work.run(job_create, report)
