/* sim/check/atomic.c: atomic commitment, decided from a history.
 *
 * Design notes.
 *  1. The `txn` model below exists for the loader only: it names the two
 *     operations and checks the shapes of their values, so that pairing,
 *     process rules and error messages are the ones every history gets.
 *     Values are read again from the events (fl_reader_event_at) when the
 *     checks need them.
 *  2. A transaction's outcome as the client saw it: ok = committed, fail =
 *     aborted, info or never completed = unknown.
 *  3. An audit is one node's view of one account: its balance and the
 *     decisions it knows (commit, abort, pending = in doubt).  Several nodes
 *     may hold copies of one account (replicated participants); every copy
 *     is checked on its own, and the total uses the first audit of each
 *     account in history order.
 *  4. In doubt is not wrong.  A transaction committed on one side and in
 *     doubt on the other will commit there too once the participant learns
 *     the decision, so the total counts it as if it had; one in doubt
 *     everywhere, or aborted on the other side, has no effect anywhere.
 *  5. Output never depends on hash-table order: transactions are visited in
 *     the order of their transfers in the history, audits in history order.
 */
#include "sim/check/atomic.h"
#include "sim/check/history.h"

#include <string.h>

#define SHOWN_MAX 20      /* violations explained in the text report */
#define LISTED_MAX 100    /* violations listed in the JSON result */
#define INITIAL_DEFAULT 100

enum { F_TRANSFER, F_AUDIT };
static const char *const txn_ops[] = { "transfer", "audit", NULL };

typedef enum { OUT_COMMITTED, OUT_ABORTED, OUT_UNKNOWN } Outcome;
typedef enum { D_COMMIT, D_ABORT, D_PENDING } Decision;

static const char *const decision_word[] = { "committed", "aborted", "in doubt" };

typedef struct {
    gint64 id, from, to, amount;
    Outcome outcome;
    guint32 line;          /* of the invocation */
    guint op;              /* index into the history's ops */
    GArray *seen;          /* of Seen: what each audit says about it */
} Txn;

typedef struct {
    guint report;          /* index into reports */
    Decision d;
} Seen;

typedef struct {
    gint64 account, node;  /* node -1: the event named none */
    gint64 balance, initial;
    guint32 line;
    guint op;              /* index into the history's ops */
    GArray *ids[3];        /* gint64, per Decision */
} Report;

typedef struct {
    const char *kind;
    char *text;
    gint64 txn, account;   /* -1 when not about one */
    gint ops[3];           /* operations involved (index into ops), -1: none */
} Violation;

typedef struct {
    FlHistory *h;
    GArray *txns;          /* Txn, in history order */
    GHashTable *by_id;     /* gint64* -> index + 1 into txns */
    GArray *reports;       /* Report */
    GArray *violations;    /* Violation */
} Atomic;

/* ---- The model, for the loader ---------------------------------------- */

static gboolean int_field(const FlVal *m, const char *name, gboolean required, GString *why)
{
    const FlVal *v = fl_val_get(m, name);
    if (!v && !required)
        return TRUE;
    if (v && v->kind == FL_VAL_INT)
        return TRUE;
    g_string_append_printf(why, "expected an integer \"%s\", got %s", name, fl_val_kind_name(v));
    return FALSE;
}

static gboolean id_list(const FlVal *m, const char *name, GString *why)
{
    const FlVal *v = fl_val_get(m, name);
    if (!v)
        return TRUE;
    if (v->kind == FL_VAL_VEC || v->kind == FL_VAL_SET) {
        for (gsize i = 0; i < v->seq.n; i++) {
            if (v->seq.items[i]->kind != FL_VAL_INT) {
                g_string_append_printf(why, "expected \"%s\" to hold transaction ids (integers), "
                                       "got %s", name, fl_val_kind_name(v->seq.items[i]));
                return FALSE;
            }
        }
        return TRUE;
    }
    g_string_append_printf(why, "expected \"%s\" to be an array of transaction ids, got %s", name,
                           fl_val_kind_name(v));
    return FALSE;
}

