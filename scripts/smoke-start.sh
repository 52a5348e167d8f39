#!/usr/bin/env bash
# Starts the built server the way `npm start` does, on the embedded PostgreSQL default, twice:
# a cold start (initdb) and a warm start. Checks /healthz, /readyz, the printed bootstrap token
# and a clean SIGTERM exit, and prints the measured start-up times.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${SMOKE_PORT:-3000}"
data_dir="$(mktemp -d -t agenthub-smoke-XXXXXX)"
chmod 711 "$data_dir"
log="$data_dir/server.log"
trap 'rm -rf "$data_dir"' EXIT

now_ms() { date +%s%3N; }
# What `npm start` runs: the V8 flags of package.json's config.nodeFlags.
node_flags=$(node -p "require('./package.json').config.nodeFlags")

start_and_wait() {
  local label=$1 started pid
  started=$(now_ms)
  env -u DATABASE_URL -u REDIS_URL AGENTHUB_DATA_DIR="$data_dir/data" PORT="$port" NODE_ENV=development \
    node $node_flags dist/src/main.js >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      echo "smoke: $label start ready in $(( $(now_ms) - started )) ms"
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "smoke: server exited during $label start"; cat "$log"; exit 1; fi
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "smoke: /readyz not ready"; cat "$log"; exit 1; }
  SERVER_PID=$pid
}

stop_server() {
  local stopped
  stopped=$(now_ms)
  kill -TERM "$SERVER_PID"
  if ! wait "$SERVER_PID"; then echo "smoke: non-zero exit after SIGTERM"; cat "$log"; exit 1; fi
  echo "smoke: SIGTERM to exit in $(( $(now_ms) - stopped )) ms"
}

start_and_wait cold
grep -Eq 'ahp_[0-9A-Za-z]{43}' "$log" || { echo "smoke: bootstrap token was not printed"; cat "$log"; exit 1; }
token=$(grep -Eo 'ahp_[0-9A-Za-z]{43}' "$log" | head -1)
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/auth/token" \
  -H 'content-type: application/json' -d "{\"apiToken\":\"$token\"}")
[ "$status" = 200 ] || { echo "smoke: token exchange answered $status"; exit 1; }
stop_server

start_and_wait warm
if grep -Eq 'ahp_[0-9A-Za-z]{43}' "$log"; then echo "smoke: bootstrap token printed again on a warm start"; exit 1; fi
stop_server
if pgrep -f "$data_dir/data/pg" >/dev/null; then echo "smoke: embedded PostgreSQL still running"; exit 1; fi
echo "smoke: ok"
