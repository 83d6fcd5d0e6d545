/* chain: chain replication (van Renesse and Schneider, "Chain Replication
 * for Supporting High Throughput and Availability", OSDI 2004).
 *
 * The replicas form a chain.  Updates enter at the head, which orders
 * them, and travel down the chain; the tail answers the client once the
 * update reaches it.  Reads are served by the tail alone.  An update is
 * visible only once every replica holds it, and a read sees exactly the
 * updates that reached the tail: linearizable, with one replica doing all
 * reads and each update crossing n-1 links.
 *
 * Design notes (the numbers of section 3 of the paper in brackets).
 *  1. Each node keeps `sent`, the updates it forwarded that the tail has
 *     not yet acknowledged [Sent_i].  Acknowledgements travel up the chain
 *     carrying the highest sequence number the tail holds (committed) and
 *     the one the sender holds (for resending); a node drops what is
 *     committed from `sent`.  Every `retransmit` a node resends to its
 *     successor what the successor lacks, or its whole state (STATE) when it
 *     lacks more than `sent` holds: lost messages and new members are the
 *     same case.  Updates arriving early wait in a reorder buffer.
 *  2. Reconfiguration [3.3].  The paper's master is a replicated service
 *    (Paxos); here every node is also an acceptor of that service (note 7),
 *    and the acting head, the first member the node does not suspect, is
 *    the one that proposes, and only while it does not suspect a majority
 *    of all nodes.  It removes the members it suspects and appends the
 *    nodes that asked to join; the new configuration (epoch, members)
 *    takes effect only once a majority has accepted it, and then it is
 *    announced to everyone.  One configuration per epoch is ever chosen.
 *    After a change:
 *       - head removed: the next member is the head, with everything it
 *         holds [update propagation continues from it];
 *       - tail removed: the new tail answers the clients of its `sent`
 *         updates (they are committed now) [3.3, "failure of the tail"];
 *       - middle removed: the predecessor resends its `sent` to its new
 *         successor [3.3, "failure of other servers"];
 *       - a node joins at the tail; the old tail sends it STATE before it
 *         counts as synced [3.3, "extending a chain"].
 *  3. Read lease.  The tail answers reads only while a majority of the
 *    acceptors have granted it a lease in its epoch within `lease` (timed
 *    from when the tail asked, on its own clock).  An acceptor that grants
 *    promises to accept no new configuration for `lease` * (1+rho)/(1-rho)
 *    of its own clock, rho being `max_drift`: however the two clocks drift
 *    within that bound, the promise outlasts the lease in real time.  A new
 *    configuration needs a majority of acceptors, one of which granted the
 *    old tail's lease, so it is chosen only after that lease ran out, and
 *    the new tail acknowledges updates and serves reads only after that.
 *    Leases rest on bounded drift: a clock that jumps (a bad NTP step)
 *    breaks them, as it breaks every lease; chain-nemesis.json leaves clock
 *    faults out for that reason.
 *  4. A restarted node has lost its state; it asks to join (JOIN) and
 *     comes back at the tail.  A node removed by mistake (a false
 *     suspicion) does the same.
 *  5. Final reads (FL_OP_F_LOCAL) are answered from each node's own copy.
 *  6. Bounds: `sent` and the reorder buffer hold at most `window` updates;
 *     a head with a full `sent` refuses updates (fail: not applied).
 *  7. The configuration service: single-decree Paxos (Lamport, "Paxos
 *     Made Simple") for each epoch, run among all nodes; instance E+1
 *     chooses the configuration that follows epoch E.  A ballot is (round,
 *     proposer).  An acceptor takes part only in the instance after the
 *     epoch it has installed (the header's epoch tells), keeps its promise
 *     and accepted value on disk (synced before it answers), and forgets
 *     them when it installs a newer configuration.  The proposer adopts the
 *     value of the highest ballot accepted among a majority's promises, or
 *     else its own (the current members when it only closes an instance).
 *     Leases and the service meet in two rules: an acceptor grants no
 *     lease once it has promised in the next instance (else renewals would
 *     hold off the change for ever), and accepts nothing before its last
 *     grant's promise ran out.  An instance opened and left (its proposer
 *     crashed) stops the grants, so a node whose own instance stayed open
 *     for twice the promise closes it itself.  A restarted node has lost
 *     its grants' deadlines: it accepts nothing for one promise's length.
 *  8. Teachable bug (param `bug`):
 *     solo-reconfig  the acting head installs the configuration it wants
 *                    at once and announces it, as the only judge of who
 *                    failed; a higher (epoch, proposer) wins.  The tail's
 *                    lease is "heard from a majority lately".  A tail that
 *                    the head alone cannot hear (links 0-4 and 1-4 cut)
 *                    is removed while it still hears 2 and 3, so it keeps
 *                    serving reads after node 3 took over and acknowledged
 *                    newer writes (scenarios/03-replication/bugs/
 *                    chain-solo-reconfig.json).
 *  9. BUGGIFY sites (sim/node.h fl_buggify), each a message the protocol
 *     must do without, or one it must take twice, taken on purpose:
 *     chain.fwd-deferred  an update is not forwarded when applied; the next
 *                         resend (note 1) carries it, behind later ones
 *                         that the reorder buffer must hold.
 *     chain.ack-skipped   the tail leaves an acknowledgement to its tick.
 *     chain.resend-all    a resend repeats updates the successor holds.
 *     chain.state-instead a resend sends STATE where a few updates would
 *                         do: a synced member takes the whole state, drops
 *                         its `sent`, and passes STATE on down the chain,
 *                         the path new members take [3.3].
 */
#include "sim/fd.h"
#include "sim/node.h"

#include <math.h>
#include <string.h>

