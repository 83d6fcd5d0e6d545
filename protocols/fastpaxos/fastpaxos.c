/* fastpaxos: Fast Paxos for a replicated log (Lamport, "Fast Paxos",
 * Distributed Computing 19(2), 2006).
 *
 * Design notes.
 * 1. Every node is acceptor and learner; the ballot's owner is the
 *    coordinator (and the learner that answers clients).  Leader election,
 *    ballots, phase 1 for all slots at once, heartbeats and catch-up are as
 *    in Multi-Paxos (protocols/paxos/paxos.c, its notes 2, 6 and 7).
 * 2. Rounds are (ballot, sub) (fastpaxos.h): sub 0 is the ballot's fast
 *    round, subs 1..255 classic rounds of the same coordinator.  Quorums:
 *    classic = majority, fast = ceil(3n/4) (section 4.1: any two classic
 *    and a fast, or a classic and two fast, quorums intersect).
 * 3. After phase 1 the coordinator proposes in each reported slot the value
 *    rule O4 (fp_pick) allows, in classic round (b, 1), and sends ANY for
 *    every slot above: the fast round's "any" 2a message (section 3.1), which
 *    lets acceptors vote for a value they receive from a client directly.
 * 4. Clients send every request to every node (FL_CLIENT_ALL).  An acceptor
 *    with permission puts it in its lowest free slot at or above the open
 *    one, votes (synced), and sends the vote (2b, with the value) to the
 *    coordinator.  Acceptors that see requests in the same order vote
 *    alike; a value voted by a fast quorum is chosen in two message delays
 *    from the client to the coordinator, three to the client's answer.
 * 5. Collision (section 3.3): when the coordinator sees that no value can
 *    reach a fast quorum any more, and holds votes from at least a majority,
 *    it runs coordinated recovery: the fast round's 2b messages serve as the
 *    1b messages of classic round (b, 1) (an acceptor that voted in (b, 0)
 *    can never vote there again), it picks with rule O4 and sends 2a.
 *    Clients whose request lost are told to resend (a redirect to the
 *    coordinator: FL_CLIENT_ALL resends to all).
 * 6. Slots that stay undecided for `recovery` (lost votes, a crashed
 *    acceptor, gaps left when acceptors realign) are recovered with an
 *    explicit per-slot phase 1 (RECOVER: an acceptor promises no vote below
 *    that classic round in that slot, synced) and rule O4; a slot that
 *    nobody can have chosen gets a no-op.
 * 7. Acceptors drift apart when they miss requests.  After a slot needed
 *    recovery, the coordinator's next heartbeat carries the lowest slot
 *    nobody has used; acceptors move their next free slot up to it, which
 *    realigns them (safety does not depend on where an acceptor votes, only
 *    on voting once per round).
 * 8. Acceptor state (promise, per-slot vote and per-slot promise) is
 *    appended to the journal "acceptor" (protocols/paxos/journal.h: framed
 *    records with a CRC-32 each) and synced before any vote or promise
 *    leaves.
 * 9. Damaged disks: as Multi-Paxos (protocols/paxos/paxos.c, note 9, after
 *    "Paxos Made Live" section 5.1 and Alagappan et al., FAST 2018).  An
 *    acceptor whose journal replays damaged (cut short, a checksum that
 *    fails, a checkpoint never closed) may have lost a promise, a per-slot
 *    promise or a vote that a quorum relied on.  It stays a non-voting
 *    member, with no promise (PREPARE, RECOVER), no vote (classic or fast:
 *    client requests are held) and no campaign, until a majority of the
 *    other acceptors, not recovering themselves, answered a REJOIN with a
 *    nonce drawn after the restart (it adopts their highest promise; the
 *    highest slot they hold a vote, a slot promise or a decision in is its
 *    horizon) and it has learned every slot up to the horizon.  A slot it
 *    knows decided is reported, in a promise or a slot's phase 1b, as
 *    voted in the highest classic round below the one asking: every vote
 *    in a round above the one that chose a value is for that value (rule
 *    O4 and the ANY messages, sent only above phase 1's slots, keep it so),
 *    so rule O4 returns the decided value.  The journal carries a
 *    recovering mark until recovery ends with a checkpoint.  The limits of
 *    paxos.c note 9 apply here too.
 * 10. The `bug` parameter `trust-disk` is the behaviour before note 9: the
 *    replay ignores checksums, believes whatever decodes, the node takes
 *    part at once, and phase 1 reports votes only, not decisions. */
#include "protocols/fastpaxos/fastpaxos.h"

#include "protocols/paxos/journal.h"

#include <string.h>

enum { TIMER_TICK = 1 };
enum { FOLLOWER, CANDIDATE, LEADER };

/* The coordinator's view of one undecided slot (leader only). */
typedef struct Coord {
    uint64_t rnd;          /* the round whose votes are counted */
    uint64_t voted;        /* who voted in rnd */
    FlRequest *vals;       /* [n]: each voter's value in rnd */
    uint32_t top_sub;      /* highest classic sub-round we used here */
    uint64_t crnd;         /* our classic proposal's round (0: none) */
    FlRequest cval;
    uint64_t prnd;         /* RECOVER round being prepared (0: none) */
    uint64_t packs;        /* who answered it, or who promised the ballot */
    FpVote *rep;           /* [n]: phase-1 reports */
    FpPick pick;           /* phase 1's verdict for this slot */
    FlRequest picked;
    FlTime since;          /* last progress: created, proposed, recovering */
    FlTime created;
} Coord;

typedef struct Slot {
    uint64_t vrnd;         /* acceptor: round of the last vote (0: none) */
    FlRequest vval;
    uint64_t minrnd;       /* acceptor: no vote in this slot below this round */
    bool chosen;
    FlRequest chosen_value;
    Coord *co;
} Slot;

typedef struct Voted {
    uint64_t id;
    uint64_t slot;
} Voted;

typedef struct Lost {
    FlRequest req;
    FlTime at;
} Lost;

