"""Regenerate the committed uv lockfiles under locks/uv/, one per Python dependency set.

The Python service's pyproject.toml differs between projects only by its dependency set
(`python_deps` in copier.yml: web, web-worker, model-worker). For each set this script renders a
probe project with the copier CLI of this repo's virtualenv, runs `uv lock` in its Python service,
turns the probe's own package name back into the Jinja expression the template renders, and writes
the result to locks/uv/<python_deps>.uv.lock. It then checks that `uv sync --locked` accepts the
lockfile in a fresh render.

While it has each variant installed it also refreshes the service's committed OpenAPI documents
(contracts/openapi.json, one conditionally named file per variant), which differ by the same variants plus `realtime`.

Usage (from anywhere; stdlib only):  .venv/bin/python scripts/relock_uv.py [--upgrade] [VARIANT...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK_DIR = ROOT / "locks" / "uv"
SERVICE_TEMPLATE = ROOT / "template" / "services" / "{{ python_service_dir }}"
BIN = Path(sys.executable).parent  # the repo venv: copier and uv live beside this interpreter
PROBE_NAME = "Lockfile Probe"
PROBE_SLUG = "lockfile-probe"
# The package name as the template spells it, so the included lockfile renders the project's name.
NAME_EXPRESSION = "{{ project_slug }}-{{ python_service_dir }}"
TITLE = "{{ project_name }} {{ 'ML service' if python_service_dir == 'ml' else 'API' }}"

# python_deps value -> answers that produce it (python-api renders the service at services/api).
VARIANTS: dict[str, dict[str, str]] = {
    "web": {"architecture": "python-api", "ml": "none", "background_jobs": "false"},
    "web-worker": {"architecture": "python-api", "ml": "none", "background_jobs": "true"},
    "model-worker": {"architecture": "python-api", "ml": "core", "background_jobs": "true"},
}


def tool_env() -> dict[str, str]:
    """uv must use the machine's Python (never download one) and not our own virtualenv."""
    env = dict(os.environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return env


def sh(command: list[str], cwd: Path) -> str:
    print(f"  $ {' '.join(command)}   (in {cwd})", flush=True)
    result = subprocess.run(
        command, cwd=cwd, env=tool_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def render(destination: Path, answers: dict[str, str]) -> Path:
    data = {"project_name": PROBE_NAME, **answers}
    command = [str(BIN / "copier"), "copy", "--defaults", "--vcs-ref", "HEAD", "--quiet"]
    for key, value in data.items():
        command += ["--data", f"{key}={value}"]
    sh([*command, str(ROOT), str(destination)], cwd=ROOT)
    return destination / "services" / "api"


def ensure_placeholders() -> None:
    """The template includes locks/uv/<variant>.uv.lock, so a missing one must exist to render."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for variant in VARIANTS:
        path = LOCK_DIR / f"{variant}.uv.lock"
        if not path.exists():
            path.write_text("")


def relock(variant: str, work: Path, upgrade: bool) -> None:
    print(f"{variant}: locking", flush=True)
    service = render(work / f"lock-{variant}", VARIANTS[variant])
    (service / "uv.lock").unlink(missing_ok=True)
    previous = LOCK_DIR / f"{variant}.uv.lock"
    if previous.read_text() and not upgrade:
        # Start from the committed versions so that relocking only changes what has to change.
        text = previous.read_text().replace(NAME_EXPRESSION, f"{PROBE_SLUG}-api")
        (service / "uv.lock").write_text(text)
    sh([str(BIN / "uv"), "lock", *(["--upgrade"] if upgrade else [])], cwd=service)
    lock = (service / "uv.lock").read_text()
    pattern = re.compile(rf"\b{re.escape(PROBE_SLUG)}-(api|ml)\b")
    if "{{" in lock or "{%" in lock:
        sys.exit(f"{variant}: the lockfile contains Jinja delimiters; it cannot be included as is")
    lock, count = pattern.subn(NAME_EXPRESSION, lock)
    if count == 0:
        sys.exit(f"{variant}: the probe's package name {PROBE_SLUG}-api is not in the lockfile")
    previous.write_text(lock)


def verify_and_refresh_openapi(variant: str, work: Path) -> None:
    print(f"{variant}: checking `uv sync --locked` on a fresh render", flush=True)
    for realtime in ("false", "true") if "worker" in variant else ("false",):
        answers = {**VARIANTS[variant], "realtime": realtime}
        service = render(work / f"check-{variant}-{realtime}", answers)
        sh([str(BIN / "uv"), "sync", "--locked"], cwd=service)
        document = sh([str(BIN / "uv"), "run", "--no-sync", "python", "-m", "app.openapi"], service)
        # One committed document per variant, under a file name only that variant renders.
        condition = f"python_deps == '{variant}'"
        if "worker" in variant:
            condition += " and realtime" if realtime == "true" else " and not realtime"
        name = f"{{% if {condition} %}}openapi.json{{% endif %}}.jinja"
        # The title carries the project name: put the template expression back.
        document = document.replace(f'"title": "{PROBE_NAME} API"', f'"title": "{TITLE}"', 1)
        if "{{" in document.replace(TITLE, ""):
            sys.exit(f"{variant}: the OpenAPI document contains Jinja delimiters")
        target = SERVICE_TEMPLATE / "contracts" / name
        print(f"  writing {target.relative_to(ROOT)}")
        target.write_text(document)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", metavar="VARIANT", help=", ".join(VARIANTS))
    parser.add_argument("--upgrade", action="store_true", help="move every package to its latest")
    args = parser.parse_args()
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(
            f"unknown variant(s) {', '.join(sorted(unknown))}; choose from {', '.join(VARIANTS)}"
        )
    ensure_placeholders()
    with tempfile.TemporaryDirectory(prefix="relock-uv-") as tmp:
        for variant in args.variants or list(VARIANTS):
            relock(variant, Path(tmp), args.upgrade)
            verify_and_refresh_openapi(variant, Path(tmp))
            shutil.rmtree(Path(tmp), ignore_errors=True)
            Path(tmp).mkdir()
    print("done: review `git diff locks/uv template/services` and commit")


if __name__ == "__main__":
    main()
