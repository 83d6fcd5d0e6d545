#!/bin/sh
# The trace-hash guard of issue 25: every shipped scenario
# (scenarios/**/*.json) at seeds 1 and 2, one line "FILE SEED HASH" each,
# compared with the recorded tests/engine/trace-hashes.txt.  An engine change
# that alters event order (virtual time, sequence) changes some hash.
# Usage: tests/engine/trace-hashes.sh [--record]   (from the source root;
# FAULTLINE names the binary, default build/faultline).
set -eu
exe=${FAULTLINE:-build/faultline}
want=tests/engine/trace-hashes.txt
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
got=$out/hashes.txt
find scenarios -name '*.json' | LC_ALL=C sort | while read -r f; do
    for s in 1 2; do
        h=$("$exe" run "$f" --seed "$s" --quiet --no-trace --out "$out/run" 2>/dev/null |
            sed -n 's/.*trace_hash=\([0-9a-f]*\).*/\1/p' | tail -1)
        echo "$f $s ${h:-none}"
        rm -rf "$out/run"
    done
done >"$got"
if [ "${1:-}" = --record ]; then
    cp "$got" "$want"
    echo "trace-hashes: recorded $(wc -l <"$want") hashes in $want"
    exit 0
fi
if diff -u "$want" "$got"; then
    echo "trace-hashes: all $(wc -l <"$want") hashes unchanged"
else
    echo "trace-hashes: CHANGED (see the diff above).  An engine change must not" >&2
    echo "change event order; a change to a protocol, fault or scenario may: then" >&2
    echo "record the new hashes with '$0 --record' and say why in the commit." >&2
    exit 1
fi
