/* paxos: Multi-Paxos serving a replicated store (Lamport, "Paxos Made
 * Simple", 2001, section 3; van Renesse & Altinbuken, "Paxos Made
 * Moderately Complex", 2015).
 *
 * Design notes.
 * 1. Every node is proposer, acceptor and learner.  The log is a sequence of
 *    slots 1, 2, ...; each slot is one instance of Paxos deciding one client
 *    request (or a no-op).  The store applies chosen slots in order.
 * 2. Ballots are (round << 12) | node (ballot.h).  A node whose election
 *    timer fires picks a ballot above every ballot it has seen and runs
 *    phase 1 once, for every slot from its first unchosen one onwards
 *    ("Paxos Made Simple" 3: phase 1 for infinitely many instances at once).
 *    Promises carry at most PAXOS_MAX_ENTRIES votes; when one is cut short
 *    the leader asks again from where it stopped, under the same ballot.
 * 3. With promises from a majority, the leader proposes in every slot up to
 *    the highest one reported the value of the highest-numbered vote (rule
 *    2.2(b), paxos_select), and a no-op in the gaps (3: "fill the gaps with
 *    no-op commands").  After that it is active: each client request gets the
 *    next slot and one round trip of phase 2.
 * 4. Acceptor state (the promised ballot and each slot's last vote) is
 *    appended to the journal "acceptor" (journal.h: framed records with a
 *    CRC-32 each) and synced before any reply leaves.  A restarted node
 *    replays it; what it had learned is relearned from the leader (design
 *    note 6).  A replay that finds damage is note 9's business.
 * 5. A slot is chosen when a majority accepted the leader's proposal; the
 *    leader applies it, answers the client if it holds the request, and
 *    broadcasts DECIDE.  Reads go through the log like writes, which makes
 *    them linearizable without leases.
 * 6. The leader sends HEARTBEAT every `heartbeat`; each answer carries the
 *    follower's commit index, and the leader sends the chosen values it
 *    lacks (DECIDE, at most PAXOS_MAX_ENTRIES at a time).  This repairs lost
 *    decisions and catches restarted nodes up.
 * 7. Liveness only, never safety: an acceptor that heard the leader within
 *    the lower election timeout ignores PREPAREs from others (stickiness, so
 *    a node back from a partition does not depose a healthy leader); a
 *    leader that heard no majority for the upper election timeout steps
 *    down, so that clients are redirected elsewhere; unanswered proposals
 *    are resent every heartbeat.
 * 8. The `bug` parameter `ignore-accepted` makes a new leader drop what the
 *    promises reported and start proposing at its own first unchosen slot:
 *    a value chosen under an earlier ballot that this leader had not learned
 *    is overwritten.  Histories then lose acknowledged writes.
 * 9. Damaged disks ("Paxos Made Live", Chandra et al. 2007, section 5.1;
 *    "Protocol-Aware Recovery", Alagappan et al., FAST 2018).  Paxos
 *    assumes that an acceptor never forgets a promise or a vote.  When the
 *    replay finds the journal damaged (a record cut short, a checksum that
 *    fails, a checkpoint never closed), the lost record may be the very
 *    promise or vote that a chosen value's quorum relied on, and the node
 *    cannot tell which.  Answering as if it had never voted could let a
 *    quorum of which it is the only witness choose a second value.  So it
 *    stays a non-voting member: it learns and answers heartbeats, but sends
 *    no promise and no vote and does not campaign, until
 *    (a) a majority of the OTHER acceptors answered a RECOVER carrying a
 *        nonce drawn after the restart.  Any quorum it belonged to shares
 *        one of them, who remembers: their highest promise is at least any
 *        ballot it promised, and the highest slot in which they hold a vote
 *        or a decision (the horizon) is at least any slot where its lost
 *        vote can be part of a chosen value.  It adopts that promise;
 *    (b) it has learned every slot up to the horizon ("until it observes one
 *        complete instance of Paxos that was started after the replica
 *        started rebuilding its state").
 *    Knowing a decision stands in for the lost vote: a promise reports, for
 *    each slot it knows decided, the decided value at the promise's own
 *    ballot.  That is sound for any acceptor (every vote at or above the
 *    ballot that chose a value is for that value), so a new leader adopts
 *    exactly what was chosen.  A recovering node writes a mark into its
 *    journal, so that a crash during recovery does not end it, and when done
 *    rewrites the journal whole as a checkpoint (promise, votes, decisions)
 *    without the mark.  What this does not cover: a PREPARE or ACCEPT from
 *    before the crash still in flight after (a) was answered; a tear that
 *    falls exactly between records, which leaves a shorter journal that
 *    looks whole; and three damaged acceptors of five at once, who wait for
 *    one another (each needs a majority of others that are not recovering).
 * 10. The `bug` parameter `trust-disk` is the behaviour before note 9: the
 *    replay ignores checksums and believes whatever decodes, the node
 *    takes part at once, and promises report votes only, not decisions.
 *    Histories then lose acknowledged writes when a damaged acceptor
 *    completes a quorum that forgets a chosen value.
 * 11. BUGGIFY sites (sim/node.h fl_buggify): choices the protocol leaves
 *    open, taken on purpose where random schedules seldom go.
 *    paxos.promise-cut-short    a promise carries one vote and says "more",
 *                               so the leader's re-ask of note 2 runs even
 *                               with short logs (otherwise it needs more
 *                               than PAXOS_MAX_ENTRIES votes).
 *    paxos.election-timeout-min the election timeout at the bottom of its
 *                               range: nodes campaign together and duel.
 *    paxos.decide-one           catch-up (note 6) one decision per
 *                               heartbeat answer instead of a full batch.
 *    paxos.decide-withheld      a chosen value not broadcast (as if the
 *                               DECIDE were lost): followers learn it only
 *                               by catch-up, and their logs lag with gaps.
 *    paxos.accept-resent-early  an unanswered ACCEPT resent before its
 *                               heartbeat is up (note 7): a duplicate vote
 *                               must count once.
 * 12. Exploration (`faultline explore`).  paxos_digest hashes what decides
 *    a node's future: role, ballots, promise, commit index, store, the
 *    phase-1 progress, who answered, recovery state (note 9), each slot's
 *    vote, decision, phase-1 report and proposal with its voters, and the
 *    requests held.  Times are kept only as whole heartbeats before the
 *    last tick (since the leader was last heard, since a majority last
 *    answered, since the candidacy began) and the drawn election timeout
 *    in heartbeats: elections come from ticks comparing elapsed time, so
 *    a digest without them would call a follower one tick from
 *    campaigning the same as one just reset, and prune every tick.  paxos_invariant checks that no two live
 *    nodes learned different values chosen in one slot. */
