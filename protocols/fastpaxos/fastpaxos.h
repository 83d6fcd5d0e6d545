/* protocols/fastpaxos/fastpaxos: Fast Paxos, the parts that tests call.
 *
 * The protocol is fl_proto_fastpaxos; this header exposes the recovery
 * rule (Lamport, "Fast Paxos", 2006, rule O4) and the message codec. */
#pragma once

#include "protocols/paxos/ballot.h"
#include "sim/node.h"

/* Rounds: (ballot << 8) | sub.  Sub-round 0 of a ballot is its fast round;
 * sub-rounds 1..255 are classic rounds run by the same coordinator (the
 * ballot's owner), used to recover from collisions. */
#define FP_SUB_BITS 8
#define FP_SUB_MAX 255u

static inline uint64_t fp_round(uint64_t ballot, uint32_t sub) { return (ballot << FP_SUB_BITS) | sub; }
static inline uint64_t fp_round_ballot(uint64_t r) { return r >> FP_SUB_BITS; }
static inline uint32_t fp_round_sub(uint64_t r) { return (uint32_t)(r & FP_SUB_MAX); }
static inline bool fp_round_fast(uint64_t r) { return r != 0 && fp_round_sub(r) == 0; }

/* One acceptor's phase-1b report for one slot: the round of its last vote
 * (0: never voted) and the value. */
typedef struct FpVote {
    uint64_t rnd;
    FlRequest value;
} FpVote;

typedef enum {
    FP_PICK_FREE = 0,   /* nobody in the quorum voted: any value (a no-op) */
    FP_PICK_VALUE,      /* *out may have been chosen (or was voted in a classic round): propose it */
    FP_PICK_ANY,        /* fast-round votes, none of which can have been chosen: *out is the most voted */
} FpPick;

/* Rule O4 ("Fast Paxos" section 3.3, figure 2): picks the value the
 * coordinator of a classic round must propose in a slot, from the reports
 * of a quorum Q (@q reports, one per acceptor of Q, majority or more) of @n
 * acceptors.  Let k be the highest round reported.  If k is classic, its
 * value.  If k is fast, the value v voted in k by at least
 * fast_quorum(n) - (n - q) members of Q, if any: only such a v can have
 * been chosen in k (there is a fast quorum R with R ∩ Q all voting v), and
 * the quorum sizes make it unique.  Otherwise any value. */
FpPick fp_pick(const FpVote *reports, uint32_t q, uint32_t n, FlRequest *out);

/* Collision test for a fast round: given the largest number of votes for
 * one value (@top) among @voted votes received of @n, true when no value can
 * reach a fast quorum any more. */
static inline bool fp_collided(uint32_t top, uint32_t voted, uint32_t n)
{
    return top + (n - voted) < paxos_fast_quorum(n);
}

/* ---- Messages ------------------------------------------------------- */

enum {
    FP_PREPARE = 1,   /* phase 1a for a ballot: ballot, slot (= first slot) */
    FP_PROMISE,       /* 1b: ballot, slot, more, last, entries (slot, rnd, value) */
    FP_ANY,           /* 2a "any" for the fast round: ballot, slot (= first open slot) */
    FP_ACCEPT,        /* classic 2a: rnd, slot, value */
    FP_ACCEPTED,      /* 2b: rnd, slot, value */
    FP_RECOVER,       /* 1a for one slot's classic round: rnd, slot */
    FP_RECOVERED,     /* its 1b: rnd, slot, vote (entries[0]: rnd, value; count 0 or 1) */
    FP_NACK,          /* ballot */
    FP_DECIDE,        /* entries (slot, value) */
    FP_HEARTBEAT,     /* ballot, commit, slot (= first open slot) */
    FP_HEARTBEAT_ACK, /* ballot, commit */
    FP_REJOIN,        /* nonce: an acceptor back from a damaged disk asks (note 9) */
    FP_REJOIN_ACK,    /* nonce, ballot (promised), last (highest slot with a vote, promise or decision) */
};

#define FP_MAX_ENTRIES 4096u

typedef struct FpEntry {
    uint64_t slot;
    uint64_t rnd;
    FlRequest value;
} FpEntry;

typedef struct FpMsg {
    uint8_t type;
    uint64_t ballot;     /* PREPARE, PROMISE, ANY, NACK, HEARTBEAT(_ACK) */
    uint64_t rnd;        /* ACCEPT, ACCEPTED, RECOVER, RECOVERED */
    uint64_t slot;
    uint64_t commit;
    uint64_t nonce;      /* REJOIN(_ACK): names one recovery, so that old answers do not count */
    bool more;
    uint64_t last;
    FlRequest value;     /* ACCEPT, ACCEPTED */
    FpEntry *entries;
    uint32_t count;
} FpMsg;

void fp_encode(FlWriter *w, const FpMsg *m);
/* Returns false for anything malformed (see paxos_decode). */
bool fp_decode(const uint8_t *msg, size_t len, FpMsg *m, FpEntry *buf, uint32_t cap,
               uint64_t max_slot);
/* FlProtocol.fields: ballots, rounds, slots, commit indexes, nonces and
 * an Accept's or Accepted's request id and value, at their offsets in
 * @msg; 0 unless it decodes (with any slot bound). */
int fp_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max);
