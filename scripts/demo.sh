#!/usr/bin/env bash
# A first look at baseledger: builds and installs the extension, then walks
# an agent's budget through credit, reserve, settle, replay and expiry on a
# throwaway cluster (scripts/demo.sql). Usage: bash scripts/demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."

# Pin the server version: /usr/bin/pg_config follows the newest server-dev.
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

bash scripts/install-deps.sh
make -j2
"${sudo[@]}" make install
bash scripts/with-cluster.sh psql -X -v ON_ERROR_STOP=1 -f scripts/demo.sql
