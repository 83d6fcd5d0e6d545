/* sim/check/txn_gen.c: the list-append and rw-register workloads.
 *
 * Design notes.
 *  1. The pool holds keys_active keys; a micro-op picks one uniformly.  A
 *     write takes the key's next value (1, 2, ...); the key's last value
 *     (writes_per_key) retires it, and the next unused key takes its slot.
 *     Lists therefore hold at most writes_per_key elements, and a read
 *     costs the checker a bounded amount whatever the history's length.
 *  2. Values are unique per key because they are handed out here, whatever
 *     order clients execute them in.
 */
#include "sim/check/txn_gen.h"

struct FlTxnGen {
    FlTxnGenParams p;
    uint64_t (*random_cb)(void *);
    void *random_data;
    gint64 *pool;        /* keys_active keys */
    guint *written;      /* values handed out, per pool slot */
    gint64 next_key;
};

FlTxnGen *fl_txn_gen_new(const FlTxnGenParams *p, uint64_t (*random_cb)(void *),
                         void *random_data)
{
    g_assert(random_cb != NULL);
    FlTxnGen *g = g_new0(FlTxnGen, 1);
    if (p) g->p = *p;
    if (g->p.keys_active == 0) g->p.keys_active = 8;
    if (g->p.writes_per_key == 0) g->p.writes_per_key = 32;
    if (g->p.mops_min == 0) g->p.mops_min = 1;
    if (g->p.mops_max < g->p.mops_min) g->p.mops_max = MAX(g->p.mops_min, 4);
    if (g->p.read_fraction <= 0 || g->p.read_fraction > 1) g->p.read_fraction = 0.5;
    g->random_cb = random_cb;
    g->random_data = random_data;
    g->pool = g_new(gint64, g->p.keys_active);
    g->written = g_new0(guint, g->p.keys_active);
    for (guint i = 0; i < g->p.keys_active; i++) g->pool[i] = g->next_key++;
    return g;
}

void fl_txn_gen_free(FlTxnGen *g)
{
    if (g == NULL) return;
    g_free(g->pool);
    g_free(g->written);
    g_free(g);
}

static guint64 below(FlTxnGen *g, guint64 n)
{
    return g->random_cb(g->random_data) % n;
}

guint fl_txn_gen_next(FlTxnGen *g, FlMop *out, guint cap)
{
    g_assert(cap >= g->p.mops_max);
    guint n = g->p.mops_min + (guint)below(g, g->p.mops_max - g->p.mops_min + 1);
    for (guint i = 0; i < n; i++) {
        guint slot = (guint)below(g, g->p.keys_active);
        double u = (double)(g->random_cb(g->random_data) >> 11) / (double)(1ull << 53);
        out[i].key = g->pool[slot];
        out[i].value = 0;
        if (u < g->p.read_fraction) {
            out[i].f = FL_MOP_READ;
            continue;
        }
        out[i].f = g->p.kind == FL_TXN_LIST_APPEND ? FL_MOP_APPEND : FL_MOP_WRITE;
        out[i].value = ++g->written[slot];
        if (g->written[slot] >= g->p.writes_per_key) {   /* note 1 */
            g->pool[slot] = g->next_key++;
            g->written[slot] = 0;
        }
    }
    return n;
}

static void to_text(FlTxnKind kind, const FlMop *mops, guint n, gboolean ok,
                    gint64 *const *reads, const guint *read_lens, gboolean edn,
                    GString *out)
{
    const char *open = edn ? "[" : "[", *sep = edn ? " " : ",", *null = edn ? "nil" : "null";
    g_string_append(out, open);
    for (guint i = 0; i < n; i++) {
        if (i) g_string_append(out, sep);
        const char *f = mops[i].f == FL_MOP_READ ? "r" : mops[i].f == FL_MOP_APPEND ? "append" : "w";
        if (edn)
            g_string_append_printf(out, "[:%s %" G_GINT64_FORMAT " ", f, mops[i].key);
        else
            g_string_append_printf(out, "[\"%s\",%" G_GINT64_FORMAT ",", f, mops[i].key);
        if (mops[i].f != FL_MOP_READ) {
            g_string_append_printf(out, "%" G_GINT64_FORMAT, mops[i].value);
        } else if (!ok) {
            g_string_append(out, null);
        } else if (kind == FL_TXN_RW_REGISTER) {
            if (read_lens[i]) g_string_append_printf(out, "%" G_GINT64_FORMAT, reads[i][0]);
            else g_string_append(out, null);
        } else {
            g_string_append_c(out, '[');
            for (guint j = 0; j < read_lens[i]; j++)
                g_string_append_printf(out, "%s%" G_GINT64_FORMAT, j ? sep : "", reads[i][j]);
            g_string_append_c(out, ']');
        }
        g_string_append_c(out, ']');
    }
    g_string_append_c(out, ']');
}

void fl_txn_to_json(FlTxnKind kind, const FlMop *mops, guint n, gboolean ok,
                    gint64 *const *reads, const guint *read_lens, GString *out)
{
    to_text(kind, mops, n, ok, reads, read_lens, FALSE, out);
}

void fl_txn_to_edn(FlTxnKind kind, const FlMop *mops, guint n, gboolean ok,
                   gint64 *const *reads, const guint *read_lens, GString *out)
{
    to_text(kind, mops, n, ok, reads, read_lens, TRUE, out);
}
