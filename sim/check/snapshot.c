/* sim/check/snapshot.c: the `consistent-cut` checker for the snapshot
 * protocol's logs (events.h).
 *
 * Design notes.
 *  1. The log grammar (protocols/snapshot.c note 3): a header
 *     "snapshot node=I nodes=N initial=B ...", then "s SEQ TO AMT",
 *     "r FROM SEQ AMT", "c K BAL", "k K FROM SEQ,SEQ,..." and "full".
 *  2. A snapshot K is complete when every node logged "c K" and, for every
 *     other node j, "k K j ...".  Incomplete ones (cut short by the end of
 *     the run) are counted and not judged.
 *  3. The cut of K is, on each node, the events before its "c K" line.
 *     For a complete snapshot the checker requires:
 *       - balance: each recorded BAL equals initial + received - sent over
 *         the node's events before the cut;
 *       - consistency: every transfer received before the receiver's cut
 *         was sent before the sender's cut (none "received but not sent");
 *       - channels: the channel from j to i holds exactly the transfers j
 *         sent to i before j's cut that i received after its cut (none
 *         missing, none extra);
 *       - conservation: the recorded balances and channel contents add up
 *         to nodes x initial.
 *     The four are counted apart; the last is what a bank's auditor sees. */
#include "sim/check/events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_PER_KIND 3

enum { V_BALANCE, V_INCONSISTENT, V_CHANNEL, V_CONSERVATION, V_KINDS };
G_STATIC_ASSERT(V_KINDS <= FL_FINDINGS_KINDS);
static const char *const kind_names[] = { "balance", "received but not sent", "channel", "conservation" };

typedef struct {
    guint32 from, to;
    guint64 seq, amount;
    gint64 sent_at, recv_at;    /* positions in the sender's and receiver's logs; -1: none */
} Xfer;

typedef struct {
    guint32 n;
    gint64 initial;
    GHashTable *xfers;          /* from << 40 | seq -> Xfer* */
    GHashTable *cuts;           /* (K << 8 | node) -> position of "c K" + 1 */
    GHashTable *bals;           /* (K << 8 | node) -> BAL (gint64*) */
    GHashTable *chans;          /* (K << 16 | from << 8 | to) -> char* (the SEQ list) */
    GArray *snapshots;          /* guint64 K, in first appearance */
    FlFindings f;
} Snap;

static gint64 *key_new(gint64 k)
{
    gint64 *p = g_new(gint64, 1);
    *p = k;
    return p;
}

static Xfer *xfer_get(Snap *S, guint32 from, guint64 seq)
{
    gint64 k = (gint64)((guint64)from << 40 | seq);
    Xfer *x = g_hash_table_lookup(S->xfers, &k);
    if (!x) {
        x = g_new0(Xfer, 1);
        x->from = from;
        x->seq = seq;
        x->sent_at = x->recv_at = -1;
        g_hash_table_insert(S->xfers, key_new(k), x);
    }
    return x;
}

static gboolean parse_log(Snap *S, guint32 i, const char *text, const char *name, GError **err)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    const char *ini = strstr(lines[0], " initial=");
    if (!g_str_has_prefix(lines[0], "snapshot ") || !ini) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: node %u's log is not a snapshot log (it starts \"%s\")",
                    name, i, lines[0]);
        return FALSE;
    }
    gint64 initial = g_ascii_strtoll(ini + 9, NULL, 10);
    if (S->initial >= 0 && initial != S->initial) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: node %u opens with %" G_GINT64_FORMAT
                    ", another node with %" G_GINT64_FORMAT, name, i, initial, S->initial);
        return FALSE;
    }
    S->initial = initial;
    for (guint k = 1; lines[k]; k++) {
        const char *l = lines[k];
        unsigned long long a, b, c;
        long long bal;
        int used = 0;
        gint64 pos = k;
        if (l[0] == '\0' || strcmp(l, "full") == 0)
            continue;
        if (sscanf(l, "s %llu %llu %llu%n", &a, &b, &c, &used) == 3 && l[used] == '\0' && b < S->n && b != i) {
            Xfer *x = xfer_get(S, i, a);
            if (x->sent_at >= 0)
                goto bad;
            x->to = (guint32)b;
            x->amount = c;
            x->sent_at = pos;
        } else if (sscanf(l, "r %llu %llu %llu%n", &a, &b, &c, &used) == 3 && l[used] == '\0' && a < S->n && a != i) {
            Xfer *x = xfer_get(S, (guint32)a, b);
            if (x->recv_at >= 0)
                goto bad;
            x->recv_at = pos;
            x->to = i;
            if (x->sent_at < 0)
                x->amount = c;
        } else if (sscanf(l, "c %llu %lld%n", &a, &bal, &used) == 2 && l[used] == '\0' && a < (1ull << 40)) {
            gint64 key = (gint64)(a << 8 | i);
            if (g_hash_table_contains(S->cuts, &key))
                goto bad;
            g_hash_table_insert(S->cuts, key_new(key), key_new(pos));
            g_hash_table_insert(S->bals, key_new(key), key_new(bal));
            gboolean known = FALSE;
            for (guint s = 0; s < S->snapshots->len && !known; s++)
                known = g_array_index(S->snapshots, guint64, s) == a;
            if (!known) {
                guint64 kk = a;
                g_array_append_val(S->snapshots, kk);
            }
        } else if (sscanf(l, "k %llu %llu %n", &a, &b, &used) == 2 && b < S->n && b != i && a < (1ull << 40)) {
            gint64 key = (gint64)(a << 16 | b << 8 | i);
            g_hash_table_replace(S->chans, key_new(key), g_strdup(l + used));
        } else {
            goto bad;
        }
        continue;
    bad:
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: node %u's log, line %u: expected \"s SEQ TO AMT\", \"r FROM SEQ AMT\", \"c K BAL\" or "
                    "\"k K FROM SEQ,...\", each transfer sent and received once: \"%s\"", name, i, k + 1, l);
        return FALSE;
    }
    return TRUE;
}

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
    guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
    return x < y ? -1 : x > y;
}

