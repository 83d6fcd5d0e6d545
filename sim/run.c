#include "sim/run.h"
#include "sim/catalog.h"

#include "sim/series.h"
#include "sim/sla.h"
#include "sim/world.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <string.h>

const char *fl_verdict_name(FlVerdict v)
{
    switch (v) {
    case FL_VERDICT_VALID: return "valid";
    case FL_VERDICT_INVALID: return "invalid";
    default: return "unknown";
    }
}

/* Sorts @n durations at @a ascending, @tmp having room for n / 2 + 1: a
 * merge sort with the comparison inline (g_array_sort's callback per
 * comparison was a sixtieth of a tiny run's cost). */
static void sort_durations(FlDuration *a, size_t n, FlDuration *tmp)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            FlDuration x = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1] > x; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    sort_durations(a, h, tmp);
    sort_durations(a + h, n - h, tmp);
    if (a[h - 1] <= a[h])
        return;
    memcpy(tmp, a, h * sizeof *a);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        a[k++] = tmp[i] <= a[j] ? tmp[i++] : a[j++];
    while (i < h)
        a[k++] = tmp[i++];
}

/* Nearest-rank percentile of sorted @v. */
static FlDuration percentile(const GArray *v, double q)
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

static const char *const live_modes[] = {
    [FL_LIVE_NONE] = "none", [FL_LIVE_OFF] = "off", [FL_LIVE_EXPLICIT] = "explicit",
    [FL_LIVE_DEFAULT] = "default", [FL_LIVE_UNJUDGED] = "default",
};

/* metrics.json "liveness": the claim, where it comes from, and what the run
 * gave.  "judged" is false when a claim exists in principle but this run
 * cannot weigh it; "reason" then says why, so that a pass is never mistaken
 * for a check. */
static json_t *liveness_metrics(const FlScenario *sc, const FlRunStats *st, json_t *intervals)
{
    const FlExpect *e = &sc->expect;
    json_t *o = json_pack("{s:s}", "mode", live_modes[e->live_mode]);
    if (e->live_mode == FL_LIVE_NONE || e->live_mode == FL_LIVE_UNJUDGED) {
        json_object_set_new(o, "judged", json_false());
        if (e->live_why)
            json_object_set_new(o, "reason", json_string(e->live_why));
        return o;
    }
    if (e->live_mode == FL_LIVE_OFF) {
        json_object_set_new(o, "judged", json_false());
        json_object_set_new(o, "reason", json_string("expect.liveness is false"));
        return o;
    }
    bool judged = true;
    if (e->live_mode == FL_LIVE_DEFAULT) {
        /* The claim counted from the scheduled last heal: a fault that was
         * still active after it (one that outlived its schedule) leaves
         * nothing to judge, and says so. */
        size_t i;
        json_t *iv;
        json_array_foreach(intervals, i, iv) {
            json_int_t stop = json_integer_value(json_object_get(iv, "stop"));
            if (stop > (json_int_t)e->live_after) {
                char a[32], b[32];
                g_autofree char *why = g_strdup_printf(
                    "fault %" JSON_INTEGER_FORMAT " (%s) was active until %s, after the "
                    "scheduled last heal at %s",
                    json_integer_value(json_object_get(iv, "fault")),
                    json_string_value(json_object_get(iv, "kind")),
                    fl_duration_format((FlDuration)stop, a), fl_duration_format(e->live_after, b));
                json_object_set_new(o, "reason", json_string(why));
                judged = false;
                break;
            }
        }
        json_object_set_new(o, "rule", json_string(e->live_why));
    }
    json_object_set_new(o, "judged", json_boolean(judged));
    json_object_set_new(o, "heal_at", json_integer((json_int_t)e->live_after));
    json_object_set_new(o, "budget", json_integer((json_int_t)e->live_budget));
    json_object_set_new(o, "min_ok", json_integer((json_int_t)e->live_min_ok));
    json_object_set_new(o, "ok_within_budget", json_integer((json_int_t)st->live_ok));
    json_object_set_new(o, "first_ok_after_heal_ns",
                        st->live_first_ok == FL_TIME_NEVER
                            ? json_null()
                            : json_integer((json_int_t)(st->live_first_ok - (FlTime)e->live_after)));
    return o;
}

/* metrics.json "sla" (sim/sla.h): the history's operations (final reads
 * are not the service's clients and do not count), the fault intervals,
 * and the world's logs of signals and leaders.  NULL without a workload:
 * there is no demand to serve. */
