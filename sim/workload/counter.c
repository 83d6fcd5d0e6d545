/* counter: add and read on integer counters (one per key), for the
 * counter CRDTs (G-counter, PN-counter) and any store.  `add` adds 1 to 5,
 * `sub` subtracts 1 to 5 (recorded as an add of a negative amount, as
 * Jepsen's counter does); a read returns the value, 0 before any add. */
#include "sim/workload.h"

#include <inttypes.h>

static void counter_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    if (op->kind == FL_OP_INCR || op->kind == FL_OP_DECR)
        op->a = 1 + (int64_t)fl_rng_below(rng, 5);
}

static void counter_value(GString *s, const FlOp *op, const FlResult *res)
{
    switch (op->kind) {
    case FL_OP_READ:
        if (res)
            g_string_append_printf(s, "%" PRId64, res->has_value ? res->value : 0);
        else
            g_string_append(s, "null");
        break;
    case FL_OP_INCR:
        g_string_append_printf(s, "%" PRId64, op->a);
        break;
    case FL_OP_DECR:
        g_string_append_printf(s, "%" PRId64, -op->a);
        break;
    default:
        g_string_append(s, "null");
    }
}

static const FlWorkloadOp counter_ops[] = {
    { "add", FL_OP_INCR, 0.5 },
    { "sub", FL_OP_DECR, 0.0 },
    { "read", FL_OP_READ, 0.5 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_counter = {
    .name = "counter",
    .check_model = "counter",
    .summary = "integer counters: add 1..5, sub 1..5 (an add of a negative amount), read",
    .ops = counter_ops,
    .read_kind = FL_OP_READ,
    .make = counter_make,
    .value = counter_value,
};
