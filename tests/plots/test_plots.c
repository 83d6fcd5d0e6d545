/* The pictures' data files, checked against the run they come from: the
 * right number of points, fault intervals present, the counterexample
 * marked.  No gnuplot needed (render is off). */
#include "plots/plot_impl.h"
#include "plots/rundata.h"
#include "tests/plots/fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
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

static FlRunData *load(const char *dir)
{
    GError *err = NULL;
    FlRunData *rd = fl_rundata_load(dir, &err);
    if (!rd)
        fail_msg("%s", err->message);
    return rd;
}

static json_int_t metric(const FlRunData *rd, const char *obj, const char *key)
{
    json_t *o = obj ? json_object_get(rd->metrics, obj) : rd->metrics;
    assert_true(json_is_integer(json_object_get(o, key)));
    return json_integer_value(json_object_get(o, key));
}

static FlPlotOutput *draw(FlRunData *rd, FlPlotKind k, const FlPlotOptions *base)
{
    FlPlotOptions opt = *base;
    g_autofree char *out = g_build_filename(rd->dir, "plots", NULL);
    opt.out_dir = out;
    opt.render = false;
    GError *err = NULL;
    FlPlotOutput *o = fl_plot_draw(rd, k, &opt, &err);
    if (!o)
        fail_msg("%s", err->message);
    assert_null(o->image);
    assert_true(g_file_test(o->data, G_FILE_TEST_IS_REGULAR));
    assert_true(g_file_test(o->script, G_FILE_TEST_IS_REGULAR));
    return o;
}

static guint sum(GArray *a)
{
    guint n = 0;
    for (guint i = 0; i < a->len; i++)
        n += g_array_index(a, guint, i);
    return n;
}

/* The block whose title starts with @title, or -1. */
static int block(const char *data, const char *title)
{
    for (guint k = 0;; k++) {
        g_autofree char *t = fixture_block_title(data, k);
        if (!t)
            return -1;
        if (g_str_has_prefix(t, title))
            return (int)k;
    }
}

static guint rows_of(const char *data, const char *title)
{
    int k = block(data, title);
    if (k < 0)
        return 0;
    g_autoptr(GArray) rows = fixture_block_rows(data);
    return g_array_index(rows, guint, k);
}

static void test_latency(void **state)
{
    g_autoptr(FlRunData) rd = load(pb_dir);
    FlPlotOptions opt = { 0 };
    FlPlotOutput *o = draw(rd, FL_PLOT_LATENCY, &opt);
    g_autoptr(GArray) rows = fixture_block_rows(o->data);
    /* One point per completed operation. */
    json_int_t completed = metric(rd, "ops", "invoked") - metric(rd, "ops", "open");
    assert_int_equal(sum(rows), completed);
    assert_int_equal(rows_of(o->data, "get ok") + rows_of(o->data, "put ok") + rows_of(o->data, "append ok"),
                     metric(rd, "ops", "ok"));
    assert_int_equal(rows_of(o->data, "get info") + rows_of(o->data, "put info") +
                     rows_of(o->data, "append info"), metric(rd, "ops", "info"));
    /* Fault intervals: both in faults.dat, the crash shaded, the omission
     * (whole run) only named. */
    g_autofree char *faults = g_build_filename(rd->dir, "plots", "faults.dat", NULL);
    g_autoptr(GArray) frows = fixture_block_rows(faults);
    assert_int_equal(sum(frows), json_array_size(json_object_get(rd->metrics, "faults")));
    assert_int_equal(sum(frows), 2);
    g_autofree char *ftext = fixture_read(faults);
    assert_non_null(strstr(ftext, "4.000000000 6.000000000 crash \"node 2\""));
    g_autofree char *gp = fixture_read(o->script);
    assert_int_equal(fixture_count(gp, "set object "), 1);
    assert_non_null(strstr(gp, "rect from first 4, graph 0 to first 6, graph 1"));
    assert_non_null(strstr(gp, "crash node 2 (4s–6s)"));
    assert_non_null(strstr(gp, "omission from * to * p=0.01 (whole window, not shaded)"));
    assert_non_null(strstr(gp, "set logscale y"));
    fl_plot_output_free(o);
}

