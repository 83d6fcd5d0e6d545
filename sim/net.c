#include "sim/net.h"

#include <glib.h>
#include <math.h>

/* A filter (fn) or a scale (scale): exactly one is set. */
typedef struct Filter {
    int handle;
    FlNetFilterFn fn;
    void *ctx;
    FlNetScaleFn scale;
} Filter;

struct FlNet {
    FlNetSpec spec;
    FlRng rng;
    GArray *filters;      /* of Filter, in the order added */
    int next_handle;
    uint32_t endpoints;
    FlTime *last_arrival; /* fifo only: endpoints x endpoints */
    double mu, sigma;     /* lognormal */
};

FlNet *fl_net_new(const FlNetSpec *spec, uint32_t endpoints, uint64_t seed)
{
    FlNet *net = g_new0(FlNet, 1);
    net->spec = *spec;
    fl_rng_init(&net->rng, seed, "net");
    net->filters = g_array_new(FALSE, FALSE, sizeof(Filter));
    net->endpoints = endpoints;
    if (spec->fifo)
        net->last_arrival = g_new0(FlTime, (size_t)endpoints * endpoints);
    if (spec->delay.dist == FL_DIST_LOGNORMAL) {
        net->mu = log((double)spec->delay.median);
        net->sigma = (log((double)spec->delay.p99) - net->mu) / 2.326347874;
    }
    return net;
}

void fl_net_free(FlNet *net)
{
    if (!net)
        return;
    g_array_free(net->filters, TRUE);
    g_free(net->last_arrival);
    g_free(net);
}

const FlNetSpec *fl_net_spec(const FlNet *net)
{
    return &net->spec;
}

int fl_net_add_filter(FlNet *net, FlNetFilterFn fn, void *ctx)
{
    Filter f = { ++net->next_handle, fn, ctx, NULL };
    g_array_append_val(net->filters, f);
    return f.handle;
}

int fl_net_add_scale(FlNet *net, FlNetScaleFn fn, void *ctx)
{
    Filter f = { ++net->next_handle, NULL, ctx, fn };
    g_array_append_val(net->filters, f);
    return f.handle;
}

void fl_net_remove_filter(FlNet *net, int handle)
{
    for (guint i = 0; i < net->filters->len; i++) {
        if (g_array_index(net->filters, Filter, i).handle == handle) {
            g_array_remove_index(net->filters, i);
            return;
        }
    }
}

/* Unbounded tails are real, but a delay past an hour of virtual time is a
 * lost message in every protocol we model; cap to keep time arithmetic far
 * from overflow. */
static FlDuration capped(double v)
{
    if (!(v < 3.6e12))
        v = 3.6e12;
    return (FlDuration)v;
}

static FlDuration lognormal(double mu, double sigma, FlRng *rng)
{
    return capped(exp(mu + sigma * fl_rng_normal(rng)));
}

FlDuration fl_delay_draw(const FlDelaySpec *d, FlRng *rng)
{
    double v;
    switch (d->dist) {
    case FL_DIST_FIXED:
        return d->value;
    case FL_DIST_UNIFORM:
        return fl_rng_range(rng, d->min, d->max);
    case FL_DIST_EXPONENTIAL:
        v = (double)d->min + fl_rng_exp(rng, (double)d->mean);
        break;
    case FL_DIST_LOGNORMAL: {
        /* median = e^mu; p99 = e^(mu + 2.3263 sigma) */
        double mu = log((double)d->median);
        double sigma = (log((double)d->p99) - mu) / 2.326347874;
        return lognormal(mu, sigma, rng);
    }
    case FL_DIST_PARETO:
        v = fl_rng_pareto(rng, (double)d->min, d->alpha);
        break;
    default:
        g_assert_not_reached();
    }
    return capped(v);
}

