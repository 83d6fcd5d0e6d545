/* sim/check/mutex.c: the `mutual-exclusion` checker for the mutex
 * protocol's logs (events.h).
 *
 * Design notes.
 *  1. The log grammar (protocols/mutex.c note 5): a header
 *     "mutex node=I nodes=N ...", then "s TO ID" (sent), "r FROM ID"
 *     (received), "w K TS" (request K), "e K T" (entered the critical
 *     section for it), "x K T" (left it), and "full".
 *  2. Safety.  Nodes share no clock, so "at the same time" means
 *     concurrent: two executions of the critical section A and B overlap
 *     unless one's exit happened before the other's entry.  Happens-before
 *     is rebuilt from the logs' sends and receipts, never from the
 *     protocol's clocks: each node's events are replayed in log order with
 *     a vector clock, a receipt waiting for its send (a receipt whose send
 *     no log holds is an error), and exit(A) -> enter(B) when the exit's
 *     vector is <= the entry's, componentwise.  An
 *     execution never left (the log ends inside it) has no exit: only an
 *     exit of the other can order the pair.  Every overlapping pair is a
 *     violation `overlap`.
 *  3. Liveness.  A request with no entry by the end of its node's log is a
 *     violation `starved`: the final reads come after the workload stops
 *     and the faults heal, long after any request could be granted.  An
 *     entry with no request before it, or entries out of order, make the
 *     log malformed (an error).
 *  4. The entry and exit times (each node's local clock) are only shown: a
 *     pair can be concurrent though one left before the other entered by
 *     the clocks (nothing but luck ordered them), and with skewed clocks
 *     times can overlap for a pair that happens-before orders.  The report
 *     counts the concurrent pairs whose times intersect too.
 *  5. Valid needs at least one execution and no violation; unknown when a
 *     log is missing or no node ever entered. */
#include "sim/check/events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_PER_KIND 3

enum { V_OVERLAP, V_STARVED, V_KINDS };
G_STATIC_ASSERT(V_KINDS <= FL_FINDINGS_KINDS);
static const char *const kind_names[] = { "overlap", "starved" };

typedef struct {
    guint32 node;
    guint64 k;
    gint64 t_enter, t_exit;
    gboolean left;
    guint64 *enter, *exit;   /* vectors (note 2); exit NULL: never left */
} Cs;

typedef struct {
    guint32 n;
    GPtrArray *cs;           /* Cs*, every execution */
    GArray *ev[FL_EVENTS_MAX_NODES];   /* Ev, each node's events in log order */
    guint64 sends[FL_EVENTS_MAX_NODES];   /* 1 + the highest ID each node logged sent */
    guint requests;
    guint timed;             /* overlaps whose local times intersect too */
    FlFindings f;
} Mx;

static void cs_free(gpointer p)
{
    Cs *c = p;
    g_free(c->enter);
    g_free(c->exit);
    g_free(c);
}

/* One event of a node's log that matters to happens-before. */
enum { E_SEND, E_RECV, E_ENTER, E_EXIT };
typedef struct {
    guint8 kind;
    guint32 peer;
    guint64 id;
    Cs *cs;                  /* E_ENTER, E_EXIT */
} Ev;

static gboolean parse_log(Mx *S, guint32 i, const char *text, const char *name, GError **err)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    if (!g_str_has_prefix(lines[0], "mutex ")) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: node %u's log is not a mutex log (it starts \"%s\")",
                    name, i, lines[0]);
        return FALSE;
    }
    guint64 wanted = 0, entered = 0;   /* the last request, and the last entry */
    Cs *open = NULL;
    for (guint k = 1; lines[k]; k++) {
        const char *l = lines[k];
        unsigned long long a, b;
        long long t;
        int used = 0;
        if (l[0] == '\0' || strcmp(l, "full") == 0)
            continue;
        if (sscanf(l, "s %llu %llu%n", &a, &b, &used) == 2 && l[used] == '\0' && a < S->n && a != i) {
            Ev e = { .kind = E_SEND, .peer = (guint32)a, .id = b };
            S->sends[i] = MAX(S->sends[i], b + 1);
            g_array_append_val(S->ev[i], e);
        } else if (sscanf(l, "r %llu %llu%n", &a, &b, &used) == 2 && l[used] == '\0' && a < S->n && a != i) {
            Ev e = { .kind = E_RECV, .peer = (guint32)a, .id = b };
            g_array_append_val(S->ev[i], e);
        } else if (sscanf(l, "w %llu %llu%n", &a, &b, &used) == 2 && l[used] == '\0') {
            if (a != wanted + 1 || open)
                goto bad;
            wanted = a;
            S->requests++;
        } else if (sscanf(l, "e %llu %lld%n", &a, &t, &used) == 2 && l[used] == '\0') {
            if (a != wanted || entered == a || open)
                goto bad;
            open = g_new0(Cs, 1);
            open->node = i;
            open->k = a;
            open->t_enter = t;
            g_ptr_array_add(S->cs, open);
            entered = a;
            Ev e = { .kind = E_ENTER, .cs = open };
            g_array_append_val(S->ev[i], e);
        } else if (sscanf(l, "x %llu %lld%n", &a, &t, &used) == 2 && l[used] == '\0') {
            if (!open || open->k != a)
                goto bad;
            open->t_exit = t;
            open->left = TRUE;
            Ev e = { .kind = E_EXIT, .cs = open };
            g_array_append_val(S->ev[i], e);
            open = NULL;
        } else {
            goto bad;
        }
        continue;
    bad:
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: node %u's log, line %u: expected \"s TO ID\", \"r FROM ID\", \"w K TS\", \"e K T\" or "
                    "\"x K T\", requests numbered from 1, each entered once after it was made and left "
                    "before the next: \"%s\"", name, i, k + 1, l);
        return FALSE;
    }
    if (wanted > entered)
        fl_findings_add(&S->f, V_STARVED, "node %u's request %" G_GUINT64_FORMAT " was never granted", i, wanted);
    return TRUE;
}