static gboolean txn_parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok, GString *why)
{
    if (op->f == F_TRANSFER) {
        if (v->kind != FL_VAL_MAP) {
            g_string_append_printf(why, "expected a transfer {\"id\",\"from\",\"to\",\"amount\"}, got %s",
                                   fl_val_kind_name(v));
            return FALSE;
        }
        return int_field(v, "id", TRUE, why) && int_field(v, "from", TRUE, why) &&
               int_field(v, "to", TRUE, why) && int_field(v, "amount", TRUE, why);
    }
    if (!ok || v->kind == FL_VAL_NULL)
        return TRUE;   /* the invocation's value is ignored; null: not held here */
    if (v->kind != FL_VAL_MAP) {
        g_string_append_printf(why, "expected an audit {\"balance\",\"commit\",\"abort\",\"pending\"} "
                               "or null, got %s", fl_val_kind_name(v));
        return FALSE;
    }
    return int_field(v, "balance", TRUE, why) && int_field(v, "initial", FALSE, why) &&
           id_list(v, "commit", why) && id_list(v, "abort", why) && id_list(v, "pending", why);
}

static const FlModel txn_model = {
    .name = "txn",
    .ops = txn_ops,
    .readonly_ops = 1u << F_AUDIT,
    .parse = txn_parse,
};

/* ---- Collecting ------------------------------------------------------- */

static gint64 get_int(const FlVal *m, const char *name, gint64 def)
{
    const FlVal *v = fl_val_get(m, name);
    return v && v->kind == FL_VAL_INT ? v->i : def;
}

static void violation(Atomic *A, const char *kind, gint64 txn, gint64 account,
                      const char *fmt, ...) G_GNUC_PRINTF(5, 6);
static void violation(Atomic *A, const char *kind, gint64 txn, gint64 account,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    Violation v = { .kind = kind, .text = g_strdup_vprintf(fmt, ap), .txn = txn, .account = account,
                    .ops = { -1, -1, -1 } };
    va_end(ap);
    g_array_append_val(A->violations, v);
}

/* Names the operations behind the last violation (-1: none), so that
 * reports can show them. */
static void involve(Atomic *A, gint a, gint b, gint c)
{
    Violation *v = &g_array_index(A->violations, Violation, A->violations->len - 1);
    v->ops[0] = a;
    v->ops[1] = b;
    v->ops[2] = c;
}

static Txn *find_txn(Atomic *A, gint64 id)
{
    gpointer i = g_hash_table_lookup(A->by_id, &id);
    return i ? &g_array_index(A->txns, Txn, GPOINTER_TO_SIZE(i) - 1) : NULL;
}

