/* sim/workload: what clients ask for, one file per history model.
 *
 * A workload model names its operations (for the scenario's `mix`), makes
 * the arguments of each operation, and writes operation values into the
 * history as spec/history.md says for its model.  The client loop
 * (sim/client.c) is the same for every model.  Add a model by adding a file
 * in sim/workload/ and a line in sim/workload/registry.c. */
#pragma once

#include "sim/rng.h"
#include "sim/store.h"
#include "sim/check/txn_gen.h"

#include <glib.h>

/* What op arguments are drawn from: one counter of unique values for the
 * whole run, and the most recent values written to each key. */
typedef struct FlWorkloadGen {
    int64_t next_value;
    uint32_t keys;
    int64_t *recent;      /* keys x FL_RECENT, newest first; 0: none */
    FlTxnGen *txn;        /* list-append, rw-register: made on first use, freed with the clients */
    FlRng *txn_rng;       /* the asking client's stream, during one fl_txn_gen_next */
} FlWorkloadGen;

#define FL_RECENT 4

typedef struct FlWorkloadOp {
    const char *name;     /* the history's `f`, and the key in `mix` */
    uint8_t kind;         /* FlOpKind */
    double weight;        /* default share in the mix */
} FlWorkloadOp;

typedef struct FlWorkloadModel {
    const char *name;         /* "register", "kv", ... as in scenarios */
    const char *check_model;  /* the checker's model for its histories */
    const char *summary;
    const FlWorkloadOp *ops;  /* {NULL} terminated */
    uint8_t read_kind;        /* the op that reads a key (final reads) */
    /* Fills the arguments of @op (kind and key already set). */
    void (*make)(FlWorkloadGen *g, FlRng *rng, FlOp *op);
    /* Writes the JSON `value` of @op: on its invocation (@res NULL), or on
     * its ok completion with the result @res. */
    void (*value)(GString *s, const FlOp *op, const FlResult *res);
} FlWorkloadModel;

const FlWorkloadModel *const *fl_workload_models(void);
const FlWorkloadModel *fl_workload_model_find(const char *name);

/* Helpers for models. */
int64_t fl_workload_fresh(FlWorkloadGen *g, uint32_t key);   /* a unique value, remembered as recent */
void fl_json_text(GString *s, const char *p, size_t len);   /* a JSON string, escaped */
