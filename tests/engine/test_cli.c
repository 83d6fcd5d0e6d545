/* Tests of the `faultline` command line: help, list, usage errors (exit 2),
 * one real run with its files, summary line and exit status, and the
 * default liveness claim. */
#include "faults/registry.h"
#include "protocols/registry.h"
#include "sim/check/check.h"

#include "cli.h"

#include <glib.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define SCENARIO "scenarios/00-basics/single-register.json"

static void expect_status(const CliResult *r, int want, const char *what)
{
    if (r->status != want)
        fail_msg("%s: exit status %d, expected %d\nstdout: %s\nstderr: %s", what, r->status,
                 want, r->out, r->err);
}

/* True if some line of @text starts with @word followed by a space or the
 * end of the line. */
static bool has_line_starting(const char *text, const char *word)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    size_t n = strlen(word);
    for (int i = 0; lines[i]; i++)
        if (strncmp(lines[i], word, n) == 0 && (lines[i][n] == ' ' || lines[i][n] == '\0'))
            return true;
    return false;
}

static void test_help(void **state)
{
    CliResult r;
    cli_run(&r, NULL, "--help");
    expect_status(&r, 0, "--help");
    assert_non_null(strstr(r.out, "usage: faultline"));
    assert_non_null(strstr(r.out, "run SCENARIO"));
    assert_non_null(strstr(r.out, "list protocols|faults|types|consistency"));
    cli_result_clear(&r);

    cli_run(&r, NULL, "help");
    expect_status(&r, 0, "help");
    assert_non_null(strstr(r.out, "usage: faultline"));
    cli_result_clear(&r);

    cli_run(&r, NULL, "--version");
    expect_status(&r, 0, "--version");
    assert_true(g_str_has_prefix(r.out, "faultline "));
    cli_result_clear(&r);

    cli_run(&r, NULL, "run", "--help");
    expect_status(&r, 0, "run --help");
    assert_non_null(strstr(r.out, "SCENARIO"));
    assert_non_null(strstr(r.out, "--seed"));
    assert_non_null(strstr(r.out, "--out"));
    g_autofree char *run_help = g_strdup(r.out);
    cli_result_clear(&r);

    cli_run(&r, NULL, "help", "run");
    expect_status(&r, 0, "help run");
    assert_string_equal(r.out, run_help);
    cli_result_clear(&r);

    cli_run(&r, NULL, "list", "--help");
    expect_status(&r, 0, "list --help");
    assert_non_null(strstr(r.out, "protocols|faults|types|consistency"));
    cli_result_clear(&r);
}

/* Every registered protocol, fault kind and model is listed, with the
 * protocols' parameters. */
static void test_list(void **state)
{
    CliResult r;
    cli_run(&r, NULL, "list", "protocols");
    expect_status(&r, 0, "list protocols");
    int n = 0;
    for (const FlProtocol *const *p = fl_protocols(); *p; p++, n++) {
        if (!has_line_starting(r.out, (*p)->name))
            fail_msg("list protocols does not list %s:\n%s", (*p)->name, r.out);
        for (const FlParam *q = (*p)->params; q && q->name; q++) {
            g_autofree char *indented = g_strconcat("  ", q->name, NULL);
            assert_true(has_line_starting(r.out, indented));
        }
    }
    assert_true(n >= 3);
    assert_true(has_line_starting(r.out, "single"));
    assert_true(has_line_starting(r.out, "primary-backup"));
    assert_true(has_line_starting(r.out, "lww"));
    assert_true(has_line_starting(r.out, "  retransmit"));
    assert_string_equal(r.err, "");
    cli_result_clear(&r);

    cli_run(&r, NULL, "list", "faults");
    expect_status(&r, 0, "list faults");
    for (const FlFaultKind *const *k = fl_fault_kinds(); *k; k++) {
        if (!has_line_starting(r.out, (*k)->name))
            fail_msg("list faults does not list %s:\n%s", (*k)->name, r.out);
        for (const FlFaultField *f = (*k)->fields; f && f->name; f++) {
            g_autofree char *indented = g_strconcat("  ", f->name, NULL);
            assert_true(has_line_starting(r.out, indented));
        }
    }
    assert_true(has_line_starting(r.out, "crash"));
    assert_true(has_line_starting(r.out, "partition"));
    assert_true(has_line_starting(r.out, "omission"));
    cli_result_clear(&r);

    /* Data types are `types`; `models`, their old name, still lists them. */
    const char *const lists[] = { "types", "models" };
    for (int i = 0; i < 2; i++) {
        cli_run(&r, NULL, "list", lists[i]);
        expect_status(&r, 0, lists[i]);
        for (const char *const *m = fl_check_model_names(); *m; m++)
            assert_true(has_line_starting(r.out, *m));
        assert_true(has_line_starting(r.out, "register"));
        assert_true(has_line_starting(r.out, "kv"));
        cli_result_clear(&r);
    }

    /* Consistency models, each with what it promises; the old names too. */
    cli_run(&r, NULL, "list", "consistency");
    expect_status(&r, 0, "list consistency");
    assert_true(has_line_starting(r.out, "linearizable"));
    assert_true(has_line_starting(r.out, "sequential-per-key"));
    assert_true(has_line_starting(r.out, "atomic-commit"));
    assert_true(has_line_starting(r.out, "causal-convergence"));
    assert_true(has_line_starting(r.out, "eventual"));
    assert_non_null(strstr(r.out, "Lamport"));
    cli_result_clear(&r);
}

