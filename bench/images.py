"""Size and build time of every generated image: bench/images (about 5 minutes; needs Docker).

For each Dockerfile variant the containers tier builds (tests/test_containers.py PROJECTS), three
builds in a row, timed: **cold** (`docker builder prune --all` first: no layer cache and empty
npm/uv cache mounts, so every package is downloaded), **warm** (`--no-cache`: layers rebuilt, the
packages come from the cache mounts) and **no change** (everything cached). The base images are
the test harness's stand-ins (tests/standins.py), so sizes are those of the stand-ins plus the
project's layers: read them for the project's share (the `app layers` column) and as close to,
not equal to, what the official base images give. Prints a Markdown table. Run it on a quiet
machine: it empties Docker's whole build cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# harness/ (the helpers shared with the tests), and the containers tier's stand-ins and projects.
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from standins import BUILD_ENV, DOCKER, base_images, build_network, ensure_standins
from test_containers import PROJECTS, compose_services

from harness.repo import render


def docker(*args: str) -> str:
    return subprocess.run(
        [DOCKER, *args], env=BUILD_ENV, check=True, capture_output=True, text=True
    ).stdout


def size(image: str) -> int:
    return int(json.loads(docker("image", "inspect", image))[0]["Size"])


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-images-") as scratch:
        builds: dict[tuple[str, str], tuple[str, Path]] = {}
        for name, answers in PROJECTS.items():
            project = render(Path(scratch) / name, **answers)
            for service, spec in compose_services(project).items():
                if "build" in spec and "command" not in spec:
                    dockerfile = spec["build"].get("dockerfile", "Dockerfile")
                    builds[(name, service)] = (dockerfile, project / spec["build"]["context"])
        ensure_standins([context / dockerfile for dockerfile, context in builds.values()])
        for (name, service), (dockerfile, context) in builds.items():
            tag = f"bench-images-{name}-{service}"
            command = ["build", *build_network(), "-f", str(context / dockerfile), "-t", tag]
            seconds, ids = [], []
            for extra in (["--no-cache"], ["--no-cache"], []):
                if not seconds:
                    docker("builder", "prune", "--all", "--force")
                started = time.monotonic()
                docker(*command, *extra, str(context))
                seconds.append(time.monotonic() - started)
                ids.append(docker("image", "inspect", "--format", "{{.Id}}", tag).strip())
            (base,) = [b for b in base_images(context / dockerfile) if "astral-sh" not in b]
            total, app = size(tag), size(tag) - size(base)
            rows.append((f"{name}: {service}", base, total, app, *seconds))
            docker("rmi", "--force", tag, *sorted(set(ids) - {ids[-1]}))
    print("| image | base | size | app layers | cold | warm | no change |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, base, total, app, cold, warm, cached in rows:
        print(
            f"| {label} | `{base}` | {total / 1e6:.0f} MB | {app / 1e6:.0f} MB "
            f"| {cold:.0f} s | {warm:.0f} s | {cached:.1f} s |"
        )


if __name__ == "__main__":
    main()
