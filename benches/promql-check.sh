#!/usr/bin/env bash
# `check --backend promql` of a day of data at PT1M (contact-center, 86,400
# calls at 1/s written by remote write into a fresh VictoriaMetrics), two
# binaries side by side, ROUNDS rounds alternating them. Counts the query
# requests each check sent (VictoriaMetrics' own
# vm_http_requests_total{path="/api/v1/query"} before and after) and
# times each check; both must give the same verdict (PASS).
#
# Needs victoria-metrics (Debian's 1.79) and release builds:
#   cargo build --release
#   NEW=target/release/callmetrics OLD=/path/to/older/callmetrics ROUNDS=5 \
#     bash benches/promql-check.sh
# Without OLD only NEW is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
NEW=${NEW:-target/release/callmetrics}
OLD=${OLD:-}
CALLS=${CALLS:-86400}
command -v victoria-metrics >/dev/null || { echo "missing: victoria-metrics" >&2; exit 2; }

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
victoria-metrics -storageDataPath="$work/data" -httpListenAddr="127.0.0.1:$port" \
  -search.latencyOffset=0s -retentionPeriod=30d >"$work/vm.log" 2>&1 &
vm=$!
trap 'kill $vm 2>/dev/null; wait $vm 2>/dev/null; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done

# A day that ended an hour ago, on a minute boundary.
start=$(date -u -d "@$(( ($(date +%s) - 25 * 3600) / 60 * 60 ))" +%Y-%m-%dT%H:%M:%SZ)
"$NEW" run scenarios/contact-center.json --target remote-write --sink "$base/api/v1/write" \
  --calls "$CALLS" --rate 1/s --start "$start" --max-rate --quiet \
  --expected-out "$work/expected.json" >/dev/null
curl -sf "$base/internal/force_flush" >/dev/null
echo "data: $CALLS calls from $start, $(curl -s "$base/api/v1/series/count" | tr -d '\n')"

queries() {
  curl -s "$base/metrics" | awk '/^vm_http_requests_total\{path="\/api\/v1\/query"\}/ {print $2}'
}
measure() {
  local name=$1 bin=$2 before after
  before=$(queries)
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" check --expected "$work/expected.json" \
    --backend promql --observed "$base" --grain PT1M --max-time 1h >"$work/out" 2>&1 || true
  after=$(queries)
  read -r wall rss <"$work/time"
  printf '%s  round %s  %-4s  %8s s  %7d requests  RSS %6d KB  %s\n' "$(date -u +%FT%TZ)" \
    "$round" "$name" "$wall" $((after - before)) "$rss" "$(head -c 60 "$work/out" | head -1)"
}
for round in $(seq "$ROUNDS"); do
  measure new "$NEW"
  if [ -n "$OLD" ]; then measure old "$OLD"; fi
done
