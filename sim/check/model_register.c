/* sim/check/model_register.c: a read/write/cas register, initially null.
 *
 *   read:  null -> v       succeeds when the register holds v
 *   write: v -> v          sets it to v
 *   cas:   [old,new]       succeeds when it holds old, then sets new; a cas
 *                          whose comparison failed completes as `fail`
 * The state is the atom of the value held.
 */
#include "sim/check/model.h"

enum { READ, WRITE, CAS };
static const char *const ops[] = { "read", "write", "cas", NULL };

/* A read's invocation value is ignored and its result known only when it
 * completes ok (FL_ATOM_NONE until then: any value).  Writes and cas keep
 * their invocation's operands. */
static gboolean parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok,
                      GString *why)
{
    switch (op->f) {
    case READ:
        op->a = ok ? fl_atoms_value(ctx->atoms, v) : FL_ATOM_NONE;
        return TRUE;
    case WRITE:
        if (!ok) op->a = fl_atoms_value(ctx->atoms, v);
        return TRUE;
    case CAS:
        if (ok) return TRUE;
        if (v->kind != FL_VAL_VEC || v->seq.n != 2) {
            g_string_append_printf(why, "expected [old, new] as the value of a cas, got %s",
                                   fl_val_kind_name(v));
            return FALSE;
        }
        op->a = fl_atoms_value(ctx->atoms, v->seq.items[0]);
        op->b = fl_atoms_value(ctx->atoms, v->seq.items[1]);
        return TRUE;
    }
    g_assert_not_reached();
}

static void init(FlModelCtx *ctx, GByteArray *state)
{
    fl_state_set_atom(state, FL_ATOM_NULL);
}

static gboolean step(FlModelCtx *ctx, const guint8 *state, gsize len,
                     const FlOp *op, GByteArray *next)
{
    FlAtom v = fl_state_atom(state, len);
    switch (op->f) {
    case READ:
        if (op->a != FL_ATOM_NONE && op->a != v) return FALSE;
        fl_state_set_atom(next, v);
        return TRUE;
    case WRITE:
        fl_state_set_atom(next, op->a);
        return TRUE;
    case CAS:
        if (op->a != v) return FALSE;
        fl_state_set_atom(next, op->b);
        return TRUE;
    }
    g_assert_not_reached();
}

static void show_state(FlModelCtx *ctx, const guint8 *state, gsize len,
                       GString *out)
{
    fl_atoms_to_json(ctx->atoms, fl_state_atom(state, len), out);
}

static FlAtom observes(const FlOp *op)
{
    return op->f == WRITE ? FL_ATOM_NONE : op->a;
}

static FlProduces produces(const FlOp *op, FlAtom *value)
{
    if (op->f == READ) return FL_PRODUCES_NOTHING;
    *value = op->f == WRITE ? op->a : op->b;
    return FL_PRODUCES_EXACT;
}

/* A write's effect lasts until the next write or cas, which overwrites it:
 * it can only be seen as its own value. */
static gboolean visible(FlModelCtx *ctx, const FlOp *op, FlAtom w)
{
    FlAtom v;
    return produces(op, &v) == FL_PRODUCES_EXACT && v == w;
}

const FlModel fl_model_register = {
    .name = "register",
    .ops = ops,
    .readonly_ops = 1u << READ,
    .parse = parse,
    .init = init,
    .step = step,
    .show_state = show_state,
    .observes = observes,
    .produces = produces,
    .shows = observes,
    .visible = visible,
};
