/* hotstuff: chained HotStuff (Yin, Malkhi, Reiter, Gueta, Abraham, "HotStuff:
 * BFT Consensus with Linearity and Responsiveness", PODC 2019), serving a
 * replicated store.
 *
 * Design notes.
 * 1. n = 3f+1 replicas, quorums of n - f (2f+1).  View v's leader is
 *    v mod n.  A block carries a batch of client requests, its view and a
 *    justify QC; its parent is the block that QC certifies (so a block
 *    always extends its justify node, the check of Algorithm 2).  Blocks
 *    are named by their BLAKE2b hash (wire.c).
 * 2. Authentication as PBFT's (hotstuff.h): votes are signed (a QC relays
 *    them), everything travels with a link MAC.  A QC is the set of
 *    2f+1 signed votes (the paper's threshold signature); a replica checks
 *    every vote of the QC in a proposal or a NEW-VIEW (hs_qc_verify; the
 *    key cache makes a vote it saw before cost a hash).  A vote or a
 *    NEW-VIEW is taken only from its signer over its link.
 * 3. Clients send each request to every replica and accept f+1 matching
 *    replies (FL_CLIENT_BFT), as for PBFT.  Requests are taken to be
 *    authentic (a real client signs them; no fault model here forges a
 *    command: `lie` reorders or drops them, `mutate` changes only views
 *    and hashes).  Every replica executes committed blocks in chain order
 *    and answers.
 * 4. The generic phase (Algorithm 3).  The leader of view v proposes a
 *    block extending highQC.  A replica that receives it runs the update:
 *    b'' = b*.justify.node, b' = b''.justify.node, b = b'.justify.node;
 *    highQC <- b*.justify if newer; lock <- b''.justify (the QC of b') if
 *    newer (a two-chain); commit b when b'', b', b are a direct chain
 *    (consecutive views: the dummy-free form of the paper's parent test).
 *    It votes, once per view and only for views above its last vote
 *    (vheight), when safeNode holds: the block extends the locked block,
 *    or its justify QC is newer than the lock (chain.c).  The vote goes to
 *    the leader of v+1, whose 2f+1 matching votes form the QC it proposes
 *    on: one message per replica per view each way, linear.
 * 5. The pacemaker.  Leaders rotate round robin, each keeping
 *    `leader_views` consecutive views (hs_leader).  Why not a new leader
 *    every view, as the paper's examples do: the commit rule needs four
 *    consecutive views to succeed (three of a direct chain and the one
 *    that carries its QC), and with one crashed replica of four, every
 *    fourth view fails, so nothing would ever commit again; a span of 4
 *    gives each live leader a run long enough.  A replica with a waiting
 *    request whose view lasts longer than the view timeout moves to the
 *    first view of the next leader and sends NEW-VIEW(v', highQC) to it; the timeout doubles with each
 *    view that ends this way (up to 2^max_backoff times the base) and goes
 *    back to the base once a block executes or a view made its QC: correct replicas come to
 *    overlap in a view long enough for a leader to finish it (the paper's
 *    exponential back-off).  A leader proposes in view v once it holds a
 *    QC of view v-1 (made from the votes) or 2f+1 NEW-VIEWs of view v (it
 *    takes the highest QC they carry), and only when there is work: a
 *    waiting request, or an uncommitted block above its last execution
 *    with commands in it (the three empty blocks that carry it through the
 *    commit rule).  An idle cluster sends nothing.  A proposal for a later
 *    view takes a replica to that view.
 * 6. Catching up.  A replica that gets a block whose ancestors it lacks
 *    keeps it pending and sends FETCH(parent hash) to its sender, which
 *    answers with up to HS_MAX_FETCH ancestors (BLOCKS); hashes prove them.
 *    A replica executes only a chain it has down to genesis, so a
 *    restarted one re-executes everything from the first block.
 * 7. Persistence (safety only).  Before it sends a vote a replica writes
 *    and syncs one record: vheight and the locked QC (with a sum).  After a
 *    restart it never votes again in a view it may have voted in, and
 *    stays locked where it was; highQC starts from the lock.  What a
 *    leader proposed is covered too: it votes for its own proposal (and so
 *    syncs vheight = v) before it sends it, and proposes only in views
 *    above vheight.  A record that is missing or fails its sum (a damaged
 *    disk) leaves the replica mute for good: it executes and serves blocks
 *    but never votes or proposes (it counts as one of the f faulty).
 * 8. A conflicting commit (only with the bug, or f+1 Byzantine replicas):
 *    a committed block that does not extend what the replica executed.
 *    The committed chain is the log, so the replica rebuilds its state
 *    from genesis along the new chain (counted: `conflicting_commits`):
 *    requests acknowledged from the abandoned branch are gone, which the
 *    clients' history shows.
 * 9. Teachable bug (param `bug`):
 *    no-lock-check  safeNode without its safety rule: a replica votes for
 *                   a proposal that does not extend its locked block even
 *                   when the proposal's QC is older than the lock.  A
 *                   Byzantine leader that forks behind the last committed
 *                   block (lie.c) then gets 2f+1 votes, the honest leaders
 *                   after it extend the fork (its QC is the newest), and
 *                   the fork commits: acknowledged writes vanish.  An
 *                   honest leader gets there too, more rarely: one that
 *                   collected 2f+1 NEW-VIEWs for view v, was cut off,
 *                   and proposes in v on their QC after the others
 *                   finished lower views and locked above it (README.md).
 * 10. BUGGIFY sites (sim/node.h fl_buggify): choices the paper leaves to
 *    the implementation.
 *    hotstuff.propose-one    a leader proposes one waiting request and
 *                            leaves the rest to later views.
 *    hotstuff.timeout-early  a view ends after half its timeout.
 *    hotstuff.skip-new-view  a NEW-VIEW not sent, as if lost.
 *    hotstuff.fetch-short    a BLOCKS answer with a single block. */
#include "protocols/hotstuff/hotstuff.h"

#include <string.h>

