#!/usr/bin/env bash
# Creates .venv with Python 3.13 and installs requirements-dev.txt (idempotent: reinstalls only
# when the requirements change). Sourced by run-local.sh and test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=$("$root/scripts/find-python.sh")
venv="$root/.venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))'; then
    echo "creating $venv with $python" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
wanted=$(cat "$root/requirements.txt" "$root/requirements-dev.txt" | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    echo "installing Python packages (requirements-dev.txt)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt"
    echo "$wanted" > "$stamp"
fi
