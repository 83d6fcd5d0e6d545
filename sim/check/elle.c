/* sim/check/elle.c: transactional isolation from list-append and
 * rw-register histories, after Elle (Kingsbury and Alvaro, VLDB 2020) and
 * Adya's anomalies (Adya, PhD thesis, MIT 1999).
 *
 * Design notes.
 *  1. Loading.  Two models for the history loader (history.c), each with
 *     one operation, "txn", parse the micro-ops into the history's item
 *     list, so that pairing, process rules and error messages are the ones
 *     every history gets.  A micro-op is stored as guint32s: its code, its
 *     key's atom, then the appended or written value's atom, a known list
 *     read's length and elements, a known register read's value (null's
 *     atom for nil), or nothing for a read whose result is unknown (on an
 *     invocation, and so on every info transaction).  op->a counts the
 *     micro-ops.
 *  2. Nodes are operations (index i is transaction T(i+1)); a failed one has
 *     no edge: it did not take effect, and only tells us which values were
 *     aborted (G1a, dirty update).  An info one may have taken effect: its
 *     writes count when someone reads them, its reads are unknown.
 *  3. Writes: one table from (key, value) to the write (transaction,
 *     micro-op, position in the key's version order).  Values must be
 *     unique per key; a repeated one is bad input (exit 2).
 *  4. list-append.  A key's version order is its longest read; every other
 *     read must be a prefix of it (else: incompatible order).  For a read
 *     of length m by T: the writer of its last element wr-precedes T; T
 *     rw-precedes the writer of element m+1 of the order (what T did not
 *     see).  Consecutive elements of the order written by different
 *     transactions give ww.  Reads of one's own appends give no edge.
 *  5. rw-register.  Unique writes give wr.  A version's predecessor is
 *     known when its writer read the key (from another transaction) before
 *     writing it: then the writer of the predecessor ww-precedes it, and
 *     every transaction that read the predecessor rw-precedes it.  nil (the
 *     initial state) precedes every version: a transaction that read nil
 *     rw-precedes every writer whose version has no other known
 *     predecessor.  Nothing else is inferred (no assumption that keys are
 *     linearizable).
 *  6. Orders for the session- and strict- models: process order (each
 *     process's consecutive transactions) and real time (T1 completed before
 *     T2 was invoked), the latter as its transitive reduction: a frontier
 *     of completed transactions that no later completion dominates; each
 *     invocation gets an edge from each member.  Edges: O(n x concurrency).
 *  7. Cycles: Tarjan's strongly connected components over the edge kinds a
 *     variant allows (data only; + process; + process and real time), then
 *     per component and anomaly class the shortest cycle by breadth-first
 *     search over (transaction, state), where the state is what the class
 *     needs to know of the path so far (the number of rw edges, whether
 *     the last edge was rw, whether two rw edges were adjacent), starting
 *     with the edge kind the class cannot do without (G0 ww, G1c wr, the
 *     others rw), so that every rotation of a cycle is tried from its
 *     distinguished edge.  Classes: G0 (ww only), G1c (ww and wr, at least
 *     one wr), G-single (exactly one rw), G-nonadjacent (at least two rw,
 *     no two adjacent), G2-item (at least two rw, two of them adjacent).  A
 *     search has a budget of states per component; beyond it, what was
 *     found is reported as found and a class not found is undecided.
 *  8. Variants: a class is searched with process edges only if it was not
 *     found (completely searched) without them, and with real-time edges
 *     only if not found with process edges; so "G-single-realtime" means no
 *     G-single cycle exists without real time.
 *  9. Models and what they proscribe (Adya; Elle's table): read-uncommitted
 *     G0; read-committed also G1a, G1b, G1c, dirty update;
 *     repeatable-read also G-single, G-nonadjacent, G2-item, lost update;
 *     snapshot-isolation read-committed's and G-single, G-nonadjacent,
 *     lost update; serializable both.  session-M also proscribes the
 *     -process variants of M's cycles, strict-M the -process and -realtime
 *     ones.  Internal inconsistency, future reads, garbage reads,
 *     duplicate elements and incompatible orders are allowed by no model.
 * 10. Output never depends on hash-table order: transactions, keys and
 *     components are visited in history order.
 */
#include "sim/check/elle.h"
#include "sim/check/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Micro-ops in the item list (note 1) ---- */

enum { MOP_APPEND = 1, MOP_WRITE, MOP_READ_LIST, MOP_READ_REG, MOP_READ_UNKNOWN };

static const char *const txn_ops[] = { "txn", NULL };

static gboolean scalar(const FlVal *v)
{
    return v->kind == FL_VAL_INT || v->kind == FL_VAL_STR || v->kind == FL_VAL_KEYWORD;
}

static gboolean name_is(const FlVal *v, const char *s)
{
    return (v->kind == FL_VAL_STR || v->kind == FL_VAL_KEYWORD) && v->str.len == strlen(s) &&
           memcmp(v->str.s, s, v->str.len) == 0;
}

static gboolean parse_txn(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok,
                          GString *why, gboolean list)
{
    const char *wname = list ? "append" : "w";
    if (v->kind != FL_VAL_VEC) {
        g_string_append_printf(why, "expected the transaction as a list of micro-ops "
                               "[[\"%s\", k, v], [\"r\", k, %s], ...], got %s", wname,
                               list ? "[v...]" : "v", fl_val_kind_name(v));
        return FALSE;
    }
    guint32 start = ctx->items->len;
    for (gsize i = 0; i < v->seq.n; i++) {
        const FlVal *m = v->seq.items[i];
        if (m->kind != FL_VAL_VEC || m->seq.n != 3) {
            g_string_append_printf(why, "expected micro-op %zu to be a list of three, "
                                   "[f, key, value] (f \"%s\" or \"r\"), got %s", i + 1, wname,
                                   m->kind == FL_VAL_VEC ? "a list of another length"
                                   : fl_val_kind_name(m));
            goto bad;
        }
        const FlVal *f = m->seq.items[0], *k = m->seq.items[1], *x = m->seq.items[2];
        gboolean read = name_is(f, "r");
        if (!read && !name_is(f, wname)) {
            g_string_append_printf(why, "expected micro-op %zu's f to be \"%s\" or \"r\" "
                                   "(model %s)", i + 1, wname, list ? "list-append" : "rw-register");
            goto bad;
        }
        if (!scalar(k)) {
            g_string_append_printf(why, "expected micro-op %zu's key to be an integer or a "
                                   "string, got %s", i + 1, fl_val_kind_name(k));
            goto bad;
        }
        FlAtom key = fl_atoms_value(ctx->atoms, k);
        if (!read) {
            if (!scalar(x)) {
                g_string_append_printf(why, "expected micro-op %zu's value to be an integer "
                                       "or a string, got %s", i + 1, fl_val_kind_name(x));
                goto bad;
            }
            guint32 w[3] = { list ? MOP_APPEND : MOP_WRITE, key, fl_atoms_value(ctx->atoms, x) };
            g_array_append_vals(ctx->items, w, 3);
            continue;
        }
        if (!ok) {
            guint32 w[2] = { MOP_READ_UNKNOWN, key };
            g_array_append_vals(ctx->items, w, 2);
            continue;
        }
        if (!list) {
            if (x->kind != FL_VAL_NULL && !scalar(x)) {
                g_string_append_printf(why, "expected micro-op %zu's read to be nil, an "
                                       "integer or a string, got %s", i + 1, fl_val_kind_name(x));
                goto bad;
            }
            guint32 w[3] = { MOP_READ_REG, key, fl_atoms_value(ctx->atoms, x) };
            g_array_append_vals(ctx->items, w, 3);
            continue;
        }
        if (x->kind != FL_VAL_NULL && x->kind != FL_VAL_VEC) {
            g_string_append_printf(why, "expected micro-op %zu's read to be a list of "
                                   "elements (or nil), got %s", i + 1, fl_val_kind_name(x));
            goto bad;
        }
        gsize n = x->kind == FL_VAL_VEC ? x->seq.n : 0;
        guint32 w[3] = { MOP_READ_LIST, key, (guint32)n };
        g_array_append_vals(ctx->items, w, 3);
        for (gsize j = 0; j < n; j++) {
            if (!scalar(x->seq.items[j])) {
                g_string_append_printf(why, "expected element %zu of micro-op %zu's read to be "
                                       "an integer or a string, got %s", j + 1, i + 1,
                                       fl_val_kind_name(x->seq.items[j]));
                goto bad;
            }
            FlAtom e = fl_atoms_value(ctx->atoms, x->seq.items[j]);
            g_array_append_val(ctx->items, e);
        }
    }
    op->items = start;
    op->n_items = ctx->items->len - start;
    op->a = (FlAtom)v->seq.n;
    return TRUE;
bad:
    g_array_set_size(ctx->items, start);
    return FALSE;
}

static gboolean parse_list(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok, GString *why)
{
    return parse_txn(ctx, op, v, ok, why, TRUE);
}

static gboolean parse_reg(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok, GString *why)
{
    return parse_txn(ctx, op, v, ok, why, FALSE);
}

/* The search never runs on these models: init and step only satisfy the
 * interface. */
static void no_init(FlModelCtx *ctx, GByteArray *state)
{
    (void)ctx;
    (void)state;
}

static gboolean no_step(FlModelCtx *ctx, const guint8 *state, gsize len, const FlOp *op,
                        GByteArray *next)
{
    (void)ctx; (void)state; (void)len; (void)op; (void)next;
    return FALSE;
}

static void no_show(FlModelCtx *ctx, const guint8 *state, gsize len, GString *out)
{
    (void)ctx; (void)state; (void)len; (void)out;
}

static const FlModel model_list = {
    .name = "list-append", .ops = txn_ops, .parse = parse_list,
    .init = no_init, .step = no_step, .show_state = no_show,
};
static const FlModel model_reg = {
    .name = "rw-register", .ops = txn_ops, .parse = parse_reg,
    .init = no_init, .step = no_step, .show_state = no_show,
};

gboolean fl_elle_model(const char *model)
{
    return model && (strcmp(model, "list-append") == 0 || strcmp(model, "rw-register") == 0);
}

/* ---- Models and anomalies (note 9) ---- */

