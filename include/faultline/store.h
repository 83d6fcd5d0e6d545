/* faultline/store (in-tree also "sim/store.h"): the data the clients operate on, as protocols see it.
 *
 * An FlOp is one client operation on one key (register read/write/cas, kv
 * get/put/append); an FlRequest is an op with the client and request id that
 * identify it.  FlStore is the sequential state machine that replicated
 * protocols apply ops to: a value per key, plus each client's last request
 * and its result, so that an op delivered twice (a retry, a duplicate, a log
 * replayed after a crash) takes effect once.  Protocols replicate ops; the
 * store gives them meaning.  Ops and stores encode with sim/codec. */
#pragma once

#include <faultline/codec.h>

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FL_OP_READ = 1,   /* register: read -> value or null */
    FL_OP_WRITE,      /* register: write a */
    FL_OP_CAS,        /* register: if value == a then value = b, else fail */
    FL_OP_GET,        /* kv: get -> string */
    FL_OP_PUT,        /* kv: value = token(a) */
    FL_OP_APPEND,     /* kv: value += token(a) */
    FL_OP_NOOP,       /* protocols' own no-ops (gap filling); never from clients */
    FL_OP_TRANSFER,   /* txn: move fl_txn_amount(b) from account `key` to account
                         `a`, as transaction fl_txn_id(b); fails if the money
                         is not there (or, in a distributed protocol, if the
                         transaction aborts) */
    FL_OP_AUDIT,      /* txn: an account's balance on this node and the
                         decisions it knows (see fl_txn_audit_text) */
    FL_OP_ADD,        /* set: add element a */
    FL_OP_REMOVE,     /* set: remove element a */
    FL_OP_SREAD,      /* set: read -> the members, as tokens "3,7," in text */
    FL_OP_INCR,       /* counter: value += a (a counter reads with FL_OP_READ) */
    FL_OP_DECR,       /* counter: value -= a (recorded as an add of -a) */
    /* mapreduce (sim/workload/mapreduce.c): run a job on the corpus of seed a */
    FL_OP_MR_WORDCOUNT,
    FL_OP_MR_INDEX,
    /* files (sim/workload/files.c): key = file; see sim/check/files.h */
    FL_OP_FILE_CREATE,
    FL_OP_FILE_WRITE,     /* a = write id, b = fl_file_pack(offset, records) */
    FL_OP_FILE_APPEND,    /* a = write id, b = records; ok value: the offset */
    FL_OP_FILE_READ,      /* ok: the file's bytes (text), or null: no such file */
    FL_OP_FILE_DELETE,
    /* stream (sim/workload/stream.c): key = the event's key */
    FL_OP_STREAM_SEND,    /* a = event id; ok value: its event time */
    FL_OP_STREAM_READ,    /* final reads: a node's view of one key (text) */
    /* events (sim/workload/events.c): the course's protocols (clocks,
     * election, snapshot) log what happened at each node; see sim/check/events.h */
    FL_OP_EVENT_STEP,     /* a = step id: the node takes one step of its workload */
    FL_OP_EVENT_READ,     /* final reads: the node's log (text) */
    /* Other models add their kinds here. */
    FL_OP_MAX = 32,
} FlOpKind;

/* FlOp.flags */
enum {
    /* Answer from this node's own copy, without redirecting: the final read
     * phase asks every replica for its value.  Protocols that serve only
     * linearizable reads may treat it as an ordinary read. */
    FL_OP_F_LOCAL = 1,
};

#define FL_MAX_KEYS (1u << 20)

/* ---- Transactions (the `txn` workload) -------------------------------
 * A transfer names its transaction and its amount in one int64, because an
 * FlOp has three arguments and a transfer needs four: b = id << 16 | amount.
 * Ids are the workload's unique values (< 2^47); amounts are 1 .. 65535. */
#define FL_TXN_INITIAL_BALANCE 100   /* every account opens with this much */
#define FL_TXN_AMOUNT_MAX 0xffff

static inline int64_t fl_txn_pack(int64_t id, int64_t amount)
{
    return (int64_t)(((uint64_t)id << 16) | ((uint64_t)amount & FL_TXN_AMOUNT_MAX));
}
static inline int64_t fl_txn_id(int64_t b) { return (int64_t)((uint64_t)b >> 16); }
static inline int64_t fl_txn_amount(int64_t b) { return b & FL_TXN_AMOUNT_MAX; }

/* An audit's answer: FlResult.has_value (false: this node does not hold
 * the account), .value (the balance) and .text, a list of tokens
 * "<letter><decimal>," where the letter is c (committed), a (aborted),
 * p (prepared, in doubt) followed by a transaction id, or i followed by the
 * account's opening balance when it is not FL_TXN_INITIAL_BALANCE.  The
 * `txn` workload turns it into the history's JSON value. */

