/* The acceptor journal of Multi-Paxos and Fast Paxos (journal.h). */
#include "protocols/paxos/journal.h"

#include "protocols/raft/raft.h"   /* raft_crc32: one CRC-32 for the tree */

enum { KIND_BEGIN = 'B', KIND_END = 'E' };

void paxos_journal_put(FlWriter *w, const void *body, size_t len)
{
    g_assert(len > 0 && len <= UINT32_MAX);
    fl_put_u32(w, (uint32_t)len);
    fl_put_raw(w, body, len);
    fl_put_u32(w, raft_crc32(body, len, 0));
}

void paxos_journal_begin(FlWriter *w)
{
    uint8_t k = KIND_BEGIN;
    paxos_journal_put(w, &k, 1);
}

void paxos_journal_end(FlWriter *w)
{
    uint8_t k = KIND_END;
    paxos_journal_put(w, &k, 1);
}

bool paxos_journal_replay(const uint8_t *p, size_t len, bool verify, PaxosJournalApply apply,
                          void *ctx)
{
    FlReader r;
    fl_reader_init(&r, p, p ? len : 0);
    bool open = false;   /* inside a checkpoint whose 'E' we have not read */
    while (fl_reader_left(&r) > 0) {
        uint32_t n = fl_get_u32(&r);
        const uint8_t *body = n ? fl_get_raw(&r, n) : NULL;
        uint32_t crc = fl_get_u32(&r);
        if (!body || !fl_reader_ok(&r) || (verify && raft_crc32(body, n, 0) != crc))
            return false;
        if (body[0] == KIND_BEGIN || body[0] == KIND_END) {
            if (n != 1)
                return false;
            open = body[0] == KIND_BEGIN;
            continue;
        }
        FlReader br;
        fl_reader_init(&br, body, n);
        if (!apply(ctx, &br))
            return false;
    }
    return !open;
}
