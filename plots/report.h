/* plots/report: one self-contained HTML page about a run.
 *
 * The page holds the scenario, a summary table, the verdict of every
 * checker, the counterexample (as the checker explains it and as a table of
 * operations) and every picture of plots/plot.h, embedded (PNG as base64,
 * or SVG inline), so the one file can be mailed or put on a course page.
 * Each part is a <section> with a fixed id: scenario, summary, verdicts,
 * counterexample, plots. */
#pragma once

#include "plots/plot.h"

/* Draws the pictures of the run in @run_dir with @opt (opt->render must be
 * true; opt->out_dir receives them) and writes the page to @out_file.
 * Returns false with @err (FL_ERROR_INPUT for a bad run folder,
 * FL_ERROR_RUN otherwise). */
bool fl_report_write(const char *run_dir, const FlPlotOptions *opt, const char *out_file,
                     GError **err);

/* The section ids, NULL-terminated, in page order (for tests). */
const char *const *fl_report_sections(void);
