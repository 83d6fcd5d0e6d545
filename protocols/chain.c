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
 *  2. Reconfiguration [3.3].  The paper's master is a replicated service;
 *     here the master's job falls to the acting head, the first member the
 *     node does not suspect, and only while it does not suspect a majority
 *     of all nodes (a minority side of a partition never reconfigures, so
 *     two chains cannot both accept updates).  It removes the members it
 *     suspects, appends the nodes that asked to join, and announces the new
 *     configuration (epoch, members, proposer) to everyone; a higher
 *     (epoch, proposer) wins.  After a change:
 *       - head removed: the next member is the head, with everything it
 *         holds [update propagation continues from it];
 *       - tail removed: the new tail answers the clients of its `sent`
 *         updates (they are committed now) [3.3, "failure of the tail"];
 *       - middle removed: the predecessor resends its `sent` to its new
 *         successor [3.3, "failure of other servers"];
 *       - a node joins at the tail; the old tail sends it STATE before it
 *         counts as synced [3.3, "extending a chain"].
 *  3. Read lease.  The tail answers reads only while it has heard from a
 *     majority within half the detector's timeout: a tail cut off stops
 *     answering before the others can suspect it and move on, so it never
 *     serves a stale read.
 *  4. A restarted node has lost its state; it asks to join (JOIN) and
 *     comes back at the tail.  A node removed by mistake (a false
 *     suspicion) does the same.
 *  5. Final reads (FL_OP_F_LOCAL) are answered from each node's own copy.
 *  6. Bounds: `sent` and the reorder buffer hold at most `window` updates;
 *     a head with a full `sent` refuses updates (fail: not applied).
 */
#include "sim/fd.h"
#include "sim/node.h"

#include <string.h>

enum { MSG_FWD = 1, MSG_ACK, MSG_STATE, MSG_NEED, MSG_CONFIG, MSG_JOIN, MSG_FD = 0xFD };
enum { TIMER_TICK = 1, TIMER_FD = 100 };

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
} Chain;

static const FlParam chain_params[] = {
    { "retransmit", FL_PARAM_DURATION, "\"50ms\"", "how often a node resends what its successor lacks", NULL, 1, 1e12 },
    { "window", FL_PARAM_INT, "1024", "most updates in flight (sent, reorder buffer)", NULL, 1, 1e6 },
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
    if (p < 0)
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
        if (s >= 0)
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
    if (c->succ_applied < 0 || (uint64_t)c->succ_applied + 1 < first) {
        send_state(n, c, (uint32_t)s);
        return;
    }
    for (guint i = 0; i < c->sent->len; i++) {
        const Entry *e = &g_array_index(c->sent, Entry, i);
        if (e->seq > (uint64_t)c->succ_applied)
            send_fwd(n, c, (uint32_t)s, e);
    }
}

/* ---- Configuration changes (note 2) ----------------------------------------- */

static void install(FlNode *n, Chain *c, uint64_t epoch, uint32_t proposer, const uint32_t *m,
                    uint32_t count)
{
    bool was_tail = member(c) && is_tail(c);
    int64_t old_succ = successor(c);
    c->epoch = epoch;
    c->proposer = proposer;
    memcpy(c->members, m, count * sizeof *m);
    c->nmembers = count;
    memset(c->wants_join, 0, c->nodes * sizeof *c->wants_join);
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
    fl_log(n, "configuration %" G_GUINT64_FORMAT ": %u members, head %u, tail %u", epoch, count,
           count ? m[0] : 0, count ? m[count - 1] : 0);
    show_role(n, c);
    resend(n, c);
    send_ack(n, c);
}

/* The acting head's duty: drop the suspected, add the joiners. */
static void reconfigure(FlNode *n, Chain *c)
{
    if (!member(c) || !c->synced)
        return;
    uint32_t suspected = 0;
    for (uint32_t i = 0; i < c->nodes; i++)
        suspected += suspects(c, i);
    if (c->nodes - suspected < c->nodes / 2 + 1)
        return;   /* a minority: never reconfigure */
    /* A member that asks to join has lost its state: it is out, and back
     * in at the tail. */
    for (uint32_t i = 0; i < c->nmembers; i++) {
        uint32_t x = c->members[i];
        if (x == c->self)
            break;
        if (!suspects(c, x) && !c->wants_join[x])
            return;   /* someone before us is alive: not our job */
    }
    g_autofree uint32_t *m = g_new(uint32_t, c->nodes);
    uint32_t count = 0;
    for (uint32_t i = 0; i < c->nmembers; i++)
        if (!suspects(c, c->members[i]) && !c->wants_join[c->members[i]])
            m[count++] = c->members[i];
    for (uint32_t i = 0; i < c->nodes; i++)
        if (c->wants_join[i] && !suspects(c, i) && i != c->self)
            m[count++] = i;
    bool same = count == c->nmembers && memcmp(m, c->members, count * sizeof *m) == 0;
    if (same)
        return;
    install(n, c, c->epoch + 1, c->self, m, count);
    fl_metric_add(n, "reconfigurations", 1);
    broadcast_config(n, c);
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
    c->lease = fl_param_duration(n, "fd_timeout") / 2;
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
    if (is_tail(c))
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

static void on_config(FlNode *n, Chain *c, uint64_t epoch, FlReader *r)
{
    uint32_t proposer = fl_get_u32(r), count = fl_get_u32(r);
    if (!fl_reader_ok(r) || count > c->nodes || count == 0 || proposer >= c->nodes)
        return;
    g_autofree uint32_t *m = g_new(uint32_t, count);
    g_autofree bool *seen = g_new0(bool, c->nodes);
    for (uint32_t i = 0; i < count; i++) {
        m[i] = fl_get_u32(r);
        if (m[i] >= c->nodes || seen[m[i]])
            return;
        seen[m[i]] = true;
    }
    if (!fl_reader_done(r))
        return;
    if (epoch < c->epoch || (epoch == c->epoch && proposer <= c->proposer))
        return;
    install(n, c, epoch, proposer, m, count);
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
    default: break;   /* not ours: drop */
    }
}

static void chain_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Chain *c = state;
    if (c->fd_running && fl_fd_on_timer(&c->fd, n, tag))
        return;
    if (tag != TIMER_TICK)
        return;
    reconfigure(n, c);
    if (!member(c) || !c->synced) {
        /* Note 4: ask to join; the config's epoch tells who is current. */
        for (uint32_t i = 0; i < c->nodes; i++)
            if (i != c->self)
                send_small(n, c, MSG_JOIN, i);
    } else {
        resend(n, c);
        if (is_tail(c))
            send_ack(n, c);
        if (is_head(c) && c->nodes > 1)
            broadcast_config(n, c);   /* cheap, and heals lost announcements */
    }
    fl_timer(n, c->retransmit, TIMER_TICK);
}

/* Note 3. */
static bool lease_held(FlNode *n, Chain *c)
{
    uint32_t fresh = 1;
    FlTime now = fl_now(n);
    for (uint32_t i = 0; i < c->nodes; i++)
        if (i != c->self && c->heard[i] && now - c->heard[i] <= (FlTime)c->lease)
            fresh++;
    return fresh >= c->nodes / 2 + 1;
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