/* Usage errors: exit 2, one message on stderr, nothing on stdout. */
static void test_usage_errors(void **state)
{
    static const char *const cases[][5] = {
        { NULL },                                    /* no command at all */
        { "frobnicate" },
        { "--frobnicate" },
        { "run" },                                   /* missing scenario */
        { "run", SCENARIO, SCENARIO },               /* two scenarios */
        { "run", "--bogus", SCENARIO },              /* unknown option */
        { "run", SCENARIO, "--seed" },               /* option without value */
        { "run", SCENARIO, "--seed", "abc" },        /* value of the wrong type */
        { "run", SCENARIO, "--check-timeout", "0" },
        { "list" },
        { "list", "widgets" },
        { "list", "protocols", "extra" },
        { "list", "--bogus", "protocols" },
        { "help", "frobnicate" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *args[6] = { NULL };
        g_autoptr(GString) line = g_string_new("faultline");
        for (int k = 0; k < 5 && cases[i][k]; k++) {
            args[k] = cases[i][k];
            g_string_append_printf(line, " %s", cases[i][k]);
        }
        CliResult r;
        cli_runv(&r, NULL, args);
        expect_status(&r, 2, line->str);
        if (strlen(r.err) == 0)
            fail_msg("%s: nothing on stderr", line->str);
        if (strcmp(r.out, "") != 0)
            fail_msg("%s: wrote to stdout: %s", line->str, r.out);
        cli_result_clear(&r);
    }
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *v = json_load_file(path, 0, &je);
    if (!v)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    return v;
}

/* A real run: its six files, a summary whose last line carries the hash,
 * and the same hash in metrics.json. */
static void test_run_writes_files(void **state)
{
    g_autofree char *tmp = g_dir_make_tmp("faultline-cli-XXXXXX", NULL);
    g_autofree char *out = g_build_filename(tmp, "run", NULL);
    CliResult r;
    cli_run(&r, NULL, "run", SCENARIO, "--out", out);
    if (r.status != 0 && r.status != 1)
        fail_msg("exit status %d: %s", r.status, r.err);
    g_autofree char *last = cli_last_line(r.out);
    GRegex *re = g_regex_new("^trace_hash=([0-9a-f]{16}) verdict=(valid|invalid|unknown)$", 0, 0,
                             NULL);
    GMatchInfo *mi = NULL;
    if (!g_regex_match(re, last, 0, &mi))
        fail_msg("last line \"%s\" is not trace_hash=... verdict=...", last);
    g_autofree char *hash = g_match_info_fetch(mi, 1);
    g_match_info_free(mi);
    /* The first line names the scenario and its seed, to reproduce it. */
    assert_true(g_str_has_prefix(r.out, "faultline run " SCENARIO " seed="));
    static const char *const files[] = { "scenario.json", "history.jsonl", "trace.jsonl",
                                         "timeseries.jsonl", "metrics.json", "metrics.om" };
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *p = g_build_filename(out, files[i], NULL);
        if (!g_file_test(p, G_FILE_TEST_IS_REGULAR))
            fail_msg("%s was not written", p);
    }
    assert_int_equal(cli_dir_entries(out), 6);
    g_autofree char *mpath = g_build_filename(out, "metrics.json", NULL);
    json_t *m = load_json(mpath);
    assert_string_equal(json_string_value(json_object_get(m, "trace_hash")), hash);
    assert_true(json_integer_value(json_object_get(json_object_get(m, "ops"), "ok")) > 0);
    json_decref(m);
    /* Every line of history.jsonl, trace.jsonl and timeseries.jsonl is a
     * JSON object. */
    for (int k = 1; k <= 3; k++) {
        g_autofree char *p = g_build_filename(out, files[k], NULL);
        g_autofree char *text = cli_read_file(p, NULL);
        assert_true(g_str_has_suffix(text, "\n"));
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        int n = 0;
        for (int i = 0; lines[i] && *lines[i]; i++, n++) {
            json_error_t je;
            json_t *v = json_loads(lines[i], 0, &je);
            if (!v || !json_is_object(v))
                fail_msg("%s:%d: not a JSON object: %s", p, i + 1, lines[i]);
            json_decref(v);
        }
        assert_true(n > 10);
    }
    cli_result_clear(&r);

    /* --quiet prints only the last line; --no-trace skips the file but not
     * the hash; --seed changes the run. */
    g_autofree char *out2 = g_build_filename(tmp, "quiet", NULL);
    cli_run(&r, NULL, "run", SCENARIO, "--out", out2, "--quiet", "--no-trace");
    g_autofree char *want = g_strconcat(last, "\n", NULL);
    assert_string_equal(r.out, want);
    g_autofree char *tpath = g_build_filename(out2, "trace.jsonl", NULL);
    assert_false(g_file_test(tpath, G_FILE_TEST_EXISTS));
    cli_result_clear(&r);

    g_autofree char *out3 = g_build_filename(tmp, "seed", NULL);
    cli_run(&r, NULL, "run", SCENARIO, "--out", out3, "-q", "--seed", "12345");
    g_autofree char *last3 = cli_last_line(r.out);
    assert_true(g_str_has_prefix(last3, "trace_hash="));
    assert_string_not_equal(last3, last);
    g_autofree char *spath = g_build_filename(out3, "scenario.json", NULL);
    json_t *s = load_json(spath);
    assert_int_equal(json_integer_value(json_object_get(s, "seed")), 12345);
    json_decref(s);
    cli_result_clear(&r);

    g_regex_unref(re);
    cli_rm_rf(tmp);
}

