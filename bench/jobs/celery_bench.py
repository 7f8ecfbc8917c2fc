"""Celery worker throughput, run by bench/run with a generated Python service's own interpreter
(cwd: the service). The producer is the project's own create_celery(settings) and task name; the
generated worker (`celery -A app.worker worker`) runs as its own process. Job: the smallest valid
job of the project (one instance).
  burst: BENCH_BURST tasks sent at once, rounds of them -> jobs/s = jobs / (last done - first send)
  latency: BENCH_SEQUENTIAL tasks one at a time -> date_done - send time (send -> result stored)
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime

from app.core.config import load_settings
from app.jobs import work
from app.worker.celery import create_celery

PAYLOADS = {
    "app.jobs.predict_batch": {
        "instances": [
            {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
        ]
    },
}


def main() -> None:
    settings = load_settings()
    celery = create_celery(settings)
    payload = PAYLOADS.get(work.TASK_NAME) or work.EXAMPLE_JOB
    burst = int(os.environ.get("BENCH_BURST", "200"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    sequential = int(os.environ.get("BENCH_SEQUENTIAL", "100"))
    timeout = float(os.environ.get("BENCH_TIMEOUT_S", "120"))

    def send() -> tuple[str, float]:
        task_id = str(uuid.uuid4())
        sent = time.time()
        celery.send_task(work.TASK_NAME, args=[payload], task_id=task_id)
        return task_id, sent

    def done_at(task_id: str) -> tuple[float, bool]:
        result = celery.AsyncResult(task_id)
        result.get(timeout=timeout, propagate=False, interval=0.005)
        meta = celery.backend.get_task_meta(task_id)
        stamp = meta.get("date_done")
        done = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp))
        if done.tzinfo is None:  # older Celery stores naive UTC
            done = done.replace(tzinfo=UTC)
        return done.timestamp(), meta.get("status") == "SUCCESS"

    output: dict[str, object] = {"burst": burst, "rounds": [], "latencies_ms": []}
    for task_id, _ in [send() for _ in range(10)]:  # warm-up
        done_at(task_id)
    for _ in range(rounds):
        started = time.time()
        sent = [send() for _ in range(burst)]
        finished = [done_at(task_id) for task_id, _ in sent]
        last = max(when for when, _ in finished)
        failed = sum(1 for _, ok in finished if not ok)
        output["rounds"].append({"jobs": burst, "failed": failed, "seconds": last - started})  # type: ignore[union-attr]
    for _ in range(sequential):
        task_id, sent_at = send()
        when, _ = done_at(task_id)
        output["latencies_ms"].append((when - sent_at) * 1000)  # type: ignore[union-attr]
    print("BENCH_JSON " + json.dumps(output), flush=True)
    celery.close()


if __name__ == "__main__":
    main()
