/* faultline fuzz and replay, end to end through the command line. */
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define BUGGY "tests/fuzz/buggy.json"
#define ALWAYS "tests/fuzz/always-fails.json"
#define SLOW "tests/fuzz/slow.json"
#define NOEXPECT "tests/fuzz/check-no-expect.json"
#define GUIDED_PAXOS "tests/fuzz/guided-paxos.json"
#define GUIDED_RAFT "tests/fuzz/guided-raft.json"

static const char *exe(void)
{
    const char *e = g_getenv("FAULTLINE");
    return e ? e : "build/faultline";
}

/* Runs faultline with @args (NULL-terminated); returns the exit status and
 * the standard output (caller frees). */
static int run(char **out, ...)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)exe());
    va_list ap;
    va_start(ap, out);
    for (const char *a; (a = va_arg(ap, const char *));)
        g_ptr_array_add(argv, (gpointer)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    int status = -1;
    GError *err = NULL;
    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                               NULL, out, NULL, &status, &err);
    g_ptr_array_free(argv, TRUE);
    assert_true(ok);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A temporary folder, removed when the variable goes out of scope. */
static void rmtree(char **dir)
{
    if (!*dir)
        return;
    const char *argv[] = { "rm", "-rf", *dir, NULL };
    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    g_free(*dir);
}
#define TMPDIR_AUTO __attribute__((cleanup(rmtree))) char *

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    return j;
}

/* The (seed, kind, hash) list of a --json summary, as one string. */
static char *failures_key(json_t *sum)
{
    GString *s = g_string_new(NULL);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(sum, "failures"), i, f)
        g_string_append_printf(s, "%" JSON_INTEGER_FORMAT ":%s:%s ", json_integer_value(json_object_get(f, "seed")),
                               json_string_value(json_object_get(f, "kind")),
                               json_string_value(json_object_get(f, "trace_hash")));
    return g_string_free(s, FALSE);
}

static void test_same_results_whatever_jobs(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *o1 = NULL, *o3 = NULL;
    assert_int_equal(run(&o1, "fuzz", BUGGY, "--seeds", "40", "--keep-going", "--no-shrink", "--json",
                         "--jobs", "1", "--out", dir, NULL), 1);
    assert_int_equal(run(&o3, "fuzz", BUGGY, "--seeds", "40", "--keep-going", "--no-shrink", "--json",
                         "--jobs", "3", "--out", dir, NULL), 1);
    json_t *a = parse(o1), *b = parse(o3);
    assert_int_equal(json_integer_value(json_object_get(a, "ran")), 40);
    assert_true(json_array_size(json_object_get(a, "failures")) > 0);
    assert_true(json_array_size(json_object_get(a, "failures")) < 40);
    g_autofree char *ka = failures_key(a), *kb = failures_key(b);
    assert_string_equal(ka, kb);
    json_decref(a);
    json_decref(b);
    g_free(o1);
    g_free(o3);
}

/* The failures with where they were found (turn and origin), and the
 * coverage report, as one string. */
static char *guided_key(json_t *sum)
{
    g_autofree char *fails = failures_key(sum);
    GString *s = g_string_new(fails);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(sum, "failures"), i, f)
        g_string_append_printf(s, "%" JSON_INTEGER_FORMAT ":%s ", json_integer_value(json_object_get(f, "run_seed")),
                               json_string_value(json_object_get(f, "origin")));
    char *cov = json_dumps(json_object_get(sum, "coverage"), JSON_COMPACT | JSON_SORT_KEYS);
    g_string_append(s, cov);
    free(cov);
    return g_string_free(s, FALSE);
}

/* Guided runs are reproducible (sim/fuzz.c note 6): with 1 or 2 workers,
 * the same mutants run, the same failures are found at the same turns, and
 * coverage grows the same way batch by batch. */
