/* sim/check/sequential.c: sequential consistency over all keys together.
 *
 * Sequential consistency (Lamport 1979) asks for one order of all
 * operations that keeps each process's order and in which every read
 * returns the latest write.  Unlike linearizability it does not compose:
 * each key can be sequentially consistent on its own while the whole
 * history is not (the store-buffer pattern: p writes x then reads y = 0, q
 * writes y then reads x = 0).  This is `sequential`: the keys together,
 * which is what tells a causal store from a sequentially consistent one
 * (`sequential-multikey` is its old name).  `sequential-per-key` (search.c)
 * checks each key alone, and so is weaker.
 *
 * Deciding it is NP-complete in general (Gibbons and Korach); with unique
 * written values the reads-from relation is known, and this checker uses
 * the axiomatic form: SC holds iff some order of each key's writes (co)
 * makes PO U RF U co U FR acyclic, where FR puts a read before every write
 * that follows, in co, the write it read.
 *
 * Design notes.
 *  1. Saturation.  Edges forced in every SC order are added until nothing
 *     changes: w' -> w when a write w' of x reaches a read r of w (r must
 *     read the latest write, so w' comes before w); r -> w' when w reaches
 *     w' (w' comes after w, so after r); r -> w' for every write w' of x
 *     when r read the initial value.  A cycle among forced edges proves the
 *     history is not SC, and the cycle is the explanation.
 *  2. Witness.  Otherwise a topological order, preferring operations that
 *     completed earlier, is replayed on the registers.  A replay that
 *     succeeds proves SC.  If a read r of x sees the wrong value, the
 *     replay placed another write w' of x between r's write w and r, and
 *     w', w, r are pairwise unordered by the forced edges (else note 1
 *     would have ordered them).  Every SC order puts w' outside [w, r]:
 *     either r before w', or w' before w.  Note 5 tries both.
 *  3. Ops: ok operations and the info writes some read returned (an info
 *     write nobody read can go last in any order: it is dropped).  Final
 *     reads are left out, as every model but convergence leaves them out:
 *     they read one replica's copy, outside the protocol.  kv appends
 *     are not registers: a history with appends gets no verdict.
 *  4. Fallback.  When the search runs out of time or memory (or the
 *     history has appends, or repeated written values, which leave
 *     reads-from unknown), the linearizability check runs: a linearizable
 *     history is sequentially consistent, and linearizability composes
 *     key by key, so a valid answer there settles it.
 *  5. Complete search.  A depth-first search over the two sides of note
 *     2's choice: take "r before w'" first (a read concurrent with a later
 *     write, the common case), saturate again (note 1: the same pruning),
 *     replay; on a cycle, undo back to the latest choice whose other side
 *     is untried and take "w' before w".  Every SC order obeys one side of
 *     every choice, so the search misses none; on any path each choice
 *     settles its pair for good, so it ends.  When every side of every
 *     choice ends in a cycle the history is not SC.  Only the deadline
 *     (--timeout) or the memory bound stops it without a verdict.  (The
 *     problem stays NP-complete with reads-from known, Gibbons and Korach
 *     1997: the search is exponential in the worst case, and the deadline
 *     is what bounds it.)  The edges a choice adds are logged, so undoing
 *     it clears exactly those.
 *     Speed: one replay opens a choice for every read it got wrong (one
 *     closure per round, not per read; a choice an earlier one of the
 *     round settled is skipped).  When a round ends in a cycle, a binary
 *     search finds its shortest cyclic prefix and drops the choices after
 *     it, as if never made: the search is then where choosing one at a
 *     time would have been, without retrying each dropped choice's other
 *     side.  (Before, the procedure guessed one side only and answered
 *     unknown on a cycle.)
 *  6. Reachability.  Each process's operations form a chain in session
 *     order, so "u reaches v" is one number per process: the latest
 *     operation of u's process that reaches v (a vector clock, computed
 *     in the topological order).  That is n x processes entries where a
 *     bit matrix would take n x n bits: a history of 100,000 operations
 *     of 8 processes needs 3 MiB, not 1.2 GiB.  The derived edges are the
 *     undo log itself (their successor lists are rebuilt at each closure),
 *     with a hash set to tell a new edge from a known one.  Saturation
 *     uses the same chains: the writes of key x by one process that r's
 *     write reaches are a suffix of them, and those that reach r a prefix,
 *     so a binary search finds the one edge of each kind needed per
 *     process.  The cost: a process replaced after every info operation
 *     adds a chain, and n x processes past the bound gives unknown.
 */
