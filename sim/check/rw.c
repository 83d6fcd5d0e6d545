/* sim/check/rw.c: the read/write view of a history, and causal order.
 *
 * Design notes.
 *  1. Extra fields.  `final` (on the invocation) and `node` (on the
 *     completion) are read back from the events with fl_reader_event_at:
 *     the loader keeps them for reports, the weaker checkers use them.
 *  2. Causal order is computed once, as predecessor bit sets in a
 *     topological order of session order and reads-from (Kahn's algorithm
 *     in invocation order, so the result never depends on hashing).  When
 *     no topological order exists, a depth-first search names a cycle.
 *  3. Sessions.  A session is a client (FlOp.client, the process when the
 *     history names no client).  Session order links each operation to the
 *     session's previous operation that completed: an info write may take
 *     effect at any time after its invocation, or never, so it orders
 *     nothing after it (rw.h, rw_session_order).  Per process nothing
 *     follows an info operation, so process order needs no such care.
 */
#include "sim/check/rw.h"

#include <string.h>

enum { R_READ, R_WRITE, R_CAS };   /* register ops, as in model_register.c */
enum { K_GET, K_PUT, K_APPEND };   /* kv ops, as in model_kv.c */

static gboolean flag_of(FlHistory *h, gsize offset, guint32 line, const char *name)
{
    const FlVal *ev = fl_reader_event_at(h->reader, offset, line);
    const FlVal *v = ev ? fl_val_get(ev, name) : NULL;
    return v && v->kind == FL_VAL_BOOL && v->b;
}

static gint32 int_of(FlHistory *h, gsize offset, guint32 line, const char *name)
{
    const FlVal *ev = fl_reader_event_at(h->reader, offset, line);
    const FlVal *v = ev ? fl_val_get(ev, name) : NULL;
    return v && v->kind == FL_VAL_INT && v->i >= 0 && v->i < G_MAXINT32 ? (gint32)v->i : -1;
}

static guint64 wkey(guint32 key, FlAtom v)
{
    return ((guint64)key << 32) | v;
}

/* kv: calls @fn for each token "17," of string atom @s; returns FALSE if
 * the string is not a list of tokens. */
static gboolean tokens(FlAtoms *atoms, FlAtom s, GArray *out)
{
    gsize len;
    const char *p = fl_atoms_bytes(atoms, s, &len);
    gsize i = 0;
    while (i < len) {
        const char *end = memchr(p + i, ',', len - i);
        if (!end) return FALSE;
        gsize n = (gsize)(end - (p + i)) + 1;
        FlAtom t = fl_atoms_find_str(atoms, p + i, n);
        g_array_append_val(out, t);   /* FL_ATOM_NONE: never written */
        i += n;
    }
    return TRUE;
}

