#!/usr/bin/env bash
# Fail, naming each line, while conflict markers that `copier update --conflict inline` leaves
# remain in tracked or new files. Run by CI's "Template" job and by the "Template update" workflow.
set -euo pipefail
if git grep --untracked -nE '^(<<<<<<<|>>>>>>>) '; then
  echo "::error::Resolve the conflict markers above (left by copier update) before merging."
  exit 1
fi
