#!/usr/bin/env bash
# Sets everything up and runs every test: lint, types, and the pytest suite (which starts its
# own redis-server, PostgreSQL, Asterisk, Kamailio and Chromium).
#
# With no arguments the suite runs as three pytest processes at once: the end-to-end tests
# (tests/e2e: real Asterisk, SIPp, Kamailio; mostly waiting on calls in progress) in two
# halves, and all the rest; each part's output is prefixed ([e2e-a] / [e2e-b] / [rest]) and
# the run fails if any part does.
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
echo "== pytest: the end-to-end tests in two halves and the rest, in parallel"
export PYTHONUNBUFFERED=1  # each part's progress as it happens, through its prefix
# The watch over each part (tests/watchdog.py): a test running 120 s past its timeout (a
# teardown hung after a failure, which pytest-timeout no longer stops), or a part past 40
# minutes (a whole part takes about 20 here), writes every thread's and task's stack and ends.
export HOTLINE_TEST_STALL="${HOTLINE_TEST_STALL:-120}"
export HOTLINE_TEST_BUDGET="${HOTLINE_TEST_BUDGET:-2400}"
# The second half of tests/e2e: the front door, the whole set and the browser phones (each
# half starts its own stack on an Asterisk root of its own); the first half is all the others.
E2E_B=(tests/e2e/test_kamailio_e2e.py tests/e2e/test_kamailio_webrtc.py
       tests/e2e/test_pbx_lost.py tests/e2e/test_process_layer.py tests/e2e/test_run_sh_asterisk.py
       tests/e2e/test_scale_bench.py tests/e2e/test_scale_out.py tests/e2e/test_spy.py
       tests/e2e/test_transfer.py tests/e2e/test_webrtc_e2e.py)
ignore_b=()
for m in "${E2E_B[@]}"; do ignore_b+=(--ignore "$m"); done
started=$SECONDS
part() {  # part NAME PYTEST-ARGS...: runs pytest, its lines prefixed with [NAME]
  local name=$1; shift
  ( pytest -q -p no:cacheprovider "$@" 2>&1 | sed -u "s/^/[$name] /"; exit "${PIPESTATUS[0]}" )
}
part e2e-a tests/e2e "${ignore_b[@]}" & a=$!
part e2e-b "${E2E_B[@]}" & b=$!
part rest --ignore=tests/e2e & r=$!
status=0
for job in "rest:$r" "e2e-a:$a" "e2e-b:$b"; do
  code=0
  wait "${job#*:}" || code=$?
  echo "== ${job%%:*}: exit ${code} after $((SECONDS - started)) s"
  [ "$code" -eq 0 ] || status=1
done
exit "$status"
