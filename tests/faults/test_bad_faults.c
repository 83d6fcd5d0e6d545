/* Bad fault specifications: each is refused when the scenario loads, with
 * an error naming the JSON path of the culprit; through the command line,
 * `faultline run` exits 2, says so, and writes nothing.  The perfect
 * failure detector outside the sync model is refused the same way, when
 * the run starts. */
#include "tests/faults/helpers.h"
#include "tests/engine/cli.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

typedef struct Bad {
    const char *protocol;
    int nodes;
    const char *fault;     /* one fault object */
    const char *path;      /* what the error must name */
} Bad;

static const Bad bad[] = {
    { "single", 3, "{\"kind\":\"earthquake\"}", "/faults/0/kind" },
    { "single", 3, "{\"kind\":\"crash\",\"node\":1,\"typo\":2}", "/faults/0/typo" },
    { "single", 3, "{\"kind\":\"crash\"}", "/faults/0/node" },
    { "single", 3, "{\"kind\":\"crash\",\"node\":3}", "/faults/0/node" },
    { "single", 3, "{\"kind\":\"pause\",\"node\":\"someone\"}", "/faults/0/node" },
    { "single", 3, "{\"kind\":\"omission\",\"mode\":\"sideways\"}", "/faults/0/mode" },
    { "single", 3, "{\"kind\":\"omission\",\"node\":1,\"from\":0}", "/faults/0/node" },
    { "single", 3, "{\"kind\":\"omission\",\"p\":1.5}", "/faults/0/p" },
    { "single", 3, "{\"kind\":\"partition\"}", "/faults/0:" },
    { "single", 3, "{\"kind\":\"partition\",\"isolate\":1,\"shape\":\"halves\"}", "/faults/0:" },
    { "single", 3, "{\"kind\":\"partition\",\"shape\":\"triangle\"}", "/faults/0/shape" },
    { "single", 3, "{\"kind\":\"partition\",\"shape\":\"halves\",\"order\":[0,1,1]}", "/faults/0/order/2" },
    { "single", 3, "{\"kind\":\"partition\",\"shape\":\"halves\",\"order\":[0,1]}", "/faults/0/order" },
    { "single", 3, "{\"kind\":\"partition\",\"isolate\":0,\"order\":[0,1,2]}", "/faults/0/order" },
    { "single", 2, "{\"kind\":\"partition\",\"shape\":\"bridge\"}", "/faults/0/shape" },
    { "single", 5, "{\"kind\":\"partition\",\"shape\":\"majority-ring\",\"oneway\":true}", "/faults/0/oneway" },
    { "single", 3, "{\"kind\":\"partition\",\"groups\":[[0,1],[1]]}", "/faults/0/groups/1/0" },
    { "single", 3, "{\"kind\":\"partition\",\"isolate\":1,\"oneway\":\"yes\"}", "/faults/0/oneway" },
    { "single", 3, "{\"kind\":\"delay\",\"from\":0}", "/faults/0/extra" },
    { "single", 3, "{\"kind\":\"delay\",\"extra\":\"-5ms\"}", "/faults/0/extra" },
    { "single", 3, "{\"kind\":\"delay\",\"extra\":\"5ms\",\"jitter\":\"soon\"}", "/faults/0/jitter" },
    { "single", 3, "{\"kind\":\"duplicate\",\"p\":2}", "/faults/0/p" },
    { "single", 3, "{\"kind\":\"clog\",\"every\":\"0ms\"}", "/faults/0/every" },
    { "single", 3, "{\"kind\":\"clog\",\"capacity\":-1}", "/faults/0/capacity" },
    { "single", 1, "{\"kind\":\"clog\"}", "/faults/0/kind" },
    { "single", 3, "{\"kind\":\"byzantine\",\"behaviour\":\"corrupt\"}", "/faults/0/node" },
    { "single", 3, "{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"gossip\"}", "/faults/0/behaviour" },
    { "lww", 3, "{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"lie\"}", "/faults/0/behaviour" },
    { "single", 3, "{\"kind\":\"clock\",\"node\":1}", "/faults/0:" },
    { "single", 3, "{\"kind\":\"clock\",\"node\":1,\"jump\":\"soon\"}", "/faults/0/jump" },
    { "single", 3, "{\"kind\":\"clock\",\"node\":1,\"jump\":\"1s\",\"skew\":\"1s\"}", "/faults/0/skew" },
    { "single", 3, "{\"kind\":\"clock\",\"node\":1,\"drift\":0.9}", "/faults/0/drift" },
    { "single", 3, "{\"kind\":\"clock\",\"node\":1,\"jump\":\"2h\"}", "/faults/0/jump" },
    { "single", 3, "{\"kind\":\"disk\",\"node\":0,\"mode\":\"melt\"}", "/faults/0/mode" },
    { "single", 3, "{\"kind\":\"disk\",\"node\":0,\"for\":\"1s\",\"restart_after\":\"1s\"}", "/faults/0:" },
    { "single", 3, "{\"kind\":\"nemesis\",\"kinds\":[\"byzantine\"]}", "/faults/0/kinds/0" },
    { "single", 3, "{\"kind\":\"nemesis\",\"kinds\":[]}", "/faults/0/kinds" },
    { "single", 3, "{\"kind\":\"nemesis\",\"at\":\"1s\"}", "/faults/0/at" },
    { "single", 3, "{\"kind\":\"nemesis\",\"from\":\"5s\",\"until\":\"2s\"}", "/faults/0/until" },
    { "single", 3, "{\"kind\":\"nemesis\",\"max_down\":4}", "/faults/0/max_down" },
    { "single", 3, "{\"kind\":\"nemesis\",\"every\":[\"2s\",\"1s\"]}", "/faults/0/every" },
    { "single", 3, "{\"kind\":\"nemesis\",\"for\":0}", "/faults/0/for" },
    /* mutate: the protocol must describe its fields; classes are named; the
     * nemesis draws Byzantine nodes only for protocols that tolerate them. */
    { "lww", 3, "{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"mutate\"}", "/faults/0/behaviour" },
    { "raft", 3, "{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"mutate\",\"mutations\":[\"flip\"]}", "/faults/0/mutations/0" },
    { "raft", 3, "{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"mutate\",\"mutations\":[]}", "/faults/0/mutations" },
    { "raft", 3, "{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"corrupt\",\"mutations\":[\"round\"]}", "/faults/0/mutations" },
    { "raft", 3, "{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"mutate\",\"count\":-1}", "/faults/0/count" },
    { "raft", 3, "{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"mutate\"]}", "/faults/0/kinds/1" },
    { "paxos", 3, "{\"kind\":\"nemesis\",\"kinds\":[\"mutate\"]}", "/faults/0/kinds/0" },
    /* attacker: each action takes its own fields, and what it names must
     * exist in the protocol. */
    { "raft", 3, "{\"kind\":\"attacker\"}", "/faults/0/action" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"eavesdrop\"}", "/faults/0/action" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"sniff\",\"p\":0.5}", "/faults/0/p" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"tamper\",\"p\":2}", "/faults/0/p" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"tamper\",\"mode\":\"rewrite\"}", "/faults/0/mode" },
    { "lww", 3, "{\"kind\":\"attacker\",\"action\":\"tamper\",\"mode\":\"field\"}", "/faults/0/mode" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"replay\",\"mode\":\"field\"}", "/faults/0/mode" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"drop-selective\"}", "/faults/0/msg_kind" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"drop-selective\",\"msg_kind\":\"Gossip\"}", "/faults/0/msg_kind" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"inject\",\"msg_kind\":\"AppendEntries\"}", "/faults/0/msg_kind" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"flood\",\"rate\":100}", "/faults/0/node" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"flood\",\"node\":0}", "/faults/0/rate" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"flood\",\"node\":0,\"rate\":0}", "/faults/0/rate" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"flood\",\"node\":0,\"rate\":10,\"from\":1}", "/faults/0/from" },
    { "raft", 3, "{\"kind\":\"attacker\",\"action\":\"sniff\",\"rate\":10}", "/faults/0/rate" },
};

