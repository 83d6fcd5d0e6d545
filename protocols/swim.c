/* swim: gossip dissemination and SWIM membership (Das, Gupta, Motivala,
 * "SWIM: Scalable Weakly-consistent Infection-style Process Group
 * Membership Protocol", DSN 2002).
 *
 * Design notes.
 *  1. Failure detection (paper section 3.1, Figure 1).  Every `period`
 *     (the protocol period T') a member probes one other member: PING; if
 *     no ACK came after `ping_timeout`, it asks `k` other members to probe
 *     it for it (PING-REQ); an intermediary PINGs the target and relays the
 *     target's ACK.  A probe with no ACK, direct or relayed, by the end of
 *     the period failed.
 *  2. Probe targets in round-robin (section 4.3): each round visits every
 *     member once, in an order shuffled from the node's own random stream
 *     at the start of the round.  A member is then probed at most
 *     2(n - 1) - 1 periods apart by each other member, which bounds the
 *     time to detect a crash (the paper's "time-bounded completeness");
 *     with uniformly random targets the bound would hold only in
 *     expectation.
 *  3. Suspicion (section 4.2).  With `suspicion` on, a failed probe makes
 *     the target SUSPECT, not dead: the suspicion is gossiped, and whoever
 *     holds a member suspect for `suspect_timeout` without hearing it
 *     refute declares it DEAD (the paper's Confirm).  With `suspicion` off
 *     (the basic SWIM detector of section 3), a failed probe declares the
 *     target DEAD at once: a member that is only slow, paused or behind a
 *     lossy link is then removed, a false positive.  Suspect deadlines are
 *     checked at each period's start: a suspicion lasts between
 *     suspect_timeout and suspect_timeout + period.
 *  4. Incarnation numbers (section 4.2).  Each member has one, which only
 *     it raises: a member that hears itself suspected (or declared dead)
 *     with incarnation >= its own sets its own to that + 1 and gossips
 *     ALIVE with it, which overrides the suspicion everywhere.  The order
 *     of updates about member j, for a member holding j with incarnation
 *     i: ALIVE(j, i') wins if i' > i; SUSPECT(j, i') wins over ALIVE if
 *     i' >= i and over SUSPECT if i' > i; DEAD(j, i') wins over ALIVE and
 *     SUSPECT if i' >= i.  (The paper lets a Confirm win at any
 *     incarnation, since a removed member rejoins under a new identity;
 *     here it rejoins under the same id with a higher incarnation, so an
 *     old DEAD arriving late must not remove it again.)
 *  5. Dissemination (section 4.1): no multicast.  Every update a member
 *     learns or makes goes into its buffer and is piggybacked on the
 *     PINGs, ACKs and PING-REQs it sends, up to `piggyback` updates a
 *     message, those sent the fewest times first; an update is sent
 *     lambda * ceil(log2(n + 1)) times and then dropped (infection style:
 *     each holder passes it to about lambda log n others, so it reaches
 *     everyone in O(log n) periods with high probability).  A member
 *     keeps only the latest update about each member.
 *  6. News about the receiver goes first, whatever its count (Lifeguard's
 *     "buddy system", Dadgar et al. 2018, not in the paper): a message to
 *     a member we hold SUSPECT or DEAD carries that, so a member paused
 *     for a while learns it is suspected as soon as anyone talks to it,
 *     though the update's sends ran out while it slept; without this a
 *     paused member often learns too late to refute.
 *  7. Join (section 5, "a newly joining member").  With `join` "seed" a
 *     node starts knowing only node 0, the introducer: it sends JOIN to
 *     node 0 every period until answered; node 0 gossips ALIVE(joiner) and
 *     answers JOIN-ACK with every member it holds alive or suspect.  With
 *     `join` "all" every node starts knowing every other at incarnation
 *     0.  A restarted node starts again with incarnation 0: the others'
 *     DEAD of it comes back in their answers (note 6) and it refutes.
 *  8. Messages: u8 type, u64 seq, u32 target, u32 origin, u8 count, then
 *     count updates of u8 kind, u32 member, u64 incarnation, u64 born (the
 *     creator's local time).  PING(seq, target = receiver, origin = the
 *     prober: another node when relayed), ACK(seq, target = the acker,
 *     origin = the prober), PING-REQ(seq, target, origin = the asker),
 *     JOIN(seq = the joiner's incarnation), JOIN-ACK(updates = the
 *     members).  One that does not decode, names a node out of range or
 *     carries an unknown kind is dropped whole (swim.dropped).
 *  9. Measurement.  `born` exists to measure dissemination, as real SWIM
 *     does not: the counter swim.spread_ms is the longest any member took
 *     to learn a DEAD update after it was made (local clocks: meaningful
 *     without clock faults), the figure `faultline sweep --counter`
 *     plots against n.  Each DEAD a member holds and each return from DEAD
 *     is reported to the engine (fl_fd_own_report), which measures them
 *     as it measures sim/fd.h's detectors: metrics.json "detectors".
 * 10. The log (file "log", served by the final read; the checker is
 *     sim/check/membership.c): header "swim node=I nodes=N suspicion=on|off
 *     period=NS bound=NS boot=T", then "j T J INC" (J became a member, or
 *     came back from DEAD), "s T J INC" (suspected), "a T J INC" (a
 *     suspicion of J refuted), "d T J INC" (J declared or learnt DEAD),
 *     "r T INC" (this node refuted: its incarnation is now INC), all at
 *     local time T; the final read appends "l J T": the last local time
 *     this node received anything from J.  bound is the time within which
 *     every live member must hold a crashed one DEAD (note 2's rounds, a
 *     probe's period, the suspicion, and a round of slack for a late
 *     ALIVE): (3(n - 1) + 2) * period + suspect_timeout. */