/* Judges complete snapshot @k (note 3); FALSE when it is not complete. */
static gboolean judge(Snap *S, guint64 k)
{
    gint64 cut[FL_EVENTS_MAX_NODES];
    gint64 bal[FL_EVENTS_MAX_NODES];
    for (guint32 i = 0; i < S->n; i++) {
        gint64 key = (gint64)(k << 8 | i);
        gint64 *c = g_hash_table_lookup(S->cuts, &key);
        if (!c)
            return FALSE;
        cut[i] = *c;
        bal[i] = *(gint64 *)g_hash_table_lookup(S->bals, &key);
        for (guint32 j = 0; j < S->n; j++) {
            gint64 ck = (gint64)(k << 16 | (guint64)j << 8 | i);
            if (j != i && !g_hash_table_contains(S->chans, &ck))
                return FALSE;
        }
    }
    /* What each node's events before its cut add up to, and what should be
     * in each channel. */
    gint64 net[FL_EVENTS_MAX_NODES] = { 0 };
    g_autoptr(GHashTable) expected = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    GHashTableIter it;
    gpointer kp, vp;
    g_hash_table_iter_init(&it, S->xfers);
    while (g_hash_table_iter_next(&it, &kp, &vp)) {
        const Xfer *x = vp;
        gboolean sent = x->sent_at >= 0 && x->sent_at < cut[x->from];
        gboolean recv = x->recv_at >= 0 && x->recv_at < cut[x->to];
        if (sent)
            net[x->from] -= (gint64)x->amount;
        if (recv)
            net[x->to] += (gint64)x->amount;
        if (recv && !sent)
            fl_findings_add(&S->f, V_INCONSISTENT, "snapshot %" G_GUINT64_FORMAT ": node %u counts transfer %u:%" G_GUINT64_FORMAT
                      " (%" G_GUINT64_FORMAT ") as received, but node %u sent it after recording its balance",
                      k, x->to, x->from, x->seq, x->amount, x->from);
        if (sent && !recv)
            g_hash_table_add(expected, key_new(*(gint64 *)kp));
    }
    gint64 total = 0;
    for (guint32 i = 0; i < S->n; i++) {
        total += bal[i];
        if (bal[i] != S->initial + net[i])
            fl_findings_add(&S->f, V_BALANCE, "snapshot %" G_GUINT64_FORMAT ": node %u recorded %" G_GINT64_FORMAT
                      ", its log before the record says %" G_GINT64_FORMAT, k, i, bal[i], S->initial + net[i]);
    }
    /* The channels as recorded, against the transfers in flight across the cut. */
    for (guint32 i = 0; i < S->n; i++) {
        for (guint32 j = 0; j < S->n; j++) {
            if (i == j)
                continue;
            gint64 ck = (gint64)(k << 16 | (guint64)j << 8 | i);
            g_auto(GStrv) seqs = g_strsplit(g_hash_table_lookup(S->chans, &ck), ",", -1);
            for (guint s = 0; seqs[s]; s++) {
                if (!seqs[s][0])
                    continue;
                guint64 seq = g_ascii_strtoull(seqs[s], NULL, 10);
                gint64 xk = (gint64)((guint64)j << 40 | seq);
                Xfer *x = g_hash_table_lookup(S->xfers, &xk);
                total += x ? (gint64)x->amount : 0;
                if (!g_hash_table_remove(expected, &xk))
                    fl_findings_add(&S->f, V_CHANNEL, "snapshot %" G_GUINT64_FORMAT ": the channel %u -> %u holds transfer %u:%"
                              G_GUINT64_FORMAT ", which did not cross the cut", k, j, i, j, seq);
            }
        }
    }
    GArray *left = g_array_new(FALSE, FALSE, sizeof(guint64));
    g_hash_table_iter_init(&it, expected);
    while (g_hash_table_iter_next(&it, &kp, NULL)) {
        guint64 xk = (guint64) * (gint64 *)kp;
        g_array_append_val(left, xk);
    }
    g_array_sort(left, cmp_u64);   /* never hash order in the output */
    for (guint s = 0; s < left->len; s++) {
        guint64 xk = g_array_index(left, guint64, s);
        gint64 key = (gint64)xk;
        const Xfer *x = g_hash_table_lookup(S->xfers, &key);
        fl_findings_add(&S->f, V_CHANNEL, "snapshot %" G_GUINT64_FORMAT ": transfer %u:%" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                  ") was in flight from %u to %u across the cut, but its channel's record misses it",
                  k, x->from, x->seq, x->amount, x->from, x->to);
    }
    g_array_free(left, TRUE);
    gint64 want = S->initial * (gint64)S->n;
    if (total != want)
        fl_findings_add(&S->f, V_CONSERVATION, "snapshot %" G_GUINT64_FORMAT ": balances and channels hold %" G_GINT64_FORMAT
                  ", the bank holds %" G_GINT64_FORMAT " (%+" G_GINT64_FORMAT ")", k, total, want, total - want);
    return TRUE;
}

