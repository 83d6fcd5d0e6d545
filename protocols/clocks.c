/* clocks: Lamport and vector clocks on every message of a simple workload.
 *
 * Design notes.
 *  1. The workload (model `events`): a client's step asks a node to take
 *     one event: a local event with probability `local_p`, otherwise the
 *     send of a message to another node drawn from the node's own stream.
 *     A node that receives a message may pass a new one on (probability
 *     `forward_p`, at most `ttl` hops from the client's step), so that
 *     chains of causality run through several nodes.  The node answers the
 *     step with the event's Lamport clock.
 *  2. Lamport's rules (Lamport 1978, "Time, Clocks, and the Ordering of
 *     Events in a Distributed System", IR1 and IR2): a node increments its
 *     clock before each event; a message carries its send event's clock;
 *     on receipt the clock becomes max(own, message's) + 1.
 *  3. Vector clocks (Fidge 1988, Mattern 1989): the node increments its own
 *     entry before each event; a message carries the send's vector; on
 *     receipt the vector becomes the entrywise max of both, then the own
 *     entry is incremented.  Then V(a) < V(b) iff a happened before b.
 *  4. The log.  Every event is appended to the file "log" and synced before
 *     its effects: "l L V", "s SEQ TO L V", "r FROM SEQ L V" (grammar in
 *     sim/check/clocks.c note 1) under a header "clocks node=I nodes=N".
 *     The final read answers with the whole file, and sim/check/clocks.c
 *     rebuilds happens-before from the sends and receipts alone.  A restart
 *     takes its clocks back from the last line: a clock that went back to 0
 *     after a crash would break the clock condition (try it: the log is
 *     what a real node would have to persist too); the restart itself is
 *     a local event.  The log is bounded
 *     (LOG_MAX): when full, the node writes "full" and takes no more events
 *     (steps fail, messages are dropped unread).
 *  5. Teachable bug, `bug: "no-max"`: on receipt the clocks only tick
 *     (L + 1, V[self] + 1), forgetting the max with the message's clock.
 *     A message from a node whose clock is ahead then arrives "before" it
 *     was sent, and the checker names the edge where L did not grow.
 *     `bug: "volatile"`: a restarted node takes its message numbers back
 *     from the log but starts its clocks again at 0, as if they were not
 *     worth persisting; its first event after the restart (the restart,
 *     a local event) has smaller clocks than its last one before the crash.
 *  6. Messages that do not decode (wrong type, length or vector size) are
 *     dropped and counted (clocks.dropped), never trusted. */
#include "protocols/eventlog.h"
#include "sim/node.h"

#include <inttypes.h>
#include <string.h>

#define CLOCKS_MAX_NODES 64
#define LOG_MAX (512u * 1024u)   /* bytes; well under FL_MAX_MESSAGE for the final read */

enum { MSG_CLOCKS = 0xC1 };

typedef struct Clocks {
    uint32_t self, n;
    uint64_t lamport;
    uint64_t vec[CLOCKS_MAX_NODES];
    uint64_t seq;          /* the next message's number */
    bool full;
    bool no_max;           /* note 5 */
    bool volatile_clocks;  /* note 5 */
    double local_p, forward_p;
    uint32_t ttl;
} Clocks;

static const FlParam clocks_params[] = {
    { "bug", FL_PARAM_ENUM, "\"none\"", "a teachable bug (note 5): none, no-max (no max with the message's "
      "clock on receipt) or volatile (clocks restart at 0 after a crash)", "none|no-max|volatile", 0, 0 },
    { "local_p", FL_PARAM_DOUBLE, "0.25", "the share of steps that are local events (the rest send a message)",
      NULL, 0, 1 },
    { "forward_p", FL_PARAM_DOUBLE, "0.5", "the chance that a receipt passes a new message on", NULL, 0, 1 },
    { "ttl", FL_PARAM_INT, "3", "the most hops a chain of forwarded messages takes", NULL, 0, 64 },
    { NULL },
};

static const char *const clocks_counters[] = {
    "clocks.local", "clocks.sent", "clocks.received", "clocks.dropped", "clocks.full", NULL,
};

/* ---- The log (note 4) ----------------------------------------------- */

static void log_vector(GString *s, const Clocks *c)
{
    for (uint32_t k = 0; k < c->n; k++)
        g_string_append_printf(s, "%s%" PRIu64, k ? "," : "", c->vec[k]);
    g_string_append_c(s, '\n');
}

