#!/usr/bin/env bash
# Sets everything up and runs every test: lint, types, and the pytest suite (which starts its
# own redis-server, PostgreSQL, Asterisk, Kamailio and Chromium).
#
# With no arguments the suite runs as two pytest processes at once: the end-to-end tests
# (tests/e2e: real Asterisk, SIPp, Kamailio; mostly waiting on calls in progress) and all the
# rest; each half's output is prefixed ([e2e] / [rest]) and the run fails if either does.
# With arguments, one pytest gets them: ./test.sh tests/web -k wallboard
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
scripts/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH"
echo "== ruff";  ruff check . && ruff format --check .
echo "== mypy";  mypy
if [ $# -gt 0 ]; then
  echo "== pytest"; exec pytest -q -p no:cacheprovider "$@"
fi
echo "== pytest: tests/e2e and the rest, in parallel"
export PYTHONUNBUFFERED=1  # each half's progress as it happens, through its prefix
started=$SECONDS
( pytest -q -p no:cacheprovider tests/e2e 2>&1 | sed -u 's/^/[e2e] /'; exit "${PIPESTATUS[0]}" ) &
e2e=$!
( pytest -q -p no:cacheprovider --ignore=tests/e2e 2>&1 | sed -u 's/^/[rest] /'; exit "${PIPESTATUS[0]}" ) &
rest=$!
status=0
wait "$rest" || status=$?
echo "== the rest: exit ${status} after $((SECONDS - started)) s"
e2e_status=0
wait "$e2e" || e2e_status=$?
echo "== tests/e2e: exit ${e2e_status} after $((SECONDS - started)) s"
[ "$status" -eq 0 ] && [ "$e2e_status" -eq 0 ]
