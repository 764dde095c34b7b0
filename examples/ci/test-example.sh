#!/usr/bin/env bash
# Runs check-app.sh end to end as the CI examples do, with the repo's
# callback app (tests/apps/acs-callback-app) as "my app", so the examples
# are proven to work rather than only written. Passes when the check
# passes with both artifacts there, and when callbacks the app refuses
# make it exit 2 with a JUnit file saying so. .ci/run calls it after
# `cargo test`, which builds the binary it uses by default.
#
# CALLMETRICS (default target/debug/callmetrics) and CALLS (default 200)
# are passed on to check-app.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

app=tests/apps/acs-callback-app
[ -d "$app/node_modules" ] || (cd "$app" && npm ci --no-audit --no-fund)

work=$(mktemp -d)
app_pid=
# shellcheck disable=SC2317 # run by the trap, which shellcheck 0.9 does not follow
stop() {
  [ -z "$app_pid" ] || kill "$app_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 2' INT TERM

fail() {
  echo "test-example: $*" >&2
  exit 1
}

# PORT=0 lets the app take a free port; it prints which one first.
(cd "$app" && PORT=0 exec node server.js >"$work/app.out" 2>"$work/app.err") &
app_pid=$!
line=
for _ in $(seq 100); do
  line=$(head -n 1 "$work/app.out" 2>/dev/null || true)
  case $line in "listening on http"*) break ;; esac
  kill -0 "$app_pid" 2>/dev/null || break
  sleep 0.1
done
case $line in
  "listening on http"*) app_url=${line#listening on } ;;
  *)
    cat "$work/app.err" >&2
    fail "the callback app did not start within 10 s"
    ;;
esac

# check-app.sh against the app, its artifacts in $1, with the further
# VAR=value settings given; bounded, so that a hang cannot hold CI until
# its own time limit.
example() {
  local out=$1
  shift
  env CALLMETRICS="${CALLMETRICS:-target/debug/callmetrics}" CALLS="${CALLS:-200}" \
    APP_URL="$app_url" MAPPING="$app/mapping.json" OUT_DIR="$out" "$@" \
    timeout --kill-after=10s 300s examples/ci/check-app.sh
}

started=$SECONDS
code=0
example "$work/pass" || code=$?
[ "$code" -eq 0 ] || fail "check-app.sh exited $code, expected 0"
grep -q '<testsuites [^>]*failures="0" errors="0"' "$work/pass/junit.xml" ||
  fail "junit.xml does not say failures=\"0\" errors=\"0\": $(head -c 600 "$work/pass/junit.xml")"
grep -q '<testcase ' "$work/pass/junit.xml" || fail "junit.xml has no test case"
[ -s "$work/pass/report.html" ] || fail "report.html was not written"
echo "test-example: check-app.sh passed against the callback app in $((SECONDS - started)) s"

# Callbacks the app refuses end the run before its check; junit.xml must
# still say why (check-app.sh writes it where callmetrics does not), so a
# CI test publisher shows the refusal, not "no test results".
code=0
example "$work/refused" CALLBACK_PATH=/no-such-path CALLS=20 || code=$?
[ "$code" -eq 2 ] || fail "with callbacks refused, check-app.sh exited $code, expected 2"
grep -q '<error type="check error" message="[^"]*HTTP 404' "$work/refused/junit.xml" ||
  fail "junit.xml does not name the refusal: $(head -c 600 "$work/refused/junit.xml")"
echo "test-example: refused callbacks exit 2 with the refusal in junit.xml"
