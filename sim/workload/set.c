/* set: add, remove and read on sets of integers (one per key), for the
 * set CRDTs (G-set, OR-set) and any store.  Every add carries a unique
 * element; a remove names one of the key's recent elements; a read returns
 * the whole set, which the history shows as a sorted array. */
#include "sim/workload.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void set_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    if (op->kind == FL_OP_REMOVE) {
        int64_t old = g->recent[(size_t)op->key * FL_RECENT + fl_rng_below(rng, FL_RECENT)];
        if (old == 0)
            op->kind = FL_OP_ADD;   /* nothing to remove yet */
        else
            op->a = old;
    }
    if (op->kind == FL_OP_ADD)
        op->a = fl_workload_fresh(g, op->key);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* The tokens "3,7," of a set read as a sorted JSON array.  Anything that is
 * not a token (a lying node's bytes) is skipped: the history stays valid
 * JSON whatever a node answers. */
static void members(GString *s, const char *text, size_t len)
{
    g_autoptr(GArray) xs = g_array_new(FALSE, FALSE, sizeof(int64_t));
    size_t i = 0;
    while (i < len && xs->len < 100000) {
        size_t j = i;
        while (j < len && text[j] != ',')
            j++;
        char buf[24];
        if (j > i && j - i < sizeof buf) {
            memcpy(buf, text + i, j - i);
            buf[j - i] = '\0';
            char *end;
            int64_t v = g_ascii_strtoll(buf, &end, 10);
            if (*end == '\0')
                g_array_append_val(xs, v);
        }
        i = j + 1;
    }
    g_array_sort(xs, cmp_i64);
    g_string_append_c(s, '[');
    for (guint k = 0; k < xs->len; k++) {
        int64_t v = g_array_index(xs, int64_t, k);
        if (k && v == g_array_index(xs, int64_t, k - 1))
            continue;
        g_string_append_printf(s, "%s%" PRId64, s->str[s->len - 1] == '[' ? "" : ",", v);
    }
    g_string_append_c(s, ']');
}

static void set_value(GString *s, const FlOp *op, const FlResult *res)
{
    switch (op->kind) {
    case FL_OP_SREAD:
        if (res)
            members(s, res->text ? res->text : "", res->text ? res->text_len : 0);
        else
            g_string_append(s, "null");
        break;
    case FL_OP_ADD:
    case FL_OP_REMOVE:
        g_string_append_printf(s, "%" PRId64, op->a);
        break;
    default:
        g_string_append(s, "null");
    }
}

static const FlWorkloadOp set_ops[] = {
    { "add", FL_OP_ADD, 0.5 },
    { "remove", FL_OP_REMOVE, 0.0 },
    { "read", FL_OP_SREAD, 0.5 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_set = {
    .name = "set",
    .check_model = "set",
    .summary = "sets of integers: add (unique elements), remove (a recent one), read (the whole set)",
    .ops = set_ops,
    .read_kind = FL_OP_SREAD,
    .make = set_make,
    .value = set_value,
};
