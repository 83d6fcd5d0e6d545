/* Raft's log: the entries after the snapshot, the pure rules that decide on
 * them, and their encoding on disk.
 *
 * Design notes.
 * 1. Nothing here sends, arms timers or touches the disk: these functions
 *    compute, and raft.c decides what to do with the result.  That is what
 *    lets tests/raft/test_log.c check the rules one input at a time.
 * 2. An index at or below the base is covered by the snapshot, which holds
 *    only committed entries; by the Log Matching and Leader Completeness
 *    properties such an entry equals the leader's, so the rules treat it as
 *    matching.
 * 3. Terms never decrease along a log (a leader appends entries of its own
 *    term, which is the highest it has seen).  The commit rule relies on it:
 *    if the entry a majority holds is of an older term, so is every entry
 *    before it, and nothing can be committed by counting.
 * 4. The WAL is append-only between rewrites, so that a crash loses at
 *    most the unsynced tail and a sync copies only what was appended.  A
 *    record carries its own length and checksum: replay keeps every whole
 *    record up to the first bad one and treats the rest as never written.
 *    A rewrite goes to the other of two files, so that tearing it cannot
 *    take the previous WAL down with it. */
#include "protocols/raft/raft.h"

#include <string.h>

enum { REC_BASE = 1, REC_STATE = 2, REC_ENTRY = 3 };
enum { SNAP_MAGIC = 0x53544652u };   /* "RFTS" */

void raft_log_init(RaftLog *log)
{
    log->entries = g_array_new(FALSE, FALSE, sizeof(RaftEntry));
    log->base = 0;
    log->base_term = 0;
}

void raft_log_deinit(RaftLog *log)
{
    if (log->entries)
        g_array_free(log->entries, TRUE);
    log->entries = NULL;
}

void raft_log_clear(RaftLog *log, uint64_t base, uint64_t base_term)
{
    g_array_set_size(log->entries, 0);
    log->base = base;
    log->base_term = base_term;
}

uint64_t raft_log_last_index(const RaftLog *log)
{
    return log->base + log->entries->len;
}

uint64_t raft_log_last_term(const RaftLog *log)
{
    if (log->entries->len == 0)
        return log->base_term;
    return g_array_index(log->entries, RaftEntry, log->entries->len - 1).term;
}

bool raft_log_term_at(const RaftLog *log, uint64_t index, uint64_t *term)
{
    if (index == log->base) {
        *term = log->base_term;
        return true;
    }
    if (index < log->base || index > raft_log_last_index(log))
        return false;
    *term = g_array_index(log->entries, RaftEntry, index - log->base - 1).term;
    return true;
}

const RaftEntry *raft_log_get(const RaftLog *log, uint64_t index)
{
    if (index <= log->base || index > raft_log_last_index(log))
        return NULL;
    return &g_array_index(log->entries, RaftEntry, index - log->base - 1);
}

void raft_log_append(RaftLog *log, const RaftEntry *e)
{
    /* Terms do not decrease along the log (note 3), but that is for the
     * callers to keep: the no-log-check bug breaks it, and must not crash. */
    g_array_append_val(log->entries, *e);
}

void raft_log_truncate_after(RaftLog *log, uint64_t index)
{
    g_assert(index >= log->base);
    if (index < raft_log_last_index(log))
        g_array_set_size(log->entries, (guint)(index - log->base));
}

bool raft_log_up_to_date(uint64_t my_term, uint64_t my_index, uint64_t last_term,
                         uint64_t last_index)
{
    if (last_term != my_term)
        return last_term > my_term;
    return last_index >= my_index;
}

bool raft_log_match(const RaftLog *log, uint64_t prev_index, uint64_t prev_term)
{
    if (prev_index < log->base)
        return true;   /* note 2 */
    uint64_t t;
    return raft_log_term_at(log, prev_index, &t) && t == prev_term;
}

uint64_t raft_log_merge(RaftLog *log, uint64_t prev_index, const RaftEntry *entries,
                        size_t n)
{
    uint64_t first = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t index = prev_index + 1 + k;
        if (index <= log->base)
            continue;   /* note 2 */
        if (index <= raft_log_last_index(log)) {
            const RaftEntry *have = raft_log_get(log, index);
            if (have->term == entries[k].term)
                continue;
            /* Rule 3: a conflict; it and everything after it go. */
            raft_log_truncate_after(log, index - 1);
        }
        g_assert(index == raft_log_last_index(log) + 1);
        raft_log_append(log, &entries[k]);
        if (!first)
            first = index;
    }
    return first;
}

