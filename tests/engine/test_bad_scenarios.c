/* Malformed scenarios are refused clearly (spec/scenario.md, "Rules").
 *
 * Each file of tests/engine/bad-scenarios/ has one mistake.  The table below
 * gives where the error must point (the JSON path, or :line:col for bad
 * JSON) and a piece of what it must say.  Every file is tried in process
 * (fl_scenario_load) and through the command line: exit status 2, a message
 * naming the file and the path, and nothing written. */
#include "sim/jsonv.h"
#include "sim/scenario.h"

#include "cli.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define DIR "tests/engine/bad-scenarios"

typedef struct Bad {
    const char *file;   /* in DIR */
    const char *where;  /* follows "FILE" in the message: ": /path: " or ":line:col: " */
    const char *what;   /* a piece of the explanation */
} Bad;

static const Bad bad[] = {
    /* Not JSON, or not the right JSON. */
    { "syntax-error.json", ":4:20: ", "invalid JSON" },
    { "duplicate-key.json", ":4:", "duplicate object key" },
    { "empty-file.json", ":1:", "invalid JSON" },
    { "top-not-object.json", ": /: ", "expected an object" },
    { "unknown-top-key.json", ": /fualts: ", "unknown field" },
    /* cluster */
    { "missing-cluster.json", ": /cluster: ", "missing" },
    { "cluster-not-object.json", ": /cluster: ", "expected an object, got \"single\"" },
    { "unknown-protocol.json", ": /cluster/protocol: ", "unknown protocol \"paxos-made-simple\"" },
    { "nodes-string.json", ": /cluster/nodes: ", "got \"five\"" },
    { "nodes-zero.json", ": /cluster/nodes: ", "got 0" },
    { "nodes-too-many.json", ": /cluster/nodes: ", "got 1000000" },
    { "param-unknown.json", ": /cluster/params/heartbeat: ", "unknown field" },
    { "param-of-single.json", ": /cluster/params/window: ", "unknown field (this object takes no fields)" },
    { "param-wrong-type.json", ": /cluster/params/window: ", "got \"big\"" },
    { "param-out-of-range.json", ": /cluster/params/window: ", "got 0" },
    /* top-level values */
    { "seed-negative.json", ": /seed: ", "got -3" },
    { "duration-negative.json", ": /duration: ", "got \"-5s\"" },
    { "duration-no-unit.json", ": /duration: ", "with a unit" },
    { "duration-bad-unit.json", ": /duration: ", "with a unit" },
    { "range-reversed.json", ": /duration: ", "low <= high" },
    /* network */
    { "network-unknown-key.json", ": /network/latency: ", "unknown field" },
    { "timing-bad-name.json", ": /network/timing: ", "got \"eventually\"" },
    { "async-with-bound.json", ": /network/bound: ", "async" },
    { "partial-without-gst.json", ": /network/gst: ", "missing" },
    { "uniform-max-below-min.json", ": /network/delay/max: ", "max >= min" },
    { "delay-field-of-other-dist.json", ": /network/delay/p99: ", "unknown field" },
    { "drop-above-one.json", ": /network/drop: ", "got 1.5" },
    { "skew-wrong-length.json", ": /network/skew: ", "3 durations" },
    { "drift-out-of-range.json", ": /network/drift/2: ", "got 2" },
    /* the network's defences (sim/channel.h) */
    { "network-auth-unknown.json", ": /network/auth: ", "got \"hmac-md5\"" },
    { "network-encrypt-not-bool.json", ": /network/encrypt: ", "got \"aes\"" },
    { "network-replay-window-too-wide.json", ": /network/replay_window: ", "from 0 to 64, got 65" },
    { "network-replay-window-negative.json", ": /network/replay_window: ", "got -1" },
    { "expect-attack-counter-unknown.json", ": /expect/counters/attack.secret_seen: ", "no counter \"attack.secret_seen\"" },
    /* workload */
    { "unknown-model.json", ": /workload/model: ", "got \"queue\"" },
    { "rate-negative.json", ": /workload/rate: ", "got -5" },
    { "clients-float.json", ": /workload/clients: ", "got 2.5" },
    { "mix-unknown-op.json", ": /workload/mix/delete: ", "unknown field" },
    { "mix-register-op-for-kv.json", ": /workload/mix/read: ", "unknown field" },
    { "mix-all-zero.json", ": /workload/mix: ", "positive weight" },
    { "final-reads-too-late.json", ": /workload/final_reads: ", "before the end" },
    /* faults */
    { "faults-not-array.json", ": /faults: ", "an array" },
    { "fault-unknown-kind.json", ": /faults/0/kind: ", "unknown fault kind \"meteor-strike\"" },
    { "fault-missing-kind.json", ": /faults/0/kind: ", "missing" },
    { "fault-node-out-of-range.json", ": /faults/1/node: ", "got 3" },
    { "fault-misspelled-field.json", ": /faults/0/restart_afer: ", "unknown field" },
    { "fault-for-and-until.json", ": /faults/0: ", "at most one of" },
    { "fault-until-before-at.json", ": /faults/0/until: ", "after" },
    { "partition-groups-and-isolate.json", ": /faults/0: ", "exactly one of" },
    { "partition-node-in-two-groups.json", ": /faults/0/groups/1/0: ", "two groups" },
    { "selector-unknown.json", ": /faults/0/from: ", "got \"everyone\"" },
    { "omission-p-above-one.json", ": /faults/0/p: ", "got 2" },
    /* check and expect */
    { "check-unknown-consistency.json", ": /check/consistency: ", "got \"serializable-snapshot\"" },
    { "check-without-workload.json", ": /check/consistency: ", "workload" },
    { "check-level-of-other-workload.json", ": /check/consistency: ", "serializable is a transactional level: it needs workload list-append or rw-register, not kv" },
    { "check-txn-workload-not-level.json", ": /check/consistency: ", "workload list-append is checked at a transactional level" },
    { "expect-valid-without-check.json", ": /expect/valid: ", "check" },
    { "expect-unknown-key.json", ": /expect/max_latency: ", "unknown field" },
    { "expect-counter-unknown.json", ": /expect/counters/txn.audti_in_doubt: ",
      "no counter \"txn.audti_in_doubt\" (its counters, closest first: txn.audit_in_doubt, " },
    { "expect-trace-hash-short.json", ": /expect/trace_hash: ", "16 hex digits" },
    { "expect-trace-hash-sign.json", ": /expect/trace_hash: ", "16 hex digits" },
    { "liveness-past-duration.json", ": /expect/liveness: ", "must not pass" },
    { "liveness-unknown-key.json", ": /expect/liveness/min_oks: ", "unknown field" },
    /* Valid JSON, extreme values (../shared/repro/inputs). */
    { "expect-valid-not-bool.json", ": /expect/valid: ", "true or false" },
    { "fd-interval-1ns.json", ": /cluster/params/fd_interval: ", "at least 1us" },
    /* resources (issue 22) */
    { "resources-cpu-without-cost.json", ": /resources/cpu/cost: ", "service time" },
    { "resources-link-zero.json", ": /resources/link/bytes_per_s: ", "from 1 to" },
    { "resources-queue-negative.json", ": /resources/cpu/queue: ", "from 0 to 1000000" },
    { "resources-unknown.json", ": /resources/gpu: ", "unknown field" },
    { "raft-voters-too-many.json", ": /cluster/params/voters: ", "at most the 3 nodes" },
    { "raft-membership-too-large.json", ": /cluster/params/reconfigure_every: ", "at most 64 nodes" },
    { "resources-disk-without-sync.json", ": /resources/disk/sync: ", "latency of one sync" },
    { "resources-per-kind-unknown.json", ": /resources/cpu/per_kind/Vote: ",
      "no message kind \"Vote\" (expected one of: RequestVote|" },
    { "resources-per-kind-no-hook.json", ": /resources/cpu/per_kind: ", "does not name its message kinds" },
    { "resources-disk-negative-bandwidth.json", ": /resources/disk/bytes_per_s: ", "from 0 to" },
    { "expect-sla-target-one.json", ": /expect/sla/target: ", "strictly between 0 and 1" },
    { "expect-sla-window-bad.json", ": /expect/sla/window: ", "a duration with a unit" },
    { "expect-alerts-within-missing.json", ": /expect/alerts/fire/0/within: ", "missing" },
    { "expect-alerts-rules-missing.json", ": /expect/alerts/rules: ", "no-such-rules.yml: no such file" },
};