static json_t *sla_metrics(const FlScenario *sc, FlWorld *w, const GArray *index, json_t *intervals)
{
    if (!sc->workload.model || !index)
        return NULL;
    const FlExpect *e = &sc->expect;
    FlTime end = fl_world_stats(w)->end;
    FlSlaInput in = { .end = end,
                      .window = e->has_sla ? e->sla_window : FL_SLA_DEFAULT_WINDOW,
                      .target = e->has_sla ? e->sla_target : FL_SLA_DEFAULT_TARGET };
    /* A default window in a very long run: wider ones, as the series do. */
    in.window = fl_series_fit(in.window, end);
    g_autoptr(GArray) ops = g_array_new(FALSE, FALSE, sizeof(FlSlaOp));
    /* Each process has one operation at a time: its invocation waits here
     * for its end, by process id (a GHashTable read by key only, never
     * iterated, so no order leaks). */
    g_autoptr(GHashTable) open = g_hash_table_new(g_int64_hash, g_int64_equal);
    const FlHistoryEvent *ev = (const FlHistoryEvent *)(void *)index->data;
    for (guint i = 0; i < index->len; i++) {
        if (!(ev[i].flags & FL_EVENT_HAS_TIME) || (ev[i].flags & FL_EVENT_FINAL))
            continue;
        if (ev[i].type == FL_EVENT_INVOKE) {
            FlSlaOp op = { .invoke = (FlTime)ev[i].time, .how = FL_SLA_OPEN };
            g_array_append_val(ops, op);
            g_hash_table_insert(open, (gpointer)&ev[i].process, GUINT_TO_POINTER(ops->len));
            continue;
        }
        guint at = GPOINTER_TO_UINT(g_hash_table_lookup(open, &ev[i].process));
        if (!at)
            continue;
        g_hash_table_remove(open, &ev[i].process);
        FlSlaOp *op = &g_array_index(ops, FlSlaOp, at - 1);
        op->end = (FlTime)ev[i].time;
        op->how = ev[i].type == FL_EVENT_OK ? FL_SLA_OK : ev[i].type == FL_EVENT_FAIL ? FL_SLA_FAIL
                                                                                     : FL_SLA_INFO;
    }
    size_t nf = json_array_size(intervals);
    g_autofree FlSlaFault *faults = g_new0(FlSlaFault, nf ? nf : 1);
    for (size_t i = 0; i < nf; i++) {
        json_t *iv = json_array_get(intervals, i), *stop = json_object_get(iv, "stop");
        faults[i] = (FlSlaFault){ .start = (FlTime)json_integer_value(json_object_get(iv, "start")),
                                  .stop = json_is_integer(stop) ? (FlTime)json_integer_value(stop)
                                                                : FL_TIME_NEVER,
                                  .kind = json_string_value(json_object_get(iv, "kind")),
                                  .what = json_string_value(json_object_get(iv, "what")) };
    }
    in.ops = (const FlSlaOp *)(void *)ops->data;
    in.n_ops = ops->len;
    in.faults = faults;
    in.n_faults = nf;
    in.signals = fl_world_sla_signals(w, &in.n_signals);
    size_t nl;
    const FlSlaLeader *leaders = fl_world_sla_leaders(w, &nl);
    /* Only a protocol that ever declared a leader has leader figures. */
    in.leaders = nl ? leaders : NULL;
    in.n_leaders = nl;
    json_t *o = fl_sla_json(&in);
    json_object_set_new(o, "claimed", json_boolean(e->has_sla));
    return o;
}

static json_t *build_metrics(const FlScenario *sc, FlWorld *w, FlRunResult *res)
{
    const FlRunStats *st = fl_world_stats(w);
    g_autoptr(GArray) lat = g_array_sized_new(FALSE, FALSE, sizeof(FlDuration), st->latencies->len);
    g_array_append_vals(lat, st->latencies->data, st->latencies->len);
    g_autofree FlDuration *tmp = g_new(FlDuration, lat->len / 2 + 1);
    sort_durations((FlDuration *)(void *)lat->data, lat->len, tmp);
    double sum = 0;
    for (guint i = 0; i < lat->len; i++)
        sum += (double)g_array_index(lat, FlDuration, i);
    const FlWorkloadSpec *wl = &sc->workload;
    FlDuration until = wl->until < sc->duration ? wl->until : sc->duration;
    double window_s = (double)(until - wl->start) / 1e9;
    uint64_t open = st->invoked - st->ok - st->fail - st->info;
    double availability = st->invoked ? (double)(st->ok + st->fail) / (double)st->invoked : 1.0;
    char hash[24];
    g_snprintf(hash, sizeof hash, "%016" PRIx64, res->trace_hash);

    json_t *m = json_object();
    json_object_set_new(m, "scenario", json_string(sc->name));
    json_object_set_new(m, "seed", json_integer((json_int_t)sc->seed));
    json_object_set_new(m, "protocol", json_string(sc->protocol->name));
    json_object_set_new(m, "nodes", json_integer(sc->nodes));
    json_object_set_new(m, "virtual_time_ns", json_integer((json_int_t)st->end));
    json_object_set_new(m, "events", json_integer((json_int_t)st->events));
    json_object_set_new(m, "ops", json_pack("{s:I,s:I,s:I,s:I,s:I}", "invoked", (json_int_t)st->invoked,
                                            "ok", (json_int_t)st->ok, "fail", (json_int_t)st->fail,
                                            "info", (json_int_t)st->info, "open", (json_int_t)open));
    json_object_set_new(m, "latency_ns",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
                                  "count", (json_int_t)lat->len,
                                  "mean", (json_int_t)(lat->len ? sum / lat->len : 0),
                                  "p50", (json_int_t)percentile(lat, 0.50),
                                  "p90", (json_int_t)percentile(lat, 0.90),
                                  "p99", (json_int_t)percentile(lat, 0.99),
                                  "p999", (json_int_t)percentile(lat, 0.999),
                                  "max", (json_int_t)(lat->len ? g_array_index(lat, FlDuration, lat->len - 1) : 0)));
    /* Latency (above) counts from each operation's intended arrival; the
     * same operations split into service (from invocation: what the system
     * took once asked) and queueing (arrival to invocation: waiting behind
     * the client's previous operation), shown apart. */
    {
        g_autoptr(GArray) svc = g_array_sized_new(FALSE, FALSE, sizeof(FlDuration), st->services->len);
        g_autoptr(GArray) wait = g_array_sized_new(FALSE, FALSE, sizeof(FlDuration), st->services->len);
        g_array_append_vals(svc, st->services->data, st->services->len);
        for (guint i = 0; i < st->services->len; i++) {
            FlDuration q = g_array_index(st->latencies, FlDuration, i) -
                           g_array_index(st->services, FlDuration, i);
            g_array_append_val(wait, q);
        }
        GArray *parts[2] = { svc, wait };
        const char *names[2] = { "service_ns", "queueing_ns" };
        for (int k = 0; k < 2; k++) {
            GArray *v = parts[k];
            sort_durations((FlDuration *)(void *)v->data, v->len, tmp);
            json_object_set_new(m, names[k],
                                json_pack("{s:I,s:I,s:I,s:I}", "p50", (json_int_t)percentile(v, 0.50),
                                          "p99", (json_int_t)percentile(v, 0.99),
                                          "p999", (json_int_t)percentile(v, 0.999),
                                          "max", (json_int_t)(v->len ? g_array_index(v, FlDuration, v->len - 1) : 0)));
        }
    }
    json_object_set_new(m, "throughput_ok_per_s",
                        json_real(window_s > 0 ? (double)st->ok / window_s : 0));
    json_object_set_new(m, "availability", json_real(availability));
    json_object_set_new(m, "messages", json_pack("{s:I,s:I,s:I}", "sent", (json_int_t)st->sent,
                                                 "delivered", (json_int_t)st->delivered,
                                                 "dropped", (json_int_t)st->dropped));
    json_t *intervals = fl_world_fault_intervals(w);
    json_object_set_new(m, "faults", intervals);
    json_object_set_new(m, "liveness", liveness_metrics(sc, st, intervals));
    json_t *sla = sla_metrics(sc, w, res->history_index, intervals);
    if (sla)
        json_object_set_new(m, "sla", sla);
    json_object_set_new(m, "counters", fl_world_counters(w));
    json_t *rm = fl_world_resource_metrics(w);
    if (rm)
        json_object_set_new(m, "resources", rm);
    json_t *fd = fl_world_fd_metrics(w);
    if (fd)
        json_object_set_new(m, "detectors", fd);
    uint32_t at;
    const char *broken = fl_world_invariant_broken(w, &at);
    if (broken)
        json_object_set_new(m, "invariant", json_pack("{s:b,s:s,s:i}", "holds", 0, "what", broken,
                                                      "at", (int)at));
    json_object_set_new(m, "trace_hash", json_string(hash));
    return m;
}

