/* 2pc: two-phase commit (Gray 1978; Bernstein, Hadzilacos & Goodman 1987,
 * chapter 7), with the cooperative termination protocol as an option.
 *
 * Phase 1: the coordinator logs START and sends PREPARE; each participant
 * logs its yes vote (synced) and locks the accounts, or votes no.
 * Phase 2: all yes -> the coordinator logs COMMIT and tells the client and
 * the participants; any no, or a missing vote at the timeout -> ABORT.
 * Participants log the decision, apply it and acknowledge.
 * (Shared machinery and its design notes: txn.c.)
 *
 * Design notes.
 * 1. Blocking.  A participant that voted yes may neither commit nor abort
 *    on its own: the coordinator may have decided either way.  When the
 *    decision is late (twice `timeout` after its vote) it counts itself
 *    blocked (metric txn.blocked, and txn.blocked_ms for how long) and asks
 *    the coordinator again every `timeout`, holding its locks, until the
 *    coordinator answers: after a crash, only when it comes back.
 * 2. Cooperative termination (`cooperative: true`).  A blocked participant
 *    also asks the other participants.  One that knows the decision tells
 *    it; one that never voted aborts on the spot and says so.  Only when
 *    every participant it can reach has voted yes and knows nothing does it
 *    stay blocked: that case, all uncertain with the coordinator gone, is
 *    the one 2PC cannot escape.
 * 3. Safety does not rest on timing: a timeout only makes a node ask.
 * 4. BUGGIFY sites (sim/node.h fl_buggify), taken on purpose where random
 *    schedules seldom go; none may change an outcome, since note 3 says a
 *    timing choice only makes a node ask:
 *    2pc.ask-early            a participant that voted yes asks the
 *                             coordinator for the outcome before its
 *                             timeout: an undecided coordinator's answer
 *                             (TS_NONE) must change nothing.
 *    txn.prepare-resent       (txn.c) the coordinator resends PREPARE
 *                             before its retry is due: a participant
 *                             votes again from its record.
 *    txn.decision-resent      (txn.c) the decision resent early: a
 *                             participant decided already only acks.
 *    txn.decision-ack-skipped (txn.c) a participant leaves a decision
 *                             unacknowledged, as if the ack were lost, so
 *                             the coordinator keeps resending it. */
#include "protocols/txn/txn.h"

typedef struct TwoPC {
    TxnNode t;
} TwoPC;

static const FlParam twopc_params[] = {
    TXN_COMMON_PARAMS,
    { "cooperative", FL_PARAM_BOOL, "false", "blocked participants ask the other participants too (cooperative termination)", NULL, 0, 0 },
    { NULL },
};

static void twopc_init(FlNode *n, void *state)
{
    txn_init(n, &((TwoPC *)state)->t, false);
}

static void twopc_recover(FlNode *n, void *state)
{
    txn_recover(n, &((TwoPC *)state)->t, false);
}

static void twopc_destroy(FlNode *n, void *state)
{
    txn_destroy(n, &((TwoPC *)state)->t);
}

/* Note 2: the answer to a state request. */
static void on_state(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, uint8_t st)
{
    TxnPart *p = txn_part(t, id);
    if (!p || (p->state != TS_READY) || (st != TS_COMMITTED && st != TS_ABORTED))
        return;
    txn_part_decide(n, t, p, st, p->known && from == p->info.coord ? "coordinator" : "peer");
}

static void twopc_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                             size_t len)
{
    TxnNode *t = &((TwoPC *)state)->t;
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    TxnInfo info;
    uint64_t id;
    uint8_t x;
    switch (type) {
    case TXN_PREPARE:
    case TXN_STATE_REQ:
        if (!txn_info_get(n, t, &r, &info) || !fl_reader_done(&r))
            return;
        if (type == TXN_PREPARE)
            txn_on_prepare(n, t, from, &info);
        else
            txn_on_state_req(n, t, from, &info);
        break;
    case TXN_VOTE:
    case TXN_ACK:
    case TXN_DECISION:
    case TXN_STATE:
        id = fl_get_u64(&r);
        x = fl_get_u8(&r);
        if (!fl_reader_done(&r))
            return;
        if (type == TXN_VOTE && x <= 1)
            txn_on_vote(n, t, from, id, x == 1);
        else if (type == TXN_ACK && x == TXN_ACK_DECISION)
            txn_on_coord_ack(n, t, from, id, x);
        else if (type == TXN_DECISION && (x == TS_COMMITTED || x == TS_ABORTED))
            txn_on_decision(n, t, from, id, x);
        else if (type == TXN_STATE && x <= TS_ABORTED)
            on_state(n, t, from, id, x);
        break;
    default:
        break;   /* not ours: drop */
    }
}

