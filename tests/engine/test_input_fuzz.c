/* tests/engine/test_input_fuzz.c: a structure-aware input fuzzer (issue 16
 * item 8).
 *
 * Byte-level mutation rarely gets past the JSON parser; the bugs it missed
 * were in valid JSON with extreme or wrong-typed values.  So this test
 * parses shipped inputs (scenarios, and the histories of
 * tests/check/histories), changes one to three values in the tree (numbers
 * pushed to extremes, strings that look like numbers or durations, wrong
 * types, deleted keys and elements, unknown keys, large arrays kept
 * bounded; in half the cases only same-type extremes, which mostly pass
 * the loader and so reach the engine and the checkers), writes the result, and runs the real binary on it
 * (`faultline run` or `faultline check`) with a wall-clock limit.
 *
 * Every case must end with an exit status the command documents (run: 0,
 * 1, 2; check: 0, 1, 2, 3), never a signal, a sanitizer report or a hang;
 * an exit 2 must say what is wrong, naming the file.  Cases come from one
 * fixed seed, so a failure replays: the test prints the case number and
 * the input.  Every input that ever failed is kept in tests/engine/inputs/
 * and run first (scenarios `*.json`; histories `MODEL__name.jsonl`).
 * Generated scenarios run for 2 s of virtual time under max_events
 * 300,000: a case must end within the engine's bounds, and one that
 * only ran long within them (raft-4096-nodes-slow.json) is kept with the
 * bound that now applies.
 *
 * FUZZ_CASES=N changes the number of generated cases (default 300, fast
 * enough for the `unit` suite and so for the sanitizer build in CI).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/engine/cli.h"

#include <jansson.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#define FUZZ_SEED 16
#define DEFAULT_CASES 300
#define LIMIT_S 60      /* generous: the sanitizer build is slow; a hang is far beyond */

typedef struct {
    int status;         /* exit status, 128 + signal, or -2 on a timeout */
    char *err;
} Outcome;

/* Runs @argv with stdout discarded and stderr kept, killing it after
 * LIMIT_S seconds. */
static Outcome run_limited(const char *const *argv, const char *err_path)
{
    Outcome o = { .status = -1 };
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(devnull, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws = 0;
    gint64 until = g_get_monotonic_time() + (gint64)LIMIT_S * G_USEC_PER_SEC;
    for (;;) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid)
            break;
        if (g_get_monotonic_time() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            o.status = -2;
            break;
        }
        g_usleep(2000);
    }
    if (o.status != -2)
        o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : -1;
    g_file_get_contents(err_path, &o.err, NULL, NULL);
    if (!o.err)
        o.err = g_strdup("");
    return o;
}

/* ---- Mutations on the JSON tree ---- */

/* One place in the tree: a member of an object or an element of an array. */
typedef struct {
    json_t *parent;
    const char *key;    /* object member, or NULL */
    size_t index;       /* array element */
} Slot;

static void collect(json_t *v, GArray *slots)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            Slot s = { v, k, 0 };
            g_array_append_val(slots, s);
            collect(x, slots);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            Slot s = { v, NULL, i };
            g_array_append_val(slots, s);
            collect(json_array_get(v, i), slots);
        }
    }
}

static json_t *extreme(GRand *g)
{
    switch (g_rand_int_range(g, 0, 24)) {
    case 0: return json_integer(0);
    case 1: return json_integer(-1);
    case 2: return json_integer(INT64_MAX);                /* 2^63 - 1 */
    case 3: return json_integer(INT64_MIN);
    case 4: return json_real(9223372036854775808.0);       /* 2^63 */
    case 5: return json_real(1e308);
    case 6: return json_real(-1e308);
    case 7: return json_real(1e-300);
    case 8: return json_integer(4096);
    case 9: return json_real(0.5);
    case 10: return json_string("NaN");
    case 11: return json_string("inf");
    case 12: return json_string("-1ns");
    case 13: return json_string("1ns");
    case 14: return json_string("");
    case 15: return json_string("18446744073709551616");
    case 16: return json_string("99999999999h");
    case 17: return json_null();
    case 18: return json_true();
    case 19: return json_array();
    case 20: return json_object();
    case 21: return json_string("zz");
    case 22: return json_pack("[ii]", 1, 2);
    default: {
        /* A large array, kept bounded so the case stays fast. */
        json_t *a = json_array();
        for (int i = 0; i < 1000; i++)
            json_array_append_new(a, json_integer(g_rand_int_range(g, -2, 5)));
        return a;
    }
    }
}

