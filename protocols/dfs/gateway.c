/* The DFS client library, on every chunk server (note 1 in dfs.c): turns
 * a client's create, delete, read, write or append into metadata requests
 * to the master and data transfers to and from chunk servers.  Each step
 * has a timer: metadata requests are resent (the master answers repeats
 * from its client table), a silent replica is replaced by the next one, a
 * push that is not acknowledged is reported to the master, which checks
 * the chunks and grants again (note 7).  An operation whose outcome is
 * unknown is never answered: the client times out and records info. */
#include "protocols/dfs/dfs.h"

#include <inttypes.h>
#include <string.h>

#define MAX_RETRIES 20
#define MAX_READ_LOOKUPS 5   /* then a read answers fail: it changed nothing */

static void op_free(DfsGwOp *op)
{
    for (guint i = 0; op->chunks && i < op->chunks->len; i++) {
        DfsGwChunk *c = &g_array_index(op->chunks, DfsGwChunk, i);
        if (c->chain)
            g_array_free(c->chain, TRUE);
        if (c->data)
            g_byte_array_free(c->data, TRUE);
    }
    if (op->chunks)
        g_array_free(op->chunks, TRUE);
    g_free(op);
}

static void clear_chunks(DfsGwOp *op)
{
    for (guint i = 0; op->chunks && i < op->chunks->len; i++) {
        DfsGwChunk *c = &g_array_index(op->chunks, DfsGwChunk, i);
        if (c->chain)
            g_array_free(c->chain, TRUE);
        if (c->data)
            g_byte_array_free(c->data, TRUE);
    }
    if (!op->chunks)
        op->chunks = g_array_new(FALSE, TRUE, sizeof(DfsGwChunk));
    g_array_set_size(op->chunks, 0);
}

void dfs_gw_init(FlNode *n, Dfs *d)
{
    d->gw = g_new0(DfsGateway, 1);
    d->gw->ops = g_array_new(FALSE, FALSE, sizeof(DfsGwOp *));
}

void dfs_gw_destroy(Dfs *d)
{
    if (!d->gw)
        return;
    for (guint i = 0; i < d->gw->ops->len; i++)
        op_free(g_array_index(d->gw->ops, DfsGwOp *, i));
    g_array_free(d->gw->ops, TRUE);
    g_free(d->gw);
    d->gw = NULL;
}

static DfsGwOp *find_op(Dfs *d, uint64_t tag, guint *pos)
{
    GArray *ops = d->gw->ops;
    for (guint i = 0; i < ops->len; i++) {
        DfsGwOp *op = g_array_index(ops, DfsGwOp *, i);
        if (op->tag == tag) {
            if (pos)
                *pos = i;
            return op;
        }
    }
    return NULL;
}

static DfsGwOp *find_grant(Dfs *d, uint64_t grant)
{
    GArray *ops = d->gw->ops;
    for (guint i = 0; i < ops->len; i++) {
        DfsGwOp *op = g_array_index(ops, DfsGwOp *, i);
        if (op->grant == grant && op->grant != 0)
            return op;
    }
    return NULL;
}

/* Ends @op: answers the client with @res, or not at all (NULL: unknown). */
static void finish(FlNode *n, Dfs *d, DfsGwOp *op, const FlResult *res)
{
    guint pos;
    if (!find_op(d, op->tag, &pos))
        return;
    if (op->timer)
        fl_timer_cancel(n, op->timer);
    if (res)
        fl_reply(n, &op->req, res);
    g_array_remove_index(d->gw->ops, pos);
    op_free(op);
}

static void reply_ok(FlNode *n, Dfs *d, DfsGwOp *op, bool has_value, int64_t value)
{
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = has_value,
                     .value = value };
    finish(n, d, op, &res);
}

static void reply_fail(FlNode *n, Dfs *d, DfsGwOp *op)
{
    FlResult res = { .status = FL_RESULT_FAIL, .hint = FL_NO_HINT };
    finish(n, d, op, &res);
}

static void arm(FlNode *n, Dfs *d, DfsGwOp *op)
{
    if (op->timer)
        fl_timer_cancel(n, op->timer);
    op->timer = fl_timer(n, d->op_timeout, DFS_T_OP);
}

/* ---- Steps --------------------------------------------------------------- */

static void reply_fail(FlNode *n, Dfs *d, DfsGwOp *op);

