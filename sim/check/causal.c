/* sim/check/causal.c: causal consistency by bad patterns.
 *
 * Bouajjani, Enea, Guerraoui and Hamza, "On Verifying Causal Consistency"
 * (POPL 2017), show that for histories where every written value is unique
 * ("differentiated"), each variant of causal consistency holds exactly when
 * the history contains none of a few bad patterns, each found in
 * polynomial time.  With session order PO, reads-from RF (write -> the
 * reads of its value) and causal order CO = (PO U RF)+:
 *
 *   ThinAirRead      a read of a value no write wrote.
 *   CyclicCO         CO is cyclic.
 *   WriteCOInitRead  a read of the initial value of x, with a write of x
 *                    in its causal past.
 *   WriteCORead      a read of x reading from w1, with another write w2 of
 *                    x such that w1 CO w2 CO read: the value read had been
 *                    overwritten in the read's causal past.
 *   CyclicCF         (CCv) with w1 CF w2 when a read of w2's value has w1
 *                    in its causal past: CF U CO cyclic, so no single
 *                    order of conflicting writes suits every replica.
 *   WriteHBInitRead, (CM) for an operation o, HB_o is the least transitive
 *   CyclicHB         relation containing CO on o's causal past, and w1 -> w2
 *                    for writes of x whenever w1 HB_o r for a read r (in
 *                    o's past) of w2's value.  WriteHBInitRead: a read of
 *                    the initial value of x by o's process with a write of
 *                    x HB_o-before it; CyclicHB: HB_o cyclic.
 *
 *   CC  (causal consistency)   ThinAirRead, CyclicCO, WriteCOInitRead, WriteCORead
 *   CCv (causal convergence)   CC + CyclicCF   (COPS's "causal+")
 *   CM  (causal memory)        CC + WriteHBInitRead + CyclicHB
 *
 * Design notes.
 *  1. CO is computed once as predecessor bit sets (rw.c); each pattern is
 *     then a few bit-set operations per read.  CF edges are kept as bit sets
 *     too, and CyclicCF is a depth-first search over CO's direct edges and
 *     the CF edges.
 *  2. HB_o only grows along a session (a later operation's causal past
 *     contains an earlier one's), so computing it for the last operation of
 *     each process finds every CyclicHB and every WriteHBInitRead of that
 *     process's reads.  Each HB is a fixpoint: add the write-write edges,
 *     close transitively (Floyd-Warshall over bit rows), until nothing
 *     changes.  It is the expensive one (cubic per process); the deadline
 *     turns it into "unknown".
 *  3. Final reads (the final read phase) are left out: they probe replicas,
 *     they are not part of a client's session.  Info writes are kept; an
 *     info read returned nothing and is left out.
 *  4. Session order is per client (rw.c note 3), as for the session
 *     guarantees (session.c), so that causal consistency implies each of
 *     them on the same history: a client that timed out and went on as a
 *     new process is still one session, and its info writes order nothing
 *     after them.  Without `client` in the history, sessions are processes.
 */
#include "sim/check/rw.h"
#include "sim/check/weak.h"

#define SHOW_MAX 3      /* violations explained per pattern */

typedef struct {
    const RwHistory *rw;
    GString *report;
    json_t *violations;    /* array */
    json_t *counts;        /* pattern -> count */
    guint found;
} Found;

/* The edges of each pattern, labelled as the literature does: po
 * (session order), rf (reads-from), co (causal order: po and rf,
 * transitively), hb (CM's happens-before for the read's own view). */
static const char *edges_of(const char *pattern)
{
    if (strcmp(pattern, "WriteCORead") == 0)
        return "first write --co--> second write --co--> read, and read --rf--> first write";
    if (strcmp(pattern, "WriteCOInitRead") == 0)
        return "write --co--> read, and the read --rf--> the initial value";
    if (strcmp(pattern, "WriteHBInitRead") == 0)
        return "write --hb--> read, and the read --rf--> the initial value";
    if (strcmp(pattern, "CyclicCO") == 0)
        return "each operation --po or rf--> the next, and the last --po or rf--> the first";
    if (strcmp(pattern, "CyclicHB") == 0)
        return "each operation --hb--> the next, and the last --hb--> the first";
    return NULL;
}

