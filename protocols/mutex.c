/* mutex: distributed mutual exclusion by Ricart-Agrawala (Ricart, Agrawala
 * 1981, "An Optimal Algorithm for Mutual Exclusion in Computer Networks"),
 * or by a token ring (algorithm "token-ring", note 8).
 *
 * Design notes.
 *  1. A client's step asks a node to use the shared resource once: the
 *     node queues it, takes the critical section (CS), holds it for `hold`
 *     and answers the step ok when it leaves.  A node already serving a
 *     step sends the client to a random other node (clients stay with the
 *     node that last answered them), so that clients spread over the nodes
 *     and contend; a step left behind by a client that timed out still
 *     counts, up to 8 queued (a ninth fails at once).
 *  2. The algorithm.  To enter, a node takes a Lamport timestamp TS and
 *     sends REQUEST(TS) to every other node; it enters once every other
 *     node answered OK(TS).  A node receiving REQUEST(TS') from j answers
 *     OK(TS') at once unless it is in the CS, or is requesting itself with
 *     (TS, self) < (TS', j): then it defers the answer until it leaves the
 *     CS.  Ties are broken by node id, so of two requests one always wins.
 *  3. Lost messages (a partition): a requesting node resends REQUEST(TS)
 *     every `retry` to the nodes whose OK it lacks; an answer names the
 *     TS it answers, so a late or duplicated OK of an old request is
 *     ignored, and answering a REQUEST twice is harmless.  Nodes must not
 *     crash: a crashed node never answers, and every request waits for it
 *     (the algorithm needs all n - 1 answers).
 *  4. Every message carries a number, the sender's count of messages sent,
 *     and both ends log it, so that the checker rebuilds happens-before
 *     from the logs alone (its notion of "not overlapping", note 5): the OK
 *     sent on leaving follows the exit, so exit -> enter of the next holder.
 *  5. The log ("log" on disk, served by the final read), one line per
 *     event: "s TO ID" (sent message ID), "r FROM ID" (received FROM's
 *     message ID), "w K TS" (the K-th request of this node, timestamp TS),
 *     "e K T" (entered the CS for request K at local time T ns), "x K T"
 *     (left it).  sim/check/mutex.c judges mutual exclusion and that every
 *     request was granted.
 *  6. Teachable bug `no-defer`: a node answers every REQUEST at once, even
 *     in the CS or while requesting with a smaller timestamp.  Two nodes
 *     then hold the CS concurrently.
 *  7. Messages: u8 type, u64 TS, u64 ID.  One that does not decode is
 *     dropped (mutex.dropped) and not logged.
 *  8. Token ring: node 0 starts with the token, TOKEN(G) with G the number
 *     of passes so far; whoever holds it enters if a step waits, and passes
 *     it to node self + 1 (mod n) on leaving, or at once when idle.  A pass
 *     is resent every `retry` until the successor ACKs G; a TOKEN of a G
 *     already seen is only ACKed, so a resent or duplicated token is never
 *     a second token.  A partition stops the token at its edge until it
 *     heals (skipping the silent node could make two tokens: its ACK may
 *     have been lost, not the token); a crash loses it for good.  The log's
 *     "w K TS" has TS 0: requests carry no timestamp here. */
#include "protocols/eventlog.h"
#include "sim/node.h"

#include <inttypes.h>
#include <string.h>

#define MUTEX_MAX_NODES 64
#define QUEUE_MAX 8
#define LOG_MAX (512u * 1024u)

enum { M_REQUEST = 0x61, M_OK, M_TOKEN, M_ACK };
enum { T_HOLD = 1, T_RETRY };

typedef struct Mutex {
    uint32_t self, n;
    uint64_t lamport;
    uint64_t sent;                        /* messages sent: the next one's ID */
    bool requesting, in_cs;
    uint64_t my_ts;                       /* the timestamp of the current request */
    uint64_t k;                           /* requests taken so far */
    bool ok[MUTEX_MAX_NODES];             /* answered the current request */
    uint32_t oks;
    bool deferred[MUTEX_MAX_NODES];
    uint64_t deferred_ts[MUTEX_MAX_NODES];
    FlRequest queue[QUEUE_MAX];           /* client steps waiting, oldest first */
    uint32_t queued;
    bool no_defer;                        /* note 6 */
    bool ring;                            /* note 8 */
    bool has_token;
    uint64_t token_g;                     /* the highest pass seen (held or sent) */
    bool passing;                         /* sent TOKEN(token_g), no ACK yet */
    bool full;
    FlDuration hold, retry;
} Mutex;