RwHistory *rw_new(FlHistory *h, gboolean keep_final, GString *why)
{
    gboolean kv = h->model == &fl_model_kv;
    if (h->model != &fl_model_register && !kv) {
        g_string_append_printf(why, "this check reads register and kv histories, not %s",
                               h->model->name);
        return NULL;
    }
    RwHistory *rw = g_new0(RwHistory, 1);
    rw->h = h;
    rw->is_kv = kv;
    rw->ops = g_array_new(FALSE, TRUE, sizeof(RwOp));
    rw->obs = g_array_new(FALSE, FALSE, sizeof(guint32));
    rw->proc_last = g_array_new(FALSE, TRUE, sizeof(guint32));
    rw->sess_last = g_array_new(FALSE, TRUE, sizeof(guint32));
    rw->nkeys = MAX(h->keys->len, 1);
    g_autoptr(GHashTable) keyidx = g_hash_table_new(NULL, NULL);
    for (guint k = 0; k < h->keys->len; k++)
        g_hash_table_insert(keyidx, GUINT_TO_POINTER(g_array_index(h->keys, FlAtom, k)),
                            GUINT_TO_POINTER(k));
    g_autoptr(GHashTable) procs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_autoptr(GHashTable) sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                                           NULL);
    g_autoptr(GHashTable) writes = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);

    for (guint32 i = 0; i < h->ops->len; i++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        if (op->status == FL_OP_FAIL) continue;
        gboolean info = op->status != FL_OP_OK;
        RwOp o = { .op = i, .rf = RW_NONE, .wval = FL_ATOM_NONE, .rval = FL_ATOM_NONE,
                   .node = -1, .info = info };
        int f = op->f;
        gboolean reads = kv ? f == K_GET : (f == R_READ || f == R_CAS);
        gboolean writes_ = kv ? f != K_GET : f != R_READ;
        if (reads && !info) {
            o.rval = op->a;
            o.rf = RW_THIN_AIR;   /* resolved below */
        }
        if (writes_) o.wval = (!kv && f == R_CAS) ? op->b : op->a;
        if (!rw_reads(&o) && !rw_writes(&o)) continue;   /* an info read */
        o.final = flag_of(h, op->inv_offset, op->inv_line, "final");
        if (o.final) rw->final_reads++;
        if (o.final && !keep_final) continue;
        if (op->ret_line) o.node = int_of(h, op->ret_offset, op->ret_line, "node");
        o.key = op->key == FL_ATOM_NONE ? 0
              : GPOINTER_TO_UINT(g_hash_table_lookup(keyidx, GUINT_TO_POINTER(op->key)));
        gint64 pk = op->process;
        gpointer pv = g_hash_table_lookup(procs, &pk);
        if (!pv) {
            gint64 *k = g_new(gint64, 1);
            *k = pk;
            pv = GUINT_TO_POINTER(rw->nprocs + 1);
            g_hash_table_insert(procs, k, pv);
            rw->nprocs++;
            guint32 zero = 0;
            g_array_append_val(rw->proc_last, zero);
        }
        o.proc = GPOINTER_TO_UINT(pv) - 1;
        guint32 *last = &g_array_index(rw->proc_last, guint32, o.proc);
        o.po_prev = *last ? (gint32)*last - 1 : -1;
        *last = rw->ops->len + 1;
        /* Note 3: the session. */
        gint64 sk = op->has_client ? op->client : op->process;
        gpointer sv = g_hash_table_lookup(sessions, &sk);
        if (!sv) {
            gint64 *k = g_new(gint64, 1);
            *k = sk;
            sv = GUINT_TO_POINTER(rw->nsess + 1);
            g_hash_table_insert(sessions, k, sv);
            rw->nsess++;
            guint32 zero = 0;
            g_array_append_val(rw->sess_last, zero);
        }
        o.sess = GPOINTER_TO_UINT(sv) - 1;
        guint32 *slast = &g_array_index(rw->sess_last, guint32, o.sess);
        o.so_prev = *slast ? (gint32)*slast - 1 : -1;
        if (!info) *slast = rw->ops->len + 1;
        if (rw_writes(&o)) {
            guint64 k = wkey(o.key, o.wval);
            if (g_hash_table_contains(writes, &k)) {
                rw->duplicates++;
            } else {
                guint64 *kp = g_new(guint64, 1);
                *kp = k;
                g_hash_table_insert(writes, kp, GUINT_TO_POINTER(rw->ops->len + 1));
            }
        }
        g_array_append_val(rw->ops, o);
    }

    /* Reads-from. */
    FlAtom empty = kv ? fl_atoms_str(h->ctx.atoms, "", 0) : FL_ATOM_NULL;
    g_autoptr(GArray) toks = g_array_new(FALSE, FALSE, sizeof(FlAtom));
    for (guint32 i = 0; i < rw->ops->len; i++) {
        RwOp *o = rw_op(rw, i);
        if (!rw_reads(o)) continue;
        if (o->rval == empty) {
            o->rf = RW_INIT;
            continue;
        }
        FlAtom last = o->rval;
        g_array_set_size(toks, 0);
        if (kv) {
            if (!tokens(h->ctx.atoms, o->rval, toks) || toks->len == 0) continue;
            last = g_array_index(toks, FlAtom, toks->len - 1);
        }
        guint64 k = wkey(o->key, last);
        gpointer w = last == FL_ATOM_NONE ? NULL : g_hash_table_lookup(writes, &k);
        if (!w) continue;   /* thin air */
        o->rf = (gint32)GPOINTER_TO_UINT(w) - 1;
        o->obs = rw->obs->len;
        for (guint t = 0; t + 1 < toks->len; t++) {
            FlAtom a = g_array_index(toks, FlAtom, t);
            guint64 kt = wkey(o->key, a);
            gpointer wt = a == FL_ATOM_NONE ? NULL : g_hash_table_lookup(writes, &kt);
            if (!wt) {
                o->rf = RW_THIN_AIR;
                break;
            }
            guint32 idx = GPOINTER_TO_UINT(wt) - 1;
            g_array_append_val(rw->obs, idx);
        }
        o->n_obs = o->rf == RW_THIN_AIR ? 0 : rw->obs->len - o->obs;
    }
    return rw;
}

void rw_free(RwHistory *rw)
{
    if (!rw) return;
    g_array_unref(rw->ops);
    g_array_unref(rw->obs);
    g_array_unref(rw->proc_last);
    g_array_unref(rw->sess_last);
    g_free(rw);
}

