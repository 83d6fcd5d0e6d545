/* tests/check/test_cli.c: `faultline check` on the hand-written histories
 * in tests/check/histories, through the real binary ($FAULTLINE).
 *
 * A file's name says what it holds and what the answer is:
 *   MODEL__description.EXPECT.EXT
 * EXPECT is valid, invalid, sequential-valid, sequential-invalid, unknown
 * (run with a short --timeout) or error-lineN (exit 2, message naming line
 * N of the file).  EXT is jsonl or edn. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define DIR "tests/check/histories"

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
    GError *err = NULL;
    gint wait;
    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait, &err);
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

/* The verdict: the last line of standard output. */
static char *last_line(const char *out)
{
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    int n = (int)g_strv_length(lines);
    while (n > 0 && lines[n - 1][0] == '\0') n--;
    return g_strdup(n > 0 ? lines[n - 1] : "");
}

static void check_one(const char *name)
{
    g_autofree char *path = g_build_filename(DIR, name, NULL);
    g_auto(GStrv) parts = g_strsplit(name, ".", -1);
    assert_int_equal(g_strv_length(parts), 3);
    g_auto(GStrv) mp = g_strsplit(parts[0], "__", 2);
    const char *model = mp[0], *expect = parts[1];
    gboolean seq = g_str_has_prefix(expect, "sequential-");
    if (seq) expect += strlen("sequential-");
    const char *args[] = { "check", "--model", model, "--consistency",
                           seq ? "sequential-per-key" : "linearizable",
                           "--timeout", strcmp(expect, "unknown") == 0 ? "0.3" : "60",
                           path, NULL };
    Run r = run(args);
    if (g_str_has_prefix(expect, "error-line")) {
        g_autofree char *want = g_strdup_printf("%s:%s:", path, expect + strlen("error-line"));
        if (r.status != 2 || strstr(r.err, want) == NULL)
            fprintf(stderr, "%s: status %d, stderr: %s", name, r.status, r.err);
        assert_int_equal(r.status, 2);
        assert_non_null(strstr(r.err, want));
        assert_string_equal(r.out, "");
        run_clear(&r);
        return;
    }
    int want_status = strcmp(expect, "valid") == 0 ? 0 : strcmp(expect, "invalid") == 0 ? 1 : 3;
    g_autofree char *last = last_line(r.out);
    if (r.status != want_status || strcmp(last, expect) != 0)
        fprintf(stderr, "%s: status %d, last line '%s'\n%s%s", name, r.status, last, r.out, r.err);
    assert_int_equal(r.status, want_status);
    assert_string_equal(last, expect);
    if (want_status == 1) {
        /* The explanation names the operation that could not be placed. */
        assert_non_null(strstr(r.out, "could not be placed"));
    }
    run_clear(&r);

    /* The same as data. */
    const char *jargs[] = { "check", "--json", "--model", model, "--consistency",
                            seq ? "sequential-per-key" : "linearizable",
                            "--timeout", strcmp(expect, "unknown") == 0 ? "0.3" : "60",
                            path, NULL };
    r = run(jargs);
    assert_int_equal(r.status, want_status);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    assert_non_null(j);
    json_t *valid = json_object_get(j, "valid");
    assert_non_null(valid);
    if (want_status == 0) assert_true(json_is_true(valid));
    if (want_status == 1) assert_true(json_is_false(valid));
    if (want_status == 3) assert_true(json_is_null(valid));
    assert_non_null(json_object_get(j, "model"));
    assert_non_null(json_object_get(j, "consistency"));
    assert_true(json_is_integer(json_object_get(j, "operations")));
    assert_true(json_is_integer(json_object_get(j, "keys")));
    json_t *cx = json_object_get(j, "counterexample");
    if (want_status == 1) {
        assert_non_null(cx);
        assert_non_null(json_object_get(cx, "stuck"));
        assert_true(json_is_array(json_object_get(cx, "prefix")));
    } else {
        assert_null(cx);
    }
    json_decref(j);
    run_clear(&r);
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_histories(void **state)
{
    GError *err = NULL;
    GDir *dir = g_dir_open(DIR, 0, &err);
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
        check_one(nm);
        n++;
    }
    assert_true(n >= 40);
    g_ptr_array_unref(names);
}

