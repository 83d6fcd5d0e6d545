/* plots/compare: several runs on one chart.
 *
 * One picture, two panels sharing nothing but the colours: on top the
 * latency distribution of each run's ok operations (all operation names
 * together, the percentile axis of latency-dist), below each run's ok
 * throughput over time in buckets of one width for all runs, so the lines
 * are comparable.  A run is named by its scenario and seed, or by its
 * folder when two runs share both. */
#include "plots/plot_impl.h"

#include <math.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *run_names(FlRunData **runs, guint n, guint i)
{
    for (guint j = 0; j < n; j++)
        if (j != i && strcmp(runs[j]->label, runs[i]->label) == 0)
            return g_path_get_basename(runs[i]->dir);
    return g_strdup(runs[i]->label);
}

FlPlotOutput *fl_plot_compare(const char *const *dirs, guint n, const FlPlotOptions *opt,
                              GError **err)
{
    g_assert(n > 0);
    FlRunData **runs = g_new0(FlRunData *, n);
    FlPlotOutput *out = NULL;
    FlTime end = 0;
    guint i;
    for (i = 0; i < n; i++) {
        if (!(runs[i] = fl_rundata_load(dirs[i], err)))
            goto done;
        end = MAX(end, runs[i]->end);
    }
    {
        FlTime from = opt->has_from ? opt->from : 0, to = opt->has_to ? opt->to : end;
        if (to <= from)
            to = from + 1;
        g_autoptr(FlScript) s = fl_script_new("compare", opt, 1200, 900, "several runs");
        fl_script_set(s, "set multiplot layout 2,1 title \"%u runs compared\" font \",13\"", n);
        fl_script_title(s, "Latency distribution of ok operations");
        fl_script_set(s, "set ylabel \"latency (ms)\"");
        fl_script_set(s, "set logscale y");
        fl_script_set(s, "set format y \"%%g\"");
        /* Keys outside on the right in both panels, so their axes line up. */
        fl_script_set(s, "set key outside right top vertical Left reverse samplen 2");
        fl_script_set(s, "set rmargin 46");
        fl_script_set(s, "set lmargin 10");
        guint most = 0;
        g_autofree char **names = g_new0(char *, n + 1);
        for (i = 0; i < n; i++) {
            names[i] = run_names(runs, n, i);
            g_autoptr(GArray) lat = g_array_new(FALSE, FALSE, sizeof(double));
            for (guint k = 0; k < runs[i]->ops->len; k++) {
                const FlPlotOp *op = &g_array_index(runs[i]->ops, FlPlotOp, k);
                if (op->outcome != FL_OUTCOME_OK || op->arrival < from || op->arrival > to)
                    continue;
                double ms = (double)MAX(op->complete - op->arrival, 1) / 1e6;  /* from arrival, as latency.c */
                g_array_append_val(lat, ms);
            }
            g_array_sort(lat, cmp_double);
            most = MAX(most, lat->len);
            g_autofree char *style = g_strdup_printf("with lines lw 2 lc rgb \"%s\"", fl_line_color(i));
            g_autofree char *title = g_strdup_printf("%s (%u ok)", names[i], lat->len);
            FlSeries *se = fl_script_series(s, "2:3", style, title);
            for (guint k = 0; k < lat->len; k++) {
                double q = (double)k / lat->len;
                fl_series_row(se, "%.9f %.9f %.6f", q, 1.0 / (1.0 - q), g_array_index(lat, double, k));
            }
        }
        fl_plot_percentile_axis(s, most);
        if (most == 0)
            fl_script_set(s, "set yrange [0.1:1000]");
        fl_script_panel(s);

        FlTime width = fl_plot_bucket(to - from);
        guint nb = (guint)((to - from + width - 1) / width);
        char w[32];
        g_autofree char *title = g_strdup_printf("Throughput of ok operations (%s buckets)",
                                                 fl_plot_duration(width, w));
        fl_script_set(s, "unset logscale");
        fl_script_set(s, "unset label");
        fl_script_set(s, "set xtics auto");
        fl_script_set(s, "set format y \"%%g\"");
        fl_script_title(s, title);
        fl_script_set(s, "set xlabel \"time of completion (s)\"");
        fl_script_set(s, "set ylabel \"ok operations per second\"");
        fl_script_set(s, "set xrange [%.9g:%.9g]", (double)from / 1e9, (double)to / 1e9);
        fl_script_set(s, "set yrange [0:*]");

        g_autofree guint *count = g_new0(guint, nb);
        for (i = 0; i < n; i++) {
            memset(count, 0, sizeof(guint) * nb);
            for (guint k = 0; k < runs[i]->ops->len; k++) {
                const FlPlotOp *op = &g_array_index(runs[i]->ops, FlPlotOp, k);
                if (op->outcome == FL_OUTCOME_OK && op->complete >= from && op->complete < to)
                    count[(op->complete - from) / width]++;
            }
            g_autofree char *style = g_strdup_printf("with lines lw 1.8 lc rgb \"%s\"", fl_line_color(i));
            FlSeries *se = fl_script_series(s, "1:2", style, names[i]);
            for (guint b = 0; b < nb; b++) {
                FlTime b0 = from + (FlTime)b * width, b1 = MIN(b0 + width, to);
                /* Past a shorter run's end there is no rate, not a zero one. */
                if (b0 >= runs[i]->end)
                    break;
                fl_series_row(se, "%.9f %.6f", ((double)b0 + (double)(b1 - b0) / 2) / 1e9,
                              count[b] / ((double)(b1 - b0) / 1e9));
            }
        }
        fl_script_panel(s);
        fl_script_set(s, "unset multiplot");
        out = fl_script_finish(s, FL_PLOT_COUNT, err);
        for (i = 0; i < n; i++)
            g_free(names[i]);
    }
done:
    for (i = 0; i < n; i++)
        fl_rundata_free(runs[i]);
    g_free(runs);
    return out;
}
