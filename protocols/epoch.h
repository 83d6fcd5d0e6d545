/* protocols/epoch: a node's incarnation number, kept on its disk.
 *
 * Each start (first or after a crash) gets one more than the last number on
 * disk, synced before anything else happens, so no two incarnations of a node
 * share one: peers tell a restarted node from its earlier self by it. */
#pragma once

#include "sim/node.h"

/* Reads the last epoch from the file "epoch", stores and syncs the next one,
 * and returns it (1 on a blank disk). */
uint64_t fl_epoch_next(FlNode *n);