static char *write_scenario(const char *dir, const char *name, const char *text)
{
    char *p = g_build_filename(dir, name, NULL);
    g_assert(g_file_set_contents(p, text, -1, NULL));
    return p;
}

/* Exit status 0 when every expectation holds, 1 when one does not (and the
 * summary says which). */
static void test_run_exit_status(void **state)
{
    g_autofree char *tmp = g_dir_make_tmp("faultline-cli-XXXXXX", NULL);
    g_autofree char *met = write_scenario(tmp, "met.json",
        "{ \"duration\": \"2s\", \"cluster\": { \"protocol\": \"single\", \"nodes\": 1 },"
        "  \"workload\": { \"model\": \"kv\", \"rate\": 100 },"
        "  \"expect\": { \"min_ok\": 10, \"max_info\": 0 } }");
    g_autofree char *unmet = write_scenario(tmp, "unmet.json",
        "{ \"duration\": \"2s\", \"cluster\": { \"protocol\": \"single\", \"nodes\": 1 },"
        "  \"workload\": { \"model\": \"kv\", \"rate\": 100 },"
        "  \"expect\": { \"min_ok\": 1000000 } }");
    g_autofree char *out = g_build_filename(tmp, "out-met", NULL);
    CliResult r;
    cli_run(&r, NULL, "run", met, "--out", out);
    expect_status(&r, 0, "met.json");
    assert_non_null(strstr(r.out, "expect    met"));
    cli_result_clear(&r);

    g_autofree char *out2 = g_build_filename(tmp, "out-unmet", NULL);
    cli_run(&r, NULL, "run", unmet, "--out", out2);
    expect_status(&r, 1, "unmet.json");
    assert_non_null(strstr(r.out, "NOT MET: min_ok"));
    g_autofree char *last = cli_last_line(r.out);
    assert_true(g_str_has_prefix(last, "trace_hash="));
    /* The files are still written: a failed expectation is a result. */
    g_autofree char *mpath = g_build_filename(out2, "metrics.json", NULL);
    json_t *m = load_json(mpath);
    assert_false(json_is_true(json_object_get(json_object_get(m, "expect"), "met")));
    json_decref(m);
    cli_result_clear(&r);

    /* A folder that cannot be made: exit 2, and it says which. */
    cli_run(&r, NULL, "run", met, "--out", "/dev/null/run");
    expect_status(&r, 2, "--out /dev/null/run");
    assert_non_null(strstr(r.err, "/dev/null/run"));
    cli_result_clear(&r);
    cli_rm_rf(tmp);
}

