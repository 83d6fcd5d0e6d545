/* sim/coverage: what a run did, abstracted, for guided fuzzing.
 *
 * A coverage object watches one run (the world hands it the trace's events,
 * and sends and deliveries with their bytes) and keeps a set of 64-bit
 * features: hashes of abstract behaviour, never of times, node ids or
 * message contents, so that two runs that did "the same kind of thing"
 * share features and a run that did something new adds some.  The notes at
 * the top of sim/coverage.c list the features.  `faultline fuzz --guided`
 * (sim/fuzz.c) keeps the union over seeds and breeds new schedules from the
 * runs that grew it. */
#pragma once

#include "sim/trace.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct FlCoverage FlCoverage;

/* A coverage object for a run of @nodes servers (endpoints from @nodes on
 * are clients).  Free with fl_coverage_free. */
FlCoverage *fl_coverage_new(uint32_t nodes);
void fl_coverage_free(FlCoverage *c);

/* An event as fl_trace records it (@text borrowed for the call).  Sends and
 * deliveries are ignored here: fl_coverage_message sees them. */
void fl_coverage_event(FlCoverage *c, FlTraceKind kind, FlTime time, uint32_t node, uint32_t peer,
                       uint64_t a, const char *text);

/* A message @node sends to @peer (@kind FL_TR_SEND) or receives from @peer
 * (FL_TR_DELIVER); @msg is borrowed for the call.  Its first byte stands for
 * the message's kind: every protocol here encodes its type tag first. */
void fl_coverage_message(FlCoverage *c, FlTraceKind kind, uint32_t node, uint32_t peer,
                         const uint8_t *msg, size_t len);

/* The protocol counters at the end of the run (metrics.json "counters",
 * borrowed): each adds its name and the log2 bucket of its value. */
void fl_coverage_counters(FlCoverage *c, json_t *counters);

/* How many distinct features the run reached. */
size_t fl_coverage_count(const FlCoverage *c);

/* The features, ascending, as a JSON array of 16-hex-digit strings
 * (transfer full).  Sorted, so the text depends on the run only. */
json_t *fl_coverage_features(const FlCoverage *c);

/* The run's role changes, for breeding schedules that aim at roles: a JSON
 * array of [time_ns, node, role] in time order, role "" when the node
 * crashed (transfer full).  At most the first 1024 are kept. */
json_t *fl_coverage_roles(const FlCoverage *c);

/* Parses one feature string of fl_coverage_features; false if malformed. */
bool fl_coverage_parse(const char *s, uint64_t *feature);
