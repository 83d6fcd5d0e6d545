/* broadcast: the broadcast hierarchy, one variant per param (`variant`):
 * best-effort, reliable (eager), fifo, causal and total order (a fixed
 * sequencer).  Cachin, Guerraoui, Rodrigues, "Introduction to Reliable and
 * Secure Distributed Programming", chapter 3 (modules 3.1, 3.2, 3.9, 3.12)
 * and 6.1 (total order).
 *
 * Design notes.
 *  1. The workload (model `events`): a client's step asks a node to
 *     broadcast a new message, named ORIGIN:SEQ (SEQ counts the origin's
 *     broadcasts from 0); a node sends a quarter of the steps on to another
 *     node, so that the clients spread.  Each node logs "b SEQ" when it broadcasts and
 *     "d ORIGIN SEQ" when it delivers, on disk, synced; the final reads
 *     fetch the logs and sim/check/broadcast.c judges validity, agreement,
 *     integrity, FIFO, causal and total order, each apart.
 *  2. best-effort (Algorithm 3.1): send to every node, deliver on receipt;
 *     the origin delivers its own at once.  A lost message is lost.
 *  3. reliable, eager (Algorithm 3.3): a node that receives a message for
 *     the first time sends it on to every node, then delivers it.  Losing a
 *     message now takes losing every copy.
 *  4. fifo (Algorithm 3.12): reliable, and a node delivers the origin's
 *     messages in SEQ order, holding back those that arrive early.
 *  5. causal (Algorithm 3.15, "no-waiting" replaced by a vector of
 *     dependencies): a message carries, per origin, how many of its
 *     messages the sender had delivered when it broadcast (its own count
 *     included); a node delivers it once it has delivered at least as many
 *     of every origin's, and holds it back before.
 *  6. total (fixed sequencer): the origin sends its message to node 0,
 *     which numbers messages in the order it takes them (each origin's in
 *     SEQ order) and relays the numbered message eagerly, as in note 3;
 *     every node delivers in that number's order.  The origin resends
 *     (every 50ms) its messages it has not yet delivered, since the one
 *     message to node 0 may be lost.  Node 0 is a single point of failure:
 *     a crash of node 0 stops delivery (not shown here).
 *  7. A restarted node reloads what it delivered from its log (no message
 *     is delivered twice) but missed what came while it was down; the
 *     checker counts it as faulty and holds only correct nodes to validity,
 *     agreement and the orders.
 *  8. Messages: u8 type (DATA, ORDERED), u32 origin, u64 seq, u64 global
 *     number (ORDERED), u8 n, n x u64 dependencies (causal).  One that does
 *     not decode is dropped (broadcast.dropped). */
#include "protocols/eventlog.h"
#include "sim/node.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define BC_MAX_NODES 32
#define LOG_MAX (512u * 1024u)

enum { M_DATA = 0xD1, M_ORDERED };
enum { V_BEST, V_RELIABLE, V_FIFO, V_CAUSAL, V_TOTAL };
enum { T_RETRY = 1 };
#define RETRY_NS 50000000   /* total: how often an origin resends what is not yet ordered */

typedef struct {
    uint32_t origin;
    uint64_t seq, gseq;
    uint64_t deps[BC_MAX_NODES];
} BcMsg;

typedef struct Broadcast {
    uint32_t self, n;
    int variant;
    uint64_t seq;                          /* our next broadcast */
    GHashTable *seen;                      /* origin << 40 | seq: relayed or delivered */
    GHashTable *delivered_set;             /* origin << 40 | seq: delivered */
    uint64_t delivered[BC_MAX_NODES];      /* per origin: how many delivered (fifo, causal: a prefix) */
    GArray *held;                          /* BcMsg held back */
    /* total order */
    uint64_t next_gseq;                    /* the next number to deliver */
    uint64_t assigned;                     /* node 0: the next number to give */
    uint64_t sequenced[BC_MAX_NODES];      /* node 0: per origin, how many numbered */
    GArray *to_sequence;                   /* node 0: DATA waiting for its origin's earlier ones */
    bool full;
} Broadcast;

