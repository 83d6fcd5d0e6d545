/* Fast Paxos: rule O4, the collision test and the codec, called directly. */
#include "protocols/fastpaxos/fastpaxos.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static FlRequest req(uint32_t client, int64_t a)
{
    return (FlRequest){ .client = client, .id = (uint64_t)a, .op = { .kind = FL_OP_WRITE, .a = a } };
}

static FpVote fast(uint64_t ballot, FlRequest v)
{
    return (FpVote){ .rnd = fp_round(ballot, 0), .value = v };
}

static void test_free_when_nobody_voted(void **st)
{
    FpVote r[3] = { { 0 }, { 0 }, { 0 } };
    FlRequest out;
    assert_int_equal(fp_pick(r, 3, 5, &out), FP_PICK_FREE);
}

/* A classic round has one value: it is the one to propose. */
static void test_classic_round_value(void **st)
{
    uint64_t b = paxos_ballot(2, 1);
    FpVote r[3] = { fast(paxos_ballot(1, 0), req(10, 1)),
                    { .rnd = fp_round(b, 1), .value = req(11, 2) },
                    fast(b, req(12, 3)) };
    FlRequest out;
    assert_int_equal(fp_pick(r, 3, 5, &out), FP_PICK_VALUE);
    assert_int_equal(out.op.a, 2);
}

/* n = 5, fast quorum 4, Q = 3 reports: a value voted by 2 of them may have
 * been chosen (with the 2 acceptors outside Q): it must be kept. */
static void test_fast_round_possibly_chosen(void **st)
{
    uint64_t b = paxos_ballot(3, 2);
    FpVote r[3] = { fast(b, req(10, 1)), fast(b, req(11, 2)), fast(b, req(10, 1)) };
    FlRequest out;
    assert_int_equal(fp_pick(r, 3, 5, &out), FP_PICK_VALUE);
    assert_int_equal(out.op.a, 1);
    /* With all 5 reporting 3 against 2, no fast quorum of 4 can have
     * formed: any value may be proposed (the most voted is offered). */
    FpVote all[5] = { fast(b, req(10, 1)), fast(b, req(11, 2)), fast(b, req(10, 1)),
                      fast(b, req(11, 2)), fast(b, req(10, 1)) };
    assert_int_equal(fp_pick(all, 5, 5, &out), FP_PICK_ANY);
    assert_int_equal(out.op.a, 1);
    /* Four of five for one value: it may have been chosen. */
    all[3] = fast(b, req(10, 1));
    assert_int_equal(fp_pick(all, 5, 5, &out), FP_PICK_VALUE);
    assert_int_equal(out.op.a, 1);
}

/* Votes from rounds below the highest do not count for O4. */
static void test_only_highest_round_counts(void **st)
{
    uint64_t lo = paxos_ballot(1, 0), hi = paxos_ballot(2, 0);
    FpVote r[3] = { fast(lo, req(10, 1)), fast(lo, req(10, 1)), fast(hi, req(11, 2)) };
    FlRequest out;
    /* Q = 3 of 5: need 4 - 2 = 2 votes in the highest round; only 1. */
    assert_int_equal(fp_pick(r, 3, 5, &out), FP_PICK_ANY);
    assert_int_equal(out.op.a, 2);
}

/* Quorum arithmetic: O4 can never find two values (|Q| + 2|F| > 2n). */
static void test_quorum_sizes_intersect(void **st)
{
    for (uint32_t n = 1; n <= 64; n++) {
        uint32_t q = paxos_majority(n), f = paxos_fast_quorum(n);
        assert_true(q + 2 * f > 2 * n);
        assert_true(2 * q > n);
        assert_true(f <= n);
    }
}

static void test_collision(void **st)
{
    /* n = 5, F = 4: 2 + 2 with 1 missing cannot reach 4. */
    assert_true(fp_collided(2, 4, 5));
    assert_false(fp_collided(3, 4, 5));
    assert_false(fp_collided(1, 2, 5));
    assert_true(fp_collided(1, 2, 3));
}

static void test_codec(void **st)
{
    FpEntry e = { .slot = 3, .rnd = fp_round(paxos_ballot(1, 2), 0), .value = req(9, 5) };
    FpMsg m = { .type = FP_RECOVERED, .rnd = fp_round(paxos_ballot(2, 1), 1), .slot = 3,
                .entries = &e, .count = 1 };
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fp_encode(&w, &m);
    FpEntry buf[2];
    FpMsg d;
    assert_true(fp_decode(w.data, w.len, &d, buf, 2, 100));
    assert_int_equal(d.count, 1);
    assert_int_equal(d.entries[0].value.op.a, 5);
    for (size_t len = 0; len < w.len; len++)
        assert_false(fp_decode(w.data, len, &d, buf, 2, 100));
    fl_writer_deinit(&w);
    /* A recovered vote for another slot is refused. */
    e.slot = 4;
    fl_writer_init(&w, NULL, 0);
    fp_encode(&w, &m);
    assert_false(fp_decode(w.data, w.len, &d, buf, 2, 100));
    fl_writer_deinit(&w);
}

/* Note 9: a slot known decided is reported at the highest classic round
 * below the ballot asking, which outranks every real vote below that
 * ballot, so rule O4 hands the coordinator the decided value even when a
 * fast round's votes for another value reach the "possibly chosen" count. */
static void test_decided_report_wins(void **st)
{
    uint64_t asking = paxos_ballot(9, 1);
    FlRequest v = { .client = 1, .id = 5, .op = { .kind = FL_OP_WRITE, .a = 50 } };
    FlRequest w = { .client = 2, .id = 6, .op = { .kind = FL_OP_WRITE, .a = 60 } };
    FpVote reps[3] = {
        { .rnd = fp_round(paxos_ballot(8, 0), 0), .value = w },
        { .rnd = fp_round(paxos_ballot(8, 0), 0), .value = w },
        { .rnd = fp_round(asking - 1, FP_SUB_MAX), .value = v },
    };
    FlRequest out;
    assert_int_equal(fp_pick(reps, 3, 5, &out), FP_PICK_VALUE);
    assert_true(paxos_value_eq(&out, &v));
}

/* The recovery handshake of note 9 round-trips; a horizon past the log
 * bound is refused. */
static void test_codec_rejoin(void **st)
{
    FpEntry buf[2];
    uint8_t b[64];
    FlWriter w;
    fl_writer_init(&w, b, sizeof b);
    FpMsg m = { .type = FP_REJOIN_ACK, .nonce = 9, .ballot = paxos_ballot(4, 3), .last = 12 };
    fp_encode(&w, &m);
    FpMsg d;
    assert_true(fp_decode(w.data, w.len, &d, buf, 2, 100));
    assert_int_equal(d.type, FP_REJOIN_ACK);
    assert_int_equal(d.nonce, 9);
    assert_int_equal(d.ballot, paxos_ballot(4, 3));
    assert_int_equal(d.last, 12);
    assert_false(fp_decode(w.data, w.len, &d, buf, 2, 11));
    assert_false(fp_decode(w.data, w.len - 1, &d, buf, 2, 100));
    fl_writer_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_when_nobody_voted),
        cmocka_unit_test(test_classic_round_value),
        cmocka_unit_test(test_fast_round_possibly_chosen),
        cmocka_unit_test(test_only_highest_round_counts),
        cmocka_unit_test(test_quorum_sizes_intersect),
        cmocka_unit_test(test_collision),
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_decided_report_wins),
        cmocka_unit_test(test_codec_rejoin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
