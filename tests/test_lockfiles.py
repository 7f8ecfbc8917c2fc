"""Rendered lockfiles are what the tools write: a team's first `npm install` or `uv lock` changes
nothing (no diff on the first day).

Every lockfile variant under generated/ is rendered once, for a project whose name sorts
differently from the probe scripts/relock.py generates them with, and the tool runs in it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run

from harness.repo import TEMPLATE_ROOT

sys.path.insert(0, str(TEMPLATE_ROOT / "scripts"))
from relock import NPM_VARIANTS, UV_VARIANTS  # the answers that render each committed lockfile

pytestmark = pytest.mark.generated

# Project names whose slugs sort before, among and after the scoped packages in package-lock.json
# (the workspaces are @<slug>/api, @<slug>/contracts...), and before and after the dependencies in
# uv.lock; each variant takes one in turn.
NAMES = ["Demo Shop", "Aardvark", "Fastify Tools", "Zeta", "Types"]


@pytest.mark.parametrize("variant", sorted(NPM_VARIANTS))
def test_package_lock_is_what_npm_install_writes(
    rendered_project: Callable[..., Path], variant: str
) -> None:
    """`npm install --package-lock-only` in the rendered project leaves package-lock.json as is."""
    name = NAMES[sorted(NPM_VARIANTS).index(variant) % len(NAMES)]
    project = rendered_project(project_name=name, **NPM_VARIANTS[variant])
    lockfile = project / "package-lock.json"
    rendered = lockfile.read_bytes()
    try:
        run(["npm", "install", "--package-lock-only", "--ignore-scripts"], cwd=project)
        assert rendered.decode() == lockfile.read_text()
    finally:
        lockfile.write_bytes(rendered)  # the render is shared: leave it as rendered


# A [[package]] table's name in uv.lock.
PACKAGE_NAME = re.compile(r'^\[\[package\]\]\nname = "([^"]+)"', re.MULTILINE)


@pytest.mark.parametrize("variant", sorted(UV_VARIANTS))
def test_uv_lock_is_what_uv_lock_writes(
    rendered_project: Callable[..., Path], variant: str
) -> None:
    """`uv lock` in the rendered service leaves uv.lock as is, and its packages are in uv's order.

    uv rewrites a lockfile only when its content changes, so the order (which a later `uv add`
    would restore) is checked as well: by name, as uv writes it.
    """
    name = NAMES[sorted(UV_VARIANTS).index(variant) % len(NAMES)]
    service = rendered_project(project_name=name, **UV_VARIANTS[variant]) / "services/api"
    lockfile = service / "uv.lock"
    rendered = lockfile.read_text()
    try:
        run(["uv", "lock"], cwd=service)
        assert rendered == lockfile.read_text()
    finally:
        lockfile.write_text(rendered)
    names = PACKAGE_NAME.findall(rendered)
    assert sorted(names) == names
    assert f"{project_slug(name)}-api" in names


def project_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