static void test_latency_window(void **state)
{
    g_autoptr(FlRunData) rd = load(pb_dir);
    FlPlotOptions opt = { .has_from = true, .from = 1000000000, .has_to = true, .to = 2000000000 };
    FlPlotOutput *o = draw(rd, FL_PLOT_LATENCY, &opt);
    g_autoptr(GArray) rows = fixture_block_rows(o->data);
    guint want = 0;
    for (guint i = 0; i < rd->ops->len; i++) {
        const FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, i);
        /* The window selects by intended arrival (plots/latency.c note 1). */
        assert_true(op->arrival <= op->invoke);
        want += !op->open && op->arrival >= opt.from && op->arrival <= opt.to;
    }
    assert_true(want > 50);
    assert_int_equal(sum(rows), want);
    /* No fault in 1s..2s but the omission, which covers it. */
    g_autofree char *gp = fixture_read(o->script);
    assert_int_equal(fixture_count(gp, "set object "), 0);
    fl_plot_output_free(o);
}

static void test_rate(void **state)
{
    g_autoptr(FlRunData) rd = load(pb_dir);
    FlPlotOptions opt = { 0 };
    FlPlotOutput *o = draw(rd, FL_PLOT_RATE, &opt);
    FlTime width = fl_plot_bucket(rd->end);
    guint nb = (guint)((rd->end + width - 1) / width);
    g_autoptr(GArray) rows = fixture_block_rows(o->data);
    assert_true(rows->len >= 3);
    for (guint i = 0; i < rows->len; i++)
        assert_int_equal(g_array_index(rows, guint, i), nb);
    /* Rates times bucket widths give back every completion. */
    g_autofree char *text = fixture_read(o->data);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    double total = 0;
    guint row = 0;
    for (int i = 0; lines[i]; i++) {
        if (!*lines[i] || lines[i][0] == '#')
            continue;
        double x, r;
        assert_int_equal(sscanf(lines[i], "%lf %lf", &x, &r), 2);
        guint b = row++ % nb;
        double w = b + 1 < nb ? (double)width : (double)(rd->end - (FlTime)(nb - 1) * width);
        total += r * w / 1e9;
    }
    assert_int_equal((json_int_t)(total + 0.5), metric(rd, "ops", "invoked") - metric(rd, "ops", "open"));
    g_autofree char *gp = fixture_read(o->script);
    assert_non_null(strstr(gp, "crash node 2"));
    fl_plot_output_free(o);
}

static void test_distribution(void **state)
{
    g_autoptr(FlRunData) rd = load(pb_dir);
    FlPlotOptions opt = { 0 };
    FlPlotOutput *o = draw(rd, FL_PLOT_DISTRIBUTION, &opt);
    json_int_t ok = metric(rd, "ops", "ok");
    assert_int_equal(rows_of(o->data, "get:") + rows_of(o->data, "put:") + rows_of(o->data, "append:"), ok);
    assert_int_equal(rows_of(o->data, "all:"), ok);
    /* The p99 in the title agrees with metrics.json's. */
    char buf[32];
    g_autofree char *p99 = g_strdup_printf("p99 %s", fl_plot_duration((FlTime)metric(rd, "latency_ns", "p99"), buf));
    g_autofree char *all = fixture_block_title(o->data, (guint)block(o->data, "all:"));
    assert_non_null(strstr(all, p99));
    fl_plot_output_free(o);
}

static void test_spacetime_whole(void **state)
{
    g_autoptr(FlRunData) rd = load(pb_dir);
    FlPlotOptions opt = { .has_from = true, .from = 0, .has_to = true, .to = rd->end };
    FlPlotOutput *o = draw(rd, FL_PLOT_SPACETIME, &opt);
    /* Every message delivered or dropped is one arrow. */
    guint arrows = rows_of(o->data, "message between nodes") + rows_of(o->data, "client request or reply") +
                   rows_of(o->data, "dropped message");
    assert_int_equal(arrows, metric(rd, "messages", "delivered") + metric(rd, "messages", "dropped"));
    assert_int_equal(rows_of(o->data, "dropped message"), metric(rd, "messages", "dropped"));
    assert_int_equal(rows_of(o->data, "crash"), 1);
    assert_int_equal(rows_of(o->data, "restart"), 1);
    assert_int_equal(rows_of(o->data, "crashed"), 1);
    /* Node 0 leads (primary) for the whole run. */
    assert_int_equal(rows_of(o->data, "leading"), 1);
    /* A client invokes again at the node a redirect names: at least once
     * per operation. */
    assert_true(rows_of(o->data, "client invokes") >= metric(rd, "ops", "invoked"));
    fl_plot_output_free(o);
}

