#!/usr/bin/env bash
# Installs everything the tests need (Python 3.13 venv, the npm Cosmos-compatible server and
# Azurite, headless Chromium, the infrastructure check tools), runs the offline infrastructure checks and then the
# whole test suite, end-to-end tests included. Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/bootstrap-env.sh
# The npm test servers (Cosmos-compatible server, Azurite), reinstalled when their lockfile changes.
for tool in cosmosdb-server azurite; do
    dir=tools/$tool
    [[ -f $dir/package-lock.json ]] || continue
    lock_hash=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [[ "$(cat "$dir/node_modules/.lock-hash" 2>/dev/null)" != "$lock_hash" ]]; then
        echo "installing the $tool test server (npm ci)" >&2
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
        echo "$lock_hash" > "$dir/node_modules/.lock-hash"
    fi
done
.venv/bin/ruff check .
# Headless Chromium and its WebDriver for the monitor page's browser tests (tests/browser), from
# the Debian packages. Without apt-get (or root), install `chromium` and `chromium-driver` with
# the system's package manager so that /usr/bin/chromium and chromedriver exist, then rerun.
if [[ ! -x /usr/bin/chromium ]] || ! command -v chromedriver > /dev/null; then
    if command -v apt-get > /dev/null && [[ $(id -u) -eq 0 ]]; then
        echo "installing chromium and chromium-driver (apt-get)" >&2
        apt-get install -y -q --no-install-recommends chromium chromium-driver > /dev/null \
            || { apt-get update -q > /dev/null \
                && apt-get install -y -q --no-install-recommends chromium chromium-driver > /dev/null; }
    else
        echo "the browser tests need the Debian packages chromium and chromium-driver:" \
            "apt-get install chromium chromium-driver (as root)" >&2
        exit 1
    fi
fi
# Bicep, Kubernetes, Dockerfile and azure.yaml, offline (installs its own tools under .tools/).
scripts/infra-check.sh
export AGENTOPS_REQUIRE_COSMOS=1 AGENTOPS_REQUIRE_AZURITE=1 AGENTOPS_REQUIRE_INFRA_TOOLS=1
export AGENTOPS_REQUIRE_BROWSER=1
.venv/bin/python -m pytest "$@"
if [[ $# -eq 0 ]]; then
    # Agent Framework's own Functions hosting on devhost, in a venv of its own (see the script).
    scripts/af-hosting-check.sh
    # The app again end to end with activities in two worker processes, as Azure runs Python.
    E2E_WORKER_PROCESSES=2 .venv/bin/python -m pytest -q tests/e2e
fi
