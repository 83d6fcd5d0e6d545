/* faultline explore SCENARIO [--strategy bfs|dfs|random-walk] [--depth N]
 *                  [--max-states N] [--time-limit S] [--no-reduction]
 *                  [--delays K] [--out FILE] [--json] */
#include "sim/cli/cli.h"
#include "sim/explore.h"
#include "sim/run.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void on_progress(const FlExploreStats *st, void *ctx)
{
    fprintf(stderr, "explore: %" PRIu64 " states, %" PRIu64 " unique, depth %u, %.0f states/s, "
            "%.1f s\n", st->states, st->unique, st->depth,
            st->wall_s > 0 ? (double)st->states / st->wall_s : 0, st->wall_s);
}

/* "1 crash, 2 drops and 0 duplicates" */
static char *bounds_text(const FlExploreSpec *x)
{
    return g_strdup_printf("%u crash%s, %u drop%s and %u duplicate%s, %u client%s x %u op%s",
                           x->crashes, x->crashes == 1 ? "" : "es", x->drops,
                           x->drops == 1 ? "" : "s", x->duplicates, x->duplicates == 1 ? "" : "s",
                           x->clients, x->clients == 1 ? "" : "s", x->ops, x->ops == 1 ? "" : "s");
}

static const char *reduction_text(const FlExploreOptions *o)
{
    if (o->strategy == FL_EXPLORE_RANDOM_WALK || o->bound_delays)
        return " ";
    return o->no_reduction ? " reduction=off " : " reduction=sleep-sets ";
}

/* Replays the counterexample @ce (a scenario) to get its trace hash and
 * verdict.  Returns false with @err set. */
static bool replay_counterexample(json_t *ce, const char *file, uint64_t *hash, bool *invalid,
                                  GError **err)
{
    FlScenario *sc = fl_scenario_from_json(ce, file, -1, err);
    if (!sc)
        return false;
    FlRunOptions ro = { .check = true, .check_timeout_s = 60 };
    FlRunResult rr;
    int r = fl_run(sc, &ro, &rr, err);
    if (r == 0) {
        *hash = rr.trace_hash;
        *invalid = rr.checked && rr.verdict == FL_VERDICT_INVALID;
    }
    fl_run_result_clear(&rr);
    fl_scenario_free(sc);
    return r == 0;
}