static void test_guided_same_whatever_jobs(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *o1 = NULL, *o2 = NULL;
    assert_int_equal(run(&o1, "fuzz", GUIDED_PAXOS, "--seeds", "48", "--keep-going", "--no-shrink",
                         "--guided", "--json", "--jobs", "1", "--out", dir, NULL), 1);
    assert_int_equal(run(&o2, "fuzz", GUIDED_PAXOS, "--seeds", "48", "--keep-going", "--no-shrink",
                         "--guided", "--json", "--jobs", "2", "--out", dir, NULL), 1);
    json_t *a = parse(o1), *b = parse(o2);
    json_t *cov = json_object_get(a, "coverage");
    assert_non_null(cov);
    assert_true(json_integer_value(json_object_get(cov, "mutants")) > 0);
    assert_int_equal(json_array_size(json_object_get(cov, "curve")), 3);   /* three batches of 16 */
    /* Some failure came from a bred schedule, not only from fresh draws. */
    bool bred = false;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(a, "failures"), i, f)
        bred |= strncmp(json_string_value(json_object_get(f, "origin")), "mutant", 6) == 0;
    assert_true(bred);
    g_autofree char *ka = guided_key(a), *kb = guided_key(b);
    assert_string_equal(ka, kb);
    json_decref(a);
    json_decref(b);
    g_free(o1);
    g_free(o2);
}

/* Coverage only watches: the same seeds give the same runs (trace hashes)
 * with it as without, and twice the same coverage.  A scenario without a
 * nemesis is never bred: --guided then runs exactly the plain seeds. */
static void test_coverage_is_passive(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *o1 = NULL, *o2 = NULL, *o3 = NULL;
    assert_int_equal(run(&o1, "fuzz", BUGGY, "--seeds", "20", "--keep-going", "--no-shrink", "--json",
                         "--jobs", "1", "--out", dir, NULL), 1);
    assert_int_equal(run(&o2, "fuzz", BUGGY, "--seeds", "20", "--keep-going", "--no-shrink", "--json",
                         "--coverage", "--jobs", "2", "--out", dir, NULL), 1);
    assert_int_equal(run(&o3, "fuzz", BUGGY, "--seeds", "20", "--keep-going", "--no-shrink", "--json",
                         "--guided", "--jobs", "1", "--out", dir, NULL), 1);
    json_t *a = parse(o1), *b = parse(o2), *c = parse(o3);
    g_autofree char *ka = failures_key(a), *kb = failures_key(b), *kc = failures_key(c);
    assert_string_equal(ka, kb);
    assert_string_equal(ka, kc);
    json_t *cb = json_object_get(b, "coverage"), *cc = json_object_get(c, "coverage");
    assert_true(json_integer_value(json_object_get(cb, "features")) > 0);
    assert_true(json_equal(json_object_get(cb, "curve"), json_object_get(cc, "curve")));
    assert_int_equal(json_integer_value(json_object_get(cc, "mutants")), 0);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    g_free(o1);
    g_free(o2);
    g_free(o3);
}

/* A failure found by a mutant is written as a plain scenario (explicit
 * faults, no nemesis, the seed it ran with) that replays exactly. */
static void test_guided_failure_replays(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *out = NULL;
    assert_int_equal(run(&out, "fuzz", GUIDED_PAXOS, "--seeds", "48", "--keep-going", "--no-shrink",
                         "--guided", "--json", "--jobs", "2", "--out", dir, NULL), 1);
    json_t *sum = parse(out);
    json_t *mutant = NULL, *f;
    size_t i;
    json_array_foreach(json_object_get(sum, "failures"), i, f)
        if (!mutant && strncmp(json_string_value(json_object_get(f, "origin")), "mutant", 6) == 0)
            mutant = f;
    assert_non_null(mutant);
    const char *file = json_string_value(json_object_get(mutant, "file"));
    assert_non_null(file);
    json_error_t je;
    json_t *doc = json_load_file(file, 0, &je);
    assert_non_null(doc);
    json_array_foreach(json_object_get(doc, "faults"), i, f)
        assert_string_not_equal(json_string_value(json_object_get(f, "kind")), "nemesis");
    /* It names the seed it ran with: its parent's, or its own turn's. */
    json_t *run_seed = json_object_get(mutant, "run_seed");
    assert_int_equal(json_integer_value(json_object_get(doc, "seed")),
                     json_integer_value(run_seed ? run_seed : json_object_get(mutant, "seed")));
    char *rep = NULL;
    assert_int_equal(run(&rep, "replay", file, NULL), 0);
    json_decref(doc);
    json_decref(sum);
    g_free(out);
    g_free(rep);
}

