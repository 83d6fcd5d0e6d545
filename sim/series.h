/* sim/series: the run cut into windows of virtual time (issue 22, item 3).
 *
 * The world tells a series what happens (an operation offered or ended, a
 * CPU busy from one time to another, bytes sent on a link) and, at each
 * window's end, what it holds then (queue lengths, bytes synced, protocol
 * counters).  fl_series_json turns it into one JSON object per window;
 * writing files (timeseries.jsonl, metrics.om) is the command line's job
 * (sim/cli/export.c).  The window arithmetic is here, apart from the world,
 * so that unit tests can check it without running anything.
 *
 * Memory: an FlSeries owns everything it holds; fl_series_new allocates
 * it, fl_series_free frees it.  Counters given to fl_series_close are
 * taken (transfer full). */
#pragma once

#include "sim/time.h"

#include <jansson.h>
#include <stdint.h>

typedef struct FlSeries FlSeries;

/* How an operation ended, as the history says. */
typedef enum FlSeriesEnd { FL_SERIES_OK, FL_SERIES_FAIL, FL_SERIES_TIMEOUT } FlSeriesEnd;

/* At most this many windows: a long run gets wider ones (fl_series_fit). */
#define FL_SERIES_MAX_WINDOWS 100000u

/* The window a run ending at @end uses when @window is asked for: @window,
 * or the narrowest whole number of microseconds that keeps the count
 * within FL_SERIES_MAX_WINDOWS. */
FlDuration fl_series_fit(FlDuration window, FlTime end);

/* The window holding time @t for a run ending at @end: t / window, except
 * that @end itself belongs to the last window (a run of exactly 1 s in
 * windows of 100 ms has windows 0..9, and what happens at 1 s is in 9).
 * Precondition: @window > 0. */
uint32_t fl_series_window_of(FlDuration window, FlTime end, FlTime t);
/* Windows in a run ending at @end: ceil(end / window), at least 1.  The
 * last one is partial when @window does not divide @end. */
uint32_t fl_series_count(FlDuration window, FlTime end);
/* Where window @k starts and ends ([*t0, *t1]: the last is cut at @end). */
void fl_series_bounds(FlDuration window, FlTime end, uint32_t k, FlTime *t0, FlTime *t1);

/* A series for a run ending at @end, windows of @window (precondition:
 * fl_series_fit(@window, @end) == @window), @nodes nodes and
 * @endpoints network endpoints (nodes first, then clients). */
FlSeries *fl_series_new(FlDuration window, FlTime end, uint32_t nodes, uint32_t endpoints);
void fl_series_free(FlSeries *s);
FlDuration fl_series_window(const FlSeries *s);

/* An operation that arrived at @at (counted as offered in @at's window). */
void fl_series_offer(FlSeries *s, FlTime at);
/* An operation that arrived at @from and ended at @at: counted in @at's
 * window; an ok one's latency (@at - @from) goes to that window's
 * percentiles. */
void fl_series_end(FlSeries *s, FlTime from, FlTime at, FlSeriesEnd how);
/* @node's CPU busy over [@t0, @t1): spread over the windows it spans (a
 * job admitted now may run in later windows). */
void fl_series_busy(FlSeries *s, uint32_t node, FlTime t0, FlTime t1);
/* @len bytes sent from endpoint @from to @to. */
void fl_series_link_bytes(FlSeries *s, uint32_t from, uint32_t to, uint64_t len);

/* Window @k's end as the world saw it: per node queue lengths (NULL: no
 * CPU) and bytes synced so far (both borrowed, @nodes long), the protocol
 * counters so far (taken).  Windows close in order, each once. */
void fl_series_close(FlSeries *s, uint32_t k, const uint32_t *queue, const uint64_t *synced,
                     json_t *counters);
/* Windows closed so far. */
uint32_t fl_series_closed(const FlSeries *s);

/* One JSON object per window, in order (transfer full).  Fields:
 * t0_ns, t1_ns, offered, ok, fail, timeout, offered_per_s,
 * completed_per_s, availability (ok among the operations that ended in
 * the window; absent when none did), latency_ns {count, sum, p50,
 * p90, p99, max} (from arrival; absent without ok operations), nodes [{node, queue
 * (with a CPU), cpu_busy (fraction, with a CPU), disk_synced_bytes
 * (cumulative)}], links [{from, to, bytes (cumulative)}] (links used so
 * far), counters {name: cumulative value}. */
json_t *fl_series_json(const FlSeries *s);
