# Sourced by scripts/demo and scripts/test: create or refresh .venv from requirements-dev.txt.
# Re-installs only when requirements-dev.txt changed since the last install.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$repo/.venv"
stamp="$venv/.requirements-dev.sha256"
wanted=$(sha256sum "$repo/requirements-dev.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "error: Python 3.11 or newer is needed as python3" >&2; exit 1; }
  echo "Setting up $venv (pinned tools from requirements-dev.txt)..." >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$repo/requirements-dev.txt"
  echo "$wanted" > "$stamp"
fi
