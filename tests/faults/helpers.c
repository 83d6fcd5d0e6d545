#include "tests/faults/helpers.h"

#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

FlScenario *fx_scenario_text(const char *text, GError **err)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "test scenario: invalid JSON: %s", je.text);
        return NULL;
    }
    FlScenario *sc = fl_scenario_from_json(root, "test.json", -1, err);
    json_decref(root);
    return sc;
}

FlScenario *fx_scenario(const char *base, const char *faults_json,
                        void (*edit)(json_t *root, void *ctx), void *ctx)
{
    json_error_t je;
    json_t *root = json_load_file(base, 0, &je);
    if (!root)
        fail_msg("%s: %s", base, je.text);
    json_t *faults = json_loads(faults_json, 0, &je);
    if (!faults)
        fail_msg("faults %s: %s", faults_json, je.text);
    json_object_set_new(root, "faults", faults);
    json_object_del(root, "expect");
    if (edit)
        edit(root, ctx);
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(root, base, -1, &err);
    json_decref(root);
    if (!sc)
        fail_msg("%s", err->message);
    return sc;
}

void fx_run(const FlScenario *sc, FlRunResult *res)
{
    FlRunOptions opt = { .check = true, .check_timeout_s = 60 };
    GError *err = NULL;
    if (fl_run(sc, &opt, res, &err) != 0)
        fail_msg("run failed: %s", err->message);
}

int64_t fx_ops(const FlRunResult *res, const char *what)
{
    return json_integer_value(json_object_get(json_object_get(res->metrics, "ops"), what));
}

int64_t fx_messages(const FlRunResult *res, const char *what)
{
    return json_integer_value(json_object_get(json_object_get(res->metrics, "messages"), what));
}

int64_t fx_p99(const FlRunResult *res)
{
    return json_integer_value(json_object_get(json_object_get(res->metrics, "latency_ns"), "p99"));
}

double fx_availability(const FlRunResult *res)
{
    return json_real_value(json_object_get(res->metrics, "availability"));
}

json_t *fx_trace(const FlScenario *sc)
{
    g_autofree char *dir = g_dir_make_tmp("faultline-faults-XXXXXX", NULL);
    assert_non_null(dir);
    FlRunOptions opt = { .out_dir = dir, .write_trace = true };
    FlRunResult res;
    GError *err = NULL;
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("run failed: %s", err->message);
    fl_run_result_clear(&res);
    g_autofree char *path = g_build_filename(dir, "trace.jsonl", NULL);
    g_autofree char *text = NULL;
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    json_t *all = json_array();
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (!*lines[i])
            continue;
        json_t *ev = json_loads(lines[i], 0, NULL);
        assert_non_null(ev);
        json_array_append_new(all, ev);
    }
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
    return all;
}
