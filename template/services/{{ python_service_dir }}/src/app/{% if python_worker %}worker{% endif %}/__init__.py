"""The Celery worker: `celery -A app.worker worker --loglevel=INFO`."""

from app.worker.celery import app

__all__ = ["app"]
