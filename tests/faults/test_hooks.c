/* The engine hooks the faults stand on, checked directly: duplicated
 * messages, clocks changed and restored, the exact damage of disk faults,
 * clogged links that hold messages until restored, and Byzantine drops in
 * the trace. */
#include "tests/faults/helpers.h"

#include "sim/net.h"
#include "sim/world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static FlFilterAction always_duplicate(void *ctx, uint32_t from, uint32_t to, FlTime now,
                                       FlRng *rng, FlDuration *extra)
{
    return FL_FILTER_DUPLICATE;
}

static FlFilterAction pass(void *ctx, uint32_t from, uint32_t to, FlTime now, FlRng *rng,
                           FlDuration *extra)
{
    return FL_FILTER_PASS;
}

static void test_duplicate_copies(void **state)
{
    FlNetSpec spec = { .timing = FL_TIMING_ASYNC,
                       .delay = { .dist = FL_DIST_UNIFORM, .min = FL_MS(1), .max = FL_MS(9) } };
    FlNet *a = fl_net_new(&spec, 4, 42), *b = fl_net_new(&spec, 4, 42);
    /* Without a duplicating filter, route_copies draws what route draws. */
    fl_net_add_filter(b, pass, NULL);
    for (int i = 0; i < 100; i++) {
        FlTime t1, t2[FL_NET_MAX_COPIES];
        const char *why;
        assert_true(fl_net_route(a, 0, 1, 1000, &t1, &why));
        assert_int_equal(fl_net_route_copies(b, 0, 1, 1000, t2, FL_NET_MAX_COPIES, &why), 1);
        assert_int_equal(t1, t2[0]);
    }
    /* Two duplicating filters: three copies, each with its own delay; the
     * caller's maximum caps them. */
    fl_net_add_filter(a, always_duplicate, NULL);
    fl_net_add_filter(a, always_duplicate, NULL);
    FlTime t[FL_NET_MAX_COPIES];
    const char *why;
    assert_int_equal(fl_net_route_copies(a, 0, 1, 0, t, FL_NET_MAX_COPIES, &why), 3);
    assert_true(t[0] != t[1] || t[1] != t[2]);
    assert_int_equal(fl_net_route_copies(a, 0, 1, 0, t, 2, &why), 2);
    assert_true(fl_net_route(a, 0, 1, 0, t, &why));
    fl_net_free(a);
    fl_net_free(b);
}

static FlWorld *run_world(const char *text, FlScenario **psc)
{
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    FlWorld *w = fl_world_new(sc, NULL, &err);
    assert_non_null(w);
    assert_int_equal(fl_world_run(w, &err), 0);
    *psc = sc;
    return w;
}

static void test_clock(void **state)
{
    FlScenario *sc;
    /* Jumped, drifting, then restored: the clock reads true time again. */
    FlWorld *w = run_world("{\"duration\":\"4s\",\"cluster\":{\"protocol\":\"single\",\"nodes\":2},"
                           "\"faults\":[{\"at\":\"1s\",\"for\":\"2s\",\"kind\":\"clock\",\"node\":1,"
                           "\"jump\":\"5s\",\"drift\":0.01}]}", &sc);
    assert_int_equal(fl_world_local_time(w, 1), FL_SEC(4));
    assert_int_equal(fl_world_local_time(w, 0), FL_SEC(4));
    fl_world_free(w);
    fl_scenario_free(sc);
    /* Not restored: 4s + 5s jumped + 1% of the 3s since. */
    w = run_world("{\"duration\":\"4s\",\"cluster\":{\"protocol\":\"single\",\"nodes\":2},"
                  "\"faults\":[{\"at\":\"1s\",\"kind\":\"clock\",\"node\":1,\"jump\":\"5s\",\"drift\":0.01}]}", &sc);
    assert_int_equal(fl_world_local_time(w, 1), FL_SEC(9) + FL_MS(30));
    fl_world_free(w);
    fl_scenario_free(sc);
    /* A skew sets the distance to true time, whatever the clock was. */
    w = run_world("{\"duration\":\"4s\",\"cluster\":{\"protocol\":\"single\",\"nodes\":2},"
                  "\"network\":{\"skew\":\"300ms\"},"
                  "\"faults\":[{\"at\":\"1s\",\"kind\":\"clock\",\"node\":\"*\",\"skew\":\"-250ms\"}]}", &sc);
    assert_int_equal(fl_world_local_time(w, 0), FL_SEC(4) - FL_MS(250));
    assert_int_equal(fl_world_local_time(w, 1), FL_SEC(4) - FL_MS(250));
    fl_world_free(w);
    fl_scenario_free(sc);
}

/* The single server's log after a disk fault at 2s (no restart), against
 * the same run with a plain crash. */
