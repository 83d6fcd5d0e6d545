/* plots/spacetime: the space-time diagram of a window of the run.
 *
 * 1. One horizontal line per node, servers on top, clients below; time runs
 *    left to right in milliseconds.  A message is an arrow from (send time,
 *    sender) to (delivery time, receiver).
 * 2. trace.jsonl is streamed twice and never held in memory.  Pass one
 *    keeps the send times (to choose a window) and the few state changes:
 *    roles, crashes, restarts, pauses, resumes.  Pass two matches each
 *    delivery or drop with its send by (from, to, content hash), first in
 *    first out, and keeps the messages whose flight overlaps the window.
 *    Two copies of the same bytes in flight between the same pair cannot be
 *    told apart; pairing them in order draws the same picture either way.
 * 3. A message dropped at the sender ("filter": a partition, an omission)
 *    is a short red stub toward its destination ending in a cross; one
 *    dropped at arrival (the receiver was down) is a red arrow ending in a
 *    cross on the receiver's line.
 * 4. A whole run is far too dense.  Without --from/--to the window is the
 *    span of the checker's counterexample when there is one (the messages
 *    that explain it), else the widest one holding WINDOW_MESSAGES messages,
 *    a quarter of it before the first fault that starts after time 0 (the
 *    moment a student wants to see), or from the start when there is none.
 *    With only one of --from/--to the other end is chosen the same way.
 * 5. Crashes and pauses are drawn on the node's line; other faults
 *    (partitions, ...) shade the window like the other pictures.
 * 6. Roles: a node's line is thick while it leads ("leader", "primary",
 *    ...), orange while it campaigns ("candidate"), and every role change in
 *    the window is written above the line. */
#include "plots/plot_impl.h"

#include "sim/jsonv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { WINDOW_MESSAGES = 90, MAX_CLIENT_LINES = 24, MAX_LOG_LABELS = 24 };

typedef enum { ST_ROLE, ST_CRASH, ST_RESTART, ST_PAUSE, ST_RESUME } StateKind;

typedef struct StateEv {
    FlTime t;
    uint32_t node;
    StateKind kind;
    char *text;          /* role name */
} StateEv;

typedef struct Msg {
    FlTime sent, end;
    uint32_t from, to;
    int fate;            /* 0 delivered, 1 dropped at the sender, 2 dropped at arrival */
} Msg;

typedef struct Trace {
    const char *path;
    GArray *sends;       /* of FlTime (pass one) */
    GArray *states;      /* of StateEv (pass one) */
    GArray *msgs;        /* of Msg in the window (pass two) */
    GArray *timers;      /* of Msg-like points: sent = t, from = node (pass two) */
    GArray *invokes, *completes;   /* same; completes use fate as outcome */
    GPtrArray *logs;     /* of StateEv* in the window */
    uint32_t max_node;
} Trace;

static void state_clear(gpointer p)
{
    g_free(((StateEv *)p)->text);
}

static void log_free(gpointer p)
{
    StateEv *e = p;
    g_free(e->text);
    g_free(e);
}

/* Reads `{"t":N,"ev":"NAME"` at the start of a trace line without a full
 * parse; returns false when the line is not in that form. */
static bool peek(const char *line, FlTime *t, char *ev, size_t cap)
{
    if (strncmp(line, "{\"t\":", 5) != 0)
        return false;
    const char *p = line + 5;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || errno || strncmp(end, ",\"ev\":\"", 7) != 0)
        return false;
    p = end + 7;
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= cap)
        return false;
    memcpy(ev, p, (size_t)(q - p));
    ev[q - p] = '\0';
    *t = v;
    return true;
}

static bool bad_trace(GError **err, const char *path, guint64 line, const char *what)
{
    g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s:%" G_GUINT64_FORMAT ": %s", path, line, what);
    return false;
}

/* Calls @cb on every line: its time, event name and (parsed only when
 * @want says so) its JSON object. */
typedef bool (*LineCb)(Trace *tr, FlTime t, const char *ev, json_t *o, void *data);
typedef bool (*WantCb)(const char *ev, FlTime t, void *data);