#include "protocols/paxos/paxos.h"

#include "protocols/paxos/journal.h"

#include <string.h>

enum { TIMER_TICK = 1 };
enum { FOLLOWER, CANDIDATE, LEADER };

typedef struct Slot {
    /* acceptor (note 4) */
    uint64_t acc_ballot;          /* 0: never voted */
    FlRequest acc_value;
    /* learner */
    bool chosen;
    FlRequest chosen_value;
    /* phase 1: the highest vote reported by the promises (note 3) */
    PaxosVote p1;
    /* proposer, phase 2 */
    uint64_t prop_ballot;         /* 0: nothing proposed */
    FlRequest prop_value;
    uint64_t votes;               /* acceptors that accepted prop_ballot */
    FlTime proposed_at;
} Slot;

typedef struct Pending {
    FlRequest req;
    bool proposed;
} Pending;

typedef struct Paxos {
    uint32_t self, n;
    /* parameters */
    FlDuration heartbeat, elect_lo, elect_hi;
    uint32_t window;
    uint64_t max_slots;
    bool bug_ignore_accepted;
    bool bug_trust_disk;

    FlStore *store;
    GArray *log;                  /* of Slot; slot s at index s - 1 */
    uint64_t commit;              /* every slot <= commit is chosen and applied */

    /* acceptor */
    uint64_t promised;
    bool dirty;                   /* acceptor state written but not yet synced */
    /* note 9: back from a damaged disk, not voting yet */
    bool recovering;
    bool rec_marked;              /* the replayed journal carried the recovering mark */
    uint64_t rec_nonce;
    uint64_t rec_acks;            /* who answered this recovery's RECOVER */
    uint64_t rec_floor;           /* the highest ballot they promised */
    uint64_t rec_horizon;         /* the highest slot they know a vote or decision in */

    /* proposer */
    int role;
    uint64_t ballot;              /* our ballot as candidate or leader */
    uint64_t max_seen;            /* highest ballot heard of */
    uint64_t next_slot;           /* leader: the next free slot */
    uint64_t p1_start, p1_from, p1_max, p1_end;
    uint64_t p1_acks;
    uint64_t hb_acks;             /* leader: who answered since the last tick */
    FlTime last_majority;         /* leader: when a majority last answered */
    GTree *pending;               /* client address -> Pending*: requests we hold */

    /* failure detector */
    uint32_t leader;              /* FL_NO_HINT: unknown */
    FlTime last_heard;            /* when the leader (or a candidate) was last heard */
    FlDuration elect_timeout;     /* drawn anew for each wait */
    FlTime candidate_since;
    FlTime last_tick;             /* when the tick last fired: only for the digest (note 12) */

    PaxosEntry *buf;              /* PAXOS_MAX_ENTRIES, for decoding and encoding */
} Paxos;

static const FlParam paxos_params[] = {
    { "heartbeat", FL_PARAM_DURATION, "\"20ms\"", "leader heartbeat and retransmit period", NULL, 1e5, 1e11 },
    { "election_timeout", FL_PARAM_RANGE, "[\"150ms\",\"300ms\"]", "silence after which a follower runs phase 1 (drawn per wait)", NULL, 1e5, 1e11 },
    { "window", FL_PARAM_INT, "256", "most slots proposed but not yet chosen", NULL, 1, 1e5 },
    { "max_slots", FL_PARAM_INT, "65536", "length bound of the log (no snapshots: runs are short)", NULL, 16, 1e7 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake: ignore-accepted (phase 1 drops reported votes), trust-disk (a damaged journal is believed)", "none|ignore-accepted|trust-disk", 0, 0 },
    { NULL },
};

/* ---- Helpers ---------------------------------------------------------- */

static Slot *slot_at(Paxos *px, uint64_t s)
{
    g_assert(s >= 1 && s <= px->max_slots);
    if (s > px->log->len)
        g_array_set_size(px->log, (guint)s);
    return &g_array_index(px->log, Slot, s - 1);
}

static uint64_t last_slot(const Paxos *px)
{
    return px->log->len;
}

static void send_msg(FlNode *n, Paxos *px, uint32_t to, const PaxosMsg *m)
{
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    paxos_encode(&w, m);
    if (to == FL_NO_HINT)
        fl_broadcast(n, w.data, w.len);
    else
        fl_send(n, to, w.data, w.len);
    fl_metric_add(n, "protocol_messages", to == FL_NO_HINT ? px->n - 1 : 1);
    fl_writer_deinit(&w);
}

static gint cmp_u32(gconstpointer a, gconstpointer b, gpointer unused)
{
    uint32_t x = GPOINTER_TO_UINT(a), y = GPOINTER_TO_UINT(b);
    return x < y ? -1 : x > y;
}

static void new_timeout(FlNode *n, Paxos *px)
{
    px->elect_timeout = fl_random_duration(n, px->elect_lo, px->elect_hi);
    if (fl_buggify(n, "paxos.election-timeout-min"))
        px->elect_timeout = px->elect_lo;   /* note 11 */
}

/* ---- Acceptor durability (note 4) ------------------------------------ */

/* Journal records (journal.h frames them): a promise, a vote, a decided
 * value (written only by checkpoints) and the recovering mark (note 9). */
enum { REC_PROMISE = 'P', REC_ACCEPT = 'A', REC_CHOSEN = 'C', REC_RECOVERING = 'R' };

static void put_promise(FlWriter *w, uint64_t b)
{
    uint8_t buf[16];
    FlWriter body;
    fl_writer_init(&body, buf, sizeof buf);
    fl_put_u8(&body, REC_PROMISE);
    fl_put_u64(&body, b);
    paxos_journal_put(w, body.data, body.len);
    fl_writer_deinit(&body);
}

static void put_slot(FlWriter *w, uint8_t kind, uint64_t s, uint64_t b, const FlRequest *v)
{
    uint8_t buf[64];
    FlWriter body;
    fl_writer_init(&body, buf, sizeof buf);
    fl_put_u8(&body, kind);
    fl_put_u64(&body, s);
    if (kind == REC_ACCEPT)
        fl_put_u64(&body, b);
    fl_request_encode(&body, v);
    paxos_journal_put(w, body.data, body.len);
    fl_writer_deinit(&body);
}

static void persist_promise(FlNode *n, Paxos *px)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_promise(&w, px->promised);
    fl_disk_append(n, "acceptor", w.data, w.len);
    fl_writer_deinit(&w);
    px->dirty = true;
}

