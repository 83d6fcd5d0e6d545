/* omission: messages are lost, on chosen links or at chosen nodes, each
 * with probability p.
 *
 * Per node (`node`), `mode` says which of its messages it omits: those it
 * sends (send omission), those sent to it (receive omission), or both
 * (general omission).  Per link (`from`, `to`), send and receive both lose
 * the from -> to messages, blamed on the sender or the receiver in the
 * trace; both also loses the reverse direction.  Loss is decided when a
 * message is sent, from the network's stream. */
#include "faults/links.h"

#include <string.h>

typedef struct Omission {
    FlLinks links;
    double p;
    const char *mode;    /* "send", "receive", "both" (static strings) */
    bool per_node;
    int filter;
} Omission;

static bool omission_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                           const FlScenario *sc)
{
    Omission *o = f->state;
    json_t *node = json_object_get(spec, "node");
    const char *mode;
    if (!fl_jv_double(jv, spec, path, "p", out, false, 1.0, 0, 1, &o->p) ||
        !fl_jv_string(jv, spec, path, "mode", out, false, "send", "send|receive|both", &mode))
        return false;
    o->mode = strcmp(mode, "send") == 0 ? "send" : strcmp(mode, "receive") == 0 ? "receive" : "both";
    if (node) {
        if (json_object_get(spec, "from") || json_object_get(spec, "to"))
            return fl_jv_errorf(jv, path, "node",
                                "give either \"node\" (with mode) or \"from\"/\"to\", not both");
        o->per_node = true;
        FlLinks *l = &o->links;
        l->nodes = sc->nodes;
        FlSelector sel;
        if (!fl_fault_node_field(jv, spec, path, "node", out, sc, &sel) ||
            !fl_jv_bool(jv, spec, path, "clients", out, false, false, &l->clients))
            return false;
        FlSelector all = { .kind = FL_SEL_ALL };
        /* Receive omission is the node's incoming messages; both adds the
         * reverse direction to the send case. */
        l->from = strcmp(o->mode, "receive") == 0 ? all : sel;
        l->to = strcmp(o->mode, "receive") == 0 ? sel : all;
        l->both = strcmp(o->mode, "both") == 0;
        return true;
    }
    if (!fl_links_parse(&o->links, spec, path, out, jv, sc))
        return false;
    o->links.both = strcmp(o->mode, "both") == 0;
    return true;
}

static FlFilterAction omission_filter(void *ctx, uint32_t from, uint32_t to, FlTime now,
                                      FlRng *rng, FlDuration *extra)
{
    Omission *o = ctx;
    return fl_links_match(&o->links, from, to) && fl_rng_chance(rng, o->p) ? FL_FILTER_DROP
                                                                           : FL_FILTER_PASS;
}

static void omission_start(FlFault *f, FlWorld *w)
{
    Omission *o = f->state;
    fl_links_resolve(&o->links, w);
    o->filter = fl_net_add_filter(fl_world_net(w), omission_filter, o);
    g_autofree char *links = fl_links_text(&o->links);
    g_autofree char *text = g_strdup_printf("%s omission %s p=%g", o->mode, links, o->p);
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
    fl_links_deinit(&o->links);
}

static const FlFaultField omission_fields[] = {
    { "node", "node id or selector that omits (per node; use instead of from/to)" },
    { "mode", "send (default), receive or both: with node, which of its messages are lost; with from/to, both adds the reverse direction" },
    { "from", "sender: node id or selector (default *)" },
    { "to", "receiver: node id or selector (default *)" },
    { "p", "probability that each such message is lost (default 1)" },
    { "clients", "also drop client <-> server messages (default false)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_omission = {
    .name = "omission",
    .summary = "drops messages: send, receive or general omission, per node or per link, with probability p",
    .fields = omission_fields,
    .state_size = sizeof(Omission),
    .parse = omission_parse,
    .start = omission_start,
    .stop = omission_stop,
    .destroy = omission_destroy,
};
