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

enum { REC_BASE = 1, REC_STATE = 2, REC_ENTRY = 3, REC_AMNESIA = 4 };
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

/* Sorts @v (@n values) in decreasing order.  Insertion sort: clusters are
 * a handful of nodes, and this runs on every AppendEntries reply. */
static void sort_desc(uint64_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        uint32_t k = i;
        for (; k > 0 && v[k - 1] < x; k--)
            v[k] = v[k - 1];
        v[k] = x;
    }
}

uint64_t raft_log_commit_index(const RaftLog *log, const uint64_t *match, uint32_t nodes,
                               uint64_t term, uint64_t commit, bool any_term)
{
    g_assert(nodes > 0);
    /* The majority-th highest match index: a majority holds it.  Most calls
     * (heartbeat replies) find no majority past @commit: no need to sort. */
    uint32_t past = 0;
    for (uint32_t i = 0; i < nodes; i++)
        past += match[i] > commit;
    if (past < nodes / 2 + 1)
        return commit;
    uint64_t small[16];
    uint64_t *big = nodes > G_N_ELEMENTS(small) ? g_new(uint64_t, nodes) : NULL;
    uint64_t *sorted = big ? big : small;
    memcpy(sorted, match, nodes * sizeof *sorted);
    sort_desc(sorted, nodes);
    uint64_t n = sorted[nodes / 2];
    if (big)
        g_free(big);
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

void raft_wal_put_amnesia(FlWriter *w, uint64_t term)
{
    size_t at = record_begin(w, REC_AMNESIA);
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
    case REC_AMNESIA:
        term = fl_get_u64(r);
        if (!fl_reader_done(r) || term > RAFT_MAX_INDEX)
            return false;
        d->amnesia_term = term;
        return true;
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
        d->amnesia_term = 0;
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
