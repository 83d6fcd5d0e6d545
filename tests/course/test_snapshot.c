/* The snapshot protocol (Chandy-Lamport) and the consistent-cut checker
 * (sim/check/snapshot.c).
 *
 * Hand-made logs: a consistent snapshot with a transfer in a channel
 * (valid), a channel that misses it (money not conserved), a transfer
 * received before the cut but sent after (inconsistent), a recorded
 * balance its log does not give, an incomplete snapshot (unknown), a bad
 * line.  Then the scenarios of 10-snapshots on a few seeds. */
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
    assert_int_equal(sx_check(h, "events", "consistent-cut", &j, report), want);
    return j;
}

static int64_t num(json_t *j, const char *k) { return json_integer_value(json_object_get(j, k)); }

static void test_channels(void **state)
{
    /* Node 0 sends 30 to node 1, then records 70; node 1 records first, so
     * the 30 crosses the cut and belongs in the channel 0 -> 1.  Here node
     * 1 closes that channel before the transfer arrives: it is lost. */
    const char *const logs[] = {
        "snapshot node=0 nodes=2 initial=100\ns 0 1 30\nc 1 70\nk 1 1 \n",
        "snapshot node=1 nodes=2 initial=100\nc 1 100\nk 1 0 \nr 0 0 30\n",
    };
    char *report = NULL;
    json_t *j = check(logs, 2, FL_VERDICT_INVALID, &report);
    assert_int_equal(num(j, "channel"), 1);
    assert_int_equal(num(j, "conservation"), 1);
    assert_non_null(strstr(report, "hold 170, the bank holds 200 (-30)"));
    json_decref(j);
    g_free(report);
    /* The channel's marker comes after the transfer: recorded, conserved. */
    const char *const good[] = {
        logs[0],
        "snapshot node=1 nodes=2 initial=100\nc 1 100\nr 0 0 30\nk 1 0 0,\n",
    };
    j = check(good, 2, FL_VERDICT_VALID, NULL);
    assert_int_equal(num(j, "snapshots"), 1);
    assert_int_equal(num(j, "transfers"), 1);
    json_decref(j);
}

static void test_inconsistent(void **state)
{
    /* Node 1 counts the 30 as received; node 0 sent it after its record. */
    const char *const logs[] = {
        "snapshot node=0 nodes=2 initial=100\nc 1 100\ns 0 1 30\nk 1 1 \n",
        "snapshot node=1 nodes=2 initial=100\nr 0 0 30\nc 1 130\nk 1 0 \n",
    };
    char *report = NULL;
    json_t *j = check(logs, 2, FL_VERDICT_INVALID, &report);
    assert_int_equal(num(j, "received_not_sent"), 1);
    assert_int_equal(num(j, "conservation"), 1);
    assert_non_null(strstr(report, "sent it after recording its balance"));
    json_decref(j);
    g_free(report);
    /* Recorded balances that their logs do not give (they still add up). */
    const char *const wrong[] = {
        "snapshot node=0 nodes=2 initial=100\nc 1 90\nk 1 1 \n",
        "snapshot node=1 nodes=2 initial=100\nc 1 110\nk 1 0 \n",
    };
    j = check(wrong, 2, FL_VERDICT_INVALID, NULL);
    assert_int_equal(num(j, "balance"), 2);
    assert_int_equal(num(j, "conservation"), 0);
    json_decref(j);
}

static void test_incomplete_and_errors(void **state)
{
    const char *const cut_short[] = {
        "snapshot node=0 nodes=2 initial=100\nc 1 100\n",
        "snapshot node=1 nodes=2 initial=100\nc 1 100\nk 1 0 \n",
    };
    json_t *j = check(cut_short, 2, FL_VERDICT_UNKNOWN, NULL);
    assert_int_equal(num(j, "snapshots_cut_short"), 1);
    json_decref(j);
    const char *const bad[] = { "snapshot node=0 nodes=2 initial=100\ns 0 0 5\n", "snapshot node=1 nodes=2 initial=100\n" };
    g_autofree char *h = sx_logs_history(bad, 2);
    g_autofree char *e = sx_check_error(h, "events", "consistent-cut");
    assert_non_null(strstr(e, "line 2"));
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; FlVerdict verdict; } runs[] = {
        { "scenarios/10-snapshots/snapshot.json", FL_VERDICT_VALID },
        { "scenarios/10-snapshots/snapshot-no-markers.json", FL_VERDICT_INVALID },
        { "scenarios/10-snapshots/snapshot-non-fifo.json", FL_VERDICT_INVALID },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        for (int64_t seed = 1; seed <= 5; seed++) {
            FlRunResult res;
            sx_run_file(runs[i].file, seed, &res);
            if (!res.met)
                fail_msg("%s seed %d: %s", runs[i].file, (int)seed, (char *)g_ptr_array_index(res.unmet, 0));
            assert_int_equal(res.verdict, runs[i].verdict);
            assert_true(sx_check_int(&res, "snapshots") >= 10);
            if (runs[i].verdict == FL_VERDICT_INVALID)
                assert_true(sx_check_int(&res, "conservation") > 0);
            fl_run_result_clear(&res);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_inconsistent),
        cmocka_unit_test(test_incomplete_and_errors),
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
