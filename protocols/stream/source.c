/* The stream source and job manager (node 0): the log, watermarks and
 * barriers, the channels to the operators, checkpoints and recovery.  See
 * the design notes in stream.c; the numbers cited are theirs. */
#include "protocols/stream/stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define RECORD_BYTES (ST_RECORD_BYTES + 4)   /* encoded record + its checksum */
#define MAX_LOG (1u << 24)
#define MAX_PENDING 16

static FlDuration since(FlNode *n, FlTime t)
{
    FlTime now = fl_now(n);
    return now > t ? (FlDuration)(now - t) : 0;
}

static uint32_t sum32(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* ---- Persistence ----------------------------------------------------------- */

/* Note 2: appended and synced before anyone hears of it. */
static void log_append(FlNode *n, StSource *src, const StRecord *rec)
{
    g_array_append_val(src->log, *rec);
    uint8_t buf[RECORD_BYTES + 8];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    st_record_encode(&w, rec);
    fl_put_u32(&w, sum32(w.data, w.len));
    fl_disk_append(n, "log", w.data, w.len);
    fl_disk_sync(n, "log");
    fl_writer_deinit(&w);
    if (rec->type == REC_EVENT) {
        uint64_t *k = g_new(uint64_t, 1);
        *k = rec->id;
        g_hash_table_insert(src->ids, k, GSIZE_TO_POINTER(src->log->len));
    }
}

static void load_log(FlNode *n, StSource *src)
{
    size_t len;
    const uint8_t *p = fl_disk_view(n, "log", &len);
    size_t good = 0;
    for (size_t at = 0; p && at + RECORD_BYTES <= len; at += RECORD_BYTES) {
        FlReader r;
        fl_reader_init(&r, p + at, RECORD_BYTES);
        StRecord rec;
        bool ok = st_record_decode(&r, &rec);
        uint32_t sum = fl_get_u32(&r);
        if (!ok || !fl_reader_done(&r) || sum != sum32(p + at, RECORD_BYTES - 4))
            break;   /* a torn or damaged record: what follows is not trusted */
        g_array_append_val(src->log, rec);
        if (rec.type == REC_EVENT) {
            uint64_t *k = g_new(uint64_t, 1);
            *k = rec.id;
            g_hash_table_insert(src->ids, k, GSIZE_TO_POINTER(src->log->len));
        } else if (rec.type == REC_WATERMARK && rec.ts > src->watermark) {
            src->watermark = rec.ts;
        } else if (rec.type == REC_BARRIER && rec.id >= src->next_checkpoint) {
            src->next_checkpoint = rec.id + 1;
        }
        good = at + RECORD_BYTES;
    }
    if (p && good < len) {
        fl_log(n, "log: dropped %zu damaged bytes at its end", len - good);
        fl_disk_truncate(n, "log", good);
        fl_disk_sync(n, "log");
    }
}

static void put_u64_file(FlNode *n, const char *file, uint64_t v)
{
    uint8_t buf[8];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u64(&w, v);
    fl_disk_write(n, file, w.data, w.len);
    fl_disk_sync(n, file);
    fl_writer_deinit(&w);
}

static uint64_t get_u64_file(FlNode *n, const char *file)
{
    uint8_t buf[8];
    if (fl_disk_read(n, file, buf, sizeof buf) != sizeof buf)
        return 0;
    FlReader r;
    fl_reader_init(&r, buf, sizeof buf);
    return fl_get_u64(&r);
}

static void free_ckpt(Stream *s, StSource *src)
{
    for (uint32_t p = 0; src->ckpt_state && p < s->partitions; p++)
        if (src->ckpt_state[p])
            g_byte_array_free(src->ckpt_state[p], TRUE);
}

static void store_ckpt(FlNode *n, Stream *s, StSource *src)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u64(&w, src->ckpt_id);
    fl_put_u64(&w, src->ckpt_pos);
    fl_put_u32(&w, s->partitions);
    for (uint32_t p = 0; p < s->partitions; p++) {
        fl_put_u64(&w, src->ckpt_next_pos[p]);
        fl_put_u64(&w, src->ckpt_out_seq[p]);
        fl_put_bytes(&w, src->ckpt_state[p] ? src->ckpt_state[p]->data : NULL,
                     src->ckpt_state[p] ? src->ckpt_state[p]->len : 0);
    }
    fl_put_u32(&w, sum32(w.data, w.len));
    fl_disk_write(n, "ckpt", w.data, w.len);
    fl_disk_sync(n, "ckpt");
    fl_writer_deinit(&w);
}