static void unmet(FlRunResult *res, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void unmet(FlRunResult *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(res->unmet, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* A bound on a counter this run never created, for a protocol that does
 * not declare its counters: names the counters the run did create. */
static void unmet_counter(FlRunResult *res, const char *name, json_t *counters)
{
    g_autoptr(GString) have = g_string_new(NULL);
    const char *k;
    json_t *v;
    json_object_foreach(counters, k, v)
        g_string_append_printf(have, "%s%s", have->len ? ", " : "", k);
    unmet(res, "counters: %s was never created by this run (the counters it created: %s)",
          name, have->len ? have->str : "none");
}

/* The failure detectors' expectations, against metrics.json "detectors". */
static void weigh_detectors(const FlExpect *e, json_t *fd, FlRunResult *res)
{
    bool asked = e->max_false_suspicions >= 0 || e->min_false_suspicions >= 0 ||
                 e->max_detection_time >= 0 || e->max_missed_detections >= 0;
    if (!asked)
        return;
    if (!fd) {
        unmet(res, "detectors: expected failure detector figures, but no node ran a detector");
        return;
    }
    json_t *fs = json_object_get(fd, "false_suspicions");
    int64_t nfalse = json_integer_value(json_object_get(fs, "count"));
    int64_t missed = json_integer_value(json_object_get(json_object_get(fd, "detections"), "missed"));
    int64_t det_max = json_integer_value(json_object_get(json_object_get(fd, "detection_time_ns"), "max"));
    char a[32];
    if (e->max_false_suspicions >= 0 && nfalse > e->max_false_suspicions)
        unmet(res, "max_false_suspicions: expected at most %" PRId64 " false suspicions, got %" PRId64,
              e->max_false_suspicions, nfalse);
    if (e->min_false_suspicions >= 0 && nfalse < e->min_false_suspicions)
        unmet(res, "min_false_suspicions: expected at least %" PRId64 " false suspicions, got %" PRId64,
              e->min_false_suspicions, nfalse);
    if (e->max_detection_time >= 0 && det_max > e->max_detection_time)
        unmet(res, "max_detection_time: expected every crash detected within %s, the slowest took %.1fms",
              fl_duration_format(e->max_detection_time, a), (double)det_max / 1e6);
    if (e->max_missed_detections >= 0 && missed > e->max_missed_detections)
        unmet(res, "max_missed_detections: expected at most %" PRId64 " missed detections, got %" PRId64,
              e->max_missed_detections, missed);
}

static void weigh_expectations(const FlScenario *sc, FlRunResult *res)
{
    const FlExpect *e = &sc->expect;
    json_t *m = res->metrics;
    json_t *ops = json_object_get(m, "ops");
    int64_t ok = json_integer_value(json_object_get(ops, "ok"));
    int64_t info = json_integer_value(json_object_get(ops, "info"));
    int64_t p99 = json_integer_value(json_object_get(json_object_get(m, "latency_ns"), "p99"));
    double avail = json_real_value(json_object_get(m, "availability"));
    char a[32], b[32];
    if (e->valid >= 0) {
        if (!res->checked || res->verdict == FL_VERDICT_UNKNOWN)
            unmet(res, "valid: expected %s, but the checker gave no verdict",
                  e->valid ? "valid" : "invalid");
        else if ((res->verdict == FL_VERDICT_VALID) != (e->valid == 1))
            unmet(res, "valid: expected %s, got %s", e->valid ? "valid" : "invalid",
                  fl_verdict_name(res->verdict));
    }
    /* Under an explicit schedule the protocol's invariant is checked after
     * every choice; it is expected to hold unless the scenario states a
     * known violation (expect.invariant false). */
    json_t *inv = json_object_get(m, "invariant");
    if (inv && e->invariant != 0)
        unmet(res, "invariant: expected the protocol's invariant to hold, broken after choice %"
              JSON_INTEGER_FORMAT ": %s", json_integer_value(json_object_get(inv, "at")),
              json_string_value(json_object_get(inv, "what")));
    else if (!inv && e->invariant == 0)
        unmet(res, "invariant: expected the protocol's invariant broken, but it held%s",
              sc->schedule ? "" : " (it is checked only under an explicit schedule)");
    if (e->min_ok >= 0 && ok < e->min_ok)
        unmet(res, "min_ok: expected at least %" PRId64 " ok operations, got %" PRId64, e->min_ok, ok);
    if (e->max_info >= 0 && info > e->max_info)
        unmet(res, "max_info: expected at most %" PRId64 " info operations, got %" PRId64, e->max_info, info);
    if (e->max_p99 >= 0 && p99 > e->max_p99)
        unmet(res, "max_p99: expected p99 latency at most %s, got %s",
              fl_duration_format(e->max_p99, a), fl_duration_format(p99, b));
    int64_t p50 = json_integer_value(json_object_get(json_object_get(m, "latency_ns"), "p50"));
    if (e->min_p50 >= 0 && p50 < e->min_p50)
        unmet(res, "min_p50: expected median latency (from arrival) at least %s, got %s",
              fl_duration_format(e->min_p50, a), fl_duration_format(p50, b));
    if (e->min_availability >= 0 && avail < e->min_availability)
        unmet(res, "min_availability: expected at least %.4g, got %.4g", e->min_availability, avail);
    json_t *lm = json_object_get(m, "liveness");
    if (e->liveness) {
        int64_t live = json_integer_value(json_object_get(lm, "ok_within_budget"));
        if (live < e->live_min_ok)
            unmet(res, "liveness: expected at least %" PRId64 " ok operations within %s after healing at %s, got %" PRId64,
                  e->live_min_ok, fl_duration_format(e->live_budget, a),
                  fl_duration_format(e->live_after, b), live);
    } else if (e->live_mode == FL_LIVE_DEFAULT && json_is_true(json_object_get(lm, "judged"))) {
        int64_t live = json_integer_value(json_object_get(lm, "ok_within_budget"));
        if (live < e->live_min_ok)
            unmet(res, "liveness: expected at least %" PRId64 " ok operation%s invoked within %s "
                  "after the last fault healed at %s (the default claim when every fault heals; "
                  "budget: %s; \"liveness\": false in expect turns it off), got %" PRId64,
                  e->live_min_ok, e->live_min_ok == 1 ? "" : "s",
                  fl_duration_format(e->live_budget, a), fl_duration_format(e->live_after, b),
                  e->live_why, live);
    }
    if (e->valid < 0 && res->checked) {
        /* Naming a model in `check` and nothing in `expect` claims it holds
         * (spec/scenario.md): a scenario must never pass on a history its
         * own checker calls invalid.  Models that expect.models names are
         * weighed below, as stated there. */
        json_t *verdicts = json_object_get(json_object_get(m, "check"), "verdicts");
        const char *name;
        json_t *got;
        json_object_foreach(verdicts, name, got) {
            if (e->models && json_object_get(e->models, name))
                continue;
            const char *g = json_string_value(got);
            if (!g || strcmp(g, "valid") != 0)
                unmet(res, "valid: expected %s to hold (check names it and expect does not "
                      "say otherwise), got %s", name, g ? g : "no verdict");
        }
    }
    if (e->models) {
        json_t *verdicts = json_object_get(json_object_get(m, "check"), "verdicts");
        const char *name;
        json_t *want;
        json_object_foreach(e->models, name, want) {
            if (json_is_null(want))
                continue;   /* checked for its rate only: no claim */
            const char *got = json_string_value(json_object_get(verdicts, name));
            bool hold = json_is_true(want);
            if (!got || strcmp(got, "unknown") == 0)
                unmet(res, "models: expected %s to %s, but the checker gave no verdict", name,
                      hold ? "hold" : "fail");
            else if ((strcmp(got, "valid") == 0) != hold)
                unmet(res, "models: expected %s to %s, got %s", name, hold ? "hold" : "fail", got);
        }
    }
    json_t *counters = json_object_get(m, "counters");
    for (guint i = 0; e->counters && i < e->counters->len; i++) {
        const FlExpectCounter *c = &g_array_index(e->counters, FlExpectCounter, i);
        json_t *v = json_object_get(counters, c->name);
        if (!v && !sc->protocol->counters && !fl_scenario_counter_engine(sc, c->name)) {
            /* Not declared (FlProtocol.counters), never created: reading 0
             * would pass a misspelt name silently. */
            unmet_counter(res, c->name, counters);
            continue;
        }
        double x = v ? json_number_value(v) : 0;
        if (c->has_min && x < c->min)
            unmet(res, "counters: expected %s at least %.6g, got %.6g", c->name, c->min, x);
        if (c->has_max && x > c->max)
            unmet(res, "counters: expected %s at most %.6g, got %.6g", c->name, c->max, x);
    }
    if (e->has_trace_hash && e->trace_hash != res->trace_hash)
        unmet(res, "trace_hash: expected %016" PRIx64 ", got %016" PRIx64
              " (this run is not the one that was recorded)", e->trace_hash, res->trace_hash);
    weigh_detectors(e, json_object_get(m, "detectors"), res);
    json_t *sla = json_object_get(m, "sla");
    if (e->has_sla) {
        double got = json_real_value(json_object_get(sla, "availability"));
        if (got < e->sla_target)
            unmet(res, "sla: expected availability at least %.6g in windows of %s, got %.6g "
                  "(%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " windows with demand down; "
                  "error budget %.0f%% spent)", e->sla_target, fl_duration_format(e->sla_window, a), got,
                  json_integer_value(json_object_get(sla, "down_windows")),
                  json_integer_value(json_object_get(sla, "demand_windows")),
                  100 * json_real_value(json_object_get(json_object_get(sla, "error_budget"), "spent")));
    }
    res->met = res->unmet->len == 0;
}

static bool write_file(const char *dir, const char *name, const char *data, size_t len,
                       GError **err)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    return g_file_set_contents(path, data, (gssize)len, err);
}

static bool write_json(const char *dir, const char *name, json_t *v, GError **err)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    g_autofree char *text = g_strdup_printf("%s\n", s);
    free(s);
    return write_file(dir, name, text, strlen(text), err);
}

int fl_run(const FlScenario *sc, const FlRunOptions *opt, FlRunResult *res, GError **err)
{
    memset(res, 0, sizeof *res);
    res->unmet = g_ptr_array_new_with_free_func(g_free);
    res->verdict = FL_VERDICT_UNKNOWN;
    bool made_dir = opt->out_dir && !g_file_test(opt->out_dir, G_FILE_TEST_IS_DIR);
    if (opt->out_dir && g_mkdir_with_parents(opt->out_dir, 0755) != 0) {
        g_set_error(err, FL_ERROR, FL_ERROR_RUN, "%s: cannot create the run's folder: %s",
                    opt->out_dir, g_strerror(errno));
        return -1;
    }
    g_autofree char *trace_path = opt->out_dir && opt->write_trace
                                      ? g_build_filename(opt->out_dir, "trace.jsonl", NULL) : NULL;
    if (opt->out_dir && !opt->write_trace) {
        /* An older run's trace in the same folder would not match this run. */
        g_autofree char *stale = g_build_filename(opt->out_dir, "trace.jsonl", NULL);
        g_unlink(stale);
    }
    /* expect.alerts is judged over the time series: a run that asked for
     * none (fuzz, claims) gets the scenario's windows.  The series
     * schedules nothing, so the run is the same (sim/world.c note 6). */
    FlDuration window = opt->series_window;
    if (!window && sc->expect.has_alerts)
        window = fl_series_fit(sc->series_window ? sc->series_window : FL_MS(100), sc->duration);
    FlWorldOptions wo = { .trace_path = trace_path, .record_history = true,
                          .coverage = opt->coverage, .series_window = window };
    gint64 t0 = g_get_monotonic_time();
    FlWorld *w = fl_world_new(sc, &wo, err);
    if (w && fl_world_run(w, err) != 0) {
        fl_world_free(w);
        w = NULL;
    }
    if (!w) {
        /* A configuration refused at run time (a perfect failure detector
         * without a sync network) is bad input: write nothing, as for a
         * scenario refused when loading. */
        if (err && *err && (*err)->code == FL_ERROR_INPUT && trace_path) {
            g_unlink(trace_path);
            if (made_dir)
                g_rmdir(opt->out_dir);
        }
        return -1;
    }
    res->wall_s = (double)(g_get_monotonic_time() - t0) / 1e6;
    res->trace_hash = fl_world_trace_hash(w);
    res->history = fl_world_take_history(w);
    res->history_index = fl_world_take_history_index(w);
    res->metrics = build_metrics(sc, w, res);
    FlSeries *series = fl_world_take_series(w);
    if (series) {
        res->timeseries = fl_series_json(series);
        fl_series_free(series);
    }
    fl_world_free(w);

    /* The checker reads the history from memory: the bytes are those of
     * history.jsonl when there is a folder, so the verdict and report are
     * what `faultline check` gives on that file, and a fuzz run creates no
     * temporary file at all.  Messages name the file the user can read.
     * The engine's index of the lines spares the checker tokenizing them
     * again, to the same result (check.h, FlHistorySource). */
    g_autofree char *hist_path = NULL;
    if (opt->out_dir) {
        if (!write_json(opt->out_dir, "scenario.json", sc->resolved, err) ||
            !write_file(opt->out_dir, "history.jsonl", res->history->str, res->history->len, err))
            return -1;
        hist_path = g_build_filename(opt->out_dir, "history.jsonl", NULL);
    }
    if (opt->check && sc->consistency) {
        res->check_report = g_string_new(NULL);
        json_t *cj = NULL;
        GError *cerr = NULL;
        FlHistorySource src = {
            .name = hist_path ? hist_path : "history.jsonl",
            .data = res->history->str, .len = res->history->len,
            .events = (const FlHistoryEvent *)(void *)res->history_index->data,
            .n_events = res->history_index->len,
        };
        res->verdict = fl_check_source(&src, fl_model_name(sc->workload.model),
                                       sc->consistency, "jsonl", opt->check_timeout_s,
                                       res->check_report, &cj, &cerr);
        if (res->verdict == FL_VERDICT_ERROR) {
            /* The engine wrote this history: a checker that cannot read it is a bug. */
            g_propagate_prefixed_error(err, cerr, "checking the run's history: ");
            if (cj)
                json_decref(cj);
            return -1;
        }
        res->checked = true;
        json_t *check = json_pack("{s:s,s:s,s:s}", "consistency", sc->consistency, "model",
                                  fl_model_name(sc->workload.model), "verdict",
                                  fl_verdict_name(res->verdict));
        /* Each model's verdict: a list reports them itself. */
        json_t *verdicts = cj ? json_object_get(cj, "verdicts") : NULL;
        if (verdicts)
            json_object_set(check, "verdicts", verdicts);
        else
            json_object_set_new(check, "verdicts", json_pack("{s:s}", sc->consistency,
                                                             fl_verdict_name(res->verdict)));
        if (cj)
            json_object_set_new(check, "result", cj);
        json_object_set_new(res->metrics, "check", check);
    }
    /* "unchecked", not "unknown": no check ran, which is not a checker that
     * gave up.  The summary's last line keeps verdict=unknown, which the
     * output contract (spec/scenario.md) fixes. */
    json_object_set_new(res->metrics, "verdict",
                        json_string(res->checked ? fl_verdict_name(res->verdict) : "unchecked"));
    weigh_expectations(sc, res);
    if (sc->expect.has_alerts) {
        /* After the engine's own expectations, so their lines come first. */
        const FlCatalog *cat = fl_catalog();
        json_t *alerts = cat->judge_alerts
                             ? cat->judge_alerts(sc, res->timeseries, res->metrics, opt->out_dir,
                                                 res->unmet, err)
                             : json_pack("{s:b,s:s}", "judged", false, "why",
                                         "this program judges no alert rules");
        if (!alerts)
            return -1;
        json_object_set_new(res->metrics, "alerts", alerts);
        res->met = res->unmet->len == 0;
    }
    json_t *unmet_j = json_array();
    for (guint i = 0; i < res->unmet->len; i++)
        json_array_append_new(unmet_j, json_string(g_ptr_array_index(res->unmet, i)));
    json_object_set_new(res->metrics, "expect", json_pack("{s:b,s:o}", "met", res->met, "unmet", unmet_j));
    if (opt->out_dir && !write_json(opt->out_dir, "metrics.json", res->metrics, err))
        return -1;
    return 0;
}

void fl_run_result_clear(FlRunResult *res)
{
    if (res->unmet)
        g_ptr_array_unref(res->unmet);
    if (res->metrics)
        json_decref(res->metrics);
    if (res->timeseries)
        json_decref(res->timeseries);
    if (res->history)
        g_string_free(res->history, TRUE);
    if (res->history_index)
        g_array_unref(res->history_index);
    if (res->check_report)
        g_string_free(res->check_report, TRUE);
    memset(res, 0, sizeof *res);
}

static const char *dur(json_int_t ns, char *buf)
{
    if (ns >= 1000000000)
        g_snprintf(buf, 32, "%.3gs", (double)ns / 1e9);
    else if (ns >= 1000000)
        g_snprintf(buf, 32, "%.3gms", (double)ns / 1e6);
    else if (ns >= 1000)
        g_snprintf(buf, 32, "%.3gus", (double)ns / 1e3);
    else
        g_snprintf(buf, 32, "%" JSON_INTEGER_FORMAT "ns", ns);
    return buf;
}

static const char *ms(int64_t ns, char *buf)
{
    g_snprintf(buf, 32, "%.1f ms", (double)ns / 1e6);
    return buf;
}

/* The counterexample of one model's result, if it has one with times. */
static json_t *counterexample(json_t *result)
{
    json_t *cx = json_object_get(result, "counterexample");
    return json_is_object(cx) ? cx : NULL;
}

static void op_span(json_t *op, int64_t *lo, int64_t *hi, uint64_t *nodes)
{
    json_t *a = json_object_get(op, "invoke_time"), *b = json_object_get(op, "complete_time");
    if (json_is_integer(a) && json_integer_value(a) < *lo)
        *lo = json_integer_value(a);
    if (json_is_integer(b) && json_integer_value(b) > *hi)
        *hi = json_integer_value(b);
    json_t *node = json_object_get(json_object_get(op, "fields"), "node");
    if (json_is_integer(node) && json_integer_value(node) >= 0 && json_integer_value(node) < 64)
        *nodes |= 1ull << json_integer_value(node);
}

/* What the run did while the operations of a counterexample ran: the
 * faults active then, the nodes that served them and their clock skew.
 * Not a diagnosis, the circumstances: where a student looks first. */
static void print_context(const FlScenario *sc, json_t *metrics, json_t *cx, FILE *out)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    uint64_t nodes = 0;
    json_t *ops = json_object_get(cx, "story_ops");
    size_t i;
    json_t *op;
    if (json_array_size(ops)) {
        json_array_foreach(ops, i, op)
            op_span(op, &lo, &hi, &nodes);
    } else {
        op_span(json_object_get(cx, "stuck"), &lo, &hi, &nodes);
        json_array_foreach(json_object_get(cx, "waiting"), i, op)
            op_span(op, &lo, &hi, &nodes);
    }
    if (lo > hi)
        return;
    char a[32], b[32];
    fprintf(out, "            while these ran (%s to %s):", ms(lo, a), ms(hi, b));
    bool any = false;
    json_t *f;
    json_array_foreach(json_object_get(metrics, "faults"), i, f) {
        int64_t start = json_integer_value(json_object_get(f, "start"));
        json_t *stop = json_object_get(f, "stop");
        int64_t end = json_is_integer(stop) ? json_integer_value(stop) : INT64_MAX;
        if (start > hi || end < lo)
            continue;
        fprintf(out, "%s %s %s (from %s", any ? ";" : "",
                json_string_value(json_object_get(f, "kind")),
                json_string_value(json_object_get(f, "what")), ms(start, a));
        if (end != INT64_MAX)
            fprintf(out, " to %s", ms(end, b));
        fputc(')', out);
        any = true;
    }
    if (!any)
        fprintf(out, " no fault was active");
    if (nodes) {
        fprintf(out, "; served by node");
        for (uint32_t n = 0; n < 64; n++)
            if (nodes >> n & 1) {
                fprintf(out, " %u", n);
                if (sc->skew && n < sc->nodes && sc->skew[n])
                    fprintf(out, " (clock %s%s)", sc->skew[n] > 0 ? "+" : "-",
                            ms(sc->skew[n] > 0 ? sc->skew[n] : -sc->skew[n], a));
            }
    }
    fputs("\n", out);
}

