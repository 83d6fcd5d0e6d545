/* crash: a node stops.  Its volatile state and timers are gone and messages
 * to it are dropped; its disk keeps only what was synced.  With
 * `restart_after`, it comes back and `recover` rebuilds it from the disk. */
#include "sim/fault.h"

typedef struct Crash {
    FlSelector node;
    GArray *crashed;   /* uint32_t: the nodes this fault took down */
} Crash;

static bool crash_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                        const FlScenario *sc)
{
    Crash *c = f->state;
    json_t *node = json_object_get(spec, "node");
    if (!node)
        return fl_jv_errorf(jv, path, "node", "missing (this field is required)");
    g_autofree char *p = fl_jv_join(path, "node");
    if (!fl_scenario_selector(jv, node, p, sc->nodes, &c->node))
        return false;
    json_object_set(out, "node", node);
    return true;
}

static void crash_start(FlFault *f, FlWorld *w)
{
    Crash *c = f->state;
    if (!c->crashed)
        c->crashed = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    g_array_set_size(c->crashed, 0);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    fl_world_select(w, &c->node, ids);
    g_autoptr(GString) text = g_string_new("node");
    for (guint i = 0; i < ids->len; i++) {
        uint32_t id = g_array_index(ids, uint32_t, i);
        if (!fl_world_node_up(w, id))
            continue;
        fl_world_crash(w, id);
        g_array_append_val(c->crashed, id);
        g_string_append_printf(text, " %u", id);
    }
    if (c->crashed->len == 0)
        g_string_append(text, " (none: no node matched)");
    fl_world_fault_event(w, f->index, "crash", "start", text->str);
}

static void crash_stop(FlFault *f, FlWorld *w)
{
    Crash *c = f->state;
    g_autoptr(GString) text = g_string_new("node");
    for (guint i = 0; c->crashed && i < c->crashed->len; i++) {
        uint32_t id = g_array_index(c->crashed, uint32_t, i);
        fl_world_restart(w, id);
        g_string_append_printf(text, " %u", id);
    }
    fl_world_fault_event(w, f->index, "crash", "stop", text->str);
}

static void crash_destroy(FlFault *f)
{
    Crash *c = f->state;
    if (c->crashed)
        g_array_free(c->crashed, TRUE);
}

static const FlFaultField crash_fields[] = {
    { "node", "node id or selector (leader, random, minority, majority, *): who crashes" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_crash = {
    .name = "crash",
    .summary = "stops a node: volatile state and timers lost; restart_after brings it back from its synced disk",
    .fields = crash_fields,
    .state_size = sizeof(Crash),
    .parse = crash_parse,
    .start = crash_start,
    .stop = crash_stop,
    .destroy = crash_destroy,
    .duration_field = "restart_after",
};