#include "protocols/swim.h"
#include "protocols/eventlog.h"
#include "sim/fd.h"
#include "sim/node.h"

#include <inttypes.h>
#include <string.h>

#define SWIM_MAX_K 8
#define SWIM_MAX_PIGGYBACK 16
#define LOG_MAX (512u * 1024u)

enum { M_PING = SWIM_PING, M_ACK, M_PING_REQ, M_JOIN, M_JOIN_ACK };
enum { U_ALIVE = SWIM_ALIVE, U_SUSPECT, U_DEAD };
enum { S_NONE = SWIM_S_NONE, S_ALIVE, S_SUSPECT, S_DEAD };
enum { T_PERIOD = 1, T_PROBE };

typedef struct Member {
    uint8_t status;
    uint64_t inc;
    FlTime suspect_deadline;
    FlTime heard;           /* local time of the last message from it */
    bool ever_heard;
    /* Note 5: the latest update about it, and how often it went out. */
    bool pending;
    SwimUpdate upd;
    uint32_t sent;
} Member;

typedef struct Swim {
    uint32_t self, n;
    uint64_t inc;
    bool joined, suspicion, full;
    Member m[SWIM_MAX_NODES];
    uint32_t order[SWIM_MAX_NODES], norder, next;   /* note 2 */
    bool probing, acked;
    uint32_t target;
    uint64_t seq;
    FlDuration period, ping_timeout, suspect_timeout;
    uint32_t k, piggyback, limit;
} Swim;

static const FlParam swim_params[] = {
    { "period", FL_PARAM_DURATION, "\"200ms\"", "the protocol period: one probe per member per period", NULL, 1e6, 1e11 },
    { "ping_timeout", FL_PARAM_DURATION, "\"80ms\"", "wait this long for a direct ACK before asking k others (PING-REQ)", NULL, 1e5, 1e11 },
    { "suspect_timeout", FL_PARAM_DURATION, "\"1600ms\"", "how long a member stays suspected before it is declared dead", NULL, 0, 1e12 },
    { "suspicion", FL_PARAM_BOOL, "true", "suspect before declaring dead (note 3); false: the basic detector, dead at the first failed probe", NULL, 0, 0 },
    { "k", FL_PARAM_INT, "3", "members asked to probe indirectly (PING-REQ)", NULL, 0, SWIM_MAX_K },
    { "lambda", FL_PARAM_INT, "3", "each update is piggybacked lambda * ceil(log2(n + 1)) times", NULL, 1, 20 },
    { "piggyback", FL_PARAM_INT, "6", "updates at most per message", NULL, 1, SWIM_MAX_PIGGYBACK },
    { "join", FL_PARAM_ENUM, "\"all\"", "all (every node starts knowing every other) or seed (nodes join through node 0)", "all|seed", 0, 0 },
    { NULL },
};

