/* The report in a browser: headless Chromium takes a screenshot of the page
 * of a run with a counterexample.  The PNG is kept as
 * BUILD_DIR/report-screenshot.png for a person to look at; the test checks
 * its size and that it is not blank.  Skipped (exit 77) without Chromium
 * or gnuplot, saying how to install them.  FAULTLINE_CHROMIUM names
 * another browser binary. */
#include "plots/plot.h"
#include "plots/report.h"
#include "tests/plots/fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <cmocka.h>

static char *find_chromium(void)
{
    const char *env = g_getenv("FAULTLINE_CHROMIUM");
    if (env && *env)
        return g_find_program_in_path(env);
    static const char *const names[] = { "chromium", "chromium-browser", "google-chrome", NULL };
    for (int i = 0; names[i]; i++) {
        char *p = g_find_program_in_path(names[i]);
        if (p)
            return p;
    }
    return NULL;
}

static guint32 be32(const unsigned char *p)
{
    return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static void test_screenshot(void **state)
{
    g_autofree char *chromium = find_chromium();
    g_autofree char *run = fixture_run("lww-concurrent-writes", true);
    g_autofree char *plots = g_build_filename(run, "plots", NULL);
    g_autofree char *page = g_build_filename(run, "report.html", NULL);
    FlPlotOptions opt = { .format = "png", .out_dir = plots, .render = true };
    GError *err = NULL;
    if (!fl_report_write(run, &opt, page, &err))
        fail_msg("%s", err->message);
    /* The screenshot goes next to the faultline binary, in the build
     * folder. */
    g_autofree char *build = g_path_get_dirname(g_getenv("FAULTLINE"));
    g_autofree char *shot = g_build_filename(build, "report-screenshot.png", NULL);
    g_autofree char *profile = g_dir_make_tmp("faultline-chromium-XXXXXX", NULL);
    g_autofree char *url = g_filename_to_uri(page, NULL, NULL);
    g_autofree char *user_dir = g_strdup_printf("--user-data-dir=%s", profile);
    g_autofree char *shot_arg = g_strdup_printf("--screenshot=%s", shot);
    g_autofree char *timeout = g_find_program_in_path("timeout");
    const char *argv[] = { timeout ? timeout : "", "120", chromium, "--headless", "--no-sandbox",
                           "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", user_dir, shot_arg, "--window-size=1200,2400", url, NULL };
    const char **args = timeout ? argv : argv + 2;
    g_unlink(shot);
    g_autofree char *out = NULL, *errs = NULL;
    int status;
    if (!g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errs, &status, &err))
        fail_msg("%s", err->message);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("chromium failed (status %d): %s", status, errs);
    g_autofree char *png = NULL;
    gsize len;
    if (!g_file_get_contents(shot, &png, &len, &err))
        fail_msg("no screenshot: %s; chromium said: %s", err->message, errs);
    assert_true(len > 33);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    assert_memory_equal(png + 12, "IHDR", 4);
    assert_int_equal(be32((const unsigned char *)png + 16), 1200);
    assert_int_equal(be32((const unsigned char *)png + 20), 2400);
    /* A blank page compresses to a few kilobytes; this one has tables,
     * text and the start of the pictures. */
    assert_true(len > 100 * 1024);
    printf("screenshot: %s (%" G_GSIZE_FORMAT " bytes)\n", shot, len);
    fixture_rm(profile);
    fixture_rm(run);
}

int main(void)
{
    g_autofree char *gp = fl_gnuplot_find();
    g_autofree char *chromium = find_chromium();
    if (!gp) {
        printf("SKIP: " FL_GNUPLOT_HINT "\n");
        return 77;
    }
    if (!chromium) {
        printf("SKIP: Chromium is not installed; the report screenshot test needs it: "
               "apt-get install chromium (or set FAULTLINE_CHROMIUM to a Chromium binary)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_screenshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
