/* tests/replication/table: runs the scenarios of a folder and tells which
 * consistency models each history satisfies, as the markdown table of
 * scenarios/02-consistency/README.md.  Shared by the generator
 * (consistency-table) and the tests. */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct TableRow {
    char *file;          /* the scenario's path */
    char *name;          /* its name */
    char *protocol;
    bool faults;         /* the scenario injects faults */
    json_t *verdicts;    /* model -> "valid" | "invalid" | "unknown" */
    json_t *metrics;     /* metrics.json's content */
    bool met;            /* every expectation held */
    char *unmet;         /* the expectations missed, one per line ("" when met) */
    uint64_t trace_hash;
} TableRow;

/* Runs every *.json of @dir, in the order of the table (see table.c).
 * Returns a GPtrArray of TableRow* (free with g_ptr_array_unref), or NULL
 * with @err set when a scenario cannot be loaded or run. */
GPtrArray *table_run_dir(const char *dir, GError **err);

/* The verdict of @model in @row ("valid", "invalid", "unknown", or NULL
 * when not checked). */
const char *table_verdict(const TableRow *row, const char *model);

/* The markdown table of @rows (caller frees). */
char *table_markdown(GPtrArray *rows);
