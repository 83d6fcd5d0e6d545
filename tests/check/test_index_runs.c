/* tests/check/test_index_runs.c: every scenario's history checked from its
 * text alone and from its text with the engine's index (what fl_run does):
 * the same verdict, text report, JSON result and error, for a few seeds of
 * every scenario under scenarios/ that has a check.  In the `sim` suite:
 * it runs some five hundred scenarios. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/run.h"
#include "tests/check/outcome.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    guint runs, by_verdict[4];
} Tally;

static void compare_run(const char *path, int64_t seed, Tally *t)
{
    GError *err = NULL;
    FlScenario *sc = fl_scenario_load(path, seed, &err);
    if (!sc)
        fail_msg("%s: %s", path, err->message);
    if (!sc->consistency || !sc->workload.model) {
        fl_scenario_free(sc);
        return;
    }
    FlRunOptions opt = { .check = false };
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("%s seed %" PRId64 ": %s", path, seed, err->message);
    assert_non_null(res.history_index);
    FlHistorySource plain = { .name = "history.jsonl", .data = res.history->str,
                              .len = res.history->len };
    FlHistorySource indexed = plain;
    indexed.events = (const FlHistoryEvent *)(void *)res.history_index->data;
    indexed.n_events = res.history_index->len;
    const char *model = fl_model_name(sc->workload.model);
    Outcome a = outcome_check(&plain, model, sc->consistency, "jsonl");
    Outcome b = outcome_check(&indexed, model, sc->consistency, "jsonl");
    g_autofree char *what = g_strdup_printf("%s --seed %" PRIu64, path, sc->seed);
    outcome_assert_same(&a, &b, what);
    if (a.v == FL_VERDICT_ERROR)
        fail_msg("%s: %s", what, a.error);
    t->runs++;
    t->by_verdict[a.v]++;
    outcome_clear(&a);
    outcome_clear(&b);
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
}

static void test_every_scenario(void **state)
{
    (void)state;
    Tally t = { 0 };
    GDir *top = g_dir_open("scenarios", 0, NULL);
    assert_non_null(top);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    const char *group;
    while ((group = g_dir_read_name(top))) {
        g_autofree char *dir = g_build_filename("scenarios", group, NULL);
        GDir *d = g_dir_open(dir, 0, NULL);
        if (!d) continue;
        const char *name;
        while ((name = g_dir_read_name(d)))
            if (g_str_has_suffix(name, ".json"))
                g_ptr_array_add(paths, g_build_filename(dir, name, NULL));
        g_dir_close(d);
    }
    g_dir_close(top);
    for (guint i = 0; i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);
        /* The scenario's own seed, then two others. */
        compare_run(path, -1, &t);
        compare_run(path, 1, &t);
        compare_run(path, 2, &t);
    }
    fprintf(stderr, "%u runs compared: %u valid, %u invalid, %u unknown\n", t.runs,
            t.by_verdict[FL_VERDICT_VALID], t.by_verdict[FL_VERDICT_INVALID],
            t.by_verdict[FL_VERDICT_UNKNOWN]);
    assert_true(t.runs >= 300);
    /* Counterexamples are compared too. */
    assert_true(t.by_verdict[FL_VERDICT_INVALID] >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_scenario),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