static const char *const swim_counters[] = {
    "swim.pings", "swim.ping_reqs", "swim.acks", "swim.suspicions", "swim.deaths", "swim.refutes",
    "swim.joins", "swim.spread_ms", "swim.dropped", "swim.full", NULL,
};

/* ---- codec (note 8) ---------------------------------------------------- */

size_t swim_encode(const SwimMsg *m, uint8_t *buf, size_t cap)
{
    FlWriter w;
    fl_writer_init(&w, buf, cap);
    fl_put_u8(&w, m->type);
    fl_put_u64(&w, m->seq);
    fl_put_u32(&w, m->target);
    fl_put_u32(&w, m->origin);
    fl_put_u8(&w, m->count);
    for (uint8_t i = 0; i < m->count; i++) {
        fl_put_u8(&w, m->upd[i].kind);
        fl_put_u32(&w, m->upd[i].member);
        fl_put_u64(&w, m->upd[i].inc);
        fl_put_u64(&w, m->upd[i].born);
    }
    size_t len = w.len;
    g_assert(!w.heap);   /* @cap >= SWIM_MSG_MAX holds the largest message */
    fl_writer_deinit(&w);
    return len;
}

bool swim_decode(const uint8_t *buf, size_t len, uint32_t nodes, SwimMsg *m)
{
    FlReader r;
    fl_reader_init(&r, buf, len);
    m->type = fl_get_u8(&r);
    m->seq = fl_get_u64(&r);
    m->target = fl_get_u32(&r);
    m->origin = fl_get_u32(&r);
    m->count = fl_get_u8(&r);
    if (r.err || m->type < M_PING || m->type > M_JOIN_ACK || m->target >= nodes || m->origin >= nodes ||
        m->count > nodes)
        return false;
    for (uint8_t i = 0; i < m->count; i++) {
        SwimUpdate *u = &m->upd[i];
        u->kind = fl_get_u8(&r);
        u->member = fl_get_u32(&r);
        u->inc = fl_get_u64(&r);
        u->born = fl_get_u64(&r);
        if (r.err || u->kind < U_ALIVE || u->kind > U_DEAD || u->member >= nodes || u->inc >= UINT64_MAX / 2)
            return false;
    }
    return fl_reader_done(&r);
}

/* ---- the log (note 10) ------------------------------------------------- */

static void log_event(FlNode *n, Swim *s, char what, uint32_t j, uint64_t inc)
{
    g_autofree char *l = g_strdup_printf("%c %" PRId64 " %u %" PRIu64 "\n", what, (int64_t)fl_now(n), j, inc);
    fl_eventlog_append(n, &s->full, LOG_MAX, "swim.full", l);
}

/* ---- dissemination (notes 5, 6) ---------------------------------------- */

static void enqueue(Swim *s, uint8_t kind, uint32_t j, uint64_t inc, uint64_t born)
{
    Member *m = &s->m[j];
    m->upd = (SwimUpdate){ .kind = kind, .member = j, .inc = inc, .born = born };
    m->pending = true;
    m->sent = 0;
}

/* Fills @msg's updates for a message to @to: first what we hold about @to
 * if it is bad news (note 6), then the least-sent pending updates. */
