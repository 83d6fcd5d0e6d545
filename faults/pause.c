/* pause: freezes a node, as a long GC pause or a stopped VM does.  Nothing
 * runs on it: messages to it and its timers wait, and when it resumes they
 * all run, late, with its state intact.  Its peers cannot tell a pause from
 * a crash until it speaks again, which is the point. */
#include "faults/links.h"

typedef struct Pause {
    FlSelector node;
    GArray *paused;    /* uint32_t: the nodes this fault froze */
} Pause;

static bool pause_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                        const FlScenario *sc)
{
    Pause *p = f->state;
    return fl_fault_node_field(jv, spec, path, "node", out, sc, &p->node);
}

static void pause_start(FlFault *f, FlWorld *w)
{
    Pause *p = f->state;
    if (!p->paused)
        p->paused = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    g_array_set_size(p->paused, 0);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    fl_world_select(w, &p->node, ids);
    g_autoptr(GString) text = g_string_new("node");
    for (guint i = 0; i < ids->len; i++) {
        uint32_t id = g_array_index(ids, uint32_t, i);
        if (!fl_world_node_up(w, id) || fl_world_node_paused(w, id))
            continue;
        fl_world_pause(w, id);
        g_array_append_val(p->paused, id);
        g_string_append_printf(text, " %u", id);
    }
    if (p->paused->len == 0)
        g_string_append(text, " (none: no running node matched)");
    fl_world_fault_event(w, f->index, "pause", "start", text->str);
}

static void pause_stop(FlFault *f, FlWorld *w)
{
    Pause *p = f->state;
    g_autoptr(GString) text = g_string_new("node");
    for (guint i = 0; p->paused && i < p->paused->len; i++) {
        uint32_t id = g_array_index(p->paused, uint32_t, i);
        fl_world_resume(w, id);   /* a no-op if it crashed meanwhile */
        g_string_append_printf(text, " %u", id);
    }
    fl_world_fault_event(w, f->index, "pause", "stop", text->str);
}

static void pause_destroy(FlFault *f)
{
    Pause *p = f->state;
    if (p->paused)
        g_array_free(p->paused, TRUE);
}

static const FlFaultField pause_fields[] = {
    { "node", "node id or selector (leader, random, minority, majority, *): who freezes" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_pause = {
    .name = "pause",
    .summary = "freezes a node (GC pause, stopped VM): nothing runs, messages and timers wait; it resumes with its state",
    .fields = pause_fields,
    .state_size = sizeof(Pause),
    .parse = pause_parse,
    .start = pause_start,
    .stop = pause_stop,
    .destroy = pause_destroy,
};
