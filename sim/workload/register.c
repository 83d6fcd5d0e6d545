/* register: read, write, cas on integer registers (one per key).  Writes
 * and cas targets are unique; a cas compares with one of the key's recent
 * values, so some succeed and some fail. */
#include "sim/workload.h"
#include "sim/fmt.h"

#include <inttypes.h>

static void reg_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    if (op->kind == FL_OP_CAS) {
        int64_t old = g->recent[(size_t)op->key * FL_RECENT + fl_rng_below(rng, FL_RECENT)];
        if (old == 0)
            op->kind = FL_OP_WRITE;   /* nothing to compare with yet */
        else
            op->a = old;
    }
    if (op->kind == FL_OP_CAS)
        op->b = fl_workload_fresh(g, op->key);
    else if (op->kind == FL_OP_WRITE)
        op->a = fl_workload_fresh(g, op->key);
}

static void reg_value(GString *s, const FlOp *op, const FlResult *res)
{
    switch (op->kind) {
    case FL_OP_READ:
        if (res && res->has_value)
            fl_fmt_append_i64(s, res->value);
        else
            g_string_append(s, "null");
        break;
    case FL_OP_WRITE:
        fl_fmt_append_i64(s, op->a);
        break;
    case FL_OP_CAS:
        g_string_append_c(s, '[');
        fl_fmt_append_i64(s, op->a);
        g_string_append_c(s, ',');
        fl_fmt_append_i64(s, op->b);
        g_string_append_c(s, ']');
        break;
    default:
        g_string_append(s, "null");
    }
}

static const FlWorkloadOp reg_ops[] = {
    { "read", FL_OP_READ, 0.5 },
    { "write", FL_OP_WRITE, 0.3 },
    { "cas", FL_OP_CAS, 0.2 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_register = {
    .name = "register",
    .check_model = "register",
    .summary = "integer registers: read, write, cas (unique written values)",
    .ops = reg_ops,
    .read_kind = FL_OP_READ,
    .make = reg_make,
    .value = reg_value,
};
