/* Multi-Paxos: the phase-1 value rule and the codec, called directly. */
#include "protocols/paxos/paxos.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static FlRequest req(uint32_t client, uint64_t id, int64_t a)
{
    return (FlRequest){ .client = client, .id = id, .op = { .kind = FL_OP_WRITE, .a = a } };
}

/* Rule 2.2(b): the highest-numbered vote wins, whoever reported it. */
static void test_select_highest(void **st)
{
    PaxosVote v[3] = {
        { .ballot = paxos_ballot(1, 0), .value = req(10, 1, 100) },
        { .ballot = paxos_ballot(3, 1), .value = req(11, 2, 200) },
        { .ballot = paxos_ballot(2, 4), .value = req(12, 3, 300) },
    };
    FlRequest out;
    assert_true(paxos_select(v, 3, &out));
    assert_int_equal(out.op.a, 200);
    /* Same round, higher node: a higher ballot. */
    v[2].ballot = paxos_ballot(3, 2);
    assert_true(paxos_select(v, 3, &out));
    assert_int_equal(out.op.a, 300);
}

/* Nobody voted: the proposer is free (and fills gaps with no-ops). */
static void test_select_free(void **st)
{
    PaxosVote v[2] = { { 0 }, { 0 } };
    FlRequest out;
    assert_false(paxos_select(v, 2, &out));
    assert_false(paxos_select(NULL, 0, &out));
}

static void test_ballots(void **st)
{
    uint64_t b = paxos_ballot(7, 3);
    assert_int_equal(paxos_ballot_node(b), 3);
    assert_true(paxos_ballot_above(b, 1) > b);
    assert_true(paxos_ballot_above(b, 5) > b);
    assert_int_equal(paxos_ballot_node(paxos_ballot_above(b, 5)), 5);
    assert_int_equal(paxos_majority(5), 3);
    assert_int_equal(paxos_majority(4), 3);
    assert_int_equal(paxos_fast_quorum(5), 4);
    assert_int_equal(paxos_fast_quorum(4), 3);
    assert_int_equal(paxos_fast_quorum(3), 3);
}

static void test_codec_roundtrip_and_refusals(void **st)
{
    PaxosEntry es[2] = { { .slot = 4, .ballot = paxos_ballot(2, 1), .value = req(9, 7, 1) },
                         { .slot = 6, .ballot = paxos_ballot(1, 0), .value = req(9, 8, 2) } };
    PaxosMsg m = { .type = PAXOS_PROMISE, .ballot = paxos_ballot(3, 2), .slot = 4, .more = true,
                   .last = 6, .entries = es, .count = 2 };
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    paxos_encode(&w, &m);
    PaxosEntry buf[4];
    PaxosMsg d;
    assert_true(paxos_decode(w.data, w.len, &d, buf, 4, 100));
    assert_int_equal(d.count, 2);
    assert_int_equal(d.entries[1].slot, 6);
    assert_int_equal(d.entries[0].value.op.a, 1);
    assert_true(d.more);
    /* Every truncation is refused, and so is trailing garbage. */
    for (size_t len = 0; len < w.len; len++)
        assert_false(paxos_decode(w.data, len, &d, buf, 4, 100));
    fl_put_u8(&w, 0);
    assert_false(paxos_decode(w.data, w.len, &d, buf, 4, 100));
    /* Slots out of bounds and too many entries are refused. */
    assert_false(paxos_decode(w.data, w.len - 1, &d, buf, 4, 5));
    assert_false(paxos_decode(w.data, w.len - 1, &d, buf, 1, 100));
    fl_writer_deinit(&w);
    uint8_t junk[3] = { 99, 1, 2 };
    assert_false(paxos_decode(junk, 3, &d, buf, 4, 100));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_highest),
        cmocka_unit_test(test_select_free),
        cmocka_unit_test(test_ballots),
        cmocka_unit_test(test_codec_roundtrip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