#include "sim/check/rw.h"
#include "sim/check/weak.h"

#include <string.h>

/* Edges are kept as (u << 32 | v) in a pointer-sized key. */
G_STATIC_ASSERT(sizeof(gsize) >= 8);

typedef struct {
    const RwHistory *rw;
    guint32 n;              /* graph nodes */
    guint32 *op;            /* node -> rw op */
    gint32 *node;           /* rw op -> node, or -1 */
    GHashTable *eset;       /* derived edges (u << 32 | v), for membership only */
    guint32 *pprev;         /* previous node of the same process, or G_MAXUINT32 */
    guint32 *chain, *pos;   /* each node's process (dense) and place in it */
    guint32 nchains;
    guint32 *vc;            /* reachability (note 6): n rows of nchains entries */
    guint32 *kstart, *kw;   /* the writes of key k: kw[kstart[k] .. kstart[k + 1]],
                             * by process, then session order */
    guint32 *kseg;          /* key k's runs of one process: seg[kseg[k] .. kseg[k + 1]] */
    guint32 *seg;           /* start of each run in kw; seg[last + 1] ends it */
    guint32 *order;         /* topological order */
    guint32 done;           /* nodes in it (n when acyclic) */
    gint64 *prio;           /* preference: completion position */
    GArray *log;            /* guint32 pairs (u, v): edges set in extra, in order */
} Sc;

/* Sets edge u -> v in extra, logging it so a backtrack can clear it
 * (note 5).  Returns 1 if it was new. */
static gpointer edge_key(guint32 u, guint32 v)
{
    return GSIZE_TO_POINTER(((gsize)u << 32) | v);
}

static guint64 add_edge(Sc *s, guint32 u, guint32 v)
{
    if (!g_hash_table_add(s->eset, edge_key(u, v))) return 0;
    guint32 e[2] = { u, v };
    g_array_append_vals(s->log, e, 2);
    return 1;
}

/* Clears the edges logged after position @mark. */
static void undo_to(Sc *s, guint mark)
{
    while (s->log->len > mark) {
        guint32 v = g_array_index(s->log, guint32, s->log->len - 1);
        guint32 u = g_array_index(s->log, guint32, s->log->len - 2);
        g_hash_table_remove(s->eset, edge_key(u, v));
        g_array_set_size(s->log, s->log->len - 2);
    }
}

/* One open choice of note 5: read r, its write w, the intruder w2. */
typedef struct {
    guint mark;             /* log length before the choice */
    guint32 r, w, w2;
    gboolean second;        /* the other side taken */
} Choice;

static const RwOp *nop(const Sc *s, guint32 v)
{
    return rw_op(s->rw, s->op[v]);
}

static gint32 rf_node(const Sc *s, guint32 v)
{
    gint32 rf = nop(s, v)->rf;
    return rf >= 0 ? s->node[rf] : rf;
}

/* Base predecessor edges of node v: session predecessor, write read. */
static guint32 base_preds(const Sc *s, guint32 v, guint32 out[2])
{
    guint32 k = 0;
    if (s->pprev[v] != G_MAXUINT32) out[k++] = s->pprev[v];
    gint32 rf = rf_node(s, v);
    if (rf >= 0) out[k++] = (guint32)rf;
    return k;
}