static gboolean collect(Atomic *A, GError **err)
{
    FlHistory *h = A->h;
    for (guint i = 0; i < h->ops->len; i++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        if (op->f == F_TRANSFER) {
            const FlVal *ev = fl_reader_event_at(h->reader, op->inv_offset, op->inv_line);
            const FlVal *v = fl_val_get(ev, "value");
            Txn t = {
                .id = get_int(v, "id", 0), .from = get_int(v, "from", 0),
                .to = get_int(v, "to", 0), .amount = get_int(v, "amount", 0),
                .outcome = op->status == FL_OP_OK ? OUT_COMMITTED
                         : op->status == FL_OP_FAIL ? OUT_ABORTED : OUT_UNKNOWN,
                .line = op->inv_line, .op = i,
            };
            Txn *dup = find_txn(A, t.id);
            if (dup) {
                g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s:%u: transaction id %" G_GINT64_FORMAT " was used already at line %u "
                            "(every transfer needs its own id)", h->path, op->inv_line, t.id, dup->line);
                return FALSE;
            }
            t.seen = g_array_new(FALSE, FALSE, sizeof(Seen));
            g_array_append_val(A->txns, t);
            gint64 *k = g_new(gint64, 1);
            *k = t.id;
            g_hash_table_insert(A->by_id, k, GSIZE_TO_POINTER(A->txns->len));
            continue;
        }
        if (op->status != FL_OP_OK)
            continue;   /* an audit that did not answer says nothing */
        const FlVal *ev = fl_reader_event_at(h->reader, op->ret_offset, op->ret_line);
        const FlVal *v = fl_val_get(ev, "value");
        if (!v || v->kind == FL_VAL_NULL)
            continue;   /* this node does not hold the account */
        const FlVal *key = fl_val_get(ev, "key");
        if (!key || key->kind != FL_VAL_INT) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s:%u: expected the audit's \"key\" to be an account number (an integer)",
                        h->path, op->ret_line);
            return FALSE;
        }
        Report r = {
            .account = key->i, .node = get_int(ev, "node", -1),
            .balance = get_int(v, "balance", 0), .initial = get_int(v, "initial", INITIAL_DEFAULT),
            .line = op->ret_line, .op = i,
        };
        static const char *const lists[] = { "commit", "abort", "pending" };
        for (int d = 0; d < 3; d++) {
            r.ids[d] = g_array_new(FALSE, FALSE, sizeof(gint64));
            const FlVal *l = fl_val_get(v, lists[d]);
            for (gsize j = 0; l && j < l->seq.n; j++)
                g_array_append_val(r.ids[d], l->seq.items[j]->i);
        }
        g_array_append_val(A->reports, r);
    }
    return TRUE;
}

/* ---- Checking --------------------------------------------------------- */

static const char *node_text(const Report *r, char *buf)
{
    if (r->node < 0)
        g_snprintf(buf, 48, "the audit at line %u", r->line);
    else
        g_snprintf(buf, 48, "node %" G_GINT64_FORMAT " (line %u)", r->node, r->line);
    return buf;
}

/* Every decision every audit reports, attached to its transaction; a
 * commit of a transaction nobody asked for is a violation, and so is a
 * balance that its own list of commits does not explain. */
static void check_reports(Atomic *A)
{
    char nb[48];
    for (guint ri = 0; ri < A->reports->len; ri++) {
        const Report *r = &g_array_index(A->reports, Report, ri);
        gint64 expect = r->initial;
        for (int d = 0; d < 3; d++) {
            for (guint j = 0; j < r->ids[d]->len; j++) {
                gint64 id = g_array_index(r->ids[d], gint64, j);
                Txn *t = find_txn(A, id);
                if (!t) {
                    if (d == D_COMMIT)
                        violation(A, "unknown", id, r->account,
                                  "%s committed transaction %" G_GINT64_FORMAT " on account %"
                                  G_GINT64_FORMAT ", but no client ever asked for it",
                                  node_text(r, nb), id, r->account);
                    if (d == D_COMMIT)
                        involve(A, -1, (gint)r->op, -1);
                    continue;
                }
                Seen s = { .report = ri, .d = (Decision)d };
                g_array_append_val(t->seen, s);
                if (d == D_COMMIT && t->from != t->to) {
                    if (t->from == r->account)
                        expect -= t->amount;
                    if (t->to == r->account)
                        expect += t->amount;
                }
            }
        }
        if (expect != r->balance)
            violation(A, "balance", -1, r->account,
                      "%s has %" G_GINT64_FORMAT " on account %" G_GINT64_FORMAT
                      ", but its opening balance %" G_GINT64_FORMAT " and the %u transfers it "
                      "committed make %" G_GINT64_FORMAT,
                      node_text(r, nb), r->balance, r->account, r->initial,
                      r->ids[D_COMMIT]->len, expect);
        if (expect != r->balance)
            involve(A, -1, (gint)r->op, -1);
    }
}

static gboolean holds(const Txn *t, gint64 account)
{
    return t->from == account || t->to == account;
}

