/* Tests of sim/resource: the queueing arithmetic of one first-come-first-
 * served server (completion = max(arrival, free) + service; a bounded
 * waiting room drops), then end to end: a scenario's `resources` slows a
 * saturated cluster down and counts what it drops, and a scenario without
 * it runs as before. */
#include "sim/resource.h"
#include "sim/run.h"
#include "sim/world.h"

#include <glib.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* An idle server serves at once; a busy one queues behind the work it has. */
static void test_fifo_completion(void **state)
{
    FlServer s;
    fl_server_init(&s, true, 10);
    assert_int_equal(fl_server_admit(&s, 100, 50), 150);   /* idle: 100 + 50 */
    assert_int_equal(fl_server_admit(&s, 120, 30), 180);   /* waits until 150 */
    assert_int_equal(fl_server_admit(&s, 130, 0), 180);    /* a free job still waits its turn */
    assert_int_equal(fl_server_backlog(&s, 130), 3);
    assert_int_equal(fl_server_backlog(&s, 150), 2);       /* the first is done at 150 */
    assert_int_equal(fl_server_admit(&s, 500, 10), 510);   /* idle again: no memory of the past */
    assert_int_equal(fl_server_backlog(&s, 500), 1);
    assert_int_equal(s.admitted, 4);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.busy, 90);
    assert_int_equal(s.peak, 3);
    fl_server_deinit(&s);
}

/* queue = 2: one in service and two waiting fit; a fourth is dropped and
 * changes nothing; once one is done there is room again. */
static void test_bounded_queue_drops(void **state)
{
    FlServer s;
    fl_server_init(&s, true, 2);
    assert_int_equal(fl_server_admit(&s, 0, 100), 100);
    assert_int_equal(fl_server_admit(&s, 0, 100), 200);
    assert_int_equal(fl_server_admit(&s, 0, 100), 300);
    assert_int_equal(fl_server_admit(&s, 10, 100), FL_TIME_NEVER);
    assert_int_equal(s.dropped, 1);
    assert_int_equal(s.free_at, 300);
    assert_int_equal(s.busy, 300);
    assert_int_equal(fl_server_admit(&s, 99, 5), FL_TIME_NEVER);   /* still 3 in the system */
    assert_int_equal(fl_server_admit(&s, 100, 5), 305);            /* the first left at 100 */
    assert_int_equal(s.dropped, 2);
    assert_int_equal(s.admitted, 4);
    /* The ring wraps: many rounds through a queue of 2 keep the arithmetic. */
    FlTime t = 1000;
    for (int i = 0; i < 50; i++, t += 10)
        assert_int_equal(fl_server_admit(&s, t, 10), t + 10);
    fl_server_deinit(&s);
}

/* queue = 0: only the job in service; everything arriving meanwhile drops. */
static void test_no_waiting_room(void **state)
{
    FlServer s;
    fl_server_init(&s, true, 0);
    assert_int_equal(fl_server_admit(&s, 0, 10), 10);
    assert_int_equal(fl_server_admit(&s, 5, 10), FL_TIME_NEVER);
    assert_int_equal(fl_server_admit(&s, 10, 10), 20);
    fl_server_deinit(&s);
}

/* Unbounded (a link): serialization delays add up, nothing drops. */
static void test_unbounded_link(void **state)
{
    FlServer s;
    fl_server_init(&s, false, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(fl_server_admit(&s, 0, 8), (FlTime)(i + 1) * 8);
    assert_int_equal(s.dropped, 0);
    fl_server_deinit(&s);
}

/* Utilisation: busy time over the run; work still queued at the end counts
 * only up to the end. */
static void test_utilisation(void **state)
{
    FlServer s;
    fl_server_init(&s, true, 10);
    fl_server_admit(&s, 0, 250);
    fl_server_admit(&s, 500, 250);
    assert_float_equal(fl_server_utilisation(&s, 1000), 0.5, 1e-12);
    fl_server_admit(&s, 900, 300);   /* runs 900..1200: 100 of it inside */
    assert_float_equal(fl_server_utilisation(&s, 1000), 0.6, 1e-12);
    assert_float_equal(fl_server_utilisation(&s, 0), 0.0, 1e-12);
    fl_server_deinit(&s);
}

/* M/D/1 by simulation: Poisson arrivals at load rho = 0.5 with a fixed
 * service S wait on average rho S / (2 (1 - rho)) = S / 2 (Pollaczek-
 * Khinchine); a long run lands within a few percent. */
static void test_md1_mean_wait(void **state)
{
    FlServer s;
    fl_server_init(&s, false, 0);
    GRand *r = g_rand_new_with_seed(7);
    const double S = 1000, rho = 0.5, mean_gap = S / rho;
    double t = 0, wait = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        t += -mean_gap * log(1.0 - g_rand_double(r));
        FlTime done = fl_server_admit(&s, (FlTime)t, (FlDuration)S);
        wait += (double)(done - (FlTime)t) - S;
    }
    g_rand_free(r);
    assert_float_equal(wait / n, S / 2, S * 0.05);
    fl_server_deinit(&s);
}

