/* sim/check/broadcast.c: the broadcast checker for the broadcast
 * protocol's logs (events.h): validity, agreement, integrity, fifo-order,
 * causal-order and total-order, each a consistency of its own, so that a
 * scenario lists the ones it checks and says which hold (expect.models),
 * as the consistency table does.
 *
 * Design notes.
 *  1. The log grammar (protocols/broadcast.c note 1): a header
 *     "broadcast node=I nodes=N variant=V", then "b SEQ" (the node
 *     broadcast message I:SEQ), "d ORIGIN SEQ" (it delivered ORIGIN:SEQ),
 *     "up" (it restarted), "full".
 *  2. A node is correct when its log has no "up" (it never crashed) and is
 *     not full.  Cachin et al. define validity, agreement and the orders
 *     over correct processes; integrity holds for every node:
 *       - validity: a correct node delivers every message it broadcast;
 *       - agreement: a message one correct node delivered, every correct
 *         node delivered;
 *       - integrity: no node delivers a message twice, or one that was
 *         never broadcast;
 *       - fifo-order: a correct node that delivers ORIGIN:S delivered
 *         every ORIGIN:S' < S before;
 *       - causal-order: a correct node that delivers m delivered every
 *         message of m's causal past before (the messages its origin had
 *         broadcast or delivered before broadcasting m, and their pasts);
 *       - total-order: two correct nodes deliver the messages they both
 *         deliver in the same order.
 *  3. Causal pasts are bitsets over the messages, built by walking the
 *     logs (build_pasts); a delivery is checked by one pass over the words
 *     of the bitset. */
#include "sim/check/events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_PER_KIND 2
#define MESSAGES_MAX 200000

enum { P_VALIDITY, P_AGREEMENT, P_INTEGRITY, P_FIFO, P_CAUSAL, P_TOTAL, P_KINDS };
G_STATIC_ASSERT(P_KINDS <= FL_FINDINGS_KINDS);
static const char *const prop_names[] = { "validity", "agreement", "integrity", "fifo-order", "causal-order",
                                          "total-order" };

const char *const *fl_broadcast_properties(void)
{
    static const char *const names[] = { "validity", "agreement", "integrity", "fifo-order", "causal-order",
                                         "total-order", NULL };
    return names;
}

typedef struct {
    guint32 origin;
    guint64 seq;
    gint64 bpos;        /* position of "b" in the origin's log, -1: never broadcast */
    guint64 *past;      /* the causal past (note 3), NULL until built */
} Msg;

typedef struct {
    guint32 kind;       /* 'b', 'd' */
    guint32 msg;        /* index into msgs */
} Ev;

typedef struct {
    guint32 n, words;
    GArray *msgs;                       /* Msg */
    GHashTable *index;                  /* origin << 40 | seq -> index + 1 */
    GArray *ev[FL_EVENTS_MAX_NODES];    /* Ev */
    gboolean correct[FL_EVENTS_MAX_NODES];
    FlFindings f;
} Bc;

static guint32 msg_index(Bc *B, guint32 origin, guint64 seq)
{
    gint64 k = (gint64)((guint64)origin << 40 | seq);
    gpointer v = g_hash_table_lookup(B->index, &k);
    if (v)
        return GPOINTER_TO_UINT(v) - 1;
    Msg m = { .origin = origin, .seq = seq, .bpos = -1 };
    g_array_append_val(B->msgs, m);
    gint64 *kp = g_new(gint64, 1);
    *kp = k;
    g_hash_table_insert(B->index, kp, GUINT_TO_POINTER(B->msgs->len));
    return B->msgs->len - 1;
}

static gboolean parse_log(Bc *B, guint32 i, const char *text, const char *name, GError **err)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    if (!g_str_has_prefix(lines[0], "broadcast ")) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: node %u's log is not a broadcast log (it starts \"%s\")",
                    name, i, lines[0]);
        return FALSE;
    }
    B->ev[i] = g_array_new(FALSE, FALSE, sizeof(Ev));
    B->correct[i] = TRUE;
    for (guint k = 1; lines[k]; k++) {
        const char *l = lines[k];
        unsigned long long a, s;
        int used = 0;
        if (l[0] == '\0')
            continue;
        if (strcmp(l, "up") == 0 || strcmp(l, "full") == 0) {
            B->correct[i] = FALSE;
            continue;
        }
        Ev e;
        if (sscanf(l, "b %llu%n", &s, &used) == 1 && l[used] == '\0' && s < (1ull << 40)) {
            e.kind = 'b';
            e.msg = msg_index(B, i, s);
            Msg *m = &g_array_index(B->msgs, Msg, e.msg);
            if (m->bpos >= 0)
                goto bad;
            m->bpos = B->ev[i]->len;
        } else if (sscanf(l, "d %llu %llu%n", &a, &s, &used) == 2 && l[used] == '\0' && a < B->n && s < (1ull << 40)) {
            e.kind = 'd';
            e.msg = msg_index(B, (guint32)a, s);
        } else {
            goto bad;
        }
        g_array_append_val(B->ev[i], e);
        if (B->msgs->len > MESSAGES_MAX) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: more than %d messages", name, MESSAGES_MAX);
            return FALSE;
        }
        continue;
    bad:
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: node %u's log, line %u: expected \"b SEQ\" (each once), \"d ORIGIN SEQ\", \"up\" or "
                    "\"full\": \"%s\"", name, i, k + 1, l);
        return FALSE;
    }
    return TRUE;
}

