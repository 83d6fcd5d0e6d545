/* tests/check/test_elle.c: the Elle-style checker (sim/check/elle.c) on
 * list-append and rw-register histories.
 *
 * histories/elle holds, for every anomaly class, a history that shows it
 * (MODEL__CLASS__has) and the nearest one that does not (MODEL__CLASS__not),
 * each in EDN and JSON Lines (written by histories/elle/make.py), a pair in
 * Jepsen 0.3's record form (__has-jepsen03, __not-jepsen03), and bad
 * input (MODEL__what__error-lineN: exit 2, the message naming the file and
 * line N).  A `has` history must report its class and be invalid for
 * strict-serializable; a `not` history must not report it, and is strict
 * serializable.  Then: the boundaries between models, the picture, and
 * generated histories (tests/check/elle_gen.h) checked in the process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/check/check.h"
#include "tests/check/elle_gen.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define DIR "tests/check/histories/elle"

typedef struct {
    int status;
    char *out, *err;
} Run;

static Run run(const char *const *args)
{
    const char *bin = g_getenv("FAULTLINE");
    assert_non_null(bin);
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)bin);
    for (int i = 0; args[i]; i++) g_ptr_array_add(argv, (gpointer)args[i]);
    g_ptr_array_add(argv, NULL);
    Run r = { 0 };
    gint wait;
    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait, NULL);
    assert_true(ok);
    r.status = WIFEXITED(wait) ? WEXITSTATUS(wait) : -1;
    g_ptr_array_unref(argv);
    return r;
}

static void run_clear(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}

static char *last_line(const char *out)
{
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    int n = (int)g_strv_length(lines);
    while (n > 0 && lines[n - 1][0] == '\0') n--;
    return g_strdup(n > 0 ? lines[n - 1] : "");
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_file(const char *name)
{
    g_autofree char *path = g_build_filename(DIR, name, NULL);
    g_autofree char *stem = g_strndup(name, strrchr(name, '.') - name);
    g_auto(GStrv) parts = g_strsplit(stem, "__", 3);
    assert_int_equal(g_strv_length(parts), 3);
    const char *model = parts[0], *cls = parts[1], *side = parts[2];
    if (g_str_has_prefix(side, "error-line")) {
        const char *args[] = { "check", "--model", model, path, NULL };
        Run r = run(args);
        g_autofree char *want = g_strdup_printf("%s:%s:", path, side + strlen("error-line"));
        if (r.status != 2 || strstr(r.err, want) == NULL)
            fprintf(stderr, "%s: status %d, stderr: %s", name, r.status, r.err);
        assert_int_equal(r.status, 2);
        assert_non_null(strstr(r.err, want));
        run_clear(&r);
        return;
    }
    gboolean has = g_str_has_prefix(side, "has");
    assert_true(has || g_str_has_prefix(side, "not"));
    const char *args[] = { "check", "--json", "--model", model, "--consistency",
                           "strict-serializable", path, NULL };
    Run r = run(args);
    json_t *j = json_loads(r.out, 0, NULL);
    if (j == NULL || r.status != (has ? 1 : 0))
        fprintf(stderr, "%s: status %d\n%s%s", name, r.status, r.out, r.err);
    assert_non_null(j);
    assert_int_equal(r.status, has ? 1 : 0);
    json_t *an = json_object_get(j, "anomalies");
    assert_non_null(an);
    if ((json_object_get(an, cls) != NULL) != has)
        fprintf(stderr, "%s: %s %s\n", name, cls, has ? "not reported" : "reported");
    assert_int_equal(json_object_get(an, cls) != NULL, has);
    assert_true(json_is_boolean(json_object_get(j, "valid")));
    assert_non_null(json_object_get(j, "model"));
    assert_non_null(json_object_get(j, "consistency"));
    assert_non_null(json_object_get(j, "operations"));
    assert_non_null(json_object_get(j, "keys"));
    assert_non_null(json_object_get(j, "models"));
    if (has) assert_non_null(json_object_get(j, "counterexample"));
    json_decref(j);
    run_clear(&r);
    /* The text report: the verdict last, and for a cycle, why each edge. */
    const char *targs[] = { "check", "--model", model, "--consistency", "strict-serializable",
                            path, NULL };
    r = run(targs);
    g_autofree char *last = last_line(r.out);
    assert_string_equal(last, has ? "invalid" : "valid");
    if (has) {
        g_autofree char *head = g_strdup_printf("\n%s", cls);
        assert_non_null(strstr(r.out, head));
    }
    if (has && cls[0] == 'G' && strcmp(cls, "G1a") != 0 && strcmp(cls, "G1b") != 0)
        assert_non_null(strstr(r.out, " because "));
    run_clear(&r);
}

