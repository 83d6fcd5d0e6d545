/* protocols/shard/ring: where a key lives, for the sharded store.
 *
 * Three placements of keys on a set of members (replication groups), pure
 * functions with no node and no randomness of their own, so that tests can
 * call them directly:
 *   - consistent hashing (Karger et al. 1997) with virtual nodes: each
 *     member owns `vnodes` points on a 64-bit ring, and a key belongs to
 *     the first point clockwise from its hash.  A member that joins takes
 *     keys only from the members whose points follow its own; one that
 *     leaves gives its keys only to its successors;
 *   - modulo hashing: the key's hash modulo the number of members, over
 *     the members in ascending order.  Almost every key moves when the
 *     count changes: the contrast;
 *   - ranges: the key space [0, keyspace) cut into equal ranges, each
 *     assigned to a member by a table the caller keeps (shardkv.c).
 * Memory: an FlShardRing owns its points; free with shard_ring_free. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_MAX_MEMBERS 64
#define SHARD_MAX_VNODES 1024

typedef struct ShardRing ShardRing;

/* An empty ring; each member added gets @vnodes points (1 .. SHARD_MAX_VNODES). */
ShardRing *shard_ring_new(uint32_t vnodes);
void shard_ring_free(ShardRing *r);
/* Adds member @m (< SHARD_MAX_MEMBERS); a no-op if present. */
void shard_ring_add(ShardRing *r, uint32_t m);
/* Removes member @m; a no-op if absent. */
void shard_ring_remove(ShardRing *r, uint32_t m);
bool shard_ring_has(const ShardRing *r, uint32_t m);
uint32_t shard_ring_size(const ShardRing *r);   /* members */
/* The member that owns @key.  Precondition: the ring is not empty. */
uint32_t shard_ring_owner(const ShardRing *r, uint64_t key);

/* The hash every placement uses for a key. */
uint64_t shard_key_hash(uint64_t key);

/* Modulo placement over the @n members of @members (ascending). */
uint32_t shard_modulo_owner(const uint32_t *members, uint32_t n, uint64_t key);

/* Range placement: the range of @key when [0, @keyspace) is cut into
 * @ranges equal ranges (the last one takes the rest). */
uint32_t shard_range_of(uint64_t key, uint64_t keyspace, uint32_t ranges);

/* Figures over a sample of keys [0, @n): with owners before and after a
 * change in @before and @after (n each), the fraction of keys that moved,
 * and how many moved between two members that are neither @changed (the
 * member that joined or left; UINT32_MAX: none). */
double shard_moved_fraction(const uint32_t *before, const uint32_t *after, size_t n,
                            uint32_t changed, size_t *bystander_moves);
/* Load spread: the most keys any member of @members owns, over the mean
 * (1.0 is perfect balance). */
double shard_load_spread(const uint32_t *owners, size_t n, const uint32_t *members, uint32_t count);
