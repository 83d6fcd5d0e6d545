/* The election protocols (Bully, Chang-Roberts) and the one-leader checker
 * (sim/check/election.c).
 *
 * Hand-made logs: agreement on the highest id (valid), two leaders in one
 * epoch, disagreement at the end, a missing log (unknown), bad lines.
 * Then the scenarios of 09-election on a few seeds, and the message counts
 * of an election where every node starts at once, against n: Bully's grow
 * as n^2, Chang-Roberts's as n log n on a random ring and n^2 on a
 * decreasing one, Hirschberg-Sinclair's as n log n on both. */
#include "tests/storage/helpers.h"

#include <glib/gstdio.h>
#include <math.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static const char *const good[] = {
    "election node=0 nodes=3 algo=bully\nv 10 1 2\nn 20\nv 30 2 1\nv 40 3 2\n",
    "election node=1 nodes=3 algo=bully\nv 10 1 2\nv 25 2 1\nv 41 3 2\n",
    "election node=2 nodes=3 algo=bully\nv 5 1 2\nup 35\nv 39 3 2\n",
};

static void test_valid(void **state)
{
    g_autofree char *h = sx_logs_history(good, 3);
    json_t *j = NULL;
    char *report = NULL;
    assert_int_equal(sx_check(h, "events", "one-leader", &j, &report), FL_VERDICT_VALID);
    assert_int_equal(json_integer_value(json_object_get(j, "epochs")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "final_leader")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "final_epoch")), 3);
    assert_non_null(strstr(report, "every node follows node 2 (epoch 3)"));
    json_decref(j);
    g_free(report);
}

static void test_split_and_disagreement(void **state)
{
    /* Node 1 claims epoch 2 while node 0 follows node 2 in it. */
    const char *const split[] = {
        "election node=0 nodes=3 algo=bully\nv 30 2 2\n",
        "election node=1 nodes=3 algo=bully\nv 25 2 1\nv 50 2 2\n",
        "election node=2 nodes=3 algo=bully\nv 20 2 2\n",
    };
    g_autofree char *h1 = sx_logs_history(split, 3);
    json_t *j = NULL;
    char *report = NULL;
    assert_int_equal(sx_check(h1, "events", "one-leader", &j, &report), FL_VERDICT_INVALID);
    assert_int_equal(json_integer_value(json_object_get(j, "split_epochs")), 1);
    assert_true(json_is_true(json_object_get(j, "agreement")));
    assert_non_null(strstr(report, "epoch 2 has two leaders"));
    json_decref(j);
    g_free(report);
    /* At the end node 0 has no leader, node 1 follows 1: no agreement. */
    const char *const apart[] = {
        "election node=0 nodes=3 algo=ring\nv 10 1 2\nn 20\n",
        "election node=1 nodes=3 algo=ring\nv 10 1 2\nv 30 2 1\n",
        "election node=2 nodes=3 algo=ring\nv 10 1 2\n",
    };
    g_autofree char *h2 = sx_logs_history(apart, 3);
    assert_int_equal(sx_check(h2, "events", "one-leader", &j, &report), FL_VERDICT_INVALID);
    assert_true(json_is_false(json_object_get(j, "agreement")));
    assert_int_equal(json_integer_value(json_object_get(j, "split_epochs")), 0);
    assert_non_null(strstr(report, "node 0 has no leader"));
    json_decref(j);
    g_free(report);
    /* The nodes agree, but on a lower id than the highest. */
    const char *const low[] = {
        "election node=0 nodes=2 algo=ring\nv 10 1 0\n",
        "election node=1 nodes=2 algo=ring\nv 10 1 0\n",
    };
    g_autofree char *h3 = sx_logs_history(low, 2);
    assert_int_equal(sx_check(h3, "events", "one-leader", NULL, NULL), FL_VERDICT_INVALID);
}