static void test_histories(void **state)
{
    (void)state;
    GDir *dir = g_dir_open(DIR, 0, NULL);
    assert_non_null(dir);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir))) g_ptr_array_add(names, g_strdup(name));
    g_dir_close(dir);
    g_ptr_array_sort(names, by_name);
    int n = 0;
    for (guint i = 0; i < names->len; i++) {
        const char *nm = names->pdata[i];
        if (!g_str_has_suffix(nm, ".jsonl") && !g_str_has_suffix(nm, ".edn")) continue;
        check_file(nm);
        n++;
    }
    assert_true(n >= 100);
    g_ptr_array_unref(names);
}

/* Where each anomaly sits among the models (note 9 of elle.c), on both
 * formats. */
static void test_boundaries(void **state)
{
    (void)state;
    static const struct { const char *stem, *consistency; int status; } cases[] = {
        { "list-append__G0__has", "read-uncommitted", 1 },
        { "list-append__G1a__has", "read-uncommitted", 0 },
        { "list-append__G1a__has", "read-committed", 1 },
        { "list-append__G1c__has", "read-uncommitted", 0 },
        { "list-append__G1c__has", "read-committed", 1 },
        { "list-append__G-single__has", "read-committed", 0 },
        { "list-append__G-single__has", "snapshot-isolation", 1 },
        { "list-append__G-single__has", "repeatable-read", 1 },
        { "list-append__G2-item__has", "snapshot-isolation", 0 },
        { "list-append__G2-item__has", "repeatable-read", 1 },
        { "list-append__G2-item__has", "serializable", 1 },
        { "list-append__G-nonadjacent__has", "snapshot-isolation", 1 },
        { "list-append__lost-update__has", "read-committed", 0 },
        { "list-append__lost-update__has", "snapshot-isolation", 1 },
        { "list-append__G-single-process__has", "serializable", 0 },
        { "list-append__G-single-process__has", "session-serializable", 1 },
        { "list-append__G-single-process__has", "strict-serializable", 1 },
        { "list-append__G-single-realtime__has", "session-serializable", 0 },
        { "list-append__G-single-realtime__has", "strict-serializable", 1 },
        { "list-append__G-single-realtime__has", "strict-read-committed", 0 },
        { "rw-register__G2-item__has", "snapshot-isolation", 0 },
        { "rw-register__G2-item__has", "serializable", 1 },
        { "rw-register__G1a__has", "read-committed", 1 },
        { "rw-register__lost-update__has", "snapshot-isolation", 1 },
        { "rw-register__G-single-realtime__has", "serializable", 0 },
        { "rw-register__G-single-realtime__has", "strict-snapshot-isolation", 1 },
        { "list-append__internal__has", "read-uncommitted", 1 },
    };
    static const char *const exts[] = { "edn", "jsonl" };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
        for (int e = 0; e < 2; e++) {
            g_autofree char *path = g_strdup_printf(DIR "/%s.%s", cases[i].stem, exts[e]);
            g_autofree char *model = g_strndup(cases[i].stem, strstr(cases[i].stem, "__") -
                                               cases[i].stem);
            const char *args[] = { "check", "--model", model, "--consistency",
                                   cases[i].consistency, path, NULL };
            Run r = run(args);
            if (r.status != cases[i].status)
                fprintf(stderr, "%s under %s: %d\n%s%s", path, cases[i].consistency, r.status,
                        r.out, r.err);
            assert_int_equal(r.status, cases[i].status);
            run_clear(&r);
        }
}

