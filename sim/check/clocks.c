/* sim/check/clocks.c: the `happens-before` checker for the `clocks`
 * protocol's logs (events.h).
 *
 * Design notes.
 *  1. The log grammar (protocols/clocks.c writes it): a header line
 *     "clocks node=I nodes=N ...", then one line per event in the order
 *     the node took it:
 *        l L V            a local event
 *        s SEQ TO L V     the send of message I:SEQ to node TO
 *        r FROM SEQ L V   the receipt of message FROM:SEQ
 *        full             the node stopped logging (and taking steps)
 *     where L is the event's Lamport clock and V its vector clock, N
 *     decimal numbers separated by commas.
 *  2. Happens-before is computed here from the run's structure alone, never
 *     from the clocks under test: a -> b when a comes before b on one node,
 *     or a is the send of a message b receives, or by transitivity
 *     (Lamport 1978, section 2).  The checker assigns each event its own
 *     exact vector T (Fidge, Mattern): T(e) is the previous event's vector
 *     on e's node, merged with the send's for a receive, with e's own entry
 *     incremented.  Then a -> b iff T(b)[node(a)] >= position of a on its
 *     node (1-based), a != b.  Events are visited in an order that puts a
 *     send before its receipts; if no such order exists, the logs contradict
 *     each other (a receipt before its own send).
 *  3. The clock condition (a -> b implies L(a) < L(b)) is checked on the
 *     edges of happens-before only: a node's consecutive events, and each
 *     send with each of its receipts.  Every pair a -> b is joined by a
 *     path of such edges, so L increases along every edge iff it increases
 *     along every pair.  A broken edge is the thing to show a student.
 *  4. Vector clocks characterise happens-before when, for all a != b,
 *     V(a) < V(b) iff a -> b.  Up to PAIRWISE_MAX events every ordered pair
 *     is compared, and the two kinds of error counted apart: missed
 *     (a -> b but not V(a) < V(b)) and spurious (V(a) < V(b), a and b
 *     concurrent or reversed).  Above it, V == T on every event is taken as
 *     the proof (T characterises happens-before exactly, note 2); only when
 *     they differ are pairs compared, until LISTED_MAX errors are found.
 *  5. A message received but sent by no node whose log was read is a
 *     violation ("received but never sent") when its sender's log was read,
 *     and makes the vector check impossible when it was not (that node's
 *     log is missing: the verdict is then unknown, unless the clock
 *     condition broke on an edge that is there).  A message received twice
 *     (the network duplicated it) is two receipts of one send; a message
 *     never received is in flight or lost, which is allowed. */
#include "sim/check/events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_PER_KIND 3   /* violations shown of each kind */
#define LISTED_MAX 100
#define PAIRWISE_MAX 5000
#define EVENTS_MAX 2000000

enum { E_LOCAL, E_SEND, E_RECV };

typedef struct {
    guint8 kind;
    guint32 node, pos;     /* pos: 1-based on its node */
    guint32 peer;          /* send: the destination; receive: the sender */
    guint64 seq;           /* send, receive: the message's number at its sender */
    guint64 lamport;
    gint64 send;           /* receive: the index of its send, -1 when unknown */
} Ev;

typedef struct {
    const FlEventLogs *logs;
    guint32 n;
    GArray *ev;            /* Ev */
    GArray *vec;           /* guint64, N per event: V as logged */
    guint32 *t;            /* N per event: T (note 2) */
    guint32 first[FL_EVENTS_MAX_NODES + 1];   /* index of each node's first event */
    GString *report;
    json_t *listed;
    guint shown, shown_kind[4], hidden;
    guint sends, receives, locals, phantom, in_flight, duplicates, full_nodes, missing;
    guint64 edges, broken, pairs, missed, spurious, concurrent, lamport_ordered_concurrent;
    gboolean cycle, vector_checked;
} Clocks;

static int kind_index(const char *kind)
{
    /* The kinds, in the order they are found: the first letter tells them apart. */
    return kind[0] == 'c' ? 0 : kind[0] == 'v' ? 1 : kind[0] == 'r' ? 2 : 3;
}

/* Whether a violation of @kind will be shown or listed; when not, it is
 * only counted, without the cost of describing it. */