static bool stream(Trace *tr, WantCb want, LineCb cb, void *data, GError **err)
{
    FILE *f = fopen(tr->path, "r");
    if (!f) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: %s", tr->path, g_strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    guint64 no = 0;
    bool ok = true;
    while (ok && (n = getline(&line, &cap, f)) > 0) {
        no++;
        FlTime t;
        char ev[32];
        json_t *o = NULL;
        if (!peek(line, &t, ev, sizeof ev)) {
            /* Not our writer's layout: parse it properly. */
            json_error_t je;
            o = json_loads(line, 0, &je);
            json_t *jt = json_object_get(o, "t"), *je2 = json_object_get(o, "ev");
            if (!json_is_integer(jt) || !json_is_string(je2) || json_integer_value(jt) < 0) {
                ok = bad_trace(err, tr->path, no, o ? "expected {\"t\": ns, \"ev\": name, ...}" : je.text);
                if (o)
                    json_decref(o);
                break;
            }
            t = (FlTime)json_integer_value(jt);
            g_strlcpy(ev, json_string_value(je2), sizeof ev);
        }
        if (want(ev, t, data)) {
            if (!o) {
                json_error_t je;
                o = json_loads(line, 0, &je);
                if (!o) {
                    ok = bad_trace(err, tr->path, no, je.text);
                    break;
                }
            }
            ok = cb(tr, t, ev, o, data);
            if (!ok)
                bad_trace(err, tr->path, no, "an event is missing a field");
        }
        if (o)
            json_decref(o);
    }
    free(line);
    fclose(f);
    return ok;
}

static bool get_u32(json_t *o, const char *k, uint32_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)UINT32_MAX)
        return false;
    *out = (uint32_t)json_integer_value(v);
    return true;
}

/* Pass one (note 2). */
static bool want_one(const char *ev, FlTime t, void *data)
{
    if (strcmp(ev, "send") == 0) {
        Trace *tr = data;
        g_array_append_val(tr->sends, t);
        return false;
    }
    return strcmp(ev, "role") == 0 || strcmp(ev, "crash") == 0 || strcmp(ev, "restart") == 0 ||
           strcmp(ev, "pause") == 0 || strcmp(ev, "resume") == 0;
}

static bool on_one(Trace *tr, FlTime t, const char *ev, json_t *o, void *data)
{
    StateEv s = { .t = t };
    if (!get_u32(o, "node", &s.node))
        return false;
    if (strcmp(ev, "role") == 0) {
        s.kind = ST_ROLE;
        json_t *text = json_object_get(o, "text");
        s.text = g_strdup(json_is_string(text) ? json_string_value(text) : "?");
    } else {
        s.kind = strcmp(ev, "crash") == 0 ? ST_CRASH : strcmp(ev, "restart") == 0 ? ST_RESTART
               : strcmp(ev, "pause") == 0 ? ST_PAUSE : ST_RESUME;
    }
    tr->max_node = MAX(tr->max_node, s.node);
    g_array_append_val(tr->states, s);
    return true;
}

typedef struct Pass2 {
    FlTime from, to;
    GHashTable *pending;   /* "from:to:hash" -> GQueue of send times */
    guint64 open_in_window;   /* sends in the window not yet matched */
    bool done;
} Pass2;

static bool want_two(const char *ev, FlTime t, void *data)
{
    Pass2 *p = data;
    if (p->done)
        return false;
    if (t > p->to && p->open_in_window == 0) {
        p->done = true;
        return false;
    }
    if (strcmp(ev, "send") == 0 || strcmp(ev, "deliver") == 0 || strcmp(ev, "drop") == 0)
        return true;
    if (t < p->from || t > p->to)
        return false;
    return strcmp(ev, "timer") == 0 || strcmp(ev, "invoke") == 0 ||
           strcmp(ev, "complete") == 0 || strcmp(ev, "log") == 0;
}

static void queue_free(gpointer q)
{
    g_queue_free_full(q, g_free);
}

