/* protocols/vr: Viewstamped Replication Revisited's messages, shared by its
 * two files.
 *
 *   msg.c  the messages and their encode/decode; a decode validates every
 *          field and fails rather than trust a peer.
 *   vr.c   the replica: state, handlers for messages, timers and client
 *          requests, and the protocol table.
 *
 * References are to Liskov and Cowling, "Viewstamped Replication
 * Revisited", MIT-CSAIL-TR-2012-021 (2012): §4.1 normal operation, §4.2
 * view changes, §4.3 recovery, §5.2 state transfer.
 *
 * Memory: a decoded VrMsg owns its entries (vr_msg_clear frees them);
 * everything else is borrowed for the duration of a call. */
#pragma once

#include "sim/node.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Bounds on what a peer may send; anything larger is refused at decode.
 * VR ships whole logs in DoViewChange, StartView and RecoveryResponse
 * (§4.2, §4.3), so the log itself is bounded: 16,384 entries of 34 bytes
 * fit in one message under FL_MAX_MESSAGE.  A primary whose log is full
 * fails new requests (vr.c note 8). */
#define VR_MAX_LOG 16384u
#define VR_MAX_VIEW (UINT64_MAX / 4)   /* views stay below, so view + 1 never wraps */

typedef enum {
    VR_PREPARE = 1,         /* primary -> backups: ops first..op, and the commit number */
    VR_PREPARE_OK,          /* backup -> primary: my log holds ops 1..op of this view */
    VR_COMMIT,              /* primary -> backups when idle: the commit number */
    VR_START_VIEW_CHANGE,   /* everyone: I moved to view `view` */
    VR_DO_VIEW_CHANGE,      /* -> the new primary: my log, last normal view, commit */
    VR_START_VIEW,          /* new primary -> all: the log of the new view */
    VR_RECOVERY,            /* recovering replica -> all: nonce */
    VR_RECOVERY_RESPONSE,   /* -> recovering replica: view, nonce; the primary adds its log */
    VR_GET_STATE,           /* lagging replica -> primary: send me what follows op */
    VR_NEW_STATE,           /* -> lagging replica: ops after its op, and the commit number */
    VR_MSG_MAX,
} VrMsgType;

/* One wire layout for every message, with fixed offsets (for `fields`):
 *   u8 type | u64 view | u64 op | u64 commit | u64 aux | u8 flag | u32 n | n requests
 * op: the sender's op-number (PREPARE, NEW_STATE: of the last entry sent;
 * GET_STATE: the requester's); aux: the last normal view (DO_VIEW_CHANGE)
 * or the nonce (RECOVERY, RECOVERY_RESPONSE); flag: 1 in a
 * RECOVERY_RESPONSE from the primary, which alone carries a log there.
 * The n entries are ops op-n+1 .. op. */
#define VR_OFF_VIEW 1
#define VR_OFF_OP 9
#define VR_OFF_COMMIT 17
#define VR_OFF_AUX 25
#define VR_OFF_FLAG 33
#define VR_OFF_N 34
#define VR_HEADER 38

typedef struct VrMsg {
    uint8_t type;
    uint64_t view, op, commit, aux;
    bool primary;
    uint32_t n;
    FlRequest *entries;     /* n of them, owned (NULL when n is 0) */
} VrMsg;

/* The first op number the entries of @m carry (op - n + 1). */
static inline uint64_t vr_msg_first(const VrMsg *m)
{
    return m->op - m->n + 1;
}

/* Encodes @m, whose entries are @m->entries (borrowed). */
void vr_msg_encode(FlWriter *w, const VrMsg *m);
/* Decodes and validates @len bytes of @p into @m: a known type, bounds on
 * views and op numbers, commit <= op, entries only where the type carries
 * them, whole logs (n == op) where it must, nothing left over.  Returns
 * false for anything malformed (then @m holds nothing to free); on success
 * the caller frees with vr_msg_clear. */
bool vr_msg_decode(const uint8_t *p, size_t len, VrMsg *m);
void vr_msg_clear(VrMsg *m);

/* Two requests are the same command (field by field: FlRequest has
 * padding). */
static inline bool vr_request_eq(const FlRequest *a, const FlRequest *b)
{
    return a->client == b->client && a->id == b->id && a->op.kind == b->op.kind &&
           a->op.flags == b->op.flags && a->op.key == b->op.key && a->op.a == b->op.a &&
           a->op.b == b->op.b;
}

/* FlProtocol.msg_kind: the message's name, or NULL unless @p decodes. */
const char *vr_msg_kind(const uint8_t *p, size_t len);
/* FlProtocol.fields: view, op and commit at their fixed offsets; 0 unless
 * @p decodes. */
int vr_msg_fields(const uint8_t *p, size_t len, FlMsgField *out, int max);
