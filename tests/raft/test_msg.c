/* Raft's messages: every type encodes and decodes back to itself, and a
 * decode refuses anything an honest peer could not have sent (short or
 * long buffers, impossible terms and indexes, bad booleans) instead of
 * trusting part of it. */
#include "protocols/raft/raft.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static RaftEntry entries[3];

static void fill_entries(void)
{
    for (int i = 0; i < 3; i++) {
        memset(&entries[i], 0, sizeof entries[i]);
        entries[i].term = 3 + (uint64_t)(i / 2);
        entries[i].req.client = 7;
        entries[i].req.id = 100 + (uint64_t)i;
        entries[i].req.op.kind = i == 0 ? FL_OP_NOOP : FL_OP_APPEND;
        entries[i].req.op.key = (uint32_t)i;
        entries[i].req.op.a = 40 + i;
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

static const uint8_t chunk[] = "some snapshot bytes";

/* One valid message of each type. */
static RaftMsg sample(int type)
{
    RaftMsg m = { .type = (uint8_t)type, .term = 4 };
    switch (type) {
    case RAFT_MSG_VOTE:
        m.vote.pre = true;
        m.vote.last_index = 9;
        m.vote.last_term = 3;
        break;
    case RAFT_MSG_VOTE_REPLY:
        m.vote_reply.pre = false;
        m.vote_reply.granted = true;
        break;
    case RAFT_MSG_APPEND:
        m.append.prev_index = 5;
        m.append.prev_term = 2;
        m.append.commit = 4;
        m.append.read_seq = 11;
        m.append.amnesia_seen = true;
        m.append.n = 3;
        m.append.entries = entries;
        break;
    case RAFT_MSG_APPEND_REPLY:
        m.append_reply.success = true;
        m.append_reply.index = 8;
        m.append_reply.read_seq = 11;
        m.append_reply.amnesiac = true;
        break;
    case RAFT_MSG_SNAP:
        m.snap.last_index = 20;
        m.snap.last_term = 3;
        m.snap.offset = 5;
        m.snap.total = 5 + sizeof chunk;
        m.snap.data = chunk;
        m.snap.len = sizeof chunk;
        m.snap.read_seq = 2;
        break;
    case RAFT_MSG_SNAP_REPLY:
        m.snap_reply.last_index = 20;
        m.snap_reply.offset = 17;
        m.snap_reply.read_seq = 2;
        break;
    }
    return m;
}

static GByteArray *encode(const RaftMsg *m)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_msg_encode(&w, m);
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, w.data, (guint)w.len);
    fl_writer_deinit(&w);
    return b;
}

static void test_round_trip(void **state)
{
    fill_entries();
    for (int type = RAFT_MSG_VOTE; type <= RAFT_MSG_SNAP_REPLY; type++) {
        RaftMsg m = sample(type), back;
        GByteArray *b = encode(&m);
        assert_true(raft_msg_decode(b->data, b->len, &back));
        assert_int_equal(back.type, type);
        assert_int_equal(back.term, 4);
        switch (type) {
        case RAFT_MSG_VOTE:
            assert_true(back.vote.pre);
            assert_int_equal(back.vote.last_index, 9);
            assert_int_equal(back.vote.last_term, 3);
            break;
        case RAFT_MSG_VOTE_REPLY:
            assert_false(back.vote_reply.pre);
            assert_true(back.vote_reply.granted);
            break;
        case RAFT_MSG_APPEND:
            assert_int_equal(back.append.prev_index, 5);
            assert_int_equal(back.append.prev_term, 2);
            assert_int_equal(back.append.commit, 4);
            assert_int_equal(back.append.read_seq, 11);
            assert_true(back.append.amnesia_seen);
            assert_int_equal(back.append.n, 3);
            for (int i = 0; i < 3; i++) {
                assert_int_equal(back.append.entries[i].term, entries[i].term);
                assert_req_equal(&back.append.entries[i].req, &entries[i].req);
            }
            break;
        case RAFT_MSG_APPEND_REPLY:
            assert_true(back.append_reply.success);
            assert_int_equal(back.append_reply.index, 8);
            assert_int_equal(back.append_reply.read_seq, 11);
            assert_true(back.append_reply.amnesiac);
            break;
        case RAFT_MSG_SNAP:
            assert_int_equal(back.snap.last_index, 20);
            assert_int_equal(back.snap.offset, 5);
            assert_int_equal(back.snap.total, 5 + sizeof chunk);
            assert_int_equal(back.snap.len, sizeof chunk);
            assert_memory_equal(back.snap.data, chunk, sizeof chunk);
            break;
        case RAFT_MSG_SNAP_REPLY:
            assert_int_equal(back.snap_reply.offset, 17);
            break;
        }
        raft_msg_clear(&back);
        g_byte_array_unref(b);
    }
}

