/* sim/check/eventual.c: eventual consistency, by the final read phase.
 *
 * Eventual consistency promises that once updates stop (and faults heal),
 * replicas converge.  A history shows it through its final reads
 * (`"final": true`): after the workload's `until` and `settle`, every key
 * was read on every node from the node's own copy.  The history is
 * eventually consistent when, for each key:
 *   1. every final read returned the same value (the replicas agree), and
 *   2. that value was written (not thin air): the value of some ok or info
 *      write of the key, or the initial value when no write of the key
 *      completed ok (an acknowledged write cannot vanish everywhere).
 * Final reads that failed or timed out (a node still down) are left out
 * and counted.  Set and counter histories (CRDTs) have their own rules in
 * crdt.c.
 *
 * The convergence time reported is observed, hence an upper bound: for each
 * key, from the invocation of the write of its final value to the moment
 * the last node was seen returning that value for good (fl_convergence_ns).
 */
#include "sim/check/rw.h"
#include "sim/check/weak.h"

#include <stdlib.h>

static int cmp_obs(const void *x, const void *y)
{
    const FlObs *a = x, *b = y;
    if (a->node != b->node) return a->node < b->node ? -1 : 1;
    return a->time < b->time ? -1 : a->time > b->time;
}

gint64 fl_convergence_ns(GArray *obs, gint64 t0)
{
    if (t0 < 0 || obs->len == 0) return -1;
    g_array_sort(obs, cmp_obs);
    gint64 worst = t0;
    for (guint i = 0; i < obs->len;) {
        gint32 node = g_array_index(obs, FlObs, i).node;
        gint64 since = -1;
        for (; i < obs->len && g_array_index(obs, FlObs, i).node == node; i++) {
            const FlObs *o = &g_array_index(obs, FlObs, i);
            if (o->time < 0) return -1;
            if (!o->matches) since = -1;
            else if (since < 0) since = o->time;
        }
        if (since < 0) return -1;   /* this node never settled on it */
        if (since > worst) worst = since;
    }
    return worst - t0;
}

static void show_value(const RwHistory *rw, FlAtom v, GString *out)
{
    fl_atoms_to_json(rw->h->ctx.atoms, v, out);
}

