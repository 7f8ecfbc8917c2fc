"""Generated-project tier: the real-time channel (GET /v1/realtime, realtime=yes) across instances.

Two API processes of one architecture (the Node API, the hybrid gateway, or the Python API of
python-api) run on one private Redis, as two pods would; WebSocket
clients are Node's own (harness/realtime_client.mjs), and the slow one is a raw socket that stops
reading. A burst of notes created through B arrives in order at a client on A; a client that never
reads is cut off while another keeps up; SIGTERM closes every socket with 1001 and exits 0; after
a Redis restart the instances subscribe again and events flow without the clients reconnecting.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import run, run_once
from processes import (
    PrivateRedis,
    Process,
    start_private_redis,
    start_process,
    stop_all,
    wait_until,
)

from harness import net
from harness.commands import python_api_command
from harness.net import free_port, http, post_json, redis_command
from harness.oidc import service_env
from harness.toolchain import NODE, tool_env

pytestmark = pytest.mark.generated

CLIENT = Path(__file__).resolve().parents[1] / "harness" / "realtime_client.mjs"
# The answers of tests/test_node_project.py and test_hybrid_project.py: a full run installs them once.
# python-api keeps its notes in memory (each instance its own): the events carry the note itself.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api", "realtime": True},
    "hybrid": {"architecture": "hybrid", "ml": "core", "realtime": True},
    "python-api": {"architecture": "python-api", "realtime": True, "database": "none"},
}
BURST = 50
# Small enough that a client that stops reading overflows it after a few hundred events.
MAX_BUFFERED_BYTES = 65_536
# How long a test waits for a message that must come (only bounds a broken run).
WAIT = 60.0


def authorization() -> dict[str, str]:
    """The session's valid token (tests/conftest.py), for handshakes that do not go through
    harness/net.py's `http`."""
    return net.auth_headers()


def with_token(url: str) -> str:
    """`url` with the session's token as `access_token` (RFC 6750 section 2.3), as a browser
    sends it: Node's WebSocket, like a browser's, sets no Authorization header."""
    header = authorization().get("authorization", "")
    if not header.startswith("Bearer "):
        return url
    return f"{url}{'&' if '?' in url else '?'}access_token={header.removeprefix('Bearer ')}"


@dataclass
class Client:
    """One harness/realtime_client.mjs process: its JSON lines, read by a thread into a queue."""

    popen: subprocess.Popen[str]
    lines: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, url: str, topic: str) -> Client:
        popen = subprocess.Popen(
            [str(NODE), str(CLIENT), with_token(url), topic],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=tool_env(),
        )
        client = cls(popen)
        threading.Thread(target=client._read, daemon=True).start()
        assert "ready" == client.next()["kind"]
        return client

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(json.loads(line))

    def next(self) -> dict[str, Any]:
        try:
            return self.lines.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail("the WebSocket client got nothing more")

    def messages(self, count: int) -> list[dict[str, Any]]:
        """The next `count` messages (a close before them fails the test)."""
        found = []
        while len(found) < count:
            line = self.next()
            assert "message" == line["kind"], f"{line} after {len(found)} messages"
            found.append(line["message"])
        return found

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


