#!/usr/bin/env bash
# Runs devhost's test of Agent Framework's own Functions hosting (AgentFunctionApp) in a venv
# layered over .venv (.tools/af-hosting-venv): requirements-af-hosting.txt says why it cannot be
# installed into .venv. Reinstalled when its pins change. Called by scripts/test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="$root/.tools/af-hosting-venv"
stamp="$venv/.requirements.sha256"
wanted=$( (cat requirements-af-hosting.txt; readlink -f .venv) | sha256sum | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    python=$(scripts/find-python.sh)
    echo "installing Agent Framework's Functions hosting into $venv (requirements-af-hosting.txt)" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # The project's packages through a .pth; what the overlay installs comes first on sys.path.
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    .venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))' > "$site/project-venv.pth"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-af-hosting.txt
    echo "$wanted" > "$stamp"
fi
AGENTOPS_REQUIRE_AF_HOSTING=1 exec "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/devhost/durable/test_agent_function_app.py "$@"
