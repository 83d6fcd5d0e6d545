/* Each fault kind on primary-backup and on lww, with the effect it should
 * have, measured against the same scenario without faults.
 *
 * primary-backup (scenarios/00-basics/primary-backup.json): node 0 answers
 * only when both backups have an update, so anything that slows or cuts a
 * replica stalls updates (operations time out: `info`), while its history
 * stays linearizable.  lww (tests/faults/lww-quiet.json): every replica
 * answers at once and the base history is linearizable; anything that
 * keeps an update from a replica, or misorders its clock, makes it serve
 * stale values: not linearizable. */
#include "tests/faults/helpers.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define PB "scenarios/00-basics/primary-backup.json"
#define LWW "tests/faults/lww-quiet.json"

static FlRunResult pb_base, lww_base;

static int setup(void **state)
{
    FlScenario *sc = fx_scenario(PB, "[]", NULL, NULL);
    fx_run(sc, &pb_base);
    fl_scenario_free(sc);
    sc = fx_scenario(LWW, "[]", NULL, NULL);
    fx_run(sc, &lww_base);
    fl_scenario_free(sc);
    /* The bases: no timeouts, and both linearizable. */
    assert_int_equal(fx_ops(&pb_base, "info"), 0);
    assert_int_equal(pb_base.verdict, FL_VERDICT_VALID);
    assert_int_equal(lww_base.verdict, FL_VERDICT_VALID);
    assert_int_equal(fx_messages(&lww_base, "dropped"), 0);
    return 0;
}

static int teardown(void **state)
{
    fl_run_result_clear(&pb_base);
    fl_run_result_clear(&lww_base);
    return 0;
}

/* Runs @base with @faults into @res. */
static void run(const char *base, const char *faults, FlRunResult *res)
{
    FlScenario *sc = fx_scenario(base, faults, NULL, NULL);
    fx_run(sc, res);
    fl_scenario_free(sc);
    /* Every fault start shows in the fault intervals. */
    if (strcmp(faults, "[]") != 0)
        assert_true(json_array_size(json_object_get(res->metrics, "faults")) > 0);
}

/* primary-backup: updates stall while a replica cannot take part, and the
 * history stays linearizable. */
static void pb_stalls(const char *faults)
{
    FlRunResult r;
    run(PB, faults, &r);
    if (fx_ops(&r, "info") <= fx_ops(&pb_base, "info") || r.verdict != FL_VERDICT_VALID)
        fail_msg("%s: expected timeouts and a linearizable history, got %" PRId64 " info, %s",
                 faults, fx_ops(&r, "info"), fl_verdict_name(r.verdict));
    assert_true(fx_availability(&r) < fx_availability(&pb_base));
    fl_run_result_clear(&r);
}

/* lww: a replica misses updates or misorders them: stale reads. */
static void lww_breaks(const char *faults)
{
    FlRunResult r;
    run(LWW, faults, &r);
    if (r.verdict != FL_VERDICT_INVALID)
        fail_msg("%s: expected a history that is not linearizable, got %s", faults,
                 fl_verdict_name(r.verdict));
    fl_run_result_clear(&r);
}

/* lww: the clients of an unavailable replica time out. */
static void lww_times_out(const char *faults)
{
    FlRunResult r;
    run(LWW, faults, &r);
    if (fx_ops(&r, "info") <= fx_ops(&lww_base, "info"))
        fail_msg("%s: expected timeouts, got %" PRId64 " info", faults, fx_ops(&r, "info"));
    fl_run_result_clear(&r);
}

static int64_t mean_latency(const FlRunResult *r)
{
    return json_integer_value(json_object_get(json_object_get(r->metrics, "latency_ns"), "mean"));
}

/* The mean latency, in ns, of the updates (anything but a get) invoked in
 * [@from_ns, @to_ns) that completed ok, read from @r's history. */
static int64_t window_update_latency(const FlRunResult *r, int64_t from_ns, int64_t to_ns)
{
    g_autoptr(GHashTable) invoked = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_auto(GStrv) lines = g_strsplit(r->history->str, "\n", -1);
    g_autofree int64_t *keys = g_new0(int64_t, g_strv_length(lines) + 1);
    int64_t sum = 0, n = 0;
    for (guint i = 0; lines[i]; i++) {
        if (!lines[i][0])
            continue;
        json_t *h = json_loads(lines[i], 0, NULL);
        assert_non_null(h);
        keys[i] = json_integer_value(json_object_get(h, "process"));
        const char *type = json_string_value(json_object_get(h, "type"));
        int64_t t = json_integer_value(json_object_get(h, "time"));
        if (strcmp(type, "invoke") == 0) {
            g_hash_table_insert(invoked, &keys[i], (gpointer)(intptr_t)(t + 1));
        } else {
            int64_t at = (intptr_t)g_hash_table_lookup(invoked, &keys[i]) - 1;
            if (strcmp(type, "ok") == 0 && at >= from_ns && at < to_ns &&
                strcmp(json_string_value(json_object_get(h, "f")), "get") != 0) {
                sum += t - at;
                n++;
            }
        }
        json_decref(h);
    }
    assert_true(n > 0);
    return sum / n;
}