FlVerdict fl_check_eventual(FlHistory *h, GString *report, json_t *json)
{
    if (h->model == &fl_model_set || h->model == &fl_model_counter)
        return fl_check_crdt(h, report, json);
    g_autoptr(GString) why = g_string_new(NULL);
    RwHistory *rw = rw_new(h, TRUE, why);
    if (!rw) {
        if (report) g_string_append_printf(report, "No verdict: %s.\n", why->str);
        if (json) json_object_set_new(json, "unsupported", json_string(why->str));
        return FL_VERDICT_UNKNOWN;
    }
    guint32 n = rw->ops->len;
    if (rw->final_reads == 0) {
        const char *w = "the history has no final reads (give the workload \"final_reads\": true)";
        if (report) g_string_append_printf(report, "No verdict: %s.\n", w);
        if (json) json_object_set_new(json, "unsupported", json_string(w));
        rw_free(rw);
        return FL_VERDICT_UNKNOWN;
    }
    /* Per key: ok writes, and the final reads. */
    g_autofree guint32 *ok_writes = g_new0(guint32, rw->nkeys);
    g_autoptr(GPtrArray) finals = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    for (guint32 k = 0; k < rw->nkeys; k++)
        g_ptr_array_add(finals, g_array_new(FALSE, FALSE, sizeof(guint32)));
    guint missing = 0;
    for (guint32 i = 0; i < h->ops->len; i++) {
        /* Final reads that did not complete ok are not in the view. */
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        if (op->status == FL_OP_OK) continue;
        const FlVal *ev = fl_reader_event_at(h->reader, op->inv_offset, op->inv_line);
        const FlVal *f = ev ? fl_val_get(ev, "final") : NULL;
        if (f && f->kind == FL_VAL_BOOL && f->b) missing++;
    }
    for (guint32 i = 0; i < n; i++) {
        const RwOp *o = rw_op(rw, i);
        if (rw_writes(o) && !o->info) ok_writes[o->key]++;
        if (o->final && rw_reads(o)) g_array_append_val(g_ptr_array_index(finals, o->key), i);
    }
    guint bad = 0, checked = 0;
    gint64 conv_max = -1;
    g_autoptr(GString) body = g_string_new(NULL);
    json_t *keys = json_array();
    for (guint32 k = 0; k < rw->nkeys; k++) {
        GArray *fr = g_ptr_array_index(finals, k);
        if (fr->len == 0) continue;
        checked++;
        const RwOp *first = rw_op(rw, g_array_index(fr, guint32, 0));
        gboolean agree = TRUE;
        for (guint i = 1; i < fr->len; i++)
            agree &= rw_op(rw, g_array_index(fr, guint32, i))->rval == first->rval;
        const char *problem = NULL;
        if (!agree) problem = "the replicas disagree";
        else if (first->rf == RW_THIN_AIR) problem = "they agree on a value no write wrote";
        else if (first->rf == RW_INIT && ok_writes[k])
            problem = "they agree on the initial value, though writes of the key were acknowledged";
        g_autoptr(GString) kname = g_string_new(NULL);
        if (h->keys->len) fl_atoms_to_json(h->ctx.atoms, g_array_index(h->keys, FlAtom, k), kname);
        else g_string_append(kname, "null");
        json_t *kj = json_pack("{s:s,s:b,s:i}", "key", kname->str, "converged", problem == NULL,
                               "replicas", (int)fr->len);
        if (problem) {
            bad++;
            g_string_append_printf(body, "Key %s: %s:\n", kname->str, problem);
            for (guint i = 0; i < fr->len; i++) rw_show(rw, g_array_index(fr, guint32, i), body);
            if (first->rf >= 0 && agree) {
                g_string_append(body, "  written by\n");
                rw_show(rw, (guint32)first->rf, body);
            }
        } else {
            g_autoptr(GString) val = g_string_new(NULL);
            show_value(rw, first->rval, val);
            json_object_set_new(kj, "value", json_string(val->str));
            /* Convergence time: every read of this key, at its node. */
            gint64 t0 = 0;
            if (first->rf >= 0)
                t0 = g_array_index(h->ops, FlOp, rw_op(rw, (guint32)first->rf)->op).inv_time;
            g_autoptr(GArray) obs = g_array_new(FALSE, FALSE, sizeof(FlObs));
            for (guint32 i = 0; i < n; i++) {
                const RwOp *o = rw_op(rw, i);
                if (o->key != k || !rw_reads(o) || o->node < 0 || o->info) continue;
                FlObs ob = { .node = o->node, .matches = o->rval == first->rval,
                             .time = g_array_index(h->ops, FlOp, o->op).ret_time };
                g_array_append_val(obs, ob);
            }
            gint64 c = fl_convergence_ns(obs, t0);
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
            g_string_append_printf(report, "%u final reads: every replica agrees on a written "
                                   "value for each of %u key%s", rw->final_reads, checked,
                                   checked == 1 ? "" : "s");
        if (!bad && conv_max >= 0)
            g_string_append_printf(report, "; observed convergence within %.3f ms",
                                   (double)conv_max / 1e6);
        if (!bad) g_string_append(report, "\n");
        if (missing)
            g_string_append_printf(report, "Note: %u final read%s did not complete ok (a node "
                                   "down?) and %s left out.\n", missing, missing == 1 ? "" : "s",
                                   missing == 1 ? "is" : "are");
        g_string_append(report, body->str);
    }
    if (json) {
        json_object_set_new(json, "final_reads", json_integer(rw->final_reads));
        json_object_set_new(json, "final_reads_missing", json_integer(missing));
        json_object_set_new(json, "convergence_ns", conv_max >= 0 ? json_integer(conv_max)
                                                                   : json_null());
        json_object_set_new(json, "per_key", keys);
    } else {
        json_decref(keys);
    }
    rw_free(rw);
    return v;
}