/* exit(@a) happened before enter(@b) (note 2). */
static gboolean before(const Mx *S, const Cs *a, const Cs *b)
{
    if (!a->left)
        return FALSE;
    for (guint32 j = 0; j < S->n; j++)
        if (a->exit[j] > b->enter[j])
            return FALSE;
    return TRUE;
}

/* Note 2: replays every node's events with vector clocks; FALSE (and @err)
 * when a receipt's send is in no log.  A log is a prefix of what its node
 * did (the final read came while it ran on): a receipt of a message its
 * sender sent after its log was read (an ID past the last it logged)
 * counts as after the whole of the sender's log.  A receipt from a node
 * whose log is missing orders nothing. */
static gboolean rebuild(Mx *S, const char *name, GError **err)
{
    guint32 n = S->n;
    g_autoptr(GHashTable) sends = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    g_autofree guint64 *vc = g_new0(guint64, (gsize)n * n);
    guint pos[FL_EVENTS_MAX_NODES] = { 0 };
    gboolean progress = TRUE, done = FALSE;
    const Ev *unsent = NULL;
    guint32 unsent_at = 0;
    while (progress && !done && !unsent) {
        progress = FALSE;
        done = TRUE;
        for (guint32 i = 0; i < n && !unsent; i++) {
            guint64 *v = vc + (gsize)i * n;
            GArray *evs = S->ev[i];
            for (; evs && pos[i] < evs->len; pos[i]++) {
                const Ev *e = &g_array_index(evs, Ev, pos[i]);
                if (e->kind == E_RECV && S->ev[e->peer]) {
                    gint64 key = (gint64)((guint64)e->peer << 48 | e->id);
                    const guint64 *sv = g_hash_table_lookup(sends, &key);
                    gboolean peer_done = pos[e->peer] == S->ev[e->peer]->len;
                    if (!sv && peer_done && e->id >= S->sends[e->peer])
                        sv = vc + (gsize)e->peer * n;
                    if (!sv && peer_done) {
                        unsent = e;
                        unsent_at = i;
                    }
                    if (!sv)
                        break;   /* wait for its send */
                    for (guint32 j = 0; j < n; j++)
                        v[j] = MAX(v[j], sv[j]);
                }
                v[i]++;
                if (e->kind == E_SEND) {
                    gint64 *key = g_new(gint64, 1);
                    *key = (gint64)((guint64)i << 48 | e->id);
                    g_hash_table_replace(sends, key, g_memdup2(v, n * sizeof *v));
                } else if (e->kind == E_ENTER) {
                    e->cs->enter = g_memdup2(v, n * sizeof *v);
                } else if (e->kind == E_EXIT) {
                    e->cs->exit = g_memdup2(v, n * sizeof *v);
                }
                progress = TRUE;
            }
            done &= !evs || pos[i] == evs->len;
        }
    }
    if (done && !unsent)
        return TRUE;
    for (guint32 i = 0; i < n && !unsent; i++)
        if (S->ev[i] && pos[i] < S->ev[i]->len) {
            unsent = &g_array_index(S->ev[i], Ev, pos[i]);
            unsent_at = i;
        }
    g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: node %u received message %u:%" G_GUINT64_FORMAT
                ", which no log shows sent", name, unsent_at, unsent->peer, unsent->id);
    return FALSE;
}

