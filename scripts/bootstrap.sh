#!/usr/bin/env bash
# Installs what the hotline needs on a fresh Debian machine, once: system packages and the
# project's virtualenv (.venv). Safe to run again: it only does what is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# command -> Debian package
declare -A NEED=(
  [redis-server]=redis-server
  [espeak-ng]=espeak-ng
  [sox]=sox
  [sipp]=sip-tester
  [debootstrap]=debootstrap
  [chromium]=chromium
  [kamailio]=kamailio   # the SIP front door (docs/scale-out-sip.md)
  [turnserver]=coturn   # the browser phone's TURN test (a relay for seats behind NAT)
)
missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${NEED[$cmd]}")
done
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# Kamailio's WebSocket and TLS modules: browser phones through the front door (scale-out-sip.md).
compgen -G "/usr/lib/*/kamailio/modules/websocket.so" >/dev/null || missing+=(kamailio-websocket-modules)
compgen -G "/usr/lib/*/kamailio/modules/tls.so" >/dev/null || missing+=(kamailio-tls-modules)
# A Chinese font for the report charts.
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The packages may start system instances; the hotline and the tests run their own.

PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "bootstrap: Python >= 3.11 is required (found $("$PY" --version))" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing the project into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
