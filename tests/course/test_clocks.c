/* The clocks protocol and the happens-before checker (sim/check/clocks.c).
 *
 * Hand-made logs: a correct run (valid), a receipt that did not take the
 * max (the clock condition broken on that edge, the vectors missing the
 * pair), vectors that order two concurrent events (spurious), a message
 * received but never sent, a receipt before its own send (no order), a
 * missing log (unknown), bad lines (errors naming the line).  Then the
 * scenarios of 08-time-and-clocks, and a few seeds of each. */
#include "tests/storage/helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* A history of final reads only, one per log. */
static json_t *get(json_t *j, const char *a, const char *b)
{
    json_t *x = json_object_get(j, a);
    return b ? json_object_get(x, b) : x;
}

/* Node 0: local, send 0:0 to 1, receipt of 1:0.  Node 1: receipt of 0:0,
 * send 1:0 to 0.  Node 2: two local events, concurrent with everything. */
static const char *const good[] = {
    "clocks node=0 nodes=3\nl 1 1,0,0\ns 0 1 2 2,0,0\nr 1 0 5 3,2,0\n",
    "clocks node=1 nodes=3\nr 0 0 3 2,1,0\ns 0 0 4 2,2,0\n",
    "clocks node=2 nodes=3\nl 1 0,0,1\nl 2 0,0,2\n",
};

static void test_valid(void **state)
{
    g_autofree char *h = sx_logs_history(good, 3);
    json_t *j = NULL;
    char *report = NULL;
    assert_int_equal(sx_check(h, "events", "happens-before", &j, &report), FL_VERDICT_VALID);
    assert_int_equal(json_integer_value(get(j, "events", NULL)), 7);
    assert_true(json_is_true(get(j, "clock_condition", "holds")));
    assert_int_equal(json_integer_value(get(j, "clock_condition", "edges")), 6);
    assert_true(json_is_true(get(j, "vector_clocks", "exact")));
    assert_int_equal(json_integer_value(get(j, "vector_clocks", "pairs")), 42);
    /* Node 2's events are concurrent with node 0's and 1's five, both
     * ways: 2 x 2 x 5 ordered pairs; Lamport orders some of them. */
    assert_int_equal(json_integer_value(get(j, "concurrent_pairs", NULL)), 20);
    assert_non_null(strstr(report, "characterise happens-before exactly"));
    json_decref(j);
    g_free(report);
}

static void test_no_max(void **state)
{
    /* Node 1 received 0:0 (L=2) without the max: L=1, V=[0,1,0]. */
    const char *const logs[] = {
        good[0],
        "clocks node=1 nodes=3\nr 0 0 1 0,1,0\ns 0 0 2 0,2,0\n",
        good[2],
    };
    g_autofree char *h = sx_logs_history(logs, 3);
    json_t *j = NULL;
    char *report = NULL;
    assert_int_equal(sx_check(h, "events", "happens-before", &j, &report), FL_VERDICT_INVALID);
    assert_int_equal(json_integer_value(get(j, "clock_condition", "broken")), 1);
    assert_true(json_integer_value(get(j, "vector_clocks", "missed")) > 0);
    assert_int_equal(json_integer_value(get(j, "vector_clocks", "spurious")), 0);
    assert_non_null(strstr(report, "send of 0:0 to 1, L=2"));
    assert_non_null(strstr(report, "but its Lamport clock is not smaller"));
    json_decref(j);
    g_free(report);
}

static void test_spurious(void **state)
{
    /* Node 2's second event claims to know node 0's first: its vector is
     * larger, though nothing connects them. */
    const char *const logs[] = { good[0], good[1], "clocks node=2 nodes=3\nl 1 0,0,1\nl 2 1,0,2\n" };
    g_autofree char *h = sx_logs_history(logs, 3);
    json_t *j = NULL;
    assert_int_equal(sx_check(h, "events", "happens-before", &j, NULL), FL_VERDICT_INVALID);
    assert_true(json_is_true(get(j, "clock_condition", "holds")));
    assert_int_equal(json_integer_value(get(j, "vector_clocks", "spurious")), 1);
    json_decref(j);
}