static void found(Found *F, const char *pattern, const char *why, const guint32 *ops,
                  guint n)
{
    json_int_t c = json_integer_value(json_object_get(F->counts, pattern));
    json_object_set_new(F->counts, pattern, json_integer(c + 1));
    F->found++;
    if (c >= SHOW_MAX) return;
    if (F->report) {
        g_string_append_printf(F->report, "%s: %s\n", pattern, why);
        for (guint i = 0; i < n; i++) rw_show(F->rw, ops[i], F->report);
        if (edges_of(pattern))
            g_string_append_printf(F->report, "  edges: %s\n", edges_of(pattern));
    }
    if (F->violations) {
        json_t *a = json_array();
        for (guint i = 0; i < n; i++) json_array_append_new(a, rw_json(F->rw, ops[i]));
        json_array_append_new(F->violations,
                              json_pack("{s:s,s:s,s:o}", "pattern", pattern, "why", why, "ops", a));
    }
}

/* Bit set of the writes of each key. */
static guint64 *writes_of_keys(const RwHistory *rw, guint32 words)
{
    guint64 *w = g_new0(guint64, (gsize)rw->nkeys * words);
    for (guint32 i = 0; i < rw->ops->len; i++) {
        const RwOp *o = rw_op(rw, i);
        if (rw_writes(o)) rw_set(w + (gsize)o->key * words, i);
    }
    return w;
}

/* First op in @a & @b & ~{skip}, or -1. */
static gint64 first_common(const guint64 *a, const guint64 *b, guint32 words, gint64 skip)
{
    for (guint32 k = 0; k < words; k++) {
        guint64 x = a[k] & b[k];
        while (x) {
            gint64 j = (gint64)k * 64 + __builtin_ctzll(x);
            if (j != skip) return j;
            x &= x - 1;
        }
    }
    return -1;
}

static void thin_air(Found *F)
{
    const RwHistory *rw = F->rw;
    for (guint32 i = 0; i < rw->ops->len; i++) {
        if (rw_op(rw, i)->rf != RW_THIN_AIR) continue;
        /* A failed write certainly did not happen (rw.h): reading its value
         * is reading thin air, but the report names it. */
        gint64 fw = rw_failed_writer(rw, i);
        g_autofree char *why = fw < 0
            ? g_strdup("this read returned a value that no write of its key wrote")
            : g_strdup_printf("this read returned a value that only a failed write wrote "
                              "(line %u), and a failed write did not happen",
                              g_array_index(rw->h->ops, FlOp, fw).inv_line);
        found(F, "ThinAirRead", why, &i, 1);
    }
}

static void co_patterns(Found *F, const RwBits *pred, const guint64 *wk)
{
    const RwHistory *rw = F->rw;
    guint32 words = pred->words;
    for (guint32 r = 0; r < rw->ops->len; r++) {
        const RwOp *o = rw_op(rw, r);
        if (!rw_reads(o) || o->rf == RW_THIN_AIR) continue;
        const guint64 *past = rw_row(pred, r);
        const guint64 *wx = wk + (gsize)o->key * words;
        if (o->rf == RW_INIT) {
            gint64 w = first_common(past, wx, words, -1);
            if (w >= 0) {
                guint32 ops[2] = { (guint32)w, r };
                found(F, "WriteCOInitRead",
                      "the read returned the initial value, but a write of its key is in its "
                      "causal past", ops, 2);
            }
            continue;
        }
        guint32 w1 = (guint32)o->rf;
        for (guint32 k = 0; k < words; k++) {
            guint64 x = past[k] & wx[k];
            gboolean hit = FALSE;
            while (x && !hit) {
                guint32 w2 = k * 64 + (guint32)__builtin_ctzll(x);
                x &= x - 1;
                if (w2 != w1 && w2 != r && rw_test(rw_row(pred, w2), w1)) {
                    guint32 ops[3] = { w1, w2, r };
                    found(F, "WriteCORead",
                          "the read returned the first write's value, but the second write of "
                          "the same key follows it causally and precedes the read causally: the "
                          "value had been overwritten in the read's causal past", ops, 3);
                    hit = TRUE;
                }
            }
            if (hit) break;
        }
    }
}