/* The checker's explanation of each model that failed (a list has one
 * section per model, "== name: verdict"), a few lines each, and what the
 * run was doing meanwhile. */
static void print_explanations(const FlScenario *sc, json_t *m, const char *report, bool list,
                               FILE *out)
{
    json_t *check = json_object_get(m, "check"), *result = json_object_get(check, "result");
    g_auto(GStrv) lines = g_strsplit(report, "\n", -1);
    const char *model = list ? NULL : sc->consistency;
    int shown = 0;
    for (int i = 0; lines[i]; i++) {
        if (list && g_str_has_prefix(lines[i], "== ")) {
            char *colon = strchr(lines[i] + 3, ':');
            bool bad = colon && strstr(colon, "invalid");
            if (model) {
                json_t *cx = counterexample(json_object_get(json_object_get(result, "results"), model));
                if (cx)
                    print_context(sc, m, cx, out);
            }
            g_free((char *)model);
            model = bad ? g_strndup(lines[i] + 3, (size_t)(colon - lines[i] - 3)) : NULL;
            shown = 0;
            if (model)
                fprintf(out, "            -- %s --\n", model);
            continue;
        }
        /* After the story, the search's own account is for `faultline check`. */
        if (g_str_has_prefix(lines[i], "How the checker's search got there"))
            shown = 12;
        if (!model || !*lines[i] || shown >= 12)
            continue;
        fprintf(out, "            %s\n", lines[i]);
        shown++;
    }
    if (list && model) {
        json_t *cx = counterexample(json_object_get(json_object_get(result, "results"), model));
        if (cx)
            print_context(sc, m, cx, out);
        g_free((char *)model);
    } else if (!list) {
        json_t *cx = counterexample(result);
        if (cx)
            print_context(sc, m, cx, out);
    }
}

