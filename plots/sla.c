/* plots/sla: availability against the SLA, window by window (issue 22,
 * item 4).
 *
 * From metrics.json "sla" (sim/sla.h): each window with demand as a bar,
 * green when an operation ended ok in it, red when none did, and the error
 * budget spent so far as a line on the right axis (100% is the whole
 * budget of the run), over the shaded fault intervals.  A run without a
 * workload has no figures: the picture says so. */
#include "plots/plot_impl.h"

FlPlotOutput *fl_plot_sla(FlRunData *rd, const FlPlotOptions *opt, GError **err)
{
    FlTime from, to;
    fl_plot_window(rd, opt, &from, &to);
    g_autoptr(FlScript) s = fl_script_new("sla", opt, 1100, 520, rd->dir);
    json_t *sla = json_object_get(rd->metrics, "sla");
    char w[32];
    fl_plot_duration((FlTime)json_integer_value(json_object_get(sla, "window_ns")), w);
    g_autofree char *title = g_strdup_printf(
        "%s: availability %.4g%% against %.4g%% (windows of %s), budget %.0f%% spent", rd->label,
        100 * json_number_value(json_object_get(sla, "availability")),
        100 * json_number_value(json_object_get(sla, "target")), w,
        100 * json_number_value(json_object_get(json_object_get(sla, "error_budget"), "spent")));
    fl_script_title(s, sla ? title : rd->label);
    fl_script_set(s, "set xlabel \"time (s)\"");
    fl_script_set(s, "set ylabel \"windows with demand (colour: up or down)\"");
    fl_script_set(s, "set y2label \"error budget spent (%%)\"");
    fl_script_set(s, "set xrange [%.9g:%.9g]", (double)from / 1e9, (double)to / 1e9);
    fl_script_set(s, "set yrange [0:1.15]");
    fl_script_set(s, "unset ytics");
    fl_script_set(s, "set y2range [0:*]");
    fl_script_set(s, "set y2tics");
    fl_script_set(s, "set style fill solid 0.6 noborder");
    fl_script_set(s, "set key below horizontal");
    if (!fl_script_faults(s, rd, from, to, 1e9, NULL, err))
        return NULL;
    json_t *per = json_object_get(sla, "per_window");
    if (!json_array_size(per)) {
        fl_script_set(s, "set label 1 \"no availability figures: the run has no workload\" at graph 0.5, graph 0.5 center");
        fl_script_clause(s, "NaN notitle");
        return fl_script_finish(s, FL_PLOT_SLA, err);
    }
    FlSeries *up = fl_script_series(s, "1:2:3", "with boxes lc rgb \"#2e8b57\"", "up (an operation ended ok)");
    FlSeries *down = fl_script_series(s, "1:2:3", "with boxes lc rgb \"#c0392b\"", "down (demand, no ok)");
    FlSeries *budget = fl_script_series(s, "1:2", "with steps lw 2 lc rgb \"#1f4e79\" axes x1y2",
                                        "error budget spent (%)");
    size_t i;
    json_t *win;
    guint nup = 0, ndown = 0;
    json_array_foreach(per, i, win) {
        double t0 = (double)json_integer_value(json_object_get(win, "t0_ns")) / 1e9;
        double t1 = (double)json_integer_value(json_object_get(win, "t1_ns")) / 1e9;
        if (t1 * 1e9 < (double)from || t0 * 1e9 > (double)to)
            continue;
        if (json_is_true(json_object_get(win, "demand"))) {
            bool is_up = json_is_true(json_object_get(win, "up"));
            /* A down window is drawn full height: it is the one to see. */
            fl_series_row(is_up ? up : down, "%.9f %d %.9f", (t0 + t1) / 2, 1, (t1 - t0) * 0.9);
            is_up ? nup++ : ndown++;
        }
        fl_series_row(budget, "%.9f %.6f", t1,
                      100 * json_number_value(json_object_get(win, "budget_spent")));
    }
    /* gnuplot refuses an empty data block: a point off the chart. */
    if (!nup)
        fl_series_row(up, "-1 0 0");
    if (!ndown)
        fl_series_row(down, "-1 0 0");
    fl_script_note(s, "%u windows up, %u down, of %s", nup, ndown, w);
    return fl_script_finish(s, FL_PLOT_SLA, err);
}