/* Agreement, and what the clients saw. */
static void check_txns(Atomic *A)
{
    char na[48], nb[48];
    for (guint i = 0; i < A->txns->len; i++) {
        const Txn *t = &g_array_index(A->txns, Txn, i);
        const Seen *commit = NULL, *abort = NULL;
        for (guint j = 0; j < t->seen->len; j++) {
            const Seen *s = &g_array_index(t->seen, Seen, j);
            if (s->d == D_COMMIT && !commit)
                commit = s;
            if (s->d == D_ABORT && !abort)
                abort = s;
        }
        if (commit && abort) {
            const Report *rc = &g_array_index(A->reports, Report, commit->report);
            const Report *ra = &g_array_index(A->reports, Report, abort->report);
            violation(A, "agreement", t->id, -1,
                      "transaction %" G_GINT64_FORMAT " (line %u) was committed by %s on account %"
                      G_GINT64_FORMAT " and aborted by %s on account %" G_GINT64_FORMAT,
                      t->id, t->line, node_text(rc, na), rc->account, node_text(ra, nb),
                      ra->account);
            involve(A, (gint)t->op, (gint)rc->op, (gint)ra->op);
        }
        if (t->outcome == OUT_ABORTED && commit) {
            const Report *rc = &g_array_index(A->reports, Report, commit->report);
            violation(A, "aborted-committed", t->id, rc->account,
                      "transaction %" G_GINT64_FORMAT " (line %u) failed for its client, "
                      "but %s committed it on account %" G_GINT64_FORMAT,
                      t->id, t->line, node_text(rc, na), rc->account);
            involve(A, (gint)t->op, (gint)rc->op, -1);
        }
        if (t->outcome != OUT_COMMITTED)
            continue;
        /* Every copy of each of its accounts must know it: committed, or
         * at least still in doubt (a participant that voted yes). */
        for (guint ri = 0; ri < A->reports->len; ri++) {
            const Report *r = &g_array_index(A->reports, Report, ri);
            if (!holds(t, r->account))
                continue;
            int found = -1;
            for (guint j = 0; j < t->seen->len && found < 0; j++) {
                const Seen *s = &g_array_index(t->seen, Seen, j);
                if (s->report == ri)
                    found = (int)s->d;
            }
            if (found == D_ABORT || found < 0)
                violation(A, "lost", t->id, r->account,
                          "transaction %" G_GINT64_FORMAT " (line %u) committed for its client, "
                          "but %s %s on account %" G_GINT64_FORMAT,
                          t->id, t->line, node_text(r, na),
                          found < 0 ? "does not know it" : "aborted it", r->account);
            if (found == D_ABORT || found < 0)
                involve(A, (gint)t->op, (gint)r->op, -1);
        }
    }
}

/* The first audit of each account (history order), by account. */
static GHashTable *first_reports(Atomic *A)
{
    GHashTable *first = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, NULL);
    for (guint ri = 0; ri < A->reports->len; ri++) {
        Report *r = &g_array_index(A->reports, Report, ri);
        if (!g_hash_table_contains(first, &r->account))
            g_hash_table_insert(first, &r->account, GUINT_TO_POINTER(ri + 1));
    }
    return first;
}

static int decision_in(const Report *r, gint64 id)
{
    for (int d = 0; d < 3; d++)
        for (guint j = 0; j < r->ids[d]->len; j++)
            if (g_array_index(r->ids[d], gint64, j) == id)
                return d;
    return -1;
}

/* Conservation over the audited accounts (note 4).  Money flows in or out
 * of the audited set only through transfers with one unaudited side. */