static void persist_accept(FlNode *n, Paxos *px, uint64_t s, uint64_t b, const FlRequest *v)
{
    uint8_t buf[96];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_slot(&w, REC_ACCEPT, s, b, v);
    fl_disk_append(n, "acceptor", w.data, w.len);
    fl_writer_deinit(&w);
    px->dirty = true;
}

/* Note 9: rewrites the journal whole, synced: the promise, the decided
 * value of every slot known decided and the vote in every other slot, and
 * with @mark the recovering mark. */
static void checkpoint(FlNode *n, Paxos *px, bool mark)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    paxos_journal_begin(&w);
    if (mark) {
        uint8_t k = REC_RECOVERING;
        paxos_journal_put(&w, &k, 1);
    }
    put_promise(&w, px->promised);
    for (uint64_t s = 1; s <= px->log->len; s++) {
        const Slot *sl = &g_array_index(px->log, Slot, s - 1);
        if (sl->chosen)
            put_slot(&w, REC_CHOSEN, s, 0, &sl->chosen_value);
        else if (sl->acc_ballot)
            put_slot(&w, REC_ACCEPT, s, sl->acc_ballot, &sl->acc_value);
    }
    paxos_journal_end(&w);
    fl_disk_write(n, "acceptor", w.data, w.len);
    fl_disk_sync(n, "acceptor");
    fl_writer_deinit(&w);
    px->dirty = false;
}

/* Makes the acceptor's state durable: called before any reply leaves. */
static void sync_acceptor(FlNode *n, Paxos *px)
{
    if (px->dirty)
        fl_disk_sync(n, "acceptor");
    px->dirty = false;
}

/* One journal record (journal.h); false stops the replay as damage. */
static bool replay_record(void *ctx, FlReader *r)
{
    Paxos *px = ctx;
    uint8_t kind = fl_get_u8(r);
    if (kind == REC_RECOVERING) {
        px->rec_marked = true;
        return fl_reader_done(r);
    }
    if (kind == REC_PROMISE) {
        uint64_t b = fl_get_u64(r);
        if (!fl_reader_done(r))
            return false;
        if (b > px->promised)
            px->promised = b;
        return true;
    }
    if (kind != REC_ACCEPT && kind != REC_CHOSEN)
        return false;
    uint64_t s = fl_get_u64(r), b = kind == REC_ACCEPT ? fl_get_u64(r) : 0;
    FlRequest v;
    if (!fl_request_decode(r, &v) || !fl_reader_done(r) || s < 1 || s > px->max_slots)
        return false;
    Slot *sl = slot_at(px, s);
    if (kind == REC_CHOSEN) {
        sl->chosen = true;
        sl->chosen_value = v;
        return true;
    }
    if (b >= sl->acc_ballot) {
        sl->acc_ballot = b;
        sl->acc_value = v;
    }
    if (b > px->promised)
        px->promised = b;
    return true;
}

/* Returns false when the journal is damaged (note 9). */
static bool replay_acceptor(FlNode *n, Paxos *px)
{
    size_t len;
    const uint8_t *p = fl_disk_view(n, "acceptor", &len);
    bool whole = paxos_journal_replay(p, len, !px->bug_trust_disk, replay_record, px);
    px->max_seen = px->promised;
    return whole;
}

/* ---- Recovery from a damaged disk (note 9) ------------------------------ */

/* The highest slot in which we hold a vote or know the decision. */
static uint64_t known_top(const Paxos *px)
{
    for (uint64_t s = px->log->len; s >= 1; s--) {
        const Slot *sl = &g_array_index(px->log, Slot, s - 1);
        if (sl->chosen || sl->acc_ballot)
            return s;
    }
    return 0;
}

static void ask_recovery(FlNode *n, Paxos *px)
{
    PaxosMsg m = { .type = PAXOS_RECOVER, .nonce = px->rec_nonce };
    send_msg(n, px, FL_NO_HINT, &m);
}

/* Note 9 (b): answered by a majority of others and caught up to the
 * horizon: vote again, from a checkpoint that no longer carries the mark. */
static void end_recovery(FlNode *n, Paxos *px)
{
    if (!px->recovering || paxos_count(px->rec_acks) < paxos_majority(px->n) ||
        px->commit < px->rec_horizon)
        return;
    px->recovering = false;
    checkpoint(n, px, false);
    fl_log(n, "recovered: promised %" G_GUINT64_FORMAT ", learned up to slot %" G_GUINT64_FORMAT
           ": voting again", px->promised, px->commit);
}

/* A peer back from a damaged disk asks what it may have forgotten.  Only
 * an acceptor that is not recovering itself can vouch for it. */
static void on_recover(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (px->recovering)
        return;
    PaxosMsg ack = { .type = PAXOS_RECOVER_ACK, .nonce = m->nonce, .ballot = px->promised,
                     .last = known_top(px) };
    send_msg(n, px, from, &ack);
}

