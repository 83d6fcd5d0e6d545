/* slow-link, slow-node: a degraded path or a node on a bad NIC.
 *
 * Design notes.
 * 1. Slow, not late: the timing model's delay of every message concerned is
 *    multiplied by `factor` (a scale hook of sim/net.h), where `delay` adds
 *    a fixed amount.  A factor says "ten times slower than this network",
 *    which means the same on a LAN of 100us and a WAN of 50ms, and keeps the
 *    network's own variance (a slow link is also a more jittery one).  Like
 *    `delay`, it comes on top of the timing model and may break a sync
 *    bound: a slow link is exactly what a bound assumes away.
 * 2. slow-link acts on one link, from -> to (both directions with `both`).
 *    Without `from` and `to` it draws one link between two distinct servers
 *    from the faults' stream when it starts; the start line names it.
 *    Clients' links are never a slow link: use slow-node for those.
 * 3. slow-node acts on everything a node sends and receives, to and from
 *    servers and (unless `clients` is false) clients: a node with a bad NIC
 *    or an overloaded host.  Unlike `pause` it keeps handling messages and
 *    timers at full speed; only its traffic crawls, so its failure
 *    detectors see it alive but late, the gray failure that pause cannot
 *    show. */
#include "faults/links.h"

typedef struct Slow {
    int scale;            /* first: fl_fault_net_stop */
    FlLinks links;        /* slow-link */
    bool drawn;           /* slow-link: no from/to given, drawn at start */
    FlSelector node;      /* slow-node */
    bool *set;            /* slow-node: resolved at start; owned */
    bool clients;         /* slow-node */
    uint32_t nodes;
    double factor;
} Slow;

static bool factor_field(Slow *s, json_t *spec, const char *path, json_t *out, FlJv *jv)
{
    return fl_jv_double(jv, spec, path, "factor", out, false, 10, 1, 1e6, &s->factor);
}

static bool slow_link_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                            const FlScenario *sc)
{
    Slow *s = f->state;
    s->nodes = sc->nodes;
    bool has_from = json_object_get(spec, "from") != NULL;
    bool has_to = json_object_get(spec, "to") != NULL;
    if (has_from != has_to)
        return fl_jv_errorf(jv, path, has_from ? "to" : "from",
                            "give both \"from\" and \"to\", or neither to draw a link");
    s->drawn = !has_from;
    if (s->drawn && sc->nodes < 2)
        return fl_jv_errorf(jv, path, "kind", "drawing a link needs at least 2 nodes");
    if (!fl_links_parse(&s->links, spec, path, out, jv, sc) ||
        !fl_jv_bool(jv, spec, path, "both", out, false, false, &s->links.both) ||
        !factor_field(s, spec, path, out, jv))
        return false;
    /* fl_links_parse writes `clients`, which a slow link does not take. */
    json_object_del(out, "clients");
    if (s->drawn) {
        /* Not "*": the scenario as run draws again, from the same stream. */
        json_object_del(out, "from");
        json_object_del(out, "to");
    }
    return true;
}

static bool slow_node_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                            const FlScenario *sc)
{
    Slow *s = f->state;
    s->nodes = sc->nodes;
    return fl_fault_node_field(jv, spec, path, "node", out, sc, &s->node) &&
           fl_jv_bool(jv, spec, path, "clients", out, false, true, &s->clients) &&
           factor_field(s, spec, path, out, jv);
}

static double slow_link_scale(void *ctx, uint32_t from, uint32_t to, FlTime now)
{
    Slow *s = ctx;
    return fl_links_match(&s->links, from, to) ? s->factor : 1.0;
}

/* Whether endpoint @a is the slow node, the other end @b counting when it
 * is a server or when clients count (note 3). */
static bool node_end(const Slow *s, uint32_t a, uint32_t b)
{
    return a < s->nodes && s->set[a] && (b < s->nodes || s->clients);
}

static double slow_node_scale(void *ctx, uint32_t from, uint32_t to, FlTime now)
{
    Slow *s = ctx;
    return node_end(s, from, to) || node_end(s, to, from) ? s->factor : 1.0;
}

static void slow_link_start(FlFault *f, FlWorld *w)
{
    Slow *s = f->state;
    fl_links_resolve(&s->links, w);
    if (s->drawn) {
        /* Two distinct servers, uniformly (note 2). */
        FlRng *rng = fl_world_fault_rng(w);
        uint32_t a = (uint32_t)fl_rng_below(rng, s->nodes);
        uint32_t b = (uint32_t)fl_rng_below(rng, s->nodes - 1);
        b += b >= a;
        for (uint32_t i = 0; i < s->nodes; i++) {
            s->links.src[i] = i == a;
            s->links.dst[i] = i == b;
        }
    }
    s->scale = fl_net_add_scale(fl_world_net(w), slow_link_scale, s);
    g_autofree char *links = fl_links_text(&s->links);
    g_autofree char *text = g_strdup_printf("%s%s factor=%g", links, s->drawn ? " (drawn)" : "",
                                            s->factor);
    fl_world_fault_event(w, f->index, f->kind->name, "start", text);
}

static void slow_node_start(FlFault *f, FlWorld *w)
{
    Slow *s = f->state;
    if (!s->set)
        s->set = g_new0(bool, s->nodes);
    fl_fault_resolve_set(w, &s->node, s->set, s->nodes);
    s->scale = fl_net_add_scale(fl_world_net(w), slow_node_scale, s);
    g_autofree char *set = fl_fault_set_text(s->set, s->nodes);
    g_autofree char *text = g_strdup_printf("node %s, to and from servers%s, factor=%g", set,
                                            s->clients ? " and clients" : "", s->factor);
    fl_world_fault_event(w, f->index, f->kind->name, "start", text);
}

static void slow_destroy(FlFault *f)
{
    Slow *s = f->state;
    fl_links_deinit(&s->links);
    g_free(s->set);
}

static const FlFaultField slow_link_fields[] = {
    { "from", "sender: node id or selector; with \"to\", or neither to draw one link between two servers" },
    { "to", "receiver: node id or selector" },
    { "both", "also slow the reverse direction, to -> from (default false)" },
    { "factor", "the network's delay on the link is multiplied by this (default 10, at least 1)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_slow_link = {
    .name = "slow-link",
    .summary = "one link (given or drawn) is slow: its network delay is multiplied by a factor",
    .fields = slow_link_fields,
    .state_size = sizeof(Slow),
    .parse = slow_link_parse,
    .start = slow_link_start,
    .stop = fl_fault_net_stop,
    .destroy = slow_destroy,
};

static const FlFaultField slow_node_fields[] = {
    { "node", "node id or selector (\"random\" draws one); the node whose traffic is slow" },
    { "clients", "its messages to and from clients are slow too (default true)" },
    { "factor", "the network's delay of everything it sends and receives is multiplied by this (default 10, at least 1)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_slow_node = {
    .name = "slow-node",
    .summary = "a node on a bad NIC: everything it sends and receives is slower by a factor; it keeps running",
    .fields = slow_node_fields,
    .state_size = sizeof(Slow),
    .parse = slow_node_parse,
    .start = slow_node_start,
    .stop = fl_fault_net_stop,
    .destroy = slow_destroy,
};
