/* The keyed window operator (nodes 1 .. n-2): one instance per key
 * partition it is given, each with its windows, its watermark and its
 * output channel to the sink.  See the design notes in stream.c; the
 * numbers cited are theirs. */
#include "protocols/stream/stream.h"

#include <string.h>

static FlDuration since(FlNode *n, FlTime t)
{
    FlTime now = fl_now(n);
    return now > t ? (FlDuration)(now - t) : 0;
}

static void part_free(StPart *pt)
{
    if (!pt)
        return;
    g_array_free(pt->windows, TRUE);
    g_array_free(pt->counts, TRUE);
    g_array_free(pt->out, TRUE);
    g_free(pt);
}

static StPart *part_new(uint32_t p)
{
    StPart *pt = g_new0(StPart, 1);
    pt->p = p;
    pt->windows = g_array_new(FALSE, FALSE, sizeof(StWin));
    pt->counts = g_array_new(FALSE, FALSE, sizeof(StCountAcc));
    pt->out = g_array_new(FALSE, FALSE, sizeof(StResult));
    return pt;
}

static void clear_parts(StOperator *op)
{
    for (guint i = 0; i < op->parts->len; i++)
        part_free(g_ptr_array_index(op->parts, i));
    g_ptr_array_set_size(op->parts, 0);
}

static StPart *find_part(StOperator *op, uint32_t p)
{
    for (guint i = 0; i < op->parts->len; i++) {
        StPart *pt = g_ptr_array_index(op->parts, i);
        if (pt->p == p)
            return pt;
    }
    return NULL;
}

void st_operator_init(FlNode *n, Stream *s)
{
    fl_role(n, "operator");
    s->op = g_new0(StOperator, 1);
    s->op->parts = g_ptr_array_new();
    fl_timer(n, s->heartbeat, ST_T_HEARTBEAT);
    fl_timer(n, s->resend, ST_T_RESEND);
}

void st_operator_destroy(Stream *s)
{
    if (!s->op)
        return;
    clear_parts(s->op);
    g_ptr_array_free(s->op->parts, TRUE);
    g_free(s->op);
    s->op = NULL;
}

/* ---- State snapshots (note 5) ------------------------------------------- */

static void encode_state(const StPart *pt, FlWriter *w)
{
    fl_put_u64(w, pt->watermark);
    fl_put_u32(w, pt->windows->len);
    for (guint i = 0; i < pt->windows->len; i++) {
        const StWin *x = &g_array_index(pt->windows, StWin, i);
        fl_put_u32(w, x->key);
        fl_put_u64(w, x->start);
        fl_put_u64(w, x->end);
        fl_put_u64(w, x->count);
        fl_put_u64(w, x->sum);
        fl_put_u64(w, x->max_ingest);
    }
    fl_put_u32(w, pt->counts->len);
    for (guint i = 0; i < pt->counts->len; i++) {
        const StCountAcc *c = &g_array_index(pt->counts, StCountAcc, i);
        fl_put_u32(w, c->key);
        fl_put_u64(w, c->index);
        fl_put_u64(w, c->count);
        fl_put_u64(w, c->sum);
        fl_put_u64(w, c->max_ingest);
    }
}

static bool decode_state(StPart *pt, FlReader *r)
{
    pt->watermark = fl_get_u64(r);
    uint32_t nw = fl_get_u32(r);
    if (!fl_reader_ok(r) || nw > fl_reader_left(r) / 44)
        return false;
    for (uint32_t i = 0; i < nw; i++) {
        StWin x;
        x.key = fl_get_u32(r);
        x.start = fl_get_u64(r);
        x.end = fl_get_u64(r);
        x.count = fl_get_u64(r);
        x.sum = fl_get_u64(r);
        x.max_ingest = fl_get_u64(r);
        g_array_append_val(pt->windows, x);
    }
    uint32_t nc = fl_get_u32(r);
    if (!fl_reader_ok(r) || nc > fl_reader_left(r) / 36)
        return false;
    for (uint32_t i = 0; i < nc; i++) {
        StCountAcc c;
        c.key = fl_get_u32(r);
        c.index = fl_get_u64(r);
        c.count = fl_get_u64(r);
        c.sum = fl_get_u64(r);
        c.max_ingest = fl_get_u64(r);
        g_array_append_val(pt->counts, c);
    }
    return fl_reader_ok(r);
}

