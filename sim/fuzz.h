/* sim/fuzz: many seeds of one scenario, failures shrunk to short schedules.
 *
 * Runs happen in worker processes (each runs many seeds), so that a
 * protocol assertion, a crash of the simulator or a run past its time limit
 * is a failure of that seed like any other, and a new worker goes on,
 * rather than the end of the search.  Results are kept by seed and
 * reported in seed order, so the output does not depend on how many workers
 * ran.  A failure is shrunk by delta debugging over the explicit scenario
 * (the fault list, the workload's length and clients, the duration), keeping
 * a change only when the run still fails with the same kind. */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct FlOutcome {
    uint64_t seed;
    bool failed;
    char *kind;          /* "ok", "invalid", "min_ok", "liveness", "crash", "timeout", "error", ... */
    char *detail;        /* one line for people */
    uint64_t trace_hash;
    json_t *resolved;    /* the scenario as run (seed and drawn values fixed); may be NULL */
    json_t *explicit_faults;  /* its faults with every nemesis replaced by what it drew; may be NULL */
    double virtual_s;    /* virtual time simulated */
    /* What the run measured that claims are about (NULL if it died):
     * {"verdicts": {model: verdict}, "unmet": [expectation keys missed],
     *  "ok": n, "info": n, "p99_ns": n, "availability": x} */
    json_t *figures;
} FlOutcome;

void fl_outcome_clear(FlOutcome *o);

/* Runs @scenario (borrowed JSON; @file names it in messages) with @seed in a
 * worker process of its own limited to @time_limit_s seconds of wall time,
 * and fills @o.
 * Returns false only if no child could be started. */
bool fl_fuzz_run_one(json_t *scenario, const char *file, uint64_t seed, double time_limit_s,
                     FlOutcome *o);

typedef struct FlFuzzOptions {
    uint64_t first, last;      /* seed range, inclusive */
    uint32_t shard, shards;    /* run seeds whose index % shards == shard */
    uint32_t jobs;
    double time_limit_s;
    bool keep_going;
    bool shrink;
    uint32_t shrink_runs;      /* most runs one shrink may use */
    bool progress;             /* on stderr */
    bool keep_all;             /* report every seed's outcome, not only failures */
} FlFuzzOptions;

typedef struct FlFuzzReport {
    uint64_t ran;
    GArray *failures;          /* of FlOutcome, by seed; shrunk ones carry the shrunk scenario */
    GPtrArray *notes;          /* per failure: what shrinking did (same order) */
    GArray *all;               /* with keep_all: of FlOutcome, every seed run, in seed
                                * order, without resolved and explicit_faults */
    double seconds;
    double virtual_s;
    bool interrupted;
} FlFuzzReport;

/* Runs the seeds of @opt over @scenario.  Returns the report (free with
 * fl_fuzz_report_free). */
FlFuzzReport *fl_fuzz(json_t *scenario, const char *file, const FlFuzzOptions *opt);
void fl_fuzz_report_free(FlFuzzReport *r);

/* Shrinks the failure @o (whose resolved scenario must be set) and returns
 * the smallest scenario found that still fails with the same kind
 * (transfer full), with the outcome of its run in @shrunk.  @note receives
 * a one-line account of the steps. */
json_t *fl_fuzz_shrink(const FlOutcome *o, const char *file, double time_limit_s,
                       uint32_t max_runs, FlOutcome *shrunk, GString *note);

/* Set by SIGINT: the search stops launching runs and reports what it has. */
extern volatile int fl_fuzz_interrupted;
