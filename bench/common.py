"""What every part of the benchmark shares: settings, toolchains, pinned processes, load generation
with wrk, rendering, and the `Bench` each section measures with."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

REPO = Path(__file__).resolve().parents[1]
from harness.databases import new_database
from harness.net import http
from harness.repo import snapshot_template
from harness.toolchain import NODE, tool_env

BENCH = REPO / "bench"
# auth=none: the benchmarks measure the request path as it was before authentication, against
# bare apps that check no token either (a token check on every request is its own cost to measure).
BASE_ANSWERS = {"project_name": "Bench Shop", "author_name": "Bench Team", "auth": "none"}
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api"},
    "python-api": {"architecture": "python-api", "ml": "core"},
    "hybrid": {"architecture": "hybrid"},
    # Without a database: the validated POST against a bare app that also keeps it in memory.
    "node-api-memory": {"architecture": "node-api", "database": "none"},
    "python-api-memory": {"architecture": "python-api", "database": "none"},
    # bench/realtime.py: the WebSocket channel; notes in memory, so no database is on the path.
    "node-api-realtime": {"architecture": "node-api", "realtime": True, "database": "none"},
    "python-api-realtime": {"architecture": "python-api", "realtime": True, "database": "none"},
}
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
PREDICT_BODY = json.dumps({"instances": [SETOSA]})
NOTE_BODY = json.dumps(
    {"title": "Benchmark note {unique}", "body": "Some text.", "tags": ["bench"]}
)

@dataclass(frozen=True)
class Resource:
    """The example resource of a service: created by POST `path` with `body`, read by id at
    `path`/{id}. For the bare FastAPI app, `create_model` and `public_model` name the service's
    own pydantic models (`module:Class`) that its POST validates with."""

    path: str
    body: str
    create_model: str | None = None
    public_model: str | None = None


# Per service (both serve the one notes contract; the bare FastAPI app validates with the
# generated service's own models).
RESOURCES = {
    "node-api": Resource("/v1/notes", NOTE_BODY),
    "python-api": Resource("/v1/notes", NOTE_BODY, "app.notes:NoteCreate", "app.notes:NotePublic"),
}
# The guide's figures (reference/node-vs-python-article.txt), for the table and the docs.
GUIDE = {
    "fastify_rps": (50_000, 70_000),
    "express_rps": (15_000, 20_000),
    "fastapi_rps": (8_000, 12_000),
    "django_rps": (1_500, 3_000),
    "node_p99_ms": "< 10",
    "fastapi_p99_ms": "15-30",
}
# The Python database-backed GET before issue 21 (docs/benchmarks.md, 2026-11-28, a quiet
# machine): 1,158 req/s where bare FastAPI served 15,927. Its target, 3x that, is held as a ratio
# to bare FastAPI in the same run, so that it travels between machines and loads.
PYTHON_DB_GET_BEFORE = 1_158 / 15_927
TARGETS = {
    "node_healthz_vs_bare_fastify": ("req/s ratio", ">=", 0.85),
    "python_healthz_vs_bare_fastapi": ("req/s ratio", ">=", 0.85),
    "node_create_vs_bare_zod": ("req/s ratio", ">=", 0.6),
    "python_create_vs_bare_pydantic": ("req/s ratio", ">=", 0.6),
    "gateway_vs_direct_p50": ("p50 ratio", "<=", 1.5),
    "gateway_vs_direct_p99": ("p99 ratio", "<=", 2.0),
    "python_db_get_vs_bare_fastapi": ("req/s ratio", ">=", round(3 * PYTHON_DB_GET_BEFORE, 3)),
    "python_db_get_p99_ms": ("p99 ms", "<=", 30.0),
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
    # A git ref of this repository (e.g. main) whose generated services are measured too, as
    # `before_*` rows in the same run: before/after ratios that share their bare baselines.
    before: str | None = None


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


def create(url: str, body: str) -> dict[str, Any]:
    """POST one resource (for a GET target to read); `{unique}` in the body as wrk fills it."""
    payload = body.replace("{unique}", uuid.uuid4().hex).encode()
    reply = http("POST", url, payload, {"content-type": "application/json"}, timeout=10)
    if reply.status != 201:
        raise RuntimeError(f"{url} answered {reply.status} to a create: {reply.body[:300]!r}")
    return dict(reply.json())


def wait_ready(process: Process, url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode}\n{process.tail()}"
            )
        with contextlib.suppress(OSError):
            if http("GET", url, timeout=2).status == 200:
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
        headers = {"content-type": "application/json"} if body else {}
        data = body.encode() if body else None
        reply = http("POST" if body else "GET", self.url, data, headers, timeout=10)
        if not 200 <= reply.status < 300:
            raise RuntimeError(
                f"{self.label}: {self.url} answered {reply.status}: {reply.body[:300]!r}"
            )


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


def template_at(ref: str, destination: Path) -> Path:
    """A clone of this repository checked out at `ref` (a commit, a branch, or a branch of the
    repository this one was cloned from), to render the services as they were there."""
    subprocess.run(
        ["git", "clone", "-q", str(REPO), str(destination)], check=True, capture_output=True
    )
    for candidate in (ref, f"origin/{ref}"):
        checkout = subprocess.run(
            ["git", "-C", str(destination), "checkout", "-q", candidate],
            capture_output=True,
            check=False,
        )
        if checkout.returncode == 0:
            return destination
    raise SystemExit(f"--before {ref}: no such commit or branch in {REPO}")


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
    """What every section of one run shares: settings, processes, projects, results."""

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
        self.before_template = (
            template_at(settings.before, work / "template-before") if settings.before else None
        )
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

    def project(self, architecture: str, *, before: bool = False) -> Path:
        """`architecture` rendered from this working tree, or with `before` from --before's ref."""
        key = f"before:{architecture}" if before else architecture
        if key not in self.projects:
            template = self.before_template if before else self.template
            if template is None:
                raise RuntimeError("no --before ref to render from")
            destination = self.work / ("projects-before" if before else "projects") / architecture
            seconds = render(template, destination, ARCHITECTURES[architecture])
            log(f"rendered {key} in {seconds:.1f}s")
            self.projects[key] = destination
        return self.projects[key]

    def variants(self) -> list[tuple[str, bool]]:
        """(row key prefix, render from --before) of each generated variant this run measures."""
        return [("", False)] + ([("before_", True)] if self.before_template else [])

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

    def error(self, section: str, error: BaseException) -> None:
        log(f"ERROR in {section}: {error}")
        self.results["errors"].append(
            {
                "section": section,
                "error": "".join(traceback.format_exception_only(error)).strip(),
            }
        )