/* ---- Windows (note 4) ----------------------------------------------------- */

static int win_cmp(const StWin *a, uint64_t end, uint32_t key, uint64_t start)
{
    if (a->end != end)
        return a->end < end ? -1 : 1;
    if (a->key != key)
        return a->key < key ? -1 : 1;
    if (a->start != start)
        return a->start < start ? -1 : 1;
    return 0;
}

/* The window (key, start, end), created if absent; sorted by (end, key, start). */
static StWin *window(StPart *pt, uint32_t key, uint64_t start, uint64_t end)
{
    guint lo = 0, hi = pt->windows->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        int c = win_cmp(&g_array_index(pt->windows, StWin, mid), end, key, start);
        if (c == 0)
            return &g_array_index(pt->windows, StWin, mid);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    StWin x = { .key = key, .start = start, .end = end };
    g_array_insert_val(pt->windows, lo, x);
    return &g_array_index(pt->windows, StWin, lo);
}

static void emit(StPart *pt, const StResult *r)
{
    g_array_append_val(pt->out, *r);
    pt->out_seq++;
}

static void add_to(StWin *x, uint64_t value, uint64_t ingest)
{
    x->count++;
    x->sum += value;
    if (ingest > x->max_ingest)
        x->max_ingest = ingest;
}

static void on_event(Stream *s, StPart *pt, const StRecord *rec)
{
    uint64_t value = st_value(rec->id);
    if (s->window == ST_COUNT) {
        guint lo = 0, hi = pt->counts->len;
        while (lo < hi) {
            guint mid = (lo + hi) / 2;
            if (g_array_index(pt->counts, StCountAcc, mid).key < rec->key)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == pt->counts->len || g_array_index(pt->counts, StCountAcc, lo).key != rec->key) {
            StCountAcc fresh = { .key = rec->key };
            g_array_insert_val(pt->counts, lo, fresh);
        }
        StCountAcc *c = &g_array_index(pt->counts, StCountAcc, lo);
        c->count++;
        c->sum += value;
        if (rec->ingest > c->max_ingest)
            c->max_ingest = rec->ingest;
        if (c->count == s->count) {
            StResult r = { .key = c->key, .start = c->index, .end = c->index + 1,
                           .count = c->count, .sum = c->sum, .max_ingest = c->max_ingest };
            emit(pt, &r);
            c->index++;
            c->count = c->sum = c->max_ingest = 0;
        }
        return;
    }
    /* Every window [k*slide, k*slide + size) that holds ts and has not
     * fired; none: the event is late. */
    uint64_t ts = rec->ts;
    uint64_t last = ts / s->slide;
    uint64_t first = ts >= s->size ? (ts - s->size) / s->slide + 1 : 0;
    for (uint64_t k = first; k <= last; k++) {
        uint64_t start = k * s->slide, end = start + s->size;
        if (end <= pt->watermark)
            continue;
        add_to(window(pt, rec->key, start, end), value, rec->ingest);
    }
}

static void on_watermark(StPart *pt, uint64_t ts)
{
    if (ts <= pt->watermark)
        return;
    pt->watermark = ts;
    guint fired = 0;
    while (fired < pt->windows->len && g_array_index(pt->windows, StWin, fired).end <= ts) {
        const StWin *x = &g_array_index(pt->windows, StWin, fired);
        StResult r = { .key = x->key, .start = x->start, .end = x->end, .count = x->count,
                       .sum = x->sum, .max_ingest = x->max_ingest };
        emit(pt, &r);
        fired++;
    }
    if (fired)
        g_array_remove_range(pt->windows, 0, fired);
}

/* Note 5: at barrier @id (log position @pos) the state goes to the job
 * manager and a marker down the output channel. */
