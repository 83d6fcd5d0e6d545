/* W2 "mesh" (../shared/spec/workloads.md): P nodes running a protocol
 * written against the public node API.  Each node starts by sending K = 10
 * messages of 64 bytes to uniformly random other nodes; every delivery
 * makes the receiver send one more, until D deliveries.  Network: async,
 * uniform delay in [1 ms, 10 ms].
 *
 * Scaling (issue 25): P = 5, 100, 1000, 10000, each next to two hand-written
 * loops of the same workload in the same process (a 4-ary heap and the
 * calendar queue of calq.h), ROUNDS rounds of D deliveries each (the order
 * rotates every round; the initial sends are not timed in any of them).
 * The line gives medians; the ratio is the median over rounds of engine /
 * (the faster hand-written loop of that round).  Memory: the scheduler's
 * arrays per pending event (10 P pending), counted (fl_sched_bytes), and
 * the peak-RSS growth of the first engine round per node (getrusage maxrss
 * delta; 0 when an earlier, larger peak was reused).
 *
 *   bench-w2-mesh [--quick] [P...]   (FAULTLINE_BENCH_QUICK=1 = --quick:
 *   P = 5, 100, 1000 and 3 rounds; FAULTLINE_BENCH_ROUNDS, _DELIVERIES) */
#include "sim/run.h"
#include "sim/world.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { K = 10, PAYLOAD = 64 };

/* The budget of sends is the benchmark's, not the protocol's: a counter
 * shared by the nodes (a benchmark may keep one global). */
static uint64_t sends_left;

typedef struct Mesh {
    uint64_t received;
} Mesh;

static void send_one(FlNode *n)
{
    if (sends_left == 0)
        return;
    sends_left--;
    uint32_t self = fl_self(n);
    uint8_t payload[PAYLOAD];
    for (int i = 0; i < PAYLOAD; i++)
        payload[i] = (uint8_t)(self + i);
    uint32_t to = (uint32_t)fl_rng_below(fl_rng(n), fl_nodes(n) - 1);
    if (to >= self)
        to++;
    fl_send(n, to, payload, sizeof payload);
}

static void mesh_init(FlNode *n, void *state)
{
    for (int i = 0; i < K; i++)
        send_one(n);
}

static void mesh_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                            size_t len)
{
    Mesh *m = state;
    g_assert(len == PAYLOAD);
    m->received++;
    send_one(n);
}

static const FlProtocol mesh = {
    .name = "mesh",
    .summary = "benchmark W2",
    .state_size = sizeof(Mesh),
    .init = mesh_init,
    .on_message = mesh_on_message,
};

/* ---- the hand-written loops: no engine at all ------------------------
 * Keys (time, seq, receiver, buffer); 64-byte payloads copied into a pool
 * of buffers and read by the receiver; the same random draws. */
typedef struct { uint64_t t, seq; uint32_t to, buf; } BKey;
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

