/* sim/check/stream.h: the stream checker (`exactly-once`, `at-least-once`).
 *
 * It reads a history of the `stream` model (sim/workload/stream.c): the
 * events clients sent, and the final reads, which hold the source's log of
 * each key (its events with their event times, the watermarks, and where
 * the last complete checkpoint was) and the sink's output for each key.
 * From the log alone it computes the windowed aggregates sequentially and
 * compares them with the sink's output:
 *   - lost: a window that fired before the last complete checkpoint is not
 *     in the output (or an acknowledged event is not in the log);
 *   - wrong: a window is in the output with another count or sum;
 *   - spurious: a window is in the output that never fired;
 *   - duplicate: a window is in the output more than once: a violation for
 *     exactly-once, allowed for at-least-once.
 * Late events (dropped because their windows had fired) are counted. */
#pragma once

#include "sim/check/check.h"

/* Same contract as fl_check_file, for @model "stream" and @consistency
 * "exactly-once" or "at-least-once" (NULL: exactly-once).  The JSON result
 * also has events, keys_checked, windows (expected), results (in the
 * output), late, counts of lost, wrong, spurious, duplicates, the output's
 * latency_ns (p50, p99, max, from ingestion to visibility) and the first
 * violations (at most 100). */
FlVerdict fl_check_stream(const FlHistorySource *src, const char *consistency, const char *format,
                          GString *report, json_t **json_out, GError **err);