/* On a correct protocol the corpus grows past the first schedule, coverage
 * never shrinks, and bred schedules raise no false alarm (note 8). */
static void test_guided_corpus_grows(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *out = NULL;
    assert_int_equal(run(&out, "fuzz", GUIDED_RAFT, "--seeds", "32", "--keep-going", "--no-shrink",
                         "--guided", "--json", "--jobs", "2", "--out", dir, NULL), 0);
    json_t *sum = parse(out);
    json_t *cov = json_object_get(sum, "coverage");
    assert_true(json_integer_value(json_object_get(cov, "corpus")) > 1);
    assert_true(json_integer_value(json_object_get(cov, "mutants")) > 0);
    json_t *curve = json_object_get(cov, "curve");
    assert_int_equal(json_array_size(curve), 2);
    json_int_t first = json_integer_value(json_array_get(json_array_get(curve, 0), 1));
    json_int_t last = json_integer_value(json_array_get(json_array_get(curve, 1), 1));
    assert_true(first > 0);
    assert_true(last >= first);
    assert_int_equal(last, json_integer_value(json_object_get(cov, "features")));
    assert_int_equal(json_array_size(json_object_get(sum, "failures")), 0);
    /* Plain fuzzing reports no coverage: collecting it is opt-in. */
    char *plain = NULL;
    assert_int_equal(run(&plain, "fuzz", GUIDED_RAFT, "--seeds", "2", "--json", "--out", dir, NULL), 0);
    json_t *p = parse(plain);
    assert_null(json_object_get(p, "coverage"));
    json_decref(p);
    json_decref(sum);
    g_free(out);
    g_free(plain);
}

