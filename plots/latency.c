/* plots/latency: how long operations took.
 *
 * 1. Latency (Jepsen's latency-raw): one point per completed operation, at
 *    its intended arrival and its latency from there (so queueing behind a
 *    stall counts: no coordinated omission, sim/client.c), log scale; an
 *    older history without "arrival" uses the invocation.  Colour says
 *    ok / fail / info, shape says which operation.  Operations still open
 *    at the end have no latency and are left out.
 * 2. Distribution: per operation, the latency of ok operations against the
 *    fraction of operations that were faster, on the x axis 1/(1-q), so
 *    p50, p90, p99, p99.9 are equally spaced (HdrHistogram's percentile
 *    plot).  One point per ok operation: the exact empirical distribution. */
#include "plots/plot_impl.h"

#include <math.h>
#include <string.h>

/* Note 1. */
FlPlotOutput *fl_plot_latency(FlRunData *rd, const FlPlotOptions *opt, GError **err)
{
    FlTime from, to;
    fl_plot_window(rd, opt, &from, &to);
    g_autoptr(FlScript) s = fl_script_new("latency", opt, 1100, 620, rd->dir);
    g_autofree char *title = g_strdup_printf("%s: latency of every operation", rd->label);
    fl_script_title(s, title);
    fl_script_set(s, "set xlabel \"intended arrival (s)\"");
    fl_script_set(s, "set ylabel \"latency (ms)\"");
    fl_script_set(s, "set logscale y");
    fl_script_set(s, "set format y \"%%g\"");
    fl_script_set(s, "set xrange [%.9g:%.9g]", (double)from / 1e9, (double)to / 1e9);
    fl_script_set(s, "set key below horizontal Left reverse samplen 1.5 spacing 1.1 width 2");
    if (!fl_script_faults(s, rd, from, to, 1e9, NULL, err))
        return NULL;
    guint nf = rd->fs->len;
    g_autofree FlSeries **series = g_new0(FlSeries *, (size_t)nf * FL_OUTCOME_COUNT);
    for (int o = 0; o < FL_OUTCOME_COUNT; o++)
        for (guint i = 0; i < nf; i++) {
            g_autofree char *style = g_strdup_printf("with points pt %d ps 0.7 lc rgb \"%s\"",
                                                     fl_point_type(i), fl_outcome_color(o));
            g_autofree char *name = g_strdup_printf("%s %s", (char *)g_ptr_array_index(rd->fs, i),
                                                    fl_outcome_name(o));
            series[o * nf + i] = fl_script_series(s, "1:2", style, name);
        }
    guint points = 0;
    double lo = INFINITY, hi = 0;
    for (guint k = 0; k < rd->ops->len; k++) {
        const FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, k);
        if (op->open || op->arrival < from || op->arrival > to)
            continue;
        /* From the intended arrival (note 1): a stall shows as a ramp of
         * high latencies, not as a gap.  A zero latency cannot sit on a
         * log scale: a nanosecond stands in. */
        double ms = (double)MAX(op->complete - op->arrival, 1) / 1e6;
        fl_series_row(series[op->outcome * nf + fl_rundata_f_index(rd, op->f)], "%.9f %.6f",
                      (double)op->arrival / 1e9, ms);
        lo = MIN(lo, ms);
        hi = MAX(hi, ms);
        points++;
    }
    if (points == 0) {
        fl_script_set(s, "set yrange [0.1:1000]");
        fl_script_set(s, "set label 1 \"no operation completed in this window\" at graph 0.5, graph 0.5 center");
    } else {
        /* Whole decades, with room above the highest point (info
         * operations sit exactly at the timeout). */
        fl_script_set(s, "set yrange [%.6g:%.6g]", pow(10, floor(log10(lo))), hi * 1.6);
    }
    fl_script_note(s, "%u operations", points);
    return fl_script_finish(s, FL_PLOT_LATENCY, err);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank, as metrics.json computes it. */
static double percentile(const GArray *sorted, double q)
{
    if (sorted->len == 0)
        return 0;
    size_t rank = (size_t)ceil(q * (double)sorted->len - 1e-9);
    rank = CLAMP(rank, 1, sorted->len);
    return g_array_index(sorted, double, rank - 1);
}