FlVerdict fl_check_mutex(const FlEventLogs *logs, GString *report, json_t **json_out, GError **err)
{
    Mx S = {
        .n = logs->nodes,
        .cs = g_ptr_array_new_with_free_func(cs_free),
        .f = { .names = kind_names, .shown_per_kind = SHOWN_PER_KIND,
               .report = report ? g_string_new(NULL) : NULL,
               .listed = json_out ? json_array() : NULL },
    };
    FlVerdict verdict = FL_VERDICT_ERROR;
    guint missing = 0;
    for (guint32 i = 0; i < S.n; i++) {
        if (!logs->text[i]) {
            missing++;
            continue;
        }
        S.ev[i] = g_array_new(FALSE, FALSE, sizeof(Ev));
        if (!parse_log(&S, i, logs->text[i], logs->name, err))
            goto out;
    }
    if (!rebuild(&S, logs->name, err))
        goto out;
    /* Every pair of executions on different nodes (one node's are ordered
     * by its log). */
    for (guint a = 0; a < S.cs->len; a++) {
        const Cs *A = g_ptr_array_index(S.cs, a);
        for (guint b = a + 1; b < S.cs->len; b++) {
            const Cs *B = g_ptr_array_index(S.cs, b);
            if (A->node == B->node || before(&S, A, B) || before(&S, B, A))
                continue;
            /* Note 4: the nodes' clocks, for the reader. */
            gboolean timed = (!A->left || B->t_enter < A->t_exit) && (!B->left || A->t_enter < B->t_exit);
            S.timed += timed;
            g_autofree char *ta = A->left ? g_strdup_printf("%.3fs", A->t_exit / 1e9) : g_strdup("end");
            g_autofree char *tb = B->left ? g_strdup_printf("%.3fs", B->t_exit / 1e9) : g_strdup("end");
            fl_findings_add(&S.f, V_OVERLAP, "node %u's critical section %" G_GUINT64_FORMAT " [%.3fs, %s] and node %u's %"
                      G_GUINT64_FORMAT " [%.3fs, %s] are concurrent: neither left before the other entered%s",
                      A->node, A->k, A->t_enter / 1e9, ta, B->node, B->k, B->t_enter / 1e9, tb,
                      timed ? " (and their times overlap)" : "");
        }
    }
    guint bad = 0;
    for (int k = 0; k < V_KINDS; k++)
        bad += S.f.counts[k];
    verdict = missing ? FL_VERDICT_UNKNOWN : bad ? FL_VERDICT_INVALID : S.cs->len ? FL_VERDICT_VALID : FL_VERDICT_UNKNOWN;
    if (missing && bad)
        verdict = FL_VERDICT_INVALID;
    if (report) {
        g_string_append(report, S.f.report->str);
        if (S.f.hidden)
            g_string_append_printf(report, "... and %u more violations\n", S.f.hidden);
        g_string_append_printf(report, "%u nodes, %u requests, %u critical sections", S.n, S.requests, S.cs->len);
        if (missing)
            g_string_append_printf(report, ", %u logs missing", missing);
        g_string_append(report, "; ");
        if (bad) {
            for (int k = 0; k < V_KINDS; k++)
                if (S.f.counts[k])
                    g_string_append_printf(report, "%u %s ", S.f.counts[k], kind_names[k]);
            g_string_append(report, "violations");
            if (S.f.counts[V_OVERLAP])
                g_string_append_printf(report, " (%u of the overlaps also overlap on the nodes' clocks)", S.timed);
            g_string_append(report, "\n");
        } else {
            g_string_append(report, "no two critical sections concurrent, every request granted\n");
        }
    }
    if (json_out) {
        json_t *j = fl_events_verdict_json(verdict, "mutual-exclusion");
        json_object_set_new(j, "nodes", json_integer(S.n));
        json_object_set_new(j, "logs_missing", json_integer(missing));
        json_object_set_new(j, "requests", json_integer(S.requests));
        json_object_set_new(j, "critical_sections", json_integer(S.cs->len));
        for (int k = 0; k < V_KINDS; k++)
            json_object_set_new(j, kind_names[k], json_integer(S.f.counts[k]));
        json_object_set_new(j, "overlap_in_time", json_integer(S.timed));
        json_object_set_new(j, "violations", S.f.listed);
        S.f.listed = NULL;
        *json_out = j;
    }
out:
    if (S.f.listed)
        json_decref(S.f.listed);
    if (S.f.report)
        g_string_free(S.f.report, TRUE);
    g_ptr_array_free(S.cs, TRUE);
    for (guint32 i = 0; i < FL_EVENTS_MAX_NODES; i++)
        if (S.ev[i])
            g_array_free(S.ev[i], TRUE);
    return verdict;
}
