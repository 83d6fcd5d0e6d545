#!/bin/sh
# The time series of `faultline run` (issue 22, item 3): the same seed
# writes the same timeseries.jsonl and metrics.om, byte for byte, and the
# trace hash is that of the run without them (the series schedules
# nothing); --window sets the windows; a bad --window is exit 2.
set -e
FAULTLINE=${FAULTLINE:-build/faultline}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for sc in scenarios/13-performance/cpu-overload.json scenarios/04-consensus/raft-leader-crash.json; do
    a=$("$FAULTLINE" run "$sc" --seed 1 --out "$tmp/a" -q --no-trace) || [ $? = 1 ]
    b=$("$FAULTLINE" run "$sc" --seed 1 --out "$tmp/b" -q --no-trace) || [ $? = 1 ]
    [ "$a" = "$b" ] || { echo "$sc: two runs differ: $a / $b"; exit 1; }
    cmp "$tmp/a/timeseries.jsonl" "$tmp/b/timeseries.jsonl"
    cmp "$tmp/a/metrics.om" "$tmp/b/metrics.om"
    hash=$(echo "$a" | sed 's/ .*//; s/trace_hash=//')
    grep -qx "$sc 1 $hash" tests/engine/trace-hashes.txt ||
        { echo "$sc: trace hash $hash at seed 1 is not the one in tests/engine/trace-hashes.txt"; exit 1; }
    rm -rf "$tmp/a" "$tmp/b"
done
# A 6 s run in windows of 250 ms: 24 lines; the last window ends at 6 s.
"$FAULTLINE" run scenarios/13-performance/cpu-overload.json --out "$tmp/w" -q --no-trace --window 250ms >/dev/null || [ $? = 1 ]
[ "$(wc -l < "$tmp/w/timeseries.jsonl")" = 24 ] || { echo "--window 250ms: expected 24 windows"; exit 1; }
tail -n 1 "$tmp/w/timeseries.jsonl" | grep -q '"t1_ns":6000000000,' || { echo "--window 250ms: last window does not end at 6s"; exit 1; }
status=0
"$FAULTLINE" run scenarios/13-performance/cpu-overload.json --out "$tmp/x" -q --window soon 2>"$tmp/err" || status=$?
[ "$status" = 2 ] || { echo "--window soon: expected exit 2, got $status"; exit 1; }
grep -q -- "--window" "$tmp/err" || { echo "--window soon: message does not name the option"; cat "$tmp/err"; exit 1; }
echo "time series: deterministic, trace hashes unchanged, --window works"
