/* Design notes.
 * 1. Windows are indexed by time, not built as time passes: an operation's
 *    offer is counted when it is invoked, in the window of its arrival,
 *    which may be an earlier window (the client was busy); a CPU job
 *    admitted now may run in later windows.  So the per window counts live
 *    in an array that grows to the window asked for, and only the samples
 *    of a window's end (queues, bytes synced, counters) need the world at
 *    that instant (fl_series_close).
 * 2. An operation counts where it ends: its latency is known then, and a
 *    stall shows as windows without completions followed by one with long
 *    latencies, which is what a dashboard of the real system shows. */
#include "sim/series.h"

#include <glib.h>
#include <string.h>

typedef struct LinkBytes {
    uint32_t from, to;
    uint64_t bytes;
} LinkBytes;

typedef struct Window {
    uint64_t offered, ok, fail, timeout;
    GArray *lat;            /* of FlDuration: ok operations that ended here */
    FlDuration *busy;       /* per node, CPU time busy in the window */
    uint32_t *queue;        /* per node at the window's end; NULL: no CPU */
    uint64_t *synced;       /* per node, cumulative at the window's end */
    GArray *links;          /* of LinkBytes, cumulative, links used so far */
    json_t *counters;
    gboolean closed;
} Window;

struct FlSeries {
    FlDuration window;
    FlTime end;
    uint32_t nodes, endpoints;
    GPtrArray *wins;        /* of Window*, index = window */
    uint64_t *link_total;   /* endpoints x endpoints, cumulative */
    uint32_t closed;
};

FlDuration fl_series_fit(FlDuration window, FlTime end)
{
    g_assert(window > 0);
    if (end / (FlTime)window < FL_SERIES_MAX_WINDOWS)
        return window;
    FlTime us = (end / FL_SERIES_MAX_WINDOWS + 999) / 1000 + 1;
    return (FlDuration)(us * 1000);
}

uint32_t fl_series_window_of(FlDuration window, FlTime end, FlTime t)
{
    g_assert(window > 0);
    uint32_t n = fl_series_count(window, end);
    uint64_t k = t / (FlTime)window;
    return k >= n ? n - 1 : (uint32_t)k;
}

uint32_t fl_series_count(FlDuration window, FlTime end)
{
    g_assert(window > 0);
    uint64_t n = (end + (FlTime)window - 1) / (FlTime)window;
    g_assert(n <= FL_SERIES_MAX_WINDOWS);
    return n ? (uint32_t)n : 1;
}

void fl_series_bounds(FlDuration window, FlTime end, uint32_t k, FlTime *t0, FlTime *t1)
{
    *t0 = (FlTime)k * (FlTime)window;
    *t1 = *t0 + (FlTime)window;
    if (k + 1 == fl_series_count(window, end) && end > *t0)
        *t1 = end;
}

static void window_free(gpointer p)
{
    Window *win = p;
    g_array_unref(win->lat);
    g_free(win->busy);
    g_free(win->queue);
    g_free(win->synced);
    if (win->links)
        g_array_unref(win->links);
    if (win->counters)
        json_decref(win->counters);
    g_free(win);
}

FlSeries *fl_series_new(FlDuration window, FlTime end, uint32_t nodes, uint32_t endpoints)
{
    g_assert(window > 0);
    FlSeries *s = g_new0(FlSeries, 1);
    s->window = window;
    s->end = end;
    s->nodes = nodes;
    s->endpoints = endpoints;
    s->link_total = g_new0(uint64_t, (size_t)endpoints * endpoints);
    uint32_t n = fl_series_count(window, end);
    s->wins = g_ptr_array_new_full(n, window_free);
    for (uint32_t k = 0; k < n; k++) {
        Window *win = g_new0(Window, 1);
        win->lat = g_array_new(FALSE, FALSE, sizeof(FlDuration));
        win->busy = g_new0(FlDuration, nodes);
        win->synced = g_new0(uint64_t, nodes);
        g_ptr_array_add(s->wins, win);
    }
    return s;
}

void fl_series_free(FlSeries *s)
{
    if (!s)
        return;
    g_ptr_array_unref(s->wins);
    g_free(s->link_total);
    g_free(s);
}

FlDuration fl_series_window(const FlSeries *s) { return s->window; }
uint32_t fl_series_closed(const FlSeries *s) { return s->closed; }

static Window *at_time(const FlSeries *s, FlTime t)
{
    return g_ptr_array_index(s->wins, fl_series_window_of(s->window, s->end, t));
}

void fl_series_offer(FlSeries *s, FlTime at)
{
    at_time(s, at)->offered++;
}

void fl_series_end(FlSeries *s, FlTime from, FlTime at, FlSeriesEnd how)
{
    Window *win = at_time(s, at);
    switch (how) {
    case FL_SERIES_OK: {
        win->ok++;
        FlDuration lat = (FlDuration)(at - from);
        g_array_append_val(win->lat, lat);
        break;
    }
    case FL_SERIES_FAIL:
        win->fail++;
        break;
    case FL_SERIES_TIMEOUT:
        win->timeout++;
        break;
    }
}