static gboolean wanted(Clocks *C, const char *kind)
{
    if ((C->report && C->shown_kind[kind_index(kind)] < SHOWN_PER_KIND) ||
        (C->listed && json_array_size(C->listed) < LISTED_MAX))
        return TRUE;
    C->hidden += C->report != NULL;
    return FALSE;
}

static void violation(Clocks *C, const char *kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void violation(Clocks *C, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    int k = kind_index(kind);
    if (C->report && C->shown_kind[k]++ < SHOWN_PER_KIND) {
        g_string_append_printf(C->report, "%s: %s\n", kind, text);
        C->shown++;
    } else if (C->report) {
        C->hidden++;
    }
    if (C->listed && json_array_size(C->listed) < LISTED_MAX)
        json_array_append_new(C->listed, json_pack("{s:s,s:s}", "kind", kind, "text", text));
}

static const Ev *ev_at(const Clocks *C, gsize i) { return &g_array_index(C->ev, Ev, i); }
static const guint64 *vec_at(const Clocks *C, gsize i) { return &g_array_index(C->vec, guint64, i * C->n); }

/* "node 2's event 7 (send of 2:5, L=12, V=[..])" */
static void describe(const Clocks *C, gsize i, GString *out)
{
    const Ev *e = ev_at(C, i);
    g_string_append_printf(out, "node %u's event %u (", e->node, e->pos);
    if (e->kind == E_LOCAL)
        g_string_append(out, "local");
    else if (e->kind == E_SEND)
        g_string_append_printf(out, "send of %u:%" G_GUINT64_FORMAT " to %u", e->node, e->seq, e->peer);
    else
        g_string_append_printf(out, "receipt of %u:%" G_GUINT64_FORMAT, e->peer, e->seq);
    g_string_append_printf(out, ", L=%" G_GUINT64_FORMAT ", V=[", e->lamport);
    const guint64 *v = vec_at(C, i);
    for (guint32 k = 0; k < C->n; k++)
        g_string_append_printf(out, "%s%" G_GUINT64_FORMAT, k ? "," : "", v[k]);
    g_string_append(out, "])");
}

static gboolean parse_u64(const char **p, guint64 *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return FALSE;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    *out = v;
    *p = end;
    return TRUE;
}

/* Parses one event line (note 1) of node @node into C; FALSE on a bad line. */
static gboolean parse_line(Clocks *C, guint32 node, const char *line, gboolean *full)
{
    Ev e = { .node = node, .send = -1 };
    const char *p = line + 1;
    guint64 a = 0, b = 0;
    if (strcmp(line, "full") == 0) {
        *full = TRUE;
        return TRUE;
    }
    switch (line[0]) {
    case 'l': e.kind = E_LOCAL; break;
    case 's': e.kind = E_SEND; break;
    case 'r': e.kind = E_RECV; break;
    default: return FALSE;
    }
    if (e.kind != E_LOCAL) {
        if (*p++ != ' ' || !parse_u64(&p, &a) || *p++ != ' ' || !parse_u64(&p, &b))
            return FALSE;
        if (e.kind == E_SEND) {
            e.seq = a;
            e.peer = (guint32)b;
            if (b >= C->n || b == node)
                return FALSE;
        } else {
            e.peer = (guint32)a;
            e.seq = b;
            if (a >= C->n || a == node)
                return FALSE;
        }
    }
    if (*p++ != ' ' || !parse_u64(&p, &e.lamport) || *p++ != ' ')
        return FALSE;
    for (guint32 k = 0; k < C->n; k++) {
        guint64 v;
        if ((k && *p++ != ',') || !parse_u64(&p, &v))
            return FALSE;
        g_array_append_val(C->vec, v);
    }
    if (*p != '\0')
        return FALSE;
    e.pos = C->ev->len - C->first[node] + 1;
    g_array_append_val(C->ev, e);
    return TRUE;
}

static gboolean parse_logs(Clocks *C, GError **err)
{
    for (guint32 node = 0; node < C->n; node++) {
        C->first[node] = C->ev->len;
        const char *text = C->logs->text[node];
        if (!text) {
            C->missing++;
            continue;
        }
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        if (!g_str_has_prefix(lines[0], "clocks ")) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s: node %u's log is not a clocks log (it starts \"%s\")", C->logs->name, node, lines[0]);
            return FALSE;
        }
        gboolean full = FALSE;
        for (guint i = 1; lines[i]; i++) {
            if (lines[i][0] == '\0')
                continue;
            if (full || !parse_line(C, node, lines[i], &full)) {
                g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s: node %u's log, line %u: expected \"l L V\", \"s SEQ TO L V\", "
                            "\"r FROM SEQ L V\" or a last \"full\", with V %u numbers: \"%s\"",
                            C->logs->name, node, i + 1, C->n, lines[i]);
                return FALSE;
            }
            if (C->ev->len > EVENTS_MAX) {
                g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s: more than %d events in the logs", C->logs->name, EVENTS_MAX);
                return FALSE;
            }
        }
        C->full_nodes += full;
    }
    C->first[C->n] = C->ev->len;
    return TRUE;
}