/* One line on the liveness claim, when there is something to say: what
 * was claimed and what the run gave, or why nothing was judged. */
static void print_liveness(const FlScenario *sc, json_t *lm, FILE *out)
{
    const FlExpect *e = &sc->expect;
    char a[32], b[32];
    const char *reason = json_string_value(json_object_get(lm, "reason"));
    json_int_t ok = json_integer_value(json_object_get(lm, "ok_within_budget"));
    switch (e->live_mode) {
    case FL_LIVE_NONE:
        /* Worth a line only where a reader might have expected a claim. */
        if (sc->workload.model && sc->faults && sc->faults->len && reason)
            fprintf(out, "  liveness  none: %s\n", reason);
        break;
    case FL_LIVE_OFF:
        fprintf(out, "  liveness  off (expect.liveness: false)\n");
        break;
    case FL_LIVE_EXPLICIT:
        fprintf(out, "  liveness  healed at %s, budget %s, ok %" JSON_INTEGER_FORMAT "\n",
                fl_duration_format(e->live_after, a), fl_duration_format(e->live_budget, b), ok);
        break;
    case FL_LIVE_UNJUDGED:
        fprintf(out, "  liveness  default, not judged: %s\n", reason ? reason : "");
        break;
    case FL_LIVE_DEFAULT:
        if (json_is_true(json_object_get(lm, "judged")))
            fprintf(out, "  liveness  default, last heal %s, budget %s, ok %" JSON_INTEGER_FORMAT
                    " (%s)\n", fl_duration_format(e->live_after, a),
                    fl_duration_format(e->live_budget, b), ok, e->live_why);
        else
            fprintf(out, "  liveness  default, not judged: %s\n", reason ? reason : "");
        break;
    }
}