enum { M_RU, M_RC, M_RR, M_SI, M_SER, N_BASE };
static const char *const base_names[N_BASE] = {
    "read-uncommitted", "read-committed", "repeatable-read", "snapshot-isolation", "serializable",
};

const char *const *fl_elle_consistency_names(void)
{
    static const char *const names[] = {
        "read-uncommitted", "read-committed", "repeatable-read", "snapshot-isolation",
        "serializable",
        "session-read-uncommitted", "session-read-committed", "session-repeatable-read",
        "session-snapshot-isolation", "session-serializable",
        "strict-read-uncommitted", "strict-read-committed", "strict-repeatable-read",
        "strict-snapshot-isolation", "strict-serializable",
        NULL,
    };
    return names;
}

const char *fl_elle_consistency_doc(const char *name)
{
    /* In the order of fl_elle_consistency_names. */
    static const char *const docs[] = {
        "transactions (list-append, rw-register): no G0 (dirty write)",
        "transactions: read-uncommitted, and no G1a, G1b, G1c, dirty update",
        "transactions: read-committed, and no G-single, G-nonadjacent, G2-item, lost update",
        "transactions: read-committed, and no G-single, G-nonadjacent, lost update",
        "transactions: repeatable-read and snapshot-isolation",
        "transactions (list-append, rw-register): no G0 (dirty write) (with each process's order)",
        "transactions: read-uncommitted, and no G1a, G1b, G1c, dirty update (with each process's order)",
        "transactions: read-committed, and no G-single, G-nonadjacent, G2-item, lost update (with each process's order)",
        "transactions: read-committed, and no G-single, G-nonadjacent, lost update (with each process's order)",
        "transactions: repeatable-read and snapshot-isolation (with each process's order)",
        "transactions (list-append, rw-register): no G0 (dirty write) (with real-time order)",
        "transactions: read-uncommitted, and no G1a, G1b, G1c, dirty update (with real-time order)",
        "transactions: read-committed, and no G-single, G-nonadjacent, G2-item, lost update (with real-time order)",
        "transactions: read-committed, and no G-single, G-nonadjacent, lost update (with real-time order)",
        "transactions: repeatable-read and snapshot-isolation (with real-time order)",
    };
    const char *const *names = fl_elle_consistency_names();
    for (gsize i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) return docs[i];
    return NULL;
}

#define ALL ((1u << N_BASE) - 1)
#define RC_UP ((1u << M_RC) | (1u << M_RR) | (1u << M_SI) | (1u << M_SER))
#define RR_SI ((1u << M_RR) | (1u << M_SI) | (1u << M_SER))
#define RR_ONLY ((1u << M_RR) | (1u << M_SER))

enum { C_G0, C_G1C, C_GSINGLE, C_GNONADJ, C_G2, N_CYC };
static const char *const cyc_names[N_CYC] = { "G0", "G1c", "G-single", "G-nonadjacent", "G2-item" };
static const guint cyc_forbid[N_CYC] = { ALL, RC_UP, RR_SI, RR_SI, RR_ONLY };
static const char *const cyc_doc[N_CYC] = {
    "a cycle of write-write dependencies (dirty write)",
    "a cycle of write-write and write-read dependencies (circular information flow)",
    "a cycle with exactly one read-write anti-dependency (read skew)",
    "a cycle with read-write anti-dependencies, no two of them adjacent",
    "a cycle with read-write anti-dependencies, two of them adjacent (write skew)",
};

enum { A_G1A, A_G1B, A_DIRTY, A_LOST, A_INTERNAL, A_FUTURE, A_GARBAGE, A_DUP, A_ORDER, N_ANOM };
static const char *const anom_names[N_ANOM] = {
    "G1a", "G1b", "dirty-update", "lost-update", "internal", "future-read", "garbage-read",
    "duplicate-elements", "incompatible-order",
};
static const guint anom_forbid[N_ANOM] = { RC_UP, RC_UP, RC_UP, RR_SI, ALL, ALL, ALL, ALL, ALL };
static const char *const anom_doc[N_ANOM] = {
    "aborted read: a committed transaction read a value that a failed one wrote",
    "intermediate read: a transaction read a value that its writer later overwrote itself",
    "a committed write follows an aborted one in a key's order",
    "two committed transactions read the same version of a key and both wrote it",
    "a transaction's read disagrees with its own earlier reads and writes",
    "a transaction read a value that it writes only later",
    "a read returned a value that no transaction wrote",
    "a read returned a list with an element twice",
    "two reads of a key return lists neither of which is a prefix of the other",
};

enum { V_BASE, V_PROCESS, V_REALTIME, N_VAR };
static const char *const var_suffix[N_VAR] = { "", "-process", "-realtime" };

enum { K_WW = 1, K_WR = 2, K_RW = 4, K_PO = 8, K_RT = 16 };
static const guint8 var_extra[N_VAR] = { 0, K_PO, K_PO | K_RT };

#define SHOWN_PER_ANOMALY 3
#define BUDGET_PER_SEARCH 4000000u
#define NONE G_MAXUINT32

/* ---- A hash map from 64-bit keys to 32-bit values ---- */

typedef struct {
    guint64 *keys;
    guint32 *vals;   /* value + 1; 0: empty */
    gsize mask, count;
} Map64;

static void map_init(Map64 *m, gsize hint)
{
    gsize cap = 64;
    while (cap < hint * 2) cap <<= 1;
    m->mask = cap - 1;
    m->count = 0;
    m->keys = g_new(guint64, cap);
    m->vals = g_new0(guint32, cap);
}

static void map_clear(Map64 *m)
{
    g_free(m->keys);
    g_free(m->vals);
}

static gsize map_slot(const Map64 *m, guint64 k)
{
    guint64 h = k * 0x9E3779B97F4A7C15ull;
    gsize i = (gsize)(h >> 20) & m->mask;
    while (m->vals[i] && m->keys[i] != k) i = (i + 1) & m->mask;
    return i;
}

static guint32 map_get(const Map64 *m, guint64 k)
{
    gsize i = map_slot(m, k);
    return m->vals[i] ? m->vals[i] - 1 : NONE;
}

static void map_put(Map64 *m, guint64 k, guint32 v)
{
    if ((m->count + 1) * 2 > m->mask + 1) {
        Map64 n;
        map_init(&n, m->mask + 1);
        for (gsize i = 0; i <= m->mask; i++)
            if (m->vals[i]) {
                gsize j = map_slot(&n, m->keys[i]);
                n.keys[j] = m->keys[i];
                n.vals[j] = m->vals[i];
                n.count++;
            }
        map_clear(m);
        *m = n;
    }
    gsize i = map_slot(m, k);
    if (!m->vals[i]) m->count++;
    m->keys[i] = k;
    m->vals[i] = v + 1;
}

#define KV(k, v) (((guint64)(k) << 32) | (guint64)(v))

/* ---- The checker's state ---- */

typedef struct {
    guint32 txn;      /* op index */
    guint32 mop;      /* item index of the micro-op */
    guint32 pos;      /* in the key's version order (list), or NONE */
    FlAtom pred;      /* register: the version read before (note 5), or NONE */
    guint16 ord;      /* the micro-op's place in its transaction */
    guint8 later;     /* the transaction writes the key again later */
} Write;

typedef struct {
    FlAtom atom;
    guint32 longest_txn, longest_mop, longest_len;   /* list-append: the order */
    guint32 lw_at;        /* list-append: E->lw[lw_at + i] is the write of
                           * element i of the order (NONE: no one wrote it) */
    guint32 clean_len;    /* the order's longest prefix of distinct elements
                           * written by transactions that did not fail */
} Key;

typedef struct {
    guint32 src, dst;
    guint8 kind;
} Edge;

typedef struct {
    guint count;
    GPtrArray *texts;     /* the first SHOWN_PER_ANOMALY, owned */
    GArray *txns;         /* guint32, the transactions of the first one */
} Anom;

typedef struct {
    gboolean found, incomplete, approx;
    guint32 len;
    guint32 *nodes;       /* len transactions */
    guint8 *kinds;        /* kinds[i]: the edge nodes[i] -> nodes[i+1 mod len] */
    guint components;     /* components where one was found */
} Cyc;

typedef struct {
    FlHistory *h;
    gboolean list;
    guint32 n;                 /* ops */
    const guint32 *items;
    GArray *writes;            /* Write */
    Map64 wmap;                /* KV(key, value) -> write index */
    GArray *keys;              /* Key */
    Map64 kmap;                /* key atom -> Key index */
    GArray *edges;             /* Edge */
    GArray *lw;                /* guint32, see Key.lw_at */
    Anom anom[N_ANOM];
    Cyc cyc[N_VAR][N_CYC];
    /* The graph, in compressed rows. */
    guint32 *row;              /* n + 1 */
    guint32 *dst;
    guint8 *kind;
    gint64 deadline;
    gboolean timed_out;
    guint64 edges_by_kind[5];
} Elle;

static const FlOp *op_at(const Elle *E, guint32 i)
{
    return &g_array_index(E->h->ops, FlOp, i);
}

static gboolean is_node(const Elle *E, guint32 i)
{
    return op_at(E, i)->status != FL_OP_FAIL;
}

/* Size in items of the micro-op at @p. */
static guint32 mop_size(const guint32 *p)
{
    switch (p[0]) {
    case MOP_APPEND: case MOP_WRITE: case MOP_READ_REG: return 3;
    case MOP_READ_LIST: return 3 + p[2];
    default: return 2;
    }
}

static Key *key_of(Elle *E, FlAtom atom)
{
    guint32 k = map_get(&E->kmap, atom);
    if (k == NONE) {
        Key nk = { .atom = atom, .longest_txn = NONE, .longest_mop = NONE };
        g_array_append_val(E->keys, nk);
        k = E->keys->len - 1;
        map_put(&E->kmap, atom, k);
    }
    return &g_array_index(E->keys, Key, k);
}

static Write *write_of(Elle *E, FlAtom key, FlAtom v)
{
    guint32 w = map_get(&E->wmap, KV(key, v));
    return w == NONE ? NULL : &g_array_index(E->writes, Write, w);
}

static void atom_text(const Elle *E, FlAtom a, GString *out)
{
    gsize len;
    if (fl_atoms_kind(E->h->ctx.atoms, a) == FL_ATOM_KIND_STR) {
        const char *s = fl_atoms_bytes(E->h->ctx.atoms, a, &len);
        g_string_append_len(out, s, (gssize)len);
        return;
    }
    fl_atoms_to_json(E->h->ctx.atoms, a, out);
}

