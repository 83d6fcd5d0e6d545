/* sim/check/atomic.h: the `atomic` checker, for transaction histories.
 *
 * It reads a history of the `txn` model (transfers between accounts, and
 * the audits of the final read phase; see sim/workload/txn.c for the
 * values) and decides atomic commitment from it alone:
 *   - agreement: no transaction is committed by one participant and aborted
 *     by another;
 *   - validity against the clients: a transfer a client saw commit (ok) is
 *     committed, or still in doubt, at every node that holds one of its
 *     accounts (none lost it, even after a crash and recovery), and one a
 *     client saw abort (fail) is committed nowhere;
 *   - the books: every audited balance is its opening balance plus the
 *     committed transfers the same audit lists, and the total of all
 *     audited accounts is conserved once in-doubt transactions resolve.
 * A participant still in doubt (blocked) breaks none of these: blocking is
 * a matter of liveness, which the protocols' metrics report.
 */
#pragma once

#include "sim/check/check.h"

/* Same contract as fl_check_file, for @model "txn" and @consistency
 * "atomic" (or NULL).  The JSON result also carries the transaction
 * counts, commit_rate, abort_rate, in_doubt, the audited total and every
 * violation found (at most 100 listed). */
FlVerdict fl_check_atomic(const FlHistorySource *src, const char *model, const char *consistency,
                          const char *format, GString *report, json_t **json_out,
                          GError **err);
