/* nemesis: a random fault schedule, as Jepsen's nemesis and FoundationDB's
 * simulator draw them.
 *
 * Design notes.
 * 1. The whole schedule is drawn when the nemesis starts (at `from`), from
 *    the faults' stream: a fault every `every` (a range), each lasting `for`
 *    (a range), of a kind drawn from `kinds`, until `until`.  Every drawn
 *    fault ends by `until`, so the system has the rest of the run to
 *    recover.
 * 2. Kinds that take nodes down (crash, pause, disk) pick a node that is
 *    not down already; a fault whose start would put more than `max_down`
 *    nodes down at once becomes a fault of another kind, or is skipped.  A
 *    node is free again strictly after its fault ends, so a restart and the
 *    next crash of one node never share an instant.
 * 4. The storage-fault budget.  A node that restarts after a disk fault
 *    that tore or corrupted what it had synced may have lost promises (a
 *    vote, an acknowledged entry); a correct protocol keeps it out of
 *    quorums until it has recovered them (Raft and Paxos abstain, PBFT stays
 *    mute).  Until then it is as good as down, so it counts against
 *    `max_down` for `recover` after its restart: the nemesis never draws
 *    more simultaneous storage damage than a protocol tolerating `max_down`
 *    failures can survive, as TigerBeetle's simulator keeps every storage
 *    fault recoverable.  A plain crash (or lose-unsynced) loses only what
 *    was never promised, so it gets no window: a protocol must survive a
 *    second crash right after a restart.
 * 3. Each drawn fault is an ordinary fault object with explicit node ids,
 *    orders and times, parsed by its kind like one from a scenario file.
 *    fl_nemesis_schedule gives them back as JSON, and the trace shows them
 *    as one "schedule" event, so a failing run can be replayed without the
 *    nemesis and shrunk. */
#include "faults/nemesis.h"

#include "faults/links.h"
#include "faults/registry.h"

#include <string.h>

static const char *const allowed_kinds[] = {
    "crash", "pause", "disk", "partition", "omission", "delay", "duplicate", "clock", "clog", NULL,
};

typedef struct Nemesis {
    GPtrArray *kinds;        /* of const char* (static strings) */
    FlDuration every_lo, every_hi, for_lo, for_hi;
    FlDuration from, until;
    FlDuration recover;      /* note 4 */
    int64_t max_down;
    uint32_t nodes;
    const FlScenario *sc;
    json_t *drawn;           /* the schedule, once started */
    GPtrArray *faults;       /* of FlFault*, owned: the drawn faults */
} Nemesis;

static bool is_down_kind(const char *k)
{
    return strcmp(k, "crash") == 0 || strcmp(k, "pause") == 0 || strcmp(k, "disk") == 0;
}

static bool nemesis_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                          const FlScenario *sc)
{
    Nemesis *m = f->state;
    m->nodes = sc->nodes;
    m->sc = sc;
    m->kinds = g_ptr_array_new();
    json_t *kinds = json_object_get(spec, "kinds");
    g_autofree char *kp = fl_jv_join(path, "kinds");
    const char *what = "an array of fault kinds from crash, pause, disk, partition, omission, "
                       "delay, duplicate, clock, clog";
    json_t *kout = json_array();
    json_object_set_new(out, "kinds", kout);
    if (kinds) {
        if (!json_is_array(kinds) || json_array_size(kinds) == 0)
            return fl_jv_error(jv, kp, NULL, kinds, what);
        size_t i;
        json_t *k;
        json_array_foreach(kinds, i, k) {
            const char *found = NULL;
            for (const char *const *a = allowed_kinds; json_is_string(k) && *a; a++)
                if (strcmp(*a, json_string_value(k)) == 0)
                    found = *a;
            if (!found) {
                g_autofree char *ip = g_strdup_printf("%s/%zu", kp, i);
                return fl_jv_error(jv, ip, NULL, k, what);
            }
            g_ptr_array_add(m->kinds, (gpointer)found);
            json_array_append_new(kout, json_string(found));
        }
    } else {
        static const char *const def[] = { "crash", "pause", "partition" };
        for (size_t i = 0; i < G_N_ELEMENTS(def); i++) {
            g_ptr_array_add(m->kinds, (gpointer)def[i]);
            json_array_append_new(kout, json_string(def[i]));
        }
    }
    int64_t max_down_def = sc->nodes > 1 ? (sc->nodes - 1) / 2 : 1;
    if (!fl_jv_duration_range(jv, spec, path, "every", out, false, FL_SEC(1), FL_SEC(3),
                              &m->every_lo, &m->every_hi) ||
        !fl_jv_duration_range(jv, spec, path, "for", out, false, FL_MS(500), FL_SEC(2),
                              &m->for_lo, &m->for_hi) ||
        !fl_jv_int(jv, spec, path, "max_down", out, false, max_down_def, 0, sc->nodes,
                   &m->max_down) ||
        !fl_jv_duration(jv, spec, path, "from", out, false, 0, 0, &m->from) ||
        !fl_jv_duration(jv, spec, path, "recover", out, false, FL_SEC(1), 0, &m->recover) ||
        !fl_jv_duration(jv, spec, path, "until", out, false, sc->duration, 0, &m->until))
        return false;
    if (m->every_lo < 1)
        return fl_jv_errorf(jv, path, "every", "expected a positive duration");
    if (m->for_lo < 1)
        return fl_jv_errorf(jv, path, "for", "expected a positive duration");
    if (m->until <= m->from)
        return fl_jv_errorf(jv, path, "until", "expected a time after \"from\"");
    f->at = (FlTime)m->from;
    f->dur = m->until - m->from;
    return true;
}

