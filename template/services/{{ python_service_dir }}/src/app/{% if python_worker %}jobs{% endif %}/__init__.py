"""Jobs: work that leaves the request path, run by the Celery worker."""
