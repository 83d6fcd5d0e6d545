/* The liveness phase (issue 5): "heal everything", and TigerBeetle's "core"
 * variant, in which only a majority drawn from the seed heals and the other
 * nodes stay as they were, cut off. */
#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define RAFT "scenarios/04-consensus/raft-leader-crash.json"
#define HEAL_AT 3000000000LL

/* Raft, five nodes; nodes 3 and 4 are down from 1s and node 2 paused from
 * 2s, none of them coming back by itself; the liveness phase at 3s. */
static void edit(json_t *root, void *ctx)
{
    json_t *live = json_pack("{s:s,s:s,s:i}", "after", "3s", "budget", "3s", "min_ok", 1);
    if (ctx)
        json_object_set_new(live, "core", json_true());
    json_object_set_new(root, "expect", json_pack("{s:o}", "liveness", live));
    json_object_set_new(root, "duration", json_string("7s"));
    json_object_set_new(json_object_get(root, "workload"), "until", json_string("6.5s"));
}

static const char *FAULTS =
    "[{\"at\": \"1s\", \"kind\": \"crash\", \"node\": 3},"
    " {\"at\": \"1s\", \"kind\": \"crash\", \"node\": 4},"
    " {\"at\": \"2s\", \"kind\": \"pause\", \"node\": 2}]";

/* The core named in the trace, as a bitmap of nodes; 0 for "heal everything". */
static unsigned core_of(json_t *trace)
{
    size_t i;
    json_t *e;
    json_array_foreach(trace, i, e) {
        const char *text = json_string_value(json_object_get(e, "text"));
        const char *p = text ? strstr(text, "liveness: heal the core") : NULL;
        if (!p)
            continue;
        unsigned core = 0;
        for (p += strlen("liveness: heal the core"); *p; p++)
            if (*p >= '0' && *p <= '9')
                core |= 1u << (*p - '0');
        return core;
    }
    return 0;
}

static void test_core_heals_a_majority_only(void **state)
{
    for (int64_t seed = 1; seed <= 6; seed++) {
        FlScenario *sc = fx_scenario(RAFT, FAULTS, edit, (void *)1);
        sc->seed = seed;
        json_t *trace = fx_trace(sc);
        unsigned core = core_of(trace);
        assert_int_equal(__builtin_popcount(core), 3);
        bool down[5] = { false }, paused[5] = { false };
        down[3] = down[4] = true;
        paused[2] = true;
        /* Messages sent before the healing, by (from, to, hash): they may
         * still arrive, as they would across any new cut. */
        g_autoptr(GHashTable) before = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        size_t i;
        json_t *e;
        json_array_foreach(trace, i, e) {
            json_int_t t = json_integer_value(json_object_get(e, "t"));
            const char *ev = json_string_value(json_object_get(e, "ev"));
            json_int_t node = json_integer_value(json_object_get(e, "node"));
            if (!ev)
                continue;
            json_int_t from = json_integer_value(json_object_get(e, "from"));
            json_int_t to = json_integer_value(json_object_get(e, "to"));
            g_autofree char *msg = g_strdup_printf("%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT ":%s",
                                                   from, to, json_string_value(json_object_get(e, "hash")));
            if (t < HEAL_AT) {
                if (strcmp(ev, "send") == 0) {
                    gpointer n = g_hash_table_lookup(before, msg);
                    g_hash_table_insert(before, g_strdup(msg), GINT_TO_POINTER(GPOINTER_TO_INT(n) + 1));
                }
                continue;
            }
            /* Whatever the healing did on the way, nodes outside the core end
             * up as they were: nothing sent from then on reaches them or
             * leaves them. */
            if (strcmp(ev, "deliver") == 0 &&
                ((from < 5 && !(core >> from & 1)) || (to < 5 && !(core >> to & 1)))) {
                int n = GPOINTER_TO_INT(g_hash_table_lookup(before, msg));
                assert_true(n > 0);
                g_hash_table_insert(before, g_strdup(msg), GINT_TO_POINTER(n - 1));
            }
            if (strcmp(ev, "restart") == 0)
                down[node] = false;
            if (strcmp(ev, "crash") == 0)
                down[node] = true;
            if (strcmp(ev, "resume") == 0)
                paused[node] = false;
            if (strcmp(ev, "pause") == 0)
                paused[node] = true;
        }
        for (int n = 0; n < 5; n++) {
            bool in = core >> n & 1;
            assert_int_equal(down[n], !in && (n == 3 || n == 4));
            assert_int_equal(paused[n], !in && n == 2);
        }
        json_decref(trace);
        /* And the core alone serves the clients. */
        FlRunResult res;
        fx_run(sc, &res);
        assert_true(res.met);
        fl_run_result_clear(&res);
        fl_scenario_free(sc);
    }
}

static void test_heal_everything(void **state)
{
    FlScenario *sc = fx_scenario(RAFT, FAULTS, edit, NULL);
    json_t *trace = fx_trace(sc);
    assert_int_equal(core_of(trace), 0);
    bool restarted[5] = { false }, resumed[5] = { false };
    size_t i;
    json_t *e;
    json_array_foreach(trace, i, e) {
        const char *ev = json_string_value(json_object_get(e, "ev"));
        json_int_t node = json_integer_value(json_object_get(e, "node"));
        if (ev && strcmp(ev, "restart") == 0)
            restarted[node] = true;
        if (ev && strcmp(ev, "resume") == 0)
            resumed[node] = true;
    }
    assert_true(restarted[3] && restarted[4] && resumed[2]);
    json_decref(trace);
    fl_scenario_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_heals_a_majority_only),
        cmocka_unit_test(test_heal_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
