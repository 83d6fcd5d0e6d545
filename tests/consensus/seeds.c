#include "tests/consensus/seeds.h"

#include "sim/run.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

static void run_one(const char *path, int64_t seed, bool want_valid_verdict)
{
    GError *err = NULL;
    FlScenario *sc = fl_scenario_load(path, seed, &err);
    if (!sc)
        fail_msg("%s: %s", path, err->message);
    FlRunOptions opt = { .out_dir = NULL, .check = true, .check_timeout_s = 60 };
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("%s seed %" PRId64 ": %s", path, seed, err->message);
    if (want_valid_verdict && res.verdict != FL_VERDICT_VALID)
        fail_msg("%s --seed %" PRIu64 ": verdict %s", path, sc->seed, fl_verdict_name(res.verdict));
    if (!res.met)
        fail_msg("%s --seed %" PRIu64 ": %s", path, sc->seed,
                 (const char *)g_ptr_array_index(res.unmet, 0));
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
}

void seeds_all_valid(const char *path, uint64_t first, uint64_t last)
{
    for (uint64_t s = first; s <= last; s++)
        run_one(path, (int64_t)s, true);
}

void seeds_expect(const char *path)
{
    run_one(path, -1, false);
}
