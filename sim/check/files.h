/* sim/check/files.h: the `durable` checker, for file system histories.
 *
 * It reads a history of the `files` model (sim/workload/files.c) and
 * decides, from the history alone:
 *   - integrity, on every read: each 16-byte record is a record some write
 *     or append to that file made (well formed, its write invoked before
 *     the read ended, its index within that write), at the place that
 *     write put it when the write is known to have succeeded, and not from
 *     before a delete that ended before the read began (no resurrection):
 *     no read returns bytes that were never written;
 *   - durability, on the final reads (after the faults heal): every write
 *     and append acknowledged before the read, and not possibly deleted
 *     since, is there, unless a write that is not older overwrote it; and
 *     a file holding such a write is read successfully by at least one of
 *     its final reads that got an answer (else it is "unreadable");
 *   - the namespace: a create succeeds and a delete fails only when the
 *     file may be absent, a delete succeeds and a create fails only when
 *     it may be present.
 * Reads during the run that miss an acknowledged write are counted
 * (stale_reads) but do not decide the verdict. */
#pragma once

#include "sim/check/check.h"

/* Same contract as fl_check_file, for @model "files" and @consistency
 * "durable" (or NULL).  The JSON result also has reads, final_reads,
 * stale_reads, counts per violation kind (garbage, phantom, misplaced,
 * resurrected, lost, unreadable, namespace) and the first violations (at most 100). */
FlVerdict fl_check_files(const FlHistorySource *src, const char *consistency, const char *format,
                         GString *report, json_t **json_out, GError **err);