/* A list read as [a b c], its first elements elided past 8. */
static void list_text(const Elle *E, const guint32 *els, guint32 n, GString *out)
{
    g_string_append_c(out, '[');
    guint32 from = n > 8 ? n - 6 : 0;
    if (from) g_string_append_printf(out, "%u elements: ... ", n);
    for (guint32 i = from; i < n; i++) {
        if (i > from) g_string_append_c(out, ' ');
        atom_text(E, els[i], out);
    }
    g_string_append_c(out, ']');
}

static void anomaly(Elle *E, int a, guint32 t1, guint32 t2, const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void anomaly(Elle *E, int a, guint32 t1, guint32 t2, const char *fmt, ...)
{
    Anom *an = &E->anom[a];
    an->count++;
    if (an->texts->len >= SHOWN_PER_ANOMALY) return;
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(an->texts, g_strdup_vprintf(fmt, ap));
    va_end(ap);
    if (an->texts->len == 1) {
        g_array_append_val(an->txns, t1);
        if (t2 != NONE && t2 != t1) g_array_append_val(an->txns, t2);
    }
}

static void edge(Elle *E, guint32 a, guint32 b, guint8 kind)
{
    if (a == b) return;
    Edge e = { a, b, kind };
    g_array_append_val(E->edges, e);
}

/* ---- Writes (note 3) ---- */

static gboolean collect_writes(Elle *E, GError **err)
{
    for (guint32 t = 0; t < E->n; t++) {
        const FlOp *op = op_at(E, t);
        const guint32 *p = E->items + op->items, *end = p + op->n_items;
        for (guint16 ord = 0; p < end; p += mop_size(p), ord++) {
            if (p[0] != MOP_APPEND && p[0] != MOP_WRITE) continue;
            key_of(E, p[1]);
            Write *old = write_of(E, p[1], p[2]);
            if (old) {
                GString *k = g_string_new(NULL), *v = g_string_new(NULL);
                atom_text(E, p[1], k);
                atom_text(E, p[2], v);
                g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s:%u: value %s is %s to key %s a second time (first at line %u): "
                            "the checker needs every value written to a key to be unique",
                            E->h->path, op->inv_line, v->str,
                            E->list ? "appended" : "written", k->str, op_at(E, old->txn)->inv_line);
                g_string_free(k, TRUE);
                g_string_free(v, TRUE);
                return FALSE;
            }
            /* Whether the transaction wrote this key before: that write
             * is then overwritten (G1b if read), and, for a register, is
             * this version's predecessor. */
            FlAtom pred = NONE;
            if (E->writes->len && g_array_index(E->writes, Write, E->writes->len - 1).txn == t) {
                for (guint i = E->writes->len; i-- > 0;) {
                    Write *w = &g_array_index(E->writes, Write, i);
                    if (w->txn != t) break;
                    if (E->items[w->mop + 1] == p[1]) {
                        w->later = 1;
                        pred = E->items[w->mop + 2];
                        break;
                    }
                }
            }
            Write w = { .txn = t, .mop = (guint32)(p - E->items), .pos = NONE, .pred = pred,
                        .ord = ord };
            g_array_append_val(E->writes, w);
            map_put(&E->wmap, KV(p[1], p[2]), E->writes->len - 1);
        }
    }
    return TRUE;
}

/* ---- Internal consistency (both models) ---- */

/* Checks the read at micro-op @i (item @at) of transaction @t against the
 * transaction's earlier micro-ops on the same key.  Returns TRUE when an
 * earlier micro-op of @t touched the key (the read is then internal: no
 * dependency comes of it). */
static gboolean internal_read(Elle *E, guint32 t, const guint32 *first, const guint32 *at)
{
    FlAtom key = at[1];
    const guint32 *base = NULL;      /* the last read of the key before */
    guint32 base_len = 0;
    guint32 apps[64];
    guint32 napps = 0;
    gboolean touched = FALSE, overflow = FALSE;
    FlAtom reg = NONE;               /* register: the value expected */
    for (const guint32 *p = first; p < at; p += mop_size(p)) {
        if (p[1] != key || p[0] == MOP_READ_UNKNOWN) continue;
        touched = TRUE;
        if (p[0] == MOP_READ_LIST) {
            base = p + 3;
            base_len = p[2];
            napps = 0;
        } else if (p[0] == MOP_APPEND) {
            if (napps < G_N_ELEMENTS(apps)) apps[napps++] = p[2];
            else overflow = TRUE;
        } else {
            reg = p[2];    /* a write, or a register read */
        }
    }
    if (!touched || overflow) return touched;
    GString *got = g_string_new(NULL), *kt = g_string_new(NULL);
    atom_text(E, key, kt);
    gboolean bad = FALSE;
    if (at[0] == MOP_READ_REG) {
        bad = at[2] != reg;
        if (bad) {
            GString *want = g_string_new(NULL);
            atom_text(E, reg, want);
            atom_text(E, at[2], got);
            anomaly(E, A_INTERNAL, t, NONE, "T%u read key %s = %s, but its own earlier micro-ops "
                    "left %s there (line %u)", t + 1, kt->str, got->str, want->str,
                    op_at(E, t)->ret_line);
            g_string_free(want, TRUE);
        }
    } else {
        const guint32 *r = at + 3;
        guint32 n = at[2];
        if (base) {
            bad = n != base_len + napps || memcmp(r, base, base_len * sizeof *r) != 0 ||
                  memcmp(r + base_len, apps, napps * sizeof *r) != 0;
        } else {
            bad = n < napps || memcmp(r + n - napps, apps, napps * sizeof *r) != 0;
        }
        if (bad) {
            list_text(E, r, n, got);
            GString *want = g_string_new(NULL);
            if (base) {
                list_text(E, base, base_len, want);
                g_string_append_printf(want, " then %u own append%s", napps, napps == 1 ? "" : "s");
            } else {
                g_string_append(want, "a list ending with its own appends ");
                list_text(E, apps, napps, want);
            }
            anomaly(E, A_INTERNAL, t, NONE, "T%u read key %s = %s, but its own earlier micro-ops "
                    "imply %s (line %u)", t + 1, kt->str, got->str, want->str,
                    op_at(E, t)->ret_line);
            g_string_free(want, TRUE);
        }
    }
    g_string_free(got, TRUE);
    g_string_free(kt, TRUE);
    return TRUE;
}

/* ---- list-append (note 4) ---- */

typedef struct {
    guint64 group;    /* KV(key index, version) */
    guint32 txn;
    guint32 line;
} Seen;

static int cmp_seen(const void *a, const void *b)
{
    const Seen *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    return x->txn < y->txn ? -1 : x->txn > y->txn;
}

/* Lost update: two committed transactions that read one version of a key
 * and then wrote the key.  @rw is sorted here. */
static void lost_updates(Elle *E, GArray *rw)
{
    g_array_sort(rw, cmp_seen);
    for (guint i = 0; i + 1 < rw->len;) {
        guint j = i + 1;
        const Seen *a = &g_array_index(rw, Seen, i);
        while (j < rw->len && g_array_index(rw, Seen, j).group == a->group) j++;
        if (j - i >= 2) {
            const Seen *b = &g_array_index(rw, Seen, i + 1);
            const Key *k = &g_array_index(E->keys, Key, (guint32)(a->group >> 32));
            GString *kt = g_string_new(NULL);
            atom_text(E, k->atom, kt);
            anomaly(E, A_LOST, a->txn, b->txn, "T%u (line %u) and T%u (line %u)%s read the same "
                    "version of key %s and both wrote it: one update is lost", a->txn + 1, a->line,
                    b->txn + 1, b->line, j - i > 2 ? " and others" : "", kt->str);
            g_string_free(kt, TRUE);
        }
        i = j;
    }
}

