#!/usr/bin/env bash
# Resident memory of a started instance: embedded PGlite on a new data directory, the same
# directory again, and PostgreSQL, 3 s after "listening" (npm run build first).
#   bash bench/embedded-rss.sh [repo-dir]    (default: this checkout)
set -euo pipefail
repo=${1:-$(cd "$(dirname "$0")/.." && pwd)}
measure() {
  local log; log=$(mktemp)
  (cd "$repo" && exec env PORT=0 LOG_LEVEL=info "$@" node dist/main.js) > "$log" 2>&1 &
  local pid=$! t0; t0=$(date +%s%N)
  for _ in $(seq 1 480); do grep -q listening "$log" && break; sleep 0.25; done
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  sleep 3
  printf '%-12s ready in %6d ms  RSS %4d MiB  peak %4d MiB\n' "$label" "$ms" \
    $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) $(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024 ))
  kill -TERM "$pid"; wait "$pid" || true; rm -f "$log"
}
data=$(mktemp -d)
label='PGlite, new'; measure DATA_DIR="$data/data"
label='PGlite, again'; measure DATA_DIR="$data/data"
rm -rf "$data"
label='PostgreSQL'; measure DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" MIGRATE_ON_START=false
