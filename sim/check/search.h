/* sim/check/search.h: deciding one object's history.
 *
 * fl_search decides whether the operations of one object (one key of a
 * history) can be put in a single order that the model accepts and that
 * respects real time (linearizability) or each process's order (sequential
 * consistency).  It is the Wing-Gong/Lowe search with memoisation, plus the
 * pruning rules listed at the top of search.c.
 *
 * Ownership: the search borrows the history for the call; the result's
 * arrays belong to the result (fl_search_result_clear frees them).
 */
#pragma once

#include "sim/check/check.h"
#include "sim/check/history.h"

typedef enum {
    FL_CONSISTENCY_LINEARIZABLE,
    FL_CONSISTENCY_SEQUENTIAL,
} FlConsistency;

typedef struct {
    FlVerdict verdict;      /* VALID, INVALID or UNKNOWN */
    /* When INVALID: indices into h->ops. */
    GArray *prefix;         /* guint32: the longest order found, in order */
    guint32 stuck;          /* the operation that could not be placed next */
    GArray *concurrent;     /* guint32: unplaced operations open beside it */
    GArray *waiting;        /* guint32: unplaced operations that need the
                             * current value, which nothing left can
                             * produce again (why the state cannot move on) */
    GString *state;         /* the model's state after the prefix */
    /* Statistics. */
    guint64 steps;          /* operations applied during the search */
    guint64 memo;           /* configurations remembered */
    guint32 dropped_info;   /* info operations shown to be irrelevant */
} FlSearchResult;

/* Decides the operations @ops[0..n) (indices into h->ops, in invocation
 * order, one object).  @deadline_us is a g_get_monotonic_time() instant
 * after which the search gives up with FL_VERDICT_UNKNOWN (<= 0: none).
 * @out is initialised by the call; clear it with fl_search_result_clear. */
FlVerdict fl_search(FlHistory *h, const guint32 *ops, guint32 n,
                    FlConsistency consistency, gint64 deadline_us,
                    FlSearchResult *out);
void fl_search_result_clear(FlSearchResult *r);
