#!/usr/bin/env bash
# Sets everything up and runs every test: lint, types, and the pytest suite (which starts its
# own redis-server).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
scripts/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH"
echo "== ruff";  ruff check . && ruff format --check .
echo "== mypy";  mypy
echo "== pytest"; pytest -q -p no:cacheprovider "$@"
