/* sim/check/weak.h: the checkers of the models weaker than (or beside)
 * linearizability, and checking several models at once.
 *
 * Consistency names (faultline check --consistency, scenario
 * check.consistency):
 *   sequential-multikey   sequential consistency over all keys together
 *                         (sequential.c); `sequential` checks each key on
 *                         its own, which is weaker: SC does not compose
 *   causal                causal consistency, CC (causal.c: the bad
 *                         patterns of Bouajjani et al., POPL 2017)
 *   causal-memory         CM, causal memory (CC + WriteHBInitRead, CyclicHB)
 *   causal-convergence    CCv, causal convergence: causal+ (CC + CyclicCF)
 *   session               the four session guarantees (session.c)
 *   read-your-writes, monotonic-reads, monotonic-writes,
 *   writes-follow-reads   one guarantee each
 *   eventual              convergence of the final reads (eventual.c; for
 *                         set and counter histories crdt.c)
 * A comma-separated list ("linearizable,causal,eventual") checks each
 * model in turn (fl_check_list); its verdict is valid when every model
 * holds, invalid when one does not.
 *
 * Ownership: the checkers borrow the history; they append to @report and
 * add members to @json (both may be NULL). */
#pragma once

#include "sim/check/check.h"
#include "sim/check/consistency.h"
#include "sim/check/history.h"

/* Whether @name is one of the consistency names above. */
gboolean fl_weak_known(const char *name);

/* Checks @h for the weak model @name (fl_weak_known(name)).  Never
 * returns FL_VERDICT_ERROR: a history this checker cannot read (a model it
 * does not handle, a history too large) gives FL_VERDICT_UNKNOWN and says
 * why in @report and @json ("unsupported"). */
FlVerdict fl_weak_check(FlHistory *h, const char *name, gint64 deadline_us,
                        GString *report, json_t *json);

/* The checkers, one per file. */
typedef enum { FL_CAUSAL_CC, FL_CAUSAL_CM, FL_CAUSAL_CCV } FlCausalKind;
FlVerdict fl_check_causal(FlHistory *h, FlCausalKind kind, gint64 deadline_us,
                          GString *report, json_t *json);

enum {
    FL_SESSION_RYW = 1, FL_SESSION_MR = 2, FL_SESSION_MW = 4, FL_SESSION_WFR = 8,
    FL_SESSION_ALL = 15,
};
FlVerdict fl_check_session(FlHistory *h, unsigned which, GString *report, json_t *json);

FlVerdict fl_check_eventual(FlHistory *h, GString *report, json_t *json);
/* Convergence of set and counter histories (CRDTs), called by
 * fl_check_eventual for those models. */
FlVerdict fl_check_crdt(FlHistory *h, GString *report, json_t *json);

/* Observed convergence time of one key (eventual.c): each observation is
 * a read at a node, and whether it returned the key's final value.  For
 * each node, the first matching read after its last non-matching one;
 * the latest of those, minus @t0 (when the final value was written).
 * Returns -1 when times are unknown. */
typedef struct {
    gint32 node;
    gint64 time;          /* completion time, -1 unknown */
    gboolean matches;
} FlObs;
gint64 fl_convergence_ns(GArray *obs, gint64 t0);

FlVerdict fl_check_sequential_multikey(FlHistory *h, gint64 deadline_us, GString *report,
                                       json_t *json);
/* The same search trying the other side of each choice first
 * (sequential.c note 5): the verdict must not change.  For tests, which
 * use it to exercise the backtracking. */
FlVerdict fl_check_sequential_search(FlHistory *h, gint64 deadline_us, GString *report,
                                     json_t *json, gboolean writes_first);

/* Loads the history @src names and checks the weak model @consistency, with
 * fl_check_file's arguments and result (check.c calls it). */
FlVerdict fl_weak_check_file(const FlHistorySource *src, const FlModel *m, const char *consistency,
                             const char *format, double timeout_s, GString *report,
                             json_t **json_out, GError **err);

/* Checks the history @src names for each model of the comma-separated list
 * @consistencies, as fl_check_source does for one (same arguments and
 * result).  @json_out gets "verdicts" (model -> "valid"/"invalid"/
 * "unknown") and "results" (model -> that model's JSON). */
FlVerdict fl_check_list(const FlHistorySource *src, const char *model, const char *consistencies,
                        const char *format, double timeout_s, GString *report,
                        json_t **json_out, GError **err);