/* The table and the folder agree: a file nobody checks, or an entry whose
 * file is gone, is a mistake in the test. */
static void test_table_matches_folder(void **state)
{
    assert_true(G_N_ELEMENTS(bad) >= 25);
    GError *err = NULL;
    GDir *d = g_dir_open(DIR, 0, &err);
    if (!d)
        fail_msg("%s", err->message);
    int files = 0;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".json"))
            continue;
        files++;
        bool listed = false;
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
            listed |= strcmp(bad[i].file, name) == 0;
        if (!listed)
            fail_msg("%s/%s is not in the table", DIR, name);
    }
    g_dir_close(d);
    assert_int_equal(files, G_N_ELEMENTS(bad));
}

static void expect_message(const Bad *b, const char *path, const char *msg)
{
    g_autofree char *prefix = g_strconcat(path, b->where, NULL);
    if (!g_str_has_prefix(msg, prefix) || !strstr(msg, b->what))
        fail_msg("%s: message \"%s\" should start with \"%s\" and contain \"%s\"", b->file, msg,
                 prefix, b->what);
}

static void test_in_process(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *path = g_build_filename(DIR, bad[i].file, NULL);
        GError *err = NULL;
        FlScenario *sc = fl_scenario_load(path, -1, &err);
        if (sc)
            fail_msg("%s loaded", path);
        assert_non_null(err);
        assert_true(g_error_matches(err, FL_ERROR, FL_ERROR_INPUT));
        expect_message(&bad[i], path, err->message);
        /* One line, for the terminal. */
        assert_null(strchr(err->message, '\n'));
        g_clear_error(&err);
        /* A seed on the command line changes nothing about the error. */
        sc = fl_scenario_load(path, 99, &err);
        assert_null(sc);
        expect_message(&bad[i], path, err->message);
        g_clear_error(&err);
    }
}

