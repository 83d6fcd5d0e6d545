/* sim/cli/export: a run's time series as files (issue 22, item 3).
 *
 * Takes the windows fl_series_json made (sim/series.h) and writes them as
 * timeseries.jsonl (one JSON object per window) and metrics.om
 * (OpenMetrics text with virtual timestamps, which `promtool tsdb
 * create-blocks-from openmetrics` turns into a Prometheus TSDB).  The
 * engine computes; this module only formats.
 *
 * Memory: @windows is borrowed; fl_export_openmetrics's text is the
 * caller's (g_free). */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The OpenMetrics text of @windows for a run with @nodes nodes (link
 * endpoints from @nodes on are clients), ending in "# EOF\n". */
char *fl_export_openmetrics(json_t *windows, uint32_t nodes);

/* Writes DIR/timeseries.jsonl and DIR/metrics.om.  False with @err set
 * when a file cannot be written. */
bool fl_export_timeseries(const char *dir, json_t *windows, uint32_t nodes, GError **err);