static void check_total(Atomic *A, gint64 *total_out, gint64 *expected_out, guint *accounts_out,
                        guint *in_doubt_out)
{
    g_autoptr(GHashTable) first = first_reports(A);
    gint64 total = 0, expected = 0;
    for (guint ri = 0; ri < A->reports->len; ri++) {
        const Report *r = &g_array_index(A->reports, Report, ri);
        if (GPOINTER_TO_UINT(g_hash_table_lookup(first, &r->account)) == ri + 1) {
            total += r->balance;
            expected += r->initial;
        }
    }
    guint in_doubt = 0;
    char na[48], nb[48];
    for (guint i = 0; i < A->txns->len; i++) {
        const Txn *t = &g_array_index(A->txns, Txn, i);
        gboolean pending = FALSE;
        for (guint j = 0; j < t->seen->len; j++)
            pending |= g_array_index(t->seen, Seen, j).d == D_PENDING;
        in_doubt += pending;
        if (t->from == t->to)
            continue;
        gpointer pf = g_hash_table_lookup(first, &t->from), pt = g_hash_table_lookup(first, &t->to);
        const Report *rf = pf ? &g_array_index(A->reports, Report, GPOINTER_TO_UINT(pf) - 1) : NULL;
        const Report *rt = pt ? &g_array_index(A->reports, Report, GPOINTER_TO_UINT(pt) - 1) : NULL;
        int df = rf ? decision_in(rf, t->id) : -1, dt = rt ? decision_in(rt, t->id) : -1;
        if (!rf || !rt) {
            /* One side unaudited: what the other applied crossed the border. */
            if (rf && df == D_COMMIT)
                expected -= t->amount;
            if (rt && dt == D_COMMIT)
                expected += t->amount;
            continue;
        }
        if ((df == D_COMMIT) == (dt == D_COMMIT))
            continue;
        if (df == D_ABORT || dt == D_ABORT)
            continue;   /* committed and aborted: an agreement finding already */
        /* Applied on one side only. */
        if (df == D_PENDING || dt == D_PENDING) {
            total += df == D_COMMIT ? t->amount : -t->amount;   /* it will land */
            continue;
        }
        violation(A, "conservation", t->id, -1,
                  "transaction %" G_GINT64_FORMAT " (line %u) moved %" G_GINT64_FORMAT
                  " but only one side applied it: %s says %s for account %" G_GINT64_FORMAT
                  ", %s says %s for account %" G_GINT64_FORMAT,
                  t->id, t->line, t->amount, node_text(rf, na),
                  df < 0 ? "nothing" : decision_word[df], t->from, node_text(rt, nb),
                  dt < 0 ? "nothing" : decision_word[dt], t->to);
        involve(A, (gint)t->op, (gint)rf->op, (gint)rt->op);
    }
    if (total != expected)
        violation(A, "total", -1, -1,
                  "the %u audited accounts hold %" G_GINT64_FORMAT " in total (in-doubt transfers "
                  "counted as landed), but they opened with, and received from outside, %"
                  G_GINT64_FORMAT, g_hash_table_size(first), total, expected);
    *total_out = total;
    *expected_out = expected;
    *accounts_out = g_hash_table_size(first);
    *in_doubt_out = in_doubt;
}

/* ---- Reports ---------------------------------------------------------- */

static json_t *json_of_val(const FlVal *v)
{
    if (!v)
        return json_null();
    g_autoptr(GString) text = g_string_new(NULL);
    fl_val_to_json(v, text);
    json_t *j = json_loads(text->str, JSON_DECODE_ANY, NULL);
    return j ? j : json_string(text->str);
}

/* An operation as the other checkers show one (process, f, type, lines,
 * times, key, value), so that plots and reports can find it. */
