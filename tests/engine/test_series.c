/* Tests of sim/series: the window arithmetic of the time series (issue 22,
 * item 3).  Which window a time falls in (the run's end belongs to the last
 * one), a last window cut short, an operation that spans windows (offered
 * where it arrived, counted and measured where it ended), a CPU job spread
 * over the windows it ran in, and empty windows, which have counts of 0 and
 * no latency or availability at all. */
#include "sim/series.h"

#include <glib.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define MS(x) ((FlTime)(x) * 1000000)

static void test_window_of(void **state)
{
    (void)state;
    /* 1 s in 100 ms: ten windows, the end itself in the last. */
    assert_int_equal(fl_series_count(MS(100), MS(1000)), 10);
    assert_int_equal(fl_series_window_of(MS(100), MS(1000), 0), 0);
    assert_int_equal(fl_series_window_of(MS(100), MS(1000), MS(100) - 1), 0);
    assert_int_equal(fl_series_window_of(MS(100), MS(1000), MS(100)), 1);
    assert_int_equal(fl_series_window_of(MS(100), MS(1000), MS(1000)), 9);
    /* A run shorter than a window still has one. */
    assert_int_equal(fl_series_count(MS(100), MS(30)), 1);
    assert_int_equal(fl_series_count(MS(100), 0), 1);
    /* A very long run gets wider windows, within the bound. */
    assert_int_equal(fl_series_fit((FlDuration)MS(100), MS(1000)), MS(100));
    FlTime long_run = (FlTime)999999 * 3600 * 1000000000ull;
    FlDuration w = fl_series_fit(MS(100), long_run);
    assert_true(w > (FlDuration)MS(100));
    assert_true(fl_series_count(w, long_run) <= FL_SERIES_MAX_WINDOWS);
}

/* 1.05 s in 100 ms: eleven windows, the last 50 ms long. */
static void test_last_partial_window(void **state)
{
    (void)state;
    FlTime t0, t1;
    assert_int_equal(fl_series_count(MS(100), MS(1050)), 11);
    fl_series_bounds(MS(100), MS(1050), 9, &t0, &t1);
    assert_int_equal(t0, MS(900));
    assert_int_equal(t1, MS(1000));
    fl_series_bounds(MS(100), MS(1050), 10, &t0, &t1);
    assert_int_equal(t0, MS(1000));
    assert_int_equal(t1, MS(1050));
    assert_int_equal(fl_series_window_of(MS(100), MS(1050), MS(1050)), 10);

    /* Its rate is per second of its own length: 5 ok in 50 ms = 100/s. */
    FlSeries *s = fl_series_new(MS(100), MS(1050), 1, 1);
    for (int i = 0; i < 5; i++) {
        fl_series_offer(s, MS(1010));
        fl_series_end(s, MS(1010), MS(1020), FL_SERIES_OK);
    }
    uint64_t synced = 0;
    for (uint32_t k = 0; k < 11; k++)
        fl_series_close(s, k, NULL, &synced, json_object());
    json_t *j = fl_series_json(s);
    json_t *last = json_array_get(j, 10);
    assert_int_equal(json_integer_value(json_object_get(last, "t1_ns")), MS(1050));
    assert_true(json_real_value(json_object_get(last, "completed_per_s")) == 100.0);
    assert_true(json_real_value(json_object_get(last, "offered_per_s")) == 100.0);
    json_decref(j);
    fl_series_free(s);
}

/* An operation that arrives at 50 ms and ends at 250 ms: offered in window
 * 0, ok in window 2 with a latency of 200 ms; window 1, in between, is
 * empty; a timeout and a failure count where they end, with availability
 * the share of ok among the window's ends. */