/* CCv: a cycle in CO U CF, by an iterative depth-first search. */
static void cyclic_cf(Found *F, const RwBits *pred, const guint64 *wk)
{
    const RwHistory *rw = F->rw;
    guint32 n = rw->ops->len;
    RwBits cf;
    if (!rw_bits_init(&cf, n, RW_MAX_BITS_BYTES)) return;
    guint32 words = cf.words;
    /* Direct CO successors: session successor, readers. */
    g_autofree guint32 *start = g_new0(guint32, n + 1);
    for (guint32 v = 0; v < n; v++) {
        const RwOp *o = rw_op(rw, v);
        if (o->so_prev >= 0) start[o->so_prev + 1]++;
        if (o->rf >= 0) start[o->rf + 1]++;
        for (guint32 k = 0; k < o->n_obs; k++)
            start[g_array_index(rw->obs, guint32, o->obs + k) + 1]++;
    }
    for (guint32 v = 0; v < n; v++) start[v + 1] += start[v];
    g_autofree guint32 *succ = g_new(guint32, MAX(start[n], 1));
    g_autofree guint32 *fill = g_memdup2(start, sizeof(guint32) * (n + 1));
    for (guint32 v = 0; v < n; v++) {
        const RwOp *o = rw_op(rw, v);
        if (o->so_prev >= 0) succ[fill[o->so_prev]++] = v;
        if (o->rf >= 0) succ[fill[o->rf]++] = v;
        for (guint32 k = 0; k < o->n_obs; k++)
            succ[fill[g_array_index(rw->obs, guint32, o->obs + k)]++] = v;
    }
    /* CF: w1 -> w2 when a read of w2 has w1 in its causal past. */
    for (guint32 r = 0; r < n; r++) {
        const RwOp *o = rw_op(rw, r);
        if (o->rf < 0) continue;
        const guint64 *past = rw_row(pred, r);
        const guint64 *wx = wk + (gsize)o->key * words;
        for (guint32 k = 0; k < words; k++) {
            guint64 x = past[k] & wx[k];
            while (x) {
                guint32 w1 = k * 64 + (guint32)__builtin_ctzll(x);
                x &= x - 1;
                if (w1 != (guint32)o->rf) rw_set(rw_row(&cf, w1), (guint32)o->rf);
            }
        }
    }
    /* Iterative DFS: colour 0 white, 1 on the stack, 2 done.  Each frame
     * walks the CO successors, then the CF successors (bit positions). */
    g_autofree guint8 *colour = g_new0(guint8, n);
    g_autofree guint32 *stack = g_new(guint32, n);
    g_autofree guint64 *cursor = g_new0(guint64, n);   /* edges tried so far */
    for (guint32 root = 0; root < n; root++) {
        if (colour[root]) continue;
        guint32 sp = 0;
        stack[sp++] = root;
        colour[root] = 1;
        cursor[root] = 0;
        while (sp) {
            guint32 u = stack[sp - 1];
            guint32 nco = start[u + 1] - start[u];
            gint64 next = -1;
            while (next < 0 && cursor[u] < nco) {
                guint32 v = succ[start[u] + cursor[u]++];
                if (colour[v] != 2) next = v;
            }
            while (next < 0 && cursor[u] < nco + (guint64)n) {
                guint32 j = (guint32)(cursor[u] - nco);
                const guint64 *row = rw_row(&cf, u);
                /* Skip to the next set bit at or after j. */
                guint32 k = j >> 6;
                guint64 x = k < words ? row[k] & (~(guint64)0 << (j & 63)) : 0;
                while (!x && ++k < words) x = row[k];
                if (!x) {
                    cursor[u] = nco + (guint64)n;
                    break;
                }
                guint32 v = k * 64 + (guint32)__builtin_ctzll(x);
                cursor[u] = nco + (guint64)v + 1;
                if (colour[v] != 2) next = v;
            }
            if (next < 0) {
                colour[u] = 2;
                sp--;
                continue;
            }
            guint32 v = (guint32)next;
            if (colour[v] == 1) {
                /* A cycle: v .. u on the stack, then back to v. */
                guint32 from = sp;
                while (from > 0 && stack[from - 1] != v) from--;
                from--;
                g_autoptr(GArray) ops = g_array_new(FALSE, FALSE, sizeof(guint32));
                for (guint32 k = from; k < sp; k++) g_array_append_val(ops, stack[k]);
                found(F, "CyclicCF",
                      "the writes of a key cannot be ordered the same way for every replica: "
                      "following causal order, and putting a write before another whenever "
                      "it is in the causal past of a read of the other, these operations "
                      "form a cycle",
                      (const guint32 *)ops->data, ops->len);
                rw_bits_clear(&cf);
                return;
            }
            colour[v] = 1;
            cursor[v] = 0;
            stack[sp++] = v;
        }
    }
    rw_bits_clear(&cf);
}

