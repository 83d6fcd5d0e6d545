/* pbft: Practical Byzantine Fault Tolerance (Castro & Liskov, OSDI 1999;
 * TOCS 20(4), 2002), serving a replicated store.
 *
 * Design notes.
 * 1. n = 3f+1 replicas; quorums are n - f (2f+1), weak certificates f+1
 *    (pbft.h).  View v's primary is v mod n.  Every message is a statement
 *    by its author plus a per-link MAC (pbft.h): a corrupted message fails
 *    the MAC and is dropped, a relayed statement keeps its author's
 *    Ed25519 signature (libsodium; keys from the run's seed, each node's
 *    secret key only in its own state: mac.c, README.md).
 * 2. Clients send each request to every replica and accept f+1 matching
 *    replies (FL_CLIENT_BFT).  Requests are authenticated by their source
 *    (the engine delivers them from the client's own address), which stands
 *    for the paper's client signatures: a backup accepts a pre-prepare only
 *    for a request it received from the client itself, one certified in a
 *    NEW-VIEW, the null request, or one that f+1 other backups prepared (the
 *    first correct one among them saw it come from the client), so a faulty
 *    primary cannot forge one.
 * 3. Normal case (section 4.2): the primary assigns sequence number s in
 *    the window (h, h+L] and multicasts PRE-PREPARE; a backup that accepts it
 *    multicasts PREPARE.  prepared(m, v, s) = the pre-prepare plus quorum-1
 *    matching prepares from distinct backups; then COMMIT; committed-local
 *    = prepared plus a quorum of matching commits.  Requests execute in
 *    sequence order and every replica replies.  Reads go through the log.
 * 4. Checkpoints (section 4.3): every K executions a replica multicasts
 *    CHECKPOINT(s, digest of the state); a quorum of matching ones makes it
 *    stable: the low watermark h moves to s and everything below is
 *    discarded.  A replica that fell behind a stable checkpoint gets the
 *    snapshot (STATE) with the quorum's proof, and checks its digest.
 * 5. View change (section 4.4): a backup whose oldest waiting request is
 *    older than the view-change timeout (a client's newer request does not
 *    restart the wait: we never saw the older one executed) multicasts
 *    VIEW-CHANGE(v+1) with its stable checkpoint's proof and its prepared
 *    certificates, and stops taking part in view v; without a NEW-VIEW it
 *    moves on with a doubled timeout if f others want a view as high.  f+1
 *    view changes for later views make a replica join the smallest.  The
 *    new primary, with a quorum of valid view changes, sends NEW-VIEW;
 *    every replica recomputes the pre-prepares it implies
 *    (pbft_new_view_ops: the highest-view certificate per sequence number,
 *    the null request in gaps) and the primary then pre-prepares exactly
 *    those, so certificates stay uniform.
 * 6. Liveness under loss: every `resend`, replicas resend their votes for
 *    sequence numbers not committed in this view, and a STATUS message; a peer
 *    that is ahead answers with what the other lacks (the NEW-VIEW, votes,
 *    or a STATE transfer).
 * 7. Crash and restart: one record is kept on disk (synced, note 9): the
 *    highest view we voted in or asked for, and our reach, the top of the
 *    highest window we ever had (stable checkpoint + L, never lowered, so a
 *    second crash before recovery keeps the first one's bound).  A
 *    restarted replica has lost its log, so it must not vote again where
 *    it may have voted, nor send a VIEW-CHANGE whose missing certificates
 *    could let a new view forget a committed request: it stays mute
 *    (executing what the others commit, never voting) until it accepts a
 *    NEW-VIEW made by the others, whose pre-prepares give back every
 *    certificate above the stable checkpoint, or until the stable
 *    checkpoint passes its reach (everything it may have voted for is then
 *    discarded).  A mute replica counts as one of the f faulty ones: a
 *    second one at the same time (a crash while the first is still mute)
 *    leaves too few voters, and the cluster waits for one of them.
 * 8. Teachable bugs (param `bug`):
 *    f-equals-n-over-3  computes f = ceil(n/3), so quorums shrink to
 *                       n - ceil(n/3): 2 of 4.  Two halves of a partition
 *                       each gather a "quorum", order different requests
 *                       at the same sequence numbers, and clients see both
 *                       histories.
 *    trust-disk         the record as it was before note 9: no sum, and a
 *                       restart that reads no whole record takes itself
 *                       for a first start.  A torn record makes a replica
 *                       that voted before the crash vote again with an
 *                       empty log (as primary, it numbers requests from 1
 *                       again); a corrupted one makes it believe a view or
 *                       reach that it never had, and leave mute too early.
 *    ignore-min-s       a replica entering a new view keeps its own low
 *                       watermark and numbers new requests from its own
 *                       last execution (note 10 undone).
 * 9. Damaged disks (the idea of Alagappan et al., FAST 2018, applied to
 *    PBFT's recovery, Castro & Liskov TOCS 2002 section 4.3.2).  The record
 *    carries a sum, and the first start writes one, so a restart that
 *    finds none, a short one or a wrong sum knows its disk was damaged:
 *    torn writes and flipped bytes are detected, not believed.  Such a
 *    replica knows neither the views it voted in nor how far its window
 *    reached, so it marks itself damaged (on disk too) and stays mute; its
 *    STATUS says so, so that nobody takes its numbers as a bound.  It
 *    bounds its promises from the STATUS of 2f peers that are not mute
 *    themselves, as the paper's recovering replica estimates H from the
 *    others' replies: the checkpoint it last made stable was signed by
 *    2f+1 replicas, at least f+1 of them correct others; any 2f reporters
 *    among the 3f others include one of those, whose reach is at least
 *    that checkpoint; so max(reach) + L covers every sequence number it
 *    may have voted at, and the highest view they promised covers every
 *    view it voted in (2f+1 view changes made it).  Then note 7 applies
 *    with those bounds.  A Byzantine peer can only inflate them, which
 *    delays the replica, never makes it unsafe.
 * 10. A new view starts at min-s (section 4.4): the NEW-VIEW proves min-s,
 *    the highest stable checkpoint among its view changes, and every
 *    replica entering the view moves its low watermark h there, so the
 *    pre-prepares the NEW-VIEW implies, (min-s, max-s], all lie in its
 *    window, and the primary numbers new requests from above max-s and
 *    min-s.  Without it a lagging new primary (its checkpoint and
 *    executions below min-s) skips the implied pre-prepares that fall
 *    outside its old window and numbers new requests from its own last
 *    execution: sequence numbers that the old views already used for
 *    other requests.  A replica without the state at min-s keeps the
 *    proof, executes nothing until a STATE brings that state (note 4),
 *    and does not accept an older one.
 * 11. BUGGIFY sites (sim/node.h fl_buggify): choices the paper leaves to
 *    the implementation, taken on purpose where random schedules seldom
 *    go.
 *    pbft.propose-one          the primary pre-prepares one waiting
 *                              request and leaves the others for later,
 *                              so sequence numbers interleave with
 *                              executions in new ways.
 *    pbft.view-change-early    a backup suspects the primary once a request
 *                              waited half the view-change timeout (the
 *                              timeout is the implementation's choice;
 *                              view changes are for liveness only).
 *    pbft.resend-early         votes and STATUS resent before `resend` is
 *                              up: replicas see duplicates.
 *    pbft.resend-skipped       a resend round not sent, as if lost.
 * 12. Where signatures are verified (README.md has the measurements).  A
 *    statement that arrives from its signer is authenticated by the link
 *    MAC, as in the paper's MAC-based protocol: its Ed25519 signature is
 *    not checked, and (signer, bytes, signature) go into the node's cache
 *    of authentic statements, as do the statements it signs itself.  A
 *    statement relayed by another node (a catch-up resend, a NEW-VIEW
 *    passed on) and every statement nested in a certificate (VIEW-CHANGE,
 *    NEW-VIEW, STATE) is verified unless the cache has those exact bytes.
 *    So everything a replica counts, alone or in a certificate, was said
 *    by its signer (its MAC or its signature proves it): a Byzantine
 *    relayer cannot slip in a forged statement of a correct replica.  A
 *    VIEW-CHANGE is checked whole on arrival, its own signature too,
 *    since the new primary relays it.  What a Byzantine author can do
 *    that it could not before: send its own statement with a good MAC
 *    and a bad signature; correct replicas take its word (as in the MAC
 *    protocol) and a certificate that later relays it fails at replicas
 *    that did not get it directly, which can stall view changes (a
 *    liveness attack, not a safety one: nothing unsaid is counted).  No
 *    fault model here sends that: `lie` and `reseal` sign with the liar's
 *    key, the others break the MAC. */
