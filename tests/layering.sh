#!/bin/sh
# The engine does not know the layers built on it: no file of sim/ outside
# sim/cli/ (the program, which hands the engine its catalog: sim/catalog.h)
# includes anything from protocols/ or faults/.
# Usage: sh tests/layering.sh SOURCE_ROOT
cd "${1:-.}" || exit 2
bad=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"](protocols|faults)/' sim \
      --include='*.c' --include='*.h' | grep -v '^sim/cli/')
if [ -n "$bad" ]; then
    echo "sim/ includes protocols/ or faults/ (hand it through sim/catalog.h instead):" >&2
    echo "$bad" >&2
    exit 1
fi
echo "layering: ok"
