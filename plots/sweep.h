/* plots/sweep: a grid of parameter values times seeds, run in parallel.
 *
 * Any number in a scenario can be swept, named by its JSON pointer
 * (RFC 6901: "/network/delay/max", "/cluster/params/election_timeout/0").
 * Each grid point is run with N seeds through the in-process API
 * (fl_scenario_from_json on a modified copy of the file, then fl_run
 * without files), in forked worker processes; results are gathered by run
 * index, so every output is the same whatever the number of workers.  The
 * outcome per point (fraction of runs whose check failed, availability,
 * latency percentiles, and optionally one protocol counter such as the
 * messages an election took) is written as a table and drawn against the
 * first parameter, one line per scenario and value of the other parameters. */
#pragma once

#include "plots/plot.h"

typedef struct FlSweepParam {
    char *path;          /* JSON pointer */
    bool duration;       /* values are durations (the range had units) */
    bool integer;        /* values are integers */
    GArray *values;      /* of double: ns for durations */
    char *unit;          /* display unit of the axis ("ms", "s", ...) or "" */
    double unit_ns;      /* ns per display unit (durations), else 1 */
} FlSweepParam;

/* Parses "PATH=A..B[:STEPS]" or "PATH=V1,V2,...".  A and B are numbers,
 * or durations with units ("10ms..200ms").  Integer ends give integer
 * values (every integer when there are at most 11, else STEPS, default 5,
 * rounded and without repeats); other ranges STEPS values, default 5,
 * evenly spaced.  Returns NULL with @err (FL_ERROR_INPUT) on bad text. */
FlSweepParam *fl_sweep_param_parse(const char *spec, GError **err);
void fl_sweep_param_free(FlSweepParam *p);

/* The JSON value @p takes at its @i-th value (transfer full). */
json_t *fl_sweep_param_json(const FlSweepParam *p, guint i);
/* The @i-th value as text ("50ms", "3", "0.01"); caller frees. */
char *fl_sweep_param_text(const FlSweepParam *p, guint i);

/* Sets the value at JSON pointer @path in @root (takes ownership of
 * @value), creating missing objects on the way.  Fails with @err when a
 * step is not an object or array, or an array index is out of range. */
bool fl_json_pointer_set(json_t *root, const char *path, json_t *value, GError **err);

typedef struct FlSweepOptions {
    guint seeds;             /* runs per grid point, seeds file seed + 0..N-1 */
    guint jobs;              /* worker processes, >= 1 */
    double check_timeout_s;
    const char *out_dir;     /* sweep.tsv, sweep.dat, sweep.gp, sweep.png */
    FlPlotOptions plot;      /* format and render; out_dir is set from above */
    bool progress;           /* progress lines on stderr */
    const char *counter;     /* NULL, or a counter of metrics.json ("election.messages"): its
                                value per run is a column of sweep.tsv and the table, and its
                                mean per point a fourth panel of the chart */
} FlSweepOptions;

/* Runs the sweep of @params (of FlSweepParam*) over the scenario files
 * @files, writes its files, and prints a table of the grid points on
 * @out.  Returns 0, or -1 with @err (FL_ERROR_INPUT: a scenario or a value
 * the scenario rejects, checked before any run; FL_ERROR_RUN: a run or
 * worker that failed, or gnuplot). */
int fl_sweep_run(const char *const *files, guint nfiles, GPtrArray *params,
                 const FlSweepOptions *opt, FILE *out, GError **err);