/* Matches receipts with sends (note 5). */
static gboolean match_messages(Clocks *C, GError **err)
{
    g_autoptr(GHashTable) sends = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_autoptr(GHashTable) received = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    for (guint i = 0; i < C->ev->len; i++) {
        const Ev *e = ev_at(C, i);
        if (e->kind != E_SEND)
            continue;
        gint64 *k = g_new(gint64, 1);
        *k = (gint64)((guint64)e->node << 48 | e->seq);
        if (e->seq >> 48 || g_hash_table_contains(sends, k)) {
            g_free(k);
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s: node %u logs message %u:%" G_GUINT64_FORMAT " sent twice", C->logs->name,
                        e->node, e->node, e->seq);
            return FALSE;
        }
        g_hash_table_insert(sends, k, GUINT_TO_POINTER(i + 1));
    }
    for (guint i = 0; i < C->ev->len; i++) {
        Ev *e = &g_array_index(C->ev, Ev, i);
        if (e->kind == E_SEND)
            C->sends++;
        else if (e->kind == E_LOCAL)
            C->locals++;
        if (e->kind != E_RECV)
            continue;
        C->receives++;
        gint64 key = (gint64)((guint64)e->peer << 48 | (e->seq & ((1ull << 48) - 1)));
        gpointer s = g_hash_table_lookup(sends, &key);
        if (s) {
            e->send = (gint64)GPOINTER_TO_UINT(s) - 1;
            if (g_hash_table_contains(received, &key))
                C->duplicates++;
            else
                g_hash_table_add(received, g_memdup2(&key, sizeof key));
        } else if (C->logs->text[e->peer]) {
            C->phantom++;
            if (!wanted(C, "received but never sent"))
                continue;
            g_autoptr(GString) d = g_string_new(NULL);
            describe(C, i, d);
            violation(C, "received but never sent", "%s: node %u's log has no send of it", d->str, e->peer);
        }
    }
    C->in_flight = C->sends - g_hash_table_size(received);
    return TRUE;
}

/* Computes T for every event (note 2); FALSE when the logs admit no order. */
static gboolean exact_vectors(Clocks *C)
{
    guint32 n = C->n;
    C->t = g_new0(guint32, (gsize)C->ev->len * n);
    guint32 next[FL_EVENTS_MAX_NODES];
    gboolean *done = g_new0(gboolean, C->ev->len);
    for (guint32 k = 0; k < n; k++)
        next[k] = C->first[k];
    gboolean progress = TRUE, left = TRUE;
    while (progress && left) {
        progress = FALSE;
        left = FALSE;
        for (guint32 k = 0; k < n; k++) {
            while (next[k] < C->first[k + 1]) {
                guint32 i = next[k];
                const Ev *e = ev_at(C, i);
                if (e->kind == E_RECV && e->send >= 0 && !done[e->send])
                    break;
                guint32 *t = &C->t[(gsize)i * n];
                if (i > C->first[k])
                    memcpy(t, &C->t[(gsize)(i - 1) * n], n * sizeof *t);
                if (e->kind == E_RECV && e->send >= 0) {
                    const guint32 *s = &C->t[(gsize)e->send * n];
                    for (guint32 j = 0; j < n; j++)
                        t[j] = MAX(t[j], s[j]);
                }
                t[k] = e->pos;
                done[i] = TRUE;
                next[k]++;
                progress = TRUE;
            }
            left |= next[k] < C->first[k + 1];
        }
    }
    g_free(done);
    return !left;
}

static inline gboolean hb(const Clocks *C, gsize a, gsize b)
{
    const Ev *ea = ev_at(C, a);
    return a != b && C->t[b * C->n + ea->node] >= ea->pos;
}