static const FlParam broadcast_params[] = {
    { "variant", FL_PARAM_ENUM, "\"reliable\"", "best-effort, reliable (eager), fifo, causal or total (fixed sequencer at node 0)",
      "best-effort|reliable|fifo|causal|total", 0, 0 },
    { NULL },
};

static const char *const broadcast_counters[] = {
    "broadcast.sent", "broadcast.delivered", "broadcast.held", "broadcast.dropped", "broadcast.full", NULL,
};

static uint64_t key(uint32_t origin, uint64_t seq) { return (uint64_t)origin << 40 | seq; }

static void log_line(FlNode *n, Broadcast *b, const char *line)
{
    size_t len = 0;
    fl_disk_view(n, "log", &len);
    if (!b->full && len + strlen(line) + 64 > LOG_MAX) {
        fl_disk_append(n, "log", "full\n", 5);
        b->full = true;
        fl_metric_add(n, "broadcast.full", 1);
    }
    if (!b->full)
        fl_disk_append(n, "log", line, strlen(line));
    fl_disk_sync(n, "log");
}

static size_t encode(const Broadcast *b, uint8_t type, const BcMsg *m, uint8_t *buf, size_t cap)
{
    FlWriter w;
    fl_writer_init(&w, buf, cap);
    fl_put_u8(&w, type);
    fl_put_u32(&w, m->origin);
    fl_put_u64(&w, m->seq);
    fl_put_u64(&w, m->gseq);
    fl_put_u8(&w, (uint8_t)b->n);
    for (uint32_t k = 0; k < b->n; k++)
        fl_put_u64(&w, m->deps[k]);
    size_t len = w.len;
    fl_writer_deinit(&w);
    return len;
}

static bool decode(const Broadcast *b, const uint8_t *msg, size_t len, uint8_t *type, BcMsg *m)
{
    FlReader r;
    fl_reader_init(&r, msg, len);
    *type = fl_get_u8(&r);
    m->origin = fl_get_u32(&r);
    m->seq = fl_get_u64(&r);
    m->gseq = fl_get_u64(&r);
    if (fl_get_u8(&r) != b->n || !fl_reader_ok(&r))
        return false;
    for (uint32_t k = 0; k < b->n; k++)
        m->deps[k] = fl_get_u64(&r);
    return fl_reader_done(&r) && m->origin < b->n && m->seq < (1ull << 40) &&
           (*type == M_DATA || *type == M_ORDERED);
}

static void send_to(FlNode *n, Broadcast *b, uint32_t to, uint8_t type, const BcMsg *m)
{
    uint8_t buf[32 + 8 * BC_MAX_NODES];
    size_t len = encode(b, type, m, buf, sizeof buf);
    fl_send(n, to, buf, len);
    fl_metric_add(n, "broadcast.sent", 1);
}

static void send_all(FlNode *n, Broadcast *b, uint8_t type, const BcMsg *m)
{
    for (uint32_t j = 0; j < b->n; j++)
        if (j != b->self)
            send_to(n, b, j, type, m);
}

static void deliver(FlNode *n, Broadcast *b, const BcMsg *m)
{
    uint64_t k = key(m->origin, m->seq);
    if (g_hash_table_contains(b->delivered_set, &k))
        return;
    uint64_t *kp = g_new(uint64_t, 1);
    *kp = k;
    g_hash_table_add(b->delivered_set, kp);
    b->delivered[m->origin]++;
    if (b->variant == V_TOTAL)
        b->next_gseq++;
    char line[64];
    snprintf(line, sizeof line, "d %u %" PRIu64 "\n", m->origin, m->seq);
    log_line(n, b, line);
    fl_metric_add(n, "broadcast.delivered", 1);
}

/* Notes 4-6: whether @m may be delivered now. */
static bool deliverable(const Broadcast *b, const BcMsg *m)
{
    switch (b->variant) {
    case V_FIFO:
        return b->delivered[m->origin] == m->seq;
    case V_CAUSAL:
        for (uint32_t k = 0; k < b->n; k++)
            if (b->delivered[k] < m->deps[k])
                return false;
        return b->delivered[m->origin] == m->seq;
    case V_TOTAL:
        return m->gseq == b->next_gseq;
    default:
        return true;
    }
}

