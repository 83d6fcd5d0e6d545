/* The commands from outside: --help, bad usage (exit 2 with a message),
 * a missing gnuplot (exit 2, saying how to install it), and a real plot,
 * report and sweep when gnuplot is there. */
#include "plots/plot.h"
#include "tests/plots/fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

static char *run_dir;

static int setup(void **state)
{
    run_dir = fixture_run("single-register", true);
    return 0;
}

static int teardown(void **state)
{
    fixture_rm(run_dir);
    g_free(run_dir);
    return 0;
}

typedef struct Result {
    int status;
    char *out, *err;
} Result;

/* Runs faultline with @args (NULL-terminated); @path replaces PATH when
 * not NULL. */
static Result run(const char *path, const char *const *args)
{
    const char *exe = g_getenv("FAULTLINE");
    assert_non_null(exe);
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)exe);
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, (char *)*a);
    g_ptr_array_add(argv, NULL);
    char **envp = g_get_environ();
    if (path)
        envp = g_environ_setenv(envp, "PATH", path, TRUE);
    Result r = { 0 };
    GError *err = NULL;
    if (!g_spawn_sync(NULL, (char **)argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, &r.out, &r.err,
                      &r.status, &err))
        fail_msg("%s", err->message);
    r.status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128;
    g_strfreev(envp);
    g_ptr_array_unref(argv);
    return r;
}

static void result_clear(Result *r)
{
    g_free(r->out);
    g_free(r->err);
}

static void test_help(void **state)
{
    static const char *const cmds[] = { "plot", "report", "sweep", NULL };
    for (int i = 0; cmds[i]; i++) {
        Result r = run(NULL, (const char *const[]){ cmds[i], "--help", NULL });
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "Usage:"));
        result_clear(&r);
    }
    Result r = run(NULL, (const char *const[]){ "--help", NULL });
    assert_non_null(strstr(r.out, "plot RUN_DIR"));
    assert_non_null(strstr(r.out, "sweep SCENARIO"));
    result_clear(&r);
}

static void test_bad_usage(void **state)
{
    const char *const *const cases[] = {
        (const char *const[]){ "plot", NULL },
        (const char *const[]){ "plot", "no/such/run", NULL },
        (const char *const[]){ "plot", "a", "b", NULL },
        (const char *const[]){ "plot", "--format", "jpg", "x", NULL },
        (const char *const[]){ "plot", "--from", "soon", "x", NULL },
        (const char *const[]){ "plot", "--from", "5s", "--to", "1s", "x", NULL },
        (const char *const[]){ "plot", "--only", "pie", "x", NULL },
        (const char *const[]){ "report", NULL },
        (const char *const[]){ "report", "no/such/run", NULL },
        (const char *const[]){ "sweep", "scenarios/00-basics/single-crash.json", NULL },
        (const char *const[]){ "sweep", "scenarios/00-basics/single-crash.json", "--param", "nodes=1..2", NULL },
        (const char *const[]){ "sweep", "scenarios/00-basics/single-crash.json", "--param", "/cluster/nodes=1..2",
                               "--seeds", "0", NULL },
        (const char *const[]){ "sweep", "scenarios/00-basics/single-crash.json", "--param", "/cluster/bogus=1..2",
                               "--no-render", "-q", NULL },
        (const char *const[]){ "sweep", "no/such.json", "--param", "/cluster/nodes=1..2", "--no-render", NULL },
        NULL,
    };
    for (int i = 0; cases[i]; i++) {
        Result r = run(NULL, cases[i]);
        if (r.status != 2)
            fail_msg("case %d (%s %s): exit %d, stderr: %s", i, cases[i][0], cases[i][1] ? cases[i][1] : "",
                     r.status, r.err);
        /* One clear line naming the command. */
        assert_true(g_str_has_prefix(r.err, "faultline "));
        assert_int_equal(strlen(r.out), 0);
        result_clear(&r);
    }
}

static void test_no_gnuplot(void **state)
{
    const char *const *const cases[] = {
        (const char *const[]){ "plot", "RUN", NULL },
        (const char *const[]){ "plot", "--compare", "RUN", "RUN", NULL },
        (const char *const[]){ "report", "RUN", NULL },
        (const char *const[]){ "sweep", "scenarios/00-basics/single-register.json", "--param", "/cluster/nodes=1..2", NULL },
        (const char *const[]){ "run", "--plot", "scenarios/00-basics/single-register.json", "--out", "RUN/again", NULL },
        NULL,
    };
    g_autofree char *again = g_build_filename(run_dir, "again", NULL);
    for (int i = 0; cases[i]; i++) {
        const char *args[16];
        int n = 0;
        for (const char *const *a = cases[i]; *a; a++)
            args[n++] = strcmp(*a, "RUN") == 0 ? run_dir : strcmp(*a, "RUN/again") == 0 ? again : *a;
        args[n] = NULL;
        Result r = run("/nonexistent", args);
        assert_int_equal(r.status, 2);
        assert_non_null(strstr(r.err, "apt-get install gnuplot-nox"));
        result_clear(&r);
    }
    /* Nothing ran: the run folder was not written. */
    assert_false(g_file_test(again, G_FILE_TEST_EXISTS));
    /* Without rendering no gnuplot is needed. */
    Result r = run("/nonexistent", (const char *const[]){ "plot", "--no-render", "--only", "rate", run_dir, NULL });
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "rate.gp"));
    result_clear(&r);
}

static void test_with_gnuplot(void **state)
{
    g_autofree char *gp = fl_gnuplot_find();
    if (!gp)
        skip();
    Result r = run(NULL, (const char *const[]){ "plot", run_dir, "--from", "2.5s", "--to", "3.5s", NULL });
    assert_int_equal(r.status, 0);
    for (int k = 0; k < FL_PLOT_COUNT; k++)
        assert_non_null(strstr(r.out, fl_plot_name((FlPlotKind)k)));
    assert_non_null(strstr(r.err, "showing 2.5s to 3.5s"));
    result_clear(&r);
    r = run(NULL, (const char *const[]){ "report", run_dir, NULL });
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "report.html"));
    result_clear(&r);
    g_autofree char *out = g_build_filename(run_dir, "sweep", NULL);
    r = run(NULL, (const char *const[]){ "sweep", "scenarios/00-basics/single-register.json", "--param",
                                         "/workload/timeout=200ms..600ms:3", "--seeds", "2", "--jobs", "2",
                                         "--out", out, NULL });
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "/workload/timeout=400ms"));
    assert_non_null(strstr(r.err, "6/6 runs done"));
    g_autofree char *png = g_build_filename(out, "sweep.png", NULL);
    assert_true(g_file_test(png, G_FILE_TEST_IS_REGULAR));
    result_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_no_gnuplot),
        cmocka_unit_test(test_with_gnuplot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