/* Appends the line @s (durably) and marks the log full when it nears its
 * bound. */
static void log_append(FlNode *n, Clocks *c, const GString *s)
{
    fl_disk_append(n, "log", s->str, s->len);
    size_t len = 0;
    fl_disk_view(n, "log", &len);
    if (len + 1024 > LOG_MAX) {
        fl_disk_append(n, "log", "full\n", 5);
        c->full = true;
        fl_metric_add(n, "clocks.full", 1);
    }
    fl_disk_sync(n, "log");
}

/* ---- Clock rules (notes 2, 3) ---------------------------------------- */

/* IR1: tick before every event. */
static void tick(Clocks *c)
{
    c->lamport++;
    c->vec[c->self]++;
}

/* IR2: on receipt, take the max with the message's clocks, then tick. */
static void merge(Clocks *c, uint64_t lamport, const uint64_t *vec)
{
    if (!c->no_max) {
        if (lamport > c->lamport)
            c->lamport = lamport;
        for (uint32_t k = 0; k < c->n; k++)
            if (vec[k] > c->vec[k])
                c->vec[k] = vec[k];
    }
    tick(c);
}

/* ---- Messages -------------------------------------------------------- */

/* MSG_CLOCKS: u8 type, u8 ttl, u64 seq, u64 lamport, u8 n, n x u64 vector. */
static size_t encode(const Clocks *c, uint8_t ttl, uint8_t *buf, size_t cap)
{
    FlWriter w;
    fl_writer_init(&w, buf, cap);
    fl_put_u8(&w, MSG_CLOCKS);
    fl_put_u8(&w, ttl);
    fl_put_u64(&w, c->seq);
    fl_put_u64(&w, c->lamport);
    fl_put_u8(&w, (uint8_t)c->n);
    for (uint32_t k = 0; k < c->n; k++)
        fl_put_u64(&w, c->vec[k]);
    size_t len = w.len;
    fl_writer_deinit(&w);
    return len;
}

typedef struct {
    uint8_t ttl;
    uint64_t seq, lamport;
    uint64_t vec[CLOCKS_MAX_NODES];
} ClocksMsg;

static bool decode(const Clocks *c, const uint8_t *msg, size_t len, ClocksMsg *m)
{
    FlReader r;
    fl_reader_init(&r, msg, len);
    if (fl_get_u8(&r) != MSG_CLOCKS)
        return false;
    m->ttl = fl_get_u8(&r);
    m->seq = fl_get_u64(&r);
    m->lamport = fl_get_u64(&r);
    if (fl_get_u8(&r) != c->n || !fl_reader_ok(&r))
        return false;
    for (uint32_t k = 0; k < c->n; k++)
        m->vec[k] = fl_get_u64(&r);
    return fl_reader_done(&r);
}

static uint32_t random_peer(FlNode *n, const Clocks *c)
{
    uint32_t p = (uint32_t)fl_rng_below(fl_rng(n), c->n - 1);
    return p >= c->self ? p + 1 : p;
}

/* A send event: tick, log, then send (note 4: logged before its effect). */
static void send_event(FlNode *n, Clocks *c, uint8_t ttl)
{
    uint32_t to = random_peer(n, c);
    tick(c);
    g_autoptr(GString) s = g_string_new(NULL);
    g_string_printf(s, "s %" PRIu64 " %u %" PRIu64 " ", c->seq, to, c->lamport);
    log_vector(s, c);
    log_append(n, c, s);
    uint8_t buf[32 + 8 * CLOCKS_MAX_NODES];
    size_t len = encode(c, ttl, buf, sizeof buf);
    c->seq++;
    fl_send(n, to, buf, len);
    fl_metric_add(n, "clocks.sent", 1);
}

static void local_event(FlNode *n, Clocks *c)
{
    tick(c);
    g_autoptr(GString) s = g_string_new(NULL);
    g_string_printf(s, "l %" PRIu64 " ", c->lamport);
    log_vector(s, c);
    log_append(n, c, s);
    fl_metric_add(n, "clocks.local", 1);
}

/* ---- Handlers -------------------------------------------------------- */

static void setup(FlNode *n, Clocks *c)
{
    c->self = fl_self(n);
    c->n = fl_nodes(n);
    c->no_max = strcmp(fl_param_enum(n, "bug"), "no-max") == 0;
    c->volatile_clocks = strcmp(fl_param_enum(n, "bug"), "volatile") == 0;
    c->local_p = fl_param_double(n, "local_p");
    c->forward_p = fl_param_double(n, "forward_p");
    c->ttl = (uint32_t)fl_param_int(n, "ttl");
}

