/* sim/cli/cli.c: what the commands share (sim/cli/cli.h).  Kept out of
 * main.c so that the installed libfaultline, which holds the commands,
 * links without the program's main. */
#include "sim/cli/cli.h"

bool fl_cli_parse(GOptionContext *ctx, int *argc, char ***argv, const char *cmd)
{
    GError *err = NULL;
    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        fprintf(stderr, "faultline %s: %s (see faultline %s --help)\n", cmd, err->message, cmd);
        g_error_free(err);
        return false;
    }
    return true;
}
