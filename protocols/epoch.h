/* protocols/epoch: a node's incarnation number, kept on its disk.
 *
 * Each start (first or after a crash) gets one more than the last number on
 * disk, synced before anything else happens, so no two incarnations of a node
 * share one: peers tell a restarted node from its earlier self by it.
 *
 * The number is kept twice ("epoch" and "epoch.b"), each copy with a
 * CRC-32, written and synced one after the other.  A disk fault damages one
 * block of one file, and a torn write only the copy being written, so one
 * copy always reads back whole, and it is never older than the last number
 * handed out: the next one is one more than the larger whole copy.  A
 * damaged copy is reported, not believed (a flipped byte could otherwise
 * hand out an old number again). */
#pragma once

#include <stdbool.h>

#include "sim/node.h"

/* Reads the last epoch, stores and syncs the next one, and returns it (1 on
 * a blank disk).  With @damaged non-NULL, sets it when a copy on disk failed
 * its check. */
uint64_t fl_epoch_next_checked(FlNode *n, bool *damaged);
static inline uint64_t fl_epoch_next(FlNode *n)
{
    return fl_epoch_next_checked(n, NULL);
}
