#!/usr/bin/env bash
# Webhook delivery at the maximum rate, side by side with wrk and oha in one
# run: the same loopback nginx answering `return 204;` (one worker process),
# the same kind of body (a real CloudEvent array from callmetrics), 64
# connections each, ROUNDS rounds alternating the three.
#
# Needs nginx (nginx-light), wrk, oha (`cargo install oha`) and a release
# build (`cargo build --release`). Prints requests/s per tool and round.
#
#   bash benches/webhook-vs-peers.sh            # 3 rounds of ~5 s each
#   ROUNDS=5 SECONDS_EACH=10 bash benches/webhook-vs-peers.sh
#   BASELINE=/path/to/older/callmetrics bash benches/webhook-vs-peers.sh
#                                 # an older build alternating in each round
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS_EACH:-5}
CALLMETRICS=${CALLMETRICS:-target/release/callmetrics}
OHA=${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}
for tool in nginx wrk "$OHA" "$CALLMETRICS"; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/body;
  keepalive_requests 100000000;
  server { listen 127.0.0.1:$port; location / { return 204; } }
}
CONF
nginx -c "$work/nginx.conf"
trap 'nginx -c "$work/nginx.conf" -s stop 2>/dev/null; rm -rf "$work"' EXIT
url="http://127.0.0.1:$port/api/callbacks"

# A real callback body: one PlayCompleted CloudEvent in an array.
"$CALLMETRICS" generate scenarios/outbound-notification.json --calls 5 --out - --quiet \
  | grep -m1 PlayCompleted \
  | python3 -c 'import sys,json; print(json.dumps([json.loads(sys.stdin.readline())["cloudEvent"]],separators=(",",":")),end="")' \
  > "$work/body.json"
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/body.json", "r"); wrk.body = f:read("*a"); f:close()
LUA
echo "body: $(wc -c < "$work/body.json") bytes; nginx 1 worker on $url; 64 connections"

# Calls for about SECONDS_EACH at ~110k callbacks/s (6 callbacks per call).
calls=$((SECONDS_EACH * 18000))
# requests/s of one webhook run of `$1` at the maximum rate.
replay() {
  "$1" run scenarios/outbound-notification.json --target webhook --sink "$url" \
    --max-rate --calls "$calls" --concurrency 64 --summary-out "$work/summary.json" 2>/dev/null
  python3 -c "import json; print(round(json.load(open('$work/summary.json'))['requestsPerSecond']))"
}
for round in $(seq "$ROUNDS"); do
  w=$(wrk -t2 -c64 -d"${SECONDS_EACH}s" -s "$work/post.lua" "$url" | awk '/Requests\/sec/ {print $2}')
  o=$("$OHA" -z "${SECONDS_EACH}s" -c 64 -m POST -T application/json -D "$work/body.json" --no-tui "$url" \
      | awk '/Requests\/sec/ {print $2}')
  c=$(replay "$CALLMETRICS")
  printf 'round %s  wrk %8.0f  oha %8.0f  callmetrics %8.0f  (%.2fx wrk, %.2fx oha)' \
    "$round" "$w" "$o" "$c" "$(echo "$c / $w" | bc -l)" "$(echo "$c / $o" | bc -l)"
  if [ -n "${BASELINE:-}" ]; then
    b=$(replay "$BASELINE")
    printf '  baseline %8.0f (%.2fx wrk, %.2fx oha)' "$b" "$(echo "$b / $w" | bc -l)" \
      "$(echo "$b / $o" | bc -l)"
  fi
  echo
done
