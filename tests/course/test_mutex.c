/* The mutex protocol (Ricart-Agrawala, token ring) and the
 * mutual-exclusion checker (sim/check/mutex.c).
 *
 * Hand-made logs: two critical sections ordered by happens-before (valid),
 * the same two concurrent (overlap), one never left against one entered
 * after it, a request never granted (starved), bad lines, a receipt with
 * no send.  Then the
 * scenarios of 12-mutual-exclusion on a few seeds. */
#include "tests/storage/helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static json_t *check(const char *const *logs, int n, FlVerdict want, char **report)
{
    g_autofree char *h = sx_logs_history(logs, n);
    json_t *j = NULL;
    assert_int_equal(sx_check(h, "events", "mutual-exclusion", &j, report), want);
    return j;
}

static int64_t num(json_t *j, const char *k) { return json_integer_value(json_object_get(j, k)); }

static void test_ordered_and_concurrent(void **state)
{
    /* Node 0 leaves, then sends message 0 to node 1, which enters after
     * receiving it: ordered. */
    const char *const ordered[] = {
        "mutex node=0 nodes=2\nw 1 1\ne 1 100\nx 1 200\ns 1 0\n",
        "mutex node=1 nodes=2\nw 1 2\nr 0 0\ne 1 300\nx 1 400\n",
    };
    json_t *j = check(ordered, 2, FL_VERDICT_VALID, NULL);
    assert_int_equal(num(j, "critical_sections"), 2);
    assert_int_equal(num(j, "requests"), 2);
    json_decref(j);
    /* Node 1 entered without hearing of node 0's exit: concurrent, though
     * by the clocks it entered after node 0 left. */
    const char *const concurrent[] = {
        ordered[0],
        "mutex node=1 nodes=2\nw 1 2\ne 1 300\nx 1 400\nr 0 0\n",
    };
    char *report = NULL;
    j = check(concurrent, 2, FL_VERDICT_INVALID, &report);
    assert_int_equal(num(j, "overlap"), 1);
    assert_int_equal(num(j, "overlap_in_time"), 0);
    assert_non_null(strstr(report, "node 0's critical section 1 [0.000s, 0.000s] and node 1's 1"));
    json_decref(j);
    g_free(report);
    /* Node 0 never leaves; node 1's entry cannot come after an exit that
     * never happened. */
    const char *const open[] = {
        "mutex node=0 nodes=2\nw 1 1\ne 1 100\n",
        "mutex node=1 nodes=2\nw 1 2\ne 1 300\nx 1 400\n",
    };
    j = check(open, 2, FL_VERDICT_INVALID, NULL);
    assert_int_equal(num(j, "overlap"), 1);
    assert_int_equal(num(j, "overlap_in_time"), 1);
    json_decref(j);
    /* Node 1's OK was sent after node 0's log was read (an ID past the last
     * it logged): after all of node 0's log, so after its exit. */
    const char *const late[] = {
        "mutex node=0 nodes=2\nw 1 1\ne 1 100\nx 1 200\ns 1 0\n",
        "mutex node=1 nodes=2\nw 1 2\nr 0 1\ne 1 300\nx 1 400\n",
    };
    j = check(late, 2, FL_VERDICT_VALID, NULL);
    json_decref(j);
}

static void test_starved_and_errors(void **state)
{
    const char *const starved[] = {
        "mutex node=0 nodes=2\nw 1 1\ne 1 100\nx 1 200\nw 2 5\n",
        "mutex node=1 nodes=2\n",
    };
    char *report = NULL;
    json_t *j = check(starved, 2, FL_VERDICT_INVALID, &report);
    assert_int_equal(num(j, "starved"), 1);
    assert_non_null(strstr(report, "node 0's request 2 was never granted"));
    json_decref(j);
    g_free(report);
    /* Nobody entered: nothing to judge. */
    const char *const idle[] = { "mutex node=0 nodes=2\n", "mutex node=1 nodes=2\n" };
    j = check(idle, 2, FL_VERDICT_UNKNOWN, NULL);
    json_decref(j);
    /* Something after an entry's time, an entry with no request, an exit
     * of another request, a message sent to oneself. */
    const char *const bad[][2] = {
        { "mutex node=0 nodes=2\nw 1 1\ne 1 100 2,0\n", "mutex node=1 nodes=2\n" },
        { "mutex node=0 nodes=2\ne 1 100\n", "mutex node=1 nodes=2\n" },
        { "mutex node=0 nodes=2\nw 1 1\ne 1 100\nx 2 200\n", "mutex node=1 nodes=2\n" },
        { "mutex node=0 nodes=2\ns 0 0\n", "mutex node=1 nodes=2\n" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *h = sx_logs_history(bad[i], 2);
        g_autofree char *e = sx_check_error(h, "events", "mutual-exclusion");
        assert_non_null(strstr(e, "node 0's log, line"));
    }
    /* A receipt of a message no log shows sent, though its sender logged
     * later ones. */
    const char *const unsent[] = { "mutex node=0 nodes=2\nr 1 7\n", "mutex node=1 nodes=2\ns 0 6\ns 0 8\n" };
    g_autofree char *h = sx_logs_history(unsent, 2);
    g_autofree char *e = sx_check_error(h, "events", "mutual-exclusion");
    assert_non_null(strstr(e, "node 0 received message 1:7, which no log shows sent"));
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; FlVerdict verdict; const char *bad; } runs[] = {
        { "scenarios/12-mutual-exclusion/ricart-agrawala.json", FL_VERDICT_VALID, NULL },
        { "scenarios/12-mutual-exclusion/ricart-agrawala-partition.json", FL_VERDICT_VALID, NULL },
        { "scenarios/12-mutual-exclusion/ricart-agrawala-no-defer.json", FL_VERDICT_INVALID, "overlap" },
        { "scenarios/12-mutual-exclusion/ricart-agrawala-crash.json", FL_VERDICT_INVALID, "starved" },
        { "scenarios/12-mutual-exclusion/token-ring.json", FL_VERDICT_VALID, NULL },
        { "scenarios/12-mutual-exclusion/token-ring-partition.json", FL_VERDICT_VALID, NULL },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        for (int64_t seed = 1; seed <= 3; seed++) {
            FlRunResult res;
            sx_run_file(runs[i].file, seed, &res);
            if (!res.met)
                fail_msg("%s seed %d: %s", runs[i].file, (int)seed, (char *)g_ptr_array_index(res.unmet, 0));
            assert_int_equal(res.verdict, runs[i].verdict);
            assert_true(sx_check_int(&res, "critical_sections") >= 50);
            if (runs[i].bad)
                assert_true(sx_check_int(&res, runs[i].bad) > 0);
            fl_run_result_clear(&res);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordered_and_concurrent),
        cmocka_unit_test(test_starved_and_errors),
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