static void load_ckpt(FlNode *n, Stream *s, StSource *src)
{
    size_t len;
    const uint8_t *p = fl_disk_view(n, "ckpt", &len);
    if (!p || len < 4)
        return;
    FlReader r;
    fl_reader_init(&r, p, len - 4);
    FlReader t;
    fl_reader_init(&t, p + len - 4, 4);
    if (fl_get_u32(&t) != sum32(p, len - 4)) {
        fl_log(n, "checkpoint on disk is damaged: starting from the beginning of the log");
        return;
    }
    uint64_t id = fl_get_u64(&r), pos = fl_get_u64(&r);
    uint32_t parts = fl_get_u32(&r);
    if (!fl_reader_ok(&r) || parts != s->partitions)
        return;
    for (uint32_t i = 0; i < parts; i++) {
        uint64_t np = fl_get_u64(&r), os = fl_get_u64(&r);
        size_t blen;
        const uint8_t *b = fl_get_bytes(&r, &blen);
        if (!fl_reader_ok(&r))
            break;
        src->ckpt_next_pos[i] = np;
        src->ckpt_out_seq[i] = os;
        src->ckpt_state[i] = g_byte_array_new();
        g_byte_array_append(src->ckpt_state[i], b, (guint)blen);
    }
    if (!fl_reader_done(&r) || pos >= src->log->len) {
        free_ckpt(s, src);
        memset(src->ckpt_state, 0, sizeof(GByteArray *) * s->partitions);
        memset(src->ckpt_next_pos, 0, sizeof(uint64_t) * s->partitions);
        memset(src->ckpt_out_seq, 0, sizeof(uint64_t) * s->partitions);
        return;
    }
    src->ckpt_id = id;
    src->ckpt_pos = pos;
}

/* ---- Channels (note 3) ------------------------------------------------------ */

static bool relevant(const Stream *s, const StRecord *rec, uint32_t p)
{
    return rec->type != REC_EVENT || st_partition(s, rec->key) == p;
}

static void pump(FlNode *n, Stream *s, uint32_t p)
{
    StSource *src = s->src;
    uint32_t o = src->owner[p];
    if (o == UINT32_MAX || src->nodes[o].restored_gen != src->gen)
        return;
    uint64_t end = MIN((uint64_t)src->log->len, src->acked[p] + ST_WINDOW);
    uint64_t picked[ST_MAX_BATCH];
    while (src->sent[p] < end) {
        uint32_t count = 0;
        uint64_t pos = src->sent[p];
        for (; pos < end && count < ST_MAX_BATCH; pos++)
            if (relevant(s, &g_array_index(src->log, StRecord, pos), p))
                picked[count++] = pos;
        FlWriter w;
        fl_writer_init(&w, NULL, 0);
        fl_put_u8(&w, ST_DATA);
        fl_put_u64(&w, src->gen);
        fl_put_u32(&w, p);
        fl_put_u64(&w, src->sent[p]);
        fl_put_u64(&w, pos);   /* every relevant record in [from, upto) is here */
        fl_put_u32(&w, count);
        for (uint32_t i = 0; i < count; i++) {
            fl_put_u64(&w, picked[i]);
            st_record_encode(&w, &g_array_index(src->log, StRecord, picked[i]));
        }
        fl_send(n, o, w.data, w.len);
        fl_writer_deinit(&w);
        src->sent[p] = pos;
    }
}

static void pump_all(FlNode *n, Stream *s)
{
    for (uint32_t p = 0; p < s->partitions; p++)
        pump(n, s, p);
}

/* ---- Recovery (note 6) -------------------------------------------------------- */

static void send_restore(FlNode *n, Stream *s, uint32_t node)
{
    StSource *src = s->src;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, ST_RESTORE);
    fl_put_u64(&w, src->gen);
    fl_put_u64(&w, src->ckpt_id);
    uint32_t count = 0;
    for (uint32_t p = 0; p < s->partitions; p++)
        count += src->owner[p] == node;
    fl_put_u32(&w, count);
    for (uint32_t p = 0; p < s->partitions; p++) {
        if (src->owner[p] != node)
            continue;
        fl_put_u32(&w, p);
        fl_put_u64(&w, src->ckpt_next_pos[p]);
        fl_put_u64(&w, src->ckpt_out_seq[p]);
        fl_put_bytes(&w, src->ckpt_state[p] ? src->ckpt_state[p]->data : NULL,
                     src->ckpt_state[p] ? src->ckpt_state[p]->len : 0);
    }
    fl_send(n, node, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_sink_restore(FlNode *n, Stream *s)
{
    StSource *src = s->src;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, ST_SINK_RESTORE);
    fl_put_u64(&w, src->gen);
    fl_put_u64(&w, src->ckpt_id);
    fl_put_u32(&w, s->partitions);
    for (uint32_t p = 0; p < s->partitions; p++)
        fl_put_u64(&w, src->ckpt_out_seq[p]);
    fl_send(n, s->sink_node, w.data, w.len);
    fl_writer_deinit(&w);
}

