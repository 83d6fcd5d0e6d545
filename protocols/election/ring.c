/* election-ring: Chang and Roberts's election on a unidirectional ring
 * (Chang, Roberts 1979, "An improved algorithm for decentralized
 * extrema-finding in circular configurations of processes").
 *
 * Design notes.
 *  1. Rule: every initiator sends its id around the ring (ELECT).  A node
 *     forwards an id larger than its own, swallows a smaller one if it
 *     already takes part, and replaces it by its own otherwise.  The id
 *     that comes back to its sender is the largest: that node is elected
 *     and sends ELECTED round the ring.  When every node initiates, the
 *     messages number O(n^2) in the worst arrangement (ids decreasing along
 *     the ring: every id travels until it meets a larger one) and
 *     O(n log n) on average over arrangements (n H_n); with ids increasing
 *     along the ring only the largest travels far, O(n).  Param `order`
 *     chooses the arrangement; `random` draws one permutation from
 *     `ring_seed`, the same on every node.
 *  2. Crashes.  A ring message is acknowledged hop by hop (ACK); a node
 *     whose successor does not acknowledge within `timeout` skips it and
 *     sends to the next one (ring repair), and takes it back once it hears
 *     from it.  The leader sends heartbeats to every node directly; a node
 *     that hears none for `suspect` starts an election, and so does a node
 *     that hears a lower id lead (a higher id came back: the largest live
 *     id leads, as in Bully; our addition to the algorithm), or whose round
 *     gets no ELECTED within `round`.
 *  3. Epochs (as in bully.c note 3): the elected node names an epoch one
 *     more than the largest it knows; every message carries the sender's
 *     largest, and the log on disk keeps it across a restart.
 *  4. Messages: u8 type, u64 epoch, u32 id (election.h); ELECT and
 *     ELECTED carry the candidate in id and are acknowledged with ACK,
 *     whose epoch field names the type acknowledged and id the acknowledger.  One that does not decode is dropped
 *     (election.dropped). */
#include "protocols/election/election.h"

#include <string.h>

enum { M_ELECT = 0xC1, M_ELECTED, M_ACK, M_HEARTBEAT };
enum { T_START = 1, T_HOP, T_ROUND, T_SUSPECT, T_BEAT };

#define PENDING_MAX 16

typedef struct {
    FlTimerId timer;    /* 0: free */
    uint32_t to;
    ElMsg msg;
} Hop;

typedef struct Ring {
    uint32_t self, n;
    uint32_t next[EL_MAX_NODES];   /* the ring: next[i] follows i */
    bool skip[EL_MAX_NODES];       /* successors taken for dead (note 2) */
    uint64_t epoch;          /* the largest known */
    int64_t leader;
    uint64_t view_epoch;     /* the epoch in which `leader` was elected */
    bool participant;
    Hop pending[PENDING_MAX];
    FlTimerId t_round, t_suspect, t_beat;
    FlDuration timeout, round, heartbeat, suspect;
} Ring;

static const FlParam ring_params[] = {
    { "order", FL_PARAM_ENUM, "\"random\"", "ids along the ring: increasing (O(n) messages when all start), decreasing (O(n^2)) or random (O(n log n) on average)",
      "increasing|decreasing|random", 0, 0 },
    { "ring_seed", FL_PARAM_INT, "1", "the seed of the random arrangement (the same on every node)", NULL, 0, 0 },
    { "timeout", FL_PARAM_DURATION, "\"20ms\"", "how long a hop waits for its ACK before skipping the successor", NULL, 0, 0 },
    { "round", FL_PARAM_DURATION, "\"1s\"", "how long a participant waits for ELECTED before starting again", NULL, 0, 0 },
    { "heartbeat", FL_PARAM_DURATION, "\"20ms\"", "the leader's heartbeat period", NULL, 0, 0 },
    { "suspect", FL_PARAM_DURATION, "\"100ms\"", "silence after which a node starts an election", NULL, 0, 0 },
    { NULL },
};

static const char *const ring_counters[] = {
    "election.messages", "election.heartbeats", "election.elections", "election.dropped", NULL,
};

static void rearm(FlNode *n, FlTimerId *t, FlDuration after, uint64_t tag)
{
    if (*t)
        fl_timer_cancel(n, *t);
    *t = after ? fl_timer(n, after, tag) : 0;
}