/* Note 3: every broadcast message's causal past, without recursion: each
 * node's log is walked with a running bitset (what its events so far
 * depend on); a delivery waits until the delivered message's past is
 * known, as a receipt waits for its send.  A message never broadcast has
 * an empty past.  If the logs admit no order (they contradict each other),
 * the messages left keep no past and the causal check skips them. */
static void build_pasts(Bc *B)
{
    guint64 *run[FL_EVENTS_MAX_NODES];
    guint cursor[FL_EVENTS_MAX_NODES];
    for (guint32 i = 0; i < B->n; i++) {
        run[i] = g_new0(guint64, B->words);
        cursor[i] = 0;
    }
    for (gboolean progress = TRUE; progress;) {
        progress = FALSE;
        for (guint32 i = 0; i < B->n; i++) {
            while (cursor[i] < B->ev[i]->len) {
                const Ev *e = &g_array_index(B->ev[i], Ev, cursor[i]);
                Msg *m = &g_array_index(B->msgs, Msg, e->msg);
                if (e->kind == 'b') {
                    m->past = g_memdup2(run[i], B->words * sizeof(guint64));
                } else if (m->bpos >= 0 && m->origin != i) {
                    if (!m->past)
                        break;   /* wait for its broadcast to be walked */
                    for (guint32 w = 0; w < B->words; w++)
                        run[i][w] |= m->past[w];
                }
                run[i][e->msg / 64] |= 1ull << (e->msg % 64);
                cursor[i]++;
                progress = TRUE;
            }
        }
    }
    for (guint32 i = 0; i < B->n; i++)
        g_free(run[i]);
}

static const guint64 *past(Bc *B, guint32 x)
{
    return g_array_index(B->msgs, Msg, x).past;
}

static void name_msg(const Bc *B, guint32 x, char *buf, size_t cap)
{
    const Msg *m = &g_array_index(B->msgs, Msg, x);
    g_snprintf(buf, cap, "%u:%" G_GUINT64_FORMAT, m->origin, m->seq);
}

