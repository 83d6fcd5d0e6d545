/* Design notes.
 * 1. OpenMetrics wants a metric family's samples together, after its
 *    HELP and TYPE lines, so the text is written family by family, each
 *    walking every window; within a family, series by label and then by
 *    time, so that each series' timestamps increase (promtool refuses a
 *    series that goes back in time).
 * 2. A sample's timestamp is its window's end, in virtual seconds since
 *    the run's start: a gauge is what the window measured, a counter what
 *    had happened by then.  Counters are cumulative (`_total`), so that
 *    PromQL's rate() and increase() work on them as on a real exporter's.
 * 3. What a window does not have is left out, not written as 0: a window
 *    without ok operations has no latency, one where nothing ended no
 *    availability, a link before its first byte no series. */
#include "sim/cli/export.h"

#include <glib/gstdio.h>
#include <inttypes.h>
#include <string.h>

static void ts(GString *o, json_t *win)
{
    uint64_t t = (uint64_t)json_integer_value(json_object_get(win, "t1_ns"));
    g_string_append_printf(o, " %" PRIu64 ".%09" PRIu64 "\n", t / 1000000000u, t % 1000000000u);
}

static void family(GString *o, const char *name, const char *type, const char *unit,
                   const char *help)
{
    g_string_append_printf(o, "# TYPE %s %s\n", name, type);
    if (unit)
        g_string_append_printf(o, "# UNIT %s %s\n", name, unit);
    g_string_append_printf(o, "# HELP %s %s\n", name, help);
}

static void label_value(GString *o, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_c(o, '\\');
        if (*p == '\n')
            g_string_append(o, "\\n");
        else
            g_string_append_c(o, *p);
    }
}

static void number(GString *o, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append(o, g_ascii_formatd(buf, sizeof buf, "%.15g", v));
}

static double num(json_t *v)
{
    return json_number_value(v);
}

/* One sample per window of @field (a number at the window's top level),
 * when the window has it. */
static void per_window(GString *o, json_t *windows, const char *sample, const char *labels,
                       const char *field, double scale)
{
    size_t k;
    json_t *win;
    json_array_foreach(windows, k, win) {
        json_t *v = json_object_get(win, field);
        if (!json_is_number(v))
            continue;
        g_string_append_printf(o, "%s%s ", sample, labels ? labels : "");
        number(o, num(v) * scale);
        ts(o, win);
    }
}

/* A cumulative count from per-window counts of @field. */
static void cumulative(GString *o, json_t *windows, const char *sample, const char *labels,
                       const char *field)
{
    size_t k;
    json_t *win;
    double sum = 0;
    json_array_foreach(windows, k, win) {
        sum += num(json_object_get(win, field));
        g_string_append_printf(o, "%s%s ", sample, labels ? labels : "");
        number(o, sum);
        ts(o, win);
    }
}

static char *endpoint(uint32_t e, uint32_t nodes)
{
    return e < nodes ? g_strdup_printf("%u", e) : g_strdup_printf("c%u", e - nodes);
}

/* Per node field @field of each window's "nodes" (absent: no sample). */
static void per_node(GString *o, json_t *windows, const char *sample, const char *field,
                     uint32_t nodes)
{
    for (uint32_t i = 0; i < nodes; i++) {
        size_t k;
        json_t *win;
        json_array_foreach(windows, k, win) {
            json_t *v = json_object_get(json_array_get(json_object_get(win, "nodes"), i), field);
            if (!json_is_number(v))
                continue;
            g_string_append_printf(o, "%s{node=\"%u\"} ", sample, i);
            number(o, num(v));
            ts(o, win);
        }
    }
}

