/* clocksync: physical clock synchronisation by Cristian's algorithm
 * (Cristian 1989, "Probabilistic clock synchronization"), the Berkeley
 * algorithm (Gusella and Zatti 1989) or an NTP-style four-timestamp
 * exchange (Mills, RFC 5905 section 8).
 *
 * Design notes.
 *  1. Every node keeps its hardware clock (fl_now: skew and drift apply,
 *     as the scenario and the clock fault set them) and a correction adj:
 *     its synchronised clock reads fl_now + adj.  Only adj changes; the
 *     hardware clock is never touched, as an OS slews its own clock and
 *     leaves the oscillator alone.  Node 0 is the time server (Cristian,
 *     NTP) or the master (Berkeley).
 *  2. Every `interval` (the first at a random point of the second one) a
 *     client sends REQ(seq, t1), t1 its hardware clock.  The server notes
 *     t2 (its synchronised clock on receipt), holds the request for
 *     `server_delay` (the time a busy server takes to answer), and sends
 *     RESP(seq, t1, t2, t3), t3 its clock when answering.  The client
 *     notes t4 on receipt and ignores a RESP of an older seq.
 *  3. Cristian: the client sets its clock to t3 + (t4 - t1) / 2, the
 *     server's time plus half the round trip: right when the two legs
 *     take equally long, and the server's holding time counts as part of
 *     the trip.  The error is at most half the round trip (the reply left
 *     between t1 and t4 on the client's clock).
 *  4. NTP: offset = ((t2 - t1) + (t3 - t4)) / 2, the server's clock minus
 *     the client's.  With legs d_out and d_back, t2 - t1 = offset + d_out
 *     and t3 - t4 = offset - d_back, so the estimate is off by
 *     (d_out - d_back) / 2: exactly half the asymmetry, whatever the
 *     server's holding time, which the four timestamps subtract.  The
 *     bound is half the round trip less the holding time,
 *     ((t4 - t1) - (t3 - t2)) / 2, and it always covers the error.
 *  5. Berkeley: the master asks every node (REQ, as in note 2; a node
 *     answers with its synchronised clock) and estimates each one's offset
 *     by note 4 with itself as the client.  At half the interval it
 *     averages the offsets it has, its own (0) among them, leaving out
 *     those more than `threshold` from their median (a clock gone wild
 *     must not drag the others), and sends each node that answered
 *     ADJ(average - its offset), which that node adds to adj; the master
 *     adds the average to its own.  The clocks then agree with each other
 *     (internal synchronisation), not with true time: their error is the
 *     mean of their errors before.
 *  6. Measurement: after each synchronisation a node reports its
 *     synchronised clock to the engine (fl_clock_report), which knows
 *     true time: clocksync.error_max_us is the largest error after a sync
 *     in the run, clocksync.spread_us how far apart the clocks were after
 *     the last one.  The node's own estimate of its bound (notes 3 and 4)
 *     is clocksync.bound_max_us, the largest in the run.  Between syncs a
 *     drifting clock wanders off again; it is measured only right after.
 *  7. Messages: u8 type, u64 seq, i64 t1, i64 t2, i64 t3 (ADJ: t1 is the
 *     adjustment).  One that does not decode, comes from a node that may
 *     not send it, or answers a round no longer current is dropped
 *     (clocksync.dropped counts the malformed ones).
 *  8. A client step asks a node for its synchronised time: the answer is
 *     that time in nanoseconds. */
#include "protocols/clocksync.h"
#include "sim/node.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CS_MAX_NODES 64
#define CS_TIME_MAX ((int64_t)1 << 62)

enum { T_ROUND = 1, T_AVERAGE, T_REPLY = 100 };
enum { A_CRISTIAN, A_BERKELEY, A_NTP };

typedef struct Held {
    bool armed;
    uint64_t seq;
    int64_t t1, t2;
} Held;

typedef struct ClockSync {
    uint32_t self, n;
    int algo;
    int64_t adj;
    uint64_t seq;                     /* the current round */
    FlDuration interval, server_delay;
    int64_t threshold;
    Held held[CS_MAX_NODES];          /* server: requests being answered */
    bool answered[CS_MAX_NODES];      /* Berkeley master: answered this round */
    int64_t offset[CS_MAX_NODES];     /* Berkeley master: each node's offset */
} ClockSync;

static const FlParam cs_params[] = {
    { "algorithm", FL_PARAM_ENUM, "\"ntp\"", "cristian, berkeley or ntp (notes 3 to 5)", "cristian|berkeley|ntp", 0, 0 },
    { "interval", FL_PARAM_DURATION, "\"1s\"", "time between two synchronisations", NULL, 1e6, 1e12 },
    { "server_delay", FL_PARAM_DURATION, "\"0ms\"", "how long the server (or a node asked by the Berkeley master) holds a request before answering", NULL, 0, 1e11 },
    { "threshold", FL_PARAM_DURATION, "\"1s\"", "Berkeley: offsets further than this from their median are left out of the average", NULL, 0, 1e12 },
    { NULL },
};