static bool on_two(Trace *tr, FlTime t, const char *ev, json_t *o, void *data)
{
    Pass2 *p = data;
    if (strcmp(ev, "timer") == 0 || strcmp(ev, "invoke") == 0 || strcmp(ev, "complete") == 0 ||
        strcmp(ev, "log") == 0) {
        Msg m = { .sent = t };
        if (!get_u32(o, ev[0] == 'i' || ev[0] == 'c' ? "client" : "node", &m.from))
            return false;
        tr->max_node = MAX(tr->max_node, m.from);
        if (ev[0] == 't') {
            g_array_append_val(tr->timers, m);
        } else if (ev[0] == 'i') {
            g_array_append_val(tr->invokes, m);
        } else if (ev[0] == 'c') {
            const char *text = json_string_value(json_object_get(o, "text"));
            m.fate = !text || strcmp(text, "ok") == 0 ? FL_OUTCOME_OK
                   : strcmp(text, "fail") == 0 ? FL_OUTCOME_FAIL : FL_OUTCOME_INFO;
            g_array_append_val(tr->completes, m);
        } else {
            StateEv *e = g_new0(StateEv, 1);
            e->t = t;
            e->node = m.from;
            const char *text = json_string_value(json_object_get(o, "text"));
            e->text = g_strdup(text ? text : "");
            g_ptr_array_add(tr->logs, e);
        }
        return true;
    }
    uint32_t from, to;
    const char *hash = json_string_value(json_object_get(o, "hash"));
    if (!get_u32(o, "from", &from) || !get_u32(o, "to", &to))
        return false;
    tr->max_node = MAX(tr->max_node, MAX(from, to));
    g_autofree char *key = g_strdup_printf("%u:%u:%s", from, to, hash ? hash : "");
    GQueue *q = g_hash_table_lookup(p->pending, key);
    if (strcmp(ev, "send") == 0) {
        if (!q) {
            q = g_queue_new();
            g_hash_table_insert(p->pending, g_steal_pointer(&key), q);
        }
        FlTime *st = g_new(FlTime, 1);
        *st = t;
        g_queue_push_tail(q, st);
        if (t >= p->from && t <= p->to)
            p->open_in_window++;
        return true;
    }
    /* A delivery or drop: its send is the oldest pending one (note 2). */
    FlTime *st = q ? g_queue_pop_head(q) : NULL;
    FlTime sent = st ? *st : t;
    g_free(st);
    if (st && sent >= p->from && sent <= p->to)
        p->open_in_window--;
    if (t < p->from || sent > p->to)
        return true;
    Msg m = { sent, t, from, to, 0 };
    if (strcmp(ev, "drop") == 0) {
        const char *why = json_string_value(json_object_get(o, "why"));
        m.fate = why && strcmp(why, "down") == 0 ? 2 : 1;
        if (m.fate == 2 && t == sent)
            m.fate = 1;
    }
    g_array_append_val(tr->msgs, m);
    return true;
}

static gint cmp_time(gconstpointer a, gconstpointer b)
{
    FlTime x = *(const FlTime *)a, y = *(const FlTime *)b;
    return x < y ? -1 : x > y;
}

/* Note 4. */
static void choose_window(const FlRunData *rd, const FlPlotOptions *opt, Trace *tr, FlTime *from,
                          FlTime *to, GString *why)
{
    GArray *s = tr->sends;
    g_array_sort(s, cmp_time);
    guint n = s->len;
    *from = opt->has_from ? opt->from : 0;
    *to = opt->has_to ? opt->to : rd->end;
    if (opt->has_from && opt->has_to)
        return;
    if (n <= WINDOW_MESSAGES && !opt->has_from && !opt->has_to) {
        g_string_append_printf(why, "the whole run (%u messages)", n);
        return;
    }
    FlTime lo, hi;
    if (!opt->has_from && !opt->has_to && fl_rundata_marked_span(rd, &lo, &hi)) {
        /* The messages behind the checker's counterexample, when they are
         * few enough to read; else a dense window from its start. */
        guint k = 0;
        for (guint i = 0; i < n; i++)
            k += g_array_index(s, FlTime, i) >= lo && g_array_index(s, FlTime, i) <= hi;
        if (k <= 2 * WINDOW_MESSAGES) {
            *from = lo;
            *to = hi;
            g_string_append(why, "the span of the checker's counterexample");
            return;
        }
        fl_plot_dense_window((const FlTime *)(void *)s->data, n, lo, 0.05, rd->end, WINDOW_MESSAGES,
                             from, to);
        g_string_append_printf(why, "at most %d messages from the start of the checker's "
                               "counterexample", WINDOW_MESSAGES);
        return;
    }
    FlTime anchor = 0;
    double before = 0;
    char a[32];
    if (opt->has_from) {
        anchor = opt->from;
        g_string_append_printf(why, "at most %d messages from --from", WINDOW_MESSAGES);
    } else if (opt->has_to) {
        anchor = opt->to;
        before = 1;
        g_string_append_printf(why, "at most %d messages up to --to", WINDOW_MESSAGES);
    } else {
        /* Anchor at the first fault that starts after 0. */
        const char *what = NULL;
        for (guint i = 0; i < rd->faults->len; i++) {
            const FlFaultSpan *f = &g_array_index(rd->faults, FlFaultSpan, i);
            if (f->start > 0 && (!what || f->start < anchor)) {
                anchor = f->start;
                what = f->kind;
            }
        }
        for (guint i = 0; i < tr->states->len; i++) {
            const StateEv *e = &g_array_index(tr->states, StateEv, i);
            if ((e->kind == ST_CRASH || e->kind == ST_PAUSE) && e->t > 0 && (!what || e->t < anchor)) {
                anchor = e->t;
                what = e->kind == ST_CRASH ? "crash" : "pause";
            }
        }
        before = what ? 0.25 : 0;
        if (what)
            g_string_append_printf(why, "at most %d of %u messages, around the %s at %s",
                                   WINDOW_MESSAGES, n, what, fl_plot_duration(anchor, a));
        else
            g_string_append_printf(why, "at most %d of %u messages, from the start", WINDOW_MESSAGES, n);
    }
    fl_plot_dense_window((const FlTime *)(void *)s->data, n, anchor, before, rd->end, WINDOW_MESSAGES,
                         from, to);
}

