/* plots/rate: throughput over time, per operation and outcome.
 *
 * Completions are counted in buckets of a round width (about 50 over the
 * window) by their completion time, as Jepsen's rate graph does, and shown
 * as operations per second.  Every series has a row for every bucket, zeros
 * included, so an outage shows as a line falling to zero.  Operations still
 * open at the end never completed and are not counted. */
#include "plots/plot_impl.h"

FlPlotOutput *fl_plot_rate(FlRunData *rd, const FlPlotOptions *opt, GError **err)
{
    FlTime from, to;
    fl_plot_window(rd, opt, &from, &to);
    FlTime width = fl_plot_bucket(to - from);
    guint nb = (guint)((to - from + width - 1) / width);
    g_autoptr(FlScript) s = fl_script_new("rate", opt, 1100, 620, rd->dir);
    char w[32];
    g_autofree char *title = g_strdup_printf("%s: throughput (completions per second, %s buckets)",
                                             rd->label, fl_plot_duration(width, w));
    fl_script_title(s, title);
    fl_script_set(s, "set xlabel \"time of completion (s)\"");
    fl_script_set(s, "set ylabel \"operations per second\"");
    fl_script_set(s, "set xrange [%.9g:%.9g]", (double)from / 1e9, (double)to / 1e9);
    fl_script_set(s, "set yrange [0:*]");
    fl_script_set(s, "set key below horizontal Left reverse samplen 2.5 spacing 1.1 width 2");
    if (!fl_script_faults(s, rd, from, to, 1e9, NULL, err))
        return NULL;
    guint nf = rd->fs->len, ns = nf * FL_OUTCOME_COUNT;
    g_autofree guint *count = g_new0(guint, (size_t)ns * nb);
    g_autofree guint *total = g_new0(guint, ns);
    for (guint k = 0; k < rd->ops->len; k++) {
        const FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, k);
        if (op->open || op->complete < from || op->complete >= to)
            continue;
        guint si = op->outcome * nf + fl_rundata_f_index(rd, op->f);
        count[(size_t)si * nb + (op->complete - from) / width]++;
        total[si]++;
    }
    guint series = 0;
    for (int o = 0; o < FL_OUTCOME_COUNT; o++)
        for (guint i = 0; i < nf; i++) {
            guint si = o * nf + i;
            if (!total[si])
                continue;
            g_autofree char *style = g_strdup_printf(
                "with linespoints pt %d ps 0.6 pi 3 lw 1.3 dt %d lc rgb \"%s\"", fl_point_type(i),
                i % 4 + 1, fl_outcome_color(o));
            g_autofree char *name = g_strdup_printf("%s %s (%u)", (char *)g_ptr_array_index(rd->fs, i),
                                                    fl_outcome_name(o), total[si]);
            FlSeries *se = fl_script_series(s, "1:2", style, name);
            for (guint b = 0; b < nb; b++) {
                /* The last bucket may be cut short by the window. */
                FlTime b0 = from + (FlTime)b * width, b1 = MIN(b0 + width, to);
                fl_series_row(se, "%.9f %.6f", ((double)b0 + (double)(b1 - b0) / 2) / 1e9,
                              count[(size_t)si * nb + b] / ((double)(b1 - b0) / 1e9));
            }
            series++;
        }
    if (series == 0) {
        fl_script_set(s, "set yrange [0:1]");
        fl_script_set(s, "set label 1 \"no operation completed in this window\" at graph 0.5, graph 0.5 center");
    }
    fl_script_note(s, "%u buckets of %s", nb, w);
    return fl_script_finish(s, FL_PLOT_RATE, err);
}
