#!/usr/bin/env bash
# Dataset formats compared (issue #23): `generate` of one workload as
# JSONL and as Parquet (and CSV), alternating the formats in every round
# (the order swaps each round) so a busy machine slows them alike; prints
# each round's seconds and events/s, the medians, the median per-round
# Parquet/JSONL speed ratio, the files' sizes and their ratio, and the
# peak RSS of each format's last run.
#
#   cargo build --release && bash benches/datasets.sh
#   ROUNDS=7 CALLS=100000 SCENARIO=scenarios/inbound-ivr.json bash benches/datasets.sh
#
# Writes into a temporary directory (on /tmp); the page cache, not only
# the encoder, is part of what JSONL's gigabytes cost.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/callmetrics}
ROUNDS=${ROUNDS:-5}
CALLS=${CALLS:-50000}
RATE=${RATE:-5/s}
SCENARIO=${SCENARIO:-scenarios/contact-center.json}
FORMATS=${FORMATS:-jsonl parquet csv}
[ -x "$BIN" ] || { echo "not an executable: $BIN (cargo build --release)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seconds, events/s and peak RSS (KiB) of one generate in format $1.
one() {
  local format=$1 out="$work/$1"
  rm -rf "$out"
  /usr/bin/time -f '%e %M' -o "$work/time" "$BIN" generate "$SCENARIO" --calls "$CALLS" \
    --rate "$RATE" --format "$format" --out "$out" --quiet
  local events
  events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["events"])' \
    "$out/manifest.json")
  read -r seconds rss <"$work/time"
  python3 -c 'import sys; s=float(sys.argv[1]); print(f"{s:.2f} {int(sys.argv[2])/max(s,1e-9):.0f} {sys.argv[3]}")' \
    "$seconds" "$events" "$rss"
}

read -r -a order <<<"$FORMATS"
for round in $(seq "$ROUNDS"); do
  for format in "${order[@]}"; do
    line=$(one "$format")
    echo "$line" >>"$work/results.$format"
    echo "round $round $format: $line (seconds events/s peakRSS-KiB)"
  done
  # Swap the order every round.
  mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
done

python3 - "$work" "${order[@]}" <<'PY'
import os, statistics, sys
work, formats = sys.argv[1], sys.argv[2:]
results = {f: [tuple(map(float, l.split())) for l in open(os.path.join(work, "results." + f))] for f in formats}
def size(f):
    d = os.path.join(work, f)
    return sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d) if n not in ("expected.json", "manifest.json"))
sizes = {f: size(f) for f in formats}
for f in formats:
    secs = statistics.median(r[0] for r in results[f])
    rate = statistics.median(r[1] for r in results[f])
    print(f"{f}: median {secs:.2f} s, {rate:.0f} events/s, {sizes[f]/2**20:.1f} MiB, peak RSS {results[f][-1][2]/1024:.0f} MiB")
if "jsonl" in formats and "parquet" in formats:
    ratios = [p[1] / j[1] for p, j in zip(results["parquet"], results["jsonl"])]
    print(f"parquet/jsonl events/s: median of per-round ratios {statistics.median(ratios):.2f}x")
    print(f"parquet is {sizes['jsonl']/sizes['parquet']:.1f}x smaller than jsonl")
PY