static void clocks_init(FlNode *n, void *state)
{
    Clocks *c = state;
    setup(n, c);
    g_autofree char *h = g_strdup_printf("clocks node=%u nodes=%u bug=%s\n", c->self, c->n,
                                         fl_param_enum(n, "bug"));
    fl_disk_write(n, "log", h, strlen(h));
    fl_disk_sync(n, "log");
}

/* Reads "L V" at @p into the clocks; false if it does not parse. */
static bool restore_clocks(Clocks *c, const char *p)
{
    char *end;
    c->lamport = g_ascii_strtoull(p, &end, 10);
    if (end == p || *end != ' ')
        return false;
    p = end + 1;
    for (uint32_t k = 0; k < c->n; k++) {
        if (k && *p++ != ',')
            return false;
        c->vec[k] = g_ascii_strtoull(p, &end, 10);
        if (end == p)
            return false;
        p = end;
    }
    return *p == '\0';
}

/* After a crash: the clocks come back from the last event in the synced
 * log, the next message number from the number of sends (note 4). */
static void clocks_recover(FlNode *n, void *state)
{
    Clocks *c = state;
    setup(n, c);
    size_t len = 0;
    const uint8_t *data = fl_disk_view(n, "log", &len);
    if (!data || len == 0) {
        clocks_init(n, state);
        return;
    }
    g_autofree char *text = g_strndup((const char *)data, len);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 1; lines[i]; i++) {
        const char *l = lines[i];
        if (strcmp(l, "full") == 0) {
            c->full = true;
        } else if (l[0] == 'l' && l[1] == ' ') {
            restore_clocks(c, l + 2);
        } else if (l[0] == 's' || l[0] == 'r') {
            /* Skip the two numbers before the clocks. */
            const char *p = strchr(l + 2, ' ');
            if (p && restore_clocks(c, p + 1 + strcspn(p + 1, " ") + 1) && l[0] == 's')
                c->seq++;
        }
    }
    if (c->volatile_clocks) {
        c->lamport = 0;   /* note 5: the bug */
        memset(c->vec, 0, sizeof c->vec);
    }
    /* The restart is an event of its own (note 4). */
    if (!c->full)
        local_event(n, c);
}

static void on_clocks(FlNode *n, Clocks *c, uint32_t from, const ClocksMsg *m)
{
    merge(c, m->lamport, m->vec);
    g_autoptr(GString) s = g_string_new(NULL);
    g_string_printf(s, "r %u %" PRIu64 " %" PRIu64 " ", from, m->seq, c->lamport);
    log_vector(s, c);
    log_append(n, c, s);
    fl_metric_add(n, "clocks.received", 1);
    if (c->full || m->ttl == 0 || c->n < 2)
        return;
    if (fl_rng_chance(fl_rng(n), c->forward_p) || fl_buggify(n, "clocks.forward"))
        send_event(n, c, (uint8_t)(m->ttl - 1));
}

static void clocks_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Clocks *c = state;
    ClocksMsg m;
    if (from >= c->n || !decode(c, msg, len, &m)) {
        fl_metric_add(n, "clocks.dropped", 1);   /* note 6 */
        return;
    }
    if (c->full)
        return;   /* note 4: a full log takes no more events */
    on_clocks(n, c, from, &m);
}

static void clocks_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Clocks *c = state;
    if (req->op.kind == FL_OP_EVENT_READ) {
        fl_eventlog_reply(n, req);
        return;
    }
    if (req->op.kind != FL_OP_EVENT_STEP || c->full) {
        fl_reply_fail(n, req);
        return;
    }
    if (c->n < 2 || fl_rng_chance(fl_rng(n), c->local_p))
        local_event(n, c);
    else
        send_event(n, c, (uint8_t)c->ttl);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true,
                     .value = (int64_t)c->lamport };
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_clocks = {
    .name = "clocks",
    .summary = "Lamport and vector clocks on every message; the logs let the checker rebuild happens-before (workload events)",
    .params = clocks_params,
    .state_size = sizeof(Clocks),
    .init = clocks_init,
    .recover = clocks_recover,
    .on_message = clocks_on_message,
    .on_request = clocks_on_request,
    .counters = clocks_counters,
    .max_nodes = CLOCKS_MAX_NODES,
};
