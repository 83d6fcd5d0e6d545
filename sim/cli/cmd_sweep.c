/* faultline sweep SCENARIO... --param PATH=A..B[:STEPS] [--param ...] --seeds N
 *                 [--jobs J] [--out DIR] [--format png|svg] [--counter NAME] */
#include "plots/sweep.h"
#include "sim/cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int sweep(int argc, char **argv, char **specs, gint64 seeds, gint64 jobs, const char *out,
                 const char *format, double timeout, bool no_render, bool quiet, const char *counter)
{
    if (argc < 2) {
        fprintf(stderr, "faultline sweep: expected one or more scenario files (see faultline sweep --help)\n");
        return 2;
    }
    if (!specs || !specs[0]) {
        fprintf(stderr, "faultline sweep: expected at least one --param PATH=A..B[:STEPS]\n");
        return 2;
    }
    if (seeds < 1 || seeds > 100000) {
        fprintf(stderr, "faultline sweep: --seeds: expected a number of seeds from 1 to 100000\n");
        return 2;
    }
    if (jobs < 1 || jobs > 1024) {
        fprintf(stderr, "faultline sweep: --jobs: expected a number of workers from 1 to 1024\n");
        return 2;
    }
    if (timeout <= 0) {
        fprintf(stderr, "faultline sweep: --check-timeout: expected a positive number of seconds\n");
        return 2;
    }
    if (!fl_cli_plot_format("sweep", format) || (!no_render && !fl_cli_have_gnuplot("sweep")))
        return 2;
    g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func((GDestroyNotify)fl_sweep_param_free);
    for (int i = 0; specs[i]; i++) {
        GError *err = NULL;
        FlSweepParam *p = fl_sweep_param_parse(specs[i], &err);
        if (!p) {
            fprintf(stderr, "faultline sweep: %s\n", err->message);
            g_error_free(err);
            return 2;
        }
        g_ptr_array_add(params, p);
    }
    g_autofree char *dir = NULL;
    if (out) {
        dir = g_strdup(out);
    } else {
        g_autofree char *base = g_path_get_basename(argv[1]);
        char *dot = strrchr(base, '.');
        if (dot)
            *dot = '\0';
        dir = g_strdup_printf("runs/sweep-%s", base);
    }
    FlSweepOptions opt = {
        .seeds = (guint)seeds, .jobs = (guint)jobs, .check_timeout_s = timeout, .out_dir = dir,
        .plot = { .format = format ? format : "png", .render = !no_render },
        .progress = !quiet,
        .counter = counter,
    };
    GError *err = NULL;
    if (fl_sweep_run((const char *const *)argv + 1, (guint)argc - 1, params, &opt, stdout, &err) != 0) {
        fprintf(stderr, "faultline sweep: %s\n", err->message);
        int status = err->code == FL_ERROR_INPUT ? 2 : 1;
        g_error_free(err);
        return status;
    }
    return 0;
}

int fl_cmd_sweep(int argc, char **argv)
{
    char **specs = NULL, *out = NULL, *format = NULL;
    gint64 seeds = 5, jobs = g_get_num_processors();
    double timeout = 60;
    gboolean no_render = FALSE, quiet = FALSE;
    char *counter = NULL;
    GOptionEntry entries[] = {
        { "param", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &specs,
          "A parameter and its values: PATH=A..B[:STEPS] or PATH=V1,V2,...; PATH is a JSON "
          "pointer into the scenario (/network/delay/max, /cluster/nodes); A and B may be "
          "durations (10ms..200ms). Repeat for a grid", "SPEC" },
        { "seeds", 'n', 0, G_OPTION_ARG_INT64, &seeds, "Runs per point: the file's seed and the next N-1 (default 5)", "N" },
        { "jobs", 'j', 0, G_OPTION_ARG_INT64, &jobs, "Worker processes (default: one per CPU)", "J" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Folder for sweep.tsv and the chart (default runs/sweep-NAME)", "DIR" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "png (default) or svg", "FMT" },
        { "check-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "Seconds the checker may take per run (default 60)", "S" },
        { "no-render", 0, 0, G_OPTION_ARG_NONE, &no_render, "Write the data and gnuplot script only", NULL },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress on stderr", NULL },
        { "counter", 'c', 0, G_OPTION_ARG_STRING, &counter,
          "Also a protocol counter of metrics.json (election.messages): a column of the table and "
          "sweep.tsv, and a fourth panel, its mean per point on a log scale", "NAME" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("SCENARIO...");
    g_option_context_set_summary(ctx,
        "Runs a grid of parameter values times N seeds of one or more scenarios, in\n"
        "parallel worker processes, and plots against the first parameter: the\n"
        "share of runs whose check failed, the availability, and the p50 and p99\n"
        "latency; one line per scenario and value of the other parameters.\n"
        "Example: faultline sweep scenarios/00-basics/primary-backup.json \\\n"
        "           --param /network/delay/median=1ms..10ms:4 --seeds 3\n"
        "Writes sweep.tsv (one row per run) and sweep.png; prints one row per point,\n"
        "then the knee along the first parameter: the first value whose mean p50\n"
        "passes twice the p50 at its first value (swept over /workload/rate with\n"
        "`resources`, where the offered load passes capacity).\n"
        "The output is the same for any --jobs.\n"
        "Exit status: 0 done, 1 a run or gnuplot failed, 2 bad usage or input.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    int status = 2;
    if (fl_cli_parse(ctx, &argc, &argv, "sweep"))
        status = sweep(argc, argv, specs, seeds, jobs, out, format, timeout, no_render, quiet, counter);
    g_strfreev(specs);
    g_free(out);
    g_free(format);
    g_free(counter);
    return status;
}