enum {
    MSG_FWD = 1, MSG_ACK, MSG_STATE, MSG_NEED, MSG_CONFIG, MSG_JOIN,
    MSG_PREPARE, MSG_PROMISE, MSG_NACK, MSG_ACCEPT, MSG_ACCEPTED, MSG_LEASE, MSG_GRANT,
    MSG_FD = 0xFD
};
enum { TIMER_TICK = 1, TIMER_FD = 100 };

typedef enum { BUG_NONE, BUG_SOLO_RECONFIG } Bug;

/* A Paxos ballot (note 7); round 0 is "none". */
typedef struct Ballot {
    uint64_t round;
    uint32_t node;
} Ballot;

enum { PHASE_IDLE, PHASE_PREPARE, PHASE_ACCEPT };

typedef struct Entry {
    uint64_t seq;
    FlRequest req;
} Entry;

typedef struct Chain {
    FlFd fd;
    bool fd_running;
    uint32_t nodes, self;
    /* Configuration. */
    uint64_t epoch;
    uint32_t proposer;
    uint32_t *members;
    uint32_t nmembers;
    bool *wants_join;     /* acting head: nodes that asked to join */
    /* Data. */
    FlStore *store;
    uint64_t seq;         /* updates applied */
    bool synced;          /* holds the chain's state */
    uint64_t committed;   /* highest seq the tail holds, as far as we know */
    int64_t succ_applied; /* what the successor holds; -1: unknown */
    GArray *sent;         /* of Entry, ascending seq */
    GArray *ahead;        /* of Entry, ascending seq: arrived early */
    FlTime *heard;        /* per node: local time of the last message */
    FlDuration retransmit, lease;
    uint32_t window;
    Bug bug;
    /* Acceptor of instance epoch+1 (note 7); on disk. */
    Ballot promised, accepted;
    uint32_t *acc_members;
    uint32_t acc_count;
    FlTime opened_at;     /* local time of the first promise in this instance */
    FlTime grant_until;   /* local: accept nothing before (note 3) */
    FlDuration hold;      /* how long a grant binds the acceptor (note 3) */
    uint64_t max_round;   /* highest round seen */
    /* Proposer (note 7). */
    int phase;
    uint64_t prop_epoch;  /* the epoch the proposal follows */
    Ballot prop_ballot, prop_best;
    bool *replied;        /* per node, in this phase */
    uint32_t nreplied;
    uint32_t *prop_members;
    uint32_t prop_count;
    uint32_t backoff;     /* ticks to wait before proposing again */
    /* Tail: per node, local time of the request its latest grant answered. */
    FlTime *granted;
    bool *has_grant;
} Chain;

static const FlParam chain_params[] = {
    { "retransmit", FL_PARAM_DURATION, "\"50ms\"", "how often a node resends what its successor lacks", NULL, 1, 1e12 },
    { "window", FL_PARAM_INT, "1024", "most updates in flight (sent, reorder buffer)", NULL, 1, 1e6 },
    { "lease", FL_PARAM_DURATION, "\"150ms\"", "how long a majority's grants let the tail serve reads (note 3)", NULL, 1, 1e12 },
    { "max_drift", FL_PARAM_DOUBLE, "0.01", "bound on the clock rate error the lease allows for (note 3)", NULL, 0, 0.5 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake, for teaching (see chain.c note 8)",
      "none|solo-reconfig", 0, 0 },
    FL_FD_PARAMS,
    { NULL },
};

/* ---- The configuration ----------------------------------------------------- */

static int position(const Chain *c, uint32_t node)
{
    for (uint32_t i = 0; i < c->nmembers; i++)
        if (c->members[i] == node)
            return (int)i;
    return -1;
}

static bool member(const Chain *c)
{
    return position(c, c->self) >= 0;
}

static bool is_head(const Chain *c)
{
    return c->nmembers && c->members[0] == c->self;
}

static bool is_tail(const Chain *c)
{
    return c->nmembers && c->members[c->nmembers - 1] == c->self;
}

/* Successor / predecessor of this node, or -1. */
static int64_t successor(const Chain *c)
{
    int p = position(c, c->self);
    return p >= 0 && (uint32_t)p + 1 < c->nmembers ? (int64_t)c->members[p + 1] : -1;
}

static int64_t predecessor(const Chain *c)
{
    int p = position(c, c->self);
    return p > 0 ? (int64_t)c->members[p - 1] : -1;
}

static bool suspects(const Chain *c, uint32_t peer)
{
    return peer != c->self && c->fd_running && fl_fd_suspects(&c->fd, peer);
}

static void show_role(FlNode *n, Chain *c)
{
    const char *r = !member(c) ? "joining"
                  : !c->synced ? "syncing"
                  : c->nmembers == 1 ? "head+tail"
                  : is_head(c) ? "head"
                  : is_tail(c) ? "tail" : "middle";
    fl_role(n, r);
}

/* ---- Messages ----------------------------------------------------------------- */

static void put_hdr(FlWriter *w, uint8_t type, const Chain *c)
{
    fl_put_u8(w, type);
    fl_put_u64(w, c->epoch);
}