/* Every prefix, and the message with a byte more, are refused. */
static void test_lengths(void **state)
{
    fill_entries();
    for (int type = RAFT_MSG_VOTE; type <= RAFT_MSG_SNAP_REPLY; type++) {
        RaftMsg m = sample(type), back;
        GByteArray *b = encode(&m);
        for (size_t cut = 0; cut < b->len; cut++)
            assert_false(raft_msg_decode(b->data, cut, &back));
        g_byte_array_append(b, (const guint8 *)"", 1);
        assert_false(raft_msg_decode(b->data, b->len, &back));
        g_byte_array_unref(b);
    }
    RaftMsg back;
    assert_false(raft_msg_decode(NULL, 0, &back));
    const uint8_t unknown[9] = { 42 };
    assert_false(raft_msg_decode(unknown, sizeof unknown, &back));
}

/* Decoding into the caller's buffer: entries that fit land there (nothing
 * to free), more go to the heap (freed by raft_msg_clear), none give NULL;
 * a refused message leaves nothing behind either way.  Under ASan this also
 * checks that nothing leaks or is freed twice. */
static void test_decode_into(void **state)
{
    fill_entries();
    RaftMsg m = sample(RAFT_MSG_APPEND), back;
    GByteArray *b = encode(&m);
    for (size_t cap = 0; cap <= 4; cap++) {
        RaftEntry buf[4];
        assert_true(raft_msg_decode_into(b->data, b->len, &back, buf, cap));
        assert_int_equal(back.append.n, 3);
        if (cap >= 3) {
            assert_ptr_equal(back.append.entries, buf);
            assert_false(back.append.entries_owned);
        } else {
            assert_ptr_not_equal(back.append.entries, buf);
            assert_true(back.append.entries_owned);
        }
        for (int i = 0; i < 3; i++) {
            assert_int_equal(back.append.entries[i].term, entries[i].term);
            assert_req_equal(&back.append.entries[i].req, &entries[i].req);
        }
        raft_msg_clear(&back);
        /* A bad last entry: refused, whichever place the entries went to. */
        for (size_t cut = 1; cut < 10; cut++) {
            assert_false(raft_msg_decode_into(b->data, b->len - cut, &back, buf, cap));
            assert_null(back.append.entries);
        }
    }
    g_byte_array_unref(b);

    m.append.n = 0;   /* a heartbeat */
    b = encode(&m);
    RaftEntry one[1];
    assert_true(raft_msg_decode_into(b->data, b->len, &back, one, 1));
    assert_int_equal(back.append.n, 0);
    assert_null(back.append.entries);
    raft_msg_clear(&back);
    assert_true(raft_msg_decode(b->data, b->len, &back));
    assert_null(back.append.entries);
    raft_msg_clear(&back);
    g_byte_array_unref(b);
}

static bool decodes(const RaftMsg *m)
{
    GByteArray *b = encode(m);
    RaftMsg back;
    bool ok = raft_msg_decode(b->data, b->len, &back);
    if (ok)
        raft_msg_clear(&back);
    g_byte_array_unref(b);
    return ok;
}