static const char *const scenario_text =
    "{\"duration\":\"3s\",\"cluster\":{\"protocol\":\"raft\",\"nodes\":3},%s"
    "\"network\":{\"delay\":{\"dist\":\"uniform\",\"min\":\"1ms\",\"max\":\"2ms\"}},"
    "%s"
    "\"workload\":{\"model\":\"kv\",\"clients\":8,\"keys\":2,\"rate\":%d,"
    "\"mix\":{\"get\":0.5,\"put\":0.5},\"timeout\":\"1s\",\"until\":\"2.5s\"}}";

static json_t *run_metrics_faults(const char *faults, const char *resources, int rate)
{
    g_autofree char *text = g_strdup_printf(scenario_text, faults, resources, rate);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    assert_non_null(root);
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(root, "test.json", -1, &err);
    json_decref(root);
    if (!sc)
        fail_msg("%s", err->message);
    FlRunResult res = { 0 };
    FlRunOptions opt = { 0 };
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("%s", err->message);
    json_t *m = json_incref(res.metrics);
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    return m;
}

static json_t *run_metrics(const char *resources, int rate)
{
    return run_metrics_faults("", resources, rate);
}

#define LAT(m, k) json_integer_value(json_object_get(json_object_get(m, "latency_ns"), k))

/* Far past capacity (4 ms a message at the leader, 400 ops/s offered),
 * latency grows by orders of magnitude, the CPU is the bottleneck, and a
 * small queue drops; without `resources` there is no "resources" figure
 * and latency stays at the network's. */
static void test_saturation_end_to_end(void **state)
{
    json_t *off = run_metrics("", 400);
    json_t *on = run_metrics("\"resources\":{\"cpu\":{\"cost\":\"4ms\",\"queue\":4}},", 400);
    assert_null(json_object_get(off, "resources"));
    json_t *cpu = json_object_get(json_object_get(on, "resources"), "cpu");
    assert_non_null(cpu);
    assert_true(json_real_value(json_object_get(cpu, "utilisation_max")) > 0.6);
    assert_true(json_integer_value(json_object_get(cpu, "dropped")) > 0);
    assert_true(LAT(on, "p50") > 10 * LAT(off, "p50"));
    /* Latency = queueing + service, apart in metrics.json. */
    assert_non_null(json_object_get(on, "queueing_ns"));
    assert_non_null(json_object_get(on, "service_ns"));
    json_decref(off);
    json_decref(on);
}

/* A crash empties the node's CPU queue (world.c note 5): with crashes of
 * loaded nodes the run is linearizable-shaped (every op answered or timed
 * out), deterministic, and a restarted node serves again. */