/* A duration from [lo, hi], to the millisecond when the range allows, so
 * that the explicit schedule reads well. */
static FlDuration draw(FlRng *rng, FlDuration lo, FlDuration hi)
{
    FlDuration d = hi > lo ? fl_rng_range(rng, lo, hi) : lo;
    FlDuration r = d / FL_MS(1) * FL_MS(1);
    return r >= lo ? r : d;
}

static json_t *dur_json(FlDuration d)
{
    char buf[32];
    return json_string(fl_duration_format(d, buf));
}

static json_t *order_json(FlRng *rng, uint32_t n)
{
    g_autofree uint32_t *v = g_new(uint32_t, n);
    for (uint32_t i = 0; i < n; i++)
        v[i] = i;
    for (uint32_t k = n; k > 1; k--) {
        uint32_t j = (uint32_t)fl_rng_below(rng, k);
        uint32_t t = v[k - 1];
        v[k - 1] = v[j];
        v[j] = t;
    }
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* The fields of one drawn fault of kind @k on node @node (for kinds that
 * take one), lasting @d. */
static void draw_fields(Nemesis *m, FlRng *rng, const char *k, uint32_t node, FlDuration d,
                        json_t *o)
{
    uint32_t n = m->nodes;
    if (strcmp(k, "crash") == 0) {
        json_object_set_new(o, "node", json_integer(node));
        json_object_set_new(o, "restart_after", dur_json(d));
        return;
    }
    if (strcmp(k, "disk") == 0) {
        static const char *const modes[] = { "lose-unsynced", "torn", "corrupt" };
        json_object_set_new(o, "node", json_integer(node));
        json_object_set_new(o, "mode", json_string(modes[fl_rng_below(rng, 3)]));
        json_object_set_new(o, "restart_after", dur_json(d));
        return;
    }
    json_object_set_new(o, "for", dur_json(d));
    if (strcmp(k, "pause") == 0) {
        json_object_set_new(o, "node", json_integer(node));
    } else if (strcmp(k, "partition") == 0) {
        static const char *const shapes[] = { "isolate", "halves", "bridge", "majority-ring" };
        const char *shape = shapes[fl_rng_below(rng, n >= 3 ? 4 : 2)];
        if (strcmp(shape, "isolate") == 0) {
            json_object_set_new(o, "isolate", json_integer(fl_rng_below(rng, n)));
        } else {
            json_object_set_new(o, "shape", json_string(shape));
            json_object_set_new(o, "order", order_json(rng, n));
        }
    } else if (strcmp(k, "omission") == 0) {
        static const char *const modes[] = { "send", "receive", "both" };
        json_object_set_new(o, "node", json_integer(fl_rng_below(rng, n)));
        json_object_set_new(o, "mode", json_string(modes[fl_rng_below(rng, 3)]));
        json_object_set_new(o, "p", json_real((double)(20 + fl_rng_below(rng, 81)) / 100));
    } else if (strcmp(k, "delay") == 0) {
        FlDuration extra = FL_MS(10) * (FlDuration)(1 + fl_rng_below(rng, 20));
        json_object_set_new(o, "from", json_integer(fl_rng_below(rng, n)));
        json_object_set_new(o, "extra", dur_json(extra));
        json_object_set_new(o, "jitter", dur_json(extra / 2));
    } else if (strcmp(k, "duplicate") == 0) {
        json_object_set_new(o, "p", json_real((double)(10 + fl_rng_below(rng, 41)) / 100));
    } else if (strcmp(k, "clock") == 0) {
        FlDuration jump = FL_MS(50) * (FlDuration)(1 + fl_rng_below(rng, 40));
        json_object_set_new(o, "node", json_integer(fl_rng_below(rng, n)));
        json_object_set_new(o, "jump", dur_json(fl_rng_chance(rng, 0.5) ? jump : -jump));
    } else if (strcmp(k, "clog") == 0) {
        FlDuration links = n * (n - 1) / 2;
        FlDuration every = d / (2 * (links ? links : 1));
        json_object_set_new(o, "every", dur_json(every > 0 ? every : 1));
    }
}

/* Draws the schedule (note 1, 2) into m->drawn. */
static void draw_schedule(Nemesis *m, FlRng *rng, FlTime now)
{
    uint32_t n = m->nodes;
    g_autofree FlTime *busy = g_new0(FlTime, n);   /* end of the node's down fault */
    g_autofree bool *used = g_new0(bool, n);
    g_autoptr(GPtrArray) up_kinds = g_ptr_array_new();
    for (guint i = 0; i < m->kinds->len; i++)
        if (!is_down_kind(g_ptr_array_index(m->kinds, i)))
            g_ptr_array_add(up_kinds, g_ptr_array_index(m->kinds, i));
    m->drawn = json_array();
    for (FlTime t = now; t < (FlTime)m->until; t += (FlTime)draw(rng, m->every_lo, m->every_hi)) {
        FlDuration d = draw(rng, m->for_lo, m->for_hi);
        if (t + (FlTime)d > (FlTime)m->until)
            break;
        const char *k = g_ptr_array_index(m->kinds, fl_rng_below(rng, m->kinds->len));
        uint32_t node = 0;
        if (is_down_kind(k)) {
            uint32_t down = 0, free_nodes = 0;
            for (uint32_t i = 0; i < n; i++) {
                used[i] = busy[i] >= t && busy[i] != 0;
                down += used[i];
                free_nodes += !used[i];
            }
            if ((int64_t)down >= m->max_down || free_nodes == 0) {
                if (up_kinds->len == 0)
                    continue;
                k = g_ptr_array_index(up_kinds, fl_rng_below(rng, up_kinds->len));
            } else {
                uint32_t pick = (uint32_t)fl_rng_below(rng, free_nodes);
                for (uint32_t i = 0; i < n; i++)
                    if (!used[i] && pick-- == 0)
                        node = i;
                busy[node] = t + (FlTime)d;
            }
        }
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(k));
        json_object_set_new(o, "at", dur_json((FlDuration)t));
        draw_fields(m, rng, k, node, d, o);
        const char *mode = json_string_value(json_object_get(o, "mode"));
        if (strcmp(k, "disk") == 0 && mode && strcmp(mode, "lose-unsynced") != 0)
            busy[node] += (FlTime)m->recover;   /* note 4 */
        json_array_append_new(m->drawn, o);
    }
}