enum { TIMER_TICK = 1 };

/* How far ahead of its view a replica keeps votes and NEW-VIEWs: a
 * Byzantine peer naming views far ahead costs it nothing else. */
#define VIEW_WINDOW 1024
#define TREE_CAP (1u << 16)

typedef struct VoteSet {
    uint64_t who;
    uint64_t block[HS_MAX_NODES];
    uint8_t sig[HS_MAX_NODES][PBFT_SIG_BYTES];
} VoteSet;

typedef struct NvSet {
    uint64_t who;
    uint64_t best_view;
    GBytes *best;              /* the highest QC they carried, encoded */
} NvSet;

typedef struct Hs {
    uint32_t self, n, q;
    bool bug_no_lock;
    FlDuration tick, base_timeout;
    uint32_t max_backoff, batch;
    uint32_t span;             /* note 5: consecutive views one leader keeps */
    PbftKeys keys;             /* ours: the secret key never leaves this state */
    HsTree tree;

    /* Note 7: on disk. */
    uint64_t vheight;
    uint64_t lock_view, lock_block;
    GBytes *lock_qc;
    bool damaged;

    uint64_t high_view, high_block;
    GBytes *high_qc;

    /* Note 5. */
    uint64_t view;
    FlTime view_since;
    uint32_t fails;
    uint64_t ready_view;       /* leader: holds the justification to propose in it */
    uint64_t proposed_view;
    GTree *votes;              /* view -> VoteSet* */
    GTree *nvs;                /* view -> NvSet* */

    /* Note 6: our last vote, NEW-VIEW and proposal, resent while a
     * request waits and the view makes no progress. */
    FlDuration resend;
    FlTime last_resend;
    GBytes *last_vote, *last_nv, *last_prop;
    uint32_t last_vote_to, last_nv_to;

    /* Note 6. */
    uint64_t pending;          /* a block waiting for its ancestors, 0: none */
    uint64_t fetching;         /* the hash asked for, 0: none */
    uint32_t fetch_peer;
    FlTime fetch_at;

    FlStore *store;
    GArray *executed;          /* uint64_t hashes by height; [0] genesis */
    GTree *waiting;            /* client -> FlRequest* */
    GHashTable *exec_id;       /* client -> last executed id (lookups only) */
    GHashTable *made_at;       /* block hash -> FlTime proposed, our own (lookups only) */
    bool rebuilding;           /* note 8: executing again, not counted as commits */
} Hs;

static const FlParam hs_params[] = {
    { "tick", FL_PARAM_DURATION, "\"10ms\"", "timer granularity", NULL, 1e5, 1e10 },
    { "view_timeout", FL_PARAM_DURATION, "\"100ms\"", "the base view timeout: a view with a waiting request ends after it, doubled for each view in a row that ended so", NULL, 1e6, 1e11 },
    { "max_backoff", FL_PARAM_INT, "6", "the view timeout doubles at most this many times", NULL, 0, 20 },
    { "leader_views", FL_PARAM_INT, "4", "a leader keeps this many consecutive views before the next one takes over (1: a new leader every view; then one crashed replica of four stops every commit, note 5)", NULL, 1, 64 },
    { "batch", FL_PARAM_INT, "32", "the most requests in one block", NULL, 1, HS_MAX_BATCH },
    { "resend", FL_PARAM_DURATION, "\"40ms\"", "how long a view may make no progress before a replica resends its last vote, NEW-VIEW and proposal", NULL, 1e6, 1e11 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake: no-lock-check (safeNode forgets the locked block: a replica votes for a fork behind its lock)", "none|no-lock-check", 0, 0 },
    { NULL },
};

/* ---- Helpers -------------------------------------------------------------- */

static gint cmp_u64p(gconstpointer a, gconstpointer b, gpointer unused)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static gint cmp_u32(gconstpointer a, gconstpointer b, gpointer unused)
{
    uint32_t x = GPOINTER_TO_UINT(a), y = GPOINTER_TO_UINT(b);
    return x < y ? -1 : x > y;
}

static void nvset_free(gpointer p)
{
    NvSet *s = p;
    if (s->best)
        g_bytes_unref(s->best);
    g_free(s);
}

static void bytes_set(GBytes **slot, GBytes *b)
{
    if (b)
        g_bytes_ref(b);
    if (*slot)
        g_bytes_unref(*slot);
    *slot = b;
}

static bool qc_of(const Hs *hs, GBytes *b, HsQC *qc)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    FlReader r;
    fl_reader_init(&r, p, len);
    return hs_qc_decode(&r, hs->n, qc) && fl_reader_done(&r);
}

static GBytes *genesis_qc(void)
{
    HsQC qc = { .view = 0, .block = HS_GENESIS, .nsig = 0 };
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    hs_qc_encode(&w, &qc);
    GBytes *b = g_bytes_new(w.data, w.len);
    fl_writer_deinit(&w);
    return b;
}

static FlDuration view_timeout(const Hs *hs)
{
    uint32_t k = hs->fails < hs->max_backoff ? hs->fails : hs->max_backoff;
    return hs->base_timeout << k;
}

static uint64_t exec_id(const Hs *hs, uint32_t client)
{
    return (uint64_t)GPOINTER_TO_SIZE(g_hash_table_lookup(hs->exec_id, GUINT_TO_POINTER(client)));
}

static uint64_t exec_height(const Hs *hs)
{
    return hs->executed->len - 1;
}

static uint64_t exec_tip(const Hs *hs)
{
    return g_array_index(hs->executed, uint64_t, hs->executed->len - 1);
}

/* Sends a statement with the MAC of the link to @to. */
static void send_stmt(FlNode *n, Hs *hs, uint32_t to, const uint8_t *stmt, size_t len)
{
    if (to == hs->self)
        return;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_raw(&w, stmt, len);
    uint8_t mac[PBFT_MAC_BYTES];
    pbft_mac(&hs->keys, to, stmt, len, mac);
    fl_put_raw(&w, mac, sizeof mac);
    fl_send(n, to, w.data, w.len);
    fl_metric_add(n, "protocol_messages", 1);
    if (stmt[0] == HS_NEW_VIEW) {
        fl_metric_add(n, "view_change_messages", 1);
        fl_metric_add(n, "view_change_bytes", (double)w.len);
    }
    fl_writer_deinit(&w);
}

