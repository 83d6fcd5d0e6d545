/* sim/scenario: a scenario file, loaded and validated.
 *
 * Loading reads the JSON, checks every field (unknown ones are errors),
 * fills in defaults, draws values given as ranges, and keeps the resolved
 * scenario as JSON (what `scenario.json` of a run holds).  Any error names
 * the file, the JSON path and what was expected.  A scenario can also be
 * built in code (benchmarks, tests) by filling the struct.
 * Memory: FlScenario owns everything it points to; free with
 * fl_scenario_free. */
#pragma once

#include "sim/channel.h"
#include "sim/net.h"
#include "sim/resource.h"
#include "sim/jsonv.h"
#include "sim/node.h"
#include "sim/workload.h"

#include <glib.h>
#include <jansson.h>

typedef struct FlWorkloadSpec {
    const FlWorkloadModel *model;   /* NULL: no clients */
    uint32_t clients;
    uint32_t keys;
    double rate;            /* ops per second, all clients together (open-loop arrivals) */
    double mix[FL_OP_MAX];  /* weight per FlOpKind */
    FlDuration timeout;
    FlDuration start, until;
    /* The final read phase: `settle` after `until`, every key is read on
     * every node (FL_OP_F_LOCAL), so checkers can compare replicas. */
    bool final_reads;
    FlDuration settle;
} FlWorkloadSpec;

/* The liveness claim of a scenario. */
typedef enum {
    FL_LIVE_NONE = 0,    /* no claim: no workload, no fault, or a fault that never heals */
    FL_LIVE_OFF,         /* expect.liveness: false */
    FL_LIVE_EXPLICIT,    /* an expect.liveness object: a healing phase at `after` */
    FL_LIVE_DEFAULT,     /* every fault heals: clients must make progress after the last heal */
    FL_LIVE_UNJUDGED,    /* every fault heals, but too late in the run to judge progress */
} FlLiveMode;

typedef struct FlExpect {
    int valid;              /* -1: not given, 0 false, 1 true */
    int invariant;          /* the protocol's invariant under an explicit schedule: -1 not
                               given (expected to hold), 0 broken, 1 holds */
    int64_t min_ok;         /* -1: not given */
    FlDuration max_p99;     /* -1: not given */
    FlDuration min_p50;     /* -1: not given (a floor: "this load queues") */
    double min_availability;/* < 0: not given */
    int64_t max_info;       /* -1: not given */
    /* Liveness phase: at `after` every fault heals; then at least `min_ok`
     * operations invoked after that must complete ok within `budget`.  With
     * `core`, only a majority drawn from the seed (the core) heals; the
     * other nodes stay as they were, crashed or paused, and cut off. */
    bool liveness;
    bool live_core;
    FlDuration live_after, live_budget;
    int64_t live_min_ok;
    /* Where the liveness claim comes from (spec/scenario.md).  With
     * FL_LIVE_DEFAULT, live_after is the time the last fault heals (as the
     * scenario schedules it), live_budget and live_min_ok come from the rule
     * in fl_scenario_default_liveness, and nothing is healed by force: the
     * faults heal themselves, so the run is the one it would be without the
     * claim.  @live_why (owned) says how the budget was derived, or why no
     * claim is made; NULL for FL_LIVE_EXPLICIT. */
    FlLiveMode live_mode;
    char *live_why;
    /* Which checked models must hold: {"causal": true, ...}, or NULL. */
    json_t *models;
    /* The trace hash a replay must reproduce (failure files carry it). */
    bool has_trace_hash;
    uint64_t trace_hash;
    /* Failure detectors' figures (metrics.json "detectors"); -1: not given. */
    int64_t max_false_suspicions, min_false_suspicions;
    FlDuration max_detection_time;
    int64_t max_missed_detections;
    /* Bounds on protocol counters (fl_metric_add): of FlExpectCounter, or
     * NULL.  A counter never added to counts as 0. */
    GArray *counters;
    /* `sla` {target, window} (sim/sla.h): the run's availability, in
     * windows of @sla_window, must reach @sla_target.  Without it the
     * figures are still computed, against FL_SLA_DEFAULT_*, and claim
     * nothing. */
    bool has_sla;
    double sla_target;
    FlDuration sla_window;
    /* `alerts` {fire, quiet, rules}: judged by Prometheus' promtool
     * (sim/cli/cmd_alerts.c, through FlCatalog.judge_alerts) against the
     * rules file @alerts_rules (the scenario's `rules`, joined to its
     * folder; NULL when it names none, and then only `faultline alerts
     * --rules` can judge it).  The expectations themselves stay in the
     * resolved scenario's expect.alerts. */
    bool has_alerts;
    char *alerts_rules;
} FlExpect;

