/* clog: FoundationDB's swizzle.  Links between servers are clogged one at a
 * time, `every` apart, then restored one at a time in another random order.
 * A clogged link loses nothing: it holds its messages and lets them through
 * when it is restored, as a stalled TCP connection does, unless `capacity`
 * bounds how many it holds; then what overflows is dropped.  Clients are
 * never clogged.
 *
 * The whole schedule is drawn from the faults' stream when the fault
 * starts, so a message sent on a clogged link knows when the link will be
 * restored and is simply delayed until then.  The fault's own end (`for`,
 * `until`) restores every link still clogged. */
#include "faults/links.h"

typedef struct Link {
    uint32_t a, b;       /* a < b */
    FlTime clog, restore;
    uint64_t held;       /* messages held during its clog */
} Link;

typedef struct Clog {
    FlDuration every;
    int64_t links_max;   /* 0: every link */
    int64_t capacity;    /* 0: unbounded */
    uint32_t nodes;
    Link *links;
    uint32_t nlinks;
    uint32_t *index;     /* nodes x nodes -> link, or UINT32_MAX */
    uint32_t fault;
    int filter;
} Clog;

static bool clog_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                       const FlScenario *sc)
{
    Clog *c = f->state;
    c->nodes = sc->nodes;
    if (sc->nodes < 2)
        return fl_jv_errorf(jv, path, "kind", "clogging needs at least 2 nodes");
    return fl_jv_duration(jv, spec, path, "every", out, false, FL_MS(100), 1, &c->every) &&
           fl_jv_int(jv, spec, path, "links", out, false, 0, 0, INT64_MAX, &c->links_max) &&
           fl_jv_int(jv, spec, path, "capacity", out, false, 0, 0, INT64_MAX, &c->capacity);
}

static FlFilterAction clog_filter(void *ctx, uint32_t from, uint32_t to, FlTime now, FlRng *rng,
                                  FlDuration *extra)
{
    Clog *c = ctx;
    if (from >= c->nodes || to >= c->nodes)
        return FL_FILTER_PASS;
    uint32_t i = c->index[(size_t)from * c->nodes + to];
    if (i == UINT32_MAX)
        return FL_FILTER_PASS;
    Link *l = &c->links[i];
    if (now < l->clog || now >= l->restore)
        return FL_FILTER_PASS;
    if (c->capacity > 0 && l->held >= (uint64_t)c->capacity)
        return FL_FILTER_DROP;
    l->held++;
    /* Held until the link is restored; the network's delay comes after. */
    *extra += (FlDuration)(l->restore - now);
    return FL_FILTER_PASS;
}

static void shuffle(FlRng *rng, uint32_t *v, uint32_t n)
{
    for (uint32_t k = n; k > 1; k--) {
        uint32_t j = (uint32_t)fl_rng_below(rng, k);
        uint32_t t = v[k - 1];
        v[k - 1] = v[j];
        v[j] = t;
    }
}

/* Trace-only steps: a link clogs or is restored (the delay is the filter's). */
static void step_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    Clog *c = ctx;
    const Link *l = &c->links[arg >> 1];
    g_autofree char *text = g_strdup_printf("%s %u-%u", arg & 1 ? "restore" : "clog", l->a, l->b);
    fl_world_fault_event(w, c->fault, "clog", "step", text);
}

static void clog_start(FlFault *f, FlWorld *w)
{
    Clog *c = f->state;
    uint32_t n = c->nodes, all = n * (n - 1) / 2;
    FlRng *rng = fl_world_fault_rng(w);
    FlTime now = fl_world_now(w);
    FlTime end = f->dur > 0 ? now + (FlTime)f->dur : FL_TIME_NEVER;
    c->fault = f->index;
    g_autofree uint32_t *perm = g_new(uint32_t, all);
    g_autofree Link *pairs = g_new0(Link, all);
    uint32_t k = 0;
    for (uint32_t a = 0; a < n; a++)
        for (uint32_t b = a + 1; b < n; b++)
            pairs[k++] = (Link){ .a = a, .b = b };
    for (k = 0; k < all; k++)
        perm[k] = k;
    shuffle(rng, perm, all);
    c->nlinks = c->links_max > 0 && c->links_max < all ? (uint32_t)c->links_max : all;
    g_free(c->links);
    c->links = g_new0(Link, c->nlinks);
    for (k = 0; k < c->nlinks; k++) {
        c->links[k] = pairs[perm[k]];
        c->links[k].clog = now + (FlTime)c->every * k;
    }
    /* Restored in another random order, after the last one clogged. */
    g_autofree uint32_t *back = g_new(uint32_t, c->nlinks);
    for (k = 0; k < c->nlinks; k++)
        back[k] = k;
    shuffle(rng, back, c->nlinks);
    for (k = 0; k < c->nlinks; k++) {
        Link *l = &c->links[back[k]];
        l->restore = now + (FlTime)c->every * (c->nlinks + k);
        if (l->restore > end)
            l->restore = end;
        if (l->clog > l->restore)
            l->clog = l->restore;
    }
    g_free(c->index);
    c->index = g_new(uint32_t, (size_t)n * n);
    for (size_t i = 0; i < (size_t)n * n; i++)
        c->index[i] = UINT32_MAX;
    g_autoptr(GString) text = g_string_new(NULL);
    char d[32];
    g_string_printf(text, "%u links every %s%s", c->nlinks, fl_duration_format(c->every, d),
                    c->capacity ? "" : ", unbounded");
    if (c->capacity)
        g_string_append_printf(text, ", capacity %" G_GINT64_FORMAT, c->capacity);
    for (k = 0; k < c->nlinks; k++) {
        Link *l = &c->links[k];
        c->index[(size_t)l->a * n + l->b] = c->index[(size_t)l->b * n + l->a] = k;
        if (l->clog < l->restore) {
            fl_world_at(w, l->clog, step_cb, c, (uint64_t)k << 1);
            if (l->restore != FL_TIME_NEVER)
                fl_world_at(w, l->restore, step_cb, c, (uint64_t)k << 1 | 1);
        }
    }
    c->filter = fl_net_add_filter(fl_world_net(w), clog_filter, c);
    fl_world_fault_event(w, f->index, "clog", "start", text->str);
}

static void clog_stop(FlFault *f, FlWorld *w)
{
    Clog *c = f->state;
    if (!c->filter)
        return;
    fl_net_remove_filter(fl_world_net(w), c->filter);
    c->filter = 0;
    uint64_t held = 0;
    for (uint32_t k = 0; k < c->nlinks; k++)
        held += c->links[k].held;
    g_autofree char *text = g_strdup_printf("restored; %" G_GUINT64_FORMAT " messages were held", held);
    fl_world_fault_event(w, f->index, "clog", "stop", text);
}

static void clog_destroy(FlFault *f)
{
    Clog *c = f->state;
    g_free(c->links);
    g_free(c->index);
}

static const FlFaultField clog_fields[] = {
    { "every", "time between two links clogging, then between two restored (default 100ms)" },
    { "links", "how many links (server pairs) to clog (default 0: all)" },
    { "capacity", "messages a clogged link holds; more are dropped (default 0: unbounded)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_clog = {
    .name = "clog",
    .summary = "FoundationDB's swizzle: clogs links one at a time, restores them in random order; bounded capacity drops overflow",
    .fields = clog_fields,
    .state_size = sizeof(Clog),
    .parse = clog_parse,
    .start = clog_start,
    .stop = clog_stop,
    .destroy = clog_destroy,
};