/* ---- Files (the `files` workload) ------------------------------------
 * A file is a sequence of 16-byte records.  Write id w writes records
 * "w=%08x k=%02x\n" for k = 0 .. n-1 (w < 2^32, n <= FL_FILE_RECORDS_MAX),
 * so every record names the write that made it and its place in it: a
 * reader can tell written bytes from bytes nobody wrote.  A write names its
 * offset (in records) and count in b; an append names only the count. */
#define FL_FILE_RECORD 16
#define FL_FILE_RECORDS_MAX 255

static inline int64_t fl_file_pack(uint32_t offset, uint32_t records)
{
    return (int64_t)(((uint64_t)offset << 16) | (records & 0xffff));
}
static inline uint32_t fl_file_offset(int64_t b) { return (uint32_t)((uint64_t)b >> 16); }
static inline uint32_t fl_file_records(int64_t b) { return (uint32_t)(b & 0xffff); }
/* Writes record @k of write @id into @out (FL_FILE_RECORD bytes, no NUL). */
void fl_file_record(uint32_t id, uint32_t k, char *out);

typedef struct FlOp {
    uint8_t kind;     /* FlOpKind */
    uint8_t flags;    /* FL_OP_F_* */
    uint32_t key;     /* < FL_MAX_KEYS */
    int64_t a, b;
} FlOp;

typedef struct FlRequest {
    uint32_t client;  /* the client's network address */
    uint64_t id;      /* unique in the run, increasing per client */
    FlOp op;
} FlRequest;

typedef enum {
    FL_RESULT_OK = 1,
    FL_RESULT_FAIL,       /* certainly not applied (a cas that did not match) */
    FL_RESULT_REDIRECT,   /* not applied here; try `hint` (FL_NO_HINT: unknown) */
} FlResultStatus;

#define FL_NO_HINT UINT32_MAX

typedef struct FlResult {
    FlResultStatus status;
    uint32_t hint;
    bool has_value;       /* read/get results: false means null */
    int64_t value;        /* register read */
    const char *text;     /* kv get: borrowed; NULL means "" */
    size_t text_len;
    /* A session token (borrowed, at most FL_MAX_SESSION bytes; NULL: none):
     * the client keeps the last one an ok answer carried and sends it with
     * each later request, at any node, as the request's session
     * (fl_request_session).  A store that must follow a client from node
     * to node (causal, read-your-writes) puts what the client has seen in
     * it, as COPS's client library and Cosmos DB's session tokens do. */
    const uint8_t *session;
    size_t session_len;
} FlResult;

#define FL_MAX_SESSION 16384

/* The kv token an int stands for: "17,".  Appends concatenate tokens, so a
 * value reads as the list of what was appended.  Writes into @buf (>= 24
 * bytes) and returns its length. */
size_t fl_kv_token(int64_t a, char *buf);

/* Name of the op in histories: "read", "write", "cas", "get", "put", "append",
 * "add", "remove" (FL_OP_INCR and FL_OP_DECR are both "add"). */
const char *fl_op_name(uint8_t kind);
bool fl_op_is_read(uint8_t kind);

void fl_op_encode(FlWriter *w, const FlOp *op);
/* Returns false (and leaves *op unspecified) if the bytes are not an op. */
bool fl_op_decode(FlReader *r, FlOp *op);
void fl_request_encode(FlWriter *w, const FlRequest *req);
bool fl_request_decode(FlReader *r, FlRequest *req);

typedef struct FlStore FlStore;

FlStore *fl_store_new(void);
void fl_store_free(FlStore *s);

/* Applies @op and fills @res (its text borrowed from the store until the
 * next call that changes it). */
void fl_store_apply(FlStore *s, const FlOp *op, FlResult *res);

/* Applies @req once: a request whose id is the client's last applied one
 * gets the same result again without applying twice; an older one is
 * ignored and returns false.  Returns true if @res was filled. */
bool fl_store_apply_request(FlStore *s, const FlRequest *req, FlResult *res);

/* Reads without changing anything (for reads served locally). */
void fl_store_read(const FlStore *s, const FlOp *op, FlResult *res);

/* Register value of @key, for protocols that store registers themselves. */
bool fl_store_get_int(const FlStore *s, uint32_t key, int64_t *v);

/* Snapshot of the whole store (values and client table). */
void fl_store_encode(const FlStore *s, FlWriter *w);
/* Replaces @s's content; returns false on malformed input (then @s is
 * empty). */
bool fl_store_decode(FlStore *s, FlReader *r);
/* A hash of the content, to compare replicas. */
uint64_t fl_store_hash(const FlStore *s);

#ifdef __cplusplus
}
#endif
