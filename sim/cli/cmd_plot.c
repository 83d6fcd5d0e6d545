/* faultline plot RUN_DIR [--format png|svg] [--out DIR] [--from T] [--to T] [--only NAME]
 * faultline plot --compare RUN_DIR... [--out DIR] */
#include "plots/plot.h"
#include "sim/cli/cli.h"

#include <stdio.h>
#include <string.h>

bool fl_cli_plot_window(const char *cmd, const char *from, const char *to, FlPlotOptions *opt)
{
    if (from) {
        if (!fl_plot_parse_time(from, &opt->from)) {
            fprintf(stderr, "faultline %s: --from: expected a time such as 4s or 350ms, got \"%s\"\n",
                    cmd, from);
            return false;
        }
        opt->has_from = true;
    }
    if (to) {
        if (!fl_plot_parse_time(to, &opt->to)) {
            fprintf(stderr, "faultline %s: --to: expected a time such as 6s or 900ms, got \"%s\"\n",
                    cmd, to);
            return false;
        }
        opt->has_to = true;
    }
    if (opt->has_from && opt->has_to && opt->to <= opt->from) {
        fprintf(stderr, "faultline %s: --to must be later than --from\n", cmd);
        return false;
    }
    return true;
}

bool fl_cli_plot_format(const char *cmd, const char *format)
{
    if (format && strcmp(format, "png") != 0 && strcmp(format, "svg") != 0) {
        fprintf(stderr, "faultline %s: --format: expected png or svg, got \"%s\"\n", cmd, format);
        return false;
    }
    return true;
}

bool fl_cli_have_gnuplot(const char *cmd)
{
    g_autofree char *gp = fl_gnuplot_find();
    if (!gp)
        fprintf(stderr, "faultline %s: " FL_GNUPLOT_HINT "\n", cmd);
    return gp != NULL;
}

int fl_plot_run_dir(const char *dir, const FlPlotOptions *opt, FILE *out)
{
    GError *err = NULL;
    g_autoptr(FlRunData) rd = fl_rundata_load(dir, &err);
    if (!rd) {
        fprintf(stderr, "faultline plot: %s\n", err->message);
        g_error_free(err);
        return 2;
    }
    g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func((GDestroyNotify)fl_plot_output_free);
    if (!fl_plot_draw_all(rd, opt, outs, &err)) {
        fprintf(stderr, "faultline plot: %s\n", err->message);
        int status = err->code == FL_ERROR_INPUT ? 2 : 1;
        g_error_free(err);
        return status;
    }
    for (guint i = 0; out && i < outs->len; i++) {
        FlPlotOutput *o = g_ptr_array_index(outs, i);
        fprintf(out, "  %-13s %s\n", fl_plot_name(o->kind), o->image ? o->image : o->script);
    }
    return 0;
}

static int plot_one(const char *run, FlPlotKind kind, const FlPlotOptions *opt)
{
    GError *err = NULL;
    g_autoptr(FlRunData) rd = fl_rundata_load(run, &err);
    FlPlotOutput *o = rd ? fl_plot_draw(rd, kind, opt, &err) : NULL;
    if (!o) {
        fprintf(stderr, "faultline plot: %s\n", err->message);
        int status = err->code == FL_ERROR_INPUT ? 2 : 1;
        g_error_free(err);
        return status;
    }
    printf("  %-13s %s\n", fl_plot_name(kind), o->image ? o->image : o->script);
    fl_plot_output_free(o);
    return 0;
}