static int cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *fl_export_openmetrics(json_t *windows, uint32_t nodes)
{
    GString *o = g_string_new(NULL);
    size_t k;
    json_t *win;
    json_t *last = json_array_get(windows, json_array_size(windows) - 1);

    family(o, "faultline_ops_offered", "counter", NULL,
           "Operations offered (counted in the window of their intended arrival).");
    cumulative(o, windows, "faultline_ops_offered_total", NULL, "offered");
    family(o, "faultline_ops", "counter", NULL,
           "Operations ended, by outcome (kind: ok, fail, timeout).");
    cumulative(o, windows, "faultline_ops_total", "{kind=\"ok\"}", "ok");
    cumulative(o, windows, "faultline_ops_total", "{kind=\"fail\"}", "fail");
    cumulative(o, windows, "faultline_ops_total", "{kind=\"timeout\"}", "timeout");
    family(o, "faultline_offered_rate", "gauge", NULL,
           "Operations offered per second of virtual time in the window.");
    per_window(o, windows, "faultline_offered_rate", NULL, "offered_per_s", 1);
    family(o, "faultline_completed_rate", "gauge", NULL,
           "Operations completed ok per second of virtual time in the window.");
    per_window(o, windows, "faultline_completed_rate", NULL, "completed_per_s", 1);
    family(o, "faultline_availability_ratio", "gauge", "ratio",
           "Fraction of the operations ended in the window that ended ok.");
    per_window(o, windows, "faultline_availability_ratio", NULL, "availability", 1);

    /* Latency from intended arrival, as a summary: its quantiles are the
     * window's (a summary's quantiles are over a recent window, by
     * definition), its count and sum cumulative.  One point per window:
     * quantiles (when the window had ok operations), then sum and count. */
    family(o, "faultline_latency_seconds", "summary", "seconds",
           "Latency of ok operations from intended arrival; quantiles over the window.");
    static const char *const qs[][2] = { { "p50", "0.5" }, { "p90", "0.9" }, { "p99", "0.99" } };
    double lat_n = 0, lat_sum = 0;
    json_array_foreach(windows, k, win) {
        json_t *lat = json_object_get(win, "latency_ns");
        for (size_t q = 0; lat && q < G_N_ELEMENTS(qs); q++) {
            g_string_append_printf(o, "faultline_latency_seconds{quantile=\"%s\"} ", qs[q][1]);
            number(o, num(json_object_get(lat, qs[q][0])) / 1e9);
            ts(o, win);
        }
        lat_n += num(json_object_get(lat, "count"));
        lat_sum += num(json_object_get(lat, "sum")) / 1e9;
        g_string_append(o, "faultline_latency_seconds_sum ");
        number(o, lat_sum);
        ts(o, win);
        g_string_append(o, "faultline_latency_seconds_count ");
        number(o, lat_n);
        ts(o, win);
    }
    family(o, "faultline_latency_max_seconds", "gauge", "seconds",
           "Longest latency of the window's ok operations, from intended arrival.");
    json_array_foreach(windows, k, win) {
        json_t *v = json_object_get(json_object_get(win, "latency_ns"), "max");
        if (!json_is_integer(v))
            continue;
        g_string_append(o, "faultline_latency_max_seconds ");
        number(o, (double)json_integer_value(v) / 1e9);
        ts(o, win);
    }

    if (json_object_get(json_array_get(json_object_get(last, "nodes"), 0), "queue")) {
        family(o, "faultline_cpu_queue_length", "gauge", NULL,
               "Messages in a node's CPU (waiting or served) at the window's end.");
        per_node(o, windows, "faultline_cpu_queue_length", "queue", nodes);
        family(o, "faultline_cpu_busy_ratio", "gauge", "ratio",
               "Fraction of the window a node's CPU was busy.");
        per_node(o, windows, "faultline_cpu_busy_ratio", "cpu_busy", nodes);
    }
    family(o, "faultline_disk_synced_bytes", "counter", "bytes", "Bytes a node's syncs made durable.");
    per_node(o, windows, "faultline_disk_synced_bytes_total", "disk_synced_bytes", nodes);

    /* Links: the last window lists every link used, in (from, to) order. */
    family(o, "faultline_link_bytes", "counter", "bytes",
           "Bytes sent on a link (link: from->to; cN is client N), every copy counted.");
    size_t li;
    json_t *l;
    json_array_foreach(json_object_get(last, "links"), li, l) {
        json_int_t from = json_integer_value(json_object_get(l, "from"));
        json_int_t to = json_integer_value(json_object_get(l, "to"));
        g_autofree char *a = endpoint((uint32_t)from, nodes);
        g_autofree char *b = endpoint((uint32_t)to, nodes);
        json_array_foreach(windows, k, win) {
            size_t j;
            json_t *m;
            json_array_foreach(json_object_get(win, "links"), j, m) {
                if (json_integer_value(json_object_get(m, "from")) != from ||
                    json_integer_value(json_object_get(m, "to")) != to)
                    continue;
                g_string_append_printf(o, "faultline_link_bytes_total{link=\"%s->%s\"} ", a, b);
                number(o, num(json_object_get(m, "bytes")));
                ts(o, win);
            }
        }
    }

    /* Protocol counters: names only ever appear, so the last window has
     * them all; sorted, for the same text on every run. */
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(last, "counters"), name, v)
        g_ptr_array_add(names, (gpointer)name);
    g_ptr_array_sort(names, cmp_str);
    family(o, "faultline_protocol", "counter", NULL,
           "The protocol's own counters (kind: the counter's name in metrics.json).");
    for (guint i = 0; i < names->len; i++) {
        const char *n = g_ptr_array_index(names, i);
        json_array_foreach(windows, k, win) {
            json_t *c = json_object_get(json_object_get(win, "counters"), n);
            if (!json_is_number(c))
                continue;
            g_string_append(o, "faultline_protocol_total{kind=\"");
            label_value(o, n);
            g_string_append(o, "\"} ");
            number(o, num(c));
            ts(o, win);
        }
    }
    g_string_append(o, "# EOF\n");
    return g_string_free(o, FALSE);
}

static bool write_text(const char *dir, const char *name, const char *text, GError **err)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    return g_file_set_contents(path, text, (gssize)strlen(text), err);
}

bool fl_export_timeseries(const char *dir, json_t *windows, uint32_t nodes, GError **err)
{
    g_autoptr(GString) jl = g_string_new(NULL);
    size_t k;
    json_t *win;
    json_array_foreach(windows, k, win) {
        char *s = json_dumps(win, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        g_string_append(jl, s);
        g_string_append_c(jl, '\n');
        free(s);
    }
    g_autofree char *om = fl_export_openmetrics(windows, nodes);
    return write_text(dir, "timeseries.jsonl", jl->str, err) &&
           write_text(dir, "metrics.om", om, err);
}
