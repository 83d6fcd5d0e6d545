/* kv: get, put, append on string values (one per key).  Every put and
 * append carries a unique token "17,", so a value reads as the list of
 * what was appended since the last put. */
#include "sim/workload.h"

static void kv_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    if (op->kind == FL_OP_PUT || op->kind == FL_OP_APPEND)
        op->a = fl_workload_fresh(g, op->key);
}

static void kv_value(GString *s, const FlOp *op, const FlResult *res)
{
    char tok[24];
    size_t n;
    switch (op->kind) {
    case FL_OP_GET:
        if (res)
            fl_json_text(s, res->text ? res->text : "", res->text ? res->text_len : 0);
        else
            g_string_append(s, "null");
        break;
    case FL_OP_PUT:
    case FL_OP_APPEND:
        n = fl_kv_token(op->a, tok);
        fl_json_text(s, tok, n);
        break;
    default:
        g_string_append(s, "null");
    }
}

static const FlWorkloadOp kv_ops[] = {
    { "get", FL_OP_GET, 0.5 },
    { "put", FL_OP_PUT, 0.25 },
    { "append", FL_OP_APPEND, 0.25 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_kv = {
    .name = "kv",
    .check_model = "kv",
    .summary = "string values: get, put, append (unique tokens)",
    .ops = kv_ops,
    .read_kind = FL_OP_GET,
    .make = kv_make,
    .value = kv_value,
};