static const FlParam mutex_params[] = {
    { "hold", FL_PARAM_DURATION, "\"5ms\"", "how long a node stays in the critical section", NULL, 0, 0 },
    { "retry", FL_PARAM_DURATION, "\"100ms\"", "how often a requesting node resends REQUEST to the nodes whose OK it lacks", NULL, 0, 0 },
    { "algorithm", FL_PARAM_ENUM, "\"ricart-agrawala\"", "ricart-agrawala, or token-ring (note 8)",
      "ricart-agrawala|token-ring", 0, 0 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a teachable bug (note 6): none, or no-defer (answer OK at once, even in the critical section)",
      "none|no-defer", 0, 0 },
    { NULL },
};

static const char *const mutex_counters[] = {
    "mutex.entered", "mutex.requests", "mutex.oks", "mutex.deferred", "mutex.resent", "mutex.passes", "mutex.dropped", "mutex.full", NULL,
};

static void log_line(FlNode *n, Mutex *s, const char *line)
{
    fl_eventlog_append(n, &s->full, LOG_MAX, "mutex.full", line);
}

static void send_msg(FlNode *n, Mutex *s, uint32_t to, uint8_t type, uint64_t ts)
{
    uint64_t id = s->sent++;
    g_autofree char *l = g_strdup_printf("s %u %" PRIu64 "\n", to, id);
    log_line(n, s, l);
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, type);
    fl_put_u64(&w, ts);
    fl_put_u64(&w, id);
    size_t len = w.len;
    fl_writer_deinit(&w);
    fl_send(n, to, buf, len);
}

/* "e K T" or "x K T". */
static void log_cs(FlNode *n, Mutex *s, char what)
{
    g_autofree char *l = g_strdup_printf("%c %" PRIu64 " %" PRId64 "\n", what, s->k, (int64_t)fl_now(n));
    log_line(n, s, l);
}

static void enter_cs(FlNode *n, Mutex *s)
{
    s->in_cs = true;
    fl_metric_add(n, "mutex.entered", 1);
    log_cs(n, s, 'e');
    fl_timer(n, s->hold, T_HOLD);
}

static void pass_token(FlNode *n, Mutex *s);

static void start_request(FlNode *n, Mutex *s)
{
    if (s->ring) {
        s->requesting = true;
        s->k++;
        fl_metric_add(n, "mutex.requests", 1);
        g_autofree char *l = g_strdup_printf("w %" PRIu64 " 0\n", s->k);
        log_line(n, s, l);
        if (s->has_token)
            enter_cs(n, s);
        return;
    }
    s->requesting = true;
    s->my_ts = ++s->lamport;
    s->k++;
    s->oks = 0;
    memset(s->ok, 0, sizeof s->ok);
    fl_metric_add(n, "mutex.requests", 1);
    g_autofree char *l = g_strdup_printf("w %" PRIu64 " %" PRIu64 "\n", s->k, s->my_ts);
    log_line(n, s, l);
    for (uint32_t j = 0; j < s->n; j++)
        if (j != s->self)
            send_msg(n, s, j, M_REQUEST, s->my_ts);
    if (s->n == 1)
        enter_cs(n, s);
}

static void leave_cs(FlNode *n, Mutex *s)
{
    log_cs(n, s, 'x');
    s->in_cs = false;
    s->requesting = false;
    for (uint32_t j = 0; j < s->n; j++) {
        if (!s->deferred[j])
            continue;
        s->deferred[j] = false;
        send_msg(n, s, j, M_OK, s->deferred_ts[j]);
        fl_metric_add(n, "mutex.oks", 1);
    }
    if (s->queued) {
        FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true, .value = (int64_t)s->k };
        fl_reply(n, &s->queue[0], &res);
        memmove(&s->queue[0], &s->queue[1], (s->queued - 1) * sizeof s->queue[0]);
        s->queued--;
    }
    if (s->ring && s->n > 1)
        pass_token(n, s);
    if (s->queued && !s->full)
        start_request(n, s);
}

/* Note 8: hand the token on (the caller holds it). */
static void pass_token(FlNode *n, Mutex *s)
{
    s->has_token = false;
    s->passing = true;
    s->token_g++;
    fl_metric_add(n, "mutex.passes", 1);
    send_msg(n, s, (s->self + 1) % s->n, M_TOKEN, s->token_g);
}

static void on_token(FlNode *n, Mutex *s, uint32_t from, uint64_t g)
{
    send_msg(n, s, from, M_ACK, g);
    if (g <= s->token_g)
        return;   /* a resent or duplicated pass */
    s->token_g = g;
    s->has_token = true;
    s->passing = false;   /* it came round: our last pass arrived */
    if (s->requesting && !s->in_cs)
        enter_cs(n, s);
    else if (!s->in_cs)
        pass_token(n, s);
}