static void send_lookup(FlNode *n, Dfs *d, DfsGwOp *op)
{
    /* A read that cannot find a readable replica for long says so: a read
     * has no effect, so fail is always a truthful answer. */
    if (op->stage == GW_READ || (op->stage == GW_LOOKUP && op->chunks->len > 0)) {
        if (++op->lookups > MAX_READ_LOOKUPS) {
            reply_fail(n, d, op);
            return;
        }
    }
    op->stage = GW_LOOKUP;
    FlWriter w;
    uint8_t buf[32];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_LOOKUP);
    fl_put_u64(&w, op->tag);
    fl_put_u32(&w, op->req.op.key);
    dfs_send(n, d, DFS_MASTER, &w);
    arm(n, d, op);
}

static void send_meta(FlNode *n, Dfs *d, DfsGwOp *op)
{
    op->stage = GW_META;
    FlWriter w;
    uint8_t buf[40];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, op->req.op.kind == FL_OP_FILE_CREATE ? DFS_CREATE : DFS_DELETE);
    fl_put_u64(&w, op->tag);
    fl_put_u32(&w, op->req.client);
    fl_put_u64(&w, op->req.id);
    fl_put_u32(&w, op->req.op.key);
    dfs_send(n, d, DFS_MASTER, &w);
    arm(n, d, op);
}

static void send_grant_req(FlNode *n, Dfs *d, DfsGwOp *op)
{
    op->stage = GW_GRANT;
    const FlOp *o = &op->req.op;
    bool append = o->kind == FL_OP_FILE_APPEND;
    FlWriter w;
    uint8_t buf[48];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_GRANT_REQ);
    fl_put_u64(&w, op->tag);
    fl_put_u32(&w, op->req.client);
    fl_put_u64(&w, op->req.id);
    fl_put_u32(&w, o->key);
    fl_put_u8(&w, append ? DFS_K_APPEND : DFS_K_WRITE);
    fl_put_u32(&w, append ? 0 : fl_file_offset(o->b));
    fl_put_u32(&w, append ? (uint32_t)o->b : fl_file_records(o->b));
    dfs_send(n, d, DFS_MASTER, &w);
    arm(n, d, op);
}

static void send_commit(FlNode *n, Dfs *d, DfsGwOp *op)
{
    op->stage = GW_COMMIT;
    FlWriter w;
    uint8_t buf[48];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_COMMIT);
    fl_put_u64(&w, op->tag);
    fl_put_u32(&w, op->req.client);
    fl_put_u64(&w, op->req.id);
    fl_put_u64(&w, op->grant);
    fl_put_u32(&w, op->attempt);
    dfs_send(n, d, DFS_MASTER, &w);
    arm(n, d, op);
}

/* Reads chunk @c from its next replica (note 4). */
static void read_chunk(FlNode *n, Dfs *d, DfsGwOp *op, DfsGwChunk *c)
{
    uint32_t s = g_array_index(c->chain, uint32_t, (c->tried + op->tag) % c->chain->len);
    c->tried++;
    FlWriter w;
    uint8_t buf[32];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_READ);
    fl_put_u64(&w, op->tag);
    fl_put_u64(&w, c->handle);
    fl_put_u64(&w, c->version);
    dfs_send(n, d, s, &w);
}

/* Note 5: the records of this mutation that fall in chunk @c, pushed to
 * the head of its chain. */
static void push_chunk(FlNode *n, Dfs *d, DfsGwOp *op, DfsGwChunk *c)
{
    const FlOp *o = &op->req.op;
    uint32_t records = o->kind == FL_OP_FILE_APPEND ? (uint32_t)o->b : fl_file_records(o->b);
    uint32_t cstart = c->index * d->chunk_records, cend = cstart + d->chunk_records;
    uint32_t from = MAX(op->offset, cstart), to = MIN(op->offset + records, cend);
    g_autofree char *bytes = g_malloc((size_t)(to - from) * FL_FILE_RECORD + 1);
    for (uint32_t p = from; p < to; p++)
        fl_file_record((uint32_t)o->a, p - op->offset, bytes + (size_t)(p - from) * FL_FILE_RECORD);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, DFS_DATA);
    fl_put_u64(&w, op->grant);
    fl_put_u32(&w, op->attempt);
    fl_put_u64(&w, c->handle);
    fl_put_u64(&w, c->base);
    fl_put_u64(&w, c->version);
    fl_put_u32(&w, from - cstart);
    fl_put_bytes(&w, bytes, (size_t)(to - from) * FL_FILE_RECORD);
    fl_put_u32(&w, c->chain->len);
    for (guint k = 0; k < c->chain->len; k++)
        fl_put_u32(&w, g_array_index(c->chain, uint32_t, k));
    fl_put_u32(&w, fl_self(n));
    dfs_send(n, d, g_array_index(c->chain, uint32_t, 0), &w);
}

