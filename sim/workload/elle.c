/* list-append and rw-register: transactions of micro-ops, as Jepsen's Elle
 * workloads issue them, for the transactional isolation checker
 * (sim/check/elle.h).
 *
 * Design notes.
 *  1. The transactions come from sim/check/txn_gen.h, one generator for the
 *     whole run (values are unique per key only if one generator hands them
 *     out), created on the first transaction.  Its key pool holds the
 *     scenario's `keys` keys at a time and rotates after 32 writes to a
 *     key, so lists stay short however long the run.  It draws from the
 *     random stream of the client that asks, which keeps each client's
 *     stream its own (DESIGN.md, Determinism).
 *  2. A transaction travels as one request: its micro-ops are packed into
 *     the op (faultline/store.h, fl_mop_pack); key is the first micro-op's
 *     key, for the trace.  The ok answer lists the reads in its text.
 *  3. The history value is the JSONL transaction of the README: the
 *     invocation with every read null, the ok completion with the reads
 *     filled in from the answer; fail and info carry the invocation's
 *     value (fail: took no effect; info: may have).
 *  4. No final reads: the checker needs none (every read in a transaction
 *     names its writers), so read_kind is the transaction itself and a
 *     scenario asking for final_reads gets empty transactions. */
#include "sim/workload.h"
#include "sim/check/txn_gen.h"

#include <string.h>

static uint64_t draw(void *data)
{
    FlRng **rng = data;
    return fl_rng_next(*rng);
}

static void make_txn(FlWorkloadGen *g, FlRng *rng, FlOp *op, FlTxnKind kind)
{
    if (!g->txn) {   /* note 1 */
        FlTxnGenParams p = { .kind = kind, .keys_active = g->keys, .mops_max = FL_MOPS_MAX };
        g->txn = fl_txn_gen_new(&p, draw, &g->txn_rng);
    }
    g->txn_rng = rng;
    FlMop mops[FL_MOPS_MAX];
    guint n = fl_txn_gen_next(g->txn, mops, FL_MOPS_MAX);
    g->txn_rng = NULL;
    op->a = op->b = 0;
    for (guint i = 0; i < n; i++) {
        /* The generator's keys only grow: a run long enough to use 2^20
         * of them (32 writes each) would need packing anew. */
        g_assert(mops[i].key >= 0 && mops[i].key < FL_MAX_KEYS);
        g_assert(mops[i].value >= 0 && mops[i].value < FL_MOP_VALUE_LIMIT);
        fl_mop_set(op, i, fl_mop_pack(mops[i].f == FL_MOP_READ ? FL_MOP_R : FL_MOP_W,
                                      (uint32_t)mops[i].key, (uint32_t)mops[i].value));
    }
    op->key = n ? (uint32_t)mops[0].key : 0;
}

static void la_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    make_txn(g, rng, op, FL_TXN_LIST_APPEND);
}

static void rw_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    make_txn(g, rng, op, FL_TXN_RW_REGISTER);
}

/* The next field of @text (up to ';' or the end) from *@at: sets *@len and
 * moves *@at past the separator.  Missing fields are empty. */
static const char *field(const char *text, size_t n, size_t *at, size_t *len)
{
    size_t i = *at < n ? *at : n, j = i;
    while (j < n && text[j] != ';')
        j++;
    *len = j - i;
    *at = j + 1;
    return text + i;
}

/* Appends the integers of the comma-separated @f as JSON: a list
 * (list-append) or the first one or null (rw-register).  Malformed tokens
 * (a lying node) are skipped: the value must stay valid JSON. */
static void read_json(GString *s, const char *f, size_t len, bool list)
{
    if (list)
        g_string_append_c(s, '[');
    bool first = true;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && f[j] != ',')
            j++;
        bool digits = j > i && j - i <= 9;
        for (size_t k = i; k < j; k++)
            digits &= f[k] >= '0' && f[k] <= '9';
        if (digits && (list || first)) {
            g_string_append_len(s, ",", first ? 0 : 1);
            g_string_append_len(s, f + i, (gssize)(j - i));
            first = false;
        }
        i = j + 1;
    }
    if (list)
        g_string_append_c(s, ']');
    else if (first)
        g_string_append(s, "null");
}

static void txn_value(GString *s, const FlOp *op, const FlResult *res)
{
    bool list = op->kind == FL_OP_TXN_APPEND;
    const char *text = res && res->text ? res->text : "";
    size_t n = res && res->text ? res->text_len : 0, at = 0;
    g_string_append_c(s, '[');
    bool first = true;
    for (unsigned i = 0; i < FL_MOPS_MAX; i++) {
        uint32_t m = fl_mop_get(op, i);
        size_t flen;
        const char *f = field(text, n, &at, &flen);
        if (fl_mop_f(m) == FL_MOP_NONE)
            continue;
        g_string_append(s, first ? "[" : ",[");
        first = false;
        if (fl_mop_f(m) == FL_MOP_R) {
            g_string_append_printf(s, "\"r\",%u,", fl_mop_key(m));
            if (res)
                read_json(s, f, flen, list);
            else
                g_string_append(s, "null");
        } else {
            g_string_append_printf(s, "\"%s\",%u,%u", list ? "append" : "w", fl_mop_key(m),
                                   fl_mop_value(m));
        }
        g_string_append_c(s, ']');
    }
    g_string_append_c(s, ']');
}

static const FlWorkloadOp la_ops[] = {
    { "txn", FL_OP_TXN_APPEND, 1.0 },
    { NULL, 0, 0 },
};

static const FlWorkloadOp rw_ops[] = {
    { "txn", FL_OP_TXN_RW, 1.0 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_list_append = {
    .name = "list-append",
    .check_model = "list-append",
    .summary = "transactions of appends and list reads (Elle); keys from a rotating pool",
    .ops = la_ops,
    .read_kind = FL_OP_TXN_APPEND,   /* note 4 */
    .make = la_make,
    .value = txn_value,
};

const FlWorkloadModel fl_workload_rw_register = {
    .name = "rw-register",
    .check_model = "rw-register",
    .summary = "transactions of register writes and reads (Elle); keys from a rotating pool",
    .ops = rw_ops,
    .read_kind = FL_OP_TXN_RW,   /* note 4 */
    .make = rw_make,
    .value = txn_value,
};
