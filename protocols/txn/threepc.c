/* 3pc: three-phase commit (Skeen 1981, "Nonblocking commit protocols";
 * Bernstein, Hadzilacos & Goodman 1987, section 7.5) with its termination
 * protocol.
 *
 * Between the votes and the decision sits a third phase: when every vote is
 * yes the coordinator logs PRECOMMIT and sends it; participants log it and
 * acknowledge; then the coordinator commits.  So no participant can be
 * uncertain (voted yes, READY) while another has committed: a committed
 * participant implies everyone reached at least PRECOMMIT, or crashed.
 * That is what lets the survivors decide without the coordinator.
 * (Shared machinery and its design notes: txn.c.)
 *
 * Design notes.
 * 1. Coordinator timeouts (txn.c): a missing vote aborts; a missing
 *    precommit acknowledgement is taken for a crash and the coordinator
 *    commits anyway.  Both are right only when silence means a crash, which
 *    the `sync` timing model (delays <= bound, timeout >> bound) promises.
 * 2. Termination protocol.  A participant that voted yes and hears nothing
 *    for twice `timeout` (TERM_COLLECT) asks every other participant (and
 *    the coordinator) for its state and waits `timeout` for the answers.
 *    The participants that answered, itself included, are the operational
 *    ones; the one with the lowest id among them is the backup coordinator.
 *    The backup applies Skeen's rules to the states it collected:
 *      TR1 someone aborted (or never voted, and so aborted) -> abort;
 *      TR2 someone committed -> commit;
 *      TR3 everyone uncertain (READY) -> abort;
 *      TR4 someone precommitted -> send PRECOMMIT to the uncertain ones,
 *          wait `timeout` for their acknowledgements (TERM_PRECOMMIT), then
 *          commit;
 *    and sends the decision to every participant.  A participant that is
 *    not the backup waits three timeouts for it (TERM_WAIT), then starts
 *    over: if the backup crashed, the next lowest takes its place.
 *    Decisions learned on the way are adopted at once (TR1, TR2 are also
 *    what any answer with a decision means).
 * 3. Recovery.  A participant that crashed while undecided may not use the
 *    rules while some site is silent (the operational ones may have
 *    decided without it): it only asks, and adopts what it hears.  Once
 *    every participant and the coordinator answer and none has decided,
 *    nobody decided (a decision is logged before it is told), and the
 *    rules apply again.  Until then it blocks: 3PC is non-blocking for the
 *    operational sites only; after a total failure the recovered ones wait
 *    for each other.
 * 4. Under a partition in the `async` model note 1 and note 2 both mistake
 *    silence for crashes: one side terminates to abort (all uncertain)
 *    while the other commits (the coordinator, or a side that holds a
 *    precommitted participant).  Atomicity breaks, which is the lesson;
 *    scenarios/05-transactions/3pc-partition.json shows it. */
#include "protocols/txn/txn.h"

#include <inttypes.h>

typedef struct ThreePC {
    TxnNode t;
} ThreePC;

static const FlParam threepc_params[] = {
    TXN_COMMON_PARAMS,
    { NULL },
};

static void threepc_init(FlNode *n, void *state)
{
    txn_init(n, &((ThreePC *)state)->t, true);
}

static void threepc_recover(FlNode *n, void *state)
{
    txn_recover(n, &((ThreePC *)state)->t, true);
}

static void threepc_destroy(FlNode *n, void *state)
{
    txn_destroy(n, &((ThreePC *)state)->t);
}

static void send_decision_to_peers(FlNode *n, TxnNode *t, const TxnPart *p)
{
    for (int k = 0; k < p->info.nparts; k++)
        if (p->info.parts[k] != fl_self(n))
            txn_send_id(n, t, p->info.parts[k], TXN_DECISION, p->info.id, p->state);
}

/* The backup coordinator's decision (note 2). */
static void backup_decide(FlNode *n, TxnNode *t, TxnPart *p, uint8_t d)
{
    fl_log(n, "txn %" PRIu64 ": termination decides %s", p->info.id,
           d == TS_COMMITTED ? "commit" : "abort");
    fl_metric_add(n, "txn.terminations", 1);
    txn_part_decide(n, t, p, d, "termination");
    send_decision_to_peers(n, t, p);
}

