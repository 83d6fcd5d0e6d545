/* sim/check/history.h: a history file turned into operations.
 *
 * Loading pairs each invocation with its completion (spec/history.md),
 * enforces the rules (one open operation per process, no completion without
 * an invocation, a known `f`, the value shapes of the model, keys on every
 * event or on none) and leaves nemesis events out.  Operations are kept in
 * invocation order; positions (FlOp.inv, FlOp.ret) are twice the index of
 * the event among client events, so that the search can place a derived
 * deadline between two events.
 *
 * Ownership: the history owns its ops, atoms, items, and the mapped file
 * (kept for showing fields of events in reports).
 */
#pragma once

#include "sim/check/check.h"
#include "sim/check/model.h"
#include "sim/check/reader.h"

typedef struct FlHistory {
    const FlModel *model;
    FlModelCtx ctx;           /* owned atoms and items */
    GArray *ops;              /* FlOp, in invocation order */
    GArray *keys;             /* FlAtom, in order of first appearance;
                               * empty for an unkeyed history */
    guint64 n_events;         /* client events */
    char *path;
    GMappedFile *file;
    const char *data;         /* the text (the file's, or borrowed) */
    gsize len;
    FlReader *reader;         /* for fl_history_extra */
} FlHistory;

/* Reads the history at @path (@format "jsonl", "edn", or NULL to choose
 * by extension: .edn is EDN, anything else JSON Lines).  Returns NULL with
 * @err set to a message naming the file and line on any problem.  The
 * caller frees the result with fl_history_free. */
FlHistory *fl_history_load(const char *path, const char *format,
                           const FlModel *model, GError **err);
/* The same from @len bytes at @data, which the caller keeps alive and
 * unchanged until fl_history_free; @name names them in messages. */
FlHistory *fl_history_parse(const char *name, const char *data, gsize len,
                            const char *format, const FlModel *model,
                            GError **err);
/* fl_history_load or fl_history_parse, as @src says (check.h); JSON Lines
 * with an index (@src->events) are read through it, to the same result. */
FlHistory *fl_history_open(const FlHistorySource *src, const char *format,
                           const FlModel *model, GError **err);
void fl_history_free(FlHistory *h);

/* Appends to @out, as `, "name": value` JSON members, the fields of @op's
 * invocation and completion events that the checker does not interpret
 * (node, error, ...).  Nothing when there are none. */
void fl_history_extra(FlHistory *h, const FlOp *op, GString *out);
