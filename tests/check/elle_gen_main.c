/* tests/check/elle_gen_main.c: `fl-elle-gen`, a generated list-append or
 * rw-register history on standard output (elle_gen.h), to reproduce a
 * benchmark case or try the checker:
 *   build/tests/check/fl-elle-gen --model list-append --txns 1000
 *       [--processes 10] [--g2 N] [--g-single N] [--edn] [--seed S] */
#include "tests/check/elle_gen.h"

#include <string.h>

int main(int argc, char **argv)
{
    g_autofree char *model = NULL;
    gint64 txns = 1000, seed = 1;
    gint processes = 10, g2 = 0, gsingle = 0;
    gboolean edn = FALSE;
    GOptionEntry entries[] = {
        { "model", 0, 0, G_OPTION_ARG_STRING, &model, "list-append or rw-register", "M" },
        { "txns", 0, 0, G_OPTION_ARG_INT64, &txns, "transactions", "N" },
        { "processes", 0, 0, G_OPTION_ARG_INT, &processes, "processes (at least 2)", "N" },
        { "g2", 0, 0, G_OPTION_ARG_INT, &g2, "write-skew pairs to plant", "N" },
        { "g-single", 0, 0, G_OPTION_ARG_INT, &gsingle, "read skews to plant", "N" },
        { "edn", 0, 0, G_OPTION_ARG_NONE, &edn, "Jepsen EDN instead of JSON Lines", NULL },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed", "S" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new(NULL);
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    gboolean ok = g_option_context_parse(ctx, &argc, &argv, &err);
    g_option_context_free(ctx);
    if (!ok || processes < 2 || txns < 0 || g2 < 0 || gsingle < 0 ||
        (model && strcmp(model, "list-append") != 0 && strcmp(model, "rw-register") != 0)) {
        fprintf(stderr, "fl-elle-gen: %s\n", err ? err->message : "bad arguments");
        g_clear_error(&err);
        return 2;
    }
    FlElleGenParams p = {
        .kind = model && strcmp(model, "rw-register") == 0 ? FL_TXN_RW_REGISTER
                                                           : FL_TXN_LIST_APPEND,
        .txns = (guint64)txns, .processes = (guint)processes, .seed = (guint64)seed,
        .g2_pairs = (guint)g2, .g_single = (guint)gsingle, .edn = edn,
    };
    fl_elle_gen(&p, stdout);
    return 0;
}