static int plot(int argc, char **argv, const char *format, const char *out, const char *from,
                const char *to, const char *only, bool compare, bool no_render)
{
    FlPlotOptions opt = { .format = format ? format : "png", .render = !no_render, .notes = stderr };
    if (!fl_cli_plot_format("plot", format) || !fl_cli_plot_window("plot", from, to, &opt))
        return 2;
    FlPlotKind kind = FL_PLOT_COUNT;
    if (only && !fl_plot_kind_from_name(only, &kind)) {
        fprintf(stderr, "faultline plot: --only: expected latency, rate, latency-dist, space-time "
                        "or timeline, got \"%s\"\n", only);
        return 2;
    }
    if (argc < 2 || (!compare && argc != 2)) {
        fprintf(stderr, "faultline plot: expected %s (see faultline plot --help)\n",
                compare ? "one or more run folders" : "one run folder; several go with --compare");
        return 2;
    }
    if (compare && only) {
        fprintf(stderr, "faultline plot: --only does not go with --compare\n");
        return 2;
    }
    if (opt.render && !fl_cli_have_gnuplot("plot"))
        return 2;
    if (compare) {
        GError *err = NULL;
        opt.out_dir = out ? out : "runs/compare";
        FlPlotOutput *o = fl_plot_compare((const char *const *)argv + 1, (guint)argc - 1, &opt, &err);
        if (!o) {
            fprintf(stderr, "faultline plot: %s\n", err->message);
            int status = err->code == FL_ERROR_INPUT ? 2 : 1;
            g_error_free(err);
            return status;
        }
        printf("  compare       %s\n", o->image ? o->image : o->script);
        fl_plot_output_free(o);
        return 0;
    }
    g_autofree char *dir = out ? g_strdup(out) : g_build_filename(argv[1], "plots", NULL);
    opt.out_dir = dir;
    return only ? plot_one(argv[1], kind, &opt) : fl_plot_run_dir(argv[1], &opt, stdout);
}

int fl_cmd_plot(int argc, char **argv)
{
    char *format = NULL, *out = NULL, *from = NULL, *to = NULL, *only = NULL;
    gboolean compare = FALSE, no_render = FALSE;
    GOptionEntry entries[] = {
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "png (default) or svg", "FMT" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out,
          "Folder for the pictures (default RUN_DIR/plots; with --compare runs/compare)", "DIR" },
        { "from", 0, 0, G_OPTION_ARG_STRING, &from,
          "Start of the time window (e.g. 3.5s); default: the whole run, and for the space-time "
          "diagram and timeline a window around the first fault", "T" },
        { "to", 0, 0, G_OPTION_ARG_STRING, &to, "End of the time window", "T" },
        { "only", 0, 0, G_OPTION_ARG_STRING, &only,
          "Draw one picture: latency, rate, latency-dist, space-time or timeline", "NAME" },
        { "compare", 'c', 0, G_OPTION_ARG_NONE, &compare,
          "Draw the latency distributions and rates of several runs on one chart", NULL },
        { "no-render", 0, 0, G_OPTION_ARG_NONE, &no_render,
          "Write the data files and gnuplot scripts only (no gnuplot needed)", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("RUN_DIR...");
    g_option_context_set_summary(ctx,
        "Draws a run's pictures with gnuplot from the files `faultline run` wrote:\n"
        "  latency       each operation at its invocation time and latency (log), by\n"
        "                outcome (ok blue, fail red, info orange) and operation; faults shaded\n"
        "  rate          throughput over time per operation and outcome; faults shaded\n"
        "  latency-dist  latency percentiles (p50 ... p99.9) per operation\n"
        "  space-time    one line per node, messages as arrows, drops, crashes, roles,\n"
        "                partitions, for a time window (--from/--to)\n"
        "  timeline      one row per client process, operations as bars; the checker's\n"
        "                counterexample highlighted\n"
        "Each picture is NAME.png (or .svg) with its data NAME.dat and script NAME.gp.\n"
        "With --compare, several runs' latency distributions and rates on one chart.\n"
        "Exit status: 0 drawn, 1 gnuplot failed, 2 bad usage, bad input or no gnuplot.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    int status = 2;
    if (fl_cli_parse(ctx, &argc, &argv, "plot"))
        status = plot(argc, argv, format, out, from, to, only, compare, no_render);
    g_free(format);
    g_free(out);
    g_free(from);
    g_free(to);
    g_free(only);
    return status;
}
