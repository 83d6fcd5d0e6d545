#!/bin/sh
# `faultline alerts` (issue 22, item 5): the example rules of
# scenarios/13-performance/raft-alerts.yml evaluated by promtool against a
# run with a leader crash (ErrorRateHigh must fire within 1.5s of it: the
# scenario's expect.alerts) and against the same cluster without faults
# (nothing may fire).  Without promtool the command must exit 2 and say
# to install `prometheus`, and `run` must say expect.alerts was not judged;
# the rest is skipped (77).  With it, `run` and `claims` judge the
# scenario's expect.alerts (its `rules`) and fail on an unmet one.
set -e
FAULTLINE=${FAULTLINE:-build/faultline}
case $FAULTLINE in /*) ;; *) FAULTLINE=$(pwd)/$FAULTLINE ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rules=scenarios/13-performance/raft-alerts.yml
"$FAULTLINE" run scenarios/13-performance/raft-leader-crash-sla.json --out "$tmp/crash" -q --no-trace >/dev/null
# No promtool on the PATH: exit 2, naming the package.
st=0
PATH=/nonexistent "$FAULTLINE" alerts "$tmp/crash" --rules $rules 2>"$tmp/err" >/dev/null || st=$?
[ "$st" = 2 ] || { echo "without promtool: exit $st, expected 2"; exit 1; }
grep -q prometheus "$tmp/err" || { echo "without promtool: the message does not name prometheus:"; cat "$tmp/err"; exit 1; }
# `run` judges expect.alerts itself when the scenario names its rules; without
# promtool it says so in the summary, and the run is not failed for it.
st=0
PATH=/nonexistent "$FAULTLINE" run scenarios/13-performance/raft-calm-sla.json --out "$tmp/np" --no-trace \
    >"$tmp/np.out" 2>/dev/null || st=$?
[ "$st" = 0 ] || { echo "run without promtool: exit $st, expected 0"; cat "$tmp/np.out"; exit 1; }
grep -q 'expect.alerts NOT JUDGED: promtool not found' "$tmp/np.out" ||
    { echo "run without promtool: the summary does not say expect.alerts was not judged:"; cat "$tmp/np.out"; exit 1; }
command -v promtool >/dev/null 2>&1 || { echo "promtool not found: skipped"; exit 77; }
"$FAULTLINE" run scenarios/13-performance/raft-leader-crash-sla.json --out "$tmp/run" --no-trace >"$tmp/run.out" ||
    { echo "run of the leader crash: expect not met:"; cat "$tmp/run.out"; exit 1; }
grep -q '^  alerts    2 fired .*expect.alerts met$' "$tmp/run.out" ||
    { echo "run of the leader crash: expected 2 alerts judged met:"; cat "$tmp/run.out"; exit 1; }
[ -f "$tmp/run/alerts.json" ] || { echo "run: no alerts.json in the run's folder"; exit 1; }
# The same run expecting an alert the rules do not have: exit 1, saying why.
sed -e 's/"alert": "ErrorRateHigh"/"alert": "NoSuchAlert"/' \
    -e "s|\"rules\": \"raft-alerts.yml\"|\"rules\": \"$(pwd)/$rules\"|" \
    scenarios/13-performance/raft-leader-crash-sla.json >"$tmp/unmet.json"
st=0
"$FAULTLINE" run "$tmp/unmet.json" --out "$tmp/unmet" --no-trace >"$tmp/unmet.out" || st=$?
[ "$st" = 1 ] || { echo "run with an unmet expect.alerts: exit $st, expected 1"; cat "$tmp/unmet.out"; exit 1; }
grep -q 'NOT MET: alerts: fire: expected NoSuchAlert within 1500ms of fault 0 .*it never fired' "$tmp/unmet.out" ||
    { echo "run with an unmet expect.alerts: no NOT MET line:"; cat "$tmp/unmet.out"; exit 1; }
# fuzz and claims judge it on every seed: the unmet one fails.
st=0
"$FAULTLINE" claims --seeds 2 "$tmp/unmet.json" >"$tmp/claims.out" 2>&1 || st=$?
[ "$st" = 1 ] || { echo "claims with an unmet expect.alerts: exit $st, expected 1"; cat "$tmp/claims.out"; exit 1; }
grep -q 'FALSE  alerts NoSuchAlert within' "$tmp/claims.out" ||
    { echo "claims: expected the alerts claim false:"; cat "$tmp/claims.out"; exit 1; }
"$FAULTLINE" alerts "$tmp/crash" --rules $rules >"$tmp/crash.out" ||
    { echo "leader crash: faultline alerts failed:"; cat "$tmp/crash.out"; exit 1; }
grep -q '^alerts=[1-9][0-9]* expect=met$' "$tmp/crash.out" ||
    { echo "leader crash: expected alerts and expect met:"; cat "$tmp/crash.out"; exit 1; }
grep -q 'first alert ErrorRateHigh after 1.000s' "$tmp/crash.out" ||
    { echo "leader crash, seed 1: expected ErrorRateHigh 1s after the crash:"; cat "$tmp/crash.out"; exit 1; }
"$FAULTLINE" run scenarios/13-performance/raft-calm-sla.json --out "$tmp/calm" -q --no-trace >/dev/null
"$FAULTLINE" alerts "$tmp/calm" --rules $rules >"$tmp/calm.out" ||
    { echo "calm run: faultline alerts failed:"; cat "$tmp/calm.out"; exit 1; }
grep -q '^alerts=0 expect=met$' "$tmp/calm.out" || { echo "calm run: expected no alert:"; cat "$tmp/calm.out"; exit 1; }
# A rule file promtool refuses: exit 2.
printf 'groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: rate(\n' >"$tmp/bad.yml"
st=0
"$FAULTLINE" alerts "$tmp/calm" --rules "$tmp/bad.yml" >/dev/null 2>&1 || st=$?
[ "$st" = 2 ] || { echo "bad rules: exit $st, expected 2"; exit 1; }
echo "alerts: crash fires ErrorRateHigh after 1s, calm run quiet, missing promtool and bad rules exit 2; run and claims judge expect.alerts"
