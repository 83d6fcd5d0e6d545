/* omission: messages on the chosen links are lost, each with probability p. */
#include "faults/fault.h"

typedef struct Omission {
    FlSelector from, to;
    double p;
    bool clients;        /* also client <-> server links */
    uint32_t nodes;
    bool *src, *dst;     /* resolved at start */
    int filter;
} Omission;

static bool omission_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                           const FlScenario *sc)
{
    Omission *o = f->state;
    o->nodes = sc->nodes;
    json_t *star = json_string("*");
    json_t *from = json_object_get(spec, "from"), *to = json_object_get(spec, "to");
    g_autofree char *fp = fl_jv_join(path, "from");
    g_autofree char *tp = fl_jv_join(path, "to");
    bool ok = fl_scenario_selector(jv, from ? from : star, fp, sc->nodes, &o->from) &&
              fl_scenario_selector(jv, to ? to : star, tp, sc->nodes, &o->to) &&
              fl_jv_double(jv, spec, path, "p", out, false, 1.0, 0, 1, &o->p) &&
              fl_jv_bool(jv, spec, path, "clients", out, false, false, &o->clients);
    if (ok) {
        json_object_set(out, "from", from ? from : star);
        json_object_set(out, "to", to ? to : star);
    }
    json_decref(star);
    return ok;
}

static FlFilterAction omission_filter(void *ctx, uint32_t from, uint32_t to, FlTime now,
                                      FlRng *rng, FlDuration *extra)
{
    Omission *o = ctx;
    bool fc = from >= o->nodes, tc = to >= o->nodes;
    if ((fc || tc) && !o->clients)
        return FL_FILTER_PASS;
    /* A client end matches any selector when client links are included. */
    bool match = (fc || o->src[from]) && (tc || o->dst[to]);
    return match && fl_rng_chance(rng, o->p) ? FL_FILTER_DROP : FL_FILTER_PASS;
}

static void resolve(FlWorld *w, const FlSelector *sel, bool *set, uint32_t n)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    fl_world_select(w, sel, ids);
    for (uint32_t i = 0; i < n; i++)
        set[i] = false;
    for (guint i = 0; i < ids->len; i++)
        set[g_array_index(ids, uint32_t, i)] = true;
}

static void omission_start(FlFault *f, FlWorld *w)
{
    Omission *o = f->state;
    if (!o->src) {
        o->src = g_new0(bool, o->nodes);
        o->dst = g_new0(bool, o->nodes);
    }
    resolve(w, &o->from, o->src, o->nodes);
    resolve(w, &o->to, o->dst, o->nodes);
    o->filter = fl_net_add_filter(fl_world_net(w), omission_filter, o);
    char a[16], b[16];
    g_autofree char *text = g_strdup_printf("from %s to %s p=%g", fl_selector_text(&o->from, a),
                                            fl_selector_text(&o->to, b), o->p);
    fl_world_fault_event(w, f->index, "omission", "start", text);
}

static void omission_stop(FlFault *f, FlWorld *w)
{
    Omission *o = f->state;
    if (!o->filter)
        return;
    fl_net_remove_filter(fl_world_net(w), o->filter);
    o->filter = 0;
    fl_world_fault_event(w, f->index, "omission", "stop", NULL);
}

static void omission_destroy(FlFault *f)
{
    Omission *o = f->state;
    g_free(o->src);
    g_free(o->dst);
}

static const FlFaultField omission_fields[] = {
    { "from", "sender: node id or selector (default *)" },
    { "to", "receiver: node id or selector (default *)" },
    { "p", "probability that a message on such a link is lost (default 1)" },
    { "clients", "also drop client <-> server messages (default false)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_omission = {
    .name = "omission",
    .summary = "drops messages on the chosen links with probability p",
    .fields = omission_fields,
    .state_size = sizeof(Omission),
    .parse = omission_parse,
    .start = omission_start,
    .stop = omission_stop,
    .destroy = omission_destroy,
};