static inline int bless(const BKey *a, const BKey *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

typedef struct Heap {
    BKey *h;
    size_t len;
} Heap;

static inline void heap_push(Heap *q, BKey k)
{
    BKey *h = q->h;
    size_t p = q->len++;
    while (p > 0 && bless(&k, &h[(p - 1) >> 2])) {
        h[p] = h[(p - 1) >> 2];
        p = (p - 1) >> 2;
    }
    h[p] = k;
}

static inline BKey heap_pop(Heap *q)
{
    BKey *h = q->h;
    BKey top = h[0], last = h[--q->len];
    size_t pos = 0, len = q->len;
    for (;;) {
        size_t c = 4 * pos + 1, best = c;
        if (c >= len)
            break;
        size_t end = c + 4 < len ? c + 4 : len;
        for (size_t j = c + 1; j < end; j++)
            if (bless(&h[j], &h[best]))
                best = j;
        if (!bless(&h[best], &last))
            break;
        h[pos] = h[best];
        pos = best;
    }
    h[pos] = last;
    return top;
}

/* One loop body for both queues: PUSH(key) and POP(&key) name the queue. */
#define LOOP(PUSH, POP, EMPTY)                                                         \
    do {                                                                               \
        for (uint32_t n = 0; n < nodes; n++)                                           \
            for (int k = 0; k < K; k++)                                                \
                SEND(n, 0);                                                            \
        t0 = cpu_us();                                                   \
        BKey top = { 0, 0, 0, 0 };                                                     \
        while (!(EMPTY)) {                                                             \
            POP(&top);                                                                 \
            sum += bufs[top.buf][PAYLOAD - 1]; /* the receiver reads its payload */    \
            free_bufs[nfree++] = top.buf;                                              \
            delivered++;                                                               \
            SEND(top.to, top.t);                                                       \
        }                                                                              \
    } while (0)

#define SEND(from, now)                                                                  \
    do {                                                                                 \
        if (sends++ >= deliveries)                                                       \
            break;                                                                       \
        uint32_t to_ = (uint32_t)fl_rng_below(&rng, nodes - 1);                          \
        if (to_ >= (from))                                                               \
            to_++;                                                                       \
        uint32_t b_ = free_bufs[--nfree];                                                \
        for (int i_ = 0; i_ < PAYLOAD; i_++)                                             \
            bufs[b_][i_] = (uint8_t)((from) + i_);                                       \
        BKey k_ = { (now) + (uint64_t)fl_rng_range(&rng, FL_MS(1), FL_MS(10)), seq++, to_, b_ }; \
        PUSH_KEY(k_);                                                                    \
    } while (0)

static double baseline(int calendar, uint32_t nodes, uint64_t deliveries)
{
    size_t cap = (size_t)nodes * K + 1;
    uint8_t (*bufs)[PAYLOAD] = g_malloc(cap * PAYLOAD);
    uint32_t *free_bufs = g_new(uint32_t, cap), nfree = 0;
    for (uint32_t i = 0; i < cap; i++)
        free_bufs[nfree++] = i;
    FlRng rng;
    fl_rng_init(&rng, 42, "w2-baseline");
    uint64_t seq = 0, sends = 0, delivered = 0, sum = 0;
    gint64 t0;
    if (calendar) {
        Cq q;
        cq_init(&q);
#define PUSH_KEY(k) cq_push(&q, k)
#define POP_KEY(k) cq_pop(&q, k)
        LOOP(PUSH_KEY, POP_KEY, q.len == 0);
#undef PUSH_KEY
#undef POP_KEY
        cq_deinit(&q);
    } else {
        Heap q = { .h = g_new(BKey, cap) };
#define PUSH_KEY(k) heap_push(&q, k)
#define POP_KEY(k) (*(k) = heap_pop(&q))
        LOOP(PUSH_KEY, POP_KEY, q.len == 0);
#undef PUSH_KEY
#undef POP_KEY
        g_free(q.h);
    }
    double secs = (double)(cpu_us() - t0) / 1e6;
    g_assert(delivered == deliveries && sum > 0);
    g_free(bufs);
    g_free(free_bufs);
    return (double)delivered / secs;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* One engine round: deliveries per second of fl_world_run (the world and
 * its initial sends are made before the clock starts). */
static double engine(uint32_t nodes, uint64_t deliveries, size_t *sched_bytes)
{
    FlScenario *sc = fl_scenario_new(&mesh, nodes);
    sc->duration = FL_SEC(1000000);
    sc->max_events = UINT64_MAX;
    sc->net.timing = FL_TIMING_ASYNC;
    sc->net.delay = (FlDelaySpec){ .dist = FL_DIST_UNIFORM, .min = FL_MS(1), .max = FL_MS(10) };
    sends_left = deliveries;
    FlWorld *w = fl_world_new(sc, &(FlWorldOptions){ .record_history = false }, NULL);
    gint64 t0 = cpu_us();
    g_assert(fl_world_run(w, NULL) == 0);
    double secs = (double)(cpu_us() - t0) / 1e6;
    const FlRunStats *st = fl_world_stats(w);
    g_assert(st->delivered == deliveries);
    *sched_bytes = fl_world_sched_bytes(w);
    fl_world_free(w);
    fl_scenario_free(sc);
    return (double)deliveries / secs;
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

enum { MAX_ROUNDS = 15 };

static void run(uint32_t nodes, int rounds, uint64_t deliveries)
{
    int only = g_getenv("FAULTLINE_BENCH_ONLY") ? atoi(g_getenv("FAULTLINE_BENCH_ONLY")) : -1;
    double eng[MAX_ROUNDS], heap[MAX_ROUNDS], cal[MAX_ROUNDS], ratio[MAX_ROUNDS];
    double secs = 0;
    size_t sched_bytes = 0;
    long rss_kb = 0;
    for (int r = 0; r < rounds; r++) {
        double rate[3];
        for (int k = 0; k < 3; k++) {
            int which = (k + r) % 3;
            /* FAULTLINE_BENCH_ONLY=0/1/2 runs only the engine / heap /
             * calendar, for perf stat and perf record. */
            if (only >= 0 && which != only) {
                rate[which] = 1;
                continue;
            }
            if (which == 0) {
                long before = maxrss_kb();
                rate[0] = engine(nodes, deliveries, &sched_bytes);
                if (r == 0)
                    rss_kb = maxrss_kb() - before;
            } else {
                rate[which] = baseline(which == 2, nodes, deliveries);
            }
        }
        eng[r] = rate[0];
        heap[r] = rate[1];
        cal[r] = rate[2];
        ratio[r] = rate[0] / (rate[1] > rate[2] ? rate[1] : rate[2]);
        secs += (double)deliveries / rate[0];
    }
    double rmin = ratio[0], rmax = ratio[0];
    for (int r = 1; r < rounds; r++) {
        rmin = ratio[r] < rmin ? ratio[r] : rmin;
        rmax = ratio[r] > rmax ? ratio[r] : rmax;
    }
    printf("bench=W2 nodes=%u deliveries=%" G_GUINT64_FORMAT " seconds=%.2f deliveries_per_s=%.0f"
           " peak_rss_kb=%ld heap_deliveries_per_s=%.0f calendar_deliveries_per_s=%.0f ratio=%.2f"
           " ratio_min=%.2f ratio_max=%.2f rounds=%d sched_bytes_per_pending=%.1f"
           " rss_bytes_per_node=%.0f\n",
           nodes, deliveries * (uint64_t)rounds, secs, median(eng, rounds), maxrss_kb(),
           median(heap, rounds), median(cal, rounds), median(ratio, rounds), rmin, rmax, rounds,
           (double)sched_bytes / ((double)nodes * K), (double)rss_kb * 1024.0 / nodes);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bool quick = g_getenv("FAULTLINE_BENCH_QUICK") && strcmp(g_getenv("FAULTLINE_BENCH_QUICK"), "0");
    uint32_t given[16];
    int ngiven = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (ngiven < 16)
            given[ngiven++] = (uint32_t)strtod(argv[i], NULL);
    }
    int rounds = quick ? 3 : 5;
    if (g_getenv("FAULTLINE_BENCH_ROUNDS"))
        rounds = atoi(g_getenv("FAULTLINE_BENCH_ROUNDS"));
    rounds = CLAMP(rounds, 1, MAX_ROUNDS);
    uint64_t deliveries = 4000000;
    if (g_getenv("FAULTLINE_BENCH_DELIVERIES"))
        deliveries = strtoull(g_getenv("FAULTLINE_BENCH_DELIVERIES"), NULL, 10);
    if (ngiven) {
        for (int i = 0; i < ngiven; i++)
            run(given[i], rounds, deliveries);
        return 0;
    }
    uint32_t full[] = { 5, 100, 1000, 10000 };
    uint32_t fast[] = { 5, 100, 1000 };
    uint32_t *sizes = quick ? fast : full;
    size_t count = quick ? G_N_ELEMENTS(fast) : G_N_ELEMENTS(full);
    for (size_t i = 0; i < count; i++)
        run(sizes[i], rounds, deliveries);
    return 0;
}
