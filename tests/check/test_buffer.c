/* tests/check/test_buffer.c: fl_check_buffer against fl_check_file.
 *
 * `faultline run` checks its history from memory (fl_check_buffer); users
 * check files (fl_check_file).  Both must give the same verdict, report,
 * JSON and error message for the same bytes.  The histories are the
 * hand-written ones of tests/check/histories and tests/txn/histories (see
 * test_cli.c for how a file's name says what it holds). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/check/check.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    FlVerdict v;
    char *report;
    char *json;
    char *error;
} Outcome;

static void outcome_clear(Outcome *o)
{
    g_free(o->report);
    g_free(o->json);
    g_free(o->error);
}

static Outcome outcome_of(FlVerdict v, GString *report, json_t *json, GError *err)
{
    Outcome o = { .v = v, .report = g_string_free(report, FALSE) };
    if (json) {
        /* "steps" counts the search's work, the same for the same input. */
        o.json = json_dumps(json, JSON_SORT_KEYS);
        json_decref(json);
    }
    if (err) {
        o.error = g_strdup(err->message);
        g_error_free(err);
    }
    return o;
}

static Outcome check_file(const char *path, const char *model, const char *consistency,
                          const char *format)
{
    GString *report = g_string_new(NULL);
    json_t *json = NULL;
    GError *err = NULL;
    FlVerdict v = fl_check_file(path, model, consistency, format, 60, report, &json, &err);
    return outcome_of(v, report, json, err);
}

static Outcome check_buffer(const char *name, const char *data, gsize len, const char *model,
                            const char *consistency, const char *format)
{
    GString *report = g_string_new(NULL);
    json_t *json = NULL;
    GError *err = NULL;
    FlVerdict v = fl_check_buffer(name, data, len, model, consistency, format, 60, report,
                                  &json, &err);
    return outcome_of(v, report, json, err);
}

static void assert_same(const Outcome *a, const Outcome *b)
{
    assert_int_equal(a->v, b->v);
    assert_string_equal(a->report, b->report);
    if (a->json || b->json) {
        assert_non_null(a->json);
        assert_non_null(b->json);
        assert_string_equal(a->json, b->json);
    }
    if (a->error || b->error) {
        assert_non_null(a->error);
        assert_non_null(b->error);
        assert_string_equal(a->error, b->error);
    }
}

/* Every history in @dir whose expectation is not a time limit, checked as
 * a file and as a buffer named by its path (format chosen by extension, and
 * given explicitly).  Returns how many were compared. */
static guint same_for_dir(const char *dir, const char *model_override,
                          const char *consistency_override)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    guint n = 0;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (strstr(name, ".unknown.")) continue;
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR)) continue;   /* models/: litmus histories */
        g_auto(GStrv) parts = g_strsplit(name, ".", -1);
        g_auto(GStrv) mp = g_strsplit(parts[0], "__", 2);
        const char *model = model_override ? model_override : mp[0];
        const char *consistency = consistency_override ? consistency_override
                                  : g_str_has_prefix(parts[1], "sequential-") ? "sequential-per-key"
                                  : "linearizable";
        g_autofree char *text = NULL;
        gsize len = 0;
        assert_true(g_file_get_contents(path, &text, &len, NULL));
        const char *format = g_str_has_suffix(name, ".edn") ? "edn" : "jsonl";
        for (int explicit_format = 0; explicit_format < 2; explicit_format++) {
            const char *f = explicit_format ? format : NULL;
            Outcome a = check_file(path, model, consistency, f);
            Outcome b = check_buffer(path, text, len, model, consistency, f);
            if (a.v != b.v)
                fprintf(stderr, "%s: file %d, buffer %d\n", name, a.v, b.v);
            assert_same(&a, &b);
            outcome_clear(&a);
            outcome_clear(&b);
        }
        n++;
    }
    g_dir_close(d);
    return n;
}

static void test_same_as_file(void **state)
{
    (void)state;
    assert_true(same_for_dir("tests/check/histories", NULL, NULL) >= 40);
    /* Other checkers (atomic) and a list of models share the same path. */
    assert_true(same_for_dir("tests/txn/histories", "txn", "atomic") >= 10);
    assert_true(same_for_dir("tests/check/histories", "register", "linearizable,sequential") >= 40);
}

static void test_bad_buffer_message(void **state)
{
    (void)state;
    static const char text[] =
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":3}\n"
        "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":3,}\n";
    Outcome o = check_buffer("the run", text, strlen(text), "register", NULL, "jsonl");
    assert_int_equal(o.v, FL_VERDICT_ERROR);
    assert_string_equal(o.error, "the run:2:48: expected a string field name, got '}'");
    outcome_clear(&o);

    /* A shape error from the history loader names the line as well. */
    static const char shape[] = "{\"process\":0,\"type\":\"begin\",\"f\":\"write\",\"value\":3}\n";
    o = check_buffer("h.jsonl", shape, strlen(shape), "register", NULL, NULL);
    assert_int_equal(o.v, FL_VERDICT_ERROR);
    assert_string_equal(o.error,
                        "h.jsonl:1: expected \"type\" to be invoke, ok, fail or info");
    outcome_clear(&o);
}

static void test_empty_buffer(void **state)
{
    (void)state;
    Outcome a = check_buffer("empty.jsonl", NULL, 0, "register", NULL, NULL);
    Outcome b = check_buffer("empty.jsonl", "", 0, "register", NULL, NULL);
    assert_int_equal(a.v, FL_VERDICT_VALID);
    assert_same(&a, &b);
    outcome_clear(&a);
    outcome_clear(&b);
}

/* The buffer need not end with a newline nor be NUL-terminated: only @len
 * bytes are read. */
static void test_length_bounds_the_input(void **state)
{
    (void)state;
    static const char text[] =
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":3}\n"
        "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":3}GARBAGE";
    gsize len = strlen(text) - strlen("GARBAGE");
    Outcome o = check_buffer("t.jsonl", text, len, "register", NULL, NULL);
    assert_int_equal(o.v, FL_VERDICT_VALID);
    outcome_clear(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_file),
        cmocka_unit_test(test_bad_buffer_message),
        cmocka_unit_test(test_empty_buffer),
        cmocka_unit_test(test_length_bounds_the_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
