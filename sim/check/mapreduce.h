/* sim/check/mapreduce.h: the `exact` checker, for MapReduce histories.
 *
 * Every job a client saw complete (ok) must have produced exactly the
 * output of a sequential run over its input: the checker regenerates the
 * input from the seed and size in the history (sim/check/corpus.h),
 * counts words or builds the inverted index in one pass, and compares the
 * two outputs byte for byte.  Jobs that failed or timed out say nothing. */
#pragma once

#include "sim/check/check.h"

#include <stdint.h>

/* Same contract as fl_check_file, for @model "mapreduce" and @consistency
 * "exact" (or NULL).  The JSON result also has jobs (checked), matched,
 * and mismatches: for each wrong job its line, the first differing output
 * line expected and got, and the counts of missing, extra and wrong words. */
FlVerdict fl_check_mapreduce(const FlHistorySource *src, const char *consistency, const char *format,
                             GString *report, json_t **json_out, GError **err);

/* The output a sequential run gives (exposed for tests): "word count\n"
 * lines for @index false, "word d1,d2,...\n" for true, sorted by word. */
void fl_mapreduce_expected(uint64_t seed, uint32_t words, gboolean index, GString *out);