/* `faultline run FILE`: exit 2, the error on stderr, nothing on stdout, and
 * no run folder, neither the one --out names nor the default runs/. */
static void test_cli(void **state)
{
    g_autofree char *tmp = g_dir_make_tmp("faultline-bad-XXXXXX", NULL);
    assert_non_null(tmp);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *path = g_build_filename(DIR, bad[i].file, NULL);
        g_autofree char *out = g_build_filename(tmp, "out", bad[i].file, NULL);
        CliResult r;
        cli_run(&r, NULL, "run", path, "--out", out);
        if (r.status != 2)
            fail_msg("%s: exit status %d, expected 2; stderr: %s", path, r.status, r.err);
        g_autofree char *want = g_strconcat("faultline run: ", path, NULL);
        expect_message(&bad[i], want, r.err);
        assert_string_equal(r.out, "");
        assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
        cli_result_clear(&r);

        /* Without --out, from an empty folder: it must stay empty. */
        g_autofree char *abs = g_canonicalize_filename(path, NULL);
        cli_run(&r, tmp, "run", abs, "--seed", "5");
        if (r.status != 2)
            fail_msg("%s: exit status %d, expected 2; stderr: %s", path, r.status, r.err);
        g_autofree char *want2 = g_strconcat("faultline run: ", abs, NULL);
        expect_message(&bad[i], want2, r.err);
        assert_int_equal(cli_dir_entries(tmp), 0);
        cli_result_clear(&r);
    }
    cli_rm_rf(tmp);
}

/* Files that cannot be read at all. */
static void test_unreadable(void **state)
{
    GError *err = NULL;
    assert_null(fl_scenario_load(DIR "/no-such-file.json", -1, &err));
    assert_true(g_error_matches(err, FL_ERROR, FL_ERROR_INPUT));
    assert_true(g_str_has_prefix(err->message, DIR "/no-such-file.json: "));
    g_clear_error(&err);
    assert_null(fl_scenario_load(DIR, -1, &err));   /* a folder */
    assert_true(g_str_has_prefix(err->message, DIR));
    assert_non_null(strstr(err->message, "is a folder"));
    g_clear_error(&err);

    g_autofree char *tmp = g_dir_make_tmp("faultline-bad-XXXXXX", NULL);
    g_autofree char *out = g_build_filename(tmp, "out", NULL);
    CliResult r;
    cli_run(&r, NULL, "run", DIR "/no-such-file.json", "--out", out);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no-such-file.json"));
    assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
    cli_result_clear(&r);
    cli_rm_rf(tmp);
}

/* ---- and what loads ----------------------------------------------------- */

static FlScenario *load_text(const char *text, int64_t seed_override, GError **err)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        fail_msg("bad test JSON: %s", je.text);
    FlScenario *sc = fl_scenario_from_json(root, "inline.json", seed_override, err);
    json_decref(root);
    return sc;
}

/* Units, integers of nanoseconds, and defaults written into the resolved
 * scenario. */
static void test_good_values(void **state)
{
    GError *err = NULL;
    FlScenario *sc = load_text(
        "{ \"duration\": \"1.5s\", \"cluster\": { \"protocol\": \"primary-backup\","
        "  \"params\": { \"retransmit\": 2500 } },"
        "  \"network\": { \"timing\": \"sync\", \"bound\": \"250us\" } }", -1, &err);
    if (!sc)
        fail_msg("%s", err->message);
    assert_int_equal(sc->duration, FL_MS(1500));
    assert_int_equal(sc->nodes, 3);                 /* the default */
    assert_int_equal(sc->net.timing, FL_TIMING_SYNC);
    assert_int_equal(sc->net.bound, FL_US(250));
    assert_int_equal(sc->params[0].i, 2500);        /* retransmit: integer ns */
    assert_int_equal(sc->params[1].i, 64);          /* window: the default */
    assert_int_equal(sc->seed, 1);
    assert_string_equal(sc->name, "inline");        /* from the file name */
    json_t *res = sc->resolved;
    assert_int_equal(json_integer_value(json_object_get(res, "seed")), 1);
    json_t *params = json_object_get(json_object_get(res, "cluster"), "params");
    assert_string_equal(json_string_value(json_object_get(params, "retransmit")), "2500ns");
    assert_int_equal(json_integer_value(json_object_get(params, "window")), 64);
    fl_scenario_free(sc);
}