#include "protocols/pbft/pbft.h"

#include <string.h>

enum { TIMER_TICK = 1 };

typedef enum { BUG_NONE, BUG_F_EQUALS_N_OVER_3, BUG_TRUST_DISK, BUG_IGNORE_MIN_S } Bug;

/* What read_record found. */
typedef enum { RECORD_MISSING, RECORD_BAD_SUM, RECORD_OK } RecordRead;

typedef struct Entry {
    uint64_t seq;              /* 0: unused */
    /* the pre-prepare accepted in the current view */
    bool pp;
    uint64_t digest;
    FlRequest req;
    GBytes *pp_stmt;
    GBytes *pp_wait;           /* a pre-prepare waiting for its request (note 2) */
    /* votes in the current view, per replica (digest 0: none) */
    uint64_t *prep_d;
    GBytes **prep_stmt;
    uint64_t *commit_d;
    bool prepared, committed;
    FlTime pp_at;              /* when the pre-prepare was accepted (metrics) */
    GBytes *my_prep, *my_commit;
    /* NEW-VIEW: the request this sequence number must get in this view */
    bool o_set;
    uint64_t o_digest;
    /* the last prepared certificate, kept across views (note 5) */
    uint64_t pc_view;
    GBytes *pc;                /* encoded PbftCertRaw */
} Entry;

typedef struct Ckpt {
    uint64_t seq;
    uint64_t own_digest;       /* 0: we have not reached it */
    GBytes *own_snap;
    uint64_t *digest;          /* per replica */
    GBytes **stmt;
} Ckpt;

typedef struct Waiting {
    FlRequest req;
    FlTime since;
} Waiting;

typedef struct VcSet {
    uint32_t n;
    GBytes **stmt;             /* per replica */
} VcSet;

typedef struct Pbft {
    uint32_t self, n, f, q;
    Bug bug;
    FlDuration tick, vc_timeout, resend;
    uint32_t K, L;

    FlStore *store;
    uint64_t last_exec;
    Entry *win;                /* L entries, seq % L */

    uint64_t view;
    bool in_vc;
    uint64_t vc_view;
    FlTime vc_since;
    FlDuration vc_wait;
    FlTime vc_first;           /* when the current run of view changes began */
    uint64_t mute_view;        /* note 7 */
    uint64_t mute_seq;         /* note 7: votes before the crash were at or below this */
    bool muted;
    uint64_t reach;            /* note 9: the top of the highest window we ever had (on disk) */
    bool damaged;              /* note 9: our record was lost; bounds not yet learned (on disk) */
    uint64_t rep_who;          /* note 9: peers whose STATUS we took while damaged */
    uint64_t rep_view, rep_reach;   /* note 9: the highest they reported */
    GBytes *nv;                /* the NEW-VIEW that started this view */
    uint64_t next_seq;         /* primary */
    FlTime last_resend;

    uint64_t stable, stable_digest;
    GBytes *stable_snap;
    GPtrArray *stable_proof;   /* of GBytes* */
    GArray *ckpts;             /* of Ckpt, ascending seq */

    GTree *vcs;                /* view -> VcSet* */
    GTree *waiting;            /* client -> Waiting* */
    GHashTable *exec_id;       /* client -> last executed id (lookups only) */
    GHashTable *assigned;      /* client -> last id pre-prepared in this view (lookups only) */

    PbftScratch scratch;
    PbftVC *vc_buf;            /* quorum-many checked view changes */
    PbftKeys keys;             /* ours: the secret key never leaves this state */
} Pbft;

static const FlParam pbft_params[] = {
    { "tick", FL_PARAM_DURATION, "\"10ms\"", "timer granularity", NULL, 1e5, 1e10 },
    { "view_change_timeout", FL_PARAM_DURATION, "\"200ms\"", "how long a request may wait before backups suspect the primary", NULL, 1e6, 1e11 },
    { "resend", FL_PARAM_DURATION, "\"50ms\"", "how often votes for unexecuted requests and STATUS are resent", NULL, 1e6, 1e11 },
    { "checkpoint_interval", FL_PARAM_INT, "32", "K: a checkpoint every K executed requests; the window is L = 2K", NULL, 2, 512 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake: f-equals-n-over-3 (f = ceil(n/3): quorums too small), trust-disk (a restart believes its record unchecked; none read means a fresh start), ignore-min-s (a new view keeps the replica's own low watermark and next sequence number)", "none|f-equals-n-over-3|trust-disk|ignore-min-s", 0, 0 },
    { NULL },
};

/* ---- Helpers -------------------------------------------------------------- */

static gint cmp_u32(gconstpointer a, gconstpointer b, gpointer unused)
{
    uint32_t x = GPOINTER_TO_UINT(a), y = GPOINTER_TO_UINT(b);
    return x < y ? -1 : x > y;
}

static gint cmp_u64p(gconstpointer a, gconstpointer b, gpointer unused)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void bytes_clear(GBytes **b)
{
    if (*b)
        g_bytes_unref(*b);
    *b = NULL;
}

static GBytes *bytes_of(const PbftBytes *b)
{
    return g_bytes_new(b->p, b->len);
}

static bool in_window(const Pbft *pb, uint64_t seq)
{
    return seq > pb->stable && seq <= pb->stable + pb->L;
}

static void entry_votes_clear(Pbft *pb, Entry *e)
{
    e->pp = false;
    e->digest = 0;
    bytes_clear(&e->pp_stmt);
    bytes_clear(&e->pp_wait);
    for (uint32_t i = 0; i < pb->n; i++) {
        e->prep_d[i] = 0;
        e->commit_d[i] = 0;
        bytes_clear(&e->prep_stmt[i]);
    }
    e->prepared = e->committed = false;
    bytes_clear(&e->my_prep);
    bytes_clear(&e->my_commit);
    e->o_set = false;
    e->o_digest = 0;
}

static void entry_reset(Pbft *pb, Entry *e, uint64_t seq)
{
    entry_votes_clear(pb, e);
    e->pc_view = 0;
    bytes_clear(&e->pc);
    e->seq = seq;
}

/* The entry of @seq, which must be in the window. */
static Entry *entry(Pbft *pb, uint64_t seq)
{
    g_assert(in_window(pb, seq));
    Entry *e = &pb->win[seq % pb->L];
    if (e->seq != seq)
        entry_reset(pb, e, seq);
    return e;
}

static void send_raw(FlNode *n, Pbft *pb, uint32_t to, const uint8_t *stmt, size_t len)
{
    if (to == pb->self)
        return;
    uint8_t buf[512];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_raw(&w, stmt, len);
    uint8_t mac[PBFT_MAC_BYTES];
    pbft_mac(&pb->keys, to, stmt, len, mac);
    fl_put_raw(&w, mac, sizeof mac);
    fl_send(n, to, w.data, w.len);
    fl_metric_add(n, "protocol_messages", 1);
    if (stmt[0] == PBFT_VIEW_CHANGE || stmt[0] == PBFT_NEW_VIEW) {
        /* What a view change costs, to compare with HotStuff's linear one
         * (protocols/hotstuff/README.md). */
        fl_metric_add(n, "view_change_messages", 1);
        fl_metric_add(n, "view_change_bytes", (double)w.len);
    }
    fl_writer_deinit(&w);
}

static void send_bytes(FlNode *n, Pbft *pb, uint32_t to, GBytes *b)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    send_raw(n, pb, to, p, len);
}

static void multicast(FlNode *n, Pbft *pb, GBytes *b)
{
    for (uint32_t j = 0; j < pb->n; j++)
        send_bytes(n, pb, j, b);
}

static GBytes *finish(FlWriter *w, const Pbft *pb)
{
    pbft_stmt_end(w, 0, &pb->keys);
    GBytes *b = g_bytes_new(w->data, w->len);
    fl_writer_deinit(w);
    return b;
}

static GBytes *make_vote(Pbft *pb, uint8_t type, uint64_t view, uint64_t seq, uint64_t digest)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    pbft_stmt_begin(&w, type, &pb->keys);
    fl_put_u64(&w, view);
    fl_put_u64(&w, seq);
    fl_put_u64(&w, digest);
    return finish(&w, pb);
}

static GBytes *make_pp(Pbft *pb, uint64_t view, uint64_t seq, const FlRequest *req)
{
    uint8_t buf[96];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    pbft_stmt_begin(&w, PBFT_PRE_PREPARE, &pb->keys);
    fl_put_u64(&w, view);
    fl_put_u64(&w, seq);
    fl_put_u64(&w, pbft_digest(req));
    fl_request_encode(&w, req);
    return finish(&w, pb);
}