static void pending_free(Stream *s, StPending *pc)
{
    for (uint32_t p = 0; p < s->partitions; p++)
        if (pc->snapshots[p])
            g_byte_array_free(pc->snapshots[p], TRUE);
    g_free(pc->snapshots);
    g_free(pc->next_pos);
    g_free(pc->out_seq);
    g_free(pc);
}

static void rollback(FlNode *n, Stream *s, const char *why)
{
    StSource *src = s->src;
    src->gen++;
    put_u64_file(n, "gen", src->gen);
    for (guint i = 0; i < src->pending->len; i++)
        pending_free(s, g_ptr_array_index(src->pending, i));
    g_ptr_array_set_size(src->pending, 0);
    g_autoptr(GArray) live = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    for (uint32_t i = 1; i < s->sink_node; i++)
        if (src->nodes[i].alive)
            g_array_append_val(live, i);
    src->assigned = live->len > 0;
    for (uint32_t p = 0; p < s->partitions; p++) {
        src->owner[p] = live->len ? g_array_index(live, uint32_t, p % live->len) : UINT32_MAX;
        src->acked[p] = src->sent[p] = src->ckpt_next_pos[p];
        src->progress[p] = fl_now(n);
    }
    for (uint32_t i = 0; i < fl_nodes(n); i++)
        src->nodes[i].restored_gen = 0;
    fl_log(n, "generation %" PRIu64 ": %s; restoring checkpoint %" PRIu64 " on %u operator node%s",
           src->gen, why, src->ckpt_id, live->len, live->len == 1 ? "" : "s");
    fl_metric_add(n, "stream_recoveries", 1);
    for (guint i = 0; i < live->len; i++)
        send_restore(n, s, g_array_index(live, uint32_t, i));
    send_sink_restore(n, s);
}

/* ---- Init ------------------------------------------------------------------------ */

void st_source_init(FlNode *n, Stream *s, bool recover)
{
    fl_role(n, "source");
    StSource *src = s->src = g_new0(StSource, 1);
    uint32_t P = s->partitions;
    src->log = g_array_new(FALSE, FALSE, sizeof(StRecord));
    src->ids = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    src->pending = g_ptr_array_new();
    src->ckpt_state = g_new0(GByteArray *, P);
    src->ckpt_next_pos = g_new0(uint64_t, P);
    src->ckpt_out_seq = g_new0(uint64_t, P);
    src->owner = g_new0(uint32_t, P);
    src->acked = g_new0(uint64_t, P);
    src->sent = g_new0(uint64_t, P);
    src->progress = g_new0(FlTime, P);
    src->nodes = g_new0(StNodeView, fl_nodes(n));
    src->next_checkpoint = 1;
    FlTime now = fl_now(n);
    for (uint32_t i = 0; i < fl_nodes(n); i++) {
        src->nodes[i].alive = true;   /* until they fall silent */
        src->nodes[i].last_heard = now;
    }
    load_log(n, src);
    src->gen = get_u64_file(n, "gen");
    load_ckpt(n, s, src);
    if (src->ckpt_id >= src->next_checkpoint)
        src->next_checkpoint = src->ckpt_id + 1;
    src->committed_acked = 0;
    rollback(n, s, recover ? "the job manager restarted" : "the job starts");
    fl_timer(n, s->heartbeat, ST_T_TICK);
    fl_timer(n, s->wm_interval, ST_T_WATERMARK);
    fl_timer(n, s->checkpoint_interval, ST_T_CHECKPOINT);
}