typedef struct Fp {
    uint32_t self, n;
    FlDuration heartbeat, elect_lo, elect_hi, recovery;
    uint64_t max_slots;
    bool bug_trust_disk;

    FlStore *store;
    GArray *log;                  /* of Slot; slot s at s - 1 */
    uint64_t commit;
    GHashTable *applied;          /* client -> last id applied (lookups only) */

    /* acceptor */
    uint64_t promised;
    bool dirty;
    uint64_t any_ballot;          /* the fast round we may vote in (0: none) */
    uint64_t any_from;
    uint64_t next_free;
    GTree *voted;                 /* client -> Voted: our last fast vote for it */
    GTree *held;                  /* client -> FlRequest: received without permission */
    /* note 9: back from a damaged disk, not voting yet */
    bool recovering;
    bool rec_marked;              /* the replayed journal carried the recovering mark */
    uint64_t rec_nonce;
    uint64_t rec_acks;            /* who answered this recovery's REJOIN */
    uint64_t rec_floor;           /* the highest ballot they promised */
    uint64_t rec_horizon;         /* the highest slot they know anything of */

    /* coordinator */
    int role;
    uint64_t ballot, max_seen;
    uint64_t p1_start, p1_from, p1_max, p1_end, p1_acks;
    uint64_t max_known;           /* highest slot with a vote or proposal we know of */
    bool realign;                 /* a slot needed recovery since the last heartbeat */
    uint64_t hb_acks;
    FlTime last_majority;
    GArray *lost;                 /* of Lost: requests that lost a collision */

    uint32_t leader;
    FlTime last_heard;
    FlDuration elect_timeout;
    FlTime candidate_since;

    FpEntry *buf;
} Fp;

static const FlParam fp_params[] = {
    { "heartbeat", FL_PARAM_DURATION, "\"20ms\"", "coordinator heartbeat and retransmit period", NULL, 1e5, 1e11 },
    { "election_timeout", FL_PARAM_RANGE, "[\"150ms\",\"300ms\"]", "silence after which a node runs phase 1", NULL, 1e5, 1e11 },
    { "recovery", FL_PARAM_DURATION, "\"30ms\"", "how long a slot may stay undecided before the coordinator recovers it", NULL, 1e5, 1e11 },
    { "max_slots", FL_PARAM_INT, "65536", "length bound of the log", NULL, 16, 1e7 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake: trust-disk (a damaged journal is believed)", "none|trust-disk", 0, 0 },
    { NULL },
};

/* ---- Helpers ---------------------------------------------------------- */

static Slot *slot_at(Fp *fp, uint64_t s)
{
    g_assert(s >= 1 && s <= fp->max_slots);
    if (s > fp->log->len)
        g_array_set_size(fp->log, (guint)s);
    return &g_array_index(fp->log, Slot, s - 1);
}

static uint64_t last_slot(const Fp *fp)
{
    return fp->log->len;
}

static void coord_free(Coord *co)
{
    if (!co)
        return;
    g_free(co->vals);
    g_free(co->rep);
    g_free(co);
}

static Coord *coord(FlNode *n, Fp *fp, uint64_t s)
{
    Slot *sl = slot_at(fp, s);
    if (!sl->co) {
        Coord *co = g_new0(Coord, 1);
        co->vals = g_new0(FlRequest, fp->n);
        co->rep = g_new0(FpVote, fp->n);
        co->since = co->created = fl_now(n);
        if (fp->role == LEADER && s >= fp->any_from)
            co->rnd = fp_round(fp->ballot, 0);
        sl->co = co;
    }
    return sl->co;
}

static void coords_clear(Fp *fp)
{
    for (guint i = 0; i < fp->log->len; i++) {
        Slot *sl = &g_array_index(fp->log, Slot, i);
        coord_free(sl->co);
        sl->co = NULL;
    }
}

static void send_msg(FlNode *n, Fp *fp, uint32_t to, const FpMsg *m)
{
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fp_encode(&w, m);
    if (to == FL_NO_HINT)
        fl_broadcast(n, w.data, w.len);
    else
        fl_send(n, to, w.data, w.len);
    fl_metric_add(n, "protocol_messages", to == FL_NO_HINT ? fp->n - 1 : 1);
    fl_writer_deinit(&w);
}

static gint cmp_u32(gconstpointer a, gconstpointer b, gpointer unused)
{
    uint32_t x = GPOINTER_TO_UINT(a), y = GPOINTER_TO_UINT(b);
    return x < y ? -1 : x > y;
}

static void new_timeout(FlNode *n, Fp *fp)
{
    fp->elect_timeout = fl_random_duration(n, fp->elect_lo, fp->elect_hi);
}

static FlRequest noop(void)
{
    return (FlRequest){ .op = { .kind = FL_OP_NOOP } };
}

/* ---- Acceptor durability (note 8) -------------------------------------- */

/* Journal records (journal.h frames them): the promise, a vote, a slot's
 * promise, a decided value (checkpoints only) and the recovering mark. */
enum { REC_PROMISE = 'P', REC_VOTE = 'V', REC_MINRND = 'M', REC_CHOSEN = 'C', REC_RECOVERING = 'R' };

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

/* REC_VOTE and REC_CHOSEN carry a value; REC_CHOSEN no round. */
static void put_slot(FlWriter *w, uint8_t kind, uint64_t s, uint64_t rnd, const FlRequest *v)
{
    uint8_t buf[64];
    FlWriter body;
    fl_writer_init(&body, buf, sizeof buf);
    fl_put_u8(&body, kind);
    fl_put_u64(&body, s);
    if (kind != REC_CHOSEN)
        fl_put_u64(&body, rnd);
    if (v)
        fl_request_encode(&body, v);
    paxos_journal_put(w, body.data, body.len);
    fl_writer_deinit(&body);
}

static void persist_promise(FlNode *n, Fp *fp)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_promise(&w, fp->promised);
    fl_disk_append(n, "acceptor", w.data, w.len);
    fl_writer_deinit(&w);
    fp->dirty = true;
}

static void persist_slot(FlNode *n, Fp *fp, uint8_t kind, uint64_t s, uint64_t rnd,
                         const FlRequest *v)
{
    uint8_t buf[96];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_slot(&w, kind, s, rnd, v);
    fl_disk_append(n, "acceptor", w.data, w.len);
    fl_writer_deinit(&w);
    fp->dirty = true;
}

/* Note 9: rewrites the journal whole, synced: the promise, each slot's
 * decided value if known, its vote and its promise (kept for decided slots
 * too: a slot promise below the ballot promise still forbids a late 2a of
 * an older sub-round); with @mark the recovering mark. */
static void checkpoint(FlNode *n, Fp *fp, bool mark)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    paxos_journal_begin(&w);
    if (mark) {
        uint8_t k = REC_RECOVERING;
        paxos_journal_put(&w, &k, 1);
    }
    put_promise(&w, fp->promised);
    for (uint64_t s = 1; s <= fp->log->len; s++) {
        const Slot *sl = &g_array_index(fp->log, Slot, s - 1);
        if (sl->chosen)
            put_slot(&w, REC_CHOSEN, s, 0, &sl->chosen_value);
        if (sl->vrnd)
            put_slot(&w, REC_VOTE, s, sl->vrnd, &sl->vval);
        if (sl->minrnd)
            put_slot(&w, REC_MINRND, s, sl->minrnd, NULL);
    }
    paxos_journal_end(&w);
    fl_disk_write(n, "acceptor", w.data, w.len);
    fl_disk_sync(n, "acceptor");
    fl_writer_deinit(&w);
    fp->dirty = false;
}