/* Seeds are 64-bit: one in the file is kept exactly, not rounded through a
 * double. */
static void test_large_seed_exact(void **state)
{
    GError *err = NULL;
    FlScenario *sc = load_text("{ \"seed\": 9007199254740993, \"cluster\": { \"protocol\": \"single\" } }",
                               -1, &err);
    if (!sc)
        fail_msg("%s", err->message);
    assert_true(sc->seed == 9007199254740993ULL);
    assert_true(json_integer_value(json_object_get(sc->resolved, "seed")) == 9007199254740993LL);
    fl_scenario_free(sc);

    sc = load_text("{ \"seed\": 9223372036854775807, \"max_events\": 9223372036854775807,"
                   "  \"cluster\": { \"protocol\": \"single\" } }", -1, &err);
    if (!sc)
        fail_msg("%s", err->message);
    assert_true(sc->seed == 9223372036854775807ULL);
    assert_true(sc->max_events == 9223372036854775807ULL);
    fl_scenario_free(sc);

    /* --seed overrides the file's. */
    sc = load_text("{ \"seed\": 4, \"cluster\": { \"protocol\": \"single\" } }", 123456789012345LL,
                   &err);
    assert_true(sc->seed == 123456789012345ULL);
    assert_true(json_integer_value(json_object_get(sc->resolved, "seed")) == 123456789012345LL);
    fl_scenario_free(sc);
}

/* Ranges are drawn from the seed: the same seed draws the same values. */
static void test_ranges_drawn_from_seed(void **state)
{
    static const char text[] =
        "{ \"duration\": [\"1s\", \"100s\"], \"cluster\": { \"protocol\": \"single\","
        "  \"nodes\": [1, 50] } }";
    GError *err = NULL;
    FlScenario *a = load_text(text, 7, &err), *b = load_text(text, 7, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->duration, b->duration);
    assert_int_equal(a->nodes, b->nodes);
    assert_true(a->duration >= FL_SEC(1) && a->duration <= FL_SEC(100));
    assert_true(a->nodes >= 1 && a->nodes <= 50);
    bool differs = false;
    for (int64_t seed = 8; seed < 20 && !differs; seed++) {
        FlScenario *c = load_text(text, seed, &err);
        differs = c->duration != a->duration || c->nodes != a->nodes;
        fl_scenario_free(c);
    }
    assert_true(differs);
    fl_scenario_free(a);
    fl_scenario_free(b);
}

/* Valid scenarios with extreme values that once crashed a sanitizer build or
 * never ended (tests/engine/inputs, kept as regression cases): a set read
 * of no items, and a heartbeat every microsecond over 20s, which must stop
 * at once with a message (the pace guard, world.c) rather than run for
 * hours. */
static void test_extreme_inputs(void **state)
{
    g_autofree char *tmp = g_dir_make_tmp("faultline-extreme-XXXXXX", NULL);
    g_autofree char *out = g_build_filename(tmp, "run", NULL);
    CliResult r;
    cli_run(&r, NULL, "run", "tests/engine/inputs/crdt-check-memcmp-null.json", "--out", out);
    assert_true(r.status == 0 || r.status == 1);
    cli_result_clear(&r);
    g_autofree char *out2 = g_build_filename(tmp, "pace", NULL);
    cli_run(&r, NULL, "run", "tests/engine/inputs/fd-interval-1us-pace.json", "--out", out2);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "more than max_events"));
    assert_false(g_file_test(out2, G_FILE_TEST_EXISTS));
    cli_result_clear(&r);
    cli_rm_rf(tmp);
}

/* A bound on a counter the protocol does not declare (raft declares none)
 * and the run never created is an unmet expectation that names it, and
 * the counters the run did create (issue 16 item 5). */
static void test_counter_never_created(void **state)
{
    g_autofree char *tmp = g_dir_make_tmp("faultline-counter-XXXXXX", NULL);
    g_autofree char *out = g_build_filename(tmp, "run", NULL);
    CliResult r;
    cli_run(&r, NULL, "run", "tests/engine/scenarios/counter-never-created.json", "--out", out);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "raft.electionz was never created by this run"));
    assert_non_null(strstr(r.out, "raft.elections"));
    cli_result_clear(&r);
    cli_rm_rf(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_folder),
        cmocka_unit_test(test_in_process),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_large_seed_exact),
        cmocka_unit_test(test_ranges_drawn_from_seed),
        cmocka_unit_test(test_extreme_inputs),
        cmocka_unit_test(test_counter_never_created),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