static void piggyback(Swim *s, SwimMsg *msg, uint32_t to)
{
    msg->count = 0;
    bool taken[SWIM_MAX_NODES] = { false };
    const Member *t = &s->m[to];
    if (to != s->self && (t->status == S_SUSPECT || t->status == S_DEAD)) {
        if (t->pending && t->upd.inc == t->inc)
            msg->upd[msg->count++] = t->upd;
        else
            msg->upd[msg->count++] = (SwimUpdate){ .kind = t->status == S_SUSPECT ? U_SUSPECT : U_DEAD,
                                                   .member = to, .inc = t->inc };
        taken[to] = true;
    }
    while (msg->count < s->piggyback) {
        uint32_t best = UINT32_MAX;
        for (uint32_t j = 0; j < s->n; j++)
            if (s->m[j].pending && !taken[j] && (best == UINT32_MAX || s->m[j].sent < s->m[best].sent))
                best = j;
        if (best == UINT32_MAX)
            break;
        taken[best] = true;
        msg->upd[msg->count++] = s->m[best].upd;
        if (++s->m[best].sent >= s->limit)
            s->m[best].pending = false;
    }
}

static void send_msg(FlNode *n, Swim *s, uint32_t to, uint8_t type, uint64_t seq, uint32_t target,
                     uint32_t origin)
{
    SwimMsg msg = { .type = type, .seq = seq, .target = target, .origin = origin };
    piggyback(s, &msg, to);
    uint8_t buf[SWIM_MSG_MAX];
    size_t len = swim_encode(&msg, buf, sizeof buf);
    fl_send(n, to, buf, len);
}

/* ---- membership (notes 3, 4) ------------------------------------------- */

static void become_dead(FlNode *n, Swim *s, uint32_t j, uint64_t inc, uint64_t born, bool own)
{
    Member *m = &s->m[j];
    m->status = S_DEAD;
    m->inc = inc;
    log_event(n, s, 'd', j, inc);
    fl_fd_own_report(n, j, true);
    if (own)
        fl_metric_add(n, "swim.deaths", 1);
    else if ((uint64_t)fl_now(n) > born) {
        /* Note 9: a gauge, the longest spread of a DEAD so far. */
        double ms = (double)((uint64_t)fl_now(n) - born) / 1e6;
        double *c = fl_metric(n, "swim.spread_ms");
        if (ms > *c)
            *c = ms;
    }
    enqueue(s, U_DEAD, j, inc, born);
}

static void become_suspect(FlNode *n, Swim *s, uint32_t j, uint64_t inc, uint64_t born)
{
    Member *m = &s->m[j];
    m->status = S_SUSPECT;
    m->inc = inc;
    m->suspect_deadline = fl_now(n) + s->suspect_timeout;
    log_event(n, s, 's', j, inc);
    enqueue(s, U_SUSPECT, j, inc, born);
}

uint8_t swim_wins(uint8_t status, uint64_t inc, const SwimUpdate *u, bool suspicion)
{
    uint8_t kind = u->kind == U_SUSPECT && !suspicion ? U_DEAD : u->kind;
    switch (kind) {
    case U_ALIVE:
        return status == S_NONE || u->inc > inc ? S_ALIVE : S_NONE;
    case U_SUSPECT:
        if (status == S_NONE || (status == S_ALIVE && u->inc >= inc) || (status == S_SUSPECT && u->inc > inc))
            return S_SUSPECT;
        return S_NONE;
    case U_DEAD:
        return status != S_DEAD && (status == S_NONE || u->inc >= inc) ? S_DEAD : S_NONE;
    }
    return S_NONE;
}

/* Note 4: applies one update, from a peer (@own false) or of our own
 * making. */
static void apply(FlNode *n, Swim *s, const SwimUpdate *u, bool own)
{
    uint32_t j = u->member;
    if (j == s->self) {
        /* Refute: only this node raises its own incarnation. */
        if (u->kind != U_ALIVE && u->inc >= s->inc) {
            s->inc = u->inc + 1;
            g_autofree char *l = g_strdup_printf("r %" PRId64 " %" PRIu64 "\n", (int64_t)fl_now(n), s->inc);
            fl_eventlog_append(n, &s->full, LOG_MAX, "swim.full", l);
            fl_metric_add(n, "swim.refutes", 1);
            enqueue(s, U_ALIVE, s->self, s->inc, (uint64_t)fl_now(n));
        }
        return;
    }
    Member *m = &s->m[j];
    uint8_t was = m->status;
    switch (swim_wins(was, m->inc, u, s->suspicion)) {
    case S_ALIVE:
        m->status = S_ALIVE;
        m->inc = u->inc;
        if (was != S_ALIVE)
            log_event(n, s, was == S_SUSPECT ? 'a' : 'j', j, u->inc);
        if (was == S_DEAD)
            fl_fd_own_report(n, j, false);
        if (was == S_NONE || was == S_DEAD)
            fl_metric_add(n, "swim.joins", 1);
        enqueue(s, U_ALIVE, j, u->inc, u->born);
        break;
    case S_SUSPECT:
        if (own)
            fl_metric_add(n, "swim.suspicions", 1);
        become_suspect(n, s, j, u->inc, u->born);
        break;
    case S_DEAD:
        become_dead(n, s, j, u->inc, u->born, own);
        break;
    }
}

