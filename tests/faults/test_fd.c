/* Failure detectors: every scenario of scenarios/01-failure meets its
 * expectations, and the figures compare as the theory says: under sync
 * nothing is suspected wrongly; under async the fixed-timeout heartbeat
 * makes the most mistakes, eventually-perfect fewer, phi-accrual fewest;
 * under partial synchrony every detector makes fewer mistakes than under
 * async.  A run without a detector reports none. */
#include "tests/faults/helpers.h"

#include "sim/fd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define DIR "scenarios/01-failure"

static json_t *figures(const char *name, FlRunResult *res)
{
    g_autofree char *path = g_strdup_printf(DIR "/%s.json", name);
    GError *err = NULL;
    FlScenario *sc = fl_scenario_load(path, -1, &err);
    if (!sc)
        fail_msg("%s", err->message);
    fx_run(sc, res);
    if (!res->met)
        fail_msg("%s: %s", path, (char *)g_ptr_array_index(res->unmet, 0));
    fl_scenario_free(sc);
    json_t *fd = json_object_get(res->metrics, "detectors");
    assert_non_null(fd);
    return fd;
}

static int64_t false_count(json_t *fd)
{
    return json_integer_value(json_object_get(json_object_get(fd, "false_suspicions"), "count"));
}

static int64_t detections(json_t *fd)
{
    return json_integer_value(json_object_get(json_object_get(fd, "detections"), "count"));
}

static void test_scenarios(void **state)
{
    static const char *const kinds[] = { "heartbeat", "eventually-perfect", "phi-accrual" };
    int64_t by_async[3], by_partial[3];
    for (int k = 0; k < 3; k++) {
        FlRunResult s, a, p;
        g_autofree char *sn = g_strdup_printf("%s-sync", kinds[k]);
        g_autofree char *an = g_strdup_printf("%s-async", kinds[k]);
        g_autofree char *pn = g_strdup_printf("%s-partial", kinds[k]);
        json_t *fs = figures(sn, &s), *fa = figures(an, &a), *fp = figures(pn, &p);
        assert_int_equal(false_count(fs), 0);
        by_async[k] = false_count(fa);
        by_partial[k] = false_count(fp);
        assert_true(by_partial[k] < by_async[k]);
        /* Every crash is seen by every live observer (3 crashes x 4). */
        assert_int_equal(detections(fs), 12);
        assert_int_equal(detections(fa), 12);
        assert_int_equal(detections(fp), 12);
        json_t *kind = json_array_get(json_object_get(fa, "kinds"), 0);
        assert_string_equal(json_string_value(kind), kinds[k]);
        fl_run_result_clear(&s);
        fl_run_result_clear(&a);
        fl_run_result_clear(&p);
    }
    assert_true(by_async[0] > 3 * by_async[1]);   /* ◇P learns */
    assert_true(by_async[1] > by_async[2]);       /* phi adapts */
    assert_true(by_partial[0] > by_partial[1]);

    FlRunResult r;
    json_t *fd = figures("perfect-sync", &r);
    assert_int_equal(false_count(fd), 0);
    assert_int_equal(detections(fd), 12);
    fl_run_result_clear(&r);
    fd = figures("perfect-sync-pause", &r);
    assert_int_equal(false_count(fd), 4);   /* the paused node, by each other node */
    fl_run_result_clear(&r);
}

/* eventually-perfect grows its timeouts: its detections are slower than the
 * fixed heartbeat's once it has made mistakes. */
static void test_slower_after_mistakes(void **state)
{
    FlRunResult h, e;
    json_t *fh = figures("heartbeat-async", &h), *fe = figures("eventually-perfect-async", &e);
    int64_t mh = json_integer_value(json_object_get(json_object_get(fh, "detection_time_ns"), "mean"));
    int64_t me = json_integer_value(json_object_get(json_object_get(fe, "detection_time_ns"), "mean"));
    assert_true(me > mh);
    fl_run_result_clear(&h);
    fl_run_result_clear(&e);
}

static void test_no_detector_no_figures(void **state)
{
    FlScenario *sc = fx_scenario("scenarios/00-basics/primary-backup.json", "[]", NULL, NULL);
    FlRunResult r;
    fx_run(sc, &r);
    assert_null(json_object_get(r.metrics, "detectors"));
    fl_run_result_clear(&r);
    fl_scenario_free(sc);
    /* Asking for detector figures without a detector is an unmet
     * expectation, not a silent pass. */
    GError *err = NULL;
    sc = fx_scenario_text("{\"duration\":\"1s\",\"cluster\":{\"protocol\":\"single\",\"nodes\":2},"
                          "\"expect\":{\"max_false_suspicions\":0}}", &err);
    assert_non_null(sc);
    fx_run(sc, &r);
    assert_false(r.met);
    assert_non_null(strstr(g_ptr_array_index(r.unmet, 0), "no node ran a detector"));
    fl_run_result_clear(&r);
    fl_scenario_free(sc);
}

/* A node that crashes for good is never trusted again, and a crash shorter
 * than the timeout is missed by the heartbeat detector: counted as such. */
static void test_missed_and_permanent(void **state)
{
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(
        "{\"duration\":\"5s\",\"cluster\":{\"protocol\":\"fd-demo\",\"nodes\":3,"
        "\"params\":{\"detector\":\"heartbeat\",\"fd_interval\":\"100ms\",\"fd_timeout\":\"1s\"}},"
        "\"network\":{\"timing\":\"sync\",\"bound\":\"5ms\"},"
        "\"faults\":[{\"at\":\"1s\",\"kind\":\"crash\",\"node\":1,\"restart_after\":\"300ms\"},"
        "{\"at\":\"3s\",\"kind\":\"crash\",\"node\":2}]}", &err);
    assert_non_null(sc);
    FlRunResult r;
    fx_run(sc, &r);
    json_t *fd = json_object_get(r.metrics, "detectors");
    /* Node 1's 300ms crash: missed by 0 and 2.  Node 2's: detected by 0
     * (node 1 too). */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(fd, "detections"), "missed")), 2);
    assert_int_equal(detections(fd), 2);
    assert_int_equal(false_count(fd), 0);
    fl_run_result_clear(&r);
    fl_scenario_free(sc);
}

static void test_kind_names(void **state)
{
    FlFdKind k;
    for (int i = FL_FD_PERFECT; i <= FL_FD_PHI_ACCRUAL; i++) {
        assert_true(fl_fd_kind_parse(fl_fd_kind_name((FlFdKind)i), &k));
        assert_int_equal(k, i);
    }
    assert_false(fl_fd_kind_parse("oracle", &k));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_slower_after_mistakes),
        cmocka_unit_test(test_no_detector_no_figures),
        cmocka_unit_test(test_missed_and_permanent),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