static void enter_view(FlNode *n, Hs *hs, uint64_t v)
{
    if (v <= hs->view)
        return;
    hs->view = v;
    hs->view_since = fl_now(n);
    /* What belongs to views long past is of no use any more. */
    while (g_tree_nnodes(hs->votes) > 0) {
        GTreeNode *x = g_tree_node_first(hs->votes);
        if (*(uint64_t *)g_tree_node_key(x) + 2 >= v)
            break;
        g_tree_remove(hs->votes, g_tree_node_key(x));
    }
    while (g_tree_nnodes(hs->nvs) > 0) {
        GTreeNode *x = g_tree_node_first(hs->nvs);
        if (*(uint64_t *)g_tree_node_key(x) >= v)
            break;
        g_tree_remove(hs->nvs, g_tree_node_key(x));
    }
}

/* highQC <- @qc (encoded, checked) when newer.  A QC of view w means 2f+1
 * replicas finished w: a replica behind moves to w+1 (note 5). */
static void update_high(FlNode *n, Hs *hs, uint64_t view, uint64_t block, GBytes *qc)
{
    if (view <= hs->high_view && hs->high_qc)
        return;
    hs->high_view = view;
    hs->high_block = block;
    bytes_set(&hs->high_qc, qc);
    if (n)
        enter_view(n, hs, view + 1);
}

/* ---- Persistence (note 7) ------------------------------------------------ */

static uint64_t record_sum(const void *p, size_t len)
{
    return pbft_siphash(0x6873726563316b31ULL, 0x686f747374756666ULL, p, len);
}

static void persist(FlNode *n, Hs *hs)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u64(&w, hs->vheight);
    fl_put_u8(&w, hs->damaged);
    gsize len;
    const uint8_t *p = g_bytes_get_data(hs->lock_qc, &len);
    fl_put_bytes(&w, p, len);
    fl_put_u64(&w, record_sum(w.data, w.len));
    fl_disk_write(n, "safety", w.data, w.len);
    fl_disk_sync(n, "safety");
    fl_writer_deinit(&w);
}

/* False when the record is missing, torn or corrupted. */
static bool read_record(FlNode *n, Hs *hs)
{
    size_t len;
    const uint8_t *p = fl_disk_view(n, "safety", &len);
    if (!p || len < 8)
        return false;
    FlReader r;
    fl_reader_init(&r, p, len - 8);
    uint64_t vheight = fl_get_u64(&r);
    uint8_t damaged = fl_get_u8(&r);
    size_t qlen;
    const uint8_t *q = fl_get_bytes(&r, &qlen);
    if (!fl_reader_done(&r) || damaged > 1)
        return false;
    FlReader s;
    fl_reader_init(&s, p + len - 8, 8);
    if (fl_get_u64(&s) != record_sum(p, len - 8))
        return false;
    GBytes *qc = g_bytes_new(q, qlen);
    HsQC dec;
    if (!qc_of(hs, qc, &dec)) {
        g_bytes_unref(qc);
        return false;
    }
    hs->vheight = vheight;
    hs->damaged = damaged;
    hs->lock_view = dec.view;
    hs->lock_block = dec.block;
    bytes_set(&hs->lock_qc, qc);
    update_high(NULL, hs, dec.view, dec.block, qc);
    g_bytes_unref(qc);
    return true;
}

/* ---- Execution (notes 3 and 8) ------------------------------------------- */

static void try_propose(FlNode *n, Hs *hs);

static void execute_block(FlNode *n, Hs *hs, const HsBlock *b)
{
    g_array_append_val(hs->executed, b->hash);
    FlTime *made = g_hash_table_lookup(hs->made_at, &b->hash);
    if (made && b->ncmd > 0 && !hs->rebuilding) {
        /* Counted once, by the block's proposer: proposal to execution. */
        fl_metric_add(n, "commits", b->ncmd);
        fl_metric_add(n, "commit_latency_ns", (double)b->ncmd * (double)paxos_elapsed(fl_now(n), *made));
    }
    for (uint32_t i = 0; i < b->ncmd; i++) {
        const FlRequest *q = &b->cmds[i];
        if (q->op.kind == FL_OP_NOOP || q->client == 0)
            continue;
        FlResult res;
        if (fl_store_apply_request(hs->store, q, &res)) {
            g_hash_table_insert(hs->exec_id, GUINT_TO_POINTER(q->client), GSIZE_TO_POINTER((gsize)q->id));
            fl_reply(n, q, &res);
        }
        FlRequest *wt = g_tree_lookup(hs->waiting, GUINT_TO_POINTER(q->client));
        if (wt && wt->id <= q->id)
            g_tree_remove(hs->waiting, GUINT_TO_POINTER(q->client));
    }
    hs->fails = 0;   /* note 5: progress, the timeout is back to its base */
}

/* Executes the chain from genesis to @b again (note 8). */
static void rebuild(FlNode *n, Hs *hs, HsBlock *b)
{
    fl_log(n, "committed block %016" G_GINT64_MODIFIER "x does not extend executed %016"
           G_GINT64_MODIFIER "x: rebuilding the state from genesis", b->hash, exec_tip(hs));
    fl_metric_add(n, "conflicting_commits", 1);
    fl_store_free(hs->store);
    hs->store = fl_store_new();
    g_hash_table_remove_all(hs->exec_id);
    g_array_set_size(hs->executed, 1);
    GPtrArray *path = g_ptr_array_new();
    for (HsBlock *x = b; x && x->view > 0; x = hs_tree_get(&hs->tree, x->parent))
        g_ptr_array_add(path, x);
    hs->rebuilding = true;
    for (guint i = path->len; i-- > 0;)
        execute_block(n, hs, g_ptr_array_index(path, i));
    hs->rebuilding = false;
    g_ptr_array_free(path, TRUE);
}

