/* Raft's log rules, one input at a time: the pure functions of
 * protocols/raft/log.c (log matching, conflict truncation, the conflict
 * hint, the commit rule of Figure 8, snapshots) and the write-ahead log's
 * encoding, including torn and corrupt tails. */
#include "protocols/raft/raft.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* A log holding entries of the given terms at indexes base+1, base+2, ... */
static void make_log(RaftLog *log, uint64_t base, uint64_t base_term, const uint64_t *terms,
                     size_t n)
{
    raft_log_init(log);
    raft_log_clear(log, base, base_term);
    for (size_t i = 0; i < n; i++) {
        RaftEntry e = { .term = terms[i] };
        e.req.client = 100;
        e.req.id = base + 1 + i;
        e.req.op.kind = FL_OP_APPEND;
        e.req.op.a = (int64_t)(base + 1 + i);
        raft_log_append(log, &e);
    }
}

static void assert_terms(const RaftLog *log, const uint64_t *terms, size_t n)
{
    assert_int_equal(raft_log_last_index(log), log->base + n);
    for (size_t i = 0; i < n; i++) {
        uint64_t t;
        assert_true(raft_log_term_at(log, log->base + 1 + i, &t));
        assert_int_equal(t, terms[i]);
    }
}

static void assert_req_equal(const FlRequest *a, const FlRequest *b)
{
    assert_int_equal(a->client, b->client);
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->op.kind, b->op.kind);
    assert_int_equal(a->op.flags, b->op.flags);
    assert_int_equal(a->op.key, b->op.key);
    assert_int_equal(a->op.a, b->op.a);
    assert_int_equal(a->op.b, b->op.b);
}

static RaftEntry entry(uint64_t term, int64_t a)
{
    RaftEntry e = { .term = term };
    e.req.client = 200;
    e.req.id = (uint64_t)a;
    e.req.op.kind = FL_OP_PUT;
    e.req.op.a = a;
    return e;
}

static void test_empty(void **state)
{
    RaftLog log;
    raft_log_init(&log);
    uint64_t t = 99;
    assert_int_equal(raft_log_last_index(&log), 0);
    assert_int_equal(raft_log_last_term(&log), 0);
    assert_true(raft_log_term_at(&log, 0, &t));
    assert_int_equal(t, 0);
    assert_false(raft_log_term_at(&log, 1, &t));
    assert_null(raft_log_get(&log, 0));
    assert_null(raft_log_get(&log, 1));
    raft_log_deinit(&log);
}

/* §5.4.1: the later last term wins; with equal terms the longer log. */
static void test_up_to_date(void **state)
{
    assert_true(raft_log_up_to_date(2, 5, 3, 1));
    assert_false(raft_log_up_to_date(3, 1, 2, 9));
    assert_true(raft_log_up_to_date(3, 5, 3, 5));
    assert_true(raft_log_up_to_date(3, 5, 3, 6));
    assert_false(raft_log_up_to_date(3, 5, 3, 4));
    assert_true(raft_log_up_to_date(0, 0, 0, 0));
}

/* Figure 2, AppendEntries rule 2. */
static void test_match(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 1, 1, 2, 3 };
    make_log(&log, 0, 0, terms, 4);
    assert_true(raft_log_match(&log, 0, 0));
    assert_true(raft_log_match(&log, 3, 2));
    assert_false(raft_log_match(&log, 3, 3));    /* term differs */
    assert_false(raft_log_match(&log, 5, 3));    /* past the end */
    assert_true(raft_log_match(&log, 4, 3));
    raft_log_deinit(&log);

    /* Below the snapshot's base: committed, so it matches; at the base,
     * the base term decides. */
    make_log(&log, 10, 4, terms + 3, 1);
    assert_true(raft_log_match(&log, 7, 2));
    assert_true(raft_log_match(&log, 10, 4));
    assert_false(raft_log_match(&log, 10, 3));
    raft_log_deinit(&log);
}

/* Rules 3 and 4: append what is new, cut at the first conflict. */
static void test_merge_appends(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 1, 1 };
    make_log(&log, 0, 0, terms, 2);
    RaftEntry es[] = { entry(1, 3), entry(2, 4) };
    assert_int_equal(raft_log_merge(&log, 2, es, 2), 3);
    const uint64_t want[] = { 1, 1, 1, 2 };
    assert_terms(&log, want, 4);
    /* The same again changes nothing. */
    assert_int_equal(raft_log_merge(&log, 2, es, 2), 0);
    assert_terms(&log, want, 4);
    raft_log_deinit(&log);
}