/* Starts (or restarts) a collection of states (note 2). */
static void collect(FlNode *n, TxnNode *t, TxnPart *p)
{
    txn_part_block(n, t, p);
    p->term = TERM_COLLECT;
    p->alive = 0;
    p->coord_heard = false;
    for (int k = 0; k < p->info.nparts; k++) {
        p->seen[k] = TS_NONE;
        if (p->info.parts[k] == fl_self(n)) {
            p->seen[k] = p->state;
            p->alive |= (uint8_t)(1u << k);
        } else {
            txn_send_info(n, t, p->info.parts[k], TXN_STATE_REQ, &p->info);
        }
    }
    if (txn_part_index(&p->info, p->info.coord) < 0)
        txn_send_info(n, t, p->info.coord, TXN_STATE_REQ, &p->info);
    p->deadline = fl_now(n) + (FlTime)t->timeout;
}

/* The collection is over: who leads, and what the rules say (note 2). */
static void evaluate(FlNode *n, TxnNode *t, TxnPart *p)
{
    FlTime now = fl_now(n);
    bool everyone = p->alive == txn_all_parts(&p->info) &&
                    (p->coord_heard || txn_part_index(&p->info, p->info.coord) >= 0);
    if (p->recovered && !everyone) {
        /* Note 3: only ask again later. */
        p->term = TERM_WAIT;
        p->deadline = now + (FlTime)t->timeout;
        return;
    }
    int backup = -1;
    bool any_pre = false;
    for (int k = 0; k < p->info.nparts; k++) {
        if (!(p->alive & (1u << k)))
            continue;
        if (backup < 0)
            backup = k;   /* parts are ascending: the first alive is the lowest */
        any_pre |= p->seen[k] == TS_PRECOMMIT;
    }
    if (p->info.parts[backup] != fl_self(n)) {
        p->term = TERM_WAIT;
        p->deadline = now + (FlTime)(3 * t->timeout);
        return;
    }
    if (!any_pre) {
        backup_decide(n, t, p, TS_ABORTED);   /* TR3 */
        return;
    }
    /* TR4: bring every operational participant to PRECOMMIT first. */
    p->acks = 0;
    for (int k = 0; k < p->info.nparts; k++) {
        if (!(p->alive & (1u << k)))
            continue;
        if (p->info.parts[k] == fl_self(n)) {
            if (p->state == TS_READY)
                txn_part_precommit(n, t, p);
            p->acks |= (uint8_t)(1u << k);
        } else if (p->seen[k] == TS_PRECOMMIT) {
            p->acks |= (uint8_t)(1u << k);
        } else {
            txn_send_id(n, t, p->info.parts[k], TXN_PRECOMMIT, p->info.id, -1);
        }
    }
    if (p->acks == p->alive) {
        backup_decide(n, t, p, TS_COMMITTED);
        return;
    }
    p->term = TERM_PRECOMMIT;
    p->deadline = now + (FlTime)t->timeout;
}

/* A state, in answer to our request. */
static void on_state(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, uint8_t st)
{
    /* A recovered coordinator asking what became of a precommit. */
    TxnCoord *c = txn_coord(t, id);
    if (c && c->phase == CP_ASKING && (st == TS_COMMITTED || st == TS_ABORTED))
        txn_coord_decide(n, t, c, st, "termination");
    TxnPart *p = txn_part(t, id);
    if (!p || (p->state != TS_READY && p->state != TS_PRECOMMIT))
        return;
    if (st == TS_COMMITTED || st == TS_ABORTED) {
        txn_part_decide(n, t, p, st, from == p->info.coord ? "coordinator" : "peer");   /* TR1, TR2 */
        return;
    }
    int k = txn_part_index(&p->info, from);
    if (p->term != TERM_COLLECT)
        return;
    if (from == p->info.coord && k < 0)
        p->coord_heard = true;
    if (k < 0 || st == TS_NONE)
        return;
    p->seen[k] = st;
    p->alive |= (uint8_t)(1u << k);
    if (p->alive == txn_all_parts(&p->info))
        evaluate(n, t, p);   /* everyone answered: no need to wait */
}