static inline gboolean vlt(const Clocks *C, gsize a, gsize b)
{
    const guint64 *va = vec_at(C, a), *vb = vec_at(C, b);
    gboolean less = FALSE;
    for (guint32 k = 0; k < C->n; k++) {
        if (va[k] > vb[k])
            return FALSE;
        less |= va[k] < vb[k];
    }
    return less;
}

/* The clock condition on the edges of happens-before (note 3). */
static void check_lamport(Clocks *C)
{
    for (gsize i = 0; i < C->ev->len; i++) {
        const Ev *e = ev_at(C, i);
        gsize from[2];
        int nfrom = 0;
        if (e->pos > 1)
            from[nfrom++] = i - 1;
        if (e->kind == E_RECV && e->send >= 0)
            from[nfrom++] = (gsize)e->send;
        for (int f = 0; f < nfrom; f++) {
            C->edges++;
            if (ev_at(C, from[f])->lamport < e->lamport)
                continue;
            C->broken++;
            if (!wanted(C, "clock condition"))
                continue;
            g_autoptr(GString) a = g_string_new(NULL), b = g_string_new(NULL);
            describe(C, from[f], a);
            describe(C, i, b);
            violation(C, "clock condition", "%s happens before %s, but its Lamport clock is not smaller",
                      a->str, b->str);
        }
    }
}

/* Vector clocks against happens-before (note 4). */
static void check_vectors(Clocks *C)
{
    gsize E = C->ev->len;
    gboolean equal = TRUE;
    for (gsize i = 0; i < E && equal; i++)
        for (guint32 k = 0; k < C->n && equal; k++)
            equal = vec_at(C, i)[k] == C->t[i * C->n + k];
    gboolean pairwise = E <= PAIRWISE_MAX || !equal;
    C->vector_checked = TRUE;
    if (!pairwise)
        return;
    for (gsize a = 0; a < E; a++) {
        for (gsize b = 0; b < E; b++) {
            if (a == b)
                continue;
            C->pairs++;
            gboolean h = hb(C, a, b), v = vlt(C, a, b);
            if (!h && !hb(C, b, a)) {
                C->concurrent++;
                C->lamport_ordered_concurrent += ev_at(C, a)->lamport < ev_at(C, b)->lamport;
            }
            if (h == v)
                continue;
            if (h)
                C->missed++;
            else
                C->spurious++;
            if (E > PAIRWISE_MAX && C->missed + C->spurious >= LISTED_MAX)
                return;
            if (!wanted(C, "vector clocks"))
                continue;
            g_autoptr(GString) da = g_string_new(NULL), db = g_string_new(NULL);
            describe(C, a, da);
            describe(C, b, db);
            if (h)
                violation(C, "vector clocks", "%s happens before %s, but its vector is not smaller", da->str, db->str);
            else
                violation(C, "vector clocks", "%s has a smaller vector than %s, but does not happen before it (%s)",
                          da->str, db->str, hb(C, b, a) ? "the other way round" : "they are concurrent");
        }
    }
}