static void test_shards_cover_range_once(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *whole = NULL;
    run(&whole, "fuzz", BUGGY, "--seed-range", "5..33", "--keep-going", "--no-shrink", "--json", "--out", dir, NULL);
    json_t *w = parse(whole);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    json_int_t ran = 0;
    for (int i = 0; i < 4; i++) {
        char shard[16], *out = NULL;
        g_snprintf(shard, sizeof shard, "%d/4", i);
        run(&out, "fuzz", BUGGY, "--seed-range", "5..33", "--shard", shard, "--keep-going", "--no-shrink",
            "--json", "--out", dir, NULL);
        json_t *j = parse(out);
        ran += json_integer_value(json_object_get(j, "ran"));
        json_decref(j);
        char *path = g_strdup_printf("%s/shard%d.json", dir, i);
        assert_true(g_file_set_contents(path, out, -1, NULL));
        g_ptr_array_add(files, path);
        g_free(out);
    }
    assert_int_equal(ran, 29);
    char *merged = NULL;
    run(&merged, "fuzz", "--merge", "--json", g_ptr_array_index(files, 0), g_ptr_array_index(files, 1),
        g_ptr_array_index(files, 2), g_ptr_array_index(files, 3), NULL);
    json_t *m = parse(merged);
    assert_int_equal(json_integer_value(json_object_get(m, "ran")), 29);
    g_autofree char *kw = failures_key(w), *km = failures_key(m);
    assert_string_equal(kw, km);
    /* A shard given twice, or results of another split, are refused; a
     * missing shard makes the union incomplete: exit 1. */
    char *again = NULL;
    assert_int_equal(run(&again, "fuzz", "--merge", "--json", g_ptr_array_index(files, 0),
                         g_ptr_array_index(files, 0), NULL), 2);
    g_free(again);
    char *other = NULL, *mixed = NULL;
    run(&other, "fuzz", BUGGY, "--seed-range", "5..33", "--shard", "0/2", "--keep-going",
        "--no-shrink", "--json", "--out", dir, NULL);
    g_autofree char *opath = g_strdup_printf("%s/other.json", dir);
    assert_true(g_file_set_contents(opath, other, -1, NULL));
    assert_int_equal(run(&mixed, "fuzz", "--merge", "--json", g_ptr_array_index(files, 1), opath,
                         NULL), 2);
    g_free(other);
    g_free(mixed);
    char *part = NULL;
    assert_int_equal(run(&part, "fuzz", "--merge", "--json", g_ptr_array_index(files, 1),
                         g_ptr_array_index(files, 3), NULL), 1);
    json_t *pj = parse(part);
    json_t *miss = json_object_get(pj, "missing_shards");
    assert_int_equal(json_array_size(miss), 2);
    assert_int_equal(json_integer_value(json_array_get(miss, 0)), 0);
    assert_int_equal(json_integer_value(json_array_get(miss, 1)), 2);
    assert_int_equal(json_array_size(json_object_get(m, "missing_shards")), 0);
    json_decref(pj);
    g_free(part);
    json_decref(w);
    json_decref(m);
    g_free(whole);
    g_free(merged);
    g_ptr_array_free(files, TRUE);
}

static void test_found_shrunk_and_replayed(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *out = NULL;
    assert_int_equal(run(&out, "fuzz", BUGGY, "--seeds", "20", "--json", "--out", dir, NULL), 1);
    json_t *sum = parse(out);
    json_t *fails = json_object_get(sum, "failures");
    assert_int_equal(json_array_size(fails), 1);   /* stops at the first failing seed */
    json_t *f = json_array_get(fails, 0);
    const char *file = json_string_value(json_object_get(f, "file"));
    assert_non_null(file);
    json_error_t je;
    json_t *doc = json_load_file(file, 0, &je);
    assert_non_null(doc);
    /* Shrunk: fewer faults than the four of the original, still failing. */
    assert_true(json_array_size(json_object_get(doc, "faults")) < 4);
    assert_non_null(strstr(json_string_value(json_object_get(doc, "description")), "Found by faultline fuzz"));
    char *rep = NULL;
    assert_int_equal(run(&rep, "replay", file, NULL), 0);
    g_autofree char *line = g_strdup_printf("trace_hash=%s", json_string_value(json_object_get(json_object_get(doc, "expect"), "trace_hash")));
    assert_non_null(strstr(rep, line));
    /* `faultline run` on it fails the same way: the failure reproduces. */
    char *r2 = NULL;
    assert_int_equal(run(&r2, "run", file, "--out", dir, NULL), 1);
    assert_non_null(strstr(r2, "max_info"));
    /* A tampered hash is refused with both hashes. */
    json_object_set_new(json_object_get(doc, "expect"), "trace_hash", json_string("0000000000000000"));
    g_autofree char *bad = g_build_filename(dir, "tampered.json", NULL);
    assert_int_equal(json_dump_file(doc, bad, 0), 0);
    char *r3 = NULL;
    assert_int_equal(run(&r3, "replay", bad, NULL), 1);
    assert_non_null(strstr(r3, "DIFFERENT"));
    json_decref(doc);
    json_decref(sum);
    g_free(out);
    g_free(rep);
    g_free(r2);
    g_free(r3);
}

/* A scenario that names a check and says nothing in `expect` claims that the
 * check holds: `run` exits 1 and `fuzz` counts every invalid seed as a
 * failure.  Stating the violation (expect.valid or expect.models false)
 * turns both back to a pass. */