static const char *const cs_counters[] = {
    "clocksync.syncs", "clocksync.error_max_us", "clocksync.spread_us", "clocksync.bound_max_us",
    "clocksync.left_out", "clocksync.dropped", NULL,
};

/* ---- codec (note 7) and arithmetic (notes 3 to 5) ---------------------- */

size_t cs_encode(const CsMsg *m, uint8_t *buf, size_t cap)
{
    FlWriter w;
    fl_writer_init(&w, buf, cap);
    fl_put_u8(&w, m->type);
    fl_put_u64(&w, m->seq);
    fl_put_u64(&w, (uint64_t)m->t1);
    fl_put_u64(&w, (uint64_t)m->t2);
    fl_put_u64(&w, (uint64_t)m->t3);
    size_t len = w.len;
    g_assert(!w.heap);   /* @cap >= CS_MSG_LEN */
    fl_writer_deinit(&w);
    return len;
}

static bool in_range(int64_t t) { return t >= -CS_TIME_MAX && t <= CS_TIME_MAX; }

bool cs_decode(const uint8_t *buf, size_t len, CsMsg *m)
{
    FlReader r;
    fl_reader_init(&r, buf, len);
    m->type = fl_get_u8(&r);
    m->seq = fl_get_u64(&r);
    m->t1 = (int64_t)fl_get_u64(&r);
    m->t2 = (int64_t)fl_get_u64(&r);
    m->t3 = (int64_t)fl_get_u64(&r);
    return fl_reader_done(&r) && m->type >= CS_REQ && m->type <= CS_ADJ && in_range(m->t1) && in_range(m->t2) &&
           in_range(m->t3);
}

int64_t cs_cristian_offset(int64_t t1, int64_t t3, int64_t t4, int64_t *bound)
{
    if (bound)
        *bound = (t4 - t1) / 2;
    return t3 + (t4 - t1) / 2 - t4;
}

int64_t cs_ntp_offset(int64_t t1, int64_t t2, int64_t t3, int64_t t4, int64_t *bound)
{
    if (bound)
        *bound = ((t4 - t1) - (t3 - t2)) / 2;
    return ((t2 - t1) + (t3 - t4)) / 2;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t cs_berkeley_average(int64_t *off, uint32_t k, int64_t threshold)
{
    g_assert(k > 0);
    qsort(off, k, sizeof *off, cmp_i64);
    int64_t median = off[k / 2];
    int64_t sum = 0;
    uint32_t used = 0;
    for (uint32_t i = 0; i < k; i++)
        if (llabs(off[i] - median) <= threshold) {
            sum += off[i];
            used++;
        }
    return sum / (int64_t)used;   /* the median itself is always used */
}

/* ---- the protocol ------------------------------------------------------ */

static int64_t synced(FlNode *n, const ClockSync *s) { return (int64_t)fl_now(n) + s->adj; }

static void send_msg(FlNode *n, uint32_t to, uint8_t type, uint64_t seq, int64_t t1, int64_t t2, int64_t t3)
{
    CsMsg m = { .type = type, .seq = seq, .t1 = t1, .t2 = t2, .t3 = t3 };
    uint8_t buf[CS_MSG_LEN];
    size_t len = cs_encode(&m, buf, sizeof buf);
    fl_send(n, to, buf, len);
}

/* Note 6. */
static void synchronised(FlNode *n, ClockSync *s, int64_t bound)
{
    fl_metric_add(n, "clocksync.syncs", 1);
    double *b = fl_metric(n, "clocksync.bound_max_us");
    double us = (double)llabs(bound) / 1e3;
    if (us > *b)
        *b = us;
    fl_clock_report(n, "clocksync", (FlTime)MAX(synced(n, s), 0));
}

/* Note 2 (and note 5: the master asks everyone). */
static void on_round(FlNode *n, ClockSync *s)
{
    fl_timer(n, s->interval, T_ROUND);
    s->seq++;
    if (s->algo == A_BERKELEY) {
        memset(s->answered, 0, sizeof s->answered);
        for (uint32_t j = 1; j < s->n; j++)
            send_msg(n, j, CS_REQ, s->seq, synced(n, s), 0, 0);
        fl_timer(n, s->interval / 2, T_AVERAGE);
    } else {
        send_msg(n, 0, CS_REQ, s->seq, (int64_t)fl_now(n), 0, 0);
    }
}

/* Note 5: the master averages what it has. */
static void on_average(FlNode *n, ClockSync *s)
{
    int64_t off[CS_MAX_NODES];
    uint32_t k = 0;
    off[k++] = 0;
    for (uint32_t j = 1; j < s->n; j++)
        if (s->answered[j])
            off[k++] = s->offset[j];
    int64_t avg = cs_berkeley_average(off, k, s->threshold);
    for (uint32_t i = 0; i < k; i++)
        if (llabs(off[i] - off[k / 2]) > s->threshold)
            fl_metric_add(n, "clocksync.left_out", 1);
    for (uint32_t j = 1; j < s->n; j++)
        if (s->answered[j])
            send_msg(n, j, CS_ADJ, s->seq, avg - s->offset[j], 0, 0);
    s->adj += avg;
    memset(s->answered, 0, sizeof s->answered);
    synchronised(n, s, 0);
}

static void on_req(FlNode *n, ClockSync *s, uint32_t from, const CsMsg *m)
{
    /* The server answers clients; in Berkeley a node answers the master. */
    bool serves = s->algo == A_BERKELEY ? from == 0 : s->self == 0;
    if (!serves)
        return;
    s->held[from] = (Held){ .armed = s->server_delay > 0, .seq = m->seq, .t1 = m->t1, .t2 = synced(n, s) };
    if (s->server_delay > 0)
        fl_timer(n, s->server_delay, T_REPLY + from);
    else
        send_msg(n, from, CS_RESP, m->seq, m->t1, s->held[from].t2, synced(n, s));
}

static void on_resp(FlNode *n, ClockSync *s, uint32_t from, const CsMsg *m)
{
    if (m->seq != s->seq)
        return;   /* an answer to an older round */
    if (s->algo == A_BERKELEY) {
        if (s->self != 0 || s->answered[from])
            return;
        s->answered[from] = true;
        s->offset[from] = cs_ntp_offset(m->t1, m->t2, m->t3, synced(n, s), NULL);
        return;
    }
    if (from != 0)
        return;
    int64_t t4 = (int64_t)fl_now(n), bound;
    s->adj = s->algo == A_CRISTIAN ? cs_cristian_offset(m->t1, m->t3, t4, &bound)
                                   : cs_ntp_offset(m->t1, m->t2, m->t3, t4, &bound);
    s->seq++;   /* one answer per round: a duplicate is now old */
    synchronised(n, s, bound);
}

static void on_adj(FlNode *n, ClockSync *s, uint32_t from, const CsMsg *m)
{
    if (s->algo != A_BERKELEY || from != 0)
        return;
    s->adj += m->t1;
    synchronised(n, s, 0);
}

static void cs_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *buf, size_t len)
{
    ClockSync *s = state;
    CsMsg m;
    if (from >= s->n || from == s->self || !cs_decode(buf, len, &m)) {
        fl_metric_add(n, "clocksync.dropped", 1);   /* note 7 */
        return;
    }
    switch (m.type) {
    case CS_REQ: on_req(n, s, from, &m); break;
    case CS_RESP: on_resp(n, s, from, &m); break;
    case CS_ADJ: on_adj(n, s, from, &m); break;
    }
}

