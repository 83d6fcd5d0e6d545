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
 *    appended to the file "acceptor" and synced before any reply leaves.
 *    A restarted node replays it; what it had learned is relearned from the
 *    leader (design note 6).
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
 *    is overwritten.  Histories then lose acknowledged writes. */
#include "protocols/paxos/paxos.h"

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

    FlStore *store;
    GArray *log;                  /* of Slot; slot s at index s - 1 */
    uint64_t commit;              /* every slot <= commit is chosen and applied */

    /* acceptor */
    uint64_t promised;
    bool dirty;                   /* acceptor state written but not yet synced */

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

    PaxosEntry *buf;              /* PAXOS_MAX_ENTRIES, for decoding and encoding */
} Paxos;

static const FlParam paxos_params[] = {
    { "heartbeat", FL_PARAM_DURATION, "\"20ms\"", "leader heartbeat and retransmit period", NULL, 1e5, 1e11 },
    { "election_timeout", FL_PARAM_RANGE, "[\"150ms\",\"300ms\"]", "silence after which a follower runs phase 1 (drawn per wait)", NULL, 1e5, 1e11 },
    { "window", FL_PARAM_INT, "256", "most slots proposed but not yet chosen", NULL, 1, 1e5 },
    { "max_slots", FL_PARAM_INT, "65536", "length bound of the log (no snapshots: runs are short)", NULL, 16, 1e7 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake: ignore-accepted (phase 1 drops reported votes)", "none|ignore-accepted", 0, 0 },
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
}

/* ---- Acceptor durability (note 4) ------------------------------------ */

enum { REC_PROMISE = 'P', REC_ACCEPT = 'A' };

static void persist_promise(FlNode *n, Paxos *px)
{
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, REC_PROMISE);
    fl_put_u64(&w, px->promised);
    fl_disk_append(n, "acceptor", w.data, w.len);
    fl_writer_deinit(&w);
    px->dirty = true;
}

static void persist_accept(FlNode *n, Paxos *px, uint64_t s, uint64_t b, const FlRequest *v)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, REC_ACCEPT);
    fl_put_u64(&w, s);
    fl_put_u64(&w, b);
    fl_request_encode(&w, v);
    fl_disk_append(n, "acceptor", w.data, w.len);
    fl_writer_deinit(&w);
    px->dirty = true;
}

/* Makes the acceptor's state durable: called before any reply leaves. */
static void sync_acceptor(FlNode *n, Paxos *px)
{
    if (px->dirty)
        fl_disk_sync(n, "acceptor");
    px->dirty = false;
}

static void replay_acceptor(FlNode *n, Paxos *px)
{
    size_t len;
    const uint8_t *p = fl_disk_view(n, "acceptor", &len);
    FlReader r;
    fl_reader_init(&r, p, len);
    while (fl_reader_left(&r) > 0) {
        uint8_t kind = fl_get_u8(&r);
        if (kind == REC_PROMISE) {
            uint64_t b = fl_get_u64(&r);
            if (!fl_reader_ok(&r))
                break;
            if (b > px->promised)
                px->promised = b;
        } else if (kind == REC_ACCEPT) {
            uint64_t s = fl_get_u64(&r), b = fl_get_u64(&r);
            FlRequest v;
            if (!fl_request_decode(&r, &v) || s < 1 || s > px->max_slots)
                break;   /* a torn tail: never synced, never answered */
            Slot *sl = slot_at(px, s);
            if (b >= sl->acc_ballot) {
                sl->acc_ballot = b;
                sl->acc_value = v;
            }
            if (b > px->promised)
                px->promised = b;
        } else {
            break;
        }
    }
    px->max_seen = px->promised;
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
static void promise_entries(Paxos *px, uint64_t from, PaxosMsg *m);

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
    promise_entries(px, px->p1_from, &own);
    collect_promise(n, px, px->self, &own);
}

/* ---- Acceptor handlers ------------------------------------------------- */

/* Fills @m with our votes in slots >= @from, at most PAXOS_MAX_ENTRIES. */
static void promise_entries(Paxos *px, uint64_t from, PaxosMsg *m)
{
    m->entries = px->buf;
    m->count = 0;
    m->more = false;
    m->last = 0;
    for (uint64_t s = from; s <= last_slot(px); s++) {
        Slot *sl = slot_at(px, s);
        if (!sl->acc_ballot)
            continue;
        if (m->count == PAXOS_MAX_ENTRIES) {
            m->more = true;
            m->last = m->entries[m->count - 1].slot;
            break;
        }
        m->entries[m->count++] = (PaxosEntry){ .slot = s, .ballot = sl->acc_ballot, .value = sl->acc_value };
    }
}

/* Phase 1b ("Paxos Made Simple" 2.2, phase 1(b)): promise never to accept a
 * ballot below @b, and report the last vote in every slot from m->slot. */
static void on_prepare(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (paxos_ballot_node(m->ballot) != from)
        return;   /* only a ballot's owner runs its phase 1 */
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
    promise_entries(px, m->slot, &reply);
    send_msg(n, px, from, &reply);
}

/* Phase 2b (2.2, phase 2(b)): accept unless we promised a higher ballot. */
static void on_accept(FlNode *n, Paxos *px, uint32_t from, const PaxosMsg *m)
{
    if (paxos_ballot_node(m->ballot) != from)
        return;
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
        promise_entries(px, px->p1_from, &own);
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
    for (uint64_t s = m->commit + 1; s <= last_slot(px) && d.count < PAXOS_MAX_ENTRIES; s++) {
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
    replay_acceptor(n, px);
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
        if (sl->chosen || sl->prop_ballot != px->ballot || paxos_elapsed(now, sl->proposed_at) < (FlTime)px->heartbeat)
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
};