static void test_check_is_the_default_expectation(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *out = NULL;
    assert_int_equal(run(&out, "run", NOEXPECT, "--out", dir, NULL), 1);
    assert_non_null(strstr(out, "expected linearizable to hold"));
    char *fz = NULL;
    assert_int_equal(run(&fz, "fuzz", NOEXPECT, "--seeds", "3", "--jobs", "1", "--keep-going",
                         "--no-shrink", "--json", "--out", dir, NULL), 1);
    json_t *sum = parse(fz);
    assert_int_equal(json_array_size(json_object_get(sum, "failures")), 3);
    json_decref(sum);

    json_error_t je;
    json_t *doc = json_load_file(NOEXPECT, 0, &je);
    assert_non_null(doc);
    g_autofree char *stated = g_build_filename(dir, "stated.json", NULL);
    json_object_set_new(doc, "expect", json_pack("{s:b}", "valid", 0));
    assert_int_equal(json_dump_file(doc, stated, 0), 0);
    char *r2 = NULL;
    assert_int_equal(run(&r2, "run", stated, "--out", dir, NULL), 0);
    json_object_set_new(doc, "expect", json_pack("{s:{s:b}}", "models", "linearizable", 0));
    assert_int_equal(json_dump_file(doc, stated, 0), 0);
    char *r3 = NULL;
    assert_int_equal(run(&r3, "run", stated, "--out", dir, NULL), 0);
    json_decref(doc);
    g_free(out);
    g_free(fz);
    g_free(r2);
    g_free(r3);
}

/* `faultline claims` weighs each claim over seeds: the default claim of a
 * named check fails on every seed of check-no-expect.json; stated as a
 * violation it is true, with its rate; bounds report their worst seed. */
static void test_claims_over_seeds(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *out = NULL;
    assert_int_equal(run(&out, "claims", NOEXPECT, "--seeds", "4", "--jobs", "2", "--json", NULL), 1);
    json_t *doc = parse(out);
    json_t *c = json_array_get(json_object_get(json_array_get(json_object_get(doc, "scenarios"), 0), "claims"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "claim")), "linearizable");
    assert_string_equal(json_string_value(json_object_get(c, "expected")), "holds");
    assert_int_equal(json_integer_value(json_object_get(c, "failed")), 4);
    assert_int_equal(json_integer_value(json_object_get(c, "first_failing_seed")), 1);
    assert_true(json_is_false(json_object_get(c, "true")));
    json_decref(doc);

    json_error_t je;
    json_t *sc = json_load_file(NOEXPECT, 0, &je);
    assert_non_null(sc);
    json_object_set_new(sc, "expect", json_pack("{s:b,s:i}", "valid", 0, "min_ok", 10));
    g_autofree char *stated = g_build_filename(dir, "stated.json", NULL);
    assert_int_equal(json_dump_file(sc, stated, 0), 0);
    char *o2 = NULL;
    assert_int_equal(run(&o2, "claims", stated, "--seeds", "4", NULL), 0);
    assert_non_null(strstr(o2, "violated on 4 of 4 seeds"));
    assert_non_null(strstr(o2, "bound loose"));
    /* --strict-bounds turns a loose bound into a false claim. */
    char *o3 = NULL;
    assert_int_equal(run(&o3, "claims", stated, "--seeds", "2", "--strict-bounds", NULL), 1);
    char *o4 = NULL;
    assert_int_equal(run(&o4, "claims", NULL), 2);
    g_free(o4);
    assert_int_equal(run(&o4, "claims", stated, "--seed-range", "5..2", NULL), 2);
    json_decref(sc);
    g_free(out);
    g_free(o2);
    g_free(o3);
    g_free(o4);
}

/* A worker that fails a real assertion (the test hook makes one fail at
 * seed 3) costs only that seed; what it printed goes into the failure's
 * detail, never onto standard output, so --json stays parseable. */