static void cs_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    ClockSync *s = state;
    if (tag == T_ROUND) {
        on_round(n, s);
    } else if (tag == T_AVERAGE) {
        on_average(n, s);
    } else if (tag >= T_REPLY && tag < T_REPLY + s->n) {
        uint32_t to = (uint32_t)(tag - T_REPLY);
        Held *h = &s->held[to];
        if (h->armed) {
            h->armed = false;
            send_msg(n, to, CS_RESP, h->seq, h->t1, h->t2, synced(n, s));
        }
    }
}

static void cs_init(FlNode *n, void *state)
{
    ClockSync *s = state;
    s->self = fl_self(n);
    s->n = fl_nodes(n);
    const char *a = fl_param_enum(n, "algorithm");
    s->algo = strcmp(a, "cristian") == 0 ? A_CRISTIAN : strcmp(a, "berkeley") == 0 ? A_BERKELEY : A_NTP;
    s->interval = fl_param_duration(n, "interval");
    s->server_delay = fl_param_duration(n, "server_delay");
    s->threshold = fl_param_duration(n, "threshold");
    /* The server keeps time for the others (Cristian, NTP); in Berkeley
     * only the master starts rounds. */
    bool starts = s->algo == A_BERKELEY ? s->self == 0 : s->self != 0;
    /* The first round comes at a random point of the second interval, not
     * the first: a clock set behind true time reads 0 until true time
     * catches up with its skew (local clocks never go below 0), and an
     * exchange stamped with such a frozen clock would be wrong by the
     * frozen time. */
    if (starts)
        fl_timer(n, s->interval + (FlDuration)fl_rng_below(fl_rng(n), (uint64_t)s->interval), T_ROUND);
}

static void cs_on_request(FlNode *n, void *state, const FlRequest *req)
{
    ClockSync *s = state;
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true, .value = synced(n, s) };
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_clocksync = {
    .name = "clocksync",
    .summary = "clock synchronisation: Cristian, Berkeley or NTP's four timestamps (param algorithm); the engine measures the error after each sync (clocksync.error_max_us)",
    .params = cs_params,
    .state_size = sizeof(ClockSync),
    .init = cs_init,
    .on_message = cs_on_message,
    .on_timer = cs_on_timer,
    .on_request = cs_on_request,
    .counters = cs_counters,
    .max_nodes = CS_MAX_NODES,
};
