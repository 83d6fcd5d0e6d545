/* protocols/election: leader election without consensus, Bully
 * (bully.c) and Chang-Roberts on a ring (ring.c), and what they share:
 * the log the `one-leader` checker reads (sim/check/election.c), the
 * epoch kept on disk, and the message header.
 *
 * The log ("log" on disk, synced, served by the final read):
 *   "election node=I nodes=N algo=NAME"
 *   "v TIME EPOCH LEADER"   from TIME (this node's clock) on, the node
 *                           follows LEADER, elected in EPOCH; LEADER == I:
 *                           the node claims leadership of EPOCH
 *   "n TIME"                the node has no leader (an election runs)
 *   "up TIME"               the node restarted
 *   "full"                  the log reached its bound; nothing follows */
#pragma once

#include "protocols/eventlog.h"
#include "sim/node.h"

#include <stdint.h>

#define EL_MAX_NODES 64

/* Writes the header on a first start; a restart appends "up". */
void el_log_start(FlNode *n, const char *algo, bool restart);
/* Logs a change of view: @leader < 0 is "no leader". */
void el_log_view(FlNode *n, uint64_t epoch, int64_t leader);
/* The largest epoch the log names (0 when none): a restarted node never
 * reuses an epoch it saw. */
uint64_t el_log_max_epoch(FlNode *n);

/* Every message: u8 type, u64 epoch, u32 id (a candidate or leader). */
typedef struct ElMsg {
    uint8_t type;
    uint64_t epoch;
    uint32_t id;
} ElMsg;

size_t el_encode(const ElMsg *m, uint8_t *buf, size_t cap);
/* False when @msg is not a message of these protocols (dropped). */
bool el_decode(const uint8_t *msg, size_t len, uint32_t nodes, ElMsg *m);
void el_send(FlNode *n, uint32_t to, uint8_t type, uint64_t epoch, uint32_t id);
