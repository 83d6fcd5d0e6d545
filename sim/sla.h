/* sim/sla: availability against an SLA, and what each fault cost
 * (issue 22, item 4).
 *
 * Pure arithmetic over what a run recorded: its operations (invocation,
 * end, outcome), its fault intervals, the instants at which something in
 * the cluster showed that it noticed trouble (a role change, a failure
 * detector's suspicion) and the leader as the protocols declared it.  No
 * world, no files: run.c gathers the inputs, unit tests make them by hand.
 *
 * Availability (the definition the README gives, and why): the run is cut
 * into windows of the SLA's length; a window has demand when an operation
 * was in flight in it (invoked in it, ended in it, or spanning it); a
 * window with demand is up when an operation ended ok in it, down
 * otherwise.  Availability is up windows over windows with demand.
 *
 * Memory: every input is borrowed for the call; the JSON is the caller's
 * (transfer full). */
#pragma once

#include "sim/time.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum FlSlaEnd { FL_SLA_OK, FL_SLA_FAIL, FL_SLA_INFO, FL_SLA_OPEN } FlSlaEnd;

/* One operation: invoked at @invoke, ended at @end with @how (FL_SLA_OPEN:
 * still running when the run ended; @end is then ignored). */
typedef struct FlSlaOp {
    FlTime invoke, end;
    FlSlaEnd how;
} FlSlaOp;

/* One fault interval; @stop FL_TIME_NEVER: still active at the end.
 * @kind and @what are borrowed and only copied into the JSON. */
typedef struct FlSlaFault {
    FlTime start, stop;
    const char *kind, *what;
} FlSlaFault;

/* From @at on, @node leads (-1: no node does), until the next entry. */
typedef struct FlSlaLeader {
    FlTime at;
    int32_t node;
} FlSlaLeader;

typedef struct FlSlaInput {
    FlTime end;                 /* the run's virtual end */
    FlDuration window;          /* > 0; at most FL_SERIES_MAX_WINDOWS windows */
    double target;              /* in (0, 1) */
    const FlSlaOp *ops;         /* any order */
    size_t n_ops;
    const FlSlaFault *faults;   /* in the order metrics.json lists them */
    size_t n_faults;
    const FlTime *signals;      /* ascending: role changes, detector suspicions */
    size_t n_signals;
    const FlSlaLeader *leaders; /* ascending by @at (ties: the later entry wins);
                                 * NULL when the protocol declares no leader */
    size_t n_leaders;
} FlSlaInput;

/* metrics.json "sla" for @in (transfer full):
 *   window_ns, target, windows, demand_windows, up_windows, down_windows,
 *   availability (up / demand; 1 without demand),
 *   error_budget {allowed_windows ((1 - target) x demand), spent (down /
 *     allowed: 1 is the whole budget)},
 *   burn_rate ((down / demand) / (1 - target): 1 spends the budget exactly
 *     over the run),
 *   per_window [{t0_ns, t1_ns, demand, ok, fail, info, up, budget_spent
 *     (cumulative)}],
 *   faults [{fault, kind, what, start_ns, stop_ns (null: never healed),
 *     detect_ns (first signal while active, after its start; null: none),
 *     recover_ns (first ok end of an operation invoked at or after the
 *     start; null: none), leader_ns (first leader after the start that
 *     holds for a window, or to the end; absent without @leaders, null:
 *     none)}],
 *   recovered, mttr_ns (mean recover_ns; null: none recovered),
 *   downtime_ns (union of [start, start + recover_ns), an unrecovered
 *     fault down to the end), mtbf_ns ((end - downtime) / faults; null
 *     without faults). */
json_t *fl_sla_json(const FlSlaInput *in);
