/* faultline run SCENARIO [--seed N] [--out DIR] [--plot] */
#include "plots/plot.h"
#include "sim/cli/cli.h"
#include "sim/cli/export.h"
#include "sim/jsonv.h"
#include "sim/run.h"
#include "sim/series.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int fl_cmd_run(int argc, char **argv)
{
    gint64 seed = -1;
    g_autofree char *out = NULL;
    gboolean no_trace = FALSE, quiet = FALSE, plot = FALSE;
    double timeout = 60;
    g_autofree char *window = NULL;
    GOptionEntry entries[] = {
        { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed (overrides the file's)", "N" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Folder for the run's files (default runs/NAME-SEED)", "DIR" },
        { "no-trace", 0, 0, G_OPTION_ARG_NONE, &no_trace, "Do not write trace.jsonl (the hash is still computed)", NULL },
        { "check-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "Seconds the checker may take (default 60)", "S" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the last line", NULL },
        { "plot", 0, 0, G_OPTION_ARG_NONE, &plot, "Draw every picture of `faultline plot` into DIR/plots after the run", NULL },
        { "window", 0, 0, G_OPTION_ARG_STRING, &window,
          "Window of timeseries.jsonl and metrics.om (default: the scenario's timeseries.window, else 100ms)", "DURATION" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("SCENARIO");
    g_option_context_set_summary(ctx,
        "Runs a scenario file: the cluster, network, workload and faults it\n"
        "describes, with its seed.  Writes scenario.json, history.jsonl,\n"
        "trace.jsonl and metrics.json into the run's folder, and the same run in\n"
        "windows of virtual time as timeseries.jsonl and metrics.om (OpenMetrics,\n"
        "for `promtool tsdb create-blocks-from openmetrics`), checks the history\n"
        "and prints a summary ending with \"trace_hash=... verdict=...\".\n"
        "With --plot, also draws the pictures of `faultline plot` into DIR/plots.\n"
        "\n"
        "When every fault heals before the run ends and there is a workload,\n"
        "liveness is expected by default: after the last heal, at least one\n"
        "operation invoked then must complete ok within the clients' timeout +\n"
        "4 x T (T: the protocol's largest *timeout parameter, else its largest\n"
        "duration parameter, or 1/rate if longer), clamped to what is left of the\n"
        "workload; with less than the timeout + 2 x T left it is not judged, and\n"
        "the summary's `liveness` line says so.  \"liveness\": false in expect\n"
        "turns it off.\n"
        "\n"
        "expect.alerts (alert rules that must fire, or stay silent, around the\n"
        "faults) is judged with promtool (Debian `prometheus`), as `faultline\n"
        "alerts` does; without promtool the summary says it was not judged.\n"
        "\n"
        "Exit status: 0 expectations met, 1 not met (or gnuplot failed), 2 bad usage\n"
        "or input (or --plot without gnuplot).");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!fl_cli_parse(ctx, &argc, &argv, "run"))
        return 2;
    if (argc != 2) {
        fprintf(stderr, "faultline run: expected one scenario file (see faultline run --help)\n");
        return 2;
    }
    if (timeout <= 0) {
        fprintf(stderr, "faultline run: --check-timeout: expected a positive number of seconds\n");
        return 2;
    }
    /* Before the run, so a missing gnuplot costs no waiting. */
    if (plot && no_trace) {
        fprintf(stderr, "faultline run: --plot draws the space-time diagram from trace.jsonl; "
                        "it does not go with --no-trace\n");
        return 2;
    }
    if (plot && !fl_cli_have_gnuplot("run"))
        return 2;
    GError *err = NULL;
    FlDuration window_ns = 0;
    if (window) {
        /* The scenario file's duration syntax ("250ms", or ns). */
        g_autoptr(GError) werr = NULL;
        FlJv jv = { .file = "--window", .err = &werr };
        json_t *v = json_string(window);
        bool ok = fl_jv_duration_value(&jv, v, "", FL_US(1), &window_ns);
        json_decref(v);
        if (!ok) {
            fprintf(stderr, "faultline run: --window: expected a duration of at least 1us "
                            "such as \"100ms\", got \"%s\"\n", window);
            return 2;
        }
    }
    FlScenario *sc = fl_scenario_load(argv[1], seed, &err);
    if (!sc) {
        fprintf(stderr, "faultline run: %s\n", err->message);
        g_error_free(err);
        return 2;
    }
    g_autofree char *dir = out ? g_strdup(out)
                               : g_strdup_printf("runs/%s-%" PRIu64, sc->name, sc->seed);
    char d[32];
    if (!quiet)
        printf("faultline run %s seed=%" PRIu64 " protocol=%s nodes=%u duration=%s\n", argv[1],
               sc->seed, sc->protocol->name, sc->nodes, fl_duration_format(sc->duration, d));
    FlRunOptions opt = { .out_dir = dir, .write_trace = !no_trace, .check = true,
                         .check_timeout_s = timeout,
                         .series_window = window_ns ? window_ns
                                          : sc->series_window ? sc->series_window : FL_MS(100) };
    if (!quiet && fl_series_fit(opt.series_window, sc->duration) != opt.series_window) {
        char a[32], b[32];
        fprintf(stderr, "faultline run: windows of %s would make more than %u of them: "
                        "timeseries.jsonl and metrics.om use %s\n",
                fl_duration_format(opt.series_window, a), FL_SERIES_MAX_WINDOWS,
                fl_duration_format(fl_series_fit(opt.series_window, sc->duration), b));
    }
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0) {
        fprintf(stderr, "faultline run: %s\n", err->message);
        g_error_free(err);
        fl_run_result_clear(&res);
        fl_scenario_free(sc);
        return 2;
    }
    if (res.timeseries && !fl_export_timeseries(dir, res.timeseries, sc->nodes, &err)) {
        fprintf(stderr, "faultline run: %s\n", err->message);
        g_error_free(err);
        fl_run_result_clear(&res);
        fl_scenario_free(sc);
        return 2;
    }
    /* The pictures come before the summary, whose last line stays the
     * trace hash. */
    int plot_status = 0;
    g_autofree char *plots = g_build_filename(dir, "plots", NULL);
    if (plot) {
        FlPlotOptions po = { .format = "png", .out_dir = plots, .render = true,
                             .notes = quiet ? NULL : stderr };
        plot_status = fl_plot_run_dir(dir, &po, NULL);
    }
    if (quiet) {
        printf("trace_hash=%016" PRIx64 " verdict=%s\n", res.trace_hash, fl_verdict_name(res.verdict));
    } else {
        printf("  files     %s/\n", dir);
        if (plot && plot_status == 0)
            printf("  plots     %s/ (latency, rate, latency-dist, space-time, timeline, sla)\n", plots);
        fl_run_print_summary(sc, &res, stdout);
        double v = json_integer_value(json_object_get(res.metrics, "virtual_time_ns")) / 1e9;
        fprintf(stderr, "faultline: %.3f s of wall time, %.0fx faster than real time\n",
                res.wall_s, res.wall_s > 0 ? v / res.wall_s : 0);
    }
    int status = plot_status ? plot_status : res.met ? 0 : 1;
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    return status;
}