static void sync_acceptor(FlNode *n, Fp *fp)
{
    if (fp->dirty)
        fl_disk_sync(n, "acceptor");
    fp->dirty = false;
}

static void raise_promise(FlNode *n, Fp *fp, uint64_t b)
{
    if (b > fp->promised) {
        fp->promised = b;
        persist_promise(n, fp);
    }
    if (b > fp->max_seen)
        fp->max_seen = b;
}

/* One journal record (journal.h); false stops the replay as damage. */
static bool replay_record(void *ctx, FlReader *r)
{
    Fp *fp = ctx;
    uint8_t kind = fl_get_u8(r);
    if (kind == REC_RECOVERING) {
        fp->rec_marked = true;
        return fl_reader_done(r);
    }
    if (kind == REC_PROMISE) {
        uint64_t b = fl_get_u64(r);
        if (!fl_reader_done(r))
            return false;
        if (b > fp->promised)
            fp->promised = b;
        return true;
    }
    if (kind != REC_VOTE && kind != REC_MINRND && kind != REC_CHOSEN)
        return false;
    uint64_t s = fl_get_u64(r), rnd = kind != REC_CHOSEN ? fl_get_u64(r) : 0;
    FlRequest v;
    if (kind != REC_MINRND && !fl_request_decode(r, &v))
        return false;
    if (!fl_reader_done(r) || s < 1 || s > fp->max_slots)
        return false;
    Slot *sl = slot_at(fp, s);
    if (kind == REC_CHOSEN) {
        sl->chosen = true;
        sl->chosen_value = v;
        return true;
    }
    if (kind == REC_VOTE && rnd >= sl->vrnd) {
        sl->vrnd = rnd;
        sl->vval = v;
    } else if (kind == REC_MINRND && rnd > sl->minrnd) {
        sl->minrnd = rnd;
    }
    if (fp_round_ballot(rnd) > fp->promised)
        fp->promised = fp_round_ballot(rnd);
    return true;
}

/* Returns false when the journal is damaged (note 9). */
static bool replay_acceptor(FlNode *n, Fp *fp)
{
    size_t len;
    const uint8_t *p = fl_disk_view(n, "acceptor", &len);
    bool whole = paxos_journal_replay(p, len, !fp->bug_trust_disk, replay_record, fp);
    fp->max_seen = fp->promised;
    return whole;
}

/* Votes @v in round @rnd of slot @s, durably. */
static void vote(FlNode *n, Fp *fp, uint64_t s, uint64_t rnd, const FlRequest *v)
{
    Slot *sl = slot_at(fp, s);
    raise_promise(n, fp, fp_round_ballot(rnd));
    if (sl->vrnd != rnd || !paxos_value_eq(&sl->vval, v)) {
        sl->vrnd = rnd;
        sl->vval = *v;
        persist_slot(n, fp, REC_VOTE, s, rnd, v);
    }
    sync_acceptor(n, fp);
}

/* ---- Recovery from a damaged disk (note 9) ------------------------------ */

/* The highest slot in which we hold a vote, a slot promise or a decision. */
static uint64_t known_top(const Fp *fp)
{
    for (uint64_t s = fp->log->len; s >= 1; s--) {
        const Slot *sl = &g_array_index(fp->log, Slot, s - 1);
        if (sl->chosen || sl->vrnd || sl->minrnd)
            return s;
    }
    return 0;
}

/* The round at which a slot known decided is reported to a phase 1 of
 * round @asking: the highest classic round below it (note 9). */
static uint64_t decided_round(uint64_t asking)
{
    uint64_t r = asking - 1;
    return fp_round_fast(r) ? r - 1 : r;
}

static void ask_rejoin(FlNode *n, Fp *fp)
{
    FpMsg m = { .type = FP_REJOIN, .nonce = fp->rec_nonce };
    send_msg(n, fp, FL_NO_HINT, &m);
}

static void release_held(FlNode *n, Fp *fp);

/* Note 9: answered by a majority of others and caught up to the horizon:
 * vote again, from a checkpoint that no longer carries the mark. */
static void end_recovery(FlNode *n, Fp *fp)
{
    if (!fp->recovering || paxos_count(fp->rec_acks) < paxos_majority(fp->n) ||
        fp->commit < fp->rec_horizon)
        return;
    fp->recovering = false;
    checkpoint(n, fp, false);
    fl_log(n, "recovered: promised %" G_GUINT64_FORMAT ", learned up to slot %" G_GUINT64_FORMAT
           ": voting again", fp->promised, fp->commit);
    release_held(n, fp);
}

/* A peer back from a damaged disk asks what it may have forgotten; only an
 * acceptor that is not recovering itself can vouch for it. */
static void on_rejoin(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    if (fp->recovering)
        return;
    FpMsg ack = { .type = FP_REJOIN_ACK, .nonce = m->nonce, .ballot = fp->promised,
                  .last = known_top(fp) };
    send_msg(n, fp, from, &ack);
}

static void on_rejoin_ack(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    if (!fp->recovering || m->nonce != fp->rec_nonce || from == fp->self ||
        (fp->rec_acks & paxos_bit(from)) || paxos_count(fp->rec_acks) >= paxos_majority(fp->n))
        return;
    fp->rec_acks |= paxos_bit(from);
    if (m->ballot > fp->rec_floor)
        fp->rec_floor = m->ballot;
    if (m->last > fp->rec_horizon)
        fp->rec_horizon = m->last;
    if (paxos_count(fp->rec_acks) < paxos_majority(fp->n))
        return;
    raise_promise(n, fp, fp->rec_floor);
    sync_acceptor(n, fp);
    fl_log(n, "recovery: promised %" G_GUINT64_FORMAT ", learning up to slot %" G_GUINT64_FORMAT,
           fp->promised, fp->rec_horizon);
    end_recovery(n, fp);
}

/* ---- Learner ------------------------------------------------------------- */

static void apply_chosen(FlNode *n, Fp *fp)
{
    while (fp->commit < last_slot(fp)) {
        Slot *sl = slot_at(fp, fp->commit + 1);
        if (!sl->chosen)
            break;
        fp->commit++;
        coord_free(sl->co);
        sl->co = NULL;
        const FlRequest *v = &sl->chosen_value;
        if (v->op.kind == FL_OP_NOOP)
            continue;
        FlResult res;
        if (!fl_store_apply_request(fp->store, v, &res))
            continue;
        g_hash_table_insert(fp->applied, GUINT_TO_POINTER(v->client), GSIZE_TO_POINTER((gsize)v->id));
        if (fp->role == LEADER)
            fl_reply(n, v, &res);   /* the coordinator answers (a repeat is ignored) */
    }
}

