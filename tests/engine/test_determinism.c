/* Determinism: one scenario and one seed give one run, byte for byte.
 *
 * Every .json under scenarios/ is run twice in process: same trace hash, same
 * history.  Another seed gives another hash.  The resolved scenario (what
 * scenario.json holds) runs the same as the file it came from, and writing
 * the trace does not change the hash.  Finally the command line, twice into
 * two folders: the same files and the same last line. */
#include "sim/run.h"
#include "sim/scenario.h"

#include "cli.h"

#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void find_scenarios(const char *dir, GPtrArray *out)
{
    GError *err = NULL;
    GDir *d = g_dir_open(dir, 0, &err);
    if (!d)
        fail_msg("%s", err->message);
    const char *name;
    while ((name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            find_scenarios(p, out);
            g_free(p);
        } else if (g_str_has_suffix(name, ".json")) {
            g_ptr_array_add(out, p);
        } else {
            g_free(p);
        }
    }
    g_dir_close(d);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static GPtrArray *all_scenarios(void)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    find_scenarios("scenarios", a);
    g_ptr_array_sort(a, cmp_str);
    if (a->len == 0)
        fail_msg("no scenarios found under scenarios/ (run from the source root)");
    return a;
}

static FlScenario *load(const char *path, int64_t seed)
{
    GError *err = NULL;
    FlScenario *sc = fl_scenario_load(path, seed, &err);
    if (!sc)
        fail_msg("%s", err->message);
    return sc;
}

static void run(const FlScenario *sc, const char *out_dir, FlRunResult *res)
{
    FlRunOptions opt = { .out_dir = out_dir, .write_trace = out_dir != NULL, .check = false };
    GError *err = NULL;
    if (fl_run(sc, &opt, res, &err) != 0)
        fail_msg("%s: %s", sc->file, err->message);
}

static void expect_same_run(const char *what, const FlRunResult *a, const FlRunResult *b)
{
    if (a->trace_hash != b->trace_hash)
        fail_msg("%s: trace hash %016" PRIx64 " then %016" PRIx64, what, a->trace_hash,
                 b->trace_hash);
    if (a->history->len != b->history->len ||
        memcmp(a->history->str, b->history->str, a->history->len) != 0)
        fail_msg("%s: the histories differ (%zu and %zu bytes)", what, a->history->len,
                 b->history->len);
}

static void test_twice_same(void **state)
{
    g_autoptr(GPtrArray) files = all_scenarios();
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);
        FlScenario *sc = load(path, -1);
        printf("# %s seed=%" PRIu64 "\n", path, sc->seed);
        FlRunResult a, b;
        run(sc, NULL, &a);
        /* A fresh load, as a second process would do. */
        FlScenario *sc2 = load(path, -1);
        run(sc2, NULL, &b);
        expect_same_run(path, &a, &b);
        if (sc->workload.model && a.history->len == 0)
            fail_msg("%s: empty history", path);
        /* The same scenario object run again (faults are reset). */
        FlRunResult c;
        run(sc, NULL, &c);
        expect_same_run(path, &a, &c);
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
        fl_run_result_clear(&c);
        fl_scenario_free(sc2);
        fl_scenario_free(sc);
    }
}

static void test_other_seed_differs(void **state)
{
    g_autoptr(GPtrArray) files = all_scenarios();
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);
        FlScenario *sc = load(path, -1);
        FlScenario *other = load(path, (int64_t)sc->seed + 1);
        assert_true(other->seed == sc->seed + 1);
        FlRunResult a, b;
        run(sc, NULL, &a);
        run(other, NULL, &b);
        if (a.trace_hash == b.trace_hash)
            fail_msg("%s: seeds %" PRIu64 " and %" PRIu64 " give the same hash %016" PRIx64, path,
                     sc->seed, other->seed, a.trace_hash);
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
        fl_scenario_free(other);
        fl_scenario_free(sc);
    }
}

/* scenario.json is "the scenario as run: defaults filled in, seed fixed":
 * loading it must give the same run as the original file. */