static void test_assertion_in_worker(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    g_setenv("FAULTLINE_TEST_ASSERT_SEED", "3", TRUE);
    char *out = NULL;
    int status = run(&out, "fuzz", BUGGY, "--seeds", "4", "--jobs", "2", "--keep-going",
                     "--no-shrink", "--json", "--out", dir, NULL);
    g_unsetenv("FAULTLINE_TEST_ASSERT_SEED");
    assert_int_equal(status, 1);
    assert_true(out[0] == '{');   /* nothing the worker printed came first */
    json_t *sum = parse(out);
    assert_int_equal(json_integer_value(json_object_get(sum, "ran")), 4);
    json_t *f;
    size_t i;
    bool seen = false;
    json_array_foreach(json_object_get(sum, "failures"), i, f) {
        if (json_integer_value(json_object_get(f, "seed")) != 3)
            continue;
        seen = true;
        assert_string_equal(json_string_value(json_object_get(f, "kind")), "crash");
        assert_non_null(strstr(json_string_value(json_object_get(f, "detail")), "assertion failed"));
    }
    assert_true(seen);
    json_decref(sum);
    g_free(out);
}

static void test_interrupt_writes_what_was_found(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    const char *argv[] = { exe(), "fuzz", BUGGY, "--seeds", "1000000", "--keep-going", "--json", "--out", dir, NULL };
    GPid pid;
    int out_fd;
    GError *err = NULL;
    assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                         NULL, NULL, &pid, NULL, &out_fd, NULL, &err));
    g_usleep(1500000);
    kill(pid, SIGINT);
    GString *text = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(out_fd, buf, sizeof buf)) > 0)
        g_string_append_len(text, buf, n);
    close(out_fd);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    json_t *sum = parse(text->str);
    assert_true(json_is_true(json_object_get(sum, "interrupted")));
    json_int_t ran = json_integer_value(json_object_get(sum, "ran"));
    assert_true(ran > 0 && ran < 1000000);
    size_t nf = json_array_size(json_object_get(sum, "failures"));
    assert_true(nf > 0);
    /* Every failure reported is on disk. */
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(sum, "failures"), i, f)
        assert_true(g_file_test(json_string_value(json_object_get(f, "file")), G_FILE_TEST_EXISTS));
    json_decref(sum);
    g_string_free(text, TRUE);
}

/* The pid of a child of @parent, or 0. */
static GPid child_of(GPid parent)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/task/%d/children", parent, parent);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    return (GPid)atoi(text);
}

/* Workers run many seeds each: what a worker computes for a seed must not
 * depend on what it ran before.  The seeds that fail under the fuzzer are
 * exactly those whose single run fails. */
static void test_workers_match_single_runs(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *out = NULL;
    assert_int_equal(run(&out, "fuzz", BUGGY, "--seeds", "30", "--keep-going", "--no-shrink", "--json",
                         "--jobs", "1", "--out", dir, NULL), 1);
    json_t *sum = parse(out);
    g_free(out);
    bool failed[31] = { false };
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(sum, "failures"), i, f)
        failed[json_integer_value(json_object_get(f, "seed"))] = true;
    json_decref(sum);
    for (int seed = 1; seed <= 30; seed++) {
        char s[16];
        g_snprintf(s, sizeof s, "%d", seed);
        char *single = NULL;
        int status = run(&single, "run", BUGGY, "--seed", s, "--no-trace", "--out", dir, NULL);
        g_free(single);
        assert_int_equal(status, failed[seed] ? 1 : 0);
    }
}

/* A worker killed from outside (as the OOM killer would) loses no seed: a
 * new worker takes the rest, and the killed seed is reported. */