static bool is_leading(const char *role)
{
    static const char *const names[] = { "leader", "primary", "master", "coordinator", "head",
                                         "sequencer", NULL };
    for (const char *const *n = names; *n; n++)
        if (g_ascii_strcasecmp(role, *n) == 0)
            return true;
    return false;
}

static bool is_campaigning(const char *role)
{
    return g_ascii_strcasecmp(role, "candidate") == 0 || g_ascii_strcasecmp(role, "pre-candidate") == 0 ||
           g_ascii_strcasecmp(role, "precandidate") == 0;
}

typedef struct Layout {
    uint32_t nodes, clients, shown_clients;
    double ms;          /* ns per x unit */
} Layout;

static bool has_line(const Layout *l, uint32_t id)
{
    return id < l->nodes || id - l->nodes < l->shown_clients;
}

static double ypos(const Layout *l, uint32_t id)
{
    return id < l->nodes ? -(double)id : -((double)id + 0.6);
}

static double xpos(const Layout *l, FlTime t)
{
    return (double)t / l->ms;
}

static FlPlotOutput *draw(FlRunData *rd, const FlPlotOptions *opt, Trace *t, FlTime from,
                          FlTime to, const char *why, GError **err);

FlPlotOutput *fl_plot_spacetime(FlRunData *rd, const FlPlotOptions *opt, GError **err)
{
    if (!rd->trace_path) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT,
                    "%s: no trace.jsonl (the run was made with --no-trace); the space-time "
                    "diagram needs it", rd->dir);
        return NULL;
    }
    Trace tr = { .path = rd->trace_path };
    tr.sends = g_array_new(FALSE, FALSE, sizeof(FlTime));
    tr.states = g_array_new(FALSE, TRUE, sizeof(StateEv));
    g_array_set_clear_func(tr.states, state_clear);
    tr.msgs = g_array_new(FALSE, FALSE, sizeof(Msg));
    tr.timers = g_array_new(FALSE, FALSE, sizeof(Msg));
    tr.invokes = g_array_new(FALSE, FALSE, sizeof(Msg));
    tr.completes = g_array_new(FALSE, FALSE, sizeof(Msg));
    tr.logs = g_ptr_array_new_with_free_func(log_free);
    FlPlotOutput *out = NULL;
    Pass2 p2 = { 0 };
    p2.pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, queue_free);
    g_autoptr(GString) why = g_string_new(NULL);
    FlTime from, to;
    if (stream(&tr, want_one, on_one, &tr, err)) {
        choose_window(rd, opt, &tr, &from, &to, why);
        p2.from = from;
        p2.to = to;
        if (stream(&tr, want_two, on_two, &p2, err))
            out = draw(rd, opt, &tr, from, to, why->len ? why->str : "the window given", err);
    }
    g_array_unref(tr.sends);
    g_array_unref(tr.states);
    g_array_unref(tr.msgs);
    g_array_unref(tr.timers);
    g_array_unref(tr.invokes);
    g_array_unref(tr.completes);
    g_ptr_array_unref(tr.logs);
    g_hash_table_unref(p2.pending);
    return out;
}