void st_source_destroy(Stream *s)
{
    StSource *src = s->src;
    if (!src)
        return;
    g_array_free(src->log, TRUE);
    g_hash_table_unref(src->ids);
    for (guint i = 0; i < (src->pending)->len; i++)
        pending_free(s, g_ptr_array_index(src->pending, i));
    g_ptr_array_free(src->pending, TRUE);
    free_ckpt(s, src);
    g_free(src->ckpt_state);
    g_free(src->ckpt_next_pos);
    g_free(src->ckpt_out_seq);
    g_free(src->owner);
    g_free(src->acked);
    g_free(src->sent);
    g_free(src->progress);
    g_free(src->nodes);
    g_free(src);
    s->src = NULL;
}

/* ---- Client requests ------------------------------------------------------------ */

/* The final read of key @key: the log as the checker needs it. */
static void read_log(FlNode *n, Stream *s, const FlRequest *req)
{
    StSource *src = s->src;
    GString *t = g_string_new(NULL);
    g_string_append_printf(t, "source window=%s size=%" PRIu64 " slide=%" PRIu64 " count=%" PRIu64
                           " sink=%s\n", st_window_name(s->window), s->size, s->slide, s->count,
                           s->mode == ST_EXACTLY_ONCE ? "exactly-once" : "at-least-once");
    uint64_t wm = 0;
    bool wm_pending = false;
    for (guint i = 0; i < src->log->len; i++) {
        const StRecord *rec = &g_array_index(src->log, StRecord, i);
        if (rec->type == REC_WATERMARK) {
            wm = rec->ts;   /* runs of watermarks count as their last */
            wm_pending = true;
            continue;
        }
        bool marker = rec->type == REC_BARRIER && rec->id == src->ckpt_id && i == src->ckpt_pos;
        bool event = rec->type == REC_EVENT && rec->key == req->op.key;
        if ((marker || event) && wm_pending) {
            g_string_append_printf(t, "w %" PRIu64 "\n", wm);
            wm_pending = false;
        }
        if (marker)
            g_string_append(t, "c\n");
        if (event)
            g_string_append_printf(t, "e %" PRIu64 " %" PRIu64 "\n", rec->id, rec->ts);
    }
    if (wm_pending)
        g_string_append_printf(t, "w %" PRIu64 "\n", wm);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true,
                     .text = t->str, .text_len = t->len };
    fl_reply(n, req, &res);
    g_string_free(t, TRUE);
}

void st_source_request(FlNode *n, Stream *s, const FlRequest *req)
{
    StSource *src = s->src;
    if (req->op.kind == FL_OP_STREAM_READ) {
        read_log(n, s, req);
        return;
    }
    if (req->op.kind != FL_OP_STREAM_SEND || req->op.a < 0 || src->log->len >= MAX_LOG) {
        fl_reply_fail(n, req);
        return;
    }
    uint64_t id = (uint64_t)req->op.a;
    gpointer at = g_hash_table_lookup(src->ids, &id);
    if (!at) {
        /* Note 2: the device's clock, behind the source's by a random
         * delay; now and then far enough behind to be late. */
        FlTime ingest = fl_now(n);
        FlDuration delay;
        if (fl_rng_chance(fl_rng(n), s->late_fraction))
            delay = fl_random_duration(n, s->wm_delay + s->wm_interval, s->wm_delay + 2 * (FlDuration)s->size);
        else
            delay = fl_random_duration(n, 0, s->event_delay);
        StRecord rec = { .type = REC_EVENT, .key = req->op.key, .id = id, .ingest = ingest,
                         .ts = ingest > (FlTime)delay ? ingest - (FlTime)delay : 0 };
        log_append(n, src, &rec);
        at = GSIZE_TO_POINTER(src->log->len);
        pump_all(n, s);
    }
    const StRecord *rec = &g_array_index(src->log, StRecord, GPOINTER_TO_SIZE(at) - 1);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true,
                     .value = (int64_t)rec->ts };
    fl_reply(n, req, &res);
}

/* ---- Checkpoints (note 5) ----------------------------------------------------------- */

static StPending *find_pending(StSource *src, uint64_t id)
{
    GPtrArray *a = src->pending;
    for (guint i = 0; i < a->len; i++) {
        StPending *pc = g_ptr_array_index(a, i);
        if (pc->id == id)
            return pc;
    }
    return NULL;
}

static void send_commit(FlNode *n, Stream *s)
{
    FlWriter w;
    uint8_t buf[16];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, ST_COMMIT);
    fl_put_u64(&w, s->src->ckpt_id);
    fl_send(n, s->sink_node, w.data, w.len);
}

