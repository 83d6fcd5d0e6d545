/* txn: transfers between bank accounts (one account per key), for the
 * atomic-commitment protocols and the `atomic` checker.
 *
 * A transfer moves a small amount from account `key` to another account,
 * as one transaction with a unique id (sim/store.h packs id and amount into
 * FlOp.b).  Its history value names everything the checker needs:
 *   {"id":17,"from":2,"to":5,"amount":12}
 * ok means committed, fail means aborted, info means unknown.
 *
 * The final read phase (`final_reads: true`) audits every account on every
 * node; a node that holds the account answers with its balance and the
 * decisions it knows about the transactions that touched it:
 *   {"balance":88,"initial":100,"commit":[17,20],"abort":[19],"pending":[23]}
 * and a node that does not hold it answers null. */
#include "sim/workload.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Transfers are small next to the opening balance, so most commit, and a
 * few find the payer short. */
#define AMOUNT_MAX 40

static void txn_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    if (op->kind != FL_OP_TRANSFER)
        return;
    uint32_t to = op->key;
    if (g->keys > 1) {
        to = (uint32_t)fl_rng_below(rng, g->keys - 1);
        if (to >= op->key)
            to++;   /* any account but the payer's */
    }
    op->a = to;
    int64_t amount = 1 + (int64_t)fl_rng_below(rng, AMOUNT_MAX);
    op->b = fl_txn_pack(fl_workload_fresh(g, op->key), amount);
}

/* Appends the ids of the tokens of @text that start with @letter, as a JSON
 * array.  Malformed tokens (a lying node) are skipped: the value must stay
 * valid JSON whatever a node answered. */
static void ids(GString *s, const char *text, size_t len, char letter)
{
    g_string_append_c(s, '[');
    bool first = true;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != ',')
            j++;
        if (j - i >= 2 && j - i <= 20 && text[i] == letter) {
            uint64_t v = 0;
            bool digits = true;
            for (size_t k = i + 1; k < j; k++) {
                if (text[k] < '0' || text[k] > '9' || v > (UINT64_MAX - 9) / 10)
                    digits = false;
                else
                    v = v * 10 + (uint64_t)(text[k] - '0');
            }
            if (digits && v <= INT64_MAX) {
                g_string_append_printf(s, "%s%" PRIu64, first ? "" : ",", v);
                first = false;
            }
        }
        i = j + 1;
    }
    g_string_append_c(s, ']');
}

/* The opening balance the node gave ("i" token), or the default. */
static int64_t initial(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != ',')
            j++;
        if (j - i >= 2 && j - i <= 19 && text[i] == 'i') {
            char buf[24];
            memcpy(buf, text + i + 1, j - i - 1);
            buf[j - i - 1] = '\0';
            char *end;
            long long v = strtoll(buf, &end, 10);
            if (*end == '\0')
                return v;
        }
        i = j + 1;
    }
    return FL_TXN_INITIAL_BALANCE;
}

static void txn_value(GString *s, const FlOp *op, const FlResult *res)
{
    switch (op->kind) {
    case FL_OP_TRANSFER:
        g_string_append_printf(s, "{\"id\":%" PRId64 ",\"from\":%u,\"to\":%" PRId64
                               ",\"amount\":%" PRId64 "}",
                               fl_txn_id(op->b), op->key, op->a, fl_txn_amount(op->b));
        break;
    case FL_OP_AUDIT:
        if (!res || !res->has_value) {
            g_string_append(s, "null");
            break;
        }
        {
            const char *t = res->text ? res->text : "";
            size_t n = res->text ? res->text_len : 0;
            g_string_append_printf(s, "{\"balance\":%" PRId64 ",\"initial\":%" PRId64
                                   ",\"commit\":", res->value, (int64_t)initial(t, n));
            ids(s, t, n, 'c');
            g_string_append(s, ",\"abort\":");
            ids(s, t, n, 'a');
            g_string_append(s, ",\"pending\":");
            ids(s, t, n, 'p');
            g_string_append_c(s, '}');
        }
        break;
    default:
        g_string_append(s, "null");
    }
}

static const FlWorkloadOp txn_ops[] = {
    { "transfer", FL_OP_TRANSFER, 1.0 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_txn = {
    .name = "txn",
    .check_model = "txn",
    .summary = "bank transfers between accounts (one per key); final reads audit every account",
    .ops = txn_ops,
    .read_kind = FL_OP_AUDIT,
    .make = txn_make,
    .value = txn_value,
};
