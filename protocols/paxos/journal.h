/* protocols/paxos/journal: the acceptor's durable record file, shared by
 * Multi-Paxos and Fast Paxos.
 *
 * A journal is a sequence of records, each framed as
 *     u32 length, body, u32 crc32(body)
 * (the CRC-32 of protocols/raft/crc32.c), so that a torn write or flipped
 * bytes show up at restart instead of being believed.  A body starts with
 * a kind byte that the protocol chooses; the journal reserves two kinds,
 * 'B' and 'E', that bracket a checkpoint: a file rewritten whole starts
 * with 'B' and is complete only once its 'E' is read, so a rewrite torn at
 * a record boundary is still seen as damage. */
#pragma once

#include "sim/codec.h"

#include <stdbool.h>
#include <stddef.h>

/* Appends one framed record whose body is @body (@len bytes, copied). */
void paxos_journal_put(FlWriter *w, const void *body, size_t len);
/* Appends the 'B' and 'E' records that open and close a checkpoint. */
void paxos_journal_begin(FlWriter *w);
void paxos_journal_end(FlWriter *w);

/* Applies one record; @body is borrowed for the call and holds the body
 * (kind byte first).  Returns false if the body does not make sense, which
 * stops the replay as damage. */
typedef bool (*PaxosJournalApply)(void *ctx, FlReader *body);

/* Replays the @len bytes at @p (NULL when the file does not exist): calls
 * @apply for each record in order, up to the first one that is cut short,
 * fails its checksum (unless !@verify: the `trust-disk` bugs) or that
 * @apply refuses.  Returns true if every byte replayed and no checkpoint
 * was left open: the file is what was synced.  False means something that
 * was synced (and perhaps answered on) is gone or unreadable. */
bool paxos_journal_replay(const uint8_t *p, size_t len, bool verify, PaxosJournalApply apply,
                          void *ctx);
