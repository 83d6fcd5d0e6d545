/* sim/check/txn_gen.h: the list-append and rw-register workloads: which
 * transactions clients issue.
 *
 * A generator hands out transactions as lists of micro-ops, as Jepsen's
 * workloads do: unique values per key (so that every read names its
 * writers), keys drawn from a small active pool that rotates (a key retires
 * after a bounded number of writes and a fresh one takes its place), so that
 * lists stay short and histories stay checkable at any length.  It knows
 * nothing of the engine or of the checker: a protocol's client can call
 * fl_txn_gen_next for its next request, and a test can execute the same
 * transactions against a model database of its own.
 *
 * A client of the engine draws from its workload stream through a
 * one-line wrapper:
 *     static uint64_t draw(void *rng) { return fl_rng_next(rng); }
 *     FlTxnGen *g = fl_txn_gen_new(&params, draw, &rng);
 * sends each transaction's micro-ops as its request, and records the
 * history lines with fl_txn_to_json (the invocation with reads null, the
 * completion with what each read returned).
 *
 * Ownership: the generator owns its state; transactions are written into
 * caller memory.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

typedef enum {
    FL_TXN_LIST_APPEND,
    FL_TXN_RW_REGISTER,
} FlTxnKind;

typedef enum {
    FL_MOP_READ,     /* value: none on the request */
    FL_MOP_APPEND,   /* list-append */
    FL_MOP_WRITE,    /* rw-register */
} FlMopKind;

typedef struct {
    FlMopKind f;
    gint64 key;
    gint64 value;    /* the element appended or the value written */
} FlMop;

typedef struct {
    FlTxnKind kind;
    guint keys_active;      /* keys in the pool at a time (default 8) */
    guint writes_per_key;   /* a key retires after this many (default 32) */
    guint mops_min, mops_max;  /* micro-ops per transaction (default 1..4) */
    double read_fraction;   /* of micro-ops (default 0.5) */
} FlTxnGenParams;

typedef struct FlTxnGen FlTxnGen;

/* A generator with @p (NULL or zero fields: the defaults above) drawing
 * from @random_cb(@random_data) (64 random bits a call; borrowed for the
 * generator's life).  Free with fl_txn_gen_free. */
FlTxnGen *fl_txn_gen_new(const FlTxnGenParams *p, uint64_t (*random_cb)(void *),
                         void *random_data);
void fl_txn_gen_free(FlTxnGen *g);

/* Writes the next transaction's micro-ops into @out (at most @cap, which
 * must be at least mops_max) and returns how many.  Values written to one
 * key are 1, 2, 3, ... in the order they are handed out. */
guint fl_txn_gen_next(FlTxnGen *g, FlMop *out, guint cap);

/* Appends the request (@ok FALSE: reads carry null) as JSON: an array of
 * ["r", k, null], ["append", k, v] or ["w", k, v].  With @ok TRUE the
 * reads carry @reads[i] for micro-op i: for list-append the elements
 * (@read_lens[i] of them at @reads[i]), for rw-register @reads[i][0], or
 * null when @read_lens[i] is 0. */
void fl_txn_to_json(FlTxnKind kind, const FlMop *mops, guint n, gboolean ok,
                    gint64 *const *reads, const guint *read_lens, GString *out);
/* The same in Jepsen's EDN: [[:r 3 nil] [:append 3 7]]. */
void fl_txn_to_edn(FlTxnKind kind, const FlMop *mops, guint n, gboolean ok,
                   gint64 *const *reads, const guint *read_lens, GString *out);
