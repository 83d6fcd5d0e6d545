/* Tests of sim/sla: the availability arithmetic (issue 22, item 4), on
 * operations and faults made by hand.  Windows with and without demand
 * (an operation spanning windows gives demand to each), up and down
 * windows, the error budget and burn rate, detection within a fault's
 * interval only, recovery from the first operation invoked after the
 * start, the stable leader, and MTTR and MTBF with overlapping faults. */
#include "sim/sla.h"

#include <glib.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define MS(x) ((FlTime)(x) * 1000000)

static json_int_t geti(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static double getf(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* 10 windows of 100 ms.  Demand in windows 0-5 and 8; ok ends in 0, 1, 2
 * and 8; window 3-5 hold one operation stuck from 300 ms to 590 ms (info):
 * three windows with demand and no ok.  6 and 7 have no demand at all. */
static void test_windows_budget_burn(void **state)
{
    (void)state;
    FlSlaOp ops[] = {
        { MS(10), MS(20), FL_SLA_OK },
        { MS(110), MS(150), FL_SLA_OK },
        { MS(250), MS(260), FL_SLA_OK },
        { MS(270), MS(280), FL_SLA_FAIL },   /* window 2: still up (an ok ended there) */
        { MS(300), MS(590), FL_SLA_INFO },   /* windows 3, 4, 5: demand, no ok */
        { MS(820), MS(830), FL_SLA_OK },
    };
    FlSlaInput in = { .end = MS(1000), .window = MS(100), .target = 0.9,
                      .ops = ops, .n_ops = G_N_ELEMENTS(ops) };
    json_t *o = fl_sla_json(&in);
    assert_int_equal(geti(o, "windows"), 10);
    assert_int_equal(geti(o, "demand_windows"), 7);
    assert_int_equal(geti(o, "up_windows"), 4);
    assert_int_equal(geti(o, "down_windows"), 3);
    assert_float_equal(getf(o, "availability"), 4.0 / 7.0, 1e-12);
    json_t *eb = json_object_get(o, "error_budget");
    /* (1 - 0.9) x 7 = 0.7 windows allowed; 3 spent: 3 / 0.7. */
    assert_float_equal(getf(eb, "allowed_windows"), 0.7, 1e-9);
    assert_float_equal(getf(eb, "spent"), 3 / 0.7, 1e-9);
    /* Burn rate: (3 / 7) / 0.1. */
    assert_float_equal(getf(o, "burn_rate"), (3.0 / 7.0) / 0.1, 1e-9);
    json_t *per = json_object_get(o, "per_window");
    assert_int_equal(json_array_size(per), 10);
    assert_true(json_is_true(json_object_get(json_array_get(per, 2), "up")));
    assert_int_equal(geti(json_array_get(per, 2), "fail"), 1);
    assert_true(json_is_false(json_object_get(json_array_get(per, 4), "up")));
    assert_true(json_is_true(json_object_get(json_array_get(per, 4), "demand")));
    assert_true(json_is_false(json_object_get(json_array_get(per, 6), "demand")));
    assert_int_equal(geti(json_array_get(per, 5), "info"), 1);
    /* The cumulative budget after window 5 is all three windows. */
    assert_float_equal(getf(json_array_get(per, 5), "budget_spent"), 3 / 0.7, 1e-9);
    assert_float_equal(getf(json_array_get(per, 3), "budget_spent"), 1 / 0.7, 1e-9);
    /* No faults: no MTTR, no MTBF. */
    assert_true(json_is_null(json_object_get(o, "mttr_ns")));
    assert_true(json_is_null(json_object_get(o, "mtbf_ns")));
    json_decref(o);
}

/* An operation open at the end has demand up to the last window; no
 * operation at all: availability 1, nothing spent. */
static void test_open_and_empty(void **state)
{
    (void)state;
    FlSlaOp ops[] = { { MS(500), 0, FL_SLA_OPEN } };
    FlSlaInput in = { .end = MS(1000), .window = MS(250), .target = 0.5,
                      .ops = ops, .n_ops = 1 };
    json_t *o = fl_sla_json(&in);
    assert_int_equal(geti(o, "demand_windows"), 2);
    assert_int_equal(geti(o, "up_windows"), 0);
    assert_float_equal(getf(o, "availability"), 0, 0);
    json_decref(o);
    in.n_ops = 0;
    o = fl_sla_json(&in);
    assert_int_equal(geti(o, "demand_windows"), 0);
    assert_float_equal(getf(o, "availability"), 1, 0);
    assert_float_equal(getf(json_object_get(o, "error_budget"), "spent"), 0, 0);
    json_decref(o);
}

/* Two faults on a 10 s run:
 *   A from 1 s to 3 s: a signal at 0.5 s (before: not it) and at 1.2 s;
 *     the op invoked at 0.9 s ends ok at 1.1 s (in flight: not a
 *     recovery); the first invoked after 1 s ends ok at 1.6 s: +600 ms.
 *   B from 1.4 s to 1.5 s: no signal inside it (the next, 1.2 s, is
 *     before; 2 s is after it healed): undetected; recovered by the
 *     same operation as A (invoked 1.45 s): +200 ms.
 * Downtime is the union [1 s, 1.6 s): 600 ms; MTTR (600 + 200) / 2;
 * MTBF (10 s - 600 ms) / 2. */
static void test_faults_mttr_mtbf(void **state)
{
    (void)state;
    FlSlaOp ops[] = {
        { MS(900), MS(1100), FL_SLA_OK },
        { MS(1450), MS(1600), FL_SLA_OK },
        { MS(1000), MS(1300), FL_SLA_INFO },
        { MS(5000), MS(5100), FL_SLA_OK },
    };
    FlSlaFault faults[] = {
        { MS(1000), MS(3000), "crash", "node 1" },
        { MS(1400), MS(1500), "partition", "{0} | {1,2}" },
    };
    FlTime signals[] = { MS(500), MS(1200), MS(2000) };
    /* Leader 0 until the crash at 1 s; none; 2 leads at 1.3 s but only
     * for 50 ms; 1 leads from 1.35 s on. */
    FlSlaLeader leaders[] = {
        { MS(100), 0 }, { MS(1000), -1 }, { MS(1300), 2 }, { MS(1350), -1 }, { MS(1350) + 1, 1 },
    };
    FlSlaInput in = { .end = MS(10000), .window = MS(100), .target = 0.99,
                      .ops = ops, .n_ops = G_N_ELEMENTS(ops),
                      .faults = faults, .n_faults = 2,
                      .signals = signals, .n_signals = 3,
                      .leaders = leaders, .n_leaders = G_N_ELEMENTS(leaders) };
    json_t *o = fl_sla_json(&in);
    json_t *fa = json_array_get(json_object_get(o, "faults"), 0),
           *fb = json_array_get(json_object_get(o, "faults"), 1);
    assert_int_equal(geti(fa, "detect_ns"), MS(200));
    assert_int_equal(geti(fa, "recover_ns"), MS(600));
    assert_int_equal(geti(fa, "leader_ns"), MS(350) + 1);
    assert_true(json_is_null(json_object_get(fb, "detect_ns")));
    assert_int_equal(geti(fb, "recover_ns"), MS(200));
    /* B starts while 1 leads: a stable leader at once. */
    assert_int_equal(geti(fb, "leader_ns"), 0);
    assert_int_equal(geti(fa, "stop_ns"), MS(3000));
    assert_int_equal(geti(o, "recovered"), 2);
    assert_int_equal(geti(o, "mttr_ns"), MS(400));
    assert_int_equal(geti(o, "downtime_ns"), MS(600));
    assert_int_equal(geti(o, "mtbf_ns"), (MS(10000) - MS(600)) / 2);
    json_decref(o);
}

/* A fault nothing recovers from is down to the end of the run. */
static void test_unrecovered(void **state)
{
    (void)state;
    FlSlaOp ops[] = { { MS(100), MS(200), FL_SLA_OK } };
    FlSlaFault faults[] = { { MS(4000), FL_TIME_NEVER, "crash", "all" } };
    FlSlaInput in = { .end = MS(10000), .window = MS(1000), .target = 0.999,
                      .ops = ops, .n_ops = 1, .faults = faults, .n_faults = 1 };
    json_t *o = fl_sla_json(&in);
    json_t *f = json_array_get(json_object_get(o, "faults"), 0);
    assert_true(json_is_null(json_object_get(f, "recover_ns")));
    assert_true(json_is_null(json_object_get(f, "stop_ns")));
    /* No leaders given: no leader figure at all. */
    assert_null(json_object_get(f, "leader_ns"));
    assert_true(json_is_null(json_object_get(o, "mttr_ns")));
    assert_int_equal(geti(o, "downtime_ns"), MS(6000));
    assert_int_equal(geti(o, "mtbf_ns"), MS(4000));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_budget_burn),
        cmocka_unit_test(test_open_and_empty),
        cmocka_unit_test(test_faults_mttr_mtbf),
        cmocka_unit_test(test_unrecovered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
