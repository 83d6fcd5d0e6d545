/* plots/plot_impl: what the picture files share.
 *
 * A FlScript is one picture being written: a gnuplot script (settings
 * first, one `plot` command at the end) and its data file, made of blocks
 * (series) that the plot command reads with `index K`.  Empty series are
 * left out of both, so gnuplot never meets an empty block.  Colours and
 * shapes are fixed here so every picture says ok, fail and info alike. */
#pragma once

#include "plots/plot.h"
#include "plots/rundata.h"

/* Jepsen's colours: ok blue, info orange, fail pink-red. */
#define FL_COLOR_OK   "#1f77b4"
#define FL_COLOR_FAIL "#e6194b"
#define FL_COLOR_INFO "#f58231"

typedef struct FlSeries FlSeries;
typedef struct FlScript FlScript;

/* Starts picture @kind (or a named one, for comparisons and sweeps: @stem)
 * at @width x @height pixels. */
FlScript *fl_script_new(const char *stem, const FlPlotOptions *opt, int width, int height,
                        const char *source);
void fl_script_free(FlScript *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FlScript, fl_script_free)

/* Appends one line (a newline is added) to the settings part. */
void fl_script_set(FlScript *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Sets the picture's title. */
void fl_script_title(FlScript *s, const char *title);
/* Sets the x axis of a percentile plot (1/(1-q), log) for lines of at
 * most @n points. */
void fl_plot_percentile_axis(FlScript *s, guint n);
/* Appends a quoted gnuplot string ("..." with \ and " escaped). */
void fl_gp_quote(GString *out, const char *text);

/* A new data block plotted as `'NAME.dat' index K using @using @style
 * title "@title"` (title NULL: notitle).  The script borrows nothing. */
FlSeries *fl_script_series(FlScript *s, const char *using, const char *style, const char *title);
/* Appends one data row (a newline is added) and counts it as a point. */
void fl_series_row(FlSeries *se, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
guint fl_series_points(const FlSeries *se);
/* A key entry with no data (gnuplot's keyentry): @style e.g. "with boxes
 * fc rgb '#ccc'". */
void fl_script_keyentry(FlScript *s, const char *style, const char *title);
/* A raw plot clause (e.g. "NaN notitle"), used when a picture has no data. */
void fl_script_clause(FlScript *s, const char *clause);

/* Ends one panel of a multiplot: the series and clauses so far become one
 * `plot` command; settings and series after it make the next panel. */
void fl_script_panel(FlScript *s);
/* Writes NAME.dat and NAME.gp, runs gnuplot when opt->render, and fills a
 * new output.  Returns NULL with @err. */
FlPlotOutput *fl_script_finish(FlScript *s, FlPlotKind kind, GError **err);

/* Writes faults.dat (start, stop in seconds, kind, what) into the output
 * folder and adds a shaded rectangle per fault interval overlapping
 * [@from, @to] to @s, x in units of @unit_ns.  Intervals covering the whole
 * window are listed in the key but not shaded (they would tint everything).
 * @skip_kinds: NULL-terminated kinds drawn otherwise (space-time draws
 * crashes on the node's line), or NULL. */
bool fl_script_faults(FlScript *s, const FlRunData *rd, FlTime from, FlTime to,
                      double unit_ns, const char *const *skip_kinds, GError **err);

/* A colour per fault kind. */
const char *fl_fault_color(const char *kind);
/* Point type for the @i-th operation name. */
int fl_point_type(guint i);
/* A colour per line (runs, scenarios). */
const char *fl_line_color(guint i);
const char *fl_outcome_color(FlOutcome o);

/* "1.5s", "250ms": a short human form of @ns. */
char *fl_plot_duration(FlTime ns, char *buf);
/* Text safe inside a gnuplot data file's "..." column: no double quotes
 * or newlines, at most @max characters (ellipsis when cut). */
char *fl_plot_label(const char *text, guint max);

/* Writes a note for the user (opt->notes) and keeps it for the output. */
void fl_script_note(FlScript *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The pictures, one file each. */
FlPlotOutput *fl_plot_latency(FlRunData *rd, const FlPlotOptions *opt, GError **err);
FlPlotOutput *fl_plot_rate(FlRunData *rd, const FlPlotOptions *opt, GError **err);
FlPlotOutput *fl_plot_distribution(FlRunData *rd, const FlPlotOptions *opt, GError **err);
FlPlotOutput *fl_plot_spacetime(FlRunData *rd, const FlPlotOptions *opt, GError **err);
FlPlotOutput *fl_plot_timeline(FlRunData *rd, const FlPlotOptions *opt, GError **err);
FlPlotOutput *fl_plot_sla(FlRunData *rd, const FlPlotOptions *opt, GError **err);

/* The window [*from, *to] of a time-axis picture: the user's when given,
 * else the whole run. */
void fl_plot_window(const FlRunData *rd, const FlPlotOptions *opt, FlTime *from, FlTime *to);

/* A window dense enough to read: the widest [from, to] holding at most
 * @budget of the sorted @times, placed so that @before (0 to 1) of it lies
 * before @anchor, kept inside [0, @end]. */
void fl_plot_dense_window(const FlTime *times, guint n, FlTime anchor, double before, FlTime end,
                          guint budget, FlTime *from, FlTime *to);

/* Bucket width for rates over @span ns: a round number giving about 50
 * buckets. */
FlTime fl_plot_bucket(FlTime span);
