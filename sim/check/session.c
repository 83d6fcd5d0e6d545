/* sim/check/session.c: the session guarantees of Terry et al. (Bayou,
 * PDIS 1994), each checked on its own.
 *
 * A session is one client's operations in order (the `client` field; a
 * process when the history has none): a client that times out continues
 * as a new process, for linearizability, and stays the same session here,
 * because a client that moves to another server after a failure is the
 * case the guarantees were written for.  Each guarantee says
 * which writes a read of the session must reflect: the read must return
 * the value of one of those writes or of a newer one.  "Newer" is not
 * known from outside the system, so the checker only calls a read stale
 * when it is certainly older: it returned the initial value, or a value
 * whose write causally precedes (session order and reads-from, see
 * causal.c) a write the read had to reflect.  For a read of key x in
 * session s, the writes of x it must reflect are:
 *
 *   read-your-writes     (RYW) s's own earlier writes;
 *   monotonic-reads      (MR)  the writes s's earlier reads returned;
 *   monotonic-writes     (MW)  the writes that came before, in their own
 *                              session, a write s read earlier: a replica
 *                              that has a write has its session's earlier
 *                              writes;
 *   writes-follow-reads  (WFR) the writes that a write s read earlier had
 *                              itself read before, in its session: a
 *                              replica that has a write has what its
 *                              writer had seen.
 *
 * Together the four give causal consistency's guarantees to one client
 * (Brzezinski et al.); apart, they tell which one a system breaks.
 *
 * Design notes.
 *  1. Each guarantee keeps, per session, the bit set of writes that later
 *     reads must reflect; a read is stale when it returned the initial
 *     value and the set holds a write of its key, or when its write
 *     causally precedes a write of its key in the set.  With causal order as
 *     predecessor bit sets this is a few word operations per read.
 *  2. For MW and WFR, each write's session prefix (its session's earlier
 *     writes, and the values its session read before it) is a bit set built
 *     once in session order.
 *  3. Final reads are left out, as in causal.c.
 *  4. Garbage.  A read of a value no write wrote, or only a failed write
 *     (failed operations certainly did not happen), reflects no write at
 *     all: it breaks every guarantee, whatever the session did before, as
 *     it breaks causal consistency (ThinAirRead).  Each guarantee counts it
 *     and the report says which read and why.
 *  5. Session order is rw_session_order's (rw.c note 3): an info write
 *     may never have happened, so read-your-writes does not ask later
 *     reads to reflect it, and it is in no write's session prefix.
 */
#include "sim/check/rw.h"
#include "sim/check/weak.h"

#include <string.h>

#define SHOW_MAX 3

static const struct {
    unsigned bit;
    const char *name, *abbrev, *why;
} guarantees[] = {
    { FL_SESSION_RYW, "read-your-writes", "RYW",
      "the read does not reflect an earlier write of its own session" },
    { FL_SESSION_MR, "monotonic-reads", "MR",
      "the read returned an older value than an earlier read of its session had seen" },
    { FL_SESSION_MW, "monotonic-writes", "MW",
      "the session had read a write whose session wrote this key before it, yet the read "
      "does not reflect that earlier write" },
    { FL_SESSION_WFR, "writes-follow-reads", "WFR",
      "the session had read a write whose writer had seen a value of this key first, yet the "
      "read does not reflect what that writer had seen" },
};
#define NG G_N_ELEMENTS(guarantees)

/* The first write of @req & writes-of-key that the read's write @rf
 * causally precedes (or any, when @rf is the initial value); -1 if none. */
static gint64 stale(const RwBits *pred, const guint64 *req, const guint64 *wx, gint32 rf)
{
    for (guint32 k = 0; k < pred->words; k++) {
        guint64 x = req[k] & wx[k];
        while (x) {
            guint32 w = k * 64 + (guint32)__builtin_ctzll(x);
            x &= x - 1;
            if (rf == RW_INIT) return w;
            if ((gint32)w != rf && rw_test(rw_row(pred, w), (guint32)rf)) return w;
        }
    }
    return -1;
}