/* A Raft cluster of three whose faults all heal at 2s; @faults (JSON) and
 * @expect (JSON, or NULL) complete it. */
static char *raft_scenario(const char *dir, const char *name, const char *faults,
                           const char *expect)
{
    g_autofree char *text = g_strdup_printf(
        "{ \"duration\": \"6s\", \"cluster\": { \"protocol\": \"raft\", \"nodes\": 3 },"
        "  \"workload\": { \"model\": \"kv\", \"clients\": 2, \"rate\": 100, \"timeout\": \"500ms\" },"
        "  \"faults\": %s%s%s }", faults, expect ? ", \"expect\": " : "", expect ? expect : "");
    return write_scenario(dir, name, text);
}

/* Every node's disk corrupted at once: Raft cannot know what it promised,
 * so by design it never serves again (raft.c note 11), although every
 * fault heals at 1.2s. */
#define ALL_DISKS_CORRUPT                                                                         \
    "[{\"at\": \"1s\", \"kind\": \"disk\", \"node\": 0, \"mode\": \"corrupt\", \"restart_after\": \"200ms\"}," \
    " {\"at\": \"1s\", \"kind\": \"disk\", \"node\": 1, \"mode\": \"corrupt\", \"restart_after\": \"200ms\"}," \
    " {\"at\": \"1s\", \"kind\": \"disk\", \"node\": 2, \"mode\": \"corrupt\", \"restart_after\": \"200ms\"}"

static json_t *liveness_of(const char *out_dir)
{
    g_autofree char *mpath = g_build_filename(out_dir, "metrics.json", NULL);
    json_t *m = load_json(mpath);
    json_t *l = json_incref(json_object_get(m, "liveness"));
    json_decref(m);
    assert_non_null(l);
    return l;
}

static char *hash_of(const char *out)
{
    g_autofree char *last = cli_last_line(out);
    assert_true(g_str_has_prefix(last, "trace_hash="));
    return g_strndup(last, strlen("trace_hash=") + 16);
}

/* spec/scenario.md: when every fault heals before the run ends, liveness
 * is expected by default. */