/* A JSON Lines file and its EDN twin get the same verdict (their names
 * say so too; here it is checked on the output). */
static void test_edn_twins(void **state)
{
    static const char *const stems[] = {
        "register__spec-example.valid", "register__stale-read.invalid",
        "register__double-cas.invalid", "kv__lost-append.invalid", "set__reads.valid",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(stems); i++) {
        g_auto(GStrv) mp = g_strsplit(stems[i], "__", 2);
        g_autofree char *a = g_strdup_printf(DIR "/%s.jsonl", stems[i]);
        g_autofree char *b = g_strdup_printf(DIR "/%s.edn", stems[i]);
        const char *aa[] = { "check", "--model", mp[0], a, NULL };
        const char *ba[] = { "check", "--model", mp[0], b, NULL };
        Run ra = run(aa), rb = run(ba);
        assert_int_equal(ra.status, rb.status);
        g_autofree char *la = last_line(ra.out), *lb = last_line(rb.out);
        assert_string_equal(la, lb);
        run_clear(&ra);
        run_clear(&rb);
    }
}

static void test_usage(void **state)
{
    const char *help[] = { "check", "--help", NULL };
    Run r = run(help);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "--model"));
    run_clear(&r);

    const char *none[] = { "check", NULL };
    r = run(none);
    assert_int_equal(r.status, 2);
    run_clear(&r);

    const char *no_model[] = { "check", DIR "/register__empty.valid.jsonl", NULL };
    r = run(no_model);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--type"));
    run_clear(&r);

    /* --model is the old name of --type: both still work, and they must agree. */
    const char *old_name[] = { "check", "--model", "register", DIR "/register__empty.valid.jsonl", NULL };
    r = run(old_name);
    assert_int_equal(r.status, 0);
    run_clear(&r);
    const char *new_name[] = { "check", "--type", "register", DIR "/register__empty.valid.jsonl", NULL };
    r = run(new_name);
    assert_int_equal(r.status, 0);
    run_clear(&r);
    const char *both[] = { "check", "--type", "register", "--model", "kv",
                           DIR "/register__empty.valid.jsonl", NULL };
    r = run(both);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "disagree"));
    run_clear(&r);

    const char *bad_model[] = { "check", "--model", "stack", DIR "/register__empty.valid.jsonl", NULL };
    r = run(bad_model);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "register"));
    run_clear(&r);

    const char *bad_cons[] = { "check", "--model", "register", "--consistency", "serializable",
                               DIR "/register__empty.valid.jsonl", NULL };
    r = run(bad_cons);
    assert_int_equal(r.status, 2);
    run_clear(&r);

    const char *missing[] = { "check", "--model", "register", DIR "/no-such-file.jsonl", NULL };
    r = run(missing);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no-such-file"));
    run_clear(&r);

    /* --format overrides the extension. */
    const char *fmt[] = { "check", "--model", "register", "--format", "edn",
                          DIR "/register__spec-example.valid.jsonl", NULL };
    r = run(fmt);
    assert_int_equal(r.status, 2);
    run_clear(&r);

    const char *alias[] = { "check", "--model", "cas-register",
                            DIR "/register__double-cas.invalid.jsonl", NULL };
    r = run(alias);
    assert_int_equal(r.status, 1);
    run_clear(&r);
}

/* Final reads ("final": true) read one replica's copy outside the protocol:
 * every consistency model leaves them out and says so, and only the
 * convergence check (eventual) looks at them.  Here the client operations
 * are linearizable while the final reads show replicas that disagree. */
