/* sim/net: the simulated network's timing model and filters.
 *
 * Given a message from one endpoint to another at a time, the network says
 * when it arrives, or that it is lost.  Timing models: `sync` (every delay at
 * most `bound`), `async` (delays drawn from a distribution with no bound) and
 * `partial` (async until GST, then sync: a message sent before GST arrives
 * by GST + bound at the latest, as in Dwork–Lynch–Stockmeyer).  Filters are
 * the hook every fault uses: each is asked about every message, in the order
 * they were added, and may drop it or add delay.
 *
 * Endpoints: servers are 0 .. nodes-1, clients come after them.  Memory: the
 * network borrows the filter contexts; whoever adds a filter removes it. */
#pragma once

#include "sim/rng.h"
#include "sim/time.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { FL_TIMING_SYNC, FL_TIMING_ASYNC, FL_TIMING_PARTIAL } FlTiming;

typedef enum {
    FL_DIST_FIXED, FL_DIST_UNIFORM, FL_DIST_EXPONENTIAL, FL_DIST_LOGNORMAL, FL_DIST_PARETO,
} FlDist;

typedef struct FlDelaySpec {
    FlDist dist;
    FlDuration value;        /* fixed */
    FlDuration min, max;     /* uniform; min is also the floor of exponential and the scale of pareto */
    FlDuration mean;         /* exponential (mean above min) */
    FlDuration median, p99;  /* lognormal */
    double alpha;            /* pareto shape */
} FlDelaySpec;

typedef struct FlNetSpec {
    FlTiming timing;
    FlDuration bound;        /* sync, partial after gst */
    FlDuration gst;          /* partial */
    FlDelaySpec delay;
    bool fifo;               /* per-link FIFO delivery (like TCP) */
    double drop;             /* base probability of losing any message */
} FlNetSpec;

/* DUPLICATE passes the message and asks for one more copy of it (the
 * `duplicate` fault); each copy travels with its own delay. */
typedef enum { FL_FILTER_PASS = 0, FL_FILTER_DROP = 1, FL_FILTER_DUPLICATE = 2 } FlFilterAction;

/* Most copies of one message the network delivers (the original included). */
#define FL_NET_MAX_COPIES 4

/* Asked for every message.  @from/@to are endpoints; @extra may be
 * increased to delay the message.  Must be deterministic: randomness only
 * from @rng (the network's stream) or the filter's own seeded stream. */
typedef FlFilterAction (*FlNetFilterFn)(void *ctx, uint32_t from, uint32_t to, FlTime now,
                                        FlRng *rng, FlDuration *extra);

/* Asked for every message, in turn with the filters: returns the factor
 * (>= 1) by which the timing model's delay of that message is multiplied
 * (a slow link, a slow node: faults/slow.c).  Factors of several scales
 * multiply; fault delay (@extra of the filters) comes on top, unscaled.
 * Must be deterministic and draw nothing. */
typedef double (*FlNetScaleFn)(void *ctx, uint32_t from, uint32_t to, FlTime now);

typedef struct FlNet FlNet;

FlNet *fl_net_new(const FlNetSpec *spec, uint32_t endpoints, uint64_t seed);
void fl_net_free(FlNet *net);
const FlNetSpec *fl_net_spec(const FlNet *net);

/* Adds a filter; returns a handle (> 0) for fl_net_remove_filter. */
int fl_net_add_filter(FlNet *net, FlNetFilterFn fn, void *ctx);
void fl_net_remove_filter(FlNet *net, int handle);
/* Adds a scale; returns a handle (> 0), removed with fl_net_remove_filter
 * (filters and scales share one list and one handle space). */
int fl_net_add_scale(FlNet *net, FlNetScaleFn fn, void *ctx);

/* Decides the fate of one message sent now: returns false if it is lost
 * (*why says by what: "filter" or "loss"), else sets *arrive. */
bool fl_net_route(FlNet *net, uint32_t from, uint32_t to, FlTime now, FlTime *arrive,
                  const char **why);

/* Same, for a message that filters may duplicate: fills @arrive with the
 * arrival time of each copy (at most @max, 1 <= @max <= FL_NET_MAX_COPIES)
 * and returns how many arrive; 0 means lost (*why set).  With no
 * duplicating filter it draws exactly what fl_net_route draws. */
uint32_t fl_net_route_copies(FlNet *net, uint32_t from, uint32_t to, FlTime now,
                             FlTime *arrive, uint32_t max, const char **why);

/* The bound protocols may rely on at @now, or 0 if none. */
FlDuration fl_net_bound_at(const FlNet *net, FlTime now);

/* Draws one delay from @spec (exposed for tests of the distributions). */
FlDuration fl_delay_draw(const FlDelaySpec *spec, FlRng *rng);
