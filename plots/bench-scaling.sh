#!/bin/sh
# The engine's scaling figure (issue 25): events per second against size,
# W1 (hold) and W2 (mesh), the engine next to the hand-written heap and
# calendar-queue loops, from the benchmarks' output lines.
# Usage (from the source root):
#   plots/bench-scaling.sh [W1_OUTPUT W2_OUTPUT] [PNG]
# Without files it runs build/tests/bench/bench-w1-hold and bench-w2-mesh
# (about 3 minutes; FAULTLINE_BENCH_QUICK=1 for fewer sizes).  Writes PNG
# (default plots/examples/engine-scaling.png).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 2 ]; then
    w1=$1 w2=$2
    shift 2
else
    build/tests/bench/bench-w1-hold | tee "$tmp/w1.txt"
    build/tests/bench/bench-w2-mesh | tee "$tmp/w2.txt"
    w1=$tmp/w1.txt w2=$tmp/w2.txt
fi
png=${1:-plots/examples/engine-scaling.png}
# extract FILE SIZE A B C: per bench line, SIZE and the fields A B C (in
# millions) and the ratio.
extract() {
    awk -v size="$2" -v a="$3" -v b="$4" -v c="$5" '
        /^bench=/ {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            print v[size], v[a] / 1e6, v[b] / 1e6, v[c] / 1e6, v["ratio"]
        }' "$1"
}
extract "$w1" n events_per_s heap_events_per_s calendar_events_per_s >"$tmp/w1.dat"
extract "$w2" nodes deliveries_per_s heap_deliveries_per_s calendar_deliveries_per_s >"$tmp/w2.dat"
gnuplot <<GP
set terminal pngcairo size 1100,450 font "sans,10"
set output "$png"
set multiplot layout 1,2
set logscale x
set grid
set key top right
set ylabel "million events per second (CPU time)"
set yrange [0:*]
set title "W1 hold: N pending events"
set xlabel "N"
plot "$tmp/w1.dat" using 1:2 with linespoints lw 2 title "engine", \
     "" using 1:3 with linespoints dt 2 title "hand-written 4-ary heap", \
     "" using 1:4 with linespoints dt 3 title "hand-written calendar queue", \
     "" using 1:2:(sprintf("%.2fx", \$5)) with labels offset 0,1 notitle
set title "W2 mesh: P nodes, 10 P messages in flight"
set xlabel "P"
set ylabel "million deliveries per second (CPU time)"
plot "$tmp/w2.dat" using 1:2 with linespoints lw 2 title "engine", \
     "" using 1:3 with linespoints dt 2 title "hand-written 4-ary heap", \
     "" using 1:4 with linespoints dt 3 title "hand-written calendar queue", \
     "" using 1:2:(sprintf("%.2fx", \$5)) with labels offset 0,1 notitle
unset multiplot
GP
echo "bench-scaling: wrote $png"
