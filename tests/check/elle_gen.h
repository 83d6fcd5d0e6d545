/* tests/check/elle_gen.h: list-append and rw-register histories for the
 * Elle-style checker's tests and benchmark.
 *
 * Transactions come from the workload generator (sim/check/txn_gen.h);
 * processes run them against a model database that applies each one
 * atomically when it completes, so the history is strict serializable.
 * Anomalies are then planted on keys of their own, spread evenly through
 * the history: write-skew pairs (a G2-item cycle each) and read-skew
 * triples (a G-single cycle each), each followed by a transaction that
 * reads the keys, which fixes their version order. */
#pragma once

#include "sim/check/txn_gen.h"

#include <stdio.h>

typedef struct {
    FlTxnKind kind;
    guint64 txns;          /* ordinary transactions */
    guint processes;
    guint64 seed;
    guint g2_pairs;        /* write-skew pairs planted */
    guint g_single;        /* read-skew triples planted */
    gboolean edn;          /* Jepsen EDN instead of JSON Lines */
} FlElleGenParams;

/* Writes the history to @out.  Returns the number of events written. */
guint64 fl_elle_gen(const FlElleGenParams *p, FILE *out);
