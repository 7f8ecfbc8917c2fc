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

import json
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

from conftest import COVERING_VARIANTS as VARIANTS

from harness.repo import TEMPLATE_ROOT
from harness.toolchain import tool_env


def lint(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The project's own gate, as its CI runs it (`uv run scripts/lint.py`)."""
    return subprocess.run(
        ["uv", "run", str(project / "scripts/lint.py"), *arguments],
        cwd=project,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_every_variant_and_committed_document_passes_the_lint_gate(
    rendered_project: Callable[..., Path],
) -> None:
    projects = [rendered_project(**answers) for answers in VARIANTS.values()]
    documents = sorted(str(path) for path in (TEMPLATE_ROOT / "generated/openapi").glob("*.json"))

    result = lint(projects[0], *map(str, projects), "--openapi", *documents)

    assert result.returncode == 0, f"{result.stdout[-12000:]}\n{result.stderr[-4000:]}"


def test_the_gate_fails_on_each_kind_of_defect_it_was_built_for(
    rendered_project: Callable[..., Path], tmp_path: Path
) -> None:
    """The defects the field's linters found before this gate, planted back into a render: a
    checkout that keeps its token, with an action pinned by a movable tag (zizmor), a Dockerfile
    on a `latest` image (hadolint), an OpenAPI 3.2 keyword in a 3.1 document (Redocly)."""
    project = shutil.copytree(rendered_project(**VARIANTS["node-api"]), tmp_path / "project")
    ci = project / ".github/workflows/ci.yml"
    pinned = (
        "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n"
        "        with:\n          persist-credentials: false\n"
    )
    assert pinned in ci.read_text()
    ci.write_text(ci.read_text().replace(pinned, "      - uses: actions/checkout@v5\n", 1))
    dockerfile = project / "services/api/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\nFROM node:latest\n")
    openapi = project / "services/api/openapi.json"
    document = json.loads(openapi.read_text())
    notes = document["paths"]["/v1/notes"]["get"]["responses"]["200"]["content"]
    notes["application/json"]["itemSchema"] = {"type": "object"}
    openapi.write_text(json.dumps(document))

    result = lint(project)

    assert 1 == result.returncode, result.stdout[-6000:]
    (verdict,) = [line for line in result.stdout.splitlines() if line.startswith("lint:")]
    for tool in ("zizmor", "hadolint", "redocly"):
        assert tool in verdict, result.stdout[-6000:]


def test_every_waiver_gives_its_reason() -> None:
    """lint.toml waives only rules of the tools it pins, and says why in a sentence."""
    config = tomllib.loads((TEMPLATE_ROOT / "template/lint.toml").read_text())
    tools = set(config["tools"])
    for waiver in config["waiver"]:
        assert waiver["tool"] in tools, waiver
        assert len(waiver["reason"].split()) >= 5, waiver
