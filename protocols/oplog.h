/* protocols/oplog: a durable log of client requests on a node's disk.
 *
 * Shared by the simple protocols: append a request and sync before acting
 * on it; after a crash, replay what survived.  Records are fixed-size
 * encodings of FlRequest; a torn tail (a partial record) is ignored. */
#pragma once

#include "sim/node.h"

/* Appends @req to @file and syncs it. */
void fl_oplog_append(FlNode *n, const char *file, const FlRequest *req);
/* Calls @fn for every whole record in @file, in order; returns the count. */
uint64_t fl_oplog_replay(FlNode *n, const char *file,
                         void (*fn)(void *ctx, const FlRequest *req), void *ctx);
