/* protocols/swim.h: the SWIM membership protocol's message codec and the
 * rule that orders updates about a member (protocols/swim.c, notes 4 and
 * 8), exposed for the unit tests (tests/course/test_swim.c).
 *
 * Memory: nothing here allocates; the caller owns every buffer and
 * message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWIM_MAX_NODES 64
/* The largest encoded message: a JOIN-ACK listing every member. */
#define SWIM_MSG_MAX (19 + SWIM_MAX_NODES * 21)

enum { SWIM_PING = 0x71, SWIM_ACK, SWIM_PING_REQ, SWIM_JOIN, SWIM_JOIN_ACK };
/* The kinds of update gossiped about a member. */
enum { SWIM_ALIVE = 1, SWIM_SUSPECT, SWIM_DEAD };
/* A member's status in one node's view; NONE: not (yet) a member. */
enum { SWIM_S_NONE = 0, SWIM_S_ALIVE, SWIM_S_SUSPECT, SWIM_S_DEAD };

typedef struct SwimUpdate {
    uint8_t kind;
    uint32_t member;
    uint64_t inc, born;   /* born: the creator's local time (note 9) */
} SwimUpdate;

typedef struct SwimMsg {
    uint8_t type;
    uint64_t seq;
    uint32_t target, origin;
    uint8_t count;
    SwimUpdate upd[SWIM_MAX_NODES];
} SwimMsg;

/* Encodes @m into @buf (@cap >= SWIM_MSG_MAX, borrowed); returns the
 * length. */
size_t swim_encode(const SwimMsg *m, uint8_t *buf, size_t cap);
/* Decodes @len bytes of @buf into @m (the caller's); false when they are
 * not one well-formed message of a cluster of @nodes nodes (a short or
 * long buffer, an unknown type or kind, a node out of range, more updates
 * than nodes), and the message must then be dropped. */
bool swim_decode(const uint8_t *buf, size_t len, uint32_t nodes, SwimMsg *m);
/* Note 4: the status a member held as @status with incarnation @inc takes
 * after update @u, or SWIM_S_NONE when @u does not win (is old news).
 * With @suspicion false a SUSPECT counts as a DEAD (note 3). */
uint8_t swim_wins(uint8_t status, uint64_t inc, const SwimUpdate *u, bool suspicion);