/* CM: HB for the last op of each process (note 2).  With sessions per
 * client (note 4) every op is still in the causal past of its process's
 * last op, or is it: an info op ends its process, and the ops after it in
 * its session are in a later process's past.  Returns FALSE when the
 * deadline passed. */
static gboolean hb_patterns(Found *F, const RwBits *pred, gint64 deadline)
{
    const RwHistory *rw = F->rw;
    guint32 n = rw->ops->len;
    g_autofree gint32 *local = g_new(gint32, n);
    for (guint32 p = 0; p < rw->nprocs; p++) {
        guint32 last = g_array_index(rw->proc_last, guint32, p);
        if (!last) continue;
        guint32 o = last - 1;
        if (deadline > 0 && g_get_monotonic_time() > deadline) return FALSE;
        /* The past of o, and o. */
        g_autoptr(GArray) P = g_array_new(FALSE, FALSE, sizeof(guint32));
        const guint64 *po = rw_row(pred, o);
        for (guint32 v = 0; v < n; v++) {
            local[v] = -1;
            if (v == o || rw_test(po, v)) {
                local[v] = (gint32)P->len;
                g_array_append_val(P, v);
            }
        }
        guint32 k = P->len;
        RwBits hb;
        if (!rw_bits_init(&hb, k, RW_MAX_BITS_BYTES)) return FALSE;
        guint32 words = hb.words;
        g_autofree guint64 *wk = g_new0(guint64, (gsize)rw->nkeys * words);
        for (guint32 a = 0; a < k; a++) {
            guint32 v = g_array_index(P, guint32, a);
            const RwOp *ov = rw_op(rw, v);
            if (rw_writes(ov)) rw_set(wk + (gsize)ov->key * words, a);
            const guint64 *pv = rw_row(pred, v);
            guint64 *row = rw_row(&hb, a);
            for (guint32 b = 0; b < k; b++)
                if (rw_test(pv, g_array_index(P, guint32, b))) rw_set(row, b);
        }
        gboolean changed = TRUE;
        while (changed) {
            changed = FALSE;
            for (guint32 a = 0; a < k; a++) {
                const RwOp *r = rw_op(rw, g_array_index(P, guint32, a));
                if (r->rf < 0 || local[r->rf] < 0) continue;
                guint32 w2 = (guint32)local[r->rf];
                guint64 *target = rw_row(&hb, w2);
                const guint64 *src = rw_row(&hb, a);
                const guint64 *wx = wk + (gsize)r->key * words;
                for (guint32 q = 0; q < words; q++) {
                    guint64 add = src[q] & wx[q];
                    if (q == (w2 >> 6)) add &= ~((guint64)1 << (w2 & 63));
                    if (add & ~target[q]) {
                        target[q] |= add;
                        changed = TRUE;
                    }
                }
            }
            if (!changed) break;
            for (guint32 m = 0; m < k; m++) {
                const guint64 *rm = rw_row(&hb, m);
                for (guint32 v = 0; v < k; v++) {
                    guint64 *rv = rw_row(&hb, v);
                    if (v != m && rw_test(rv, m))
                        for (guint32 q = 0; q < words; q++) rv[q] |= rm[q];
                }
            }
            if (deadline > 0 && g_get_monotonic_time() > deadline) {
                rw_bits_clear(&hb);
                return FALSE;
            }
        }
        gboolean reported = FALSE;
        for (guint32 a = 0; a < k && !reported; a++) {
            if (!rw_test(rw_row(&hb, a), a)) continue;
            /* Find a partner b with a HB b HB a. */
            for (guint32 b = 0; b < k; b++) {
                if (b != a && rw_test(rw_row(&hb, a), b) && rw_test(rw_row(&hb, b), a)) {
                    guint32 ops[3] = { g_array_index(P, guint32, b), g_array_index(P, guint32, a), o };
                    found(F, "CyclicHB",
                          "in the view of the last operation's process, each of the first two "
                          "operations must happen before the other (causal order, plus a write "
                          "before another when it happens before a read of the other)", ops, 3);
                    reported = TRUE;
                    break;
                }
            }
        }
        for (guint32 a = 0; a < k && !reported; a++) {
            guint32 v = g_array_index(P, guint32, a);
            const RwOp *r = rw_op(rw, v);
            if (r->rf != RW_INIT || r->sess != rw_op(rw, o)->sess) continue;
            gint64 w = first_common(rw_row(&hb, a), wk + (gsize)r->key * words, words, -1);
            if (w >= 0) {
                guint32 ops[2] = { g_array_index(P, guint32, (guint32)w), v };
                found(F, "WriteHBInitRead",
                      "the read returned the initial value, but in its session's view a write "
                      "of its key happens before it", ops, 2);
                reported = TRUE;
            }
        }
        rw_bits_clear(&hb);
    }
    return TRUE;
}