uint64_t raft_log_conflict_hint(const RaftLog *log, uint64_t prev_index, uint64_t commit)
{
    g_assert(prev_index > 0);
    uint64_t last = raft_log_last_index(log);
    if (prev_index > last)
        return last;
    uint64_t t, u;
    if (!raft_log_term_at(log, prev_index, &t))
        return prev_index - 1;
    uint64_t i = prev_index;
    while (i - 1 > log->base && raft_log_term_at(log, i - 1, &u) && u == t)
        i--;
    uint64_t hint = i - 1;
    if (hint < commit)
        hint = commit;
    if (hint >= prev_index)
        hint = prev_index - 1;
    return hint;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

uint64_t raft_log_commit_index(const RaftLog *log, const uint64_t *match, uint32_t nodes,
                               uint64_t term, uint64_t commit, bool any_term)
{
    g_assert(nodes > 0);
    g_autofree uint64_t *sorted = g_new(uint64_t, nodes);
    memcpy(sorted, match, nodes * sizeof *sorted);
    qsort(sorted, nodes, sizeof *sorted, cmp_desc);
    /* The majority-th highest match index: a majority holds it. */
    uint64_t n = sorted[nodes / 2];
    if (n <= commit || n > raft_log_last_index(log))
        return commit;
    uint64_t t;
    if (!raft_log_term_at(log, n, &t))
        return commit;
    if (!any_term && t != term)
        return commit;   /* note 3: nothing lower is of this term either */
    return n;
}

void raft_log_install(RaftLog *log, uint64_t index, uint64_t term)
{
    uint64_t t;
    if (index >= log->base && raft_log_term_at(log, index, &t) && t == term) {
        g_array_remove_range(log->entries, 0, (guint)(index - log->base));
        log->base = index;
        log->base_term = term;
    } else {
        raft_log_clear(log, index, term);
    }
}

void raft_log_compact(RaftLog *log, uint64_t index)
{
    g_assert(index > log->base);
    g_assert(index <= raft_log_last_index(log));
    uint64_t t;
    g_assert(raft_log_term_at(log, index, &t));
    g_array_remove_range(log->entries, 0, (guint)(index - log->base));
    log->base = index;
    log->base_term = t;
}

/* ---- Persistence ---------------------------------------------------- */

/* CRC-32 (IEEE, reflected 0xEDB88320), a byte at a time from a table: the
 * WAL checksums every record, and eight shifts per byte were a tenth of a
 * run's time. */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t raft_crc32(const void *data, size_t len, uint32_t crc)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = (crc >> 8) ^ crc_table[(crc ^ p[i]) & 0xff];
    return ~crc;
}

static size_t record_begin(FlWriter *w, uint8_t type)
{
    size_t at = w->len;
    fl_put_u32(w, 0);   /* length, patched by record_end */
    fl_put_u8(w, type);
    return at;
}

static void record_end(FlWriter *w, size_t at)
{
    size_t body = at + 4;
    uint32_t len = (uint32_t)(w->len - body);
    for (int i = 0; i < 4; i++)
        w->data[at + (size_t)i] = (uint8_t)(len >> (8 * i));
    fl_put_u32(w, raft_crc32(w->data + body, len, 0));
}

void raft_wal_put_state(FlWriter *w, uint64_t term, uint32_t vote)
{
    size_t at = record_begin(w, REC_STATE);
    fl_put_u64(w, term);
    fl_put_u32(w, vote);
    record_end(w, at);
}

void raft_wal_put_entry(FlWriter *w, uint64_t index, const RaftEntry *e)
{
    size_t at = record_begin(w, REC_ENTRY);
    fl_put_u64(w, index);
    fl_put_u64(w, e->term);
    fl_request_encode(w, &e->req);
    record_end(w, at);
}

void raft_wal_put_base(FlWriter *w, uint64_t gen, uint64_t index, uint64_t term)
{
    size_t at = record_begin(w, REC_BASE);
    fl_put_u64(w, gen);
    fl_put_u64(w, index);
    fl_put_u64(w, term);
    record_end(w, at);
}