static void test_killed_worker_loses_nothing(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    const char *argv[] = { exe(), "fuzz", ALWAYS, "--seeds", "12", "--keep-going", "--no-shrink", "--json",
                           "--jobs", "1", "--out", dir, NULL };
    GPid pid;
    int out_fd;
    assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
                                         G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &pid, NULL, &out_fd,
                                         NULL, NULL));
    g_usleep(100000);
    GPid worker = 0;
    for (int i = 0; i < 200 && !worker; i++, g_usleep(5000))
        worker = child_of(pid);
    assert_true(worker > 0);
    kill(worker, SIGKILL);
    GString *text = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(out_fd, buf, sizeof buf)) > 0)
        g_string_append_len(text, buf, n);
    close(out_fd);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(WEXITSTATUS(status), 1);
    json_t *sum = parse(text->str);
    assert_int_equal(json_integer_value(json_object_get(sum, "ran")), 12);
    json_t *fails = json_object_get(sum, "failures");
    assert_int_equal(json_array_size(fails), 12);
    size_t i;
    json_t *f;
    json_array_foreach(fails, i, f)
        assert_int_equal(json_integer_value(json_object_get(f, "seed")), (json_int_t)i + 1);
    json_decref(sum);
    g_string_free(text, TRUE);
}

/* A run past --time-limit is a failure of its own kind: the worker's alarm
 * kills it, and a new worker runs the next seed. */
static void test_time_limit(void **st)
{
    TMPDIR_AUTO dir = g_dir_make_tmp("fuzz-XXXXXX", NULL);
    char *out = NULL;
    assert_int_equal(run(&out, "fuzz", SLOW, "--seeds", "2", "--jobs", "1", "--keep-going", "--no-shrink",
                         "--time-limit", "1", "--json", "--out", dir, NULL), 1);
    json_t *sum = parse(out);
    g_free(out);
    assert_int_equal(json_integer_value(json_object_get(sum, "ran")), 2);
    json_t *fails = json_object_get(sum, "failures");
    assert_int_equal(json_array_size(fails), 2);
    size_t i;
    json_t *f;
    json_array_foreach(fails, i, f) {
        assert_int_equal(json_integer_value(json_object_get(f, "seed")), (json_int_t)i + 1);
        assert_string_equal(json_string_value(json_object_get(f, "kind")), "timeout");
    }
    json_decref(sum);
}

static void test_bad_usage(void **st)
{
    char *out = NULL;
    assert_int_equal(run(&out, "fuzz", NULL), 2);
    g_free(out);
    assert_int_equal(run(&out, "fuzz", BUGGY, "--seed-range", "9..3", NULL), 2);
    g_free(out);
    assert_int_equal(run(&out, "fuzz", BUGGY, "--shard", "4/4", NULL), 2);
    g_free(out);
    assert_int_equal(run(&out, "fuzz", "tests/fuzz/no-such-file.json", NULL), 2);
    g_free(out);
    assert_int_equal(run(&out, "replay", "scenarios/00-basics/single-register.json", NULL), 2);
    g_free(out);
    /* An explicit schedule exists at its own seed only: nothing to fuzz. */
    assert_int_equal(run(&out, "fuzz", "scenarios/04-consensus/bugs/paxos-ignore-accepted-explore.json",
                         "--seeds", "3", NULL), 2);
    g_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_results_whatever_jobs),
        cmocka_unit_test(test_shards_cover_range_once),
        cmocka_unit_test(test_guided_same_whatever_jobs),
        cmocka_unit_test(test_guided_failure_replays),
        cmocka_unit_test(test_coverage_is_passive),
        cmocka_unit_test(test_guided_corpus_grows),
        cmocka_unit_test(test_found_shrunk_and_replayed),
        cmocka_unit_test(test_check_is_the_default_expectation),
        cmocka_unit_test(test_claims_over_seeds),
        cmocka_unit_test(test_assertion_in_worker),
        cmocka_unit_test(test_interrupt_writes_what_was_found),
        cmocka_unit_test(test_workers_match_single_runs),
        cmocka_unit_test(test_killed_worker_loses_nothing),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_bad_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