static void test_crash(void **state)
{
    pb_stalls("[{\"at\":\"4s\",\"kind\":\"crash\",\"node\":2,\"restart_after\":\"2s\"}]");
    /* lww: the clients of the crashed replica time out; the others go on. */
    lww_times_out("[{\"at\":\"2s\",\"kind\":\"crash\",\"node\":1,\"restart_after\":\"1s\"}]");
}

static void test_pause(void **state)
{
    pb_stalls("[{\"at\":\"3s\",\"kind\":\"pause\",\"node\":0,\"for\":\"2s\"}]");
    /* A paused lww replica answers late: its clients time out. */
    lww_times_out("[{\"at\":\"2s\",\"kind\":\"pause\",\"node\":1,\"for\":\"5s\"}]");
}

static void test_omission(void **state)
{
    pb_stalls("[{\"at\":\"3s\",\"for\":\"3s\",\"kind\":\"omission\",\"node\":1,\"mode\":\"receive\"}]");
    pb_stalls("[{\"at\":\"3s\",\"for\":\"3s\",\"kind\":\"omission\",\"node\":0,\"mode\":\"send\"}]");
    lww_breaks("[{\"at\":\"2s\",\"for\":\"5s\",\"kind\":\"omission\",\"node\":1,\"mode\":\"receive\"}]");
    /* Per link, both directions, with a probability. */
    lww_breaks("[{\"at\":\"2s\",\"for\":\"5s\",\"kind\":\"omission\",\"from\":1,\"to\":2,\"mode\":\"both\",\"p\":0.9}]");
}

static void test_partition(void **state)
{
    pb_stalls("[{\"at\":\"3s\",\"for\":\"3s\",\"kind\":\"partition\",\"isolate\":0}]");
    pb_stalls("[{\"at\":\"3s\",\"for\":\"3s\",\"kind\":\"partition\",\"shape\":\"bridge\",\"order\":[0,1,2]}]");
    lww_breaks("[{\"at\":\"2s\",\"for\":\"5s\",\"kind\":\"partition\",\"shape\":\"halves\"}]");
    lww_breaks("[{\"at\":\"2s\",\"for\":\"5s\",\"kind\":\"partition\",\"isolate\":2,\"oneway\":true}]");
}

static void test_delay(void **state)
{
    FlRunResult r;
    run(PB, "[{\"at\":\"3s\",\"for\":\"3s\",\"kind\":\"delay\",\"from\":0,\"extra\":\"200ms\"}]", &r);
    /* Updates during the 3s wait 200ms more for their backups: measured on
     * the updates invoked in the window (about 100ms in the base, 245ms with
     * the delay; some of the delay overlaps the base's wait for a
     * retransmit round).  This used to be the run's p99 rising by 100ms,
     * but with open-loop clients updates queue at the classic primary (its
     * backups drop REPLs that arrive out of order and wait for the next
     * 50ms retransmit round), so the base p99 alone is about 200ms and the
     * whole-run p99 rises by about 60ms only: it measures the base's queue
     * more than the fault.  The p99 must still rise. */
    const int64_t from = (int64_t)FL_MS(3000), to = (int64_t)FL_MS(6000);
    assert_true(window_update_latency(&r, from, to) >
                window_update_latency(&pb_base, from, to) + (int64_t)FL_MS(100));
    assert_true(fx_p99(&r) > fx_p99(&pb_base) + (int64_t)FL_MS(40));
    assert_true(mean_latency(&r) > mean_latency(&pb_base) + 5000000);
    assert_int_equal(r.verdict, FL_VERDICT_VALID);
    fl_run_result_clear(&r);
    lww_breaks("[{\"at\":\"2s\",\"for\":\"5s\",\"kind\":\"delay\",\"extra\":\"300ms\",\"jitter\":\"200ms\"}]");
}

static void test_duplicate(void **state)
{
    /* Copies are delivered on top of what was sent; both protocols are
     * idempotent, so nothing else changes. */
    FlRunResult r;
    run(PB, "[{\"kind\":\"duplicate\",\"p\":0.5}]", &r);
    assert_true(fx_messages(&r, "delivered") > fx_messages(&r, "sent") * 5 / 4);
    assert_int_equal(r.verdict, FL_VERDICT_VALID);
    fl_run_result_clear(&r);
    run(LWW, "[{\"kind\":\"duplicate\",\"p\":0.5}]", &r);
    assert_true(fx_messages(&r, "delivered") > fx_messages(&r, "sent"));
    assert_int_equal(r.verdict, FL_VERDICT_VALID);
    fl_run_result_clear(&r);
}