static const char *kind_name(FlCausalKind kind)
{
    switch (kind) {
    case FL_CAUSAL_CC: return "causally consistent (CC)";
    case FL_CAUSAL_CM: return "causal memory (CM)";
    case FL_CAUSAL_CCV: return "causally convergent (CCv, causal+)";
    }
    return "?";
}

FlVerdict fl_check_causal(FlHistory *h, FlCausalKind kind, gint64 deadline_us,
                          GString *report, json_t *json)
{
    g_autoptr(GString) why = g_string_new(NULL);
    RwHistory *rw = rw_new(h, FALSE, why);
    if (!rw) {
        if (report) g_string_append_printf(report, "No verdict: %s.\n", why->str);
        if (json) json_object_set_new(json, "unsupported", json_string(why->str));
        return FL_VERDICT_UNKNOWN;
    }
    guint32 n = rw->ops->len;
    Found F = { .rw = rw, .counts = json_object(), .violations = json ? json_array() : NULL };
    g_autoptr(GString) body = report ? g_string_new(NULL) : NULL;
    F.report = body;
    FlVerdict v = FL_VERDICT_VALID;
    RwBits pred;
    if (!rw_bits_init(&pred, n, RW_MAX_BITS_BYTES)) {
        g_string_printf(why, "%u operations are more than the causal checker's bound", n);
        v = FL_VERDICT_UNKNOWN;
        goto out;
    }
    thin_air(&F);
    GArray *cycle = NULL;
    if (!rw_session_order(rw, &pred, &cycle)) {
        found(&F, "CyclicCO", "session order and reads-from form a cycle: each operation "
              "causally precedes the next, and the last the first",
              (const guint32 *)cycle->data, cycle->len);
        g_array_free(cycle, TRUE);
    } else {
        g_autofree guint64 *wk = writes_of_keys(rw, pred.words);
        co_patterns(&F, &pred, wk);
        if (kind == FL_CAUSAL_CCV && F.found == 0) cyclic_cf(&F, &pred, wk);
        if (kind == FL_CAUSAL_CM && F.found == 0 && !hb_patterns(&F, &pred, deadline_us)) {
            g_string_printf(why, "no verdict within the time limit (causal memory)");
            v = FL_VERDICT_UNKNOWN;
        }
    }
    rw_bits_clear(&pred);
    if (F.found) v = FL_VERDICT_INVALID;
out:
    if (report) {
        if (v == FL_VERDICT_INVALID) {
            g_string_append_printf(report, "The history is not %s: %u bad pattern%s found "
                                   "(Bouajjani et al., POPL 2017).\n", kind_name(kind),
                                   F.found, F.found == 1 ? "" : "s");
            g_string_append(report, body->str);
        } else if (v == FL_VERDICT_VALID) {
            g_string_append_printf(report, "%u operations, %u processes: %s: no bad pattern\n",
                                   n, rw->nprocs, kind_name(kind));
        } else {
            g_string_append_printf(report, "No verdict: %s.\n", why->str);
        }
        if (rw->duplicates)
            g_string_append_printf(report, "Note: %u writes repeat a value of their key; reads "
                                   "of it are taken to read the first.\n", rw->duplicates);
    }
    if (json) {
        json_object_set_new(json, "patterns", F.counts);
        json_object_set_new(json, "violations", F.violations);
        json_object_set_new(json, "processes", json_integer(rw->nprocs));
        if (v == FL_VERDICT_UNKNOWN) json_object_set_new(json, "unsupported", json_string(why->str));
    } else {
        json_decref(F.counts);
    }
    rw_free(rw);
    return v;
}