static void test_unknown_and_errors(void **state)
{
    const char *const missing[] = { good[0], good[1], NULL };
    g_autofree char *h1 = sx_logs_history(missing, 3);
    assert_int_equal(sx_check(h1, "events", "one-leader", NULL, NULL), FL_VERDICT_UNKNOWN);
    const char *const bad[] = { "election node=0 nodes=1 algo=bully\nv 10 1 5\n" };
    g_autofree char *h2 = sx_logs_history(bad, 1);
    g_autofree char *e2 = sx_check_error(h2, "events", "one-leader");
    assert_non_null(strstr(e2, "line 2"));
    const char *const clocks[] = { "clocks node=0 nodes=1\n" };
    g_autofree char *h3 = sx_logs_history(clocks, 1);
    g_autofree char *e3 = sx_check_error(h3, "events", "one-leader");
    assert_non_null(strstr(e3, "not an election log"));
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; FlVerdict verdict; } runs[] = {
        { "scenarios/09-election/bully-crash-leader.json", FL_VERDICT_VALID },
        { "scenarios/09-election/bully-partition.json", FL_VERDICT_VALID },
        { "scenarios/09-election/bully-async.json", FL_VERDICT_INVALID },
        { "scenarios/09-election/ring-crash-leader.json", FL_VERDICT_VALID },
        { "scenarios/09-election/ring-partition.json", FL_VERDICT_VALID },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        for (int64_t seed = 1; seed <= 5; seed++) {
            FlRunResult res;
            sx_run_file(runs[i].file, seed, &res);
            if (!res.met)
                fail_msg("%s seed %d: %s", runs[i].file, (int)seed, (char *)g_ptr_array_index(res.unmet, 0));
            assert_int_equal(res.verdict, runs[i].verdict);
            assert_int_equal(sx_check_int(&res, "final_leader"), 4);
            fl_run_result_clear(&res);
        }
    }
}

/* The messages of the startup election on @nodes nodes. */
static double startup_messages(const char *file, int nodes)
{
    GError *err = NULL;
    FlScenario *sc = fl_scenario_load(file, -1, &err);
    if (!sc)
        fail_msg("%s", err->message);
    fl_scenario_free(sc);
    g_autofree char *text = NULL;
    assert_true(g_file_get_contents(file, &text, NULL, NULL));
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    json_object_set_new(json_object_get(j, "cluster"), "nodes", json_integer(nodes));
    json_object_del(j, "expect");
    json_object_set_new(j, "expect", json_pack("{s:b}", "valid", 1));
    g_autofree char *path = g_strdup_printf("%s/startup-%d-%d.json", g_get_tmp_dir(), (int)getpid(), nodes);
    assert_int_equal(json_dump_file(j, path, 0), 0);
    json_decref(j);
    FlRunResult res;
    sx_run_file(path, -1, &res);
    g_unlink(path);
    if (!res.met)
        fail_msg("%s with %d nodes: %s", file, nodes, (char *)g_ptr_array_index(res.unmet, 0));
    double m = sx_counter(&res, "election.messages");
    fl_run_result_clear(&res);
    return m;
}

static void test_message_counts(void **state)
{
    /* Bully, all starting at once: n(n-1)/2 ELECTIONs, as many ANSWERs, n-1
     * COORDINATORs from the highest id (which has no one to ask and claims
     * at once), and n-1 more that it sends again to each ELECTION reaching
     * it afterwards: n(n-1) + 2(n-1) = (n-1)(n+2). */
    for (int n = 4; n <= 32; n *= 2)
        assert_int_equal((int)startup_messages("scenarios/09-election/bully-startup.json", n), (n - 1) * (n + 2));
    /* Chang-Roberts on a random ring: between n (ids increasing along the
     * ring) and n^2; on average n H_n + n.  Doubling n a little more than
     * doubles it, far from Bully's four times. */
    double prev = 0;
    for (int n = 8; n <= 64; n *= 2) {
        double m = startup_messages("scenarios/09-election/ring-startup.json", n);
        assert_true(m >= 2 * n);
        assert_true(m <= 2.0 * n * log((double)n) + 2 * n);
        if (prev)
            assert_true(m / prev > 2.0 && m / prev < 3.0);
        prev = m;
    }
    /* The worst arrangement: ids decreasing along the ring.  Chang-Roberts
     * takes n(n+1)/2 + n; Hirschberg-Sinclair stays O(n log n). */
    assert_int_equal((int)startup_messages("scenarios/09-election/ring-startup-decreasing.json", 16), 16 * 17 / 2 + 16);
    double cr = startup_messages("scenarios/09-election/ring-startup-decreasing.json", 64);
    double hs = startup_messages("scenarios/09-election/hs-startup-decreasing.json", 64);
    assert_int_equal((int)cr, 64 * 65 / 2 + 64);
    assert_true(hs <= 8 * 64 * 6);
    assert_true(hs * 3 < cr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_split_and_disagreement),
        cmocka_unit_test(test_unknown_and_errors),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_message_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