#define FL_SLA_DEFAULT_TARGET 0.999
#define FL_SLA_DEFAULT_WINDOW FL_SEC(1)

typedef struct FlExpectCounter {
    char *name;
    bool has_min, has_max;
    double min, max;
} FlExpectCounter;

/* A node selector, resolved when a fault starts.  The role selectors aim
 * at what a protocol declared with fl_role (sim/world.c, fl_world_select). */
typedef enum {
    FL_SEL_ID, FL_SEL_LEADER, FL_SEL_RANDOM, FL_SEL_MINORITY, FL_SEL_MAJORITY, FL_SEL_ALL,
    FL_SEL_ROLE,              /* "role:NAME": one node holding that role; "role:*": any role */
    FL_SEL_LEADER_PLUS,       /* "leader+K": the leader and K others (K in `id`) */
    FL_SEL_MINORITY_LEADER,   /* "minority-with-leader": a minority that holds the leader */
    FL_SEL_LAST_ROLE,         /* "last-role-change": the node whose role changed last */
} FlSelKind;

#define FL_ROLE_MAX 32        /* a role name's bytes, with its NUL (as FlNode's) */

typedef struct FlSelector {
    FlSelKind kind;
    /* FL_SEL_ID: the node; FL_SEL_LEADER_PLUS: K; FL_SEL_ROLE: the role's
     * name as a GQuark (g_quark_to_string gives it back; "*" for any).
     * Only the name is ever compared, never the quark's value, which
     * depends on the order strings were interned. */
    uint32_t id;
} FlSelector;

typedef struct FlFault FlFault;

/* ---- Systematic exploration (sim/explore.h) -------------------------- */

/* One choice of a world in explore mode (sim/world.h, "Explore mode"):
 * what happens next.  @id names what is chosen: a message (the n-th one
 * sent in the run, from 1), a timer (the n-th armed, from 1), a client or
 * a node.  Ids are stable under replay because runs are deterministic. */
typedef enum {
    FL_CHOICE_DELIVER = 1,   /* "deliver m7": message 7 arrives */
    FL_CHOICE_TIMER,         /* "timer t3": armed timer 3 fires */
    FL_CHOICE_INVOKE,        /* "invoke c0": client 0 invokes its next operation */
    FL_CHOICE_CRASH,         /* "crash n1" (explore.crashes) */
    FL_CHOICE_RESTART,       /* "restart n1": a crashed node restarts */
    FL_CHOICE_DROP,          /* "drop m7": message 7 is lost (explore.drops) */
    FL_CHOICE_DUPLICATE,     /* "duplicate m7": a copy of message 7 joins the
                                messages in flight (explore.duplicates) */
} FlChoiceKind;

typedef struct FlChoice {
    uint32_t kind;           /* FlChoiceKind */
    uint64_t id;
} FlChoice;

#define FL_CHOICE_TEXT 40
/* The choice as a schedule names it ("deliver m7"), in @buf (FL_CHOICE_TEXT
 * bytes); returns @buf. */
const char *fl_choice_text(const FlChoice *c, char *buf);
/* Parses what fl_choice_text writes; false if @s is not a choice. */
bool fl_choice_parse(const char *s, FlChoice *c);

/* The scenario's `explore` section: the bounds of `faultline explore`. */
typedef struct FlExploreSpec {
    bool on;                 /* the scenario has the section */
    uint32_t crashes;        /* crash choices a schedule may take (restarts are free) */
    uint32_t drops;          /* messages a schedule may lose */
    uint32_t duplicates;     /* messages a schedule may duplicate */
    uint32_t clients;        /* clients of the bounded workload */
    uint32_t ops;            /* operations each client invokes, at most */
} FlExploreSpec;