static void commit(FlNode *n, Hs *hs, uint64_t hash)
{
    HsBlock *c = hs_tree_get(&hs->tree, hash);
    g_assert(c && c->linked);   /* an ancestor of a linked block */
    uint64_t eh = exec_height(hs);
    if (c->height <= eh) {
        if (g_array_index(hs->executed, uint64_t, c->height) != hash)
            rebuild(n, hs, c);
        return;
    }
    GPtrArray *path = g_ptr_array_new();
    HsBlock *x = c;
    while (x->height > eh) {
        g_ptr_array_add(path, x);
        x = hs_tree_get(&hs->tree, x->parent);
    }
    if (x->hash != exec_tip(hs)) {
        rebuild(n, hs, c);
    } else {
        for (guint i = path->len; i-- > 0;)
            execute_block(n, hs, g_ptr_array_index(path, i));
    }
    g_ptr_array_free(path, TRUE);
    try_propose(n, hs);
}

/* ---- Proposals and votes (note 4) ---------------------------------------- */

static void fetch(FlNode *n, Hs *hs, uint64_t hash, uint32_t from)
{
    if (from >= hs->n || from == hs->self)
        from = (hs->self + 1) % hs->n;
    hs->fetching = hash;
    hs->fetch_peer = from;
    hs->fetch_at = fl_now(n);
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    hs_stmt_begin(&w, HS_FETCH, &hs->keys);
    fl_put_u64(&w, hash);
    fl_put_u32(&w, HS_MAX_FETCH);
    hs_stmt_end(&w, 0, &hs->keys);
    send_stmt(n, hs, from, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_vote(FlNode *n, Hs *hs, const HsBlock *b);

/* A block that came in a proposal (ours too) and passed its checks. */
static void process_block(FlNode *n, Hs *hs, HsBlock *b, uint32_t from)
{
    uint64_t missing = 0;
    if (!hs_tree_link(&hs->tree, b, &missing)) {
        if (missing) {
            /* Note 6: keep the newest such block; fetch what it lacks. */
            HsBlock *old = hs->pending ? hs_tree_get(&hs->tree, hs->pending) : NULL;
            if (!old || old->view <= b->view)
                hs->pending = b->hash;
            if (hs->fetching != missing)
                fetch(n, hs, missing, from);
        }
        return;
    }
    if (hs->pending == b->hash)
        hs->pending = 0;
    /* The update procedure (Algorithm 3). */
    if (b->justify_view > hs->high_view)
        update_high(n, hs, b->justify_view, b->parent, b->qc);
    HsUpdate u;
    hs_update(&hs->tree, b, &u);
    if (u.lock && u.lock->justify_view > hs->lock_view) {
        hs->lock_view = u.lock->justify_view;
        hs->lock_block = u.lock->parent;
        bytes_set(&hs->lock_qc, u.lock->qc);
    }
    if (u.commit)
        commit(n, hs, u.commit);
    /* The vote: once per view, above every earlier vote, when safe. */
    if (hs->damaged || b->view <= hs->vheight)
        return;
    if (!hs_safe_node(&hs->tree, b, hs->lock_view, hs->lock_block, !hs->bug_no_lock)) {
        fl_log(n, "not voting for view %" G_GUINT64_FORMAT ": its QC (view %" G_GUINT64_FORMAT
               ") is older than our lock (view %" G_GUINT64_FORMAT ") and it does not extend it",
               b->view, b->justify_view, hs->lock_view);
        fl_metric_add(n, "unsafe_proposals", 1);
        return;
    }
    hs->vheight = b->view;
    if (b->justify_view + 1 == b->view)
        hs->fails = 0;   /* note 5: the last view made its QC: views succeed again */
    persist(n, hs);   /* note 7: before the vote leaves */
    enter_view(n, hs, b->view);
    hs->view_since = fl_now(n);
    send_vote(n, hs, b);
}

static void on_vote(FlNode *n, Hs *hs, uint32_t signer, uint64_t view, uint64_t block,
                    const uint8_t *sig);

static void send_vote(FlNode *n, Hs *hs, const HsBlock *b)
{
    uint32_t to = hs_leader(b->view + 1, hs->n, hs->span);
    uint8_t buf[128];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    hs_stmt_begin(&w, HS_VOTE, &hs->keys);
    fl_put_u64(&w, b->view);
    fl_put_u64(&w, b->hash);
    hs_stmt_end(&w, 0, &hs->keys);
    if (to == hs->self) {
        on_vote(n, hs, hs->self, b->view, b->hash, w.data + w.len - PBFT_SIG_BYTES);
    } else {
        send_stmt(n, hs, to, w.data, w.len);
        GBytes *v = g_bytes_new(w.data, w.len);
        bytes_set(&hs->last_vote, v);
        g_bytes_unref(v);
        hs->last_vote_to = to;
    }
    fl_writer_deinit(&w);
}

/* A signed proposal statement @st (checked: from the leader of its view). */
static void on_proposal(FlNode *n, Hs *hs, const HsStmt *st, uint32_t from)
{
    if (st->signer != hs_leader(st->view, hs->n, hs->span))
        return;
    HsBlock *b = hs_block_decode(st->body.p, st->body.len, hs->n, hs->batch);
    if (!b)
        return;
    HsQC *qc = g_new(HsQC, 1);
    bool ok = qc_of(hs, b->qc, qc) && hs_qc_verify(&hs->keys, qc, hs->q);
    g_free(qc);
    if (!ok) {
        fl_metric_add(n, "qc_rejected", 1);
        hs_block_free(b);
        return;
    }
    if (!hs->damaged && st->view >= hs->view)
        fl_role(n, "replica");
    b = hs_tree_add(&hs->tree, b);
    if (!b) {
        fl_log(n, "block tree full (%u blocks): proposal dropped", TREE_CAP);
        return;
    }
    process_block(n, hs, b, from);
}

/* The work a leader has (note 5): commands in uncommitted blocks of the
 * chain below @parent, which it must not propose twice, are recorded in
 * @in_chain (client -> id). */
static bool chain_work(Hs *hs, HsBlock *parent, GHashTable *in_chain)
{
    bool work = false;
    uint64_t eh = exec_height(hs);
    for (HsBlock *x = parent; x && x->linked && x->height > eh; x = hs_tree_get(&hs->tree, x->parent)) {
        work |= x->ncmd > 0;
        for (uint32_t i = 0; i < x->ncmd; i++) {
            uint64_t id = (uint64_t)GPOINTER_TO_SIZE(g_hash_table_lookup(in_chain, GUINT_TO_POINTER(x->cmds[i].client)));
            if (x->cmds[i].id > id)
                g_hash_table_insert(in_chain, GUINT_TO_POINTER(x->cmds[i].client), GSIZE_TO_POINTER((gsize)x->cmds[i].id));
        }
    }
    return work;
}

static void try_propose(FlNode *n, Hs *hs)
{
    if (hs_leader(hs->view, hs->n, hs->span) != hs->self || hs->ready_view != hs->view ||
        hs->proposed_view >= hs->view || hs->view <= hs->vheight || hs->high_view >= hs->view ||
        hs->damaged)
        return;
    HsBlock *parent = hs_tree_get(&hs->tree, hs->high_block);
    uint64_t missing = 0;
    if (!parent || !hs_tree_link(&hs->tree, parent, &missing)) {
        /* The QC's block never reached us: get it from its proposer. */
        if (missing && hs->fetching != missing)
            fetch(n, hs, missing, hs_leader(hs->high_view, hs->n, hs->span));
        return;
    }
    GHashTable *in_chain = g_hash_table_new(g_direct_hash, g_direct_equal);
    bool work = chain_work(hs, parent, in_chain);
    uint32_t cap = fl_buggify(n, "hotstuff.propose-one") ? 1 : hs->batch;
    FlRequest *cmds = g_new(FlRequest, cap);
    uint32_t ncmd = 0;
    /* In client order: the tree is keyed by client id, never by address. */
    for (GTreeNode *x = g_tree_node_first(hs->waiting); x && ncmd < cap; x = g_tree_node_next(x)) {
        const FlRequest *q = g_tree_node_value(x);
        uint64_t chained = (uint64_t)GPOINTER_TO_SIZE(g_hash_table_lookup(in_chain, GUINT_TO_POINTER(q->client)));
        if (q->id > chained && q->id > exec_id(hs, q->client))
            cmds[ncmd++] = *q;
    }
    g_hash_table_destroy(in_chain);
    if (ncmd == 0 && !work) {
        g_free(cmds);
        return;   /* idle: nothing to carry */
    }
    HsQC *qc = g_new(HsQC, 1);
    bool ok = qc_of(hs, hs->high_qc, qc);
    g_assert(ok);   /* ours, checked when we took it */
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    hs_stmt_begin(&w, HS_PROPOSAL, &hs->keys);
    size_t at = w.len;
    hs_block_encode(&w, hs->view, qc, cmds, ncmd);
    g_free(qc);
    g_free(cmds);
    HsBlock *b = hs_block_decode(w.data + at, w.len - at, hs->n, hs->batch);
    g_assert(b);
    hs_stmt_end(&w, 0, &hs->keys);
    hs->proposed_view = hs->view;
    /* The role follows proposals, not views: the last replica to propose
     * is the leader until it sees another's proposal (the "leader"
     * selector of faults then always names someone). */
    fl_role(n, "leader");
    b = hs_tree_add(&hs->tree, b);
    if (b) {
        FlTime *t = g_new(FlTime, 1);
        *t = fl_now(n);
        g_hash_table_replace(hs->made_at, &b->hash, t);
        fl_log(n, "propose view %" G_GUINT64_FORMAT " on QC of view %" G_GUINT64_FORMAT ", %u requests",
               hs->view, b->justify_view, b->ncmd);
        if (b->justify_view + 1 < b->view)
            fl_metric_add(n, "view_changes", 1);   /* a view (or more) ended without a QC */
        /* Note 7: our own vote (and its sync) before anyone sees it. */
        process_block(n, hs, b, hs->self);
        for (uint32_t j = 0; j < hs->n; j++)
            send_stmt(n, hs, j, w.data, w.len);
        GBytes *pb = g_bytes_new(w.data, w.len);
        bytes_set(&hs->last_prop, pb);
        g_bytes_unref(pb);
    }
    fl_writer_deinit(&w);
}

/* A vote for (@view, @block), to us as the leader of view+1. */
static void on_vote(FlNode *n, Hs *hs, uint32_t signer, uint64_t view, uint64_t block,
                    const uint8_t *sig)
{
    if (hs_leader(view + 1, hs->n, hs->span) != hs->self || view + 1 < hs->view ||
        view > hs->view + VIEW_WINDOW || view <= hs->high_view)
        return;
    VoteSet *vs = g_tree_lookup(hs->votes, &view);
    if (!vs) {
        vs = g_new0(VoteSet, 1);
        uint64_t *k = g_new(uint64_t, 1);
        *k = view;
        g_tree_insert(hs->votes, k, vs);
    }
    if (vs->who & paxos_bit(signer))
        return;
    vs->who |= paxos_bit(signer);
    vs->block[signer] = block;
    memcpy(vs->sig[signer], sig, PBFT_SIG_BYTES);
    uint32_t count = 0;
    for (uint32_t i = 0; i < hs->n; i++)
        count += (vs->who & paxos_bit(i)) && vs->block[i] == block;
    if (count < hs->q)
        return;
    /* A QC: exactly the quorum, signers ascending. */
    HsQC *qc = g_new0(HsQC, 1);
    qc->view = view;
    qc->block = block;
    for (uint32_t i = 0; i < hs->n && qc->nsig < hs->q; i++) {
        if (!(vs->who & paxos_bit(i)) || vs->block[i] != block)
            continue;
        qc->signer[qc->nsig] = i;
        memcpy(qc->sig[qc->nsig], vs->sig[i], PBFT_SIG_BYTES);
        qc->nsig++;
    }
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    hs_qc_encode(&w, qc);
    GBytes *enc = g_bytes_new(w.data, w.len);
    fl_writer_deinit(&w);
    g_free(qc);
    update_high(n, hs, view, block, enc);
    g_bytes_unref(enc);
    enter_view(n, hs, view + 1);
    if (hs->view == view + 1)
        hs->ready_view = view + 1;
    try_propose(n, hs);
}

static void on_new_view(FlNode *n, Hs *hs, uint32_t signer, uint64_t view, GBytes *qcb)
{
    if (hs_leader(view, hs->n, hs->span) != hs->self || view < hs->view || view > hs->view + VIEW_WINDOW)
        return;
    HsQC *qc = g_new(HsQC, 1);
    bool ok = qc_of(hs, qcb, qc) && qc->view < view && hs_qc_verify(&hs->keys, qc, hs->q);
    uint64_t qv = qc->view, qblock = qc->block;
    g_free(qc);
    if (!ok) {
        fl_metric_add(n, "qc_rejected", 1);
        return;
    }
    NvSet *s = g_tree_lookup(hs->nvs, &view);
    if (!s) {
        s = g_new0(NvSet, 1);
        uint64_t *k = g_new(uint64_t, 1);
        *k = view;
        g_tree_insert(hs->nvs, k, s);
    }
    s->who |= paxos_bit(signer);
    if (!s->best || qv > s->best_view) {
        s->best_view = qv;
        bytes_set(&s->best, qcb);
    }
    update_high(n, hs, qv, qblock, qcb);
    if (paxos_count(s->who) < hs->q)
        return;
    enter_view(n, hs, view);
    if (hs->view == view)
        hs->ready_view = view;
    try_propose(n, hs);
}

static void send_new_view(FlNode *n, Hs *hs)
{
    uint32_t to = hs_leader(hs->view, hs->n, hs->span);
    if (to == hs->self) {
        on_new_view(n, hs, hs->self, hs->view, hs->high_qc);
        return;
    }
    if (fl_buggify(n, "hotstuff.skip-new-view"))
        return;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    hs_stmt_begin(&w, HS_NEW_VIEW, &hs->keys);
    fl_put_u64(&w, hs->view);
    gsize len;
    const uint8_t *p = g_bytes_get_data(hs->high_qc, &len);
    fl_put_raw(&w, p, len);
    hs_stmt_end(&w, 0, &hs->keys);
    send_stmt(n, hs, to, w.data, w.len);
    GBytes *nv = g_bytes_new(w.data, w.len);
    bytes_set(&hs->last_nv, nv);
    g_bytes_unref(nv);
    hs->last_nv_to = to;
    fl_writer_deinit(&w);
}

/* ---- Catching up (note 6) ------------------------------------------------- */

static void on_fetch(FlNode *n, Hs *hs, uint32_t from, uint64_t hash, uint32_t count)
{
    if (fl_buggify(n, "hotstuff.fetch-short"))
        count = 1;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    hs_stmt_begin(&w, HS_BLOCKS, &hs->keys);
    size_t at = w.len;
    fl_put_u32(&w, 0);
    uint32_t k = 0;
    for (HsBlock *b = hs_tree_get(&hs->tree, hash); b && b->view > 0 && k < count;
         b = hs_tree_get(&hs->tree, b->parent), k++) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(b->raw, &len);
        fl_put_bytes(&w, p, len);
    }
    if (k > 0) {
        for (int i = 0; i < 4; i++)
            w.data[at + i] = (uint8_t)(k >> (8 * i));
        hs_stmt_end(&w, 0, &hs->keys);
        send_stmt(n, hs, from, w.data, w.len);
    }
    fl_writer_deinit(&w);
}

static void on_blocks(FlNode *n, Hs *hs, const HsStmt *st)
{
    if (!hs->fetching)
        return;
    uint64_t expect = hs->fetching;
    bool any = false;
    for (uint32_t i = 0; i < st->count; i++) {
        HsBlock *b = hs_block_decode(st->blocks[i].p, st->blocks[i].len, hs->n, HS_MAX_BATCH);
        if (!b || b->hash != expect) {
            hs_block_free(b);
            break;   /* not what we asked: the hash is the proof */
        }
        expect = b->parent;
        b = hs_tree_add(&hs->tree, b);
        if (!b)
            break;
        any = true;
        if (hs_tree_get(&hs->tree, expect))
            break;
    }
    if (!any)
        return;
    hs->fetching = 0;
    if (hs->pending) {
        HsBlock *b = hs_tree_get(&hs->tree, hs->pending);
        if (b)
            process_block(n, hs, b, st->signer);
    }
    try_propose(n, hs);
}

/* ---- Entry points ------------------------------------------------------- */

static void init_state(FlNode *n, Hs *hs)
{
    hs->self = fl_self(n);
    hs->n = fl_nodes(n);
    hs->q = hs_quorum(hs->n);
    hs->bug_no_lock = strcmp(fl_param_enum(n, "bug"), "no-lock-check") == 0;
    hs->tick = fl_param_duration(n, "tick");
    hs->base_timeout = fl_param_duration(n, "view_timeout");
    hs->max_backoff = (uint32_t)fl_param_int(n, "max_backoff");
    hs->batch = (uint32_t)fl_param_int(n, "batch");
    hs->span = (uint32_t)fl_param_int(n, "leader_views");
    hs->resend = fl_param_duration(n, "resend");
    pbft_keys_init(&hs->keys, fl_run_seed(n), hs->self, hs->n);
    hs_tree_init(&hs->tree, TREE_CAP);
    hs->lock_qc = genesis_qc();
    hs->high_qc = g_bytes_ref(hs->lock_qc);
    hs->lock_block = hs->high_block = HS_GENESIS;
    hs->votes = g_tree_new_full(cmp_u64p, NULL, g_free, g_free);
    hs->nvs = g_tree_new_full(cmp_u64p, NULL, g_free, nvset_free);
    hs->store = fl_store_new();
    hs->executed = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    uint64_t g = HS_GENESIS;
    g_array_append_val(hs->executed, g);
    hs->waiting = g_tree_new_full(cmp_u32, NULL, NULL, g_free);
    hs->exec_id = g_hash_table_new(g_direct_hash, g_direct_equal);
    hs->made_at = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    /* Everyone starts in view 1, justified by the genesis QC. */
    hs->view = hs->ready_view = 1;
    hs->view_since = fl_now(n);
    fl_role(n, "replica");
    fl_timer(n, hs->tick, TIMER_TICK);
}

static void hs_init(FlNode *n, void *state)
{
    Hs *hs = state;
    init_state(n, hs);
    /* Note 7: from now on, a restart that finds no good record knows its
     * disk was damaged. */
    persist(n, hs);
}

static void hs_recover(FlNode *n, void *state)
{
    Hs *hs = state;
    init_state(n, hs);
    if (!read_record(n, hs) || hs->damaged) {
        hs->damaged = true;
        fl_role(n, "mute");
        fl_log(n, "safety record lost: never voting again");
        persist(n, hs);
        return;
    }
    if (hs->vheight > 0) {
        /* We may have proposed (and so voted) up to vheight: only later
         * views, and only once a QC or 2f+1 NEW-VIEWs justify them. */
        hs->view = hs->vheight;
        hs->ready_view = 0;
        hs->proposed_view = hs->vheight;
    }
}

static void hs_destroy(FlNode *n, void *state)
{
    Hs *hs = state;
    pbft_keys_deinit(&hs->keys);
    hs_tree_deinit(&hs->tree);
    bytes_set(&hs->lock_qc, NULL);
    bytes_set(&hs->high_qc, NULL);
    bytes_set(&hs->last_vote, NULL);
    bytes_set(&hs->last_nv, NULL);
    bytes_set(&hs->last_prop, NULL);
    g_tree_destroy(hs->votes);
    g_tree_destroy(hs->nvs);
    fl_store_free(hs->store);
    g_array_free(hs->executed, TRUE);
    g_tree_destroy(hs->waiting);
    g_hash_table_destroy(hs->exec_id);
    g_hash_table_destroy(hs->made_at);
}

static void hs_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Hs *hs = state;
    if (from >= hs->n || len < PBFT_MAC_BYTES + HS_STMT_MIN)
        return;
    size_t slen = len - PBFT_MAC_BYTES;
    if (!pbft_mac_check(&hs->keys, from, msg, slen, msg + slen)) {
        fl_metric_add(n, "mac_rejected", 1);
        return;
    }
    HsStmt *st = g_new(HsStmt, 1);
    if (!hs_stmt_parse(msg, slen, hs->n, st) || st->signer != from) {
        /* Nothing here is relayed: each statement comes from its signer. */
        g_free(st);
        return;
    }
    if (hs_type_signed(st->type)) {
        /* The MAC proves the signer said it (note 2): remember it as
         * authentic, so a QC that relays this vote back costs a hash. */
        size_t body = slen - PBFT_SIG_BYTES;
        pbft_note_authentic(&hs->keys, from, msg, body, msg + body);
    }
    switch (st->type) {
    case HS_PROPOSAL: on_proposal(n, hs, st, from); break;
    case HS_VOTE: on_vote(n, hs, from, st->view, st->block, msg + slen - PBFT_SIG_BYTES); break;
    case HS_NEW_VIEW: {
        GBytes *qc = g_bytes_new(st->body.p, st->body.len);
        on_new_view(n, hs, from, st->view, qc);
        g_bytes_unref(qc);
        break;
    }
    case HS_FETCH: on_fetch(n, hs, from, st->block, st->count); break;
    case HS_BLOCKS: on_blocks(n, hs, st); break;
    }
    g_free(st);
}