void raft_wal_put_all(FlWriter *w, uint64_t gen, const RaftLog *log, uint64_t term,
                      uint32_t vote)
{
    raft_wal_put_base(w, gen, log->base, log->base_term);
    raft_wal_put_state(w, term, vote);
    for (uint64_t i = log->base + 1; i <= raft_log_last_index(log); i++)
        raft_wal_put_entry(w, i, raft_log_get(log, i));
}

/* Applies one record's body to the log; false if it makes no sense.  The
 * first record must be BASE, the second STATE. */
static bool replay_record(FlReader *r, RaftLog *log, RaftDurable *d)
{
    uint8_t type = fl_get_u8(r);
    uint64_t index, term, gen;
    if ((d->records == 0) != (type == REC_BASE) || (d->records == 1 && type != REC_STATE))
        return false;
    switch (type) {
    case REC_BASE:
        gen = fl_get_u64(r);
        index = fl_get_u64(r);
        term = fl_get_u64(r);
        if (!fl_reader_done(r) || index > RAFT_MAX_INDEX || term > RAFT_MAX_INDEX ||
            (index == 0) != (term == 0))
            return false;
        d->gen = gen;
        raft_log_clear(log, index, term);
        return true;
    case REC_STATE:
        term = fl_get_u64(r);
        d->vote = fl_get_u32(r);
        if (!fl_reader_done(r) || term > RAFT_MAX_INDEX)
            return false;
        d->term = term;
        d->whole = true;
        return true;
    case REC_ENTRY: {
        RaftEntry e;
        index = fl_get_u64(r);
        e.term = fl_get_u64(r);
        if (!fl_request_decode(r, &e.req) || !fl_reader_done(r))
            return false;
        if (index <= log->base || index > raft_log_last_index(log) + 1 || e.term == 0 ||
            e.term > RAFT_MAX_INDEX)
            return false;
        raft_log_truncate_after(log, index - 1);
        raft_log_append(log, &e);
        return true;
    }
    default:
        return false;
    }
}

void raft_wal_replay(const uint8_t *p, size_t len, RaftLog *log, RaftDurable *d)
{
    raft_log_clear(log, 0, 0);
    *d = (RaftDurable){ .term = 0, .vote = RAFT_NO_NODE };
    FlReader r;
    fl_reader_init(&r, p, len);
    while (fl_reader_left(&r) > 0) {
        uint32_t n = fl_get_u32(&r);
        const uint8_t *body = n ? fl_get_raw(&r, n) : NULL;
        uint32_t crc = fl_get_u32(&r);
        if (!body || !fl_reader_ok(&r) || raft_crc32(body, n, 0) != crc) {
            d->torn = true;
            break;
        }
        FlReader br;
        fl_reader_init(&br, body, n);
        if (!replay_record(&br, log, d)) {
            d->torn = true;
            break;
        }
        d->records++;
    }
    if (!d->whole) {
        /* Not even a base and a state: nothing usable. */
        raft_log_clear(log, 0, 0);
        d->term = 0;
        d->vote = RAFT_NO_NODE;
    }
}

void raft_snap_put(FlWriter *w, uint64_t index, uint64_t term, const uint8_t *data, size_t len)
{
    size_t at = w->len;
    fl_put_u32(w, SNAP_MAGIC);
    fl_put_u64(w, index);
    fl_put_u64(w, term);
    fl_put_bytes(w, data, len);
    fl_put_u32(w, raft_crc32(w->data + at, w->len - at, 0));
}

bool raft_snap_get(const uint8_t *p, size_t len, uint64_t *index, uint64_t *term,
                   const uint8_t **data, size_t *data_len)
{
    if (!p || len < 4)
        return false;
    FlReader r;
    fl_reader_init(&r, p, len - 4);
    uint32_t magic = fl_get_u32(&r);
    *index = fl_get_u64(&r);
    *term = fl_get_u64(&r);
    *data = fl_get_bytes(&r, data_len);
    if (!fl_reader_done(&r) || magic != SNAP_MAGIC || *index == 0 || *term == 0 ||
        *index > RAFT_MAX_INDEX || *term > RAFT_MAX_INDEX)
        return false;
    FlReader c;
    fl_reader_init(&c, p + len - 4, 4);
    return fl_get_u32(&c) == raft_crc32(p, len - 4, 0);
}
