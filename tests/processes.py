"""Running a generated project's processes for real: ports, HTTP calls, logs, readiness, SIGTERM.

Shared by the generated-project tests; stdlib only (the test venv has no HTTP or Redis client).
"""

from __future__ import annotations

import http.client as httpclient
import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Reply:
    """One HTTP answer: status, headers (lower-case names) and the raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    """One HTTP request; error statuses are answers too (only connection failures raise).

    A server may answer (413) and close before it has read a large body: the send then fails
    with a broken pipe, but the answer is already there to read.
    """
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = httpclient.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        try:
            conn.request(method, path or "/", body, dict(headers or {}))
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = conn.getresponse()
        raw = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)
    finally:
        conn.close()


def post_json(url: str, payload: object, timeout: float = 30, **headers: str) -> Reply:
    body = json.dumps(payload).encode()
    return http("POST", url, body, {"content-type": "application/json", **headers}, timeout)


def redis_command(redis_url: str, *args: str) -> bytes:
    """One RESP command over a socket."""
    parts = urlsplit(redis_url)
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 5) as conn:
        conn.sendall(payload.encode())
        return conn.recv(4096)


_DELETE_KEYS = "for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end"


def delete_redis_keys(redis_url: str, pattern: str) -> None:
    """Delete every key matching `pattern` (a test's own prefix) from the shared Redis."""
    redis_command(redis_url, "EVAL", _DELETE_KEYS, "0", pattern)


@dataclass
class Process:
    """A process of the project under test, its output going to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self, tail: int = 6000) -> str:
        return f"--- {self.name} output ---\n{self.log.read_text(errors='replace')[-tail:]}"

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 30) -> int | None:
        """SIGTERM, then the exit code; None if it outlived `grace` seconds and was killed."""
        self.send_sigterm()
        return self.exit_code(grace)

    def send_sigterm(self) -> None:
        # Once only: a second SIGTERM means "stop now" to close-with-grace and to Celery.
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def exit_code(self, grace: float = 30) -> int | None:
        """Wait for the exit code; None if the process outlived `grace` seconds and was killed."""
        try:
            return self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            return None


def start_process(
    name: str,
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    logs: Path,
    log_name: str | None = None,
) -> Process:
    """Start `command` with stdout and stderr in `logs/<log_name or name>.log`."""
    log = logs / f"{log_name or name}.log"
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=sink, stderr=subprocess.STDOUT
        )
    return Process(name, popen, log)


def stop_all(processes: Sequence[Process], grace: float = 30) -> dict[str, int | None]:
    """SIGTERM every process at once, then collect each exit code (None: killed after `grace`)."""
    for process in processes:
        process.send_sigterm()
    return {process.name: process.exit_code(grace) for process in processes}


def outputs(processes: Sequence[Process]) -> str:
    return "\n".join(process.output() for process in processes)


def wait_until(
    condition: Callable[[], bool],
    what: str,
    processes: Sequence[Process] = (),
    timeout: float = 90,
    interval: float = 0.1,
) -> None:
    """Poll `condition` (connection errors count as "not yet") until it holds; fail the test if a
    watched process exits first or `timeout` passes. The bound only keeps a broken run from hanging.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if not process.running():
                pytest.fail(f"{process.name} exited while waiting for {what}\n{outputs(processes)}")
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what}\n{outputs(processes)}")
