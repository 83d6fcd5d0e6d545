/* pct: delivery order by node priority, with priority change points, after
 * PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized Scheduler
 * with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010).
 *
 * Design notes.
 * 1. PCT schedules the threads of one program: each of the n threads gets
 *    a distinct random priority from d .. d+n-1; at every step the enabled
 *    thread of highest priority runs; at d-1 change points (steps drawn
 *    uniformly from 1..k) the running thread's priority drops to i (at the
 *    i-th point), below every initial priority.  A bug of depth d (one that
 *    needs d ordering constraints) is then found with probability at least
 *    1/(n k^(d-1)) per run, where random scheduling gives exponentially
 *    less.
 * 2. From threads to a timed network.  Our "threads" are the server nodes
 *    and a step is a message on its way.  The engine runs events in time
 *    order, so a priority cannot pick the next event directly; it becomes
 *    time instead: a message sent by the node of rank r (0 = highest) waits
 *    r x `step` more.  Two messages sent at the same instant then arrive in
 *    their senders' priority order whenever `step` exceeds the spread of
 *    the network's delays, and a high-priority sender's message overtakes
 *    one sent up to about `step` earlier by the next rank: the receivers
 *    act on the favoured node's messages first, as PCT runs its thread
 *    first.  The rank is the sender's: what a node sends is the effect of
 *    its step.
 * 3. Change points.  `changes` is PCT's d-1 (depth d = changes + 1).  Their
 *    times are drawn uniformly from the fault's window: virtual time stands
 *    for PCT's step count k, which a run does not know ahead.  At the i-th
 *    point the top node (the one whose messages overtake everyone's) gets
 *    priority i: below every node not demoted yet, above those demoted
 *    before it, exactly PCT's assignment.  PCT demotes the thread running
 *    at that step; in a network every node may have messages in flight, so
 *    we demote the one the schedule favours, which is the one PCT would
 *    most likely be running.  With `changes` >= n every node is demoted at
 *    some point; a later change point then demotes the latest-demoted
 *    node, which stays on top (PCT's value i rises with i), and the order
 *    no longer changes: depths beyond the node count add nothing here.
 * 4. Client requests and replies are not ranked: the workload's latency
 *    changes only through what the servers do.
 * 5. Everything is drawn from the faults' stream when the fault starts: the
 *    order (high to low) and the change times are in the start line, and
 *    each change point logs the new order, so the trace shows the whole
 *    schedule. */
#include "faults/links.h"

typedef struct Pct {
    int filter;           /* first: fl_fault_net_stop */
    FlDuration step;
    int64_t changes;
    uint32_t nodes;
    int64_t *prio;        /* per node: PCT's priority value (note 1) */
    uint32_t *rank;       /* per node: 0 = highest priority */
    FlTime *points;       /* change times, ascending */
    uint32_t done;        /* change points passed */
    uint32_t fault;
} Pct;

static bool pct_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                      const FlScenario *sc)
{
    Pct *p = f->state;
    p->nodes = sc->nodes;
    if (sc->nodes < 2)
        return fl_jv_errorf(jv, path, "kind", "priorities need at least 2 nodes");
    return fl_jv_duration(jv, spec, path, "step", out, false, FL_MS(10), 1, &p->step) &&
           fl_jv_int(jv, spec, path, "changes", out, false, 2, 0, 64, &p->changes);
}

static FlFilterAction pct_filter(void *ctx, uint32_t from, uint32_t to, FlTime now, FlRng *rng,
                                 FlDuration *extra)
{
    Pct *p = ctx;
    if (from < p->nodes && to < p->nodes)
        *extra += p->step * (FlDuration)p->rank[from];   /* note 2 */
    return FL_FILTER_PASS;
}

/* Ranks from priorities (distinct by construction, note 1), and the order
 * high to low as text. */
static char *rerank(Pct *p)
{
    GString *s = g_string_new(NULL);
    for (uint32_t a = 0; a < p->nodes; a++) {
        p->rank[a] = 0;
        for (uint32_t b = 0; b < p->nodes; b++)
            p->rank[a] += p->prio[b] > p->prio[a];
    }
    for (uint32_t r = 0; r < p->nodes; r++)
        for (uint32_t a = 0; a < p->nodes; a++)
            if (p->rank[a] == r)
                g_string_append_printf(s, "%s%u", r ? "," : "", a);
    return g_string_free(s, FALSE);
}

