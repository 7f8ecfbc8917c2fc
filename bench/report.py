"""The results: machine description, ratios against the bare frameworks and the guide, the table."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from bench.common import (
    GUIDE,
    TARGETS,
    Cpus,
)


def wrk_version(wrk_bin: str) -> str:
    result = subprocess.run(
        [wrk_bin, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    first = (result.stdout or result.stderr).splitlines()
    return f"{first[0].split(' [')[0]} (1 thread)" if first else "wrk (1 thread)"


def json_line(output: str) -> dict[str, Any]:
    match = re.search(r"^BENCH_JSON (\{.*\})$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"no BENCH_JSON line in:\n{output[-2000:]}")
    return dict(json.loads(match.group(1)))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_key = {row["key"]: row for row in rows}
    out: dict[str, dict[str, Any]] = {}

    def add(name: str, label: str, top: str, bottom: str, metric: str = "rps") -> None:
        if top in by_key and bottom in by_key and by_key[bottom][metric]:
            value = by_key[top][metric] / by_key[bottom][metric]
            entry: dict[str, Any] = {"label": label, "value": value, "metric": metric}
            cpu_top, cpu_bottom = by_key[top]["cpu_us_per_req"], by_key[bottom]["cpu_us_per_req"]
            if metric == "rps" and cpu_top and cpu_bottom:
                # The same ratio from CPU time per request (bottom/top: higher is faster).
                entry["cpu_ratio"] = cpu_bottom / cpu_top
            if by_key[top]["errors"] or by_key[bottom]["errors"]:
                entry["note"] = "errors in a row: see the HTTP table"
            if name in TARGETS:
                _, op, bound = TARGETS[name]
                entry["target"] = f"{op} {bound}"
                entry["met"] = value >= bound if op == ">=" else value <= bound
            # The same ratio for the services rendered from --before (their own rows over the
            # same bare rows, or over their own when both sides are generated).
            top_before, bottom_before = f"before_{top}", f"before_{bottom}"
            if bottom_before not in by_key:
                bottom_before = bottom
            if top_before in by_key and by_key[bottom_before][metric]:
                entry["before"] = by_key[top_before][metric] / by_key[bottom_before][metric]
            out[name] = entry

    add(
        "node_healthz_vs_bare_fastify",
        "generated Node /healthz / bare Fastify (req/s)",
        "node_gen_healthz",
        "node_bare_fastify",
    )

    def value(name: str, label: str, key: str, metric: str) -> None:
        """A target on one row's own figure (a p99 in ms), not a ratio."""
        if key in by_key:
            figure = by_key[key][metric]
            entry: dict[str, Any] = {"label": label, "value": figure, "metric": metric}
            if name in TARGETS:
                _, op, bound = TARGETS[name]
                entry["target"] = f"{op} {bound}"
                entry["met"] = figure >= bound if op == ">=" else figure <= bound
            if f"before_{key}" in by_key:
                entry["before"] = by_key[f"before_{key}"][metric]
            out[name] = entry

    add(
        "node_create_vs_bare_zod",
        "generated Node POST create / bare Fastify + Zod (req/s, memory)",
        "node_gen_create_memory",
        "node_bare_zod_create",
    )
    add(
        "python_create_vs_bare_pydantic",
        "generated Python POST create / bare FastAPI + pydantic (memory)",
        "python_gen_create_memory",
        "python_bare_create",
    )
    add(
        "python_db_get_vs_bare_fastapi",
        "generated Python DB GET by id / bare FastAPI /healthz (req/s)",
        "python_gen_note_get",
        "python_bare_fastapi",
    )
    value(
        "python_db_get_p99_ms",
        "generated Python DB GET by id, p99 ms (run's connections)",
        "python_gen_note_get",
        "p99_ms",
    )
    add(
        "node_notes_vs_bare_fastify",
        "generated Node POST /v1/notes / bare Fastify (req/s)",
        "node_gen_notes",
        "node_bare_fastify",
    )
    add(
        "node_notes_info_vs_warn",
        "POST /v1/notes, LOG_LEVEL info / warn (req/s)",
        "node_gen_notes",
        "node_gen_notes_warn",
    )
    add(
        "bare_fastify_vs_node_http",
        "bare Fastify / bare node:http (req/s)",
        "node_bare_fastify",
        "node_bare_http",
    )
    add(
        "python_healthz_vs_bare_fastapi",
        "generated Python /healthz / bare FastAPI (req/s)",
        "python_gen_healthz",
        "python_bare_fastapi",
    )
    add(
        "python_predict_vs_bare_fastapi",
        "generated Python POST /v1/predictions / bare FastAPI (req/s)",
        "python_gen_predict",
        "python_bare_fastapi",
    )
    add(
        "python_healthz_info_vs_warning",
        "Python /healthz, LOG_LEVEL info / warning (req/s)",
        "python_gen_healthz",
        "python_gen_healthz_warning",
    )
    add(
        "gateway_vs_direct_p50",
        "hybrid gateway / direct ML call (p50, 1 connection)",
        "hybrid_gateway_predictions_c1",
        "hybrid_direct_predict_c1",
        "p50_ms",
    )
    add(
        "gateway_vs_direct_p99",
        "hybrid gateway / direct ML call (p99, 1 connection)",
        "hybrid_gateway_predictions_c1",
        "hybrid_direct_predict_c1",
        "p99_ms",
    )
    add(
        "gateway_vs_direct_p50_loaded",
        "hybrid gateway / direct ML call (p50, loaded)",
        "hybrid_gateway_predictions",
        "hybrid_direct_predict",
        "p50_ms",
    )
    add(
        "gateway_vs_direct_rps",
        "hybrid gateway / direct ML call (req/s, loaded)",
        "hybrid_gateway_predictions",
        "hybrid_direct_predict",
    )
    add(
        "node_vs_python_db_get",
        "generated Node / generated Python GET /v1/notes/{id} (req/s, PostgreSQL)",
        "node_gen_note_get",
        "python_gen_note_get",
    )
    add(
        "node_vs_python_bare",
        "bare Fastify / bare FastAPI (req/s; guide: 4.2-8.8x)",
        "node_bare_fastify",
        "python_bare_fastapi",
    )
    add(
        "node_vs_python_generated",
        "generated Node /healthz / generated Python /healthz (req/s)",
        "node_gen_healthz",
        "python_gen_healthz",
    )
    return out