static void send_fwd(FlNode *n, Chain *c, uint32_t to, const Entry *e)
{
    uint8_t buf[96];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_hdr(&w, MSG_FWD, c);
    fl_put_u64(&w, e->seq);
    fl_request_encode(&w, &e->req);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_ack(FlNode *n, Chain *c)
{
    int64_t p = predecessor(c);
    /* A node not synced holds what it had before it left the chain: its
     * predecessor must not take that for what it was sent. */
    if (p < 0 || (!c->synced && c->bug == BUG_NONE))
        return;
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_hdr(&w, MSG_ACK, c);
    fl_put_u64(&w, c->committed);
    fl_put_u64(&w, c->seq);
    fl_send(n, (uint32_t)p, w.data, w.len);
}

static void send_state(FlNode *n, Chain *c, uint32_t to)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    put_hdr(&w, MSG_STATE, c);
    fl_put_u64(&w, c->seq);
    fl_put_u64(&w, c->committed);
    fl_store_encode(c->store, &w);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_small(FlNode *n, Chain *c, uint8_t type, uint32_t to)
{
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_hdr(&w, type, c);
    fl_send(n, to, w.data, w.len);
}

static void broadcast_config(FlNode *n, Chain *c)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    put_hdr(&w, MSG_CONFIG, c);
    fl_put_u32(&w, c->proposer);
    fl_put_u32(&w, c->nmembers);
    for (uint32_t i = 0; i < c->nmembers; i++)
        fl_put_u32(&w, c->members[i]);
    fl_broadcast(n, w.data, w.len);
    fl_writer_deinit(&w);
}

/* ---- Updates ------------------------------------------------------------------- */

/* Applies the next update; on the tail, answers its client (note 1). */
static void apply(FlNode *n, Chain *c, const Entry *e)
{
    FlResult res;
    c->seq = e->seq;
    if (!fl_store_apply_request(c->store, &e->req, &res))
        res = (FlResult){ .status = FL_RESULT_FAIL, .hint = FL_NO_HINT };
    if (is_tail(c)) {
        c->committed = c->seq;
        fl_reply(n, &e->req, &res);
    } else {
        g_array_append_val(c->sent, *e);
        int64_t s = successor(c);
        /* Note 9: now and then left for the next resend, as if lost. */
        if (s >= 0 && !fl_buggify(n, "chain.fwd-deferred"))
            send_fwd(n, c, (uint32_t)s, e);
    }
}

static void drop_committed(Chain *c)
{
    guint k = 0;
    while (k < c->sent->len && g_array_index(c->sent, Entry, k).seq <= c->committed)
        k++;
    if (k)
        g_array_remove_range(c->sent, 0, k);
}

/* Resends what the successor lacks (note 1). */
static void resend(FlNode *n, Chain *c)
{
    int64_t s = successor(c);
    if (s < 0 || !c->synced || (c->succ_applied >= 0 && (uint64_t)c->succ_applied >= c->seq))
        return;
    uint64_t first = c->sent->len ? g_array_index(c->sent, Entry, 0).seq : c->seq + 1;
    /* Note 9: the whole state where the missing updates would do. */
    if (c->succ_applied < 0 || (uint64_t)c->succ_applied + 1 < first ||
        fl_buggify_p(n, "chain.state-instead", 0.01)) {
        send_state(n, c, (uint32_t)s);
        return;
    }
    /* Note 9: all of `sent` again, what the successor holds included. */
    bool all = fl_buggify(n, "chain.resend-all");
    for (guint i = 0; i < c->sent->len; i++) {
        const Entry *e = &g_array_index(c->sent, Entry, i);
        if (all || e->seq > (uint64_t)c->succ_applied)
            send_fwd(n, c, (uint32_t)s, e);
    }
}

/* ---- Configuration changes (note 2) ----------------------------------------- */

static uint32_t majority(const Chain *c)
{
    return c->nodes / 2 + 1;
}

static int ballot_cmp(Ballot a, Ballot b)
{
    if (a.round != b.round)
        return a.round < b.round ? -1 : 1;
    return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

static void put_ballot(FlWriter *w, Ballot b)
{
    fl_put_u64(w, b.round);
    fl_put_u32(w, b.node);
}

static Ballot get_ballot(FlReader *r)
{
    Ballot b;
    b.round = fl_get_u64(r);
    b.node = fl_get_u32(r);
    return b;
}

static void put_members(FlWriter *w, const uint32_t *m, uint32_t count)
{
    fl_put_u32(w, count);
    for (uint32_t i = 0; i < count; i++)
        fl_put_u32(w, m[i]);
}

/* Reads a member list into @m (room for c->nodes): each a node, none
 * twice.  Returns false, the message to drop, if it is not one. */
static bool get_members(const Chain *c, FlReader *r, uint32_t *m, uint32_t *count)
{
    uint32_t k = fl_get_u32(r);
    if (!fl_reader_ok(r) || k > c->nodes)
        return false;
    g_autofree bool *seen = g_new0(bool, c->nodes);
    for (uint32_t i = 0; i < k; i++) {
        m[i] = fl_get_u32(r);
        if (!fl_reader_ok(r) || m[i] >= c->nodes || seen[m[i]])
            return false;
        seen[m[i]] = true;
    }
    *count = k;
    return true;
}

/* The acceptor's state, synced before it answers (note 7).  The engine
 * acts on effects after the handler returns, so a write here precedes a
 * reply sent later in the same handler. */
static void persist(FlNode *n, const Chain *c)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u64(&w, c->epoch);
    put_ballot(&w, c->promised);
    put_ballot(&w, c->accepted);
    put_members(&w, c->acc_members, c->acc_count);
    fl_disk_write(n, "chain.acc", w.data, w.len);
    fl_disk_sync(n, "chain.acc");
    fl_writer_deinit(&w);
}

/* Restores what persist() wrote; a blank or unreadable file leaves the
 * acceptor blank. */