static void report_push_failure(FlNode *n, Dfs *d, DfsGwOp *op)
{
    FlWriter w;
    uint8_t buf[24];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_GRANT_FAIL);
    fl_put_u64(&w, op->grant);
    fl_put_u32(&w, op->attempt);
    dfs_send(n, d, DFS_MASTER, &w);
    fl_metric_add(n, "dfs_push_failures", 1);
    /* Wait for the master's next grant, asking again as a grant request
     * (answered with the current grant) if it gets lost. */
    op->stage = GW_GRANT;
    arm(n, d, op);
}

/* ---- Client requests ---------------------------------------------------- */

void dfs_gw_request(FlNode *n, Dfs *d, const FlRequest *req)
{
    const FlOp *o = &req->op;
    for (guint i = 0; i < d->gw->ops->len; i++) {
        const DfsGwOp *q = g_array_index(d->gw->ops, DfsGwOp *, i);
        if (q->req.client == req->client && q->req.id == req->id)
            return;   /* already under way */
    }
    bool known = o->kind == FL_OP_FILE_CREATE || o->kind == FL_OP_FILE_DELETE ||
                 o->kind == FL_OP_FILE_READ || o->kind == FL_OP_FILE_WRITE ||
                 o->kind == FL_OP_FILE_APPEND;
    uint32_t records = o->kind == FL_OP_FILE_APPEND ? (uint32_t)o->b
                     : o->kind == FL_OP_FILE_WRITE ? fl_file_records(o->b) : 1;
    if (!known || o->key >= d->max_files || d->gw->ops->len >= DFS_MAX_GATEWAY_OPS ||
        records == 0 || records > FL_FILE_RECORDS_MAX || o->a < 0 || o->a > UINT32_MAX ||
        (o->kind == FL_OP_FILE_APPEND && (o->b < 0 || o->b > FL_FILE_RECORDS_MAX))) {
        fl_reply_fail(n, req);
        return;
    }
    DfsGwOp *op = g_new0(DfsGwOp, 1);
    op->tag = (d->epoch << 32) | ++d->gw->next_tag;
    op->req = *req;
    op->started = fl_now(n);
    clear_chunks(op);
    g_array_append_val(d->gw->ops, op);
    switch (o->kind) {
    case FL_OP_FILE_READ: send_lookup(n, d, op); break;
    case FL_OP_FILE_CREATE:
    case FL_OP_FILE_DELETE: send_meta(n, d, op); break;
    default: send_grant_req(n, d, op); break;
    }
}

/* ---- Replies ------------------------------------------------------------- */

static void on_lookup_reply(FlNode *n, Dfs *d, FlReader *r)
{
    uint64_t tag = fl_get_u64(r);
    uint8_t status = fl_get_u8(r);
    DfsGwOp *op = find_op(d, tag, NULL);
    if (!fl_reader_ok(r) || !op || op->stage != GW_LOOKUP)
        return;
    if (status == DFS_BUSY)
        return;   /* the timer asks again */
    if (status == DFS_NOFILE) {
        if (fl_reader_done(r))
            reply_ok(n, d, op, false, 0);   /* read of a file that does not exist: null */
        return;
    }
    uint32_t size = fl_get_u32(r);
    uint32_t count = fl_get_u32(r);
    if (!fl_reader_ok(r) || status != DFS_OK || size > d->max_file_records ||
        count != (size + d->chunk_records - 1) / d->chunk_records)
        return;
    clear_chunks(op);
    for (uint32_t i = 0; i < count; i++) {
        DfsGwChunk c = { .index = i };
        c.handle = fl_get_u64(r);
        c.version = fl_get_u64(r);
        uint32_t nrep = fl_get_u32(r);
        if (!fl_reader_ok(r) || nrep > DFS_MAX_REPLICAS) {
            clear_chunks(op);
            return;
        }
        c.chain = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        for (uint32_t k = 0; k < nrep; k++) {
            uint32_t s = fl_get_u32(r);
            g_array_append_val(c.chain, s);
        }
        g_array_append_val(op->chunks, c);
    }
    if (!fl_reader_done(r)) {
        clear_chunks(op);
        return;
    }
    op->file_size = size;
    if (count == 0) {
        FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true,
                         .text = "", .text_len = 0 };
        finish(n, d, op, &res);
        return;
    }
    for (guint i = 0; i < op->chunks->len; i++) {
        if (g_array_index(op->chunks, DfsGwChunk, i).chain->len == 0) {
            /* No replica to read now: look up again later (the chunks stay,
             * so that the next lookup counts as a retry). */
            return;
        }
    }
    op->stage = GW_READ;
    for (guint i = 0; i < op->chunks->len; i++)
        read_chunk(n, d, op, &g_array_index(op->chunks, DfsGwChunk, i));
    arm(n, d, op);
}

