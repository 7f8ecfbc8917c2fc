"""Lint tier: the field's own linters as a gate, on a curated set of renders and every committed
OpenAPI document.

The gate is the generated project's own `scripts/lint.py` with its `lint.toml` (tools pinned,
every waived rule listed with its reason), so the template is held to what a project's CI runs:
zizmor and actionlint on the workflows, shellcheck, hadolint on the Dockerfiles, checkov on
Dockerfiles, workflows and Kubernetes manifests, Redocly's recommended ruleset on OpenAPI. One run
covers every render, so each tool starts once. The services serve the committed documents (their
drift tests), so linting generated/openapi covers what they serve.
"""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import TEMPLATE_ROOT, tool_env

# Every optional file at least once: each architecture; database, jobs and realtime on and off
# (realtime with jobs in hybrid, whose services/ml is the python-api service); deploy on. The
# answers match tests/test_k8s.py, so a full run renders each once.
VARIANTS: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api"},
    "node-api-no-db-no-jobs": {
        "architecture": "node-api",
        "database": "none",
        "background_jobs": False,
    },
    "python-api": {"architecture": "python-api", "ml": "core"},
    "python-api-no-db-no-jobs": {
        "architecture": "python-api",
        "database": "none",
        "background_jobs": False,
    },
    "hybrid": {"architecture": "hybrid", "ml": "core", "realtime": True},
    "hybrid-no-db-no-jobs": {
        "architecture": "hybrid",
        "database": "none",
        "background_jobs": False,
    },
}


def test_every_variant_and_committed_document_passes_the_lint_gate(
    rendered_project: Callable[..., Path],
) -> None:
    projects = [rendered_project(**answers) for answers in VARIANTS.values()]
    documents = sorted(str(path) for path in (TEMPLATE_ROOT / "generated/openapi").glob("*.json"))
    result = subprocess.run(
        [
            "uv",
            "run",
            str(projects[0] / "scripts/lint.py"),
            *map(str, projects),
            "--openapi",
            *documents,
        ],
        cwd=projects[0],
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout[-12000:]}\n{result.stderr[-4000:]}"


def test_every_waiver_gives_its_reason() -> None:
    config = tomllib.loads((TEMPLATE_ROOT / "template/lint.toml").read_text())
    tools = set(config["tools"])
    for waiver in config["waiver"]:
        assert waiver["tool"] in tools, waiver
        assert len(waiver["reason"].split()) >= 5, waiver