static void infer_list(Elle *E)
{
    /* The version order of each key: its longest read. */
    for (guint32 t = 0; t < E->n; t++) {
        const FlOp *op = op_at(E, t);
        if (op->status != FL_OP_OK) continue;
        const guint32 *p = E->items + op->items, *end = p + op->n_items;
        for (; p < end; p += mop_size(p)) {
            if (p[0] != MOP_READ_LIST) continue;
            Key *k = key_of(E, p[1]);
            if (k->longest_mop == NONE || p[2] > k->longest_len) {
                k->longest_txn = t;
                k->longest_mop = (guint32)(p - E->items);
                k->longest_len = p[2];
            }
        }
    }
    guint32 *stamp = g_new0(guint32, E->writes->len + 1);
    for (guint ki = 0; ki < E->keys->len; ki++) {
        Key *k = &g_array_index(E->keys, Key, ki);
        if (k->longest_mop == NONE) continue;
        const guint32 *L = E->items + k->longest_mop + 3;
        guint32 prev_writer = NONE;
        gboolean aborted_before = FALSE, clean = TRUE;
        k->lw_at = E->lw->len;
        k->clean_len = 0;
        for (guint32 i = 0; i < k->longest_len; i++) {
            guint32 wi = map_get(&E->wmap, KV(k->atom, L[i]));
            g_array_append_val(E->lw, wi);
            if (wi == NONE) {            /* a garbage read, reported below */
                clean = FALSE;
                continue;
            }
            Write *w = &g_array_index(E->writes, Write, wi);
            if (w->pos == NONE) w->pos = i;
            gboolean failed = op_at(E, w->txn)->status == FL_OP_FAIL;
            if (failed || stamp[wi] == ki + 1) clean = FALSE;
            stamp[wi] = ki + 1;
            if (clean) k->clean_len = i + 1;
            if (failed) {
                aborted_before = TRUE;
            } else if (aborted_before) {
                GString *kt = g_string_new(NULL), *lt = g_string_new(NULL);
                atom_text(E, k->atom, kt);
                list_text(E, L, i + 1, lt);
                anomaly(E, A_DIRTY, w->txn, k->longest_txn, "key %s's order %s (read by T%u, line "
                        "%u) has T%u's append after one of a failed transaction", kt->str, lt->str,
                        k->longest_txn + 1, op_at(E, k->longest_txn)->ret_line, w->txn + 1);
                g_string_free(kt, TRUE);
                g_string_free(lt, TRUE);
                aborted_before = FALSE;
            }
            if (!failed && prev_writer != NONE && prev_writer != w->txn)
                edge(E, prev_writer, w->txn, K_WW);
            if (!failed) prev_writer = w->txn;
        }
    }
    GArray *rw = g_array_new(FALSE, FALSE, sizeof(Seen));
    memset(stamp, 0, sizeof(guint32) * (E->writes->len + 1));
    guint32 read_no = 0;
    GString *kt = g_string_new(NULL), *rt = g_string_new(NULL);
    for (guint32 t = 0; t < E->n; t++) {
        const FlOp *op = op_at(E, t);
        if (op->status != FL_OP_OK) continue;
        const guint32 *first = E->items + op->items, *end = first + op->n_items;
        guint16 ord = 0;
        for (const guint32 *p = first; p < end; p += mop_size(p), ord++) {
            if (p[0] != MOP_READ_LIST) continue;
            const guint32 *r = p + 3;
            guint32 n = p[2];
            guint32 ki = map_get(&E->kmap, p[1]);
            const Key *k = &g_array_index(E->keys, Key, ki);
            /* The texts of the key and the read, made only for a report. */
            g_string_truncate(kt, 0);
            g_string_truncate(rt, 0);
#define TEXTS() (kt->len ? 0 : (atom_text(E, p[1], kt), list_text(E, r, n, rt), 0))
            gboolean own = internal_read(E, t, first, p);
            const guint32 *L = E->items + k->longest_mop + 3;
            const guint32 *lw = &g_array_index(E->lw, guint32, k->lw_at);
            gboolean prefix = memcmp(r, L, n * sizeof *r) == 0;
            /* Does this transaction append to the key later (a future
             * read is then possible)? */
            gboolean appends_later = FALSE;
            for (const guint32 *q = p + mop_size(p); q < end; q += mop_size(q))
                if (q[0] == MOP_APPEND && q[1] == p[1]) appends_later = TRUE;
            /* Element by element: garbage, duplicates, aborted, future;
             * nothing to look at in a clean prefix of the order. */
            read_no++;
            gboolean g1a = FALSE, dup = FALSE, garbage = FALSE, future = FALSE;
            gboolean fast = prefix && n <= k->clean_len && !appends_later;
            for (guint32 i = 0; i < n && !fast; i++) {
                guint32 wi = map_get(&E->wmap, KV(p[1], r[i]));
                if (wi == NONE) {
                    if (!garbage) {
                        GString *e = g_string_new(NULL);
                        atom_text(E, r[i], e);
                        TEXTS();
                        anomaly(E, A_GARBAGE, t, NONE, "T%u read key %s = %s (line %u), and no "
                                "transaction appended %s to it", t + 1, kt->str, rt->str,
                                op->ret_line, e->str);
                        g_string_free(e, TRUE);
                    }
                    garbage = TRUE;
                    continue;
                }
                if (stamp[wi] == read_no && !dup) {
                    GString *e = g_string_new(NULL);
                    atom_text(E, r[i], e);
                    TEXTS();
                    anomaly(E, A_DUP, t, NONE, "T%u read key %s = %s (line %u): %s appears twice",
                            t + 1, kt->str, rt->str, op->ret_line, e->str);
                    g_string_free(e, TRUE);
                    dup = TRUE;
                }
                stamp[wi] = read_no;
                const Write *w = &g_array_index(E->writes, Write, wi);
                if (op_at(E, w->txn)->status == FL_OP_FAIL && !g1a) {
                    GString *e = g_string_new(NULL);
                    atom_text(E, r[i], e);
                    TEXTS();
                    anomaly(E, A_G1A, t, w->txn, "T%u read key %s = %s (line %u), but %s was "
                            "appended by T%u, which failed (line %u)", t + 1, kt->str, rt->str,
                            op->ret_line, e->str, w->txn + 1, op_at(E, w->txn)->ret_line);
                    g_string_free(e, TRUE);
                    g1a = TRUE;
                }
                if (w->txn == t && w->ord > ord && !future) {
                    GString *e = g_string_new(NULL);
                    atom_text(E, r[i], e);
                    TEXTS();
                    anomaly(E, A_FUTURE, t, NONE, "T%u read key %s = %s (line %u), which holds "
                            "%s, an element T%u appends only later", t + 1, kt->str, rt->str,
                            op->ret_line, e->str, t + 1);
                    g_string_free(e, TRUE);
                    future = TRUE;
                }
            }
            /* A prefix of the key's order? */
            if (!prefix) {
                GString *lt = g_string_new(NULL);
                list_text(E, L, k->longest_len, lt);
                TEXTS();
                anomaly(E, A_ORDER, t, k->longest_txn, "T%u read key %s = %s (line %u), and T%u "
                        "read %s (line %u): neither is a prefix of the other", t + 1, kt->str,
                        rt->str, op->ret_line, k->longest_txn + 1, lt->str,
                        op_at(E, k->longest_txn)->ret_line);
                g_string_free(lt, TRUE);
            }
            /* wr: the writer of the last element; G1b. */
            if (n > 0) {
                guint32 wi = prefix ? lw[n - 1] : map_get(&E->wmap, KV(p[1], r[n - 1]));
                const Write *w = wi == NONE ? NULL : &g_array_index(E->writes, Write, wi);
                if (w && w->txn != t && op_at(E, w->txn)->status != FL_OP_FAIL) {
                    edge(E, w->txn, t, K_WR);
                    if (w->later) {
                        GString *e = g_string_new(NULL);
                        atom_text(E, r[n - 1], e);
                        TEXTS();
                        anomaly(E, A_G1B, t, w->txn, "T%u read key %s = %s (line %u), which ends "
                                "with %s, but T%u appended more to key %s after %s (line %u)",
                                t + 1, kt->str, rt->str, op->ret_line, e->str, w->txn + 1,
                                kt->str, e->str, op_at(E, w->txn)->inv_line);
                        g_string_free(e, TRUE);
                    }
                }
            }
            /* rw: the writer of the next element of the order. */
            if (prefix && n < k->longest_len && lw[n] != NONE) {
                const Write *w = &g_array_index(E->writes, Write, lw[n]);
                if (w && w->txn != t && op_at(E, w->txn)->status != FL_OP_FAIL)
                    edge(E, t, w->txn, K_RW);
            }
            /* Lost update: this read, then an append to the key. */
            if (!own && prefix) {
                const guint32 *q = p + mop_size(p);
                for (; q < end; q += mop_size(q))
                    if (q[0] == MOP_APPEND && q[1] == p[1]) break;
                if (q < end) {
                    Seen s = { KV(ki, n), t, op->inv_line };
                    g_array_append_val(rw, s);
                }
            }
        }
    }
#undef TEXTS
    g_string_free(kt, TRUE);
    g_string_free(rt, TRUE);
    g_free(stamp);
    lost_updates(E, rw);
    g_array_unref(rw);
}

/* ---- rw-register (note 5) ---- */

static int cmp_u64_u32(const void *a, const void *b)
{
    return cmp_seen(a, b);
}

static void infer_reg(Elle *E)
{
    GArray *reads = g_array_new(FALSE, FALSE, sizeof(Seen));    /* KV(key, value), reader */
    GArray *rw = g_array_new(FALSE, FALSE, sizeof(Seen));
    GString *kt = g_string_new(NULL), *xt = g_string_new(NULL);
    for (guint32 t = 0; t < E->n; t++) {
        const FlOp *op = op_at(E, t);
        if (op->status == FL_OP_FAIL) continue;
        const guint32 *first = E->items + op->items, *end = first + op->n_items;
        guint16 ord = 0;
        for (const guint32 *p = first; p < end; p += mop_size(p), ord++) {
            if (p[0] != MOP_READ_REG) continue;
            if (internal_read(E, t, first, p)) continue;
            FlAtom x = p[2];
            key_of(E, p[1]);
            g_string_truncate(kt, 0);
            g_string_truncate(xt, 0);
#define TEXTS() (kt->len ? 0 : (atom_text(E, p[1], kt), atom_text(E, x, xt), 0))
            /* The first write of the key after this read learns its
             * predecessor. */
            const guint32 *q = p + mop_size(p);
            for (; q < end; q += mop_size(q))
                if (q[0] == MOP_WRITE && q[1] == p[1]) break;
            Write *mine = q < end ? write_of(E, q[1], q[2]) : NULL;
            if (mine) mine->pred = x;
            Seen s = { KV(p[1], x), t, op->inv_line };
            g_array_append_val(reads, s);
            if (mine && op->status == FL_OP_OK) g_array_append_val(rw, s);
            if (x != FL_ATOM_NULL) {
                const Write *w = write_of(E, p[1], x);
                if (w == NULL) {
                    TEXTS();
                    anomaly(E, A_GARBAGE, t, NONE, "T%u read key %s = %s (line %u), and no "
                            "transaction wrote %s to it", t + 1, kt->str, xt->str, op->ret_line,
                            xt->str);
                } else if (w->txn == t) {
                    TEXTS();
                    anomaly(E, A_FUTURE, t, NONE, "T%u read key %s = %s (line %u), a value it "
                            "writes only later", t + 1, kt->str, xt->str, op->ret_line);
                } else if (op_at(E, w->txn)->status == FL_OP_FAIL) {
                    TEXTS();
                    anomaly(E, A_G1A, t, w->txn, "T%u read key %s = %s (line %u), but T%u, which "
                            "wrote it, failed (line %u)", t + 1, kt->str, xt->str, op->ret_line,
                            w->txn + 1, op_at(E, w->txn)->ret_line);
                    if (mine)
                        anomaly(E, A_DIRTY, t, w->txn, "T%u read key %s = %s (line %u), written "
                                "by T%u, which failed, and then wrote the key", t + 1, kt->str,
                                xt->str, op->ret_line, w->txn + 1);
                } else {
                    edge(E, w->txn, t, K_WR);
                    if (w->later) {
                        TEXTS();
                        anomaly(E, A_G1B, t, w->txn, "T%u read key %s = %s (line %u), but T%u "
                                "overwrote %s itself later in the same transaction (line %u)",
                                t + 1, kt->str, xt->str, op->ret_line, w->txn + 1, xt->str,
                                op_at(E, w->txn)->inv_line);
                    }
                }
            }
        }
    }
#undef TEXTS
    g_string_free(kt, TRUE);
    g_string_free(xt, TRUE);
    /* Versions whose predecessor is known, and nil's successors. */
    GArray *succ = g_array_new(FALSE, FALSE, sizeof(Seen));     /* KV(key, pred), writer */
    for (guint wi = 0; wi < E->writes->len; wi++) {
        const Write *w = &g_array_index(E->writes, Write, wi);
        if (op_at(E, w->txn)->status == FL_OP_FAIL) continue;
        FlAtom key = E->items[w->mop + 1];
        /* Only a transaction's first write of a key has the predecessor
         * it read; its later writes follow its own. */
        FlAtom pred = w->pred == NONE ? FL_ATOM_NULL : w->pred;
        Seen s = { KV(key, pred), w->txn, op_at(E, w->txn)->inv_line };
        g_array_append_val(succ, s);
        if (w->pred != NONE && w->pred != FL_ATOM_NULL) {
            const Write *pw = write_of(E, key, w->pred);
            if (pw && op_at(E, pw->txn)->status != FL_OP_FAIL) edge(E, pw->txn, w->txn, K_WW);
        }
    }
    g_array_sort(reads, cmp_u64_u32);
    g_array_sort(succ, cmp_u64_u32);
    for (guint i = 0, j = 0; i < reads->len; i++) {
        const Seen *r = &g_array_index(reads, Seen, i);
        while (j < succ->len && g_array_index(succ, Seen, j).group < r->group) j++;
        for (guint k = j; k < succ->len && g_array_index(succ, Seen, k).group == r->group; k++)
            edge(E, r->txn, g_array_index(succ, Seen, k).txn, K_RW);
    }
    g_array_unref(reads);
    g_array_unref(succ);
    /* Lost update groups by key atom here, not key index. */
    for (guint i = 0; i < rw->len; i++) {
        Seen *s = &g_array_index(rw, Seen, i);
        guint32 ki = map_get(&E->kmap, (guint32)(s->group >> 32));
        s->group = KV(ki, (guint32)s->group);
    }
    lost_updates(E, rw);
    g_array_unref(rw);
}

