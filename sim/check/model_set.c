/* sim/check/model_set.c: a set, initially empty.
 *
 *   add:  v -> v           adds v
 *   remove: v -> v         removes v (if present)
 *   read: null -> [v...]   succeeds when the set is exactly {v...}
 * The state is the sorted array of the members' atoms; a read's result is
 * kept as the same sorted array (op->items), so a read compares bytes.
 */
#include "sim/check/model.h"

#include <string.h>

enum { ADD, READ, REMOVE };
static const char *const ops[] = { "add", "read", "remove", NULL };

static int cmp_atom(const void *x, const void *y)
{
    FlAtom a = *(const FlAtom *)x, b = *(const FlAtom *)y;
    return a < b ? -1 : a > b;
}

/* A read's result is known only when it completes ok (op->a FL_ATOM_NONE
 * until then: any result); then op->a is FL_ATOM_NULL and op->items holds
 * the members. */
static gboolean parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok,
                      GString *why)
{
    const FlVal *result = v;
    if (op->f == ADD || op->f == REMOVE) {
        if (!ok) op->a = fl_atoms_value(ctx->atoms, v);
        return TRUE;
    }
    if (!ok) {
        op->a = FL_ATOM_NONE;
        return TRUE;
    }
    if (result->kind != FL_VAL_VEC && result->kind != FL_VAL_SET) {
        g_string_append_printf(why, "expected an array or set as the result of a read, got %s",
                               fl_val_kind_name(result));
        return FALSE;
    }
    op->a = FL_ATOM_NULL;
    op->items = ctx->items->len;
    for (gsize i = 0; i < result->seq.n; i++) {
        FlAtom x = fl_atoms_value(ctx->atoms, result->seq.items[i]);
        g_array_append_val(ctx->items, x);
    }
    FlAtom *xs = &g_array_index(ctx->items, FlAtom, op->items);
    gsize n = result->seq.n;
    if (n) qsort(xs, n, sizeof *xs, cmp_atom);
    gsize m = 0;
    for (gsize i = 0; i < n; i++)
        if (m == 0 || xs[m - 1] != xs[i]) xs[m++] = xs[i];
    g_array_set_size(ctx->items, op->items + m);
    op->n_items = (guint32)m;
    return TRUE;
}

static void init(FlModelCtx *ctx, GByteArray *state)
{
}

/* The i-th member of a state; states may sit at any byte address. */
static FlAtom member(const guint8 *state, gsize i)
{
    FlAtom a;
    memcpy(&a, state + i * sizeof a, sizeof a);
    return a;
}

static gboolean step(FlModelCtx *ctx, const guint8 *state, gsize len,
                     const FlOp *op, GByteArray *next)
{
    gsize n = len / sizeof(FlAtom);
    if (op->f == READ) {
        if (op->a == FL_ATOM_NULL) {
            const FlAtom *want = &g_array_index(ctx->items, FlAtom, op->items);
            if (op->n_items != n || (len && memcmp(want, state, len) != 0)) return FALSE;
        }
        g_byte_array_append(next, state, (guint)len);
        return TRUE;
    }
    gsize i = 0;
    while (i < n && member(state, i) < op->a) i++;
    g_byte_array_append(next, state, (guint)(i * sizeof(FlAtom)));
    if (op->f == REMOVE) {
        gsize skip = i < n && member(state, i) == op->a;
        g_byte_array_append(next, state + (i + skip) * sizeof(FlAtom),
                            (guint)((n - i - skip) * sizeof(FlAtom)));
        return TRUE;
    }
    if (i == n || member(state, i) != op->a)
        g_byte_array_append(next, (const guint8 *)&op->a, sizeof(FlAtom));
    g_byte_array_append(next, state + i * sizeof(FlAtom),
                        (guint)((n - i) * sizeof(FlAtom)));
    return TRUE;
}

static void show_state(FlModelCtx *ctx, const guint8 *state, gsize len,
                       GString *out)
{
    g_string_append_c(out, '[');
    for (gsize i = 0; i < len / sizeof(FlAtom); i++) {
        if (i) g_string_append_c(out, ',');
        fl_atoms_to_json(ctx->atoms, member(state, i), out);
    }
    g_string_append_c(out, ']');
}

const FlModel fl_model_set = {
    .name = "set",
    .ops = ops,
    .readonly_ops = 1u << READ,
    .parse = parse,
    .init = init,
    .step = step,
    .show_state = show_state,
};
