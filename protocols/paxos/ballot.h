/* protocols/paxos/ballot: ballot numbers and voter sets shared by Multi-Paxos
 * and Fast Paxos.
 *
 * A ballot is (round << 12) | node: ballots of two proposers never tie, the
 * proposer of a ballot can be read from it, and 0 means "none".  A voter set
 * is a 64-bit mask of node ids, which bounds these protocols to 64 nodes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PAXOS_NODE_BITS 12
#define PAXOS_MAX_NODES 64

static inline uint64_t paxos_ballot(uint64_t round, uint32_t node)
{
    return (round << PAXOS_NODE_BITS) | node;
}

static inline uint32_t paxos_ballot_node(uint64_t b)
{
    return (uint32_t)(b & ((1u << PAXOS_NODE_BITS) - 1));
}

/* The smallest ballot owned by @node that is greater than @b. */
static inline uint64_t paxos_ballot_above(uint64_t b, uint32_t node)
{
    return paxos_ballot((b >> PAXOS_NODE_BITS) + 1, node);
}

static inline uint64_t paxos_bit(uint32_t node)
{
    return node < PAXOS_MAX_NODES ? 1ull << node : 0;
}

static inline uint32_t paxos_count(uint64_t set)
{
    return (uint32_t)__builtin_popcountll(set);
}

/* A classic quorum: a strict majority. */
static inline uint32_t paxos_majority(uint32_t n)
{
    return n / 2 + 1;
}

/* A fast quorum for Fast Paxos with majority classic quorums: ceil(3n/4),
 * and never less than a majority. */
static inline uint32_t paxos_fast_quorum(uint32_t n)
{
    uint32_t q = (3 * n + 3) / 4;
    return q < paxos_majority(n) ? paxos_majority(n) : q;
}

#include "sim/store.h"

/* Two log values are the same command (compared field by field: the structs
 * have padding). */
static inline bool paxos_value_eq(const FlRequest *a, const FlRequest *b)
{
    return a->client == b->client && a->id == b->id && a->op.kind == b->op.kind &&
           a->op.key == b->op.key && a->op.a == b->op.a && a->op.b == b->op.b;
}

#include "sim/time.h"

/* Local time elapsed since @since: 0 if the clock was set back since
 * (a clock fault must not make every timeout fire at once). */
static inline FlTime paxos_elapsed(FlTime now, FlTime since)
{
    return now > since ? now - since : 0;
}