static void mutex_init(FlNode *n, void *state)
{
    Mutex *s = state;
    s->self = fl_self(n);
    s->n = fl_nodes(n);
    s->hold = fl_param_duration(n, "hold");
    s->retry = fl_param_duration(n, "retry");
    s->no_defer = strcmp(fl_param_enum(n, "bug"), "no-defer") == 0;
    s->ring = strcmp(fl_param_enum(n, "algorithm"), "token-ring") == 0;
    g_autofree char *h = g_strdup_printf("mutex node=%u nodes=%u bug=%s\n", s->self, s->n, fl_param_enum(n, "bug"));
    fl_disk_write(n, "log", h, strlen(h));
    fl_timer(n, s->retry, T_RETRY);
    if (s->ring && s->self == 0 && s->n > 1) {
        s->has_token = true;
        pass_token(n, s);
    } else if (s->ring && s->n == 1) {
        s->has_token = true;   /* alone: the token never leaves */
    }
}

static void on_request_msg(FlNode *n, Mutex *s, uint32_t from, uint64_t ts)
{
    /* Note 2: defer while in the CS or while our own request comes first. */
    bool mine_first = s->requesting && (s->my_ts < ts || (s->my_ts == ts && s->self < from));
    if (!s->no_defer && (s->in_cs || mine_first)) {
        if (!s->deferred[from] || s->deferred_ts[from] != ts)
            fl_metric_add(n, "mutex.deferred", 1);
        s->deferred[from] = true;
        s->deferred_ts[from] = ts;
        return;
    }
    send_msg(n, s, from, M_OK, ts);
    fl_metric_add(n, "mutex.oks", 1);
}

static void on_ok(FlNode *n, Mutex *s, uint32_t from, uint64_t ts)
{
    if (!s->requesting || s->in_cs || ts != s->my_ts || s->ok[from])
        return;   /* note 3: an answer to an older request, or a duplicate */
    s->ok[from] = true;
    if (++s->oks == s->n - 1)
        enter_cs(n, s);
}

static void mutex_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Mutex *s = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    uint64_t ts = fl_get_u64(&r);
    uint64_t id = fl_get_u64(&r);
    if (!fl_reader_done(&r) || from >= s->n || from == s->self || ts >= UINT64_MAX / 2 ||
        type < M_REQUEST || type > M_ACK || (type >= M_TOKEN) != s->ring) {
        fl_metric_add(n, "mutex.dropped", 1);   /* note 7 */
        return;
    }
    g_autofree char *l = g_strdup_printf("r %u %" PRIu64 "\n", from, id);
    log_line(n, s, l);
    if (ts > s->lamport)
        s->lamport = ts;
    s->lamport++;
    if (type == M_REQUEST)
        on_request_msg(n, s, from, ts);
    else if (type == M_OK)
        on_ok(n, s, from, ts);
    else if (type == M_TOKEN)
        on_token(n, s, from, ts);
    else if (s->passing && ts == s->token_g)
        s->passing = false;   /* M_ACK of the pass in flight */
}

static void mutex_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Mutex *s = state;
    if (tag == T_HOLD) {
        if (s->in_cs)
            leave_cs(n, s);
        return;
    }
    if (tag != T_RETRY)
        return;
    if (s->ring && s->passing) {
        send_msg(n, s, (s->self + 1) % s->n, M_TOKEN, s->token_g);
        fl_metric_add(n, "mutex.resent", 1);
    }
    if (!s->ring && s->requesting && !s->in_cs)
        for (uint32_t j = 0; j < s->n; j++)
            if (j != s->self && !s->ok[j]) {
                send_msg(n, s, j, M_REQUEST, s->my_ts);
                fl_metric_add(n, "mutex.resent", 1);
            }
    fl_timer(n, s->retry, T_RETRY);
}

static void mutex_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Mutex *s = state;
    if (req->op.kind == FL_OP_EVENT_READ) {
        fl_eventlog_reply(n, req);
        return;
    }
    if (req->op.kind != FL_OP_EVENT_STEP || s->full || s->queued == QUEUE_MAX) {
        fl_reply_fail(n, req);
        return;
    }
    if (s->queued && s->n > 1) {
        /* Note 1: busy here, try another node. */
        uint32_t to = (uint32_t)fl_rng_below(fl_rng(n), s->n - 1);
        fl_reply_redirect(n, req, to + (to >= s->self));
        return;
    }
    s->queue[s->queued++] = *req;
    if (!s->requesting)
        start_request(n, s);
}

const FlProtocol fl_proto_mutex = {
    .name = "mutex",
    .summary = "Ricart-Agrawala or a token ring for mutual exclusion (workload events, check mutual-exclusion)",
    .params = mutex_params,
    .state_size = sizeof(Mutex),
    .init = mutex_init,
    .on_message = mutex_on_message,
    .on_timer = mutex_on_timer,
    .on_request = mutex_on_request,
    .counters = mutex_counters,
    .max_nodes = MUTEX_MAX_NODES,
};
