/* The swim protocol (protocols/swim.c) and the membership checker
 * (sim/check/membership.c).
 *
 * The codec: a round trip, and every way a message fails to decode (the
 * protocol drops those).  The order of updates (note 4).  Hand-made logs:
 * a crash detected in time (valid), never detected, detected late, a live
 * member declared dead, a declaration before the member's boot, bad lines.
 * Then the scenarios of 15-membership on a few seeds. */
#include "protocols/swim.h"
#include "tests/storage/helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void test_codec(void **state)
{
    SwimMsg m = { .type = SWIM_PING_REQ, .seq = 42, .target = 3, .origin = 1, .count = 2 };
    m.upd[0] = (SwimUpdate){ .kind = SWIM_SUSPECT, .member = 2, .inc = 7, .born = 123456789 };
    m.upd[1] = (SwimUpdate){ .kind = SWIM_ALIVE, .member = 0, .inc = 0, .born = 1 };
    uint8_t buf[SWIM_MSG_MAX];
    size_t len = swim_encode(&m, buf, sizeof buf);
    assert_int_equal(len, 18 + 2 * 21);
    SwimMsg d;
    assert_true(swim_decode(buf, len, 4, &d));
    assert_int_equal(d.type, SWIM_PING_REQ);
    assert_int_equal(d.seq, 42);
    assert_int_equal(d.target, 3);
    assert_int_equal(d.origin, 1);
    assert_int_equal(d.count, 2);
    assert_int_equal(d.upd[0].kind, SWIM_SUSPECT);
    assert_int_equal(d.upd[0].member, 2);
    assert_int_equal(d.upd[0].inc, 7);
    assert_int_equal(d.upd[0].born, 123456789);
    assert_int_equal(d.upd[1].kind, SWIM_ALIVE);
    /* Every prefix is too short, one more byte is too long. */
    for (size_t k = 0; k < len; k++)
        assert_false(swim_decode(buf, k, 4, &d));
    uint8_t longer[SWIM_MSG_MAX + 1];
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_false(swim_decode(longer, len + 1, 4, &d));
    /* A node out of range: the target, then an update's member (the
     * cluster has 3 nodes, not 4). */
    assert_false(swim_decode(buf, len, 3, &d));
    SwimMsg bad = m;
    bad.target = 0;
    bad.upd[1].member = 9;
    len = swim_encode(&bad, buf, sizeof buf);
    assert_false(swim_decode(buf, len, 4, &d));
    /* An unknown type, an unknown kind, more updates than nodes. */
    bad = m;
    bad.type = 0x70;
    len = swim_encode(&bad, buf, sizeof buf);
    assert_false(swim_decode(buf, len, 4, &d));
    bad = m;
    bad.upd[0].kind = 4;
    len = swim_encode(&bad, buf, sizeof buf);
    assert_false(swim_decode(buf, len, 4, &d));
    bad = m;
    bad.count = 5;
    for (int i = 2; i < 5; i++)
        bad.upd[i] = m.upd[1];
    len = swim_encode(&bad, buf, sizeof buf);
    assert_false(swim_decode(buf, len, 4, &d));
    assert_true(swim_decode(buf, len, 5, &d));
}

static uint8_t wins(uint8_t status, uint64_t inc, uint8_t kind, uint64_t uinc, bool suspicion)
{
    SwimUpdate u = { .kind = kind, .member = 1, .inc = uinc };
    return swim_wins(status, inc, &u, suspicion);
}

/* Note 4, the paper's section 4.2 with note 4's one change for DEAD. */
static void test_order(void **state)
{
    /* ALIVE wins only with a higher incarnation, or about a stranger. */
    assert_int_equal(wins(SWIM_S_NONE, 0, SWIM_ALIVE, 0, true), SWIM_S_ALIVE);
    assert_int_equal(wins(SWIM_S_ALIVE, 3, SWIM_ALIVE, 3, true), SWIM_S_NONE);
    assert_int_equal(wins(SWIM_S_SUSPECT, 3, SWIM_ALIVE, 3, true), SWIM_S_NONE);
    assert_int_equal(wins(SWIM_S_SUSPECT, 3, SWIM_ALIVE, 4, true), SWIM_S_ALIVE);
    assert_int_equal(wins(SWIM_S_DEAD, 3, SWIM_ALIVE, 3, true), SWIM_S_NONE);
    assert_int_equal(wins(SWIM_S_DEAD, 3, SWIM_ALIVE, 4, true), SWIM_S_ALIVE);
    /* SUSPECT beats ALIVE at an equal incarnation, SUSPECT only above. */
    assert_int_equal(wins(SWIM_S_ALIVE, 3, SWIM_SUSPECT, 3, true), SWIM_S_SUSPECT);
    assert_int_equal(wins(SWIM_S_ALIVE, 3, SWIM_SUSPECT, 2, true), SWIM_S_NONE);
    assert_int_equal(wins(SWIM_S_SUSPECT, 3, SWIM_SUSPECT, 3, true), SWIM_S_NONE);
    assert_int_equal(wins(SWIM_S_SUSPECT, 3, SWIM_SUSPECT, 4, true), SWIM_S_SUSPECT);
    assert_int_equal(wins(SWIM_S_DEAD, 3, SWIM_SUSPECT, 9, true), SWIM_S_NONE);
    /* DEAD beats ALIVE and SUSPECT at an equal or higher incarnation, but
     * not a member that refuted past it. */
    assert_int_equal(wins(SWIM_S_ALIVE, 3, SWIM_DEAD, 3, true), SWIM_S_DEAD);
    assert_int_equal(wins(SWIM_S_SUSPECT, 3, SWIM_DEAD, 3, true), SWIM_S_DEAD);
    assert_int_equal(wins(SWIM_S_ALIVE, 4, SWIM_DEAD, 3, true), SWIM_S_NONE);
    assert_int_equal(wins(SWIM_S_DEAD, 3, SWIM_DEAD, 4, true), SWIM_S_NONE);
    /* Without suspicion a SUSPECT (from elsewhere) counts as a DEAD. */
    assert_int_equal(wins(SWIM_S_ALIVE, 3, SWIM_SUSPECT, 3, false), SWIM_S_DEAD);
    assert_int_equal(wins(SWIM_S_ALIVE, 4, SWIM_SUSPECT, 3, false), SWIM_S_NONE);
}

