/* W1 "hold" (../shared/spec/workloads.md): the classic hold model on the
 * engine's own scheduler.  N pending events at exponential times (mean
 * 1 ms); each step pops the earliest and pushes one at now + exp(1 ms).
 *
 * Scaling (issue 25): N = 1e3 .. 1e7, each next to two hand-written loops of
 * the same workload in the same process, a 4-ary heap and a calendar queue
 * (calq.h).  The three queues are built and warmed up (1 million steps)
 * side by side, then run ROUNDS rounds of STEPS steps each, in an order that
 * rotates every round; the line gives medians, and the ratio is the median
 * over rounds of engine / (the faster hand-written loop of that round).
 * Memory per pending event: the scheduler's own arrays, counted
 * (fl_sched_bytes, capacities), and the peak-RSS growth while the engine's
 * queue was built (getrusage maxrss delta; 0 when an earlier, larger peak
 * was reused).
 *
 *   bench-w1-hold [--quick] [N...]   (FAULTLINE_BENCH_QUICK=1 = --quick:
 *   N = 1e3, 1e5, 1e6 and 3 rounds; FAULTLINE_BENCH_ROUNDS, _STEPS) */
#include "sim/rng.h"
#include "sim/sched.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct { uint64_t t, seq; } BKey;
#define CQ_KEY BKey
#include "calq.h"

/* Time is the thread's CPU time, not the wall clock: the machines these
 * run on are shared, and a round descheduled for a while would otherwise
 * count the other jobs' time as ours. */