static void load(FlNode *n, Chain *c)
{
    size_t cap = 8 + 2 * 12 + 4 + 4 * (size_t)c->nodes;
    g_autofree uint8_t *buf = g_malloc(cap);
    size_t len = fl_disk_read(n, "chain.acc", buf, cap);
    FlReader r;
    fl_reader_init(&r, buf, len);
    uint64_t epoch = fl_get_u64(&r);
    Ballot p = get_ballot(&r), a = get_ballot(&r);
    uint32_t count;
    if (!get_members(c, &r, c->acc_members, &count) || !fl_reader_done(&r)) {
        c->acc_count = 0;
        return;
    }
    c->epoch = epoch;
    c->promised = p;
    c->accepted = a;
    c->acc_count = count;
    c->max_round = p.round;
}

static void send_ballot_msg(FlNode *n, Chain *c, uint8_t type, uint32_t to, Ballot b)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_hdr(&w, type, c);
    put_ballot(&w, b);
    fl_send(n, to, w.data, w.len);
}

static void send_promise(FlNode *n, Chain *c, uint32_t to, Ballot b)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    put_hdr(&w, MSG_PROMISE, c);
    put_ballot(&w, b);
    put_ballot(&w, c->accepted);
    put_members(&w, c->acc_members, c->accepted.round ? c->acc_count : 0);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_accept(FlNode *n, Chain *c, uint32_t to)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    put_hdr(&w, MSG_ACCEPT, c);
    put_ballot(&w, c->prop_ballot);
    put_members(&w, c->prop_members, c->prop_count);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_stamp(FlNode *n, Chain *c, uint8_t type, uint32_t to, FlTime stamp)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    put_hdr(&w, type, c);
    fl_put_u64(&w, stamp);
    fl_send(n, to, w.data, w.len);
}

static void lease_request(FlNode *n, Chain *c);

static void install(FlNode *n, Chain *c, uint64_t epoch, uint32_t proposer, const uint32_t *m,
                    uint32_t count)
{
    bool was_tail = member(c) && is_tail(c);
    int64_t old_succ = successor(c);
    c->epoch = epoch;
    c->proposer = proposer;
    memmove(c->members, m, count * sizeof *m);
    c->nmembers = count;
    memset(c->wants_join, 0, c->nodes * sizeof *c->wants_join);
    /* Leases were granted in the old epoch: they count for nothing now. */
    memset(c->has_grant, 0, c->nodes * sizeof *c->has_grant);
    if (c->bug == BUG_NONE) {
        /* Note 7: the instance this acceptor took part in is decided. */
        c->promised = c->accepted = (Ballot){ 0, 0 };
        c->acc_count = 0;
        c->phase = PHASE_IDLE;
        persist(n, c);
    }
    if (!member(c)) {
        c->synced = false;   /* out: ask to come back (note 4) */
    } else if (is_tail(c) && !was_tail && c->synced) {
        /* The new tail: what it forwarded is committed now. */
        for (guint i = 0; i < c->sent->len; i++) {
            const Entry *e = &g_array_index(c->sent, Entry, i);
            FlResult res;
            FlRequest req = e->req;
            /* Its result: the store already applied it; ask again (idempotent). */
            if (fl_store_apply_request(c->store, &req, &res))
                fl_reply(n, &req, &res);
        }
        c->committed = c->seq;
        g_array_set_size(c->sent, 0);
    }
    if (successor(c) != old_succ)
        c->succ_applied = -1;
    char chain[16 * 11] = "";
    for (uint32_t i = 0, at = 0; i < count && at + 12 < sizeof chain; i++)
        at += (uint32_t)g_snprintf(chain + at, sizeof chain - at, i ? "-%u" : "%u", m[i]);
    fl_log(n, "configuration %" G_GUINT64_FORMAT ": %u members, head %u, tail %u (%s%s)", epoch,
           count, count ? m[0] : 0, count ? m[count - 1] : 0, chain,
           count > 16 ? "..." : "");
    show_role(n, c);
    resend(n, c);
    send_ack(n, c);
    if (c->bug == BUG_NONE && member(c) && is_tail(c) && c->synced && c->nodes > 1)
        lease_request(n, c);   /* no read until this epoch's lease (note 3) */
}

/* The configuration the acting head wants: the members it does not
 * suspect, then the nodes that asked to join.  Returns false when this node
 * is not the acting head, or sees only a minority, or wants no change. */
static bool wanted(const Chain *c, uint32_t *m, uint32_t *count)
{
    if (!member(c) || !c->synced)
        return false;
    uint32_t suspected = 0;
    for (uint32_t i = 0; i < c->nodes; i++)
        suspected += suspects(c, i);
    if (c->nodes - suspected < majority(c))
        return false;   /* a minority: never reconfigure */
    /* A member that asks to join has lost its state: it is out, and back
     * in at the tail. */
    for (uint32_t i = 0; i < c->nmembers; i++) {
        uint32_t x = c->members[i];
        if (x == c->self)
            break;
        if (!suspects(c, x) && !c->wants_join[x])
            return false;   /* someone before us is alive: not our job */
    }
    uint32_t k = 0;
    bool rejoin = false;
    for (uint32_t i = 0; i < c->nmembers; i++) {
        if (!suspects(c, c->members[i]) && !c->wants_join[c->members[i]])
            m[k++] = c->members[i];
        rejoin |= c->wants_join[c->members[i]] && !suspects(c, c->members[i]);
    }
    for (uint32_t i = 0; i < c->nodes; i++)
        if (c->wants_join[i] && !suspects(c, i) && i != c->self)
            m[k++] = i;
    *count = k;
    /* A restarted tail comes back where it was; it still needs a new epoch,
     * since with the fix it installs no configuration of the epoch it
     * remembers (note 4).  The bug keeps the old rule. */
    if (rejoin && c->bug == BUG_NONE)
        return true;
    return !(k == c->nmembers && memcmp(m, c->members, k * sizeof *m) == 0);
}

