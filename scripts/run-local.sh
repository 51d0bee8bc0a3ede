#!/usr/bin/env bash
# Installs what is needed and runs the main job locally: devhost serves function_app.py (HTTP API,
# durable engine, model simulator) on 127.0.0.1:7071, then a batch of sample queries is submitted
# through the command-line client and its results are shown. devhost keeps serving afterwards
# (Ctrl-C stops it); pass --demo to stop once the sample batch is done.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/bootstrap-env.sh
python=.venv/bin/python

port=${DEVHOST_PORT:-7071}
export TASKHUB_NAME=${TASKHUB_NAME:-agentopslocal}
# Timer schedules are app settings, as in Azure (local.settings.json may set them instead).
# The HTTP routes take the HTTP streams extension's types, which the worker serves only with this.
export PYTHON_ENABLE_INIT_INDEXING=${PYTHON_ENABLE_INIT_INDEXING:-1}
export BACKUP_SCHEDULE=${BACKUP_SCHEDULE:-"0 5 * * * *"}
export COST_REPORT_SCHEDULE=${COST_REPORT_SCHEDULE:-"0 15 0 * * *"}
export COMPLIANCE_REPORT_SCHEDULE=${COMPLIANCE_REPORT_SCHEDULE:-"0 30 0 * * *"}
# Activities in two worker processes, as Azure runs Python apps (one GIL per process).
export FUNCTIONS_WORKER_PROCESS_COUNT=${FUNCTIONS_WORKER_PROCESS_COUNT:-2}
export AGENTOPS_URL="http://127.0.0.1:$port"
mkdir -p .data
# Sensitive agents store only encrypted text: make a local data key ring once, owner-only, unless
# one is given (in Azure it comes from Key Vault).
if [[ -z "${DATA_ENCRYPTION_KEYS:-}" ]]; then
    if [[ ! -s .data/data-keys.json ]]; then
        (umask 077 && "$python" -c 'import base64, json, os; print(json.dumps({"active": "local1", "keys": {"local1": base64.b64encode(os.urandom(32)).decode()}}))' > .data/data-keys.json)
    fi
    DATA_ENCRYPTION_KEYS=$(cat .data/data-keys.json)
    export DATA_ENCRYPTION_KEYS
fi

"$python" -m devhost --script-root . --port "$port" &
devhost=$!
trap 'kill "$devhost" 2>/dev/null || true; wait "$devhost" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 150); do
    if ! kill -0 "$devhost" 2>/dev/null; then
        echo "error: devhost exited during start-up (see its messages above)" >&2
        exit 1
    fi
    if "$python" -c "import httpx,sys; httpx.get('$AGENTOPS_URL/', timeout=1).raise_for_status()" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
# devhost keeps the keys it made (in .devhost/keys.json) across restarts, as Azure does.
AGENTOPS_KEY=${DEVHOST_FUNCTION_KEY:-$("$python" -c 'import json; print(json.load(open(".devhost/keys.json"))["function"])')}
export AGENTOPS_KEY

echo
echo "== A batch of sample queries through the calculator agent =="
"$python" -m agentops run calculator --file samples/calculator.jsonl --output .data/results.jsonl
echo
echo "== Results (.data/results.jsonl) =="
"$python" - <<'PY'
import json
for line in open(".data/results.jsonl", encoding="utf-8"):
    item = json.loads(line)
    print(f"{item['index']:>3}  {item['status']:<9}  {item['answer'] or item['error']['message']}")
PY

cat <<MSG

devhost is serving on $AGENTOPS_URL (its keys are in the banner above and in .devhost/keys.json).
Submit work with the command-line client:
    AGENTOPS_URL=$AGENTOPS_URL AGENTOPS_KEY=$AGENTOPS_KEY \\
        .venv/bin/python -m agentops run summarizer --file my-queries.jsonl --output results.jsonl
or over HTTP:
    curl -H "x-functions-key: $AGENTOPS_KEY" -H 'content-type: application/json' \\
        -d '{"queries": ["add 2 and 3"]}' $AGENTOPS_URL/api/agents/calculator/runs
API description: $AGENTOPS_URL/api/openapi.json
MSG

if [[ "${1:-}" == "--demo" ]]; then
    exit 0
fi
echo "Press Ctrl-C to stop."
wait "$devhost"