/* Note 7: after a restart, until a new view or until everything we may
 * have voted for lies below the stable checkpoint. */
static bool amnesiac(const Pbft *pb)
{
    return pb->damaged || (pb->muted && pb->view <= pb->mute_view && pb->stable < pb->mute_seq);
}

/* Note 7: leaves the mute role once nothing we may have voted for can matter. */
static void unmute_if_done(FlNode *n, Pbft *pb)
{
    if (pb->muted && !amnesiac(pb)) {
        pb->muted = false;
        fl_role(n, pbft_primary(pb->view, pb->n) == pb->self ? "primary" : "backup");
        fl_log(n, "recovered: voting again");
    }
}

static bool can_vote(const Pbft *pb)
{
    return !pb->in_vc && !amnesiac(pb);
}

static uint64_t exec_id(Pbft *pb, uint32_t client)
{
    return (uint64_t)GPOINTER_TO_SIZE(g_hash_table_lookup(pb->exec_id, GUINT_TO_POINTER(client)));
}

/* The digest of a snapshot (never 0, which means "none"). */
static uint64_t blob_digest(const void *p, size_t len)
{
    uint64_t d = pbft_siphash(0x737461746531ULL, 0x64696731ULL, p, len);
    return d ? d : 1;
}

static uint64_t state_digest(FlStore *s, GBytes **snap)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_store_encode(s, &w);
    uint64_t d = blob_digest(w.data, w.len);
    if (snap)
        *snap = g_bytes_new(w.data, w.len);
    fl_writer_deinit(&w);
    return d;
}

