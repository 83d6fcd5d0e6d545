/* tests/plots/fixture: sample runs for the picture tests.
 *
 * A run is made in-process (fl_scenario_load + fl_run) into a new
 * temporary folder, with its trace, exactly as `faultline run` writes it. */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* Runs scenarios/00-basics/@name.json into a new temporary folder and
 * returns the folder (caller frees; remove it with fixture_rm).  @check:
 * run the checker (false leaves a run with no verdict). */
char *fixture_run(const char *name, bool check);
/* Removes @dir and everything in it. */
void fixture_rm(const char *dir);
/* The lines of @path that hold data (neither empty nor comments), per block
 * of the data file (blocks are separated by two empty lines).  Returns an
 * array of guint counts, one per block. */
GArray *fixture_block_rows(const char *path);
/* The title of block @k of the data file at @path ("# series K: TITLE (N
 * points)"), or NULL; caller frees. */
char *fixture_block_title(const char *path, guint k);
/* Reads the whole file; fails the test when it cannot. */
char *fixture_read(const char *path);
/* Counts occurrences of @needle in @hay. */
guint fixture_count(const char *hay, const char *needle);
