/* sim/cli: the `faultline` command line, one file per command.  Each
 * command takes its own argv (argv[0] is the command's name) and returns
 * the process exit status. */
#pragma once

#include "sim/scenario.h"

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

int fl_cmd_run(int argc, char **argv);
int fl_cmd_list(int argc, char **argv);
int fl_cmd_fuzz(int argc, char **argv);
int fl_cmd_claims(int argc, char **argv);
int fl_cmd_replay(int argc, char **argv);
int fl_cmd_plot(int argc, char **argv);
int fl_cmd_report(int argc, char **argv);
int fl_cmd_sweep(int argc, char **argv);
int fl_cmd_explore(int argc, char **argv);
int fl_cmd_alerts(int argc, char **argv);

/* FlCatalog.judge_alerts (sim/catalog.h), set by fl_cli_tables_install:
 * expect.alerts judged inside fl_run with the evaluation of `faultline
 * alerts` (sim/cli/cmd_alerts.c). */
json_t *fl_alerts_judge(const FlScenario *sc, json_t *windows, json_t *metrics, const char *dir,
                        GPtrArray *unmet, GError **err);

/* Parses options with GOption; on a usage error prints one line and
 * returns false.  @summary is shown by --help.  *help_exit is set when
 * --help was given (then return 0). */
bool fl_cli_parse(GOptionContext *ctx, int *argc, char ***argv, const char *cmd);

/* Shared by plot, report, sweep and run --plot (sim/cli/cmd_plot.c).  Each
 * prints its own message on bad input and returns false. */
typedef struct FlPlotOptions FlPlotOptions;
bool fl_cli_plot_window(const char *cmd, const char *from, const char *to, FlPlotOptions *opt);
bool fl_cli_plot_format(const char *cmd, const char *format);
/* Says how to install gnuplot when it is missing. */
bool fl_cli_have_gnuplot(const char *cmd);
/* Draws every picture of the run in @dir into opt->out_dir, listing them on
 * @out (NULL: silent).  Returns an exit status (0, 1 gnuplot failed, 2 bad input). */
int fl_plot_run_dir(const char *dir, const FlPlotOptions *opt, FILE *out);