static char *scenario_text(const Bad *b)
{
    return g_strdup_printf("{\"duration\":\"10s\",\"cluster\":{\"protocol\":\"%s\",\"nodes\":%d},"
                           "\"faults\":[{\"kind\":\"crash\",\"node\":0,\"at\":\"1s\"},%s]}",
                           b->protocol, b->nodes, b->fault);
}

static void test_load_errors(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        /* The culprit is the second fault: shift the expected index. */
        g_autofree char *text = scenario_text(&bad[i]);
        g_autofree char *want = g_strdup(bad[i].path);
        want[strlen("/faults/")] = '1';
        GError *err = NULL;
        FlScenario *sc = fx_scenario_text(text, &err);
        if (sc)
            fail_msg("accepted %s", bad[i].fault);
        g_autofree char *where = g_strdup_printf("test.json: %s", want);
        if (!strstr(err->message, where))
            fail_msg("%s: expected an error at %s, got: %s", bad[i].fault, want, err->message);
        g_error_free(err);
    }
}

static void test_expect_errors(void **state)
{
    static const char *const cases[][2] = {
        { "\"max_false_suspicions\":-1", "/expect/max_false_suspicions" },
        { "\"min_false_suspicions\":\"many\"", "/expect/min_false_suspicions" },
        { "\"max_detection_time\":\"fast\"", "/expect/max_detection_time" },
        { "\"max_missed_detections\":1.5", "/expect/max_missed_detections" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            "{\"cluster\":{\"protocol\":\"fd-demo\",\"nodes\":3},\"expect\":{%s}}", cases[i][0]);
        GError *err = NULL;
        FlScenario *sc = fx_scenario_text(text, &err);
        assert_null(sc);
        if (!strstr(err->message, cases[i][1]))
            fail_msg("%s: expected %s in: %s", cases[i][0], cases[i][1], err->message);
        g_error_free(err);
    }
}