static void set_slot(const Slot *s, json_t *v)
{
    if (s->key)
        json_object_set_new(s->parent, s->key, v);
    else
        json_array_set_new(s->parent, s->index, v);
}

/* A value of the same type, pushed to an extreme: most of these pass the
 * loader, so they reach the engine and the checkers.  NULL: keep it. */
static json_t *extreme_same_type(json_t *v, GRand *g)
{
    static const json_int_t ints[] = { 0, 1, -1, 2, 4096, 1000000, INT32_MAX, INT64_MAX };
    static const double reals[] = { 0.0, 1.0, 1e-9, 0.999999, 1e308, 4096.5 };
    static const char *const durations[] = { "0s", "1ns", "1us", "1ms", "20s", "999999h" };
    if (json_is_integer(v))
        return json_integer(ints[g_rand_int_range(g, 0, G_N_ELEMENTS(ints))]);
    if (json_is_real(v))
        return json_real(reals[g_rand_int_range(g, 0, G_N_ELEMENTS(reals))]);
    if (json_is_boolean(v))
        return json_boolean(!json_is_true(v));
    const char *str = json_string_value(v);
    if (str && *str && g_ascii_isdigit(*str) && g_str_has_suffix(str, "s"))
        return json_string(durations[g_rand_int_range(g, 0, G_N_ELEMENTS(durations))]);
    return NULL;
}

/* Applies one mutation somewhere in @root; @mild keeps types (see
 * extreme_same_type). */
static void mutate(json_t *root, GRand *g, gboolean mild)
{
    GArray *slots = g_array_new(FALSE, FALSE, sizeof(Slot));
    collect(root, slots);
    if (mild) {
        for (int tries = 0; tries < 16 && slots->len; tries++) {
            Slot s = g_array_index(slots, Slot, g_rand_int_range(g, 0, (gint32)slots->len));
            json_t *v = s.key ? json_object_get(s.parent, s.key) : json_array_get(s.parent, s.index);
            json_t *x = extreme_same_type(v, g);
            if (x) {
                set_slot(&s, x);
                break;
            }
        }
        g_array_free(slots, TRUE);
        return;
    }
    int kind = g_rand_int_range(g, 0, 10);
    if (slots->len == 0 || kind == 9) {
        /* An unknown key in some object. */
        json_t *obj = root;
        for (guint i = 0; i < slots->len && i < 64; i++) {
            Slot *s = &g_array_index(slots, Slot, g_rand_int_range(g, 0, (gint32)slots->len));
            json_t *v = s->key ? json_object_get(s->parent, s->key) : json_array_get(s->parent, s->index);
            if (json_is_object(v)) {
                obj = v;
                break;
            }
        }
        if (json_is_object(obj))
            json_object_set_new(obj, "zz_unknown_key", json_integer(1));
        g_array_free(slots, TRUE);
        return;
    }
    Slot s = g_array_index(slots, Slot, g_rand_int_range(g, 0, (gint32)slots->len));
    g_array_free(slots, TRUE);
    if (kind == 8) {
        /* Delete the key or the element. */
        if (s.key)
            json_object_del(s.parent, s.key);
        else
            json_array_remove(s.parent, s.index);
        return;
    }
    set_slot(&s, extreme(g));
}

/* ---- The corpus ---- */

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(GPtrArray *out, const char *dir, const char *suffix, int depth)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        if (depth > 0 && g_file_test(p, G_FILE_TEST_IS_DIR)) {
            list_dir(out, p, suffix, depth - 1);
            g_free(p);
        } else if (g_str_has_suffix(name, suffix)) {
            g_ptr_array_add(out, p);
        } else {
            g_free(p);
        }
    }
    g_dir_close(d);
}

