#!/usr/bin/env bash
# Installs everything the tests need (Python 3.13 venv, the npm Cosmos-compatible server) and runs
# the whole test suite, end-to-end tests included. Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/bootstrap-env.sh
if [[ -f tools/cosmosdb-server/package-lock.json ]]; then
    lock_hash=$(sha256sum tools/cosmosdb-server/package-lock.json | cut -d' ' -f1)
    if [[ "$(cat tools/cosmosdb-server/node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]]; then
        echo "installing the Cosmos-compatible test server (npm ci)" >&2
        npm ci --prefix tools/cosmosdb-server --no-audit --no-fund --loglevel=error
        echo "$lock_hash" > tools/cosmosdb-server/node_modules/.lock-hash
    fi
fi
.venv/bin/ruff check .
export AGENTOPS_REQUIRE_COSMOS=1
.venv/bin/python -m pytest "$@"
if [[ $# -eq 0 ]]; then
    # The app again end to end with activities in two worker processes, as Azure runs Python.
    E2E_WORKER_PROCESSES=2 .venv/bin/python -m pytest -q tests/e2e
fi
