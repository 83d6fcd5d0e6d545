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
 *     whose successor does not acknowledge within `timeout` sends it to the
 *     one after, and so on round the ring (ring repair).  Each message
 *     starts from the true successor again: a node taken for dead once is
 *     tried again with the next message, so a partition that heals leaves
 *     no hole in the ring.  The leader sends heartbeats to every node directly; a node
 *     that hears none for `suspect` starts an election, and so does a node
 *     that hears a lower id lead (a higher id came back: the largest live
 *     id leads, as in Bully; our addition to the algorithm), or whose round
 *     gets no ELECTED within `round`.
 *  3. Epochs (as in bully.c note 3): the elected node names an epoch one
 *     more than the largest it knows; every message carries the sender's
 *     largest, and the log on disk keeps it across a restart.
 *  5. Hirschberg and Sinclair (1980, "Decentralized extrema-finding in
 *     circular configurations of processors"), `algorithm:
 *     "hirschberg-sinclair"`: in phase k a candidate sends PROBE both ways
 *     for 2^k hops; a node with a larger id swallows it, the last node sends
 *     REPLY back; with both replies the candidate goes to phase k+1, and
 *     the probe that comes round to its sender elects it.  At most
 *     O(n log n) messages whatever the arrangement (about 8 n log n), where
 *     Chang-Roberts takes n(n+1)/2 on a decreasing ring.  Probes and replies
 *     are sent without acknowledgements: this variant is for the message
 *     counts of fault-free startups (ring-startup), not for crashes.
 *     PROBE carries phase << 32 | hops in the epoch field, REPLY the phase.
 *  4. Messages: u8 type, u64 epoch, u32 id (election.h); ELECT and
 *     ELECTED carry the candidate in id and are acknowledged with ACK,
 *     whose epoch field names the type acknowledged and id the candidate,
 *     so that an ACK cancels the wait of the very hop it answers.  One that does not decode is dropped
 *     (election.dropped). */
#include "protocols/election/election.h"

#include <string.h>

enum { M_ELECT = 0xC1, M_ELECTED, M_ACK, M_HEARTBEAT, M_PROBE, M_REPLY };
enum { T_START = 1, T_HOP, T_ROUND, T_SUSPECT, T_BEAT };

#define PENDING_MAX 256

typedef struct {
    FlTimerId timer;    /* 0: free */
    uint32_t to;
    uint32_t tries;     /* successors skipped so far (note 2) */
    ElMsg msg;
} Hop;

typedef struct Ring {
    uint32_t self, n;
    uint32_t next[EL_MAX_NODES];   /* the ring: next[i] follows i */
    uint32_t prev[EL_MAX_NODES];   /* and prev[i] precedes it (Hirschberg-Sinclair) */
    bool hs;                       /* note 5: Hirschberg-Sinclair */
    uint32_t hs_phase, hs_replies;
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
    { "algorithm", FL_PARAM_ENUM, "\"chang-roberts\"", "chang-roberts, or hirschberg-sinclair (bidirectional, O(n log n) in the worst case; no ring repair)",
      "chang-roberts|hirschberg-sinclair", 0, 0 },
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
    for (uint32_t k = 0; k < r->n; k++) {
        r->next[pos[k]] = pos[(k + 1) % r->n];
        r->prev[pos[(k + 1) % r->n]] = pos[k];
    }
}

/* The successor @tries places after the next one (note 2). */
static uint32_t successor(const Ring *r, uint32_t tries)
{
    uint32_t s = r->next[r->self];
    for (uint32_t k = 0; k < tries; k++)
        s = r->next[s];
    return s;
}

static void hop_to(FlNode *n, Ring *r, uint32_t tries, const ElMsg *m)
{
    uint32_t to = successor(r, tries);
    if (to == r->self || tries >= r->n)
        return;   /* every other node was tried: nothing to send */
    int slot = 0;
    for (int k = 0; k < PENDING_MAX; k++)
        if (!r->pending[k].timer) {
            slot = k;
            break;
        } else if (k == PENDING_MAX - 1) {
            fl_timer_cancel(n, r->pending[0].timer);   /* full: forget the oldest slot */
        }
    r->pending[slot] = (Hop){ fl_timer(n, r->timeout, T_HOP), to, tries, *m };
    el_send(n, to, m->type, m->epoch, m->id);
    fl_metric_add(n, "election.messages", 1);
}

static void hop(FlNode *n, Ring *r, uint8_t type, uint32_t id)
{
    ElMsg m = { .type = type, .epoch = r->epoch, .id = id };
    hop_to(n, r, 0, &m);
}

static void hs_send(FlNode *n, uint32_t to, uint8_t type, uint64_t field, uint32_t id)
{
    el_send(n, to, type, field, id);
    fl_metric_add(n, "election.messages", 1);
}

/* Note 5: probes both ways, 2^phase hops. */
static void hs_phase_start(FlNode *n, Ring *r)
{
    r->hs_replies = 0;
    uint64_t f = (uint64_t)r->hs_phase << 32 | 1;
    hs_send(n, r->next[r->self], M_PROBE, f, r->self);
    hs_send(n, r->prev[r->self], M_PROBE, f, r->self);
}

static void start_election(FlNode *n, Ring *r);
static void elected(FlNode *n, Ring *r);

static void on_probe(FlNode *n, Ring *r, uint32_t from, uint64_t field, uint32_t j)
{
    uint32_t phase = (uint32_t)(field >> 32), hops = (uint32_t)field;
    uint32_t onward = from == r->prev[r->self] ? r->next[r->self] : r->prev[r->self];
    if (j == r->self) {
        if (r->participant && r->leader != (int64_t)r->self)
            elected(n, r);   /* it went all the way round */
    } else if (j > r->self) {
        if (r->leader < 0) {
            r->participant = true;   /* beaten: no election of our own */
            rearm(n, &r->t_round, r->round, T_ROUND);
        }
        if (phase < 31 && hops < (1u << phase))
            hs_send(n, onward, M_PROBE, (uint64_t)phase << 32 | (hops + 1), j);
        else
            hs_send(n, from, M_REPLY, phase, j);
    } else if (!r->participant && r->leader < 0) {
        start_election(n, r);   /* woken by a smaller id: stand ourselves */
    }
}

static void on_reply(FlNode *n, Ring *r, uint32_t from, uint64_t phase, uint32_t j)
{
    if (j != r->self) {
        hs_send(n, from == r->prev[r->self] ? r->next[r->self] : r->prev[r->self], M_REPLY, phase, j);
        return;
    }
    if (!r->participant || phase != r->hs_phase || ++r->hs_replies < 2)
        return;
    r->hs_phase++;
    hs_phase_start(n, r);
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
    if (r->hs) {
        r->hs_phase = 0;
        hs_phase_start(n, r);
        return;
    }
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
    r->hs = strcmp(fl_param_enum(n, "algorithm"), "hirschberg-sinclair") == 0 && r->n >= 3;
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
        /* Swallowed; a node that follows a leader (or is one) does not
         * start over for a late token of a finished election: the sender
         * learns the leader from its heartbeats. */
        if (!r->participant && r->leader < 0)
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
    hop_to(n, r, 0, &m);
}

static void ring_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Ring *r = state;
    ElMsg m;
    if (!el_decode(msg, len, r->n, &m)) {
        fl_metric_add(n, "election.dropped", 1);   /* note 4 */
        return;
    }
    if (m.epoch > r->epoch && m.type != M_ACK && m.type != M_HEARTBEAT && m.type != M_PROBE &&
        m.type != M_REPLY)
        r->epoch = m.epoch;
    switch (m.type) {
    case M_ACK:
    {
        /* The oldest hop of this message to this node (timers grow). */
        int best = -1;
        for (int k = 0; k < PENDING_MAX; k++)
            if (r->pending[k].timer && r->pending[k].to == from && r->pending[k].msg.type == m.epoch &&
                r->pending[k].msg.id == m.id && (best < 0 || r->pending[k].timer < r->pending[best].timer))
                best = k;
        if (best >= 0) {
            fl_timer_cancel(n, r->pending[best].timer);
            r->pending[best].timer = 0;
        }
        break;
    }
    case M_ELECT:
    case M_ELECTED:
        el_send(n, from, M_ACK, m.type, m.id);   /* names the message acknowledged: type and candidate */
        if (m.type == M_ELECT)
            on_elect(n, r, m.id);
        else
            on_elected(n, r, m.epoch, m.id);
        break;
    case M_PROBE:
        if (r->hs)
            on_probe(n, r, from, m.epoch, m.id);
        break;
    case M_REPLY:
        if (r->hs)
            on_reply(n, r, from, m.epoch, m.id);
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
            ElMsg m = h->msg;
            hop_to(n, r, h->tries + 1, &m);   /* note 2: try the one after */
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
        fl_eventlog_reply(n, req);
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
