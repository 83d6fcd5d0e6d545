/* faultline report RUN_DIR [--out FILE] [--format png|svg] [--from T] [--to T] */
#include "plots/report.h"
#include "sim/cli/cli.h"

#include <stdio.h>

static int report(int argc, char **argv, const char *out, const char *format, const char *from,
                  const char *to)
{
    FlPlotOptions opt = { .format = format ? format : "png", .render = true, .notes = stderr };
    if (!fl_cli_plot_format("report", format) || !fl_cli_plot_window("report", from, to, &opt))
        return 2;
    if (argc != 2) {
        fprintf(stderr, "faultline report: expected one run folder (see faultline report --help)\n");
        return 2;
    }
    if (!fl_cli_have_gnuplot("report"))
        return 2;
    g_autofree char *plots = g_build_filename(argv[1], "plots", NULL);
    g_autofree char *file = out ? g_strdup(out) : g_build_filename(argv[1], "report.html", NULL);
    opt.out_dir = plots;
    GError *err = NULL;
    if (!fl_report_write(argv[1], &opt, file, &err)) {
        fprintf(stderr, "faultline report: %s\n", err->message);
        int status = err->code == FL_ERROR_INPUT ? 2 : 1;
        g_error_free(err);
        return status;
    }
    printf("  report        %s\n", file);
    return 0;
}

int fl_cmd_report(int argc, char **argv)
{
    char *out = NULL, *format = NULL, *from = NULL, *to = NULL;
    GOptionEntry entries[] = {
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The page to write (default RUN_DIR/report.html)", "FILE" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
          "Pictures as png (default, embedded as base64) or svg (inline)", "FMT" },
        { "from", 0, 0, G_OPTION_ARG_STRING, &from, "Start of the pictures' time window (e.g. 3.5s)", "T" },
        { "to", 0, 0, G_OPTION_ARG_STRING, &to, "End of the pictures' time window", "T" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("RUN_DIR");
    g_option_context_set_summary(ctx,
        "Writes one self-contained HTML page about a run: the scenario, a summary\n"
        "table, the verdict of every checker, the counterexample, and every picture\n"
        "of `faultline plot` embedded (their files go to RUN_DIR/plots).  Needs gnuplot.\n"
        "Exit status: 0 written, 1 gnuplot failed, 2 bad usage, bad input or no gnuplot.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    int status = 2;
    if (fl_cli_parse(ctx, &argc, &argv, "report"))
        status = report(argc, argv, out, format, from, to);
    g_free(out);
    g_free(format);
    g_free(from);
    g_free(to);
    return status;
}