static void test_resolved_scenario_reruns(void **state)
{
    g_autoptr(GPtrArray) files = all_scenarios();
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);
        FlScenario *sc = load(path, -1);
        GError *err = NULL;
        FlScenario *again = fl_scenario_from_json(sc->resolved, path, -1, &err);
        if (!again)
            fail_msg("%s: the resolved scenario does not load: %s", path, err->message);
        assert_true(again->seed == sc->seed);
        FlRunResult a, b;
        run(sc, NULL, &a);
        run(again, NULL, &b);
        g_autofree char *what = g_strdup_printf("%s (resolved)", path);
        expect_same_run(what, &a, &b);
        /* Resolving is a fixed point. */
        char *s1 = json_dumps(sc->resolved, JSON_SORT_KEYS | JSON_COMPACT);
        char *s2 = json_dumps(again->resolved, JSON_SORT_KEYS | JSON_COMPACT);
        if (strcmp(s1, s2) != 0)
            fail_msg("%s: resolving twice changes the scenario:\n%s\n%s", path, s1, s2);
        free(s1);
        free(s2);
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
        fl_scenario_free(again);
        fl_scenario_free(sc);
    }
}

/* Writing trace.jsonl does not change the hash, and the trace file is the
 * same for two runs. */
static void test_trace_file_same(void **state)
{
    g_autoptr(GPtrArray) files = all_scenarios();
    g_autofree char *tmp = g_dir_make_tmp("faultline-det-XXXXXX", NULL);
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);
        FlScenario *sc = load(path, -1);
        g_autofree char *d1 = g_strdup_printf("%s/%u-a", tmp, i);
        g_autofree char *d2 = g_strdup_printf("%s/%u-b", tmp, i);
        FlRunResult a, b, c;
        run(sc, NULL, &a);
        run(sc, d1, &b);
        run(sc, d2, &c);
        expect_same_run(path, &a, &b);
        expect_same_run(path, &a, &c);
        static const char *const names[] = { "trace.jsonl", "history.jsonl", "metrics.json",
                                             "scenario.json" };
        for (size_t k = 0; k < G_N_ELEMENTS(names); k++) {
            g_autofree char *p1 = g_build_filename(d1, names[k], NULL);
            g_autofree char *p2 = g_build_filename(d2, names[k], NULL);
            size_t n1, n2;
            g_autofree char *t1 = cli_read_file(p1, &n1);
            g_autofree char *t2 = cli_read_file(p2, &n2);
            if (n1 != n2 || memcmp(t1, t2, n1) != 0)
                fail_msg("%s: %s differs between two runs", path, names[k]);
            if (strcmp(names[k], "history.jsonl") == 0)
                assert_memory_equal(t1, a.history->str, a.history->len);
        }
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
        fl_run_result_clear(&c);
        fl_scenario_free(sc);
    }
    cli_rm_rf(tmp);
}

/* The scenario.json a run writes, read back from disk, is the same scenario:
 * every value drawn from a range comes back bit for bit, and the run is the
 * same.  `faultline replay` depends on it.  tests/engine/scenarios/ranges.json
 * gives a range wherever the format allows one. */
static void expect_file_replays(const char *path, const char *tmp, guint i)
{
    FlScenario *sc = load(path, -1);
    g_autofree char *dir = g_strdup_printf("%s/%u", tmp, i);
    FlRunResult a, b;
    run(sc, dir, &a);
    g_autofree char *written = g_build_filename(dir, "scenario.json", NULL);
    FlScenario *again = load(written, -1);
    assert_true(again->seed == sc->seed);
    assert_int_equal(again->duration, sc->duration);
    assert_int_equal(again->nodes, sc->nodes);
    for (uint32_t k = 0; k < sc->nodes; k++) {
        if (sc->skew)
            assert_int_equal(again->skew[k], sc->skew[k]);
        if (sc->drift && memcmp(&again->drift[k], &sc->drift[k], sizeof(double)) != 0)
            fail_msg("%s: drift of node %u is %.17g, read back as %.17g", path, k, sc->drift[k],
                     again->drift[k]);
    }
    if (memcmp(&again->net, &sc->net, sizeof sc->net) != 0)
        fail_msg("%s: the network read back from scenario.json differs", path);
    if (again->workload.rate != sc->workload.rate)
        fail_msg("%s: rate %.17g read back as %.17g", path, sc->workload.rate, again->workload.rate);
    run(again, NULL, &b);
    g_autofree char *what = g_strdup_printf("%s (its scenario.json)", path);
    expect_same_run(what, &a, &b);
    fl_run_result_clear(&a);
    fl_run_result_clear(&b);
    fl_scenario_free(again);
    fl_scenario_free(sc);
}