void rw_show(const RwHistory *rw, guint32 i, GString *out)
{
    const RwOp *o = rw_op(rw, i);
    FlHistory *h = rw->h;
    const FlOp *op = &g_array_index(h->ops, FlOp, o->op);
    g_autoptr(GString) v = g_string_new(NULL);
    fl_atoms_to_json(h->ctx.atoms, op->shown, v);
    g_string_append_printf(out, "  process %-4" G_GINT64_FORMAT, op->process);
    if (op->has_client)
        g_string_append_printf(out, " (client %" G_GINT64_FORMAT ")", op->client);
    g_string_append_printf(out, " %-6s %-12s", h->model->ops[op->f], v->str);
    if (op->key != FL_ATOM_NONE) {
        g_string_append(out, " key ");
        fl_atoms_to_json(h->ctx.atoms, op->key, out);
    }
    if (o->node >= 0) g_string_append_printf(out, " at node %d", o->node);
    if (o->info) g_string_append(out, " (info)");
    /* Nanoseconds of a simulator or Jepsen read better in ms (check.c does
     * the same); small times are a hand-written history's own. */
    if (op->inv_time >= 1000000)
        g_string_append_printf(out, ", invoked %.1f ms", (double)op->inv_time / 1e6);
    else if (op->inv_time >= 0)
        g_string_append_printf(out, ", invoked %" G_GINT64_FORMAT, op->inv_time);
    g_string_append_printf(out, " (line %u)\n", op->inv_line);
}

json_t *rw_json(const RwHistory *rw, guint32 i)
{
    const RwOp *o = rw_op(rw, i);
    FlHistory *h = rw->h;
    const FlOp *op = &g_array_index(h->ops, FlOp, o->op);
    g_autoptr(GString) v = g_string_new(NULL);
    fl_atoms_to_json(h->ctx.atoms, op->shown, v);
    json_t *val = json_loads(v->str, JSON_DECODE_ANY, NULL);
    json_t *j = json_pack("{s:I,s:s,s:o,s:i}", "process", (json_int_t)op->process,
                          "f", h->model->ops[op->f], "value", val ? val : json_string(v->str),
                          "invoke_line", (int)op->inv_line);
    if (op->has_client) json_object_set_new(j, "client", json_integer(op->client));
    if (op->key != FL_ATOM_NONE) {
        g_autoptr(GString) k = g_string_new(NULL);
        fl_atoms_to_json(h->ctx.atoms, op->key, k);
        json_t *kj = json_loads(k->str, JSON_DECODE_ANY, NULL);
        json_object_set_new(j, "key", kj ? kj : json_string(k->str));
    }
    if (o->node >= 0) json_object_set_new(j, "node", json_integer(o->node));
    if (op->inv_time >= 0) json_object_set_new(j, "invoke_time", json_integer(op->inv_time));
    json_object_set_new(j, "type", json_string(o->info ? "info" : "ok"));
    return j;
}

gboolean rw_bits_init(RwBits *b, guint32 n, guint64 max_bytes)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    b->words = (n + 63) / 64;
    guint64 bytes = (guint64)n * b->words * 8;
    if (bytes > max_bytes) return FALSE;
    b->bits = g_malloc0(MAX(bytes, 8));
    return TRUE;
}

void rw_bits_clear(RwBits *b)
{
    g_free(b->bits);
    memset(b, 0, sizeof *b);
}

/* Calls back each direct causal predecessor of @v: its session
 * predecessor, the write it read from, the writes it observed. */
#define FOR_PREDS(rw, o, u, body)                                                  \
    do {                                                                           \
        gint32 _prev = sessions ? (o)->so_prev : (o)->po_prev;                     \
        if (_prev >= 0) { guint32 u = (guint32)_prev; body; }                      \
        if ((o)->rf >= 0) { guint32 u = (guint32)(o)->rf; body; }                  \
        for (guint32 _k = 0; _k < (o)->n_obs; _k++) {                              \
            guint32 u = g_array_index((rw)->obs, guint32, (o)->obs + _k); body;    \
        }                                                                          \
    } while (0)

