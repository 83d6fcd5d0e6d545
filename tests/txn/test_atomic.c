/* The atomic checker on known-good and known-bad histories (tests/txn/histories):
 * each file's name says what it is (NAME[.more].valid.EXT, .invalid.,
 * .error.), and an invalid one must be caught for the reason NAME gives
 * (the kind of the violation). */
#include "sim/check/check.h"

#include <glib.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#define DIR "tests/txn/histories/"

static FlVerdict check(const char *file, json_t **j, GString *report)
{
    GError *err = NULL;
    FlVerdict v = fl_check_file(file, "txn", "atomic", NULL, 0, report, j, &err);
    if (v == FL_VERDICT_ERROR) {
        assert_non_null(err);
        g_error_free(err);
    }
    return v;
}

static bool has_kind(json_t *j, const char *kind)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "violations"), i, v)
        if (strcmp(json_string_value(json_object_get(v, "kind")), kind) == 0)
            return true;
    return false;
}

static void test_every_history(void **st)
{
    GDir *d = g_dir_open(DIR, 0, NULL);
    assert_non_null(d);
    int seen[3] = { 0 };
    for (const char *name; (name = g_dir_read_name(d));) {
        g_autofree char *path = g_strconcat(DIR, name, NULL);
        g_auto(GStrv) parts = g_strsplit(name, ".", -1);
        guint np = g_strv_length(parts);
        assert_true(np >= 3);
        const char *what = parts[np - 2];
        json_t *j = NULL;
        GString *report = g_string_new(NULL);
        FlVerdict v = check(path, &j, report);
        if (strcmp(what, "valid") == 0) {
            if (v != FL_VERDICT_VALID)
                print_error("%s: %s", name, report->str);
            assert_int_equal(v, FL_VERDICT_VALID);
            assert_int_equal(json_array_size(json_object_get(j, "violations")), 0);
            seen[0]++;
        } else if (strcmp(what, "invalid") == 0) {
            assert_int_equal(v, FL_VERDICT_INVALID);
            if (!has_kind(j, parts[0]))
                print_error("%s: no %s violation in: %s", name, parts[0], report->str);
            assert_true(has_kind(j, parts[0]));
            assert_non_null(json_object_get(j, "counterexample"));
            assert_non_null(strstr(report->str, "Atomic commitment is violated"));
            seen[1]++;
        } else {
            assert_string_equal(what, "error");
            assert_int_equal(v, FL_VERDICT_ERROR);
            seen[2]++;
        }
        if (j)
            json_decref(j);
        g_string_free(report, TRUE);
    }
    g_dir_close(d);
    assert_true(seen[0] >= 4);
    assert_true(seen[1] >= 6);
    assert_true(seen[2] >= 2);
}

static void test_figures(void **st)
{
    json_t *j = NULL;
    assert_int_equal(check(DIR "basic.valid.jsonl", &j, NULL), FL_VERDICT_VALID);
    json_t *t = json_object_get(j, "transactions");
    assert_int_equal(json_integer_value(json_object_get(t, "invoked")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "committed")), 2);
    assert_int_equal(json_integer_value(json_object_get(t, "aborted")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 300);
    assert_int_equal(json_integer_value(json_object_get(j, "accounts_audited")), 3);
    double rate = json_real_value(json_object_get(j, "commit_rate"));
    assert_true(rate > 0.66 && rate < 0.67);
    json_decref(j);
    /* Blocked is not wrong: two transactions in doubt, still valid. */
    assert_int_equal(check(DIR "in-doubt.valid.jsonl", &j, NULL), FL_VERDICT_VALID);
    assert_int_equal(json_integer_value(json_object_get(j, "in_doubt")), 2);
    json_decref(j);
}

static void test_model_and_consistency_must_match(void **st)
{
    GError *err = NULL;
    assert_int_equal(fl_check_file(DIR "basic.valid.jsonl", "kv", "atomic", NULL, 0, NULL, NULL, &err),
                     FL_VERDICT_ERROR);
    g_clear_error(&err);
    assert_int_equal(fl_check_file(DIR "basic.valid.jsonl", "txn", "linearizable", NULL, 0, NULL, NULL,
                                   &err), FL_VERDICT_ERROR);
    g_clear_error(&err);
    /* The txn model implies the atomic check. */
    assert_int_equal(fl_check_file(DIR "basic.valid.jsonl", "txn", NULL, NULL, 0, NULL, NULL, &err),
                     FL_VERDICT_VALID);
}

/* `faultline check` answers with the documented exit statuses. */
static int cli(const char *file)
{
    const char *exe = g_getenv("FAULTLINE");
    const char *argv[] = { exe ? exe : "build/faultline", "check", "--model", "txn", "--consistency",
                           "atomic", file, NULL };
    int status = -1;
    assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                             G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                             NULL, NULL, &status, NULL));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli(void **st)
{
    assert_int_equal(cli(DIR "basic.valid.jsonl"), 0);
    assert_int_equal(cli(DIR "basic.valid.edn"), 0);
    assert_int_equal(cli(DIR "agreement.invalid.jsonl"), 1);
    assert_int_equal(cli(DIR "dup-id.error.jsonl"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_history),
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_model_and_consistency_must_match),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
