/* The nemesis: the same seed draws the same schedule, another seed another
 * one; never more than max_down nodes crashed or paused at once, checked
 * on the trace; every drawn fault heals by `until`; and the explicit
 * schedule it gives back replays the same run without it. */
#include "tests/faults/helpers.h"

#include "faults/nemesis.h"
#include "sim/world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static FlScenario *nemesis_scenario(int seed, uint32_t nodes, const char *nemesis)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":%d,\"duration\":\"12s\",\"cluster\":{\"protocol\":\"single\",\"nodes\":%u},"
        "\"faults\":[%s]}", seed, nodes, nemesis);
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    return sc;
}

/* Runs @sc and returns the nemesis's drawn schedule and the trace hash. */
static json_t *schedule_of(FlScenario *sc, uint64_t *hash)
{
    GError *err = NULL;
    FlWorld *w = fl_world_new(sc, NULL, &err);
    assert_non_null(w);
    assert_int_equal(fl_world_run(w, &err), 0);
    *hash = fl_world_trace_hash(w);
    fl_world_free(w);
    json_t *s = fl_nemesis_schedule(g_ptr_array_index(sc->faults, 0));
    assert_non_null(s);
    return s;
}

#define EVERYTHING "{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"disk\",\"partition\"," \
                   "\"omission\",\"delay\",\"duplicate\",\"clock\",\"clog\"]," \
                   "\"every\":[\"100ms\",\"800ms\"],\"from\":\"1s\",\"until\":\"10s\"}"

static void test_same_seed_same_schedule(void **state)
{
    uint64_t h1, h2, h3;
    FlScenario *a = nemesis_scenario(7, 5, EVERYTHING);
    FlScenario *b = nemesis_scenario(7, 5, EVERYTHING);
    FlScenario *c = nemesis_scenario(8, 5, EVERYTHING);
    json_t *sa = schedule_of(a, &h1), *sb = schedule_of(b, &h2), *sc = schedule_of(c, &h3);
    assert_true(json_array_size(sa) > 5);
    assert_true(json_equal(sa, sb));
    assert_int_equal(h1, h2);
    assert_false(json_equal(sa, sc));
    /* The same scenario object run again draws the same again. */
    uint64_t h4;
    json_t *sa2 = schedule_of(a, &h4);
    assert_true(json_equal(sa, sa2));
    assert_int_equal(h1, h4);
    json_decref(sa);
    json_decref(sa2);
    json_decref(sb);
    json_decref(sc);
    fl_scenario_free(a);
    fl_scenario_free(b);
    fl_scenario_free(c);
}

/* Walks the trace: the nodes crashed or paused at each instant never
 * exceed @max_down, all are back by @until, and the schedule was traced. */
static void check_trace(json_t *trace, int64_t max_down, uint32_t nodes, FlTime until)
{
    g_autofree bool *down = g_new0(bool, nodes);
    int64_t count = 0, peak = 0;
    bool scheduled = false;
    size_t i;
    json_t *ev;
    json_array_foreach(trace, i, ev) {
        const char *kind = json_string_value(json_object_get(ev, "ev"));
        FlTime t = (FlTime)json_integer_value(json_object_get(ev, "t"));
        uint32_t node = (uint32_t)json_integer_value(json_object_get(ev, "node"));
        if (strcmp(kind, "fault") == 0) {
            const char *text = json_string_value(json_object_get(ev, "text"));
            scheduled |= g_str_has_prefix(text, "schedule nemesis [");
            /* Every drawn fault starts and stops inside [from, until]. */
            if (g_str_has_prefix(text, "start ") || g_str_has_prefix(text, "stop "))
                assert_true(t <= until);
            continue;
        }
        bool goes_down = strcmp(kind, "crash") == 0 || strcmp(kind, "pause") == 0;
        bool comes_back = strcmp(kind, "restart") == 0 || strcmp(kind, "resume") == 0;
        if (!goes_down && !comes_back)
            continue;
        assert_true(node < nodes);
        if (goes_down && !down[node]) {
            down[node] = true;
            count++;
        } else if (comes_back && down[node]) {
            down[node] = false;
            count--;
        }
        if (count > peak)
            peak = count;
        if (count > max_down)
            fail_msg("%" G_GINT64_FORMAT " nodes down at t=%" G_GUINT64_FORMAT " (max_down %" G_GINT64_FORMAT ")",
                     count, t, max_down);
        if (t > until)
            fail_msg("a node went down or came back at t=%" G_GUINT64_FORMAT ", after until", t);
    }
    assert_int_equal(count, 0);
    assert_true(scheduled);
    /* Only a test of something if the nemesis came close to the limit. */
    if (max_down > 0)
        assert_true(peak >= 1);
}

