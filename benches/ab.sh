#!/usr/bin/env bash
# A/B of two callmetrics binaries on the ingest path, alternating them in
# every round (the order swaps each round) so that a busy machine slows
# both alike; prints each round's events/s, the medians and the median of
# the per-round ratios B/A. Use it before and after any change to a hot
# path (issue #20): build the old commit into another directory first.
#
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release)
#   A=/tmp/old/target/release/callmetrics B=target/release/callmetrics bash benches/ab.sh
#   ROUNDS=7 CALLS=300000 MODE=process bash benches/ab.sh
#
# MODE=embedded (default): `run --max-rate` into the sink `run` embeds.
# MODE=process: the same run into a `callmetrics sink` of the same binary,
# started fresh each time, as a user with a separate sink runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:?set A to the baseline binary}
B=${B:-target/release/callmetrics}
ROUNDS=${ROUNDS:-5}
CALLS=${CALLS:-100000}
SCENARIO=${SCENARIO:-scenarios/outbound-notification.json}
MODE=${MODE:-embedded}
for bin in "$A" "$B"; do
  [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
done

work=$(mktemp -d)
sink_pid=
cleanup() {
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# events/s of one run of binary $1, from its --summary-out.
one() {
  local bin=$1 args=()
  if [ "$MODE" = process ]; then
    "$bin" sink --listen 127.0.0.1:0 >"$work/sink.out" 2>&1 &
    sink_pid=$!
    local url=
    for _ in $(seq 100); do
      url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/sink.out" | head -1 || true)
      [ -n "$url" ] && break
      sleep 0.05
    done
    [ -n "$url" ] || { echo "the sink of $bin did not start" >&2; cat "$work/sink.out" >&2; exit 2; }
    args=(--sink "$url")
  fi
  "$bin" run "$SCENARIO" --calls "$CALLS" --max-rate --quiet \
    --summary-out "$work/summary.json" "${args[@]}" >/dev/null
  if [ -n "$sink_pid" ]; then
    kill "$sink_pid"
    wait "$sink_pid" 2>/dev/null || true
    sink_pid=
  fi
  python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["eventsPerSecond"]))' \
    "$work/summary.json"
}

echo "mode $MODE, $SCENARIO, $CALLS calls, $ROUNDS rounds"
echo "A $A"
echo "B $B"
printf '%-6s %12s %12s %8s\n' round "A events/s" "B events/s" "B/A"
a_all=() b_all=() ratios=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then
    a=$(one "$A"); b=$(one "$B")
  else
    b=$(one "$B"); a=$(one "$A")
  fi
  ratio=$(python3 -c "print(f'{$b / $a:.3f}')")
  a_all+=("$a") b_all+=("$b") ratios+=("$ratio")
  printf '%-6s %12s %12s %8s\n' "$round" "$a" "$b" "$ratio"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
printf '%-6s %12s %12s %8s\n' median "$(median "${a_all[@]}")" "$(median "${b_all[@]}")" "$(median "${ratios[@]}")"