static void test_usage(void **state)
{
    (void)state;
    const char *bad[] = { "check", "--model", "list-append", "--consistency", "linearizable",
                          DIR "/list-append__G0__not.edn", NULL };
    Run r = run(bad);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "strict-serializable"));
    run_clear(&r);
    /* Serializable by default. */
    const char *def[] = { "check", "--json", "--model", "list-append",
                          DIR "/list-append__G2-item__has.jsonl", NULL };
    r = run(def);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "\"consistency\": \"serializable\""));
    run_clear(&r);
    /* --format edn on a file of another extension. */
    const char *fmt[] = { "check", "--model", "list-append", "--format", "jsonl",
                          DIR "/list-append__G0__not.edn", NULL };
    r = run(fmt);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "list-append__G0__not.edn:1:"));
    run_clear(&r);
}

static void test_picture(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("fl-elle-XXXXXX", NULL);
    assert_non_null(dir);
    g_autofree char *dot = g_build_filename(dir, "cycles.dot", NULL);
    g_autofree char *svg = g_build_filename(dir, "cycles.svg", NULL);
    const char *args[] = { "check", "--model", "list-append", "--picture", dot,
                           DIR "/list-append__G-single__has.edn", NULL };
    Run r = run(args);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "Picture: "));
    g_autofree char *text = NULL;
    assert_true(g_file_get_contents(dot, &text, NULL, NULL));
    assert_non_null(strstr(text, "digraph"));
    assert_non_null(strstr(text, "G-single"));
    assert_non_null(strstr(text, "did not see"));
    run_clear(&r);
    g_unlink(dot);
    g_unlink(svg);
    g_rmdir(dir);
}

/* Generated histories, checked in the process (fl_check_buffer). */
static FlVerdict check_gen(FlTxnKind kind, guint g2, guint gsingle, const char *consistency,
                           json_t **json)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    FlElleGenParams p = { .kind = kind, .txns = 2000, .processes = 5, .seed = 7,
                          .g2_pairs = g2, .g_single = gsingle, .edn = gsingle % 2 == 1 };
    fl_elle_gen(&p, f);
    fclose(f);
    GError *err = NULL;
    FlVerdict v = fl_check_buffer(p.edn ? "gen.edn" : "gen.jsonl", text, len,
                                  kind == FL_TXN_LIST_APPEND ? "list-append" : "rw-register",
                                  consistency, NULL, 0, NULL, json, &err);
    if (err) fprintf(stderr, "%s\n", err->message);
    g_clear_error(&err);
    free(text);
    return v;
}

static void test_generated(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        FlTxnKind kind = k ? FL_TXN_RW_REGISTER : FL_TXN_LIST_APPEND;
        json_t *j = NULL;
        assert_int_equal(check_gen(kind, 0, 0, "strict-serializable", &j), FL_VERDICT_VALID);
        json_decref(j);
        /* Write skews only: snapshot isolation holds, serializability not. */
        assert_int_equal(check_gen(kind, 20, 0, "snapshot-isolation", &j), FL_VERDICT_VALID);
        json_decref(j);
        assert_int_equal(check_gen(kind, 20, 0, "serializable", &j), FL_VERDICT_INVALID);
        json_t *an = json_object_get(j, "anomalies");
        assert_non_null(json_object_get(an, "G2-item"));
        assert_null(json_object_get(an, "G-single"));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(an, "G2-item"),
                                                            "components")), 20);
        json_decref(j);
        /* One read skew among them: found, and it breaks SI. */
        assert_int_equal(check_gen(kind, 20, 1, "snapshot-isolation", &j), FL_VERDICT_INVALID);
        an = json_object_get(j, "anomalies");
        assert_non_null(json_object_get(an, "G-single"));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(an, "G-single"),
                                                            "components")), 1);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histories),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_picture),
        cmocka_unit_test(test_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
