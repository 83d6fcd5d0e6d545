/* sim/check/rw.h: a history seen as reads and writes, for the checkers of
 * the weaker models (causal, session, eventual, multi-key sequential).
 *
 * These checkers do not search for a linearization: they build relations
 * between operations (session order, reads-from, causal order) and look
 * for patterns.  RwHistory is that view of a register or kv history: every
 * operation that may have taken effect, whether it reads and what it read
 * from, whether it writes and what, its process and its place in that
 * process's session.
 *
 * Written values must be unique per key (the workloads guarantee it), so a
 * read names the one write it read from.  A read of a value no write wrote
 * reads from "thin air"; a read of the initial value (null, "") reads from
 * "init".  With duplicates, a read is attributed to the first write of its
 * value (and the report says so).
 *
 * Operations kept: ok operations, and info writes (they may have taken
 * effect; nothing follows them in their process).  Failed operations
 * certainly did not happen; an info read returned nothing.  Final reads
 * (`"final": true`, the workload's final read phase) are kept only when
 * asked: they probe each replica, they are not part of a client's session.
 *
 * Models: register (read, write, cas: a cas reads its old value and writes
 * its new one) and kv (get, put, append: a put or append writes its token;
 * a get reads from the write of its value's last token, and observes the
 * writes of all its tokens).
 *
 * Ownership: an RwHistory borrows its FlHistory; free it with rw_free. */
#pragma once

#include "sim/check/history.h"

#include <jansson.h>

#define RW_NONE (-1)       /* not a read */
#define RW_INIT (-2)       /* read the initial value */
#define RW_THIN_AIR (-3)   /* read a value no write wrote */

typedef struct {
    guint32 op;            /* index into h->ops */
    guint32 key;           /* dense key index, 0 .. nkeys-1 */
    guint32 proc;          /* dense process index */
    gint32 po_prev;        /* previous op of the process in this view, or -1 */
    guint32 sess;          /* dense session (client) index: FlOp.client */
    gint32 so_prev;        /* previous op of the session that completed (not
                            * info) in this view, or -1: rw_session_order */
    gint32 rf;             /* reads: the write read from (index), RW_INIT or
                            * RW_THIN_AIR; RW_NONE for pure writes */
    guint32 obs, n_obs;    /* kv: the other writes a get observed (indices
                            * into RwHistory.obs) */
    FlAtom wval;           /* written value, FL_ATOM_NONE if it writes nothing */
    FlAtom rval;           /* value read, FL_ATOM_NONE if it reads nothing */
    gint32 node;           /* the node that answered ("node"), or -1 */
    gboolean final;
    gboolean info;
} RwOp;

typedef struct {
    FlHistory *h;          /* borrowed */
    GArray *ops;           /* RwOp, in invocation order */
    GArray *obs;           /* guint32 */
    guint32 nkeys, nprocs;
    GArray *proc_last;     /* guint32 per process: its last op + 1 (0: none) */
    guint32 nsess;
    GArray *sess_last;     /* guint32 per session: its last op that is not
                            * info + 1 (0: none) */
    guint32 duplicates;    /* writes whose value another write of the key wrote too */
    guint32 final_reads;   /* final reads in the history (kept or not) */
    gboolean is_kv;
} RwHistory;

static inline RwOp *rw_op(const RwHistory *rw, guint32 i)
{
    return &g_array_index(rw->ops, RwOp, i);
}

static inline gboolean rw_reads(const RwOp *o) { return o->rf != RW_NONE; }
static inline gboolean rw_writes(const RwOp *o) { return o->wval != FL_ATOM_NONE; }

/* Builds the view of @h.  Returns NULL and appends a sentence to @why when
 * the model is not one these checkers read (register, kv). */
RwHistory *rw_new(FlHistory *h, gboolean keep_final, GString *why);
void rw_free(RwHistory *rw);

/* Appends one readable line for op @i (indented, ending with a newline). */
void rw_show(const RwHistory *rw, guint32 i, GString *out);
/* The same op as a JSON object. */
json_t *rw_json(const RwHistory *rw, guint32 i);

/* ---- Bit sets over n ops: rows of (n + 63) / 64 words. ---- */

typedef struct {
    guint32 n, words;
    guint64 *bits;         /* n rows */
} RwBits;

/* Returns FALSE if n x n bits would pass @max_bytes. */
gboolean rw_bits_init(RwBits *b, guint32 n, guint64 max_bytes);
void rw_bits_clear(RwBits *b);
static inline guint64 *rw_row(const RwBits *b, guint32 i)
{
    return b->bits + (gsize)i * b->words;
}
static inline gboolean rw_test(const guint64 *row, guint32 j)
{
    return (row[j >> 6] >> (j & 63)) & 1;
}
static inline void rw_set(guint64 *row, guint32 j)
{
    row[j >> 6] |= (guint64)1 << (j & 63);
}

/* Causal order CO = (session order U reads-from)+ as predecessor sets:
 * bit u of row v when u CO v.  For a kv get the observed writes count as
 * reads-from.  Returns FALSE if CO has a cycle; then *@cycle (if not NULL)
 * receives the ops of one cycle in order (guint32, caller frees). */
gboolean rw_causal_order(const RwHistory *rw, RwBits *pred, GArray **cycle);

/* The same with session order per client instead of per process (so_prev
 * instead of po_prev): the causal order the session guarantees are about.
 * A client that times out goes on as a new process but stays one session;
 * an info write is left out of its session's order, since it may take
 * effect after the session's later operations, or never. */
gboolean rw_session_order(const RwHistory *rw, RwBits *pred, GArray **cycle);

/* For a thin-air read @i: the index in h->ops of a failed operation that
 * wrote the value it read (kv: one of its tokens), or -1 when no operation
 * wrote it at all. */
gint64 rw_failed_writer(const RwHistory *rw, guint32 i);

/* Bound on the bit matrices, so a huge history gives "unknown", never an
 * exhausted machine. */
#define RW_MAX_BITS_BYTES ((guint64)512 << 20)