static void test_clog(void **state)
{
    /* Clogged links hold updates: slower, and some time out. */
    FlRunResult r;
    run(PB, "[{\"at\":\"2s\",\"for\":\"6s\",\"kind\":\"clog\",\"every\":\"500ms\"}]", &r);
    assert_true(fx_ops(&r, "info") > 0);
    assert_int_equal(fx_messages(&r, "dropped"), 0);   /* held, never lost */
    assert_int_equal(r.verdict, FL_VERDICT_VALID);
    fl_run_result_clear(&r);
    /* With a capacity, what overflows a clogged link is lost. */
    run(PB, "[{\"at\":\"2s\",\"for\":\"6s\",\"kind\":\"clog\",\"every\":\"500ms\",\"capacity\":2}]", &r);
    assert_true(fx_messages(&r, "dropped") > 0);
    fl_run_result_clear(&r);
    lww_breaks("[{\"at\":\"1s\",\"for\":\"8s\",\"kind\":\"clog\",\"every\":\"1s\"}]");
}

static void test_byzantine(void **state)
{
    pb_stalls("[{\"at\":\"3s\",\"for\":\"3s\",\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"drop-all\"}]");
    pb_stalls("[{\"at\":\"3s\",\"for\":\"3s\",\"kind\":\"byzantine\",\"node\":2,\"behaviour\":\"corrupt\"}]");
    lww_breaks("[{\"at\":\"1s\",\"for\":\"8s\",\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"random\"}]");
    /* Replayed updates are old: last-writer-wins ignores them. */
    FlRunResult r;
    run(LWW, "[{\"at\":\"1s\",\"for\":\"8s\",\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"replay\"}]", &r);
    assert_true(fx_messages(&r, "sent") > fx_messages(&lww_base, "sent"));
    assert_int_equal(r.verdict, FL_VERDICT_VALID);
    fl_run_result_clear(&r);
}

static void test_clock(void **state)
{
    /* primary-backup never reads a clock (its timers are relative): the
     * same operations, the same answers.  (A drift would change when its
     * timers fire.) */
    FlRunResult r;
    run(PB, "[{\"at\":\"2s\",\"for\":\"6s\",\"kind\":\"clock\",\"node\":0,\"jump\":\"-1s\"}]", &r);
    assert_string_equal(r.history->str, pb_base.history->str);
    fl_run_result_clear(&r);
    /* lww stamps writes with the local clock: one that runs 2s behind
     * loses its writes to older ones. */
    lww_breaks("[{\"at\":\"2s\",\"for\":\"5s\",\"kind\":\"clock\",\"node\":1,\"jump\":\"-2s\"}]");
    lww_breaks("[{\"at\":\"2s\",\"kind\":\"clock\",\"node\":\"*\",\"skew\":\"-3s\",\"drift\":-0.2}]");
}

static void test_disk(void **state)
{
    /* A backup whose last synced log record is torn comes back without an
     * update it acknowledged; the primary, which only ever raises what it
     * believes a backup holds, never resends it: updates stall for good.
     * A plain crash of the same backup recovers. */
    FlRunResult plain, torn;
    run(PB, "[{\"at\":\"4s\",\"kind\":\"disk\",\"node\":1,\"mode\":\"lose-unsynced\",\"restart_after\":\"1s\"}]", &plain);
    run(PB, "[{\"at\":\"4s\",\"kind\":\"disk\",\"node\":1,\"mode\":\"torn\",\"restart_after\":\"1s\"}]", &torn);
    assert_true(fx_ops(&torn, "info") > 3 * fx_ops(&plain, "info") + 10);
    fl_run_result_clear(&plain);
    fl_run_result_clear(&torn);
    pb_stalls("[{\"at\":\"4s\",\"kind\":\"disk\",\"node\":2,\"mode\":\"corrupt\",\"restart_after\":\"1s\"}]");
    /* lww keeps nothing on disk: a disk fault is a crash. */
    lww_times_out("[{\"at\":\"3s\",\"kind\":\"disk\",\"node\":1,\"mode\":\"corrupt\",\"restart_after\":\"1s\"}]");
}

static void test_nemesis(void **state)
{
    pb_stalls("[{\"kind\":\"nemesis\",\"from\":\"1s\",\"until\":\"9s\",\"max_down\":1,\"shapes\":[\"single\",\"reform\",\"sequence\"]}]");
    lww_breaks("[{\"kind\":\"nemesis\",\"from\":\"1s\",\"until\":\"9s\",\"every\":[\"300ms\",\"1s\"],"
               "\"kinds\":[\"partition\",\"omission\",\"clock\"],\"shapes\":[\"single\",\"reform\",\"sequence\"]}]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_pause),
        cmocka_unit_test(test_omission),
        cmocka_unit_test(test_partition),
        cmocka_unit_test(test_delay),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_clog),
        cmocka_unit_test(test_byzantine),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_disk),
        cmocka_unit_test(test_nemesis),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
