/* tests/replication/table.c: see table.h. */
#include "tests/replication/table.h"

#include "sim/run.h"

#include <string.h>

/* Rows follow the hierarchy, from the strongest system to the weakest. */
static const char *const order[] = {
    "single", "abd", "chain", "pb-sync", "pb-async", "dynamo-strict", "dynamo-sloppy", "dynamo-one",
    "causal", "lww", "crdt", NULL,
};

static const struct { const char *model, *title; } columns[] = {
    { "linearizable", "linearizable" },
    { "sequential", "sequential" },
    { "causal", "causal" },
    { "causal-convergence", "causal+" },
    { "read-your-writes", "RYW" },
    { "monotonic-reads", "MR" },
    { "monotonic-writes", "MW" },
    { "writes-follow-reads", "WFR" },
    { "eventual", "eventual" },
};

static int rank(const char *name)
{
    for (int i = 0; order[i]; i++) {
        size_t n = strlen(order[i]);
        if (strncmp(name, order[i], n) == 0 && (name[n] == '\0' || name[n] == '-' ||
                                                name[n] == '.'))
            return i;
    }
    return G_N_ELEMENTS(order);
}

/* A file's name without ".json" and "-partition" (caller frees). */
static char *base(const char *file)
{
    char *s = g_strdup(file);
    char *dot = strstr(s, ".json");
    if (dot)
        *dot = '\0';
    char *p = strstr(s, "-partition");
    if (p)
        memmove(p, p + strlen("-partition"), strlen(p + strlen("-partition")) + 1);
    return s;
}

static int cmp_files(gconstpointer a, gconstpointer b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    g_autofree char *bx = g_path_get_basename(x), *by = g_path_get_basename(y);
    int rx = rank(bx), ry = rank(by);
    if (rx != ry)
        return rx - ry;
    /* By name without "-partition", then the run without faults first. */
    g_autofree char *kx = base(bx), *ky = base(by);
    int c = strcmp(kx, ky);
    if (c)
        return c;
    return (strstr(bx, "-partition") != NULL) - (strstr(by, "-partition") != NULL);
}

static void row_free(gpointer p)
{
    TableRow *r = p;
    g_free(r->file);
    g_free(r->name);
    g_free(r->protocol);
    g_free(r->unmet);
    if (r->verdicts)
        json_decref(r->verdicts);
    if (r->metrics)
        json_decref(r->metrics);
    g_free(r);
}

GPtrArray *table_run_dir(const char *dir, GError **err)
{
    GDir *d = g_dir_open(dir, 0, err);
    if (!d)
        return NULL;
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    for (const char *f; (f = g_dir_read_name(d));)
        if (g_str_has_suffix(f, ".json"))
            g_ptr_array_add(files, g_build_filename(dir, f, NULL));
    g_dir_close(d);
    g_ptr_array_sort(files, cmp_files);
    GPtrArray *rows = g_ptr_array_new_with_free_func(row_free);
    for (guint i = 0; i < files->len; i++) {
        const char *file = g_ptr_array_index(files, i);
        FlScenario *sc = fl_scenario_load(file, -1, err);
        if (!sc) {
            g_ptr_array_unref(rows);
            return NULL;
        }
        FlRunOptions opt = { .check = true, .check_timeout_s = 60 };
        FlRunResult res;
        if (fl_run(sc, &opt, &res, err) != 0) {
            fl_scenario_free(sc);
            g_ptr_array_unref(rows);
            return NULL;
        }
        TableRow *r = g_new0(TableRow, 1);
        r->file = g_strdup(file);
        r->name = g_strdup(sc->name);
        r->protocol = g_strdup(sc->protocol->name);
        r->faults = sc->faults && sc->faults->len > 0;
        r->metrics = json_incref(res.metrics);
        r->verdicts = json_incref(json_object_get(json_object_get(res.metrics, "check"), "verdicts"));
        if (!r->verdicts)
            r->verdicts = json_object();
        r->met = res.met;
        GString *u = g_string_new(NULL);
        for (guint k = 0; k < res.unmet->len; k++)
            g_string_append_printf(u, "%s\n", (char *)g_ptr_array_index(res.unmet, k));
        r->unmet = g_string_free(u, FALSE);
        r->trace_hash = res.trace_hash;
        g_ptr_array_add(rows, r);
        fl_run_result_clear(&res);
        fl_scenario_free(sc);
    }
    return rows;
}

const char *table_verdict(const TableRow *row, const char *model)
{
    return json_string_value(json_object_get(row->verdicts, model));
}

char *table_markdown(GPtrArray *rows)
{
    GString *s = g_string_new("| scenario | protocol | partition |");
    for (gsize c = 0; c < G_N_ELEMENTS(columns); c++)
        g_string_append_printf(s, " %s |", columns[c].title);
    g_string_append(s, " ok | info |\n|---|---|---|");
    for (gsize c = 0; c < G_N_ELEMENTS(columns); c++)
        g_string_append(s, ":-:|");
    g_string_append(s, "--:|--:|\n");
    for (guint i = 0; i < rows->len; i++) {
        const TableRow *r = g_ptr_array_index(rows, i);
        g_string_append_printf(s, "| %s | %s | %s |", r->name, r->protocol, r->faults ? "yes" : "no");
        for (gsize c = 0; c < G_N_ELEMENTS(columns); c++) {
            const char *v = table_verdict(r, columns[c].model);
            g_string_append_printf(s, " %s |", !v ? "" : strcmp(v, "valid") == 0 ? "✓"
                                              : strcmp(v, "invalid") == 0 ? "✗" : "?");
        }
        json_t *ops = json_object_get(r->metrics, "ops");
        g_string_append_printf(s, " %" JSON_INTEGER_FORMAT " | %" JSON_INTEGER_FORMAT " |\n",
                               json_integer_value(json_object_get(ops, "ok")),
                               json_integer_value(json_object_get(ops, "info")));
    }
    return g_string_free(s, FALSE);
}
