/* stream: a stream processor with event-time windows, watermarks and
 * checkpoints (in the style of Flink and the Dataflow model).
 *
 * Design notes.
 * 1. Roles.  Node 0 is the source and the job manager; nodes 1 .. n-2 run
 *    the keyed window operator, one instance per key partition (a key
 *    belongs to partition hash(key) mod P); node n-1 is the sink.  Clients
 *    send events to the source (others redirect them there); the final
 *    reads ask the source for its log and the sink for its output.
 * 2. The source log.  The source gives each event its event time (the
 *    device's clock: the ingestion time minus a random delay, and for a
 *    `late_fraction` of events a delay longer than the watermark allows),
 *    appends it to its log, syncs, and only then answers ok: an
 *    acknowledged event is never lost.  Every `watermark_interval` it
 *    appends a watermark, (ingestion clock - watermark_delay), and every
 *    `checkpoint_interval` a barrier.  The log is the one order everything
 *    follows, so what a run computes is a function of the log: replaying
 *    it after a failure gives the same results, and a checker can compute
 *    them sequentially from it.
 * 3. Channels.  The source sends partition p's part of the log (its
 *    events, every watermark and barrier) to p's operator with log
 *    positions; the operator takes a batch only at the position it
 *    expects, and acknowledges; the source resends from the last
 *    acknowledged position when progress stalls.  Operators send results to
 *    the sink the same way, numbered per partition.  So every channel is
 *    FIFO and exactly-once over a network that loses, delays, reorders and
 *    duplicates, within one generation (note 6).
 * 4. Windows.  Tumbling and sliding windows over event time collect count
 *    and sum of the events' values (id mod 100 + 1) and fire when the
 *    watermark passes their end.  An event whose every window has fired is
 *    late: dropped.  Count windows fire on every `count`-th event of a key,
 *    whatever the time.
 * 5. Checkpoints (Chandy-Lamport, as Flink's barriers).  A barrier c in the
 *    log reaches every operator instance after exactly the records before
 *    it, so an instance's state when it meets the barrier is its part of a
 *    consistent cut: it sends that snapshot to the job manager and a
 *    barrier marker down its output channel.  The sink, which hears from
 *    every partition, has passed barrier c when every channel brought its
 *    marker (no alignment buffer is needed: it tags each result with the
 *    epoch of its channel).  Checkpoint c is complete when every snapshot
 *    and the sink's word are in; the job manager persists it.
 * 6. Recovery.  When a node restarts, or an operator node falls silent,
 *    the job manager starts a new generation: it assigns the partitions to
 *    the live operator nodes, restores each instance from the last
 *    complete checkpoint, rewinds its channel to the barrier's position,
 *    and tells the sink the sequence numbers to expect.  Messages of older
 *    generations are dropped.  The job manager itself restarts from its
 *    log and checkpoint on disk.
 * 7. Sinks.  at-least-once: results are shown as they arrive (synced), so
 *    after a rollback the replayed ones appear again: duplicates, never
 *    losses.  exactly-once: a two-phase commit sink.  Results are kept
 *    (synced) as pending, tagged with their epoch; when checkpoint c
 *    completes the job manager tells the sink, which shows the results of
 *    epochs <= c; after a rollback to c, pending results of later epochs
 *    are dropped (they will come again).  The price is latency: a result
 *    waits for the next checkpoint.
 * 8. Determinism: partitions, keys and windows are visited in order;
 *    snapshots are encoded sorted; the only randomness is the event delays
 *    drawn by the source from its own stream. */
#include "protocols/epoch.h"
#include "protocols/stream/stream.h"

#include <string.h>