/* The highest view we voted in or asked for (a VIEW-CHANGE is a promise). */
static uint64_t promised_view(const Pbft *pb)
{
    return pb->in_vc && pb->vc_view > pb->view ? pb->vc_view : pb->view;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Note 9: the one record on disk, checksummed:
 *   promised view u64, reach u64, damaged u8, sum u64. */
enum { RECORD_LEN = 8 + 8 + 1 + 8 };

static uint64_t record_sum(const void *p, size_t len)
{
    return pbft_siphash(0x7062667472656331ULL, 0x7669657731ULL, p, len);
}

static void persist_view(FlNode *n, Pbft *pb)
{
    uint64_t top = add_sat(pb->stable, pb->L);
    if (top > pb->reach)
        pb->reach = top;
    uint8_t buf[RECORD_LEN];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u64(&w, promised_view(pb));
    fl_put_u64(&w, pb->reach);
    fl_put_u8(&w, pb->damaged);
    fl_put_u64(&w, record_sum(w.data, w.len));
    fl_disk_write(n, "view", w.data, w.len);
    fl_disk_sync(n, "view");
}

/* Note 9: reads the record: missing or short (a torn write), failing its
 * sum (corrupted: the fields are filled anyway, for the trust-disk bug),
 * or good. */
static RecordRead read_record(FlNode *n, uint64_t *view, uint64_t *reach, bool *damaged)
{
    uint8_t buf[RECORD_LEN + 1];
    if (fl_disk_read(n, "view", buf, sizeof buf) != RECORD_LEN)
        return RECORD_MISSING;
    FlReader r;
    fl_reader_init(&r, buf, RECORD_LEN);
    *view = fl_get_u64(&r);
    *reach = fl_get_u64(&r);
    uint8_t flag = fl_get_u8(&r);
    uint64_t sum = fl_get_u64(&r);
    *damaged = flag == 1;
    return flag <= 1 && sum == record_sum(buf, RECORD_LEN - 8) ? RECORD_OK : RECORD_BAD_SUM;
}

/* ---- Execution and checkpoints (notes 3 and 4) --------------------------- */

static void propose_waiting(FlNode *n, Pbft *pb);
static void check_stable(FlNode *n, Pbft *pb, Ckpt *c);

static Ckpt *ckpt(Pbft *pb, uint64_t seq, bool create)
{
    for (guint i = 0; i < pb->ckpts->len; i++) {
        Ckpt *c = &g_array_index(pb->ckpts, Ckpt, i);
        if (c->seq == seq)
            return c;
        if (c->seq > seq) {
            if (!create)
                return NULL;
            Ckpt fresh = { .seq = seq, .digest = g_new0(uint64_t, pb->n), .stmt = g_new0(GBytes *, pb->n) };
            g_array_insert_val(pb->ckpts, i, fresh);
            return &g_array_index(pb->ckpts, Ckpt, i);
        }
    }
    if (!create)
        return NULL;
    Ckpt fresh = { .seq = seq, .digest = g_new0(uint64_t, pb->n), .stmt = g_new0(GBytes *, pb->n) };
    g_array_append_val(pb->ckpts, fresh);
    return &g_array_index(pb->ckpts, Ckpt, pb->ckpts->len - 1);
}

static void ckpt_free(Pbft *pb, Ckpt *c)
{
    bytes_clear(&c->own_snap);
    for (uint32_t i = 0; i < pb->n; i++)
        bytes_clear(&c->stmt[i]);
    g_free(c->stmt);
    g_free(c->digest);
}

/* Garbage collection (note 4): the window moves up to @seq.  @snap is the
 * state at @seq, or NULL when we have not reached it (note 10). */
static void make_stable(FlNode *n, Pbft *pb, uint64_t seq, uint64_t digest, GBytes *snap,
                        GPtrArray *proof)
{
    pb->stable = seq;
    pb->stable_digest = digest;
    persist_view(n, pb);
    unmute_if_done(n, pb);
    bytes_clear(&pb->stable_snap);
    pb->stable_snap = snap ? g_bytes_ref(snap) : NULL;   /* NULL: note 10, STATE brings it */
    g_ptr_array_set_size(pb->stable_proof, 0);
    for (guint i = 0; i < proof->len; i++)
        g_ptr_array_add(pb->stable_proof, g_bytes_ref(g_ptr_array_index(proof, i)));
    while (pb->ckpts->len && g_array_index(pb->ckpts, Ckpt, 0).seq <= seq) {
        ckpt_free(pb, &g_array_index(pb->ckpts, Ckpt, 0));
        g_array_remove_index(pb->ckpts, 0);
    }
    if (pb->next_seq <= seq)
        pb->next_seq = seq + 1;
    fl_log(n, "stable checkpoint %" G_GUINT64_FORMAT, seq);
}

static void take_checkpoint(FlNode *n, Pbft *pb)
{
    GBytes *snap;
    uint64_t d = state_digest(pb->store, &snap);
    Ckpt *c = ckpt(pb, pb->last_exec, true);
    c->own_digest = d;
    bytes_clear(&c->own_snap);
    c->own_snap = snap;
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    pbft_stmt_begin(&w, PBFT_CHECKPOINT, &pb->keys);
    fl_put_u64(&w, pb->last_exec);
    fl_put_u64(&w, d);
    GBytes *st = finish(&w, pb);
    c->digest[pb->self] = d;
    bytes_clear(&c->stmt[pb->self]);
    c->stmt[pb->self] = st;
    multicast(n, pb, st);
    check_stable(n, pb, c);
}

static void execute(FlNode *n, Pbft *pb)
{
    bool any = false;
    while (in_window(pb, pb->last_exec + 1)) {
        Entry *e = entry(pb, pb->last_exec + 1);
        if (!e->committed)
            break;
        pb->last_exec++;
        any = true;
        if (pbft_primary(pb->view, pb->n) == pb->self && e->pp) {
            /* Counted once, by the primary: pre-prepare to execution. */
            fl_metric_add(n, "commits", 1);
            fl_metric_add(n, "commit_latency_ns", (double)(paxos_elapsed(fl_now(n), e->pp_at)));
        }
        if (!pbft_is_null(&e->req) && e->req.op.kind != FL_OP_NOOP) {
            FlResult res;
            if (fl_store_apply_request(pb->store, &e->req, &res)) {
                g_hash_table_insert(pb->exec_id, GUINT_TO_POINTER(e->req.client),
                                    GSIZE_TO_POINTER((gsize)e->req.id));
                fl_reply(n, &e->req, &res);
            }
            Waiting *wt = g_tree_lookup(pb->waiting, GUINT_TO_POINTER(e->req.client));
            if (wt && wt->req.id <= e->req.id)
                g_tree_remove(pb->waiting, GUINT_TO_POINTER(e->req.client));
            else if (wt)
                wt->since = fl_now(n);   /* the older request is done; the newer one waits from now */
        }
        if (pb->last_exec % pb->K == 0)
            take_checkpoint(n, pb);
    }
    if (any)
        propose_waiting(n, pb);
}

static void check_stable(FlNode *n, Pbft *pb, Ckpt *c)
{
    if (c->seq <= pb->stable)
        return;
    for (uint32_t i = 0; i < pb->n; i++) {
        if (!c->digest[i])
            continue;
        uint32_t count = 0;
        for (uint32_t j = 0; j < pb->n; j++)
            count += c->digest[j] == c->digest[i];
        if (count < pb->q)
            continue;
        if (c->own_digest != c->digest[i])
            return;   /* not there yet (or diverged): STATE will bring it (note 6) */
        g_autoptr(GPtrArray) proof = g_ptr_array_new();
        for (uint32_t j = 0; j < pb->n; j++)
            if (c->digest[j] == c->digest[i])
                g_ptr_array_add(proof, c->stmt[j]);
        GBytes *snap = g_bytes_ref(c->own_snap);
        make_stable(n, pb, c->seq, c->digest[i], snap, proof);
        g_bytes_unref(snap);
        return;
    }
}

/* ---- Normal case (note 3) ------------------------------------------------- */

static void check_committed(FlNode *n, Pbft *pb, Entry *e)
{
    if (!e->prepared || e->committed)
        return;
    uint32_t count = 0;
    for (uint32_t i = 0; i < pb->n; i++)
        count += e->commit_d[i] == e->digest;
    if (count < pb->q)
        return;
    e->committed = true;
    execute(n, pb);
}

static void check_prepared(FlNode *n, Pbft *pb, Entry *e)
{
    if (!e->pp || e->prepared)
        return;
    uint32_t primary = pbft_primary(pb->view, pb->n);
    uint32_t count = 0;
    for (uint32_t i = 0; i < pb->n; i++)
        count += i != primary && e->prep_d[i] == e->digest;
    if (count + 1 < pb->q)
        return;
    e->prepared = true;
    /* Keep the certificate for view changes. */
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    gsize len;
    const uint8_t *p = g_bytes_get_data(e->pp_stmt, &len);
    fl_put_bytes(&w, p, len);
    fl_put_u32(&w, count);
    for (uint32_t i = 0; i < pb->n; i++) {
        if (i == primary || e->prep_d[i] != e->digest)
            continue;
        p = g_bytes_get_data(e->prep_stmt[i], &len);
        fl_put_bytes(&w, p, len);
    }
    bytes_clear(&e->pc);
    e->pc = g_bytes_new(w.data, w.len);
    e->pc_view = pb->view;
    fl_writer_deinit(&w);
    if (can_vote(pb)) {
        e->my_commit = make_vote(pb, PBFT_COMMIT, pb->view, e->seq, e->digest);
        e->commit_d[pb->self] = e->digest;
        multicast(n, pb, e->my_commit);
    }
    check_committed(n, pb, e);
}

/* Accepts a pre-prepare (note 2 and 3); the primary calls it on its own.
 * @vouched: f+1 other backups prepared it, so a correct one saw the request
 * come from its client. */
static void accept_pp(FlNode *n, Pbft *pb, const PbftStmt *st, bool vouched)
{
    Entry *e = entry(pb, st->seq);
    if (e->pp) {
        if (e->digest != st->digest)
            fl_log(n, "conflicting pre-prepares for %" G_GUINT64_FORMAT " (primary is faulty)", st->seq);
        return;
    }
    if (e->o_set && e->o_digest != st->digest)
        return;   /* not what the NEW-VIEW implies */
    bool authentic = vouched || pbft_is_null(&st->req) || e->o_set ||
                     exec_id(pb, st->req.client) >= st->req.id || st->signer == pb->self;
    if (!authentic) {
        Waiting *wt = g_tree_lookup(pb->waiting, GUINT_TO_POINTER(st->req.client));
        authentic = wt && paxos_value_eq(&wt->req, &st->req);
    }
    if (!authentic) {
        bytes_clear(&e->pp_wait);
        e->pp_wait = bytes_of(&st->raw);
        return;
    }
    bytes_clear(&e->pp_wait);
    e->pp = true;
    e->pp_at = fl_now(n);
    e->digest = st->digest;
    e->req = st->req;
    bytes_clear(&e->pp_stmt);
    e->pp_stmt = bytes_of(&st->raw);
    if (st->signer != pb->self && can_vote(pb)) {
        e->my_prep = make_vote(pb, PBFT_PREPARE, pb->view, st->seq, st->digest);
        e->prep_d[pb->self] = st->digest;
        bytes_clear(&e->prep_stmt[pb->self]);
        e->prep_stmt[pb->self] = g_bytes_ref(e->my_prep);
        multicast(n, pb, e->my_prep);
    }
    check_prepared(n, pb, e);
}

static void on_pre_prepare(FlNode *n, Pbft *pb, const PbftStmt *st)
{
    if (st->view != pb->view || pb->in_vc || st->signer != pbft_primary(st->view, pb->n) ||
        !in_window(pb, st->seq) || st->digest != pbft_digest(&st->req))
        return;
    accept_pp(n, pb, st, false);
}

/* Note 2: a pre-prepare that waits for its request goes on once f+1 other
 * backups prepared the same digest (the client's message to us may be lost,
 * or the client may have moved on to a newer request after f+1 answers). */
static void try_waiting_pp(FlNode *n, Pbft *pb, Entry *e)
{
    if (!e->pp_wait || e->pp)
        return;
    GBytes *b = g_bytes_ref(e->pp_wait);
    gsize len;
    const uint8_t *p = g_bytes_get_data(b, &len);
    PbftStmt st;
    PbftScratch sc = { .certs = NULL };
    /* Signature checked when it arrived. */
    if (pbft_stmt_parse(p, len, pb->n, NULL, &st, &sc) && st.view == pb->view) {
        uint32_t count = 0;
        for (uint32_t i = 0; i < pb->n; i++)
            count += i != st.signer && i != pb->self && e->prep_d[i] == st.digest;
        if (count >= pb->f + 1)
            accept_pp(n, pb, &st, true);
    }
    g_bytes_unref(b);
}

static void on_vote(FlNode *n, Pbft *pb, const PbftStmt *st)
{
    if (st->view != pb->view || pb->in_vc || !in_window(pb, st->seq) || st->signer == pb->self)
        return;
    Entry *e = entry(pb, st->seq);
    if (st->type == PBFT_PREPARE) {
        if (st->signer == pbft_primary(st->view, pb->n))
            return;   /* the primary's vote is its pre-prepare */
        e->prep_d[st->signer] = st->digest;
        bytes_clear(&e->prep_stmt[st->signer]);
        e->prep_stmt[st->signer] = bytes_of(&st->raw);
        try_waiting_pp(n, pb, e);
        check_prepared(n, pb, e);
    } else {
        e->commit_d[st->signer] = st->digest;
        check_committed(n, pb, e);
    }
}

/* The primary orders what clients sent (note 3), oldest client first. */
static gboolean propose_one(gpointer key, gpointer value, gpointer data)
{
    FlNode *n = ((void **)data)[0];
    Pbft *pb = ((void **)data)[1];
    Waiting *wt = value;
    if (!in_window(pb, pb->next_seq))
        return TRUE;
    uint64_t done = exec_id(pb, wt->req.client);
    uint64_t asg = (uint64_t)GPOINTER_TO_SIZE(g_hash_table_lookup(pb->assigned, GUINT_TO_POINTER(wt->req.client)));
    if (wt->req.id <= done || wt->req.id <= asg)
        return FALSE;
    g_hash_table_insert(pb->assigned, GUINT_TO_POINTER(wt->req.client), GSIZE_TO_POINTER((gsize)wt->req.id));
    g_autoptr(GBytes) st = make_pp(pb, pb->view, pb->next_seq++, &wt->req);
    PbftStmt parsed;
    gsize len;
    const uint8_t *p = g_bytes_get_data(st, &len);
    if (!pbft_stmt_parse(p, len, pb->n, NULL, &parsed, &pb->scratch))   /* our own */
        g_assert_not_reached();
    accept_pp(n, pb, &parsed, false);
    multicast(n, pb, st);
    /* Note 11: stop after this one; the rest wait for the next execution or
     * request. */
    return fl_buggify(n, "pbft.propose-one");
}

static void propose_waiting(FlNode *n, Pbft *pb)
{
    if (pbft_primary(pb->view, pb->n) != pb->self || !can_vote(pb))
        return;
    if (pb->next_seq <= pb->last_exec)
        pb->next_seq = pb->last_exec + 1;
    void *data[2] = { n, pb };
    g_tree_foreach(pb->waiting, propose_one, data);
}

/* ---- View change (note 5) -------------------------------------------------- */

static VcSet *vcset(Pbft *pb, uint64_t view)
{
    VcSet *vs = g_tree_lookup(pb->vcs, &view);
    if (!vs) {
        vs = g_new0(VcSet, 1);
        vs->n = pb->n;
        vs->stmt = g_new0(GBytes *, pb->n);
        uint64_t *k = g_new(uint64_t, 1);
        *k = view;
        g_tree_insert(pb->vcs, k, vs);
    }
    return vs;
}

static void vcset_free(gpointer p)
{
    VcSet *vs = p;
    for (uint32_t i = 0; i < vs->n; i++)
        if (vs->stmt[i])
            g_bytes_unref(vs->stmt[i]);
    g_free(vs->stmt);
    g_free(vs);
}

static void try_new_view(FlNode *n, Pbft *pb, uint64_t view);

static void start_view_change(FlNode *n, Pbft *pb, uint64_t view)
{
    if (view <= pb->view || (pb->in_vc && view <= pb->vc_view))
        return;
    if (amnesiac(pb))
        return;   /* note 7: our certificates were lost; others decide the next view */
    if (!pb->in_vc) {
        pb->vc_wait = pb->vc_timeout;
        pb->vc_first = fl_now(n);
    } else {
        pb->vc_wait *= 2;
    }
    pb->in_vc = true;
    pb->vc_view = view;
    pb->vc_since = fl_now(n);
    persist_view(n, pb);
    fl_role(n, "view-change");
    fl_metric_add(n, "view_changes_started", 1);
    fl_log(n, "view change to %" G_GUINT64_FORMAT, view);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    pbft_stmt_begin(&w, PBFT_VIEW_CHANGE, &pb->keys);
    fl_put_u64(&w, view);
    fl_put_u64(&w, pb->stable);
    fl_put_u64(&w, pb->stable ? pb->stable_digest : 0);
    fl_put_u32(&w, pb->stable_proof->len);
    for (guint i = 0; i < pb->stable_proof->len; i++) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(g_ptr_array_index(pb->stable_proof, i), &len);
        fl_put_bytes(&w, p, len);
    }
    uint32_t count = 0;
    for (uint64_t s = pb->stable + 1; s <= pb->stable + pb->L; s++)
        count += pb->win[s % pb->L].seq == s && pb->win[s % pb->L].pc != NULL;
    fl_put_u32(&w, count);
    for (uint64_t s = pb->stable + 1; s <= pb->stable + pb->L; s++) {
        Entry *e = &pb->win[s % pb->L];
        if (e->seq != s || !e->pc)
            continue;
        gsize len;
        const uint8_t *p = g_bytes_get_data(e->pc, &len);
        fl_put_raw(&w, p, len);
    }
    GBytes *st = finish(&w, pb);
    VcSet *vs = vcset(pb, view);
    bytes_clear(&vs->stmt[pb->self]);
    vs->stmt[pb->self] = st;
    multicast(n, pb, st);
    try_new_view(n, pb, view);
}

