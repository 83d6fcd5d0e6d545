/* canonical-raft's wire format: every message type the library sends
 * encodes and decodes back to itself, and a decode refuses what an honest
 * peer could not have sent (every truncation, trailing bytes, an unknown
 * type, a boolean that is neither 0 nor 1, an entry of an unknown type, a
 * count larger than the message, a configuration naming a server twice),
 * so the adapter drops it instead of handing the library garbage. */
#include "protocols/canonical_raft/wire.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static char data_a[] = "first", data_b[] = "second entry";

/* One message of each type, as the library would hand it to send. */
static int sample(int type, struct raft_message *m, struct raft_entry *e)
{
    memset(m, 0, sizeof *m);
    m->type = (unsigned short)type;
    switch (type) {
    case RAFT_IO_APPEND_ENTRIES:
        e[0] = (struct raft_entry){ .term = 3, .type = RAFT_COMMAND, .buf = { data_a, 5 } };
        e[1] = (struct raft_entry){ .term = 4, .type = RAFT_BARRIER, .buf = { data_b, 12 } };
        m->append_entries = (struct raft_append_entries){
            .term = 4, .prev_log_index = 9, .prev_log_term = 3, .leader_commit = 8,
            .entries = e, .n_entries = 2 };
        break;
    case RAFT_IO_APPEND_ENTRIES_RESULT:
        m->append_entries_result = (struct raft_append_entries_result){ 5, 7, 11 };
        break;
    case RAFT_IO_REQUEST_VOTE:
        m->request_vote = (struct raft_request_vote){ 6, 2, 20, 5, false, true };
        break;
    case RAFT_IO_REQUEST_VOTE_RESULT:
        m->request_vote_result = (struct raft_request_vote_result){ 6, true, raft_tribool_true };
        break;
    case RAFT_IO_INSTALL_SNAPSHOT:
        m->install_snapshot.term = 7;
        m->install_snapshot.last_index = 100;
        m->install_snapshot.last_term = 6;
        raft_configuration_init(&m->install_snapshot.conf);
        assert_int_equal(raft_configuration_add(&m->install_snapshot.conf, 1, "1", RAFT_VOTER), 0);
        assert_int_equal(raft_configuration_add(&m->install_snapshot.conf, 2, "2", RAFT_STANDBY), 0);
        m->install_snapshot.conf_index = 1;
        m->install_snapshot.data = (struct raft_buffer){ data_b, 12 };
        break;
    case RAFT_IO_TIMEOUT_NOW:
        m->timeout_now = (struct raft_timeout_now){ 8, 30, 7 };
        break;
    }
    return type;
}

static void sample_free(struct raft_message *m)
{
    if (m->type == RAFT_IO_INSTALL_SNAPSHOT)
        raft_configuration_close(&m->install_snapshot.conf);
}

static void encode(const struct raft_message *m, FlWriter *w)
{
    fl_writer_init(w, NULL, 0);
    craft_encode(w, m);
}

static void test_round_trip(void **state)
{
    (void)state;
    for (int type = RAFT_IO_APPEND_ENTRIES; type <= RAFT_IO_TIMEOUT_NOW; type++) {
        struct raft_message m, d;
        struct raft_entry e[2];
        FlWriter w;
        sample(type, &m, e);
        encode(&m, &w);
        assert_true(craft_decode(w.data, w.len, &d));
        assert_int_equal(d.type, type);
        switch (type) {
        case RAFT_IO_APPEND_ENTRIES:
            assert_int_equal(d.append_entries.term, 4);
            assert_int_equal(d.append_entries.prev_log_index, 9);
            assert_int_equal(d.append_entries.prev_log_term, 3);
            assert_int_equal(d.append_entries.leader_commit, 8);
            assert_int_equal(d.append_entries.n_entries, 2);
            for (int i = 0; i < 2; i++) {
                assert_int_equal(d.append_entries.entries[i].term, e[i].term);
                assert_int_equal(d.append_entries.entries[i].type, e[i].type);
                assert_int_equal(d.append_entries.entries[i].buf.len, e[i].buf.len);
                assert_memory_equal(d.append_entries.entries[i].buf.base, e[i].buf.base, e[i].buf.len);
                /* One batch, as the library's recv path frees them. */
                assert_ptr_equal(d.append_entries.entries[i].batch, d.append_entries.entries[0].batch);
            }
            break;
        case RAFT_IO_APPEND_ENTRIES_RESULT:
            assert_int_equal(d.append_entries_result.term, 5);
            assert_int_equal(d.append_entries_result.rejected, 7);
            assert_int_equal(d.append_entries_result.last_log_index, 11);
            break;
        case RAFT_IO_REQUEST_VOTE:
            assert_int_equal(d.request_vote.term, 6);
            assert_int_equal(d.request_vote.candidate_id, 2);
            assert_int_equal(d.request_vote.last_log_index, 20);
            assert_int_equal(d.request_vote.last_log_term, 5);
            assert_false(d.request_vote.disrupt_leader);
            assert_true(d.request_vote.pre_vote);
            break;
        case RAFT_IO_REQUEST_VOTE_RESULT:
            assert_int_equal(d.request_vote_result.term, 6);
            assert_true(d.request_vote_result.vote_granted);
            assert_int_equal(d.request_vote_result.pre_vote, raft_tribool_true);
            break;
        case RAFT_IO_INSTALL_SNAPSHOT:
            assert_int_equal(d.install_snapshot.term, 7);
            assert_int_equal(d.install_snapshot.last_index, 100);
            assert_int_equal(d.install_snapshot.last_term, 6);
            assert_int_equal(d.install_snapshot.conf.n, 2);
            assert_int_equal(d.install_snapshot.conf.servers[1].id, 2);
            assert_string_equal(d.install_snapshot.conf.servers[1].address, "2");
            assert_int_equal(d.install_snapshot.conf.servers[1].role, RAFT_STANDBY);
            assert_int_equal(d.install_snapshot.conf_index, 1);
            assert_int_equal(d.install_snapshot.data.len, 12);
            assert_memory_equal(d.install_snapshot.data.base, data_b, 12);
            break;
        case RAFT_IO_TIMEOUT_NOW:
            assert_int_equal(d.timeout_now.term, 8);
            assert_int_equal(d.timeout_now.last_log_index, 30);
            assert_int_equal(d.timeout_now.last_log_term, 7);
            break;
        }
        craft_message_free(&d);
        sample_free(&m);
        fl_writer_deinit(&w);
    }
}

