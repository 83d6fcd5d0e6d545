#!/bin/sh
# Builds the out-of-tree example protocol (tests/module/solo.c) the way a
# user would: install faultline into a DESTDIR staging folder, build the
# module with the five-line meson.build against the staged headers and
# faultline.pc, then run, fuzz and replay it with the staged program, and
# check that bad modules are refused with exit 2, the path and the reason.
# Usage: sh tests/module/test.sh SOURCE_ROOT BUILD_DIR
set -eu
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

stage=$work/stage
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
pc=$(find "$stage" -name faultline.pc | head -n 1)
[ -n "$pc" ] || fail "no faultline.pc under $stage"
prog=$(find "$stage" -path '*/bin/faultline' | head -n 1)
[ -x "$prog" ] || fail "no bin/faultline under $stage"
for h in node codec store time rng; do
    [ -f "$(dirname "$pc")/../../include/faultline/$h.h" ] || \
        [ -n "$(find "$stage" -path "*/include/faultline/$h.h")" ] || fail "header $h.h not installed"
done
[ -n "$(find "$stage" -name 'libfaultline.so*')" ] || fail "libfaultline.so not installed"
[ -n "$(find "$stage" -name 'libfaultline.a')" ] || fail "libfaultline.a not installed"
[ -n "$(find "$stage" -name 'faultline.1*')" ] || fail "faultline.1 not installed"

# Each installed header compiles alone, as C11 and as C++.
inc=$(dirname "$(find "$stage" -path '*/include/faultline/node.h' | head -n 1)")/..
for h in node codec store time rng; do
    printf '#include <faultline/%s.h>\n' "$h" > "$work/h.c"
    cc -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$inc" \
        $(pkg-config --cflags glib-2.0) "$work/h.c" || fail "$h.h alone, as C11"
    if command -v c++ >/dev/null; then
        cp "$work/h.c" "$work/h.cc"
        c++ -Wall -Wextra -Werror -fsyntax-only -I"$inc" \
            $(pkg-config --cflags glib-2.0) "$work/h.cc" || fail "$h.h alone, as C++"
    fi
done

# The module, against the staged headers only: no -I into the source tree.
PKG_CONFIG_PATH=$(dirname "$pc") meson setup "$work/mod" "$src/tests/module" >/dev/null
meson compile -C "$work/mod" >/dev/null
[ -f "$work/mod/solo.so" ] || fail "solo.so not built"
cp "$src/tests/module/solo.json" "$work/mod/solo.json"

cd "$work"
"$prog" run mod/solo.json --out run1 --quiet || fail "run solo.json"
"$prog" fuzz mod/solo.json --seeds 50 --jobs 1 --keep-going --out fuzz >fuzz.txt 2>&1 || \
    { cat fuzz.txt; fail "fuzz solo.json, 50 seeds"; }
# --module instead of the scenario's own "module" key.
sed 's/"module": "solo.so", //' mod/solo.json > plain.json
"$prog" run --module mod/solo.so plain.json --out run2 --quiet || fail "run --module"
"$prog" list protocols --module mod/solo.so > list.txt || fail "list protocols --module"
grep -q '^solo' list.txt || { cat list.txt; fail "list protocols --module does not show solo"; }
# Replay: the same protocol without the sync before the reply loses
# acknowledged writes at the crash; fuzz finds it, and the failure file
# (which names the module by its absolute path) replays to the same hash.
sed 's/        fl_disk_sync(n, "log");//' "$src/tests/module/solo.c" > nosync.c
cc -std=c11 -shared -fPIC -I"$inc" $(pkg-config --cflags glib-2.0) -o mod/nosync.so nosync.c
sed 's/"solo.so"/"nosync.so"/' mod/solo.json > mod/nosync.json
set +e
"$prog" fuzz mod/nosync.json --seeds 5 --jobs 1 --out fuzz-nosync >nosync.txt 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat nosync.txt; fail "fuzz of the unsynced variant: exit $rc, expected 1"; }
asrun=$(find fuzz-nosync/failures -name '*.json' | head -n 1)
[ -n "$asrun" ] || fail "no failure file from the unsynced variant"
"$prog" replay "$asrun" >replay.txt || { cat replay.txt; fail "replay $asrun"; }

# Bad modules: exit 2, naming the path and the reason.
bad() {  # bad WHAT EXPECTED-TEXT ARGS...
    what=$1 want=$2
    shift 2
    set +e
    "$@" >out.txt 2>err.txt
    rc=$?
    set -e
    [ "$rc" = 2 ] || { cat err.txt; fail "$what: exit $rc, expected 2"; }
    grep -q -- "$want" err.txt || { cat err.txt; fail "$what: no \"$want\" in the message"; }
}
bad "missing file" "nosuch.so: no such file" "$prog" run --module nosuch.so plain.json
echo "not an ELF" > junk.so
bad "not a shared object" "junk.so: not a loadable shared object" "$prog" fuzz --module junk.so plain.json
printf 'int x = 1;\n' > nosym.c
cc -shared -fPIC -o nosym.so nosym.c
bad "missing symbol" "nosym.so: no fl_module symbol" "$prog" run --module nosym.so plain.json
sed 's/FL_MODULE(&solo);/const FlModule fl_module = { FL_ABI_VERSION + 1, 0, NULL };/' \
    "$src/tests/module/solo.c" > oldabi.c
cc -std=c11 -shared -fPIC -I"$inc" $(pkg-config --cflags glib-2.0) -o oldabi.so oldabi.c
bad "wrong ABI version" "oldabi.so: built for faultline ABI version 3" "$prog" replay --module oldabi.so "$asrun"
sed 's/\.name = "solo"/.name = "single"/' "$src/tests/module/solo.c" > dup.c
cc -std=c11 -shared -fPIC -I"$inc" $(pkg-config --cflags glib-2.0) -o dup.so dup.c
bad "duplicate protocol" 'dup.so: protocol "single" is already defined' "$prog" claims --module dup.so plain.json
sed 's/"module": "solo.so"/"module": "nosuch.so"/' mod/solo.json > mod/bad.json
bad "scenario module" "bad.json.*module.*nosuch.so: no such file" "$prog" run mod/bad.json
echo "module test: ok ($(grep -c . fuzz.txt) lines of fuzz output)"