static void send_status(FlNode *n, Pbft *pb);

/* Note 10: the NEW-VIEW proves checkpoint @seq stable; the window starts
 * there.  Without our own state for it, the state comes by STATE. */
static void adopt_checkpoint(FlNode *n, Pbft *pb, uint64_t seq, uint64_t digest, GPtrArray *proof)
{
    Ckpt *c = ckpt(pb, seq, false);
    GBytes *snap = c && c->own_snap && c->own_digest == digest ? g_bytes_ref(c->own_snap) : NULL;
    make_stable(n, pb, seq, digest, snap, proof);
    if (snap) {
        g_bytes_unref(snap);
        return;
    }
    fl_log(n, "new view starts at checkpoint %" G_GUINT64_FORMAT ", which we lack", seq);
    /* Ask for it now: until it comes we execute nothing, and while we lag
     * the checkpoints that move the window need the others alone. */
    send_status(n, pb);
}

/* Installs view @view from its NEW-VIEW (already checked): ops are the
 * pre-prepares it implies, above min-s, checkpoint @min_s proven by
 * @min_proof (section 4.4). */
static void enter_view(FlNode *n, Pbft *pb, uint64_t view, const PbftPrepared *ops, int nops,
                       GBytes *nv, uint64_t min_s, uint64_t min_digest, GPtrArray *min_proof)
{
    if (pbft_primary(view, pb->n) == pb->self) {
        /* Counted once, by the new primary. */
        fl_metric_add(n, "view_changes", 1);
        if (pb->in_vc)
            fl_metric_add(n, "view_change_ns", (double)paxos_elapsed(fl_now(n), pb->vc_first));
    }
    pb->view = view;
    pb->in_vc = false;
    persist_view(n, pb);
    bytes_clear(&pb->nv);
    pb->nv = g_bytes_ref(nv);
    fl_role(n, pbft_primary(view, pb->n) == pb->self ? "primary" : "backup");
    fl_log(n, "entered view %" G_GUINT64_FORMAT, view);
    /* Note 10: h = min-s, so that the next sequence number (below) starts
     * above every request the old views may have committed. */
    if (pb->bug != BUG_IGNORE_MIN_S && min_s > pb->stable)
        adopt_checkpoint(n, pb, min_s, min_digest, min_proof);
    unmute_if_done(n, pb);
    /* Drop view changes for this view and older. */
    while (g_tree_nnodes(pb->vcs) > 0) {
        GTreeNode *first = g_tree_node_first(pb->vcs);
        if (*(uint64_t *)g_tree_node_key(first) > view)
            break;
        g_tree_remove(pb->vcs, g_tree_node_key(first));
    }
    for (uint64_t s = pb->stable + 1; s <= pb->stable + pb->L; s++) {
        Entry *e = &pb->win[s % pb->L];
        if (e->seq == s)
            entry_votes_clear(pb, e);
    }
    g_hash_table_remove_all(pb->assigned);
    uint64_t top = pb->last_exec > pb->stable ? pb->last_exec : pb->stable;
    for (int i = 0; i < nops; i++) {
        if (!in_window(pb, ops[i].seq))
            continue;
        Entry *e = entry(pb, ops[i].seq);
        e->o_set = true;
        e->o_digest = ops[i].digest;
        if (ops[i].seq > top)
            top = ops[i].seq;
        if (!pbft_is_null(&ops[i].req)) {
            uint64_t asg = (uint64_t)GPOINTER_TO_SIZE(g_hash_table_lookup(pb->assigned, GUINT_TO_POINTER(ops[i].req.client)));
            if (ops[i].req.id > asg)
                g_hash_table_insert(pb->assigned, GUINT_TO_POINTER(ops[i].req.client),
                                    GSIZE_TO_POINTER((gsize)ops[i].req.id));
        }
    }
    pb->next_seq = top + 1;
    FlTime now = fl_now(n);
    for (GTreeNode *t = g_tree_node_first(pb->waiting); t; t = g_tree_node_next(t))
        ((Waiting *)g_tree_node_value(t))->since = now;
    if (pbft_primary(view, pb->n) == pb->self && can_vote(pb)) {
        for (int i = 0; i < nops; i++) {
            if (!in_window(pb, ops[i].seq))
                continue;
            g_autoptr(GBytes) st = make_pp(pb, view, ops[i].seq, &ops[i].req);
            PbftStmt parsed;
            gsize len;
            const uint8_t *p = g_bytes_get_data(st, &len);
            if (!pbft_stmt_parse(p, len, pb->n, NULL, &parsed, &pb->scratch))   /* our own */
                g_assert_not_reached();
            accept_pp(n, pb, &parsed, false);
            multicast(n, pb, st);
        }
        propose_waiting(n, pb);
    }
}

/* Checks a NEW-VIEW's view changes and computes its pre-prepares. */
static int check_new_view(Pbft *pb, const PbftStmt *st, PbftPrepared *ops, uint32_t cap,
                          uint64_t *min_s, uint32_t *min_vc)
{
    if (st->nsub < pb->q)
        return -1;
    uint64_t seen = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < st->nsub && k < pb->q; i++) {
        PbftVC *vc = &pb->vc_buf[k];
        if (!pbft_vc_check(st->subs[i].p, st->subs[i].len, pb->n, &pb->keys, pb->q, pb->L, vc, &pb->scratch) ||
            vc->view != st->view || (seen & paxos_bit(vc->signer)))
            return -1;
        seen |= paxos_bit(vc->signer);
        k++;
    }
    if (k < pb->q)
        return -1;
    return pbft_new_view_ops(pb->vc_buf, k, ops, cap, min_s, min_vc);
}

