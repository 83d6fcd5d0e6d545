/* sim/check: consistency checkers over a recorded history.
 *
 * The checker reads a history (JSON Lines or Jepsen EDN, see
 * ../shared/spec/history.md) and decides whether it satisfies a consistency
 * model for a sequential data model (register, kv, mutex, set, queue).  It
 * never sees the engine: `faultline run` hands it the bytes of the
 * history.jsonl it writes, which the checker reads exactly as it reads a
 * user's file on the command line (fl_check_file), with the engine's index
 * of the lines (FlHistoryEvent) to spare tokenizing them again.
 */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef enum {
    FL_VERDICT_VALID = 0,
    FL_VERDICT_INVALID = 1,
    FL_VERDICT_UNKNOWN = 3,   /* time limit reached: no answer, never a wrong one */
    FL_VERDICT_ERROR = 2,     /* bad input; *err is set */
} FlVerdict;

/* Checks the history file at @path.
 * @model: "register", "cas-register", "kv", "mutex", "set", "queue".
 * @consistency: "linearizable", "sequential" (Lamport's, over the whole
 *   history), "sequential-per-key" (each key alone), or others (weak.h).
 * @format: NULL to choose by extension, or "jsonl" / "edn".
 * @timeout_s: wall-clock budget for the search; <= 0 means none.
 * @report: if not NULL, receives a human-readable explanation (the
 *   counterexample for an invalid history), ending with a newline.
 * @json_out: if not NULL, receives (transfer full) a JSON object with at
 *   least valid, model, consistency, operations, keys, and a counterexample
 *   when invalid.
 * Returns the verdict; FL_VERDICT_ERROR sets @err with a message naming the
 * file, line and column (or line) and what was expected. */
FlVerdict fl_check_file(const char *path, const char *model,
                        const char *consistency, const char *format,
                        double timeout_s, GString *report, json_t **json_out,
                        GError **err);

/* The same on @len bytes at @data (borrowed until return) instead of a
 * file: the verdict, report and JSON are those fl_check_file gives for a
 * file holding these bytes, and errors name @name where they would name the
 * file's path (@format NULL chooses by @name's extension, as for a path). */
FlVerdict fl_check_buffer(const char *name, const char *data, gsize len,
                          const char *model, const char *consistency,
                          const char *format, double timeout_s, GString *report,
                          json_t **json_out, GError **err);

/* What the engine knows of one line of the JSON Lines history it writes,
 * recorded as it writes the line: an index into the text, so that the
 * checker need not tokenize again what the engine just wrote
 * (FlHistorySource.events).  The line is
 *   {"process":P[,"client":C],"type":T,"f":"F"[,"key":K],"value":V[,"time":N]...}
 * with the fields in any order and, at most, other fields the checker does
 * not interpret; the checker takes process, type, key and time from here,
 * and f and the JSON text of the value from the text at the offsets given. */
typedef enum {
    FL_EVENT_INVOKE,
    FL_EVENT_OK,
    FL_EVENT_FAIL,
    FL_EVENT_INFO,
} FlEventType;

enum {
    FL_EVENT_HAS_KEY = 1,     /* the line has an integer "key" */
    FL_EVENT_HAS_TIME = 2,    /* the line has a "time" */
    FL_EVENT_FINAL = 4,       /* the line has "final": true */
    FL_EVENT_HAS_CLIENT = 8,  /* the line has an integer "client" */
};

typedef struct {
    gint64 process;
    gint64 key;               /* with FL_EVENT_HAS_KEY */
    gint64 time;              /* with FL_EVENT_HAS_TIME */
    gint64 client;            /* with FL_EVENT_HAS_CLIENT */
    gsize offset;             /* of the line's first byte, '{' */
    guint32 len;              /* the line's bytes, its newline included */
    guint32 line;             /* 1-based */
    guint32 f_at;             /* the text of "f", inside its quotes (no
                               * escapes), from @offset */
    guint32 value_at;         /* the JSON text of "value", from @offset */
    guint32 value_len;
    guint16 f_len;
    guint8 type;              /* FlEventType */
    guint8 flags;             /* FL_EVENT_HAS_* */
} FlHistoryEvent;

/* Where the checkers below fl_check_file and fl_check_buffer read a history
 * from: the file at @name when @data is NULL, else @len bytes at @data
 * (borrowed), which @name only names in messages.
 *
 * @events, when not NULL, is an index of the JSON Lines text at @data
 * (borrowed): @n_events entries, one per line, in order, covering the text
 * with no gap.  It is an accelerator only: every rule, message and report
 * is the text's (history.c runs the same code on both), but the checker
 * trusts the index for the fields it gives and reads nothing else of a
 * line unless a report shows it.  Ignored for a file or a format other
 * than JSON Lines. */
typedef struct {
    const char *name;
    const char *data;
    gsize len;
    const FlHistoryEvent *events;
    gsize n_events;
} FlHistorySource;

/* What fl_check_file and fl_check_buffer do, on either source: one code
 * path, so that the two cannot diverge. */
FlVerdict fl_check_source(const FlHistorySource *src, const char *model,
                          const char *consistency, const char *format,
                          double timeout_s, GString *report, json_t **json_out,
                          GError **err);

/* The same on a history already loaded (sim/check/history.h; borrowed). */
typedef struct FlHistory FlHistory;
FlVerdict fl_check_history(FlHistory *h, const char *consistency,
                           double timeout_s, GString *report,
                           json_t **json_out, GError **err);

/* `faultline check ...`: parses its own arguments (argv[0] is "check").
 * Returns the process exit status: 0 valid, 1 invalid, 2 bad usage or
 * input, 3 unknown. */
int fl_check_main(int argc, char **argv);

/* Names of the models, NULL-terminated, for `faultline list models`. */
const char *const *fl_check_model_names(void);