FlVerdict fl_check_clocks(const FlEventLogs *logs, GString *report, json_t **json_out, GError **err)
{
    Clocks C = {
        .logs = logs,
        .n = logs->nodes,
        .ev = g_array_new(FALSE, FALSE, sizeof(Ev)),
        .vec = g_array_new(FALSE, FALSE, sizeof(guint64)),
        .report = report ? g_string_new(NULL) : NULL,
        .listed = json_out ? json_array() : NULL,
    };
    FlVerdict verdict = FL_VERDICT_ERROR;
    if (!parse_logs(&C, err) || !match_messages(&C, err))
        goto out;
    if (!exact_vectors(&C)) {
        C.cycle = TRUE;
        violation(&C, "no order", "the logs admit no order in which every message is sent before it is received");
    } else {
        check_lamport(&C);
        if (!C.missing)
            check_vectors(&C);
    }
    gboolean bad = C.cycle || C.broken || C.phantom || C.missed || C.spurious;
    verdict = bad ? FL_VERDICT_INVALID : (C.missing || !C.n) ? FL_VERDICT_UNKNOWN : FL_VERDICT_VALID;
    if (report) {
        g_string_append(report, C.report->str);
        if (C.hidden)
            g_string_append_printf(report, "... and %u more violations of these kinds (metrics.json lists %d)\n",
                                   C.hidden, LISTED_MAX);
        g_string_append_printf(report, "%u nodes, %u events (%u local, %u sends, %u receipts; %u messages "
                               "in flight or lost, %u received twice)",
                               C.n, C.ev->len, C.locals, C.sends, C.receives, C.in_flight, C.duplicates);
        if (C.missing)
            g_string_append_printf(report, "; %u nodes' logs were not read", C.missing);
        if (C.full_nodes)
            g_string_append_printf(report, "; %u logs full", C.full_nodes);
        g_string_append(report, "\n");
        if (C.cycle) {
            g_string_append(report, "the logs contradict each other: a receipt comes before its own send\n");
        } else {
            if (C.broken)
                g_string_append_printf(report, "clock condition: BROKEN on %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                                       " happens-before edges\n", C.broken, C.edges);
            else
                g_string_append_printf(report, "clock condition: holds (a -> b implies L(a) < L(b); "
                                       "%" G_GUINT64_FORMAT " edges)\n", C.edges);
            if (!C.vector_checked)
                g_string_append(report, "vector clocks: not checked (a log is missing)\n");
            else if (C.missed || C.spurious)
                g_string_append_printf(report, "vector clocks: do NOT characterise happens-before: %" G_GUINT64_FORMAT
                                       " ordered pairs missed, %" G_GUINT64_FORMAT " spurious%s\n", C.missed,
                                       C.spurious, C.pairs < (guint64)C.ev->len * (C.ev->len - 1) ? " (stopped early)" : "");
            else if (C.pairs)
                g_string_append_printf(report, "vector clocks: characterise happens-before exactly (a -> b iff "
                                       "V(a) < V(b), over %" G_GUINT64_FORMAT " ordered pairs); %" G_GUINT64_FORMAT
                                       " of the %" G_GUINT64_FORMAT " ordered concurrent pairs have L(a) < L(b): "
                                       "Lamport clocks order them, yet neither happened before the other\n",
                                       C.pairs, C.lamport_ordered_concurrent, C.concurrent);
            else
                g_string_append(report, "vector clocks: characterise happens-before exactly (every vector is "
                                "the exact one)\n");
            if (C.phantom)
                g_string_append_printf(report, "%u messages received but never sent\n", C.phantom);
        }
    }
    if (json_out) {
        json_t *j = fl_events_verdict_json(verdict, "happens-before");
        json_object_set_new(j, "nodes", json_integer(C.n));
        json_object_set_new(j, "logs_missing", json_integer(C.missing));
        json_object_set_new(j, "steps", json_integer(logs->steps));
        json_object_set_new(j, "steps_ok", json_integer(logs->steps_ok));
        json_object_set_new(j, "events", json_integer(C.ev->len));
        json_object_set_new(j, "sends", json_integer(C.sends));
        json_object_set_new(j, "receipts", json_integer(C.receives));
        json_object_set_new(j, "in_flight", json_integer(C.in_flight));
        json_object_set_new(j, "received_twice", json_integer(C.duplicates));
        json_object_set_new(j, "received_never_sent", json_integer(C.phantom));
        json_object_set_new(j, "clock_condition", json_pack("{s:b,s:I,s:I}", "holds", !C.cycle && !C.broken,
                                                            "edges", (json_int_t)C.edges, "broken", (json_int_t)C.broken));
        json_object_set_new(j, "vector_clocks", json_pack("{s:b,s:b,s:I,s:I,s:I}", "checked", C.vector_checked,
                                                          "exact", C.vector_checked && !C.missed && !C.spurious,
                                                          "pairs", (json_int_t)C.pairs, "missed", (json_int_t)C.missed,
                                                          "spurious", (json_int_t)C.spurious));
        json_object_set_new(j, "concurrent_pairs", json_integer((json_int_t)C.concurrent));
        json_object_set_new(j, "concurrent_pairs_lamport_ordered", json_integer((json_int_t)C.lamport_ordered_concurrent));
        json_object_set_new(j, "violations", C.listed);
        C.listed = NULL;
        *json_out = j;
    }
out:
    if (C.listed)
        json_decref(C.listed);
    if (C.report)
        g_string_free(C.report, TRUE);
    g_array_free(C.ev, TRUE);
    g_array_free(C.vec, TRUE);
    g_free(C.t);
    return verdict;
}