/* Draws the role, crash and pause segments of @node's line (notes 5, 6). */
static void node_states(const Layout *L, const Trace *tr, uint32_t node, FlTime from, FlTime to,
                        FlSeries *lead, FlSeries *camp, FlSeries *down, FlSeries *paused,
                        FlSeries *roles, bool label_start)
{
    const char *role = NULL, *role_before = NULL;
    FlTime role_at = 0, down_at = 0, pause_at = 0;
    bool is_down = false, is_paused = false;
    double y = ypos(L, node);
    for (guint i = 0; i <= tr->states->len; i++) {
        const StateEv *e = i < tr->states->len ? &g_array_index(tr->states, StateEv, i) : NULL;
        if (e && e->node != node)
            continue;
        bool last = !e || e->t > to;
        FlTime t = last ? to : e->t;
        if (role && (last || e->kind == ST_ROLE || e->kind == ST_CRASH)) {
            FlTime a0 = MAX(role_at, from);
            if (t > a0 && (is_leading(role) || is_campaigning(role)))
                fl_series_row(is_leading(role) ? lead : camp, "%.6f %.3f %.6f 0", xpos(L, a0), y,
                              xpos(L, t) - xpos(L, a0));
        }
        if (last) {
            if (is_down && t > MAX(down_at, from))
                fl_series_row(down, "%.6f %.3f %.6f 0", xpos(L, MAX(down_at, from)), y,
                              xpos(L, t) - xpos(L, MAX(down_at, from)));
            if (is_paused && t > MAX(pause_at, from))
                fl_series_row(paused, "%.6f %.3f %.6f 0", xpos(L, MAX(pause_at, from)), y,
                              xpos(L, t) - xpos(L, MAX(pause_at, from)));
            break;
        }
        switch (e->kind) {
        case ST_ROLE:
            role = e->text;
            role_at = e->t;
            if (e->t >= from) {
                g_autofree char *lab = fl_plot_label(e->text, 20);
                fl_series_row(roles, "%.6f %.3f \"%s\"", xpos(L, e->t), y, lab);
            }
            break;
        case ST_CRASH:
            /* A crashed node holds no role until it claims one again. */
            role = NULL;
            is_down = true;
            down_at = e->t;
            break;
        case ST_RESTART:
            if (is_down && e->t > from)
                fl_series_row(down, "%.6f %.3f %.6f 0", xpos(L, MAX(down_at, from)), y,
                              xpos(L, e->t) - xpos(L, MAX(down_at, from)));
            is_down = false;
            break;
        case ST_PAUSE:
            is_paused = true;
            pause_at = e->t;
            break;
        case ST_RESUME:
            if (is_paused && e->t > from)
                fl_series_row(paused, "%.6f %.3f %.6f 0", xpos(L, MAX(pause_at, from)), y,
                              xpos(L, e->t) - xpos(L, MAX(pause_at, from)));
            is_paused = false;
            break;
        }
        if (e->t < from)
            role_before = role;
    }
    /* The role held when the window opens, written at its left edge. */
    if (label_start && role_before) {
        g_autofree char *lab = fl_plot_label(role_before, 20);
        fl_series_row(roles, "%.6f %.3f \"(%s)\"", xpos(L, from), y, lab);
    }
}