static void learn(FlNode *n, Fp *fp, uint64_t s, const FlRequest *v)
{
    Slot *sl = slot_at(fp, s);
    if (sl->chosen) {
        if (!paxos_value_eq(&sl->chosen_value, v))
            fl_log(n, "slot %" G_GUINT64_FORMAT ": told of a different chosen value (safety lost)", s);
        return;
    }
    sl->chosen = true;
    sl->chosen_value = *v;
    apply_chosen(n, fp);
    end_recovery(n, fp);
}

static bool applied_already(Fp *fp, const FlRequest *r)
{
    gpointer id;
    if (!g_hash_table_lookup_extended(fp->applied, GUINT_TO_POINTER(r->client), NULL, &id))
        return false;
    return (uint64_t)GPOINTER_TO_SIZE(id) >= r->id;
}

/* ---- Roles ---------------------------------------------------------------- */

static void become_follower(FlNode *n, Fp *fp, uint32_t leader)
{
    if (fp->role != FOLLOWER)
        coords_clear(fp);
    g_array_set_size(fp->lost, 0);
    fp->role = FOLLOWER;
    fp->leader = leader;
    fl_role(n, "follower");
}

static void see_ballot(FlNode *n, Fp *fp, uint64_t b)
{
    if (b > fp->max_seen)
        fp->max_seen = b;
    if (fp->role != FOLLOWER && b > fp->ballot)
        become_follower(n, fp, paxos_ballot_node(b) < fp->n ? paxos_ballot_node(b) : FL_NO_HINT);
}

static void chosen_at_coordinator(FlNode *n, Fp *fp, uint64_t s, const FlRequest *v);
static void release_held(FlNode *n, Fp *fp);

/* Classic phase 2a in round @r of slot @s (note 3, 5, 6); the coordinator
 * votes too when its own acceptor may. */
static void propose(FlNode *n, Fp *fp, uint64_t s, uint64_t r, const FlRequest *v)
{
    Coord *co = coord(n, fp, s);
    Slot *sl = slot_at(fp, s);
    co->crnd = co->rnd = r;
    co->cval = *v;
    co->voted = 0;
    co->prnd = 0;
    if (fp_round_sub(r) > co->top_sub)
        co->top_sub = fp_round_sub(r);
    co->since = fl_now(n);
    if (s > fp->max_known)
        fp->max_known = s;
    if (fp_round_ballot(r) >= fp->promised && r >= sl->minrnd && r >= sl->vrnd) {
        vote(n, fp, s, r, v);
        co->voted |= paxos_bit(fp->self);
    }
    FpMsg m = { .type = FP_ACCEPT, .rnd = r, .slot = s, .value = *v };
    send_msg(n, fp, FL_NO_HINT, &m);
    if (paxos_count(co->voted) >= paxos_majority(fp->n))
        chosen_at_coordinator(n, fp, s, v);   /* a one-node cluster */
}

/* The next classic sub-round the coordinator may use in @co, or 0 when
 * they are used up (then a new ballot is needed). */
static uint64_t next_classic(Fp *fp, Coord *co)
{
    if (co->top_sub >= FP_SUB_MAX)
        return 0;
    return fp_round(fp->ballot, co->top_sub + 1);
}

static void start_election(FlNode *n, Fp *fp);

/* Note 5: coordinated recovery from the fast round's votes. */
static void coordinated_recovery(FlNode *n, Fp *fp, uint64_t s)
{
    Coord *co = coord(n, fp, s);
    uint64_t r = next_classic(fp, co);
    if (!r) {
        start_election(n, fp);
        return;
    }
    FpVote reps[PAXOS_MAX_NODES];
    uint32_t q = 0;
    for (uint32_t j = 0; j < fp->n; j++)
        if (co->voted & paxos_bit(j))
            reps[q++] = (FpVote){ .rnd = co->rnd, .value = co->vals[j] };
    FlRequest v = noop();
    fp_pick(reps, q, fp->n, &v);
    fl_metric_add(n, "collisions", 1);
    fp->realign = true;
    for (uint32_t i = 0; i < q; i++) {
        if (paxos_value_eq(&reps[i].value, &v))
            continue;
        bool seen = false;
        for (uint32_t k = 0; k < i && !seen; k++)
            seen = paxos_value_eq(&reps[k].value, &reps[i].value);
        if (!seen && fp->lost->len < 1024) {
            Lost l = { .req = reps[i].value, .at = fl_now(n) };
            g_array_append_val(fp->lost, l);
        }
    }
    propose(n, fp, s, r, &v);
}

/* Note 6: explicit phase 1 for one slot's next classic round. */
static void start_recover(FlNode *n, Fp *fp, uint64_t s)
{
    Coord *co = coord(n, fp, s);
    uint64_t r = next_classic(fp, co);
    if (!r) {
        start_election(n, fp);
        return;
    }
    co->top_sub = fp_round_sub(r);
    co->prnd = r;
    fp->realign = true;
    co->packs = 0;
    co->since = fl_now(n);
    memset(co->rep, 0, sizeof(FpVote) * fp->n);
    Slot *sl = slot_at(fp, s);
    if (fp_round_ballot(r) >= fp->promised && r >= sl->minrnd) {
        raise_promise(n, fp, fp_round_ballot(r));
        sl->minrnd = r;
        persist_slot(n, fp, REC_MINRND, s, r, NULL);
        sync_acceptor(n, fp);
        co->packs |= paxos_bit(fp->self);
        co->rep[fp->self] = (FpVote){ .rnd = sl->vrnd, .value = sl->vval };
    }
    FpMsg m = { .type = FP_RECOVER, .rnd = r, .slot = s };
    send_msg(n, fp, FL_NO_HINT, &m);
}

static void send_any(FlNode *n, Fp *fp)
{
    FpMsg m = { .type = FP_ANY, .ballot = fp->ballot, .slot = fp->any_from };
    send_msg(n, fp, FL_NO_HINT, &m);
}

