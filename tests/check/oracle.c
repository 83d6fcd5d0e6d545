/* tests/check/oracle.c: see oracle.h. */
#include "tests/check/oracle.h"

#include <string.h>

typedef struct {
    FlHistory *h;
    const FlOp **op;
    guint32 n;
    guint64 *pred;       /* ops that must come before op i */
    guint64 required;
    GHashTable *seen;    /* failed (mask, state) keys */
} Oracle;

static gboolean dfs(Oracle *o, guint64 mask, GByteArray *state)
{
    if ((mask & o->required) == o->required) return TRUE;
    GString *key = g_string_new(NULL);
    g_string_append_printf(key, "%" G_GINT64_MODIFIER "x:", mask);
    for (guint i = 0; i < state->len; i++) g_string_append_printf(key, "%02x", state->data[i]);
    if (g_hash_table_contains(o->seen, key->str)) {
        g_string_free(key, TRUE);
        return FALSE;
    }
    gboolean found = FALSE;
    GByteArray *next = g_byte_array_new();
    for (guint32 i = 0; i < o->n && !found; i++) {
        if (mask & ((guint64)1 << i)) continue;
        if ((o->pred[i] & ~mask) != 0) continue;
        g_byte_array_set_size(next, 0);
        if (!o->h->model->step(&o->h->ctx, state->data, state->len, o->op[i], next)) continue;
        GByteArray *copy = g_byte_array_new();
        g_byte_array_append(copy, next->data, next->len);
        found = dfs(o, mask | ((guint64)1 << i), copy);
        g_byte_array_unref(copy);
    }
    g_byte_array_unref(next);
    if (!found) g_hash_table_add(o->seen, g_string_free(key, FALSE));
    else g_string_free(key, TRUE);
    return found;
}

gboolean fl_oracle(FlHistory *h, gboolean sequential)
{
    Oracle o = { .h = h };
    o.op = g_new(const FlOp *, h->ops->len + 1);
    for (guint32 i = 0; i < h->ops->len; i++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        if (op->status == FL_OP_FAIL) continue;
        o.op[o.n++] = op;
    }
    g_assert(o.n <= 64);
    o.pred = g_new0(guint64, o.n + 1);
    for (guint32 i = 0; i < o.n; i++) {
        if (o.op[i]->status == FL_OP_OK) o.required |= (guint64)1 << i;
        for (guint32 j = 0; j < o.n; j++) {
            gboolean before = sequential
                ? o.op[j]->process == o.op[i]->process && o.op[j]->inv < o.op[i]->inv
                : o.op[j]->ret < o.op[i]->inv;
            if (before) o.pred[i] |= (guint64)1 << j;
        }
    }
    o.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GByteArray *init = g_byte_array_new();
    h->model->init(&h->ctx, init);
    gboolean ok = dfs(&o, 0, init);
    g_byte_array_unref(init);
    g_hash_table_unref(o.seen);
    g_free(o.pred);
    g_free(o.op);
    return ok;
}
