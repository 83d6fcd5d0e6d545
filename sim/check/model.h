/* sim/check/model.h: sequential specifications of the objects a history
 * talks to, and the operation record the checker works on.
 *
 * A model is one FlModel: the names of its operations, a parser from the
 * values in the history to an FlOp, an initial state and a step function.
 * States are byte strings (cheap to copy); the search interns them, so two
 * equal states are one id, which gives hash and equality for free.  A new
 * model is one short file defining an FlModel and one line in model.c.
 *
 * Optional hooks (observes, produces) let the search prune; a model whose
 * state is a single FlAtom may set them (register, kv).
 */
#pragma once

#include "sim/check/atoms.h"
#include "sim/check/reader.h"

#include <glib.h>

#define FL_POS_INF G_MAXINT64

typedef enum {
    FL_OP_OK,     /* took effect once, between invocation and completion */
    FL_OP_INFO,   /* may have taken effect, or not (also never completed) */
    FL_OP_FAIL,   /* certainly did not take effect: left out of the check */
} FlOpStatus;

/* One operation: an invocation and its completion. */
typedef struct {
    gint64 process;
    gint64 client;              /* the session: the event's `client`, or the
                                 * process when has_client is 0 */
    gint64 inv, ret;            /* positions in event order; ret is FL_POS_INF
                                 * for info and never-completed operations */
    gint64 inv_time, ret_time;  /* the events' `time`, -1 when absent */
    guint32 inv_line, ret_line; /* 1-based lines; ret_line 0 when none */
    gsize inv_offset, ret_offset;
    FlAtom key;                 /* FL_ATOM_NONE when the history has no keys */
    FlAtom shown;               /* the value shown in reports */
    FlAtom a, b;                /* model-defined operands */
    guint32 items, n_items;     /* model-defined list in FlModelCtx.items */
    guint8 f;                   /* index into FlModel.ops */
    guint8 status;              /* FlOpStatus */
    guint8 final;               /* a final read ("final": true on its
                                 * invocation): it probes one replica's copy,
                                 * so only convergence checks look at it */
    guint8 has_client;          /* the invocation carried `client` */
} FlOp;

/* What a model's functions may use: the history's atoms and item lists.
 * Both are owned by the history. */
typedef struct {
    FlAtoms *atoms;
    GArray *items;              /* guint32 */
} FlModelCtx;

/* What state an operation may leave behind, for pruning: a fixed value
 * (EXACT), some state that ends with a value (SUFFIX, an append), or
 * nothing new (NOTHING, e.g. a read). */
typedef enum {
    FL_PRODUCES_NOTHING,
    FL_PRODUCES_EXACT,
    FL_PRODUCES_SUFFIX,
} FlProduces;

typedef struct FlModel FlModel;
struct FlModel {
    const char *name;
    const char *const *ops;     /* operation names, NULL-terminated */
    guint32 readonly_ops;       /* bit f set: op f never changes the state */

    /* Fills op->a, op->b, op->items, op->n_items from @v (borrowed; a null
     * value when the event has none): called with the invocation's value
     * (@ok FALSE), then, if the operation completes ok, with the result
     * (@ok TRUE).  op->f is set.  On a wrong shape, returns FALSE and
     * appends "expected ..." to @why. */
    gboolean (*parse)(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok,
                      GString *why);
    void (*init)(FlModelCtx *ctx, GByteArray *state);
    /* Applies @op to @state; on success writes the next state into @next
     * (emptied by the caller) and returns TRUE; FALSE if @op cannot happen
     * in @state.  An info operation has no known result and must be
     * accepted whenever its invocation allows it. */
    gboolean (*step)(FlModelCtx *ctx, const guint8 *state, gsize len,
                     const FlOp *op, GByteArray *next);
    void (*show_state)(FlModelCtx *ctx, const guint8 *state, gsize len,
                       GString *out);

    /* Optional.  For models whose state is one FlAtom (4 bytes): the value
     * the state must equal for @op to succeed, or FL_ATOM_NONE. */
    FlAtom (*observes)(const FlOp *op);
    /* Optional, with observes: which states @op may leave behind. */
    FlProduces (*produces)(const FlOp *op, FlAtom *value);
    /* Optional, together: @shows gives the value an operation's result
     * reveals (FL_ATOM_NONE if none); @visible says whether the effect of
     * @op could be what such a value @w reveals, or, with @w FL_ATOM_NONE,
     * whether results that reveal no value (a dequeue of null) could show
     * it.  When nothing can show an info op's effect, the search drops it. */
    FlAtom (*shows)(const FlOp *op);
    /* Optional: orderings that every linearization must respect beyond
     * real time, derived from results (a queue with distinct values: the
     * value dequeued first was enqueued first).  Appends pairs of indices
     * into @ops (guint32 before, guint32 after) to @pairs.  @ops[0..n) are
     * the operations of one object that are not `fail`. */
    void (*constraints)(FlModelCtx *ctx, const FlOp *const *ops, guint32 n,
                        GArray *pairs);
    /* Optional, for models in which every operation either observes the
     * whole state (observes is not FL_ATOM_NONE) or overwrites it: TRUE
     * when @op sets the state whatever it was (a register write).  Such a
     * model's `visible` must hold exactly when the value @op produces
     * (EXACT) is @w: the search then looks values up instead of asking. */
    gboolean (*overwrites)(const FlOp *op);
    /* Optional: rewrites, in the search's own copies @ops[0..n), values
     * whose identity cannot matter to any result into one placeholder, so
     * that states differing only by them are one state. */
    void (*anonymize)(FlModelCtx *ctx, FlOp *ops, guint32 n);
    gboolean (*visible)(FlModelCtx *ctx, const FlOp *op, FlAtom w);
};

extern const FlModel fl_model_register;
extern const FlModel fl_model_kv;
extern const FlModel fl_model_mutex;
extern const FlModel fl_model_set;
extern const FlModel fl_model_queue;
extern const FlModel fl_model_counter;

/* Finds a model by name (aliases included); NULL if unknown. */
const FlModel *fl_model_find(const char *name);
/* Index of operation @f in @m->ops, or -1. */
int fl_model_op(const FlModel *m, const char *f, gsize len);

/* Helpers for models whose state is one atom. */
FlAtom fl_state_atom(const guint8 *state, gsize len);
void fl_state_set_atom(GByteArray *state, FlAtom a);