/* Note 3: phase 1 done: O4 in every reported slot, then open the fast round. */
static void become_leader(FlNode *n, Fp *fp)
{
    fp->role = LEADER;
    fp->leader = fp->self;
    fl_role(n, "leader");
    fl_metric_add(n, "elections", 1);
    fl_metric_add(n, "leaderless_ns", (double)paxos_elapsed(fl_now(n), fp->last_heard));
    fl_log(n, "coordinator with ballot %" G_GUINT64_FORMAT, fp->ballot);
    fp->last_majority = fl_now(n);
    fp->hb_acks = 0;
    uint64_t end = fp->p1_max > fp->commit ? fp->p1_max : fp->commit;
    fp->any_from = end + 1;
    fp->max_known = end;
    for (uint64_t s = fp->p1_start; s <= end; s++) {
        Slot *sl = slot_at(fp, s);
        if (sl->chosen)
            continue;
        Coord *co = coord(n, fp, s);
        FlRequest v = co->pick == FP_PICK_FREE ? noop() : co->picked;
        propose(n, fp, s, fp_round(fp->ballot, 1), &v);
    }
    /* Our own acceptor takes the fast round's permission too. */
    fp->any_ballot = fp->ballot;
    if (fp->next_free < fp->any_from)
        fp->next_free = fp->any_from;
    send_any(n, fp);
    release_held(n, fp);
}

static void send_prepare(FlNode *n, Fp *fp)
{
    FpMsg m = { .type = FP_PREPARE, .ballot = fp->ballot, .slot = fp->p1_from };
    send_msg(n, fp, FL_NO_HINT, &m);
}

static void collect_promise(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m);

/* Our votes in slots >= @from; a slot known decided reports the decided
 * value at the highest classic round below the ballot asking (note 9). */
static void promise_entries(Fp *fp, uint64_t from, FpMsg *m)
{
    m->entries = fp->buf;
    m->count = 0;
    m->more = false;
    m->last = 0;
    for (uint64_t s = from; s <= last_slot(fp); s++) {
        Slot *sl = slot_at(fp, s);
        bool decided = sl->chosen && !fp->bug_trust_disk;
        if (!sl->vrnd && !decided)
            continue;
        if (m->count == FP_MAX_ENTRIES) {
            m->more = true;
            m->last = m->entries[m->count - 1].slot;
            break;
        }
        if (decided)
            m->entries[m->count++] = (FpEntry){ .slot = s, .rnd = decided_round(fp_round(m->ballot, 0)),
                                                .value = sl->chosen_value };
        else
            m->entries[m->count++] = (FpEntry){ .slot = s, .rnd = sl->vrnd, .value = sl->vval };
    }
}

static void own_promise(FlNode *n, Fp *fp)
{
    FpMsg own = { .type = FP_PROMISE, .ballot = fp->ballot, .slot = fp->p1_from };
    promise_entries(fp, fp->p1_from, &own);
    collect_promise(n, fp, fp->self, &own);
}

static void start_election(FlNode *n, Fp *fp)
{
    uint64_t top = fp->max_seen > fp->promised ? fp->max_seen : fp->promised;
    fp->ballot = paxos_ballot_above(top, fp->self);
    if (fp->role != FOLLOWER)
        become_follower(n, fp, FL_NO_HINT);
    fp->role = CANDIDATE;
    fp->leader = FL_NO_HINT;
    fl_role(n, "candidate");
    fp->candidate_since = fl_now(n);
    new_timeout(n, fp);
    coords_clear(fp);
    fp->p1_start = fp->p1_from = fp->commit + 1;
    fp->p1_max = 0;
    fp->p1_acks = 0;
    fp->p1_end = UINT64_MAX;
    raise_promise(n, fp, fp->ballot);
    sync_acceptor(n, fp);
    send_prepare(n, fp);
    own_promise(n, fp);
}

/* ---- Acceptor handlers ------------------------------------------------- */

static void nack(FlNode *n, Fp *fp, uint32_t to)
{
    FpMsg m = { .type = FP_NACK, .ballot = fp->promised };
    send_msg(n, fp, to, &m);
}

/* Phase 1b for a whole ballot (section 2.2, phase 1b). */
static void on_prepare(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    if (paxos_ballot_node(m->ballot) != from)
        return;
    if (fp->recovering)
        return;   /* note 9: no promise from an acceptor that may have forgotten one */
    bool leader_alive = fp->leader != FL_NO_HINT && fp->leader != from && fp->leader != fp->self &&
                        paxos_elapsed(fl_now(n), fp->last_heard) < (FlTime)fp->elect_lo;
    if (leader_alive && m->ballot > fp->promised)
        return;   /* stickiness (Multi-Paxos note 7) */
    if (m->ballot < fp->promised) {
        nack(n, fp, from);
        return;
    }
    see_ballot(n, fp, m->ballot);
    raise_promise(n, fp, m->ballot);
    sync_acceptor(n, fp);
    if (fp->role == FOLLOWER) {
        fp->last_heard = fl_now(n);
        fp->leader = FL_NO_HINT;
    }
    FpMsg reply = { .type = FP_PROMISE, .ballot = m->ballot, .slot = m->slot };
    promise_entries(fp, m->slot, &reply);
    send_msg(n, fp, from, &reply);
}

/* The fast round's "any" 2a message (section 3.1), alone or in a heartbeat. */
static bool take_any(FlNode *n, Fp *fp, uint32_t from, uint64_t ballot, uint64_t open)
{
    if (paxos_ballot_node(ballot) != from)
        return false;
    if (ballot < fp->promised) {
        nack(n, fp, from);
        return false;
    }
    see_ballot(n, fp, ballot);
    raise_promise(n, fp, ballot);
    sync_acceptor(n, fp);
    if (fp->any_ballot != ballot) {
        fp->any_ballot = ballot;
        fp->any_from = open;
    } else if (open > fp->any_from) {
        fp->any_from = open;   /* note 7: realign */
    }
    if (fp->next_free < fp->any_from)
        fp->next_free = fp->any_from;
    if (fp->role == FOLLOWER) {
        fp->leader = from;
        fp->last_heard = fl_now(n);
    }
    release_held(n, fp);
    return true;
}

static void count_vote(FlNode *n, Fp *fp, uint32_t from, uint64_t r, uint64_t s, const FlRequest *v);
static void fast_vote(FlNode *n, Fp *fp, const FlRequest *req);

/* Votes for the requests held while there was no fast round. */
static void release_held(FlNode *n, Fp *fp)
{
    while (!fp->recovering && g_tree_nnodes(fp->held) > 0 && fp->any_ballot &&
           fp->any_ballot == fp->promised) {
        GTreeNode *first = g_tree_node_first(fp->held);
        FlRequest req = *(FlRequest *)g_tree_node_value(first);
        g_tree_remove(fp->held, g_tree_node_key(first));
        fast_vote(n, fp, &req);
    }
}

