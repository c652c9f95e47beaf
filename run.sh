#!/usr/bin/env bash
# Sets everything up and runs the hotline with embedded defaults: a local Redis under var/,
# SQLite in var/hotline.db, a local Asterisk 22 on 127.0.0.1:5060, the FastAGI server on
# 127.0.0.1:4573 and the HTTP API on :8080. Ctrl-C stops it (and the Asterisk).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
scripts/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH"
mkdir -p var/redis

REDIS_PORT="${HOTLINE_REDIS_PORT:-6379}"
export HOTLINE_REDIS_URL="${HOTLINE_REDIS_URL:-redis://127.0.0.1:${REDIS_PORT}/0}"
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  echo "run: starting redis-server on 127.0.0.1:$REDIS_PORT (data in var/redis)"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$ROOT/var/redis" \
    --appendonly yes --daemonize yes --pidfile "$ROOT/var/redis.pid" --logfile "$ROOT/var/redis.log"
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

hotline check-config
hotline prompts build
hotline db upgrade

# A local Asterisk 22 (Debian sid, in a chroot under .cache/): needs root for the chroot.
if [ "$(id -u)" -eq 0 ] && [ -z "${HOTLINE_NO_ASTERISK:-}" ]; then
  hotline asterisk up --sip-port "${HOTLINE_SIP_PORT:-5060}"   # prints accounts and numbers
  trap 'hotline asterisk down' EXIT
else
  echo "run: no local Asterisk (it needs root for its chroot); the simulator still works"
fi
cat <<MSG

The hotline is starting. In another terminal, log in operator 1001 and call:
  curl -X POST localhost:8080/agents/1001/login -H 'content-type: application/json' -d '{"ready": true}'
  .venv/bin/hotline call --to 12345 --from 13800138000 --digits "0" --dial-status ANSWER
  .venv/bin/hotline call --to 4960000 --from 13900139000 --digits "0" (a merged legacy line)
Queue figures: curl localhost:8080/queue/metrics    Prometheus: localhost:8080/metrics
Edit config/*.yaml, then: .venv/bin/hotline reload

MSG
hotline serve --queue-wait --http-port "${HOTLINE_HTTP_PORT:-8080}"