static gint64 cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (gint64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const double MEAN = 1e6;   /* 1 ms in ns */

/* ---- the hand-written 4-ary heap: (time, seq) and nothing else -------- */

typedef struct Heap {
    BKey *h;
    size_t len;
    uint64_t seq;
    FlRng rng;
} Heap;

static inline int bless(BKey a, BKey b)
{
    return a.t < b.t || (a.t == b.t && a.seq < b.seq);
}

static inline void heap_push(Heap *q, uint64_t t)
{
    BKey k = { t, q->seq++ };
    BKey *h = q->h;
    size_t pos = q->len++;
    while (pos > 0 && bless(k, h[(pos - 1) >> 2])) {
        h[pos] = h[(pos - 1) >> 2];
        pos = (pos - 1) >> 2;
    }
    h[pos] = k;
}

static inline uint64_t heap_pop(Heap *q)
{
    BKey *h = q->h;
    uint64_t now = h[0].t;
    BKey last = h[--q->len];
    size_t len = q->len, pos = 0;
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
    return now;
}

static void heap_steps(Heap *q, uint64_t steps)
{
    for (uint64_t i = 0; i < steps; i++) {
        uint64_t now = heap_pop(q);
        heap_push(q, now + (uint64_t)fl_rng_exp(&q->rng, MEAN));
    }
}

/* ---- the hand-written calendar queue ---------------------------------- */

typedef struct Cal {
    Cq q;
    uint64_t seq;
    FlRng rng;
} Cal;

static void cal_steps(Cal *c, uint64_t steps)
{
    BKey k = { 0, 0 };
    for (uint64_t i = 0; i < steps; i++) {
        cq_pop(&c->q, &k);
        cq_push(&c->q, (BKey){ k.t + (uint64_t)fl_rng_exp(&c->rng, MEAN), c->seq++ });
    }
}

/* ---- the engine's scheduler ------------------------------------------- */

typedef struct Eng {
    FlSched *s;
    FlRng rng;
} Eng;

static void eng_steps(Eng *e, uint64_t steps)
{
    FlTime at;
    FlEvent out;
    for (uint64_t i = 0; i < steps; i++) {
        fl_sched_pop(e->s, &at, &out);
        fl_sched_push(e->s, at + (FlTime)fl_rng_exp(&e->rng, MEAN), &out);
    }
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double timed(int which, Eng *e, Heap *h, Cal *c, uint64_t steps)
{
    gint64 t0 = cpu_us();
    if (which == 0)
        eng_steps(e, steps);
    else if (which == 1)
        heap_steps(h, steps);
    else
        cal_steps(c, steps);
    return (double)steps / ((double)(cpu_us() - t0) / 1e6);
}

enum { MAX_ROUNDS = 15 };

static void hold(size_t n, int rounds, uint64_t steps)
{
    const uint64_t warmup = 1000000;
    /* Same seed for the three: the same workload, draw for draw. */
    long rss0 = maxrss_kb();
    Eng e = { .s = fl_sched_new() };
    fl_rng_init(&e.rng, 42, "w1");
    FlEvent ev = { .kind = 1 };
    for (size_t i = 0; i < n; i++)
        fl_sched_push(e.s, (FlTime)fl_rng_exp(&e.rng, MEAN), &ev);
    eng_steps(&e, warmup);
    long rss_engine_kb = maxrss_kb() - rss0;

    Heap h = { .h = g_new(BKey, n + 1) };
    fl_rng_init(&h.rng, 42, "w1");
    for (size_t i = 0; i < n; i++)
        heap_push(&h, (uint64_t)fl_rng_exp(&h.rng, MEAN));
    heap_steps(&h, warmup);

    Cal c;
    cq_init(&c.q);
    c.seq = 0;
    fl_rng_init(&c.rng, 42, "w1");
    for (size_t i = 0; i < n; i++)
        cq_push(&c.q, (BKey){ (uint64_t)fl_rng_exp(&c.rng, MEAN), c.seq++ });
    cal_steps(&c, warmup);

    double eng[MAX_ROUNDS], heap[MAX_ROUNDS], cal[MAX_ROUNDS], ratio[MAX_ROUNDS];
    double secs = 0;
    for (int r = 0; r < rounds; r++) {
        double rate[3];
        for (int k = 0; k < 3; k++) {
            int which = (k + r) % 3;
            rate[which] = timed(which, &e, &h, &c, steps);
        }
        eng[r] = rate[0];
        heap[r] = rate[1];
        cal[r] = rate[2];
        ratio[r] = rate[0] / (rate[1] > rate[2] ? rate[1] : rate[2]);
        secs += (double)steps / rate[0];
    }
    g_assert(fl_sched_pending(e.s) == n && h.len == n && c.q.len == n);
    double bytes = (double)fl_sched_bytes(e.s) / (double)n;
    double rmin = ratio[0], rmax = ratio[0];
    for (int r = 1; r < rounds; r++) {
        rmin = ratio[r] < rmin ? ratio[r] : rmin;
        rmax = ratio[r] > rmax ? ratio[r] : rmax;
    }
    printf("bench=W1 n=%zu events=%" G_GUINT64_FORMAT " seconds=%.2f events_per_s=%.0f"
           " heap_events_per_s=%.0f calendar_events_per_s=%.0f ratio=%.2f ratio_min=%.2f"
           " ratio_max=%.2f rounds=%d sched_bytes_per_pending=%.1f rss_bytes_per_pending=%.1f\n",
           n, steps * (uint64_t)rounds, secs, median(eng, rounds), median(heap, rounds),
           median(cal, rounds), median(ratio, rounds), rmin, rmax, rounds, bytes,
           (double)rss_engine_kb * 1024.0 / (double)n);
    fflush(stdout);
    fl_sched_free(e.s);
    g_free(h.h);
    cq_deinit(&c.q);
}

int main(int argc, char **argv)
{
    bool quick = g_getenv("FAULTLINE_BENCH_QUICK") && strcmp(g_getenv("FAULTLINE_BENCH_QUICK"), "0");
    size_t given[16];
    int ngiven = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (ngiven < 16)
            given[ngiven++] = (size_t)strtod(argv[i], NULL);
    }
    int rounds = quick ? 3 : 5;
    if (g_getenv("FAULTLINE_BENCH_ROUNDS"))
        rounds = atoi(g_getenv("FAULTLINE_BENCH_ROUNDS"));
    rounds = CLAMP(rounds, 1, MAX_ROUNDS);
    uint64_t steps = 2000000;
    if (g_getenv("FAULTLINE_BENCH_STEPS"))
        steps = strtoull(g_getenv("FAULTLINE_BENCH_STEPS"), NULL, 10);
    if (ngiven) {
        for (int i = 0; i < ngiven; i++)
            hold(given[i], rounds, steps);
        return 0;
    }
    size_t full[] = { 1000, 10000, 100000, 1000000, 10000000 };
    size_t fast[] = { 1000, 100000, 1000000 };
    size_t *sizes = quick ? fast : full;
    size_t count = quick ? G_N_ELEMENTS(fast) : G_N_ELEMENTS(full);
    for (size_t i = 0; i < count; i++)
        hold(sizes[i], rounds, steps);
    return 0;
}