/* Note 4: a client's request reaches an acceptor during a fast round. */
static void fast_vote(FlNode *n, Fp *fp, const FlRequest *req)
{
    if (fp->recovering || !fp->any_ballot || fp->any_ballot != fp->promised) {
        /* No permission yet (or recovering, note 9): hold the client's
         * latest request until we may vote (one per client: bounded). */
        FlRequest *h = g_tree_lookup(fp->held, GUINT_TO_POINTER(req->client));
        if (!h || h->id < req->id)
            g_tree_replace(fp->held, GUINT_TO_POINTER(req->client), g_memdup2(req, sizeof *req));
        return;
    }
    if (applied_already(fp, req))
        return;
    Voted *vd = g_tree_lookup(fp->voted, GUINT_TO_POINTER(req->client));
    if (vd && req->id < vd->id)
        return;   /* stale */
    if (vd && req->id == vd->id) {
        Slot *was = slot_at(fp, vd->slot);
        if (!was->chosen || paxos_value_eq(&was->chosen_value, req))
            return;   /* still in play where we put it */
    }
    uint64_t r0 = fp_round(fp->any_ballot, 0);
    uint64_t s = fp->next_free > fp->any_from ? fp->next_free : fp->any_from;
    for (; s <= fp->max_slots; s++) {
        Slot *sl = slot_at(fp, s);
        if (!sl->chosen && sl->vrnd < r0 && sl->minrnd <= r0)
            break;
    }
    if (s > fp->max_slots)
        return;
    vote(n, fp, s, r0, req);
    fp->next_free = s + 1;
    if (!vd) {
        vd = g_new0(Voted, 1);
        g_tree_insert(fp->voted, GUINT_TO_POINTER(req->client), vd);
    }
    vd->id = req->id;
    vd->slot = s;
    uint32_t coordinator = paxos_ballot_node(fp->any_ballot);
    if (coordinator == fp->self) {
        count_vote(n, fp, fp->self, r0, s, req);
    } else {
        FpMsg m = { .type = FP_ACCEPTED, .rnd = r0, .slot = s, .value = *req };
        send_msg(n, fp, coordinator, &m);
    }
}

/* Classic phase 2b (section 2.2): vote unless promised otherwise. */
static void on_accept(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    uint64_t b = fp_round_ballot(m->rnd);
    if (paxos_ballot_node(b) != from || fp_round_sub(m->rnd) == 0)
        return;
    if (fp->recovering)
        return;   /* note 9: no vote; the coordinator resends */
    if (b < fp->promised) {
        nack(n, fp, from);
        return;
    }
    Slot *sl = slot_at(fp, m->slot);
    if (m->rnd < sl->minrnd || m->rnd < sl->vrnd)
        return;   /* a stale round of this coordinator */
    see_ballot(n, fp, b);
    vote(n, fp, m->slot, m->rnd, &m->value);
    if (fp->role == FOLLOWER) {
        fp->leader = from;
        fp->last_heard = fl_now(n);
    }
    FpMsg reply = { .type = FP_ACCEPTED, .rnd = m->rnd, .slot = m->slot, .value = m->value };
    send_msg(n, fp, from, &reply);
}

/* Note 6: phase 1b for one slot's classic round. */
static void on_recover(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    uint64_t b = fp_round_ballot(m->rnd);
    if (paxos_ballot_node(b) != from || fp_round_sub(m->rnd) == 0)
        return;
    if (fp->recovering)
        return;   /* note 9: no slot promise either */
    if (b < fp->promised) {
        nack(n, fp, from);
        return;
    }
    Slot *sl = slot_at(fp, m->slot);
    if (m->rnd < sl->minrnd)
        return;
    see_ballot(n, fp, b);
    raise_promise(n, fp, b);
    if (m->rnd > sl->minrnd) {
        sl->minrnd = m->rnd;
        persist_slot(n, fp, REC_MINRND, m->slot, m->rnd, NULL);
    }
    sync_acceptor(n, fp);
    FpEntry e = { .slot = m->slot, .rnd = sl->vrnd, .value = sl->vval };
    if (sl->chosen && !fp->bug_trust_disk)
        e = (FpEntry){ .slot = m->slot, .rnd = decided_round(m->rnd), .value = sl->chosen_value };
    FpMsg reply = { .type = FP_RECOVERED, .rnd = m->rnd, .slot = m->slot, .entries = &e,
                    .count = e.rnd ? 1 : 0 };
    send_msg(n, fp, from, &reply);
}

/* ---- Coordinator handlers -------------------------------------------------- */

static void collect_promise(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    if (fp->role != CANDIDATE || m->ballot != fp->ballot || m->slot != fp->p1_from)
        return;
    if (fp->p1_acks & paxos_bit(from))
        return;
    fp->p1_acks |= paxos_bit(from);
    for (uint32_t i = 0; i < m->count; i++) {
        const FpEntry *e = &m->entries[i];
        if (e->slot < fp->p1_from || fp_round_ballot(e->rnd) >= fp->ballot)
            continue;   /* not asked, or impossible: a vote at or above our promise */
        Coord *co = coord(n, fp, e->slot);
        co->rep[from] = (FpVote){ .rnd = e->rnd, .value = e->value };
        if (e->slot > fp->p1_max)
            fp->p1_max = e->slot;
    }
    if (m->more && m->last < fp->p1_end)
        fp->p1_end = m->last;
    if (paxos_count(fp->p1_acks) < paxos_majority(fp->n))
        return;
    /* Rule O4 for every slot of this chunk, from this chunk's quorum. */
    uint64_t hi = fp->p1_end < fp->p1_max ? fp->p1_end : fp->p1_max;
    for (uint64_t s = fp->p1_from; s <= hi; s++) {
        Slot *sl = slot_at(fp, s);
        if (!sl->co)
            continue;
        FpVote reps[PAXOS_MAX_NODES];
        uint32_t q = 0;
        for (uint32_t j = 0; j < fp->n; j++)
            if (fp->p1_acks & paxos_bit(j))
                reps[q++] = sl->co->rep[j];
        sl->co->pick = fp_pick(reps, q, fp->n, &sl->co->picked);
    }
    if (fp->p1_end != UINT64_MAX) {
        fp->p1_from = fp->p1_end + 1;
        fp->p1_end = UINT64_MAX;
        fp->p1_acks = 0;
        send_prepare(n, fp);
        own_promise(n, fp);
        return;
    }
    become_leader(n, fp);
}

static void chosen_at_coordinator(FlNode *n, Fp *fp, uint64_t s, const FlRequest *v)
{
    Slot *sl = slot_at(fp, s);
    if (sl->chosen)
        return;
    fl_metric_add(n, "commits", 1);
    if (sl->co)
        fl_metric_add(n, "commit_latency_ns", (double)paxos_elapsed(fl_now(n), sl->co->created));
    FlRequest val = *v;
    FpEntry e = { .slot = s, .value = val };
    FpMsg d = { .type = FP_DECIDE, .entries = &e, .count = 1 };
    send_msg(n, fp, FL_NO_HINT, &d);
    learn(n, fp, s, &val);
}

/* Phase 2b messages at the coordinator: fast votes (note 4, 5) and votes in
 * our classic rounds. */