static json_t *json_op(FlHistory *h, guint idx)
{
    const FlOp *op = &g_array_index(h->ops, FlOp, idx);
    const char *type = op->status == FL_OP_OK ? "ok" : op->status == FL_OP_FAIL ? "fail" : "info";
    json_t *o = json_pack("{s:I,s:s,s:s,s:i}", "process", (json_int_t)op->process, "f",
                          txn_ops[op->f], "type", type, "invoke_line", (int)op->inv_line);
    if (op->ret_line)
        json_object_set_new(o, "complete_line", json_integer(op->ret_line));
    if (op->inv_time >= 0)
        json_object_set_new(o, "invoke_time", json_integer(op->inv_time));
    if (op->ret_time >= 0)
        json_object_set_new(o, "complete_time", json_integer(op->ret_time));
    const FlVal *inv = fl_reader_event_at(h->reader, op->inv_offset, op->inv_line);
    json_object_set_new(o, "key", json_of_val(fl_val_get(inv, "key")));
    gboolean done = op->status == FL_OP_OK && op->ret_line;
    const FlVal *ev = done ? fl_reader_event_at(h->reader, op->ret_offset, op->ret_line) : inv;
    json_object_set_new(o, "value", json_of_val(fl_val_get(ev, "value")));
    const FlVal *node = done ? fl_val_get(ev, "node") : NULL;
    if (node && node->kind == FL_VAL_INT)
        json_object_set_new(o, "node", json_integer(node->i));
    return o;
}

/* ---- Entry point ------------------------------------------------------ */

static void atomic_clear(Atomic *A)
{
    for (guint i = 0; A->txns && i < A->txns->len; i++)
        g_array_unref(g_array_index(A->txns, Txn, i).seen);
    for (guint i = 0; A->reports && i < A->reports->len; i++)
        for (int d = 0; d < 3; d++)
            g_array_unref(g_array_index(A->reports, Report, i).ids[d]);
    for (guint i = 0; A->violations && i < A->violations->len; i++)
        g_free(g_array_index(A->violations, Violation, i).text);
    if (A->txns) g_array_unref(A->txns);
    if (A->reports) g_array_unref(A->reports);
    if (A->violations) g_array_unref(A->violations);
    if (A->by_id) g_hash_table_unref(A->by_id);
    fl_history_free(A->h);
}

static double ratio(guint a, guint b)
{
    return b ? (double)a / (double)b : 0.0;
}

