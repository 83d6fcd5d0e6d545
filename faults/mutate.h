/* faults/mutate: small-scope mutations of real messages, in the style of
 * ByzzFuzz (Winter et al., OOPSLA 2023), for the `byzantine` fault's
 * `mutate` behaviour.
 *
 * A mutator reads messages through the protocol's `fields` hook (sim/node.h)
 * and changes one field of one message at a time, so the result still
 * decodes and says something a Byzantine sender could have said: a
 * round-like field moved by one, or a field given a value another message
 * really carried.  It owns no world: the fault feeds it what nodes send and
 * hands it the faults' stream, and unit tests call it directly. */
#pragma once

#include "sim/node.h"
#include "sim/rng.h"

#include <glib.h>

/* The mutation classes, as bits of a set. */
typedef enum {
    FL_MUTATE_ROUND = 1u << 0,   /* a round-like field (term, view, ballot, seq) +1 or -1 */
    FL_MUTATE_REPLAY = 1u << 1,  /* a field's value from an earlier message of the same
                                    kind that the same node sent (kept, see fl_mutator_keep) */
    FL_MUTATE_STEAL = 1u << 2,   /* a field's value from the same-named field of a message
                                    some node sent recently (see fl_mutator_observe) */
} FlMutateClass;

#define FL_MUTATE_ALL (FL_MUTATE_ROUND | FL_MUTATE_REPLAY | FL_MUTATE_STEAL)

/* "round", "replay", "steal" for one class; NULL for anything else. */
const char *fl_mutate_class_name(unsigned cls);
/* The class named @name, or 0. */
unsigned fl_mutate_class_parse(const char *name);

typedef struct FlMutator FlMutator;

/* What one fl_mutator_apply did. */
typedef struct FlMutation {
    unsigned cls;             /* one FL_MUTATE_* */
    const char *kind;         /* the message's kind (msg_kind), or NULL */
    uint8_t type;             /* its first byte, for protocols without msg_kind */
    FlMsgField field;         /* the field changed (name borrowed from the protocol) */
    uint64_t old_value, new_value;
    uint32_t source;          /* REPLAY, STEAL: the node that sent the value first */
    const char *source_kind;  /* STEAL: the kind of the message it came from, or NULL */
} FlMutation;

/* A mutator for messages of @p, which must have a `fields` hook (borrowed;
 * it must outlive the mutator).  Free with fl_mutator_free. */
FlMutator *fl_mutator_new(const FlProtocol *p);
void fl_mutator_free(FlMutator *m);
/* Forgets every message seen, as a new run needs. */
void fl_mutator_reset(FlMutator *m);

/* Records @msg (borrowed), sent by node @from to any peer, among the recent
 * sends STEAL draws from (the last 64, any node).  Messages that do not
 * decode are ignored. */
void fl_mutator_observe(FlMutator *m, uint32_t from, const uint8_t *msg, size_t len);
/* Records @msg (borrowed), as node @from honestly sent it, among the
 * earlier messages REPLAY draws from (the last 128 of all the nodes kept;
 * REPLAY only takes a value from @from's own). */
void fl_mutator_keep(FlMutator *m, uint32_t from, const uint8_t *msg, size_t len);

/* Authenticates @msg (rewritten in place) as node @from sending it to @to,
 * with @from's own keys only; false when it cannot (byzantine.c calls the
 * protocol's reseal hook on @from's state through fl_world_reseal). */
typedef bool (*FlMutatorResealFn)(void *ctx, uint32_t from, uint32_t to, uint8_t *msg,
                                  size_t len);

/* Changes one field of @msg, which node @from sends to @to, by one
 * mutation of a class in @classes, drawn from @rng: first a class among
 * those that can change some field of this message, then a field that
 * class can change, then the new value (REPLAY and STEAL never "change" a
 * field to the value it has).  Then, for a protocol with a reseal hook,
 * @reseal_cb (with @ctx) authenticates the result as @from; a NULL
 * @reseal_cb refuses.  Returns true and describes it in @out; false, with
 * @msg as it was, when no enabled class applies, the message does not
 * decode, or reseal refused. */
bool fl_mutator_apply(FlMutator *m, FlRng *rng, unsigned classes, uint32_t from, uint32_t to,
                      GByteArray *msg, FlMutation *out, FlMutatorResealFn reseal_cb, void *ctx);

/* "PREPARE seq 7 -> 8 (round)", "AppendEntries term 5 -> 7 (steal: node 2's
 * AppendEntriesReply)": the line the trace shows (caller frees). */
char *fl_mutation_text(const FlMutation *mu);