class SilentClient:
    """A WebSocket client that subscribes and then never reads: a raw socket with a small
    receive buffer, so the server's send buffer for it fills up."""

    def __init__(self, port: int, topic: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                + "".join(f"{name}: {value}\r\n" for name, value in authorization().items())
                + "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.sock.recv(1)  # one byte at a time: nothing past the headers is read
        assert answer.startswith(b"HTTP/1.1 101"), answer
        self.sock.sendall(
            masked_text_frame(json.dumps({"type": "subscribe", "data": {"topic": topic}}))
        )

    def drain(self) -> bytes:
        """Read what the server had sent until it closed the connection (then fail if it did not)."""
        self.sock.settimeout(WAIT)
        received = bytearray()
        while chunk := self.sock.recv(1 << 16):
            received += chunk
        self.sock.close()
        return bytes(received)


def masked_text_frame(text: str) -> bytes:
    """One client text frame (RFC 6455 section 5.2: FIN, opcode 1, masked), under 126 bytes."""
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    return (
        bytes([0x81, 0x80 | len(payload)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )


@dataclass
class Cluster:
    """Two API processes (A, B) of one architecture on one private Redis."""

    project: Path
    architecture: str
    redis: PrivateRedis
    logs: Path
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    def start_api(self, name: str) -> tuple[Process, int]:
        port = free_port()
        env = tool_env({**service_env(), **self.env, "HOST": "127.0.0.1", "PORT": str(port)})
        service = self.project / "services/api"
        command = (
            python_api_command(service, port)
            if self.architecture == "python-api"
            else [str(NODE), "dist/server.js"]
        )
        process = start_process(name, command, service, env, self.logs)
        self.processes.append(process)
        self.wait_ready(port, process)
        return process, port

    def wait_ready(self, port: int, process: Process) -> None:
        url = f"http://127.0.0.1:{port}/readyz"
        wait_until(lambda: http("GET", url).status == 200, f"{process.name} ready", self.processes)

    def wait_subscribed(self, instances: int) -> None:
        """Until Redis counts `instances` subscribers of the channel (a ready instance may have its
        SUBSCRIBE still on the way)."""
        channel = self.env["REALTIME_CHANNEL"]
        count = f":{instances}\r\n".encode()
        wait_until(
            lambda: redis_command(self.redis.url, "PUBSUB", "NUMSUB", channel).endswith(count),
            f"{instances} subscribers of {channel}",
            self.processes,
        )

    def create_note(self, port: int, title: str, body: str = "") -> dict[str, Any]:
        reply = post_json(f"http://127.0.0.1:{port}/v1/notes", {"title": title, "body": body})
        assert 201 == reply.status, reply.body
        note: dict[str, Any] = reply.json()
        return note


@pytest.fixture(params=list(ARCHITECTURES))
def cluster(
    request: pytest.FixtureRequest,
    rendered_project: Callable[..., Path],
    create_database: Callable[[str], str],
    tmp_path: Path,
) -> Iterator[Cluster]:
    architecture = request.param
    project = rendered_project(**ARCHITECTURES[architecture])
    if architecture == "python-api":
        run_once(["uv", "sync", "--locked"], project / "services/api")
    else:
        run_once(["npm", "ci"], project)
        run_once(["npm", "run", "build"], project)
    redis = start_private_redis(tmp_path)
    env = {
        "REDIS_URL": redis.url,
        "LOG_LEVEL": "warn",
        "RATE_LIMIT_MAX": "1000000",
        "REALTIME_MAX_BUFFERED_BYTES": str(MAX_BUFFERED_BYTES),
        "REALTIME_CHANNEL": f"test-{uuid.uuid4().hex[:8]}:realtime",
    }
    cluster = Cluster(project, architecture, redis, tmp_path, env)
    if architecture == "python-api":
        env["JOBS_QUEUE"] = f"realtime-{uuid.uuid4().hex[:8]}"
    else:
        env["DATABASE_URL"] = create_database(f"realtime_{architecture.replace('-', '_')}")
        run([str(NODE), "dist/migrate.js"], project / "services/api", env)  # the k8s Job's command
    if architecture == "hybrid":
        # The gateway is ready once the ML service answers; run the real one.
        ml = project / "services/ml"
        run_once(["uv", "sync", "--locked"], ml)
        port = free_port()
        command = python_api_command(ml, port)
        cluster.processes.append(
            start_process("ml", command, ml, tool_env({"REDIS_URL": redis.url}), tmp_path)
        )
        env["ML_SERVICE_URL"] = f"http://127.0.0.1:{port}"
    try:
        yield cluster
    finally:
        stop_all(cluster.processes)
        redis.stop()


def test_burst_through_b_arrives_in_order_on_a(cluster: Cluster) -> None:
    """50 notes created one after another through B reach a client of A, all, in order."""
    _, port_a = cluster.start_api("api-a")
    _, port_b = cluster.start_api("api-b")
    cluster.wait_subscribed(2)
    client = Client.start(f"ws://127.0.0.1:{port_a}/v1/realtime", "notes")
    try:
        run_id = uuid.uuid4().hex[:8]
        created = [cluster.create_note(port_b, f"burst {run_id} {i}") for i in range(BURST)]
        events = client.messages(BURST)
        assert [{"type": "note.created", "topic": "notes", "data": n} for n in created] == events
    finally:
        client.close()


def test_client_that_never_reads_is_cut_off_while_others_keep_up(cluster: Cluster) -> None:
    """A socket that stops reading is closed once its send buffer passes
    REALTIME_MAX_BUFFERED_BYTES; a reading client of the same instance gets every event."""
    api_a, port_a = cluster.start_api("api-a")
    _, port_b = cluster.start_api("api-b")
    cluster.wait_subscribed(2)
    silent = SilentClient(port_a, "notes")
    reader = Client.start(f"ws://127.0.0.1:{port_a}/v1/realtime", "notes")
    try:
        body = "x" * 9000
        run_id = uuid.uuid4().hex[:8]
        sent = 0
        # Until A says it dropped the silent client: the kernel's buffers take the first
        # megabytes (how many depends on the machine), the limit the rest.
        while "real-time client too slow" not in api_a.log.read_text():
            assert sent < 3000, api_a.output()
            cluster.create_note(port_b, f"slow {run_id} {sent}", body)
            sent += 1
        titles = [event["data"]["title"] for event in reader.messages(sent)]
        assert [f"slow {run_id} {i}" for i in range(sent)] == titles
        received = silent.drain()  # returns once the server has closed the connection
        assert received.count(b'"note.created"') < sent
    finally:
        reader.close()


def test_sigterm_closes_sockets_with_1001_and_exits_0(cluster: Cluster) -> None:
    """SIGTERM with sockets open: each gets close code 1001 (going away), the process exits 0."""
    api_a, port_a = cluster.start_api("api-a")
    clients = [Client.start(f"ws://127.0.0.1:{port_a}/v1/realtime", "notes") for _ in range(3)]
    try:
        assert 0 == api_a.stop(grace=30), api_a.output()
        for client in clients:
            assert {"kind": "close", "socket": 0, "code": 1001} == client.next()
    finally:
        for client in clients:
            client.close()


def test_events_flow_again_after_a_redis_restart(cluster: Cluster) -> None:
    """Redis restarts under open sockets: both instances reconnect and subscribe again by
    themselves, and a note created through B after it reaches the client of A, still connected."""
    api_a, port_a = cluster.start_api("api-a")
    api_b, port_b = cluster.start_api("api-b")
    client = Client.start(f"ws://127.0.0.1:{port_a}/v1/realtime", "notes")
    try:
        cluster.redis.restart()
        cluster.wait_ready(port_a, api_a)
        cluster.wait_ready(port_b, api_b)
        cluster.wait_subscribed(2)
        note = cluster.create_note(port_b, f"after restart {uuid.uuid4().hex[:8]}")
        assert [{"type": "note.created", "topic": "notes", "data": note}] == client.messages(1)
    finally:
        client.close()
