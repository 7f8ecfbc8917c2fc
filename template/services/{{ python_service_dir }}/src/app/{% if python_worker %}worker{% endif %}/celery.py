"""The Celery application: configuration only (tasks are in app.worker.tasks).

Settings are read when Celery first needs its configuration, not at import time, so a bad
variable, or settings that contradict each other, stop the worker with one line naming them.
"""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery, signals

from app.core.config import ConfigurationError, Settings, get_settings
from app.core.logging import configure_logging
from app.core.settings.jobs import RETRY_BACKOFF_MAX
from app.core.telemetry import instrument_worker, shutdown_telemetry, telemetry_enabled


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings chosen for at-least-once processing of idempotent jobs."""
    hard_limit = settings.job_time_limit
    # When a whole worker dies (SIGKILL, OOM kill of its container, lost machine), nobody rejects
    # its jobs: Redis hands them to another worker only after this visibility timeout. The trade-
    # off: it must exceed the longest run plus the longest retry delay, or a job still running
    # (or waiting for its retry) is handed out again and runs twice at once (celery/celery#5935,
    # #6229); the longer it is, the longer a crashed worker's jobs wait.
    visibility_timeout = settings.job_visibility_timeout or hard_limit + RETRY_BACKOFF_MAX + 60
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "task_default_queue": settings.jobs_queue,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # Acknowledge after the job ran, and put it back if its process dies: a crash or deploy
        # mid-job reruns it instead of losing it (jobs must therefore be idempotent). A job whose
        # pool process dies is retried, counted against the task's max_retries, so a job that
        # kills its process every time (out of memory, a native crash) ends FAILED with
        # WorkerLostError instead of being requeued for ever.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_retry_on_worker_lost": True,
        # Take one job at a time: long jobs are not stuck behind each other in one process.
        "worker_prefetch_multiplier": 1,
        # The soft limit raises SoftTimeLimitExceeded in the job (time to clean up); the hard
        # limit kills the process. Without them a hung job blocks its pool slot for ever.
        "task_soft_time_limit": hard_limit - max(5, hard_limit // 10),
        "task_time_limit": hard_limit,
        "broker_transport_options": {
            "visibility_timeout": visibility_timeout,
            # Workers sweep for such jobs every interval x throttle seconds: about every
            # visibility_timeout / 2, at most every 100 s (kombu's default).
            "unacked_restore_interval": min(10, visibility_timeout / 20),
            "unacked_restore_throttle": 10,
        },
        "task_track_started": True,
        # Results and progress wait out a Redis restart (retrying with backoff, for a few minutes)
        # instead of failing the job: a job that cannot store its result is acknowledged as failed
        # and never runs again.
        "result_backend_always_retry": True,
        "result_backend_max_retries": 30,
        "result_expires": settings.job_result_ttl,
        # Publishing fails fast when Redis is down, so the API can answer 503 promptly.
        "broker_connection_timeout": 3,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        "broker_connection_retry_on_startup": True,
        # Jobs running when the broker connection drops are stopped; unacknowledged, they are
        # handed out again after the visibility timeout.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # SIGTERM is a warm shutdown: running jobs finish first, however long they take. A cold
        # shutdown (SIGQUIT, or SIGTERM with REMAP_SIGTERM=SIGQUIT) first gives them this long,
        # then requeues them; keep it below the container's stop grace period.
        "worker_soft_shutdown_timeout": 10,
        "worker_hijack_root_logger": False,
        "worker_max_tasks_per_child": 1000,
    }


def _worker_settings() -> Settings:
    """The worker's settings; if they are invalid, exit 1 with the reason in one line."""
    try:
        return get_settings()
    except ConfigurationError as error:
        sys.exit(f"error: {error}")


def create_celery(settings: Settings | None = None) -> Celery:
    """A Celery app; with no settings, they are read from the environment on first use."""
    if settings is not None:
        # A producer (the API): it sends tasks by name and never imports them.
        producer = Celery("app", set_as_current=False)
        producer.conf.update(celery_config(settings))
        # Only workers wait out a Redis restart: the API answers 503 at once, and clients retry.
        producer.conf.result_backend_always_retry = False
        producer.conf.result_backend_transport_options = {
            "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_max": 0.2}
        }
        return producer
    worker = Celery("app", include=["app.worker.tasks"])
    worker.add_defaults(lambda: celery_config(_worker_settings()))
    return worker


app = create_celery()


@signals.setup_logging.connect
def _configure_logging(**_: object) -> None:
    # Replaces Celery's own logging set-up, so the worker logs JSON like the API.
    configure_logging(_worker_settings().log_level)


@signals.worker_process_init.connect
def _start_telemetry(**_: object) -> None:
    # OpenTelemetry in each pool process, when the OTEL_* variables ask for it (app.core.telemetry).
    instrument_worker()


@signals.worker_process_shutdown.connect
def _flush_telemetry(**_: object) -> None:
    # A pool process ends without the interpreter's exit handlers: flush its spans and metrics.
    if telemetry_enabled():
        shutdown_telemetry()