/* Note 9 (a). */
static void on_recover_ack(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (!px->recovering || m->nonce != px->rec_nonce || from == px->self ||
        (px->rec_acks & paxos_bit(from)) ||
        paxos_count(px->rec_acks) >= paxos_majority(px->n))
        return;
    px->rec_acks |= paxos_bit(from);
    if (m->ballot > px->rec_floor)
        px->rec_floor = m->ballot;
    if (m->last > px->rec_horizon)
        px->rec_horizon = m->last;
    if (paxos_count(px->rec_acks) < paxos_majority(px->n))
        return;
    if (px->rec_floor > px->promised) {
        px->promised = px->rec_floor;
        persist_promise(n, px);
        sync_acceptor(n, px);
    }
    if (px->promised > px->max_seen)
        px->max_seen = px->promised;
    fl_log(n, "recovery: promised %" G_GUINT64_FORMAT ", learning up to slot %" G_GUINT64_FORMAT,
           px->promised, px->rec_horizon);
    end_recovery(n, px);
}

/* ---- Learner ------------------------------------------------------------ */

static void reply_pending(FlNode *n, Paxos *px, const FlRequest *req, const FlResult *res)
{
    Pending *p = g_tree_lookup(px->pending, GUINT_TO_POINTER(req->client));
    if (!p || p->req.id != req->id)
        return;
    fl_reply(n, &p->req, res);
    g_tree_remove(px->pending, GUINT_TO_POINTER(req->client));
}

/* Applies every chosen slot after `commit`, in order (note 5). */
static void apply_chosen(FlNode *n, Paxos *px)
{
    while (px->commit < last_slot(px)) {
        Slot *sl = slot_at(px, px->commit + 1);
        if (!sl->chosen)
            break;
        px->commit++;
        const FlRequest *v = &sl->chosen_value;
        if (v->op.kind == FL_OP_NOOP)
            continue;
        FlResult res;
        if (fl_store_apply_request(px->store, v, &res))
            reply_pending(n, px, v, &res);
    }
}

/* A learner learns that @v was chosen in slot @s. */
static void learn(FlNode *n, Paxos *px, uint64_t s, const FlRequest *v)
{
    Slot *sl = slot_at(px, s);
    if (sl->chosen) {
        if (!paxos_value_eq(&sl->chosen_value, v))
            fl_log(n, "slot %" G_GUINT64_FORMAT ": told of a different chosen value (safety lost)", s);
        return;
    }
    sl->chosen = true;
    sl->chosen_value = *v;
    apply_chosen(n, px);
    end_recovery(n, px);
}

/* ---- Roles --------------------------------------------------------------- */

static void become_follower(FlNode *n, Paxos *px, uint32_t leader)
{
    if (px->role != FOLLOWER) {
        /* Requests we held may still be chosen; the client retries at the
         * new leader with the same id, and the store applies it once. */
        while (g_tree_nnodes(px->pending) > 0) {
            GTreeNode *first = g_tree_node_first(px->pending);
            Pending *p = g_tree_node_value(first);
            fl_reply_redirect(n, &p->req, leader);
            g_tree_remove(px->pending, g_tree_node_key(first));
        }
    }
    px->role = FOLLOWER;
    px->leader = leader;
    fl_role(n, "follower");
}

/* Hears of ballot @b, from its owner or from an acceptor's refusal. */
static void see_ballot(FlNode *n, Paxos *px, uint64_t b)
{
    if (b > px->max_seen)
        px->max_seen = b;
    if (px->role != FOLLOWER && b > px->ballot)
        become_follower(n, px, paxos_ballot_node(b) < px->n ? paxos_ballot_node(b) : FL_NO_HINT);
}

/* Phase 2a for slot @s: the leader proposes @v under its ballot and votes
 * for it itself (the leader is one of the acceptors). */
static void propose(FlNode *n, Paxos *px, uint64_t s, const FlRequest *v)
{
    Slot *sl = slot_at(px, s);
    sl->prop_ballot = px->ballot;
    sl->prop_value = *v;
    sl->votes = 0;
    sl->proposed_at = fl_now(n);
    if (px->ballot >= px->promised) {
        if (px->ballot > px->promised) {
            px->promised = px->ballot;
            persist_promise(n, px);
        }
        sl->acc_ballot = px->ballot;
        sl->acc_value = *v;
        persist_accept(n, px, s, px->ballot, v);
        sync_acceptor(n, px);
        sl->votes |= paxos_bit(px->self);
    }
    PaxosMsg m = { .type = PAXOS_ACCEPT, .ballot = px->ballot, .slot = s, .value = *v };
    send_msg(n, px, FL_NO_HINT, &m);
}

static void propose_held(FlNode *n, Paxos *px);

/* Note 3: a majority promised.  Propose the adopted values (or no-ops) in
 * every slot phase 1 reported, then serve clients. */
static void become_leader(FlNode *n, Paxos *px)
{
    px->role = LEADER;
    px->leader = px->self;
    fl_role(n, "leader");
    fl_metric_add(n, "elections", 1);
    fl_metric_add(n, "leaderless_ns", (double)paxos_elapsed(fl_now(n), px->last_heard));
    fl_log(n, "leader with ballot %" G_GUINT64_FORMAT, px->ballot);
    px->last_majority = fl_now(n);
    px->hb_acks = 0;
    if (px->bug_ignore_accepted) {
        /* The bug (note 8): start at our own first unchosen slot. */
        px->next_slot = px->commit + 1;
    } else {
        uint64_t end = px->p1_max > px->commit ? px->p1_max : px->commit;
        for (uint64_t s = px->p1_start; s <= end; s++) {
            Slot *sl = slot_at(px, s);
            if (sl->chosen)
                continue;
            FlRequest noop = { .op = { .kind = FL_OP_NOOP } };
            propose(n, px, s, sl->p1.ballot ? &sl->p1.value : &noop);
        }
        px->next_slot = end + 1;
    }
    propose_held(n, px);
}

