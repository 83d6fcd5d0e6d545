/* The stream sink (node n-1): receives results from every partition,
 * passes barriers, and shows results at once (at-least-once) or when
 * their checkpoint completes (exactly-once, a two-phase commit).  See the
 * design notes in stream.c; the numbers cited are theirs. */
#include "protocols/stream/stream.h"

#include <inttypes.h>
#include <string.h>

#define ROW_BYTES (8 + ST_RESULT_BYTES + 8)   /* epoch, result, time */

static void row_encode(FlWriter *w, const StSinkRow *row)
{
    fl_put_u64(w, row->epoch);
    st_result_encode(w, &row->r);
    fl_put_u64(w, row->at);
}

/* Reads whole rows of @file into @into; a torn tail is dropped. */
static void load_rows(FlNode *n, const char *file, GArray *into)
{
    size_t len;
    const uint8_t *p = fl_disk_view(n, file, &len);
    for (size_t at = 0; p && at + ROW_BYTES <= len; at += ROW_BYTES) {
        FlReader r;
        fl_reader_init(&r, p + at, ROW_BYTES);
        StSinkRow row;
        row.epoch = fl_get_u64(&r);
        bool ok = st_result_decode(&r, &row.r);
        row.at = fl_get_u64(&r);
        if (!ok || !fl_reader_done(&r))
            break;
        g_array_append_val(into, row);
    }
}

static void append_row(FlNode *n, const char *file, const StSinkRow *row)
{
    uint8_t buf[ROW_BYTES];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    row_encode(&w, row);
    fl_disk_append(n, file, w.data, w.len);
    fl_writer_deinit(&w);
}

static void rewrite_pending(FlNode *n, StSink *k)
{
    fl_disk_truncate(n, "pre", 0);
    for (guint i = 0; i < k->pending->len; i++)
        append_row(n, "pre", &g_array_index(k->pending, StSinkRow, i));
    fl_disk_sync(n, "pre");
}

static void put_committed(FlNode *n, uint64_t c)
{
    uint8_t buf[8];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u64(&w, c);
    fl_disk_write(n, "committed", w.data, w.len);
    fl_disk_sync(n, "committed");
}

void st_sink_init(FlNode *n, Stream *s)
{
    fl_role(n, "sink");
    StSink *k = s->sink = g_new0(StSink, 1);
    k->next_seq = g_new0(uint64_t, s->partitions);
    k->barriers = g_new0(uint64_t, s->partitions);
    k->pending = g_array_new(FALSE, FALSE, sizeof(StSinkRow));
    k->out = g_array_new(FALSE, FALSE, sizeof(StSinkRow));
    load_rows(n, "out", k->out);
    uint8_t buf[8];
    if (fl_disk_read(n, "committed", buf, sizeof buf) == sizeof buf) {
        FlReader r;
        fl_reader_init(&r, buf, sizeof buf);
        k->committed = fl_get_u64(&r);
    }
    g_autoptr(GArray) pre = g_array_new(FALSE, FALSE, sizeof(StSinkRow));
    load_rows(n, "pre", pre);
    for (guint i = 0; i < pre->len; i++)
        if (g_array_index(pre, StSinkRow, i).epoch > k->committed)
            g_array_append_val(k->pending, g_array_index(pre, StSinkRow, i));
    fl_timer(n, s->heartbeat, ST_T_HEARTBEAT);
}

void st_sink_destroy(Stream *s)
{
    StSink *k = s->sink;
    if (!k)
        return;
    g_free(k->next_seq);
    g_free(k->barriers);
    g_array_free(k->pending, TRUE);
    g_array_free(k->out, TRUE);
    g_free(k);
    s->sink = NULL;
}

/* A result becomes visible: synced into the output, counted. */
static void show(FlNode *n, StSink *k, StSinkRow *row)
{
    row->at = fl_now(n);
    g_array_append_val(k->out, *row);
    append_row(n, "out", row);
    fl_metric_add(n, "stream_results", 1);
    if (row->at > row->r.max_ingest)
        fl_metric_add(n, "stream_latency_ms", (double)(row->at - row->r.max_ingest) / 1e6);
}

/* Note 7: the results of every epoch up to @c become visible. */
static void commit(FlNode *n, Stream *s, uint64_t c)
{
    StSink *k = s->sink;
    if (c <= k->committed)
        return;
    guint kept = 0;
    for (guint i = 0; i < k->pending->len; i++) {
        StSinkRow row = g_array_index(k->pending, StSinkRow, i);
        if (row.epoch <= c)
            show(n, k, &row);
        else
            g_array_index(k->pending, StSinkRow, kept++) = row;
    }
    g_array_set_size(k->pending, kept);
    fl_disk_sync(n, "out");
    k->committed = c;
    put_committed(n, c);
    rewrite_pending(n, k);
}

