/* sim/check/model_kv.c: one string value (a history's keys are checked one
 * at a time), initially "".
 *
 *   get:    null -> s      succeeds when the value is s
 *   put:    s -> s         sets it to s
 *   append: s -> s         appends s to it
 * The state is the atom of the string.
 */
#include "sim/check/model.h"

#include <string.h>

enum { GET, PUT, APPEND };
static const char *const ops[] = { "get", "put", "append", NULL };

/* A get's result is known only when it completes ok (FL_ATOM_NONE until
 * then); put and append keep their invocation's string. */
static gboolean parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok,
                      GString *why)
{
    if ((op->f == GET) != ok) {
        if (op->f == GET) op->a = FL_ATOM_NONE;
        return TRUE;
    }
    if (v->kind != FL_VAL_STR) {
        g_string_append_printf(why, "expected a string as the %s of a %s, got %s",
                               op->f == GET ? "result" : "value", ops[op->f],
                               fl_val_kind_name(v));
        return FALSE;
    }
    op->a = fl_atoms_str(ctx->atoms, v->str.s, v->str.len);
    return TRUE;
}

static void init(FlModelCtx *ctx, GByteArray *state)
{
    fl_state_set_atom(state, fl_atoms_str(ctx->atoms, "", 0));
}

static gboolean step(FlModelCtx *ctx, const guint8 *state, gsize len,
                     const FlOp *op, GByteArray *next)
{
    FlAtom v = fl_state_atom(state, len);
    switch (op->f) {
    case GET:
        if (op->a != FL_ATOM_NONE && op->a != v) return FALSE;
        fl_state_set_atom(next, v);
        return TRUE;
    case PUT:
        fl_state_set_atom(next, op->a);
        return TRUE;
    case APPEND:
        fl_state_set_atom(next, fl_atoms_concat(ctx->atoms, v, op->a));
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
    return op->f == GET ? op->a : FL_ATOM_NONE;
}

static FlProduces produces(const FlOp *op, FlAtom *value)
{
    *value = op->a;
    return op->f == GET ? FL_PRODUCES_NOTHING
         : op->f == PUT ? FL_PRODUCES_EXACT : FL_PRODUCES_SUFFIX;
}

/* Until the next put, a put of s shows as a prefix of the value, an
 * append of t as a substring. */
static gboolean visible(FlModelCtx *ctx, const FlOp *op, FlAtom w)
{
    if (op->f == GET || fl_atoms_kind(ctx->atoms, w) != FL_ATOM_KIND_STR) return FALSE;
    gsize lw, ls;
    const char *sw = fl_atoms_bytes(ctx->atoms, w, &lw);
    const char *ss = fl_atoms_bytes(ctx->atoms, op->a, &ls);
    if (ls > lw) return FALSE;
    if (op->f == PUT) return memcmp(sw, ss, ls) == 0;
    for (gsize i = 0; i + ls <= lw; i++)
        if (memcmp(sw + i, ss, ls) == 0) return TRUE;
    return FALSE;
}

const FlModel fl_model_kv = {
    .name = "kv",
    .ops = ops,
    .readonly_ops = 1u << GET,
    .parse = parse,
    .init = init,
    .step = step,
    .show_state = show_state,
    .observes = observes,
    .produces = produces,
    .shows = observes,
    .visible = visible,
};