void fl_series_busy(FlSeries *s, uint32_t node, FlTime t0, FlTime t1)
{
    g_assert(node < s->nodes);
    /* Work past the run's end is not the run's (fl_server_utilisation
     * counts it up to the end too). */
    if (t1 > s->end)
        t1 = s->end;
    while (t0 < t1) {
        uint32_t k = fl_series_window_of(s->window, s->end, t0);
        FlTime w0, w1;
        fl_series_bounds(s->window, s->end, k, &w0, &w1);
        FlTime stop = t1 < w1 ? t1 : w1;
        if (stop <= t0)
            break;   /* t0 == end: nothing left in any window */
        Window *win = g_ptr_array_index(s->wins, k);
        win->busy[node] += (FlDuration)(stop - t0);
        t0 = stop;
    }
}

void fl_series_link_bytes(FlSeries *s, uint32_t from, uint32_t to, uint64_t len)
{
    g_assert(from < s->endpoints);
    g_assert(to < s->endpoints);
    s->link_total[(size_t)from * s->endpoints + to] += len;
}

void fl_series_close(FlSeries *s, uint32_t k, const uint32_t *queue, const uint64_t *synced,
                     json_t *counters)
{
    g_assert(k == s->closed);
    g_assert(k < s->wins->len);
    Window *win = g_ptr_array_index(s->wins, k);
    if (queue)
        win->queue = g_memdup2(queue, sizeof *queue * s->nodes);
    memcpy(win->synced, synced, sizeof *synced * s->nodes);
    win->links = g_array_new(FALSE, FALSE, sizeof(LinkBytes));
    for (uint32_t a = 0; a < s->endpoints; a++)
        for (uint32_t b = 0; b < s->endpoints; b++) {
            uint64_t v = s->link_total[(size_t)a * s->endpoints + b];
            if (v) {
                LinkBytes lb = { a, b, v };
                g_array_append_val(win->links, lb);
            }
        }
    win->counters = counters;
    win->closed = TRUE;
    s->closed++;
}

static int cmp_dur(const void *a, const void *b)
{
    FlDuration x = *(const FlDuration *)a, y = *(const FlDuration *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank, as metrics.json's percentiles. */
static FlDuration pct(const GArray *v, double q)
{
    if (v->len == 0)
        return 0;
    size_t rank = (size_t)(q * (double)v->len + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > v->len)
        rank = v->len;
    return g_array_index(v, FlDuration, rank - 1);
}

json_t *fl_series_json(const FlSeries *s)
{
    json_t *out = json_array();
    for (guint k = 0; k < s->wins->len; k++) {
        const Window *win = g_ptr_array_index(s->wins, k);
        FlTime t0, t1;
        fl_series_bounds(s->window, s->end, k, &t0, &t1);
        double secs = (double)(t1 - t0) / 1e9;
        uint64_t ended = win->ok + win->fail + win->timeout;
        json_t *o = json_object();
        json_object_set_new(o, "t0_ns", json_integer((json_int_t)t0));
        json_object_set_new(o, "t1_ns", json_integer((json_int_t)t1));
        json_object_set_new(o, "offered", json_integer((json_int_t)win->offered));
        json_object_set_new(o, "ok", json_integer((json_int_t)win->ok));
        json_object_set_new(o, "fail", json_integer((json_int_t)win->fail));
        json_object_set_new(o, "timeout", json_integer((json_int_t)win->timeout));
        json_object_set_new(o, "offered_per_s", json_real(secs > 0 ? (double)win->offered / secs : 0));
        json_object_set_new(o, "completed_per_s", json_real(secs > 0 ? (double)win->ok / secs : 0));
        if (ended)
            json_object_set_new(o, "availability", json_real((double)win->ok / (double)ended));
        if (win->lat->len) {
            g_autoptr(GArray) lat = g_array_copy(win->lat);
            qsort(lat->data, lat->len, sizeof(FlDuration), cmp_dur);
            FlDuration sum = 0;
            for (guint i = 0; i < lat->len; i++)
                sum += g_array_index(lat, FlDuration, i);
            json_object_set_new(o, "latency_ns",
                                json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "count", (json_int_t)lat->len,
                                          "sum", (json_int_t)sum,
                                          "p50", (json_int_t)pct(lat, 0.50),
                                          "p90", (json_int_t)pct(lat, 0.90),
                                          "p99", (json_int_t)pct(lat, 0.99),
                                          "max", (json_int_t)g_array_index(lat, FlDuration, lat->len - 1)));
        }
        json_t *nodes = json_array();
        for (uint32_t i = 0; i < s->nodes; i++) {
            json_t *n = json_pack("{s:i}", "node", (int)i);
            if (win->queue) {
                json_object_set_new(n, "queue", json_integer(win->queue[i]));
                json_object_set_new(n, "cpu_busy", json_real(secs > 0 ? (double)win->busy[i] / 1e9 / secs : 0));
            }
            json_object_set_new(n, "disk_synced_bytes", json_integer((json_int_t)win->synced[i]));
            json_array_append_new(nodes, n);
        }
        json_object_set_new(o, "nodes", nodes);
        json_t *links = json_array();
        for (guint i = 0; win->links && i < win->links->len; i++) {
            const LinkBytes *lb = &g_array_index(win->links, LinkBytes, i);
            json_array_append_new(links, json_pack("{s:i,s:i,s:I}", "from", (int)lb->from, "to",
                                                   (int)lb->to, "bytes", (json_int_t)lb->bytes));
        }
        json_object_set_new(o, "links", links);
        json_object_set_new(o, "counters", win->counters ? json_deep_copy(win->counters) : json_object());
        json_array_append_new(out, o);
    }
    return out;
}