static void test_spacetime_default_window(void **state)
{
    g_autoptr(FlRunData) rd = load(pb_dir);
    FlPlotOptions opt = { 0 };
    FlPlotOutput *o = draw(rd, FL_PLOT_SPACETIME, &opt);
    assert_non_null(strstr(o->note, "around the crash at 4s"));
    g_autofree char *gp = fixture_read(o->script);
    double from, to;
    const char *xr = strstr(gp, "set xrange [");
    assert_non_null(xr);
    assert_int_equal(sscanf(xr, "set xrange [%lf:%lf]", &from, &to), 2);
    assert_true(from < 4000 && to > 4000);
    guint arrows = rows_of(o->data, "message between nodes") + rows_of(o->data, "client request or reply") +
                   rows_of(o->data, "dropped message");
    assert_true(arrows > 20 && arrows < 150);
    assert_int_equal(rows_of(o->data, "crash"), 1);
    fl_plot_output_free(o);
}

static void test_timeline(void **state)
{
    g_autoptr(FlRunData) rd = load(pb_dir);
    FlPlotOptions opt = { .has_from = true, .from = 0, .has_to = true, .to = rd->end };
    FlPlotOutput *o = draw(rd, FL_PLOT_TIMELINE, &opt);
    /* Every operation is a bar; nothing is marked in a valid run. */
    assert_int_equal(rows_of(o->data, "ok") + rows_of(o->data, "fail") + rows_of(o->data, "info"),
                     metric(rd, "ops", "invoked"));
    assert_int_equal(rd->marked, 0);
    assert_int_equal(block(o->data, "could not be placed"), -1);
    fl_plot_output_free(o);
}

/* The distinct operations named anywhere in @v (by invoke_line). */
static void collect_lines(json_t *v, GHashTable *lines)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) collect_lines(x, lines);
    } else if (json_is_object(v)) {
        json_t *line = json_object_get(v, "invoke_line");
        if (json_is_integer(line) && json_object_get(v, "process")) {
            g_hash_table_add(lines, GINT_TO_POINTER((int)json_integer_value(line)));
            return;
        }
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) collect_lines(x, lines);
    }
}

static void test_timeline_counterexample(void **state)
{
    g_autoptr(FlRunData) rd = load(lww_dir);
    assert_string_equal(rd->verdict, "invalid");
    json_t *cx = json_object_get(json_object_get(json_object_get(rd->metrics, "check"), "result"),
                                 "counterexample");
    assert_non_null(cx);
    g_autoptr(GHashTable) lines = g_hash_table_new(NULL, NULL);
    collect_lines(cx, lines);
    assert_int_equal(rd->marked, g_hash_table_size(lines));
    FlPlotOptions opt = { 0 };
    FlPlotOutput *o = draw(rd, FL_PLOT_TIMELINE, &opt);
    assert_non_null(strstr(o->note, "the operations of the counterexample"));
    assert_int_equal(rows_of(o->data, "could not be placed next"), 1);
    assert_int_equal(rows_of(o->data, "could not be placed next") + rows_of(o->data, "last of the ops") +
                     rows_of(o->data, "open beside it") + rows_of(o->data, "still needs a value") +
                     rows_of(o->data, "named by the checker"), g_hash_table_size(lines));
    g_autofree char *gp = fixture_read(o->script);
    assert_non_null(strstr(gp, "(checker: invalid)"));
    fl_plot_output_free(o);
    /* The space-time diagram shows the same span. */
    o = draw(rd, FL_PLOT_SPACETIME, &opt);
    assert_non_null(strstr(o->note, "counterexample"));
    fl_plot_output_free(o);
}

/* A counterexample in a shape this code does not know still marks what it
 * can, and nonsense marks nothing. */
static void test_mark_any_shape(void **state)
{
    g_autoptr(FlRunData) rd = load(pb_dir);
    const FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, 10);
    json_t *cx = json_pack("{s:[{s:I,s:I}], s:i, s:{s:{s:I,s:I}}}", "culprits", "process",
                           (json_int_t)op->process, "invoke_time", (json_int_t)op->invoke, "n", 3,
                           "deep", "stuck", "process", (json_int_t)op->process, "invoke_time",
                           (json_int_t)op->invoke);
    assert_int_equal(fl_rundata_mark(rd, cx), 1);
    assert_int_equal(g_array_index(rd->ops, FlPlotOp, 10).mark, FL_MARK_STUCK);
    json_decref(cx);
    cx = json_pack("{s:s, s:[i,i], s:{s:i}}", "what", "x", "list", 1, 2, "o", "process", 99999);
    assert_int_equal(fl_rundata_mark(rd, cx), 0);
    json_decref(cx);
}

