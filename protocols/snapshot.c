/* snapshot: Chandy-Lamport global snapshots of a bank (Chandy, Lamport 1985,
 * "Distributed Snapshots: Determining Global States of Distributed
 * Systems", section 3).
 *
 * Design notes.
 *  1. The bank: every node opens with `initial` money.  A client's step
 *     asks a node to transfer a random amount (1 .. 100) to a random other
 *     node: the sender debits at once, the receiver credits on receipt.  A
 *     node holding less than 100 redirects the client to another node.  Money is only ever in an account or in
 *     a channel, so every consistent global state holds n x initial.
 *  2. The algorithm.  Node 0 starts snapshot K every `interval` (when its
 *     previous one is complete here): it records its balance, sends MARKER
 *     K on every outgoing channel and starts recording every incoming one.
 *     A node that receives MARKER K for the first time records its balance,
 *     takes the channel it came on as empty, sends MARKER K everywhere and
 *     records its other incoming channels; a channel's recording stops at
 *     its marker, and holds the transfers that arrived before it.  With
 *     FIFO channels (network "fifo": true) the recorded state is a
 *     consistent cut: exactly the transfers sent before the sender's record
 *     and received after the receiver's are in the channels.
 *  3. The log ("log" on disk, served by the final read), one line per
 *     event in order: "s SEQ TO AMT" (a transfer sent, message SELF:SEQ),
 *     "r FROM SEQ AMT" (received), "c K BAL" (the node recorded its balance
 *     for snapshot K here), "k K FROM SEQ,SEQ," (the channel from FROM
 *     recorded for K holds these transfers).  sim/check/snapshot.c rebuilds
 *     the cut from the positions of the "c" lines and judges it.
 *  4. Teachable bug `no-markers`: node 0 tells every node to record its
 *     balance now (SNAP K) and nobody records channels.  Transfers in
 *     flight vanish from the snapshot (money is not conserved), and a node
 *     that records late counts transfers the sender sent after its own
 *     record (received but, in the snapshot, never sent).  The other bug is
 *     in the network: the algorithm on non-FIFO channels
 *     (snapshot-non-fifo), where a marker can overtake a transfer.
 *  5. Messages: u8 type, u64 number (transfer SEQ or snapshot K), u64
 *     amount.  One that does not decode is dropped (snapshot.dropped). */
#include "protocols/eventlog.h"
#include "sim/node.h"

#include <inttypes.h>
#include <string.h>

#define SNAP_MAX_NODES 64
#define LOG_MAX (512u * 1024u)

enum { M_TRANSFER = 0x51, M_MARKER, M_SNAP };
enum { T_SNAP = 1 };

typedef struct Snapshot {
    uint32_t self, n;
    int64_t balance;
    uint64_t seq;
    uint64_t snap_id;                  /* the latest snapshot recorded here (0: none) */
    bool recording[SNAP_MAX_NODES];    /* channel from j is being recorded for snap_id */
    uint32_t waiting;                  /* channels still recording */
    GString *chan[SNAP_MAX_NODES];     /* what each recorded channel holds: "SEQ,SEQ," */
    bool no_markers;                   /* note 4 */
    bool full;
    FlDuration interval;
} Snapshot;

static const FlParam snapshot_params[] = {
    { "initial", FL_PARAM_INT, "1000", "every account's opening balance", NULL, 1, 1000000000 },
    { "interval", FL_PARAM_DURATION, "\"300ms\"", "how often node 0 starts a snapshot", NULL, 0, 0 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a teachable bug (note 4): none, or no-markers (every node records when told, no channel state)",
      "none|no-markers", 0, 0 },
    { NULL },
};

static const char *const snapshot_counters[] = {
    "snapshot.transfers", "snapshot.started", "snapshot.markers", "snapshot.dropped", "snapshot.full", NULL,
};

static void log_line(FlNode *n, Snapshot *s, const char *line)
{
    fl_eventlog_append(n, &s->full, LOG_MAX, "snapshot.full", line);
}

static void send_msg(FlNode *n, uint32_t to, uint8_t type, uint64_t num, uint64_t amount)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, type);
    fl_put_u64(&w, num);
    fl_put_u64(&w, amount);
    size_t len = w.len;
    fl_writer_deinit(&w);
    fl_send(n, to, buf, len);
}

/* Note 2: record the balance, then markers out, recording in. */
static void record_state(FlNode *n, Snapshot *s, uint64_t k)
{
    s->snap_id = k;
    g_autofree char *l = g_strdup_printf("c %" PRIu64 " %" PRId64 "\n", k, s->balance);
    log_line(n, s, l);
    if (s->no_markers) {
        /* Note 4: the bug: no channel is recorded. */
        for (uint32_t j = 0; j < s->n; j++) {
            if (j == s->self)
                continue;
            g_autofree char *c = g_strdup_printf("k %" PRIu64 " %u \n", k, j);
            log_line(n, s, c);
        }
        s->waiting = 0;
        return;
    }
    s->waiting = 0;
    for (uint32_t j = 0; j < s->n; j++) {
        if (j == s->self)
            continue;
        s->recording[j] = true;
        g_string_truncate(s->chan[j], 0);
        s->waiting++;
        send_msg(n, j, M_MARKER, k, 0);
        fl_metric_add(n, "snapshot.markers", 1);
    }
}

