/* Small-scope mutations (faults/mutate.h, the byzantine fault's `mutate`
 * behaviour) on real encoded messages of Raft and PBFT: each class changes
 * exactly the field it should, to the value it should, and nothing else
 * but what re-authenticates the message (PBFT's signature and MAC, which
 * must verify afterwards).  Then whole runs: a run with mutate replays to
 * the same trace hash, every protocol with a fields hook survives it, and
 * each mutation is a trace line.  Paxos and Fast Paxos declare their
 * fields by byte offset: every field of every message type is checked to
 * sit where its hook says. */
#include "tests/faults/helpers.h"

#include "faults/mutate.h"
#include "protocols/fastpaxos/fastpaxos.h"
#include "protocols/paxos/paxos.h"
#include "protocols/pbft/pbft.h"
#include "protocols/raft/raft.h"
#include "protocols/registry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* ---- messages ---------------------------------------------------------- */

static GByteArray *raft_append(uint64_t term, uint64_t prev_index, uint64_t prev_term,
                               uint64_t commit, uint64_t read_seq)
{
    RaftMsg m = { .type = RAFT_MSG_APPEND, .term = term };
    m.append.prev_index = prev_index;
    m.append.prev_term = prev_term;
    m.append.commit = commit;
    m.append.read_seq = read_seq;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_msg_encode(&w, &m);
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, w.data, (guint)w.len);
    fl_writer_deinit(&w);
    return b;
}

static GByteArray *raft_append_reply(uint64_t term, uint64_t index, uint64_t read_seq)
{
    RaftMsg m = { .type = RAFT_MSG_APPEND_REPLY, .term = term };
    m.append_reply.success = true;
    m.append_reply.index = index;
    m.append_reply.read_seq = read_seq;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_msg_encode(&w, &m);
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, w.data, (guint)w.len);
    fl_writer_deinit(&w);
    return b;
}

/* Four PBFT replicas' keys for run seed 1: K[i] stands for replica i's
 * state (set up in main). */
static PbftKeys K[4];

/* As byzantine.c does through fl_world_reseal: the sender's own keys. */
static bool reseal_cb(void *ctx, uint32_t from, uint32_t to, uint8_t *msg, size_t len)
{
    return pbft_reseal_keys(&K[from], to, msg, len);
}

/* A PREPARE or COMMIT signed by @signer, MACed for @from -> @to. */
static GByteArray *pbft_vote(uint8_t type, uint32_t signer, uint32_t from, uint32_t to,
                             uint64_t view, uint64_t seq, uint64_t digest)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    pbft_stmt_begin(&w, type, &K[signer]);
    fl_put_u64(&w, view);
    fl_put_u64(&w, seq);
    fl_put_u64(&w, digest);
    pbft_stmt_end(&w, 0, &K[signer]);
    uint8_t mac[PBFT_MAC_BYTES];
    pbft_mac(&K[from], to, w.data, w.len, mac);
    fl_put_raw(&w, mac, sizeof mac);
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, w.data, (guint)w.len);
    fl_writer_deinit(&w);
    return b;
}