static void test_operation_spanning_windows(void **state)
{
    (void)state;
    FlSeries *s = fl_series_new(MS(100), MS(400), 2, 3);
    fl_series_offer(s, MS(50));
    fl_series_end(s, MS(50), MS(250), FL_SERIES_OK);
    fl_series_offer(s, MS(210));
    fl_series_end(s, MS(210), MS(290), FL_SERIES_TIMEOUT);
    fl_series_offer(s, MS(220));
    fl_series_end(s, MS(220), MS(299), FL_SERIES_FAIL);
    fl_series_offer(s, MS(230));
    fl_series_end(s, MS(230), MS(240), FL_SERIES_OK);
    fl_series_link_bytes(s, 0, 2, 100);
    uint64_t synced[2] = { 0, 0 };
    uint32_t queue[2] = { 0, 0 };
    for (uint32_t k = 0; k < 4; k++) {
        if (k == 2) {
            synced[1] = 4096;
            queue[0] = 3;
            fl_series_link_bytes(s, 2, 0, 7);
        }
        fl_series_close(s, k, queue, synced, json_pack("{s:f}", "x", (double)k));
    }
    assert_int_equal(fl_series_closed(s), 4);
    json_t *j = fl_series_json(s);
    json_t *w0 = json_array_get(j, 0), *w1 = json_array_get(j, 1), *w2 = json_array_get(j, 2);
    assert_int_equal(json_integer_value(json_object_get(w0, "offered")), 1);
    assert_int_equal(json_integer_value(json_object_get(w0, "ok")), 0);
    assert_null(json_object_get(w0, "latency_ns"));
    /* The empty window: zeros, and neither latency nor availability. */
    assert_int_equal(json_integer_value(json_object_get(w1, "offered")), 0);
    assert_int_equal(json_integer_value(json_object_get(w1, "ok")), 0);
    assert_null(json_object_get(w1, "latency_ns"));
    assert_null(json_object_get(w1, "availability"));
    assert_true(json_real_value(json_object_get(w1, "completed_per_s")) == 0.0);
    /* Where the operations ended. */
    assert_int_equal(json_integer_value(json_object_get(w2, "offered")), 3);
    assert_int_equal(json_integer_value(json_object_get(w2, "ok")), 2);
    assert_int_equal(json_integer_value(json_object_get(w2, "timeout")), 1);
    assert_int_equal(json_integer_value(json_object_get(w2, "fail")), 1);
    assert_true(json_real_value(json_object_get(w2, "availability")) == 0.5);
    json_t *lat = json_object_get(w2, "latency_ns");
    assert_int_equal(json_integer_value(json_object_get(lat, "count")), 2);
    assert_int_equal(json_integer_value(json_object_get(lat, "p50")), MS(10));
    assert_int_equal(json_integer_value(json_object_get(lat, "max")), MS(200));
    assert_int_equal(json_integer_value(json_object_get(lat, "sum")), MS(210));
    /* Samples of a window's end, cumulative ones kept as given. */
    json_t *n1 = json_array_get(json_object_get(w2, "nodes"), 1);
    assert_int_equal(json_integer_value(json_object_get(n1, "disk_synced_bytes")), 4096);
    json_t *n0 = json_array_get(json_object_get(w2, "nodes"), 0);
    assert_int_equal(json_integer_value(json_object_get(n0, "queue")), 3);
    assert_int_equal(json_array_size(json_object_get(w0, "links")), 1);
    assert_int_equal(json_array_size(json_object_get(w2, "links")), 2);
    json_t *l = json_array_get(json_object_get(w2, "links"), 1);
    assert_int_equal(json_integer_value(json_object_get(l, "from")), 2);
    assert_int_equal(json_integer_value(json_object_get(l, "bytes")), 7);
    assert_true(json_real_value(json_object_get(json_object_get(w2, "counters"), "x")) == 2.0);
    json_decref(j);
    fl_series_free(s);
}

/* A CPU job from 80 ms to 230 ms is busy 20 ms in window 0, all of window
 * 1 and 30 ms of window 2; work past the run's end is not counted. */
static void test_busy_spread(void **state)
{
    (void)state;
    FlSeries *s = fl_series_new(MS(100), MS(300), 1, 1);
    fl_series_busy(s, 0, MS(80), MS(230));
    fl_series_busy(s, 0, MS(290), MS(500));
    fl_series_busy(s, 0, MS(300), MS(300));
    uint64_t synced = 0;
    uint32_t queue = 0;
    for (uint32_t k = 0; k < 3; k++)
        fl_series_close(s, k, &queue, &synced, json_object());
    json_t *j = fl_series_json(s);
    double b[3];
    for (int k = 0; k < 3; k++)
        b[k] = json_real_value(json_object_get(json_array_get(json_object_get(json_array_get(j, k), "nodes"), 0),
                                               "cpu_busy"));
    assert_true(b[0] > 0.1999 && b[0] < 0.2001);
    assert_true(b[1] == 1.0);
    assert_true(b[2] > 0.3999 && b[2] < 0.4001);   /* 30 ms + the 10 ms before the end */
    json_decref(j);
    fl_series_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_of),
        cmocka_unit_test(test_last_partial_window),
        cmocka_unit_test(test_operation_spanning_windows),
        cmocka_unit_test(test_busy_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
