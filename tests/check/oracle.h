/* tests/check/oracle.h: a brute-force checker for small histories.
 *
 * It follows the definitions and nothing else: it tries every order of the
 * operations (ok ones must all appear, info and never-completed ones may,
 * fail ones never do) that respects real time, or each process's order,
 * and asks the model's step function about each.  Exponential: for
 * histories of up to about 20 operations, to cross-check fl_search.
 */
#pragma once

#include "sim/check/history.h"

/* TRUE if @h (all of it, as one object) is linearizable, or sequentially
 * consistent when @sequential.  @h is borrowed. */
gboolean fl_oracle(FlHistory *h, gboolean sequential);
