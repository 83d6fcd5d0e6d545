/* sim/check/reader.h: a small strict reader for history files.
 *
 * It reads JSON Lines and Jepsen's EDN into one tree type, FlVal, so that the
 * rest of the checker never knows which format a history came in.  Events are
 * read one at a time: a tree lives in the reader's arena until the next call,
 * which keeps memory flat on histories of millions of events.
 *
 * Ownership: the reader borrows the input bytes (the caller keeps them alive
 * and unchanged until fl_reader_free); trees it returns are borrowed until the
 * next fl_reader_next call or fl_reader_free.
 */
#pragma once

#include <glib.h>

typedef enum {
    FL_VAL_NULL,
    FL_VAL_BOOL,
    FL_VAL_INT,
    FL_VAL_NUM,       /* a number that is not an int64 (fraction, exponent,
                       * out of range): kept as text */
    FL_VAL_STR,
    FL_VAL_KEYWORD,   /* EDN :name, text without the colon */
    FL_VAL_VEC,       /* JSON array, EDN vector or list */
    FL_VAL_SET,       /* EDN #{...} */
    FL_VAL_MAP,       /* items alternate key, value */
} FlValKind;

typedef struct FlVal FlVal;
struct FlVal {
    FlValKind kind;
    guint32 line, col;          /* where the value starts, 1-based */
    union {
        gboolean b;
        gint64 i;
        struct { const char *s; gsize len; } str;  /* STR, KEYWORD, NUM */
        struct { FlVal **items; gsize n; } seq;    /* VEC, SET, MAP */
    };
};

typedef enum { FL_FORMAT_JSONL, FL_FORMAT_EDN } FlFormat;

typedef struct FlReader FlReader;

/* Starts reading @len bytes at @data (borrowed) in format @fmt.  @path is
 * copied and used in error messages only. */
FlReader *fl_reader_new(const char *path, const char *data, gsize len,
                        FlFormat fmt);
void fl_reader_free(FlReader *r);

/* Reads the next event.  Returns 1 and sets *out to a map (borrowed until the
 * next call), 0 at the end of the input, or -1 with @err set to
 * "path:line:column: expected ..." on malformed input.  *offset, if not
 * NULL, receives the byte offset where the event starts, for
 * fl_reader_event_at. */
int fl_reader_next(FlReader *r, const FlVal **out, gsize *offset,
                   GError **err);

/* Parses again the single event that fl_reader_next returned at @offset,
 * @line (used to show fields the checker does not interpret).  The tree is
 * borrowed until the next call on @r.  Returns NULL if it cannot be parsed. */
const FlVal *fl_reader_event_at(FlReader *r, gsize offset, guint32 line);

/* Reads the one JSON value in the @len bytes at @offset of a JSON Lines
 * input, a field's value inside an event that starts on line @line, the
 * value's first byte at column @col: the tree (borrowed until the next
 * call on @r) is the one fl_reader_next gives for that field, and errors
 * are the messages it gives for them.  Returns NULL with @err set when the
 * bytes are not exactly one JSON value. */
const FlVal *fl_reader_value_at(FlReader *r, gsize offset, gsize len,
                                guint32 line, guint32 col, GError **err);

/* Looks up @name in map @m (keyword or string key); NULL when absent. */
const FlVal *fl_val_get(const FlVal *m, const char *name);

/* A short name of the value's kind for error messages ("a string"). */
const char *fl_val_kind_name(const FlVal *v);

/* Appends @v to @out as compact JSON (keywords as strings, sets as arrays in
 * the order read). */
void fl_val_to_json(const FlVal *v, GString *out);