static void process_new_view(FlNode *n, Pbft *pb, const uint8_t *p, size_t len)
{
    PbftStmt st;
    PbftScratch sc = { .certs = NULL };
    /* Its signature was checked on arrival (or it is our own); the view
     * changes inside are checked below. */
    if (!pbft_stmt_parse(p, len, pb->n, NULL, &st, &sc) || st.type != PBFT_NEW_VIEW ||
        st.signer != pbft_primary(st.view, pb->n) || st.view <= pb->view ||
        (pb->in_vc && st.view < pb->vc_view))
        return;
    PbftBytes subs[PBFT_MAX_NODES];
    memcpy(subs, st.subs, sizeof(PbftBytes) * st.nsub);
    st.subs = subs;
    PbftPrepared *ops = g_new(PbftPrepared, PBFT_MAX_WINDOW);
    uint64_t min_s = 0;
    uint32_t min_vc = 0;
    int nops = check_new_view(pb, &st, ops, PBFT_MAX_WINDOW, &min_s, &min_vc);
    if (nops >= 0) {
        /* min-s's proof: the checkpoints carried by the view change that
         * proves it (checked by check_new_view). */
        uint64_t min_digest = pb->vc_buf[min_vc].stable_digest;
        g_autoptr(GPtrArray) proof = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        PbftStmt vc;
        if (!pbft_stmt_parse(subs[min_vc].p, subs[min_vc].len, pb->n, NULL, &vc, &pb->scratch))
            g_assert_not_reached();
        for (uint32_t i = 0; i < vc.nsub; i++)
            g_ptr_array_add(proof, bytes_of(&vc.subs[i]));
        g_autoptr(GBytes) nv = g_bytes_new(p, len);
        enter_view(n, pb, st.view, ops, nops, nv, min_s, min_digest, proof);
    }
    g_free(ops);
}

/* The new primary: a quorum of view changes for @view makes a NEW-VIEW. */
static void try_new_view(FlNode *n, Pbft *pb, uint64_t view)
{
    if (pbft_primary(view, pb->n) != pb->self || !pb->in_vc || pb->vc_view != view)
        return;
    VcSet *vs = g_tree_lookup(pb->vcs, &view);
    if (!vs)
        return;
    uint32_t have = 0;
    for (uint32_t i = 0; i < pb->n; i++)
        have += vs->stmt[i] != NULL;
    if (have < pb->q)
        return;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    pbft_stmt_begin(&w, PBFT_NEW_VIEW, &pb->keys);
    fl_put_u64(&w, view);
    fl_put_u32(&w, pb->q);
    uint32_t put = 0;
    for (uint32_t i = 0; i < pb->n && put < pb->q; i++) {
        if (!vs->stmt[i])
            continue;
        gsize len;
        const uint8_t *p = g_bytes_get_data(vs->stmt[i], &len);
        fl_put_bytes(&w, p, len);
        put++;
    }
    g_autoptr(GBytes) nv = finish(&w, pb);
    multicast(n, pb, nv);
    gsize len;
    const uint8_t *p = g_bytes_get_data(nv, &len);
    process_new_view(n, pb, p, len);
}

static void on_view_change(FlNode *n, Pbft *pb, const PbftStmt *st)
{
    uint64_t cur = pb->in_vc ? pb->vc_view : pb->view;
    if (st->view <= pb->view || st->view > pb->view + 64 || st->signer == pb->self)
        return;
    PbftVC *vc = &pb->vc_buf[0];
    if (!pbft_vc_check(st->raw.p, st->raw.len, pb->n, &pb->keys, pb->q, pb->L, vc, &pb->scratch))
        return;
    VcSet *vs = vcset(pb, st->view);
    bytes_clear(&vs->stmt[st->signer]);
    vs->stmt[st->signer] = bytes_of(&st->raw);
    /* f+1 replicas want a later view: join the smallest of theirs. */
    uint64_t smallest = UINT64_MAX;
    uint64_t who = 0;
    for (GTreeNode *t = g_tree_node_first(pb->vcs); t; t = g_tree_node_next(t)) {
        uint64_t v = *(uint64_t *)g_tree_node_key(t);
        if (v <= cur)
            continue;
        VcSet *x = g_tree_node_value(t);
        for (uint32_t i = 0; i < pb->n; i++) {
            if (x->stmt[i] && i != pb->self && !(who & paxos_bit(i))) {
                who |= paxos_bit(i);
                if (v < smallest)
                    smallest = v;
            }
        }
    }
    if (paxos_count(who) >= pb->f + 1 && smallest != UINT64_MAX)
        start_view_change(n, pb, smallest);
    try_new_view(n, pb, st->view);
}

/* ---- Status and state transfer (notes 4, 6) -------------------------------- */

static void send_status(FlNode *n, Pbft *pb)
{
    uint8_t buf[96];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    pbft_stmt_begin(&w, PBFT_STATUS, &pb->keys);
    fl_put_u64(&w, pb->view);
    fl_put_u8(&w, (uint8_t)((pb->in_vc ? PBFT_STATUS_IN_VC : 0) | (amnesiac(pb) ? PBFT_STATUS_AMNESIAC : 0)));
    fl_put_u64(&w, pb->last_exec);
    fl_put_u64(&w, pb->stable);
    fl_put_u64(&w, promised_view(pb));
    fl_put_u64(&w, pb->reach);
    g_autoptr(GBytes) st = finish(&w, pb);
    multicast(n, pb, st);
}

static void send_state(FlNode *n, Pbft *pb, uint32_t to)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    pbft_stmt_begin(&w, PBFT_STATE, &pb->keys);
    fl_put_u64(&w, pb->stable);
    fl_put_u64(&w, pb->stable_digest);
    gsize len;
    const uint8_t *p = g_bytes_get_data(pb->stable_snap, &len);
    fl_put_bytes(&w, p, len);
    fl_put_u32(&w, pb->stable_proof->len);
    for (guint i = 0; i < pb->stable_proof->len; i++) {
        p = g_bytes_get_data(g_ptr_array_index(pb->stable_proof, i), &len);
        fl_put_bytes(&w, p, len);
    }
    g_autoptr(GBytes) st = finish(&w, pb);
    send_bytes(n, pb, to, st);
}

/* Note 9: a damaged replica bounds what it may have promised from the
 * reports of 2f peers that are not amnesiac themselves. */
static void take_report(FlNode *n, Pbft *pb, const PbftStmt *st)
{
    if (!pb->damaged || st->amnesiac || st->signer == pb->self)
        return;
    pb->rep_who |= paxos_bit(st->signer);
    if (st->promised > pb->rep_view)
        pb->rep_view = st->promised;
    if (st->reach > pb->rep_reach)
        pb->rep_reach = st->reach;
    uint32_t need = 2 * pb->f > 0 ? 2 * pb->f : 1;
    if (paxos_count(pb->rep_who) < need)
        return;
    pb->damaged = false;
    pb->muted = true;
    pb->mute_view = pb->rep_view;
    pb->mute_seq = add_sat(pb->rep_reach, pb->L);
    if (pb->mute_seq > pb->reach)
        pb->reach = pb->mute_seq;   /* a crash before we recover keeps the bound */
    persist_view(n, pb);
    fl_log(n, "damage bounded: mute to view %" G_GUINT64_FORMAT " or checkpoint %" G_GUINT64_FORMAT,
           pb->mute_view, pb->mute_seq);
    unmute_if_done(n, pb);
}

static void on_status(FlNode *n, Pbft *pb, const PbftStmt *st)
{
    uint32_t j = st->signer;
    take_report(n, pb, st);
    if (st->view < pb->view && pb->nv && !pb->in_vc)
        send_bytes(n, pb, j, pb->nv);
    if (st->seq < pb->stable && pb->stable_snap) {
        send_state(n, pb, j);
        return;
    }
    if (st->view != pb->view || st->in_vc || pb->in_vc || st->seq >= pb->last_exec)
        return;
    /* The peer lacks executed requests of this view: resend what we have. */
    uint32_t budget = 16;
    for (uint64_t s = st->seq + 1; s <= pb->last_exec && budget > 0; s++, budget--) {
        if (!in_window(pb, s))
            continue;
        Entry *e = entry(pb, s);
        if (e->pp_stmt)
            send_bytes(n, pb, j, e->pp_stmt);
        for (uint32_t i = 0; i < pb->n; i++)
            if (e->prep_stmt[i])
                send_bytes(n, pb, j, e->prep_stmt[i]);
        if (e->my_commit)
            send_bytes(n, pb, j, e->my_commit);
    }
}