/* ---- Process and real-time orders (note 6) ---- */

static int cmp_ret(const void *a, const void *b, void *data)
{
    const Elle *E = data;
    gint64 x = op_at(E, *(const guint32 *)a)->ret, y = op_at(E, *(const guint32 *)b)->ret;
    return x < y ? -1 : x > y;
}

static void orders(Elle *E)
{
    GHashTable *last = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    GArray *done = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (guint32 t = 0; t < E->n; t++) {
        if (!is_node(E, t)) continue;
        const FlOp *op = op_at(E, t);
        gpointer prev = g_hash_table_lookup(last, &op->process);
        if (prev) edge(E, GPOINTER_TO_UINT(prev) - 1, t, K_PO);
        gint64 *k = g_new(gint64, 1);
        *k = op->process;
        g_hash_table_replace(last, k, GUINT_TO_POINTER(t + 1));
        if (op->ret != FL_POS_INF) g_array_append_val(done, t);
    }
    g_hash_table_unref(last);
    g_array_sort_with_data(done, cmp_ret, E);
    GArray *frontier = g_array_new(FALSE, FALSE, sizeof(guint32));
    guint j = 0;
    for (guint32 t = 0; t <= E->n; t++) {
        gint64 inv = t < E->n ? op_at(E, t)->inv : G_MAXINT64;
        /* Completions before this invocation. */
        for (; j < done->len; j++) {
            guint32 d = g_array_index(done, guint32, j);
            const FlOp *dop = op_at(E, d);
            if (dop->ret > inv) break;
            guint k = 0;
            for (guint i = 0; i < frontier->len; i++) {
                guint32 f = g_array_index(frontier, guint32, i);
                if (op_at(E, f)->ret >= dop->inv) g_array_index(frontier, guint32, k++) = f;
            }
            g_array_set_size(frontier, k);
            g_array_append_val(frontier, d);
        }
        if (t == E->n || !is_node(E, t)) continue;
        for (guint i = 0; i < frontier->len; i++)
            edge(E, g_array_index(frontier, guint32, i), t, K_RT);
    }
    g_array_unref(frontier);
    g_array_unref(done);
}

/* ---- The graph and its cycles (note 7) ---- */

static void build_graph(Elle *E)
{
    E->row = g_new0(guint32, E->n + 2);
    for (guint i = 0; i < E->edges->len; i++) {
        const Edge *e = &g_array_index(E->edges, Edge, i);
        E->row[e->src + 2]++;
        E->edges_by_kind[g_bit_nth_lsf(e->kind, -1)]++;
    }
    for (guint32 i = 2; i < E->n + 2; i++) E->row[i] += E->row[i - 1];
    E->dst = g_new(guint32, MAX(E->edges->len, 1));
    E->kind = g_new(guint8, MAX(E->edges->len, 1));
    for (guint i = 0; i < E->edges->len; i++) {
        const Edge *e = &g_array_index(E->edges, Edge, i);
        guint32 at = E->row[e->src + 1]++;
        E->dst[at] = e->dst;
        E->kind[at] = e->kind;
    }
    g_array_set_size(E->edges, 0);
}

/* Tarjan's algorithm, iterative, over edges whose kind is in @mask.
 * Writes each node's component into @comp (NONE: a component of one) and
 * returns the number of components of two or more. */