static void apply_all(FlNode *n, Swim *s, const SwimMsg *msg)
{
    for (uint8_t i = 0; i < msg->count; i++)
        apply(n, s, &msg->upd[i], false);
}

/* ---- probing (notes 1, 2) ---------------------------------------------- */

static bool probeable(const Swim *s, uint32_t j)
{
    return j != s->self && (s->m[j].status == S_ALIVE || s->m[j].status == S_SUSPECT);
}

/* Note 2: a new round, every member once in a shuffled order. */
static void new_round(FlNode *n, Swim *s)
{
    s->norder = 0;
    s->next = 0;
    for (uint32_t j = 0; j < s->n; j++)
        if (probeable(s, j))
            s->order[s->norder++] = j;
    for (uint32_t i = s->norder; i > 1; i--) {
        uint32_t r = (uint32_t)fl_rng_below(fl_rng(n), i);
        uint32_t t = s->order[i - 1];
        s->order[i - 1] = s->order[r];
        s->order[r] = t;
    }
}

/* The end of a probe: failed unless acked (note 1). */
static void finish_probe(FlNode *n, Swim *s)
{
    if (!s->probing)
        return;
    s->probing = false;
    if (s->acked || !probeable(s, s->target))
        return;
    const Member *m = &s->m[s->target];
    SwimUpdate u = { .kind = s->suspicion ? U_SUSPECT : U_DEAD, .member = s->target, .inc = m->inc,
                     .born = (uint64_t)fl_now(n) };
    if (m->status == S_SUSPECT && s->suspicion)
        return;   /* already suspected: its deadline runs */
    apply(n, s, &u, true);
}

static void start_probe(FlNode *n, Swim *s)
{
    for (int tries = 0; tries < 2; tries++) {
        while (s->next < s->norder && !probeable(s, s->order[s->next]))
            s->next++;
        if (s->next < s->norder)
            break;
        new_round(n, s);
    }
    if (s->next >= s->norder)
        return;   /* nobody to probe */
    s->target = s->order[s->next++];
    s->probing = true;
    s->acked = false;
    s->seq++;
    fl_metric_add(n, "swim.pings", 1);
    send_msg(n, s, s->target, M_PING, s->seq, s->target, s->self);
    fl_timer(n, s->ping_timeout, T_PROBE);
}

static void on_period(FlNode *n, Swim *s)
{
    fl_timer(n, s->period, T_PERIOD);
    if (!s->joined) {
        send_msg(n, s, 0, M_JOIN, s->inc, 0, s->self);
        return;
    }
    finish_probe(n, s);
    /* Note 3: suspicions past their deadline become deaths. */
    FlTime now = fl_now(n);
    for (uint32_t j = 0; j < s->n; j++) {
        Member *m = &s->m[j];
        if (j != s->self && m->status == S_SUSPECT && now >= m->suspect_deadline) {
            SwimUpdate u = { .kind = U_DEAD, .member = j, .inc = m->inc, .born = (uint64_t)now };
            apply(n, s, &u, true);
        }
    }
    start_probe(n, s);
}

/* Note 1: no direct ACK in time; ask k others, chosen at random among the
 * members that are neither us nor the target. */
