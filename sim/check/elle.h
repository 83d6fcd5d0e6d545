/* sim/check/elle.h: transactional isolation, checked the way Elle does
 * (Kingsbury and Alvaro, VLDB 2020), on list-append and rw-register
 * histories.
 *
 * A transaction is one operation with `f` "txn" whose value is a list of
 * micro-ops [f k v]: ["append", k, v] and ["r", k, [v...]] (list-append),
 * ["w", k, v] and ["r", k, v] (rw-register); a read's value is null on the
 * invocation.  The checker infers write-write, write-read and read-write
 * dependencies, adds process and real-time orders for the session- and
 * strict- models, finds cycles by strongly connected components and names
 * Adya's anomalies, each with its shortest cycle and the reason for every
 * edge (design notes in elle.c).
 */
#pragma once

#include "sim/check/check.h"

/* Whether @model is "list-append" or "rw-register". */
gboolean fl_elle_model(const char *model);

/* The consistency models the checker decides, NULL-terminated:
 * read-uncommitted, read-committed, repeatable-read, snapshot-isolation,
 * serializable, and each with a strict- and a session- prefix. */
const char *const *fl_elle_consistency_names(void);
/* One line on what @name (one of the names above) promises, or NULL. */
const char *fl_elle_consistency_doc(const char *name);

/* Checks the history at @src (check.h) as @model ("list-append" or
 * "rw-register") against @consistency (NULL: serializable).
 * @report, @json_out, @err as for fl_check_source.  When @picture is not
 * NULL and the history shows a cycle, the cycles are drawn into the
 * Graphviz file @picture, and rendered next to it as .svg when `dot` is on
 * PATH (a failure to write or render is said in the report, and is not an
 * error).  Returns the verdict: invalid when a found anomaly is one the
 * model proscribes, unknown when the time limit or the search budget left
 * a proscribed class undecided. */
FlVerdict fl_check_elle(const FlHistorySource *src, const char *model,
                        const char *consistency, const char *format,
                        double timeout_s, const char *picture, GString *report,
                        json_t **json_out, GError **err);