/* Note 1: the participants' timeouts. */
static void participants_tick(FlNode *n, TxnNode *t)
{
    FlTime now = fl_now(n);
    for (guint i = 0; i < t->active_parts->len; i++) {
        TxnPart *p = g_ptr_array_index(t->active_parts, i);
        if (p->state != TS_READY)
            continue;
        if (now < p->deadline) {
            /* Note 4: ask the coordinator before the timeout, without
             * counting as blocked. */
            if (fl_buggify(n, "2pc.ask-early"))
                txn_send_info(n, t, p->info.coord, TXN_STATE_REQ, &p->info);
            continue;
        }
        txn_part_block(n, t, p);
        txn_send_info(n, t, p->info.coord, TXN_STATE_REQ, &p->info);
        for (int k = 0; t->cooperative && k < p->info.nparts; k++)
            if (p->info.parts[k] != fl_self(n) && p->info.parts[k] != p->info.coord)
                txn_send_info(n, t, p->info.parts[k], TXN_STATE_REQ, &p->info);
        p->deadline = now + (FlTime)t->timeout;
    }
    txn_parts_tick_end(n, t);
}

static void twopc_on_timer(FlNode *n, void *state, FlTimerId id, uint64_t tag)
{
    TxnNode *t = &((TwoPC *)state)->t;
    if (tag == TXN_TIMER_SELF) {
        txn_flush_self(n, t, state, twopc_on_message);
    } else if (tag == TXN_TIMER_TICK) {
        t->last_tick = fl_now(n);
        txn_coord_tick(n, t);
        participants_tick(n, t);
        fl_timer(n, t->tick, TXN_TIMER_TICK);
    }
}

static void twopc_on_request(FlNode *n, void *state, const FlRequest *req)
{
    txn_on_request(n, &((TwoPC *)state)->t, req);
}

/* The counters txn.c creates (FlProtocol.counters); the wildcards cover
 * names built from a reason ("txn.abort_timeout", "txn.decided_by_peer"). */
static const char *const twopc_counters[] = {
    "txn.commit", "txn.abort", "txn.abort_*", "txn.vote_no_*", "txn.decided_by_*",
    "txn.blocked", "txn.blocked_ms", "txn.conflicting_decisions", "txn.unilateral_abort",
    "txn.audit_in_doubt", "txn.commit_without_all_acks", NULL,
};
/* 2PC sends no PRECOMMIT: such bytes are no message of its. */
static const char *twopc_msg_kind(const uint8_t *msg, size_t len)
{
    return len && msg[0] == TXN_PRECOMMIT ? NULL : txn_msg_kind(msg, len);
}

/* Exploration: txn.h's digest and atomicity invariant. */
static uint64_t twopc_digest(const void *state)
{
    return txn_digest(&((const TwoPC *)state)->t);
}

static bool twopc_invariant(const void *const *states, uint32_t nodes, GString *why)
{
    const TxnNode *small[16];
    g_autofree const TxnNode **big = nodes > 16 ? g_new(const TxnNode *, nodes) : NULL;
    const TxnNode **t = big ? big : small;
    for (uint32_t i = 0; i < nodes; i++)
        t[i] = states[i] ? &((const TwoPC *)states[i])->t : NULL;
    return txn_invariant(t, nodes, why);
}

const FlProtocol fl_proto_twopc = {
    .name = "2pc",
    .summary = "two-phase commit of transfers: logged votes and decisions; blocks when the coordinator dies (cooperative termination optional)",
    .params = twopc_params,
    .state_size = sizeof(TwoPC),
    .init = twopc_init,
    .recover = twopc_recover,
    .destroy = twopc_destroy,
    .on_message = twopc_on_message,
    .on_timer = twopc_on_timer,
    .on_request = twopc_on_request,
    .counters = twopc_counters,
    .msg_kind = twopc_msg_kind,
    .kinds = TXN_KINDS_2PC,
    .digest = twopc_digest,
    .invariant = twopc_invariant,
};