static void test_merge_conflict(void **state)
{
    /* Figure 7 (f): a follower with entries of terms 2 and 3 that the
     * leader of term 8 (log 1 1 1 4 4 5 5 6 6 6) never had. */
    RaftLog log;
    const uint64_t terms[] = { 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3 };
    make_log(&log, 0, 0, terms, 11);
    RaftEntry es[] = { entry(4, 40), entry(4, 50), entry(5, 60) };
    assert_int_equal(raft_log_merge(&log, 3, es, 3), 4);
    const uint64_t want[] = { 1, 1, 1, 4, 4, 5 };
    assert_terms(&log, want, 6);
    assert_int_equal(raft_log_get(&log, 4)->req.op.a, 40);
    assert_int_equal(raft_log_get(&log, 6)->req.op.a, 60);
    raft_log_deinit(&log);
}

/* A delayed AppendEntries whose entries are a prefix of the log must not
 * cut what follows them (rule 3 only cuts on a conflict). */
static void test_merge_stale(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 1, 1, 2, 2 };
    make_log(&log, 0, 0, terms, 4);
    RaftEntry es[] = { entry(1, 2) };
    assert_int_equal(raft_log_merge(&log, 1, es, 1), 0);
    assert_terms(&log, terms, 4);
    assert_int_equal(raft_log_merge(&log, 4, NULL, 0), 0);
    assert_terms(&log, terms, 4);
    raft_log_deinit(&log);
}

/* Entries the snapshot covers are skipped, the rest merged. */
static void test_merge_below_base(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 3 };
    make_log(&log, 5, 2, terms, 1);   /* base 5, entry 6 of term 3 */
    RaftEntry es[] = { entry(2, 4), entry(2, 5), entry(3, 6), entry(3, 7) };
    assert_int_equal(raft_log_merge(&log, 3, es, 4), 7);
    assert_int_equal(log.base, 5);
    const uint64_t want[] = { 3, 3 };
    assert_terms(&log, want, 2);
    raft_log_deinit(&log);
}

static void test_conflict_hint(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3 };
    make_log(&log, 0, 0, terms, 11);
    /* Past our end: our last index. */
    assert_int_equal(raft_log_conflict_hint(&log, 15, 0), 11);
    /* A mismatch at 10 (term 3 here): retry before our first entry of term 3. */
    assert_int_equal(raft_log_conflict_hint(&log, 10, 0), 6);
    assert_int_equal(raft_log_conflict_hint(&log, 5, 0), 3);
    assert_int_equal(raft_log_conflict_hint(&log, 3, 0), 0);
    /* Never below the commit index, never at or past prevLogIndex. */
    assert_int_equal(raft_log_conflict_hint(&log, 10, 8), 8);
    assert_int_equal(raft_log_conflict_hint(&log, 10, 10), 9);
    raft_log_deinit(&log);
}

/* Figure 8: an entry of an older term is not committed by counting, even
 * on a majority; once an entry of the current term is on a majority, it
 * and everything before it are. */
static void test_commit_figure8(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 1, 2 };
    make_log(&log, 0, 0, terms, 2);
    /* S1 leads term 4 and has brought index 2 (term 2) to S2 and S3. */
    uint64_t match[5] = { 2, 2, 2, 1, 0 };
    assert_int_equal(raft_log_commit_index(&log, match, 5, 4, 1, false), 1);
    /* The bug commits it. */
    assert_int_equal(raft_log_commit_index(&log, match, 5, 4, 1, true), 2);
    /* An entry of term 4 at index 3 on a majority commits both. */
    RaftEntry e = entry(4, 3);
    raft_log_append(&log, &e);
    uint64_t match2[5] = { 3, 3, 2, 3, 0 };
    assert_int_equal(raft_log_commit_index(&log, match2, 5, 4, 1, false), 3);
    /* On a minority only: nothing new. */
    uint64_t match3[5] = { 3, 3, 1, 1, 0 };
    assert_int_equal(raft_log_commit_index(&log, match3, 5, 4, 1, false), 1);
    raft_log_deinit(&log);
}