static void test_bad_input(void **state)
{
    GError *err = NULL;
    assert_null(fl_rundata_load("no/such/run", &err));
    assert_int_equal(err->code, FL_ERROR_INPUT);
    assert_non_null(strstr(err->message, "no/such/run"));
    g_clear_error(&err);
    /* A broken history names its line. */
    g_autofree char *dir = g_dir_make_tmp("faultline-plots-XXXXXX", NULL);
    static const char *const names[] = { "metrics.json", "scenario.json", NULL };
    for (int i = 0; names[i]; i++) {
        g_autofree char *src = g_build_filename(pb_dir, names[i], NULL);
        g_autofree char *dst = g_build_filename(dir, names[i], NULL);
        g_autofree char *text = fixture_read(src);
        assert_true(g_file_set_contents(dst, text, -1, NULL));
    }
    g_autofree char *hist = g_build_filename(dir, "history.jsonl", NULL);
    assert_true(g_file_set_contents(hist, "{\"process\":0,\"type\":\"invoke\",\"f\":\"get\",\"value\":null,\"time\":5}\n"
                                          "{\"process\":0,\"type\":\"ok\",\"f\":\"get\",\"value\":\"\",\"time\":\"x\"}\n",
                                    -1, NULL));
    assert_null(fl_rundata_load(dir, &err));
    assert_non_null(strstr(err->message, "history.jsonl:2: \"time\""));
    g_clear_error(&err);
    assert_true(g_file_set_contents(hist, "{\"process\":0,\"type\":\"ok\",\"f\":\"get\",\"value\":1,\"time\":5}\n", -1, NULL));
    assert_null(fl_rundata_load(dir, &err));
    assert_non_null(strstr(err->message, "history.jsonl:1: a completion with no invocation open"));
    g_clear_error(&err);
    /* Without a trace only the space-time diagram fails, and says why. */
    assert_true(g_file_set_contents(hist, "", -1, NULL));
    g_autoptr(FlRunData) rd = load(dir);
    g_autofree char *out = g_build_filename(dir, "plots", NULL);
    FlPlotOptions opt = { .out_dir = out };
    for (int k = 0; k < FL_PLOT_COUNT; k++) {
        FlPlotOutput *o = fl_plot_draw(rd, (FlPlotKind)k, &opt, &err);
        if (k == FL_PLOT_SPACETIME) {
            assert_null(o);
            assert_non_null(strstr(err->message, "no trace.jsonl"));
            g_clear_error(&err);
        } else {
            if (!o)
                fail_msg("%s", err->message);
            fl_plot_output_free(o);
        }
    }
    fixture_rm(dir);
}

static void test_parse_time(void **state)
{
    FlTime t;
    assert_true(fl_plot_parse_time("4s", &t));
    assert_int_equal(t, 4000000000ULL);
    assert_true(fl_plot_parse_time("350ms", &t));
    assert_int_equal(t, 350000000ULL);
    assert_true(fl_plot_parse_time("1.5s", &t));
    assert_int_equal(t, 1500000000ULL);
    assert_true(fl_plot_parse_time("12345", &t));
    assert_int_equal(t, 12345);
    assert_false(fl_plot_parse_time("-1s", &t));
    assert_false(fl_plot_parse_time("soon", &t));
    assert_false(fl_plot_parse_time("", &t));
}

static void test_dense_window(void **state)
{
    FlTime times[1000];
    for (int i = 0; i < 1000; i++)
        times[i] = (FlTime)i * 1000000;   /* one per ms */
    FlTime from, to;
    fl_plot_dense_window(times, 1000, 500000000, 0.25, 999000000, 100, &from, &to);
    assert_true(from < 500000000 && to > 500000000);
    guint n = 0;
    for (int i = 0; i < 1000; i++)
        n += times[i] >= from && times[i] <= to;
    assert_true(n <= 100 && n >= 90);
    /* At the start it cannot reach back. */
    fl_plot_dense_window(times, 1000, 0, 0.25, 999000000, 100, &from, &to);
    assert_int_equal(from, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_latency_window),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_spacetime_whole),
        cmocka_unit_test(test_spacetime_default_window),
        cmocka_unit_test(test_timeline),
        cmocka_unit_test(test_timeline_counterexample),
        cmocka_unit_test(test_mark_any_shape),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_dense_window),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