static void maybe_complete(FlNode *n, Stream *s, StPending *pc)
{
    StSource *src = s->src;
    if (pc->have < s->partitions || !pc->sink)
        return;
    free_ckpt(s, src);
    for (uint32_t p = 0; p < s->partitions; p++) {
        src->ckpt_state[p] = pc->snapshots[p];
        pc->snapshots[p] = NULL;
        src->ckpt_next_pos[p] = pc->next_pos[p];
        src->ckpt_out_seq[p] = pc->out_seq[p];
    }
    src->ckpt_id = pc->id;
    src->ckpt_pos = pc->barrier_pos;
    store_ckpt(n, s, src);
    fl_metric_add(n, "stream_checkpoints", 1);
    GPtrArray *a = src->pending;
    for (guint i = a->len; i-- > 0;) {
        StPending *q = g_ptr_array_index(a, i);
        if (q->id <= src->ckpt_id) {
            pending_free(s, q);
            g_ptr_array_remove_index(a, i);
        }
    }
    send_commit(n, s);
}

static void on_snapshot(FlNode *n, Stream *s, uint32_t from, FlReader *r)
{
    StSource *src = s->src;
    uint64_t gen = fl_get_u64(r);
    uint32_t p = fl_get_u32(r);
    uint64_t id = fl_get_u64(r);
    uint64_t next_pos = fl_get_u64(r);
    uint64_t out_seq = fl_get_u64(r);
    size_t len;
    const uint8_t *state = fl_get_bytes(r, &len);
    if (!fl_reader_done(r) || gen != src->gen || p >= s->partitions || src->owner[p] != from)
        return;
    StPending *pc = find_pending(src, id);
    if (!pc || pc->snapshots[p] || next_pos != pc->barrier_pos + 1)
        return;
    pc->snapshots[p] = g_byte_array_new();
    g_byte_array_append(pc->snapshots[p], state, (guint)len);
    pc->next_pos[p] = next_pos;
    pc->out_seq[p] = out_seq;
    pc->have++;
    maybe_complete(n, s, pc);
}

static void on_sink_barrier(FlNode *n, Stream *s, uint32_t from, FlReader *r)
{
    StSource *src = s->src;
    uint64_t gen = fl_get_u64(r);
    uint64_t id = fl_get_u64(r);
    if (!fl_reader_done(r) || gen != src->gen || from != s->sink_node)
        return;
    /* The sink passed every barrier up to this one. */
    GPtrArray *a = src->pending;
    for (guint i = 0; i < a->len; i++) {
        StPending *pc = g_ptr_array_index(a, i);
        if (pc->id <= id)
            pc->sink = true;
    }
    for (guint i = 0; i < a->len; i++) {
        StPending *pc = g_ptr_array_index(a, i);
        if (pc->id <= id && pc->have == s->partitions) {
            maybe_complete(n, s, pc);
            return;   /* it freed the older ones: the array changed */
        }
    }
}

/* ---- Messages and timers --------------------------------------------------------- */

static void on_heartbeat(FlNode *n, Stream *s, uint32_t from, FlReader *r)
{
    StSource *src = s->src;
    uint64_t epoch = fl_get_u64(r);
    uint64_t gen = fl_get_u64(r);
    if (!fl_reader_done(r) || from == ST_SOURCE)
        return;
    StNodeView *v = &src->nodes[from];
    bool was_alive = v->alive;
    v->last_heard = fl_now(n);
    v->alive = true;
    if (v->epoch != 0 && epoch > v->epoch) {
        v->epoch = epoch;
        char why[64];
        snprintf(why, sizeof why, "node %u restarted", from);
        rollback(n, s, why);
        return;
    }
    if (v->epoch == 0)
        v->epoch = epoch;
    if (!src->assigned && from != s->sink_node && !was_alive) {
        rollback(n, s, "an operator node is back");
        return;
    }
    if (gen != src->gen && v->restored_gen != src->gen) {
        if (from == s->sink_node)
            send_sink_restore(n, s);
        else
            send_restore(n, s, from);
    }
}

static void on_restored(FlNode *n, Stream *s, uint32_t from, FlReader *r)
{
    StSource *src = s->src;
    uint64_t gen = fl_get_u64(r);
    uint64_t epoch = fl_get_u64(r);
    if (!fl_reader_done(r) || gen != src->gen || from == ST_SOURCE)
        return;
    StNodeView *v = &src->nodes[from];
    if (v->epoch != 0 && epoch > v->epoch) {
        v->epoch = epoch;
        rollback(n, s, "a node restarted while restoring");
        return;
    }
    v->epoch = epoch;
    v->restored_gen = gen;
    for (uint32_t p = 0; p < s->partitions; p++)
        if (src->owner[p] == from)
            src->progress[p] = fl_now(n);
    pump_all(n, s);
}

