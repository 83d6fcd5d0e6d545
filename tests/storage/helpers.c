#include "tests/storage/helpers.h"

#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static FlVerdict check_text(const char *history, const char *model, const char *consistency,
                            json_t **json_out, char **report, GError **err)
{
    char *path = NULL;
    GError *e = NULL;
    int fd = g_file_open_tmp("storage-XXXXXX.jsonl", &path, &e);
    if (fd < 0)
        fail_msg("%s", e->message);
    close(fd);
    if (!g_file_set_contents(path, history, -1, &e))
        fail_msg("%s", e->message);
    GString *rep = g_string_new(NULL);
    FlVerdict v = fl_check_file(path, model, consistency, "jsonl", 30, rep, json_out, err);
    g_unlink(path);
    g_free(path);
    if (report)
        *report = g_string_free(rep, FALSE);
    else
        g_string_free(rep, TRUE);
    return v;
}

FlVerdict sx_check(const char *history, const char *model, const char *consistency,
                   json_t **json_out, char **report)
{
    GError *err = NULL;
    FlVerdict v = check_text(history, model, consistency, json_out, report, &err);
    if (v == FL_VERDICT_ERROR)
        fail_msg("checker error: %s", err->message);
    return v;
}

char *sx_check_error(const char *history, const char *model, const char *consistency)
{
    GError *err = NULL;
    json_t *j = NULL;
    FlVerdict v = check_text(history, model, consistency, &j, NULL, &err);
    if (j)
        json_decref(j);
    if (v != FL_VERDICT_ERROR)
        fail_msg("expected a checker error, got verdict %d", (int)v);
    char *msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

void sx_run_file(const char *path, int64_t seed, FlRunResult *res)
{
    GError *err = NULL;
    FlScenario *sc = fl_scenario_load(path, seed, &err);
    if (!sc)
        fail_msg("%s", err->message);
    FlRunOptions opt = { .check = true, .check_timeout_s = 60 };
    if (fl_run(sc, &opt, res, &err) != 0)
        fail_msg("%s: %s", path, err->message);
    fl_scenario_free(sc);
}

double sx_counter(const FlRunResult *res, const char *name)
{
    json_t *v = json_object_get(json_object_get(res->metrics, "counters"), name);
    return v ? json_number_value(v) : 0;
}

int64_t sx_check_int(const FlRunResult *res, const char *key)
{
    json_t *r = json_object_get(json_object_get(res->metrics, "check"), "result");
    json_t *v = json_object_get(r, key);
    return v ? json_integer_value(v) : -1;
}

char *sx_logs_history(const char *const *logs, int n)
{
    GString *h = g_string_new(NULL);
    for (int i = 0; i < n; i++) {
        if (!logs[i])
            continue;
        json_t *v = json_string(logs[i]);
        g_autofree char *text = json_dumps(v, JSON_ENCODE_ANY);
        json_decref(v);
        g_string_append_printf(h, "{\"process\":%d,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":%d}\n", i, 10 * i);
        g_string_append_printf(h, "{\"process\":%d,\"type\":\"ok\",\"f\":\"read\",\"value\":%s,\"time\":%d}\n", i, text, 10 * i + 5);
    }
    return g_string_free(h, FALSE);
}