static void test_final_reads_only_for_convergence(void **state)
{
    (void)state;
    const char *path = DIR "/register__final-reads-diverge.valid.jsonl";
    const char *models[] = { "linearizable", "sequential", "sequential-multikey", "causal" };
    for (size_t i = 0; i < G_N_ELEMENTS(models); i++) {
        const char *args[] = { "check", "--model", "register", "--consistency", models[i], path, NULL };
        Run r = run(args);
        assert_int_equal(r.status, 0);
        run_clear(&r);
    }
    const char *lin[] = { "check", "--model", "register", path, NULL };
    Run r = run(lin);
    assert_non_null(strstr(r.out, "2 final reads left out"));
    run_clear(&r);
    const char *ev[] = { "check", "--model", "register", "--consistency", "eventual", path, NULL };
    r = run(ev);
    assert_int_equal(r.status, 1);
    run_clear(&r);
}

/* The whole-history sequential check's witness search once gave up on
 * this ABD history (3,190 lines, from a run) and fell back on
 * linearizability.  The complete search (sequential.c note 5) decides it
 * on its own now. */
static void test_sequential_multikey_decides(void **state)
{
    (void)state;
    const char *args[] = { "check", "--model", "register", "--consistency", "sequential-multikey",
                           DIR "/register__multikey-witness-gives-up.valid.jsonl", NULL };
    Run r = run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "one order of all operations keeps every process's order"));
    run_clear(&r);
}

/* Session guarantees (session.c).  A read of a value nobody wrote, or only
 * a failed write, breaks every guarantee and causal consistency, and the
 * report says why (note 4).  Sessions are clients: a client whose read
 * timed out and that goes on as a new process still has to read its own
 * writes, unless the write itself timed out (note 5); without `client`,
 * each process is a session. */