typedef struct FlScenario {
    char *file;
    char *name;
    char *description;
    uint64_t seed;
    FlDuration duration;
    uint64_t max_events;
    /* Stop early a run whose pace projects past max_events (world.c).  Set
     * for scenario files; off for scenarios built in code (benchmarks run
     * until their queue drains, long before `duration`). */
    bool pace_guard;

    const FlProtocol *protocol;
    uint32_t nodes;
    FlParamValue *params;   /* one per protocol->params entry */

    FlNetSpec net;
    FlDuration *skew;       /* per node, or NULL */
    double *drift;          /* per node, or NULL */
    /* `network.auth`, `network.encrypt`, `network.replay_window`
     * (sim/channel.h): all off unless the file turns them on. */
    FlChannelSpec channel;

    FlWorkloadSpec workload;
    FlResourceSpec resources;   /* `resources`: off (on = false) unless the file gives it */
    FlDuration series_window;   /* `timeseries.window`: the time series' window
                                 * (sim/series.h); 0: not given (100 ms) */
    GPtrArray *faults;      /* of FlFault*, owned */

    char *consistency;      /* NULL: no check; else one model or a comma-separated list */
    FlExpect expect;

    /* BUGGIFY (sim/node.h fl_buggify): rare paths of protocol code taken on
     * purpose.  Off unless the file says "buggify": true; `faultline fuzz`
     * turns it on (fl_scenario_fuzz_defaults). */
    bool buggify;

    /* Systematic exploration: the bounds (`explore`), and an explicit
     * schedule (`schedule`, of FlChoice, or NULL) that `faultline run`
     * replays in explore mode instead of drawing delays and firing timers
     * by time (a counterexample `faultline explore` wrote). */
    FlExploreSpec explore;
    GArray *schedule;

    json_t *resolved;       /* the scenario as run */
} FlScenario;

/* Loads @path.  @seed_override < 0 keeps the file's seed.  Returns NULL and
 * sets @err (FL_ERROR_INPUT) on any problem. */
FlScenario *fl_scenario_load(const char *path, int64_t seed_override, GError **err);
/* Same, from a JSON value (borrowed); @file names it in messages. */
FlScenario *fl_scenario_from_json(json_t *root, const char *file, int64_t seed_override,
                                  GError **err);
/* A scenario with defaults and no faults, for code that fills it in. */
FlScenario *fl_scenario_new(const FlProtocol *p, uint32_t nodes);
void fl_scenario_free(FlScenario *sc);

/* What `faultline fuzz` changes in a scenario (@root, modified in place)
 * before running its seeds: "buggify": true, unless the file gives
 * "buggify" itself.  Since the field is then in the file, it is in every
 * resolved, shrunk and failure scenario too, and replay takes the same
 * rare paths. */
void fl_scenario_fuzz_defaults(json_t *root);
/* The default liveness claim (spec/scenario.md), decided when loading and
 * stored in @sc->expect (live_mode, live_after, live_budget, live_min_ok,
 * live_why); a no-op unless live_mode is FL_LIVE_NONE, so a scenario built
 * in code may call it after filling in its faults.  The rule:
 *   - it applies when the scenario has a workload and at least one fault,
 *     and every fault that starts before the run's end heals before it
 *     (a finite `for`, `until` or `restart_after`; a nemesis by its `until`);
 *   - the claim: at least one operation invoked at or after the last heal
 *     (for `partial` timing, or after GST if that is later) completes ok
 *     within the budget;
 *   - budget = the clients' timeout + 4 x max(T, 1/rate), where T is the
 *     protocol's largest timeout: the largest of its duration parameters
 *     named *timeout (a range by its upper end), or, for a protocol with
 *     none, the largest of its duration parameters;
 *   - the budget is clamped to what is left before the workload's `until`
 *     (or the run's duration); when less than the clients' timeout + 2 x
 *     max(T, 1/rate) is left, no claim is judged (FL_LIVE_UNJUDGED) and the
 *     run says so. */
void fl_scenario_default_liveness(FlScenario *sc);

/* The checker's model for the workload's histories ("none" without one). */
const char *fl_model_name(const FlWorkloadModel *m);

/* Parses a node selector (an id, "leader", "random", "minority", "majority",
 * "*", "role:NAME", "role:*", "leader+K", "minority-with-leader",
 * "last-role-change") at @path. */
/* True when @name is a counter of the engine (the network's defences:
 * net.auth_dropped, net.replay_dropped, net.malformed_dropped) or of one
 * of @sc's fault kinds (FlFaultKind.counters): `expect.counters` may bound
 * it whatever the protocol declares, and it reads 0 when never created. */
bool fl_scenario_counter_engine(const FlScenario *sc, const char *name);
bool fl_scenario_selector(FlJv *jv, json_t *v, const char *path, uint32_t nodes,
                          FlSelector *sel);
/* The selector as a scenario names it, in @buf (FL_SELECTOR_TEXT bytes) or
 * a static string. */
#define FL_SELECTOR_TEXT 48
const char *fl_selector_text(const FlSelector *sel, char *buf);
