/* shard-kv end to end: the storage scenarios meet their expectations and
 * replay to the same trace, moves stay linearizable under a matrix of
 * placements, faults and seeds, and the naive move (freeze: false) is
 * caught.  (The placement functions alone: test_ring.c.) */
#include "sim/run.h"
#include "sim/scenario.h"

#include <glib.h>
#include <jansson.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void run(const FlScenario *sc, FlRunResult *res)
{
    GError *err = NULL;
    FlRunOptions opt = { .check = true };
    if (fl_run(sc, &opt, res, &err) != 0)
        fail_msg("%s: %s", sc->name, err->message);
}

static void test_scenarios(void **st)
{
    const char *dir = "scenarios/06-storage";
    GDir *d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (const char *name; (name = g_dir_read_name(d));)
        if (g_str_has_suffix(name, ".json"))
            g_ptr_array_add(names, g_strdup(name));
    g_dir_close(d);
    assert_true(names->len >= 6);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        GError *err = NULL;
        FlScenario *sc = fl_scenario_load(path, -1, &err);
        if (!sc)
            fail_msg("%s", err->message);
        FlRunResult a, b;
        run(sc, &a);
        for (guint k = 0; k < a.unmet->len; k++)
            print_error("%s: %s\n", sc->name, (char *)g_ptr_array_index(a.unmet, k));
        assert_true(a.met);
        run(sc, &b);
        assert_int_equal(a.trace_hash, b.trace_hash);
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
        fl_scenario_free(sc);
    }
}

static FlVerdict shard_run(const char *params, int nodes, const char *model, const char *faults,
                           uint64_t seed)
{
    g_autofree char *text = g_strdup_printf(
        "{\"name\":\"shard-matrix\",\"seed\":%" G_GUINT64_FORMAT ",\"duration\":\"6s\","
        "\"cluster\":{\"protocol\":\"shard-kv\",\"nodes\":%d,\"params\":%s},"
        "\"network\":{\"timing\":\"async\",\"delay\":{\"dist\":\"lognormal\",\"median\":\"2ms\",\"p99\":\"25ms\"}},"
        "\"workload\":{\"model\":\"%s\",\"clients\":4,\"keys\":8,\"rate\":250,\"timeout\":\"1s\",\"until\":\"5s\"},"
        "\"faults\":%s,\"check\":{\"consistency\":\"linearizable\"}}",
        seed, nodes, params, model, faults);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root)
        fail_msg("%s: %s", text, je.text);
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(root, "shard-matrix.json", -1, &err);
    json_decref(root);
    if (!sc)
        fail_msg("%s", err->message);
    FlRunResult res;
    run(sc, &res);
    FlVerdict v = res.verdict;
    json_t *ops = json_object_get(res.metrics, "ops");
    assert_true(json_integer_value(json_object_get(ops, "ok")) > 200);
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    return v;
}

static const char *const placements[][2] = {
    { "{\"placement\":\"range\",\"group_size\":2,\"keyspace\":8,\"ranges\":8,\"move_every\":\"150ms\",\"churn_until\":\"4500ms\"}", "7" },
    { "{\"placement\":\"consistent\",\"vnodes\":8,\"keyspace\":8,\"initial_groups\":2,\"churn\":\"300ms\",\"churn_until\":\"4500ms\"}", "6" },
    { "{\"placement\":\"hash\",\"group_size\":2,\"keyspace\":8,\"initial_groups\":2,\"churn\":\"300ms\",\"churn_until\":\"4500ms\"}", "9" },
};

static const char *const shard_faults[] = {
    "[]",
    "[{\"kind\":\"omission\",\"from\":\"*\",\"to\":\"*\",\"p\":0.05},"
    " {\"at\":[\"1s\",\"2s\"],\"kind\":\"crash\",\"node\":\"random\",\"restart_after\":[\"100ms\",\"800ms\"]},"
    " {\"at\":[\"2s\",\"4s\"],\"kind\":\"crash\",\"node\":0,\"restart_after\":[\"100ms\",\"500ms\"]},"
    " {\"at\":[\"3s\",\"4s\"],\"kind\":\"partition\",\"isolate\":\"random\",\"for\":[\"100ms\",\"600ms\"]}]",
    "[{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"partition\",\"omission\",\"delay\","
    "\"duplicate\",\"clock\",\"clog\"],\"every\":[\"300ms\",\"1s\"],\"for\":[\"100ms\",\"800ms\"],"
    "\"until\":\"4500ms\"},"
    " {\"at\":[\"1s\",\"3s\"],\"kind\":\"disk\",\"node\":\"random\",\"mode\":\"lose-unsynced\","
    "\"restart_after\":[\"100ms\",\"1s\"]}]",
};

static void test_moves_stay_linearizable(void **st)
{
    const char *models[] = { "kv", "register" };
    for (size_t p = 0; p < G_N_ELEMENTS(placements); p++)
        for (size_t f = 0; f < G_N_ELEMENTS(shard_faults); f++)
            for (uint64_t seed = 1; seed <= 4; seed++) {
                FlVerdict v = shard_run(placements[p][0], atoi(placements[p][1]), models[seed % 2],
                                        shard_faults[f], seed);
                if (v != FL_VERDICT_VALID)
                    print_error("placement %zu faults %zu seed %" G_GUINT64_FORMAT ": %d\n", p, f,
                                seed, v);
                assert_int_equal(v, FL_VERDICT_VALID);
            }
}

/* The naive move loses acknowledged writes, and the checker sees it. */
static void test_naive_moves_caught(void **st)
{
    const char *naive = "{\"placement\":\"range\",\"group_size\":2,\"keyspace\":8,\"ranges\":8,"
                        "\"move_every\":\"150ms\",\"churn_until\":\"4500ms\",\"freeze\":false}";
    int caught = 0;
    for (uint64_t seed = 1; seed <= 5; seed++)
        caught += shard_run(naive, 7, "kv", "[]", seed) == FL_VERDICT_INVALID;
    assert_true(caught >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_moves_stay_linearizable),
        cmocka_unit_test(test_naive_moves_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