static void on_restore(FlNode *n, Stream *s, FlReader *r)
{
    StSink *k = s->sink;
    uint64_t gen = fl_get_u64(r);
    uint64_t ckpt = fl_get_u64(r);
    uint32_t parts = fl_get_u32(r);
    if (!fl_reader_ok(r) || parts != s->partitions || fl_reader_left(r) != (size_t)parts * 8 ||
        gen < k->gen)
        return;
    if (gen > k->gen) {
        for (uint32_t p = 0; p < parts; p++) {
            k->next_seq[p] = fl_get_u64(r);
            k->barriers[p] = ckpt;
        }
        k->gen = gen;
        k->acked_barrier = ckpt;
        k->restored = true;
        if (s->mode == ST_EXACTLY_ONCE) {
            /* Note 7: epochs up to the checkpoint are in it: commit them
             * (their COMMIT may have been lost); later ones come again. */
            commit(n, s, ckpt);
            g_array_set_size(k->pending, 0);   /* what is left came after it */
            rewrite_pending(n, k);
        }
    }
    FlWriter w;
    uint8_t buf[24];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, ST_RESTORED);
    fl_put_u64(&w, k->gen);
    fl_put_u64(&w, s->epoch);
    fl_send(n, ST_SOURCE, w.data, w.len);
}

static void report_barrier(FlNode *n, Stream *s)
{
    StSink *k = s->sink;
    FlWriter w;
    uint8_t buf[24];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, ST_SINK_BARRIER);
    fl_put_u64(&w, k->gen);
    fl_put_u64(&w, k->acked_barrier);
    fl_send(n, ST_SOURCE, w.data, w.len);
}

static void on_out(FlNode *n, Stream *s, uint32_t from, FlReader *r)
{
    StSink *k = s->sink;
    uint64_t gen = fl_get_u64(r);
    uint32_t p = fl_get_u32(r);
    uint64_t from_seq = fl_get_u64(r);
    uint32_t count = fl_get_u32(r);
    if (!fl_reader_ok(r) || gen != k->gen || !k->restored || p >= s->partitions ||
        count > ST_MAX_BATCH || from == ST_SOURCE || from == s->sink_node)
        return;
    if (from_seq == k->next_seq[p]) {
        StResult res[ST_MAX_BATCH];
        for (uint32_t i = 0; i < count; i++)
            if (!st_result_decode(r, &res[i]))
                return;
        if (!fl_reader_done(r))
            return;
        bool wrote = false;
        for (uint32_t i = 0; i < count; i++) {
            k->next_seq[p]++;
            if (res[i].barrier) {
                k->barriers[p] = res[i].start;
                continue;
            }
            StSinkRow row = { .epoch = k->barriers[p] + 1, .r = res[i] };
            if (s->mode == ST_AT_LEAST_ONCE) {
                show(n, k, &row);
            } else if (row.epoch > k->committed) {
                g_array_append_val(k->pending, row);
                append_row(n, "pre", &row);
            }
            wrote = true;
        }
        if (wrote)
            fl_disk_sync(n, s->mode == ST_AT_LEAST_ONCE ? "out" : "pre");
        /* Note 5: every channel passed barrier c. */
        uint64_t low = k->barriers[0];
        for (uint32_t q = 1; q < s->partitions; q++)
            low = MIN(low, k->barriers[q]);
        if (low > k->acked_barrier) {
            k->acked_barrier = low;
            report_barrier(n, s);
        }
    }
    FlWriter w;
    uint8_t buf[24];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, ST_OUT_ACK);
    fl_put_u64(&w, gen);
    fl_put_u32(&w, p);
    fl_put_u64(&w, k->next_seq[p]);
    fl_send(n, from, w.data, w.len);
}

void st_sink_message(FlNode *n, Stream *s, uint32_t from, uint8_t type, FlReader *r)
{
    switch (type) {
    case ST_SINK_RESTORE:
        if (from == ST_SOURCE)
            on_restore(n, s, r);
        break;
    case ST_OUT: on_out(n, s, from, r); break;
    case ST_COMMIT: {
        uint64_t c = fl_get_u64(r);
        if (!fl_reader_done(r) || from != ST_SOURCE)
            break;
        if (s->mode == ST_EXACTLY_ONCE && c <= s->sink->acked_barrier)
            commit(n, s, c);
        FlWriter w;
        uint8_t buf[16];
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u8(&w, ST_COMMIT_ACK);
        fl_put_u64(&w, c);
        fl_send(n, ST_SOURCE, w.data, w.len);
        break;
    }
    default: break;   /* not the sink's: drop */
    }
}

void st_sink_timer(FlNode *n, Stream *s, uint64_t tag)
{
    if (tag != ST_T_HEARTBEAT)
        return;
    FlWriter w;
    uint8_t buf[24];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, ST_HEARTBEAT);
    fl_put_u64(&w, s->epoch);
    fl_put_u64(&w, s->sink->gen);
    fl_send(n, ST_SOURCE, w.data, w.len);
    if (s->sink->restored && s->sink->acked_barrier > 0)
        report_barrier(n, s);
    fl_timer(n, s->heartbeat, ST_T_HEARTBEAT);
}

/* The final read of a key: what the sink shows for it. */
void st_sink_request(FlNode *n, Stream *s, const FlRequest *req)
{
    StSink *k = s->sink;
    GString *t = g_string_new(NULL);
    g_string_append_printf(t, "sink %s\n", s->mode == ST_EXACTLY_ONCE ? "exactly-once" : "at-least-once");
    for (guint i = 0; i < k->out->len; i++) {
        const StSinkRow *row = &g_array_index(k->out, StSinkRow, i);
        if (row->r.key != req->op.key)
            continue;
        g_string_append_printf(t, "r %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                               row->r.start, row->r.end, row->r.count, row->r.sum,
                               row->at > row->r.max_ingest ? row->at - row->r.max_ingest : 0);
    }
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true,
                     .text = t->str, .text_len = t->len };
    fl_reply(n, req, &res);
    g_string_free(t, TRUE);
}
