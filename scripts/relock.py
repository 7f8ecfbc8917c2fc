"""Regenerate generated/: the files the real tools produce for each variant, included by the template.

For each variant this renders a throwaway project named "Lockfile Probe" from the working tree of
this repo (uncommitted changes included), runs the real tool in it, and writes the output back
with the probe's names replaced by the Jinja expressions the template renders:

- generated/uv/<python_deps>.uv.lock             `uv lock` of the Python service
- generated/openapi/python-<python_routes>.json   its OpenAPI (`python -m app.openapi`); the hybrid
                                                  ML service's is python-ml-service.json
- generated/npm/<node_deps>.package-lock.json     `npm install --package-lock-only` of the workspaces
- generated/openapi/node-<node_routes>[-realtime][-oidc].json   the Node API's OpenAPI (`npm run
                                                  openapi`); `-oidc` with auth=oidc (security
                                                  scheme, scopes, 401/403 on each operation)
- generated/openapi/python-<variant>.ts           hybrid: the ML service's OpenAPI as TypeScript
                                                  types (openapi-typescript), for packages/contracts

The uv part runs first: the hybrid gateway's TypeScript types come from the Python OpenAPI.

The lockfiles are the tools' output as written; the template puts each project's own package
names where the tools sort them (includes/npm_lockfile.jinja, includes/uv_lockfile.jinja), so a
rendered lockfile is byte for byte what `npm install` / `uv lock` write in the project
(tests/test_lockfiles.py).

Usage (from the repo root, in the repo's venv):
    .venv/bin/python scripts/relock.py                # reconcile with edited manifests and routes
    .venv/bin/python scripts/relock.py --only npm     # only one tool: npm or uv
    .venv/bin/python scripts/relock.py --upgrade      # re-resolve every dependency to its newest
    .venv/bin/python scripts/relock.py --verify       # then `npm ci` + `npm run check` on fresh renders

Needs a Redis at REDIS_URL (default 127.0.0.1:6379) for the OpenAPI step of the job variants.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "generated"
BIN = Path(sys.executable).parent  # the repo venv: copier and uv live beside this interpreter
sys.path.insert(0, str(ROOT))  # harness/, the helpers shared with the tests and the bench
from harness.toolchain import tool_env  # Node 24, working npm and npx; uv on the machine's Python

PROBE_NAME = "Lockfile Probe"
PROBE_SLUG = "lockfile-probe"
PROBE_DESCRIPTION = f"The backend of {PROBE_NAME}."
# How the template spells the Python package name and the service title.
PYTHON_NAME = "{{ project_slug }}-{{ python_service_dir }}"
PYTHON_TITLE = "{{ project_name }} {{ 'ML service' if python_service_dir == 'ml' else 'API' }}"

HYBRID = {"architecture": "hybrid", "ml": "core"}
# node_routes value -> answers that produce it (the OpenAPI documents depend on these alone).
NODE_ROUTES: dict[str, dict[str, str]] = {
    "jobs": {"architecture": "node-api", "background_jobs": "true"},
    "web": {"architecture": "node-api", "background_jobs": "false"},
    "jobs-gateway": {**HYBRID, "background_jobs": "true"},
    "web-gateway": {**HYBRID, "background_jobs": "false"},
}
# python_deps value (without -postgres) -> answers that produce it (python-api renders the service
# at services/api). The python_routes values are the same, plus the hybrid ML service's.
PYTHON_ROUTES: dict[str, dict[str, str]] = {
    "web": {"architecture": "python-api", "ml": "none", "background_jobs": "false"},
    "web-worker": {"architecture": "python-api", "ml": "none", "background_jobs": "true"},
    "model-worker": {"architecture": "python-api", "ml": "core", "background_jobs": "true"},
}
# The hybrid ML service: an internal API (no notes), whatever background_jobs says.
ML_SERVICE = "ml-service"


def with_database(routes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """node_deps / python_deps value -> answers: each route set without and with PostgreSQL."""
    result: dict[str, dict[str, str]] = {}
    for name, answers in routes.items():
        result[name] = {**answers, "database": "none"}
        result[f"{name}-postgres"] = {**answers, "database": "postgres"}
    return result


UV_VARIANTS = with_database(PYTHON_ROUTES)


def with_realtime(variants: dict[str, dict[str, str]], *has_jobs: str) -> dict[str, dict[str, str]]:
    """Each variant, plus a `-realtime` one where realtime changes the routes (jobs present: the
    variant's name contains one of `has_jobs`)."""
    result: dict[str, dict[str, str]] = {}
    for name, answers in variants.items():
        result[name] = {**answers, "realtime": "false"}
        if any(marker in name for marker in has_jobs):
            result[f"{name}-realtime"] = {**answers, "realtime": "true"}
    return result


# node_deps value -> answers. The WebSocket plugin and the Redis client ship in every Node
# variant (small libraries), so realtime adds no lockfile of its own.
NPM_VARIANTS = with_database(NODE_ROUTES)


def env() -> dict[str, str]:
    tools = tool_env()
    tools["PATH"] = f"{BIN}:{tools['PATH']}"
    return tools


def sh(command: list[str], cwd: Path) -> str:
    print(f"  $ {' '.join(command)}   (in {cwd.name})", flush=True)
    result = subprocess.run(
        command, cwd=cwd, env=env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


def render(destination: Path, answers: dict[str, str], name: str = PROBE_NAME) -> Path:
    command = [str(BIN / "copier"), "copy", "--quiet", "--defaults", "--overwrite"]
    command += ["--vcs-ref", "HEAD"]
    for key, value in {"project_name": name, **answers}.items():
        command += ["--data", f"{key}={value}"]
    sh([*command, str(ROOT), str(destination)], cwd=ROOT)
    return destination


def write(target: Path, text: str) -> None:
    """Write probe output as Jinja that renders each project's own names."""
    rest = text.replace(PYTHON_TITLE, "").replace(PYTHON_NAME, "")
    for marker in ("{{", "{%", "{#"):
        if marker in rest:
            sys.exit(
                f"{target.name} contains {marker!r}, which Jinja would read as template syntax."
            )
    text = text.replace(PROBE_DESCRIPTION, "{{ description }}").replace(
        PROBE_SLUG, "{{ project_slug }}"
    )
    print(f"  writing {target.relative_to(ROOT)}")
    target.write_text(text)


def ensure_placeholders() -> None:
    """A first run has nothing to include yet: render with empty files."""
    paths = {
        **{GENERATED / "npm" / f"{v}.package-lock.json": "{}\n" for v in NPM_VARIANTS},
        **{GENERATED / "uv" / f"{v}.uv.lock": "" for v in UV_VARIANTS},
        **{GENERATED / "openapi" / f"node-{v}.json": "{}\n" for v in node_openapi_variants()},
        **{GENERATED / "openapi" / f"python-{v}.json": "{}\n" for v in python_openapi_variants()},
        **{
            GENERATED / "openapi" / f"python-{v}.ts": "export type paths = {};\n"
            for v in ml_types()
        },
    }
    for path, text in paths.items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def with_auth(variants: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each variant with auth=none (its name as it was), and with auth=oidc (`-oidc`)."""
    result: dict[str, dict[str, str]] = {}
    for name, answers in variants.items():
        result[name] = {**answers, "auth": "none"}
        result[f"{name}-oidc"] = {**answers, "auth": "oidc"}
    return result


def node_openapi_variants() -> dict[str, dict[str, str]]:
    # The hybrid gateway has job routes (the ML service's jobs) even without a worker of its own.
    return with_auth(
        with_realtime(
            {name: {**answers, "database": "none"} for name, answers in NODE_ROUTES.items()},
            "jobs",
            "gateway",
        )
    )


def python_openapi_variants() -> dict[str, dict[str, str]]:
    routes = {**PYTHON_ROUTES, ML_SERVICE: HYBRID}
    return with_realtime(
        {name: {**answers, "database": "none"} for name, answers in routes.items()},
        "worker",
        ML_SERVICE,
    )


def ml_types() -> dict[str, dict[str, str]]:
    """The ML service's variants that hybrid renders, with the answers that render them."""
    return {
        ML_SERVICE: {**HYBRID, "realtime": "false"},
        f"{ML_SERVICE}-realtime": {**HYBRID, "realtime": "true"},
    }


# uv ###############################################################################################


def relock_uv(work: Path, upgrade: bool) -> None:
    for variant, answers in UV_VARIANTS.items():
        print(f"uv lock {variant}", flush=True)
        service = render(work / f"uv-{variant}", answers) / "services" / "api"
        (service / "uv.lock").unlink(missing_ok=True)
        previous = GENERATED / "uv" / f"{variant}.uv.lock"
        if previous.read_text() and not upgrade:
            # Start from the committed versions so that relocking only changes what has to change.
            text = previous.read_text().replace(PYTHON_NAME, f"{PROBE_SLUG}-api")
            (service / "uv.lock").write_text(text)
        sh([str(BIN / "uv"), "lock", *(["--upgrade"] if upgrade else [])], cwd=service)
        lock, count = re.subn(
            rf"\b{re.escape(PROBE_SLUG)}-(api|ml)\b", PYTHON_NAME, (service / "uv.lock").read_text()
        )
        if count == 0:
            sys.exit(f"{variant}: the probe's package name {PROBE_SLUG}-api is not in the lockfile")
        write(previous, lock)


def write_python_openapi(work: Path) -> None:
    for variant, answers in python_openapi_variants().items():
        print(f"uv openapi {variant} (and `uv sync --locked` on a fresh render)", flush=True)
        project = render(work / f"uv-openapi-{variant}", answers)
        service = project / "services" / ("ml" if variant.startswith(ML_SERVICE) else "api")
        sh([str(BIN / "uv"), "sync", "--locked"], cwd=service)
        document = sh([str(BIN / "uv"), "run", "--no-sync", "python", "-m", "app.openapi"], service)
        # The title carries the project name: put the template expression back.
        for title in (f"{PROBE_NAME} API", f"{PROBE_NAME} ML service"):
            document = document.replace(f'"title": "{title}"', f'"title": "{PYTHON_TITLE}"', 1)
        write(GENERATED / "openapi" / f"python-{variant}.json", document)


# npm ##############################################################################################


def relock_npm(work: Path, upgrade: bool) -> None:
    for variant, answers in NPM_VARIANTS.items():
        print(f"npm lock {variant}", flush=True)
        project = render(work / f"npm-{variant}", answers)
        lock = project / "package-lock.json"
        if upgrade or json.loads(lock.read_text() or "{}") == {}:
            lock.unlink()
        sh(["npm", "install", "--package-lock-only", "--ignore-scripts"], cwd=project)
        write(GENERATED / "npm" / f"{variant}.package-lock.json", lock.read_text())


def write_ml_types(work: Path) -> None:
    """hybrid: the gateway's TypeScript types of the ML service, from its committed OpenAPI."""
    for variant, answers in ml_types().items():
        print(f"npm ml types {variant}", flush=True)
        project = render(work / f"npm-types-{variant}", answers)
        sh(["npm", "ci"], cwd=project)
        sh(["npm", "run", "ml-types", "--workspace=tools/codegen"], cwd=project)
        types = (project / "packages/contracts/src/ml-openapi.generated.ts").read_text()
        write(GENERATED / "openapi" / f"python-{variant}.ts", types)


def write_node_openapi(work: Path) -> None:
    for variant, answers in node_openapi_variants().items():
        print(f"npm openapi {variant}", flush=True)
        project = render(work / f"npm-openapi-{variant}", answers)
        sh(["npm", "ci"], cwd=project)
        sh(["npm", "run", "openapi", "--workspace=services/api"], cwd=project)
        document = (project / "services/api/openapi.json").read_text()
        write(GENERATED / "openapi" / f"node-{variant}.json", document)


def verify(work: Path) -> None:
    for variant, answers in node_openapi_variants().items():
        print(f"verify {variant}", flush=True)
        project = render(work / f"verify-{variant}", answers, name="Verify Probe Co")
        sh(["npm", "ci"], cwd=project)
        sh(["npm", "run", "check"], cwd=project)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["npm", "uv"], help="run one tool's part only")
    parser.add_argument("--upgrade", action="store_true", help="re-resolve every dependency")
    parser.add_argument("--verify", action="store_true", help="npm ci + npm run check afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the rendered probes (printed)")
    args = parser.parse_args()

    ensure_placeholders()
    work = Path(tempfile.mkdtemp(prefix="relock-"))
    try:
        if args.only in (None, "uv"):
            relock_uv(work, args.upgrade)
            write_python_openapi(work)
        if args.only in (None, "npm"):
            relock_npm(work, args.upgrade)
            write_ml_types(work)
            write_node_openapi(work)
            if args.verify:
                verify(work)
    finally:
        if args.keep:
            print(f"probes kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("done: review `git diff generated/` and commit it with the template change")


if __name__ == "__main__":
    main()