/* Leader: assigns slots to the client requests it holds, oldest client first. */
static gboolean propose_one(gpointer key, gpointer value, gpointer data)
{
    FlNode *n = ((void **)data)[0];
    Paxos *px = ((void **)data)[1];
    Pending *p = value;
    if (p->proposed)
        return FALSE;
    while (px->next_slot <= last_slot(px) && slot_at(px, px->next_slot)->chosen)
        px->next_slot++;
    if (px->next_slot > px->max_slots || px->next_slot - px->commit > px->window)
        return TRUE;   /* full: wait for commits (or forever, at the bound) */
    p->proposed = true;
    propose(n, px, px->next_slot++, &p->req);
    return FALSE;
}

static void propose_held(FlNode *n, Paxos *px)
{
    void *data[2] = { n, px };
    g_tree_foreach(px->pending, propose_one, data);
}

static void send_prepare(FlNode *n, Paxos *px)
{
    PaxosMsg m = { .type = PAXOS_PREPARE, .ballot = px->ballot, .slot = px->p1_from };
    send_msg(n, px, FL_NO_HINT, &m);
}

static void collect_promise(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m);
static void promise_entries(Paxos *px, uint64_t from, PaxosMsg *m, uint32_t cap);

/* Note 2: phase 1a for every slot from our first unchosen one. */
static void start_election(FlNode *n, Paxos *px)
{
    uint64_t top = px->max_seen > px->promised ? px->max_seen : px->promised;
    px->ballot = paxos_ballot_above(top, px->self);
    px->max_seen = px->ballot;
    if (px->role == LEADER)
        become_follower(n, px, FL_NO_HINT);
    px->role = CANDIDATE;
    px->leader = FL_NO_HINT;
    fl_role(n, "candidate");
    px->candidate_since = fl_now(n);
    new_timeout(n, px);
    px->p1_start = px->p1_from = px->commit + 1;
    px->p1_max = 0;
    px->p1_acks = 0;
    px->p1_end = UINT64_MAX;
    for (uint64_t s = px->p1_start; s <= last_slot(px); s++)
        slot_at(px, s)->p1 = (PaxosVote){ 0 };
    /* Our own acceptor promises first. */
    px->promised = px->ballot;
    persist_promise(n, px);
    sync_acceptor(n, px);
    send_prepare(n, px);
    PaxosMsg own = { .type = PAXOS_PROMISE, .ballot = px->ballot, .slot = px->p1_from };
    promise_entries(px, px->p1_from, &own, PAXOS_MAX_ENTRIES);
    collect_promise(n, px, px->self, &own);
}

/* ---- Acceptor handlers ------------------------------------------------- */

/* Fills @m with our votes in slots >= @from, at most @cap (at most
 * PAXOS_MAX_ENTRIES); a slot we know decided reports its decided value at
 * m->ballot (note 9). */
static void promise_entries(Paxos *px, uint64_t from, PaxosMsg *m, uint32_t cap)
{
    g_assert(cap >= 1 && cap <= PAXOS_MAX_ENTRIES);
    m->entries = px->buf;
    m->count = 0;
    m->more = false;
    m->last = 0;
    for (uint64_t s = from; s <= last_slot(px); s++) {
        Slot *sl = slot_at(px, s);
        if (!sl->acc_ballot && (!sl->chosen || px->bug_trust_disk))
            continue;
        if (m->count == cap) {
            m->more = true;
            m->last = m->entries[m->count - 1].slot;
            break;
        }
        if (sl->chosen && !px->bug_trust_disk)
            m->entries[m->count++] = (PaxosEntry){ .slot = s, .ballot = m->ballot, .value = sl->chosen_value };
        else
            m->entries[m->count++] = (PaxosEntry){ .slot = s, .ballot = sl->acc_ballot, .value = sl->acc_value };
    }
}

/* Phase 1b ("Paxos Made Simple" 2.2, phase 1(b)): promise never to accept a
 * ballot below @b, and report the last vote in every slot from m->slot. */
static void on_prepare(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (paxos_ballot_node(m->ballot) != from)
        return;   /* only a ballot's owner runs its phase 1 */
    if (px->recovering)
        return;   /* note 9: no promise from an acceptor that may have forgotten one */
    bool leader_alive = px->leader != FL_NO_HINT && px->leader != from && px->leader != px->self &&
                        paxos_elapsed(fl_now(n), px->last_heard) < (FlTime)px->elect_lo;
    if (leader_alive && m->ballot > px->promised)
        return;   /* note 7: stickiness */
    if (m->ballot < px->promised) {
        PaxosMsg nack = { .type = PAXOS_NACK, .ballot = px->promised };
        send_msg(n, px, from, &nack);
        return;
    }
    see_ballot(n, px, m->ballot);
    if (m->ballot > px->promised) {
        px->promised = m->ballot;
        persist_promise(n, px);
        sync_acceptor(n, px);
    }
    if (px->role == FOLLOWER) {
        px->last_heard = fl_now(n);   /* give the candidate time to finish */
        px->leader = FL_NO_HINT;
    }
    PaxosMsg reply = { .type = PAXOS_PROMISE, .ballot = m->ballot, .slot = m->slot };
    /* Note 11: a promise cut short after one vote. */
    promise_entries(px, m->slot, &reply,
                    fl_buggify(n, "paxos.promise-cut-short") ? 1 : PAXOS_MAX_ENTRIES);
    send_msg(n, px, from, &reply);
}

/* Phase 2b (2.2, phase 2(b)): accept unless we promised a higher ballot. */
static void on_accept(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (paxos_ballot_node(m->ballot) != from)
        return;
    if (px->recovering)
        return;   /* note 9: no vote either; the leader resends until we count */
    if (m->ballot < px->promised) {
        PaxosMsg nack = { .type = PAXOS_NACK, .ballot = px->promised };
        send_msg(n, px, from, &nack);
        return;
    }
    see_ballot(n, px, m->ballot);
    if (m->ballot > px->promised) {
        px->promised = m->ballot;
        persist_promise(n, px);
    }
    Slot *sl = slot_at(px, m->slot);
    if (sl->acc_ballot != m->ballot || !paxos_value_eq(&sl->acc_value, &m->value)) {
        sl->acc_ballot = m->ballot;
        sl->acc_value = m->value;
        persist_accept(n, px, m->slot, m->ballot, &m->value);
    }
    sync_acceptor(n, px);
    if (px->role == FOLLOWER) {
        px->leader = from;
        px->last_heard = fl_now(n);
    }
    PaxosMsg reply = { .type = PAXOS_ACCEPTED, .ballot = m->ballot, .slot = m->slot };
    send_msg(n, px, from, &reply);
}

