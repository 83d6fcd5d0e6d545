/* faultline replay FAILURE.json: runs a scenario that carries the trace
 * hash of a recorded run and says whether this run is the same one. */
#include "sim/cli/cli.h"
#include "sim/run.h"

#include <inttypes.h>
#include <stdio.h>

int fl_cmd_replay(int argc, char **argv)
{
    g_autofree char *out = NULL;
    GOptionEntry entries[] = {
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Also write the run's files into DIR", "DIR" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("FAILURE.json");
    g_option_context_set_summary(ctx,
        "Replays a recorded run, such as a failure written by `faultline fuzz`:\n"
        "runs the scenario with its seed and compares the trace hash with the\n"
        "file's expect.trace_hash.  Exit status: 0 the same run (byte for byte),\n"
        "1 a different run (both hashes printed), 2 bad usage or input.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!fl_cli_parse(ctx, &argc, &argv, "replay"))
        return 2;
    if (argc != 2) {
        fprintf(stderr, "faultline replay: expected one scenario file (see faultline replay --help)\n");
        return 2;
    }
    GError *err = NULL;
    FlScenario *sc = fl_scenario_load(argv[1], -1, &err);
    if (!sc) {
        fprintf(stderr, "faultline replay: %s\n", err->message);
        g_error_free(err);
        return 2;
    }
    if (!sc->expect.has_trace_hash) {
        fprintf(stderr, "faultline replay: %s: /expect/trace_hash: missing (nothing to compare the run with)\n", argv[1]);
        fl_scenario_free(sc);
        return 2;
    }
    FlRunOptions opt = { .out_dir = out, .write_trace = out != NULL, .check = true, .check_timeout_s = 60 };
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0) {
        fprintf(stderr, "faultline replay: %s\n", err->message);
        g_error_free(err);
        fl_scenario_free(sc);
        return 2;
    }
    printf("faultline replay %s seed=%" PRIu64 "\n", argv[1], sc->seed);
    fl_run_print_summary(sc, &res, stdout);
    bool same = res.trace_hash == sc->expect.trace_hash;
    if (same)
        printf("replay: same run (trace_hash=%016" PRIx64 ")\n", res.trace_hash);
    else
        printf("replay: DIFFERENT run: recorded trace_hash=%016" PRIx64 ", this run trace_hash=%016" PRIx64 "\n",
               sc->expect.trace_hash, res.trace_hash);
    printf("trace_hash=%016" PRIx64 " verdict=%s\n", res.trace_hash, fl_verdict_name(res.verdict));
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    return same ? 0 : 1;
}
