/* sim/check/crdt.c: convergence of set and counter histories, the
 * "strong eventual consistency" of CRDTs (Shapiro et al., 2011).
 *
 * As in eventual.c, the final reads (`"final": true`) must agree, key by
 * key; and the value they agree on must be one the updates allow:
 *
 *   counter  the sum of the acknowledged adds, plus any subset of the
 *            info adds (each may or may not have happened): exactly the
 *            ok sum when there are none, and between the ok sum plus the
 *            negative info adds and the ok sum plus the positive ones.
 *   set      every member was added (by an ok or info add); every element
 *            whose add was acknowledged and that nobody tried to remove is
 *            a member.  Removed elements may be present or absent: an
 *            OR-set's remove only removes the adds its replica had seen.
 */
#include "sim/check/weak.h"

#include <string.h>

enum { ADD = 0, READ = 1, REMOVE = 2 };   /* as in model_set.c and model_counter.c */

static gboolean is_final(FlHistory *h, const FlOp *op)
{
    const FlVal *ev = fl_reader_event_at(h->reader, op->inv_offset, op->inv_line);
    const FlVal *f = ev ? fl_val_get(ev, "final") : NULL;
    return f && f->kind == FL_VAL_BOOL && f->b;
}

static gint32 node_of(FlHistory *h, const FlOp *op)
{
    if (!op->ret_line) return -1;
    const FlVal *ev = fl_reader_event_at(h->reader, op->ret_offset, op->ret_line);
    const FlVal *v = ev ? fl_val_get(ev, "node") : NULL;
    return v && v->kind == FL_VAL_INT && v->i >= 0 && v->i < G_MAXINT32 ? (gint32)v->i : -1;
}

static guint key_index(FlHistory *h, GHashTable *idx, const FlOp *op)
{
    return op->key == FL_ATOM_NONE ? 0
         : GPOINTER_TO_UINT(g_hash_table_lookup(idx, GUINT_TO_POINTER(op->key)));
}

/* Whether two ok reads returned the same thing. */
static gboolean same_read(FlHistory *h, const FlOp *a, const FlOp *b, gboolean set)
{
    if (!set) return a->a == b->a;
    /* Empty reads may have no items array at all: memcmp must not see NULL. */
    return a->n_items == b->n_items &&
           (a->n_items == 0 || memcmp(&g_array_index(h->ctx.items, guint32, a->items),
                  &g_array_index(h->ctx.items, guint32, b->items),
                  a->n_items * sizeof(guint32)) == 0);
}

static void show(FlHistory *h, const FlOp *op, GString *out)
{
    g_autoptr(GString) v = g_string_new(NULL);
    fl_atoms_to_json(h->ctx.atoms, op->shown, v);
    g_string_append_printf(out, "  process %-4" G_GINT64_FORMAT " %-6s %-16s", op->process,
                           h->model->ops[op->f], v->str);
    gint32 node = node_of(h, op);
    if (node >= 0) g_string_append_printf(out, " at node %d", node);
    g_string_append_printf(out, " (line %u)\n", op->inv_line);
}