static void find_cycle(const RwHistory *rw, gboolean sessions, GArray **cycle)
{
    guint32 n = rw->ops->len;
    /* Walk predecessors from an op left over by Kahn's algorithm: every
     * such op has a leftover predecessor, so the walk must revisit. */
    g_autofree guint8 *left = g_new0(guint8, n);
    /* Recompute leftovers: repeatedly remove ops with no leftover preds. */
    for (guint32 v = 0; v < n; v++) left[v] = 1;
    gboolean changed = TRUE;
    while (changed) {
        changed = FALSE;
        for (guint32 v = 0; v < n; v++) {
            if (!left[v]) continue;
            const RwOp *o = rw_op(rw, v);
            gboolean has = FALSE;
            FOR_PREDS(rw, o, u, if (left[u]) has = TRUE);
            if (!has) {
                left[v] = 0;
                changed = TRUE;
            }
        }
    }
    guint32 start = 0;
    while (start < n && !left[start]) start++;
    g_assert(start < n);
    g_autofree gint32 *seen = g_new(gint32, n);
    for (guint32 v = 0; v < n; v++) seen[v] = -1;
    GArray *path = g_array_new(FALSE, FALSE, sizeof(guint32));
    guint32 v = start;
    while (seen[v] < 0) {
        seen[v] = (gint32)path->len;
        g_array_append_val(path, v);
        const RwOp *o = rw_op(rw, v);
        guint32 next = v;
        gboolean found = FALSE;
        FOR_PREDS(rw, o, u, if (!found && left[u]) { next = u; found = TRUE; });
        g_assert(found);
        v = next;
    }
    /* path[seen[v]..] is the cycle, walked backwards: reverse it. */
    GArray *c = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (gint32 k = (gint32)path->len - 1; k >= seen[v]; k--)
        g_array_append_val(c, g_array_index(path, guint32, k));
    g_array_free(path, TRUE);
    *cycle = c;
}

/* Causal order with process order (@sessions FALSE) or session order. */
static gboolean order(const RwHistory *rw, gboolean sessions, RwBits *pred, GArray **cycle)
{
    guint32 n = rw->ops->len;
    if (cycle) *cycle = NULL;
    /* Successor lists, for Kahn's algorithm. */
    g_autofree guint32 *indeg = g_new0(guint32, n);
    g_autofree guint32 *start = g_new0(guint32, n + 1);
    for (guint32 v = 0; v < n; v++) {
        const RwOp *o = rw_op(rw, v);
        FOR_PREDS(rw, o, u, { start[u + 1]++; indeg[v]++; });
    }
    for (guint32 v = 0; v < n; v++) start[v + 1] += start[v];
    g_autofree guint32 *succ = g_new(guint32, MAX(start[n], 1));
    g_autofree guint32 *fill = g_memdup2(start, sizeof(guint32) * (n + 1));
    for (guint32 v = 0; v < n; v++) {
        const RwOp *o = rw_op(rw, v);
        FOR_PREDS(rw, o, u, succ[fill[u]++] = v);
    }
    /* A FIFO in invocation order keeps the result deterministic. */
    g_autofree guint32 *queue = g_new(guint32, MAX(n, 1));
    guint32 qh = 0, qt = 0;
    for (guint32 v = 0; v < n; v++)
        if (indeg[v] == 0) queue[qt++] = v;
    while (qh < qt) {
        guint32 u = queue[qh++];
        guint64 *ru = rw_row(pred, u);
        for (guint32 k = start[u]; k < start[u + 1]; k++) {
            guint32 v = succ[k];
            guint64 *rv = rw_row(pred, v);
            for (guint32 wd = 0; wd < pred->words; wd++) rv[wd] |= ru[wd];
            rw_set(rv, u);
            if (--indeg[v] == 0) queue[qt++] = v;
        }
    }
    if (qt == n) return TRUE;
    if (cycle) find_cycle(rw, sessions, cycle);
    return FALSE;
}

gboolean rw_causal_order(const RwHistory *rw, RwBits *pred, GArray **cycle)
{
    return order(rw, FALSE, pred, cycle);
}

gboolean rw_session_order(const RwHistory *rw, RwBits *pred, GArray **cycle)
{
    return order(rw, TRUE, pred, cycle);
}

gint64 rw_failed_writer(const RwHistory *rw, guint32 i)
{
    const RwOp *o = rw_op(rw, i);
    FlHistory *h = rw->h;
    const FlOp *rop = &g_array_index(h->ops, FlOp, o->op);
    g_autoptr(GArray) toks = g_array_new(FALSE, FALSE, sizeof(FlAtom));
    if (rw->is_kv && !tokens(h->ctx.atoms, o->rval, toks)) return -1;
    for (guint32 j = 0; j < h->ops->len; j++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, j);
        if (op->status != FL_OP_FAIL || op->key != rop->key) continue;
        if (rw->is_kv) {
            if (op->f == K_GET) continue;
            for (guint t = 0; t < toks->len; t++)
                if (g_array_index(toks, FlAtom, t) == op->a) return j;
        } else if ((op->f == R_WRITE && op->a == o->rval) ||
                   (op->f == R_CAS && op->b == o->rval)) {
            return j;
        }
    }
    return -1;
}
