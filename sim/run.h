/* sim/run: one scenario run from start to verdict.
 *
 * Runs the world, writes the run's files (scenario.json, history.jsonl,
 * trace.jsonl, metrics.json), checks the history with the scenario's
 * consistency model, and weighs the scenario's expectations.  Used by
 * `faultline run`, the tests, and later the fuzzer. */
#pragma once

#include "sim/check/check.h"
#include "sim/scenario.h"

#include <glib.h>
#include <jansson.h>

typedef struct FlRunOptions {
    const char *out_dir;     /* write the run's files here; NULL: none */
    bool write_trace;        /* trace.jsonl too (only with out_dir) */
    bool check;              /* run the checker */
    double check_timeout_s;
    struct FlCoverage *coverage;   /* guided fuzzing: the run's abstract behaviour is
                                    * added to it (sim/coverage.h); NULL: none. Borrowed. */
    FlDuration series_window;      /* time series in windows this long (sim/series.h);
                                    * 0: none */
} FlRunOptions;

typedef struct FlRunResult {
    uint64_t trace_hash;
    FlVerdict verdict;       /* FL_VERDICT_UNKNOWN when not checked */
    bool checked;
    bool met;                /* every expectation held */
    GPtrArray *unmet;        /* of char*: one line per expectation missed */
    json_t *metrics;         /* metrics.json's content */
    json_t *timeseries;      /* fl_series_json's array of windows, or NULL
                              * without FlRunOptions.series_window */
    GString *history;        /* history.jsonl's content */
    GArray *history_index;   /* of FlHistoryEvent (check.h): the engine's
                              * index of @history, which the checker reads */
    GString *check_report;   /* the checker's explanation */
    double wall_s;
} FlRunResult;

/* Runs @sc.  Returns 0, or -1 with @err set (a run that could not finish,
 * or files that could not be written).  @res is filled on success; free it
 * with fl_run_result_clear. */
int fl_run(const FlScenario *sc, const FlRunOptions *opt, FlRunResult *res, GError **err);
void fl_run_result_clear(FlRunResult *res);

/* Prints the summary a person reads, ending with the line
 * "trace_hash=<16 hex> verdict=<valid|invalid|unknown>". */
void fl_run_print_summary(const FlScenario *sc, const FlRunResult *res, FILE *out);

const char *fl_verdict_name(FlVerdict v);