static void check_all(Bc *B)
{
    guint32 M = B->msgs->len;
    /* One more than needed: with no message at all g_new would give NULL,
     * which memset must not get, even for zero bytes. */
    guint32 *count = g_new(guint32, M + 1);
    /* integrity */
    for (guint32 i = 0; i < B->n; i++) {
        memset(count, 0, M * sizeof *count);
        for (guint k = 0; k < B->ev[i]->len; k++) {
            const Ev *e = &g_array_index(B->ev[i], Ev, k);
            if (e->kind != 'd')
                continue;
            char nm[48];
            name_msg(B, e->msg, nm, sizeof nm);
            if (++count[e->msg] == 2)
                fl_findings_add(&B->f, P_INTEGRITY, "node %u delivers %s twice", i, nm);
            if (g_array_index(B->msgs, Msg, e->msg).bpos < 0 && count[e->msg] == 1)
                fl_findings_add(&B->f, P_INTEGRITY, "node %u delivers %s, which was never broadcast", i, nm);
        }
    }
    /* who delivered what: one bitset per node */
    guint64 *del[FL_EVENTS_MAX_NODES];
    for (guint32 i = 0; i < B->n; i++) {
        del[i] = g_new0(guint64, B->words);
        for (guint k = 0; k < B->ev[i]->len; k++) {
            const Ev *e = &g_array_index(B->ev[i], Ev, k);
            if (e->kind == 'd')
                del[i][e->msg / 64] |= 1ull << (e->msg % 64);
        }
    }
    for (guint32 x = 0; x < M; x++) {
        const Msg *m = &g_array_index(B->msgs, Msg, x);
        char nm[48];
        name_msg(B, x, nm, sizeof nm);
        gboolean by_correct = FALSE;
        for (guint32 i = 0; i < B->n; i++)
            by_correct |= B->correct[i] && (del[i][x / 64] >> (x % 64) & 1);
        if (m->bpos >= 0 && B->correct[m->origin] && !(del[m->origin][x / 64] >> (x % 64) & 1))
            fl_findings_add(&B->f, P_VALIDITY, "node %u broadcast %s and never delivered it", m->origin, nm);
        if (by_correct)
            for (guint32 i = 0; i < B->n; i++)
                if (B->correct[i] && !(del[i][x / 64] >> (x % 64) & 1)) {
                    fl_findings_add(&B->f, P_AGREEMENT, "%s was delivered by a correct node, never by correct node %u", nm, i);
                    break;
                }
    }
    /* fifo and causal order, on correct nodes */
    guint64 *seen = g_new0(guint64, B->words + 1);   /* + 1: never NULL (see count) */
    for (guint32 i = 0; i < B->n; i++) {
        if (!B->correct[i])
            continue;
        memset(seen, 0, B->words * sizeof *seen);
        guint64 next[FL_EVENTS_MAX_NODES];
        gboolean fifo_ok[FL_EVENTS_MAX_NODES];
        for (guint32 o = 0; o < B->n; o++)
            next[o] = 0, fifo_ok[o] = TRUE;
        for (guint k = 0; k < B->ev[i]->len; k++) {
            const Ev *e = &g_array_index(B->ev[i], Ev, k);
            if (e->kind != 'd')
                continue;
            const Msg *m = &g_array_index(B->msgs, Msg, e->msg);
            char nm[48];
            name_msg(B, e->msg, nm, sizeof nm);
            /* FIFO: the origin's earlier messages all came first. */
            if (m->seq != next[m->origin] && fifo_ok[m->origin] && m->seq > next[m->origin]) {
                fl_findings_add(&B->f, P_FIFO, "node %u delivers %s before %u:%" G_GUINT64_FORMAT, i, nm, m->origin,
                          next[m->origin]);
                fifo_ok[m->origin] = FALSE;   /* one report per node and origin */
            }
            if (m->seq == next[m->origin])
                next[m->origin]++;
            while (next[m->origin] < (1ull << 40)) {
                gint64 kk = (gint64)((guint64)m->origin << 40 | next[m->origin]);
                gpointer v = g_hash_table_lookup(B->index, &kk);
                guint32 y = v ? GPOINTER_TO_UINT(v) - 1 : 0;
                if (!v || !(seen[y / 64] >> (y % 64) & 1))
                    break;
                next[m->origin]++;
            }
            /* causal: the whole causal past came first */
            const guint64 *p = past(B, e->msg);
            if (p) {
                for (guint32 w = 0; w < B->words; w++) {
                    guint64 missing = p[w] & ~seen[w];
                    if (!missing)
                        continue;
                    guint32 y = w * 64 + (guint32)__builtin_ctzll(missing);
                    char ny[48];
                    name_msg(B, y, ny, sizeof ny);
                    fl_findings_add(&B->f, P_CAUSAL, "node %u delivers %s before %s, which is in its causal past", i, nm, ny);
                    break;
                }
            }
            seen[e->msg / 64] |= 1ull << (e->msg % 64);
        }
    }
    g_free(seen);
    /* total order: for each pair of correct nodes, their common messages */
    gint64 *pos = g_new(gint64, M);
    for (guint32 i = 0; i < B->n; i++) {
        if (!B->correct[i])
            continue;
        for (guint32 x = 0; x < M; x++)
            pos[x] = -1;
        gint64 p = 0;
        for (guint k = 0; k < B->ev[i]->len; k++) {
            const Ev *e = &g_array_index(B->ev[i], Ev, k);
            if (e->kind == 'd' && pos[e->msg] < 0)
                pos[e->msg] = p++;
        }
        for (guint32 j = i + 1; j < B->n; j++) {
            if (!B->correct[j])
                continue;
            gint64 last = -1;
            guint32 last_msg = 0;
            for (guint k = 0; k < B->ev[j]->len; k++) {
                const Ev *e = &g_array_index(B->ev[j], Ev, k);
                if (e->kind != 'd' || pos[e->msg] < 0)
                    continue;
                if (pos[e->msg] < last) {
                    char a[48], b[48];
                    name_msg(B, last_msg, a, sizeof a);
                    name_msg(B, e->msg, b, sizeof b);
                    fl_findings_add(&B->f, P_TOTAL, "node %u delivers %s before %s, node %u the other way round", i, b, a, j);
                    break;   /* one report per pair of nodes */
                }
                last = pos[e->msg];
                last_msg = e->msg;
            }
        }
    }
    g_free(pos);
    for (guint32 i = 0; i < B->n; i++)
        g_free(del[i]);
    g_free(count);
}