/* ---- Proposer handlers --------------------------------------------------- */

/* Note 2 and 3: count a promise for our ballot; adopt the votes it reports. */
static void collect_promise(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (px->role != CANDIDATE || m->ballot != px->ballot || m->slot != px->p1_from)
        return;
    if (px->p1_acks & paxos_bit(from))
        return;
    px->p1_acks |= paxos_bit(from);
    for (uint32_t i = 0; i < m->count; i++) {
        const PaxosEntry *e = &m->entries[i];
        if (e->slot < px->p1_from || e->ballot > px->ballot)
            continue;   /* not asked for, or impossible: a vote above our promise */
        PaxosVote v = { .ballot = e->ballot, .value = e->value };
        paxos_adopt(&slot_at(px, e->slot)->p1, &v);
        if (e->slot > px->p1_max)
            px->p1_max = e->slot;
    }
    if (m->more && m->last < px->p1_end)
        px->p1_end = m->last;
    if (paxos_count(px->p1_acks) < paxos_majority(px->n))
        return;
    if (px->p1_end != UINT64_MAX) {
        /* Some promise was cut short: ask again from there, same ballot. */
        px->p1_from = px->p1_end + 1;
        px->p1_end = UINT64_MAX;
        px->p1_acks = 0;
        send_prepare(n, px);
        PaxosMsg own = { .type = PAXOS_PROMISE, .ballot = px->ballot, .slot = px->p1_from };
        promise_entries(px, px->p1_from, &own, PAXOS_MAX_ENTRIES);
        collect_promise(n, px, px->self, &own);
        return;
    }
    become_leader(n, px);
}

/* Note 5: a majority accepted our proposal in slot m->slot: it is chosen. */
static void on_accepted(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (px->role != LEADER || m->ballot != px->ballot || m->slot > last_slot(px))
        return;
    Slot *sl = slot_at(px, m->slot);
    if (sl->prop_ballot != m->ballot || sl->chosen)
        return;
    sl->votes |= paxos_bit(from);
    px->hb_acks |= paxos_bit(from);
    if (paxos_count(sl->votes) < paxos_majority(px->n))
        return;
    fl_metric_add(n, "commits", 1);
    fl_metric_add(n, "commit_latency_ns", (double)paxos_elapsed(fl_now(n), sl->proposed_at));
    FlRequest v = sl->prop_value;
    learn(n, px, m->slot, &v);
    PaxosEntry e = { .slot = m->slot, .value = v };
    PaxosMsg d = { .type = PAXOS_DECIDE, .entries = &e, .count = 1 };
    /* Note 11: the followers then learn it from the catch-up of note 6. */
    if (!fl_buggify(n, "paxos.decide-withheld"))
        send_msg(n, px, FL_NO_HINT, &d);
    propose_held(n, px);   /* the window may have opened */
}

static void on_nack(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (m->ballot > px->ballot && px->role != FOLLOWER) {
        fl_log(n, "preempted by ballot %" G_GUINT64_FORMAT, m->ballot);
        see_ballot(n, px, m->ballot);
        px->last_heard = fl_now(n);
        new_timeout(n, px);
    } else if (m->ballot > px->max_seen) {
        px->max_seen = m->ballot;
    }
}

/* Learners: chosen values, from the leader's decisions and catch-up. */
static void on_decide(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    for (uint32_t i = 0; i < m->count; i++)
        learn(n, px, m->entries[i].slot, &m->entries[i].value);
}

/* Note 6: a leader's heartbeat. */
static void on_heartbeat(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (paxos_ballot_node(m->ballot) != from)
        return;
    if (m->ballot < px->promised) {
        PaxosMsg nack = { .type = PAXOS_NACK, .ballot = px->promised };
        send_msg(n, px, from, &nack);
        return;
    }
    see_ballot(n, px, m->ballot);
    if (px->role == FOLLOWER) {
        px->leader = from;
        px->last_heard = fl_now(n);
    }
    PaxosMsg ack = { .type = PAXOS_HEARTBEAT_ACK, .ballot = m->ballot, .commit = px->commit };
    send_msg(n, px, from, &ack);
}

/* Note 6: send a follower the chosen values it lacks. */
static void on_heartbeat_ack(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (px->role != LEADER || m->ballot != px->ballot)
        return;
    px->hb_acks |= paxos_bit(from);
    PaxosMsg d = { .type = PAXOS_DECIDE, .entries = px->buf, .count = 0 };
    /* Note 11: catch-up one decision at a time. */
    uint32_t cap = fl_buggify(n, "paxos.decide-one") ? 1 : PAXOS_MAX_ENTRIES;
    for (uint64_t s = m->commit + 1; s <= last_slot(px) && d.count < cap; s++) {
        Slot *sl = slot_at(px, s);
        if (sl->chosen)
            px->buf[d.count++] = (PaxosEntry){ .slot = s, .value = sl->chosen_value };
    }
    if (d.count)
        send_msg(n, px, from, &d);
}

/* ---- Entry points ---------------------------------------------------------- */

