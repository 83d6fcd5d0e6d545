/* sim/check/story.h: why a register history is not linearizable, in the
 * history's own terms.
 *
 * The search's counterexample (the longest prefix it could order, the
 * operation it could not place) is exact but speaks of the search.  A
 * student wants the contradiction: "write 1 ended at 10.0 ms before write 2
 * began at 13.8 ms; write 2 ended before the read began at 27.9 ms; so the
 * read must return 2, but it returned 1."  This module looks for the
 * textbook patterns that each prove by themselves that no linearization
 * exists (a value nobody wrote, a read from the future, a stale read, a
 * new-old inversion) and tells the first it finds.  It knows only the
 * register's shape (reads observe one value, every other operation writes
 * one exact value) and the kv type's appends (an append that ended is in
 * every later get's value, in real-time order), so it says nothing for
 * other types; the search's explanation stays the complete one.
 *
 * Memory: @text is appended to; @ops receives op indices (guint32); both
 * are the caller's. */
#pragma once

#include "sim/check/history.h"

#include <glib.h>

/* Looks at the operations @idx[0..n) of one key of @h (not final reads).
 * Returns TRUE and fills @text (one paragraph) and @ops (the operations
 * it names, in the order it names them) when a pattern is found. */
gboolean fl_story_register(FlHistory *h, const guint32 *idx, guint n, GString *text,
                           GArray *ops);

/* The same for a kv key whose writes are all appends: an append missing
 * from a later get, or two appends seen out of order. */
gboolean fl_story_append(FlHistory *h, const guint32 *idx, guint n, GString *text, GArray *ops);