static const FlParam st_params[] = {
    { "window", FL_PARAM_ENUM, "\"tumbling\"", "window kind", "tumbling|sliding|count", 0, 0 },
    { "size", FL_PARAM_DURATION, "\"1s\"", "tumbling and sliding windows: length in event time", NULL, 1, 1e12 },
    { "slide", FL_PARAM_DURATION, "\"500ms\"", "sliding windows: distance between starts", NULL, 1, 1e12 },
    { "count", FL_PARAM_INT, "20", "count windows: events per window and key", NULL, 1, 1e9 },
    { "watermark_delay", FL_PARAM_DURATION, "\"300ms\"", "watermark = source clock minus this", NULL, 0, 1e12 },
    { "watermark_interval", FL_PARAM_DURATION, "\"100ms\"", "how often the source appends a watermark", NULL, 1, 1e12 },
    { "event_delay", FL_PARAM_DURATION, "\"200ms\"", "events are up to this old when they reach the source", NULL, 0, 1e12 },
    { "late_fraction", FL_PARAM_DOUBLE, "0.05", "share of events older than the watermark allows (late)", NULL, 0, 1 },
    { "checkpoint_interval", FL_PARAM_DURATION, "\"500ms\"", "how often the source appends a barrier", NULL, 1, 1e12 },
    { "sink", FL_PARAM_ENUM, "\"exactly-once\"", "sink mode", "exactly-once|at-least-once", 0, 0 },
    { "partitions", FL_PARAM_INT, "0", "key partitions (0: one per operator node)", NULL, 0, ST_MAX_PARTITIONS },
    { "heartbeat", FL_PARAM_DURATION, "\"50ms\"", "heartbeat interval to the job manager", NULL, 1, 1e12 },
    { "node_timeout", FL_PARAM_DURATION, "\"300ms\"", "silence after which an operator node is lost", NULL, 1, 1e12 },
    { "resend", FL_PARAM_DURATION, "\"100ms\"", "channels resend what is not acknowledged after this", NULL, 1, 1e12 },
    { NULL },
};

void st_record_encode(FlWriter *w, const StRecord *r)
{
    fl_put_u8(w, r->type);
    fl_put_u32(w, r->key);
    fl_put_u64(w, r->id);
    fl_put_u64(w, r->ts);
    fl_put_u64(w, r->ingest);
}

bool st_record_decode(FlReader *r, StRecord *rec)
{
    rec->type = fl_get_u8(r);
    rec->key = fl_get_u32(r);
    rec->id = fl_get_u64(r);
    rec->ts = fl_get_u64(r);
    rec->ingest = fl_get_u64(r);
    return fl_reader_ok(r) && rec->type >= REC_EVENT && rec->type <= REC_BARRIER &&
           rec->key < FL_MAX_KEYS;
}

void st_result_encode(FlWriter *w, const StResult *r)
{
    fl_put_u8(w, r->barrier);
    fl_put_u32(w, r->key);
    fl_put_u64(w, r->start);
    fl_put_u64(w, r->end);
    fl_put_u64(w, r->count);
    fl_put_u64(w, r->sum);
    fl_put_u64(w, r->max_ingest);
}

bool st_result_decode(FlReader *r, StResult *res)
{
    res->barrier = fl_get_u8(r);
    res->key = fl_get_u32(r);
    res->start = fl_get_u64(r);
    res->end = fl_get_u64(r);
    res->count = fl_get_u64(r);
    res->sum = fl_get_u64(r);
    res->max_ingest = fl_get_u64(r);
    return fl_reader_ok(r) && res->barrier <= 1;
}

uint32_t st_partition(const Stream *s, uint32_t key)
{
    return (uint32_t)(fl_mix64((uint64_t)key + 0x9e3779b97f4a7c15ULL) % s->partitions);
}

uint64_t st_value(uint64_t id)
{
    return id % 100 + 1;
}

const char *st_window_name(uint8_t kind)
{
    return kind == ST_SLIDING ? "sliding" : kind == ST_COUNT ? "count" : "tumbling";
}


