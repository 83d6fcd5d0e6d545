/* tests/check/gen_main.c: `fl-gen`, the history generator on the command
 * line, for benchmarks and for reproducing a failing seed:
 *   fl-gen --model register --ops 1000 --processes 200 --seed 1 > h.jsonl */
#include "tests/check/gen.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    g_autofree char *model = NULL;
    gint ops = 100, processes = 5, keys = 0;
    gint64 seed = 1;
    double info = 0, fail = 0, cas = 0.15;
    gboolean invalid = FALSE, edn = FALSE;
    gint sc_lag = 0;
    GOptionEntry entries[] = {
        { "model", 0, 0, G_OPTION_ARG_STRING, &model, "register, kv, mutex, set or queue", "M" },
        { "ops", 0, 0, G_OPTION_ARG_INT, &ops, "operations", "N" },
        { "processes", 0, 0, G_OPTION_ARG_INT, &processes, "concurrent processes", "P" },
        { "keys", 0, 0, G_OPTION_ARG_INT, &keys, "keys (0: no key field)", "K" },
        { "info", 0, 0, G_OPTION_ARG_DOUBLE, &info, "share of info completions", "X" },
        { "fail", 0, 0, G_OPTION_ARG_DOUBLE, &fail, "share of fail completions", "X" },
        { "cas", 0, 0, G_OPTION_ARG_DOUBLE, &cas, "register: share of cas", "X" },
        { "invalid", 0, 0, G_OPTION_ARG_NONE, &invalid, "change one result", NULL },
        { "edn", 0, 0, G_OPTION_ARG_NONE, &edn, "write EDN", NULL },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed", "S" },
        { "sc-lag", 0, 0, G_OPTION_ARG_INT, &sc_lag, "> 0: a sequentially consistent register "
          "history whose processes lag up to L steps (fl_gen_sc)", "L" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new("- generate a history");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || model == NULL || ops < 0 ||
        processes < 1 || keys < 0) {
        fprintf(stderr, "fl-gen: %s\n", err ? err->message : "bad arguments (--model is required)");
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    FlGenParams p = {
        .model = model, .ops = (guint32)ops, .processes = (guint32)processes,
        .keys = (guint32)keys, .info = info, .fail = fail, .cas = cas,
        .invalid = invalid, .edn = edn, .seed = (guint64)seed,
    };
    GString *out = g_string_new(NULL);
    gboolean ok = sc_lag > 0 ? fl_gen_sc(p.ops, p.processes, p.keys, (guint32)sc_lag, invalid,
                                         p.seed, out)
                             : fl_gen_history(&p, out);
    fwrite(out->str, 1, out->len, stdout);
    g_string_free(out, TRUE);
    if (!ok) fprintf(stderr, "fl-gen: no result could be changed\n");
    return ok ? 0 : 1;
}
