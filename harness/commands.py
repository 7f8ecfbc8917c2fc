"""The generated projects' process commands, as compose and deploy/k8s start them."""

from __future__ import annotations

import uuid
from pathlib import Path


def python_api_command(service: Path, port: int) -> list[str]:
    """A generated Python service's HTTP server on 127.0.0.1:`port`, as its image runs it
    (`python -m app`), from the service's own virtualenv."""
    return [
        str(service / ".venv/bin/python"),
        "-m",
        "app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def celery_worker_command(service: Path, name: str, concurrency: int = 1) -> list[str]:
    """A generated Python service's Celery worker, as compose and deploy/k8s start it.

    `name` makes the node name unique, so workers sharing a Redis never clash.
    """
    return [
        *(str(service / ".venv/bin/celery"), "-A", "app.worker", "worker", "--loglevel=INFO"),
        *(f"--concurrency={concurrency}", "--without-gossip", "--without-mingle"),
        f"--hostname={name}-{uuid.uuid4().hex[:8]}@%h",
    ]
