/* sim/fault: the interface every fault kind implements (the kinds live in
 * faults/, one per file; the engine sees only this interface).
 *
 * A fault kind parses its own JSON fields, then starts and stops at the
 * times the scenario gives (`at`, and `for` or `until`).  It acts on the run
 * only through sim/world.h: network filters, node lifecycle, clocks, disks,
 * send hooks on a node's outgoing messages (and the protocol's own `lie`
 * hook, called by the engine); never through a protocol's state.  The engine reads the common fields
 * (kind, at, for, until) and hands the rest to the kind's parse.
 * Memory: the FlFault owns `state` (state_size bytes, zeroed), freed after
 * the kind's destroy. */
#pragma once

#include "sim/jsonv.h"
#include "sim/scenario.h"
#include "sim/world.h"

#include <jansson.h>

typedef struct FlFaultKind FlFaultKind;

struct FlFault {
    const FlFaultKind *kind;
    uint32_t index;          /* position in the scenario's list */
    FlTime at;               /* start */
    FlDuration dur;          /* how long; 0: until the end of the run */
    bool started, stopped;
    void *state;
};

typedef struct FlFaultField {
    const char *name;
    const char *doc;         /* "node id or selector; which node crashes" */
} FlFaultField;

struct FlFaultKind {
    const char *name;
    const char *summary;     /* one line */
    const FlFaultField *fields;   /* its own fields, {NULL} terminated */
    size_t state_size;
    /* Reads the kind's fields from @spec (path @path).  The common fields
     * are already read; @out is the resolved JSON to add to.  Returns false
     * with jv's error set. */
    bool (*parse)(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                  const FlScenario *sc);
    void (*start)(FlFault *f, FlWorld *w);
    void (*stop)(FlFault *f, FlWorld *w);      /* heal; may be NULL */
    void (*destroy)(FlFault *f);              /* may be NULL */
    /* Kinds whose duration has another name (crash: restart_after). */
    const char *duration_field;
    /* The kind reads at/for/until itself (or has its own time fields, as
     * the nemesis does): the engine reads none and allows none; parse sets
     * `at` and `dur`. */
    bool own_timing;
    /* The counters of metrics.json this kind may create (fl_world_count),
     * NULL-terminated, or NULL: a scenario with this fault may bound them
     * in `expect.counters`, and one the run never created reads as 0. */
    const char *const *counters;
};

void fl_fault_free(FlFault *f);
