/* Byzantine nodes against every protocol in protocols/: each behaviour
 * (corrupt and random fuzz the protocols' decoders; replay, equivocate and
 * drop-all feed them well-formed but wrong messages; lie where a protocol
 * has the hook) on one node for the whole run and on another for a while.
 * The run must complete: no crash, no assertion, and (in the sanitizer
 * build) no report.  Run twice, it must also give the same trace hash: lies
 * are drawn from the faults' stream like everything else. */
#include "tests/faults/helpers.h"

#include "protocols/registry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static uint64_t run_liars(const FlProtocol *p, const char *behaviour, double prob, int seed)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":%d,\"duration\":\"5s\",\"cluster\":{\"protocol\":\"%s\",\"nodes\":5},"
        "\"network\":{\"timing\":\"async\",\"delay\":{\"dist\":\"exponential\",\"min\":\"1ms\",\"mean\":\"5ms\"}},"
        "\"workload\":{\"model\":\"kv\",\"clients\":3,\"keys\":2,\"rate\":200,\"timeout\":\"300ms\"},"
        "\"faults\":[{\"kind\":\"byzantine\",\"node\":0,\"behaviour\":\"%s\",\"p\":%g},"
        "{\"kind\":\"byzantine\",\"node\":3,\"behaviour\":\"%s\",\"at\":\"500ms\",\"for\":\"1s\"}]}",
        seed, p->name, behaviour, prob, behaviour);
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    FlRunOptions opt = { .check = false };
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("%s with %s: %s", p->name, behaviour, err->message);
    uint64_t h = res.trace_hash;
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    return h;
}

static void each_protocol(const char *behaviour, double prob)
{
    for (const FlProtocol *const *p = fl_protocols(); *p; p++) {
        for (int seed = 1; seed <= 5; seed++) {
            uint64_t a = run_liars(*p, behaviour, prob, seed);
            uint64_t b = run_liars(*p, behaviour, prob, seed);
            if (a != b)
                fail_msg("%s with %s, seed %d: two runs gave two trace hashes", (*p)->name,
                         behaviour, seed);
        }
    }
}

static void test_corrupt(void **state) { each_protocol("corrupt", 0.5); }
static void test_random(void **state) { each_protocol("random", 0.7); }
static void test_replay(void **state) { each_protocol("replay", 0.5); }
static void test_equivocate(void **state) { each_protocol("equivocate", 1); }
static void test_drop_all(void **state) { each_protocol("drop-all", 1); }

static void test_lie(void **state)
{
    int with = 0;
    for (const FlProtocol *const *p = fl_protocols(); *p; p++) {
        if (!(*p)->lie)
            continue;
        with++;
        run_liars(*p, "lie", 1, 1);
    }
    assert_true(with > 0);   /* fd-demo has one */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_equivocate),
        cmocka_unit_test(test_drop_all),
        cmocka_unit_test(test_lie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