static void resend_bytes(FlNode *n, Hs *hs, uint32_t to, GBytes *b)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    send_stmt(n, hs, to, p, len);
}

static void resend(FlNode *n, Hs *hs)
{
    if (hs->last_vote && hs->vheight + 1 >= hs->view)
        resend_bytes(n, hs, hs->last_vote_to, hs->last_vote);
    if (hs->last_nv && hs_leader(hs->view, hs->n, hs->span) == hs->last_nv_to)
        resend_bytes(n, hs, hs->last_nv_to, hs->last_nv);
    if (hs->last_prop && hs->proposed_view == hs->view)
        for (uint32_t j = 0; j < hs->n; j++)
            resend_bytes(n, hs, j, hs->last_prop);
}

static void hs_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Hs *hs = state;
    if (tag != TIMER_TICK)
        return;
    FlTime now = fl_now(n);
    FlTime waited = paxos_elapsed(now, hs->view_since);
    FlDuration limit = view_timeout(hs);
    if (!hs->damaged && g_tree_nnodes(hs->waiting) > 0 &&
        (waited > (FlTime)limit || (waited > (FlTime)limit / 2 && fl_buggify(n, "hotstuff.timeout-early")))) {
        /* Note 5: this view took too long; on to the next, with a longer
         * timeout, and tell its leader our highQC. */
        if (hs->fails < 63)
            hs->fails++;
        fl_metric_add(n, "view_timeouts", 1);
        fl_log(n, "view %" G_GUINT64_FORMAT " timed out after %" G_GUINT64_FORMAT " ms", hs->view,
               (uint64_t)(limit / 1000000));
        /* The first view of the next leader: this one failed us. */
        uint64_t v = (hs->view / hs->span + 1) * hs->span;
        enter_view(n, hs, v);
        hs->view_since = now;
        send_new_view(n, hs);
    }
    if (!hs->damaged && g_tree_nnodes(hs->waiting) > 0 && paxos_elapsed(now, hs->view_since) >= (FlTime)hs->resend &&
        paxos_elapsed(now, hs->last_resend) >= (FlTime)hs->resend) {
        /* Note 6: a lost message must not cost a whole view timeout. */
        hs->last_resend = now;
        if (!fl_buggify(n, "hotstuff.resend-skipped"))
            resend(n, hs);
    }
    if (hs->fetching && paxos_elapsed(now, hs->fetch_at) > (FlTime)hs->base_timeout) {
        /* No answer: ask the next peer. */
        uint32_t next = (hs->fetch_peer + 1) % hs->n;
        if (next == hs->self)
            next = (next + 1) % hs->n;
        fetch(n, hs, hs->fetching, next);
    }
    fl_timer(n, hs->tick, TIMER_TICK);
}