/* Every proper prefix of every message, and every message with a byte
 * added, is refused. */
static void test_truncated_and_trailing(void **state)
{
    (void)state;
    for (int type = RAFT_IO_APPEND_ENTRIES; type <= RAFT_IO_TIMEOUT_NOW; type++) {
        struct raft_message m, d;
        struct raft_entry e[2];
        FlWriter w;
        sample(type, &m, e);
        encode(&m, &w);
        for (size_t cut = 0; cut < w.len; cut++)
            assert_false(craft_decode(w.data, cut, &d));
        g_autofree uint8_t *longer = g_malloc(w.len + 1);
        memcpy(longer, w.data, w.len);
        longer[w.len] = 0;
        assert_false(craft_decode(longer, w.len + 1, &d));
        sample_free(&m);
        fl_writer_deinit(&w);
    }
}

/* Flips one field at a time to a value no honest peer sends. */
static void test_garbled(void **state)
{
    (void)state;
    struct raft_message m, d;
    struct raft_entry e[2];
    FlWriter w;

    uint8_t unknown[] = { 0 }, unknown7[] = { 7 };
    assert_false(craft_decode(unknown, 1, &d));
    assert_false(craft_decode(unknown7, 1, &d));
    assert_false(craft_decode(NULL, 0, &d));

    /* RequestVote: type, 4 x u64, then the two booleans. */
    sample(RAFT_IO_REQUEST_VOTE, &m, e);
    encode(&m, &w);
    w.data[1 + 32] = 2;
    assert_false(craft_decode(w.data, w.len, &d));
    fl_writer_deinit(&w);

    /* RequestVoteResult: a tribool past raft_tribool_false. */
    sample(RAFT_IO_REQUEST_VOTE_RESULT, &m, e);
    encode(&m, &w);
    w.data[1 + 8 + 1] = 3;
    assert_false(craft_decode(w.data, w.len, &d));
    fl_writer_deinit(&w);

    /* AppendEntries: an entry of unknown type, then a huge count. */
    sample(RAFT_IO_APPEND_ENTRIES, &m, e);
    encode(&m, &w);
    size_t count_at = 1 + 32, first_type_at = count_at + 4 + 8;
    w.data[first_type_at] = 9;
    assert_false(craft_decode(w.data, w.len, &d));
    w.data[first_type_at] = RAFT_COMMAND;
    assert_true(craft_decode(w.data, w.len, &d));
    craft_message_free(&d);
    memset(w.data + count_at, 0xff, 4);
    assert_false(craft_decode(w.data, w.len, &d));
    fl_writer_deinit(&w);

    /* InstallSnapshot: a configuration naming server 1 twice. */
    sample(RAFT_IO_INSTALL_SNAPSHOT, &m, e);
    encode(&m, &w);
    size_t second_id_at = 1 + 24 + 4 + 8 + 4 + 1 + 1;
    assert_int_equal(w.data[second_id_at], 2);
    w.data[second_id_at] = 1;
    assert_false(craft_decode(w.data, w.len, &d));
    sample_free(&m);
    fl_writer_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_garbled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
