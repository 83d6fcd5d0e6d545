/* BUGGIFY (sim/node.h fl_buggify): rare paths taken on purpose, replayed
 * exactly.
 *
 * For one scenario of each protocol that has BUGGIFY sites: without the
 * field, with "buggify": false and with it on at a seed where no site fires,
 * the run is the same one (the same trace hash); with it on, some seed in a
 * small range fires a site, that run differs from the run without, and it
 * is the same run twice, its firings counted in `buggify.fired` and written
 * to the trace as "buggify SITE" lines.  The resolved scenario of such a
 * run carries the field and replays it.  Then the command line: `fuzz`
 * turns BUGGIFY on by default and writes it into each failure, whose
 * `replay` gives the same run, and which without the field is another run;
 * `"buggify": false` in the file keeps it off, and is written into failures
 * too. */
#include "sim/run.h"
#include "sim/scenario.h"

#include "cli.h"

#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* Seeds tried for a firing: with six or more sites each enabled on a
 * quarter of the seeds, the chance that none fires on all of them is far
 * below one in a million. */
#define SEEDS 12

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

typedef struct Run {
    uint64_t hash;
    double fired;
    json_t *resolved;   /* owned */
} Run;

static void run_clear(Run *r)
{
    if (r->resolved)
        json_decref(r->resolved);
    memset(r, 0, sizeof *r);
}

/* Runs @root (borrowed) at @seed; @buggify: -1 leaves the file as it is,
 * 0 or 1 sets the field.  With @trace_dir the trace is written there. */
static Run run_json(json_t *root, const char *file, int64_t seed, int buggify, const char *trace_dir)
{
    json_t *j = json_deep_copy(root);
    if (buggify >= 0)
        json_object_set_new(j, "buggify", json_boolean(buggify));
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(j, file, seed, &err);
    json_decref(j);
    if (!sc)
        fail_msg("%s", err->message);
    FlRunOptions opt = { .out_dir = trace_dir, .write_trace = trace_dir != NULL, .check = false };
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("%s: %s", file, err->message);
    Run r = { .hash = res.trace_hash };
    json_t *c = json_object_get(json_object_get(res.metrics, "counters"), "buggify.fired");
    r.fired = c ? json_number_value(c) : 0;
    r.resolved = json_incref(sc->resolved);
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    return r;
}

static unsigned count_firings(const char *trace)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(trace, &text, NULL, NULL))
        fail_msg("cannot read %s", trace);
    unsigned k = 0;
    for (const char *p = text; (p = strstr(p, "\"text\":\"buggify ")); p++)
        k++;
    return k;
}

static void check_protocol(const char *file)
{
    json_t *root = load_json(file);
    g_assert_null(json_object_get(root, "buggify"));
    int64_t fired_seed = -1;
    for (int64_t seed = 1; seed <= SEEDS && fired_seed < 0; seed++) {
        Run off = run_json(root, file, seed, -1, NULL);
        Run off2 = run_json(root, file, seed, 0, NULL);
        Run on = run_json(root, file, seed, 1, NULL);
        if (off.hash != off2.hash)
            fail_msg("%s seed %" PRId64 ": \"buggify\": false is another run than no field", file, seed);
        assert_true(off.fired == 0 && off2.fired == 0);
        assert_null(json_object_get(off.resolved, "buggify"));
        assert_true(json_is_true(json_object_get(on.resolved, "buggify")));
        if (on.fired == 0 && on.hash != off.hash)
            fail_msg("%s seed %" PRId64 ": BUGGIFY on, nothing fired, yet another run", file, seed);
        if (on.fired > 0) {
            if (on.hash == off.hash)
                fail_msg("%s seed %" PRId64 ": %g firings changed nothing", file, seed, on.fired);
            /* Same seed, same firings: the same run again, and from the
             * resolved scenario (what a failure file holds) too. */
            Run again = run_json(root, file, seed, 1, NULL);
            assert_int_equal(again.hash, on.hash);
            assert_true(again.fired == on.fired);
            Run resolved = run_json(on.resolved, file, -1, -1, NULL);
            assert_int_equal(resolved.hash, on.hash);
            run_clear(&again);
            run_clear(&resolved);
            fired_seed = seed;
        }
        run_clear(&off);
        run_clear(&off2);
        run_clear(&on);
    }
    if (fired_seed < 0)
        fail_msg("%s: no BUGGIFY site fired on seeds 1..%d", file, SEEDS);
    /* Writing the trace changes nothing, and it names every firing. */
    g_autofree char *dir = g_dir_make_tmp("buggify-XXXXXX", NULL);
    assert_non_null(dir);
    Run on = run_json(root, file, fired_seed, 1, dir);
    Run plain = run_json(root, file, fired_seed, 1, NULL);
    assert_int_equal(on.hash, plain.hash);
    g_autofree char *trace = g_build_filename(dir, "trace.jsonl", NULL);
    assert_int_equal(count_firings(trace), (unsigned)on.fired);
    run_clear(&on);
    run_clear(&plain);
    const char *names[] = { "trace.jsonl", "history.jsonl", "metrics.json", "scenario.json", NULL };
    for (const char **n = names; *n; n++) {
        g_autofree char *p = g_build_filename(dir, *n, NULL);
        g_remove(p);
    }
    g_rmdir(dir);
    json_decref(root);
}