static void hs_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Hs *hs = state;
    if (req->op.kind == FL_OP_NOOP || req->client == 0 || req->id <= exec_id(hs, req->client))
        return;
    FlRequest *wt = g_tree_lookup(hs->waiting, GUINT_TO_POINTER(req->client));
    if (wt && wt->id >= req->id)
        return;
    if (g_tree_nnodes(hs->waiting) == 0)
        hs->view_since = fl_now(n);   /* note 5: the view's clock runs from the first wait */
    wt = g_new(FlRequest, 1);
    *wt = *req;
    g_tree_replace(hs->waiting, GUINT_TO_POINTER(req->client), wt);
    try_propose(n, hs);
}

/* ---- Hooks for faults and exploration ------------------------------------ */

/* For lie.c: the liar's own keys, tree and last executed block. */
const PbftKeys *hs_lie_keys(void *state);
const HsTree *hs_lie_tree(void *state);
uint64_t hs_lie_exec_tip(void *state);
size_t hs_lie(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len, size_t cap);

const PbftKeys *hs_lie_keys(void *state)
{
    return &((Hs *)state)->keys;
}

const HsTree *hs_lie_tree(void *state)
{
    return &((Hs *)state)->tree;
}

uint64_t hs_lie_exec_tip(void *state)
{
    return exec_tip(state);
}

