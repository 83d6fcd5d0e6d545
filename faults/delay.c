/* delay: slows the chosen links.  Every message on them takes `extra` more,
 * plus a uniform draw from [0, jitter]: a large jitter makes a link flaky
 * (messages overtake each other unless the network is FIFO).  The added
 * delay comes on top of the timing model, so it may break a sync bound:
 * that is what it is for.
 *
 * reorder: a burst of reordering, the same machinery under the name and
 * field a schedule speaks of: every message on the links (default all
 * server links) takes a uniform extra delay from [0, window], so a message
 * sent up to `window` after another on the same link may arrive before it.
 * It is `delay` with extra 0 and jitter = window, kept as its own kind so
 * that the nemesis can draw it and a shrunk schedule names what it needed.
 * On a network declared `fifo` (TCP-like links, off by default) the net
 * keeps each link in order whatever the delays, so there a burst reorders
 * only messages on different links (two senders racing to one receiver):
 * a FIFO link that reordered would not be TCP any more, so we leave the
 * network's promise alone rather than break it. */
#include "faults/links.h"

#include <string.h>

typedef struct Delay {
    int filter;          /* first: fl_fault_net_stop */
    FlLinks links;
    FlDuration extra, jitter;
} Delay;

static bool delay_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                        const FlScenario *sc)
{
    Delay *d = f->state;
    if (!fl_links_parse(&d->links, spec, path, out, jv, sc) ||
        !fl_jv_duration(jv, spec, path, "extra", out, false, 0, 0, &d->extra) ||
        !fl_jv_duration(jv, spec, path, "jitter", out, false, 0, 0, &d->jitter))
        return false;
    if (d->extra == 0 && d->jitter == 0)
        return fl_jv_errorf(jv, path, "extra", "expected a positive \"extra\" or \"jitter\"");
    return true;
}

static FlFilterAction delay_filter(void *ctx, uint32_t from, uint32_t to, FlTime now,
                                   FlRng *rng, FlDuration *extra)
{
    Delay *d = ctx;
    if (fl_links_match(&d->links, from, to))
        *extra += d->extra + (d->jitter > 0 ? fl_rng_range(rng, 0, d->jitter) : 0);
    return FL_FILTER_PASS;
}

static void delay_start(FlFault *f, FlWorld *w)
{
    Delay *d = f->state;
    fl_links_resolve(&d->links, w);
    d->filter = fl_net_add_filter(fl_world_net(w), delay_filter, d);
    g_autofree char *links = fl_links_text(&d->links);
    char a[32], b[32];
    /* A reorder burst reports its own field. */
    bool burst = strcmp(f->kind->name, "reorder") == 0;
    g_autofree char *text = burst ? g_strdup_printf("%s window=%s", links,
                                                    fl_duration_format(d->jitter, b))
                                  : g_strdup_printf("%s extra=%s jitter=%s", links,
                                                    fl_duration_format(d->extra, a),
                                                    fl_duration_format(d->jitter, b));
    fl_world_fault_event(w, f->index, f->kind->name, "start", text);
}

static void delay_destroy(FlFault *f)
{
    Delay *d = f->state;
    fl_links_deinit(&d->links);
}

static const FlFaultField delay_fields[] = {
    { "from", "sender: node id or selector (default *)" },
    { "to", "receiver: node id or selector (default *)" },
    { "extra", "delay added to every message on these links (default 0)" },
    { "jitter", "plus a uniform draw from [0, jitter] per message (default 0)" },
    { "clients", "also slow client <-> server messages (default false)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_delay = {
    .name = "delay",
    .summary = "slows links: adds extra latency, and jitter that makes them flaky",
    .fields = delay_fields,
    .state_size = sizeof(Delay),
    .parse = delay_parse,
    .start = delay_start,
    .stop = fl_fault_net_stop,
    .destroy = delay_destroy,
};

static bool reorder_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                          const FlScenario *sc)
{
    Delay *d = f->state;
    return fl_links_parse(&d->links, spec, path, out, jv, sc) &&
           fl_jv_duration(jv, spec, path, "window", out, false, FL_MS(20), 1, &d->jitter);
}

static const FlFaultField reorder_fields[] = {
    { "window", "each message waits a uniform draw from [0, window] more, so later ones overtake it (default 20ms)" },
    { "from", "sender: node id or selector (default *)" },
    { "to", "receiver: node id or selector (default *)" },
    { "clients", "also reorder client <-> server messages (default false)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_reorder = {
    .name = "reorder",
    .summary = "a burst of reordering: each message waits a random extra delay, so messages overtake (not within a fifo link)",
    .fields = reorder_fields,
    .state_size = sizeof(Delay),
    .parse = reorder_parse,
    .start = delay_start,
    .stop = fl_fault_net_stop,
    .destroy = delay_destroy,
};