static void count_vote(FlNode *n, Fp *fp, uint32_t from, uint64_t r, uint64_t s, const FlRequest *v)
{
    if (fp->role != LEADER || fp_round_ballot(r) != fp->ballot)
        return;
    Slot *sl = slot_at(fp, s);
    if (sl->chosen)
        return;
    Coord *co = coord(n, fp, s);
    if (co->rnd != r)
        return;   /* a vote in a round we no longer count */
    if (co->voted & paxos_bit(from))
        return;
    co->voted |= paxos_bit(from);
    co->vals[from] = *v;
    fp->hb_acks |= paxos_bit(from);
    if (s > fp->max_known)
        fp->max_known = s;
    uint32_t voted = paxos_count(co->voted);
    if (!fp_round_fast(r)) {
        if (voted >= paxos_majority(fp->n))
            chosen_at_coordinator(n, fp, s, &co->cval);
        return;
    }
    uint32_t top = 0;
    FlRequest best = *v;
    for (uint32_t j = 0; j < fp->n; j++) {
        if (!(co->voted & paxos_bit(j)))
            continue;
        uint32_t c = 0;
        for (uint32_t k = 0; k < fp->n; k++)
            if ((co->voted & paxos_bit(k)) && paxos_value_eq(&co->vals[k], &co->vals[j]))
                c++;
        if (c > top) {
            top = c;
            best = co->vals[j];
        }
    }
    if (top >= paxos_fast_quorum(fp->n))
        chosen_at_coordinator(n, fp, s, &best);
    else if (fp_collided(top, voted, fp->n) && voted >= paxos_majority(fp->n))
        coordinated_recovery(n, fp, s);
}

static void on_accepted(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    count_vote(n, fp, from, m->rnd, m->slot, &m->value);
}

static void on_recovered(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    if (fp->role != LEADER || fp_round_ballot(m->rnd) != fp->ballot)
        return;
    Slot *sl = slot_at(fp, m->slot);
    if (sl->chosen || !sl->co || sl->co->prnd != m->rnd || (sl->co->packs & paxos_bit(from)))
        return;
    Coord *co = sl->co;
    co->packs |= paxos_bit(from);
    co->rep[from] = m->count ? (FpVote){ .rnd = m->entries[0].rnd, .value = m->entries[0].value }
                             : (FpVote){ 0 };
    if (co->rep[from].rnd >= m->rnd)
        co->rep[from] = (FpVote){ 0 };   /* impossible: a vote at or above the round prepared */
    if (paxos_count(co->packs) < paxos_majority(fp->n))
        return;
    FpVote reps[PAXOS_MAX_NODES];
    uint32_t q = 0;
    for (uint32_t j = 0; j < fp->n; j++)
        if (co->packs & paxos_bit(j))
            reps[q++] = co->rep[j];
    FlRequest v = noop();
    fp_pick(reps, q, fp->n, &v);
    propose(n, fp, m->slot, m->rnd, &v);
}

static void on_nack(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    if (m->ballot > fp->ballot && fp->role != FOLLOWER) {
        see_ballot(n, fp, m->ballot);
        fp->last_heard = fl_now(n);
        new_timeout(n, fp);
    } else if (m->ballot > fp->max_seen) {
        fp->max_seen = m->ballot;
    }
}

static void on_decide(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    for (uint32_t i = 0; i < m->count; i++)
        learn(n, fp, m->entries[i].slot, &m->entries[i].value);
}

static void on_heartbeat(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    if (!take_any(n, fp, from, m->ballot, m->slot))
        return;
    FpMsg ack = { .type = FP_HEARTBEAT_ACK, .ballot = m->ballot, .commit = fp->commit };
    send_msg(n, fp, from, &ack);
}

static void on_heartbeat_ack(FlNode *n, Fp *fp, uint32_t from, const FpMsg *m)
{
    if (fp->role != LEADER || m->ballot != fp->ballot)
        return;
    fp->hb_acks |= paxos_bit(from);
    FpMsg d = { .type = FP_DECIDE, .entries = fp->buf, .count = 0 };
    for (uint64_t s = m->commit + 1; s <= last_slot(fp) && d.count < FP_MAX_ENTRIES; s++) {
        Slot *sl = slot_at(fp, s);
        if (sl->chosen)
            fp->buf[d.count++] = (FpEntry){ .slot = s, .value = sl->chosen_value };
    }
    if (d.count)
        send_msg(n, fp, from, &d);
}

/* ---- Entry points ------------------------------------------------------------ */

static void fp_init(FlNode *n, void *state)
{
    Fp *fp = state;
    fp->self = fl_self(n);
    fp->n = fl_nodes(n);
    if (fp->n > PAXOS_MAX_NODES)
        g_error("fastpaxos: at most %u nodes", PAXOS_MAX_NODES);
    fp->heartbeat = fl_param_duration(n, "heartbeat");
    fl_param_range(n, "election_timeout", &fp->elect_lo, &fp->elect_hi);
    fp->recovery = fl_param_duration(n, "recovery");
    fp->max_slots = (uint64_t)fl_param_int(n, "max_slots");
    fp->bug_trust_disk = strcmp(fl_param_enum(n, "bug"), "trust-disk") == 0;
    fp->store = fl_store_new();
    fp->log = g_array_new(FALSE, TRUE, sizeof(Slot));
    fp->applied = g_hash_table_new(g_direct_hash, g_direct_equal);
    fp->voted = g_tree_new_full(cmp_u32, NULL, NULL, g_free);
    fp->held = g_tree_new_full(cmp_u32, NULL, NULL, g_free);
    fp->lost = g_array_new(FALSE, FALSE, sizeof(Lost));
    fp->buf = g_new(FpEntry, FP_MAX_ENTRIES);
    fp->leader = FL_NO_HINT;
    fp->role = FOLLOWER;
    fp->next_free = 1;
    fl_role(n, "follower");
    fp->last_heard = fl_now(n);
    new_timeout(n, fp);
    fl_timer(n, fp->heartbeat, TIMER_TICK);
}

static void fp_recover(FlNode *n, void *state)
{
    Fp *fp = state;
    fp_init(n, state);
    bool whole = replay_acceptor(n, fp);
    apply_chosen(n, fp);   /* decisions a checkpoint kept */
    if (fp->bug_trust_disk || (whole && !fp->rec_marked))
        return;
    /* Note 9: something synced is gone, or an earlier recovery did not
     * finish.  Mark the journal first, so that a crash from here on comes
     * back recovering too, and ask the others. */
    fp->recovering = true;
    fp->rec_nonce = fl_random(n);
    checkpoint(n, fp, true);
    fl_log(n, "%s: no promise or vote until recovered",
           whole ? "recovery was not finished" : "acceptor journal damaged");
    ask_rejoin(n, fp);
}