/* The i-th change point (note 3). */
static void change_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    Pct *p = ctx;
    if (!p->filter)
        return;   /* stopped early (a nemesis healing everything) */
    uint32_t top = 0;
    for (uint32_t a = 0; a < p->nodes; a++)
        if (p->rank[a] == 0)
            top = a;
    p->prio[top] = (int64_t)arg;
    p->done = (uint32_t)arg;
    g_autofree char *order = rerank(p);
    g_autofree char *text = g_strdup_printf("change %u: %u drops; order %s", (unsigned)arg, top,
                                            order);
    fl_world_fault_event(w, p->fault, "pct", "step", text);
}

static int cmp_time(const void *a, const void *b)
{
    FlTime x = *(const FlTime *)a, y = *(const FlTime *)b;
    return x < y ? -1 : x > y;
}

static void pct_start(FlFault *f, FlWorld *w)
{
    Pct *p = f->state;
    uint32_t n = p->nodes;
    FlRng *rng = fl_world_fault_rng(w);
    FlTime now = fl_world_now(w);
    FlTime end = f->dur > 0 ? now + (FlTime)f->dur : (FlTime)fl_world_scenario(w)->duration;
    p->fault = f->index;
    g_free(p->prio);
    g_free(p->rank);
    g_free(p->points);
    p->prio = g_new(int64_t, n);
    p->rank = g_new(uint32_t, n);
    p->points = g_new(FlTime, p->changes > 0 ? p->changes : 1);
    /* A uniform permutation (inside-out Fisher-Yates); position k of
     * `order` is rank k, holding priority changes + n - k (note 1). */
    g_autofree uint32_t *order = g_new(uint32_t, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = (uint32_t)fl_rng_below(rng, i + 1);
        order[i] = order[j];
        order[j] = i;
    }
    for (uint32_t k = 0; k < n; k++)
        p->prio[order[k]] = p->changes + (int64_t)(n - k);
    for (int64_t i = 0; i < p->changes; i++)
        p->points[i] = end > now ? now + fl_rng_below(rng, end - now) : now;
    qsort(p->points, (size_t)p->changes, sizeof(FlTime), cmp_time);
    p->done = 0;
    g_autofree char *ranked = rerank(p);
    char a[32];
    g_autoptr(GString) text = g_string_new(NULL);
    g_string_printf(text, "order %s step=%s changes=%" G_GINT64_FORMAT, ranked,
                    fl_duration_format(p->step, a), p->changes);
    for (int64_t i = 0; i < p->changes; i++) {
        g_string_append_printf(text, "%s%s", i ? "," : " at ",
                               fl_duration_format((FlDuration)p->points[i], a));
        fl_world_at(w, p->points[i], change_cb, p, (uint64_t)i + 1);
    }
    p->filter = fl_net_add_filter(fl_world_net(w), pct_filter, p);
    fl_world_fault_event(w, f->index, "pct", "start", text->str);
}

static void pct_stop(FlFault *f, FlWorld *w)
{
    Pct *p = f->state;
    g_autofree char *text = g_strdup_printf("%u of %" G_GINT64_FORMAT " change points passed",
                                            p->done, p->changes);
    fl_fault_net_stop_text(f, w, text);
}

static void pct_destroy(FlFault *f)
{
    Pct *p = f->state;
    g_free(p->prio);
    g_free(p->rank);
    g_free(p->points);
}

static const FlFaultField pct_fields[] = {
    { "step", "extra delay per rank below the top: rank r waits r x step (default 10ms); above the network's delay spread, same-instant messages arrive in priority order" },
    { "changes", "priority change points in the window, PCT's depth d minus 1 (default 2, at most 64)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_pct = {
    .name = "pct",
    .summary = "PCT priorities: a random node order decides delivery order (lower ranks wait longer), with random change points",
    .fields = pct_fields,
    .state_size = sizeof(Pct),
    .parse = pct_parse,
    .start = pct_start,
    .stop = pct_stop,
    .destroy = pct_destroy,
};
