"""The job workers: BullMQ and Celery on their own trivial jobs (bench/jobs/)."""

from __future__ import annotations

import shutil
import statistics
from typing import Any

from bench.common import (
    BENCH,
    Bench,
    run,
    wait_for_log,
)
from bench.report import json_line, percentile
from harness.commands import celery_worker_command
from harness.toolchain import NODE


def section_workers(bench: Bench) -> None:
    for name, runner in (("BullMQ", bench.bullmq), ("Celery", bench.celery)):
        try:
            raw = runner()
        except Exception as error:  # noqa: BLE001 (one broken worker must not hide the other)
            bench.error(f"workers/{name}", error)
            continue
        rates = [r["jobs"] / r["seconds"] for r in raw["rounds"]]
        latencies = sorted(raw["latencies_ms"])
        bench.results["workers"].append(
            {
                "worker": name,
                "jobs_per_s": statistics.median(rates),
                "jobs_per_s_rounds": [round(r, 1) for r in rates],
                "burst": raw["burst"],
                "failed": sum(r["failed"] for r in raw["rounds"]),
                "latency_p50_ms": percentile(latencies, 50),
                "latency_p99_ms": percentile(latencies, 99),
                "sequential_jobs": len(latencies),
            }
        )
        bench.processes.stop_all()


def bullmq(bench: Bench) -> dict[str, Any]:
    project = bench.project("node-api")
    bench.install_node(project)
    service = project / "services/api"
    bench.results["versions"]["bullmq"] = bench.node_version(project, "bullmq")
    env = bench.node_api_env(0, WORKER_CONCURRENCY="1", JOBS_KEEP_COMPLETED="100000")
    worker = bench.processes.start("bullmq-worker", [str(NODE), "dist/worker.js"], service, env)
    wait_for_log(worker, "worker ready")
    shutil.copy2(BENCH / "jobs/bullmq_bench.mjs", service / "bench-bullmq.mjs")
    out = run(
        bench.cpus.pin([str(NODE), "bench-bullmq.mjs"], "load"),
        service,
        {**env, **bench.job_env()},
        timeout=900,
    )
    return json_line(out)


def celery(bench: Bench) -> dict[str, Any]:
    project = bench.project("python-api")
    service = project / "services/api"
    bench.install_python(service)
    env = bench.python_env()
    worker = bench.processes.start(
        "celery-worker", celery_worker_command(service, "bench"), service, env
    )
    wait_for_log(worker, " ready.")
    out = run(
        bench.cpus.pin(
            [str(service / ".venv/bin/python"), str(BENCH / "jobs/celery_bench.py")], "load"
        ),
        service,
        {**env, **bench.job_env(), "PYTHONPATH": str(service / "src")},
        timeout=900,
    )
    return json_line(out)