static json_t *check(const char *const *logs, int n, FlVerdict want, char **report)
{
    g_autofree char *h = sx_logs_history(logs, n);
    json_t *j = NULL;
    assert_int_equal(sx_check(h, "events", "membership", &j, report), want);
    return j;
}

static int64_t num(json_t *j, const char *k) { return json_integer_value(json_object_get(j, k)); }

#define H(i) "swim node=" #i " nodes=3 suspicion=on period=100 bound=1000 boot=0\n"

static void test_checker(void **state)
{
    /* Node 2 crashed (no log), last heard at 500; both others hold it
     * dead by 1400, within the bound of 1000. */
    const char *const ok[] = {
        H(0) "j 0 1 0\nj 0 2 0\ns 700 2 0\nd 1400 2 0\nl 1 1500\nl 2 500\n",
        H(1) "j 0 0 0\nj 0 2 0\ns 900 2 0\nd 1300 2 0\nl 0 1500\nl 2 400\n",
        NULL,
    };
    json_t *j = check(ok, 3, FL_VERDICT_VALID, NULL);
    assert_int_equal(num(j, "crashed"), 1);
    assert_int_equal(num(j, "pairs"), 2);
    assert_int_equal(num(j, "detection_max_ns"), 900);
    assert_int_equal(num(j, "suspicions"), 2);
    json_decref(j);
    /* Node 1 still suspects it; node 0 declared it after the bound. */
    const char *const bad[] = {
        H(0) "j 0 1 0\nj 0 2 0\nd 1600 2 0\nl 2 500\n",
        H(1) "j 0 0 0\nj 0 2 0\ns 900 2 0\n",
        NULL,
    };
    char *report = NULL;
    j = check(bad, 3, FL_VERDICT_INVALID, &report);
    assert_int_equal(num(j, "undetected"), 1);
    assert_int_equal(num(j, "late"), 1);
    assert_non_null(strstr(report, "node 2 gave no final read, so is taken as crashed (last heard at 0.000s), but node 1 still holds it suspect"));
    assert_non_null(strstr(report, "node 0 declared crashed node 2 dead"));
    json_decref(j);
    g_free(report);
    /* Every node is up at the end: node 0's declaration of node 1 is a
     * false positive, even after node 1 refuted and rejoined; node 2's of
     * node 0 came before node 0's boot (it was down then) and is not
     * judged. */
    const char *const fp[] = {
        "swim node=0 nodes=3 suspicion=off period=100 bound=1000 boot=300\nj 300 1 0\n",
        H(1) "r 600 1\n",
        H(2) "d 200 0 0\nd 500 1 0\nj 700 1 1\nj 800 0 0\n",
    };
    report = NULL;
    j = check(fp, 3, FL_VERDICT_INVALID, &report);
    assert_int_equal(num(j, "false_dead"), 1);
    assert_int_equal(num(j, "refutations"), 1);
    assert_non_null(strstr(report, "node 2 declared node 1 dead at 0.000s, but node 1 is up"));
    json_decref(j);
    g_free(report);
    /* Nothing read: nothing to judge. */
    const char *const none[] = { NULL, NULL, NULL };
    json_decref(check(none, 3, FL_VERDICT_UNKNOWN, NULL));
    /* Bad lines: an unknown event, a node out of range, one about
     * itself, a header without bound. */
    const char *const lines[][2] = {
        { H(0) "x 1 1 0\n", H(1) },
        { H(0) "d 1 3 0\n", H(1) },
        { H(0) "d 1 0 0\n", H(1) },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        g_autofree char *h = sx_logs_history(lines[i], 2);
        g_autofree char *e = sx_check_error(h, "events", "membership");
        assert_non_null(strstr(e, "node 0's log, line 2"));
    }
    const char *const nobound[] = { "swim node=0 nodes=2 boot=0\n", "swim node=1 nodes=2 bound=1 boot=0\n" };
    g_autofree char *h = sx_logs_history(nobound, 2);
    g_autofree char *e = sx_check_error(h, "events", "membership");
    assert_non_null(strstr(e, "not a swim log"));
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; FlVerdict verdict; const char *bad; } runs[] = {
        { "scenarios/15-membership/swim-crash.json", FL_VERDICT_VALID, NULL },
        { "scenarios/15-membership/swim-lossy.json", FL_VERDICT_VALID, NULL },
        { "scenarios/15-membership/swim-lossy-no-suspicion.json", FL_VERDICT_INVALID, "false_dead" },
        { "scenarios/15-membership/swim-join.json", FL_VERDICT_VALID, NULL },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        for (int64_t seed = 1; seed <= 2; seed++) {
            FlRunResult res;
            sx_run_file(runs[i].file, seed, &res);
            if (!res.met)
                fail_msg("%s seed %d: %s", runs[i].file, (int)seed, (char *)g_ptr_array_index(res.unmet, 0));
            assert_int_equal(res.verdict, runs[i].verdict);
            assert_true(sx_check_int(&res, "crashed") == 1);
            if (runs[i].bad)
                assert_true(sx_check_int(&res, runs[i].bad) > 0);
            fl_run_result_clear(&res);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_checker),
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