FlDuration fl_net_bound_at(const FlNet *net, FlTime now)
{
    switch (net->spec.timing) {
    case FL_TIMING_SYNC:
        return net->spec.bound;
    case FL_TIMING_PARTIAL:
        return now >= (FlTime)net->spec.gst ? net->spec.bound : 0;
    default:
        return 0;
    }
}

/* When one copy sent at @now with fault delay @extra and the scales'
 * factor @factor arrives. */
static FlTime arrival(FlNet *net, uint32_t from, uint32_t to, FlTime now, FlDuration extra,
                      double factor)
{
    /* Lognormal parameters are worked out once, not per message. */
    FlDuration d = net->spec.delay.dist == FL_DIST_LOGNORMAL
                       ? lognormal(net->mu, net->sigma, &net->rng)
                       : fl_delay_draw(&net->spec.delay, &net->rng);
    if (d < 0)
        d = 0;
    FlTime t = now + (FlTime)d;
    switch (net->spec.timing) {
    case FL_TIMING_SYNC:
        if (d > net->spec.bound)
            t = now + (FlTime)net->spec.bound;
        break;
    case FL_TIMING_PARTIAL: {
        /* After GST every message, old or new, arrives within the bound. */
        FlTime gst = (FlTime)net->spec.gst;
        FlTime latest = (now >= gst ? now : gst) + (FlTime)net->spec.bound;
        if (t > latest)
            t = latest;
        break;
    }
    default:
        break;
    }
    /* Faults' extra delay and factor come on top: a slowed link may break
     * the bound, which is the point of injecting it.  A factor of exactly 1
     * leaves the arithmetic (and so every old trace) untouched. */
    if (factor != 1.0)
        t = now + (FlTime)capped((double)(t - now) * factor);
    t += (FlTime)(extra > 0 ? extra : 0);
    if (net->last_arrival && from < net->endpoints && to < net->endpoints) {
        FlTime *last = &net->last_arrival[(size_t)from * net->endpoints + to];
        if (t < *last)
            t = *last;
        *last = t;
    }
    return t;
}

uint32_t fl_net_route_copies(FlNet *net, uint32_t from, uint32_t to, FlTime now,
                             FlTime *arrive, uint32_t max, const char **why)
{
    g_assert(max >= 1 && max <= FL_NET_MAX_COPIES);
    /* The common case: no fault on the network, no loss, an asynchronous
     * uniform delay.  The same draws as the general path below, without its
     * branches (issue 25). */
    if (net->filters->len == 0 && !(net->spec.drop > 0) && !net->last_arrival &&
        net->spec.timing == FL_TIMING_ASYNC && net->spec.delay.dist == FL_DIST_UNIFORM) {
        FlDuration d = fl_rng_range(&net->rng, net->spec.delay.min, net->spec.delay.max);
        arrive[0] = now + (FlTime)(d < 0 ? 0 : d);
        return 1;
    }
    FlDuration extra = 0;
    double factor = 1.0;
    uint32_t copies = 1;
    for (guint i = 0; i < net->filters->len; i++) {
        Filter *f = &g_array_index(net->filters, Filter, i);
        if (f->scale) {
            factor *= f->scale(f->ctx, from, to, now);
            continue;
        }
        FlFilterAction a = f->fn(f->ctx, from, to, now, &net->rng, &extra);
        if (a == FL_FILTER_DROP) {
            *why = "filter";
            return 0;
        }
        if (a == FL_FILTER_DUPLICATE && copies < max)
            copies++;
    }
    if (net->spec.drop > 0 && fl_rng_chance(&net->rng, net->spec.drop)) {
        *why = "loss";
        return 0;
    }
    for (uint32_t k = 0; k < copies; k++)
        arrive[k] = arrival(net, from, to, now, extra, factor);
    return copies;
}

bool fl_net_route(FlNet *net, uint32_t from, uint32_t to, FlTime now, FlTime *arrive,
                  const char **why)
{
    return fl_net_route_copies(net, from, to, now, arrive, 1, why) == 1;
}