static void on_barrier(FlNode *n, Stream *s, StPart *pt, uint64_t id, uint64_t pos)
{
    StResult marker = { .barrier = 1, .start = id };
    emit(pt, &marker);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, ST_SNAPSHOT);
    fl_put_u64(&w, s->op->gen);
    fl_put_u32(&w, pt->p);
    fl_put_u64(&w, id);
    fl_put_u64(&w, pos + 1);
    fl_put_u64(&w, pt->out_seq);
    FlWriter st;
    fl_writer_init(&st, NULL, 0);
    encode_state(pt, &st);
    fl_put_bytes(&w, st.data, st.len);
    fl_writer_deinit(&st);
    fl_send(n, ST_SOURCE, w.data, w.len);
    fl_writer_deinit(&w);
}

/* ---- Output channel (note 3) ------------------------------------------------ */

static void pump(FlNode *n, Stream *s, StPart *pt)
{
    uint64_t end = MIN(pt->out_seq, pt->out_acked + ST_WINDOW);
    while (pt->out_sent < end) {
        uint64_t upto = MIN(end, pt->out_sent + ST_MAX_BATCH);
        FlWriter w;
        fl_writer_init(&w, NULL, 0);
        fl_put_u8(&w, ST_OUT);
        fl_put_u64(&w, s->op->gen);
        fl_put_u32(&w, pt->p);
        fl_put_u64(&w, pt->out_sent);
        fl_put_u32(&w, (uint32_t)(upto - pt->out_sent));
        for (uint64_t q = pt->out_sent; q < upto; q++)
            st_result_encode(&w, &g_array_index(pt->out, StResult, q - pt->out_acked));
        fl_send(n, s->sink_node, w.data, w.len);
        fl_writer_deinit(&w);
        pt->out_sent = upto;
    }
}

/* ---- Messages ------------------------------------------------------------------ */

static void on_restore(FlNode *n, Stream *s, uint32_t from, FlReader *r)
{
    StOperator *op = s->op;
    uint64_t gen = fl_get_u64(r);
    (void)fl_get_u64(r);   /* the checkpoint, for the trace */
    uint32_t count = fl_get_u32(r);
    if (!fl_reader_ok(r) || from != ST_SOURCE || gen < op->gen || count > s->partitions)
        return;
    if (gen > op->gen) {
        g_autoptr(GPtrArray) fresh = g_ptr_array_new();
        for (uint32_t i = 0; i < count; i++) {
            uint32_t p = fl_get_u32(r);
            uint64_t next_pos = fl_get_u64(r);
            uint64_t out_seq = fl_get_u64(r);
            size_t len;
            const uint8_t *state = fl_get_bytes(r, &len);
            StPart *pt = part_new(p);
            g_ptr_array_add(fresh, pt);
            pt->next_pos = next_pos;
            pt->out_seq = pt->out_acked = pt->out_sent = out_seq;
            FlReader sr;
            fl_reader_init(&sr, state, len);
            if (!fl_reader_ok(r) || p >= s->partitions || (len && !decode_state(pt, &sr))) {
                for (guint k = 0; k < fresh->len; k++)
                    part_free(g_ptr_array_index(fresh, k));
                return;
            }
        }
        if (!fl_reader_done(r)) {
            for (guint k = 0; k < fresh->len; k++)
                part_free(g_ptr_array_index(fresh, k));
            return;
        }
        clear_parts(op);
        for (guint k = 0; k < fresh->len; k++) {
            StPart *pt = g_ptr_array_index(fresh, k);
            pt->out_progress = fl_now(n);
            g_ptr_array_add(op->parts, pt);
        }
        op->gen = gen;
    }
    FlWriter w;
    uint8_t buf[24];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, ST_RESTORED);
    fl_put_u64(&w, op->gen);
    fl_put_u64(&w, s->epoch);
    fl_send(n, ST_SOURCE, w.data, w.len);
}

static void ack_data(FlNode *n, Stream *s, StPart *pt)
{
    FlWriter w;
    uint8_t buf[24];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, ST_DATA_ACK);
    fl_put_u64(&w, s->op->gen);
    fl_put_u32(&w, pt->p);
    fl_put_u64(&w, pt->next_pos);
    fl_send(n, ST_SOURCE, w.data, w.len);
}