static const char *const consistencies[] = {
    "linearizable", "sequential", "sequential-per-key", "causal", "eventual",
};

/* The model of a history file named MODEL__name.*. */
static char *model_of(const char *path)
{
    g_autofree char *base = g_path_get_basename(path);
    char *sep = strstr(base, "__");
    return sep ? g_strndup(base, (gsize)(sep - base)) : g_strdup("register");
}

/* Runs one input and checks the outcome; returns FALSE (after printing)
 * on a failure. */
/* How many cases ended with each exit status 0..3: a fuzzer whose every
 * case is refused at load tests only the loader. */
static int by_status[4];

static gboolean try_input(const char *tmp, const char *path, gboolean history, const char *model,
                          const char *consistency, const char *what)
{
    g_autofree char *err_path = g_build_filename(tmp, "stderr", NULL);
    g_autofree char *out_dir = g_build_filename(tmp, "out", NULL);
    cli_rm_rf(out_dir);
    const char *bin = cli_binary();
    const char *run_argv[] = { bin, "run", path, "--out", out_dir, "--check-timeout", "10", NULL };
    const char *check_argv[] = { bin, "check", "--model", model, "--consistency", consistency,
                                 "--timeout", "10", path, NULL };
    Outcome o = run_limited(history ? check_argv : run_argv, err_path);
    if (o.status >= 0 && o.status < 4)
        by_status[o.status]++;
    gboolean ok = TRUE;
    const char *why = NULL;
    if (o.status == -2)
        why = "did not end within the time limit";
    else if (o.status < 0 || o.status > (history ? 3 : 2))
        why = "ended with an undocumented status or a signal";
    else if (strstr(o.err, "runtime error") || strstr(o.err, "Sanitizer") ||
             strstr(o.err, "Bail out") || strstr(o.err, "CRITICAL"))
        why = "printed a sanitizer report or an assertion";
    else if (o.status == 2 && (!*o.err || !strstr(o.err, path)))
        why = "exit 2 without a message naming the file";
    if (why) {
        g_autofree char *text = NULL;
        g_file_get_contents(path, &text, NULL, NULL);
        fprintf(stderr, "%s: %s (status %d)\nstderr:\n%s\ninput (%s):\n%s\n", what, why, o.status,
                o.err, path, text ? text : "");
        ok = FALSE;
    }
    g_free(o.err);
    return ok;
}

/* Inputs that once failed, kept as regression cases. */
static void test_kept_inputs(void **state)
{
    (void)state;
    g_autofree char *tmp = g_dir_make_tmp("faultline-fuzz-XXXXXX", NULL);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    list_dir(files, "tests/engine/inputs", ".json", 0);
    list_dir(files, "tests/engine/inputs", ".jsonl", 0);
    g_ptr_array_sort(files, by_name);
    int bad = 0;
    for (guint i = 0; i < files->len; i++) {
        const char *p = files->pdata[i];
        gboolean history = g_str_has_suffix(p, ".jsonl");
        g_autofree char *model = model_of(p);
        for (gsize c = 0; c < (history ? G_N_ELEMENTS(consistencies) : 1); c++)
            bad += !try_input(tmp, p, history, model, consistencies[c], p);
    }
    assert_true(files->len >= 2);
    g_ptr_array_unref(files);
    cli_rm_rf(tmp);
    assert_int_equal(bad, 0);
}

/* Shortens a scenario so that one case takes a fraction of a second: the
 * fuzzer looks for crashes and hangs in the handling of values, not in
 * long runs. */
static void shorten(json_t *sc)
{
    json_object_set_new(sc, "duration", json_string("2s"));
    /* The engine's own bound on work, so that a large but finite run (4096
     * raft nodes: a minute of CPU, inputs/raft-4096-nodes-slow.json; a
     * causal store asked to run for 999999h, 15 s of CPU per million
     * events and four times that in the sanitizer build) stops with its
     * message rather than passing for a hang.  A 2 s run of any shipped
     * scenario stays far below it. */
    json_object_set_new(sc, "max_events", json_integer(300000));
    json_t *w = json_object_get(sc, "workload");
    if (json_is_object(w) && json_object_get(w, "until"))
        json_object_set_new(w, "until", json_string("1500ms"));
    json_t *e = json_object_get(sc, "expect");
    if (json_is_object(e))
        json_object_del(e, "trace_hash");
}