static void test_phantom_cycle_missing(void **state)
{
    /* A receipt of 1:5, which node 1 never sent. */
    const char *const phantom[] = { "clocks node=0 nodes=2\nr 1 5 1 1,0\n", "clocks node=1 nodes=2\nl 1 0,1\n" };
    g_autofree char *h1 = sx_logs_history(phantom, 2);
    json_t *j = NULL;
    assert_int_equal(sx_check(h1, "events", "happens-before", &j, NULL), FL_VERDICT_INVALID);
    assert_int_equal(json_integer_value(get(j, "received_never_sent", NULL)), 1);
    json_decref(j);
    /* Each node receives the other's message before sending its own. */
    const char *const cycle[] = { "clocks node=0 nodes=2\nr 1 0 1 1,0\ns 0 1 2 2,0\n",
                                  "clocks node=1 nodes=2\nr 0 0 1 0,1\ns 0 0 2 0,2\n" };
    g_autofree char *h2 = sx_logs_history(cycle, 2);
    char *report = NULL;
    assert_int_equal(sx_check(h2, "events", "happens-before", NULL, &report), FL_VERDICT_INVALID);
    assert_non_null(strstr(report, "contradict"));
    g_free(report);
    /* Node 2's log is missing: no verdict. */
    const char *const missing[] = { good[0], good[1], NULL };
    g_autofree char *h3 = sx_logs_history(missing, 3);
    assert_int_equal(sx_check(h3, "events", "happens-before", NULL, NULL), FL_VERDICT_UNKNOWN);
}

static void test_errors(void **state)
{
    const char *const bad[] = { "clocks node=0 nodes=2\nl 1 1\n" };
    g_autofree char *h1 = sx_logs_history(bad, 1);
    g_autofree char *e1 = sx_check_error(h1, "events", "happens-before");
    assert_non_null(strstr(e1, "line 2"));
    const char *const twice[] = { "clocks node=0 nodes=1\n", "clocks node=0 nodes=1\n" };
    g_autofree char *h2 = sx_logs_history(twice, 2);
    g_autofree char *e2 = sx_check_error(h2, "events", "happens-before");
    assert_non_null(strstr(e2, "second log"));
    const char *const header[] = { "clocks node=3 nodes=2\n" };
    g_autofree char *h3 = sx_logs_history(header, 1);
    g_autofree char *e3 = sx_check_error(h3, "events", "happens-before");
    assert_non_null(strstr(e3, "node=I nodes=N"));
    g_autofree char *e4 = sx_check_error("", "events", "linearizable");
    assert_non_null(strstr(e4, "happens-before"));
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; FlVerdict verdict; } runs[] = {
        { "scenarios/08-time-and-clocks/clocks.json", FL_VERDICT_VALID },
        { "scenarios/08-time-and-clocks/clocks-crash-duplicate.json", FL_VERDICT_VALID },
        { "scenarios/08-time-and-clocks/clocks-no-max.json", FL_VERDICT_INVALID },
        { "scenarios/08-time-and-clocks/clocks-volatile.json", FL_VERDICT_INVALID },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        for (int64_t seed = 1; seed <= 5; seed++) {
            FlRunResult res;
            sx_run_file(runs[i].file, seed, &res);
            if (!res.met)
                fail_msg("%s seed %d: %s", runs[i].file, (int)seed, (char *)g_ptr_array_index(res.unmet, 0));
            assert_int_equal(res.verdict, runs[i].verdict);
            assert_true(sx_check_int(&res, "events") > 1000);
            assert_int_equal(sx_check_int(&res, "logs_missing"), 0);
            fl_run_result_clear(&res);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_no_max),
        cmocka_unit_test(test_spurious),
        cmocka_unit_test(test_phantom_cycle_missing),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