static void on_data(FlNode *n, Stream *s, uint32_t from, FlReader *r)
{
    StOperator *op = s->op;
    uint64_t gen = fl_get_u64(r);
    uint32_t p = fl_get_u32(r);
    uint64_t from_pos = fl_get_u64(r);
    uint64_t upto = fl_get_u64(r);
    uint32_t count = fl_get_u32(r);
    StPart *pt = find_part(op, p);
    if (!fl_reader_ok(r) || from != ST_SOURCE || gen != op->gen || !pt || upto < from_pos ||
        count > ST_MAX_BATCH)
        return;
    if (from_pos != pt->next_pos || pt->out->len >= ST_MAX_OUT) {
        ack_data(n, s, pt);   /* not the next batch (or full): say where we are */
        return;
    }
    /* Decode the whole batch before acting on it. */
    StRecord recs[ST_MAX_BATCH];
    uint64_t pos[ST_MAX_BATCH];
    uint64_t prev = from_pos;
    for (uint32_t i = 0; i < count; i++) {
        pos[i] = fl_get_u64(r);
        if (!st_record_decode(r, &recs[i]) || pos[i] < prev || pos[i] >= upto)
            return;
        prev = pos[i] + 1;
    }
    if (!fl_reader_done(r))
        return;
    for (uint32_t i = 0; i < count; i++) {
        switch (recs[i].type) {
        case REC_EVENT:
            if (st_partition(s, recs[i].key) == p)
                on_event(s, pt, &recs[i]);
            break;
        case REC_WATERMARK:
            on_watermark(pt, recs[i].ts);
            break;
        case REC_BARRIER:
            pt->next_pos = pos[i] + 1;
            on_barrier(n, s, pt, recs[i].id, pos[i]);
            break;
        }
    }
    pt->next_pos = upto;
    ack_data(n, s, pt);
    pump(n, s, pt);
}

static void on_out_ack(FlNode *n, Stream *s, FlReader *r)
{
    uint64_t gen = fl_get_u64(r);
    uint32_t p = fl_get_u32(r);
    uint64_t next = fl_get_u64(r);
    StPart *pt = find_part(s->op, p);
    if (!fl_reader_done(r) || gen != s->op->gen || !pt || next > pt->out_seq)
        return;
    if (next > pt->out_acked) {
        g_array_remove_range(pt->out, 0, (guint)(next - pt->out_acked));
        pt->out_acked = next;
        pt->out_progress = fl_now(n);
        if (pt->out_sent < next)
            pt->out_sent = next;
        pump(n, s, pt);
    }
}

void st_operator_message(FlNode *n, Stream *s, uint32_t from, uint8_t type, FlReader *r)
{
    switch (type) {
    case ST_RESTORE: on_restore(n, s, from, r); break;
    case ST_DATA: on_data(n, s, from, r); break;
    case ST_OUT_ACK:
        if (from == s->sink_node)
            on_out_ack(n, s, r);
        break;
    default: break;   /* not an operator's: drop */
    }
}

void st_operator_timer(FlNode *n, Stream *s, uint64_t tag)
{
    StOperator *op = s->op;
    if (tag == ST_T_HEARTBEAT) {
        FlWriter w;
        uint8_t buf[24];
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u8(&w, ST_HEARTBEAT);
        fl_put_u64(&w, s->epoch);
        fl_put_u64(&w, op->gen);
        fl_send(n, ST_SOURCE, w.data, w.len);
        fl_timer(n, s->heartbeat, ST_T_HEARTBEAT);
    } else if (tag == ST_T_RESEND) {
        for (guint i = 0; i < op->parts->len; i++) {
            StPart *pt = g_ptr_array_index(op->parts, i);
            if (pt->out_sent > pt->out_acked && since(n, pt->out_progress) > s->resend) {
                pt->out_sent = pt->out_acked;
                pt->out_progress = fl_now(n);
                pump(n, s, pt);
            }
        }
        fl_timer(n, s->resend, ST_T_RESEND);
    }
}