static void paxos_init(FlNode *n, void *state)
{
    Paxos *px = state;
    px->self = fl_self(n);
    px->n = fl_nodes(n);
    if (px->n > PAXOS_MAX_NODES)
        g_error("paxos: at most %u nodes", PAXOS_MAX_NODES);
    px->heartbeat = fl_param_duration(n, "heartbeat");
    fl_param_range(n, "election_timeout", &px->elect_lo, &px->elect_hi);
    px->window = (uint32_t)fl_param_int(n, "window");
    px->max_slots = (uint64_t)fl_param_int(n, "max_slots");
    px->bug_ignore_accepted = strcmp(fl_param_enum(n, "bug"), "ignore-accepted") == 0;
    px->bug_trust_disk = strcmp(fl_param_enum(n, "bug"), "trust-disk") == 0;
    px->store = fl_store_new();
    px->log = g_array_new(FALSE, TRUE, sizeof(Slot));
    px->pending = g_tree_new_full(cmp_u32, NULL, NULL, g_free);
    px->buf = g_new(PaxosEntry, PAXOS_MAX_ENTRIES);
    px->leader = FL_NO_HINT;
    px->role = FOLLOWER;
    fl_role(n, "follower");
    px->last_heard = fl_now(n);
    new_timeout(n, px);
    fl_timer(n, px->heartbeat, TIMER_TICK);
}

static void paxos_recover(FlNode *n, void *state)
{
    Paxos *px = state;
    paxos_init(n, state);
    bool whole = replay_acceptor(n, px);
    apply_chosen(n, px);   /* decisions a checkpoint kept */
    if (px->bug_trust_disk || (whole && !px->rec_marked))
        return;
    /* Note 9: something synced is gone, or an earlier recovery did not
     * finish.  Mark the journal first, so that a crash from here on comes
     * back recovering too, and ask the others. */
    px->recovering = true;
    px->rec_nonce = fl_random(n);
    checkpoint(n, px, true);
    fl_log(n, "%s: no promise or vote until recovered",
           whole ? "recovery was not finished" : "acceptor journal damaged");
    ask_recovery(n, px);
}

static void paxos_destroy(FlNode *n, void *state)
{
    Paxos *px = state;
    fl_store_free(px->store);
    g_array_free(px->log, TRUE);
    g_tree_destroy(px->pending);
    g_free(px->buf);
}

static void paxos_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Paxos *px = state;
    PaxosMsg m;
    if (from >= px->n || !paxos_decode(msg, len, &m, px->buf, PAXOS_MAX_ENTRIES, px->max_slots))
        return;   /* malformed: drop */
    switch (m.type) {
    case PAXOS_PREPARE: on_prepare(n, px, from, &m); break;
    case PAXOS_PROMISE: collect_promise(n, px, from, &m); break;
    case PAXOS_ACCEPT: on_accept(n, px, from, &m); break;
    case PAXOS_ACCEPTED: on_accepted(n, px, from, &m); break;
    case PAXOS_NACK: on_nack(n, px, from, &m); break;
    case PAXOS_DECIDE: on_decide(n, px, from, &m); break;
    case PAXOS_HEARTBEAT: on_heartbeat(n, px, from, &m); break;
    case PAXOS_HEARTBEAT_ACK: on_heartbeat_ack(n, px, from, &m); break;
    case PAXOS_RECOVER: on_recover(n, px, from, &m); break;
    case PAXOS_RECOVER_ACK: on_recover_ack(n, px, from, &m); break;
    }
}

/* Leader, every heartbeat: heartbeats, resend unanswered proposals, and
 * step down without a majority (note 7). */
static void leader_tick(FlNode *n, Paxos *px)
{
    FlTime now = fl_now(n);
    if (paxos_count(px->hb_acks | paxos_bit(px->self)) >= paxos_majority(px->n))
        px->last_majority = now;
    px->hb_acks = 0;
    if (paxos_elapsed(now, px->last_majority) > (FlTime)px->elect_hi) {
        fl_log(n, "no majority heard: stepping down");
        become_follower(n, px, FL_NO_HINT);
        px->last_heard = now;
        new_timeout(n, px);
        return;
    }
    PaxosMsg hb = { .type = PAXOS_HEARTBEAT, .ballot = px->ballot, .commit = px->commit };
    send_msg(n, px, FL_NO_HINT, &hb);
    for (uint64_t s = px->commit + 1; s < px->next_slot && s <= last_slot(px); s++) {
        Slot *sl = slot_at(px, s);
        if (sl->chosen || sl->prop_ballot != px->ballot)
            continue;
        /* Note 11: now and then resend a proposal still within its first
         * heartbeat: acceptors see its ACCEPT twice. */
        if (paxos_elapsed(now, sl->proposed_at) < (FlTime)px->heartbeat &&
            !fl_buggify(n, "paxos.accept-resent-early"))
            continue;
        PaxosMsg m = { .type = PAXOS_ACCEPT, .ballot = px->ballot, .slot = s, .value = sl->prop_value };
        for (uint32_t j = 0; j < px->n; j++)
            if (j != px->self && !(sl->votes & paxos_bit(j)))
                send_msg(n, px, j, &m);
    }
}

static void paxos_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Paxos *px = state;
    if (tag != TIMER_TICK)
        return;
    FlTime now = fl_now(n);
    px->last_tick = now;
    if (px->recovering) {
        /* Note 9: a follower that does not campaign; it asks again until
         * a majority of the others answered. */
        if (paxos_count(px->rec_acks) < paxos_majority(px->n))
            ask_recovery(n, px);
        fl_timer(n, px->heartbeat, TIMER_TICK);
        return;
    }
    switch (px->role) {
    case LEADER:
        leader_tick(n, px);
        break;
    case CANDIDATE:
        if (paxos_elapsed(now, px->candidate_since) > (FlTime)px->elect_timeout)
            start_election(n, px);   /* phase 1 did not finish: a higher ballot */
        break;
    case FOLLOWER:
        if (paxos_elapsed(now, px->last_heard) > (FlTime)px->elect_timeout)
            start_election(n, px);
        break;
    }
    fl_timer(n, px->heartbeat, TIMER_TICK);
}

