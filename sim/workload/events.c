/* events: the workload of the course's node-log protocols (clocks,
 * election, snapshot).  A client asks a node to take one step of its
 * protocol's workload (send a message, transfer money, ...), naming the
 * step by a unique id; the node answers with a number of its choosing (a
 * clock value, a balance).  The final read phase fetches each node's log,
 * a text whose grammar belongs to the protocol and its checker
 * (sim/check/events.h).
 *
 * History values: step: the id, and on ok {"id", "value"}; read: the
 * node's text, or null. */
#include "sim/workload.h"

#include <inttypes.h>

static void events_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    if (op->kind == FL_OP_EVENT_STEP)
        op->a = fl_workload_fresh(g, op->key);
}

static void events_value(GString *s, const FlOp *op, const FlResult *res)
{
    if (op->kind == FL_OP_EVENT_STEP) {
        if (res && res->has_value)
            g_string_append_printf(s, "{\"id\":%" PRId64 ",\"value\":%" PRId64 "}", op->a, res->value);
        else
            g_string_append_printf(s, "%" PRId64, op->a);
    } else if (res && res->has_value) {
        fl_json_text(s, res->text ? res->text : "", res->text ? res->text_len : 0);
    } else {
        g_string_append(s, "null");
    }
}

static const FlWorkloadOp events_ops[] = {
    { "step", FL_OP_EVENT_STEP, 1.0 },
    { "read", FL_OP_EVENT_READ, 0.0 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_events = {
    .name = "events",
    .check_model = "events",
    .summary = "steps of a node-log protocol (clocks, election, snapshot); the final reads fetch each node's log",
    .ops = events_ops,
    .read_kind = FL_OP_EVENT_READ,
    .make = events_make,
    .value = events_value,
};