int fl_cmd_explore(int argc, char **argv)
{
    g_autofree char *strategy = NULL, *out = NULL;
    gint64 depth = 30, max_states = 200000;
    double time_limit = 0;
    gboolean as_json = FALSE, no_reduction = FALSE;
    gint64 delays = -1;
    GOptionEntry entries[] = {
        { "strategy", 0, 0, G_OPTION_ARG_STRING, &strategy,
          "bfs (default: shortest counterexample), dfs or random-walk", "S" },
        { "depth", 'd', 0, G_OPTION_ARG_INT64, &depth, "Most choices in a schedule (default 30)", "N" },
        { "max-states", 0, 0, G_OPTION_ARG_INT64, &max_states,
          "Stop after this many states (default 200000; 0: no bound)", "N" },
        { "time-limit", 0, 0, G_OPTION_ARG_DOUBLE, &time_limit,
          "Stop after this many seconds (default: none)", "S" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out,
          "Where to write a counterexample (default runs/NAME-explore/counterexample.json)", "FILE" },
        { "no-reduction", 0, 0, G_OPTION_ARG_NONE, &no_reduction,
          "Take independent choices in every order (no sleep sets)", NULL },
        { "delays", 0, 0, G_OPTION_ARG_INT64, &delays,
          "With --strategy dfs: only schedules with at most K delays (delay bounding)", "K" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "Print the report as JSON", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("SCENARIO");
    g_option_context_set_summary(ctx,
        "Explores every schedule of a small configuration: which message is\n"
        "delivered next, which timer fires, when a client invokes its next\n"
        "operation, and, within the scenario's `explore` budgets, which node\n"
        "crashes (and restarts) and which message is dropped or duplicated.\n"
        "Timing is abstracted away: a timer fires only when chosen.  The same\n"
        "node code runs as in `faultline run`.\n"
        "\n"
        "At every state the protocol's invariant (Raft: one leader per term, log\n"
        "matching, committed prefixes agree) is checked, and the history against\n"
        "the scenario's consistency model.  With the protocol's digest, states\n"
        "already seen are pruned.  BFS finds a shortest violating schedule, which\n"
        "is written as a scenario with an explicit `schedule` that `faultline run`\n"
        "replays exactly.  Without a violation the report says whether the space\n"
        "was exhausted within the bounds.\n"
        "\n"
        "Partial-order reduction (sleep sets, on unless --no-reduction): choices at\n"
        "different nodes commute, so of two orders of independent choices only\n"
        "one is taken.  States are meant to be all still visited (Raft: the same\n"
        "distinct states; Paxos and 2PC miss a handful in 10^4, being looked\n"
        "into: --no-reduction for a proof), and BFS returns a shortest\n"
        "counterexample among them (after a violation it finishes the shallower\n"
        "levels a re-expansion reopened).  In explore mode each node reads its\n"
        "own clock, moved only by its own steps.\n"
        "\n"
        "--strategy dfs --delays K (delay bounding, Emmi, Qadeer and Rakamaric,\n"
        "POPL 2011) explores only schedules within K deviations of a default\n"
        "order: deliver the oldest message, else let the first idle client\n"
        "invoke, else fire the oldest timer; taking the i-th of these instead\n"
        "costs i delays, and a crash, restart, drop or duplicate costs 1.  It is\n"
        "exhaustive within depth and delays, reaches deep schedules few\n"
        "deviations away, and does not use the reduction.  Its counterexample is\n"
        "shrunk, not necessarily shortest.\n"
        "\n"
        "The scenario needs an `explore` section: {\"crashes\": 1, \"drops\": 2,\n"
        "\"duplicates\": 0, \"clients\": 2, \"ops\": 2}, and no fault list.\n"
        "\n"
        "Exit status: 0 no violation, 1 a violation (counterexample written), 2 bad\n"
        "usage or input.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!fl_cli_parse(ctx, &argc, &argv, "explore"))
        return 2;
    if (argc != 2) {
        fprintf(stderr, "faultline explore: expected one scenario file (see faultline explore --help)\n");
        return 2;
    }
    FlExploreOptions opt = { .strategy = FL_EXPLORE_BFS, .check_timeout_s = 10, .progress_s = 5,
                             .progress_cb = on_progress };
    if (strategy) {
        if (strcmp(strategy, "bfs") == 0)
            opt.strategy = FL_EXPLORE_BFS;
        else if (strcmp(strategy, "dfs") == 0)
            opt.strategy = FL_EXPLORE_DFS;
        else if (strcmp(strategy, "random-walk") == 0)
            opt.strategy = FL_EXPLORE_RANDOM_WALK;
        else {
            fprintf(stderr, "faultline explore: --strategy: expected bfs, dfs or random-walk, got \"%s\"\n",
                    strategy);
            return 2;
        }
    }
    if (depth < 1 || depth > 100000) {
        fprintf(stderr, "faultline explore: --depth: expected a number from 1 to 100000, got %" PRId64 "\n",
                (int64_t)depth);
        return 2;
    }
    if (max_states < 0) {
        fprintf(stderr, "faultline explore: --max-states: expected 0 or a positive number\n");
        return 2;
    }
    if (time_limit < 0) {
        fprintf(stderr, "faultline explore: --time-limit: expected a positive number of seconds\n");
        return 2;
    }
    if (delays >= 0 && opt.strategy != FL_EXPLORE_DFS) {
        fprintf(stderr, "faultline explore: --delays: needs --strategy dfs\n");
        return 2;
    }
    if (delays > 1000000) {
        fprintf(stderr, "faultline explore: --delays: expected a number from 0 to 1000000\n");
        return 2;
    }
    if (delays >= 0) {
        opt.bound_delays = true;
        opt.delays = (uint32_t)delays;
    }
    opt.no_reduction = no_reduction;
    if (opt.strategy == FL_EXPLORE_RANDOM_WALK && max_states == 0 && time_limit == 0) {
        fprintf(stderr, "faultline explore: random-walk never exhausts: give --max-states or --time-limit\n");
        return 2;
    }
    opt.depth = (uint32_t)depth;
    opt.max_states = (uint64_t)max_states;
    opt.time_limit_s = time_limit;

    const char *path = argv[1];
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        fprintf(stderr, "faultline explore: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
        return 2;
    }
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(root, path, -1, &err);
    if (!sc) {
        fprintf(stderr, "faultline explore: %s\n", err->message);
        g_error_free(err);
        json_decref(root);
        return 2;
    }
    if (!sc->explore.on || sc->schedule) {
        fprintf(stderr, "faultline explore: %s: %s\n", path,
                sc->schedule ? "/schedule: this scenario is one schedule already; "
                               "`faultline run` replays it"
                             : "/explore: missing: give the bounds to explore within, e.g. "
                               "\"explore\": {\"crashes\": 1, \"drops\": 2, \"clients\": 2, \"ops\": 2}");
        fl_scenario_free(sc);
        json_decref(root);
        return 2;
    }
    g_autofree char *bounds = bounds_text(&sc->explore);
    char delays_text[32];
    g_snprintf(delays_text, sizeof delays_text, "delays<=%u ", opt.delays);
    if (!as_json)
        printf("faultline explore %s seed=%" PRIu64 " protocol=%s nodes=%u strategy=%s depth<=%u"
               "%s%s(%s)%s\n", path, sc->seed, sc->protocol->name, sc->nodes,
               fl_explore_strategy_name(opt.strategy), opt.depth, reduction_text(&opt),
               opt.bound_delays ? delays_text : "", bounds,
               sc->protocol->digest ? "" : " [no digest: no pruning]");
    FlExploreResult res;
    if (fl_explore(sc, &opt, &res, &err) != 0) {
        fprintf(stderr, "faultline explore: %s\n", err->message);
        g_error_free(err);
        fl_explore_result_clear(&res);
        fl_scenario_free(sc);
        json_decref(root);
        return 2;
    }
    const FlExploreStats *st = &res.stats;
    double rate = st->wall_s > 0 ? (double)st->states / st->wall_s : 0;
    g_autofree char *ce_path = NULL;
    uint64_t ce_hash = 0;
    bool ce_invalid = false;
    int status = 0;
    if (res.violation) {
        status = 1;
        ce_path = out ? g_strdup(out)
                      : g_strdup_printf("runs/%s-explore/counterexample.json", sc->name);
        g_autofree char *name = g_strdup_printf("%s-counterexample", sc->name);
        json_t *ce = fl_explore_counterexample(root, name, res.what, res.schedule, 0, false);
        json_object_del(json_object_get(ce, "expect"), "trace_hash");
        if (!replay_counterexample(ce, ce_path, &ce_hash, &ce_invalid, &err)) {
            fprintf(stderr, "faultline explore: replaying the counterexample: %s\n", err->message);
            g_error_free(err);
            json_decref(ce);
            status = 2;
            goto done;
        }
        json_decref(ce);
        ce = fl_explore_counterexample(root, name, res.what, res.schedule, ce_hash, ce_invalid);
        g_autofree char *dir = g_path_get_dirname(ce_path);
        char *text = json_dumps(ce, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        g_autofree char *with_nl = g_strdup_printf("%s\n", text);
        free(text);
        json_decref(ce);
        if (g_mkdir_with_parents(dir, 0755) != 0 ||
            !g_file_set_contents(ce_path, with_nl, -1, &err)) {
            fprintf(stderr, "faultline explore: %s: cannot write the counterexample: %s\n", ce_path,
                    err ? err->message : g_strerror(errno));
            g_clear_error(&err);
            status = 2;
            goto done;
        }
    }
    if (as_json) {
        json_t *j = json_pack("{s:s,s:I,s:s,s:s,s:i,s:{s:i,s:i,s:i,s:i,s:i},s:I,s:I,s:i,s:I,"
                              "s:f,s:f,s:b,s:s}",
                              "scenario", path, "seed", (json_int_t)sc->seed, "protocol",
                              sc->protocol->name, "strategy", fl_explore_strategy_name(opt.strategy),
                              "depth", (int)opt.depth, "bounds", "crashes", (int)sc->explore.crashes,
                              "drops", (int)sc->explore.drops, "duplicates",
                              (int)sc->explore.duplicates, "clients", (int)sc->explore.clients,
                              "ops", (int)sc->explore.ops, "states", (json_int_t)st->states,
                              "unique", (json_int_t)st->unique, "depth_reached", (int)st->depth,
                              "steps", (json_int_t)st->steps, "wall_s", st->wall_s,
                              "states_per_s", rate, "exhausted", res.exhausted, "stopped",
                              res.stopped);
        json_object_set_new(j, "pruning", json_boolean(sc->protocol->digest != NULL));
        json_object_set_new(j, "reduction", json_boolean(!opt.no_reduction && !opt.bound_delays &&
                                                         opt.strategy != FL_EXPLORE_RANDOM_WALK));
        json_object_set_new(j, "slept", json_integer((json_int_t)st->slept));
        json_object_set_new(j, "redone", json_integer((json_int_t)st->redone));
        if (opt.bound_delays)
            json_object_set_new(j, "delays", json_integer(opt.delays));
        if (res.violation) {
            json_t *s = json_array();
            for (guint i = 0; i < res.schedule->len; i++) {
                char buf[FL_CHOICE_TEXT];
                json_array_append_new(s, json_string(fl_choice_text(
                                             &g_array_index(res.schedule, FlChoice, i), buf)));
            }
            char hash[24];
            g_snprintf(hash, sizeof hash, "%016" PRIx64, ce_hash);
            json_object_set_new(j, "violation",
                                json_pack("{s:s,s:i,s:o,s:s,s:s,s:b}", "what", res.what, "length",
                                          (int)res.schedule->len, "schedule", s, "file", ce_path,
                                          "trace_hash", hash, "history_invalid", ce_invalid));
        } else {
            json_object_set_new(j, "violation", json_null());
        }
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        printf("%s\n", text);
        free(text);
        json_decref(j);
    } else {
        printf("  states    %" PRIu64 " explored, %" PRIu64 " unique, depth reached %u\n",
               st->states, st->unique, st->depth);
        printf("  speed     %.0f states/s (%.2f s, %" PRIu64 " choices executed with replays)\n",
               rate, st->wall_s, st->steps);
        if (res.violation) {
            printf("  VIOLATION %s\n", res.what);
            printf("            after %u choices (%s):", res.schedule->len,
                   opt.strategy == FL_EXPLORE_BFS ? "a shortest schedule" : "not necessarily shortest");
            for (guint i = 0; i < res.schedule->len; i++) {
                char buf[FL_CHOICE_TEXT];
                printf("%s%s", i ? ", " : " ", fl_choice_text(&g_array_index(res.schedule, FlChoice, i), buf));
            }
            printf("\n  counterexample %s (faultline run replays it: trace_hash=%016" PRIx64 "%s)\n",
                   ce_path, ce_hash, ce_invalid ? ", history invalid" : "");
        } else if (res.exhausted) {
            printf("  result    no violation in any schedule of depth <= %u with %s "
                   "(space exhausted)\n", opt.depth, bounds);
        } else {
            printf("  result    no violation found; stopped at %s before the space was "
                   "exhausted (depth <= %u with %s)\n", res.stopped, opt.depth, bounds);
        }
    }
done:
    fl_explore_result_clear(&res);
    fl_scenario_free(sc);
    json_decref(root);
    return status;
}