static void on_probe_timeout(FlNode *n, Swim *s)
{
    if (!s->probing || s->acked)
        return;
    uint32_t cand[SWIM_MAX_NODES], nc = 0;
    for (uint32_t j = 0; j < s->n; j++)
        if (probeable(s, j) && j != s->target)
            cand[nc++] = j;
    for (uint32_t i = 0; i < s->k && nc > 0; i++) {
        uint32_t r = (uint32_t)fl_rng_below(fl_rng(n), nc);
        fl_metric_add(n, "swim.ping_reqs", 1);
        send_msg(n, s, cand[r], M_PING_REQ, s->seq, s->target, s->self);
        cand[r] = cand[--nc];
    }
}

/* ---- handlers ---------------------------------------------------------- */

static void on_ping(FlNode *n, Swim *s, uint32_t from, const SwimMsg *msg)
{
    if (msg->target != s->self)
        return;
    fl_metric_add(n, "swim.acks", 1);
    send_msg(n, s, from, M_ACK, msg->seq, s->self, msg->origin);
}

static void on_ack(FlNode *n, Swim *s, uint32_t from, const SwimMsg *msg)
{
    if (msg->target != from)
        return;   /* only a target acks, for itself */
    if (msg->origin != s->self) {
        /* We relayed this probe (PING-REQ): pass the ACK on. */
        send_msg(n, s, msg->origin, M_ACK, msg->seq, msg->target, msg->origin);
        return;
    }
    if (s->probing && msg->seq == s->seq && from == s->target)
        s->acked = true;
}

/* A relayed ACK reaches the asker from the intermediary, not the target. */
static void on_relayed_ack(Swim *s, uint32_t from, const SwimMsg *msg)
{
    if (s->probing && msg->origin == s->self && msg->seq == s->seq && msg->target == s->target && from != s->target)
        s->acked = true;
}

static void on_ping_req(FlNode *n, Swim *s, uint32_t from, const SwimMsg *msg)
{
    if (msg->origin != from || msg->target == s->self || msg->target == from)
        return;
    send_msg(n, s, msg->target, M_PING, msg->seq, msg->target, from);
}

static void on_join(FlNode *n, Swim *s, uint32_t from, const SwimMsg *msg)
{
    if (s->self != 0 || msg->seq >= UINT64_MAX / 2)
        return;
    SwimUpdate u = { .kind = U_ALIVE, .member = from, .inc = msg->seq, .born = (uint64_t)fl_now(n) };
    apply(n, s, &u, false);
    /* Every member we hold alive or suspect, ourselves included. */
    SwimMsg ack = { .type = M_JOIN_ACK, .target = from, .origin = s->self };
    for (uint32_t j = 0; j < s->n; j++) {
        const Member *m = &s->m[j];
        if (j == s->self)
            ack.upd[ack.count++] = (SwimUpdate){ .kind = U_ALIVE, .member = j, .inc = s->inc };
        else if (m->status == S_ALIVE || m->status == S_SUSPECT)
            ack.upd[ack.count++] = (SwimUpdate){ .kind = U_ALIVE, .member = j, .inc = m->inc };
    }
    uint8_t buf[SWIM_MSG_MAX];
    size_t len = swim_encode(&ack, buf, sizeof buf);
    fl_send(n, from, buf, len);
}

static void on_join_ack(FlNode *n, Swim *s, const SwimMsg *msg)
{
    if (s->joined)
        return;
    s->joined = true;
    /* The member list is not news to gossip: each member joined through
     * node 0, which gossiped it then. */
    for (uint8_t i = 0; i < msg->count; i++) {
        const SwimUpdate *u = &msg->upd[i];
        Member *m = &s->m[u->member];
        if (u->member == s->self || u->kind != U_ALIVE || m->status != S_NONE)
            continue;
        m->status = S_ALIVE;
        m->inc = u->inc;
        log_event(n, s, 'j', u->member, u->inc);
    }
}