static void test_sessions(void **state)
{
    (void)state;
    static const char *const all[] = {
        "read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads",
        "session", "causal",
    };
    static const struct { const char *file, *why; } garbage[] = {
        { "register__never-written.invalid.jsonl", "no write of its key wrote" },
        { "register__fail-write-read.invalid.jsonl", "only a failed write wrote (line 1)" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(garbage); i++) {
        g_autofree char *path = g_build_filename(DIR, garbage[i].file, NULL);
        for (gsize m = 0; m < G_N_ELEMENTS(all); m++) {
            const char *args[] = { "check", "--model", "register", "--consistency", all[m],
                                   path, NULL };
            Run r = run(args);
            if (r.status != 1 || !strstr(r.out, garbage[i].why))
                fprintf(stderr, "%s %s: status %d\n%s", garbage[i].file, all[m], r.status, r.out);
            assert_int_equal(r.status, 1);
            assert_non_null(strstr(r.out, garbage[i].why));
            run_clear(&r);
        }
        /* Eventual consistency (convergence of final reads) says nothing
         * of client reads. */
        const char *ev[] = { "check", "--model", "register", "--consistency", "eventual",
                             path, NULL };
        Run r = run(ev);
        assert_int_not_equal(r.status, 1);
        run_clear(&r);
    }
    static const struct { const char *file, *consistency; int status; } cases[] = {
        { "register__session-failover.invalid.jsonl", "read-your-writes", 1 },
        { "register__session-failover.invalid.jsonl", "monotonic-reads", 0 },
        { "register__session-failover-no-client.invalid.jsonl", "read-your-writes", 0 },
        { "register__session-info-write.valid.jsonl", "session", 0 },
        /* Causal consistency implies each guarantee: its sessions are
         * clients too (causal.c note 4). */
        { "register__session-failover.invalid.jsonl", "causal", 1 },
        { "register__session-failover-no-client.invalid.jsonl", "causal", 0 },
        { "register__session-info-write.valid.jsonl", "causal", 0 },
        { "register__spec-example.valid.jsonl", "session", 0 },
        { "register__jepsen-03-records.valid.edn", "session", 0 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_build_filename(DIR, cases[i].file, NULL);
        const char *args[] = { "check", "--model", "register", "--consistency",
                               cases[i].consistency, path, NULL };
        Run r = run(args);
        if (r.status != cases[i].status)
            fprintf(stderr, "%s %s: status %d\n%s%s", cases[i].file, cases[i].consistency,
                    r.status, r.out, r.err);
        assert_int_equal(r.status, cases[i].status);
        if (cases[i].status == 1) {
            /* The explanation names the client beside the process. */
            assert_non_null(strstr(r.out, "process 2    (client 0)"));
        }
        run_clear(&r);
    }
}

/* The two litmus histories of the hierarchy in scenarios/02-consistency:
 * store buffer (p writes x then reads y's old value, q writes y then reads
 * x's old value) is causal but not sequential; message passing (p writes x
 * then y, q reads the new y then the old x) is neither.  Both pass the
 * per-key check, which is why it is not called sequential consistency. */
static void test_litmus_histories(void **state)
{
    static const struct { const char *file, *model; int valid; } cases[] = {
        { "store-buffer", "linearizable", 0 },
        { "store-buffer", "sequential", 0 },
        { "store-buffer", "sequential-per-key", 1 },
        { "store-buffer", "causal", 1 },
        { "store-buffer", "causal-convergence", 1 },
        { "store-buffer", "read-your-writes", 1 },
        { "message-passing", "linearizable", 0 },
        { "message-passing", "sequential", 0 },
        { "message-passing", "sequential-per-key", 1 },
        { "message-passing", "causal", 0 },
        { "message-passing", "causal-memory", 0 },
        { "message-passing", "causal-convergence", 0 },
        { "message-passing", "monotonic-reads", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        g_autofree char *path = g_strdup_printf(DIR "/models/%s.jsonl", cases[i].file);
        const char *args[] = { "check", "--model", "register", "--consistency", cases[i].model,
                               path, NULL };
        Run r = run(args);
        g_autofree char *last = last_line(r.out);
        const char *want = cases[i].valid ? "valid" : "invalid";
        if (strcmp(last, want) != 0)
            fprintf(stderr, "%s under %s: %s\n%s%s", cases[i].file, cases[i].model, last, r.out, r.err);
        assert_string_equal(last, want);
        assert_int_equal(r.status, cases[i].valid ? 0 : 1);
        run_clear(&r);
    }
    (void)state;
}

/* Lamport's sequential consistency over the whole history
 * (histories/sequential/MODEL__name.EXPECT.jsonl): the store-buffer and
 * message-passing patterns are invalid, and explained; a history with
 * stale reads that one order explains is valid.  The check decides
 * (sequential.c note 5): no unknown without --timeout. */
static void test_sequential_whole_history(void **state)
{
    (void)state;
    const char *dir = DIR "/sequential";
    GDir *d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d))) g_ptr_array_add(names, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(names, by_name);
    int n = 0;
    for (guint i = 0; i < names->len; i++) {
        const char *nm = names->pdata[i];
        g_autofree char *path = g_build_filename(dir, nm, NULL);
        g_auto(GStrv) parts = g_strsplit(nm, ".", -1);
        assert_int_equal(g_strv_length(parts), 3);
        g_auto(GStrv) mp = g_strsplit(parts[0], "__", 2);
        gboolean valid = strcmp(parts[1], "valid") == 0;
        const char *args[] = { "check", "--model", mp[0], "--consistency", "sequential", path, NULL };
        Run r = run(args);
        g_autofree char *last = last_line(r.out);
        if (r.status != (valid ? 0 : 1))
            fprintf(stderr, "%s: status %d\n%s%s", nm, r.status, r.out, r.err);
        assert_int_equal(r.status, valid ? 0 : 1);
        assert_string_equal(last, parts[1]);
        if (!valid) assert_non_null(strstr(r.out, "not sequentially consistent"));
        run_clear(&r);
        /* Per key, each of these is sequentially consistent. */
        const char *pk[] = { "check", "--model", mp[0], "--consistency", "sequential-per-key", path, NULL };
        r = run(pk);
        assert_int_equal(r.status, 0);
        run_clear(&r);
        n++;
    }
    assert_true(n >= 3);
    g_ptr_array_unref(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_edn_twins),
        cmocka_unit_test(test_histories),
        cmocka_unit_test(test_final_reads_only_for_convergence),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_litmus_histories),
        cmocka_unit_test(test_sequential_multikey_decides),
        cmocka_unit_test(test_sequential_whole_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
