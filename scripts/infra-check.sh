#!/usr/bin/env bash
# The offline infrastructure checks: checkov (Bicep, Kubernetes, Dockerfile, with our policies in
# infra/checks), kubernetes-validate --strict on the rendered Kubernetes overlays, hadolint on the
# Dockerfile and check-jsonschema on azure.yaml. No Bicep compiler, no registry, no cluster: what
# these cannot see is listed in docs/containers.md. Called by scripts/test.sh; runs on its own too.
# The tools live in .tools/infra-venv (requirements-infra.txt explains why not in .venv) and are
# reinstalled when their pins change.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="$root/.tools/infra-venv"
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum requirements-infra.txt | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    python=$(scripts/find-python.sh)
    echo "installing the infrastructure check tools into $venv (requirements-infra.txt)" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
    echo "$wanted" > "$stamp"
fi
# The driver runs the tools from the same venv.
exec "$venv/bin/python" scripts/infra_check.py "$@"