static void swim_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *buf, size_t len)
{
    Swim *s = state;
    SwimMsg msg;
    if (from >= s->n || from == s->self || !swim_decode(buf, len, s->n, &msg)) {
        fl_metric_add(n, "swim.dropped", 1);   /* note 8 */
        return;
    }
    s->m[from].heard = fl_now(n);
    s->m[from].ever_heard = true;
    if (msg.type == M_JOIN_ACK) {
        on_join_ack(n, s, &msg);
        return;
    }
    if (!s->joined)
        return;   /* not a member yet: nothing to gossip about */
    apply_all(n, s, &msg);
    switch (msg.type) {
    case M_PING: on_ping(n, s, from, &msg); break;
    case M_ACK:
        if (msg.target == from)
            on_ack(n, s, from, &msg);
        else
            on_relayed_ack(s, from, &msg);
        break;
    case M_PING_REQ: on_ping_req(n, s, from, &msg); break;
    case M_JOIN: on_join(n, s, from, &msg); break;
    }
}

static void swim_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Swim *s = state;
    if (tag == T_PERIOD)
        on_period(n, s);
    else if (tag == T_PROBE)
        on_probe_timeout(n, s);
}

static void swim_init(FlNode *n, void *state)
{
    Swim *s = state;
    s->self = fl_self(n);
    s->n = fl_nodes(n);
    s->period = fl_param_duration(n, "period");
    s->ping_timeout = fl_param_duration(n, "ping_timeout");
    s->suspect_timeout = fl_param_duration(n, "suspect_timeout");
    s->suspicion = fl_param_bool(n, "suspicion");
    s->k = (uint32_t)fl_param_int(n, "k");
    s->piggyback = (uint32_t)fl_param_int(n, "piggyback");
    uint32_t log2n = 0;
    while ((1u << log2n) < s->n + 1)
        log2n++;
    s->limit = (uint32_t)fl_param_int(n, "lambda") * log2n;
    bool seed = strcmp(fl_param_enum(n, "join"), "seed") == 0;
    s->joined = !seed || s->self == 0;
    FlDuration bound = (FlDuration)(3 * (s->n - 1) + 2) * s->period + s->suspect_timeout;
    g_autofree char *h = g_strdup_printf("swim node=%u nodes=%u suspicion=%s period=%" PRId64 " bound=%" PRId64
                                         " boot=%" PRId64 "\n", s->self, s->n, s->suspicion ? "on" : "off",
                                         (int64_t)s->period, (int64_t)bound, (int64_t)fl_now(n));
    fl_disk_write(n, "log", h, strlen(h));
    for (uint32_t j = 0; j < s->n; j++)
        if (j != s->self && !seed) {
            s->m[j].status = S_ALIVE;
            log_event(n, s, 'j', j, 0);
        }
    fl_fd_own_start(n, "swim");
    /* Start at a random point of the first period, so that the nodes'
     * probes do not all leave at once. */
    fl_timer(n, (FlDuration)fl_rng_below(fl_rng(n), (uint64_t)s->period) + 1, T_PERIOD);
}

static void swim_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Swim *s = state;
    if (req->op.kind == FL_OP_EVENT_READ) {
        /* Note 10: the log, and when we last heard from each node. */
        size_t len = 0;
        const uint8_t *data = fl_disk_view(n, "log", &len);
        g_autoptr(GString) text = g_string_new_len((const char *)data, data ? (gssize)len : 0);
        for (uint32_t j = 0; j < s->n; j++)
            if (s->m[j].ever_heard)
                g_string_append_printf(text, "l %u %" PRId64 "\n", j, (int64_t)s->m[j].heard);
        FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true,
                         .text = text->str, .text_len = text->len };
        fl_reply(n, req, &res);
        return;
    }
    /* A step asks how many members this node holds alive (itself too). */
    int64_t alive = 1;
    for (uint32_t j = 0; j < s->n; j++)
        alive += j != s->self && s->m[j].status == S_ALIVE;
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true, .value = alive };
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_swim = {
    .name = "swim",
    .summary = "SWIM membership: probes, PING-REQ, suspicion with incarnations, infection-style gossip (workload events, check membership)",
    .params = swim_params,
    .state_size = sizeof(Swim),
    .init = swim_init,
    .on_message = swim_on_message,
    .on_timer = swim_on_timer,
    .on_request = swim_on_request,
    .counters = swim_counters,
    .max_nodes = SWIM_MAX_NODES,
};