static void fp_destroy(FlNode *n, void *state)
{
    Fp *fp = state;
    coords_clear(fp);
    fl_store_free(fp->store);
    g_array_free(fp->log, TRUE);
    g_hash_table_destroy(fp->applied);
    g_tree_destroy(fp->voted);
    g_tree_destroy(fp->held);
    g_array_free(fp->lost, TRUE);
    g_free(fp->buf);
}

static void fp_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Fp *fp = state;
    FpMsg m;
    if (from >= fp->n || !fp_decode(msg, len, &m, fp->buf, FP_MAX_ENTRIES, fp->max_slots))
        return;
    switch (m.type) {
    case FP_PREPARE: on_prepare(n, fp, from, &m); break;
    case FP_PROMISE: collect_promise(n, fp, from, &m); break;
    case FP_ANY: take_any(n, fp, from, m.ballot, m.slot); break;
    case FP_ACCEPT: on_accept(n, fp, from, &m); break;
    case FP_ACCEPTED: on_accepted(n, fp, from, &m); break;
    case FP_RECOVER: on_recover(n, fp, from, &m); break;
    case FP_RECOVERED: on_recovered(n, fp, from, &m); break;
    case FP_NACK: on_nack(n, fp, from, &m); break;
    case FP_DECIDE: on_decide(n, fp, from, &m); break;
    case FP_HEARTBEAT: on_heartbeat(n, fp, from, &m); break;
    case FP_HEARTBEAT_ACK: on_heartbeat_ack(n, fp, from, &m); break;
    case FP_REJOIN: on_rejoin(n, fp, from, &m); break;
    case FP_REJOIN_ACK: on_rejoin_ack(n, fp, from, &m); break;
    }
}

/* Note 5: clients whose request lost a collision and was not chosen since
 * are told to resend. */
static void redirect_lost(FlNode *n, Fp *fp, FlTime now)
{
    guint keep = 0;
    for (guint i = 0; i < fp->lost->len; i++) {
        Lost *l = &g_array_index(fp->lost, Lost, i);
        if (paxos_elapsed(now, l->at) < (FlTime)fp->recovery) {
            g_array_index(fp->lost, Lost, keep++) = *l;
            continue;
        }
        if (!applied_already(fp, &l->req))
            fl_reply_redirect(n, &l->req, fp->self);
    }
    g_array_set_size(fp->lost, keep);
}

/* Coordinator, every heartbeat (notes 6 and 7). */
static void leader_tick(FlNode *n, Fp *fp)
{
    FlTime now = fl_now(n);
    if (paxos_count(fp->hb_acks | paxos_bit(fp->self)) >= paxos_majority(fp->n))
        fp->last_majority = now;
    fp->hb_acks = 0;
    if (paxos_elapsed(now, fp->last_majority) > (FlTime)fp->elect_hi) {
        fl_log(n, "no majority heard: stepping down");
        become_follower(n, fp, FL_NO_HINT);
        fp->last_heard = now;
        new_timeout(n, fp);
        return;
    }
    /* Note 7: realign only after trouble; doing it always would make an
     * acceptor that hears the heartbeat before a request skip its slot. */
    if (fp->realign && fp->max_known + 1 > fp->any_from)
        fp->any_from = fp->max_known + 1;
    fp->realign = false;
    if (fp->next_free < fp->any_from)
        fp->next_free = fp->any_from;
    FpMsg hb = { .type = FP_HEARTBEAT, .ballot = fp->ballot, .commit = fp->commit, .slot = fp->any_from };
    send_msg(n, fp, FL_NO_HINT, &hb);
    redirect_lost(n, fp, now);
    uint32_t budget = 256;
    for (uint64_t s = fp->commit + 1; s <= fp->max_known && budget > 0; s++) {
        Slot *sl = slot_at(fp, s);
        if (sl->chosen)
            continue;
        Coord *co = coord(n, fp, s);
        if (paxos_elapsed(now, co->since) < (FlTime)fp->recovery)
            continue;
        budget--;
        if (co->crnd && co->rnd == co->crnd) {
            /* Our classic proposal: resend to who has not voted. */
            FpMsg m = { .type = FP_ACCEPT, .rnd = co->crnd, .slot = s, .value = co->cval };
            for (uint32_t j = 0; j < fp->n; j++)
                if (j != fp->self && !(co->voted & paxos_bit(j)))
                    send_msg(n, fp, j, &m);
            co->since = now;
        } else if (fp_round_fast(co->rnd) && paxos_count(co->voted) >= paxos_majority(fp->n)) {
            coordinated_recovery(n, fp, s);
        } else {
            start_recover(n, fp, s);
        }
        if (fp->role != LEADER)
            return;   /* sub-rounds ran out: a new election started */
    }
}

static void fp_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Fp *fp = state;
    if (tag != TIMER_TICK)
        return;
    FlTime now = fl_now(n);
    if (fp->recovering) {
        /* Note 9: a follower that does not campaign; it asks again until
         * a majority of the others answered. */
        if (paxos_count(fp->rec_acks) < paxos_majority(fp->n))
            ask_rejoin(n, fp);
        fl_timer(n, fp->heartbeat, TIMER_TICK);
        return;
    }
    switch (fp->role) {
    case LEADER:
        leader_tick(n, fp);
        break;
    case CANDIDATE:
        if (paxos_elapsed(now, fp->candidate_since) > (FlTime)fp->elect_timeout)
            start_election(n, fp);
        break;
    case FOLLOWER:
        if (paxos_elapsed(now, fp->last_heard) > (FlTime)fp->elect_timeout)
            start_election(n, fp);
        break;
    }
    fl_timer(n, fp->heartbeat, TIMER_TICK);
}

/* Note 4: every node gets every request; acceptors with the fast round's
 * permission vote for it, others drop it (the client resends after a
 * redirect or gives up at its timeout). */
static void fp_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Fp *fp = state;
    if (req->op.kind == FL_OP_NOOP)
        return;
    fast_vote(n, fp, req);
}

const FlProtocol fl_proto_fastpaxos = {
    .name = "fastpaxos",
    .summary = "Fast Paxos: clients propose straight to acceptors, fast quorum ceil(3n/4), collision recovery by rule O4",
    .params = fp_params,
    .state_size = sizeof(Fp),
    .init = fp_init,
    .recover = fp_recover,
    .destroy = fp_destroy,
    .on_message = fp_on_message,
    .on_timer = fp_on_timer,
    .on_request = fp_on_request,
    .client_mode = FL_CLIENT_ALL,
    .fields = fp_fields,
    .max_nodes = PAXOS_MAX_NODES,
};