static void test_raft(void **state) { check_protocol("scenarios/04-consensus/raft-nemesis.json"); }
static void test_paxos(void **state) { check_protocol("scenarios/04-consensus/paxos-nemesis.json"); }
static void test_pbft(void **state) { check_protocol("scenarios/04-consensus/pbft-nemesis.json"); }
static void test_chain(void **state) { check_protocol("scenarios/03-replication/chain-nemesis.json"); }
static void test_pb(void **state) { check_protocol("scenarios/03-replication/pb-sync-failover.json"); }
static void test_2pc(void **state) { check_protocol("scenarios/05-transactions/2pc-commit.json"); }

/* fl_scenario_fuzz_defaults: on unless the file says otherwise. */
static void test_fuzz_defaults(void **state)
{
    json_t *j = json_object();
    fl_scenario_fuzz_defaults(j);
    assert_true(json_is_true(json_object_get(j, "buggify")));
    json_object_set_new(j, "buggify", json_false());
    fl_scenario_fuzz_defaults(j);
    assert_true(json_is_false(json_object_get(j, "buggify")));
    json_decref(j);
}

static void write_json(json_t *j, const char *path)
{
    if (json_dump_file(j, path, JSON_INDENT(2)) != 0)
        fail_msg("cannot write %s", path);
}

/* The command line: a scenario that fails exactly when a site fired (a
 * bound of 0 on `buggify.fired`), fuzzed; every failure replays, and is
 * another run without its "buggify" field. */
static void test_cli_fuzz_replay(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("buggify-cli-XXXXXX", NULL);
    assert_non_null(dir);
    json_t *root = load_json("scenarios/04-consensus/raft-nemesis.json");
    json_object_set_new(root, "name", json_string("buggify-fires"));
    json_object_set_new(root, "expect", json_pack("{s:{s:{s:i}}}", "counters", "buggify.fired", "max", 0));
    g_autofree char *scenario = g_build_filename(dir, "buggify-fires.json", NULL);
    write_json(root, scenario);
    g_autofree char *out = g_build_filename(dir, "out", NULL);

    CliResult r;
    cli_run(&r, NULL, "fuzz", scenario, "--seeds", "6", "--jobs", "1", "--keep-going", "--no-shrink",
            "--out", out);
    if (r.status != 1)
        fail_msg("fuzz exited %d, expected 1 (failures):\n%s%s", r.status, r.out, r.err);
    cli_result_clear(&r);
    g_autofree char *failures = g_build_filename(out, "failures", NULL);
    GDir *d = g_dir_open(failures, 0, NULL);
    assert_non_null(d);
    unsigned nfail = 0;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".json"))
            continue;
        g_autofree char *path = g_build_filename(failures, name, NULL);
        json_t *f = load_json(path);
        if (!json_is_true(json_object_get(f, "buggify")))
            fail_msg("%s: the failure does not say \"buggify\": true", path);
        cli_run(&r, NULL, "replay", path);
        if (r.status != 0)
            fail_msg("replay %s exited %d:\n%s%s", path, r.status, r.out, r.err);
        cli_result_clear(&r);
        /* Without the field it is another run: the firings made it. */
        json_object_del(f, "buggify");
        g_autofree char *bare = g_build_filename(dir, "bare.json", NULL);
        write_json(f, bare);
        cli_run(&r, NULL, "replay", bare);
        if (r.status != 1)
            fail_msg("replay without \"buggify\" exited %d, expected 1:\n%s%s", r.status, r.out, r.err);
        cli_result_clear(&r);
        g_remove(bare);
        g_remove(path);
        json_decref(f);
        nfail++;
    }
    g_dir_close(d);
    assert_true(nfail >= 1);
    g_rmdir(failures);
    g_rmdir(out);

    /* Turned off in the file, it stays off: with a bound that every run
     * misses, each failure says "buggify": false and is, without the field,
     * the same run. */
    json_object_set_new(root, "buggify", json_false());
    json_object_set_new(root, "expect", json_pack("{s:I}", "min_ok", (json_int_t)1000000000));
    write_json(root, scenario);
    cli_run(&r, NULL, "fuzz", scenario, "--seeds", "3", "--jobs", "1", "--keep-going", "--no-shrink",
            "--out", out);
    if (r.status != 1)
        fail_msg("fuzz with \"buggify\": false exited %d, expected 1:\n%s%s", r.status, r.out, r.err);
    cli_result_clear(&r);
    d = g_dir_open(failures, 0, NULL);
    assert_non_null(d);
    nfail = 0;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".json"))
            continue;
        g_autofree char *path = g_build_filename(failures, name, NULL);
        json_t *f = load_json(path);
        if (!json_is_false(json_object_get(f, "buggify")))
            fail_msg("%s: the failure does not say \"buggify\": false", path);
        json_object_del(f, "buggify");
        g_autofree char *bare = g_build_filename(dir, "bare.json", NULL);
        write_json(f, bare);
        cli_run(&r, NULL, "replay", bare);
        if (r.status != 0)
            fail_msg("replay of %s without \"buggify\": false exited %d:\n%s%s", path, r.status, r.out, r.err);
        cli_result_clear(&r);
        g_remove(bare);
        g_remove(path);
        json_decref(f);
        nfail++;
    }
    g_dir_close(d);
    assert_int_equal(nfail, 3);
    g_rmdir(failures);
    g_rmdir(out);
    g_remove(scenario);
    g_rmdir(dir);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_defaults),
        cmocka_unit_test(test_raft),
        cmocka_unit_test(test_paxos),
        cmocka_unit_test(test_pbft),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_pb),
        cmocka_unit_test(test_2pc),
        cmocka_unit_test(test_cli_fuzz_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
