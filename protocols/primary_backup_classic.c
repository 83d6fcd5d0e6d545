/* primary-backup, classic mode (failover off, mode sync): the protocol as
 * it was before views were added, kept as it was because scenarios and
 * tests teach with it (00-basics/primary-backup, 01-failure/pb-*).
 *
 * Design notes.
 * 1. The primary (node 0, for ever) orders every update: it gives it the
 *    next sequence number, logs it (synced), applies it, and sends it to
 *    every backup.  It answers the client only when every backup has
 *    acknowledged that sequence number, so an acknowledged update is on
 *    every replica's disk.
 * 2. Backups apply updates strictly in sequence order, log them (synced)
 *    before acknowledging, and acknowledge with the highest sequence number
 *    they hold; a gap makes them answer with what they have, and the
 *    primary's retransmit timer resends from there.  Loss and duplication
 *    are therefore harmless.
 * 3. Reads are served by the primary from its own state: it is the only
 *    node that orders updates, and it never changes, so its state is the
 *    linearization.  The price: one backup down blocks every update, which
 *    is the lesson of synchronous replication.
 * 4. After a crash a node replays its log, unchecked: a torn record is
 *    silently lost, and the primary, which only ever raises what it
 *    believes a backup holds, never resends it (01-failure/pb-torn-log).
 * 5. Final reads (FL_OP_F_LOCAL) are answered by every node from its own
 *    copy, so the eventual check sees each replica. */
#include "protocols/oplog.h"
#include "sim/node.h"
#include "protocols/primary_backup.h"

enum { MSG_REPL = 1, MSG_ACK = 2 };
enum { TIMER_RETRANSMIT = 1 };

typedef struct Pending {
    uint64_t seq;
    FlRequest req;
    FlResult res;
    char *text;
} Pending;

struct PbClassic {
    FlStore *store;
    GArray *log;          /* of FlRequest: entry i has sequence number i + 1 */
    uint64_t *acked;      /* primary: per backup, highest seq acknowledged */
    GArray *pending;      /* primary: of Pending, ascending seq */
    FlDuration retransmit;
    uint32_t window;
};

static uint64_t applied(const PbClassic *pb)
{
    return pb->log->len;
}

static void apply(PbClassic *pb, const FlRequest *req, FlResult *res)
{
    g_array_append_val(pb->log, *req);
    FlResult tmp;
    if (!res)
        res = &tmp;
    /* A request older than the client's last is stale: nobody waits for it. */
    if (!fl_store_apply_request(pb->store, req, res))
        *res = (FlResult){ .status = FL_RESULT_FAIL, .hint = FL_NO_HINT };
}

static void replay_one(void *ctx, const FlRequest *req)
{
    apply(ctx, req, NULL);
}

void fl_pb_classic_init(FlNode *n, void *state)
{
    PbClassic *pb = state;
    pb->store = fl_store_new();
    pb->log = g_array_new(FALSE, FALSE, sizeof(FlRequest));
    pb->retransmit = fl_param_duration(n, "retransmit");
    pb->window = (uint32_t)fl_param_int(n, "window");
    if (fl_self(n) == 0) {
        pb->acked = g_new0(uint64_t, fl_nodes(n));
        pb->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
        fl_role(n, "primary");
        fl_timer(n, pb->retransmit, TIMER_RETRANSMIT);
    } else {
        fl_role(n, "backup");
    }
}

void fl_pb_classic_recover(FlNode *n, void *state)
{
    PbClassic *pb = state;
    fl_pb_classic_init(n, state);
    fl_oplog_replay(n, "log", replay_one, pb);
}

void fl_pb_classic_destroy(FlNode *n, void *state)
{
    PbClassic *pb = state;
    fl_store_free(pb->store);
    g_array_free(pb->log, TRUE);
    g_free(pb->acked);
    if (pb->pending) {
        for (guint i = 0; i < pb->pending->len; i++)
            g_free(g_array_index(pb->pending, Pending, i).text);
        g_array_free(pb->pending, TRUE);
    }
}

