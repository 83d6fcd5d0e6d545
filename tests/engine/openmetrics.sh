#!/bin/sh
# The OpenMetrics export (issue 22, item 3) against the real Prometheus
# tools: `promtool check metrics` lints the names, and `promtool tsdb
# create-blocks-from openmetrics` must backfill the file into a TSDB that
# holds the run's series.  Skipped (77) without promtool (Debian package
# `prometheus`, optional in .ci/build).
set -e
FAULTLINE=${FAULTLINE:-build/faultline}
command -v promtool >/dev/null 2>&1 || { echo "promtool not found: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One run with resources (CPU queues), one with faults and no resources.
for sc in scenarios/13-performance/cpu-overload.json scenarios/04-consensus/raft-leader-crash.json; do
    name=$(basename "$sc" .json)
    "$FAULTLINE" run "$sc" --out "$tmp/$name" -q --no-trace >/dev/null || [ $? = 1 ]
    om=$tmp/$name/metrics.om
    [ "$(tail -n 1 "$om")" = "# EOF" ] || { echo "$om: does not end with # EOF"; exit 1; }
    # check metrics reads the Prometheus text format, which has no UNIT
    # lines, names a counter's family with its _total and takes timestamps
    # in ms: drop what it cannot read (the names are what it lints).
    awk '/^# EOF$/ || /^# UNIT / { next }
         /^# TYPE / { t[$3] = $4; n = $3; if ($4 == "counter") n = n "_total"; print "# TYPE " n " " $4; next }
         /^# HELP / { n = $3; if (t[n] == "counter") n = n "_total"; sub(/^# HELP [^ ]+ /, ""); print "# HELP " n " " $0; next }
         { sub(/ [0-9]+\.[0-9]+$/, ""); print }' "$om" > "$tmp/$name.prom"
    lint=$(promtool check metrics < "$tmp/$name.prom" 2>&1) || { echo "$om: promtool check metrics:"; echo "$lint"; exit 1; }
    [ -z "$lint" ] || { echo "$om: promtool check metrics:"; echo "$lint"; exit 1; }
    promtool tsdb create-blocks-from openmetrics "$om" "$tmp/$name.tsdb" >"$tmp/$name.backfill" 2>&1 ||
        { echo "$om: backfill failed:"; cat "$tmp/$name.backfill"; exit 1; }
    # The TSDB holds the run: as many offered-count samples as windows.
    # (dump opens the TSDB as a server would, which wants a WAL folder.)
    mkdir -p "$tmp/$name.tsdb/wal"
    windows=$(wc -l < "$tmp/$name/timeseries.jsonl")
    got=$(promtool tsdb dump "$tmp/$name.tsdb" 2>/dev/null | grep -c '^{__name__="faultline_ops_offered_total"' || true)
    [ "$got" = "$windows" ] || { echo "$om: expected $windows samples of faultline_ops_offered_total in the TSDB, found $got"; exit 1; }
    echo "$name: $windows windows, lint clean, backfilled"
done
