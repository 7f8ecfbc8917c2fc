"""A generated project's bench/README.md, followed as written: its shell blocks run in a fresh
render (on free ports instead of 3000, 3100, 8000 and 8100), the services and bare baselines they
start come up, and each `bench/bench.sh` call's endpoints answer its body with a 2xx. Only wrk is
left out: every `bench/bench.sh` is recorded, not run, so no timing is measured or asserted."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import COVERING_VARIANTS, run_once
from processes import wait_until

from harness.net import free_port, http
from harness.toolchain import tool_env

pytestmark = pytest.mark.generated

# The ports the README's commands use, each given a free one for the run.
README_PORTS = (3000, 3100, 8000, 8100)
# A stand-in for bench/bench.sh that records its arguments, shell-quoted, one call per line.
RECORDING_BENCH = 'bench_call() { printf "%q " "$@" >> "$BENCH_CALLS"; echo >> "$BENCH_CALLS"; }\n'


def readme_script(readme: str, ports: dict[int, int]) -> str:
    """The README's ```sh blocks as one script: ports swapped, `bench/bench.sh` recorded."""
    blocks = re.findall(r"^ *```sh\n(.*?)^ *```", readme, re.MULTILINE | re.DOTALL)
    assert blocks, "bench/README.md has no ```sh block"
    script = "\n".join(re.sub(r"^ {2}", "", line) for b in blocks for line in b.splitlines())
    for old, new in ports.items():
        script = re.sub(rf"\b{old}\b", str(new), script)
    return RECORDING_BENCH + script.replace("bench/bench.sh", "bench_call")


def endpoints(call: str) -> list[tuple[str, Path | None]]:
    """The (URL, body file) pairs one recorded `bench/bench.sh` call measures, baseline first."""
    words = shlex.split(call)
    options: dict[str, str] = {}
    while words and words[0].startswith("-"):
        options[words[0]] = words[1]
        words = words[2:]
    measured = [(words[0], Path(words[1]) if len(words) > 1 else None)]
    if "-b" in options:
        body = options.get("-B")
        measured.insert(0, (options["-b"], Path(body) if body else None))
    return measured


def moved_settings(project: Path, ports: dict[int, int]) -> dict[str, str]:
    """The services' .env.example settings that name a README port (the gateway's URL of the ML
    service), with that port moved as in the README; the environment wins over the file."""
    moved = {}
    for example in project.glob("services/*/.env.example"):
        for name, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", example.read_text(), re.M):
            for old, new in ports.items():
                if re.search(rf":{old}\b", value):
                    moved[name] = re.sub(rf":{old}\b", f":{new}", value)
    return moved


def answer(url: str, body_file: Path | None) -> int:
    """The status of one request as bench.sh's wrk sends it (`{unique}` filled in)."""
    if body_file is None:
        return http("GET", url, anonymous=True, timeout=10).status
    body = body_file.read_text().replace("{unique}", uuid.uuid4().hex).encode()
    headers = {"content-type": "application/json"}
    return http("POST", url, body, headers, anonymous=True, timeout=10).status


@pytest.mark.parametrize(
    "variant", ["node-api-no-db-no-jobs", "python-api-no-db-no-jobs", "hybrid-no-db-no-jobs"]
)
def test_bench_readme_runs_as_written(
    variant: str, rendered_project: Callable[..., Any], tmp_path: Path
) -> None:
    """The README's start commands bring up the service and its bare baseline with the settings
    they need (a new user's first try failed: the API refused to start without an OpenID issuer),
    and every endpoint a bench.sh call would load answers 2xx: no 401, 404, 409 or 429 row."""
    project: Path = rendered_project(**COVERING_VARIANTS[variant])
    if (project / "package.json").exists():
        run_once(["npm", "ci"], cwd=project)
    ports = {port: free_port() for port in README_PORTS}
    # The README's bodies go to /tmp/*.json: give this run its own directory for them.
    script = readme_script((project / "bench/README.md").read_text(), ports)
    script = script.replace("/tmp/", f"{tmp_path}/")
    calls = tmp_path / "bench-calls"
    env = tool_env({"BENCH_CALLS": str(calls)})
    for name in ("OIDC_ISSUER_URL", "OIDC_AUDIENCE", "DATABASE_URL", "PORT", "HOST"):
        env.pop(name, None)  # only what the README and the project's files give
    env.update(moved_settings(project, ports))
    shell = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=project,
        env=env,
        stdout=(tmp_path / "readme.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the servers it starts with `&` stay in its process group
    )
    try:
        assert 0 == shell.wait(timeout=600), (tmp_path / "readme.log").read_text()[-4000:]
        recorded = calls.read_text().splitlines()
        assert recorded, "the README's blocks made no bench/bench.sh call"
        for call in recorded:
            for url, body_file in endpoints(call):
                parts = urlsplit(url)
                health = f"{parts.scheme}://{parts.netloc}/healthz"
                what = f"{health} (the README's commands wrote {tmp_path / 'readme.log'})"
                wait_until(lambda health=health: 200 == answer(health, None), what, timeout=120)
                status = answer(url, body_file)
                assert 200 <= status < 300, (
                    f"`bench/bench.sh {call}`: {url} answered {status}\n"
                    + (tmp_path / "readme.log").read_text()[-4000:]
                )
    finally:
        stop_group(shell.pid)


def stop_group(group: int) -> None:
    """SIGTERM every process of the group, then SIGKILL what is left after 30 s."""
    deadline = time.monotonic() + 30
    try:
        os.killpg(group, signal.SIGTERM)
        while time.monotonic() < deadline:
            os.killpg(group, 0)  # raises once the group is empty
            time.sleep(0.2)
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