static void send_repl(FlNode *n, PbClassic *pb, uint32_t to, uint64_t seq)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MSG_REPL);
    fl_put_u64(&w, seq);
    fl_request_encode(&w, &g_array_index(pb->log, FlRequest, seq - 1));
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_ack(FlNode *n, PbClassic *pb, uint32_t to)
{
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MSG_ACK);
    fl_put_u64(&w, applied(pb));
    fl_send(n, to, w.data, w.len);
}

/* Primary: answers every pending update that all backups now hold. */
static void release(FlNode *n, PbClassic *pb)
{
    uint64_t everyone = applied(pb);
    for (uint32_t b = 1; b < fl_nodes(n); b++)
        if (pb->acked[b] < everyone)
            everyone = pb->acked[b];
    guint done = 0;
    while (done < pb->pending->len &&
           g_array_index(pb->pending, Pending, done).seq <= everyone) {
        Pending *p = &g_array_index(pb->pending, Pending, done);
        fl_reply(n, &p->req, &p->res);
        g_free(p->text);
        done++;
    }
    if (done)
        g_array_remove_range(pb->pending, 0, done);
}

static void on_repl(FlNode *n, PbClassic *pb, uint32_t from, FlReader *r)
{
    uint64_t seq = fl_get_u64(r);
    FlRequest req;
    if (!fl_request_decode(r, &req) || !fl_reader_done(r) || from != 0 || fl_self(n) == 0)
        return;
    if (seq == applied(pb) + 1) {
        fl_oplog_append(n, "log", &req);   /* durable before acknowledged */
        apply(pb, &req, NULL);
    }
    send_ack(n, pb, from);
}

static void on_ack(FlNode *n, PbClassic *pb, uint32_t from, FlReader *r)
{
    uint64_t seq = fl_get_u64(r);
    if (!fl_reader_done(r) || fl_self(n) != 0 || from == 0 || from >= fl_nodes(n))
        return;
    if (seq > applied(pb))
        seq = applied(pb);   /* a backup cannot hold more than the primary sent */
    if (seq > pb->acked[from])
        pb->acked[from] = seq;
    release(n, pb);
}

void fl_pb_classic_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                          size_t len)
{
    PbClassic *pb = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    switch (fl_get_u8(&r)) {
    case MSG_REPL: on_repl(n, pb, from, &r); break;
    case MSG_ACK: on_ack(n, pb, from, &r); break;
    default: break;   /* not ours: drop */
    }
}

void fl_pb_classic_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    PbClassic *pb = state;
    if (tag != TIMER_RETRANSMIT)
        return;
    for (uint32_t b = 1; b < fl_nodes(n); b++) {
        uint64_t last = applied(pb);
        uint64_t end = pb->acked[b] + pb->window < last ? pb->acked[b] + pb->window : last;
        for (uint64_t seq = pb->acked[b] + 1; seq <= end; seq++)
            send_repl(n, pb, b, seq);
    }
    fl_timer(n, pb->retransmit, TIMER_RETRANSMIT);
}

void fl_pb_classic_on_request(FlNode *n, void *state, const FlRequest *req)
{
    PbClassic *pb = state;
    FlResult res;
    if (fl_op_is_read(req->op.kind) && (req->op.flags & FL_OP_F_LOCAL)) {
        fl_store_read(pb->store, &req->op, &res);   /* note 5 */
        fl_reply(n, req, &res);
        return;
    }
    if (fl_self(n) != 0) {
        fl_reply_redirect(n, req, 0);
        return;
    }
    if (fl_op_is_read(req->op.kind)) {
        fl_store_read(pb->store, &req->op, &res);
        fl_reply(n, req, &res);
        return;
    }
    fl_oplog_append(n, "log", req);
    apply(pb, req, &res);
    Pending p = { .seq = applied(pb), .req = *req, .res = res };
    if (res.text) {
        p.text = g_strndup(res.text, res.text_len);
        p.res.text = p.text;
    }
    g_array_append_val(pb->pending, p);
    for (uint32_t b = 1; b < fl_nodes(n); b++)
        if (pb->acked[b] + 1 == p.seq)
            send_repl(n, pb, b, p.seq);
    release(n, pb);   /* with no backups, at once */
}

size_t fl_pb_classic_size(void)
{
    return sizeof(PbClassic);
}
