/* Raft's configurations (protocols/raft/conf.c, raft.c note 14), one input
 * at a time: validity, the single-server rule of thesis §4.1, majorities of
 * voters, the latest configuration in a log (committed or not), the commit
 * rule counting voters only, and the configuration a snapshot carries,
 * truncated or invalid ones rejected.  Also: a configuration entry crosses
 * AppendEntries unchanged, and a truncated message carrying one is
 * dropped. */
#include "protocols/raft/raft.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define B(i) (UINT64_C(1) << (i))

static void test_valid(void **state)
{
    RaftConf all = raft_conf_all(5);
    assert_int_equal(all.voters, 0x1f);
    assert_int_equal(all.learners, 0);
    assert_true(raft_conf_valid(&all, 5));
    assert_int_equal(raft_conf_all(64).voters, UINT64_MAX);
    RaftConf none = { 0, B(1) };
    assert_false(raft_conf_valid(&none, 5));           /* no voter */
    RaftConf both = { B(0) | B(1), B(1) };
    assert_false(raft_conf_valid(&both, 5));           /* voter and learner */
    RaftConf beyond = { B(0) | B(5), 0 };
    assert_false(raft_conf_valid(&beyond, 5));         /* no node 5 */
    RaftConf learner_beyond = { B(0), B(7) };
    assert_false(raft_conf_valid(&learner_beyond, 5));
    assert_false(raft_conf_valid(&all, 0));
    assert_false(raft_conf_valid(&all, 65));
}

static void test_single_change(void **state)
{
    RaftConf a = { B(0) | B(1) | B(2), 0 };
    RaftConf add_learner = { a.voters, B(3) };
    RaftConf promote = { a.voters | B(3), 0 };
    RaftConf remove = { B(0) | B(1), 0 };
    RaftConf swap = { B(0) | B(1) | B(3), 0 };
    RaftConf two = { B(0), 0 };
    assert_true(raft_conf_single_change(&a, &add_learner));
    assert_true(raft_conf_single_change(&add_learner, &promote));
    assert_true(raft_conf_single_change(&a, &remove));
    assert_true(raft_conf_single_change(&add_learner, &a));   /* a learner dropped */
    assert_true(raft_conf_single_change(&a, &promote));       /* added straight as a voter: one server */
    assert_false(raft_conf_single_change(&a, &swap));         /* a replace is two changes */
    assert_false(raft_conf_single_change(&a, &two));
    assert_false(raft_conf_single_change(&a, &a));            /* nothing changed */
}

static void test_quorum(void **state)
{
    RaftConf c = { B(1) | B(2) | B(3) | B(4), B(0) };
    assert_false(raft_conf_quorum(&c, B(1) | B(2)));          /* 2 of 4 */
    assert_true(raft_conf_quorum(&c, B(1) | B(2) | B(4)));    /* 3 of 4 */
    assert_false(raft_conf_quorum(&c, B(0) | B(1) | B(2)));   /* a learner does not count */
    assert_false(raft_conf_quorum(&c, B(5) | B(6) | B(1) | B(2)));   /* nor do others */
    RaftConf one = { B(3), 0 };
    assert_true(raft_conf_quorum(&one, B(3)));
    assert_false(raft_conf_quorum(&one, B(0) | B(1)));
}

/* A log of @n entries of term 1 at 1..n; entry @conf_at (if not 0) holds
 * configuration @c. */
static void make_log(RaftLog *log, uint64_t n, uint64_t conf_at, const RaftConf *c)
{
    raft_log_init(log);
    for (uint64_t i = 1; i <= n; i++) {
        RaftEntry e = { .term = 1 };
        if (i == conf_at) {
            raft_conf_entry(&e, 1, c);
        } else {
            e.req.client = 100;
            e.req.id = i;
            e.req.op.kind = FL_OP_PUT;
        }
        raft_log_append(log, &e);
    }
}

static void test_latest_in_log(void **state)
{
    RaftConf base = raft_conf_all(4), c = { B(0) | B(1) | B(2), B(3) }, got;
    RaftLog log;
    make_log(&log, 6, 4, &c);
    /* In effect from its index on, committed or not. */
    assert_int_equal(raft_log_conf(&log, 6, &base, 4, &got), 4);
    assert_int_equal(got.voters, c.voters);
    assert_int_equal(got.learners, c.learners);
    assert_int_equal(raft_log_conf(&log, 99, &base, 4, &got), 4);   /* clamped to the end */
    assert_int_equal(raft_log_conf(&log, 3, &base, 4, &got), 0);
    assert_int_equal(got.voters, base.voters);
    /* Truncating it away brings the earlier configuration back. */
    raft_log_truncate_after(&log, 3);
    assert_int_equal(raft_log_conf(&log, 3, &base, 4, &got), 0);
    assert_int_equal(got.voters, 0xf);
    /* A compacted configuration is the snapshot's (the base). */
    raft_log_deinit(&log);
    make_log(&log, 6, 2, &c);
    raft_log_compact(&log, 3);
    assert_int_equal(raft_log_conf(&log, 6, &base, 4, &got), 3);
    assert_int_equal(got.voters, base.voters);
    raft_log_deinit(&log);
}