/* Delivers @m or holds it back, then whatever it unblocked. */
static void offer(FlNode *n, Broadcast *b, const BcMsg *m)
{
    if (!deliverable(b, m)) {
        g_array_append_val(b->held, *m);
        fl_metric_add(n, "broadcast.held", 1);
        return;
    }
    deliver(n, b, m);
    for (bool again = true; again;) {
        again = false;
        for (guint i = 0; i < b->held->len; i++) {
            BcMsg h = g_array_index(b->held, BcMsg, i);
            if (deliverable(b, &h)) {
                g_array_remove_index(b->held, i);
                deliver(n, b, &h);
                again = true;
                break;
            }
        }
    }
}

/* First sight of a message (by key): relay it (notes 3-6), then offer it. */
static void first_sight(FlNode *n, Broadcast *b, uint8_t type, const BcMsg *m)
{
    uint64_t k = type == M_ORDERED ? (1ull << 63) | m->gseq : key(m->origin, m->seq);
    if (g_hash_table_contains(b->seen, &k))
        return;
    uint64_t *kp = g_new(uint64_t, 1);
    *kp = k;
    g_hash_table_add(b->seen, kp);
    if (b->variant != V_BEST)
        send_all(n, b, type, m);
    offer(n, b, m);
}

/* Note 6: node 0 numbers each origin's messages in SEQ order. */
static void sequence(FlNode *n, Broadcast *b, const BcMsg *m)
{
    uint64_t k = key(m->origin, m->seq);
    if (m->seq < b->sequenced[m->origin] || g_hash_table_contains(b->seen, &k))
        return;
    uint64_t *kp = g_new(uint64_t, 1);
    *kp = k;
    g_hash_table_add(b->seen, kp);
    g_array_append_val(b->to_sequence, *m);
    for (bool again = true; again;) {
        again = false;
        for (guint i = 0; i < b->to_sequence->len; i++) {
            BcMsg d = g_array_index(b->to_sequence, BcMsg, i);
            if (d.seq != b->sequenced[d.origin])
                continue;
            g_array_remove_index(b->to_sequence, i);
            b->sequenced[d.origin]++;
            d.gseq = b->assigned++;
            first_sight(n, b, M_ORDERED, &d);
            again = true;
            break;
        }
    }
}

static void setup(FlNode *n, Broadcast *b)
{
    b->self = fl_self(n);
    b->n = fl_nodes(n);
    const char *v = fl_param_enum(n, "variant");
    b->variant = strcmp(v, "best-effort") == 0 ? V_BEST
                 : strcmp(v, "fifo") == 0      ? V_FIFO
                 : strcmp(v, "causal") == 0    ? V_CAUSAL
                 : strcmp(v, "total") == 0     ? V_TOTAL
                                               : V_RELIABLE;
    b->seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    b->delivered_set = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    b->held = g_array_new(FALSE, FALSE, sizeof(BcMsg));
    b->to_sequence = g_array_new(FALSE, FALSE, sizeof(BcMsg));
    if (b->variant == V_TOTAL && b->self != 0)
        fl_timer(n, RETRY_NS, T_RETRY);
}

/* Note 6: resend to node 0 what it has not ordered yet (as far as we know:
 * what we have not delivered). */
static void broadcast_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Broadcast *b = state;
    if (tag != T_RETRY)
        return;
    for (uint64_t s = b->delivered[b->self]; s < b->seq && s < b->delivered[b->self] + 64; s++) {
        BcMsg m = { .origin = b->self, .seq = s };
        send_to(n, b, 0, M_DATA, &m);
    }
    fl_timer(n, RETRY_NS, T_RETRY);
}

static void broadcast_init(FlNode *n, void *state)
{
    Broadcast *b = state;
    setup(n, b);
    g_autofree char *h = g_strdup_printf("broadcast node=%u nodes=%u variant=%s\n", b->self, b->n,
                                         fl_param_enum(n, "variant"));
    fl_disk_write(n, "log", h, strlen(h));
    fl_disk_sync(n, "log");
}