def cpu_ticks() -> list[int]:
    """The machine's CPU time so far, in clock ticks, per state of the `cpu` line of /proc/stat
    (proc(5): user, nice, system, idle, iowait, irq, softirq, steal, ...); [] where unreadable."""
    with contextlib.suppress(OSError, ValueError):
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        if fields[0] == "cpu":
            return [int(value) for value in fields[1:]]
    return []


def steal_percent(before: list[int], after: list[int]) -> float | None:
    """Share of the machine's CPU time that its hypervisor gave to other guests between two
    `cpu_ticks()` readings (steal, the 8th state), in per cent; None where unknown. A run with a
    few per cent of steal has had cores taken away mid-round: its tails are not the servers'."""
    if len(before) < 8 or len(after) < 8:
        return None
    spent = sum(after[:8]) - sum(before[:8])
    return round(100 * (after[7] - before[7]) / spent, 1) if spent > 0 else None


def describe_machine(cpus: Cpus) -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


# Output ##########################################################################################


def table(results: dict[str, Any]) -> str:
    lines = []
    m = results["machine"]
    meth = results["method"]
    lines.append(
        f"polyglot-scaffold benchmark ({results['mode']}), {results['generated_at']}: "
        f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, load {m['load_before']} -> "
        f"{m['load_after']}, steal {m.get('steal_percent')} % of CPU time"
    )
    lines.append(
        f"wrk -t1 -c{meth['connections']}, warm-up {meth['warmup_s']}s, {meth['rounds']} x "
        f"{meth['round_s']}s rounds interleaved, medians; servers on CPU "
        f"{meth['pinned']['servers_cpu']}, load on CPU {meth['pinned']['load_cpu']}"
    )
    lines.append("")
    lines.append(f"{'ratio':<66} {'before':>7} {'value':>7} {'by CPU':>7}  target")
    for entry in results["ratios"].values():
        verdict = ""
        if "target" in entry:
            verdict = f"{entry['target']}  {'met' if entry['met'] else 'MISSED'}"
        if "note" in entry:
            verdict += f" ({entry['note']})"
        by_cpu = f"{entry['cpu_ratio']:>7.2f}" if "cpu_ratio" in entry else f"{'-':>7}"
        before = f"{entry['before']:>7.2f}" if "before" in entry else f"{'-':>7}"
        lines.append(f"{entry['label']:<66} {before} {entry['value']:>7.2f} {by_cpu}  {verdict}")
    lines.append("")
    lines.append(
        f"{'HTTP':<62} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us':>7} {'errors':>7}"
    )
    for row in results["http"]:
        cpu = f"{row['cpu_us_per_req']:>7.0f}" if row["cpu_us_per_req"] else f"{'-':>7}"
        lines.append(
            f"{row['label']:<62} {row['rps']:>9.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{cpu} {row['errors']:>7}"
        )
    if results["workers"]:
        lines.append("")
        lines.append(
            f"{'worker (trivial job, 1 process, concurrency 1)':<55} {'jobs/s':>9} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'failed':>7}"
        )
        for row in results["workers"]:
            lines.append(
                f"{row['worker']:<55} {row['jobs_per_s']:>9.1f} {row['latency_p50_ms']:>8.2f} "
                f"{row['latency_p99_ms']:>8.2f} {row['failed']:>7}"
            )
    if results["copier"]:
        lines.append("")
        lines.append(f"{'copier (median seconds)':<55} {'copy s':>9} {'update s':>9}")
        for row in results["copier"]:
            lines.append(f"{row['architecture']:<55} {row['copy_s']:>9.2f} {row['update_s']:>9.2f}")
    if results.get("realtime"):
        lines.append("")
    for rt in results.get("realtime") or []:
        lines.append(
            f"realtime {rt['architecture']}: {rt['clients']} WebSocket clients on A, "
            f"{rt['events']} notes through B: "
            f"fan-out p50 {rt['fanout_p50_ms']} ms, p99 {rt['fanout_p99_ms']} ms; "
            f"{rt['held_sockets']} sockets held, {rt['kib_per_socket']} KiB each"
        )
    for skipped in results["skipped"]:
        lines.append(f"skipped {skipped['section']}: {skipped['reason']}")
    for error in results["errors"]:
        lines.append(f"ERROR {error['section']}: {error['error'].splitlines()[0]}")
    lines.append(
        f"guide: Fastify {GUIDE['fastify_rps'][0]:,}-{GUIDE['fastify_rps'][1]:,} req/s, FastAPI "
        f"{GUIDE['fastapi_rps'][0]:,}-{GUIDE['fastapi_rps'][1]:,}; p99 Node {GUIDE['node_p99_ms']} ms,"
        f" FastAPI {GUIDE['fastapi_p99_ms']} ms"
    )
    return "\n".join(lines)
