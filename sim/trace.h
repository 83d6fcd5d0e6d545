/* sim/trace: every engine event of a run, hashed and optionally written.
 *
 * The hash covers every event in order (its kind, time, endpoints, numbers
 * and text), so two runs of one scenario and seed have the same hash exactly
 * when they did the same things in the same order.  Writing trace.jsonl is
 * optional and does not change the hash.  The trace owns its FILE. */
#pragma once

#include "sim/time.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    FL_TR_SEND = 1,   /* node -> peer, a = length, b = content hash */
    FL_TR_DELIVER,    /* peer -> node */
    FL_TR_DROP,       /* peer -> node, text = why */
    FL_TR_TIMER,      /* node, a = tag */
    FL_TR_CRASH,
    FL_TR_RESTART,
    FL_TR_PAUSE,
    FL_TR_RESUME,
    FL_TR_ROLE,       /* node, text = role */
    FL_TR_LOG,        /* node, text */
    FL_TR_FAULT,      /* a = fault index, text = "start kind ..." / "stop kind ..." */
    FL_TR_INVOKE,     /* client, peer = target node, a = request id */
    FL_TR_COMPLETE,   /* client, a = request id, text = ok/fail/info */
    FL_TR_METRIC,
    FL_TR_END,
} FlTraceKind;

struct FlCoverage;

typedef struct FlTrace {
    uint64_t hash;
    uint64_t events;
    FILE *out;        /* NULL: hash only */
    /* Guided fuzzing (sim/coverage.h): sees every event fl_trace records
     * except sends and deliveries, which the world hands it with their
     * bytes.  NULL (the default) costs one untaken branch.  Borrowed. */
    struct FlCoverage *cov;
} FlTrace;

void fl_trace_init(FlTrace *t);
/* Starts writing JSON lines to @path; returns false (errno set) if it cannot
 * be opened. */
bool fl_trace_open(FlTrace *t, const char *path);
/* Flushes and closes the file, if any; returns false on a write error. */
bool fl_trace_close(FlTrace *t);

/* Records one event.  @text may be NULL. */
void fl_trace(FlTrace *t, FlTraceKind kind, FlTime time, uint32_t node, uint32_t peer,
              uint64_t a, uint64_t b, const char *text);

/* Fast path for the hottest events (send and deliver with no file open):
 * hash only. */
static inline void fl_trace_fast(FlTrace *t, FlTraceKind kind, FlTime time, uint32_t node,
                                 uint32_t peer, uint64_t a, uint64_t b)
{
    uint64_t x = time ^ ((uint64_t)kind << 56) ^ ((uint64_t)node << 28) ^ peer;
    x ^= (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    t->hash = (t->hash * 0x100000001b3ULL) ^ (x ^ (x >> 31));
    t->events++;
}

const char *fl_trace_kind_name(FlTraceKind kind);

/* A hash of a message's bytes, as the trace records it. */
uint64_t fl_trace_bytes_hash(const void *p, size_t len);
