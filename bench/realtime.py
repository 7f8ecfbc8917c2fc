"""The real-time channel (GET /v1/realtime, realtime=yes): sockets held and event fan-out latency.

For node-api, then python-api (the same endpoint on FastAPI and uvicorn): two API instances (A
and B) on one Redis, both pinned to the server CPU. On the load CPU, one
process (harness/realtime_client.mjs) opens `clients` WebSockets to A and subscribes each to
`notes`; then notes are created through B one after another, `events` of them, paced so each
fan-out ends before the next starts. The latency of one delivery is from just before the POST to
B is sent to the moment a client on A has the event: B's request handling, the Redis pub/sub hop,
A's fan-out loop to every socket, and the client process reading it (on the other CPU). Every
delivery to every socket is one sample. Then `held` sockets are opened to A alone to measure the
memory each costs (A's resident set size before and after, in KiB per socket).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, Bench, log, wait_ready
from bench.report import percentile
from harness.commands import python_api_command
from harness.net import free_port, post_json
from harness.toolchain import NODE

CLIENT = REPO / "harness" / "realtime_client.mjs"
# The gap between two events: about 1,000 frames per event leave A in a few ms; the gap keeps the
# fan-outs from overlapping, so the figure is the latency of one event, not of a queue.
EVENT_GAP_S = 0.1


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Clients:
    """`count` sockets to `url`, subscribed to `notes`, in one Node process on the load CPU."""

    def __init__(self, bench: Bench, url: str, count: int, expect: int = 0) -> None:
        command = bench.cpus.pin([str(NODE), str(CLIENT), url, "notes", str(count)], "load")
        self.popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**bench.env(), "LATENCY": "1", **({"EXPECT": str(expect)} if expect else {})},
        )
        assert self.popen.stdout is not None
        line = json.loads(self.popen.stdout.readline() or '{"kind": "exited"}')
        if line.get("kind") != "ready":
            raise RuntimeError(f"the {count} clients did not all subscribe: {line}")

    def latencies(self) -> list[float]:
        """Wait for the process to have every sample it expects, then read them (ms)."""
        assert self.popen.stdout is not None
        out = self.popen.stdout.read()
        self.popen.wait(timeout=300)
        for line in out.splitlines():
            answer = json.loads(line)
            if answer["kind"] == "latency":
                return sorted(float(s) for s in answer["samples"])
        raise RuntimeError(f"no latency line from the clients: {out[-500:]}")


def section_realtime(bench: Bench) -> None:
    """Both architectures whose API serves the channel itself; a failure of one is reported and
    the other still runs."""
    rows: list[dict[str, Any]] = []
    for architecture in ("node-api", "python-api"):
        try:
            rows.append(measure_realtime(bench, architecture))
        except Exception as error:  # noqa: BLE001 (reported with the results)
            bench.error(f"realtime {architecture}", error)
    bench.results["realtime"] = rows


def measure_realtime(bench: Bench, architecture: str) -> dict[str, Any]:
    smoke = bench.settings.smoke
    clients, events, held = (50, 20, 200) if smoke else (1000, 200, 5000)
    project = bench.project(f"{architecture}-realtime")
    service = project / "services/api"
    shared = {
        "REALTIME_CHANNEL": f"{bench.prefix()}:realtime",
        # Every bench socket comes from 127.0.0.1: lift the per-client cap above the test's count.
        "REALTIME_MAX_CONNECTIONS_PER_CLIENT": str(10 * held),
        "LOG_LEVEL": "warn",
    }
    ports = {name: free_port() for name in ("a", "b")}
    if architecture == "node-api":
        bench.install_node(project)
        bench.results["versions"]["@fastify/websocket"] = bench.node_version(
            project, "@fastify/websocket"
        )
        commands = {name: [str(NODE), "dist/server.js"] for name in ports}
        envs = {name: bench.node_api_env(port, **shared) for name, port in ports.items()}
    else:
        bench.install_python(service)
        bench.results["versions"].update(
            bench.python_versions(service, "uvicorn", "websockets", "redis")
        )
        commands = {name: python_api_command(service, port) for name, port in ports.items()}
        envs = {name: bench.python_env(**shared) for name in ports}
    servers = {
        name: bench.processes.start(
            f"realtime-{architecture}-{name}", commands[name], service, envs[name]
        )
        for name in ports
    }
    for name, process in servers.items():
        wait_ready(process, f"http://127.0.0.1:{ports[name]}/readyz")
    url_a = f"ws://127.0.0.1:{ports['a']}/v1/realtime"
    notes_b = f"http://127.0.0.1:{ports['b']}/v1/notes"

    log(f"realtime {architecture}: {clients} clients on A, {events} notes created through B")
    fanout = Clients(bench, url_a, clients, expect=clients * events)
    for _ in range(events):
        sent = time.time() * 1000
        reply = post_json(notes_b, {"title": f"bench {sent!r}"})
        if reply.status != 201:
            raise RuntimeError(f"B answered {reply.status}: {reply.body[:300]!r}")
        time.sleep(EVENT_GAP_S)
    samples = fanout.latencies()

    log(f"realtime {architecture}: {held} sockets held by A")
    pid_a = servers["a"].popen.pid
    before = rss_kib(pid_a)
    holding = Clients(bench, url_a, held)
    after = rss_kib(pid_a)
    holding.popen.communicate(timeout=60)  # stdin closed: the sockets close, the process exits

    for server in servers.values():
        server.popen.terminate()
        server.popen.wait(timeout=60)

    result: dict[str, Any] = {
        "architecture": architecture,
        "clients": clients,
        "events": events,
        "deliveries": len(samples),
        "fanout_p50_ms": round(percentile(samples, 50), 2),
        "fanout_p99_ms": round(percentile(samples, 99), 2),
        "fanout_max_ms": round(samples[-1], 2),
        "held_sockets": held,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_socket": round((after - before) / held, 1),
        "cpus": os.cpu_count(),
    }
    log(f"realtime: {result}")
    return result