static guint32 tarjan(const Elle *E, guint8 mask, guint32 *comp)
{
    guint32 n = E->n;
    guint32 *index = g_new(guint32, n), *low = g_new(guint32, n);
    guint32 *stack = g_new(guint32, n), *cs = g_new(guint32, n), *ce = g_new(guint32, n);
    guint8 *on = g_new0(guint8, n);
    for (guint32 i = 0; i < n; i++) index[i] = NONE;
    guint32 counter = 0, sp = 0, comps = 0;
    for (guint32 root = 0; root < n; root++) {
        if (index[root] != NONE) continue;
        guint32 csp = 0;
        cs[csp] = root;
        ce[csp++] = E->row[root];
        index[root] = low[root] = counter++;
        stack[sp++] = root;
        on[root] = 1;
        while (csp) {
            guint32 v = cs[csp - 1];
            guint32 *it = &ce[csp - 1];
            if (*it < E->row[v + 1]) {
                guint32 e = (*it)++;
                if (!(E->kind[e] & mask)) continue;
                guint32 w = E->dst[e];
                if (index[w] == NONE) {
                    index[w] = low[w] = counter++;
                    stack[sp++] = w;
                    on[w] = 1;
                    cs[csp] = w;
                    ce[csp++] = E->row[w];
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            csp--;
            if (csp && low[v] < low[cs[csp - 1]]) low[cs[csp - 1]] = low[v];
            if (low[v] == index[v]) {
                guint32 size = 0;
                guint32 w;
                do {
                    w = stack[--sp];
                    on[w] = 0;
                    comp[w] = comps;
                    size++;
                } while (w != v);
                if (size == 1) comp[v] = NONE;
                else comps++;
            }
        }
    }
    g_free(index); g_free(low); g_free(stack); g_free(cs); g_free(ce); g_free(on);
    return comps;
}

/* The state machine of each class (note 7).  States fit in 3 bits: bit 0
 * the last edge was rw, bit 1 two rw edges or more, bit 2 two rw edges
 * were adjacent.  Returns the next state, or -1 if the edge is not
 * allowed. */
static int next_state(int cls, int st, guint8 k, guint8 extra)
{
    gboolean rw = k == K_RW;
    if (!rw && !(k & (K_WW | extra)) && !(k == K_WR && cls != C_G0)) return -1;
    if (!rw) return st & ~1;
    switch (cls) {
    case C_GNONADJ:
        if (st & 1) return -1;
        return st | 3;
    case C_G2:
        return (st & 1 ? st | 4 : st) | 3;
    default:
        return -1;   /* G0, G1c: no rw; G-single: its one rw is the first */
    }
}

static gboolean accepts(int cls, int st)
{
    switch (cls) {
    case C_GNONADJ: return (st & 2) && !(st & 1);
    case C_G2: return (st & 2) && ((st & 4) || (st & 1));
    default: return TRUE;
    }
}

static guint8 first_kind(int cls)
{
    return cls == C_G0 ? K_WW : cls == C_G1C ? K_WR : K_RW;
}

typedef struct {
    guint32 *seen, *parent, *queue;
    guint8 *pkind;
    guint32 run;
} Bfs;

/* The shortest cycle of class @cls through @s whose first edge is of the
 * class's first kind, within component @c; at most @limit edges; NONE
 * when none.  The nodes and kinds go to @nodes and @kinds (capacity
 * @limit). */
static guint32 cycle_from(Elle *E, Bfs *B, const guint32 *comp, guint32 c, guint32 s, int cls,
                          guint8 extra, guint32 limit, guint64 *budget, gboolean *skipped,
                          guint32 *nodes, guint8 *kinds)
{
    guint8 fk = first_kind(cls);
    if (++B->run == 0) {
        memset(B->seen, 0, sizeof(guint32) * 8 * (gsize)E->n);
        B->run = 1;
    }
    guint32 qh = 0, qt = 0;
    int st0 = fk == K_RW ? 1 : 0;   /* after a first rw: the last edge was rw */
    for (guint32 e = E->row[s]; e < E->row[s + 1]; e++) {
        if (E->kind[e] != fk) continue;
        guint32 w = E->dst[e];
        if (comp[w] != c) continue;
        guint32 id = w * 8 + (guint32)st0;
        if (B->seen[id] == B->run) continue;
        B->seen[id] = B->run;
        B->parent[id] = NONE;
        B->pkind[id] = fk;
        B->queue[qt++] = id;
    }
    guint32 depth = 1, level_end = qt;
    while (qh < qt && depth < limit) {
        if (qh == level_end) {
            depth++;
            level_end = qt;
            if (depth >= limit) break;
        }
        guint32 id = B->queue[qh++];
        guint32 v = id / 8;
        int st = (int)(id % 8);
        if (*budget == 0) return NONE;
        --*budget;
        if ((*budget & 4095) == 0 && E->deadline && g_get_monotonic_time() > E->deadline) {
            E->timed_out = TRUE;
            *budget = 0;
            return NONE;
        }
        for (guint32 e = E->row[v]; e < E->row[v + 1]; e++) {
            guint32 w = E->dst[e];
            if (comp[w] != c) continue;
            int ns = next_state(cls, st, E->kind[e], extra);
            if (ns < 0) continue;
            if (w == s) {
                if (!accepts(cls, ns)) continue;
                /* Found: depth + 1 edges.  Walk back. */
                guint32 len = depth + 1;
                kinds[len - 1] = E->kind[e];
                guint32 cur = id;
                for (guint32 i = len - 1; i >= 1; i--) {
                    nodes[i] = cur / 8;
                    kinds[i - 1] = B->pkind[cur];
                    cur = B->parent[cur];
                }
                nodes[0] = s;
                /* Simple?  Multi-state classes may close a walk that
                 * passes a transaction twice: not a cycle. */
                gboolean simple = TRUE;
                for (guint32 i = 0; i < len && simple; i++)
                    for (guint32 j = i + 1; j < len; j++)
                        if (nodes[i] == nodes[j]) {
                            simple = FALSE;
                            break;
                        }
                if (simple) return len;
                *skipped = TRUE;
                continue;
            }
            guint32 nid = w * 8 + (guint32)ns;
            if (B->seen[nid] == B->run) continue;
            B->seen[nid] = B->run;
            B->parent[nid] = id;
            B->pkind[nid] = E->kind[e];
            B->queue[qt++] = nid;
        }
    }
    return NONE;
}

static int cmp_u64(const void *a, const void *b)
{
    guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
    return x < y ? -1 : x > y;
}

static void search_cycles(Elle *E)
{
    guint32 *comp = g_new(guint32, MAX(E->n, 1));
    Bfs B = { 0 };
    guint32 *nodes = g_new(guint32, MAX(E->n, 1) + 1);
    guint8 *kinds = g_new(guint8, MAX(E->n, 1) + 1);
    for (int var = 0; var < N_VAR; var++) {
        guint8 extra = var_extra[var];
        /* Classes still to look for (note 8). */
        gboolean want[N_CYC], any = FALSE;
        for (int c = 0; c < N_CYC; c++) {
            want[c] = TRUE;
            for (int pv = 0; pv < var; pv++)
                if (E->cyc[pv][c].found || E->cyc[pv][c].incomplete) want[c] = FALSE;
            any |= want[c];
        }
        if (!any) continue;
        guint32 ncomp = tarjan(E, K_WW | K_WR | K_RW | extra, comp);
        if (ncomp == 0) continue;
        if (B.seen == NULL) {
            B.seen = g_new0(guint32, 8 * (gsize)E->n);
            B.parent = g_new(guint32, 8 * (gsize)E->n);
            B.pkind = g_new(guint8, 8 * (gsize)E->n);
            B.queue = g_new(guint32, 8 * (gsize)E->n);
        }
        /* Members of each component, in history order. */
        guint32 *start = g_new0(guint32, ncomp + 1), *members = g_new(guint32, E->n);
        for (guint32 i = 0; i < E->n; i++)
            if (comp[i] != NONE) start[comp[i] + 1]++;
        for (guint32 c = 0; c < ncomp; c++) start[c + 1] += start[c];
        guint32 *fill = g_memdup2(start, sizeof(guint32) * (ncomp + 1));
        for (guint32 i = 0; i < E->n; i++)
            if (comp[i] != NONE) members[fill[comp[i]]++] = i;
        g_free(fill);
        /* Components in order of their first transaction. */
        guint64 *firsts = g_new(guint64, ncomp);
        for (guint32 c = 0; c < ncomp; c++) firsts[c] = KV(members[start[c]], c);
        qsort(firsts, ncomp, sizeof *firsts, cmp_u64);
        guint32 *order = g_new(guint32, ncomp);
        for (guint32 c = 0; c < ncomp; c++) order[c] = (guint32)firsts[c];
        g_free(firsts);
        for (int cls = 0; cls < N_CYC; cls++) {
            if (!want[cls]) continue;
            Cyc *cy = &E->cyc[var][cls];
            for (guint32 oi = 0; oi < ncomp; oi++) {
                guint32 c = order[oi];
                guint64 budget = E->timed_out ? 0 : BUDGET_PER_SEARCH;
                guint32 best = NONE;
                gboolean skipped = FALSE, cut = FALSE;
                guint32 min_len = cls == C_GNONADJ ? 4 : 2;
                for (guint32 mi = start[c]; mi < start[c + 1]; mi++) {
                    guint32 s = members[mi];
                    guint32 limit = best == NONE ? E->n + 1 : best;
                    guint32 len = cycle_from(E, &B, comp, c, s, cls, extra, limit, &budget,
                                             &skipped, nodes, kinds);
                    if (budget == 0) cut = TRUE;
                    if (len != NONE && (best == NONE || len < best)) {
                        best = len;
                        if (!cy->found || len < cy->len) {
                            g_free(cy->nodes);
                            g_free(cy->kinds);
                            cy->nodes = g_memdup2(nodes, sizeof(guint32) * len);
                            cy->kinds = g_memdup2(kinds, len);
                            cy->len = len;
                            cy->approx = FALSE;
                        }
                    }
                    if (cut || best == min_len) break;
                }
                if (best != NONE) {
                    cy->found = TRUE;
                    cy->components++;
                    if (cut && cy->len == best) cy->approx = TRUE;
                } else if (cut || skipped) {
                    cy->incomplete = TRUE;
                }
            }
            if (cy->found) cy->incomplete = FALSE;
        }
        g_free(start);
        g_free(members);
        g_free(order);
    }
    g_free(B.seen);
    g_free(B.parent);
    g_free(B.pkind);
    g_free(B.queue);
    g_free(nodes);
    g_free(kinds);
    g_free(comp);
}

/* ---- Explanations ---- */

static const char *kind_name(guint8 k)
{
    switch (k) {
    case K_WW: return "ww";
    case K_WR: return "wr";
    case K_RW: return "rw";
    case K_PO: return "process";
    default: return "realtime";
    }
}

/* Why @u precedes @v by an edge of kind @k: the sentence after "because". */
static void explain_edge(Elle *E, guint32 u, guint32 v, guint8 k, GString *out)
{
    const FlOp *uo = op_at(E, u), *vo = op_at(E, v);
    if (k == K_PO) {
        g_string_append_printf(out, "T%u and T%u are consecutive transactions of process %"
                               G_GINT64_FORMAT, u + 1, v + 1, uo->process);
        return;
    }
    if (k == K_RT) {
        g_string_append_printf(out, "T%u completed (line %u) before T%u was invoked (line %u)",
                               u + 1, uo->ret_line, v + 1, vo->inv_line);
        return;
    }
    GString *kt = g_string_new(NULL), *a = g_string_new(NULL), *b = g_string_new(NULL);
    gboolean done = FALSE;
    /* The reader and the writer whose micro-ops to scan. */
    const FlOp *ro = k == K_RW ? uo : vo;
    guint32 reader = k == K_RW ? u : v, other = k == K_RW ? v : u;
    const guint32 *p = E->items + ro->items, *end = p + ro->n_items;
    if (k == K_WW && E->list) {
        for (p = E->items + uo->items, end = p + uo->n_items; p < end && !done; p += mop_size(p)) {
            if (p[0] != MOP_APPEND) continue;
            const Write *w = write_of(E, p[1], p[2]);
            guint32 ki = map_get(&E->kmap, p[1]);
            const Key *key = &g_array_index(E->keys, Key, ki);
            if (w->pos == NONE || key->longest_mop == NONE) continue;
            const guint32 *L = E->items + key->longest_mop + 3;
            for (guint32 i = w->pos + 1; i < key->longest_len; i++) {
                const Write *x = write_of(E, p[1], L[i]);
                if (x == NULL || x->txn == u || op_at(E, x->txn)->status == FL_OP_FAIL) continue;
                if (x->txn == v) {
                    atom_text(E, p[1], kt);
                    atom_text(E, p[2], a);
                    atom_text(E, L[i], b);
                    GString *lt = g_string_new(NULL);
                    list_text(E, L, i + 1, lt);
                    g_string_append_printf(out, "T%u appended %s to key %s and T%u appended %s "
                                           "next: the key's order begins %s (read by T%u, line %u)",
                                           u + 1, a->str, kt->str, v + 1, b->str, lt->str,
                                           key->longest_txn + 1,
                                           op_at(E, key->longest_txn)->ret_line);
                    g_string_free(lt, TRUE);
                    done = TRUE;
                }
                break;
            }
        }
    } else if (k == K_WW) {
        /* v read u's value of a key and then wrote the key. */
        for (; p < end && !done; p += mop_size(p)) {
            if (p[0] != MOP_WRITE) continue;
            const Write *w = write_of(E, p[1], p[2]);
            if (w->pred == NONE || w->pred == FL_ATOM_NULL) continue;
            const Write *pw = write_of(E, p[1], w->pred);
            if (pw == NULL || pw->txn != u) continue;
            atom_text(E, p[1], kt);
            atom_text(E, w->pred, a);
            atom_text(E, p[2], b);
            g_string_append_printf(out, "T%u read key %s = %s, which T%u wrote, and then wrote "
                                   "%s over it", v + 1, kt->str, a->str, u + 1, b->str);
            done = TRUE;
        }
    } else {
        const guint32 *first = p;
        for (; p < end && !done; p += mop_size(p)) {
            if (E->list && p[0] == MOP_READ_LIST) {
                guint32 n = p[2];
                const guint32 *r = p + 3;
                guint32 ki = map_get(&E->kmap, p[1]);
                const Key *key = &g_array_index(E->keys, Key, ki);
                if (k == K_WR) {
                    if (n == 0) continue;
                    const Write *w = write_of(E, p[1], r[n - 1]);
                    if (w == NULL || w->txn != other) continue;
                    atom_text(E, r[n - 1], b);
                } else {
                    if (n >= key->longest_len) continue;
                    const guint32 *L = E->items + key->longest_mop + 3;
                    const Write *w = write_of(E, p[1], L[n]);
                    if (w == NULL || w->txn != other) continue;
                    atom_text(E, L[n], b);
                }
                atom_text(E, p[1], kt);
                list_text(E, r, n, a);
                if (k == K_WR)
                    g_string_append_printf(out, "T%u read key %s = %s and T%u appended %s, its "
                                           "last element", reader + 1, kt->str, a->str, other + 1,
                                           b->str);
                else
                    g_string_append_printf(out, "T%u read key %s = %s and T%u appended %s, the "
                                           "next element, which T%u did not see", reader + 1,
                                           kt->str, a->str, other + 1, b->str, reader + 1);
                done = TRUE;
            } else if (!E->list && p[0] == MOP_READ_REG) {
                /* Only reads not preceded by the reader's own micro-ops on
                 * the key made edges. */
                gboolean own = FALSE;
                for (const guint32 *q = first; q < p; q += mop_size(q))
                    if (q[1] == p[1] && q[0] != MOP_READ_UNKNOWN) own = TRUE;
                if (own) continue;
                FlAtom x = p[2];
                if (k == K_WR) {
                    const Write *w = x == FL_ATOM_NULL ? NULL : write_of(E, p[1], x);
                    if (w == NULL || w->txn != other) continue;
                    atom_text(E, p[1], kt);
                    atom_text(E, x, a);
                    g_string_append_printf(out, "T%u read key %s = %s, which T%u wrote",
                                           reader + 1, kt->str, a->str, other + 1);
                    done = TRUE;
                    continue;
                }
                /* rw: other's write of the key follows version x. */
                const FlOp *oo = op_at(E, other);
                const guint32 *q = E->items + oo->items, *qe = q + oo->n_items;
                for (; q < qe; q += mop_size(q)) {
                    if (q[0] != MOP_WRITE || q[1] != p[1]) continue;
                    const Write *w = write_of(E, q[1], q[2]);
                    FlAtom pred = w->pred == NONE ? FL_ATOM_NULL : w->pred;
                    if (pred != x) continue;
                    atom_text(E, p[1], kt);
                    atom_text(E, x, a);
                    atom_text(E, q[2], b);
                    if (x == FL_ATOM_NULL)
                        g_string_append_printf(out, "T%u read key %s = nil, the initial state, "
                                               "and T%u wrote %s, a later version", reader + 1,
                                               kt->str, other + 1, b->str);
                    else
                        g_string_append_printf(out, "T%u read key %s = %s and T%u wrote %s "
                                               "over that version", reader + 1, kt->str, a->str,
                                               other + 1, b->str);
                    done = TRUE;
                    break;
                }
            }
        }
    }
    if (!done) g_string_append_printf(out, "T%u %s-precedes T%u", u + 1, kind_name(k), v + 1);
    g_string_free(kt, TRUE);
    g_string_free(a, TRUE);
    g_string_free(b, TRUE);
}

static void txn_text(Elle *E, guint32 t, GString *out)
{
    const FlOp *op = op_at(E, t);
    g_string_append_printf(out, "T%u: process %" G_GINT64_FORMAT ", ", t + 1, op->process);
    fl_atoms_to_json(E->h->ctx.atoms, op->shown, out);
    const char *st = op->status == FL_OP_OK ? "ok" : op->status == FL_OP_FAIL ? "fail" : "info";
    if (op->ret_line)
        g_string_append_printf(out, ", lines %u-%u (%s)", op->inv_line, op->ret_line, st);
    else
        g_string_append_printf(out, ", line %u (never completed)", op->inv_line);
}

/* ---- Verdicts (note 9) ---- */

typedef struct {
    int base;       /* M_* */
    int var;        /* V_BASE: plain, V_PROCESS: session-, V_REALTIME: strict- */
} Level;

static gboolean parse_level(const char *name, Level *l)
{
    static const char *const prefix[N_VAR] = { "", "session-", "strict-" };
    for (int v = N_VAR - 1; v >= 0; v--) {
        if (!g_str_has_prefix(name, prefix[v])) continue;
        const char *rest = name + strlen(prefix[v]);
        for (int b = 0; b < N_BASE; b++)
            if (strcmp(rest, base_names[b]) == 0) {
                l->base = b;
                l->var = v;
                return TRUE;
            }
        if (strcmp(rest, "snapshot") == 0 || strcmp(rest, "si") == 0) {
            l->base = M_SI;
            l->var = v;
            return TRUE;
        }
    }
    return FALSE;
}

/* What @l says of the history: 1 holds, 0 fails, -1 undecided; @why gets
 * the names of the anomalies it proscribes that were found. */
static int level_holds(const Elle *E, Level l, GString *why)
{
    int r = 1;
    for (int a = 0; a < N_ANOM; a++)
        if (E->anom[a].count && (anom_forbid[a] & (1u << l.base))) {
            g_string_append_printf(why, "%s%s", why->len ? ", " : "", anom_names[a]);
            r = 0;
        }
    for (int v = 0; v <= l.var; v++)
        for (int c = 0; c < N_CYC; c++) {
            if (!(cyc_forbid[c] & (1u << l.base))) continue;
            const Cyc *cy = &E->cyc[v][c];
            if (cy->found) {
                g_string_append_printf(why, "%s%s%s", why->len ? ", " : "", cyc_names[c],
                                       var_suffix[v]);
                r = 0;
            } else if (cy->incomplete && r == 1) {
                r = -1;
            }
        }
    return r;
}

/* ---- The picture ---- */

static void write_picture(Elle *E, const char *path, GString *report)
{
    GString *dot = g_string_new("digraph anomalies {\n"
                                "  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
                                "  edge [fontname=\"monospace\", fontsize=9];\n");
    int cluster = 0;
    for (int v = 0; v < N_VAR; v++)
        for (int c = 0; c < N_CYC; c++) {
            const Cyc *cy = &E->cyc[v][c];
            if (!cy->found) continue;
            g_string_append_printf(dot, "  subgraph cluster_%d {\n    label=\"%s%s\";\n",
                                   cluster, cyc_names[c], var_suffix[v]);
            for (guint32 i = 0; i < cy->len; i++) {
                const FlOp *op = op_at(E, cy->nodes[i]);
                GString *val = g_string_new(NULL);
                fl_atoms_to_json(E->h->ctx.atoms, op->shown, val);
                g_autofree char *esc = g_strescape(val->str, NULL);
                g_string_append_printf(dot, "    c%d_t%u [label=\"T%u: process %" G_GINT64_FORMAT
                                       ", line %u\\n%s\"];\n", cluster, cy->nodes[i] + 1,
                                       cy->nodes[i] + 1, op->process, op->inv_line, esc);
                g_string_free(val, TRUE);
            }
            for (guint32 i = 0; i < cy->len; i++) {
                guint32 a = cy->nodes[i], b = cy->nodes[(i + 1) % cy->len];
                GString *why = g_string_new(NULL);
                explain_edge(E, a, b, cy->kinds[i], why);
                g_autofree char *esc = g_strescape(why->str, NULL);
                g_string_append_printf(dot, "    c%d_t%u -> c%d_t%u [label=\"%s\\n%s\"%s];\n",
                                       cluster, a + 1, cluster, b + 1, kind_name(cy->kinds[i]),
                                       esc, cy->kinds[i] == K_RW ? ", style=dashed, color=red"
                                       : cy->kinds[i] & (K_PO | K_RT) ? ", style=dotted" : "");
                g_string_free(why, TRUE);
            }
            g_string_append(dot, "  }\n");
            cluster++;
        }
    g_string_append(dot, "}\n");
    GError *err = NULL;
    if (!g_file_set_contents(path, dot->str, (gssize)dot->len, &err)) {
        g_string_append_printf(report, "Picture: could not write %s: %s\n", path, err->message);
        g_error_free(err);
        g_string_free(dot, TRUE);
        return;
    }
    g_string_free(dot, TRUE);
    g_autofree char *prog = g_find_program_in_path("dot");
    if (prog == NULL) {
        g_string_append_printf(report, "Picture: %s (Graphviz: dot -Tsvg -O %s)\n", path, path);
        return;
    }
    g_autofree char *stem = g_str_has_suffix(path, ".dot") ? g_strndup(path, strlen(path) - 4)
                                                           : g_strdup(path);
    g_autofree char *svg = g_strconcat(stem, ".svg", NULL);
    g_autofree char *oarg = g_strconcat("-o", svg, NULL);
    const char *argv[] = { prog, "-Tsvg", oarg, path, NULL };
    gint status = 0;
    if (g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
                     G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL) &&
        g_spawn_check_wait_status(status, NULL))
        g_string_append_printf(report, "Picture: %s and %s\n", path, svg);
    else
        g_string_append_printf(report, "Picture: %s (dot could not render it)\n", path);
}

/* ---- The check ---- */

static void elle_free(Elle *E)
{
    g_array_unref(E->writes);
    map_clear(&E->wmap);
    g_array_unref(E->keys);
    map_clear(&E->kmap);
    g_array_unref(E->edges);
    g_array_unref(E->lw);
    for (int a = 0; a < N_ANOM; a++) {
        g_ptr_array_unref(E->anom[a].texts);
        g_array_unref(E->anom[a].txns);
    }
    for (int v = 0; v < N_VAR; v++)
        for (int c = 0; c < N_CYC; c++) {
            g_free(E->cyc[v][c].nodes);
            g_free(E->cyc[v][c].kinds);
        }
    g_free(E->row);
    g_free(E->dst);
    g_free(E->kind);
}

static json_t *json_txns(Elle *E, const guint32 *ts, guint32 n)
{
    json_t *a = json_array();
    for (guint32 i = 0; i < n; i++) {
        const FlOp *op = op_at(E, ts[i]);
        GString *v = g_string_new(NULL);
        fl_atoms_to_json(E->h->ctx.atoms, op->shown, v);
        json_t *val = json_loads(v->str, JSON_DECODE_ANY, NULL);
        json_t *o = json_pack("{s:I, s:I, s:o, s:s, s:i}", "txn", (json_int_t)ts[i] + 1,
                              "process", (json_int_t)op->process,
                              "value", val ? val : json_string(v->str),
                              "type", op->status == FL_OP_OK ? "ok"
                                      : op->status == FL_OP_FAIL ? "fail" : "info",
                              "invoke_line", (int)op->inv_line);
        if (op->ret_line) json_object_set_new(o, "complete_line", json_integer(op->ret_line));
        json_array_append_new(a, o);
        g_string_free(v, TRUE);
    }
    return a;
}

FlVerdict fl_check_elle(const FlHistorySource *src, const char *model,
                        const char *consistency, const char *format,
                        double timeout_s, const char *picture, GString *report,
                        json_t **json_out, GError **err)
{
    if (json_out) *json_out = NULL;
    g_assert(fl_elle_model(model));
    const char *cname = consistency ? consistency : "serializable";
    Level want;
    if (!parse_level(cname, &want)) {
        g_autofree char *all = g_strjoinv(", ", (char **)fl_elle_consistency_names());
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "unknown consistency \"%s\" for model %s (expected one of %s)", cname, model,
                    all);
        return FL_VERDICT_ERROR;
    }
    gint64 start = g_get_monotonic_time();
    gboolean list = strcmp(model, "list-append") == 0;
    FlHistory *h = fl_history_open(src, format, list ? &model_list : &model_reg, err);
    if (h == NULL) return FL_VERDICT_ERROR;
    Elle E = {
        .h = h, .list = list, .n = h->ops->len, .items = (const guint32 *)h->ctx.items->data,
        .writes = g_array_new(FALSE, FALSE, sizeof(Write)),
        .keys = g_array_new(FALSE, FALSE, sizeof(Key)),
        .edges = g_array_new(FALSE, FALSE, sizeof(Edge)),
        .lw = g_array_new(FALSE, FALSE, sizeof(guint32)),
        .deadline = timeout_s > 0 ? start + (gint64)(timeout_s * 1e6) : 0,
    };
    map_init(&E.wmap, h->ops->len);
    map_init(&E.kmap, 64);
    for (int a = 0; a < N_ANOM; a++) {
        E.anom[a].texts = g_ptr_array_new_with_free_func(g_free);
        E.anom[a].txns = g_array_new(FALSE, FALSE, sizeof(guint32));
    }
    if (!collect_writes(&E, err)) {
        elle_free(&E);
        fl_history_free(h);
        return FL_VERDICT_ERROR;
    }
    if (list) infer_list(&E);
    else infer_reg(&E);
    orders(&E);
    build_graph(&E);
    search_cycles(&E);

    /* The verdict. */
    GString *why = g_string_new(NULL);
    int holds = level_holds(&E, want, why);
    FlVerdict verdict = holds == 1 ? FL_VERDICT_VALID : holds == 0 ? FL_VERDICT_INVALID
                        : FL_VERDICT_UNKNOWN;
    guint32 ok = 0, info = 0, failed = 0;
    for (guint32 i = 0; i < E.n; i++) {
        guint8 s = op_at(&E, i)->status;
        if (s == FL_OP_OK) ok++;
        else if (s == FL_OP_FAIL) failed++;
        else info++;
    }
    gboolean any_cycle = FALSE;
    for (int v = 0; v < N_VAR; v++)
        for (int c = 0; c < N_CYC; c++) any_cycle |= E.cyc[v][c].found;

    if (report) {
        g_string_append_printf(report, "%u transaction%s (%u ok, %u info, %u failed), %u key%s, "
                               "model %s; dependencies: %" G_GUINT64_FORMAT " ww, %"
                               G_GUINT64_FORMAT " wr, %" G_GUINT64_FORMAT " rw, %"
                               G_GUINT64_FORMAT " process, %" G_GUINT64_FORMAT " real-time\n",
                               E.n, E.n == 1 ? "" : "s", ok, info, failed, E.keys->len,
                               E.keys->len == 1 ? "" : "s", model, E.edges_by_kind[0],
                               E.edges_by_kind[1], E.edges_by_kind[2], E.edges_by_kind[3],
                               E.edges_by_kind[4]);
        gboolean none = TRUE;
        for (int a = 0; a < N_ANOM; a++) {
            const Anom *an = &E.anom[a];
            if (!an->count) continue;
            none = FALSE;
            g_string_append_printf(report, "\n%s (%u found): %s\n", anom_names[a], an->count,
                                   anom_doc[a]);
            for (guint i = 0; i < an->texts->len; i++)
                g_string_append_printf(report, "  %s\n", (const char *)an->texts->pdata[i]);
            if (an->count > an->texts->len)
                g_string_append_printf(report, "  ... and %u more\n", an->count - an->texts->len);
        }
        for (int v = 0; v < N_VAR; v++)
            for (int c = 0; c < N_CYC; c++) {
                const Cyc *cy = &E.cyc[v][c];
                if (!cy->found) continue;
                none = FALSE;
                g_string_append_printf(report, "\n%s%s: %s%s%s; %s cycle of %u transactions "
                                       "(found in %u strongly connected component%s):\n",
                                       cyc_names[c], var_suffix[v], cyc_doc[c],
                                       v == V_PROCESS ? ", with process order"
                                       : v == V_REALTIME ? ", with real-time order" : "",
                                       "", cy->approx ? "the shortest found within the search "
                                       "budget is a" : "the shortest is a", cy->len,
                                       cy->components, cy->components == 1 ? "" : "s");
                for (guint32 i = 0; i < cy->len; i++) {
                    guint32 a = cy->nodes[i], b = cy->nodes[(i + 1) % cy->len];
                    GString *w = g_string_new(NULL);
                    explain_edge(&E, a, b, cy->kinds[i], w);
                    g_string_append_printf(report, "  T%u < T%u (%s) because %s\n", a + 1, b + 1,
                                           kind_name(cy->kinds[i]), w->str);
                    g_string_free(w, TRUE);
                }
                for (guint32 i = 0; i < cy->len; i++) {
                    GString *t = g_string_new("    ");
                    txn_text(&E, cy->nodes[i], t);
                    g_string_append_printf(report, "%s\n", t->str);
                    g_string_free(t, TRUE);
                }
            }
        for (int v = 0; v < N_VAR; v++)
            for (int c = 0; c < N_CYC; c++)
                if (E.cyc[v][c].incomplete)
                    g_string_append_printf(report, "\n%s%s: undecided (%s)\n", cyc_names[c],
                                           var_suffix[v], E.timed_out ? "time limit"
                                           : "search budget spent in a large component");
        if (none) g_string_append(report, "No anomalies.\n");
        g_string_append(report, "\nConsistency models:\n");
        const char *const *names = fl_elle_consistency_names();
        for (int i = 0; names[i]; i++) {
            Level l;
            parse_level(names[i], &l);
            GString *w = g_string_new(NULL);
            int r = level_holds(&E, l, w);
            g_string_append_printf(report, "  %-28s %s%s%s%s\n", names[i],
                                   r == 1 ? "holds" : r == 0 ? "fails" : "undecided",
                                   r == 0 ? " (" : "", r == 0 ? w->str : "", r == 0 ? ")" : "");
            g_string_free(w, TRUE);
        }
        if (picture && any_cycle) write_picture(&E, picture, report);
        else if (any_cycle)
            g_string_append(report, "(--picture FILE.dot draws the cycles with Graphviz)\n");
        g_string_append_printf(report, "%s: %s%s%s\n", cname,
                               holds == 1 ? "holds" : holds == 0 ? "fails: " : "undecided",
                               holds == 0 ? why->str : "", "");
    } else if (picture && any_cycle) {
        GString *sink = g_string_new(NULL);
        write_picture(&E, picture, sink);
        g_string_free(sink, TRUE);
    }
    if (json_out) {
        json_t *j = json_object();
        json_object_set_new(j, "valid", verdict == FL_VERDICT_VALID ? json_true()
                            : verdict == FL_VERDICT_INVALID ? json_false() : json_null());
        json_object_set_new(j, "model", json_string(model));
        json_object_set_new(j, "consistency", json_string(cname));
        json_object_set_new(j, "operations", json_integer(E.n));
        json_object_set_new(j, "keys", json_integer(E.keys->len));
        json_object_set_new(j, "verdict", json_string(verdict == FL_VERDICT_VALID ? "valid"
                                                      : verdict == FL_VERDICT_INVALID ? "invalid"
                                                      : "unknown"));
        json_t *an = json_object();
        for (int a = 0; a < N_ANOM; a++) {
            const Anom *x = &E.anom[a];
            if (!x->count) continue;
            json_t *texts = json_array();
            for (guint i = 0; i < x->texts->len; i++)
                json_array_append_new(texts, json_string(x->texts->pdata[i]));
            json_object_set_new(an, anom_names[a], json_pack("{s:i, s:o, s:o}", "count",
                                (int)x->count, "examples", texts, "txns",
                                json_txns(&E, (const guint32 *)x->txns->data, x->txns->len)));
        }
        for (int v = 0; v < N_VAR; v++)
            for (int c = 0; c < N_CYC; c++) {
                const Cyc *cy = &E.cyc[v][c];
                if (!cy->found) continue;
                json_t *edges = json_array();
                for (guint32 i = 0; i < cy->len; i++) {
                    guint32 a = cy->nodes[i], b = cy->nodes[(i + 1) % cy->len];
                    GString *w = g_string_new(NULL);
                    explain_edge(&E, a, b, cy->kinds[i], w);
                    json_array_append_new(edges, json_pack("{s:i, s:i, s:s, s:s}", "from",
                                          (int)a + 1, "to", (int)b + 1, "kind",
                                          kind_name(cy->kinds[i]), "why", w->str));
                    g_string_free(w, TRUE);
                }
                g_autofree char *name = g_strconcat(cyc_names[c], var_suffix[v], NULL);
                json_object_set_new(an, name, json_pack("{s:i, s:b, s:o, s:o}", "components",
                                    (int)cy->components, "shortest", !cy->approx, "cycle",
                                    json_txns(&E, cy->nodes, cy->len), "edges", edges));
            }
        json_object_set_new(j, "anomalies", an);
        json_t *models = json_object();
        const char *const *names = fl_elle_consistency_names();
        for (int i = 0; names[i]; i++) {
            Level l;
            parse_level(names[i], &l);
            GString *w = g_string_new(NULL);
            int r = level_holds(&E, l, w);
            json_object_set_new(models, names[i], r == 1 ? json_true() : r == 0 ? json_false()
                                : json_null());
            g_string_free(w, TRUE);
        }
        json_object_set_new(j, "models", models);
        if (verdict == FL_VERDICT_INVALID)
            json_object_set_new(j, "counterexample", json_string(why->str));
        *json_out = j;
    }
    g_string_free(why, TRUE);
    elle_free(&E);
    fl_history_free(h);
    return verdict;
}
