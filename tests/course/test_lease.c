/* The lease protocol (a lock service with leases, a storage service, with
 * or without fencing tokens) and the serial-resource checker
 * (sim/check/lease.c).
 *
 * Hand-made logs: serial updates under granted tokens (valid); a late
 * writer overwriting its successor's increment (lost-update and
 * stale-write); a write under a token never granted; a read that missed a
 * write; a token granted twice; bad lines and a missing lock log.  Then
 * the lease scenarios of 12-mutual-exclusion on a few seeds, and the
 * storage's refusals counted with fencing on. */
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
    assert_int_equal(sx_check(h, "events", "serial-resource", &j, report), want);
    return j;
}

static int64_t num(json_t *j, const char *k) { return json_integer_value(json_object_get(j, k)); }

#define LOCK "lease node=0 nodes=4 role=lock fencing=0\n"
#define WORKER2 "lease node=2 nodes=4 role=worker fencing=0\n"
#define WORKER3 "lease node=3 nodes=4 role=worker fencing=0\n"

static void test_serial_and_lost(void **state)
{
    const char *const serial[] = {
        LOCK "g 2 1\ng 3 2\n",
        "lease node=1 nodes=4 role=storage fencing=1\nr 2 1 0\na 2 1 1\nr 3 2 1\nj 2 1\na 3 2 2\n",
        WORKER2, WORKER3,
    };
    json_t *j = check(serial, 4, FL_VERDICT_VALID, NULL);
    assert_int_equal(num(j, "writes"), 2);
    assert_int_equal(num(j, "reads"), 2);
    assert_int_equal(num(j, "rejected"), 1);
    assert_int_equal(num(j, "final_value"), 2);
    json_decref(j);
    /* Node 2 read 0 under token 1, paused; node 3 got token 2, read 0 and
     * wrote 1; node 2 woke and wrote 1 too: an increment lost, by a stale
     * token. */
    const char *const lost[] = {
        LOCK "g 2 1\ng 3 2\n",
        "lease node=1 nodes=4 role=storage fencing=0\nr 2 1 0\nr 3 2 0\na 3 2 1\na 2 1 1\n",
        WORKER2, WORKER3,
    };
    char *report = NULL;
    j = check(lost, 4, FL_VERDICT_INVALID, &report);
    assert_int_equal(num(j, "lost-update"), 1);
    assert_int_equal(num(j, "stale-write"), 1);
    assert_int_equal(num(j, "ungranted"), 0);
    assert_non_null(strstr(report, "node 2 wrote 1 (token 1) over 1: an increment made under a later lock was overwritten"));
    assert_non_null(strstr(report, "node 2's write with token 1 was applied after the storage had served token 2"));
    json_decref(j);
    g_free(report);
}

static void test_other_violations_and_errors(void **state)
{
    /* A write under a token granted to another node, a read that missed a
     * write, a token granted twice. */
    const char *const odd[] = {
        LOCK "g 2 1\ng 3 1\n",
        "lease node=1 nodes=4 role=storage fencing=1\na 3 1 1\nr 2 1 0\n",
        WORKER2, WORKER3,
    };
    json_t *j = check(odd, 4, FL_VERDICT_INVALID, NULL);
    assert_int_equal(num(j, "ungranted"), 1);
    assert_int_equal(num(j, "bad-read"), 1);
    assert_int_equal(num(j, "reused-token"), 1);
    json_decref(j);
    /* No lock log: unknown, not valid; nothing written: unknown. */
    const char *const nolock[] = { NULL, "lease node=1 nodes=4 role=storage fencing=1\na 2 1 1\n", WORKER2, WORKER3 };
    j = check(nolock, 4, FL_VERDICT_UNKNOWN, NULL);
    json_decref(j);
    const char *const idle[] = { LOCK, "lease node=1 nodes=4 role=storage fencing=1\n", WORKER2, WORKER3 };
    j = check(idle, 4, FL_VERDICT_UNKNOWN, NULL);
    json_decref(j);
    const char *const bad[][4] = {
        { LOCK "g 2\n", "lease node=1 nodes=4 role=storage fencing=1\n", WORKER2, WORKER3 },
        { LOCK, "lease node=1 nodes=4 role=storage fencing=1\na 2 1\n", WORKER2, WORKER3 },
        { LOCK, "lease node=1 nodes=4 role=storage fencing=1\nw 2 1 1\n", WORKER2, WORKER3 },
        { LOCK, "lease node=1 nodes=4 role=storage fencing=1\na 9 1 1\n", WORKER2, WORKER3 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *h = sx_logs_history(bad[i], 4);
        g_autofree char *e = sx_check_error(h, "events", "serial-resource");
        assert_non_null(strstr(e, "'s log, line 2: expected"));
    }
    const char *const other[] = { "mutex node=0 nodes=2\n", "mutex node=1 nodes=2\n" };
    g_autofree char *h = sx_logs_history(other, 2);
    g_autofree char *e = sx_check_error(h, "events", "serial-resource");
    assert_non_null(strstr(e, "node 0's log is not a lease log"));
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; FlVerdict verdict; int refused; } runs[] = {
        { "scenarios/12-mutual-exclusion/lease-fencing.json", FL_VERDICT_VALID, 1 },
        { "scenarios/12-mutual-exclusion/lease-no-fencing.json", FL_VERDICT_INVALID, 0 },
        { "scenarios/12-mutual-exclusion/lease-nemesis.json", FL_VERDICT_VALID, -1 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        for (int64_t seed = 1; seed <= 3; seed++) {
            FlRunResult res;
            sx_run_file(runs[i].file, seed, &res);
            if (!res.met)
                fail_msg("%s seed %d: %s", runs[i].file, (int)seed, (char *)g_ptr_array_index(res.unmet, 0));
            assert_int_equal(res.verdict, runs[i].verdict);
            assert_true(sx_check_int(&res, "writes") >= 100);
            /* Fencing acted: late writers were refused; without it none is
             * (-1: either, as the nemesis draws). */
            if (runs[i].refused >= 0)
                assert_true(runs[i].refused ? sx_check_int(&res, "rejected") > 0 : sx_check_int(&res, "rejected") == 0);
            if (runs[i].verdict == FL_VERDICT_INVALID)
                assert_true(sx_check_int(&res, "lost-update") > 0);
            fl_run_result_clear(&res);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serial_and_lost),
        cmocka_unit_test(test_other_violations_and_errors),
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
