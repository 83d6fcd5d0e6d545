/* Helpers of the storage and computation tests: check a history given as
 * text, run a scenario file with its checker. */
#pragma once

#include "sim/check/check.h"
#include "sim/run.h"
#include "sim/scenario.h"

#include <glib.h>
#include <jansson.h>

/* Writes @history to a temporary file, checks it with @model and
 * @consistency, and returns the verdict; *@json_out (if not NULL) receives
 * the JSON result, *@report (if not NULL) the text report (caller frees
 * both).  Fails the test on a checker error unless @allow_error. */
FlVerdict sx_check(const char *history, const char *model, const char *consistency,
                   json_t **json_out, char **report);
/* Same, expecting FL_VERDICT_ERROR; returns the error message (caller frees). */
char *sx_check_error(const char *history, const char *model, const char *consistency);

/* A history of final reads, one per node, whose values are the node logs
 * @logs[0..@n) (NULL: that node's read is left out), for the node-log
 * checkers (sim/check/events.h).  Caller frees. */
char *sx_logs_history(const char *const *logs, int n);

/* Loads @path (seed @seed, or the file's with -1), runs it with the check,
 * and fills @res (clear it with fl_run_result_clear). */
void sx_run_file(const char *path, int64_t seed, FlRunResult *res);
/* A counter of metrics.json (0 when absent). */
double sx_counter(const FlRunResult *res, const char *name);
/* An integer from the check's JSON result, at @key (-1 when absent). */
int64_t sx_check_int(const FlRunResult *res, const char *key);