/* The availability figures (sim/sla.h): two lines, and one per fault
 * (at most a few: metrics.json has them all). */
static void print_sla(json_t *sla, FILE *out)
{
    if (!sla)
        return;
    char a[32], b[32], c[32];
    json_t *eb = json_object_get(sla, "error_budget");
    fprintf(out, "  sla       availability %.4g%% (%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
            " windows of %s up) against %.4g%%%s: budget %.0f%% spent, burn rate %.2f\n",
            100 * json_real_value(json_object_get(sla, "availability")),
            json_integer_value(json_object_get(sla, "up_windows")),
            json_integer_value(json_object_get(sla, "demand_windows")),
            dur(json_integer_value(json_object_get(sla, "window_ns")), a),
            100 * json_real_value(json_object_get(sla, "target")),
            json_is_true(json_object_get(sla, "claimed")) ? "" : " (default, not claimed)",
            100 * json_real_value(json_object_get(eb, "spent")),
            json_real_value(json_object_get(sla, "burn_rate")));
    json_t *faults = json_object_get(sla, "faults");
    if (!json_array_size(faults))
        return;
    json_t *mttr = json_object_get(sla, "mttr_ns"), *mtbf = json_object_get(sla, "mtbf_ns");
    fprintf(out, "  repair    MTTR %s  MTBF %s  (%" JSON_INTEGER_FORMAT " of %zu faults recovered)\n",
            json_is_integer(mttr) ? dur(json_integer_value(mttr), a) : "-",
            json_is_integer(mtbf) ? dur(json_integer_value(mtbf), b) : "-",
            json_integer_value(json_object_get(sla, "recovered")), json_array_size(faults));
    size_t i;
    json_t *f;
    json_array_foreach(faults, i, f) {
        if (i == 4) {
            fprintf(out, "            ... %zu more in metrics.json \"sla\"\n", json_array_size(faults) - i);
            break;
        }
        json_t *d = json_object_get(f, "detect_ns"), *r = json_object_get(f, "recover_ns"),
               *l = json_object_get(f, "leader_ns");
        fprintf(out, "            %s %s at %s: detected %s%s, recovered %s%s",
                json_string_value(json_object_get(f, "kind")), json_string_value(json_object_get(f, "what")),
                dur(json_integer_value(json_object_get(f, "start_ns")), a),
                json_is_integer(d) ? "+" : "", json_is_integer(d) ? dur(json_integer_value(d), b) : "never",
                json_is_integer(r) ? "+" : "", json_is_integer(r) ? dur(json_integer_value(r), c) : "never");
        if (l)
            fprintf(out, ", stable leader %s%s", json_is_integer(l) ? "+" : "",
                    json_is_integer(l) ? dur(json_integer_value(l), a) : "never");
        fputc('\n', out);
    }
}

