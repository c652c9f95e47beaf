#!/usr/bin/env bash
# Sets everything up and runs the hotline with embedded defaults: a local Redis under var/ on
# 127.0.0.1:6379 (HOTLINE_REDIS_PORT), SQLite in var/hotline.db, a local Asterisk 22 with SIP on
# 127.0.0.1:5060 (HOTLINE_SIP_PORT; as root only), the FastAGI server on 127.0.0.1:4573
# (HOTLINE_AGI_PORT), the HTTP API on 127.0.0.1:8080 (HOTLINE_HTTP_PORT) and the citizens'
# pages (网上诉求) on 127.0.0.1:8081 (HOTLINE_CITIZEN_PORT).
#
# It supervises the hotline server: a server that crashes is started again within a second,
# while Asterisk and Redis keep running (the dialplan holds queued callers on music and tries
# the server again meanwhile). Ctrl-C (or SIGTERM) stops the server gracefully, then stops
# only what this script started: a Redis or an Asterisk that was already running stays.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
scripts/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH"
VAR="${HOTLINE_VAR_DIR:-$ROOT/var}"
mkdir -p "$VAR/redis"

started_redis=""
started_asterisk=""
server_pid=""
stopping=""

cleanup() {
  if [ -n "$started_asterisk" ]; then
    hotline asterisk down || true
  fi
  if [ -n "$started_redis" ]; then
    echo "run: stopping the redis-server it started"
    redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

stop() {
  stopping=1
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; fi
}
trap stop INT TERM

REDIS_PORT="${HOTLINE_REDIS_PORT:-6379}"
export HOTLINE_REDIS_URL="${HOTLINE_REDIS_URL:-redis://127.0.0.1:${REDIS_PORT}/0}"
if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  echo "run: using the Redis already running on 127.0.0.1:$REDIS_PORT (left running at the end)"
else
  echo "run: starting redis-server on 127.0.0.1:$REDIS_PORT (data in $VAR/redis)"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$VAR/redis" \
    --appendonly yes --daemonize yes --pidfile "$VAR/redis.pid" --logfile "$VAR/redis.log"
  started_redis=1
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

hotline check-config
hotline prompts build
hotline db upgrade

# The staff's accounts (docs/accounts.md), made on the first run: an admin and operator 1001's
# desk account, their passwords in var/<name>-password; an API token of the admin for the
# curl examples below (and scripts) in var/api-token. Only their owner may read them.
account() {  # name, then the options of `hotline user add`
  local name="$1"; shift
  if ! hotline user list 2>/dev/null | awk 'NR > 1 {print $1}' | grep -qx "$name"; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(12))' > "$VAR/$name-password")
    hotline user add "$name" "$@" --password-stdin < "$VAR/$name-password"
  fi
}
account admin --role admin --name 管理员
account op1001 --role operator --agent 1001 --name 王丽
if [ ! -s "$VAR/api-token" ]; then
  (umask 077; hotline user token admin --label run.sh > "$VAR/api-token")
fi

# A local Asterisk 22 (Debian sid, in a chroot under .cache/): needs root for the chroot.
if [ "$(id -u)" -eq 0 ] && [ -z "${HOTLINE_NO_ASTERISK:-}" ]; then
  if ! hotline asterisk status >/dev/null 2>&1; then started_asterisk=1; fi
  hotline asterisk up --sip-port "${HOTLINE_SIP_PORT:-5060}"   # prints accounts and numbers
else
  echo "run: no local Asterisk (it needs root for its chroot); the simulator still works"
fi
HTTP_PORT="${HOTLINE_HTTP_PORT:-8080}"
CITIZEN_PORT="${HOTLINE_CITIZEN_PORT:-8081}"
AGI_PORT="${HOTLINE_AGI_PORT:-4573}"
# the operator heartbeat timeout of config/queue.yaml (settings.heartbeat_seconds, default 60)
HEARTBEAT="$(awk '/^ *heartbeat_seconds:/ {print $2; exit}' "${HOTLINE_CONFIG_DIR:-$ROOT/config}/queue.yaml" 2>/dev/null || true)"
HEARTBEAT="${HEARTBEAT:-60}"
API="http://127.0.0.1:$HTTP_PORT"
cat <<MSG

The hotline is starting: FastAGI on 127.0.0.1:$AGI_PORT, HTTP API on $API, Redis on
127.0.0.1:$REDIS_PORT. The operator desk: $API/desk (user op1001, password in
$VAR/op1001-password; admin: $VAR/admin-password). Citizens submit and look up requests at
http://127.0.0.1:$CITIZEN_PORT/ (no account; a listener of its own). In another terminal, log in operator 1001
(王丽: 12345 and every merged line) with the API token and call 12345:
  AUTH="Authorization: Bearer \$(cat $VAR/api-token)"
  curl -X POST $API/api/agents/1001/login -H "\$AUTH" -H 'content-type: application/json' -d '{"ready": true}'
  .venv/bin/hotline call --to 12345 --from 13800138000 --digits "0" --dial-status ANSWER
An operator logged in with curl is logged out after ${HEARTBEAT} s without a heartbeat; keep it in:
  while curl -fsS -X POST -H "\$AUTH" $API/api/agents/1001/heartbeat >/dev/null; do sleep 20; done &
A merged legacy line (4960000 热力公司, skill heating: operators 1004 and 1005; the general
operators take its callers when nobody of heating is ready):
  curl -X POST $API/api/agents/1004/login -H "\$AUTH" -H 'content-type: application/json' -d '{"ready": true}'
  .venv/bin/hotline call --to 4960000 --from 13900139000 --dial-status ANSWER
Queue figures: curl -H "\$AUTH" $API/api/queue/metrics    Prometheus: $API/metrics
Operators: curl -H "\$AUTH" $API/api/agents    Health: $API/healthz
Edit config/*.yaml, then: .venv/bin/hotline reload (it also rebuilds the prompts whose text changed)

MSG
while [ -z "$stopping" ]; do
  hotline serve --queue-wait --http-port "$HTTP_PORT" --citizen-port "$CITIZEN_PORT" &
  server_pid=$!
  status=0
  wait "$server_pid" || status=$?
  # a signal interrupts wait while the server still runs: wait for it to finish stopping
  while kill -0 "$server_pid" 2>/dev/null; do wait "$server_pid" || status=$?; done
  server_pid=""
  [ -n "$stopping" ] && break
  echo "run: the hotline server ended (exit $status); starting it again in 1 s" >&2
  sleep 1
done