static void test_crash_with_queue(void **state)
{
    const char *faults = "\"faults\":[{\"at\":\"1s\",\"kind\":\"crash\",\"node\":\"leader\","
                         "\"restart_after\":\"300ms\"},{\"at\":\"1.8s\",\"kind\":\"crash\","
                         "\"node\":\"leader\",\"restart_after\":\"100ms\"}],";
    const char *res = "\"resources\":{\"cpu\":{\"cost\":\"2ms\",\"queue\":50}},";
    json_t *a = run_metrics_faults(faults, res, 600);
    json_t *b = run_metrics_faults(faults, res, 600);
    assert_string_equal(json_string_value(json_object_get(a, "trace_hash")),
                        json_string_value(json_object_get(b, "trace_hash")));
    json_t *nodes = json_object_get(json_object_get(json_object_get(a, "resources"), "cpu"), "nodes");
    assert_int_equal(json_array_size(nodes), 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(json_integer_value(json_object_get(json_array_get(nodes, i), "served")) > 0);
    assert_true(json_integer_value(json_object_get(json_object_get(a, "ops"), "ok")) > 100);
    json_decref(a);
    json_decref(b);
}

/* A disk whose sync takes 5 ms (world.c note 5): a Raft write waits for
 * the leader's and a follower's sync before its reply leaves, so the
 * median latency (half reads, which sync nothing) grows by at least one
 * sync; messages were held;
 * with the leader crashed mid-run the run stays deterministic. */
static void test_disk_sync(void **state)
{
    json_t *off = run_metrics("", 100);
    const char *res = "\"resources\":{\"disk\":{\"sync\":\"5ms\",\"bytes_per_s\":1e8}},";
    json_t *on = run_metrics(res, 100);
    json_t *disk = json_object_get(json_object_get(on, "resources"), "disk");
    assert_non_null(disk);
    assert_true(json_integer_value(json_object_get(disk, "syncs")) > 100);
    assert_true(json_integer_value(json_object_get(disk, "held_messages")) > 100);
    assert_true(json_real_value(json_object_get(disk, "utilisation_max")) > 0.05);
    assert_true(LAT(on, "p50") >= LAT(off, "p50") + 5000000);
    const char *faults = "\"faults\":[{\"at\":\"1s\",\"kind\":\"crash\",\"node\":\"leader\","
                         "\"restart_after\":\"300ms\"}],";
    json_t *a = run_metrics_faults(faults, res, 300);
    json_t *b = run_metrics_faults(faults, res, 300);
    assert_string_equal(json_string_value(json_object_get(a, "trace_hash")),
                        json_string_value(json_object_get(b, "trace_hash")));
    assert_true(json_integer_value(json_object_get(json_object_get(a, "ops"), "ok")) > 100);
    json_decref(off);
    json_decref(on);
    json_decref(a);
    json_decref(b);
}

#define UTIL(m, i)                                                                               \
    json_real_value(json_object_get(                                                             \
        json_array_get(json_object_get(json_object_get(json_object_get(m, "resources"), "cpu"),  \
                                       "nodes"),                                                  \
                       i),                                                                        \
        "utilisation"))

/* `per_kind` (world.c note 5): a kind's cost replaces `cost` for its
 * messages only.  Raft's leader receives the followers' replies and each
 * follower the leader's AppendEntries, so making one kind dear loads one
 * side: dear replies load the leader alone, dear AppendEntries the
 * followers.  Giving every kind the cost itself changes nothing, not even
 * the trace: the lookup draws from the same stream as `cost` does. */
static void test_cpu_per_kind(void **state)
{
    json_t *base = run_metrics("\"resources\":{\"cpu\":{\"cost\":\"200us\"}},", 100);
    json_t *same = run_metrics(
        "\"resources\":{\"cpu\":{\"cost\":\"200us\",\"per_kind\":{\"AppendEntries\":\"200us\","
        "\"AppendEntriesReply\":\"200us\",\"RequestVote\":\"200us\"}}},",
        100);
    assert_string_equal(json_string_value(json_object_get(base, "trace_hash")),
                        json_string_value(json_object_get(same, "trace_hash")));
    json_t *replies = run_metrics(
        "\"resources\":{\"cpu\":{\"cost\":\"50us\",\"per_kind\":{\"AppendEntriesReply\":\"3ms\"}}},",
        100);
    json_t *appends = run_metrics(
        "\"resources\":{\"cpu\":{\"cost\":\"50us\",\"per_kind\":{\"AppendEntries\":\"3ms\"}}},",
        100);
    /* The busiest node under dear replies (the leader) is the idlest under
     * dear AppendEntries, and the gap is wide both ways. */
    int leader = 0;
    for (int i = 1; i < 3; i++)
        if (UTIL(replies, i) > UTIL(replies, leader))
            leader = i;
    for (int i = 0; i < 3; i++) {
        if (i == leader)
            continue;
        assert_true(UTIL(replies, leader) > 4 * UTIL(replies, i));
        assert_true(UTIL(appends, i) > 4 * UTIL(appends, leader));
    }
    json_decref(base);
    json_decref(same);
    json_decref(replies);
    json_decref(appends);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_completion),
        cmocka_unit_test(test_bounded_queue_drops),
        cmocka_unit_test(test_no_waiting_room),
        cmocka_unit_test(test_unbounded_link),
        cmocka_unit_test(test_utilisation),
        cmocka_unit_test(test_md1_mean_wait),
        cmocka_unit_test(test_saturation_end_to_end),
        cmocka_unit_test(test_crash_with_queue),
        cmocka_unit_test(test_disk_sync),
        cmocka_unit_test(test_cpu_per_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