/* The bug solo-reconfig (note 8): the acting head decides alone. */
static void reconfigure_solo(FlNode *n, Chain *c)
{
    g_autofree uint32_t *m = g_new(uint32_t, c->nodes);
    uint32_t count;
    if (!wanted(c, m, &count))
        return;
    install(n, c, c->epoch + 1, c->self, m, count);
    fl_metric_add(n, "reconfigurations", 1);
    broadcast_config(n, c);
}

/* ---- The configuration service: acceptor (note 7) ---------------------------- */

/* Whether this acceptor may promise @b; raises its promise if so. */
static bool acc_prepare(FlNode *n, Chain *c, Ballot b)
{
    if (b.round > c->max_round)
        c->max_round = b.round;
    int cmp = ballot_cmp(b, c->promised);
    if (cmp < 0)
        return false;
    if (cmp > 0) {
        if (c->promised.round == 0)
            c->opened_at = fl_now(n);
        c->promised = b;
        persist(n, c);
    }
    return true;
}

/* Accepts @m under @b: 1 done, 0 not yet (a lease it granted still binds
 * it, note 3), -1 refused (it promised a higher ballot). */
static int acc_accept(FlNode *n, Chain *c, Ballot b, const uint32_t *m, uint32_t count)
{
    if (!acc_prepare(n, c, b))
        return -1;
    if (fl_now(n) < c->grant_until)
        return 0;
    if (ballot_cmp(c->accepted, b) == 0)
        return 1;
    c->accepted = b;
    memcpy(c->acc_members, m, count * sizeof *m);
    c->acc_count = count;
    persist(n, c);
    return 1;
}

/* A lease for the tail of this epoch (note 3): refused once the next
 * instance is open, so that the change it prepares can happen. */
static bool acc_grant(FlNode *n, Chain *c)
{
    if (c->promised.round != 0)
        return false;
    FlTime until = fl_now(n) + (FlTime)c->hold;
    if (until > c->grant_until)
        c->grant_until = until;
    return true;
}

/* ---- The configuration service: proposer (note 7) ---------------------------- */

static void prop_decided(FlNode *n, Chain *c)
{
    g_autofree uint32_t *m = g_memdup2(c->prop_members, c->prop_count * sizeof *m);
    uint32_t count = c->prop_count;
    c->phase = PHASE_IDLE;
    install(n, c, c->prop_epoch + 1, c->self, m, count);
    fl_metric_add(n, "reconfigurations", 1);
    broadcast_config(n, c);
}

static void prop_count_reply(FlNode *n, Chain *c, uint32_t from);

/* Phase 2: the value of the highest ballot accepted among the promises, or
 * else the change this node wants, or else the members as they are. */
static void prop_begin_accept(FlNode *n, Chain *c)
{
    if (c->prop_best.round == 0 && !wanted(c, c->prop_members, &c->prop_count)) {
        memcpy(c->prop_members, c->members, c->nmembers * sizeof *c->members);
        c->prop_count = c->nmembers;
    }
    c->phase = PHASE_ACCEPT;
    memset(c->replied, 0, c->nodes * sizeof *c->replied);
    c->nreplied = 0;
    for (uint32_t i = 0; i < c->nodes; i++)
        if (i != c->self)
            send_accept(n, c, i);
    int r = acc_accept(n, c, c->prop_ballot, c->prop_members, c->prop_count);
    if (r < 0)
        c->phase = PHASE_IDLE;
    else if (r > 0)
        prop_count_reply(n, c, c->self);
}

/* One more acceptor answered the current phase. */
static void prop_count_reply(FlNode *n, Chain *c, uint32_t from)
{
    if (c->replied[from])
        return;
    c->replied[from] = true;
    if (++c->nreplied < majority(c))
        return;
    if (c->phase == PHASE_PREPARE)
        prop_begin_accept(n, c);
    else if (c->phase == PHASE_ACCEPT)
        prop_decided(n, c);
}

static void prop_on_promise(FlNode *n, Chain *c, uint32_t from, FlReader *r)
{
    Ballot b = get_ballot(r), acc = get_ballot(r);
    g_autofree uint32_t *m = g_new(uint32_t, c->nodes);
    uint32_t count;
    if (!get_members(c, r, m, &count) || !fl_reader_done(r))
        return;
    if (c->phase != PHASE_PREPARE || ballot_cmp(b, c->prop_ballot) != 0 || c->replied[from])
        return;
    if (acc.round && ballot_cmp(acc, c->prop_best) > 0) {
        c->prop_best = acc;
        memcpy(c->prop_members, m, count * sizeof *m);
        c->prop_count = count;
    }
    prop_count_reply(n, c, from);
}

static void prop_on_accepted(FlNode *n, Chain *c, uint32_t from, FlReader *r)
{
    Ballot b = get_ballot(r);
    if (!fl_reader_done(r) || c->phase != PHASE_ACCEPT || ballot_cmp(b, c->prop_ballot) != 0)
        return;
    prop_count_reply(n, c, from);
}

static void prop_on_nack(FlNode *n, Chain *c, FlReader *r)
{
    Ballot b = get_ballot(r);
    if (!fl_reader_done(r))
        return;
    if (b.round > c->max_round)
        c->max_round = b.round;
    if (c->phase != PHASE_IDLE && ballot_cmp(b, c->prop_ballot) > 0) {
        /* Another proposer is ahead: let it finish; back off a random number
         * of ticks so that two proposers do not keep preempting each other. */
        c->phase = PHASE_IDLE;
        c->backoff = 1 + (uint32_t)(fl_random(n) % 4);
    }
}

