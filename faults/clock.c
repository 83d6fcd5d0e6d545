/* clock: changes a node's local clock, as a bad NTP step or a failing
 * oscillator does.  `jump` moves it forward or back at once, `skew` sets
 * how far it is from true time, `drift` sets how fast it runs (0.001 gains
 * a millisecond a second).  When the fault stops (with `for` or `until`)
 * the clock is stepped back to what it would have read without the fault;
 * with neither, the change stays.  Protocols that trust clocks (leases,
 * last-writer-wins) show it; the others should not care. */
#include "faults/links.h"

typedef struct Clock {
    FlSelector node;
    bool has_jump, has_skew, has_drift;
    FlDuration jump, skew;
    double drift;
    /* Per node changed: its clock at the start and its rate then. */
    GArray *changed;     /* of Saved */
} Clock;

typedef struct Saved {
    uint32_t node;
    FlTime at, local;
    double drift;
} Saved;

static bool clock_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                        const FlScenario *sc)
{
    Clock *c = f->state;
    if (!fl_fault_node_field(jv, spec, path, "node", out, sc, &c->node))
        return false;
    c->has_jump = json_object_get(spec, "jump") != NULL;
    c->has_skew = json_object_get(spec, "skew") != NULL;
    c->has_drift = json_object_get(spec, "drift") != NULL;
    if (!c->has_jump && !c->has_skew && !c->has_drift)
        return fl_jv_errorf(jv, path, NULL, "expected at least one of \"jump\", \"skew\", \"drift\"");
    if (c->has_jump && c->has_skew)
        return fl_jv_errorf(jv, path, "skew", "give \"jump\" (relative) or \"skew\" (absolute), not both");
    /* An hour either way is far past anything a protocol tolerates, and
     * keeps clock arithmetic far from overflow. */
    return (!c->has_jump ||
            fl_jv_duration(jv, spec, path, "jump", out, true, 0, -FL_SEC(3600), &c->jump)) &&
           (!c->has_skew ||
            fl_jv_duration(jv, spec, path, "skew", out, true, 0, -FL_SEC(3600), &c->skew)) &&
           (!c->has_drift ||
            fl_jv_double(jv, spec, path, "drift", out, true, 0, -0.5, 0.5, &c->drift)) &&
           (!c->has_jump || c->jump <= FL_SEC(3600) ||
            fl_jv_errorf(jv, path, "jump", "expected at most an hour")) &&
           (!c->has_skew || c->skew <= FL_SEC(3600) ||
            fl_jv_errorf(jv, path, "skew", "expected at most an hour"));
}

static void clock_start(FlFault *f, FlWorld *w)
{
    Clock *c = f->state;
    if (!c->changed)
        c->changed = g_array_new(FALSE, FALSE, sizeof(Saved));
    g_array_set_size(c->changed, 0);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    fl_world_select(w, &c->node, ids);
    g_autoptr(GString) text = g_string_new("node");
    FlTime now = fl_world_now(w);
    for (guint i = 0; i < ids->len; i++) {
        uint32_t id = g_array_index(ids, uint32_t, i);
        Saved s = { id, now, fl_world_local_time(w, id), fl_world_clock_drift(w, id) };
        g_array_append_val(c->changed, s);
        double drift = c->has_drift ? c->drift : s.drift;
        FlDuration jump = c->has_jump ? c->jump
                          : c->has_skew ? (FlDuration)(now + c->skew) - (FlDuration)s.local : 0;
        fl_world_set_clock(w, id, jump, drift);
        g_string_append_printf(text, " %u", id);
    }
    char a[32];
    if (c->has_jump)
        g_string_append_printf(text, " jump %s", fl_duration_format(c->jump, a));
    if (c->has_skew)
        g_string_append_printf(text, " skew %s", fl_duration_format(c->skew, a));
    if (c->has_drift)
        g_string_append_printf(text, " drift %g", c->drift);
    fl_world_fault_event(w, f->index, "clock", "start", text->str);
}

static void clock_stop(FlFault *f, FlWorld *w)
{
    Clock *c = f->state;
    FlTime now = fl_world_now(w);
    for (guint i = 0; c->changed && i < c->changed->len; i++) {
        const Saved *s = &g_array_index(c->changed, Saved, i);
        /* What the clock would read had the fault not happened. */
        FlTime want = s->local + (FlTime)((double)(now - s->at) * (1.0 + s->drift));
        FlDuration jump = (FlDuration)want - (FlDuration)fl_world_local_time(w, s->node);
        fl_world_set_clock(w, s->node, jump, s->drift);
    }
    fl_world_fault_event(w, f->index, "clock", "stop", "restored");
}

static void clock_destroy(FlFault *f)
{
    Clock *c = f->state;
    if (c->changed)
        g_array_free(c->changed, TRUE);
}

static const FlFaultField clock_fields[] = {
    { "node", "node id or selector whose clock changes" },
    { "jump", "step the clock by this much, forward or back (\"-500ms\")" },
    { "skew", "set the clock this far from true time (instead of jump)" },
    { "drift", "new rate offset, -0.5 to 0.5 (0.001 runs 1 ms/s fast)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_clock = {
    .name = "clock",
    .summary = "changes a node's clock: a jump forward or back, a skew, a drift; restored when it stops",
    .fields = clock_fields,
    .state_size = sizeof(Clock),
    .parse = clock_parse,
    .start = clock_start,
    .stop = clock_stop,
    .destroy = clock_destroy,
};