static void read_done(FlNode *n, Dfs *d, DfsGwOp *op)
{
    GString *text = g_string_sized_new((gsize)op->file_size * FL_FILE_RECORD);
    for (guint i = 0; i < op->chunks->len; i++) {
        DfsGwChunk *c = &g_array_index(op->chunks, DfsGwChunk, i);
        g_string_append_len(text, (const char *)c->data->data, (gssize)c->data->len);
    }
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true,
                     .text = text->str, .text_len = text->len };
    finish(n, d, op, &res);
    g_string_free(text, TRUE);
}

static void on_read_reply(FlNode *n, Dfs *d, uint32_t from, FlReader *r)
{
    uint64_t tag = fl_get_u64(r);
    uint64_t handle = fl_get_u64(r);
    uint8_t status = fl_get_u8(r);
    uint64_t version = fl_get_u64(r);
    size_t len;
    const uint8_t *data = fl_get_bytes(r, &len);
    DfsGwOp *op = find_op(d, tag, NULL);
    if (!fl_reader_done(r) || !op || op->stage != GW_READ)
        return;
    for (guint i = 0; i < op->chunks->len; i++) {
        DfsGwChunk *c = &g_array_index(op->chunks, DfsGwChunk, i);
        if (c->handle != handle || c->data)
            continue;
        uint32_t cstart = c->index * d->chunk_records;
        uint32_t want = MIN(d->chunk_records, op->file_size - cstart) * FL_FILE_RECORD;
        if (status == DFS_OK && version >= c->version && len >= want) {
            c->data = g_byte_array_new();
            g_byte_array_append(c->data, data, want);
            bool all = true;
            for (guint k = 0; k < op->chunks->len; k++)
                all &= g_array_index(op->chunks, DfsGwChunk, k).data != NULL;
            if (all)
                read_done(n, d, op);
        } else if (c->tried < c->chain->len) {
            read_chunk(n, d, op, c);
        } else {
            send_lookup(n, d, op);   /* every replica refused: the locations are old */
        }
        return;
    }
}

static void on_result(FlNode *n, Dfs *d, FlReader *r)
{
    uint64_t tag = fl_get_u64(r);
    uint8_t status = fl_get_u8(r);
    int64_t value = fl_get_i64(r);
    DfsGwOp *op = find_op(d, tag, NULL);
    if (!fl_reader_done(r) || !op)
        return;
    if (status == DFS_BUSY)
        return;   /* the timer asks again */
    switch (op->stage) {
    case GW_META:
        if (status == DFS_OK)
            reply_ok(n, d, op, false, 0);
        else if (status == DFS_FAIL)
            reply_fail(n, d, op);
        break;
    case GW_GRANT:
        /* Before any grant: a refusal (no such file, no room) or the result
         * of a repeat.  After a failed push it can only be a repeat. */
        if (status == DFS_OK)
            reply_ok(n, d, op, op->req.op.kind == FL_OP_FILE_APPEND, value);
        else if (status == DFS_FAIL && op->grant == 0)
            reply_fail(n, d, op);
        else if (status == DFS_FAIL)
            finish(n, d, op, NULL);   /* given up after a push: unknown */
        break;
    case GW_COMMIT:
    case GW_PUSH:
        if (status == DFS_OK)
            reply_ok(n, d, op, op->req.op.kind == FL_OP_FILE_APPEND, value);
        else
            finish(n, d, op, NULL);   /* the master gave the mutation up: unknown */
        break;
    default:
        break;
    }
}

