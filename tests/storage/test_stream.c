/* The stream checker on both sides: outputs equal to the sequential
 * windowed aggregates (tumbling, sliding, count windows, late events), and
 * outputs with lost, wrong, spurious or duplicated windows, or a source
 * log that lost or invented events; then the stream scenarios. */
#include "tests/storage/helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    GString *h;
    int process;
} H;

static void send(H *x, int key, int id, int time)
{
    g_string_append_printf(x->h, "{\"process\":%d,\"type\":\"invoke\",\"f\":\"send\",\"key\":%d,"
                           "\"value\":{\"id\":%d}}\n", x->process, key, id);
    g_string_append_printf(x->h, "{\"process\":%d,\"type\":\"ok\",\"f\":\"send\",\"key\":%d,"
                           "\"value\":{\"id\":%d,\"time\":%d}}\n", x->process, key, id, time);
}

/* A final read of @key answered with @text (lines joined by "\n"). */
static void final_read(H *x, int key, const char *text)
{
    x->process++;
    g_string_append_printf(x->h, "{\"process\":%d,\"type\":\"invoke\",\"f\":\"read\",\"key\":%d,"
                           "\"value\":null,\"final\":true}\n", x->process, key);
    json_t *s = json_string(text);
    char *v = json_dumps(s, JSON_ENCODE_ANY);
    g_string_append_printf(x->h, "{\"process\":%d,\"type\":\"ok\",\"f\":\"read\",\"key\":%d,"
                           "\"value\":%s,\"final\":true}\n", x->process, key, v);
    free(v);
    json_decref(s);
}

#define TUMBLING "source window=tumbling size=1000 slide=1000 count=0 sink=exactly-once\n"

/* Events 1 (t 100), 2 (t 200) and 3 (t 1200) on key 0; the watermark
 * reaches 1500, so [0, 1000) fires with count 2 and sum 2 + 3 = 5. */
static H base(const char *sink_rows)
{
    H x = { g_string_new(NULL), 0 };
    send(&x, 0, 1, 100);
    send(&x, 0, 2, 200);
    send(&x, 0, 3, 1200);
    final_read(&x, 0, TUMBLING "e 1 100\ne 2 200\ne 3 1200\nw 1500\nc\n");
    g_autofree char *sink = g_strdup_printf("sink exactly-once\n%s", sink_rows);
    final_read(&x, 0, sink);
    return x;
}

static json_t *run(H *x, const char *consistency, FlVerdict want)
{
    json_t *j = NULL;
    char *report = NULL;
    FlVerdict v = sx_check(x->h->str, "stream", consistency, &j, &report);
    if (v != want)
        fail_msg("expected verdict %d, got %d:\n%s\n%s", want, v, report, x->h->str);
    g_free(report);
    g_string_free(x->h, TRUE);
    return j;
}

static int64_t count(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(j, k));
}

static void test_good(void **state)
{
    H x = base("r 0 1000 2 5 40\n");
    json_t *j = run(&x, "exactly-once", FL_VERDICT_VALID);
    assert_int_equal(count(j, "windows"), 1);
    assert_int_equal(count(j, "results"), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "latency_ns"), "p50")), 40);
    json_decref(j);
}

static void test_wrong_lost_spurious(void **state)
{
    H a = base("r 0 1000 2 6 40\n");
    json_t *j = run(&a, "exactly-once", FL_VERDICT_INVALID);
    assert_int_equal(count(j, "wrong"), 1);
    json_decref(j);

    H b = base("");
    j = run(&b, "at-least-once", FL_VERDICT_INVALID);
    assert_int_equal(count(j, "lost"), 1);
    json_decref(j);

    H c = base("r 0 1000 2 5 40\nr 1000 2000 1 4 10\n");
    j = run(&c, "exactly-once", FL_VERDICT_INVALID);
    assert_int_equal(count(j, "spurious"), 1);
    json_decref(j);
}

static void test_duplicates(void **state)
{
    H a = base("r 0 1000 2 5 40\nr 0 1000 2 5 70\n");
    json_t *j = run(&a, "exactly-once", FL_VERDICT_INVALID);
    assert_int_equal(count(j, "duplicate"), 1);
    json_decref(j);

    H b = base("r 0 1000 2 5 40\nr 0 1000 2 5 70\n");
    j = run(&b, "at-least-once", FL_VERDICT_VALID);
    assert_int_equal(count(j, "duplicate"), 1);
    json_decref(j);
}

/* A window fired after the last checkpoint's marker may still be on its
 * way: missing it is not a loss. */
static void test_after_checkpoint(void **state)
{
    H x = { g_string_new(NULL), 0 };
    send(&x, 0, 1, 100);
    final_read(&x, 0, TUMBLING "e 1 100\nc\nw 1500\n");
    final_read(&x, 0, "sink exactly-once\n");
    json_t *j = run(&x, "exactly-once", FL_VERDICT_VALID);
    assert_int_equal(count(j, "not_out_yet"), 1);
    json_decref(j);
}

static void test_late_events(void **state)
{
    /* Event 4 (time 300) comes after the watermark 1500: [0, 1000) has
     * fired, so it is late and dropped. */
    H x = { g_string_new(NULL), 0 };
    send(&x, 0, 1, 100);
    send(&x, 0, 4, 300);
    final_read(&x, 0, TUMBLING "e 1 100\nw 1500\ne 4 300\nw 2500\nc\n");
    final_read(&x, 0, "sink exactly-once\nr 0 1000 1 2 5\n");
    json_t *j = run(&x, "exactly-once", FL_VERDICT_VALID);
    assert_int_equal(count(j, "late"), 1);
    json_decref(j);

    /* Counting it anyway is wrong. */
    H y = { g_string_new(NULL), 0 };
    send(&y, 0, 1, 100);
    send(&y, 0, 4, 300);
    final_read(&y, 0, TUMBLING "e 1 100\nw 1500\ne 4 300\nw 2500\nc\n");
    final_read(&y, 0, "sink exactly-once\nr 0 1000 2 7 5\n");
    j = run(&y, "exactly-once", FL_VERDICT_INVALID);
    assert_int_equal(count(j, "wrong"), 1);
    json_decref(j);
}