void fl_run_print_summary(const FlScenario *sc, const FlRunResult *res, FILE *out)
{
    json_t *m = res->metrics;
    json_t *ops = json_object_get(m, "ops"), *lat = json_object_get(m, "latency_ns"),
           *msg = json_object_get(m, "messages");
    char a[32], b[32], c[32];
#define I(o, k) json_integer_value(json_object_get(o, k))
    if (sc->workload.model) {
        fprintf(out, "  ops       %" JSON_INTEGER_FORMAT " ok, %" JSON_INTEGER_FORMAT " fail, %"
                JSON_INTEGER_FORMAT " info, %" JSON_INTEGER_FORMAT " open (of %" JSON_INTEGER_FORMAT " invoked)\n",
                I(ops, "ok"), I(ops, "fail"), I(ops, "info"), I(ops, "open"), I(ops, "invoked"));
        fprintf(out, "  latency   p50 %s  p99 %s  max %s (from arrival)\n", dur(I(lat, "p50"), a),
                dur(I(lat, "p99"), b), dur(I(lat, "max"), c));
        json_t *svc = json_object_get(m, "service_ns"), *wq = json_object_get(m, "queueing_ns");
        fprintf(out, "  service   p50 %s  p99 %s  max %s;", dur(I(svc, "p50"), a),
                dur(I(svc, "p99"), b), dur(I(svc, "max"), c));
        fprintf(out, "  queueing p50 %s  p99 %s  max %s\n", dur(I(wq, "p50"), a),
                dur(I(wq, "p99"), b), dur(I(wq, "max"), c));
        fprintf(out, "  rate      %.1f ok/s  availability %.1f%%\n",
                json_real_value(json_object_get(m, "throughput_ok_per_s")),
                100 * json_real_value(json_object_get(m, "availability")));
    }
    fprintf(out, "  messages  %" JSON_INTEGER_FORMAT " sent, %" JSON_INTEGER_FORMAT " delivered, %"
            JSON_INTEGER_FORMAT " dropped\n", I(msg, "sent"), I(msg, "delivered"), I(msg, "dropped"));
    json_t *rs = json_object_get(m, "resources");
    json_t *rcpu = json_object_get(rs, "cpu"), *rlink = json_object_get(rs, "links");
    if (rcpu)
        fprintf(out, "  cpu       utilisation mean %.1f%%  max %.1f%%  %" JSON_INTEGER_FORMAT
                " dropped (queue full)\n", 100 * json_real_value(json_object_get(rcpu, "utilisation_mean")),
                100 * json_real_value(json_object_get(rcpu, "utilisation_max")), I(rcpu, "dropped"));
    if (rlink)
        fprintf(out, "  links     utilisation mean %.1f%%  max %.1f%% (%" JSON_INTEGER_FORMAT " used)\n",
                100 * json_real_value(json_object_get(rlink, "utilisation_mean")),
                100 * json_real_value(json_object_get(rlink, "utilisation_max")), I(rlink, "used"));
    json_t *rdisk = json_object_get(rs, "disk");
    if (rdisk)
        fprintf(out, "  disk      utilisation mean %.1f%%  max %.1f%%  %" JSON_INTEGER_FORMAT
                " syncs, %" JSON_INTEGER_FORMAT " messages held behind one\n",
                100 * json_real_value(json_object_get(rdisk, "utilisation_mean")),
                100 * json_real_value(json_object_get(rdisk, "utilisation_max")), I(rdisk, "syncs"),
                I(rdisk, "held_messages"));
    json_t *fd = json_object_get(m, "detectors");
    if (fd) {
        json_t *det = json_object_get(fd, "detections"), *fs = json_object_get(fd, "false_suspicions");
        fprintf(out, "  detector  %" JSON_INTEGER_FORMAT " detections (%" JSON_INTEGER_FORMAT
                " missed), slowest %s; %" JSON_INTEGER_FORMAT " false suspicions lasting %s\n",
                I(det, "count"), I(det, "missed"), dur(I(json_object_get(fd, "detection_time_ns"), "max"), a),
                I(fs, "count"), dur(I(fs, "total_ns"), b));
    }
    size_t nf = json_array_size(json_object_get(m, "faults"));
    if (nf)
        fprintf(out, "  faults    %zu interval%s\n", nf, nf == 1 ? "" : "s");
    print_sla(json_object_get(m, "sla"), out);
    fprintf(out, "  events    %" JSON_INTEGER_FORMAT " over %s of virtual time\n", I(m, "events"),
            dur(I(m, "virtual_time_ns"), a));
    if (res->checked) {
        fprintf(out, "  check     %s (%s): %s\n", sc->consistency, fl_model_name(sc->workload.model),
                fl_verdict_name(res->verdict));
        json_t *verdicts = json_object_get(json_object_get(m, "check"), "verdicts");
        bool list = json_object_size(verdicts) > 1;
        const char *name;
        json_t *v;
        json_object_foreach(list ? verdicts : NULL, name, v)
            fprintf(out, "            %-22s %s\n", name, json_string_value(v));
        if (res->verdict == FL_VERDICT_INVALID && res->check_report && res->check_report->len)
            print_explanations(sc, m, res->check_report->str, list, out);
        /* Final reads ask each node for its own copy, outside the protocol
         * (a quorum system would answer a quorum read otherwise): they say
         * whether replicas converged, not what clients were promised. */
        if (sc->workload.final_reads && strcmp(fl_model_name(sc->workload.model), "events") == 0)
            fprintf(out, "            (the final reads fetched each node's log)\n");
        else if (sc->workload.final_reads)
            fprintf(out, "            (final reads read each node's own copy: only eventual checks them)\n");
    }
    else
        fprintf(out, "  check     unchecked: the scenario names no consistency check (verdict=unknown below)\n");
    print_liveness(sc, json_object_get(m, "liveness"), out);
    json_t *alerts = json_object_get(m, "alerts");
    if (json_is_true(json_object_get(alerts, "judged")))
        fprintf(out, "  alerts    %" JSON_INTEGER_FORMAT " fired (%s, by promtool): expect.alerts %s\n",
                I(alerts, "fired"), json_string_value(json_object_get(alerts, "rules")),
                json_string_value(json_object_get(alerts, "expect")));
    else if (alerts)
        fprintf(out, "  alerts    expect.alerts NOT JUDGED: %s\n",
                json_string_value(json_object_get(alerts, "why")));
    json_t *inv = json_object_get(m, "invariant");
    if (inv)
        fprintf(out, "  invariant BROKEN after choice %" JSON_INTEGER_FORMAT ": %s\n",
                json_integer_value(json_object_get(inv, "at")),
                json_string_value(json_object_get(inv, "what")));
    if (res->met && alerts && !json_is_true(json_object_get(alerts, "judged")))
        fprintf(out, "  expect    met, but for expect.alerts, not judged (see above)\n");
    else if (res->met)
        fprintf(out, "  expect    met\n");
    for (guint i = 0; i < res->unmet->len; i++)
        fprintf(out, "  expect    NOT MET: %s\n", (char *)g_ptr_array_index(res->unmet, i));
    fprintf(out, "trace_hash=%016" PRIx64 " verdict=%s\n", res->trace_hash,
            fl_verdict_name(res->verdict));
#undef I
}