static void prop_start(FlNode *n, Chain *c)
{
    uint64_t round = MAX(c->max_round, c->promised.round) + 1;
    c->max_round = round;
    c->prop_ballot = (Ballot){ round, c->self };
    c->prop_best = (Ballot){ 0, 0 };
    c->prop_epoch = c->epoch;
    c->phase = PHASE_PREPARE;
    memset(c->replied, 0, c->nodes * sizeof *c->replied);
    c->nreplied = 0;
    for (uint32_t i = 0; i < c->nodes; i++)
        if (i != c->self)
            send_ballot_msg(n, c, MSG_PREPARE, i, c->prop_ballot);
    if (!acc_prepare(n, c, c->prop_ballot)) {
        c->phase = PHASE_IDLE;
        return;
    }
    /* Its own acceptor's promise: it may have accepted a value itself. */
    if (c->accepted.round) {
        c->prop_best = c->accepted;
        memcpy(c->prop_members, c->acc_members, c->acc_count * sizeof *c->acc_members);
        c->prop_count = c->acc_count;
    }
    prop_count_reply(n, c, c->self);
}

/* Every tick: drive the proposal on (resending to those that did not
 * answer), or start one when a change is wanted or this acceptor's
 * instance was left open (note 7). */
static void prop_tick(FlNode *n, Chain *c)
{
    if (c->phase != PHASE_IDLE && c->prop_epoch != c->epoch)
        c->phase = PHASE_IDLE;   /* decided by someone else meanwhile */
    if (c->phase == PHASE_PREPARE) {
        for (uint32_t i = 0; i < c->nodes; i++)
            if (i != c->self && !c->replied[i])
                send_ballot_msg(n, c, MSG_PREPARE, i, c->prop_ballot);
        return;
    }
    if (c->phase == PHASE_ACCEPT) {
        for (uint32_t i = 0; i < c->nodes; i++)
            if (i != c->self && !c->replied[i])
                send_accept(n, c, i);
        if (!c->replied[c->self]) {
            int r = acc_accept(n, c, c->prop_ballot, c->prop_members, c->prop_count);
            if (r < 0)
                c->phase = PHASE_IDLE;
            else if (r > 0)
                prop_count_reply(n, c, c->self);
        }
        return;
    }
    if (c->backoff) {
        c->backoff--;
        return;
    }
    if (c->nmembers == 0)
        return;   /* knows no configuration to build on */
    g_autofree uint32_t *m = g_new(uint32_t, c->nodes);
    uint32_t count;
    bool left_open = c->promised.round && fl_now(n) - c->opened_at >= (FlTime)(2 * c->hold);
    if (wanted(c, m, &count) || left_open)
        prop_start(n, c);
}

/* ---- The tail's read lease (note 3) ------------------------------------------- */

static void lease_request(FlNode *n, Chain *c)
{
    FlTime now = fl_now(n);
    if (acc_grant(n, c)) {
        c->granted[c->self] = now;
        c->has_grant[c->self] = true;
    }
    for (uint32_t i = 0; i < c->nodes; i++)
        if (i != c->self)
            send_stamp(n, c, MSG_LEASE, i, now);
}

static void on_grant(FlNode *n, Chain *c, uint32_t from, FlReader *r)
{
    FlTime stamp = fl_get_u64(r);
    if (!fl_reader_done(r) || !is_tail(c) || stamp > fl_now(n))
        return;
    if (!c->has_grant[from] || stamp > c->granted[from]) {
        c->granted[from] = stamp;
        c->has_grant[from] = true;
    }
}

/* ---- Life cycle --------------------------------------------------------------- */

static void chain_start(FlNode *n, Chain *c)
{
    c->nodes = fl_nodes(n);
    c->self = fl_self(n);
    c->members = g_new(uint32_t, c->nodes);
    c->wants_join = g_new0(bool, c->nodes);
    c->heard = g_new0(FlTime, c->nodes);
    c->store = fl_store_new();
    c->sent = g_array_new(FALSE, FALSE, sizeof(Entry));
    c->ahead = g_array_new(FALSE, FALSE, sizeof(Entry));
    c->retransmit = fl_param_duration(n, "retransmit");
    c->window = (uint32_t)fl_param_int(n, "window");
    c->bug = strcmp(fl_param_enum(n, "bug"), "solo-reconfig") == 0 ? BUG_SOLO_RECONFIG : BUG_NONE;
    /* The bug keeps its own lease, "heard from a majority lately" (note 8). */
    c->lease = c->bug == BUG_SOLO_RECONFIG ? fl_param_duration(n, "fd_timeout") / 2
                                           : fl_param_duration(n, "lease");
    /* Note 3: the promise that outlasts the lease in real time. */
    double rho = fl_param_double(n, "max_drift");
    c->hold = (FlDuration)ceil((double)c->lease * (1 + rho) / (1 - rho)) + 1;
    c->acc_members = g_new0(uint32_t, c->nodes);
    c->prop_members = g_new0(uint32_t, c->nodes);
    c->replied = g_new0(bool, c->nodes);
    c->granted = g_new0(FlTime, c->nodes);
    c->has_grant = g_new0(bool, c->nodes);
    c->succ_applied = -1;
    FlFdConfig cfg;
    fl_fd_config_from_params(n, &cfg, MSG_FD, TIMER_FD);
    c->fd_running = c->nodes > 1 && fl_fd_init(&c->fd, n, &cfg) == 0;
    fl_timer(n, c->retransmit, TIMER_TICK);
}

static void chain_init(FlNode *n, void *state)
{
    Chain *c = state;
    chain_start(n, c);
    for (uint32_t i = 0; i < c->nodes; i++)
        c->members[i] = i;
    c->nmembers = c->nodes;
    c->synced = true;   /* everyone starts empty, hence in step */
    c->succ_applied = 0;
    show_role(n, c);
}

