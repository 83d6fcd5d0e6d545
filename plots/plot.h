/* plots: pictures of runs, drawn by gnuplot.
 *
 * Reads a run's folder (scenario.json, history.jsonl, trace.jsonl,
 * metrics.json), writes for each picture a data file NAME.dat and a gnuplot
 * script NAME.gp next to each other, and runs gnuplot on the script in that
 * folder, so `cd DIR && gnuplot NAME.gp` redraws it after a hand edit.
 * Nothing here touches the engine: a run is only what its files say.
 *
 * Errors use FL_ERROR (sim/jsonv.h): FL_ERROR_INPUT for a run folder that
 * cannot be read (the message names the file and line), FL_ERROR_RUN for a
 * file that cannot be written or a gnuplot that fails. */
#pragma once

#include "sim/jsonv.h"
#include "sim/time.h"

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define FL_GNUPLOT_HINT \
    "gnuplot is not installed; install it with: apt-get install gnuplot-nox"

/* The pictures of one run, in the order the report shows them. */
typedef enum {
    FL_PLOT_LATENCY = 0,   /* each operation: invocation time vs latency */
    FL_PLOT_RATE,          /* throughput over time per operation and outcome */
    FL_PLOT_DISTRIBUTION,  /* latency percentiles per operation */
    FL_PLOT_SPACETIME,     /* nodes as lines, messages as arrows */
    FL_PLOT_TIMELINE,      /* one row per client process, operations as bars */
    FL_PLOT_SLA,           /* windows up or down against the SLA, error budget spent */
    FL_PLOT_COUNT,
} FlPlotKind;

/* File stem ("latency", "rate", "latency-dist", "space-time", "timeline", "sla"). */
const char *fl_plot_name(FlPlotKind k);
/* Heading for a person ("Latency of every operation", ...). */
const char *fl_plot_heading(FlPlotKind k);
/* Parses a file stem back; returns false when @name is none of them. */
bool fl_plot_kind_from_name(const char *name, FlPlotKind *k);

typedef struct FlPlotOptions {
    const char *format;      /* "png" (default when NULL) or "svg" */
    const char *out_dir;     /* where NAME.dat, NAME.gp, NAME.png go */
    bool render;             /* run gnuplot; false: data and script only */
    bool has_from, has_to;   /* a time window given by the user */
    FlTime from, to;
    FILE *notes;             /* one line per choice made for the user
                              * (default windows, ...); NULL: silent */
} FlPlotOptions;

/* What a run's files hold, parsed.  Opaque; see plots/rundata.h. */
typedef struct FlRunData FlRunData;

/* Reads the run in @dir: metrics.json, history.jsonl and scenario.json are
 * required, trace.jsonl only for the space-time diagram.  Returns NULL with
 * @err set (FL_ERROR_INPUT, naming the file and line). */
FlRunData *fl_rundata_load(const char *dir, GError **err);
void fl_rundata_free(FlRunData *rd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FlRunData, fl_rundata_free)

/* One drawn picture. */
typedef struct FlPlotOutput {
    FlPlotKind kind;
    char *image;     /* path of NAME.png / NAME.svg (NULL when not rendered) */
    char *data;      /* path of NAME.dat */
    char *script;    /* path of NAME.gp */
    char *note;      /* what a reader should know (the window shown, ...) */
} FlPlotOutput;
void fl_plot_output_free(FlPlotOutput *o);

/* Draws picture @k of @rd into opt->out_dir (created if needed).  Returns a
 * new FlPlotOutput (free with fl_plot_output_free), or NULL with @err set.
 * Precondition: opt->render implies gnuplot is available. */
FlPlotOutput *fl_plot_draw(FlRunData *rd, FlPlotKind k, const FlPlotOptions *opt,
                           GError **err);

/* Draws every picture; @outputs receives (transfer full) one FlPlotOutput
 * per picture, in FlPlotKind order.  Stops at the first error. */
bool fl_plot_draw_all(FlRunData *rd, const FlPlotOptions *opt, GPtrArray *outputs,
                      GError **err);

/* Several runs on one chart: latency distributions and ok rates.  Writes
 * compare.dat, compare.gp and compare.png/svg into opt->out_dir.  @dirs are
 * run folders (at least one).  Returns the output or NULL with @err. */
FlPlotOutput *fl_plot_compare(const char *const *dirs, guint n, const FlPlotOptions *opt,
                              GError **err);

/* gnuplot: its path from PATH (transfer full), or NULL when missing. */
char *fl_gnuplot_find(void);
/* The terminal line for @format ("png": pngcairo when gnuplot has it, else
 * png; "svg").  Adds the size.  Caller frees. */
char *fl_gnuplot_terminal(const char *format, int width, int height);
/* Runs `gnuplot SCRIPT` in @dir.  Fails with FL_ERROR_RUN and gnuplot's
 * own messages when it exits non-zero or complains. */
bool fl_gnuplot_run(const char *dir, const char *script, GError **err);

/* Parses a --from/--to value: a duration with a unit ("4s", "350ms") or
 * integer nanoseconds.  Returns false when it is neither or negative. */
bool fl_plot_parse_time(const char *text, FlTime *out);
