#!/bin/sh
# `faultline alerts` (issue 22, item 5): the example rules of
# scenarios/13-performance/raft-alerts.yml evaluated by promtool against a
# run with a leader crash (ErrorRateHigh must fire within 1.5s of it: the
# scenario's expect.alerts) and against the same cluster without faults
# (nothing may fire).  Without promtool the command must exit 2 and say
# to install `prometheus`; the rest is skipped (77).
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
command -v promtool >/dev/null 2>&1 || { echo "promtool not found: skipped"; exit 77; }
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
echo "alerts: crash fires ErrorRateHigh after 1s, calm run quiet, missing promtool and bad rules exit 2"
