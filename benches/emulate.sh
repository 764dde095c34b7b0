#!/usr/bin/env bash
# The emulator's throughput (issue #24): API requests/s it handles (HMAC
# check, the scenario's answer, the call's state and its two callbacks
# delivered) against a minimal client, alternating with the sink's ingest
# of one CloudEvent per request, over the same TLS, client and
# connections, in every round. Prints each round, the medians and the
# emulator's peak RSS.
#
#   cargo build --release && bash benches/emulate.sh
#   ROUNDS=7 SECONDS_PER_RUN=10 CONNECTIONS=64 bash benches/emulate.sh
#   SCENARIO=my-flow.json bash benches/emulate.sh   # another scenario whose flow starts with Create Call
#
# The client is wrk (Debian's `wrk`) replaying one request that the script
# signs as the SDKs do (valid for the 15 minutes of --clock-skew, which
# covers the whole benchmark); the emulator verifies it on every request
# all the same. The scenario (benches/emulate/load.json) answers Create
# Call after 1 ms and ends each call with CallConnected then
# CallDisconnected 10 ms apart, delivered to a `callmetrics sink`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/callmetrics}
ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
# 128 requests in flight: each holds its connection for the scenario's 1 ms
# answer time, which tokio's millisecond timer rounds up, so 64 left the
# machine 30 % idle (vmstat) at ~18,600 requests/s; from 128 up both cores
# are busy (6 % idle), and 128 - 256 give the same throughput.
CONNECTIONS=${CONNECTIONS:-128}
KEY=Y2FsbG1ldHJpY3MtZW11bGF0b3ItdGVzdC1rZXktMzI=
VERSION=2025-05-15
for tool in wrk openssl python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "build first: cargo build --release ($BIN)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  exit 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# The callbacks' receiver, plain HTTP as most apps' are: a `callmetrics
# sink` (RECEIVER=sink), which parses and counts every callback as an app
# would, or nginx answering 204 to everything (RECEIVER=nginx, Debian's
# nginx-light), which leaves the emulator the whole machine but a sliver.
RECEIVER=${RECEIVER:-sink}
callbacks_port=$(free_port)
case $RECEIVER in
  sink)
    "$BIN" sink --listen "127.0.0.1:$callbacks_port" >"$work/callbacks.out" 2>&1 &
    pids+=($!)
    ;;
  nginx)
    command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)" >&2; exit 2; }
    cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.log warn;
# nginx's default of 512 connections closed the emulator's pooled ones
# ("connection closed before message completed") from 256 clients up.
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $work;
  server { listen 127.0.0.1:$callbacks_port; location / { return 204; } }
}
NGINX
    nginx -c "$work/nginx.conf" -p "$work" &
    pids+=($!)
    ;;
  *) echo "RECEIVER is sink or nginx, not $RECEIVER" >&2; exit 2 ;;
esac
wait_port "$callbacks_port"

# One signed Create Call for the emulator on port $1, as a wrk script.
signed_request() {
  local host=127.0.0.1:$1 path="/calling/callConnections?api-version=$VERSION"
  local body="{\"targets\":[{\"rawId\":\"4:+14255550100\",\"kind\":\"phoneNumber\",\"phoneNumber\":{\"value\":\"+14255550100\"}}],\"callbackUri\":\"http://127.0.0.1:$callbacks_port/callbacks\"}"
  local hash date key signature
  hash=$(printf '%s' "$body" | openssl dgst -sha256 -binary | base64)
  date=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
  key=$(printf '%s' "$KEY" | base64 -d | od -An -tx1 | tr -d ' \n')
  signature=$(printf 'POST\n%s\n%s;%s;%s' "$path" "$date" "$host" "$hash" |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64)
  cat <<LUA
wrk.method = "POST"
wrk.path = "$path"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-ms-date"] = "$date"
wrk.headers["x-ms-content-sha256"] = "$hash"
wrk.headers["Authorization"] = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=$signature"
LUA
}

# One CloudEvent callback, as the sink's ingest takes it.
"$BIN" generate benches/emulate/load.json --calls 1 --out - 2>/dev/null |
  python3 -c 'import json,sys; e=[json.loads(l) for l in sys.stdin][1]; print(json.dumps([e["cloudEvent"]]))' \
  >"$work/callback.json"
python3 - "$work/callback.json" >"$work/ingest.lua" <<'PY'
import sys
body = open(sys.argv[1]).read().strip()
print('wrk.method = "POST"\nwrk.path = "/callbacks"')
print("wrk.body = [==[" + body + "]==]")
print('wrk.headers["Content-Type"] = "application/json"')
PY

requests_per_second() { awk '/^Requests\/sec:/ {printf "%d", $2}' "$1"; }
non_2xx() { awk '/Non-2xx/ {print $NF}' "$1"; }

emulator() {
  local port
  port=$(free_port)
  "$BIN" emulate "${SCENARIO:-benches/emulate/load.json}" --listen "127.0.0.1:$port" --access-key "$KEY" \
    --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --settle 1s \
    --summary-out "$work/summary.json" >"$work/emulate.out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_port "$port"
  signed_request "$port" >"$work/emulate.lua"
  wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -s "$work/emulate.lua" "https://127.0.0.1:$port" \
    >"$work/wrk.out"
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  local refused
  refused=$(non_2xx "$work/wrk.out")
  [ -z "$refused" ] || { echo "the emulator refused $refused requests:" >&2; cat "$work/wrk.out" "$work/emulate.out" >&2; exit 1; }
  echo "$(requests_per_second "$work/wrk.out") $((rss / 1024))"
}

sink() {
  local port
  port=$(free_port)
  "$BIN" sink --listen "127.0.0.1:$port" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
    >"$work/sink.out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_port "$port"
  wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -s "$work/ingest.lua" "https://127.0.0.1:$port" \
    >"$work/wrk.out"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  requests_per_second "$work/wrk.out"
}

echo "round emulate_req_per_s emulate_peak_rss_mib sink_callbacks_req_per_s ratio"
em=() sk=() ratios=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    read -r e rss <<<"$(emulator)"
    s=$(sink)
  else
    s=$(sink)
    read -r e rss <<<"$(emulator)"
  fi
  ratio=$(python3 -c "print(f'{$e / $s:.2f}')")
  echo "$round $e $rss $s $ratio"
  em+=("$e") sk+=("$s") ratios+=("$ratio")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median $(median "${em[@]}") - $(median "${sk[@]}") $(median "${ratios[@]}")"
echo "callbacks delivered in the last emulator run:"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(" ", s["callbacks_delivered"], "failed:", s["callbacks_failed"], "calls:", s["calls_started"])' "$work/summary.json"
