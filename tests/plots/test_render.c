/* gnuplot runs every script without error on sample runs, in PNG and SVG;
 * the comparison chart and the report are drawn; the report holds every
 * section.  Skipped (exit 77) when gnuplot is not installed. */
#include "plots/plot_impl.h"
#include "plots/report.h"
#include "tests/plots/fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static char *pb_dir, *lww_dir;

static int setup(void **state)
{
    /* Primary-backup: a crash, a whole-run omission, drops; checked
     * without a verdict, so the pictures' "unknown" paths run too. */
    pb_dir = fixture_run("primary-backup", false);
    lww_dir = fixture_run("lww-concurrent-writes", true);
    return 0;
}

static int teardown(void **state)
{
    fixture_rm(pb_dir);
    fixture_rm(lww_dir);
    g_free(pb_dir);
    g_free(lww_dir);
    return 0;
}

static void check_image(const char *path, const char *format)
{
    g_autofree char *data = fixture_read(path);
    if (strcmp(format, "png") == 0)
        assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
    else
        assert_non_null(strstr(data, "<svg"));
}

static void render_all(const char *dir, const char *format)
{
    GError *err = NULL;
    g_autoptr(FlRunData) rd = fl_rundata_load(dir, &err);
    if (!rd)
        fail_msg("%s", err->message);
    g_autofree char *out = g_build_filename(dir, format, NULL);
    FlPlotOptions opt = { .format = format, .out_dir = out, .render = true };
    g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func((GDestroyNotify)fl_plot_output_free);
    if (!fl_plot_draw_all(rd, &opt, outs, &err))
        fail_msg("%s", err->message);
    assert_int_equal(outs->len, FL_PLOT_COUNT);
    for (guint i = 0; i < outs->len; i++) {
        FlPlotOutput *o = g_ptr_array_index(outs, i);
        assert_int_equal(o->kind, i);
        assert_non_null(o->image);
        assert_true(g_str_has_suffix(o->image, format));
        check_image(o->image, format);
    }
}

static void test_png(void **state)
{
    render_all(pb_dir, "png");
    render_all(lww_dir, "png");
}

static void test_svg(void **state)
{
    render_all(pb_dir, "svg");
    render_all(lww_dir, "svg");
}

/* A run with no operation and almost no trace still draws every picture
 * (gnuplot refuses a plot of key entries alone). */
static void test_empty_run(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("faultline-plots-XXXXXX", NULL);
    static const char *const names[] = { "metrics.json", "scenario.json", NULL };
    for (int i = 0; names[i]; i++) {
        g_autofree char *src = g_build_filename(pb_dir, names[i], NULL);
        g_autofree char *dst = g_build_filename(dir, names[i], NULL);
        g_autofree char *text = fixture_read(src);
        assert_true(g_file_set_contents(dst, text, -1, NULL));
    }
    g_autofree char *hist = g_build_filename(dir, "history.jsonl", NULL);
    g_autofree char *trace = g_build_filename(dir, "trace.jsonl", NULL);
    assert_true(g_file_set_contents(hist, "", -1, NULL));
    assert_true(g_file_set_contents(trace, "{\"t\":0,\"ev\":\"role\",\"node\":0,\"text\":\"primary\"}\n", -1, NULL));
    render_all(dir, "png");
    fixture_rm(dir);
}

static void test_compare(void **state)
{
    const char *dirs[] = { pb_dir, lww_dir };
    g_autofree char *out = g_build_filename(pb_dir, "compare", NULL);
    FlPlotOptions opt = { .format = "png", .out_dir = out, .render = true };
    GError *err = NULL;
    FlPlotOutput *o = fl_plot_compare(dirs, 2, &opt, &err);
    if (!o)
        fail_msg("%s", err->message);
    check_image(o->image, "png");
    /* Two panels, one line per run in each. */
    g_autoptr(GArray) rows = fixture_block_rows(o->data);
    assert_int_equal(rows->len, 4);
    g_autofree char *gp = fixture_read(o->script);
    assert_int_equal(fixture_count(gp, "\nplot "), 2);
    fl_plot_output_free(o);
}

