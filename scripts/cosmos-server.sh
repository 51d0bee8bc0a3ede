#!/usr/bin/env bash
# Install (if needed) and start the local Cosmos DB-compatible server used by the store tests.
#   scripts/cosmos-server.sh [PORT]     default 8081; Ctrl-C stops it. Loopback, plain HTTP.
# Point a CosmosStore at http://127.0.0.1:PORT/ with the emulator key and
# enable_endpoint_discovery=False; create the database and CONTAINERS first (as the tests do).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
server="$here/tools/cosmosdb-server"
if [[ ! -d "$server/node_modules/@vercel/cosmosdb-server" ]]; then
  npm ci --prefix "$server"
fi
exec node "$server/serve.js" --port "${1:-8081}"