static void on_state(FlNode *n, Pbft *pb, const PbftStmt *st)
{
    if (st->seq <= pb->last_exec || st->seq < pb->stable ||
        !pbft_proof_check(st->subs, st->nsub, pb->n, &pb->keys, pb->q, st->seq, st->digest))
        return;
    if (blob_digest(st->blob.p, st->blob.len) != st->digest)
        return;   /* not the certified state */
    FlReader r;
    fl_reader_init(&r, st->blob.p, st->blob.len);
    FlStore *fresh = fl_store_new();
    if (!fl_store_decode(fresh, &r) || !fl_reader_done(&r)) {
        fl_store_free(fresh);
        return;
    }
    fl_store_free(pb->store);
    pb->store = fresh;
    fl_log(n, "state transfer to %" G_GUINT64_FORMAT, st->seq);
    pb->last_exec = st->seq;
    g_hash_table_remove_all(pb->exec_id);
    g_tree_remove_all(pb->waiting);
    g_autoptr(GPtrArray) proof = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    for (uint32_t i = 0; i < st->nsub; i++)
        g_ptr_array_add(proof, bytes_of(&st->subs[i]));
    g_autoptr(GBytes) snap = bytes_of(&st->blob);
    make_stable(n, pb, st->seq, st->digest, snap, proof);
    execute(n, pb);
}

static void on_checkpoint(FlNode *n, Pbft *pb, const PbftStmt *st)
{
    if (st->seq <= pb->stable || st->seq > pb->stable + 4 * (uint64_t)pb->L || st->seq % pb->K != 0 ||
        st->digest == 0)
        return;
    Ckpt *c = ckpt(pb, st->seq, true);
    c->digest[st->signer] = st->digest;
    bytes_clear(&c->stmt[st->signer]);
    c->stmt[st->signer] = bytes_of(&st->raw);
    check_stable(n, pb, c);
}

/* ---- Entry points ---------------------------------------------------------------- */

static void init_state(FlNode *n, Pbft *pb)
{
    pb->self = fl_self(n);
    pb->n = fl_nodes(n);
    if (pb->n > PBFT_MAX_NODES)
        g_error("pbft: at most %u nodes", PBFT_MAX_NODES);
    const char *bug = fl_param_enum(n, "bug");
    pb->bug = strcmp(bug, "f-equals-n-over-3") == 0 ? BUG_F_EQUALS_N_OVER_3
            : strcmp(bug, "trust-disk") == 0        ? BUG_TRUST_DISK
            : strcmp(bug, "ignore-min-s") == 0      ? BUG_IGNORE_MIN_S
                                                    : BUG_NONE;
    pb->f = pbft_faults(pb->n, false);
    pb->q = pbft_quorum(pb->n, pb->bug == BUG_F_EQUALS_N_OVER_3);
    pb->tick = fl_param_duration(n, "tick");
    pb->vc_timeout = fl_param_duration(n, "view_change_timeout");
    pb->resend = fl_param_duration(n, "resend");
    pb->K = (uint32_t)fl_param_int(n, "checkpoint_interval");
    pb->L = 2 * pb->K;
    pb->store = fl_store_new();
    pb->win = g_new0(Entry, pb->L);
    for (uint32_t i = 0; i < pb->L; i++) {
        pb->win[i].prep_d = g_new0(uint64_t, pb->n);
        pb->win[i].commit_d = g_new0(uint64_t, pb->n);
        pb->win[i].prep_stmt = g_new0(GBytes *, pb->n);
    }
    pb->stable_proof = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    pb->ckpts = g_array_new(FALSE, TRUE, sizeof(Ckpt));
    pb->vcs = g_tree_new_full(cmp_u64p, NULL, g_free, vcset_free);
    pb->waiting = g_tree_new_full(cmp_u32, NULL, NULL, g_free);
    pb->exec_id = g_hash_table_new(g_direct_hash, g_direct_equal);
    pb->assigned = g_hash_table_new(g_direct_hash, g_direct_equal);
    pb->scratch.certs = g_new(PbftCertRaw, PBFT_MAX_WINDOW);
    pb->vc_buf = g_new0(PbftVC, PBFT_MAX_NODES);
    for (uint32_t i = 0; i < PBFT_MAX_NODES; i++)
        pb->vc_buf[i].prepared = g_new(PbftPrepared, PBFT_MAX_WINDOW);
    pb->next_seq = 1;
    pb->vc_wait = pb->vc_timeout;
    pbft_keys_init(&pb->keys, fl_run_seed(n), pb->self, pb->n);
    fl_role(n, pbft_primary(0, pb->n) == pb->self ? "primary" : "backup");
    fl_timer(n, pb->tick, TIMER_TICK);
}

static void pbft_init(FlNode *n, void *state)
{
    Pbft *pb = state;
    init_state(n, pb);
    /* Note 9: from now on a restart that finds no valid record knows that
     * its disk was damaged. */
    persist_view(n, pb);
}

static void pbft_recover(FlNode *n, void *state)
{
    Pbft *pb = state;
    init_state(n, pb);
    uint64_t view = 0, reach = 0;
    bool damaged = false;
    RecordRead got = read_record(n, &view, &reach, &damaged);
    if (pb->bug == BUG_TRUST_DISK) {
        /* Note 8: what the code did before records had sums. */
        if (got == RECORD_MISSING)
            return;   /* taken for a first start: votes at once */
        damaged = false;
    } else if (got != RECORD_OK || damaged) {
        /* Note 9: what we promised is unknown until peers bound it. */
        pb->muted = true;
        pb->damaged = true;
        fl_role(n, "mute");
        persist_view(n, pb);
        fl_log(n, "disk damage found: no votes until peers bound what we may have promised");
        return;
    }
    pb->muted = true;   /* note 7: the log was in memory */
    fl_role(n, "mute");
    pb->view = view;
    pb->reach = reach;
    pb->mute_view = view;
    pb->mute_seq = reach;
}

static void pbft_destroy(FlNode *n, void *state)
{
    Pbft *pb = state;
    for (uint32_t i = 0; i < pb->L; i++) {
        Entry *e = &pb->win[i];
        entry_reset(pb, e, 0);
        g_free(e->prep_d);
        g_free(e->commit_d);
        g_free(e->prep_stmt);
    }
    g_free(pb->win);
    for (guint i = 0; i < pb->ckpts->len; i++)
        ckpt_free(pb, &g_array_index(pb->ckpts, Ckpt, i));
    g_array_free(pb->ckpts, TRUE);
    g_ptr_array_unref(pb->stable_proof);
    bytes_clear(&pb->stable_snap);
    bytes_clear(&pb->nv);
    g_tree_destroy(pb->vcs);
    g_tree_destroy(pb->waiting);
    g_hash_table_destroy(pb->exec_id);
    g_hash_table_destroy(pb->assigned);
    g_free(pb->scratch.certs);
    for (uint32_t i = 0; i < PBFT_MAX_NODES; i++)
        g_free(pb->vc_buf[i].prepared);
    g_free(pb->vc_buf);
    fl_store_free(pb->store);
    pbft_keys_deinit(&pb->keys);
}

static void pbft_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Pbft *pb = state;
    if (from >= pb->n || len < PBFT_MAC_BYTES + PBFT_STMT_MIN)
        return;
    size_t slen = len - PBFT_MAC_BYTES;
    if (!pbft_mac_check(&pb->keys, from, msg, slen, msg + slen)) {
        /* Corrupted, misdelivered, or MACed by someone without our link
         * key: drop. */
        fl_metric_add(n, "mac_rejected", 1);
        return;
    }
    PbftStmt st;
    if (!pbft_stmt_parse(msg, slen, pb->n, NULL, &st, &pb->scratch))
        return;
    /* Note 12: from its signer, the link MAC authenticates a statement
     * (remembered as authentic below); relayed, its signature must hold.
     * An unsigned one is only ever its sender's own word. */
    if (st.signer != from && (!pbft_type_signed(st.type) || !pbft_stmt_verify(&pb->keys, &st))) {
        fl_metric_add(n, "sig_rejected", 1);
        return;
    }
    if (st.signer == from)
        pbft_stmt_note_authentic(&pb->keys, &st);
    switch (st.type) {
    case PBFT_PRE_PREPARE: on_pre_prepare(n, pb, &st); break;
    case PBFT_PREPARE:
    case PBFT_COMMIT: on_vote(n, pb, &st); break;
    case PBFT_CHECKPOINT: on_checkpoint(n, pb, &st); break;
    case PBFT_VIEW_CHANGE: on_view_change(n, pb, &st); break;
    case PBFT_NEW_VIEW: process_new_view(n, pb, st.raw.p, st.raw.len); break;
    case PBFT_STATUS: on_status(n, pb, &st); break;
    case PBFT_STATE: on_state(n, pb, &st); break;
    }
}

