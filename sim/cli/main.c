/* faultline: the command line. */
#include "sim/check/check.h"
#include "sim/cli/cli.h"
#include "sim/cli/tables.h"
#include "sim/module.h"
#include "sim/catalog.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: faultline COMMAND [ARGS...]\n"
    "\n"
    "A deterministic simulator of distributed systems: real protocol code on\n"
    "virtual nodes, faults on a schedule or at random, histories checked for\n"
    "consistency.\n"
    "\n"
    "commands:\n"
    "  run SCENARIO [--seed N] [--out DIR]   run a scenario file and check it\n"
    "  check --type T HISTORY                check a history (JSONL or Jepsen EDN)\n"
    "  fuzz SCENARIO [--seeds N] [--jobs J]  run many seeds, shrink and write failures\n"
    "  explore SCENARIO [--strategy bfs]     every schedule of a small configuration:\n"
    "                                        shortest counterexample, or none within bounds\n"
    "  claims SCENARIO... [--seeds N]        weigh each scenario's claims over seeds:\n"
    "                                        holds on k of N, first failing seed\n"
    "  replay FAILURE.json                   rerun a recorded run and compare its hash\n"
    "  list protocols|faults|types|consistency  what a scenario can name\n"
    "  plot RUN_DIR [--format png|svg]       draw a run: latency, rate, latency\n"
    "                                        distribution, space-time, timeline\n"
    "  plot --compare RUN_DIR...             several runs on one chart\n"
    "  report RUN_DIR                        one HTML page: scenario, summary,\n"
    "                                        verdicts, counterexample, pictures\n"
    "  sweep SCENARIO... --param PATH=A..B   a grid of parameter values x seeds,\n"
    "                                        failures, availability and latency plotted\n"
    "  help [COMMAND]                        this text, or a command's --help\n"
    "\n"
    "run, fuzz, explore, claims, replay, sweep and list take --module PATH\n"
    "(repeatable): a protocol module built against <faultline/node.h> (see\n"
    "faultline(1)); `list protocols --module PATH` shows what it adds.\n"
    "\n"
    "Every command takes --help.  Exit status: 0 ok, 1 expectation not met or\n"
    "history invalid, 2 bad usage or input, 3 no verdict in time.\n";

/* Takes every `--module PATH` and `--module=PATH` out of @argv (the
 * command's own options never see them) and loads each module, so the
 * scenarios the command loads may name its protocols.  Returns false after
 * printing one line naming the module and the reason. */
static bool load_modules(const char *cmd, int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--module") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "faultline %s: --module needs a PATH (a protocol module)\n", cmd);
                return false;
            }
            path = argv[++i];
        } else if (strncmp(argv[i], "--module=", 9) == 0) {
            path = argv[i] + 9;
        }
        if (!path) {
            argv[out++] = argv[i];
            continue;
        }
        GError *err = NULL;
        if (!fl_module_load(path, fl_catalog()->protocols, &err)) {
            fprintf(stderr, "faultline %s: %s\n", cmd, err->message);
            g_error_free(err);
            return false;
        }
    }
    argv[out] = NULL;
    *argc = out;
    return true;
}

int main(int argc, char **argv)
{
    fl_cli_tables_install();
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0) {
        printf("faultline 0.1.0\n");
        return 0;
    }
    if (strcmp(cmd, "help") == 0 && argc < 3) {
        fputs(usage, stdout);
        return 0;
    }
    static char help_flag[] = "--help";
    char *sub[] = { "faultline", NULL, help_flag, NULL };
    if (strcmp(cmd, "help") == 0) {
        sub[1] = argv[2];
        cmd = argv[2];
        argc = 3;
        argv = sub;   /* argv[1] is the command, as below */
    }
    static const char *const with_modules[] = {
        "run", "fuzz", "explore", "claims", "replay", "sweep", "list", NULL,
    };
    for (const char *const *c = with_modules; *c; c++) {
        if (strcmp(cmd, *c) == 0) {
            int sub_argc = argc - 1;
            if (!load_modules(cmd, &sub_argc, argv + 1))
                return 2;
            argc = sub_argc + 1;
        }
    }
    if (strcmp(cmd, "run") == 0)
        return fl_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return fl_check_main(argc - 1, argv + 1);
    if (strcmp(cmd, "fuzz") == 0)
        return fl_cmd_fuzz(argc - 1, argv + 1);
    if (strcmp(cmd, "explore") == 0)
        return fl_cmd_explore(argc - 1, argv + 1);
    if (strcmp(cmd, "claims") == 0)
        return fl_cmd_claims(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return fl_cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return fl_cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0)
        return fl_cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return fl_cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0)
        return fl_cmd_sweep(argc - 1, argv + 1);
    fprintf(stderr, "faultline: unknown command \"%s\" (expected run, check, fuzz, claims, "
                    "explore, replay, list, plot, report, sweep or help)\n", cmd);
    return 2;
}