static void st_start(FlNode *n, void *state, bool recover)
{
    Stream *s = state;
    const char *win = fl_param_enum(n, "window");
    s->window = strcmp(win, "sliding") == 0 ? ST_SLIDING : strcmp(win, "count") == 0 ? ST_COUNT
                                                                                   : ST_TUMBLING;
    s->size = (uint64_t)fl_param_duration(n, "size");
    s->slide = s->window == ST_SLIDING ? (uint64_t)fl_param_duration(n, "slide") : s->size;
    s->count = (uint64_t)fl_param_int(n, "count");
    s->wm_delay = fl_param_duration(n, "watermark_delay");
    s->wm_interval = fl_param_duration(n, "watermark_interval");
    s->event_delay = fl_param_duration(n, "event_delay");
    s->late_fraction = fl_param_double(n, "late_fraction");
    s->checkpoint_interval = fl_param_duration(n, "checkpoint_interval");
    s->mode = strcmp(fl_param_enum(n, "sink"), "at-least-once") == 0 ? ST_AT_LEAST_ONCE
                                                                     : ST_EXACTLY_ONCE;
    s->heartbeat = fl_param_duration(n, "heartbeat");
    s->node_timeout = fl_param_duration(n, "node_timeout");
    s->resend = fl_param_duration(n, "resend");
    uint32_t nodes = fl_nodes(n);
    s->sink_node = nodes - 1;
    uint32_t operators = nodes >= 3 ? nodes - 2 : 1;
    s->partitions = (uint32_t)fl_param_int(n, "partitions");
    if (s->partitions == 0)
        s->partitions = operators;
    s->epoch = fl_epoch_next(n);
    if (nodes < 3) {
        fl_log(n, "stream needs at least 3 nodes (source, operator, sink)");
        return;
    }
    uint32_t self = fl_self(n);
    if (self == ST_SOURCE)
        st_source_init(n, s, recover);
    else if (self == s->sink_node)
        st_sink_init(n, s);
    else
        st_operator_init(n, s);
}

static void st_init(FlNode *n, void *state)
{
    st_start(n, state, false);
}

static void st_recover(FlNode *n, void *state)
{
    st_start(n, state, true);
}

static void st_destroy(FlNode *n, void *state)
{
    Stream *s = state;
    st_source_destroy(s);
    st_operator_destroy(s);
    st_sink_destroy(s);
}

static void st_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Stream *s = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    if (!fl_reader_ok(&r) || from >= fl_nodes(n))
        return;
    if (s->src)
        st_source_message(n, s, from, type, &r);
    else if (s->sink)
        st_sink_message(n, s, from, type, &r);
    else if (s->op)
        st_operator_message(n, s, from, type, &r);
}

static void st_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Stream *s = state;
    if (s->src)
        st_source_timer(n, s, tag);
    else if (s->sink)
        st_sink_timer(n, s, tag);
    else if (s->op)
        st_operator_timer(n, s, tag);
}

static void st_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Stream *s = state;
    if (req->op.kind == FL_OP_STREAM_READ && (req->op.flags & FL_OP_F_LOCAL)) {
        /* The final reads: the source shows its log, the sink its output,
         * the operators nothing. */
        if (s->src) {
            st_source_request(n, s, req);
        } else if (s->sink) {
            st_sink_request(n, s, req);
        } else {
            FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
            fl_reply(n, req, &res);
        }
        return;
    }
    if (!s->src) {
        fl_reply_redirect(n, req, ST_SOURCE);
        return;
    }
    st_source_request(n, s, req);
}

/* The counters the sink and sources create (FlProtocol.counters). */
static const char *const stream_counters[] = {
    "stream_results", "stream_latency_ms", "stream_recoveries", "stream_checkpoints", NULL,
};

const FlProtocol fl_proto_stream = {
    .name = "stream",
    .summary = "stream processing: event-time windows, watermarks, barrier checkpoints, at-least-once or exactly-once sink",
    .params = st_params,
    .state_size = sizeof(Stream),
    .init = st_init,
    .recover = st_recover,
    .destroy = st_destroy,
    .on_message = st_on_message,
    .on_timer = st_on_timer,
    .on_request = st_on_request,
    .counters = stream_counters,
};
