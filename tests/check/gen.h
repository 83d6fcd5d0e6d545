/* tests/check/gen.h: histories with known answers, for tests and the
 * benchmark.
 *
 * fl_gen_history runs a random sequential execution of a model, then spreads
 * it over P processes: each operation gets an interval (heavy-tailed
 * lengths) that contains its linearization point, so the history is
 * linearizable by construction.  A share of operations completes as `info`
 * (taking effect or not; the process is then replaced by a new one, as in
 * Jepsen), some never complete, some `fail` (no effect).  With @invalid, one
 * result is then changed so that no order explains it.
 *
 * fl_gen_random makes small histories whose results are random: for
 * comparing the checker with the brute-force oracle (oracle.h).
 *
 * Ownership: the caller owns the GString it passes in; nothing is kept.
 */
#pragma once

#include <glib.h>

typedef struct {
    const char *model;      /* register, kv, mutex, set, queue */
    guint32 ops;
    guint32 processes;
    guint32 keys;           /* 0: no key field */
    double info;            /* share of operations ending in info */
    double fail;            /* share ending in fail */
    double cas;             /* register: share of cas among operations */
    gboolean invalid;       /* change one result so that no order explains it */
    gboolean edn;           /* write EDN (one vector) instead of JSON Lines */
    guint64 seed;
} FlGenParams;

/* Appends the history to @out.  Returns FALSE only if @invalid was asked
 * and no result could be changed (for example, no read completed ok). */
gboolean fl_gen_history(const FlGenParams *p, GString *out);

/* A small history (n operations over @processes) whose values come from a
 * tiny domain, so that written values repeat and results are right or wrong
 * by chance.  JSON Lines. */
void fl_gen_random(const char *model, guint32 n, guint32 processes,
                   guint64 seed, GString *out);

/* Rewrites JSON Lines text made by this generator as EDN (one vector). */
void fl_gen_jsonl_to_edn(const char *jsonl, GString *out);

/* A register history over @keys keys that is sequentially consistent by
 * construction and usually not linearizable: a random sequential execution
 * (each step a random process reads or writes a random key; written values
 * unique), each operation timed at its step plus its process's lag (drawn
 * in 0..@lag_max steps, fixed per process), so that real time disagrees
 * with the execution order across processes but never within one.  Each
 * operation completes ok right after its invocation.  With @invalid, one
 * read after its own process's write of the key returns the initial value
 * (null) instead: no order explains that.  Returns FALSE only if @invalid
 * was asked and no such read exists. */
gboolean fl_gen_sc(guint32 ops, guint32 processes, guint32 keys, guint32 lag_max,
                   gboolean invalid, guint64 seed, GString *out);
