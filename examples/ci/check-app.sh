#!/usr/bin/env bash
# Checks that an app counts Call Automation callbacks exactly: starts a
# throwaway Prometheus scraping the app every second, waits until the
# scrape target is up, then replays a scenario's callbacks into the app
# and checks what Prometheus holds against what was delivered, in one
# `callmetrics run`. Writes the check as JUnit (junit.xml) and the run as
# an HTML page (report.html) into OUT_DIR.
#
# Exit code: callmetrics' own, 0 pass, 1 mismatches, 2 error; also 2 when
# Prometheus does not start or never reaches the app. See README.md beside
# this file for the variables.
set -euo pipefail

CALLMETRICS=${CALLMETRICS:-callmetrics}
PROMETHEUS=${PROMETHEUS:-prometheus}
SCENARIO=${SCENARIO:-scenarios/contact-center.json}
CALLS=${CALLS:-1000}
APP_URL=${APP_URL:-http://127.0.0.1:3000}
APP_URL=${APP_URL%/}
CALLBACK_PATH=${CALLBACK_PATH:-/api/callbacks}
app_authority=${APP_URL#*://}
METRICS_TARGET=${METRICS_TARGET:-${app_authority%%/*}}
METRICS_PATH=${METRICS_PATH:-/metrics}
MAPPING=${MAPPING:-mappings/default.json}
OUT_DIR=${OUT_DIR:-.}
WAIT=${WAIT:-60s}
UP_TIMEOUT=${UP_TIMEOUT:-60}

say() { echo "check-app: $*" >&2; }
# What callmetrics writes when its check cannot be carried out, so that a
# CI test publisher shows why the job erred instead of "no test results".
junit_error() {
  local why
  why=$(printf '%s' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g')
  cat >"$OUT_DIR/junit.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="callmetrics check" tests="1" failures="0" errors="1">
  <testsuite name="callmetrics check" tests="1" failures="0" errors="1" skipped="0">
    <testcase classname="callmetrics.check" name="the check could be carried out">
      <error type="check error" message="$why">$why</error>
    </testcase>
  </testsuite>
</testsuites>
EOF
}
fail() {
  say "$*"
  [ ! -d "$OUT_DIR" ] || junit_error "$*"
  exit 2
}

mkdir -p "$OUT_DIR" || fail "cannot create OUT_DIR $OUT_DIR"
# A previous run's artifacts must not pass for this one's.
rm -f "$OUT_DIR/junit.xml" "$OUT_DIR/report.html"
for tool in "$CALLMETRICS" "$PROMETHEUS" curl; do
  command -v "$tool" >/dev/null || fail "$tool not found (set CALLMETRICS or PROMETHEUS to its path, or install it)"
done
for file in "$SCENARIO" "$MAPPING"; do
  [ -f "$file" ] || fail "$file not found (set SCENARIO or MAPPING)"
done

work=$(mktemp -d)
prometheus_pid=
# shellcheck disable=SC2317 # run by the trap, which shellcheck 0.9 does not follow
stop() {
  if [ -n "$prometheus_pid" ] && kill "$prometheus_pid" 2>/dev/null; then
    # Prometheus closes its database on SIGTERM; one that hangs there must
    # not hold the job, so it gets 10 s.
    for _ in $(seq 50); do
      kill -0 "$prometheus_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 "$prometheus_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 2' INT TERM

cat >"$work/prometheus.yml" <<EOF
scrape_configs:
  - job_name: acs-app
    scrape_interval: 1s
    scrape_timeout: 1s
    metrics_path: $METRICS_PATH
    static_configs:
      - targets: ['$METRICS_TARGET']
EOF

# Prometheus 2.42 cannot report a port it picked itself, so pick one and
# try another when it is taken: a fixed port would collide on shared CI
# runners.
deadline=$((SECONDS + UP_TIMEOUT))
prometheus_url=
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  "$PROMETHEUS" --config.file="$work/prometheus.yml" \
    --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$port" >"$work/prometheus.log" 2>&1 &
  prometheus_pid=$!
  while kill -0 "$prometheus_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; then
      prometheus_url=http://127.0.0.1:$port
      break 2
    fi
    sleep 0.2
  done
  if kill -0 "$prometheus_pid" 2>/dev/null || ! grep -q "address already in use" "$work/prometheus.log"; then
    break
  fi
done
if [ -z "$prometheus_url" ]; then
  tail -n 20 "$work/prometheus.log" >&2
  kill -0 "$prometheus_pid" 2>/dev/null &&
    fail "Prometheus did not get ready within ${UP_TIMEOUT}s (its log is above)"
  fail "Prometheus ($PROMETHEUS) exited at start (its log is above)"
fi
say "Prometheus at $prometheus_url scrapes $METRICS_TARGET$METRICS_PATH every second"

# A run before the first successful scrape would be checked against
# counters Prometheus never saw.
until curl -fsS -G "$prometheus_url/api/v1/query" \
  --data-urlencode 'query=up{job="acs-app"} == 1' 2>/dev/null | grep -q '"value":'; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    last_error=$(curl -fsS "$prometheus_url/api/v1/targets" 2>/dev/null |
      sed -n 's/.*"lastError":"\(\([^"\\]\|\\.\)*\)".*/\1/p' | sed 's/\\"/"/g' || true)
    fail "the scrape target $METRICS_TARGET$METRICS_PATH was not up within ${UP_TIMEOUT}s${last_error:+: $last_error}"
  fi
  sleep 0.5
done
say "the app's metrics are scraped; running callmetrics"

# stdout (the JUnit) goes to junit.xml through fd 3; stderr is shown and
# kept, for the error's own words when callmetrics ends before its check
# wrote any JUnit (a callback the app refused, say).
code=0
{
  "$CALLMETRICS" run "$SCENARIO" \
    --target webhook --sink "$APP_URL$CALLBACK_PATH" \
    --calls "$CALLS" --max-rate \
    --check --backend promql --observed "$prometheus_url" \
    --mapping "$MAPPING" --match '{job="acs-app"}' --totals --wait "$WAIT" \
    --format junit --report "$OUT_DIR/report.html" 2>&1 >&3 3>&- |
    tee "$work/callmetrics.err" >&2
} 3>"$OUT_DIR/junit.xml" || code=$?

case $code in
  0) say "PASS" ;;
  1) say "FAIL: Prometheus does not hold what the app was sent" ;;
  *)
    [ "$code" -eq 2 ] || say "callmetrics ended with $code (killed or crashed)"
    say "ERROR: the run or the check could not be carried out"
    if [ ! -s "$OUT_DIR/junit.xml" ]; then
      why=$(sed -n 's/^callmetrics: error: //p' "$work/callmetrics.err" | tail -n 1)
      junit_error "${why:-callmetrics ended with $code}"
    fi
    code=2
    ;;
esac
echo "JUnit: $OUT_DIR/junit.xml"
[ ! -f "$OUT_DIR/report.html" ] || echo "HTML report: $OUT_DIR/report.html"
exit "$code"
