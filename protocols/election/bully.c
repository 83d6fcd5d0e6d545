/* election-bully: the Bully algorithm (Garcia-Molina 1982, "Elections in a
 * Distributed Computing System", section 4), with heartbeats to notice a
 * dead leader.
 *
 * Design notes.
 *  1. Rule: the highest live id leads.  A node that misses its leader (no
 *     heartbeat for `suspect`) holds an election: ELECTION to every higher
 *     id; a higher live node answers (ANSWER) and holds its own election;
 *     a node that hears no answer within `timeout` is the highest alive and
 *     announces itself (COORDINATOR) to all.  A node that hears a lower id
 *     claim leadership (COORDINATOR or HEARTBEAT) bullies it: it holds an
 *     election, which it wins.  A node that already follows a higher live
 *     leader only answers an ELECTION; the leader's heartbeat settles the
 *     candidate.  When every node starts at once, ELECTIONs and ANSWERs
 *     number about n^2/2 each: O(n^2) messages.
 *  2. The algorithm assumes a synchronous system: an answer that arrives
 *     after `timeout` is taken for a dead node, and two nodes announce
 *     themselves.  Run it with timing "sync" and a bound below `timeout`;
 *     an asynchronous network breaks it (the scenarios show both).
 *  3. Epochs.  Each announcement names an epoch, one more than the largest
 *     the node has seen in any message or in its log (a restart keeps it:
 *     the log is on disk); every message carries the sender's largest.
 *     The checker (sim/check/election.c) holds the run to one leader per
 *     epoch and, once faults are over, every node following the highest
 *     id.  A node that (re)starts listens for `suspect` before it holds an
 *     election, so the current leader's heartbeat tells it the epoch first.
 *     Claims (COORDINATOR, HEARTBEAT) name the epoch of the leadership they
 *     claim; a follower ignores a claim older than the epoch it follows.  A
 *     leader that hears a lower id claim its own epoch or a later one (the
 *     other side of a partition elected it) claims a fresh epoch.
 *  4. Messages: u8 type, u64 epoch, u32 id (election.h).  One that does
 *     not decode is dropped (election.dropped). */
#include "protocols/election/election.h"

#include <string.h>

enum { M_ELECTION = 0xB1, M_ANSWER, M_COORDINATOR, M_HEARTBEAT };
enum { T_START = 1, T_ANSWER, T_COORD, T_SUSPECT, T_BEAT };

typedef struct Bully {
    uint32_t self, n;
    uint64_t epoch;          /* the largest known (note 3) */
    int64_t leader;          /* -1: none */
    uint64_t view_epoch;     /* the epoch in which `leader` was elected */
    bool electing, answered;
    FlTimerId t_wait, t_suspect, t_beat;
    FlDuration timeout, heartbeat, suspect;
} Bully;

static const FlParam bully_params[] = {
    { "timeout", FL_PARAM_DURATION, "\"20ms\"", "how long a candidate waits for an answer from a higher id", NULL, 0, 0 },
    { "heartbeat", FL_PARAM_DURATION, "\"20ms\"", "the leader's heartbeat period", NULL, 0, 0 },
    { "suspect", FL_PARAM_DURATION, "\"100ms\"", "silence after which a follower holds an election", NULL, 0, 0 },
    { NULL },
};

static const char *const bully_counters[] = {
    "election.messages", "election.heartbeats", "election.elections", "election.dropped", NULL,
};

static void send_el(FlNode *n, Bully *b, uint32_t to, uint8_t type)
{
    /* A claim names the epoch of the claimed leadership, the rest the
     * largest epoch known (note 3). */
    bool claim = type == M_COORDINATOR || type == M_HEARTBEAT;
    el_send(n, to, type, claim ? b->view_epoch : b->epoch, b->self);
    fl_metric_add(n, type == M_HEARTBEAT ? "election.heartbeats" : "election.messages", 1);
}

static void rearm(FlNode *n, FlTimerId *t, FlDuration after, uint64_t tag)
{
    if (*t)
        fl_timer_cancel(n, *t);
    *t = after ? fl_timer(n, after, tag) : 0;
}

static void follow(FlNode *n, Bully *b, uint64_t epoch, uint32_t leader)
{
    if (b->leader >= 0 && epoch < b->view_epoch)
        return;   /* a stale claim (note 3): its sender learns from our leader's heartbeats */
    b->electing = false;
    rearm(n, &b->t_wait, 0, 0);
    rearm(n, &b->t_beat, 0, 0);
    rearm(n, &b->t_suspect, b->suspect, T_SUSPECT);
    if (epoch > b->epoch)
        b->epoch = epoch;
    if (b->leader != (int64_t)leader || b->view_epoch != epoch) {
        b->leader = leader;
        b->view_epoch = epoch;
        el_log_view(n, epoch, leader);
        fl_role(n, "follower");
    }
}

/* No higher id answered: this node is the highest alive (note 1). */
static void become_coordinator(FlNode *n, Bully *b)
{
    b->epoch++;
    b->leader = b->self;
    b->view_epoch = b->epoch;
    b->electing = false;
    rearm(n, &b->t_wait, 0, 0);
    rearm(n, &b->t_suspect, 0, 0);
    el_log_view(n, b->epoch, b->self);
    fl_role(n, "leader");
    for (uint32_t j = 0; j < b->n; j++)
        if (j != b->self)
            send_el(n, b, j, M_COORDINATOR);
    rearm(n, &b->t_beat, b->heartbeat, T_BEAT);
}

