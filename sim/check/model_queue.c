/* sim/check/model_queue.c: a FIFO queue, initially empty.
 *
 *   enqueue: v -> v        appends v (v must not be null)
 *   dequeue: null -> v     removes and returns the head; null when empty
 * The state is the array of the queued atoms, head first.
 */
#include "sim/check/model.h"

enum { ENQUEUE, DEQUEUE };
static const char *const names[] = { "enqueue", "dequeue", NULL };

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

static FlAtom shows(const FlOp *op)
{
    return op->f == DEQUEUE && op->a != FL_ATOM_NULL ? op->a : FL_ATOM_NONE;
}

/* An enqueued value shows only as a dequeue's result.  A dequeue of
 * unknown result may have removed anything: always kept. */
static gboolean visible(FlModelCtx *ctx, const FlOp *op, FlAtom w)
{
    return op->f == DEQUEUE || op->a == w;
}

typedef struct {
    gint64 inv, ret;
    guint32 index;     /* into ops */
    guint32 partner;   /* the other end: dequeue of an enqueue, or back */
} End;

static int by_ret(const void *x, const void *y)
{
    const End *a = x, *b = y;
    if (a->ret != b->ret) return a->ret < b->ret ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* For each element e of @v (sorted by ret), the operations that must come
 * before e in real time and are maximal among them: the others follow
 * transitively.  Emits (partner of before, partner of e). */
static void maximal_before(End *v, guint32 n, GArray *pairs)
{
    qsort(v, n, sizeof *v, by_ret);
    gint64 *max_inv = g_new(gint64, n + 1);
    for (guint32 i = 0; i < n; i++)
        max_inv[i] = MAX(i ? max_inv[i - 1] : G_MININT64, v[i].inv);
    for (guint32 j = 0; j < n; j++) {
        /* prefix [0, p): those that complete before v[j] is invoked */
        guint32 lo = 0, hi = n;
        while (lo < hi) {
            guint32 mid = (lo + hi) / 2;
            if (v[mid].ret < v[j].inv) lo = mid + 1;
            else hi = mid;
        }
        guint32 p = lo;
        if (p == 0) continue;
        gint64 m = max_inv[p - 1];
        for (guint32 i = p; i-- > 0 && v[i].ret > m;) {
            guint32 pair[2] = { v[i].partner, v[j].partner };
            g_array_append_vals(pairs, pair, 2);
        }
        /* the element whose invocation is m is maximal too */
        for (guint32 i = p; i-- > 0;) {
            if (v[i].inv != m) continue;
            guint32 pair[2] = { v[i].partner, v[j].partner };
            g_array_append_vals(pairs, pair, 2);
            break;
        }
    }
    g_free(max_inv);
}

/* FIFO with distinct values.  If dequeue(x) completes before dequeue(y)
 * starts, x was ahead of y, so enqueue(x) comes before enqueue(y); if
 * enqueue(x) completes before enqueue(y) starts and both are dequeued ok,
 * dequeue(x) comes before dequeue(y).  Nothing when a value is enqueued
 * twice or dequeued ok twice (then the plain search decides). */
static void constraints(FlModelCtx *ctx, const FlOp *const *ops, guint32 n,
                        GArray *pairs)
{
    GHashTable *enq = g_hash_table_new(NULL, NULL), *deq = g_hash_table_new(NULL, NULL);
    gboolean distinct = TRUE;
    for (guint32 i = 0; i < n && distinct; i++) {
        const FlOp *o = ops[i];
        if (o->f != DEQUEUE || o->status != FL_OP_OK || o->a == FL_ATOM_NULL) continue;
        distinct = !g_hash_table_contains(deq, GUINT_TO_POINTER(o->a));
        g_hash_table_insert(deq, GUINT_TO_POINTER(o->a), GUINT_TO_POINTER(i));
    }
    /* Only the enqueues of dequeued values matter here. */
    for (guint32 i = 0; i < n && distinct; i++) {
        const FlOp *o = ops[i];
        if (o->f != ENQUEUE || !g_hash_table_contains(deq, GUINT_TO_POINTER(o->a))) continue;
        distinct = !g_hash_table_contains(enq, GUINT_TO_POINTER(o->a));
        g_hash_table_insert(enq, GUINT_TO_POINTER(o->a), GUINT_TO_POINTER(i));
    }
    if (distinct) {
        End *d = g_new(End, n + 1), *e = g_new(End, n + 1);
        guint32 nd = 0, ne = 0;
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, deq);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            gpointer en;
            if (!g_hash_table_lookup_extended(enq, k, NULL, &en)) continue;
            guint32 di = GPOINTER_TO_UINT(v), ei = GPOINTER_TO_UINT(en);
            d[nd++] = (End){ ops[di]->inv, ops[di]->ret, di, ei };
            if (ops[ei]->status == FL_OP_OK)
                e[ne++] = (End){ ops[ei]->inv, ops[ei]->ret, ei, di };
        }
        /* Hash order must not leak: sort before use (by_ret, ties by index). */
        maximal_before(d, nd, pairs);
        maximal_before(e, ne, pairs);
        g_free(d);
        g_free(e);
    }
    g_hash_table_unref(enq);
    g_hash_table_unref(deq);
}

/* A value that no dequeue returns ok is never compared with anything: only
 * its place in the queue matters (it blocks the values behind it, makes the
 * queue non-empty, may be removed by a dequeue whose result is unknown). */
static void anonymize(FlModelCtx *ctx, FlOp *ops, guint32 n)
{
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    for (guint32 i = 0; i < n; i++)
        if (ops[i].f == DEQUEUE && ops[i].status == FL_OP_OK)
            g_hash_table_add(seen, GUINT_TO_POINTER(ops[i].a));
    FlAtom anon = fl_atoms_placeholder(ctx->atoms, "never dequeued");
    for (guint32 i = 0; i < n; i++)
        if (ops[i].f == ENQUEUE && !g_hash_table_contains(seen, GUINT_TO_POINTER(ops[i].a)))
            ops[i].a = anon;
    g_hash_table_unref(seen);
}

const FlModel fl_model_queue = {
    .name = "queue",
    .ops = names,
    .parse = parse,
    .init = init,
    .step = step,
    .show_state = show_state,
    .shows = shows,
    .visible = visible,
    .constraints = constraints,
    .anonymize = anonymize,
};
