/* Helpers shared by the fault tests: build a scenario from a base file
 * with its faults replaced, run it, and read its figures. */
#pragma once

#include "sim/run.h"
#include "sim/scenario.h"

#include <glib.h>
#include <jansson.h>

/* Loads @base (a scenario file, relative to the source root), replaces its
 * "faults" with @faults_json (JSON text, "[]" for none) and drops its
 * "expect"; @edit, when not NULL, may change the JSON further.  Fails the
 * test on any error. */
FlScenario *fx_scenario(const char *base, const char *faults_json,
                        void (*edit)(json_t *root, void *ctx), void *ctx);
/* Same, from a JSON text; returns NULL and sets @err on a bad scenario. */
FlScenario *fx_scenario_text(const char *text, GError **err);

/* Runs @sc with the checker (no files written); fails the test on error.
 * Free with fl_run_result_clear. */
void fx_run(const FlScenario *sc, FlRunResult *res);

/* Figures of a run's metrics. */
int64_t fx_ops(const FlRunResult *res, const char *what);        /* ok, fail, info, invoked */
int64_t fx_messages(const FlRunResult *res, const char *what);   /* sent, delivered, dropped */
int64_t fx_p99(const FlRunResult *res);
double fx_availability(const FlRunResult *res);

/* Runs @sc with a trace file and returns its lines parsed (transfer full:
 * a JSON array of events). */
json_t *fx_trace(const FlScenario *sc);