/* Clients: the leader orders requests; others redirect (note 5). */
static void paxos_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Paxos *px = state;
    if (req->op.kind == FL_OP_NOOP) {
        fl_reply_fail(n, req);
        return;
    }
    if (px->role == FOLLOWER) {
        fl_reply_redirect(n, req, px->leader);
        return;
    }
    Pending *old = g_tree_lookup(px->pending, GUINT_TO_POINTER(req->client));
    if (old && old->req.id == req->id)
        return;   /* already held: a retry of what we are ordering */
    if (old && old->req.id > req->id)
        return;   /* older than what the client asked since: stale */
    Pending *p = g_new0(Pending, 1);
    p->req = *req;
    g_tree_replace(px->pending, GUINT_TO_POINTER(req->client), p);
    if (px->role == LEADER)
        propose_held(n, px);
}

/* Names a message's kind for faults aimed at protocol events (the
 * `trigger` fault): the first byte is the type.  NULL for
 * a type this protocol does not send. */
static const char *paxos_msg_kind(const uint8_t *msg, size_t len)
{
    static const char *const names[] = {
        [PAXOS_PREPARE] = "Prepare",
        [PAXOS_PROMISE] = "Promise",
        [PAXOS_ACCEPT] = "Accept",
        [PAXOS_ACCEPTED] = "Accepted",
        [PAXOS_NACK] = "Nack",
        [PAXOS_DECIDE] = "Decide",
        [PAXOS_HEARTBEAT] = "Heartbeat",
        [PAXOS_HEARTBEAT_ACK] = "HeartbeatAck",
        [PAXOS_RECOVER] = "Recover",
        [PAXOS_RECOVER_ACK] = "RecoverAck",
    };
    if (len == 0 || msg[0] >= G_N_ELEMENTS(names))
        return NULL;
    return names[msg[0]];
}

/* ---- Exploration (note 12) ---------------------------------------------- */

static gboolean digest_pending(gpointer key, gpointer value, gpointer data)
{
    const Pending *p = value;
    uint64_t *h = data;
    *h = fl_digest_request(fl_digest_mix(fl_digest_mix(*h, GPOINTER_TO_UINT(key)), p->proposed), &p->req);
    return FALSE;
}

static uint64_t paxos_digest(const void *state)
{
    const Paxos *px = state;
    uint64_t h = fl_digest_mix(fl_digest_mix(fl_digest_mix(px->role, px->ballot), px->max_seen), px->promised);
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, px->commit), px->next_slot), fl_store_hash(px->store));
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, px->p1_start), px->p1_from), px->p1_max);
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, px->p1_end), px->p1_acks), px->hb_acks);
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, px->leader), px->dirty), px->recovering);
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, px->rec_marked), px->rec_acks), px->rec_floor);
    h = fl_digest_mix(h, px->rec_horizon);
    /* Times as ticks before the last one (note 12): what the next ticks
     * will compare with the election timeout. */
    int64_t hb = (int64_t)px->heartbeat;
    h = fl_digest_mix(fl_digest_mix(h, (uint64_t)px->elect_timeout / (uint64_t)hb),
             (uint64_t)(((int64_t)px->last_tick - (int64_t)px->last_heard) / hb));
    if (px->role == LEADER)
        h = fl_digest_mix(h, (uint64_t)(((int64_t)px->last_tick - (int64_t)px->last_majority) / hb));
    if (px->role == CANDIDATE)
        h = fl_digest_mix(h, (uint64_t)(((int64_t)px->last_tick - (int64_t)px->candidate_since) / hb));
    for (guint k = 0; k < px->log->len; k++) {
        const Slot *sl = &g_array_index(px->log, Slot, k);
        h = fl_digest_request(fl_digest_mix(h, sl->acc_ballot), &sl->acc_value);
        h = fl_digest_mix(h, sl->chosen);
        if (sl->chosen)
            h = fl_digest_request(h, &sl->chosen_value);
        h = fl_digest_request(fl_digest_mix(h, sl->p1.ballot), &sl->p1.value);
        h = fl_digest_request(fl_digest_mix(fl_digest_mix(h, sl->prop_ballot), sl->votes), &sl->prop_value);
    }
    g_tree_foreach(px->pending, digest_pending, &h);   /* in client order */
    return h;
}

/* One value chosen per slot (Paxos Made Simple, 2.1 "Safety requirements":
 * only a single value is chosen), over what the live nodes learned. */
static bool paxos_invariant(const void *const *states, uint32_t nodes, GString *why)
{
    for (uint32_t i = 0; i < nodes; i++) {
        const Paxos *a = states[i];
        for (uint32_t j = i + 1; a && j < nodes; j++) {
            const Paxos *b = states[j];
            if (!b)
                continue;
            guint len = MIN(a->log->len, b->log->len);
            for (guint k = 0; k < len; k++) {
                const Slot *x = &g_array_index(a->log, Slot, k);
                const Slot *y = &g_array_index(b->log, Slot, k);
                if (x->chosen && y->chosen && !paxos_value_eq(&x->chosen_value, &y->chosen_value)) {
                    g_string_printf(why, "one value per slot: nodes %u and %u learned different "
                                    "values chosen in slot %u (requests %" G_GUINT64_FORMAT
                                    " of client %u and %" G_GUINT64_FORMAT " of client %u)",
                                    i, j, k + 1, x->chosen_value.id, x->chosen_value.client,
                                    y->chosen_value.id, y->chosen_value.client);
                    return false;
                }
            }
        }
    }
    return true;
}

const FlProtocol fl_proto_paxos = {
    .name = "paxos",
    .summary = "Multi-Paxos: stable leader, phase 1 once for all slots, phase 2 per slot, no-op gap filling",
    .params = paxos_params,
    .state_size = sizeof(Paxos),
    .init = paxos_init,
    .recover = paxos_recover,
    .destroy = paxos_destroy,
    .on_message = paxos_on_message,
    .on_timer = paxos_on_timer,
    .on_request = paxos_on_request,
    .msg_kind = paxos_msg_kind,
    .kinds = "Prepare|Promise|Accept|Accepted|Nack|Decide|Heartbeat|HeartbeatAck|Recover|RecoverAck",
    .fields = paxos_fields,
    .max_nodes = PAXOS_MAX_NODES,
    .digest = paxos_digest,
    .invariant = paxos_invariant,
};