static void test_commit_majority(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 3, 3, 3, 3, 3, 3 };
    make_log(&log, 0, 0, terms, 6);
    uint64_t m3[3] = { 6, 4, 2 };
    assert_int_equal(raft_log_commit_index(&log, m3, 3, 3, 0, false), 4);
    uint64_t m4[4] = { 6, 5, 4, 2 };   /* 3 of 4 hold index 4 */
    assert_int_equal(raft_log_commit_index(&log, m4, 4, 3, 0, false), 4);
    uint64_t m1[1] = { 6 };
    assert_int_equal(raft_log_commit_index(&log, m1, 1, 3, 0, false), 6);
    /* Never backwards. */
    assert_int_equal(raft_log_commit_index(&log, m3, 3, 3, 5, false), 5);
    /* A match past our log (a lie) commits nothing. */
    uint64_t bad[3] = { 9, 9, 9 };
    assert_int_equal(raft_log_commit_index(&log, bad, 3, 3, 0, false), 0);
    raft_log_deinit(&log);
}

/* The highest index a majority holds, whatever the order of the match
 * indexes, the cluster size (past 16 nodes the copy is on the heap) and the
 * commit index so far; the caller's array is left as it was. */
static void test_commit_any_order(void **state)
{
    RaftLog log;
    uint64_t terms[60];
    for (size_t i = 0; i < G_N_ELEMENTS(terms); i++)
        terms[i] = 1;
    make_log(&log, 0, 0, terms, G_N_ELEMENTS(terms));
    g_autoptr(GRand) rng = g_rand_new_with_seed(7);
    for (uint32_t nodes = 1; nodes <= 40; nodes++)
        for (int round = 0; round < 50; round++) {
            uint64_t match[40], before[40];
            for (uint32_t i = 0; i < nodes; i++)
                match[i] = before[i] = (uint64_t)g_rand_int_range(rng, 0, 61);
            /* The reference: the largest N that more than half hold. */
            uint64_t want = 0;
            for (uint64_t n = 60; n > 0 && !want; n--) {
                uint32_t holding = 0;
                for (uint32_t i = 0; i < nodes; i++)
                    holding += match[i] >= n;
                if (holding > nodes / 2)
                    want = n;
            }
            uint64_t commit = (uint64_t)g_rand_int_range(rng, 0, 61);
            assert_int_equal(raft_log_commit_index(&log, match, nodes, 1, 0, false), want);
            assert_int_equal(raft_log_commit_index(&log, match, nodes, 1, commit, false),
                             want > commit ? want : commit);
            assert_memory_equal(match, before, nodes * sizeof *match);
        }
    raft_log_deinit(&log);
}

/* Figure 13, rules 6 and 7. */
static void test_install(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 1, 1, 2, 2, 3 };
    make_log(&log, 0, 0, terms, 5);
    raft_log_install(&log, 3, 2);   /* we hold index 3 of term 2: keep 4, 5 */
    assert_int_equal(log.base, 3);
    assert_int_equal(log.base_term, 2);
    const uint64_t rest[] = { 2, 3 };
    assert_terms(&log, rest, 2);
    raft_log_install(&log, 4, 3);   /* index 4 is of term 2 here: discard all */
    assert_int_equal(log.base, 4);
    assert_int_equal(raft_log_last_index(&log), 4);
    assert_int_equal(raft_log_last_term(&log), 3);
    raft_log_install(&log, 9, 5);   /* past the end */
    assert_int_equal(raft_log_last_index(&log), 9);
    raft_log_deinit(&log);
}

static void test_compact(void **state)
{
    RaftLog log;
    const uint64_t terms[] = { 1, 1, 2, 2, 3 };
    make_log(&log, 0, 0, terms, 5);
    raft_log_compact(&log, 3);
    assert_int_equal(log.base, 3);
    assert_int_equal(log.base_term, 2);
    assert_null(raft_log_get(&log, 3));
    assert_int_equal(raft_log_get(&log, 4)->req.op.a, 4);
    uint64_t t;
    assert_false(raft_log_term_at(&log, 2, &t));
    assert_true(raft_log_term_at(&log, 3, &t));
    assert_int_equal(t, 2);
    raft_log_truncate_after(&log, 4);
    assert_int_equal(raft_log_last_index(&log), 4);
    raft_log_deinit(&log);
}

/* ---- The write-ahead log --------------------------------------------- */

static GByteArray *wal_of(const RaftLog *log, uint64_t term, uint32_t vote)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_wal_put_all(&w, 1, log, term, vote);
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, w.data, (guint)w.len);
    fl_writer_deinit(&w);
    return b;
}