static void test_sliding_and_count(void **state)
{
    /* Sliding 1000 every 500: time 700 is in [0, 1000) and [500, 1500). */
    H x = { g_string_new(NULL), 0 };
    send(&x, 0, 10, 700);
    final_read(&x, 0, "source window=sliding size=1000 slide=500 count=0 sink=exactly-once\n"
                      "e 10 700\nw 2000\nc\n");
    final_read(&x, 0, "sink exactly-once\nr 0 1000 1 11 1\nr 500 1500 1 11 1\n");
    json_t *j = run(&x, "exactly-once", FL_VERDICT_VALID);
    assert_int_equal(count(j, "windows"), 2);
    json_decref(j);

    /* Count windows of 2: events 1, 2 fire window 0 (sum 5); 3 waits. */
    H y = { g_string_new(NULL), 0 };
    send(&y, 1, 1, 10);
    send(&y, 1, 2, 20);
    send(&y, 1, 3, 30);
    final_read(&y, 1, "source window=count size=1000 slide=1000 count=2 sink=exactly-once\n"
                      "e 1 10\ne 2 20\ne 3 30\nc\n");
    final_read(&y, 1, "sink exactly-once\nr 0 1 2 5 3\n");
    j = run(&y, "exactly-once", FL_VERDICT_VALID);
    assert_int_equal(count(j, "windows"), 1);
    json_decref(j);
}

static void test_source_log(void **state)
{
    /* An acknowledged event that the log does not have. */
    H a = { g_string_new(NULL), 0 };
    send(&a, 0, 1, 100);
    send(&a, 0, 2, 200);
    final_read(&a, 0, TUMBLING "e 1 100\nw 1500\nc\n");
    final_read(&a, 0, "sink exactly-once\nr 0 1000 1 2 1\n");
    json_t *j = run(&a, "exactly-once", FL_VERDICT_INVALID);
    assert_int_equal(count(j, "lost"), 1);
    json_decref(j);

    /* An event nobody sent, and one whose time is not what was answered. */
    H b = { g_string_new(NULL), 0 };
    send(&b, 0, 1, 100);
    final_read(&b, 0, TUMBLING "e 1 150\ne 9 120\nw 1500\nc\n");
    final_read(&b, 0, "sink exactly-once\nr 0 1000 2 12 1\n");
    j = run(&b, "exactly-once", FL_VERDICT_INVALID);
    assert_int_equal(count(j, "source"), 2);
    json_decref(j);
}

static void test_errors(void **state)
{
    g_autofree char *e1 = sx_check_error(
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"send\",\"key\":0,\"value\":{}}\n", "stream",
        "exactly-once");
    assert_non_null(strstr(e1, "id"));
    H x = { g_string_new(NULL), 0 };
    send(&x, 0, 1, 100);
    final_read(&x, 0, TUMBLING "e 1 100\nbogus\n");
    final_read(&x, 0, "sink exactly-once\n");
    g_autofree char *e2 = sx_check_error(x.h->str, "stream", "exactly-once");
    assert_non_null(strstr(e2, "bogus"));
    g_string_free(x.h, TRUE);
    g_autofree char *e3 = sx_check_error("", "stream", "linearizable");
    assert_non_null(strstr(e3, "exactly-once"));
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; bool duplicates; } runs[] = {
        { "scenarios/07-computation/stream.json", false },
        { "scenarios/07-computation/stream-operator-crash.json", false },
        { "scenarios/07-computation/stream-at-least-once.json", true },
        { "scenarios/07-computation/stream-sliding.json", false },
        { "scenarios/07-computation/stream-count-windows.json", false },
        { "scenarios/07-computation/stream-nemesis.json", false },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        FlRunResult res;
        sx_run_file(runs[i].file, -1, &res);
        if (!res.met)
            fail_msg("%s: %s", runs[i].file, (char *)g_ptr_array_index(res.unmet, 0));
        assert_int_equal(res.verdict, FL_VERDICT_VALID);
        assert_true(sx_check_int(&res, "windows") > 0);
        assert_int_equal(sx_check_int(&res, "keys_checked"), 4);
        if (runs[i].duplicates)
            assert_true(sx_check_int(&res, "duplicate") > 0);
        fl_run_result_clear(&res);
    }
    FlRunResult res;
    sx_run_file("scenarios/07-computation/stream-at-least-once-is-not-exactly-once.json", -1, &res);
    assert_true(res.met);
    assert_int_equal(res.verdict, FL_VERDICT_INVALID);
    fl_run_result_clear(&res);
}

static void test_nemesis_seeds(void **state)
{
    for (int64_t seed = 1; seed <= 20; seed++) {
        FlRunResult res;
        sx_run_file("scenarios/07-computation/stream-nemesis.json", seed, &res);
        if (res.verdict != FL_VERDICT_VALID)
            fail_msg("seed %" G_GINT64_FORMAT ": %s", seed,
                     res.check_report ? res.check_report->str : "");
        fl_run_result_clear(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_wrong_lost_spurious),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_after_checkpoint),
        cmocka_unit_test(test_late_events),
        cmocka_unit_test(test_sliding_and_count),
        cmocka_unit_test(test_source_log),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_nemesis_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