static void sub_stop_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    FlFault *f = ctx;
    if (f->started && !f->stopped) {
        f->stopped = true;
        if (f->kind->stop)
            f->kind->stop(f, w);
    }
}

static void sub_start_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    FlFault *f = ctx;
    if (f->started)
        return;   /* the nemesis stopped (a liveness phase healed it) */
    f->started = true;
    f->kind->start(f, w);
    if (f->dur > 0)
        fl_world_at(w, fl_world_now(w) + (FlTime)f->dur, sub_stop_cb, f, 0);
}

/* Turns a drawn fault object into a fault, as the scenario loader would. */
static FlFault *make_fault(Nemesis *m, FlWorld *w, json_t *o, size_t i)
{
    const FlFaultKind *kind = fl_fault_kind_find(json_string_value(json_object_get(o, "kind")));
    g_assert(kind);
    FlFault *f = g_new0(FlFault, 1);
    f->kind = kind;
    f->index = fl_world_new_fault_index(w);
    f->state = g_malloc0(kind->state_size ? kind->state_size : 1);
    GError *err = NULL;
    FlJv jv = { .file = "nemesis", .err = &err };
    g_autofree char *path = g_strdup_printf("/nemesis/%zu", i);
    json_t *dur = json_object_get(o, kind->duration_field ? kind->duration_field : "for");
    FlDuration at, d;
    bool ok = fl_jv_duration_value(&jv, json_object_get(o, "at"), path, 0, &at) &&
              fl_jv_duration_value(&jv, dur, path, 1, &d);
    json_t *out = json_object();
    ok = ok && kind->parse(f, o, path, out, &jv, m->sc);
    json_decref(out);
    if (!ok)
        g_error("nemesis drew a fault its kind refuses: %s", err ? err->message : "?");
    f->at = (FlTime)at;
    f->dur = d;
    return f;
}