/* Note 7: what was delivered and broadcast comes back from the log. */
static void broadcast_recover(FlNode *n, void *state)
{
    Broadcast *b = state;
    setup(n, b);
    size_t len = 0;
    const uint8_t *data = fl_disk_view(n, "log", &len);
    if (!data || !len) {
        broadcast_init(n, state);
        return;
    }
    g_autofree char *text = g_strndup((const char *)data, len);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 1; lines[i]; i++) {
        unsigned o;
        unsigned long long s;
        if (sscanf(lines[i], "d %u %llu", &o, &s) == 2 && o < b->n) {
            uint64_t *kp = g_new(uint64_t, 1);
            *kp = key(o, s);
            g_hash_table_add(b->delivered_set, kp);
            b->delivered[o]++;
            b->next_gseq++;
        } else if (sscanf(lines[i], "b %llu", &s) == 1) {
            b->seq = s + 1;
        } else if (strcmp(lines[i], "full") == 0) {
            b->full = true;
        }
    }
    log_line(n, b, "up\n");
}

static void broadcast_destroy(FlNode *n, void *state)
{
    Broadcast *b = state;
    if (b->seen) {
        g_hash_table_unref(b->seen);
        g_hash_table_unref(b->delivered_set);
        g_array_free(b->held, TRUE);
        g_array_free(b->to_sequence, TRUE);
    }
}

static void broadcast_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Broadcast *b = state;
    uint8_t type;
    BcMsg m;
    if (!decode(b, msg, len, &type, &m) || (type == M_ORDERED && b->variant != V_TOTAL)) {
        fl_metric_add(n, "broadcast.dropped", 1);   /* note 8 */
        return;
    }
    if (b->full)
        return;
    if (type == M_DATA && b->variant == V_TOTAL) {
        if (b->self == 0)
            sequence(n, b, &m);
        return;
    }
    if (b->variant == V_BEST)
        offer(n, b, &m);
    else
        first_sight(n, b, type, &m);
}

static void broadcast_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Broadcast *b = state;
    if (req->op.kind == FL_OP_EVENT_READ) {
        fl_eventlog_reply(n, req);
        return;
    }
    if (req->op.kind != FL_OP_EVENT_STEP || b->full || b->n > BC_MAX_NODES) {
        fl_reply_fail(n, req);
        return;
    }
    if (b->n > 1 && fl_rng_chance(fl_rng(n), 0.25)) {
        /* Note 1: clients stay with the node that last answered them; a
         * quarter of the steps are sent elsewhere, so that every node
         * broadcasts (with one origin, FIFO order would be total order). */
        uint32_t to = (uint32_t)fl_rng_below(fl_rng(n), b->n - 1);
        fl_reply_redirect(n, req, to + (to >= b->self));
        return;
    }
    BcMsg m = { .origin = b->self, .seq = b->seq++ };
    memcpy(m.deps, b->delivered, sizeof m.deps);   /* note 5: what we delivered */
    m.deps[b->self] = m.seq;
    char line[48];
    snprintf(line, sizeof line, "b %" PRIu64 "\n", m.seq);
    log_line(n, b, line);
    if (b->variant == V_TOTAL) {
        if (b->self == 0)
            sequence(n, b, &m);
        else
            send_to(n, b, 0, M_DATA, &m);
    } else if (b->variant == V_BEST) {
        send_all(n, b, M_DATA, &m);
        offer(n, b, &m);
    } else {
        first_sight(n, b, M_DATA, &m);
    }
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true, .value = (int64_t)m.seq };
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_broadcast = {
    .name = "broadcast",
    .summary = "broadcast: best-effort, reliable (eager), fifo, causal, total order (fixed sequencer) (workload events)",
    .params = broadcast_params,
    .state_size = sizeof(Broadcast),
    .init = broadcast_init,
    .recover = broadcast_recover,
    .destroy = broadcast_destroy,
    .on_message = broadcast_on_message,
    .on_timer = broadcast_on_timer,
    .on_request = broadcast_on_request,
    .counters = broadcast_counters,
    .max_nodes = BC_MAX_NODES,
};
