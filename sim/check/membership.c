/* sim/check/membership.c: the `membership` checker for the swim protocol's
 * logs (events.h): the failure detector's completeness and accuracy, from
 * what each member wrote down.
 *
 * Design notes.
 *  1. The log grammar (protocols/swim.c note 10): a header "swim node=I
 *     nodes=N suspicion=on|off period=NS bound=NS boot=T", then
 *     "j T J INC" (J became a member, or came back from dead), "s T J INC"
 *     (suspected), "a T J INC" (suspicion refuted), "d T J INC" (declared
 *     or learnt dead), "r T INC" (the node refuted), "l J T" (the last
 *     time it heard from J, appended by the final read), and "full".
 *     Times are the writer's local clock: the checker compares them across
 *     nodes, which is sound only without clock faults.
 *  2. Who crashed.  The final reads come after the workload and every
 *     healing fault: a node whose log is missing did not answer, so it is
 *     down at the end: crashed.  When it crashed is not in the history;
 *     its crash is estimated as the last time any live member heard from
 *     it (the "l" lines), which is at or before the crash, so a latency
 *     measured from it is never shorter than the true one.
 *  3. Completeness (strong completeness, Chandra and Toueg): every live
 *     member holds every crashed one dead at the end (else `undetected`),
 *     and its last declaration came within `bound` of the crash (else
 *     `late`).  The bound is the protocol's own (its header), which
 *     follows from round-robin probing (swim.c note 2).
 *  4. Accuracy: a `false-dead` is a "d" line about a member that is live at
 *     the end, written at or after the time that member last booted (its
 *     header's boot=).  Declarations before its boot are not judged: the
 *     member may have been down then.
 *  5. Valid needs no violation and at least one log; unknown when no log
 *     was read. */
#include "sim/check/events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_PER_KIND 3

enum { V_UNDETECTED, V_LATE, V_FALSE, V_KINDS };
G_STATIC_ASSERT(V_KINDS <= FL_FINDINGS_KINDS);
static const char *const kind_names[] = { "undetected", "late", "false-dead" };

enum { S_NONE, S_ALIVE, S_SUSPECT, S_DEAD };

typedef struct {
    guint8 status;          /* the final status, in this node's view */
    gint64 dead_at;         /* the last time it turned dead */
    gint64 heard;           /* "l": the last time heard from; -1 never */
    GArray *deaths;         /* gint64: the time of each "d" */
} View;

typedef struct {
    guint32 n;
    gboolean have[FL_EVENTS_MAX_NODES];
    gint64 boot[FL_EVENTS_MAX_NODES], bound[FL_EVENTS_MAX_NODES];
    View *v;                /* n x n, observer-major */
    guint suspicions, refutes;
    FlFindings f;
} Mb;

static View *view(Mb *S, guint32 i, guint32 j) { return &S->v[(gsize)i * S->n + j]; }

static gboolean header_field(const char *head, const char *key, gint64 *out)
{
    g_autofree char *k = g_strdup_printf(" %s=", key);
    const char *p = strstr(head, k);
    if (!p)
        return FALSE;
    char *end = NULL;
    long long v = strtoll(p + strlen(k), &end, 10);
    if (end == p + strlen(k) || (*end != ' ' && *end != '\0') || v < 0)
        return FALSE;
    *out = v;
    return TRUE;
}

static gboolean parse_log(Mb *S, guint32 i, const char *text, const char *name, GError **err)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    if (!g_str_has_prefix(lines[0], "swim ") || !header_field(lines[0], "boot", &S->boot[i]) ||
        !header_field(lines[0], "bound", &S->bound[i])) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: node %u's log is not a swim log with bound= and boot= (it starts \"%s\")", name, i,
                    lines[0]);
        return FALSE;
    }
    S->have[i] = TRUE;
    for (guint k = 1; lines[k]; k++) {
        const char *l = lines[k];
        unsigned long long a, b;
        long long t;
        char c;
        int used = 0;
        if (l[0] == '\0' || strcmp(l, "full") == 0)
            continue;
        if (sscanf(l, "%c %lld %llu %llu%n", &c, &t, &a, &b, &used) == 4 && l[used] == '\0' &&
            strchr("jsad", c) && a < S->n && a != i) {
            View *v = view(S, i, (guint32)a);
            if (c == 'd') {
                v->status = S_DEAD;
                v->dead_at = t;
                g_array_append_val(v->deaths, t);
            } else {
                v->status = c == 's' ? S_SUSPECT : S_ALIVE;
                S->suspicions += c == 's';
            }
        } else if (sscanf(l, "r %lld %llu%n", &t, &b, &used) == 2 && l[used] == '\0') {
            S->refutes++;
        } else if (sscanf(l, "l %llu %lld%n", &a, &t, &used) == 2 && l[used] == '\0' && a < S->n && a != i) {
            view(S, i, (guint32)a)->heard = t;
        } else {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s: node %u's log, line %u: expected \"j|s|a|d T J INC\", \"r T INC\" or \"l J T\" "
                        "with J another node below %u: \"%s\"", name, i, k + 1, S->n, l);
            return FALSE;
        }
    }
    return TRUE;
}