static void nemesis_start(FlFault *f, FlWorld *w)
{
    Nemesis *m = f->state;
    if (m->drawn)
        json_decref(m->drawn);
    if (m->faults)
        g_ptr_array_unref(m->faults);
    m->faults = g_ptr_array_new_with_free_func((GDestroyNotify)fl_fault_free);
    draw_schedule(m, fl_world_fault_rng(w), fl_world_now(w));
    size_t i;
    json_t *o;
    json_array_foreach(m->drawn, i, o) {
        FlFault *sub = make_fault(m, w, o, i);
        g_ptr_array_add(m->faults, sub);
        fl_world_at(w, sub->at, sub_start_cb, sub, 0);
    }
    char a[32];
    g_autofree char *text = g_strdup_printf("%zu faults drawn up to %s, at most %" G_GINT64_FORMAT
                                            " nodes down (first index %u)",
                                            json_array_size(m->drawn),
                                            fl_duration_format(m->until, a), m->max_down,
                                            m->faults->len ? ((FlFault *)g_ptr_array_index(m->faults, 0))->index : 0);
    fl_world_fault_event(w, f->index, "nemesis", "start", text);
    char *s = json_dumps(m->drawn, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fl_world_fault_event(w, f->index, "nemesis", "schedule", s);
    free(s);
}

/* At `until` every drawn fault has ended (note 1); stop any that has not,
 * in case a kind outlives its duration.  The liveness phase stops the
 * nemesis early: then faults not yet started never start. */
static void nemesis_stop(FlFault *f, FlWorld *w)
{
    Nemesis *m = f->state;
    for (guint i = 0; m->faults && i < m->faults->len; i++) {
        FlFault *sub = g_ptr_array_index(m->faults, i);
        sub_stop_cb(w, sub, 0);
        sub->started = sub->stopped = true;   /* a start still queued must not fire */
    }
    fl_world_fault_event(w, f->index, "nemesis", "stop", "every drawn fault healed");
}

static void nemesis_destroy(FlFault *f)
{
    Nemesis *m = f->state;
    if (m->kinds)
        g_ptr_array_unref(m->kinds);
    if (m->faults)
        g_ptr_array_unref(m->faults);
    if (m->drawn)
        json_decref(m->drawn);
}

json_t *fl_nemesis_schedule(const FlFault *f)
{
    if (strcmp(f->kind->name, "nemesis") != 0)
        return NULL;
    const Nemesis *m = f->state;
    return m->drawn ? json_deep_copy(m->drawn) : NULL;
}

json_t *fl_faults_explicit(const FlScenario *sc)
{
    json_t *all = json_array();
    json_t *resolved = sc->resolved ? json_object_get(sc->resolved, "faults") : NULL;
    for (guint i = 0; sc->faults && i < sc->faults->len; i++) {
        const FlFault *f = g_ptr_array_index(sc->faults, i);
        json_t *drawn = fl_nemesis_schedule(f);
        if (drawn) {
            json_array_extend(all, drawn);
            json_decref(drawn);
        } else if (strcmp(f->kind->name, "nemesis") != 0 && json_array_get(resolved, i)) {
            json_array_append_new(all, json_deep_copy(json_array_get(resolved, i)));
        }
    }
    return all;
}

static const FlFaultField nemesis_fields[] = {
    { "kinds", "fault kinds to draw from: crash, pause, disk, partition, omission, delay, duplicate, clock, clog (default crash, pause, partition)" },
    { "every", "time between two faults' starts, a duration or a range (default [\"1s\",\"3s\"])" },
    { "for", "how long each fault lasts, a duration or a range (default [\"500ms\",\"2s\"])" },
    { "max_down", "most nodes crashed, paused or recovering from storage damage at once (default a minority, (n-1)/2)" },
    { "recover", "how long a node still counts as down after it restarts from a torn or corrupt disk fault, while it recovers the promises it lost (default 1s): the budget that keeps storage damage within what the protocol tolerates" },
    { "from", "when the nemesis starts (default 0)" },
    { "until", "every fault has healed by then (default the end of the run)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_nemesis = {
    .name = "nemesis",
    .summary = "a random schedule of faults drawn from the faults' stream, never more than max_down nodes down, healed by until",
    .fields = nemesis_fields,
    .state_size = sizeof(Nemesis),
    .parse = nemesis_parse,
    .start = nemesis_start,
    .stop = nemesis_stop,
    .destroy = nemesis_destroy,
    .own_timing = true,
};
