/* protocols/txnkv: a sharded transactional key-value store whose isolation
 * level is a parameter (s2pl, si, rc, and the bug read-uncommitted), for
 * the list-append and rw-register workloads and the Elle-style checker.
 *
 * This header holds what tests call directly: the messages and their
 * encoding (txnkv.c holds the nodes).  A message is a plain struct; the
 * list of elements a read returns is borrowed from the decoded bytes
 * (TxnkvMsg.elems points into them) and lives as long as those bytes. */
#pragma once

#include "sim/codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    TXNKV_TS_REQ = 1,   /* coordinator -> oracle (node 0): a timestamp for tid */
    TXNKV_TS,           /* oracle -> coordinator: tid, ts */
    TXNKV_OP,           /* coordinator -> shard: tid, ts, seq, kind, mop, seen */
    TXNKV_OP_OK,        /* shard -> coordinator: tid, seq, locked, len, elems */
    TXNKV_CONFLICT,     /* shard -> coordinator: tid, seq: the transaction must abort */
    TXNKV_PREPARE,      /* coordinator -> shard: tid */
    TXNKV_VOTE,         /* shard -> coordinator: tid, yes */
    TXNKV_COMMIT,       /* coordinator -> shard: tid, commit ts */
    TXNKV_ABORT,        /* coordinator -> shard: tid */
    TXNKV_MSG_MAX,
};

/* Elements a read may return: a list holds at most the workload's writes
 * per key (32) plus what a lying node could add; more is refused. */
#define TXNKV_MAX_ELEMS 256
#define TXNKV_UNSEEN UINT32_MAX

typedef struct TxnkvMsg {
    uint8_t type;
    uint64_t tid;        /* the transaction: the client request's id */
    uint64_t ts;         /* TS, OP: start ts; COMMIT: commit ts; else 0 */
    uint8_t seq;         /* OP, OP_OK, CONFLICT: which micro-op */
    uint8_t kind;        /* OP: FL_OP_TXN_APPEND or FL_OP_TXN_RW */
    uint32_t mop;        /* OP: the micro-op (fl_mop_pack) */
    uint32_t seen;       /* OP, a write: the length of the key's list when the
                            transaction read it; TXNKV_UNSEEN: never read */
    bool flag;           /* OP_OK: the shard took a lock; VOTE: yes */
    uint32_t len;        /* OP_OK: the length of the list the read saw (a
                            register's answer is its last element only) */
    uint32_t n_elems;    /* OP_OK: the read's elements */
    const uint8_t *elems;   /* OP_OK: n_elems little-endian int64s, borrowed */
} TxnkvMsg;

/* Appends @m to @w (the writer grows as needed). */
void txnkv_encode(FlWriter *w, const TxnkvMsg *m);
/* Decodes @len bytes at @buf into @m; false (and @m unspecified) when the
 * bytes are not exactly one well-formed message: a truncated, overlong or
 * unknown message, or a field out of range. */
bool txnkv_decode(const uint8_t *buf, size_t len, TxnkvMsg *m);
/* Element @i (< m->n_elems) of a decoded OP_OK. */
int64_t txnkv_elem(const TxnkvMsg *m, uint32_t i);
