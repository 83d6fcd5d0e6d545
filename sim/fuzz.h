/* sim/fuzz: many seeds of one scenario, failures shrunk to short schedules.
 *
 * Runs happen in worker processes (each runs many seeds), so that a
 * protocol assertion, a crash of the simulator or a run past its time limit
 * is a failure of that seed like any other, and a new worker goes on,
 * rather than the end of the search.  Results are kept by seed and
 * reported in seed order, so the output does not depend on how many workers
 * ran.  A failure is shrunk by delta debugging over the explicit scenario
 * (the fault list, the workload's length and clients, the duration), keeping
 * a change only when the run still fails with the same kind.
 *
 * Guided search (--guided, notes 5-8 of sim/fuzz.c): runs report their
 * abstract behaviour (sim/coverage.h); seeds come in batches of
 * FL_FUZZ_BATCH, and each seed of batch k either draws afresh or mutates the
 * explicit fault schedule of a run that reached new behaviour in batches
 * before k, from a random stream of its own seed.  Batch k starts only
 * when every earlier batch has finished, so the runs, the corpus and the
 * coverage are the same for any number of workers (with more than 16
 * workers, the rest idle).  Results stay keyed by the seed of the range
 * whose turn it was (FlOutcome.slot; "seed" in `fuzz --json`), so "the
 * first failure came at the k-th seed" means the same in both searches; a
 * mutant that ran with its parent's seed says so (FlOutcome.seed,
 * "run_seed"), and its failure file holds that seed. */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct FlOutcome {
    uint64_t seed;       /* the seed the scenario ran with (what replays it) */
    uint64_t slot;       /* the seed of the range whose turn it was: equal to @seed, except
                          * for a guided mutant, which may run with its parent's seed */
    char *origin;        /* guided: how its scenario came about ("fresh", "mutant of ..."); else NULL */
    json_t *features;    /* with coverage: the run's features (sim/coverage.h), else NULL */
    json_t *roles;       /* with coverage: its role changes (fl_coverage_roles), else NULL */
    bool failed;
    char *kind;          /* "ok", "invalid", "min_ok", "liveness", "crash", "timeout", "error", ... */
    char *detail;        /* one line for people */
    uint64_t trace_hash;
    json_t *resolved;    /* the scenario as run (seed and drawn values fixed); may be NULL */
    json_t *explicit_faults;  /* its faults with every nemesis replaced by what it drew; may be NULL */
    double virtual_s;    /* virtual time simulated */
    /* What the run measured that claims are about (NULL if it died):
     * {"verdicts": {model: verdict}, "unmet": [expectation keys missed],
     *  "ok": n, "info": n, "p99_ns": n, "availability": x,
     *  "sla_availability": x (metrics.json "sla")} */
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
    bool coverage;             /* collect and report coverage (implied by guided) */
    bool guided;               /* breed schedules from runs that reached new behaviour */
} FlFuzzOptions;

/* Seeds per guided generation (sim/fuzz.c note 6).  A constant, never
 * derived from --jobs: the batches decide which runs happen. */
#define FL_FUZZ_BATCH 16

/* Coverage after a batch: seeds run so far, distinct features then. */
typedef struct FlCoveragePoint {
    uint64_t seeds, features;
} FlCoveragePoint;

typedef struct FlFuzzReport {
    uint64_t ran;
    GArray *failures;          /* of FlOutcome, by seed; shrunk ones carry the shrunk scenario */
    GPtrArray *notes;          /* per failure: what shrinking did (same order) */
    GArray *all;               /* with keep_all: of FlOutcome, every seed run, in seed
                                * order, without resolved and explicit_faults */
    double seconds;
    double virtual_s;
    bool interrupted;
    /* With coverage: distinct features over every run reported, the runs
     * that added some (the corpus), and after each batch, in seed order,
     * the pair (seeds run, distinct features) (of FlCoveragePoint); else 0
     * and NULL. */
    uint64_t coverage;
    uint64_t corpus;
    uint64_t mutants;          /* guided: runs whose schedule was bred, not drawn */
    GArray *curve;
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