static void on_grant(FlNode *n, Dfs *d, FlReader *r)
{
    uint64_t tag = fl_get_u64(r);
    uint64_t grant = fl_get_u64(r);
    uint32_t attempt = fl_get_u32(r);
    uint32_t offset = fl_get_u32(r);
    uint32_t parts = fl_get_u32(r);
    DfsGwOp *op = find_op(d, tag, NULL);
    if (!fl_reader_ok(r) || !op || parts == 0 || parts > DFS_MAX_CHUNKS_PER_FILE ||
        (op->stage != GW_GRANT && op->stage != GW_PUSH) ||
        (op->grant == grant && attempt <= op->attempt) || (op->grant != 0 && op->grant != grant))
        return;
    g_autoptr(GArray) chunks = g_array_new(FALSE, TRUE, sizeof(DfsGwChunk));
    bool ok = true;
    for (uint32_t i = 0; i < parts && ok; i++) {
        DfsGwChunk c = { 0 };
        c.index = fl_get_u32(r);
        c.handle = fl_get_u64(r);
        c.base = fl_get_u64(r);
        c.version = fl_get_u64(r);
        uint32_t nrep = fl_get_u32(r);
        ok = fl_reader_ok(r) && nrep > 0 && nrep <= DFS_MAX_REPLICAS &&
             c.index < DFS_MAX_CHUNKS_PER_FILE;
        if (!ok)
            break;
        c.chain = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        for (uint32_t k = 0; k < nrep; k++) {
            uint32_t s = fl_get_u32(r);
            ok &= s >= d->first_server && s < fl_nodes(n);
            g_array_append_val(c.chain, s);
        }
        g_array_append_val(chunks, c);
    }
    if (!ok || !fl_reader_done(r)) {
        for (guint i = 0; i < chunks->len; i++)
            g_array_free(g_array_index(chunks, DfsGwChunk, i).chain, TRUE);
        return;
    }
    clear_chunks(op);
    g_array_append_vals(op->chunks, chunks->data, chunks->len);
    op->grant = grant;
    op->attempt = attempt;
    op->offset = offset;
    op->stage = GW_PUSH;
    for (guint i = 0; i < op->chunks->len; i++)
        push_chunk(n, d, op, &g_array_index(op->chunks, DfsGwChunk, i));
    arm(n, d, op);
}

static void on_data_ack(FlNode *n, Dfs *d, FlReader *r, bool ack)
{
    uint64_t grant = fl_get_u64(r);
    uint32_t attempt = fl_get_u32(r);
    uint64_t handle = fl_get_u64(r);
    if (ack)
        (void)fl_get_u64(r);   /* the version */
    else
        (void)fl_get_u32(r);   /* who refused */
    DfsGwOp *op = find_grant(d, grant);
    if (!fl_reader_done(r) || !op || op->attempt != attempt || op->stage != GW_PUSH)
        return;
    if (!ack) {
        report_push_failure(n, d, op);
        return;
    }
    bool all = true;
    for (guint i = 0; i < op->chunks->len; i++) {
        DfsGwChunk *c = &g_array_index(op->chunks, DfsGwChunk, i);
        if (c->handle == handle)
            c->acked = true;
        all &= c->acked;
    }
    if (all)
        send_commit(n, d, op);
}

void dfs_gw_message(FlNode *n, Dfs *d, uint32_t from, uint8_t type, FlReader *r)
{
    bool from_master = from == DFS_MASTER;
    switch (type) {
    case DFS_LOOKUP_REPLY: if (from_master) on_lookup_reply(n, d, r); break;
    case DFS_RESULT: if (from_master) on_result(n, d, r); break;
    case DFS_GRANT: if (from_master) on_grant(n, d, r); break;
    case DFS_READ_REPLY: on_read_reply(n, d, from, r); break;
    case DFS_DATA_ACK: on_data_ack(n, d, r, true); break;
    case DFS_DATA_NACK: on_data_ack(n, d, r, false); break;
    default: break;
    }
}

void dfs_gw_timer(FlNode *n, Dfs *d, FlTimerId t)
{
    DfsGwOp *op = NULL;
    for (guint i = 0; i < d->gw->ops->len && !op; i++) {
        DfsGwOp *q = g_array_index(d->gw->ops, DfsGwOp *, i);
        if (q->timer == t)
            op = q;
    }
    if (!op)
        return;
    op->timer = 0;
    if (++op->retries > MAX_RETRIES) {
        finish(n, d, op, NULL);   /* the client has given up long ago */
        return;
    }
    switch (op->stage) {
    case GW_LOOKUP: send_lookup(n, d, op); break;
    case GW_META: send_meta(n, d, op); break;
    case GW_GRANT: send_grant_req(n, d, op); break;
    case GW_COMMIT: send_commit(n, d, op); break;
    case GW_PUSH: report_push_failure(n, d, op); break;
    case GW_READ: {
        bool any = false;
        for (guint i = 0; i < op->chunks->len; i++) {
            DfsGwChunk *c = &g_array_index(op->chunks, DfsGwChunk, i);
            if (c->data)
                continue;
            if (c->tried < c->chain->len) {
                read_chunk(n, d, op, c);
                any = true;
            }
        }
        if (any)
            arm(n, d, op);
        else
            send_lookup(n, d, op);
        break;
    }
    }
}
