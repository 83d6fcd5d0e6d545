/* W2 "mesh" (../shared/spec/workloads.md): P nodes running a protocol
 * written against the public node API.  Each node starts by sending K = 10
 * messages of 64 bytes to uniformly random other nodes; every delivery
 * makes the receiver send one more, until 10 million deliveries.  Network:
 * async, uniform delay in [1 ms, 10 ms]. */
#include "sim/run.h"
#include "sim/world.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

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

/* The baseline: the same workload as a tight hand-written loop (a 4-ary
 * heap of (time, seq, receiver) keys, 64-byte payloads copied into a ring of
 * buffers, the same random draws) with no engine at all.  The engine's figure
 * is quoted as a ratio to it, measured in the same run. */
typedef struct { uint64_t t, seq; uint32_t to, buf; } BKey;

static inline int bless(const BKey *a, const BKey *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static double baseline(uint32_t nodes, uint64_t deliveries)
{
    size_t cap = (size_t)nodes * K + 1;
    BKey *h = g_new(BKey, cap);
    uint8_t (*bufs)[PAYLOAD] = g_malloc(cap * PAYLOAD);
    uint32_t *free_bufs = g_new(uint32_t, cap), nfree = 0;
    for (uint32_t i = 0; i < cap; i++)
        free_bufs[nfree++] = i;
    FlRng rng;
    fl_rng_init(&rng, 42, "w2-baseline");
    size_t len = 0;
    uint64_t seq = 0, sends = 0, delivered = 0, sum = 0;
    gint64 t0 = g_get_monotonic_time();
#define SEND(from, now)                                                              \
    do {                                                                             \
        if (sends++ >= deliveries)                                                   \
            break;                                                                   \
        uint32_t to_ = (uint32_t)fl_rng_below(&rng, nodes - 1);                      \
        if (to_ >= (from))                                                           \
            to_++;                                                                   \
        uint32_t b_ = free_bufs[--nfree];                                            \
        for (int i_ = 0; i_ < PAYLOAD; i_++)                                         \
            bufs[b_][i_] = (uint8_t)((from) + i_);                                   \
        BKey k_ = { (now) + (uint64_t)fl_rng_range(&rng, FL_MS(1), FL_MS(10)), seq++, to_, b_ }; \
        size_t p_ = len++;                                                           \
        while (p_ > 0 && bless(&k_, &h[(p_ - 1) >> 2])) {                            \
            h[p_] = h[(p_ - 1) >> 2];                                                \
            p_ = (p_ - 1) >> 2;                                                      \
        }                                                                            \
        h[p_] = k_;                                                                  \
    } while (0)
    for (uint32_t n = 0; n < nodes; n++)
        for (int k = 0; k < K; k++)
            SEND(n, 0);
    while (len > 0) {
        BKey top = h[0], last = h[--len];
        size_t pos = 0;
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
        sum += bufs[top.buf][PAYLOAD - 1];   /* the receiver reads its payload */
        free_bufs[nfree++] = top.buf;
        delivered++;
        SEND(top.to, top.t);
    }
#undef SEND
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    g_assert(delivered == deliveries && sum > 0);
    g_free(h);
    g_free(bufs);
    g_free(free_bufs);
    return (double)delivered / secs;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void run(uint32_t nodes, uint64_t deliveries)
{
    FlScenario *sc = fl_scenario_new(&mesh, nodes);
    sc->duration = FL_SEC(1000000);
    sc->net.timing = FL_TIMING_ASYNC;
    sc->net.delay = (FlDelaySpec){ .dist = FL_DIST_UNIFORM, .min = FL_MS(1), .max = FL_MS(10) };
    sends_left = deliveries;
    FlWorld *w = fl_world_new(sc, &(FlWorldOptions){ .record_history = false }, NULL);
    gint64 t0 = g_get_monotonic_time();
    g_assert(fl_world_run(w, NULL) == 0);
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    const FlRunStats *st = fl_world_stats(w);
    g_assert(st->delivered == deliveries);
    long rss = peak_rss_kb();
    double base = baseline(nodes, deliveries);
    printf("bench=W2 nodes=%u deliveries=%" G_GUINT64_FORMAT " seconds=%.2f deliveries_per_s=%.0f"
           " peak_rss_kb=%ld baseline_deliveries_per_s=%.0f ratio=%.2f\n",
           nodes, st->delivered, secs, (double)st->delivered / secs, rss, base,
           (double)st->delivered / secs / base);
    fflush(stdout);
    fl_world_free(w);
    fl_scenario_free(sc);
}

int main(int argc, char **argv)
{
    uint64_t deliveries = 10000000;
    if (argc > 1) {
        run((uint32_t)strtoul(argv[1], NULL, 10), deliveries);
        return 0;
    }
    uint32_t sizes[] = { 5, 100, 1000 };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++)
        run(sizes[i], deliveries);
    return 0;
}