/* Note 1: ELECTION to every higher id, then wait for an answer. */
static void start_election(FlNode *n, Bully *b)
{
    if (b->electing)
        return;
    b->electing = true;
    b->answered = false;
    fl_metric_add(n, "election.elections", 1);
    if (b->leader >= 0) {
        b->leader = -1;
        el_log_view(n, b->epoch, -1);
    }
    rearm(n, &b->t_beat, 0, 0);
    fl_role(n, "candidate");
    if (b->self == b->n - 1) {
        become_coordinator(n, b);
        return;
    }
    for (uint32_t j = b->self + 1; j < b->n; j++)
        send_el(n, b, j, M_ELECTION);
    rearm(n, &b->t_wait, b->timeout, T_ANSWER);
}

static void setup(FlNode *n, Bully *b, bool restart)
{
    b->self = fl_self(n);
    b->n = fl_nodes(n);
    b->leader = -1;
    b->timeout = fl_param_duration(n, "timeout");
    b->heartbeat = fl_param_duration(n, "heartbeat");
    b->suspect = fl_param_duration(n, "suspect");
    el_log_start(n, "bully", restart);
    b->epoch = el_log_max_epoch(n);
    fl_role(n, "candidate");
    /* Note 3: listen first. */
    b->t_suspect = fl_timer(n, b->suspect, T_START);
}

static void bully_init(FlNode *n, void *state) { setup(n, state, false); }
static void bully_recover(FlNode *n, void *state) { setup(n, state, true); }

static void on_election(FlNode *n, Bully *b, uint32_t from)
{
    if (from > b->self)
        return;
    send_el(n, b, from, M_ANSWER);
    if (b->leader == (int64_t)b->self)
        send_el(n, b, from, M_COORDINATOR);   /* already leading: say so again */
    else if (b->leader < 0)
        start_election(n, b);
    /* Following a live higher leader: the answer stops the candidate, and
     * the leader's next heartbeat tells it whom to follow (note 1; without
     * this, every late ELECTION restarts a cascade of elections above it). */
}

static void on_answer(FlNode *n, Bully *b, uint32_t from)
{
    if (!b->electing || from < b->self || b->answered)
        return;
    b->answered = true;
    /* A higher node holds its own election: wait for its announcement. */
    rearm(n, &b->t_wait, 3 * b->timeout + b->heartbeat, T_COORD);
}

/* COORDINATOR and HEARTBEAT: someone claims leadership. */
static void on_claim(FlNode *n, Bully *b, uint32_t from, uint64_t epoch)
{
    if (from < b->self) {
        if (epoch > b->epoch)
            b->epoch = epoch;
        if (b->leader == (int64_t)b->self && epoch < b->view_epoch)
            send_el(n, b, from, M_COORDINATOR);   /* we lead, in a later epoch: say so */
        else if (b->leader == (int64_t)b->self)
            become_coordinator(n, b);   /* it led in our epoch or later (a partition): claim a new one */
        else
            start_election(n, b);   /* note 1: bully the lower claimant */
        return;
    }
    if (from == (uint32_t)b->leader && epoch == b->view_epoch) {
        rearm(n, &b->t_suspect, b->suspect, T_SUSPECT);
        return;
    }
    follow(n, b, epoch, from);
}

static void bully_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Bully *b = state;
    ElMsg m;
    if (!el_decode(msg, len, b->n, &m) || m.id != from) {
        fl_metric_add(n, "election.dropped", 1);   /* note 4 */
        return;
    }
    /* Note 3: every message teaches the largest epoch, except a claim,
     * which follow() takes in when it accepts it. */
    if (m.type != M_COORDINATOR && m.type != M_HEARTBEAT && m.epoch > b->epoch)
        b->epoch = m.epoch;
    switch (m.type) {
    case M_ELECTION:
        on_election(n, b, from);
        break;
    case M_ANSWER:
        on_answer(n, b, from);
        break;
    case M_COORDINATOR:
    case M_HEARTBEAT:
        on_claim(n, b, from, m.epoch);
        break;
    default:
        fl_metric_add(n, "election.dropped", 1);
        break;
    }
}

static void bully_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Bully *b = state;
    switch (tag) {
    case T_START:
    case T_SUSPECT:
        if (t != b->t_suspect)
            return;
        b->t_suspect = 0;
        if (b->leader != (int64_t)b->self)
            start_election(n, b);
        break;
    case T_ANSWER:
        if (t == b->t_wait && b->electing && !b->answered) {
            b->t_wait = 0;
            become_coordinator(n, b);
        }
        break;
    case T_COORD:
        if (t == b->t_wait && b->electing) {
            b->t_wait = 0;
            b->electing = false;   /* the higher node went quiet: again */
            start_election(n, b);
        }
        break;
    case T_BEAT:
        if (t != b->t_beat || b->leader != (int64_t)b->self)
            return;
        for (uint32_t j = 0; j < b->n; j++)
            if (j != b->self)
                send_el(n, b, j, M_HEARTBEAT);
        b->t_beat = fl_timer(n, b->heartbeat, T_BEAT);
        break;
    }
}

static void bully_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Bully *b = state;
    if (req->op.kind == FL_OP_EVENT_READ) {
        fl_eventlog_reply(n, req);
        return;
    }
    /* A step asks who leads: the answer is the leader's id, or a failure. */
    if (b->leader < 0) {
        fl_reply_fail(n, req);
        return;
    }
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true, .value = b->leader };
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_election_bully = {
    .name = "election-bully",
    .summary = "Bully leader election (Garcia-Molina): the highest live id leads; needs a synchronous network (workload events)",
    .params = bully_params,
    .state_size = sizeof(Bully),
    .init = bully_init,
    .recover = bully_recover,
    .on_message = bully_on_message,
    .on_timer = bully_on_timer,
    .on_request = bully_on_request,
    .counters = bully_counters,
    .max_nodes = EL_MAX_NODES,
};