static void on_data_ack(FlNode *n, Stream *s, uint32_t from, FlReader *r)
{
    StSource *src = s->src;
    uint64_t gen = fl_get_u64(r);
    uint32_t p = fl_get_u32(r);
    uint64_t next = fl_get_u64(r);
    if (!fl_reader_done(r) || gen != src->gen || p >= s->partitions || src->owner[p] != from ||
        next > src->log->len)
        return;
    if (next > src->acked[p]) {
        src->acked[p] = next;
        src->progress[p] = fl_now(n);
        if (src->sent[p] < next)
            src->sent[p] = next;
        pump(n, s, p);
    }
}

void st_source_message(FlNode *n, Stream *s, uint32_t from, uint8_t type, FlReader *r)
{
    switch (type) {
    case ST_HEARTBEAT: on_heartbeat(n, s, from, r); break;
    case ST_RESTORED: on_restored(n, s, from, r); break;
    case ST_DATA_ACK: on_data_ack(n, s, from, r); break;
    case ST_SNAPSHOT: on_snapshot(n, s, from, r); break;
    case ST_SINK_BARRIER: on_sink_barrier(n, s, from, r); break;
    case ST_COMMIT_ACK: {
        uint64_t c = fl_get_u64(r);
        if (fl_reader_done(r) && from == s->sink_node && c > s->src->committed_acked)
            s->src->committed_acked = c;
        break;
    }
    default: break;   /* not the source's: drop */
    }
}

static void tick(FlNode *n, Stream *s)
{
    StSource *src = s->src;
    for (uint32_t i = 1; i < s->sink_node; i++) {
        StNodeView *v = &src->nodes[i];
        if (!v->alive || since(n, v->last_heard) <= s->node_timeout)
            continue;
        v->alive = false;
        bool owns = false;
        for (uint32_t p = 0; p < s->partitions; p++)
            owns |= src->owner[p] == i;
        if (owns) {
            char why[64];
            snprintf(why, sizeof why, "operator node %u is silent", i);
            rollback(n, s, why);
            return;
        }
    }
    if (!src->assigned)
        return;
    for (uint32_t p = 0; p < s->partitions; p++) {
        uint32_t o = src->owner[p];
        if (src->nodes[o].restored_gen != src->gen) {
            send_restore(n, s, o);
            continue;
        }
        /* Note 3: no progress for a while: send again from the last ack. */
        if (src->sent[p] > src->acked[p] && since(n, src->progress[p]) > s->resend) {
            src->sent[p] = src->acked[p];
            src->progress[p] = fl_now(n);
        }
        pump(n, s, p);
    }
    if (src->nodes[s->sink_node].restored_gen != src->gen)
        send_sink_restore(n, s);
    if (src->ckpt_id > src->committed_acked)
        send_commit(n, s);
}

void st_source_timer(FlNode *n, Stream *s, uint64_t tag)
{
    StSource *src = s->src;
    switch (tag) {
    case ST_T_TICK:
        tick(n, s);
        fl_timer(n, s->heartbeat, ST_T_TICK);
        break;
    case ST_T_WATERMARK: {
        FlTime now = fl_now(n);
        uint64_t wm = now > (FlTime)s->wm_delay ? now - (FlTime)s->wm_delay : 0;
        if (wm > src->watermark) {
            src->watermark = wm;
            StRecord rec = { .type = REC_WATERMARK, .ts = wm };
            log_append(n, src, &rec);
            pump_all(n, s);
        }
        fl_timer(n, s->wm_interval, ST_T_WATERMARK);
        break;
    }
    case ST_T_CHECKPOINT: {
        GPtrArray *a = src->pending;
        if (src->assigned && a->len < MAX_PENDING) {
            StPending *pc = g_new0(StPending, 1);
            pc->id = src->next_checkpoint++;
            pc->barrier_pos = src->log->len;
            pc->snapshots = g_new0(GByteArray *, s->partitions);
            pc->next_pos = g_new0(uint64_t, s->partitions);
            pc->out_seq = g_new0(uint64_t, s->partitions);
            g_ptr_array_add(a, pc);
            StRecord rec = { .type = REC_BARRIER, .id = pc->id };
            log_append(n, src, &rec);
            pump_all(n, s);
        }
        fl_timer(n, s->checkpoint_interval, ST_T_CHECKPOINT);
        break;
    }
    }
}
