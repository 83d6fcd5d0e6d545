/* sim/check/model_counter.c: an integer counter, initially 0 (Jepsen's
 * counter).
 *
 *   add:  d -> d           adds d (negative d subtracts)
 *   read: null -> n        succeeds when the counter is n
 * The state is the atom of the integer value.
 */
#include "sim/check/model.h"

enum { ADD, READ };
static const char *const ops[] = { "add", "read", NULL };

static gboolean parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok,
                      GString *why)
{
    if (op->f == READ && !ok) {
        op->a = FL_ATOM_NONE;
        return TRUE;
    }
    if (op->f == ADD && ok) return TRUE;
    if (v->kind != FL_VAL_INT) {
        g_string_append_printf(why, "expected an integer as the %s of a counter %s, got %s",
                               op->f == READ ? "result" : "value", ops[op->f],
                               fl_val_kind_name(v));
        return FALSE;
    }
    op->a = fl_atoms_int(ctx->atoms, v->i);
    return TRUE;
}

static void init(FlModelCtx *ctx, GByteArray *state)
{
    fl_state_set_atom(state, fl_atoms_int(ctx->atoms, 0));
}

static gboolean step(FlModelCtx *ctx, const guint8 *state, gsize len,
                     const FlOp *op, GByteArray *next)
{
    FlAtom v = fl_state_atom(state, len);
    if (op->f == READ) {
        if (op->a != FL_ATOM_NONE && op->a != v) return FALSE;
        fl_state_set_atom(next, v);
        return TRUE;
    }
    gint64 x = fl_atoms_int_value(ctx->atoms, v) + fl_atoms_int_value(ctx->atoms, op->a);
    fl_state_set_atom(next, fl_atoms_int(ctx->atoms, x));
    return TRUE;
}

static void show_state(FlModelCtx *ctx, const guint8 *state, gsize len,
                       GString *out)
{
    fl_atoms_to_json(ctx->atoms, fl_state_atom(state, len), out);
}

const FlModel fl_model_counter = {
    .name = "counter",
    .ops = ops,
    .readonly_ops = 1u << READ,
    .parse = parse,
    .init = init,
    .step = step,
    .show_state = show_state,
};
