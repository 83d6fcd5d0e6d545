/* The HotStuff block tree and the rules read off it: safeNode and the
 * update procedure of chained HotStuff (Yin et al., PODC 2019, Algorithm 3).
 * Pure functions of the tree: unit tests build chains by hand and call
 * them. */
#include "protocols/hotstuff/hotstuff.h"

static guint hash_u64(gconstpointer p)
{
    uint64_t v = *(const uint64_t *)p;
    return (guint)(v ^ (v >> 32));
}

static gboolean eq_u64(gconstpointer a, gconstpointer b)
{
    return *(const uint64_t *)a == *(const uint64_t *)b;
}

static void block_destroy(gpointer p)
{
    hs_block_free(p);
}

void hs_tree_init(HsTree *t, uint32_t cap)
{
    /* The key points into the block (its hash field), freed with it. */
    t->blocks = g_hash_table_new_full(hash_u64, eq_u64, NULL, block_destroy);
    t->cap = cap;
    t->size = 0;
    HsBlock *g = hs_block_genesis();
    g_hash_table_insert(t->blocks, &g->hash, g);
    t->size = 1;
}

void hs_tree_deinit(HsTree *t)
{
    if (t->blocks)
        g_hash_table_destroy(t->blocks);
    t->blocks = NULL;
}

HsBlock *hs_tree_get(const HsTree *t, uint64_t hash)
{
    return g_hash_table_lookup(t->blocks, &hash);
}

HsBlock *hs_tree_add(HsTree *t, HsBlock *b)
{
    HsBlock *old = hs_tree_get(t, b->hash);
    if (old) {
        hs_block_free(b);
        return old;
    }
    if (t->size >= t->cap) {
        hs_block_free(b);
        return NULL;
    }
    g_hash_table_insert(t->blocks, &b->hash, b);
    t->size++;
    return b;
}

bool hs_tree_link(HsTree *t, HsBlock *b, uint64_t *missing)
{
    if (b->linked)
        return true;
    /* Walk down to the first linked ancestor, then set heights back up. */
    GPtrArray *path = g_ptr_array_new();
    HsBlock *x = b;
    bool ok = true;
    while (!x->linked) {
        g_ptr_array_add(path, x);
        HsBlock *p = hs_tree_get(t, x->parent);
        if (!p || p->view != x->justify_view) {
            /* Absent; or a block of another view than the QC certified
             * (votes name the view and the block together): never linked. */
            *missing = p ? 0 : x->parent;
            ok = false;
            break;
        }
        x = p;
    }
    if (ok)
        for (guint i = path->len; i-- > 0;) {
            HsBlock *c = g_ptr_array_index(path, i);
            c->height = x->height + 1;
            c->linked = true;
            x = c;
        }
    g_ptr_array_free(path, TRUE);
    return ok;
}

bool hs_extends(const HsTree *t, const HsBlock *b, uint64_t anc_hash, uint64_t anc_view)
{
    g_assert(b->linked);
    while (b && b->view > anc_view)
        b = b->view == 0 ? NULL : hs_tree_get(t, b->parent);
    return b && b->hash == anc_hash;
}

bool hs_safe_node(const HsTree *t, const HsBlock *b, uint64_t lock_view, uint64_t lock_block,
                  bool check_lock)
{
    /* Liveness rule: the proposal carries a QC newer than our lock, so a
     * quorum moved past the locked block and we may follow it. */
    if (b->justify_view > lock_view)
        return true;
    /* The bug no-lock-check (hotstuff.c note 9): the safety rule dropped. */
    if (!check_lock)
        return true;
    /* Safety rule: the proposal extends the locked block. */
    return hs_extends(t, b, lock_block, lock_view);
}

void hs_update(const HsTree *t, const HsBlock *bstar, HsUpdate *out)
{
    out->lock = NULL;
    out->commit = 0;
    const HsBlock *b2 = hs_tree_get(t, bstar->parent);   /* b'' */
    if (!b2 || b2->view == 0)
        return;
    out->lock = b2;   /* lock on b2's justify, the QC of b' (if newer) */
    const HsBlock *b1 = hs_tree_get(t, b2->parent);      /* b' */
    if (!b1 || b1->view == 0)
        return;
    const HsBlock *b0 = hs_tree_get(t, b1->parent);      /* b */
    if (!b0 || b0->view == 0)
        return;
    /* A direct chain: b'' and b' were made in the views right after
     * their parents'.  A gap means a view without a QC between them, where
     * another block might have been certified (the paper's dummy nodes). */
    if (b2->view == b1->view + 1 && b1->view == b0->view + 1)
        out->commit = b0->hash;
}
