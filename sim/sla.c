/* Design notes.
 * 1. Windows by time, not by requests.  A request ratio (ok over ended)
 *    hides a stall: an open-loop client queues what arrives while the
 *    cluster elects, and every queued operation later ends ok, so a second
 *    with no service scores 100%.  A window with demand and no ok
 *    completion is down whatever happened to the requests later; the
 *    request ratio stays in metrics.json "availability" beside it.
 * 2. An operation has demand in every window from its invocation's to its
 *    end's (the run's end while open), so that a client stuck on one
 *    operation for a second makes that second's windows count even though
 *    it invokes nothing there.  The window of an instant is the series'
 *    (sim/series.h): the run's end belongs to the last window.
 * 3. Recovery is counted from the fault's start: the first operation
 *    invoked at or after it that ends ok.  One already in flight does not
 *    count (it may have been served before the fault bit); a fault that
 *    hurt nobody recovers at once, which is what it cost.
 * 4. MTBF is uptime over failures, uptime being the run minus the union of
 *    the faults' recovery intervals (overlapping faults are down once). */
#include "sim/sla.h"

#include "sim/series.h"

#include <glib.h>
#include <stdbool.h>
#include <string.h>

typedef struct OkOp {
    FlTime invoke, end;
} OkOp;

static int cmp_ok_invoke(const void *a, const void *b)
{
    const OkOp *x = a, *y = b;
    if (x->invoke != y->invoke)
        return x->invoke < y->invoke ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static json_t *opt_int(bool have, FlTime v)
{
    return have ? json_integer((json_int_t)v) : json_null();
}

/* The first leader at or after @s that holds for @hold (or to @end):
 * its instant, or FL_TIME_NEVER. */
static FlTime stable_leader(const FlSlaInput *in, FlTime s, FlDuration hold)
{
    /* The entry in force at @s: the last with at <= s. */
    size_t i = 0;
    while (i + 1 < in->n_leaders && in->leaders[i + 1].at <= s)
        i++;
    if (in->n_leaders == 0 || in->leaders[i].at > s) {
        /* Nothing declared yet at @s: the periods from the first entry on. */
        i = 0;
    }
    for (; i < in->n_leaders; i++) {
        if (in->leaders[i].node < 0)
            continue;
        FlTime from = in->leaders[i].at > s ? in->leaders[i].at : s;
        FlTime until = i + 1 < in->n_leaders ? in->leaders[i + 1].at : in->end;
        if (until >= from && (until - from >= (FlTime)hold || i + 1 == in->n_leaders))
            return from;
    }
    return FL_TIME_NEVER;
}

json_t *fl_sla_json(const FlSlaInput *in)
{
    g_assert(in->window > 0);
    g_assert(in->target > 0 && in->target < 1);
    uint32_t n = fl_series_count(in->window, in->end);
    g_autofree int64_t *diff = g_new0(int64_t, (gsize)n + 1);
    g_autofree uint64_t *ok = g_new0(uint64_t, n), *fail = g_new0(uint64_t, n),
                        *info = g_new0(uint64_t, n);
    g_autoptr(GArray) oks = g_array_new(FALSE, FALSE, sizeof(OkOp));
    for (size_t i = 0; i < in->n_ops; i++) {
        const FlSlaOp *op = &in->ops[i];
        FlTime end = op->how == FL_SLA_OPEN ? in->end : op->end;
        uint32_t a = fl_series_window_of(in->window, in->end, op->invoke);
        uint32_t b = fl_series_window_of(in->window, in->end, end);
        diff[a]++;
        diff[b + 1]--;
        switch (op->how) {
        case FL_SLA_OK:
            ok[b]++;
            g_array_append_val(oks, ((OkOp){ op->invoke, op->end }));
            break;
        case FL_SLA_FAIL: fail[b]++; break;
        case FL_SLA_INFO: info[b]++; break;
        case FL_SLA_OPEN: break;
        }
    }
    uint64_t demand = 0, up = 0;
    int64_t run = 0;
    for (uint32_t k = 0; k < n; k++) {
        run += diff[k];
        if (run > 0) {
            demand++;
            up += ok[k] > 0;
        }
    }
    double allowed = (1 - in->target) * (double)demand;
    uint64_t down = demand - up;
    json_t *per = json_array();
    run = 0;
    uint64_t down_so_far = 0;
    for (uint32_t k = 0; k < n; k++) {
        run += diff[k];
        FlTime t0, t1;
        fl_series_bounds(in->window, in->end, k, &t0, &t1);
        bool dem = run > 0, is_up = dem && ok[k] > 0;
        down_so_far += dem && !is_up;
        json_array_append_new(per, json_pack("{s:I,s:I,s:b,s:I,s:I,s:I,s:b,s:f}",
                                             "t0_ns", (json_int_t)t0, "t1_ns", (json_int_t)t1,
                                             "demand", dem, "ok", (json_int_t)ok[k],
                                             "fail", (json_int_t)fail[k], "info", (json_int_t)info[k],
                                             "up", is_up,
                                             "budget_spent", allowed > 0 ? (double)down_so_far / allowed : 0.0));
    }

    /* Recovery (note 3): ok operations by invocation, each with the
     * earliest ok end among it and those invoked later. */
    if (oks->len > 1)   /* an empty GArray's data may be NULL, which qsort must not get */
        qsort(oks->data, oks->len, sizeof(OkOp), cmp_ok_invoke);
    g_autofree FlTime *suffix_end = g_new(FlTime, (gsize)oks->len + 1);
    suffix_end[oks->len] = FL_TIME_NEVER;
    for (guint i = oks->len; i-- > 0;) {
        FlTime e = g_array_index(oks, OkOp, i).end;
        suffix_end[i] = e < suffix_end[i + 1] ? e : suffix_end[i + 1];
    }
    json_t *faults = json_array();
    uint64_t recovered = 0;
    double recover_sum = 0;
    /* Down intervals for the union (note 4). */
    g_autofree FlTime *down_from = g_new(FlTime, in->n_faults + 1);
    g_autofree FlTime *down_to = g_new(FlTime, in->n_faults + 1);
    for (size_t f = 0; f < in->n_faults; f++) {
        const FlSlaFault *ft = &in->faults[f];
        FlTime s = ft->start;
        FlTime active_to = ft->stop == FL_TIME_NEVER ? in->end : ft->stop;
        /* Detection: the first signal in [start, stop]. */
        size_t lo = 0, hi = in->n_signals;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (in->signals[mid] < s)
                lo = mid + 1;
            else
                hi = mid;
        }
        bool detected = lo < in->n_signals && in->signals[lo] <= active_to;
        /* Recovery: the first ok operation invoked at or after @s. */
        guint a = 0, b = oks->len;
        while (a < b) {
            guint mid = a + (b - a) / 2;
            if (g_array_index(oks, OkOp, mid).invoke < s)
                a = mid + 1;
            else
                b = mid;
        }
        FlTime rec = suffix_end[a];
        bool has_rec = rec != FL_TIME_NEVER;
        if (has_rec) {
            recovered++;
            recover_sum += (double)(rec - s);
        }
        down_from[f] = s;
        down_to[f] = has_rec ? rec : in->end;
        json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:o,s:o,s:o}", "fault", (json_int_t)f,
                              "kind", ft->kind ? ft->kind : "", "what", ft->what ? ft->what : "",
                              "start_ns", (json_int_t)s,
                              "stop_ns", opt_int(ft->stop != FL_TIME_NEVER, ft->stop),
                              "detect_ns", opt_int(detected, detected ? in->signals[lo] - s : 0),
                              "recover_ns", opt_int(has_rec, has_rec ? rec - s : 0));
        if (in->leaders) {
            FlTime l = stable_leader(in, s, in->window);
            json_object_set_new(o, "leader_ns", opt_int(l != FL_TIME_NEVER, l - s));
        }
        json_array_append_new(faults, o);
    }
    /* The union of the down intervals: sort by start (insertion sort: the
     * fault list is short and mostly ordered already). */
    for (size_t i = 1; i < in->n_faults; i++)
        for (size_t j = i; j > 0 && down_from[j - 1] > down_from[j]; j--) {
            FlTime t = down_from[j]; down_from[j] = down_from[j - 1]; down_from[j - 1] = t;
            t = down_to[j]; down_to[j] = down_to[j - 1]; down_to[j - 1] = t;
        }
    FlTime downtime = 0, reach = 0;
    for (size_t i = 0; i < in->n_faults; i++) {
        FlTime from = down_from[i] > reach ? down_from[i] : reach;
        FlTime to = down_to[i] > in->end ? in->end : down_to[i];
        if (to > from)
            downtime += to - from;
        if (to > reach)
            reach = to;
    }
    json_t *o = json_object();
    json_object_set_new(o, "window_ns", json_integer((json_int_t)in->window));
    json_object_set_new(o, "target", json_real(in->target));
    json_object_set_new(o, "windows", json_integer(n));
    json_object_set_new(o, "demand_windows", json_integer((json_int_t)demand));
    json_object_set_new(o, "up_windows", json_integer((json_int_t)up));
    json_object_set_new(o, "down_windows", json_integer((json_int_t)down));
    json_object_set_new(o, "availability", json_real(demand ? (double)up / (double)demand : 1.0));
    json_object_set_new(o, "error_budget",
                        json_pack("{s:f,s:f}", "allowed_windows", allowed,
                                  "spent", allowed > 0 ? (double)down / allowed : 0.0));
    json_object_set_new(o, "burn_rate",
                        json_real(demand ? ((double)down / (double)demand) / (1 - in->target) : 0.0));
    json_object_set_new(o, "per_window", per);
    json_object_set_new(o, "faults", faults);
    json_object_set_new(o, "recovered", json_integer((json_int_t)recovered));
    json_object_set_new(o, "mttr_ns", recovered ? json_integer((json_int_t)(recover_sum / (double)recovered))
                                                : json_null());
    json_object_set_new(o, "downtime_ns", json_integer((json_int_t)downtime));
    json_object_set_new(o, "mtbf_ns", in->n_faults
                                          ? json_integer((json_int_t)((in->end - downtime) / in->n_faults))
                                          : json_null());
    return o;
}