FlVerdict fl_check_broadcast(const FlEventLogs *logs, const char *const *props, GString *report,
                             json_t **json_out, GError **err)
{
    Bc B = {
        .n = logs->nodes,
        .msgs = g_array_new(FALSE, FALSE, sizeof(Msg)),
        .index = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL),
        .f = { .names = prop_names, .shown_per_kind = SHOWN_PER_KIND,
               .report = report ? g_string_new(NULL) : NULL,
               .listed = json_out ? json_array() : NULL },
    };
    FlVerdict verdict = FL_VERDICT_ERROR;
    guint missing = 0;
    for (guint32 i = 0; i < B.n; i++) {
        if (!logs->text[i]) {
            missing++;
            continue;
        }
        if (!parse_log(&B, i, logs->text[i], logs->name, err))
            goto out;
    }
    B.words = (B.msgs->len + 63) / 64 + 1;
    if (!missing && B.n) {
        build_pasts(&B);
        check_all(&B);
    }
    gboolean wanted[P_KINDS] = { FALSE };
    for (int k = 0; props[k]; k++)
        for (int p = 0; p < P_KINDS; p++)
            wanted[p] |= strcmp(props[k], prop_names[p]) == 0;
    verdict = FL_VERDICT_VALID;
    for (int p = 0; p < P_KINDS; p++)
        if (wanted[p] && B.f.counts[p])
            verdict = FL_VERDICT_INVALID;
    if (verdict == FL_VERDICT_VALID && (missing || !B.n))
        verdict = FL_VERDICT_UNKNOWN;
    guint ncorrect = 0;
    for (guint32 i = 0; i < B.n; i++)
        ncorrect += B.correct[i];
    if (report) {
        g_string_append(report, B.f.report->str);
        if (B.f.hidden)
            g_string_append_printf(report, "... and %u more violations\n", B.f.hidden);
        g_string_append_printf(report, "%u nodes (%u correct), %u messages", B.n, ncorrect, B.msgs->len);
        if (missing)
            g_string_append_printf(report, "; %u logs missing: nothing judged", missing);
        g_string_append(report, "\n");
        for (int p = 0; p < P_KINDS; p++)
            if (wanted[p])
                g_string_append_printf(report, "  %-14s %s\n", prop_names[p],
                                       missing ? "unknown" : B.f.counts[p] ? "BROKEN" : "holds");
    }
    if (json_out) {
        json_t *j = json_object();
        json_t *verdicts = json_object();
        for (int p = 0; p < P_KINDS; p++)
            if (wanted[p])
                json_object_set_new(verdicts, prop_names[p],
                                    json_string(missing ? "unknown" : B.f.counts[p] ? "invalid" : "valid"));
        json_object_set_new(j, "valid", verdict == FL_VERDICT_UNKNOWN ? json_null()
                                                                      : json_boolean(verdict == FL_VERDICT_VALID));
        json_object_set_new(j, "model", json_string("events"));
        json_object_set_new(j, "verdict", json_string(verdict == FL_VERDICT_VALID     ? "valid"
                                                      : verdict == FL_VERDICT_INVALID ? "invalid"
                                                                                      : "unknown"));
        json_object_set_new(j, "verdicts", verdicts);
        json_object_set_new(j, "nodes", json_integer(B.n));
        json_object_set_new(j, "correct_nodes", json_integer(ncorrect));
        json_object_set_new(j, "logs_missing", json_integer(missing));
        json_object_set_new(j, "messages", json_integer(B.msgs->len));
        json_t *c = json_object();
        for (int p = 0; p < P_KINDS; p++)
            json_object_set_new(c, prop_names[p], json_integer(B.f.counts[p]));
        json_object_set_new(j, "violation_counts", c);
        json_object_set_new(j, "violations", B.f.listed);
        B.f.listed = NULL;
        *json_out = j;
    }
out:
    if (B.f.listed)
        json_decref(B.f.listed);
    if (B.f.report)
        g_string_free(B.f.report, TRUE);
    for (guint32 x = 0; x < B.msgs->len; x++)
        g_free(g_array_index(B.msgs, Msg, x).past);
    g_array_free(B.msgs, TRUE);
    g_hash_table_unref(B.index);
    for (guint32 i = 0; i < FL_EVENTS_MAX_NODES; i++)
        if (B.ev[i])
            g_array_free(B.ev[i], TRUE);
    return verdict;
}