static void test_default_liveness(void **state)
{
    g_autofree char *tmp = g_dir_make_tmp("faultline-cli-XXXXXX", NULL);
    CliResult r;

    /* A leader crash that heals at 2s: Raft elects and serves again. */
    g_autofree char *heals = raft_scenario(tmp, "heals.json",
        "[{\"at\": \"1s\", \"kind\": \"crash\", \"node\": \"leader\", \"restart_after\": \"1s\"}]", NULL);
    g_autofree char *o1 = g_build_filename(tmp, "o1", NULL);
    cli_run(&r, NULL, "run", heals, "--out", o1);
    expect_status(&r, 0, "heals.json");
    assert_non_null(strstr(r.out, "liveness  default, last heal 2s, budget 1700ms, ok "));
    cli_result_clear(&r);
    json_t *l = liveness_of(o1);
    assert_string_equal(json_string_value(json_object_get(l, "mode")), "default");
    assert_true(json_is_true(json_object_get(l, "judged")));
    assert_int_equal(json_integer_value(json_object_get(l, "heal_at")), 2000000000);
    assert_true(json_integer_value(json_object_get(l, "ok_within_budget")) >= 1);
    json_decref(l);

    /* A protocol that never recovers: exit 1, and the summary names liveness. */
    g_autofree char *never = raft_scenario(tmp, "never.json", ALL_DISKS_CORRUPT "]", NULL);
    g_autofree char *o2 = g_build_filename(tmp, "o2", NULL);
    cli_run(&r, NULL, "run", never, "--out", o2);
    expect_status(&r, 1, "never.json");
    assert_non_null(strstr(r.out, "NOT MET: liveness: expected at least 1 ok operation invoked "
                                  "within 1700ms after the last fault healed at 1200ms"));
    g_autofree char *hash_default = hash_of(r.out);
    cli_result_clear(&r);
    l = liveness_of(o2);
    assert_int_equal(json_integer_value(json_object_get(l, "ok_within_budget")), 0);
    json_decref(l);

    /* `"liveness": false` turns it off; the run itself is the same one:
     * the default heals nothing by force. */
    g_autofree char *off = raft_scenario(tmp, "off.json", ALL_DISKS_CORRUPT "]",
                                         "{ \"liveness\": false }");
    g_autofree char *o3 = g_build_filename(tmp, "o3", NULL);
    cli_run(&r, NULL, "run", off, "--out", o3);
    expect_status(&r, 0, "off.json");
    assert_non_null(strstr(r.out, "liveness  off"));
    g_autofree char *hash_off = hash_of(r.out);
    assert_string_equal(hash_default, hash_off);
    cli_result_clear(&r);
    l = liveness_of(o3);
    assert_string_equal(json_string_value(json_object_get(l, "mode")), "off");
    json_decref(l);

    /* A fault that never heals (an omission for the whole run): no default. */
    g_autofree char *perm = raft_scenario(tmp, "permanent.json",
        ALL_DISKS_CORRUPT ", {\"kind\": \"omission\", \"p\": 0.01}]", NULL);
    g_autofree char *o4 = g_build_filename(tmp, "o4", NULL);
    cli_run(&r, NULL, "run", perm, "--out", o4);
    expect_status(&r, 0, "permanent.json");
    assert_non_null(strstr(r.out, "liveness  none: fault 3 (omission) lasts to the end of the run"));
    cli_result_clear(&r);
    l = liveness_of(o4);
    assert_string_equal(json_string_value(json_object_get(l, "mode")), "none");
    assert_true(json_is_false(json_object_get(l, "judged")));
    json_decref(l);

    /* Healed too late to judge: not applied, and said so. */
    g_autofree char *late = raft_scenario(tmp, "late.json",
        "[{\"at\": \"1s\", \"kind\": \"crash\", \"node\": 0, \"restart_after\": \"4.7s\"}]", NULL);
    g_autofree char *o5 = g_build_filename(tmp, "o5", NULL);
    cli_run(&r, NULL, "run", late, "--out", o5);
    expect_status(&r, 0, "late.json");
    assert_non_null(strstr(r.out, "liveness  default, not judged: the last fault heals at 5700ms, "
                                  "300ms before the run's duration"));
    cli_result_clear(&r);
    l = liveness_of(o5);
    assert_true(json_is_false(json_object_get(l, "judged")));
    json_decref(l);

    /* `claims` shows the default claim, and finds it false. */
    cli_run(&r, NULL, "claims", never, "--seeds", "2", "--jobs", "1");
    expect_status(&r, 1, "claims never.json");
    assert_non_null(strstr(r.out, "FALSE  liveness (default) >= 1 ok within 1700ms of the last heal"));
    cli_result_clear(&r);
    cli_rm_rf(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_run_writes_files),
        cmocka_unit_test(test_run_exit_status),
        cmocka_unit_test(test_default_liveness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