static void test_wal_round_trip(void **state)
{
    RaftLog log, back;
    const uint64_t terms[] = { 2, 2, 3 };
    make_log(&log, 7, 1, terms, 3);
    GByteArray *b = wal_of(&log, 5, 2);
    raft_log_init(&back);
    RaftDurable d;
    raft_wal_replay(b->data, b->len, &back, &d);
    assert_false(d.torn);
    assert_int_equal(d.records, 2 + 3);
    assert_int_equal(d.term, 5);
    assert_int_equal(d.vote, 2);
    assert_int_equal(back.base, 7);
    assert_int_equal(back.base_term, 1);
    assert_terms(&back, terms, 3);
    assert_req_equal(&raft_log_get(&back, 9)->req, &raft_log_get(&log, 9)->req);
    g_byte_array_unref(b);
    raft_log_deinit(&log);
    raft_log_deinit(&back);
}

/* An ENTRY record replaces the log from its index on, as a truncation on
 * conflict did; later STATE records win. */
static void test_wal_overwrite(void **state)
{
    RaftLog log, back;
    const uint64_t terms[] = { 1, 1, 1 };
    make_log(&log, 0, 0, terms, 3);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_wal_put_all(&w, 1, &log, 1, RAFT_NO_NODE);
    raft_wal_put_state(&w, 2, 1);
    RaftEntry e = entry(2, 42);
    raft_wal_put_entry(&w, 2, &e);
    raft_log_init(&back);
    RaftDurable d;
    raft_wal_replay(w.data, w.len, &back, &d);
    assert_false(d.torn);
    const uint64_t want[] = { 1, 2 };
    assert_terms(&back, want, 2);
    assert_int_equal(raft_log_get(&back, 2)->req.op.a, 42);
    assert_int_equal(d.term, 2);
    assert_int_equal(d.vote, 1);
    /* A record that would leave a gap is refused, with all that follows. */
    raft_wal_put_entry(&w, 9, &e);
    raft_wal_replay(w.data, w.len, &back, &d);
    assert_true(d.torn);
    assert_terms(&back, want, 2);
    fl_writer_deinit(&w);
    raft_log_deinit(&log);
    raft_log_deinit(&back);
}

/* AMNESIA records (raft.c note 11): the last one wins, 0 clears it, and a
 * WAL without one (or not whole) has none. */
static void test_wal_amnesia(void **state)
{
    RaftLog log, back;
    const uint64_t terms[] = { 1, 2 };
    make_log(&log, 0, 0, terms, 2);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_wal_put_all(&w, 1, &log, 2, 0);
    raft_log_init(&back);
    RaftDurable d;
    raft_wal_replay(w.data, w.len, &back, &d);
    assert_int_equal(d.amnesia_term, 0);
    raft_wal_put_amnesia(&w, 2);
    raft_wal_replay(w.data, w.len, &back, &d);
    assert_false(d.torn);
    assert_int_equal(d.amnesia_term, 2);
    assert_terms(&back, terms, 2);
    size_t marked = w.len;
    raft_wal_put_amnesia(&w, 0);
    raft_wal_replay(w.data, w.len, &back, &d);
    assert_false(d.torn);
    assert_int_equal(d.amnesia_term, 0);
    /* The clearing record torn: still recovering. */
    raft_wal_replay(w.data, w.len - 1, &back, &d);
    assert_true(d.torn);
    assert_int_equal(d.amnesia_term, 2);
    assert_true(marked < w.len);
    fl_writer_deinit(&w);
    raft_log_deinit(&log);
    raft_log_deinit(&back);
}

/* Cut anywhere, the WAL replays to its whole records before the cut; a
 * flipped byte stops the replay at the record it hits. */
static void test_wal_torn_and_corrupt(void **state)
{
    RaftLog log, back;
    const uint64_t terms[] = { 1, 2, 2, 3 };
    make_log(&log, 0, 0, terms, 4);
    GByteArray *b = wal_of(&log, 3, 0);
    raft_log_init(&back);
    RaftDurable d;
    uint64_t prev_records = 0;
    for (size_t cut = 0; cut <= b->len; cut++) {
        raft_wal_replay(b->data, cut, &back, &d);
        assert_true(d.records >= prev_records);
        prev_records = d.records;
        if (cut < b->len)
            assert_true(d.torn || d.records < 6);
        /* Whatever survived is a prefix of the log. */
        for (uint64_t i = 1; i <= raft_log_last_index(&back); i++)
            assert_int_equal(raft_log_get(&back, i)->term, terms[i - 1]);
    }
    assert_int_equal(prev_records, 6);
    for (size_t at = 0; at < b->len; at++) {
        GByteArray *c = g_byte_array_new();
        g_byte_array_append(c, b->data, b->len);
        c->data[at] ^= 0x5a;
        raft_wal_replay(c->data, c->len, &back, &d);
        assert_true(d.torn);
        assert_true(d.records < 6);
        for (uint64_t i = 1; i <= raft_log_last_index(&back); i++)
            assert_int_equal(raft_log_get(&back, i)->term, terms[i - 1]);
        g_byte_array_unref(c);
    }
    g_byte_array_unref(b);
    raft_log_deinit(&log);
    raft_log_deinit(&back);
}