FlVerdict fl_check_atomic(const FlHistorySource *src, const char *model, const char *consistency,
                          const char *format, GString *report, json_t **json_out,
                          GError **err)
{
    if (json_out)
        *json_out = NULL;
    if (!model || strcmp(model, "txn") != 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "the atomic check needs the txn model, not \"%s\"", model ? model : "");
        return FL_VERDICT_ERROR;
    }
    /* "atomic-commit" says what is checked: atomic commitment of
     * transactions, not an atomic (linearizable) register.  "atomic" is its
     * old name, still accepted. */
    if (consistency && strcmp(consistency, "atomic") != 0 && strcmp(consistency, "atomic-commit") != 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "the txn type is checked for consistency atomic-commit, not \"%s\"", consistency);
        return FL_VERDICT_ERROR;
    }
    Atomic A = { 0 };
    A.h = fl_history_open(src, format, &txn_model, err);
    if (!A.h)
        return FL_VERDICT_ERROR;
    A.txns = g_array_new(FALSE, FALSE, sizeof(Txn));
    A.reports = g_array_new(FALSE, FALSE, sizeof(Report));
    A.violations = g_array_new(FALSE, FALSE, sizeof(Violation));
    A.by_id = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    if (!collect(&A, err)) {
        atomic_clear(&A);
        return FL_VERDICT_ERROR;
    }
    check_reports(&A);
    check_txns(&A);
    gint64 total, expected;
    guint accounts, in_doubt;
    check_total(&A, &total, &expected, &accounts, &in_doubt);

    guint counts[3] = { 0 };
    for (guint i = 0; i < A.txns->len; i++)
        counts[g_array_index(A.txns, Txn, i).outcome]++;
    guint n = A.txns->len;
    FlVerdict verdict = A.violations->len ? FL_VERDICT_INVALID : FL_VERDICT_VALID;
    if (report) {
        g_string_append_printf(report, "%u transfers: %u committed, %u aborted, %u unknown; "
                               "%u audits of %u accounts; %u in doubt at the audit\n",
                               n, counts[OUT_COMMITTED], counts[OUT_ABORTED], counts[OUT_UNKNOWN],
                               A.reports->len, accounts, in_doubt);
        if (A.reports->len == 0)
            g_string_append(report, "No audits (give the workload final_reads: true): only "
                            "the clients' outcomes could be compared.\n");
        if (verdict == FL_VERDICT_INVALID) {
            g_string_append_printf(report, "Atomic commitment is violated (%u finding%s):\n",
                                   A.violations->len, A.violations->len == 1 ? "" : "s");
            for (guint i = 0; i < A.violations->len && i < SHOWN_MAX; i++) {
                const Violation *v = &g_array_index(A.violations, Violation, i);
                g_string_append_printf(report, "  %s: %s\n", v->kind, v->text);
            }
            if (A.violations->len > SHOWN_MAX)
                g_string_append_printf(report, "  ... %u more\n", A.violations->len - SHOWN_MAX);
        } else if (A.reports->len) {
            g_string_append_printf(report, "Every participant agrees on every decision, no "
                                   "committed transfer was lost, and the %u audited accounts "
                                   "hold %" G_GINT64_FORMAT " as they should.\n", accounts, total);
        }
    }
    if (json_out) {
        json_t *j = json_object();
        json_object_set_new(j, "valid", json_boolean(verdict == FL_VERDICT_VALID));
        json_object_set_new(j, "model", json_string("txn"));
        json_object_set_new(j, "consistency", json_string(consistency ? consistency : "atomic-commit"));
        json_object_set_new(j, "operations", json_integer(A.h->ops->len));
        json_object_set_new(j, "keys", json_integer(MAX(A.h->keys->len, 1)));
        json_object_set_new(j, "verdict", json_string(verdict == FL_VERDICT_VALID ? "valid" : "invalid"));
        json_object_set_new(j, "transactions",
                            json_pack("{s:i,s:i,s:i,s:i}", "invoked", (int)n,
                                      "committed", (int)counts[OUT_COMMITTED],
                                      "aborted", (int)counts[OUT_ABORTED],
                                      "unknown", (int)counts[OUT_UNKNOWN]));
        json_object_set_new(j, "commit_rate", json_real(ratio(counts[OUT_COMMITTED], n)));
        json_object_set_new(j, "abort_rate", json_real(ratio(counts[OUT_ABORTED], n)));
        json_object_set_new(j, "audits", json_integer(A.reports->len));
        json_object_set_new(j, "accounts_audited", json_integer(accounts));
        json_object_set_new(j, "in_doubt", json_integer(in_doubt));
        json_object_set_new(j, "total", json_integer(total));
        json_object_set_new(j, "expected_total", json_integer(expected));
        json_t *vs = json_array();
        for (guint i = 0; i < A.violations->len && i < LISTED_MAX; i++) {
            const Violation *v = &g_array_index(A.violations, Violation, i);
            json_t *o = json_pack("{s:s,s:s}", "kind", v->kind, "text", v->text);
            if (v->txn >= 0)
                json_object_set_new(o, "txn", json_integer(v->txn));
            if (v->account >= 0)
                json_object_set_new(o, "account", json_integer(v->account));
            /* The operations involved: the transfer, then the audits. */
            if (v->ops[0] >= 0)
                json_object_set_new(o, "transfer", json_op(A.h, (guint)v->ops[0]));
            if (v->ops[1] >= 0 || v->ops[2] >= 0) {
                json_t *audits = json_array();
                for (int k = 1; k < 3; k++)
                    if (v->ops[k] >= 0)
                        json_array_append_new(audits, json_op(A.h, (guint)v->ops[k]));
                json_object_set_new(o, "audits", audits);
            }
            json_array_append_new(vs, o);
        }
        json_object_set_new(j, "violations", vs);
        if (A.violations->len)
            json_object_set(j, "counterexample", json_array_get(vs, 0));
        *json_out = j;
    }
    atomic_clear(&A);
    return verdict;
}