/* Writes the percentile rows of @lat (sorted ms) into @se (note 2). */
static void distribution_rows(FlSeries *se, const GArray *lat)
{
    for (guint i = 0; i < lat->len; i++) {
        double q = (double)i / lat->len;
        fl_series_row(se, "%.9f %.9f %.6f", q, 1.0 / (1.0 - q), g_array_index(lat, double, i));
    }
}

static char *distribution_title(const char *name, const GArray *lat)
{
    char a[32], b[32], c[32];
    return g_strdup_printf("%s: %u ok, p50 %s, p99 %s, max %s", name, lat->len,
                           fl_plot_duration((FlTime)(percentile(lat, 0.5) * 1e6), a),
                           fl_plot_duration((FlTime)(percentile(lat, 0.99) * 1e6), b),
                           fl_plot_duration((FlTime)(percentile(lat, 1.0) * 1e6), c));
}

void fl_plot_percentile_axis(FlScript *s, guint n)
{
    double top = 10;
    while (top < n && top < 1e6)
        top *= 10;
    fl_script_set(s, "set logscale x");
    fl_script_set(s, "set xrange [1:%g]", top);
    fl_script_set(s, "set xtics (\"0%%%%\" 1, \"50%%%%\" 2, \"90%%%%\" 10, \"99%%%%\" 100, \"99.9%%%%\" 1000, "
                     "\"99.99%%%%\" 10000, \"99.999%%%%\" 100000, \"99.9999%%%%\" 1000000)");
    fl_script_set(s, "set xlabel \"percentile (share of operations at most this latency)\"");
}

/* Note 2. */
FlPlotOutput *fl_plot_distribution(FlRunData *rd, const FlPlotOptions *opt, GError **err)
{
    FlTime from, to;
    fl_plot_window(rd, opt, &from, &to);
    g_autoptr(FlScript) s = fl_script_new("latency-dist", opt, 1100, 600, rd->dir);
    g_autofree char *title = g_strdup_printf("%s: latency distribution of ok operations", rd->label);
    fl_script_title(s, title);
    fl_script_set(s, "set ylabel \"latency (ms)\"");
    fl_script_set(s, "set logscale y");
    fl_script_set(s, "set format y \"%%g\"");
    fl_script_set(s, "set key inside left top Left reverse samplen 2 box opaque");
    guint nf = rd->fs->len;
    GArray **lat = g_new0(GArray *, nf + 1);
    for (guint i = 0; i <= nf; i++)
        lat[i] = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint k = 0; k < rd->ops->len; k++) {
        const FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, k);
        if (op->outcome != FL_OUTCOME_OK || op->arrival < from || op->arrival > to)
            continue;
        double ms = (double)MAX(op->complete - op->arrival, 1) / 1e6;
        g_array_append_val(lat[fl_rundata_f_index(rd, op->f)], ms);
        g_array_append_val(lat[nf], ms);
    }
    for (guint i = 0; i <= nf; i++) {
        g_array_sort(lat[i], cmp_double);
        /* "all" only adds something when there are several operations. */
        if (i == nf && nf < 2)
            break;
        const char *name = i < nf ? g_ptr_array_index(rd->fs, i) : "all";
        g_autofree char *label = distribution_title(name, lat[i]);
        g_autofree char *style = i < nf
            ? g_strdup_printf("with linespoints pt %d ps 0.5 pi -20 lw 1.5 lc rgb \"%s\"",
                              fl_point_type(i), fl_line_color(i))
            : g_strdup("with lines lw 2 dt 2 lc rgb \"#333333\"");
        FlSeries *se = fl_script_series(s, "2:3", style, label);
        distribution_rows(se, lat[i]);
    }
    fl_plot_percentile_axis(s, lat[nf]->len);
    if (lat[nf]->len == 0) {
        fl_script_set(s, "set yrange [0.1:1000]");
        fl_script_set(s, "set label 1 \"no ok operation in this window\" at graph 0.5, graph 0.5 center");
    }
    fl_script_note(s, "%u ok operations", lat[nf]->len);
    for (guint i = 0; i <= nf; i++)
        g_array_unref(lat[i]);
    g_free(lat);
    return fl_script_finish(s, FL_PLOT_DISTRIBUTION, err);
}