/* The ring of note 1: the same on every node. */
static void build_ring(Ring *r, const char *order, uint64_t seed)
{
    uint32_t pos[EL_MAX_NODES];
    for (uint32_t i = 0; i < r->n; i++)
        pos[i] = strcmp(order, "decreasing") == 0 ? r->n - 1 - i : i;
    if (strcmp(order, "random") == 0) {
        uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
        for (uint32_t i = r->n - 1; i > 0; i--) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift64 */
            uint32_t j = (uint32_t)(x % (i + 1));
            uint32_t t = pos[i];
            pos[i] = pos[j];
            pos[j] = t;
        }
    }
    /* pos lists the ids in ring order. */
    for (uint32_t k = 0; k < r->n; k++)
        r->next[pos[k]] = pos[(k + 1) % r->n];
}

/* The first successor not taken for dead (note 2); self when none. */
static uint32_t successor(const Ring *r, uint32_t after)
{
    uint32_t s = r->next[after];
    for (uint32_t k = 0; k < r->n && s != r->self && r->skip[s]; k++)
        s = r->next[s];
    return s;
}

static void hop_to(FlNode *n, Ring *r, uint32_t to, const ElMsg *m)
{
    if (to == r->self)
        return;   /* everyone else is taken for dead: nothing to send */
    int slot = 0;
    for (int k = 0; k < PENDING_MAX; k++)
        if (!r->pending[k].timer) {
            slot = k;
            break;
        } else if (k == PENDING_MAX - 1) {
            fl_timer_cancel(n, r->pending[0].timer);   /* full: forget the oldest slot */
        }
    r->pending[slot] = (Hop){ fl_timer(n, r->timeout, T_HOP), to, *m };
    el_send(n, to, m->type, m->epoch, m->id);
    fl_metric_add(n, "election.messages", 1);
}

static void hop(FlNode *n, Ring *r, uint8_t type, uint32_t id)
{
    ElMsg m = { .type = type, .epoch = r->epoch, .id = id };
    hop_to(n, r, successor(r, r->self), &m);
}

static void start_election(FlNode *n, Ring *r)
{
    r->participant = true;
    fl_metric_add(n, "election.elections", 1);
    if (r->leader >= 0) {
        r->leader = -1;
        el_log_view(n, r->epoch, -1);
    }
    rearm(n, &r->t_beat, 0, 0);
    fl_role(n, "candidate");
    rearm(n, &r->t_round, r->round, T_ROUND);
    hop(n, r, M_ELECT, r->self);
}

static void follow(FlNode *n, Ring *r, uint64_t epoch, uint32_t leader)
{
    if (r->leader >= 0 && epoch < r->view_epoch)
        return;   /* a stale claim (bully.c note 3) */
    r->participant = false;
    rearm(n, &r->t_round, 0, 0);
    rearm(n, &r->t_beat, 0, 0);
    rearm(n, &r->t_suspect, r->suspect, T_SUSPECT);
    if (epoch > r->epoch)
        r->epoch = epoch;
    if (r->leader != (int64_t)leader || r->view_epoch != epoch) {
        r->leader = leader;
        r->view_epoch = epoch;
        el_log_view(n, epoch, leader);
        fl_role(n, "follower");
    }
}

static void elected(FlNode *n, Ring *r)
{
    r->epoch++;
    r->leader = r->self;
    r->view_epoch = r->epoch;
    r->participant = false;
    rearm(n, &r->t_round, 0, 0);
    rearm(n, &r->t_suspect, 0, 0);
    el_log_view(n, r->epoch, r->self);
    fl_role(n, "leader");
    hop(n, r, M_ELECTED, r->self);
    rearm(n, &r->t_beat, r->heartbeat, T_BEAT);
}

static void setup(FlNode *n, Ring *r, bool restart)
{
    r->self = fl_self(n);
    r->n = fl_nodes(n);
    r->leader = -1;
    r->timeout = fl_param_duration(n, "timeout");
    r->round = fl_param_duration(n, "round");
    r->heartbeat = fl_param_duration(n, "heartbeat");
    r->suspect = fl_param_duration(n, "suspect");
    build_ring(r, fl_param_enum(n, "order"), (uint64_t)fl_param_int(n, "ring_seed"));
    el_log_start(n, "ring", restart);
    r->epoch = el_log_max_epoch(n);
    fl_role(n, "candidate");
    r->t_suspect = fl_timer(n, r->suspect, T_START);   /* listen first (bully.c note 3) */
}

static void ring_init(FlNode *n, void *state) { setup(n, state, false); }
static void ring_recover(FlNode *n, void *state) { setup(n, state, true); }