static bool hs_reseal(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len)
{
    return hs_reseal_keys(&((Hs *)state)->keys, to, msg, len);
}

static const char *hs_msg_kind(const uint8_t *msg, size_t len)
{
    static const char *const names[] = {
        [HS_PROPOSAL] = "PROPOSAL",
        [HS_VOTE] = "VOTE",
        [HS_NEW_VIEW] = "NEW-VIEW",
        [HS_FETCH] = "FETCH",
        [HS_BLOCKS] = "BLOCKS",
    };
    if (len == 0 || msg[0] >= G_N_ELEMENTS(names))
        return NULL;
    return names[msg[0]];
}

/* For explore: what decides the node's future (times left out). */
static uint64_t hs_digest(const void *state)
{
    const Hs *hs = state;
    uint64_t h = 0x686f7473ULL;
    h = fl_digest_mix(h, hs->view);
    h = fl_digest_mix(h, hs->vheight);
    h = fl_digest_mix(h, hs->lock_view);
    h = fl_digest_mix(h, hs->lock_block);
    h = fl_digest_mix(h, hs->high_view);
    h = fl_digest_mix(h, hs->high_block);
    h = fl_digest_mix(h, hs->ready_view);
    h = fl_digest_mix(h, hs->proposed_view);
    h = fl_digest_mix(h, hs->fails);
    h = fl_digest_mix(h, hs->damaged);
    h = fl_digest_mix(h, hs->pending);
    h = fl_digest_mix(h, hs->fetching);
    h = fl_digest_mix(h, hs->executed->len);
    h = fl_digest_mix(h, exec_tip(hs));
    h = fl_digest_mix(h, hs->tree.size);
    for (GTreeNode *x = g_tree_node_first(hs->waiting); x; x = g_tree_node_next(x))
        h = fl_digest_request(h, g_tree_node_value(x));
    return h;
}