static void test_report(void **state)
{
    g_autofree char *valid_dir = fixture_run("single-register", true);
    for (int r = 0; r < 3; r++) {
        const char *dir = r == 0 ? pb_dir : r == 1 ? lww_dir : valid_dir;
        g_autofree char *out = g_build_filename(dir, "plots", NULL);
        g_autofree char *page = g_build_filename(dir, "report.html", NULL);
        FlPlotOptions opt = { .format = "png", .out_dir = out, .render = true };
        GError *err = NULL;
        if (!fl_report_write(dir, &opt, page, &err))
            fail_msg("%s", err->message);
        g_autofree char *html = fixture_read(page);
        assert_true(g_str_has_prefix(html, "<!DOCTYPE html>"));
        assert_true(g_str_has_suffix(html, "</html>\n"));
        for (const char *const *s = fl_report_sections(); *s; s++) {
            g_autofree char *id = g_strdup_printf("<section id=\"%s\">", *s);
            assert_int_equal(fixture_count(html, id), 1);
        }
        for (int k = 0; k < FL_PLOT_COUNT; k++) {
            g_autofree char *fig = g_strdup_printf("<figure id=\"plot-%s\">", fl_plot_name((FlPlotKind)k));
            assert_int_equal(fixture_count(html, fig), 1);
        }
        /* Self-contained: every picture embedded, nothing fetched. */
        assert_int_equal(fixture_count(html, "src=\"data:image/png;base64,"), FL_PLOT_COUNT);
        assert_int_equal(fixture_count(html, "src=\"http"), 0);
        assert_int_equal(fixture_count(html, "<link"), 0);
        assert_int_equal(fixture_count(html, "<script"), 0);
        if (r == 0) {
            assert_non_null(strstr(html, "<span class=\"badge unknown\">unchecked</span>"));
            assert_non_null(strstr(html, "None: the checker gave no verdict"));
            assert_non_null(strstr(html, "<td>crash</td><td>node 2</td>"));
            assert_non_null(strstr(html, "<td>omission</td>"));
            assert_non_null(strstr(html, "Not met: valid: expected valid, but the checker gave no verdict"));
        } else if (r == 1) {
            assert_non_null(strstr(html, "<span class=\"badge invalid\">invalid</span>"));
            assert_non_null(strstr(html, "Could not be placed next"));
            assert_non_null(strstr(html, "The history is not linearizable for model register"));
            /* The timeline that frames the counterexample sits in its
             * section, before the pictures. */
            assert_true(strstr(html, "<figure id=\"plot-timeline\">") < strstr(html, "<section id=\"plots\">"));
        } else {
            assert_non_null(strstr(html, "<span class=\"badge valid\">valid</span>"));
            assert_non_null(strstr(html, "None: the checker found the history valid."));
            assert_non_null(strstr(html, "Met: the run did what"));
            assert_true(strstr(html, "<figure id=\"plot-timeline\">") > strstr(html, "<section id=\"plots\">"));
        }
    }
    fixture_rm(valid_dir);
    /* SVG pictures go inline. */
    g_autofree char *out = g_build_filename(pb_dir, "plots-svg", NULL);
    g_autofree char *page = g_build_filename(pb_dir, "report-svg.html", NULL);
    FlPlotOptions opt = { .format = "svg", .out_dir = out, .render = true };
    GError *err = NULL;
    if (!fl_report_write(pb_dir, &opt, page, &err))
        fail_msg("%s", err->message);
    g_autofree char *html = fixture_read(page);
    assert_int_equal(fixture_count(html, "<svg"), FL_PLOT_COUNT);
    assert_int_equal(fixture_count(html, "<?xml"), 0);
}

/* A run that checks several models: the report explains each one that
 * failed (lww under a partition breaks linearizability, sequential and
 * causal consistency at its seed), not only the first. */
static void test_report_every_model(void **state)
{
    g_autofree char *dir = fixture_run("../02-consistency/lww-partition", true);
    g_autofree char *out = g_build_filename(dir, "plots", NULL);
    g_autofree char *page = g_build_filename(dir, "report.html", NULL);
    FlPlotOptions opt = { .format = "png", .out_dir = out, .render = true };
    GError *err = NULL;
    if (!fl_report_write(dir, &opt, page, &err))
        fail_msg("%s", err->message);
    g_autofree char *html = fixture_read(page);
    assert_int_equal(fixture_count(html, "<p>The history is not sequential for"), 1);
    assert_int_equal(fixture_count(html, "<p>The history is not causal for"), 1);
    assert_int_equal(fixture_count(html, "<p>The history is not linearizable for"), 1);
    assert_int_equal(fixture_count(html, "<p>The history is not read-your-writes for"), 0);
    assert_non_null(strstr(html, "In short: "));
    fixture_rm(dir);
    (void)state;
}

int main(void)
{
    g_autofree char *gp = fl_gnuplot_find();
    if (!gp) {
        printf("SKIP: " FL_GNUPLOT_HINT "\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_empty_run),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_report_every_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
