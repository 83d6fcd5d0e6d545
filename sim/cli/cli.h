/* sim/cli: the `faultline` command line, one file per command.  Each
 * command takes its own argv (argv[0] is the command's name) and returns
 * the process exit status. */
#pragma once

#include <glib.h>
#include <stdbool.h>

int fl_cmd_run(int argc, char **argv);
int fl_cmd_list(int argc, char **argv);
int fl_cmd_fuzz(int argc, char **argv);
int fl_cmd_replay(int argc, char **argv);

/* Parses options with GOption; on a usage error prints one line and
 * returns false.  @summary is shown by --help.  *help_exit is set when
 * --help was given (then return 0). */
bool fl_cli_parse(GOptionContext *ctx, int *argc, char ***argv, const char *cmd);