FlVerdict fl_check_crdt(FlHistory *h, GString *report, json_t *json)
{
    gboolean set = h->model == &fl_model_set;
    guint nkeys = MAX(h->keys->len, 1);
    g_autoptr(GHashTable) idx = g_hash_table_new(NULL, NULL);
    for (guint k = 0; k < h->keys->len; k++)
        g_hash_table_insert(idx, GUINT_TO_POINTER(g_array_index(h->keys, FlAtom, k)),
                            GUINT_TO_POINTER(k));
    /* Per key: final ok reads; counter sums; set: adds and removes. */
    g_autoptr(GPtrArray) finals = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    for (guint k = 0; k < nkeys; k++)
        g_ptr_array_add(finals, g_array_new(FALSE, FALSE, sizeof(guint32)));
    g_autofree gint64 *sum_ok = g_new0(gint64, nkeys);
    g_autofree gint64 *info_neg = g_new0(gint64, nkeys);
    g_autofree gint64 *info_pos = g_new0(gint64, nkeys);
    g_autofree gint64 *last_update = g_new0(gint64, nkeys);
    g_autoptr(GHashTable) added = g_hash_table_new(NULL, NULL);      /* atom -> 1 ok, 2 info */
    g_autoptr(GHashTable) removed = g_hash_table_new(NULL, NULL);    /* atom */
    guint final_reads = 0, missing = 0;
    for (guint32 i = 0; i < h->ops->len; i++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        guint k = key_index(h, idx, op);
        if (op->f == READ) {
            if (!is_final(h, op)) continue;
            final_reads++;
            if (op->status == FL_OP_OK)
                g_array_append_val(g_ptr_array_index(finals, k), i);
            else
                missing++;
            continue;
        }
        if (op->status == FL_OP_FAIL) continue;
        if (op->inv_time > last_update[k]) last_update[k] = op->inv_time;
        if (set) {
            /* Elements are unique per add, so one table serves all keys. */
            if (op->f == ADD)
                g_hash_table_insert(added, GUINT_TO_POINTER(op->a),
                                    GUINT_TO_POINTER(op->status == FL_OP_OK ? 1 : 2));
            else
                g_hash_table_add(removed, GUINT_TO_POINTER(op->a));
            continue;
        }
        gint64 d = fl_atoms_int_value(h->ctx.atoms, op->a);
        if (op->status == FL_OP_OK) sum_ok[k] += d;
        else if (d < 0) info_neg[k] += d;
        else info_pos[k] += d;
    }
    if (final_reads == 0) {
        const char *w = "the history has no final reads (give the workload \"final_reads\": true)";
        if (report) g_string_append_printf(report, "No verdict: %s.\n", w);
        if (json) json_object_set_new(json, "unsupported", json_string(w));
        return FL_VERDICT_UNKNOWN;
    }
    guint bad = 0, checked = 0;
    gint64 conv_max = -1;
    g_autoptr(GString) body = g_string_new(NULL);
    json_t *keys = json_array();
    for (guint k = 0; k < nkeys; k++) {
        GArray *fr = g_ptr_array_index(finals, k);
        if (fr->len == 0) continue;
        checked++;
        const FlOp *first = &g_array_index(h->ops, FlOp, g_array_index(fr, guint32, 0));
        gboolean agree = TRUE;
        for (guint i = 1; i < fr->len; i++)
            agree &= same_read(h, first, &g_array_index(h->ops, FlOp, g_array_index(fr, guint32, i)), set);
        g_autoptr(GString) problem = g_string_new(NULL);
        if (!agree) {
            g_string_assign(problem, "the replicas disagree");
        } else if (!set) {
            gint64 v = fl_atoms_int_value(h->ctx.atoms, first->a);
            gint64 lo = sum_ok[k] + info_neg[k], hi = sum_ok[k] + info_pos[k];
            if (v < lo || v > hi)
                g_string_printf(problem, "they agree on %" G_GINT64_FORMAT ", but the "
                                "acknowledged adds sum to %" G_GINT64_FORMAT "%s", v, sum_ok[k],
                                lo == hi ? "" : " (with the info adds: a value in a range)");
        } else {
            const FlAtom *m = &g_array_index(h->ctx.items, FlAtom, first->items);
            for (guint i = 0; i < first->n_items && !problem->len; i++)
                if (!g_hash_table_contains(added, GUINT_TO_POINTER(m[i]))) {
                    g_string_assign(problem, "they agree on a set with a member nobody added: ");
                    fl_atoms_to_json(h->ctx.atoms, m[i], problem);
                }
            /* Acknowledged adds never removed must be there (on their key). */
            for (guint32 i = 0; i < h->ops->len && !problem->len; i++) {
                const FlOp *op = &g_array_index(h->ops, FlOp, i);
                if (op->f != ADD || op->status != FL_OP_OK || key_index(h, idx, op) != k ||
                    g_hash_table_contains(removed, GUINT_TO_POINTER(op->a)))
                    continue;
                gboolean in = FALSE;
                for (guint j = 0; j < first->n_items && !in; j++) in = m[j] == op->a;
                if (!in) {
                    g_string_assign(problem, "an acknowledged add that nobody removed is missing: ");
                    fl_atoms_to_json(h->ctx.atoms, op->a, problem);
                }
            }
        }
        g_autoptr(GString) kname = g_string_new(NULL);
        if (h->keys->len) fl_atoms_to_json(h->ctx.atoms, g_array_index(h->keys, FlAtom, k), kname);
        else g_string_append(kname, "null");
        json_t *kj = json_pack("{s:s,s:b,s:i}", "key", kname->str, "converged", problem->len == 0,
                               "replicas", (int)fr->len);
        if (problem->len) {
            bad++;
            g_string_append_printf(body, "Key %s: %s:\n", kname->str, problem->str);
            for (guint i = 0; i < fr->len; i++)
                show(h, &g_array_index(h->ops, FlOp, g_array_index(fr, guint32, i)), body);
        } else {
            g_autoptr(GArray) obs = g_array_new(FALSE, FALSE, sizeof(FlObs));
            for (guint32 i = 0; i < h->ops->len; i++) {
                const FlOp *op = &g_array_index(h->ops, FlOp, i);
                if (op->f != READ || op->status != FL_OP_OK || key_index(h, idx, op) != k) continue;
                FlObs ob = { .node = node_of(h, op), .time = op->ret_time,
                             .matches = same_read(h, op, first, set) };
                if (ob.node >= 0) g_array_append_val(obs, ob);
            }
            gint64 c = fl_convergence_ns(obs, last_update[k]);
            if (c >= 0) {
                json_object_set_new(kj, "convergence_ns", json_integer(c));
                if (c > conv_max) conv_max = c;
            }
        }
        json_array_append_new(keys, kj);
    }
    FlVerdict v = bad ? FL_VERDICT_INVALID : FL_VERDICT_VALID;
    if (report) {
        if (bad)
            g_string_append_printf(report, "The replicas did not converge on %u of %u key%s.\n",
                                   bad, checked, checked == 1 ? "" : "s");
        else
            g_string_append_printf(report, "%u final reads: every replica agrees on a %s the "
                                   "updates allow for each of %u key%s", final_reads,
                                   set ? "set" : "count", checked, checked == 1 ? "" : "s");
        if (!bad && conv_max >= 0)
            g_string_append_printf(report, "; observed convergence within %.3f ms",
                                   (double)conv_max / 1e6);
        if (!bad) g_string_append(report, "\n");
        if (missing)
            g_string_append_printf(report, "Note: %u final read%s did not complete ok and %s "
                                   "left out.\n", missing, missing == 1 ? "" : "s",
                                   missing == 1 ? "is" : "are");
        g_string_append(report, body->str);
    }
    if (json) {
        json_object_set_new(json, "final_reads", json_integer(final_reads));
        json_object_set_new(json, "final_reads_missing", json_integer(missing));
        json_object_set_new(json, "convergence_ns", conv_max >= 0 ? json_integer(conv_max)
                                                                   : json_null());
        json_object_set_new(json, "per_key", keys);
    } else {
        json_decref(keys);
    }
    return v;
}