static GByteArray *log_after(const char *mode, int seed)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":%d,\"duration\":\"3s\",\"cluster\":{\"protocol\":\"single\",\"nodes\":1},"
        "\"workload\":{\"model\":\"kv\",\"clients\":2,\"rate\":200},"
        "\"faults\":[{\"at\":\"2s\",\"kind\":\"disk\",\"node\":0,\"mode\":\"%s\"}]}", seed, mode);
    FlScenario *sc;
    FlWorld *w = run_world(text, &sc);
    FlDisk *d = fl_world_disk(w, 0);
    assert_int_equal(fl_disk_files(d), 1);
    GByteArray *b = fl_disk_durable(d, 0);
    GByteArray *copy = g_byte_array_new();
    g_byte_array_append(copy, b->data, b->len);
    fl_world_free(w);
    fl_scenario_free(sc);
    return copy;
}

static void test_disk_damage(void **state)
{
    for (int seed = 1; seed <= 10; seed++) {
        GByteArray *plain = log_after("lose-unsynced", seed);
        GByteArray *torn = log_after("torn", seed);
        GByteArray *bad = log_after("corrupt", seed);
        assert_true(plain->len > 1000);
        /* Torn: a strict prefix, missing less than the last record. */
        assert_true(torn->len < plain->len);
        assert_true(plain->len - torn->len < 64);
        assert_memory_equal(torn->data, plain->data, torn->len);
        /* Corrupt: the same length, 1 to 4 bytes changed in one block. */
        assert_int_equal(bad->len, plain->len);
        guint diff = 0, first = G_MAXUINT, last = 0;
        for (guint i = 0; i < plain->len; i++) {
            if (bad->data[i] != plain->data[i]) {
                diff++;
                first = MIN(first, i);
                last = i;
            }
        }
        assert_true(diff >= 1 && diff <= 4);
        assert_int_equal(first / 512, last / 512);
        g_byte_array_unref(plain);
        g_byte_array_unref(torn);
        g_byte_array_unref(bad);
    }
}

/* Three nodes, three links clogged at 1.0s, 1.2s and 1.4s, restored at
 * 1.6s, 1.8s and 2.0s in some order: between 1.42s and 1.6s no message
 * between servers arrives, nothing is lost, and the trace shows each step. */
static void test_clog_holds(void **state)
{
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(
        "{\"duration\":\"3s\",\"cluster\":{\"protocol\":\"fd-demo\",\"nodes\":3,"
        "\"params\":{\"fd_interval\":\"10ms\",\"fd_timeout\":\"5s\"}},"
        "\"network\":{\"timing\":\"sync\",\"bound\":\"10ms\"},"
        "\"faults\":[{\"at\":\"1s\",\"for\":\"1500ms\",\"kind\":\"clog\",\"every\":\"200ms\"}]}", &err);
    assert_non_null(sc);
    json_t *trace = fx_trace(sc);
    size_t i;
    json_t *ev;
    int steps = 0, late = 0, quiet = 0;
    json_array_foreach(trace, i, ev) {
        const char *kind = json_string_value(json_object_get(ev, "ev"));
        FlTime t = (FlTime)json_integer_value(json_object_get(ev, "t"));
        if (strcmp(kind, "drop") == 0)
            fail_msg("a clogged link without capacity lost a message");
        if (strcmp(kind, "fault") == 0 &&
            g_str_has_prefix(json_string_value(json_object_get(ev, "text")), "step clog "))
            steps++;
        if (strcmp(kind, "deliver") == 0 && t >= FL_MS(1420) && t < FL_MS(1600))
            quiet++;
        if (strcmp(kind, "deliver") == 0 && t >= FL_MS(2000) && t <= FL_MS(2011))
            late++;
    }
    assert_int_equal(steps, 6);
    assert_int_equal(quiet, 0);
    assert_true(late > 20);   /* what the last link held arrives when it is restored */
    json_decref(trace);
    fl_scenario_free(sc);
}

static void test_byzantine_drop_traced(void **state)
{
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(
        "{\"duration\":\"1s\",\"cluster\":{\"protocol\":\"fd-demo\",\"nodes\":3},"
        "\"faults\":[{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"drop-all\",\"at\":\"200ms\",\"for\":\"500ms\"}]}", &err);
    assert_non_null(sc);
    json_t *trace = fx_trace(sc);
    size_t i;
    json_t *ev;
    int drops = 0;
    json_array_foreach(trace, i, ev) {
        if (strcmp(json_string_value(json_object_get(ev, "ev")), "drop") != 0)
            continue;
        assert_string_equal(json_string_value(json_object_get(ev, "why")), "byzantine");
        assert_int_equal(json_integer_value(json_object_get(ev, "from")), 1);
        FlTime t = (FlTime)json_integer_value(json_object_get(ev, "t"));
        assert_true(t >= FL_MS(200) && t < FL_MS(700));
        drops++;
    }
    assert_true(drops >= 8);   /* 5 rounds of heartbeats to 2 peers */
    json_decref(trace);
    fl_scenario_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_copies),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_disk_damage),
        cmocka_unit_test(test_clog_holds),
        cmocka_unit_test(test_byzantine_drop_traced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