static FlPlotOutput *draw(FlRunData *rd, const FlPlotOptions *opt, Trace *t, FlTime from,
                          FlTime to, const char *why, GError **err)
{
    Trace tr = *t;
    Layout L = { .nodes = rd->nodes, .ms = 1e6 };
    json_t *clients = json_object_get(json_object_get(rd->scenario, "workload"), "clients");
    L.clients = json_is_integer(clients) ? (uint32_t)json_integer_value(clients) : 0;
    if (tr.max_node >= L.nodes && tr.max_node - L.nodes + 1 > L.clients)
        L.clients = tr.max_node - L.nodes + 1;
    L.shown_clients = MIN(L.clients, MAX_CLIENT_LINES);
    uint32_t lines = L.nodes + L.shown_clients;
    int height = CLAMP(200 + 62 * (int)lines, 460, 1800);
    g_autoptr(FlScript) s = fl_script_new("space-time", opt, 1100, height, rd->dir);
    char a[32], b[32];
    g_autofree char *title = g_strdup_printf("%s: space-time diagram, %s to %s", rd->label,
                                             fl_plot_duration(from, a), fl_plot_duration(to, b));
    fl_script_title(s, title);
    fl_script_set(s, "set xlabel \"time (ms)\"");
    fl_script_set(s, "set xrange [%.6f:%.6f]", xpos(&L, from), xpos(&L, to));
    fl_script_set(s, "set yrange [%.3f:0.6]", ypos(&L, lines ? L.nodes + L.shown_clients - 1 : 0) - 0.6);
    fl_script_set(s, "unset ytics");
    fl_script_set(s, "set grid xtics noytics");
    fl_script_set(s, "set clip two");
    fl_script_set(s, "set style textbox opaque noborder margins 1,1");
    fl_script_set(s, "set key below horizontal Left reverse samplen 2 spacing 1.1 maxrows 3");
    {
        GString *tics = g_string_new("set ytics (");
        for (uint32_t id = 0; id < lines; id++) {
            g_autofree char *name = id < L.nodes ? g_strdup_printf("node %u", id)
                                                 : g_strdup_printf("client %u", id - L.nodes);
            g_string_append_printf(tics, "%s\"%s\" %.2f", id ? ", " : "", name, ypos(&L, id));
        }
        g_string_append(tics, ") scale 0");
        fl_script_set(s, "%s", tics->str);
        g_string_free(tics, TRUE);
    }
    static const char *const drawn_on_lines[] = { "crash", "pause", NULL };
    if (!fl_script_faults(s, rd, from, to, L.ms, drawn_on_lines, err))
        return NULL;

    /* Lines and their states (notes 1, 5, 6). */
    FlSeries *base = fl_script_series(s, "1:2:3:4", "with vectors nohead lw 1 lc rgb \"#9a9a9a\"", NULL);
    FlSeries *lead = fl_script_series(s, "1:2:3:4", "with vectors nohead lw 5 lc rgb \"#1f77b4\"",
                                      "leading (leader, primary)");
    FlSeries *camp = fl_script_series(s, "1:2:3:4", "with vectors nohead lw 3 lc rgb \"#ff9f1c\"",
                                      "candidate");
    FlSeries *down = fl_script_series(s, "1:2:3:4", "with vectors nohead lw 3 dt 2 lc rgb \"#d62728\"",
                                      "crashed");
    FlSeries *paused = fl_script_series(s, "1:2:3:4", "with vectors nohead lw 3 dt 3 lc rgb \"#bcbd22\"",
                                        "paused");
    FlSeries *roles = fl_script_series(s, "1:2:3", "with labels boxed left offset 0.3,0.9 font \",8\" "
                                       "tc rgb \"#1f4e79\"", NULL);
    for (uint32_t id = 0; id < lines; id++)
        fl_series_row(base, "%.6f %.3f %.6f 0", xpos(&L, from), ypos(&L, id), xpos(&L, to) - xpos(&L, from));
    for (uint32_t node = 0; node < L.nodes; node++)
        node_states(&L, &tr, node, from, to, lead, camp, down, paused, roles, from > 0);

    /* Messages (notes 1, 3). */
    FlSeries *peer = fl_script_series(s, "1:2:3:4",
        "with vectors head filled size screen 0.007,18 lw 1.1 lc rgb \"#1f4e79\"", "message between nodes");
    FlSeries *client = fl_script_series(s, "1:2:3:4",
        "with vectors head filled size screen 0.006,18 lw 0.9 lc rgb \"#8fb3d9\"", "client request or reply");
    FlSeries *lost = fl_script_series(s, "1:2:3:4", "with vectors nohead lw 1.2 dt 2 lc rgb \"#d62728\"",
                                      "dropped message");
    FlSeries *cross = fl_script_series(s, "1:2", "with points pt 2 ps 1.1 lw 2 lc rgb \"#d62728\"", NULL);
    double span = xpos(&L, to) - xpos(&L, from);
    guint shown = 0, hidden = 0;
    for (guint i = 0; i < tr.msgs->len; i++) {
        const Msg *m = &g_array_index(tr.msgs, Msg, i);
        if (!has_line(&L, m->from) || !has_line(&L, m->to)) {
            hidden++;
            continue;
        }
        double x0 = xpos(&L, m->sent), y0 = ypos(&L, m->from), y1 = ypos(&L, m->to);
        shown++;
        if (m->fate == 1) {
            double dx = span / 60, dy = (y1 - y0) * 0.35;
            fl_series_row(lost, "%.6f %.3f %.6f %.3f", x0, y0, dx, dy);
            fl_series_row(cross, "%.6f %.3f", x0 + dx, y0 + dy);
            continue;
        }
        double x1 = xpos(&L, m->end);
        if (m->fate == 2) {
            fl_series_row(lost, "%.6f %.3f %.6f %.3f", x0, y0, x1 - x0, y1 - y0);
            fl_series_row(cross, "%.6f %.3f", x1, y1);
            continue;
        }
        bool to_client = m->from >= L.nodes || m->to >= L.nodes;
        fl_series_row(to_client ? client : peer, "%.6f %.3f %.6f %.3f", x0, y0, x1 - x0, y1 - y0);
    }

    /* Timers, client operations, crashes, logs. */
    /* Just above the line, where a leader's thick line cannot hide it. */
    FlSeries *timer = fl_script_series(s, "1:2", "with points pt 11 ps 0.6 lc rgb \"#555555\"", "timer fired");
    for (guint i = 0; i < tr.timers->len; i++) {
        const Msg *m = &g_array_index(tr.timers, Msg, i);
        if (has_line(&L, m->from))
            fl_series_row(timer, "%.6f %.3f", xpos(&L, m->sent), ypos(&L, m->from) + 0.13);
    }
    FlSeries *inv = fl_script_series(s, "1:2", "with points pt 8 ps 0.9 lw 1.5 lc rgb \"#333333\"",
                                     "client invokes");
    for (guint i = 0; i < tr.invokes->len; i++) {
        const Msg *m = &g_array_index(tr.invokes, Msg, i);
        if (has_line(&L, m->from))
            fl_series_row(inv, "%.6f %.3f", xpos(&L, m->sent), ypos(&L, m->from));
    }
    for (int o = 0; o < FL_OUTCOME_COUNT; o++) {
        g_autofree char *style = g_strdup_printf("with points pt 7 ps 0.9 lc rgb \"%s\"", fl_outcome_color(o));
        g_autofree char *name = g_strdup_printf("completes %s", fl_outcome_name(o));
        FlSeries *c = fl_script_series(s, "1:2", style, name);
        for (guint i = 0; i < tr.completes->len; i++) {
            const Msg *m = &g_array_index(tr.completes, Msg, i);
            if (m->fate == o && has_line(&L, m->from))
                fl_series_row(c, "%.6f %.3f", xpos(&L, m->sent), ypos(&L, m->from));
        }
    }
    FlSeries *crash = fl_script_series(s, "1:2", "with points pt 2 ps 2.2 lw 3 lc rgb \"#d62728\"", "crash");
    FlSeries *restart = fl_script_series(s, "1:2", "with points pt 4 ps 1.6 lw 2 lc rgb \"#2ca02c\"", "restart");
    for (guint i = 0; i < tr.states->len; i++) {
        const StateEv *e = &g_array_index(tr.states, StateEv, i);
        if (e->t < from || e->t > to || e->node >= L.nodes)
            continue;
        if (e->kind == ST_CRASH)
            fl_series_row(crash, "%.6f %.3f", xpos(&L, e->t), ypos(&L, e->node));
        else if (e->kind == ST_RESTART)
            fl_series_row(restart, "%.6f %.3f", xpos(&L, e->t), ypos(&L, e->node));
    }
    FlSeries *log = fl_script_series(s, "1:2", "with points pt 12 ps 1 lc rgb \"#9467bd\"", "log line");
    FlSeries *logtext = fl_script_series(s, "1:2:3", "with labels left rotate by 20 offset 0.4,0.6 font \",7\" tc rgb \"#9467bd\"", NULL);
    for (guint i = 0; i < tr.logs->len; i++) {
        const StateEv *e = g_ptr_array_index(tr.logs, i);
        if (!has_line(&L, e->node))
            continue;
        fl_series_row(log, "%.6f %.3f", xpos(&L, e->t), ypos(&L, e->node));
        if (tr.logs->len <= MAX_LOG_LABELS) {
            g_autofree char *lab = fl_plot_label(e->text, 30);
            fl_series_row(logtext, "%.6f %.3f \"%s\"", xpos(&L, e->t), ypos(&L, e->node), lab);
        }
    }
    fl_script_note(s, "showing %s to %s: %s; %u messages drawn%s. Choose another window with --from and --to.",
                   fl_plot_duration(from, a), fl_plot_duration(to, b), why,
                   shown, hidden ? " (messages of clients beyond the first 24 left out)" : "");
    return fl_script_finish(s, FL_PLOT_SPACETIME, err);
}
