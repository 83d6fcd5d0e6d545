/* protocols/paxos/paxos: Multi-Paxos, the parts that tests call directly.
 *
 * The protocol itself is fl_proto_paxos (registry.c lists it); this header
 * exposes its pure helpers: the phase-1 value rule and the message codec. */
#pragma once

#include "protocols/paxos/ballot.h"
#include "sim/node.h"

/* What one acceptor reported in phase 1b for one slot: the ballot of its
 * last vote there (0: it never voted) and the value it voted for. */
typedef struct PaxosVote {
    uint64_t ballot;
    FlRequest value;
} PaxosVote;

/* Phase 2a rule (Paxos Made Simple, 2.2 (b)): the proposer of a new ballot
 * must propose, in each slot, the value of the highest-numbered proposal
 * among the votes reported by a majority.  Folds @v into @best: returns true
 * if @v's ballot is higher than @best's, which then becomes @v. */
bool paxos_adopt(PaxosVote *best, const PaxosVote *v);

/* Applies paxos_adopt over @votes (@n of them).  Returns false when nobody
 * voted (every ballot 0): the proposer is free, and fills the gap with a
 * no-op if it has nothing else; otherwise *@out is the value to propose. */
bool paxos_select(const PaxosVote *votes, size_t n, FlRequest *out);

/* ---- Messages ------------------------------------------------------- */

enum {
    PAXOS_PREPARE = 1,    /* 1a: ballot, from */
    PAXOS_PROMISE,        /* 1b: ballot, from, more, last, entries */
    PAXOS_ACCEPT,         /* 2a: ballot, slot, value */
    PAXOS_ACCEPTED,       /* 2b: ballot, slot */
    PAXOS_NACK,           /* ballot: the higher ballot the acceptor promised */
    PAXOS_DECIDE,         /* entries: chosen values (ballot unused) */
    PAXOS_HEARTBEAT,      /* ballot, commit */
    PAXOS_HEARTBEAT_ACK,  /* ballot, commit */
    PAXOS_RECOVER,        /* nonce: an acceptor back from a damaged disk asks (note 9) */
    PAXOS_RECOVER_ACK,    /* nonce, ballot (promised), last (highest slot with a vote or decision) */
};

/* Most entries in one message: a promise with more sets `more`. */
#define PAXOS_MAX_ENTRIES 4096u

typedef struct PaxosEntry {
    uint64_t slot;
    uint64_t ballot;
    FlRequest value;
} PaxosEntry;

typedef struct PaxosMsg {
    uint8_t type;
    uint64_t ballot;
    uint64_t slot;        /* ACCEPT/ACCEPTED: the slot; PREPARE/PROMISE: first slot asked */
    uint64_t commit;      /* HEARTBEAT(_ACK): the sender's commit index */
    uint64_t nonce;       /* RECOVER(_ACK): names one recovery, so that old answers do not count */
    bool more;            /* PROMISE: entries past `last` were left out */
    uint64_t last;        /* PROMISE with more: the last slot included; RECOVER_ACK: horizon */
    FlRequest value;      /* ACCEPT */
    PaxosEntry *entries;  /* PROMISE, DECIDE: borrowed from the caller's array */
    uint32_t count;
} PaxosMsg;

/* Encodes @m into @w (entries from m->entries). */
void paxos_encode(FlWriter *w, const PaxosMsg *m);
/* Decodes @len bytes into @m; entries go to @buf (capacity @cap, at most
 * PAXOS_MAX_ENTRIES).  Returns false for anything malformed: unknown type,
 * short or trailing bytes, too many entries, slots out of [1, @max_slot]. */
bool paxos_decode(const uint8_t *msg, size_t len, PaxosMsg *m, PaxosEntry *buf, uint32_t cap,
                  uint64_t max_slot);
/* FlProtocol.fields: ballots, slots, commit indexes, nonces and an
 * Accept's request id and value, at their offsets in @msg; 0 unless it
 * decodes (with any slot bound). */
int paxos_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max);