/* Min-heap of nodes by priority. */
typedef struct { guint32 *a; guint32 n; const gint64 *prio; } Heap;
static gboolean less(const Heap *h, guint32 x, guint32 y)
{
    return h->prio[x] != h->prio[y] ? h->prio[x] < h->prio[y] : x < y;
}
static void heap_push(Heap *h, guint32 v)
{
    guint32 i = h->n++;
    h->a[i] = v;
    while (i && less(h, h->a[i], h->a[(i - 1) / 2])) {
        guint32 t = h->a[i]; h->a[i] = h->a[(i - 1) / 2]; h->a[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}
static guint32 heap_pop(Heap *h)
{
    guint32 top = h->a[0];
    h->a[0] = h->a[--h->n];
    for (guint32 i = 0;;) {
        guint32 l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && less(h, h->a[l], h->a[m])) m = l;
        if (r < h->n && less(h, h->a[r], h->a[m])) m = r;
        if (m == i) break;
        guint32 t = h->a[i]; h->a[i] = h->a[m]; h->a[m] = t;
        i = m;
    }
    return top;
}

/* u reaches v (u != v) in the graph of the last closure (note 6). */
static gboolean reaches(const Sc *s, guint32 u, guint32 v)
{
    return s->vc[(gsize)v * s->nchains + s->chain[u]] > s->pos[u];
}

/* Topological order by preference, and reachability (note 6).  Returns
 * FALSE on a cycle. */
static gboolean closure(Sc *s)
{
    guint32 n = s->n, P = s->nchains;
    g_autofree guint32 *indeg = g_new0(guint32, n);
    g_autofree guint32 *succ_start = g_new0(guint32, n + 1);
    guint32 nlog = s->log->len / 2;
    const guint32 *logv = (const guint32 *)s->log->data;
    for (guint32 v = 0; v < n; v++) {
        guint32 p[2], k = base_preds(s, v, p);
        for (guint32 i = 0; i < k; i++) succ_start[p[i] + 1]++;
        indeg[v] += k;
    }
    for (guint32 e = 0; e < nlog; e++) {
        succ_start[logv[2 * e] + 1]++;
        indeg[logv[2 * e + 1]]++;
    }
    for (guint32 v = 0; v < n; v++) succ_start[v + 1] += succ_start[v];
    g_autofree guint32 *succ = g_new(guint32, MAX(succ_start[n], 1));
    g_autofree guint32 *fill = g_memdup2(succ_start, sizeof(guint32) * (n + 1));
    for (guint32 v = 0; v < n; v++) {
        guint32 p[2], k = base_preds(s, v, p);
        for (guint32 i = 0; i < k; i++) succ[fill[p[i]]++] = v;
    }
    for (guint32 e = 0; e < nlog; e++) succ[fill[logv[2 * e]]++] = logv[2 * e + 1];
    memset(s->vc, 0, (gsize)n * P * sizeof(guint32));
    g_autofree guint32 *heap = g_new(guint32, MAX(n, 1));
    Heap H = { .a = heap, .prio = s->prio };
    for (guint32 v = 0; v < n; v++)
        if (!indeg[v]) heap_push(&H, v);
    guint32 done = 0;
    while (H.n) {
        guint32 u = heap_pop(&H);
        s->order[done++] = u;
        guint32 *ru = s->vc + (gsize)u * P;
        ru[s->chain[u]] = s->pos[u] + 1;   /* u reaches itself */
        for (guint32 k = succ_start[u]; k < succ_start[u + 1]; k++) {
            guint32 v = succ[k];
            guint32 *rv = s->vc + (gsize)v * P;
            for (guint32 q = 0; q < P; q++) rv[q] = MAX(rv[q], ru[q]);
            if (--indeg[v] == 0) heap_push(&H, v);
        }
    }
    s->done = done;
    return done == n;
}

/* First index i in [a, b) of kw whose write w reaches (b if none): along
 * one process's writes, the ones w reaches are a suffix. */
static guint32 first_reached(const Sc *s, guint32 w, guint32 a, guint32 b)
{
    while (a < b) {
        guint32 mid = a + (b - a) / 2;
        if (reaches(s, w, s->kw[mid])) b = mid;
        else a = mid + 1;
    }
    return a;
}

/* First index i in [a, b) of kw (writes of process p) that does not reach
 * r (b if all do): the ones that reach r are a prefix. */
static guint32 first_not_reaching(const Sc *s, guint32 r, guint32 p, guint32 a, guint32 b)
{
    guint32 lim = s->vc[(gsize)r * s->nchains + p];   /* positions below it reach r */
    while (a < b) {
        guint32 mid = a + (b - a) / 2;
        if (s->pos[s->kw[mid]] >= lim) b = mid;
        else a = mid + 1;
    }
    return a;
}

/* Adds the forced edges (note 1); returns how many were new.  Per read and
 * per process writing its key, one edge of each kind suffices (note 6):
 * to the first write its write reaches, from the last write that reaches
 * it; session order implies the rest. */
static guint64 saturate_once(Sc *s)
{
    guint64 added = 0;
    for (guint32 r = 0; r < s->n; r++) {
        const RwOp *o = nop(s, r);
        if (!rw_reads(o)) continue;
        gint32 w = rf_node(s, r);
        for (guint32 g = s->kseg[o->key]; g < s->kseg[o->key + 1]; g++) {
            guint32 a = s->seg[g], b = s->seg[g + 1], p = s->chain[s->kw[a]];
            /* r before every write its write reaches (every write, when r
             * read the initial value); after r itself, session order
             * says so. */
            guint32 i = w == RW_INIT ? a : first_reached(s, (guint32)w, a, b);
            if (i < b && (gint32)s->kw[i] == w) i++;
            if (i < b && s->kw[i] != r && !reaches(s, r, s->kw[i]))
                added += add_edge(s, r, s->kw[i]);
            if (w < 0) continue;
            /* Every write that reaches r before r's write; up to w itself,
             * session order says so. */
            guint32 j = first_not_reaching(s, r, p, a, b);
            if (j > a && s->kw[j - 1] == r) j--;
            if (j > a && (gint32)s->kw[j - 1] != w && !reaches(s, s->kw[j - 1], (guint32)w))
                added += add_edge(s, s->kw[j - 1], (guint32)w);
        }
    }
    return added;
}

/* Replays the order; appends to @conflicts (guint32 triples r, w, w2)
 * every read r that did not see its write w, with w2 the write it saw
 * instead, and returns how many. */
static guint replay(const Sc *s, GArray *conflicts)
{
    g_autofree gint32 *cur = g_new(gint32, s->rw->nkeys);   /* node of the last write */
    for (guint32 k = 0; k < s->rw->nkeys; k++) cur[k] = RW_INIT;
    guint found = 0;
    for (guint32 i = 0; i < s->n; i++) {
        guint32 v = s->order[i];
        const RwOp *o = nop(s, v);
        gint32 w = rw_reads(o) ? rf_node(s, v) : RW_NONE;
        if (rw_reads(o) && w != cur[o->key]) {
            /* Note 2: r's write came before r (a base edge), and after
             * saturation a read of the initial value precedes every write
             * of its key, so both are real writes. */
            g_assert(w >= 0 && cur[o->key] >= 0);
            guint32 t[3] = { v, (guint32)w, (guint32)cur[o->key] };
            g_array_append_vals(conflicts, t, 3);
            found++;
        }
        if (rw_writes(o)) cur[o->key] = (gint32)v;
    }
    return found;
}

/* What puts @a before @b in the cycle (both indices into the rw
 * history), with the usual names: po (program order), rf (reads-from),
 * co (the order of a key's writes), fr (from-read: a read before the write
 * that replaced what it read). */
static const char *edge_label(const RwHistory *rw, guint32 a, guint32 b)
{
    const RwOp *x = rw_op(rw, a), *y = rw_op(rw, b);
    if (x->proc == y->proc)
        return "po: the same process did it next";
    if (rw_reads(y) && y->rf == (gint32)a)
        return "rf: the read below returned this write";
    if (x->key == y->key && rw_writes(y) && rw_reads(x) && !rw_writes(x))
        return "fr: this read saw a value that the write below replaced";
    if (x->key == y->key && rw_writes(x) && rw_writes(y))
        return "co: this write comes first in the key's order of writes";
    return "forced by the orders above";
}

static void explain_cycle(Sc *s, GString *report, json_t *json)
{
    /* The nodes Kahn's algorithm could not order each have an unordered
     * predecessor: walking back through them must come round (note 1). */
    g_autofree guint8 *left = g_new0(guint8, s->n);
    for (guint32 v = 0; v < s->n; v++) left[v] = 1;
    for (guint32 i = 0; i < s->done; i++) left[s->order[i]] = 0;
    g_autofree gint32 *seen = g_new(gint32, s->n);
    for (guint32 v = 0; v < s->n; v++) seen[v] = -1;
    g_autoptr(GArray) path = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(GArray) cyc = g_array_new(FALSE, FALSE, sizeof(guint32));
    guint32 nlog = s->log->len / 2;
    const guint32 *logv = (const guint32 *)s->log->data;
    g_autofree guint32 *in_start = g_new0(guint32, s->n + 1);
    for (guint32 e = 0; e < nlog; e++) in_start[logv[2 * e + 1] + 1]++;
    for (guint32 x = 0; x < s->n; x++) in_start[x + 1] += in_start[x];
    g_autofree guint32 *in = g_new(guint32, MAX(nlog, 1));
    g_autofree guint32 *fill = g_memdup2(in_start, sizeof(guint32) * (s->n + 1));
    for (guint32 e = 0; e < nlog; e++) in[fill[logv[2 * e + 1]]++] = logv[2 * e];
    guint32 v = 0;
    while (v < s->n && !left[v]) v++;
    while (v < s->n && seen[v] < 0) {
        seen[v] = (gint32)path->len;
        g_array_append_val(path, v);
        /* The smallest unordered predecessor, as before; the derived
         * edges into v come from the reverse lists. */
        gint64 next = -1;
        guint32 p[2], k = base_preds(s, v, p);
        for (guint32 i = 0; i < k; i++)
            if (left[p[i]] && (next < 0 || p[i] < next)) next = p[i];
        for (guint32 i = in_start[v]; i < in_start[v + 1]; i++)
            if (left[in[i]] && (next < 0 || in[i] < next)) next = in[i];
        if (next < 0) break;
        v = (guint32)next;
    }
    if (v < s->n && seen[v] >= 0)
        for (gint64 k = (gint64)path->len - 1; k >= seen[v]; k--)
            g_array_append_val(cyc, g_array_index(path, guint32, k));
    if (report) {
        g_string_append(report, "The history is not sequentially consistent: each operation "
                        "below must come before the next, and the last before the first, so no "
                        "one order of all operations explains it.  Each step says why:\n");
        for (guint i = 0; i < cyc->len; i++) {
            guint32 a = s->op[g_array_index(cyc, guint32, i)];
            guint32 b = s->op[g_array_index(cyc, guint32, (i + 1) % cyc->len)];
            rw_show(s->rw, a, report);
            g_string_append_printf(report, "      %s %s\n", i + 1 < cyc->len ? "then" : "and back to the first:",
                                   edge_label(s->rw, a, b));
        }
    }
    if (json) {
        json_t *a = json_array();
        for (guint i = 0; i < cyc->len; i++)
            json_array_append_new(a, rw_json(s->rw, s->op[g_array_index(cyc, guint32, i)]));
        json_object_set_new(json, "cycle", a);
    }
}

/* Orders writes by process, then by place in it (unique: no ties). */
static gint by_chain(gconstpointer x, gconstpointer y, gpointer data)
{
    const Sc *s = data;
    guint32 a = *(const guint32 *)x, b = *(const guint32 *)y;
    if (s->chain[a] != s->chain[b]) return s->chain[a] < s->chain[b] ? -1 : 1;
    return s->pos[a] < s->pos[b] ? -1 : s->pos[a] > s->pos[b];
}

/* Closes and saturates until nothing changes (note 1).  Returns FALSE on
 * a cycle; sets *@timed_out when the deadline passed. */
static gboolean settle(Sc *s, gint64 deadline_us, gboolean *timed_out)
{
    *timed_out = FALSE;
    for (;;) {
        gboolean acyclic = closure(s);
        if (deadline_us > 0 && g_get_monotonic_time() > deadline_us) {
            *timed_out = TRUE;
            return FALSE;
        }
        if (!acyclic || saturate_once(s) == 0) return acyclic;
    }
}

/* Adds the edge of choice @c's first side ("r before w2", or "w2 before
 * w" when @writes_first); returns 1 if it was new. */
static guint64 first_side(Sc *s, const Choice *c, gboolean writes_first)
{
    return writes_first ? add_edge(s, c->w2, c->w) : add_edge(s, c->r, c->w2);
}

/* Undoes everything from choice @base of @stack on, then makes the first
 * @k choices of the round again (note 5), with their marks. */
static void apply_prefix(Sc *s, GArray *stack, guint base, guint k, gboolean writes_first)
{
    undo_to(s, g_array_index(stack, Choice, base).mark);
    for (guint i = 0; i < k; i++) {
        Choice *c = &g_array_index(stack, Choice, base + i);
        c->mark = s->log->len;
        first_side(s, c, writes_first);
    }
}

/* The search of note 5 tried every order: it names the first choice,
 * which no SC order can make. */
static void explain_choice(Sc *s, const Choice *c, GString *report, json_t *json)
{
    if (report) {
        g_string_append(report, "The history is not sequentially consistent: no order of the "
                        "writes works.  The search tried every way to order them (session order, "
                        "reads-from, and for each read the writes that must not come between it "
                        "and the write it read); each ends in a cycle.  The first choice: the "
                        "second write below must come before the first or after the read, and "
                        "neither is possible:\n");
        rw_show(s->rw, s->op[c->w], report);
        rw_show(s->rw, s->op[c->w2], report);
        rw_show(s->rw, s->op[c->r], report);
    }
    if (json) {
        json_t *a = json_array();
        json_array_append_new(a, rw_json(s->rw, s->op[c->w]));
        json_array_append_new(a, rw_json(s->rw, s->op[c->w2]));
        json_array_append_new(a, rw_json(s->rw, s->op[c->r]));
        json_object_set_new(json, "no_order", a);
    }
}

FlVerdict fl_check_sequential_multikey(FlHistory *h, gint64 deadline_us, GString *report,
                                       json_t *json)
{
    return fl_check_sequential_search(h, deadline_us, report, json, FALSE);
}

FlVerdict fl_check_sequential_search(FlHistory *h, gint64 deadline_us, GString *report,
                                     json_t *json, gboolean writes_first)
{
    g_autoptr(GString) why = g_string_new(NULL);
    RwHistory *rw = rw_new(h, FALSE, why);
    FlVerdict v = FL_VERDICT_UNKNOWN;
    Sc s = { .rw = rw };
    GArray *stack = NULL;   /* Choice: the open choices of note 5 */
    GArray *conflicts = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autofree guint8 *read_from = NULL;
    guint32 total = 0;
    if (!rw) goto out;
    if (rw->is_kv) {
        for (guint32 i = 0; i < h->ops->len; i++)
            if (g_array_index(h->ops, FlOp, i).f == 2 &&
                g_array_index(h->ops, FlOp, i).status != FL_OP_FAIL) {
                g_string_assign(why, "appends are not register writes; this check reads "
                                "register histories and kv histories of get and put");
                goto out;
            }
    }
    if (rw->duplicates) {
        /* Reads-from is known only when written values are unique (rw.h
         * attributes a repeated value to its first write): an invalid
         * answer could be wrong, so only the fallback of note 4 may
         * decide. */
        g_string_printf(why, "%u writes repeat a value written before to the same key, so "
                        "which write a read returned is not known; this check needs unique "
                        "written values", rw->duplicates);
        goto out;
    }
    /* Nodes (note 3). */
    total = rw->ops->len;
    read_from = g_new0(guint8, MAX(total, 1));
    for (guint32 i = 0; i < total; i++) {
        const RwOp *o = rw_op(rw, i);
        if (o->rf >= 0) read_from[o->rf] = 1;
        if (o->rf == RW_THIN_AIR) {
            if (report)
                g_string_append(report, "The history is not sequentially consistent: a read "
                                "returned a value that no write wrote:\n");
            if (report) rw_show(rw, i, report);
            if (json) {
                json_t *a = json_array();
                json_array_append_new(a, rw_json(rw, i));
                json_object_set_new(json, "thin_air", a);
            }
            v = FL_VERDICT_INVALID;
            goto out;
        }
    }
    s.node = g_new(gint32, MAX(total, 1));
    s.op = g_new(guint32, MAX(total, 1));
    for (guint32 i = 0; i < total; i++) {
        const RwOp *o = rw_op(rw, i);
        s.node[i] = -1;
        if (o->info && !read_from[i]) continue;
        s.node[i] = (gint32)s.n;
        s.op[s.n++] = i;
    }
    /* Note 6: a row of one entry per process for each operation. */
    s.nchains = MAX(rw->nprocs, 1);
    if ((guint64)s.n * s.nchains * sizeof(guint32) > RW_MAX_BITS_BYTES) {
        g_string_printf(why, "%u operations of %u processes are more than this checker's bound",
                        s.n, s.nchains);
        goto out;
    }
    s.vc = g_new(guint32, MAX((gsize)s.n * s.nchains, 1));
    s.pprev = g_new(guint32, MAX(s.n, 1));
    s.chain = g_new(guint32, MAX(s.n, 1));
    s.pos = g_new(guint32, MAX(s.n, 1));
    s.kstart = g_new0(guint32, rw->nkeys + 1);
    s.order = g_new(guint32, MAX(s.n, 1));
    s.prio = g_new(gint64, MAX(s.n, 1));
    s.eset = g_hash_table_new(g_direct_hash, g_direct_equal);
    {
        g_autofree guint32 *plen = g_new0(guint32, s.nchains);
        g_autofree guint32 *plast = g_new(guint32, s.nchains);
        for (guint32 u = 0; u < s.n; u++) {
            const RwOp *o = nop(&s, u);
            const FlOp *op = &g_array_index(h->ops, FlOp, o->op);
            s.prio[u] = op->ret == FL_POS_INF ? op->inv : op->ret;
            /* Session order between the operations kept (note 3 drops only
             * info writes, which end their process). */
            s.chain[u] = o->proc;
            s.pos[u] = plen[o->proc]++;
            s.pprev[u] = s.pos[u] ? plast[o->proc] : G_MAXUINT32;
            plast[o->proc] = u;
            if (rw_writes(o)) s.kstart[o->key + 1]++;
        }
        for (guint32 k = 0; k < rw->nkeys; k++) s.kstart[k + 1] += s.kstart[k];
        s.kw = g_new(guint32, MAX(s.kstart[rw->nkeys], 1));
        g_autofree guint32 *kfill = g_memdup2(s.kstart, sizeof(guint32) * (rw->nkeys + 1));
        for (guint32 u = 0; u < s.n; u++)
            if (rw_writes(nop(&s, u))) s.kw[kfill[nop(&s, u)->key]++] = u;
        /* Each key's writes by process, then session order (note 6). */
        for (guint32 k = 0; k < rw->nkeys; k++)
            g_qsort_with_data(s.kw + s.kstart[k], (gint)(s.kstart[k + 1] - s.kstart[k]),
                              sizeof(guint32), by_chain, &s);
        guint32 nw = s.kstart[rw->nkeys];
        s.kseg = g_new0(guint32, rw->nkeys + 1);
        s.seg = g_new(guint32, nw + 1);
        guint32 nseg = 0;
        for (guint32 k = 0; k < rw->nkeys; k++) {
            s.kseg[k] = nseg;
            for (guint32 i = s.kstart[k]; i < s.kstart[k + 1]; i++)
                if (i == s.kstart[k] || s.chain[s.kw[i]] != s.chain[s.kw[i - 1]])
                    s.seg[nseg++] = i;
        }
        s.kseg[rw->nkeys] = nseg;
        s.seg[nseg] = nw;
    }
    s.log = g_array_new(FALSE, FALSE, sizeof(guint32));
    stack = g_array_new(FALSE, FALSE, sizeof(Choice));
    Choice first = { 0 };
    gboolean branched = FALSE;
    guint round_base = 0;      /* stack length before the last round's choices */
    gboolean fresh = FALSE;    /* the last round's choices are untested */
    for (;;) {
        gboolean timed_out;
        gboolean acyclic = settle(&s, deadline_us, &timed_out);
        if (timed_out) {
            g_string_assign(why, "no verdict within the time limit");
            goto out;
        }
        if (acyclic) {
            g_array_set_size(conflicts, 0);
            if (replay(&s, conflicts) == 0) {
                v = FL_VERDICT_VALID;
                break;
            }
            /* Note 5: one choice per read the replay got wrong, each
             * taking its first side. */
            round_base = stack->len;
            for (guint i = 0; i < conflicts->len; i += 3) {
                Choice c = { .mark = s.log->len,
                             .r = g_array_index(conflicts, guint32, i),
                             .w = g_array_index(conflicts, guint32, i + 1),
                             .w2 = g_array_index(conflicts, guint32, i + 2) };
                if (!first_side(&s, &c, writes_first))
                    continue;   /* settled by an earlier choice of this round */
                if (!branched) first = c;
                branched = TRUE;
                g_array_append_val(stack, c);
            }
            fresh = TRUE;
            continue;
        }
        if (!branched) {
            /* A cycle among forced edges: the explanation (note 1). */
            explain_cycle(&s, report, json);
            v = FL_VERDICT_INVALID;
            goto out;
        }
        if (fresh && stack->len - round_base > 1) {
            /* Note 5: the shortest prefix of the round that is cyclic; the
             * choices after it are dropped as if never made. */
            guint lo = 1, hi = stack->len - round_base;
            while (lo < hi) {
                guint mid = lo + (hi - lo) / 2;
                apply_prefix(&s, stack, round_base, mid, writes_first);
                gboolean cyclic = !settle(&s, deadline_us, &timed_out);
                if (timed_out) {
                    g_string_assign(why, "no verdict within the time limit");
                    goto out;
                }
                if (cyclic) hi = mid;
                else lo = mid + 1;
            }
            apply_prefix(&s, stack, round_base, lo, writes_first);
            g_array_set_size(stack, round_base + lo);
        }
        fresh = FALSE;
        /* Note 5: back to the latest choice with an untried side. */
        while (stack->len && g_array_index(stack, Choice, stack->len - 1).second)
            g_array_set_size(stack, stack->len - 1);
        if (!stack->len) {
            explain_choice(&s, &first, report, json);
            v = FL_VERDICT_INVALID;
            goto out;
        }
        Choice *c = &g_array_index(stack, Choice, stack->len - 1);
        undo_to(&s, c->mark);
        c->second = TRUE;
        /* The edge may be set already, by an earlier choice of the same
         * round: then this state already obeys the second side. */
        first_side(&s, c, !writes_first);
    }
out:
    if (v == FL_VERDICT_UNKNOWN && (deadline_us <= 0 || g_get_monotonic_time() < deadline_us)) {
        /* Note 4: a linearizable history is sequentially consistent, and
         * linearizability is decided key by key (it composes). */
        double left = deadline_us > 0 ? (double)(deadline_us - g_get_monotonic_time()) / 1e6 : 0;
        if (fl_check_history(h, "linearizable", deadline_us > 0 ? MAX(left, 1e-6) : 0, NULL, NULL,
                             NULL) == FL_VERDICT_VALID) {
            v = FL_VERDICT_VALID;
            if (report)
                g_string_append_printf(report, "%u operations: linearizable (every key can be "
                                       "ordered in real time), hence sequentially consistent\n",
                                       h->ops->len);
            goto done;
        }
    }
    if (report && v == FL_VERDICT_VALID)
        g_string_append_printf(report, "%u operations: one order of all operations keeps every "
                               "process's order and explains every read\n", s.n);
    if (report && v == FL_VERDICT_UNKNOWN)
        g_string_append_printf(report, "No verdict: %s.\n", why->str);
    if (json && v == FL_VERDICT_UNKNOWN) json_object_set_new(json, "unsupported", json_string(why->str));
done:
    if (s.eset) g_hash_table_unref(s.eset);
    g_free(s.vc);
    g_free(s.pprev);
    g_free(s.chain);
    g_free(s.pos);
    g_free(s.kstart);
    g_free(s.kseg);
    g_free(s.seg);
    g_free(s.kw);
    g_free(s.order);
    g_free(s.prio);
    g_free(s.node);
    g_free(s.op);
    if (s.log) g_array_unref(s.log);
    if (stack) g_array_unref(stack);
    g_array_unref(conflicts);
    rw_free(rw);
    return v;
}