static void test_snapshot_file(void **state)
{
    const uint8_t data[] = "the store's bytes";
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_snap_put(&w, 12, 3, data, sizeof data);
    uint64_t index, term;
    const uint8_t *p;
    size_t len;
    assert_true(raft_snap_get(w.data, w.len, &index, &term, &p, &len));
    assert_int_equal(index, 12);
    assert_int_equal(term, 3);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(p, data, len);
    for (size_t cut = 0; cut < w.len; cut++)
        assert_false(raft_snap_get(w.data, cut, &index, &term, &p, &len));
    for (size_t at = 0; at < w.len; at++) {
        w.data[at] ^= 1;
        assert_false(raft_snap_get(w.data, w.len, &index, &term, &p, &len));
        w.data[at] ^= 1;
    }
    assert_false(raft_snap_get(NULL, 0, &index, &term, &p, &len));
    fl_writer_deinit(&w);
}

static void test_crc32(void **state)
{
    /* The standard check value of CRC-32 (IEEE). */
    assert_int_equal(raft_crc32("123456789", 9, 0), 0xCBF43926u);
    /* Incremental use gives the same as one call. */
    uint32_t c = raft_crc32("1234", 4, 0);
    assert_int_equal(raft_crc32("56789", 5, c), 0xCBF43926u);
}

/* CRC-32 a bit at a time: the definition, to compare with. */
static uint32_t crc32_bitwise(const uint8_t *p, size_t len, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (crc & 1 ? 0xEDB88320u : 0);
    }
    return ~crc;
}

/* CRC-32 a byte at a time from a 256-entry table: what raft_crc32 was
 * before slice-by-8, whose values the WAL bytes on disk depend on. */
static uint32_t crc32_bytewise(const uint8_t *p, size_t len, uint32_t crc)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint8_t b = (uint8_t)i;
            table[i] = ~crc32_bitwise(&b, 1, 0xFFFFFFFFu);
        }
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = (crc >> 8) ^ table[(crc ^ p[i]) & 0xff];
    return ~crc;
}

/* Slice-by-8 gives the byte-at-a-time values for every length (both sides
 * of the 8-byte blocks), every alignment and every starting crc. */
static void test_crc32_slices(void **state)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(42);
    uint8_t buf[600];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)g_rand_int(rng);
    for (size_t len = 0; len <= 80; len++)
        for (size_t off = 0; off < 8; off++) {
            uint32_t want = crc32_bytewise(buf + off, len, 0);
            assert_int_equal(crc32_bitwise(buf + off, len, 0), want);
            assert_int_equal(raft_crc32(buf + off, len, 0), want);
        }
    for (int round = 0; round < 2000; round++) {
        size_t off = (size_t)g_rand_int_range(rng, 0, 64);
        size_t len = (size_t)g_rand_int_range(rng, 0, (gint32)(sizeof buf - off));
        uint32_t start = g_rand_int(rng);
        assert_int_equal(raft_crc32(buf + off, len, start),
                         crc32_bytewise(buf + off, len, start));
        /* Split anywhere, chained: the same as one call. */
        size_t cut = len ? (size_t)g_rand_int_range(rng, 0, (gint32)len + 1) : 0;
        uint32_t c = raft_crc32(buf + off, cut, start);
        assert_int_equal(raft_crc32(buf + off + cut, len - cut, c),
                         crc32_bytewise(buf + off, len, start));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_up_to_date),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_merge_appends),
        cmocka_unit_test(test_merge_conflict),
        cmocka_unit_test(test_merge_stale),
        cmocka_unit_test(test_merge_below_base),
        cmocka_unit_test(test_conflict_hint),
        cmocka_unit_test(test_commit_figure8),
        cmocka_unit_test(test_commit_majority),
        cmocka_unit_test(test_commit_any_order),
        cmocka_unit_test(test_install),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_wal_round_trip),
        cmocka_unit_test(test_wal_overwrite),
        cmocka_unit_test(test_wal_amnesia),
        cmocka_unit_test(test_wal_torn_and_corrupt),
        cmocka_unit_test(test_snapshot_file),
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_crc32_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