/* Note 4: everything is gone; come back at the tail. */
static void chain_recover(FlNode *n, void *state)
{
    Chain *c = state;
    chain_start(n, c);
    c->nmembers = 0;
    c->synced = false;
    if (c->bug == BUG_NONE) {
        /* Note 7: the acceptor's promises survive; the deadlines of the
         * grants it gave do not, so it waits out the longest of them. */
        load(n, c);
        c->grant_until = fl_now(n) + (FlTime)c->hold;
        if (c->promised.round)
            c->opened_at = fl_now(n);
    }
    show_role(n, c);
}

static void chain_destroy(FlNode *n, void *state)
{
    Chain *c = state;
    if (c->fd_running)
        fl_fd_deinit(&c->fd);
    fl_store_free(c->store);
    g_array_free(c->sent, TRUE);
    g_array_free(c->ahead, TRUE);
    g_free(c->members);
    g_free(c->wants_join);
    g_free(c->heard);
    g_free(c->acc_members);
    g_free(c->prop_members);
    g_free(c->replied);
    g_free(c->granted);
    g_free(c->has_grant);
}

/* ---- Handlers ------------------------------------------------------------------- */

static void on_fwd(FlNode *n, Chain *c, uint32_t from, FlReader *r)
{
    Entry e;
    e.seq = fl_get_u64(r);
    if (!fl_request_decode(r, &e.req) || !fl_reader_done(r) || predecessor(c) != from)
        return;
    if (!c->synced) {
        send_small(n, c, MSG_NEED, from);
        return;
    }
    if (e.seq > c->seq && e.seq <= c->seq + c->window) {
        guint i = 0;
        while (i < c->ahead->len && g_array_index(c->ahead, Entry, i).seq < e.seq)
            i++;
        if (i == c->ahead->len || g_array_index(c->ahead, Entry, i).seq != e.seq)
            g_array_insert_val(c->ahead, i, e);
        guint used = 0;
        while (used < c->ahead->len && g_array_index(c->ahead, Entry, used).seq == c->seq + 1) {
            Entry next = g_array_index(c->ahead, Entry, used++);
            apply(n, c, &next);
        }
        g_array_remove_range(c->ahead, 0, used);
    }
    /* Note 9: the acknowledgement left for the tick, as if lost. */
    if (is_tail(c) && !fl_buggify(n, "chain.ack-skipped"))
        send_ack(n, c);
}

static void on_ack(FlNode *n, Chain *c, uint32_t from, FlReader *r)
{
    uint64_t committed = fl_get_u64(r), applied = fl_get_u64(r);
    if (!fl_reader_done(r) || successor(c) != from)
        return;
    if (applied > c->seq)
        applied = c->seq;   /* it cannot hold what we never sent */
    if (committed > applied)
        committed = applied;
    /* Acknowledgements overtake each other: keep the highest. */
    if ((int64_t)applied > c->succ_applied)
        c->succ_applied = (int64_t)applied;
    if (committed > c->committed) {
        c->committed = committed;
        drop_committed(c);
        send_ack(n, c);
    }
}

static void on_state(FlNode *n, Chain *c, uint32_t from, FlReader *r)
{
    uint64_t seq = fl_get_u64(r), committed = fl_get_u64(r);
    if (!fl_reader_ok(r) || predecessor(c) != from || (c->synced && seq <= c->seq))
        return;
    FlStore *s = fl_store_new();
    if (!fl_store_decode(s, r) || !fl_reader_done(r)) {
        fl_store_free(s);
        return;
    }
    fl_store_free(c->store);
    c->store = s;
    c->seq = seq;
    c->committed = committed;
    c->synced = true;
    g_array_set_size(c->sent, 0);
    g_array_set_size(c->ahead, 0);
    if (is_tail(c))
        c->committed = c->seq;
    c->succ_applied = -1;
    show_role(n, c);
    send_ack(n, c);
}

/* A configuration announced: with the fix a chosen one (note 7), so one
 * per epoch and the newest wins; with the bug whatever a head installed. */
static void on_config(FlNode *n, Chain *c, uint64_t epoch, FlReader *r)
{
    uint32_t proposer = fl_get_u32(r), count;
    g_autofree uint32_t *m = g_new(uint32_t, c->nodes);
    if (!fl_reader_ok(r) || proposer >= c->nodes || !get_members(c, r, m, &count) ||
        count == 0 || !fl_reader_done(r))
        return;
    if (epoch < c->epoch || (epoch == c->epoch && (c->bug == BUG_NONE || proposer <= c->proposer)))
        return;
    install(n, c, epoch, proposer, m, count);
}

/* The configuration service and the lease (notes 3, 7); anything else is
 * not ours: drop. */
static void on_service(FlNode *n, Chain *c, uint8_t type, uint32_t from, FlReader *r)
{
    switch (type) {
    case MSG_PREPARE: {
        Ballot b = get_ballot(r);
        if (!fl_reader_done(r) || b.node != from)
            return;
        if (acc_prepare(n, c, b))
            send_promise(n, c, from, b);
        else
            send_ballot_msg(n, c, MSG_NACK, from, c->promised);
        break;
    }
    case MSG_ACCEPT: {
        Ballot b = get_ballot(r);
        g_autofree uint32_t *m = g_new(uint32_t, c->nodes);
        uint32_t count;
        if (!get_members(c, r, m, &count) || count == 0 || !fl_reader_done(r) || b.node != from)
            return;
        int res = acc_accept(n, c, b, m, count);
        if (res > 0)
            send_ballot_msg(n, c, MSG_ACCEPTED, from, b);
        else if (res < 0)
            send_ballot_msg(n, c, MSG_NACK, from, c->promised);
        break;   /* not yet: the proposer asks again */
    }
    case MSG_PROMISE: prop_on_promise(n, c, from, r); break;
    case MSG_ACCEPTED: prop_on_accepted(n, c, from, r); break;
    case MSG_NACK: prop_on_nack(n, c, r); break;
    case MSG_LEASE: {
        FlTime stamp = fl_get_u64(r);
        if (fl_reader_done(r) && acc_grant(n, c))
            send_stamp(n, c, MSG_GRANT, from, stamp);
        break;
    }
    case MSG_GRANT: on_grant(n, c, from, r); break;
    default: break;
    }
}