static void test_generated_cases(void **state)
{
    (void)state;
    int cases = DEFAULT_CASES;
    if (g_getenv("FUZZ_CASES"))
        cases = atoi(g_getenv("FUZZ_CASES"));
    GPtrArray *scenarios = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *histories = g_ptr_array_new_with_free_func(g_free);
    list_dir(scenarios, "scenarios", ".json", 2);
    list_dir(histories, "tests/check/histories", ".jsonl", 0);
    g_ptr_array_sort(scenarios, by_name);
    g_ptr_array_sort(histories, by_name);
    assert_true(scenarios->len > 50);
    assert_true(histories->len > 20);
    g_autofree char *tmp = g_dir_make_tmp("faultline-fuzz-XXXXXX", NULL);
    GRand *g = g_rand_new_with_seed(FUZZ_SEED);
    int bad = 0, runs = 0, checks = 0;
    memset(by_status, 0, sizeof by_status);
    for (int i = 0; i < cases; i++) {
        gboolean history = i % 2 == 1;
        GPtrArray *pool = history ? histories : scenarios;
        const char *src = pool->pdata[g_rand_int_range(g, 0, (gint32)pool->len)];
        int nmut = g_rand_int_range(g, 1, 4);
        /* Half the cases keep types, to get past the loader. */
        gboolean mild = g_rand_boolean(g);
        g_autofree char *what = g_strdup_printf("case %d (seed %d, from %s)", i, FUZZ_SEED, src);
        g_autofree char *path = NULL;
        if (!history) {
            json_error_t jerr;
            json_t *root = json_load_file(src, 0, &jerr);
            assert_non_null(root);
            shorten(root);
            for (int m = 0; m < nmut; m++)
                mutate(root, g, mild);
            path = g_build_filename(tmp, "case.json", NULL);
            assert_int_equal(json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS), 0);
            json_decref(root);
            runs++;
        } else {
            /* Mutate values inside a few lines of the history. */
            g_autofree char *text = cli_read_file(src, NULL);
            g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
            guint n = g_strv_length(lines);
            while (n > 0 && !*lines[n - 1])
                n--;
            GString *out = g_string_new(NULL);
            GArray *hit = g_array_new(FALSE, FALSE, sizeof(guint));
            for (int m = 0; m < nmut && n > 0; m++) {
                guint l = (guint)g_rand_int_range(g, 0, (gint32)n);
                g_array_append_val(hit, l);
            }
            for (guint l = 0; l < n; l++) {
                int times = 0;
                for (guint k = 0; k < hit->len; k++)
                    times += g_array_index(hit, guint, k) == l;
                json_t *v = times ? json_loads(lines[l], 0, NULL) : NULL;
                if (!v) {
                    g_string_append_printf(out, "%s\n", lines[l]);
                    continue;
                }
                for (int t = 0; t < times; t++)
                    mutate(v, g, mild);
                char *dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
                g_string_append_printf(out, "%s\n", dump ? dump : "null");
                free(dump);
                json_decref(v);
            }
            g_array_free(hit, TRUE);
            path = g_build_filename(tmp, "case.jsonl", NULL);
            assert_true(g_file_set_contents(path, out->str, (gssize)out->len, NULL));
            g_string_free(out, TRUE);
            checks++;
        }
        g_autofree char *model = model_of(src);
        const char *consistency = consistencies[g_rand_int_range(g, 0, G_N_ELEMENTS(consistencies))];
        bad += !try_input(tmp, path, history, model, consistency, what);
    }
    fprintf(stderr, "input fuzz: %d cases (%d runs, %d checks), %d failed; exit 0: %d, 1: %d, "
            "2: %d, 3: %d\n", cases, runs, checks, bad, by_status[0], by_status[1], by_status[2],
            by_status[3]);
    g_rand_free(g);
    g_ptr_array_unref(scenarios);
    g_ptr_array_unref(histories);
    cli_rm_rf(tmp);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_inputs),
        cmocka_unit_test(test_generated_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
