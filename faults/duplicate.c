/* duplicate: the network delivers some messages twice.  Each message on
 * the chosen links gets a second copy with probability p; the copy travels
 * with its own delay, so it may arrive first.  Protocols must be
 * idempotent (sim/store.h's client table is how the simple ones are). */
#include "faults/links.h"

typedef struct Duplicate {
    FlLinks links;
    double p;
    int filter;
} Duplicate;

static bool duplicate_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                            const FlScenario *sc)
{
    Duplicate *d = f->state;
    return fl_links_parse(&d->links, spec, path, out, jv, sc) &&
           fl_jv_double(jv, spec, path, "p", out, false, 0.5, 0, 1, &d->p);
}

static FlFilterAction duplicate_filter(void *ctx, uint32_t from, uint32_t to, FlTime now,
                                       FlRng *rng, FlDuration *extra)
{
    Duplicate *d = ctx;
    return fl_links_match(&d->links, from, to) && fl_rng_chance(rng, d->p) ? FL_FILTER_DUPLICATE
                                                                           : FL_FILTER_PASS;
}

static void duplicate_start(FlFault *f, FlWorld *w)
{
    Duplicate *d = f->state;
    fl_links_resolve(&d->links, w);
    d->filter = fl_net_add_filter(fl_world_net(w), duplicate_filter, d);
    g_autofree char *links = fl_links_text(&d->links);
    g_autofree char *text = g_strdup_printf("%s p=%g", links, d->p);
    fl_world_fault_event(w, f->index, "duplicate", "start", text);
}

static void duplicate_stop(FlFault *f, FlWorld *w)
{
    Duplicate *d = f->state;
    if (!d->filter)
        return;
    fl_net_remove_filter(fl_world_net(w), d->filter);
    d->filter = 0;
    fl_world_fault_event(w, f->index, "duplicate", "stop", NULL);
}

static void duplicate_destroy(FlFault *f)
{
    Duplicate *d = f->state;
    fl_links_deinit(&d->links);
}

static const FlFaultField duplicate_fields[] = {
    { "p", "probability that a message is delivered twice (default 0.5)" },
    { "from", "sender: node id or selector (default *)" },
    { "to", "receiver: node id or selector (default *)" },
    { "clients", "also duplicate client <-> server messages (default false)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_duplicate = {
    .name = "duplicate",
    .summary = "delivers some messages twice, each copy with its own delay",
    .fields = duplicate_fields,
    .state_size = sizeof(Duplicate),
    .parse = duplicate_parse,
    .start = duplicate_start,
    .stop = duplicate_stop,
    .destroy = duplicate_destroy,
};