/* For explore: executed chains agree (each node executes a prefix of one
 * chain of committed blocks, so the hashes at the lower of two heights
 * must match). */
static bool hs_invariant(const void *const *states, uint32_t nodes, GString *why)
{
    for (uint32_t i = 0; i < nodes; i++) {
        const Hs *a = states[i];
        for (uint32_t j = i + 1; a && j < nodes; j++) {
            const Hs *b = states[j];
            if (!b)
                continue;
            guint h = MIN(a->executed->len, b->executed->len) - 1;
            uint64_t x = g_array_index(a->executed, uint64_t, h);
            uint64_t y = g_array_index(b->executed, uint64_t, h);
            if (x != y) {
                g_string_printf(why, "nodes %u and %u executed different blocks at height %u (%016"
                                G_GINT64_MODIFIER "x, %016" G_GINT64_MODIFIER "x)", i, j, h, x, y);
                return false;
            }
        }
    }
    return true;
}

const FlProtocol fl_proto_hotstuff = {
    .name = "hotstuff",
    .summary = "chained HotStuff (Yin et al.): n = 3f+1, one generic phase per view, QCs of 2f+1 signed votes, three-chain commit, pacemaker with back-off",
    .params = hs_params,
    .state_size = sizeof(Hs),
    .init = hs_init,
    .recover = hs_recover,
    .destroy = hs_destroy,
    .on_message = hs_on_message,
    .on_timer = hs_on_timer,
    .on_request = hs_on_request,
    .lie = hs_lie,
    .client_mode = FL_CLIENT_BFT,
    .msg_kind = hs_msg_kind,
    .kinds = "PROPOSAL|VOTE|NEW-VIEW|FETCH|BLOCKS",
    .fields = hs_fields,
    .reseal = hs_reseal,
    .tolerates_byzantine = true,
    .max_nodes = HS_MAX_NODES,
    .digest = hs_digest,
    .invariant = hs_invariant,
};
