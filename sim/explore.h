/* sim/explore: systematic exploration of a small configuration
 * (`faultline explore`).
 *
 * A search over the choices of worlds in explore mode (sim/world.h):
 * stateless, by re-execution, since a run is a pure function of its
 * choices: a state is the choice sequence that reaches it, replayed from
 * the start when needed.  With the protocol's `digest` hook, states whose
 * world digests are equal are visited once.  At every new state the
 * protocol's `invariant` hook is checked, and whenever the history grew,
 * the history against the scenario's consistency model (sim/check).  BFS
 * finds a shortest violating schedule.  Results never depend on the wall
 * clock; only when a time limit stops the search does.
 * Memory: the result owns its strings and arrays (fl_explore_result_clear). */
#pragma once

#include "sim/scenario.h"

#include <glib.h>
#include <jansson.h>

typedef enum {
    FL_EXPLORE_BFS,          /* breadth first: shortest counterexample, exhaustive within depth */
    FL_EXPLORE_DFS,          /* depth first with the same bound (with pruning, not exhaustive:
                                a state first seen deeper hides its shallower visits; with
                                delays >= 0, exhaustive within depth and delays) */
    FL_EXPLORE_RANDOM_WALK,  /* walks from the start, each choice drawn from the seed */
} FlExploreStrategy;

typedef struct FlExploreStats {
    uint64_t states;         /* states reached (a schedule prefix executed), pruned ones too */
    uint64_t unique;         /* distinct states (by digest; without one, = states) */
    uint32_t depth;          /* the deepest state reached, in choices */
    uint64_t steps;          /* choices executed, replays included */
    uint64_t slept;          /* choices not taken because a sleep set held them */
    uint64_t redone;         /* states expanded again (a sleep set shrank after expansion) */
    double wall_s;
} FlExploreStats;

typedef struct FlExploreOptions {
    FlExploreStrategy strategy;
    uint32_t depth;          /* most choices in a schedule */
    uint64_t max_states;     /* stop after this many states (0: no bound) */
    double time_limit_s;     /* stop after this long (0: no limit) */
    double check_timeout_s;  /* per history check */
    bool no_shrink;          /* keep a DFS or walk counterexample as found */
    /* Partial-order reduction (sleep sets) is on for BFS and DFS unless
     * this is set; walks and delay-bounded DFS never use it. */
    bool no_reduction;
    /* DFS with delay bounding: only schedules that deviate at most
     * @delays times from the default order (explore.c note 8). */
    bool bound_delays;
    uint32_t delays;
    /* Called about every @progress_s seconds (0: never) while searching. */
    double progress_s;
    void (*progress_cb)(const FlExploreStats *st, void *ctx);
    void *progress_ctx;
} FlExploreOptions;

typedef struct FlExploreResult {
    FlExploreStats stats;
    /* True when every schedule within the bounds (depth, budgets) was
     * explored: no state was left unexpanded for max_states or time. */
    bool exhausted;
    const char *stopped;     /* static: "exhausted", "max-states", "time-limit", "violation" */
    bool violation;
    char *what;              /* the violation in one line, or NULL */
    GArray *schedule;        /* of FlChoice: the violating schedule, or NULL */
    uint32_t found_length;   /* DFS and walks: its length before shrinking */
} FlExploreResult;

/* Explores @sc (which needs an `explore` section and no `schedule`).
 * Returns 0 with @res filled (free with fl_explore_result_clear), or -1
 * with @err set (a run refused, a checker error). */
int fl_explore(const FlScenario *sc, const FlExploreOptions *opt, FlExploreResult *res,
               GError **err);
void fl_explore_result_clear(FlExploreResult *res);

/* The counterexample as a scenario (transfer full): @root (the file as
 * read, borrowed) with `schedule` set to @schedule and a name, a
 * description saying what broke, and `expect` asking for the trace hash
 * @trace_hash (and an invalid history when @history_invalid). */
json_t *fl_explore_counterexample(json_t *root, const char *name, const char *what,
                                  const GArray *schedule, uint64_t trace_hash,
                                  bool history_invalid);

const char *fl_explore_strategy_name(FlExploreStrategy s);