/* Note 1. */
static void on_elect(FlNode *n, Ring *r, uint32_t c)
{
    if (c > r->self) {
        r->participant = true;
        rearm(n, &r->t_round, r->round, T_ROUND);
        hop(n, r, M_ELECT, c);
    } else if (c < r->self) {
        if (!r->participant)
            start_election(n, r);
    } else if (r->participant) {
        elected(n, r);
    }
}

static void on_elected(FlNode *n, Ring *r, uint64_t epoch, uint32_t l)
{
    if (l == r->self)
        return;   /* it went round: every node knows */
    if (l < r->self) {
        start_election(n, r);   /* note 2: a lower id is no leader while we live */
        return;
    }
    follow(n, r, epoch, l);
    ElMsg m = { .type = M_ELECTED, .epoch = epoch, .id = l };
    hop_to(n, r, successor(r, r->self), &m);
}

static void ring_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Ring *r = state;
    ElMsg m;
    if (!el_decode(msg, len, r->n, &m)) {
        fl_metric_add(n, "election.dropped", 1);   /* note 4 */
        return;
    }
    r->skip[from] = false;   /* it lives */
    if (m.epoch > r->epoch && m.type != M_ACK && m.type != M_HEARTBEAT)
        r->epoch = m.epoch;
    switch (m.type) {
    case M_ACK:
        for (int k = 0; k < PENDING_MAX; k++)
            if (r->pending[k].timer && r->pending[k].to == from && r->pending[k].msg.type == m.epoch) {
                fl_timer_cancel(n, r->pending[k].timer);
                r->pending[k].timer = 0;
                break;
            }
        break;
    case M_ELECT:
    case M_ELECTED:
        el_send(n, from, M_ACK, m.type, r->self);   /* the epoch field names the type acknowledged */
        if (m.type == M_ELECT)
            on_elect(n, r, m.id);
        else
            on_elected(n, r, m.epoch, m.id);
        break;
    case M_HEARTBEAT:
        if (m.id != from)
            break;
        if (from < r->self) {
            if (m.epoch > r->epoch)
                r->epoch = m.epoch;   /* our election must name a later epoch */
            if (!r->participant)
                start_election(n, r);   /* note 2 */
        } else if (from == (uint32_t)r->leader && m.epoch == r->view_epoch) {
            rearm(n, &r->t_suspect, r->suspect, T_SUSPECT);
        } else {
            follow(n, r, m.epoch, from);
        }
        break;
    default:
        fl_metric_add(n, "election.dropped", 1);
        break;
    }
}

static void ring_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Ring *r = state;
    switch (tag) {
    case T_HOP:
        for (int k = 0; k < PENDING_MAX; k++) {
            Hop *h = &r->pending[k];
            if (h->timer != t)
                continue;
            h->timer = 0;
            r->skip[h->to] = true;   /* note 2: skip the silent successor */
            ElMsg m = h->msg;
            hop_to(n, r, successor(r, r->self), &m);
            break;
        }
        break;
    case T_START:
    case T_SUSPECT:
        if (t != r->t_suspect)
            return;
        r->t_suspect = 0;
        if (r->leader != (int64_t)r->self)
            start_election(n, r);
        break;
    case T_ROUND:
        if (t == r->t_round && r->participant) {
            r->t_round = 0;
            start_election(n, r);
        }
        break;
    case T_BEAT:
        if (t != r->t_beat || r->leader != (int64_t)r->self)
            return;
        for (uint32_t j = 0; j < r->n; j++)
            if (j != r->self) {
                el_send(n, j, M_HEARTBEAT, r->view_epoch, r->self);
                fl_metric_add(n, "election.heartbeats", 1);
            }
        r->t_beat = fl_timer(n, r->heartbeat, T_BEAT);
        break;
    }
}

static void ring_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Ring *r = state;
    if (req->op.kind == FL_OP_EVENT_READ) {
        el_log_reply(n, req);
        return;
    }
    if (r->leader < 0) {
        fl_reply_fail(n, req);
        return;
    }
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true, .value = r->leader };
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_election_ring = {
    .name = "election-ring",
    .summary = "Chang-Roberts leader election on a ring, with hop-by-hop ring repair (workload events)",
    .params = ring_params,
    .state_size = sizeof(Ring),
    .init = ring_init,
    .recover = ring_recover,
    .on_message = ring_on_message,
    .on_timer = ring_on_timer,
    .on_request = ring_on_request,
    .counters = ring_counters,
    .max_nodes = EL_MAX_NODES,
};
