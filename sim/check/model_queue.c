/* sim/check/model_queue.c: a FIFO queue, initially empty.
 *
 *   enqueue: v -> v        appends v (v must not be null)
 *   dequeue: null -> v     removes and returns the head; null when empty
 * The state is the array of the queued atoms, head first.
 */
#include "sim/check/model.h"

enum { ENQUEUE, DEQUEUE };
static const char *const ops[] = { "enqueue", "dequeue", NULL };

/* A dequeue's result is known only when it completes ok (FL_ATOM_NONE
 * until then: it removes whatever is at the head, if anything). */
static gboolean parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok,
                      GString *why)
{
    if (op->f == ENQUEUE) {
        if (ok) return TRUE;
        if (v->kind == FL_VAL_NULL) {
            g_string_append(why, "expected a non-null value to enqueue");
            return FALSE;
        }
        op->a = fl_atoms_value(ctx->atoms, v);
        return TRUE;
    }
    op->a = ok ? fl_atoms_value(ctx->atoms, v) : FL_ATOM_NONE;
    return TRUE;
}

static void init(FlModelCtx *ctx, GByteArray *state)
{
}

static gboolean step(FlModelCtx *ctx, const guint8 *state, gsize len,
                     const FlOp *op, GByteArray *next)
{
    if (op->f == ENQUEUE) {
        g_byte_array_append(next, state, (guint)len);
        g_byte_array_append(next, (const guint8 *)&op->a, sizeof(FlAtom));
        return TRUE;
    }
    if (len == 0) return op->a == FL_ATOM_NULL || op->a == FL_ATOM_NONE;
    FlAtom head = fl_state_atom(state, sizeof(FlAtom));
    if (op->a != FL_ATOM_NONE && op->a != head) return FALSE;
    g_byte_array_append(next, state + sizeof(FlAtom), (guint)(len - sizeof(FlAtom)));
    return TRUE;
}

static void show_state(FlModelCtx *ctx, const guint8 *state, gsize len,
                       GString *out)
{
    g_string_append_c(out, '[');
    for (gsize i = 0; i < len / sizeof(FlAtom); i++) {
        if (i) g_string_append_c(out, ',');
        fl_atoms_to_json(ctx->atoms, fl_state_atom(state + i * sizeof(FlAtom), sizeof(FlAtom)), out);
    }
    g_string_append_c(out, ']');
}

const FlModel fl_model_queue = {
    .name = "queue",
    .ops = ops,
    .parse = parse,
    .init = init,
    .step = step,
    .show_state = show_state,
};
