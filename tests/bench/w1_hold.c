/* W1 "hold" (../shared/spec/workloads.md): the classic hold model on the
 * engine's own scheduler.  N pending events at exponential times (mean
 * 1 ms); each step pops the earliest and pushes one at now + exp(1 ms).
 * 1 million warm-up steps, then 10 million counted. */
#include "sim/rng.h"
#include "sim/sched.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

/* The baseline: a tight hand-written 4-ary heap of (time, seq) and nothing
 * else, no pool, no payload, no cancellation.  The engine's figure is
 * quoted as a ratio to it, measured in the same run. */
typedef struct { uint64_t t, seq; } BKey;

static inline int bless(BKey a, BKey b)
{
    return a.t < b.t || (a.t == b.t && a.seq < b.seq);
}

static double baseline(size_t n, uint64_t steps, uint64_t warmup)
{
    BKey *h = g_new(BKey, n + 1);
    FlRng rng;
    fl_rng_init(&rng, 42, "w1");
    uint64_t seq = 0;
    size_t len = 0;
    for (uint64_t i = 0; i < n + warmup + steps; i++) {
        static gint64 t0;
        if (i == n + warmup)
            t0 = g_get_monotonic_time();
        uint64_t now = 0;
        if (i >= n) {
            now = h[0].t;
            BKey last = h[--len];
            size_t pos = 0;
            for (;;) {
                size_t c = 4 * pos + 1, best = c;
                if (c >= len)
                    break;
                size_t end = c + 4 < len ? c + 4 : len;
                for (size_t j = c + 1; j < end; j++)
                    if (bless(h[j], h[best]))
                        best = j;
                if (!bless(h[best], last))
                    break;
                h[pos] = h[best];
                pos = best;
            }
            h[pos] = last;
        }
        BKey k = { now + (uint64_t)fl_rng_exp(&rng, 1e6), seq++ };
        size_t pos = len++;
        while (pos > 0 && bless(k, h[(pos - 1) >> 2])) {
            h[pos] = h[(pos - 1) >> 2];
            pos = (pos - 1) >> 2;
        }
        h[pos] = k;
        if (i == n + warmup + steps - 1) {
            g_free(h);
            return (double)steps / ((double)(g_get_monotonic_time() - t0) / 1e6);
        }
    }
    g_assert_not_reached();
}

static void hold(size_t n, uint64_t steps, uint64_t warmup)
{
    FlSched *s = fl_sched_new();
    FlRng rng;
    fl_rng_init(&rng, 42, "w1");
    const double mean = 1e6;   /* 1 ms in ns */
    FlEvent ev = { .kind = 1 };
    for (size_t i = 0; i < n; i++)
        fl_sched_push(s, (FlTime)fl_rng_exp(&rng, mean), &ev);
    FlTime at;
    FlEvent out;
    for (uint64_t i = 0; i < warmup; i++) {
        fl_sched_pop(s, &at, &out);
        fl_sched_push(s, at + (FlTime)fl_rng_exp(&rng, mean), &out);
    }
    gint64 t0 = g_get_monotonic_time();
    for (uint64_t i = 0; i < steps; i++) {
        fl_sched_pop(s, &at, &out);
        fl_sched_push(s, at + (FlTime)fl_rng_exp(&rng, mean), &out);
    }
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    g_assert(fl_sched_pending(s) == n);
    double base = baseline(n, steps, warmup);
    printf("bench=W1 n=%zu events=%" G_GUINT64_FORMAT " seconds=%.2f events_per_s=%.0f"
           " baseline_events_per_s=%.0f ratio=%.2f\n",
           n, steps, secs, (double)steps / secs, base, (double)steps / secs / base);
    fflush(stdout);
    fl_sched_free(s);
}

int main(int argc, char **argv)
{
    /* `w1_hold N` runs one size; no argument runs the three of the spec. */
    uint64_t steps = 10000000, warmup = 1000000;
    if (argc > 1) {
        hold((size_t)strtoull(argv[1], NULL, 10), steps, warmup);
        return 0;
    }
    size_t sizes[] = { 1000, 100000, 1000000 };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++)
        hold(sizes[i], steps, warmup);
    return 0;
}