static void test_max_down(void **state)
{
    for (int64_t max_down = 0; max_down <= 3; max_down++) {
        for (int seed = 1; seed <= 12; seed++) {
            g_autofree char *nem = g_strdup_printf(
                "{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"disk\",\"clock\"],"
                "\"every\":[\"50ms\",\"400ms\"],\"for\":[\"200ms\",\"3s\"],"
                "\"max_down\":%" G_GINT64_FORMAT ",\"from\":\"500ms\",\"until\":\"9s\"}", max_down);
            FlScenario *sc = nemesis_scenario(seed, 5, nem);
            json_t *trace = fx_trace(sc);
            check_trace(trace, max_down, 5, FL_SEC(9));
            json_decref(trace);
            fl_scenario_free(sc);
        }
    }
}

/* Only down kinds and max_down 0: nothing is ever drawn. */
static void test_nothing_to_draw(void **state)
{
    uint64_t h;
    FlScenario *sc = nemesis_scenario(1, 3, "{\"kind\":\"nemesis\",\"kinds\":[\"crash\"],\"max_down\":0}");
    json_t *s = schedule_of(sc, &h);
    assert_int_equal(json_array_size(s), 0);
    json_decref(s);
    fl_scenario_free(sc);
}

static void replace_faults(json_t *root, void *ctx)
{
    json_object_set(root, "faults", ctx);
}

/* The explicit schedule, run without the nemesis, gives the same history.
 * (lww: no timers on round times, so no tie between a drawn fault and a
 * protocol event could be broken differently.  Disk and clog draw their
 * damage and their order when they start, so they are left out.) */
static void test_explicit_replay(void **state)
{
    const char *nem = "[{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"partition\",\"omission\","
                      "\"delay\",\"duplicate\",\"clock\"],\"every\":[\"200ms\",\"1s\"],\"from\":\"1s\",\"until\":\"9s\","
                      "\"swarm\":false,\"targets\":[\"node\"],\"shapes\":[\"single\"]}]";
    for (int seed = 1; seed <= 4; seed++) {
        FlScenario *sc = fx_scenario("tests/faults/lww-quiet.json", nem, NULL, NULL);
        sc->seed = (uint64_t)seed;
        FlRunResult a;
        fx_run(sc, &a);
        json_t *explicit = fl_faults_explicit(sc);
        assert_true(json_array_size(explicit) > 3);
        FlScenario *sc2 = fx_scenario("tests/faults/lww-quiet.json", "[]", replace_faults, explicit);
        sc2->seed = (uint64_t)seed;
        FlRunResult b;
        fx_run(sc2, &b);
        assert_string_equal(a.history->str, b.history->str);
        /* And the nemesis run is not the fault-free run. */
        assert_true(json_array_size(json_object_get(a.metrics, "faults")) > 3);
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
        json_decref(explicit);
        fl_scenario_free(sc);
        fl_scenario_free(sc2);
    }
}

/* The storage-fault budget (nemesis.c note 4): a node restarted from a torn
 * or corrupt disk counts as down for `recover` more, so with max_down 1 no
 * other down fault starts before that window ends; plain crashes get none. */
static FlTime dur_of(json_t *o, const char *key)
{
    FlDuration d = 0;
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    assert_int_equal(fl_duration_parse(s, &d), 0);
    return (FlTime)d;
}

static void test_storage_budget(void **state)
{
    int windows = 0, crashes_close = 0;
    for (int seed = 1; seed <= 40; seed++) {
        FlScenario *sc = nemesis_scenario(seed, 3,
            "{\"kind\":\"nemesis\",\"kinds\":[\"disk\",\"crash\"],\"max_down\":1,"
            "\"every\":[\"100ms\",\"400ms\"],\"for\":[\"50ms\",\"200ms\"],"
            "\"recover\":\"700ms\",\"until\":\"10s\"}");
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        FlTime free_at = 0;
        bool prev_damaged = false;
        size_t i;
        json_t *o;
        json_array_foreach(s, i, o) {
            FlTime at = dur_of(o, "at");
            if (i > 0) {
                assert_true(at > free_at);
                if (!prev_damaged && at <= free_at + FL_MS(700))
                    crashes_close++;
            }
            const char *mode = json_string_value(json_object_get(o, "mode"));
            prev_damaged = mode && strcmp(mode, "lose-unsynced") != 0;
            free_at = at + dur_of(o, "restart_after") + (prev_damaged ? FL_MS(700) : 0);
            windows += prev_damaged;
        }
        json_decref(s);
        fl_scenario_free(sc);
    }
    assert_true(windows > 20);
    assert_true(crashes_close > 20);   /* the window is for storage damage only */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_schedule),
        cmocka_unit_test(test_max_down),
        cmocka_unit_test(test_storage_budget),
        cmocka_unit_test(test_nothing_to_draw),
        cmocka_unit_test(test_explicit_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