FlVerdict fl_check_snapshot(const FlEventLogs *logs, GString *report, json_t **json_out, GError **err)
{
    Snap S = {
        .n = logs->nodes,
        .initial = -1,
        .xfers = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free),
        .cuts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free),
        .bals = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free),
        .chans = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free),
        .snapshots = g_array_new(FALSE, FALSE, sizeof(guint64)),
        .f = { .names = kind_names, .shown_per_kind = SHOWN_PER_KIND,
               .report = report ? g_string_new(NULL) : NULL,
               .listed = json_out ? json_array() : NULL },
    };
    FlVerdict verdict = FL_VERDICT_ERROR;
    guint missing = 0, complete = 0, incomplete = 0;
    for (guint32 i = 0; i < S.n; i++) {
        if (!logs->text[i]) {
            missing++;
            continue;
        }
        if (!parse_log(&S, i, logs->text[i], logs->name, err))
            goto out;
    }
    g_array_sort(S.snapshots, cmp_u64);
    if (!missing)
        for (guint s = 0; s < S.snapshots->len; s++) {
            if (judge(&S, g_array_index(S.snapshots, guint64, s)))
                complete++;
            else
                incomplete++;
        }
    guint bad = 0;
    for (int k = 0; k < V_KINDS; k++)
        bad += S.f.counts[k];
    verdict = bad ? FL_VERDICT_INVALID : complete ? FL_VERDICT_VALID : FL_VERDICT_UNKNOWN;
    if (report) {
        g_string_append(report, S.f.report->str);
        if (S.f.hidden)
            g_string_append_printf(report, "... and %u more violations\n", S.f.hidden);
        g_string_append_printf(report, "%u nodes, %u transfers, %u snapshots complete (%u cut short)",
                               S.n, g_hash_table_size(S.xfers), complete, incomplete);
        if (missing)
            g_string_append_printf(report, ", %u logs missing: nothing judged", missing);
        g_string_append(report, "; ");
        if (bad) {
            for (int k = 0; k < V_KINDS; k++)
                if (S.f.counts[k])
                    g_string_append_printf(report, "%u %s ", S.f.counts[k], kind_names[k]);
            g_string_append(report, "violations\n");
        } else {
            g_string_append(report, "every recorded global state is consistent and holds all the money\n");
        }
    }
    if (json_out) {
        json_t *j = fl_events_verdict_json(verdict, "consistent-cut");
        json_object_set_new(j, "nodes", json_integer(S.n));
        json_object_set_new(j, "logs_missing", json_integer(missing));
        json_object_set_new(j, "transfers", json_integer(g_hash_table_size(S.xfers)));
        json_object_set_new(j, "snapshots", json_integer(complete));
        json_object_set_new(j, "snapshots_cut_short", json_integer(incomplete));
        for (int k = 0; k < V_KINDS; k++)
            json_object_set_new(j, k == V_INCONSISTENT ? "received_not_sent" : kind_names[k], json_integer(S.f.counts[k]));
        json_object_set_new(j, "violations", S.f.listed);
        S.f.listed = NULL;
        *json_out = j;
    }
out:
    if (S.f.listed)
        json_decref(S.f.listed);
    if (S.f.report)
        g_string_free(S.f.report, TRUE);
    g_hash_table_unref(S.xfers);
    g_hash_table_unref(S.cuts);
    g_hash_table_unref(S.bals);
    g_hash_table_unref(S.chans);
    g_array_free(S.snapshots, TRUE);
    return verdict;
}