static uint64_t le(const uint8_t *p, uint8_t width)
{
    uint64_t v = 0;
    for (uint8_t i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Checks that @after differs from @before in the field @mu names only (and,
 * with @sealed, in the last bytes: a PBFT vote's signature and MAC), and that
 * the field went from mu->old_value to mu->new_value. */
static void assert_one_field(const GByteArray *before, const GByteArray *after,
                             const FlMutation *mu, bool sealed)
{
    assert_int_equal(before->len, after->len);
    const FlMsgField *f = &mu->field;
    assert_int_equal(le(before->data + f->offset, f->width), mu->old_value);
    assert_int_equal(le(after->data + f->offset, f->width), mu->new_value);
    assert_true(mu->old_value != mu->new_value);
    for (guint i = 0; i < before->len; i++) {
        bool in_field = i >= f->offset && i < f->offset + f->width;
        bool in_seal = sealed && i + PBFT_SIG_BYTES + PBFT_MAC_BYTES >= before->len;
        if (!in_field && !in_seal && before->data[i] != after->data[i])
            fail_msg("byte %u changed outside field %s", i, f->name);
    }
}

static uint64_t field_value(const FlProtocol *p, const GByteArray *b, const char *name)
{
    FlMsgField f[FL_MAX_MSG_FIELDS];
    int n = p->fields(b->data, b->len, f, FL_MAX_MSG_FIELDS);
    for (int i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return le(b->data + f[i].offset, f[i].width);
    fail_msg("no field %s", name);
    return 0;
}

/* ---- Raft -------------------------------------------------------------- */

/* round: one round-like field (term, prev_term, read_seq) moves by one;
 * the indexes never move. */
static void test_raft_round(void **state)
{
    const FlProtocol *p = fl_protocol_find("raft");
    FlMutator *m = fl_mutator_new(p);
    bool seen_term = false, seen_prev_term = false, seen_read_seq = false;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        FlRng rng;
        fl_rng_init(&rng, seed, "test");
        g_autoptr(GByteArray) before = raft_append(5, 10, 4, 8, 3);
        g_autoptr(GByteArray) msg = raft_append(5, 10, 4, 8, 3);
        FlMutation mu;
        assert_true(fl_mutator_apply(m, &rng, FL_MUTATE_ROUND, 1, 2, msg, &mu, NULL, NULL));
        assert_int_equal(mu.cls, FL_MUTATE_ROUND);
        assert_int_equal(mu.field.role, FL_FIELD_ROUND);
        assert_one_field(before, msg, &mu, false);
        assert_true(mu.new_value == mu.old_value + 1 || mu.new_value + 1 == mu.old_value);
        seen_term |= strcmp(mu.field.name, "term") == 0;
        seen_prev_term |= strcmp(mu.field.name, "prev_term") == 0;
        seen_read_seq |= strcmp(mu.field.name, "read_seq") == 0;
    }
    assert_true(seen_term && seen_prev_term && seen_read_seq);
    fl_mutator_free(m);
}

/* replay: a value from an earlier message of the same kind by the same
 * node, never another node's, never another kind's. */
static void test_raft_replay(void **state)
{
    const FlProtocol *p = fl_protocol_find("raft");
    FlMutator *m = fl_mutator_new(p);
    FlRng rng;
    fl_rng_init(&rng, 7, "test");
    g_autoptr(GByteArray) before = raft_append(5, 10, 4, 8, 3);
    g_autoptr(GByteArray) msg = raft_append(5, 10, 4, 8, 3);
    FlMutation mu;
    /* Nothing kept yet: replay has nothing to say. */
    assert_false(fl_mutator_apply(m, &rng, FL_MUTATE_REPLAY, 1, 2, msg, &mu, NULL, NULL));
    assert_memory_equal(before->data, msg->data, msg->len);
    /* Another node's AppendEntries and node 1's own reply: not candidates. */
    g_autoptr(GByteArray) other = raft_append(5, 12, 5, 9, 3);
    g_autoptr(GByteArray) reply = raft_append_reply(6, 99, 3);
    fl_mutator_keep(m, 2, other->data, other->len);
    fl_mutator_keep(m, 1, reply->data, reply->len);
    assert_false(fl_mutator_apply(m, &rng, FL_MUTATE_REPLAY, 1, 2, msg, &mu, NULL, NULL));
    /* Node 1's earlier AppendEntries, differing in commit only. */
    g_autoptr(GByteArray) earlier = raft_append(5, 10, 4, 6, 3);
    fl_mutator_keep(m, 1, earlier->data, earlier->len);
    assert_true(fl_mutator_apply(m, &rng, FL_MUTATE_REPLAY, 1, 2, msg, &mu, NULL, NULL));
    assert_int_equal(mu.cls, FL_MUTATE_REPLAY);
    assert_string_equal(mu.field.name, "commit");
    assert_int_equal(mu.old_value, 8);
    assert_int_equal(mu.new_value, 6);
    assert_one_field(before, msg, &mu, false);
    fl_mutator_free(m);
}

/* steal: the same-named field of a message some node sent lately, of any
 * kind; only fields that differ. */
static void test_raft_steal(void **state)
{
    const FlProtocol *p = fl_protocol_find("raft");
    FlMutator *m = fl_mutator_new(p);
    FlRng rng;
    fl_rng_init(&rng, 3, "test");
    g_autoptr(GByteArray) before = raft_append(5, 10, 4, 8, 3);
    g_autoptr(GByteArray) msg = raft_append(5, 10, 4, 8, 3);
    /* A reply in flight from node 2: term 7 differs, read_seq 3 does not,
     * and index is no field of an AppendEntries. */
    g_autoptr(GByteArray) reply = raft_append_reply(7, 99, 3);
    fl_mutator_observe(m, 2, reply->data, reply->len);
    FlMutation mu;
    assert_true(fl_mutator_apply(m, &rng, FL_MUTATE_STEAL, 1, 3, msg, &mu, NULL, NULL));
    assert_int_equal(mu.cls, FL_MUTATE_STEAL);
    assert_string_equal(mu.field.name, "term");
    assert_int_equal(mu.new_value, 7);
    assert_int_equal(mu.source, 2);
    assert_string_equal(mu.source_kind, "AppendEntriesReply");
    assert_one_field(before, msg, &mu, false);
    /* The result still decodes: the stolen term keeps prev_term <= term. */
    RaftMsg d;
    assert_true(raft_msg_decode(msg->data, msg->len, &d));
    assert_int_equal(d.term, 7);
    raft_msg_clear(&d);
    g_autofree char *text = fl_mutation_text(&mu);
    assert_string_equal(text, "AppendEntries term 5 -> 7 (steal: node 2's AppendEntriesReply)");
    fl_mutator_free(m);
}

/* Bytes that do not decode are left alone. */
static void test_raft_garbage(void **state)
{
    const FlProtocol *p = fl_protocol_find("raft");
    FlMutator *m = fl_mutator_new(p);
    FlRng rng;
    fl_rng_init(&rng, 1, "test");
    g_autoptr(GByteArray) msg = g_byte_array_new();
    g_byte_array_append(msg, (const guint8 *)"\x03garbage", 8);
    FlMutation mu;
    assert_false(fl_mutator_apply(m, &rng, FL_MUTATE_ALL, 1, 2, msg, &mu, NULL, NULL));
    assert_memory_equal(msg->data, "\x03garbage", 8);
    fl_mutator_free(m);
}

/* ---- PBFT -------------------------------------------------------------- */

static void assert_pbft_valid(const GByteArray *msg, uint32_t from, uint32_t to)
{
    PbftStmt st;
    PbftScratch sc = { 0 };
    size_t slen = msg->len - PBFT_MAC_BYTES;
    assert_true(pbft_stmt_parse(msg->data, slen, 4, &K[to], &st, &sc));
    assert_true(pbft_mac_check(&K[to], from, msg->data, slen, msg->data + slen));
}

/* round: the view or the sequence number moves by one, the statement is
 * signed again by its signer and MACed for the link, the digest stays. */
static void test_pbft_round(void **state)
{
    const FlProtocol *p = fl_protocol_find("pbft");
    FlMutator *m = fl_mutator_new(p);
    bool seen_view = false, seen_seq = false;
    for (uint64_t seed = 1; seed <= 32; seed++) {
        FlRng rng;
        fl_rng_init(&rng, seed, "test");
        g_autoptr(GByteArray) before = pbft_vote(PBFT_PREPARE, 1, 1, 2, 3, 40, 0xABCDEF);
        g_autoptr(GByteArray) msg = pbft_vote(PBFT_PREPARE, 1, 1, 2, 3, 40, 0xABCDEF);
        FlMutation mu;
        assert_true(fl_mutator_apply(m, &rng, FL_MUTATE_ROUND, 1, 2, msg, &mu, reseal_cb, NULL));
        assert_one_field(before, msg, &mu, true);
        assert_pbft_valid(msg, 1, 2);
        assert_int_equal(field_value(p, msg, "digest"), 0xABCDEF);
        assert_string_equal(mu.kind, "PREPARE");
        seen_view |= strcmp(mu.field.name, "view") == 0;
        seen_seq |= strcmp(mu.field.name, "seq") == 0;
    }
    assert_true(seen_view && seen_seq);
    fl_mutator_free(m);
}

/* replay and steal on digests: an earlier PREPARE's digest, or a COMMIT's
 * another replica just sent; resealed either way. */
static void test_pbft_values(void **state)
{
    const FlProtocol *p = fl_protocol_find("pbft");
    FlMutator *m = fl_mutator_new(p);
    FlRng rng;
    fl_rng_init(&rng, 11, "test");
    g_autoptr(GByteArray) earlier = pbft_vote(PBFT_PREPARE, 1, 1, 3, 3, 40, 0x1111);
    fl_mutator_keep(m, 1, earlier->data, earlier->len);
    g_autoptr(GByteArray) before = pbft_vote(PBFT_PREPARE, 1, 1, 2, 3, 40, 0x2222);
    g_autoptr(GByteArray) msg = pbft_vote(PBFT_PREPARE, 1, 1, 2, 3, 40, 0x2222);
    FlMutation mu;
    assert_true(fl_mutator_apply(m, &rng, FL_MUTATE_REPLAY, 1, 2, msg, &mu, reseal_cb, NULL));
    assert_string_equal(mu.field.name, "digest");
    assert_int_equal(mu.new_value, 0x1111);
    assert_one_field(before, msg, &mu, true);
    assert_pbft_valid(msg, 1, 2);

    g_autoptr(GByteArray) commit = pbft_vote(PBFT_COMMIT, 3, 3, 0, 3, 40, 0x3333);
    fl_mutator_observe(m, 3, commit->data, commit->len);
    g_autoptr(GByteArray) before2 = pbft_vote(PBFT_PREPARE, 1, 1, 2, 3, 40, 0x2222);
    g_autoptr(GByteArray) msg2 = pbft_vote(PBFT_PREPARE, 1, 1, 2, 3, 40, 0x2222);
    assert_true(fl_mutator_apply(m, &rng, FL_MUTATE_STEAL, 1, 2, msg2, &mu, reseal_cb, NULL));
    assert_string_equal(mu.field.name, "digest");
    assert_int_equal(mu.new_value, 0x3333);
    assert_int_equal(mu.source, 3);
    assert_one_field(before2, msg2, &mu, true);
    assert_pbft_valid(msg2, 1, 2);
    fl_mutator_free(m);
}

/* A statement signed by another replica (relayed) cannot be resealed by
 * the liar: the message goes unchanged. */
static void test_pbft_foreign_key(void **state)
{
    const FlProtocol *p = fl_protocol_find("pbft");
    FlMutator *m = fl_mutator_new(p);
    FlRng rng;
    fl_rng_init(&rng, 5, "test");
    g_autoptr(GByteArray) before = pbft_vote(PBFT_PREPARE, 3, 1, 2, 3, 40, 0x2222);
    g_autoptr(GByteArray) msg = pbft_vote(PBFT_PREPARE, 3, 1, 2, 3, 40, 0x2222);
    FlMutation mu;
    assert_false(fl_mutator_apply(m, &rng, FL_MUTATE_ROUND, 1, 2, msg, &mu, reseal_cb, NULL));
    assert_memory_equal(before->data, msg->data, msg->len);
    fl_mutator_free(m);
}

/* ---- runs -------------------------------------------------------------- */

static uint64_t run_mutate(const char *protocol, int nodes, int seed, const char *extra)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":%d,\"duration\":\"4s\",\"cluster\":{\"protocol\":\"%s\",\"nodes\":%d},"
        "\"network\":{\"timing\":\"async\",\"delay\":{\"dist\":\"exponential\",\"min\":\"1ms\",\"mean\":\"5ms\"}},"
        "\"workload\":{\"model\":\"kv\",\"clients\":3,\"keys\":2,\"rate\":200,\"timeout\":\"300ms\"},"
        "\"faults\":[{\"kind\":\"byzantine\",\"node\":0,\"behaviour\":\"mutate\",\"p\":0.3%s},"
        "{\"kind\":\"byzantine\",\"node\":1,\"behaviour\":\"mutate\",\"at\":\"1s\",\"for\":\"1s\"}]}",
        seed, protocol, nodes, extra);
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    FlRunOptions opt = { .check = false };
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("%s with mutate: %s", protocol, err->message);
    uint64_t h = res.trace_hash;
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    return h;
}

/* Every protocol that describes its fields survives mutations, and a run
 * replays byte for byte: the same trace hash twice. */
static void test_replays(void **state)
{
    int with = 0;
    for (const FlProtocol *const *p = fl_protocols(); *p; p++) {
        if (!(*p)->fields)
            continue;
        with++;
        for (int seed = 1; seed <= 3; seed++) {
            uint64_t a = run_mutate((*p)->name, 4, seed, "");
            uint64_t b = run_mutate((*p)->name, 4, seed, "");
            if (a != b)
                fail_msg("%s with mutate, seed %d: two runs gave two trace hashes", (*p)->name, seed);
        }
        /* Classes given, and a bound. */
        uint64_t a = run_mutate((*p)->name, 4, 1, ",\"mutations\":[\"steal\"],\"count\":20");
        uint64_t b = run_mutate((*p)->name, 4, 1, ",\"mutations\":[\"steal\"],\"count\":20");
        assert_true(a == b);
    }
    assert_true(with >= 4);   /* raft, paxos, fastpaxos, pbft */
}

/* The scenario: each mutation is a trace line naming the field, old and
 * new values; the classes drawn are in the start line; `count` bounds. */
static void test_trace_lines(void **state)
{
    FlScenario *sc = fx_scenario("scenarios/04-consensus/pbft-mutate.json",
                                 "[{\"kind\":\"byzantine\",\"node\":0,\"behaviour\":\"mutate\","
                                 "\"p\":0.5,\"count\":25,\"at\":\"500ms\",\"until\":\"3s\"}]",
                                 NULL, NULL);
    json_t *trace = fx_trace(sc);
    size_t i;
    json_t *ev;
    int mutations = 0, starts = 0;
    json_array_foreach(trace, i, ev) {
        const char *text = json_string_value(json_object_get(ev, "text"));
        if (!text || !json_is_integer(json_object_get(ev, "fault")))
            continue;
        if (g_str_has_prefix(text, "start byzantine node 0 mutate p=0.5 mutations "))
            starts++;
        if (g_str_has_prefix(text, "mutate byzantine node 0 to ")) {
            mutations++;
            assert_non_null(strstr(text, " -> "));
            assert_true(strstr(text, "(round") || strstr(text, "(replay") || strstr(text, "(steal"));
        }
    }
    assert_int_equal(starts, 1);
    assert_int_equal(mutations, 25);
    json_decref(trace);
    fl_scenario_free(sc);
}

/* ---- field offsets of Paxos and Fast Paxos ------------------------------ */

/* The value a decoded message holds under a field name of the fields hook;
 * false for a name the test does not know. */
static bool paxos_named(const PaxosMsg *m, const char *name, uint64_t *v)
{
    if (strcmp(name, "ballot") == 0) *v = m->ballot;
    else if (strcmp(name, "slot") == 0) *v = m->type == PAXOS_DECIDE ? m->entries[0].slot : m->slot;
    else if (strcmp(name, "commit") == 0) *v = m->commit;
    else if (strcmp(name, "nonce") == 0) *v = m->nonce;
    else if (strcmp(name, "last") == 0) *v = m->last;
    else if (strcmp(name, "request_id") == 0) *v = m->value.id;
    else if (strcmp(name, "value") == 0) *v = (uint64_t)m->value.op.a;
    else return false;
    return true;
}

static bool fp_named(const FpMsg *m, const char *name, uint64_t *v)
{
    if (strcmp(name, "ballot") == 0) *v = m->ballot;
    else if (strcmp(name, "rnd") == 0) *v = m->rnd;
    else if (strcmp(name, "slot") == 0) *v = m->type == FP_DECIDE ? m->entries[0].slot : m->slot;
    else if (strcmp(name, "commit") == 0) *v = m->commit;
    else if (strcmp(name, "nonce") == 0) *v = m->nonce;
    else if (strcmp(name, "last") == 0) *v = m->last;
    else if (strcmp(name, "request_id") == 0) *v = m->value.id;
    else if (strcmp(name, "value") == 0) *v = (uint64_t)m->value.op.a;
    else return false;
    return true;
}

/* Every field the hook names sits where it says: the bytes at its offset
 * are the decoded field's value, and writing another value there decodes
 * as that value in that field. */
static void test_paxos_offsets(void **state)
{
    (void)state;
    PaxosEntry e = { .slot = 2003, .ballot = 5, .value = { .client = 9, .id = 41, .op = { .kind = FL_OP_WRITE, .a = 13 } } };
    int checked = 0;
    for (uint8_t type = PAXOS_PREPARE; type <= PAXOS_RECOVER_ACK; type++) {
        PaxosMsg m = { .type = type, .ballot = 1001, .slot = 2002, .commit = 3003, .nonce = 4004,
                       .more = true, .last = 5005,
                       .value = { .client = 6, .id = 7007, .op = { .kind = FL_OP_WRITE, .a = 8008 } },
                       .entries = &e, .count = 1 };
        FlWriter w;
        fl_writer_init(&w, NULL, 0);
        paxos_encode(&w, &m);
        FlMsgField f[FL_MAX_MSG_FIELDS];
        int n = paxos_fields(w.data, w.len, f, FL_MAX_MSG_FIELDS);
        for (int i = 0; i < n; i++) {
            PaxosEntry buf[4];
            PaxosMsg d;
            uint64_t want, got;
            assert_true(paxos_decode(w.data, w.len, &d, buf, 4, UINT64_MAX));
            assert_true(paxos_named(&d, f[i].name, &want));
            assert_true(le(w.data + f[i].offset, f[i].width) == want);
            g_autofree uint8_t *c = g_memdup2(w.data, w.len);
            for (uint8_t b = 0; b < f[i].width; b++)
                c[f[i].offset + b] = (uint8_t)((want + 1) >> (8 * b));
            assert_true(paxos_decode(c, w.len, &d, buf, 4, UINT64_MAX));
            assert_true(paxos_named(&d, f[i].name, &got));
            assert_true(got == want + 1);
            checked++;
        }
        fl_writer_deinit(&w);
    }
    assert_int_equal(checked, 21);   /* every field of every message type */
}

static void test_fastpaxos_offsets(void **state)
{
    (void)state;
    FpEntry e = { .slot = 2003, .rnd = 5, .value = { .client = 9, .id = 41, .op = { .kind = FL_OP_WRITE, .a = 13 } } };
    int checked = 0;
    for (uint8_t type = FP_PREPARE; type <= FP_REJOIN_ACK; type++) {
        FpMsg m = { .type = type, .ballot = 1001, .rnd = 1501, .slot = 2002, .commit = 3003,
                    .nonce = 4004, .more = true, .last = 5005,
                    .value = { .client = 6, .id = 7007, .op = { .kind = FL_OP_WRITE, .a = 8008 } },
                    .entries = &e, .count = 1 };
        if (type == FP_RECOVERED)
            e.slot = m.slot;   /* its one vote is for the slot it answers */
        FlWriter w;
        fl_writer_init(&w, NULL, 0);
        fp_encode(&w, &m);
        FlMsgField f[FL_MAX_MSG_FIELDS];
        int n = fp_fields(w.data, w.len, f, FL_MAX_MSG_FIELDS);
        for (int i = 0; i < n; i++) {
            FpEntry buf[4];
            FpMsg d;
            uint64_t want, got;
            assert_true(fp_decode(w.data, w.len, &d, buf, 4, UINT64_MAX));
            assert_true(fp_named(&d, f[i].name, &want));
            assert_true(le(w.data + f[i].offset, f[i].width) == want);
            g_autofree uint8_t *c = g_memdup2(w.data, w.len);
            for (uint8_t b = 0; b < f[i].width; b++)
                c[f[i].offset + b] = (uint8_t)((want + 1) >> (8 * b));
            assert_true(fp_decode(c, w.len, &d, buf, 4, UINT64_MAX));
            assert_true(fp_named(&d, f[i].name, &got));
            assert_true(got == want + 1);
            checked++;
        }
        fl_writer_deinit(&w);
    }
    assert_int_equal(checked, 29);   /* every field of every message type */
}

int main(void)
{
    for (uint32_t i = 0; i < 4; i++)
        pbft_keys_init(&K[i], 1, i, 4);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_round),
        cmocka_unit_test(test_raft_replay),
        cmocka_unit_test(test_raft_steal),
        cmocka_unit_test(test_raft_garbage),
        cmocka_unit_test(test_pbft_round),
        cmocka_unit_test(test_pbft_values),
        cmocka_unit_test(test_pbft_foreign_key),
        cmocka_unit_test(test_paxos_offsets),
        cmocka_unit_test(test_fastpaxos_offsets),
        cmocka_unit_test(test_replays),
        cmocka_unit_test(test_trace_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