/* A channel's recording stops at its marker. */
static void close_channel(FlNode *n, Snapshot *s, uint32_t from)
{
    if (!s->recording[from])
        return;
    s->recording[from] = false;
    s->waiting--;
    g_autofree char *l = g_strdup_printf("k %" PRIu64 " %u %s\n", s->snap_id, from, s->chan[from]->str);
    log_line(n, s, l);
}

static void snapshot_init(FlNode *n, void *state)
{
    Snapshot *s = state;
    s->self = fl_self(n);
    s->n = fl_nodes(n);
    s->balance = fl_param_int(n, "initial");
    s->interval = fl_param_duration(n, "interval");
    s->no_markers = strcmp(fl_param_enum(n, "bug"), "no-markers") == 0;
    for (uint32_t j = 0; j < s->n; j++)
        s->chan[j] = g_string_new(NULL);
    g_autofree char *h = g_strdup_printf("snapshot node=%u nodes=%u initial=%" PRId64 " bug=%s\n", s->self, s->n,
                                         s->balance, fl_param_enum(n, "bug"));
    fl_disk_write(n, "log", h, strlen(h));
    if (s->self == 0)
        fl_timer(n, s->interval, T_SNAP);
}

static void snapshot_destroy(FlNode *n, void *state)
{
    Snapshot *s = state;
    for (uint32_t j = 0; j < SNAP_MAX_NODES; j++)
        if (s->chan[j])
            g_string_free(s->chan[j], TRUE);
}

static void on_transfer(FlNode *n, Snapshot *s, uint32_t from, uint64_t seq, uint64_t amount)
{
    s->balance += (int64_t)amount;
    g_autofree char *l = g_strdup_printf("r %u %" PRIu64 " %" PRIu64 "\n", from, seq, amount);
    log_line(n, s, l);
    if (s->recording[from])
        g_string_append_printf(s->chan[from], "%" PRIu64 ",", seq);
}

static void on_marker(FlNode *n, Snapshot *s, uint32_t from, uint64_t k)
{
    if (k > s->snap_id) {
        record_state(n, s, k);
        close_channel(n, s, from);   /* it came first on this channel: empty */
    } else if (k == s->snap_id) {
        close_channel(n, s, from);
    }
}

static void snapshot_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Snapshot *s = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    uint64_t num = fl_get_u64(&r);
    uint64_t amount = fl_get_u64(&r);
    if (!fl_reader_done(&r) || from >= s->n || amount > (uint64_t)INT64_MAX / 2) {
        fl_metric_add(n, "snapshot.dropped", 1);   /* note 5 */
        return;
    }
    switch (type) {
    case M_TRANSFER:
        on_transfer(n, s, from, num, amount);
        break;
    case M_MARKER:
        on_marker(n, s, from, num);
        break;
    case M_SNAP:
        if (num > s->snap_id)
            record_state(n, s, num);
        break;
    default:
        fl_metric_add(n, "snapshot.dropped", 1);
        break;
    }
}

static void snapshot_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Snapshot *s = state;
    if (tag != T_SNAP)
        return;
    if (s->waiting == 0 && !s->full) {
        uint64_t k = s->snap_id + 1;
        fl_metric_add(n, "snapshot.started", 1);
        record_state(n, s, k);
        if (s->no_markers)
            for (uint32_t j = 1; j < s->n; j++)
                send_msg(n, j, M_SNAP, k, 0);
    }
    fl_timer(n, s->interval, T_SNAP);
}

static void snapshot_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Snapshot *s = state;
    if (req->op.kind == FL_OP_EVENT_READ) {
        fl_eventlog_reply(n, req);
        return;
    }
    if (req->op.kind != FL_OP_EVENT_STEP || s->full || s->n < 2) {
        fl_reply_fail(n, req);
        return;
    }
    uint32_t to = (uint32_t)fl_rng_below(fl_rng(n), s->n - 1);
    to += to >= s->self;
    if (s->balance < 100) {
        /* Note 1: short of money, send the client to another branch (clients
         * stay with the node that last answered them). */
        fl_reply_redirect(n, req, to);
        return;
    }
    uint64_t amount = 1 + fl_rng_below(fl_rng(n), 100);
    s->balance -= (int64_t)amount;
    g_autofree char *l = g_strdup_printf("s %" PRIu64 " %u %" PRIu64 "\n", s->seq, to, amount);
    log_line(n, s, l);
    send_msg(n, to, M_TRANSFER, s->seq, amount);
    s->seq++;
    fl_metric_add(n, "snapshot.transfers", 1);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true, .value = s->balance };
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_snapshot = {
    .name = "snapshot",
    .summary = "Chandy-Lamport snapshots of bank transfers over FIFO channels (workload events, check consistent-cut)",
    .params = snapshot_params,
    .state_size = sizeof(Snapshot),
    .init = snapshot_init,
    .destroy = snapshot_destroy,
    .on_message = snapshot_on_message,
    .on_timer = snapshot_on_timer,
    .on_request = snapshot_on_request,
    .counters = snapshot_counters,
    .max_nodes = SNAP_MAX_NODES,
};
