/* protocols/stream: shared declarations of the stream processor.
 *
 * stream.c holds the design notes (cited by number in every file), the
 * protocol table, the codec of log records and results, and the dispatch;
 * source.c the source and job manager (node 0); operator.c the keyed
 * window operators (nodes 1 .. n-2); sink.c the sink (node n-1). */
#pragma once

#include "sim/node.h"

#include <glib.h>

#define ST_SOURCE 0
#define ST_MAX_PARTITIONS 256
#define ST_MAX_BATCH 256          /* records per data message */
#define ST_WINDOW 1024            /* positions or results in flight per channel */
#define ST_MAX_OUT 65536          /* results an operator holds unacknowledged */

/* Window kinds. */
enum { ST_TUMBLING = 1, ST_SLIDING, ST_COUNT };
/* Sink modes. */
enum { ST_AT_LEAST_ONCE = 1, ST_EXACTLY_ONCE };

#define ST_RECORD_BYTES 29         /* an encoded StRecord */
#define ST_RESULT_BYTES 45         /* an encoded StResult */

/* Log records (note 2). */
enum { REC_EVENT = 1, REC_WATERMARK, REC_BARRIER };

typedef struct StRecord {
    uint8_t type;
    uint32_t key;            /* event */
    uint64_t id;             /* event: its id; barrier: checkpoint number */
    uint64_t ts;             /* event: event time; watermark: its time */
    uint64_t ingest;         /* event: source time when logged */
} StRecord;

/* A window's result, or a barrier marker in an output channel. */
typedef struct StResult {
    uint8_t barrier;         /* 1: a barrier marker; `start` holds the checkpoint */
    uint32_t key;
    uint64_t start, end;     /* event time (tumbling, sliding); count windows: index, index+1 */
    uint64_t count, sum;
    uint64_t max_ingest;     /* latest ingestion time among its events */
} StResult;

/* Messages: the first byte. */
enum {
    ST_HEARTBEAT = 1,   /* node -> source: epoch, gen */
    ST_RESTORE,         /* source -> operator: gen, checkpoint, partitions [p, next_pos, snapshot] */
    ST_RESTORED,        /* operator/sink -> source: gen */
    ST_DATA,            /* source -> operator: gen, partition, from, upto, records [pos, record] */
    ST_DATA_ACK,        /* operator -> source: gen, partition, next_pos */
    ST_SNAPSHOT,        /* operator -> source: gen, partition, checkpoint, next_pos, out_seq, state */
    ST_OUT,             /* operator -> sink: gen, partition, from_seq, results */
    ST_OUT_ACK,         /* sink -> operator: gen, partition, next_seq */
    ST_SINK_RESTORE,    /* source -> sink: gen, checkpoint, partitions, next_seq per partition */
    ST_SINK_BARRIER,    /* sink -> source: gen, checkpoint (every channel passed it) */
    ST_COMMIT,          /* source -> sink: checkpoint */
    ST_COMMIT_ACK,      /* sink -> source: checkpoint */
};

/* Timer tags. */
enum { ST_T_TICK = 1, ST_T_WATERMARK, ST_T_CHECKPOINT, ST_T_HEARTBEAT, ST_T_RESEND };

/* ---- Source and job manager (source.c) ---------------------------------- */

typedef struct StPending {   /* a checkpoint under way */
    uint64_t id;
    uint64_t barrier_pos;
    GByteArray **snapshots;  /* per partition; NULL until it comes */
    uint64_t *next_pos, *out_seq;
    uint32_t have;
    bool sink;
} StPending;

typedef struct StNodeView {
    uint64_t epoch;
    FlTime last_heard;
    bool alive;
    uint64_t restored_gen;
} StNodeView;

typedef struct StSource {
    GArray *log;             /* of StRecord */
    GHashTable *ids;         /* event id -> log position + 1 */
    uint64_t gen;
    uint64_t watermark;
    uint64_t next_checkpoint;
    /* The last completed checkpoint (note 5), persisted. */
    uint64_t ckpt_id, ckpt_pos;
    GByteArray **ckpt_state; /* per partition */
    uint64_t *ckpt_next_pos, *ckpt_out_seq;
    GPtrArray *pending;      /* of StPending* */
    uint64_t committed_acked;/* last checkpoint the sink confirmed committing */
    /* Channels (note 3). */
    uint32_t *owner;         /* per partition: operator node, or UINT32_MAX */
    uint64_t *acked, *sent;  /* per partition: log positions */
    FlTime *progress;        /* per partition: when acked last moved */
    StNodeView *nodes;
    bool assigned;
} StSource;

