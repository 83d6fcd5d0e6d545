/* sim/check/events.h: the checkers of the node-log protocols (model
 * `events`, sim/workload/events.c): clocks, and in time election and
 * snapshot.
 *
 * Their histories hold few client operations worth checking; what matters
 * is each node's log, fetched by the final reads: a text whose first line
 * is "<protocol> node=I nodes=N ..." and whose other lines are the node's
 * events, in the order it took them.  The loader here collects one log per
 * node; each checker parses and judges the logs of its protocol.
 *
 * Consistencies: `happens-before` (clocks.c: the clock condition, and
 * vector clocks characterising happens-before exactly), `one-leader`
 * (election.c: one leader per epoch, agreement on the highest id once
 * stable), `consistent-cut` (snapshot.c: every complete snapshot is a
 * consistent global state holding all the money), `mutual-exclusion`
 * (mutex.c: no two critical sections concurrent, every request granted),
 * `serial-resource` (lease.c: the updates of a resource guarded by a lease
 * were serial), `membership` (membership.c: every crashed member declared dead by every
 * live one within a bound, no live member declared dead), and the broadcast
 * properties validity, agreement, integrity, fifo-order, causal-order and
 * total-order (broadcast.c), which a scenario lists, each with its own
 * verdict. */
#pragma once

#include "sim/check/check.h"

#include <stdint.h>

#define FL_EVENTS_MAX_NODES 64

/* The violations a checker found, by kind: each counted, the first
 * `shown_per_kind` of each kind written to `report` (when not NULL), the
 * first FL_FINDINGS_LISTED to `listed` (when not NULL), the rest counted in
 * `hidden`.  The checker owns report and listed. */
#define FL_FINDINGS_KINDS 8
#define FL_FINDINGS_LISTED 100

typedef struct FlFindings {
    const char *const *names;               /* kind names, for the report */
    guint shown_per_kind;
    GString *report;
    json_t *listed;
    guint counts[FL_FINDINGS_KINDS], shown[FL_FINDINGS_KINDS];
    guint hidden;
} FlFindings;

void fl_findings_add(FlFindings *f, int kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* The JSON result every node-log checker starts from: "valid" (true, false
 * or "unknown"), "model": "events", @consistency and "verdict".  Caller
 * owns it. */
json_t *fl_events_verdict_json(FlVerdict verdict, const char *consistency);

/* What the loader hands a checker: borrowed until the checker returns. */
typedef struct FlEventLogs {
    const char *name;                       /* the history's name, for messages */
    guint32 nodes;                          /* from the headers; 0: no log read */
    const char *text[FL_EVENTS_MAX_NODES];  /* node i's log, NULL when never read */
    gsize len[FL_EVENTS_MAX_NODES];
    guint steps, steps_ok;                  /* step operations, and how many were ok */
} FlEventLogs;

/* Same contract as fl_check_file, for @model "events"; @consistency names
 * the property (NULL: happens-before). */
FlVerdict fl_check_events(const FlHistorySource *src, const char *consistency, const char *format,
                          GString *report, json_t **json_out, GError **err);

/* The consistencies fl_check_events knows, NULL-terminated. */
const char *const *fl_events_consistencies(void);

/* clocks.c: decides `happens-before` over @logs. */
FlVerdict fl_check_clocks(const FlEventLogs *logs, GString *report, json_t **json_out,
                          GError **err);

/* election.c: decides `one-leader` over @logs. */
FlVerdict fl_check_election(const FlEventLogs *logs, GString *report, json_t **json_out,
                            GError **err);

/* snapshot.c: decides `consistent-cut` over @logs. */
FlVerdict fl_check_snapshot(const FlEventLogs *logs, GString *report, json_t **json_out,
                            GError **err);

/* mutex.c: decides `mutual-exclusion` over @logs. */
FlVerdict fl_check_mutex(const FlEventLogs *logs, GString *report, json_t **json_out, GError **err);

/* lease.c: decides `serial-resource` over @logs. */
FlVerdict fl_check_lease(const FlEventLogs *logs, GString *report, json_t **json_out, GError **err);

/* membership.c: decides `membership` over @logs. */
FlVerdict fl_check_membership(const FlEventLogs *logs, GString *report, json_t **json_out,
                              GError **err);

/* broadcast.c: decides the broadcast properties named in @props (NULL-
 * terminated) over @logs; the JSON result has "verdicts", one per
 * property. */
FlVerdict fl_check_broadcast(const FlEventLogs *logs, const char *const *props, GString *report,
                             json_t **json_out, GError **err);
/* The broadcast properties, NULL-terminated. */
const char *const *fl_broadcast_properties(void);