static void resend(FlNode *n, Pbft *pb)
{
    send_status(n, pb);
    if (pb->in_vc) {
        VcSet *vs = g_tree_lookup(pb->vcs, &pb->vc_view);
        if (vs && vs->stmt[pb->self])
            multicast(n, pb, vs->stmt[pb->self]);
        return;
    }
    /* Everything not committed in this view, executed or not: after a view
     * change, requests we executed earlier are prepared again, and replicas
     * that had not executed them need our votes. */
    bool primary = pbft_primary(pb->view, pb->n) == pb->self;
    for (uint64_t s = pb->stable + 1; s <= pb->stable + pb->L; s++) {
        Entry *e = &pb->win[s % pb->L];
        if (e->seq != s || e->committed)
            continue;
        if (primary && e->pp_stmt)
            multicast(n, pb, e->pp_stmt);
        if (e->my_prep)
            multicast(n, pb, e->my_prep);
        if (e->my_commit)
            multicast(n, pb, e->my_commit);
    }
}

static void pbft_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Pbft *pb = state;
    if (tag != TIMER_TICK)
        return;
    FlTime now = fl_now(n);
    if (pb->in_vc) {
        if (paxos_elapsed(now, pb->vc_since) > (FlTime)pb->vc_wait) {
            /* Move on only if f others also wait for a view at least as
             * high: alone, we are more likely cut off than they are. */
            uint64_t who = 0;
            for (GTreeNode *x = g_tree_node_first(pb->vcs); x; x = g_tree_node_next(x)) {
                if (*(uint64_t *)g_tree_node_key(x) < pb->vc_view)
                    continue;
                VcSet *vs = g_tree_node_value(x);
                for (uint32_t i = 0; i < pb->n; i++)
                    if (vs->stmt[i] && i != pb->self)
                        who |= paxos_bit(i);
            }
            if (paxos_count(who) >= pb->f)
                start_view_change(n, pb, pb->vc_view + 1);
            else
                pb->vc_since = now;
        }
    } else if (!amnesiac(pb)) {
        /* Note 5: a request waited too long: suspect the primary. */
        for (GTreeNode *x = g_tree_node_first(pb->waiting); x; x = g_tree_node_next(x)) {
            Waiting *wt = g_tree_node_value(x);
            FlTime waited = paxos_elapsed(now, wt->since);
            if (waited > (FlTime)pb->vc_timeout ||
                (waited > (FlTime)pb->vc_timeout / 2 && fl_buggify(n, "pbft.view-change-early"))) {
                start_view_change(n, pb, pb->view + 1);
                break;
            }
        }
    }
    if (paxos_elapsed(now, pb->last_resend) >= (FlTime)pb->resend ||
        fl_buggify(n, "pbft.resend-early")) {
        pb->last_resend = now;
        /* Note 11: a round skipped, as if every message of it were lost. */
        if (!fl_buggify(n, "pbft.resend-skipped"))
            resend(n, pb);
    }
    fl_timer(n, pb->tick, TIMER_TICK);
}

/* Note 2: a client's request, authenticated by its source. */
static void pbft_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Pbft *pb = state;
    if (req->op.kind == FL_OP_NOOP || req->client == 0)
        return;
    if (req->id <= exec_id(pb, req->client))
        return;
    Waiting *wt = g_tree_lookup(pb->waiting, GUINT_TO_POINTER(req->client));
    if (wt && wt->req.id >= req->id)
        return;
    /* Note 5: we still wait for the client's older request, which we never
     * saw executed: the timer keeps running from when it arrived. */
    FlTime since = wt ? wt->since : fl_now(n);
    wt = g_new0(Waiting, 1);
    wt->req = *req;
    wt->since = since;
    g_tree_replace(pb->waiting, GUINT_TO_POINTER(req->client), wt);
    /* A pre-prepare that waited for this request can go on now. */
    for (uint64_t s = pb->stable + 1; s <= pb->stable + pb->L; s++) {
        Entry *e = &pb->win[s % pb->L];
        if (e->seq != s || !e->pp_wait)
            continue;
        GBytes *b = g_bytes_ref(e->pp_wait);
        gsize len;
        const uint8_t *p = g_bytes_get_data(b, &len);
        PbftStmt st;
        /* Signature checked when it arrived. */
        if (pbft_stmt_parse(p, len, pb->n, NULL, &st, &pb->scratch) && st.req.client == req->client)
            on_pre_prepare(n, pb, &st);
        g_bytes_unref(b);
    }
    propose_waiting(n, pb);
}

size_t pbft_lie(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len, size_t cap);
uint64_t pbft_peer_digest(void *state, uint64_t view, uint64_t seq);
bool pbft_own_request(void *state, uint64_t view, uint64_t seq, FlRequest *out);
uint64_t pbft_peer_checkpoint(void *state, uint64_t seq, bool even);
const PbftKeys *pbft_keys(void *state);

/* For lie.c: this replica's own keys (the liar signs only with these). */
const PbftKeys *pbft_keys(void *state)
{
    return &((Pbft *)state)->keys;
}

/* FlProtocol.reseal: run on the sending node's state, so a `mutate`d
 * message can only be signed and MACed with the sender's own keys. */
static bool pbft_reseal(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len)
{
    return pbft_reseal_keys(&((Pbft *)state)->keys, to, msg, len);
}

/* For lie.c: the request we pre-prepared or accepted for @seq in @view. */
bool pbft_own_request(void *state, uint64_t view, uint64_t seq, FlRequest *out)
{
    Pbft *pb = state;
    if (view != pb->view || !in_window(pb, seq))
        return false;
    Entry *e = &pb->win[seq % pb->L];
    if (e->seq != seq || !e->pp)
        return false;
    *out = e->req;
    return true;
}

/* For lie.c: the state digest a peer of that parity (not us) announced
 * for checkpoint @seq, or 0. */
uint64_t pbft_peer_checkpoint(void *state, uint64_t seq, bool even)
{
    Pbft *pb = state;
    Ckpt *c = ckpt(pb, seq, false);
    for (uint32_t i = even ? 0 : 1; c && i < pb->n; i += 2)
        if (i != pb->self && c->digest[i])
            return c->digest[i];
    return 0;
}

/* For lie.c: the digest that an even-numbered replica other than us
 * prepared for @seq in @view (what the even side believes), or 0. */
uint64_t pbft_peer_digest(void *state, uint64_t view, uint64_t seq)
{
    Pbft *pb = state;
    if (view != pb->view || !in_window(pb, seq))
        return 0;
    Entry *e = &pb->win[seq % pb->L];
    if (e->seq != seq)
        return 0;
    for (uint32_t i = 0; i < pb->n; i += 2)
        if (i != pb->self && e->prep_d[i])
            return e->prep_d[i];
    return 0;
}

/* Names a message's kind for faults aimed at protocol events (the
 * `trigger` fault): the first byte is the type of the statement (the MAC trails it).  NULL for
 * a type this protocol does not send. */
static const char *pbft_msg_kind(const uint8_t *msg, size_t len)
{
    static const char *const names[] = {
        [PBFT_PRE_PREPARE] = "PRE-PREPARE",
        [PBFT_PREPARE] = "PREPARE",
        [PBFT_COMMIT] = "COMMIT",
        [PBFT_CHECKPOINT] = "CHECKPOINT",
        [PBFT_VIEW_CHANGE] = "VIEW-CHANGE",
        [PBFT_NEW_VIEW] = "NEW-VIEW",
        [PBFT_STATUS] = "STATUS",
        [PBFT_STATE] = "STATE",
    };
    if (len == 0 || msg[0] >= G_N_ELEMENTS(names))
        return NULL;
    return names[msg[0]];
}

const FlProtocol fl_proto_pbft = {
    .name = "pbft",
    .summary = "PBFT (Castro-Liskov): n = 3f+1, pre-prepare/prepare/commit, checkpoints, view change, signed and MACed messages",
    .params = pbft_params,
    .state_size = sizeof(Pbft),
    .init = pbft_init,
    .recover = pbft_recover,
    .destroy = pbft_destroy,
    .on_message = pbft_on_message,
    .on_timer = pbft_on_timer,
    .on_request = pbft_on_request,
    .lie = pbft_lie,
    .client_mode = FL_CLIENT_BFT,
    .msg_kind = pbft_msg_kind,
    .kinds = "PRE-PREPARE|PREPARE|COMMIT|CHECKPOINT|VIEW-CHANGE|NEW-VIEW|STATUS|STATE",
    .fields = pbft_fields,
    .reseal = pbft_reseal,
    .tolerates_byzantine = true,
    .max_nodes = PBFT_MAX_NODES,
};