static void test_entry_roundtrip_and_malformed(void **state)
{
    RaftConf c = { B(0) | B(2), B(1) }, got;
    RaftEntry e;
    raft_conf_entry(&e, 7, &c);
    assert_int_equal(e.term, 7);
    assert_true(raft_conf_of(&e, 3, &got));
    assert_int_equal(got.voters, c.voters);
    assert_int_equal(got.learners, c.learners);
    assert_false(raft_conf_of(&e, 2, &got));   /* names node 2 of a 2-node cluster */
    RaftEntry noop = { .term = 7 };
    noop.req.client = RAFT_NO_NODE;
    noop.req.op.kind = FL_OP_NOOP;
    assert_false(raft_conf_of(&noop, 3, &got));   /* the ordinary no-op */
    RaftEntry forged = e;
    forged.req.op.a = 0;   /* no voters: not a configuration */
    assert_false(raft_conf_of(&forged, 3, &got));
    forged = e;
    forged.req.client = 5;   /* from a client: never a configuration */
    assert_false(raft_conf_of(&forged, 3, &got));
}

static void test_commit_counts_voters(void **state)
{
    RaftLog log;
    RaftConf c = { B(2) | B(3) | B(4), B(1) };
    make_log(&log, 5, 1, &c);
    /* Nodes 0 (a leader removing itself) and 1 (a learner) hold everything;
     * of the voters only node 2 does. */
    uint64_t match[5] = { 5, 5, 5, 1, 1 };
    assert_int_equal(raft_conf_commit_index(&log, &c, match, 5, 1, 0, false), 1);
    /* Counting all five nodes would have committed 5. */
    assert_int_equal(raft_log_commit_index(&log, match, 5, 1, 0, false), 5);
    match[4] = 4;
    assert_int_equal(raft_conf_commit_index(&log, &c, match, 5, 1, 0, false), 4);
    /* Figure 8 still applies: not of the leader's term, not committed. */
    assert_int_equal(raft_conf_commit_index(&log, &c, match, 5, 2, 0, false), 0);
    raft_log_deinit(&log);
}

static void test_snapshot_prefix(void **state)
{
    RaftConf c = { B(0) | B(3), B(1) }, got = { 0, 0 };
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    raft_conf_put(&w, &c);
    fl_put_u8(&w, 42);   /* the store's encoding follows */
    FlReader r;
    fl_reader_init(&r, w.data, w.len);
    assert_true(raft_conf_get(&r, 4, &got));
    assert_int_equal(got.voters, c.voters);
    assert_int_equal(got.learners, c.learners);
    assert_int_equal(fl_get_u8(&r), 42);
    /* Truncated anywhere: refused, and *c untouched. */
    for (size_t len = 0; len < 16; len++) {
        RaftConf keep = { 7, 0 };
        fl_reader_init(&r, w.data, len);
        assert_false(raft_conf_get(&r, 4, &keep));
        assert_int_equal(keep.voters, 7);
    }
    /* Valid bytes, but not for a 3-node cluster. */
    fl_reader_init(&r, w.data, w.len);
    assert_false(raft_conf_get(&r, 3, &got));
    fl_writer_deinit(&w);
}

static void test_entry_in_append_entries(void **state)
{
    RaftConf c = { B(1) | B(2), B(0) }, got;
    RaftEntry e[2];
    raft_conf_entry(&e[0], 3, &c);
    e[1] = (RaftEntry){ .term = 3 };
    e[1].req.client = 9;
    e[1].req.id = 1;
    e[1].req.op.kind = FL_OP_PUT;
    RaftMsg m = { .type = RAFT_MSG_APPEND, .term = 3 };
    m.append.prev_index = 4;
    m.append.prev_term = 2;
    m.append.n = 2;
    m.append.entries = e;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_msg_encode(&w, &m);
    RaftMsg d;
    assert_true(raft_msg_decode(w.data, w.len, &d));
    assert_int_equal(d.append.n, 2);
    assert_true(raft_conf_of(&d.append.entries[0], 3, &got));
    assert_int_equal(got.voters, c.voters);
    assert_int_equal(got.learners, c.learners);
    assert_false(raft_conf_of(&d.append.entries[1], 3, &got));
    raft_msg_clear(&d);
    for (size_t len = 0; len < w.len; len++)
        assert_false(raft_msg_decode(w.data, len, &d));   /* truncated: dropped */
    fl_writer_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_single_change),
        cmocka_unit_test(test_quorum),
        cmocka_unit_test(test_latest_in_log),
        cmocka_unit_test(test_entry_roundtrip_and_malformed),
        cmocka_unit_test(test_commit_counts_voters),
        cmocka_unit_test(test_snapshot_prefix),
        cmocka_unit_test(test_entry_in_append_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
