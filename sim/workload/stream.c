/* stream: clients send events to a stream processor; keys are the events'
 * keys.  Each event has a unique id (its value for the aggregates is
 * id mod 100 + 1); the source answers with the event time it gave it.
 * The final read phase reads every key on every node: the source answers
 * with its log, the sink with its output (see sim/check/stream.h).
 *
 * History values: send: {"id"} and, when ok, "time"; read: the node's text
 * for that key, or null. */
#include "sim/workload.h"

#include <inttypes.h>

static void stream_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    if (op->kind == FL_OP_STREAM_SEND)
        op->a = fl_workload_fresh(g, op->key);
}

static void stream_value(GString *s, const FlOp *op, const FlResult *res)
{
    if (op->kind == FL_OP_STREAM_SEND) {
        g_string_append_printf(s, "{\"id\":%" PRId64, op->a);
        if (res && res->has_value)
            g_string_append_printf(s, ",\"time\":%" PRId64, res->value);
        g_string_append_c(s, '}');
    } else if (res && res->has_value) {
        fl_json_text(s, res->text ? res->text : "", res->text ? res->text_len : 0);
    } else {
        g_string_append(s, "null");
    }
}

static const FlWorkloadOp stream_ops[] = {
    { "send", FL_OP_STREAM_SEND, 1.0 },
    { "read", FL_OP_STREAM_READ, 0.0 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_stream = {
    .name = "stream",
    .check_model = "stream",
    .summary = "events for a stream processor: send (the final reads fetch the source's log and the sink's output)",
    .ops = stream_ops,
    .read_kind = FL_OP_STREAM_READ,
    .make = stream_make,
    .value = stream_value,
};