static void on_precommit(FlNode *n, TxnNode *t, uint32_t from, uint64_t id)
{
    TxnPart *p = txn_part(t, id);
    if (!p || !p->known)
        return;
    if (from != p->info.coord && txn_part_index(&p->info, from) < 0)
        return;
    if (p->state == TS_ABORTED)
        return;   /* too late: no acknowledgement */
    if (p->state == TS_READY) {
        txn_part_precommit(n, t, p);
        p->deadline = fl_now(n) + (FlTime)(2 * t->timeout);
    }
    txn_send_id(n, t, from, TXN_ACK, id, TXN_ACK_PRECOMMIT);
}

/* A precommit acknowledgement: for the coordinator, or for a backup. */
static void on_ack(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, uint8_t what)
{
    txn_on_coord_ack(n, t, from, id, what);
    TxnPart *p = txn_part(t, id);
    if (what != TXN_ACK_PRECOMMIT || !p || p->term != TERM_PRECOMMIT)
        return;
    int k = txn_part_index(&p->info, from);
    if (k < 0)
        return;
    p->acks |= (uint8_t)(1u << k);
    if ((p->acks & p->alive) == p->alive)
        backup_decide(n, t, p, TS_COMMITTED);
}

static void threepc_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                               size_t len)
{
    TxnNode *t = &((ThreePC *)state)->t;
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
    case TXN_PRECOMMIT:
        id = fl_get_u64(&r);
        if (fl_reader_done(&r))
            on_precommit(n, t, from, id);
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
        else if (type == TXN_ACK && (x == TXN_ACK_DECISION || x == TXN_ACK_PRECOMMIT))
            on_ack(n, t, from, id, x);
        else if (type == TXN_DECISION && (x == TS_COMMITTED || x == TS_ABORTED))
            txn_on_decision(n, t, from, id, x);
        else if (type == TXN_STATE && x <= TS_ABORTED)
            on_state(n, t, from, id, x);
        break;
    default:
        break;   /* not ours: drop */
    }
}

/* The participants' timeouts drive the termination protocol (note 2). */
static void participants_tick(FlNode *n, TxnNode *t)
{
    FlTime now = fl_now(n);
    /* evaluate() and backup_decide() change states but add no records. */
    for (guint i = 0; i < t->active_parts->len; i++) {
        TxnPart *p = g_ptr_array_index(t->active_parts, i);
        if ((p->state != TS_READY && p->state != TS_PRECOMMIT) || now < p->deadline)
            continue;
        switch (p->term) {
        case TERM_NONE:
        case TERM_WAIT:
            collect(n, t, p);
            break;
        case TERM_COLLECT:
            evaluate(n, t, p);
            break;
        case TERM_PRECOMMIT:
            /* Those that did not acknowledge are taken for crashed. */
            backup_decide(n, t, p, TS_COMMITTED);
            break;
        }
    }
    txn_parts_tick_end(n, t);
}

static void threepc_on_timer(FlNode *n, void *state, FlTimerId id, uint64_t tag)
{
    TxnNode *t = &((ThreePC *)state)->t;
    if (tag == TXN_TIMER_SELF) {
        txn_flush_self(n, t, state, threepc_on_message);
    } else if (tag == TXN_TIMER_TICK) {
        txn_coord_tick(n, t);
        participants_tick(n, t);
        fl_timer(n, t->tick, TXN_TIMER_TICK);
    }
}

static void threepc_on_request(FlNode *n, void *state, const FlRequest *req)
{
    txn_on_request(n, &((ThreePC *)state)->t, req);
}

const FlProtocol fl_proto_threepc = {
    .name = "3pc",
    .summary = "three-phase commit of transfers with Skeen's termination protocol: operational sites never block under sync timing and crashes (after a total failure they wait), unsafe under partitions and pauses",
    .params = threepc_params,
    .state_size = sizeof(ThreePC),
    .init = threepc_init,
    .recover = threepc_recover,
    .destroy = threepc_destroy,
    .on_message = threepc_on_message,
    .on_timer = threepc_on_timer,
    .on_request = threepc_on_request,
};