/* Fields that no honest peer sends. */
static void test_invalid_fields(void **state)
{
    fill_entries();
    RaftMsg m;

    m = sample(RAFT_MSG_VOTE);
    m.vote.last_term = 5;              /* a log ending after the candidate's term */
    assert_false(decodes(&m));
    m = sample(RAFT_MSG_VOTE);
    m.vote.last_index = 0;             /* an empty log has term 0 */
    assert_false(decodes(&m));
    m = sample(RAFT_MSG_VOTE);
    m.term = 0;
    assert_false(decodes(&m));
    m = sample(RAFT_MSG_VOTE);
    m.term = RAFT_MAX_INDEX + 1;
    assert_false(decodes(&m));

    m = sample(RAFT_MSG_APPEND);
    m.append.prev_term = 5;            /* after the leader's term */
    assert_false(decodes(&m));
    m = sample(RAFT_MSG_APPEND);
    m.append.prev_index = 0;           /* index 0 has term 0 */
    assert_false(decodes(&m));
    m = sample(RAFT_MSG_APPEND);
    m.append.commit = UINT64_MAX;
    assert_false(decodes(&m));

    /* Entries whose terms go down, pass the leader's, or precede prevLogTerm. */
    RaftEntry bad[3];
    memcpy(bad, entries, sizeof bad);
    bad[2].term = 2;
    m = sample(RAFT_MSG_APPEND);
    m.append.entries = bad;
    assert_false(decodes(&m));
    memcpy(bad, entries, sizeof bad);
    bad[2].term = 9;
    m.append.entries = bad;
    assert_false(decodes(&m));
    memcpy(bad, entries, sizeof bad);
    bad[0].term = 1;
    m.append.entries = bad;
    assert_false(decodes(&m));
    /* A request that is not one (op kind 0). */
    memcpy(bad, entries, sizeof bad);
    bad[1].req.op.kind = 0;
    m.append.entries = bad;
    assert_false(decodes(&m));

    m = sample(RAFT_MSG_SNAP);
    m.snap.offset = m.snap.total;      /* a chunk past the end */
    assert_false(decodes(&m));
    m = sample(RAFT_MSG_SNAP);
    m.snap.total = RAFT_MAX_SNAPSHOT + 1;
    assert_false(decodes(&m));
    m = sample(RAFT_MSG_SNAP);
    m.snap.last_term = 5;
    assert_false(decodes(&m));
    m = sample(RAFT_MSG_SNAP);
    m.snap.last_index = 0;
    assert_false(decodes(&m));

    m = sample(RAFT_MSG_SNAP_REPLY);
    m.snap_reply.offset = RAFT_MAX_SNAPSHOT + 1;
    assert_false(decodes(&m));
}

/* Booleans are 0 or 1; a count larger than the bytes that follow is
 * refused before anything is allocated for it. */
static void test_raw_bytes(void **state)
{
    fill_entries();
    RaftMsg m = sample(RAFT_MSG_VOTE_REPLY), back;
    GByteArray *b = encode(&m);
    b->data[9] = 2;
    assert_false(raft_msg_decode(b->data, b->len, &back));
    g_byte_array_unref(b);

    m = sample(RAFT_MSG_APPEND);
    b = encode(&m);
    /* type, term, prev_index, prev_term, commit, read_seq, then the count */
    size_t at = 1 + 8 + 8 + 8 + 8 + 8;
    b->data[at + 3] = 0x7f;
    assert_false(raft_msg_decode(b->data, b->len, &back));
    g_byte_array_unref(b);
}

/* Random and mutated bytes: never a crash, and whatever decodes is
 * consistent (run under ASan and UBSan this is a small fuzzer). */
static void test_garbage(void **state)
{
    fill_entries();
    FlRng rng;
    fl_rng_init(&rng, 42, "raft-msg");
    uint8_t buf[512];
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)fl_rng_below(&rng, sizeof buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)fl_rng_next(&rng);
        if (len > 0)
            buf[0] = (uint8_t)(1 + fl_rng_below(&rng, 6));
        RaftMsg back;
        if (raft_msg_decode(buf, len, &back))
            raft_msg_clear(&back);
    }
    for (int type = RAFT_MSG_VOTE; type <= RAFT_MSG_SNAP_REPLY; type++) {
        RaftMsg m = sample(type);
        GByteArray *b = encode(&m);
        for (int i = 0; i < 2000; i++) {
            GByteArray *c = g_byte_array_new();
            g_byte_array_append(c, b->data, b->len);
            int flips = 1 + (int)fl_rng_below(&rng, 3);
            for (int k = 0; k < flips; k++)
                c->data[fl_rng_below(&rng, c->len)] ^= (uint8_t)(1u << fl_rng_below(&rng, 8));
            RaftMsg back;
            if (raft_msg_decode(c->data, c->len, &back)) {
                assert_int_equal(back.type, c->data[0]);
                if (back.type == RAFT_MSG_APPEND)
                    for (uint32_t e = 0; e + 1 < back.append.n; e++)
                        assert_true(back.append.entries[e].term <= back.append.entries[e + 1].term);
                raft_msg_clear(&back);
            }
            g_byte_array_unref(c);
        }
        g_byte_array_unref(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_decode_into),
        cmocka_unit_test(test_invalid_fields),
        cmocka_unit_test(test_raw_bytes),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