/* Through the command line: exit 2, the path on stderr, no run folder. */
static void cli_refuses(const char *text, const char *path)
{
    g_autofree char *dir = g_dir_make_tmp("faultline-bad-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "bad.json", NULL);
    g_autofree char *out = g_build_filename(dir, "run", NULL);
    assert_true(g_file_set_contents(file, text, -1, NULL));
    CliResult r;
    cli_run(&r, NULL, "run", file, "--out", out);
    if (r.status != 2 || !strstr(r.err, path))
        fail_msg("expected exit 2 naming %s, got %d: %s", path, r.status, r.err);
    assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    cli_result_clear(&r);
    cli_rm_rf(dir);
}

static void test_cli(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i += 5) {
        g_autofree char *text = scenario_text(&bad[i]);
        g_autofree char *want = g_strdup(bad[i].path);
        want[strlen("/faults/")] = '1';
        cli_refuses(text, want);
    }
}

/* The perfect detector needs bounded delays from the start. */
static void test_perfect_refused(void **state)
{
    static const char *const nets[] = {
        "{\"timing\":\"async\"}",
        "{\"timing\":\"partial\",\"gst\":\"1s\"}",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(nets); i++) {
        g_autofree char *text = g_strdup_printf(
            "{\"duration\":\"5s\",\"cluster\":{\"protocol\":\"fd-demo\",\"nodes\":3,"
            "\"params\":{\"detector\":\"perfect\"}},\"network\":%s}", nets[i]);
        GError *err = NULL;
        FlScenario *sc = fx_scenario_text(text, &err);
        assert_non_null(sc);
        FlRunOptions opt = { .check = false };
        FlRunResult res;
        assert_int_equal(fl_run(sc, &opt, &res, &err), -1);
        assert_non_null(strstr(err->message, "perfect failure detector needs the sync timing model"));
        assert_non_null(strstr(err->message, "/network/timing"));
        g_error_free(err);
        fl_run_result_clear(&res);
        fl_scenario_free(sc);
        cli_refuses(text, "/network/timing");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_expect_errors),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_perfect_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