FlVerdict fl_check_session(FlHistory *h, unsigned which, GString *report, json_t *json)
{
    g_autoptr(GString) why = g_string_new(NULL);
    RwHistory *rw = rw_new(h, FALSE, why);
    if (!rw) {
        if (report) g_string_append_printf(report, "No verdict: %s.\n", why->str);
        if (json) json_object_set_new(json, "unsupported", json_string(why->str));
        return FL_VERDICT_UNKNOWN;
    }
    guint32 n = rw->ops->len;
    RwBits pred, wprefix, rprefix;
    gboolean ok = rw_bits_init(&pred, n, RW_MAX_BITS_BYTES / 3) &&
                  rw_bits_init(&wprefix, n, RW_MAX_BITS_BYTES / 3) &&
                  rw_bits_init(&rprefix, n, RW_MAX_BITS_BYTES / 3);
    if (!ok) {
        rw_bits_clear(&pred);
        rw_bits_clear(&wprefix);
        if (report) g_string_append_printf(report, "No verdict: %u operations are more than "
                                           "the session checker's bound.\n", n);
        if (json) json_object_set_new(json, "unsupported", json_string("history too large"));
        rw_free(rw);
        return FL_VERDICT_UNKNOWN;
    }
    guint32 words = pred.words;
    GArray *cycle = NULL;
    gboolean acyclic = rw_session_order(rw, &pred, &cycle);
    if (cycle) g_array_free(cycle, TRUE);
    g_autofree guint64 *wk = g_new0(guint64, (gsize)rw->nkeys * words);
    /* Session prefixes (note 2): ops are in invocation order, so a
     * session's previous op comes earlier. */
    for (guint32 i = 0; i < n; i++) {
        const RwOp *o = rw_op(rw, i);
        if (rw_writes(o)) rw_set(wk + (gsize)o->key * words, i);
        if (o->so_prev < 0) continue;
        const RwOp *p = rw_op(rw, (guint32)o->so_prev);
        guint64 *wi = rw_row(&wprefix, i), *ri = rw_row(&rprefix, i);
        memcpy(wi, rw_row(&wprefix, (guint32)o->so_prev), words * 8);
        memcpy(ri, rw_row(&rprefix, (guint32)o->so_prev), words * 8);
        if (rw_writes(p)) rw_set(wi, (guint32)o->so_prev);
        if (p->rf >= 0) rw_set(ri, (guint32)p->rf);
    }
    guint counts[NG] = { 0 };
    json_t *viol[NG];
    GString *body[NG];
    for (guint g = 0; g < NG; g++) {
        viol[g] = json_array();
        body[g] = g_string_new(NULL);
    }
    g_autofree guint64 *req = g_new0(guint64, (gsize)NG * words);
    for (guint32 p = 0; p < rw->nsess; p++) {
        /* The session's ops, in order: its info writes ask nothing of
         * later reads (note 5), and an info read read nothing. */
        g_autoptr(GArray) s = g_array_new(FALSE, FALSE, sizeof(guint32));
        guint32 last = g_array_index(rw->sess_last, guint32, p);
        for (gint64 v = (gint64)last - 1; v >= 0; v = rw_op(rw, (guint32)v)->so_prev)
            g_array_prepend_val(s, v);
        memset(req, 0, (gsize)NG * words * 8);
        for (guint i = 0; i < s->len; i++) {
            guint32 r = g_array_index(s, guint32, i);
            const RwOp *o = rw_op(rw, r);
            if (rw_reads(o) && o->rf == RW_THIN_AIR) {
                /* Note 4. */
                gint64 fw = rw_failed_writer(rw, r);
                for (guint g = 0; g < NG; g++) {
                    if (!(which & guarantees[g].bit)) continue;
                    if (counts[g]++ >= SHOW_MAX) continue;
                    if (fw >= 0)
                        g_string_append_printf(body[g], "%s: the read returned a value that "
                                               "only a failed write wrote (line %u): it "
                                               "reflects no write at all:\n",
                                               guarantees[g].abbrev,
                                               g_array_index(h->ops, FlOp, fw).inv_line);
                    else
                        g_string_append_printf(body[g], "%s: the read returned a value that "
                                               "no write of its key wrote: it reflects no "
                                               "write at all:\n", guarantees[g].abbrev);
                    rw_show(rw, r, body[g]);
                    json_t *a = json_array();
                    json_array_append_new(a, rw_json(rw, r));
                    json_array_append_new(viol[g], a);
                }
            } else if (rw_reads(o)) {
                const guint64 *wx = wk + (gsize)o->key * words;
                for (guint g = 0; g < NG; g++) {
                    if (!(which & guarantees[g].bit)) continue;
                    gint64 w = stale(&pred, req + (gsize)g * words, wx, o->rf);
                    if (w < 0) continue;
                    if (counts[g]++ >= SHOW_MAX) continue;
                    guint32 ops[3];
                    guint nops = 0;
                    if (g == 2 || g == 3) {
                        /* MW/WFR: also show the write the session had read. */
                        for (guint j = 0; j < i; j++) {
                            const RwOp *e = rw_op(rw, g_array_index(s, guint32, j));
                            const RwBits *pre = g == 2 ? &wprefix : &rprefix;
                            if (e->rf >= 0 && rw_test(rw_row(pre, (guint32)e->rf), (guint32)w)) {
                                ops[nops++] = (guint32)w;
                                ops[nops++] = (guint32)e->rf;
                                break;
                            }
                        }
                    }
                    if (nops == 0) ops[nops++] = (guint32)w;
                    ops[nops++] = r;
                    g_string_append_printf(body[g], "%s: %s:\n", guarantees[g].abbrev,
                                           guarantees[g].why);
                    json_t *a = json_array();
                    for (guint k = 0; k < nops; k++) {
                        rw_show(rw, ops[k], body[g]);
                        json_array_append_new(a, rw_json(rw, ops[k]));
                    }
                    /* The edges, labelled: so (session order), rf, co. */
                    static const char *const edges[] = {
                        "write --so--> read in one session, yet the read --rf--> a value the "
                        "write had replaced",
                        "an earlier read of the session --rf--> this write or a later one, "
                        "--so--> this read, which --rf--> an older value",
                        "first write --so--> second write (one session), which this session "
                        "read (--rf-->), --so--> this read, which --rf--> a value older than "
                        "the first write",
                        "first write --rf--> a read of the second write's session, --so--> "
                        "second write, which this session read (--rf-->), --so--> this read, "
                        "which --rf--> a value older than the first write",
                    };
                    g_string_append_printf(body[g], "  edges: %s\n", edges[g]);
                    json_array_append_new(viol[g], a);
                }
            }
            /* What later reads of this session must reflect. */
            if (rw_writes(o)) rw_set(req + 0 * words, r);
            if (o->rf >= 0) {
                rw_set(req + 1 * words, (guint32)o->rf);
                const guint64 *wp = rw_row(&wprefix, (guint32)o->rf);
                const guint64 *rp = rw_row(&rprefix, (guint32)o->rf);
                for (guint32 k = 0; k < words; k++) {
                    req[2 * words + k] |= wp[k];
                    req[3 * words + k] |= rp[k];
                }
            }
        }
    }
    guint bad = 0;
    for (guint g = 0; g < NG; g++)
        if (which & guarantees[g].bit) bad += counts[g] > 0;
    FlVerdict v = bad ? FL_VERDICT_INVALID : FL_VERDICT_VALID;
    if (report) {
        g_string_append_printf(report, "%u operations, %u sessions:\n", n, rw->nsess);
        for (guint g = 0; g < NG; g++) {
            if (!(which & guarantees[g].bit)) continue;
            if (counts[g])
                g_string_append_printf(report, "  %-20s violated by %u read%s\n",
                                       guarantees[g].name, counts[g], counts[g] == 1 ? "" : "s");
            else
                g_string_append_printf(report, "  %-20s holds\n", guarantees[g].name);
        }
        if (!acyclic)
            g_string_append(report, "Note: causal order is cyclic (see --consistency causal); "
                            "stale means causally earlier along it.\n");
        for (guint g = 0; g < NG; g++) g_string_append(report, body[g]->str);
    }
    if (json) {
        json_t *gs = json_object();
        for (guint g = 0; g < NG; g++) {
            if (!(which & guarantees[g].bit)) {
                json_decref(viol[g]);
                continue;
            }
            json_object_set_new(gs, guarantees[g].name,
                                json_pack("{s:b,s:i,s:o}", "valid", counts[g] == 0,
                                          "violations", (int)counts[g], "examples", viol[g]));
        }
        json_object_set_new(json, "guarantees", gs);
        json_object_set_new(json, "sessions", json_integer(rw->nsess));
    } else {
        for (guint g = 0; g < NG; g++) json_decref(viol[g]);
    }
    for (guint g = 0; g < NG; g++) g_string_free(body[g], TRUE);
    rw_bits_clear(&pred);
    rw_bits_clear(&wprefix);
    rw_bits_clear(&rprefix);
    rw_free(rw);
    return v;
}
