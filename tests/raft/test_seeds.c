/* Raft's fault scenarios over many seeds (the `slow` suite): every
 * scenarios/04-consensus/raft-*.json must be linearizable and meet its
 * expectations (ok count, availability, recovery after healing) on seeds 1
 * to RAFT_SEEDS (default 200).  In process, with the checker, no files. */
#include "sim/run.h"
#include "sim/scenario.h"

#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char *const scenarios[] = {
    "raft-leader-crash",
    "raft-leader-isolated",
    "raft-minority-partition",
    "raft-majority-partition",
    "raft-majority-ring",
    "raft-flapping",
    "raft-clock-jumps",
    "raft-disk-tail",
    "raft-disk-crash",
    "raft-rolling-restart",
    "raft-snapshot-catchup",
    "raft-nemesis",
    "raft-nemesis-disk",
};

static void over_seeds(void **state)
{
    const char *name = *state;
    const char *env = getenv("RAFT_SEEDS");
    int64_t seeds = env ? g_ascii_strtoll(env, NULL, 10) : 200;
    g_autofree char *path = g_strdup_printf("scenarios/04-consensus/%s.json", name);
    for (int64_t seed = 1; seed <= seeds; seed++) {
        GError *err = NULL;
        FlScenario *sc = fl_scenario_load(path, seed, &err);
        if (!sc)
            fail_msg("%s", err->message);
        FlRunOptions opt = { .check = true, .check_timeout_s = 60 };
        FlRunResult res;
        if (fl_run(sc, &opt, &res, &err) != 0)
            fail_msg("%s --seed %" PRId64 ": %s", path, seed, err->message);
        if (res.verdict != FL_VERDICT_VALID || !res.met) {
            GString *why = g_string_new(NULL);
            for (guint i = 0; i < res.unmet->len; i++)
                g_string_append_printf(why, "\n  %s", (const char *)g_ptr_array_index(res.unmet, i));
            fail_msg("%s --seed %" PRId64 ": verdict %s%s\n%s", path, seed,
                     fl_verdict_name(res.verdict), why->str,
                     res.check_report ? res.check_report->str : "");
        }
        fl_run_result_clear(&res);
        fl_scenario_free(sc);
    }
}

int main(void)
{
    struct CMUnitTest tests[G_N_ELEMENTS(scenarios)];
    for (size_t i = 0; i < G_N_ELEMENTS(scenarios); i++) {
        tests[i] = (struct CMUnitTest){ .name = scenarios[i], .test_func = over_seeds,
                                        .initial_state = (void *)scenarios[i] };
    }
    return _cmocka_run_group_tests("raft-seeds", tests, G_N_ELEMENTS(scenarios), NULL, NULL);
}