FlVerdict fl_check_membership(const FlEventLogs *logs, GString *report, json_t **json_out, GError **err)
{
    Mb S = {
        .n = logs->nodes,
        .f = { .names = kind_names, .shown_per_kind = SHOWN_PER_KIND,
               .report = report ? g_string_new(NULL) : NULL,
               .listed = json_out ? json_array() : NULL },
    };
    S.v = g_new0(View, (gsize)S.n * S.n);
    for (gsize k = 0; k < (gsize)S.n * S.n; k++) {
        S.v[k].heard = -1;
        S.v[k].deaths = g_array_new(FALSE, FALSE, sizeof(gint64));
    }
    FlVerdict verdict = FL_VERDICT_ERROR;
    guint crashed = 0, live = 0, pairs = 0;
    gint64 det_max = 0;
    for (guint32 i = 0; i < S.n; i++)
        if (logs->text[i] && !parse_log(&S, i, logs->text[i], logs->name, err))
            goto out;
    for (guint32 j = 0; j < S.n; j++) {
        if (S.have[j]) {
            live++;
            /* Note 4: accuracy. */
            for (guint32 i = 0; i < S.n; i++) {
                if (!S.have[i] || i == j)
                    continue;
                GArray *d = view(&S, i, j)->deaths;
                for (guint k = 0; k < d->len; k++)
                    if (g_array_index(d, gint64, k) >= S.boot[j])
                        fl_findings_add(&S.f, V_FALSE, "node %u declared node %u dead at %.3fs, but node %u is up (since %.3fs) and answered the final read",
                                        i, j, g_array_index(d, gint64, k) / 1e9, j, S.boot[j] / 1e9);
            }
            continue;
        }
        crashed++;
        /* Note 2: the crash is at or after the last time anyone heard it. */
        gint64 crash = 0;
        for (guint32 i = 0; i < S.n; i++)
            if (S.have[i] && view(&S, i, j)->heard > crash)
                crash = view(&S, i, j)->heard;
        for (guint32 i = 0; i < S.n; i++) {
            if (!S.have[i])
                continue;
            const View *v = view(&S, i, j);
            pairs++;
            if (v->status != S_DEAD) {
                fl_findings_add(&S.f, V_UNDETECTED, "node %u gave no final read, so is taken as crashed (last heard at %.3fs), but node %u still holds it %s at the end",
                                j, crash / 1e9, i, v->status == S_SUSPECT ? "suspect" : v->status == S_ALIVE ? "alive" : "unknown");
                continue;
            }
            gint64 lat = v->dead_at - crash;
            det_max = MAX(det_max, lat);
            if (lat > S.bound[i])
                fl_findings_add(&S.f, V_LATE, "node %u declared crashed node %u dead at %.3fs, %.3fs after it was last heard (bound %.3fs)",
                                i, j, v->dead_at / 1e9, lat / 1e9, S.bound[i] / 1e9);
        }
    }
    guint bad = 0;
    for (int k = 0; k < V_KINDS; k++)
        bad += S.f.counts[k];
    verdict = bad ? FL_VERDICT_INVALID : live ? FL_VERDICT_VALID : FL_VERDICT_UNKNOWN;
    if (report) {
        g_string_append(report, S.f.report->str);
        if (S.f.hidden)
            g_string_append_printf(report, "... and %u more violations\n", S.f.hidden);
        g_string_append_printf(report, "%u nodes, %u crashed (no final read), %u (live, crashed) pairs, slowest detection %.3fs; "
                               "%u suspicions, %u refutations; ", S.n, crashed, pairs, det_max / 1e9, S.suspicions, S.refutes);
        if (bad) {
            for (int k = 0; k < V_KINDS; k++)
                if (S.f.counts[k])
                    g_string_append_printf(report, "%u %s ", S.f.counts[k], kind_names[k]);
            g_string_append(report, "violations\n");
        } else {
            g_string_append(report, "every crashed member declared dead by every live one in time, no live member declared dead\n");
        }
    }
    if (json_out) {
        json_t *j = fl_events_verdict_json(verdict, "membership");
        json_object_set_new(j, "nodes", json_integer(S.n));
        json_object_set_new(j, "crashed", json_integer(crashed));
        json_object_set_new(j, "pairs", json_integer(pairs));
        json_object_set_new(j, "detection_max_ns", json_integer(det_max));
        json_object_set_new(j, "suspicions", json_integer(S.suspicions));
        json_object_set_new(j, "refutations", json_integer(S.refutes));
        json_object_set_new(j, "undetected", json_integer(S.f.counts[V_UNDETECTED]));
        json_object_set_new(j, "late", json_integer(S.f.counts[V_LATE]));
        json_object_set_new(j, "false_dead", json_integer(S.f.counts[V_FALSE]));
        json_object_set_new(j, "violations", S.f.listed);
        S.f.listed = NULL;
        *json_out = j;
    }
out:
    if (S.f.listed)
        json_decref(S.f.listed);
    if (S.f.report)
        g_string_free(S.f.report, TRUE);
    for (gsize k = 0; k < (gsize)S.n * S.n; k++)
        g_array_free(S.v[k].deaths, TRUE);
    g_free(S.v);
    return verdict;
}
