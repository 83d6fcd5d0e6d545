/* plots/rundata: a run's files, parsed into what the pictures need.
 *
 * Operations come from history.jsonl (an invocation paired with the next
 * completion of its process); fault intervals from metrics.json; the
 * checker's counterexample from metrics.json's check.result, matched back to
 * operations.  The trace is large, so it is not loaded here: the space-time
 * diagram streams it (plots/spacetime.c).  FlRunData owns everything. */
#pragma once

#include "plots/plot.h"

typedef enum { FL_OUTCOME_OK = 0, FL_OUTCOME_FAIL, FL_OUTCOME_INFO, FL_OUTCOME_COUNT } FlOutcome;

/* Why an operation is highlighted in the history timeline: its part in the
 * checker's counterexample (the field it was found under). */
typedef enum {
    FL_MARK_NONE = 0,
    FL_MARK_PREFIX,      /* "prefix": ordered before the failure */
    FL_MARK_OTHER,       /* a field we do not know */
    FL_MARK_CONCURRENT,  /* "concurrent": open beside the stuck one, none placeable */
    FL_MARK_WAITING,     /* "waiting": still needs a value nothing can produce again */
    FL_MARK_STUCK,       /* "stuck": the operation that could not be placed */
    FL_MARK_COUNT,
} FlMark;

typedef struct FlPlotOp {
    int64_t process;
    char *f;
    char *key;           /* the key as JSON text, or NULL */
    char *value;         /* invocation value, JSON text */
    char *result;        /* completion value, JSON text (NULL when open) */
    FlTime invoke, complete;   /* complete: end of run when open */
    FlTime arrival;      /* intended arrival ("arrival" in the history); invoke when absent */
    FlOutcome outcome;   /* open operations count as info */
    bool open;           /* no completion in the history */
    guint invoke_line, complete_line;   /* 1-based lines of history.jsonl */
    FlMark mark;
} FlPlotOp;

typedef struct FlFaultSpan {
    char *kind;          /* "crash", "partition", ... */
    char *what;          /* "node 2", "isolate 1", ... */
    FlTime start, stop;
} FlFaultSpan;

struct FlRunData {
    char *dir;
    char *name;          /* the scenario's */
    char *label;         /* "name seed N", for titles */
    uint64_t seed;
    uint32_t nodes;
    FlTime end;          /* virtual time at the end of the run */
    json_t *scenario;    /* scenario.json */
    json_t *metrics;     /* metrics.json */
    GArray *ops;         /* of FlPlotOp, by invocation */
    GPtrArray *fs;       /* of char*: distinct operation names, sorted */
    guint keys;          /* distinct keys (0: the history has none) */
    GArray *faults;      /* of FlFaultSpan, as metrics.json lists them */
    char *verdict;       /* "valid", "invalid", "unknown" */
    char *cx_key;        /* the counterexample's key as JSON text, or NULL */
    guint marked;        /* operations with a mark */
    bool has_cx;         /* metrics hold a counterexample */
    char *trace_path;    /* NULL when the run has no trace.jsonl */
};

/* "ok", "fail", "info". */
const char *fl_outcome_name(FlOutcome o);
/* The span of the counterexample's operations, padded by a sixth on each
 * side (at least 1 ms) and kept within the run.  False when nothing is
 * marked. */
bool fl_rundata_marked_span(const FlRunData *rd, FlTime *from, FlTime *to);
/* Index of @f in rd->fs. */
guint fl_rundata_f_index(const FlRunData *rd, const char *f);
/* Marks operations named by a counterexample (any JSON: objects with a
 * "process" and an "invoke_line" or "invoke_time" are operations; the
 * field holding them gives the mark).  Exposed for tests.  Returns the
 * number of operations marked. */
guint fl_rundata_mark(FlRunData *rd, json_t *counterexample);