static void chain_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                             size_t len)
{
    Chain *c = state;
    if (from >= c->nodes)
        return;
    c->heard[from] = fl_now(n);
    if (c->fd_running && fl_fd_on_message(&c->fd, n, from, msg, len))
        return;
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    uint64_t epoch = fl_get_u64(&r);
    if (!fl_reader_ok(&r))
        return;
    if (type == MSG_CONFIG) {
        on_config(n, c, epoch, &r);
        return;
    }
    if (epoch != c->epoch) {
        /* Different configurations: whoever is ahead tells the other. */
        if (epoch < c->epoch && c->nmembers)
            broadcast_config(n, c);
        return;
    }
    switch (type) {
    case MSG_FWD: on_fwd(n, c, from, &r); break;
    case MSG_ACK: on_ack(n, c, from, &r); break;
    case MSG_STATE: on_state(n, c, from, &r); break;
    case MSG_NEED:
        if (successor(c) == from) {
            c->succ_applied = -1;
            resend(n, c);
        }
        break;
    case MSG_JOIN:
        c->wants_join[from] = true;
        break;
    default:
        if (c->bug == BUG_NONE)
            on_service(n, c, type, from, &r);
        break;
    }
}

static void chain_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Chain *c = state;
    if (c->fd_running && fl_fd_on_timer(&c->fd, n, tag))
        return;
    if (tag != TIMER_TICK)
        return;
    if (c->bug == BUG_SOLO_RECONFIG)
        reconfigure_solo(n, c);
    else
        prop_tick(n, c);
    if (!member(c) || (!c->synced && (c->bug == BUG_SOLO_RECONFIG || is_head(c)))) {
        /* Note 4: ask to join; the config's epoch tells who is current.  With
         * the fix a member that is not synced yet waits for STATE from its
         * predecessor, in place, which keeps each member's updates a prefix
         * of its predecessor's; a JOIN would move it to the tail and cost
         * a lease's wait.  A head has no predecessor: it asks to move. */
        for (uint32_t i = 0; i < c->nodes; i++)
            if (i != c->self)
                send_small(n, c, MSG_JOIN, i);
    } else {
        /* A member waiting for its STATE asks its predecessor for it: the
         * predecessor may believe it holds more than it does. */
        if (!c->synced && predecessor(c) >= 0)
            send_small(n, c, MSG_NEED, (uint32_t)predecessor(c));
        resend(n, c);
        if (is_tail(c))
            send_ack(n, c);
        if (is_tail(c) && c->bug == BUG_NONE && c->nodes > 1)
            lease_request(n, c);
        if (is_head(c) && c->nodes > 1)
            broadcast_config(n, c);   /* cheap, and heals lost announcements */
    }
    fl_timer(n, c->retransmit, TIMER_TICK);
}

/* Note 3: a majority's grants, each counted from when the tail asked. */
static bool lease_held(FlNode *n, Chain *c)
{
    FlTime now = fl_now(n);
    uint32_t fresh = 0;
    if (c->bug == BUG_SOLO_RECONFIG) {
        /* Note 8: the bug's lease only says the tail heard a majority. */
        fresh = 1;
        for (uint32_t i = 0; i < c->nodes; i++)
            if (i != c->self && c->heard[i] && now - c->heard[i] <= (FlTime)c->lease)
                fresh++;
        return fresh >= majority(c);
    }
    for (uint32_t i = 0; i < c->nodes; i++)
        if (c->has_grant[i] && now < c->granted[i] + (FlTime)c->lease)
            fresh++;
    return fresh >= majority(c);
}

static void chain_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Chain *c = state;
    bool read = fl_op_is_read(req->op.kind);
    FlResult res;
    if (read && (req->op.flags & FL_OP_F_LOCAL)) {
        fl_store_read(c->store, &req->op, &res);
        fl_reply(n, req, &res);   /* note 5 */
        return;
    }
    if (!member(c) || !c->synced || c->nmembers == 0) {
        fl_reply_redirect(n, req, FL_NO_HINT);
        return;
    }
    if (read) {
        if (!is_tail(c)) {
            fl_reply_redirect(n, req, c->members[c->nmembers - 1]);
            return;
        }
        if (c->nodes > 1 && !lease_held(n, c)) {
            fl_reply_redirect(n, req, FL_NO_HINT);
            return;
        }
        fl_store_read(c->store, &req->op, &res);
        fl_reply(n, req, &res);
        return;
    }
    if (!is_head(c)) {
        fl_reply_redirect(n, req, c->members[0]);
        return;
    }
    if (c->sent->len >= c->window) {
        fl_reply_fail(n, req);
        return;
    }
    Entry e = { .seq = c->seq + 1, .req = *req };
    apply(n, c, &e);
}

const FlProtocol fl_proto_chain = {
    .name = "chain",
    .summary = "chain replication: updates enter at the head and are answered by the tail, which serves reads; reconfiguration on failure",
    .params = chain_params,
    .state_size = sizeof(Chain),
    .init = chain_init,
    .recover = chain_recover,
    .destroy = chain_destroy,
    .on_message = chain_on_message,
    .on_timer = chain_on_timer,
    .on_request = chain_on_request,
};