static void test_scenario_json_replays(void **state)
{
    g_autoptr(GPtrArray) files = all_scenarios();
    g_ptr_array_add(files, g_strdup("tests/engine/scenarios/ranges.json"));
    g_autofree char *tmp = g_dir_make_tmp("faultline-det-XXXXXX", NULL);
    for (guint i = 0; i < files->len; i++)
        expect_file_replays(g_ptr_array_index(files, i), tmp, i);
    /* Many seeds of the scenario with ranges: each draws other values. */
    for (int64_t seed = 1; seed <= 40; seed++) {
        FlScenario *sc = load("tests/engine/scenarios/ranges.json", seed);
        g_autofree char *dir = g_strdup_printf("%s/seed-%" PRId64, tmp, seed);
        FlRunOptions opt = { .out_dir = dir };
        FlRunResult a;
        GError *err = NULL;
        if (fl_run(sc, &opt, &a, &err) != 0)
            fail_msg("%s", err->message);
        g_autofree char *written = g_build_filename(dir, "scenario.json", NULL);
        FlScenario *again = load(written, -1);
        for (uint32_t k = 0; k < sc->nodes; k++)
            if (memcmp(&again->drift[k], &sc->drift[k], sizeof(double)) != 0)
                fail_msg("seed %" PRId64 ": drift of node %u is %.17g, read back as %.17g", seed, k,
                         sc->drift[k], again->drift[k]);
        if (memcmp(&again->net, &sc->net, sizeof sc->net) != 0 ||
            again->workload.rate != sc->workload.rate)
            fail_msg("seed %" PRId64 ": the scenario read back from scenario.json differs", seed);
        fl_run_result_clear(&a);
        fl_scenario_free(again);
        fl_scenario_free(sc);
    }
    cli_rm_rf(tmp);
}

static void expect_same_file(const char *d1, const char *d2, const char *name)
{
    g_autofree char *p1 = g_build_filename(d1, name, NULL);
    g_autofree char *p2 = g_build_filename(d2, name, NULL);
    size_t n1, n2;
    g_autofree char *t1 = cli_read_file(p1, &n1);
    g_autofree char *t2 = cli_read_file(p2, &n2);
    if (n1 != n2 || memcmp(t1, t2, n1) != 0)
        fail_msg("%s and %s differ", p1, p2);
    /* A scenario without a workload (the failure detectors') has no history. */
    assert_true(n1 > 0 || strcmp(name, "history.jsonl") == 0);
}

/* Two processes, two folders: the same bytes.  This also runs every
 * scenario through the command line with its check, so the sanitizer build
 * covers the checker on real histories. */
static void cli_twice(const char *scenario, const char *tmp, guint i)
{
    g_autofree char *d1 = g_strdup_printf("%s/%u-one", tmp, i);
    g_autofree char *d2 = g_strdup_printf("%s/%u-two", tmp, i);
    CliResult a, b;
    cli_run(&a, NULL, "run", scenario, "--out", d1);
    cli_run(&b, NULL, "run", scenario, "--out", d2);
    if (a.status != 0 && a.status != 1)
        fail_msg("%s: exit status %d: %s", scenario, a.status, a.err);
    if (strstr(a.err, "runtime error") || strstr(a.err, "Sanitizer"))
        fail_msg("%s: %s", scenario, a.err);
    assert_int_equal(a.status, b.status);
    g_autofree char *la = cli_last_line(a.out);
    g_autofree char *lb = cli_last_line(b.out);
    assert_true(g_str_has_prefix(la, "trace_hash="));
    assert_string_equal(la, lb);
    expect_same_file(d1, d2, "history.jsonl");
    expect_same_file(d1, d2, "trace.jsonl");
    expect_same_file(d1, d2, "metrics.json");
    expect_same_file(d1, d2, "scenario.json");

    /* The process prints the hash the library computes. */
    FlScenario *sc = load(scenario, -1);
    FlRunResult r;
    run(sc, NULL, &r);
    char want[64];
    g_snprintf(want, sizeof want, "trace_hash=%016" PRIx64 " ", r.trace_hash);
    assert_true(g_str_has_prefix(la, want));
    fl_run_result_clear(&r);
    fl_scenario_free(sc);
    cli_result_clear(&a);
    cli_result_clear(&b);
}

static void test_cli_twice(void **state)
{
    g_autoptr(GPtrArray) files = all_scenarios();
    g_autofree char *tmp = g_dir_make_tmp("faultline-det-XXXXXX", NULL);
    for (guint i = 0; i < files->len; i++)
        cli_twice(g_ptr_array_index(files, i), tmp, i);
    cli_rm_rf(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twice_same),
        cmocka_unit_test(test_other_seed_differs),
        cmocka_unit_test(test_resolved_scenario_reruns),
        cmocka_unit_test(test_trace_file_same),
        cmocka_unit_test(test_scenario_json_replays),
        cmocka_unit_test(test_cli_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
