# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""The lint gate: the field's linters, with the versions and waivers of lint.toml.

    uv run scripts/lint.py                     # this project
    uv run scripts/lint.py PROJECT ...         # several projects in one run (each tool runs once)
    uv run scripts/lint.py --openapi FILE ...  # more OpenAPI documents

Runs zizmor and actionlint on .github/workflows, shellcheck on *.sh, hadolint on each Dockerfile,
checkov on the Dockerfiles, workflows and deploy/k8s manifests, and Redocly's recommended ruleset
on each OpenAPI document (services/*/openapi.json, services/*/contracts/openapi.json). Python tools
come from PyPI through `uvx`, Redocly from npm through `npx`, so `uv` and Node 24 must be on PATH.
Exits 1 when any tool reports a finding that lint.toml does not waive, naming the tools that failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "lint.toml"
SKIP_DIRS = {"node_modules", ".venv", ".git", "dist"}


def files(roots: Iterable[Path], pattern: str) -> list[str]:
    """Files under `roots` matching `pattern`, outside dependency and build directories."""
    return sorted(
        str(path)
        for root in roots
        for path in root.rglob(pattern)
        if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(root).parts)
    )


def waived(config: dict, tool: str) -> list[str]:
    """The rules lint.toml waives for `tool`; each waiver must give its reason."""
    rules = []
    for waiver in config.get("waiver", []):
        if not waiver.get("reason", "").strip():
            sys.exit(f"lint.toml: waiver of {waiver.get('rule')} ({waiver.get('tool')}): no reason")
        if waiver["tool"] == tool:
            rules.append(waiver["rule"])
    return rules


def uv_tool(spec: str, command: str, *args: str, also: tuple[str, ...] = ()) -> list[str]:
    """`command` from the PyPI package `spec` (name==version), through `uv tool run` (`uvx`),
    with the packages `also` installed beside it."""
    return ["uv", "tool", "run", "--from", spec, *(f"--with={a}" for a in also), command, *args]


def commands(
    config: dict, roots: list[Path], openapi: list[str], scratch: Path
) -> dict[str, list[str]]:
    """Each tool's command line, for the tools that have something to check."""
    tools = config["tools"]
    workflows = [str(r / ".github/workflows") for r in roots if (r / ".github/workflows").is_dir()]
    dockerfiles = files(roots, "Dockerfile")
    scripts = files(roots, "*.sh")
    manifests = [str(root / "deploy/k8s") for root in roots if (root / "deploy/k8s").is_dir()]
    openapi = openapi + files(roots, "openapi.json")
    planned: dict[str, list[str]] = {}
    if workflows:
        disabled = "".join(f"  {rule}:\n    disable: true\n" for rule in waived(config, "zizmor"))
        zizmor_config = scratch / "zizmor.yml"
        zizmor_config.write_text(f"rules:\n{disabled}" if disabled else "rules: {}\n")
        planned["zizmor"] = uv_tool(
            tools["zizmor"], "zizmor", "--offline", "--config", str(zizmor_config), *workflows
        )
        # With shellcheck beside it, actionlint also checks each `run:` script.
        ignores = [arg for rule in waived(config, "actionlint") for arg in ("-ignore", rule)]
        planned["actionlint"] = uv_tool(
            tools["actionlint"],
            "actionlint",
            *ignores,
            *files(map(Path, workflows), "*.yml"),
            also=(tools["shellcheck"],),
        )
    if scripts:
        excludes = [f"--exclude={rule}" for rule in waived(config, "shellcheck")]
        planned["shellcheck"] = uv_tool(tools["shellcheck"], "shellcheck", *excludes, *scripts)
    if dockerfiles:
        ignores = [arg for rule in waived(config, "hadolint") for arg in ("--ignore", rule)]
        planned["hadolint"] = uv_tool(tools["hadolint"], "hadolint", *ignores, *dockerfiles)
    targets = [*manifests, *workflows, *dockerfiles]
    if targets:
        skips = ",".join(waived(config, "checkov"))
        planned["checkov"] = uv_tool(
            tools["checkov"], "checkov",
            "--framework", "kubernetes", "dockerfile", "github_actions",
            "--compact", "--quiet", "--skip-download",
            *(["--skip-check", skips] if skips else []),
            *[arg for target in targets for arg in (
                "--file" if Path(target).is_file() else "--directory", target
            )],
        )  # fmt: skip
    if openapi:
        disabled = "".join(f"  {rule}: off\n" for rule in waived(config, "redocly"))
        redocly_config = scratch / "redocly.yaml"
        redocly_config.write_text(f"extends:\n  - recommended\nrules:\n{disabled}")
        planned["redocly"] = [
            "npx", "--yes", tools["redocly"], "lint",
            "--config", str(redocly_config), "--format", "stylish", *openapi,
        ]  # fmt: skip
    return planned


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", type=Path, default=[Path(".")])
    parser.add_argument("--openapi", nargs="*", default=[], help="more OpenAPI documents to lint")
    arguments = parser.parse_args()
    config = tomllib.loads(CONFIG.read_text())
    failed = []
    with tempfile.TemporaryDirectory(prefix="lint-") as scratch:
        for tool, command in commands(
            config, arguments.projects, arguments.openapi, Path(scratch)
        ).items():
            print(f"--- {tool}", flush=True)
            if subprocess.run(command, check=False).returncode != 0:
                failed.append(tool)
    if failed:
        print(f"lint: findings from {', '.join(failed)} (waivers go in lint.toml, with a reason)")
        return 1
    print("lint: clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