/* ---- Operators (operator.c) --------------------------------------------- */

typedef struct StWin {
    uint32_t key;
    uint64_t start, end;
    uint64_t count, sum, max_ingest;
} StWin;

typedef struct StCountAcc {
    uint32_t key;
    uint64_t index, count, sum, max_ingest;
} StCountAcc;

typedef struct StPart {
    uint32_t p;
    uint64_t next_pos;       /* next log position expected */
    uint64_t watermark;
    GArray *windows;         /* of StWin, sorted by (end, key, start) */
    GArray *counts;          /* of StCountAcc, sorted by key */
    uint64_t out_seq;        /* sequence number of the next output */
    GArray *out;             /* of StResult not yet acknowledged; out[0] has seq out_acked */
    uint64_t out_acked, out_sent;
    FlTime out_progress;
} StPart;

typedef struct StOperator {
    uint64_t gen;
    GPtrArray *parts;        /* of StPart* */
} StOperator;

/* ---- Sink (sink.c) ------------------------------------------------------ */

typedef struct StSinkRow {
    uint64_t epoch;          /* exactly-once: the checkpoint that commits it */
    StResult r;
    uint64_t at;             /* local time it became visible */
} StSinkRow;

typedef struct StSink {
    uint64_t gen;
    bool restored;
    uint64_t *next_seq;      /* per partition */
    uint64_t *barriers;      /* per partition: last barrier passed */
    uint64_t committed;      /* exactly-once: last committed checkpoint */
    uint64_t acked_barrier;  /* last checkpoint reported to the source */
    GArray *pending;         /* exactly-once: of StSinkRow not committed */
    GArray *out;             /* of StSinkRow: what the sink shows */
} StSink;

/* ---- The node ----------------------------------------------------------- */

typedef struct Stream {
    /* Parameters. */
    uint8_t window;
    uint64_t size, slide, count;
    FlDuration wm_delay, wm_interval, event_delay, checkpoint_interval;
    double late_fraction;
    uint8_t mode;
    uint32_t partitions;
    FlDuration heartbeat, node_timeout, resend;
    uint64_t epoch;
    uint32_t sink_node;
    StSource *src;
    StOperator *op;
    StSink *sink;
} Stream;

/* stream.c */
void st_record_encode(FlWriter *w, const StRecord *r);
bool st_record_decode(FlReader *r, StRecord *rec);
void st_result_encode(FlWriter *w, const StResult *r);
bool st_result_decode(FlReader *r, StResult *res);
uint32_t st_partition(const Stream *s, uint32_t key);
uint64_t st_value(uint64_t id);
const char *st_window_name(uint8_t kind);

/* source.c */
void st_source_init(FlNode *n, Stream *s, bool recover);
void st_source_destroy(Stream *s);
void st_source_request(FlNode *n, Stream *s, const FlRequest *req);
void st_source_message(FlNode *n, Stream *s, uint32_t from, uint8_t type, FlReader *r);
void st_source_timer(FlNode *n, Stream *s, uint64_t tag);

/* operator.c */
void st_operator_init(FlNode *n, Stream *s);
void st_operator_destroy(Stream *s);
void st_operator_message(FlNode *n, Stream *s, uint32_t from, uint8_t type, FlReader *r);
void st_operator_timer(FlNode *n, Stream *s, uint64_t tag);

/* sink.c */
void st_sink_init(FlNode *n, Stream *s);
void st_sink_destroy(Stream *s);
void st_sink_request(FlNode *n, Stream *s, const FlRequest *req);
void st_sink_message(FlNode *n, Stream *s, uint32_t from, uint8_t type, FlReader *r);
void st_sink_timer(FlNode *n, Stream *s, uint64_t tag);
