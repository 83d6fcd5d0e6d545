/* Raft's handlers, one input at a time.  A three-node world whose election
 * timeouts never fire; node 0 is the one under test.  Each test feeds it
 * messages "from" nodes 1 and 2 at set times (fl_world_inject), catches
 * what it answers with a send hook (which also keeps every message off the
 * network, so the other nodes never act), and looks at what it made
 * durable by reading its disk after a crash. */
#include "protocols/raft/raft.h"
#include "sim/world.h"

#include <glib.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

typedef struct Sent {
    uint32_t from, to;
    FlTime at;
    RaftMsg m;            /* decoded; entries owned */
} Sent;

/* What the nodes sent, in order (globals are fine in tests). */
static GArray *sent;
static FlWorld *world;

static bool catch_cb(FlWorld *w, void *ctx, uint32_t from, uint32_t to, GByteArray *msg)
{
    Sent s = { .from = from, .to = to, .at = fl_world_now(w) };
    assert_true(raft_msg_decode(msg->data, msg->len, &s.m));
    g_array_append_val(sent, s);
    return false;   /* nothing reaches the network */
}

static const char *scenario_text =
    "{ \"name\": \"raft-handlers\", \"duration\": \"2s\","
    "  \"cluster\": { \"protocol\": \"raft\", \"nodes\": 3,"
    "    \"params\": { \"election_timeout\": [\"100s\", \"100s\"], \"snapshot_entries\": 0 } } }";

static FlScenario *scenario;

static int setup(void **state)
{
    json_error_t je;
    json_t *root = json_loads(scenario_text, 0, &je);
    assert_non_null(root);
    GError *err = NULL;
    scenario = fl_scenario_from_json(root, "test.json", -1, &err);
    json_decref(root);
    if (!scenario)
        fail_msg("%s", err->message);
    FlWorldOptions wo = { 0 };
    world = fl_world_new(scenario, &wo, &err);
    if (!world)
        fail_msg("%s", err->message);
    sent = g_array_new(FALSE, FALSE, sizeof(Sent));
    for (uint32_t i = 0; i < 3; i++)
        fl_world_set_send_hook(world, i, catch_cb, NULL);
    return 0;
}

static int teardown(void **state)
{
    for (guint i = 0; i < sent->len; i++)
        raft_msg_clear(&g_array_index(sent, Sent, i).m);
    g_array_free(sent, TRUE);
    fl_world_free(world);
    fl_scenario_free(scenario);
    return 0;
}

/* ---- Feeding messages ------------------------------------------------- */

typedef struct Inject {
    uint32_t from, to;
    GByteArray *bytes;
} Inject;

static void inject_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    Inject *in = ctx;
    fl_world_inject(w, in->from, in->to, in->bytes->data, in->bytes->len);
    g_byte_array_unref(in->bytes);
    g_free(in);
}

/* Delivers @m from @from to node 0 at @ms milliseconds (the network's
 * default delay comes on top). */
static void feed(uint32_t ms, uint32_t from, const RaftMsg *m)
{
    Inject *in = g_new0(Inject, 1);
    in->from = from;
    in->to = 0;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_msg_encode(&w, m);
    in->bytes = g_byte_array_new();
    g_byte_array_append(in->bytes, w.data, (guint)w.len);
    fl_writer_deinit(&w);
    fl_world_at(world, (FlTime)FL_MS(ms), inject_cb, in, 0);
}

static void crash_cb(FlWorld *w, void *ctx, uint64_t node)
{
    fl_world_crash(w, (uint32_t)node);
}

static void restart_cb(FlWorld *w, void *ctx, uint64_t node)
{
    fl_world_restart(w, (uint32_t)node);
}

static void run(void)
{
    GError *err = NULL;
    if (fl_world_run(world, &err) != 0)
        fail_msg("%s", err->message);
}

static RaftEntry entry(uint64_t term, int64_t a)
{
    RaftEntry e = { .term = term };
    e.req.client = 3;
    e.req.id = (uint64_t)a;
    e.req.op.kind = FL_OP_APPEND;
    e.req.op.a = a;
    return e;
}

static RaftMsg append(uint64_t term, uint64_t prev, uint64_t prev_term, uint64_t commit,
                      RaftEntry *es, uint32_t n)
{
    RaftMsg m = { .type = RAFT_MSG_APPEND, .term = term };
    m.append.prev_index = prev;
    m.append.prev_term = prev_term;
    m.append.commit = commit;
    m.append.n = n;
    m.append.entries = es;
    return m;
}

static RaftMsg vote(uint64_t term, bool pre, uint64_t last_index, uint64_t last_term)
{
    RaftMsg m = { .type = RAFT_MSG_VOTE, .term = term };
    m.vote.pre = pre;
    m.vote.last_index = last_index;
    m.vote.last_term = last_term;
    return m;
}

/* The @k-th message node 0 sent to @to (0 = first). */
static const RaftMsg *reply_to(uint32_t to, guint k)
{
    for (guint i = 0; i < sent->len; i++) {
        const Sent *s = &g_array_index(sent, Sent, i);
        if (s->from == 0 && s->to == to && k-- == 0)
            return &s->m;
    }
    fail_msg("node 0 sent fewer than %u messages to node %u", k + 1, to);
    return NULL;
}

static guint count_from(uint32_t node)
{
    guint c = 0;
    for (guint i = 0; i < sent->len; i++)
        c += g_array_index(sent, Sent, i).from == node;
    return c;
}

/* What node 0's disk holds: the newer whole WAL of the two. */
static void durable_log(RaftLog *log, RaftDurable *d)
{
    FlDisk *disk = fl_world_disk(world, 0);
    RaftDurable d1;
    RaftLog other;
    raft_log_init(&other);
    size_t len;
    const uint8_t *p = fl_disk_do_view(disk, RAFT_WAL_0, &len);
    raft_wal_replay(p, len, log, d);
    p = fl_disk_do_view(disk, RAFT_WAL_1, &len);
    raft_wal_replay(p, len, &other, &d1);
    if (d1.whole && (!d->whole || d1.gen > d->gen)) {
        RaftLog t = *log;
        *log = other;
        other = t;
        *d = d1;
    }
    raft_log_deinit(&other);
}

/* ---- AppendEntries (Figure 2) ---------------------------------------- */

/* Rule 2: no entry at prevLogIndex: refused, with our last index as hint. */
static void test_append_gap(void **state)
{
    RaftMsg m = append(1, 5, 1, 0, NULL, 0);
    feed(10, 1, &m);
    run();
    const RaftMsg *r = reply_to(1, 0);
    assert_int_equal(r->type, RAFT_MSG_APPEND_REPLY);
    assert_int_equal(r->term, 1);
    assert_false(r->append_reply.success);
    assert_int_equal(r->append_reply.index, 0);
    assert_string_equal(fl_world_role(world, 0), "follower");
}

/* Rules 3 and 4, then a conflict cut off, all on disk before the replies. */
static void test_append_and_truncate(void **state)
{
    RaftEntry first[] = { entry(1, 1), entry(1, 2), entry(1, 3) };
    RaftMsg a = append(1, 0, 0, 0, first, 3);
    feed(10, 1, &a);
    RaftEntry second[] = { entry(2, 20) };
    RaftMsg b = append(2, 1, 1, 1, second, 1);
    feed(20, 2, &b);
    RaftMsg c = append(2, 3, 1, 1, NULL, 0);   /* index 3 is gone now */
    feed(30, 2, &c);
    fl_world_at(world, FL_MS(40), crash_cb, NULL, 0);
    run();
    const RaftMsg *r = reply_to(1, 0);
    assert_true(r->append_reply.success);
    assert_int_equal(r->append_reply.index, 3);
    r = reply_to(2, 0);
    assert_int_equal(r->term, 2);
    assert_true(r->append_reply.success);
    assert_int_equal(r->append_reply.index, 2);
    r = reply_to(2, 1);
    assert_false(r->append_reply.success);
    assert_int_equal(r->append_reply.index, 2);

    RaftLog log;
    RaftDurable d;
    raft_log_init(&log);
    durable_log(&log, &d);
    assert_int_equal(d.term, 2);
    assert_int_equal(raft_log_last_index(&log), 2);
    assert_int_equal(raft_log_get(&log, 1)->term, 1);
    assert_int_equal(raft_log_get(&log, 2)->term, 2);
    assert_int_equal(raft_log_get(&log, 2)->req.op.a, 20);
    raft_log_deinit(&log);
}

/* Rule 1: an older term is refused and told ours. */
static void test_append_old_term(void **state)
{
    RaftMsg a = append(3, 0, 0, 0, NULL, 0);
    feed(10, 1, &a);
    RaftMsg b = append(2, 0, 0, 0, NULL, 0);
    feed(20, 2, &b);
    run();
    const RaftMsg *r = reply_to(2, 0);
    assert_int_equal(r->term, 3);
    assert_false(r->append_reply.success);
}

/* ---- RequestVote and pre-vote ---------------------------------------- */

/* A vote is granted once per term, and synced before the reply. */
static void test_vote_once(void **state)
{
    RaftMsg v1 = vote(3, false, 0, 0);
    feed(10, 1, &v1);
    feed(20, 2, &v1);
    feed(30, 1, &v1);   /* asking again gets the same answer */
    fl_world_at(world, FL_MS(40), crash_cb, NULL, 0);
    run();
    const RaftMsg *r = reply_to(1, 0);
    assert_int_equal(r->type, RAFT_MSG_VOTE_REPLY);
    assert_int_equal(r->term, 3);
    assert_true(r->vote_reply.granted);
    assert_false(reply_to(2, 0)->vote_reply.granted);
    assert_true(reply_to(1, 1)->vote_reply.granted);
    RaftLog log;
    RaftDurable d;
    raft_log_init(&log);
    durable_log(&log, &d);
    assert_int_equal(d.term, 3);
    assert_int_equal(d.vote, 1);
    raft_log_deinit(&log);
}

/* §5.4.1: a candidate whose log is behind ours gets no vote. */
static void test_vote_up_to_date(void **state)
{
    RaftEntry es[] = { entry(2, 1), entry(2, 2) };
    RaftMsg a = append(2, 0, 0, 0, es, 2);
    feed(10, 1, &a);
    RaftMsg stale = vote(3, false, 5, 1);   /* longer, but of an older term */
    feed(20, 1, &stale);
    RaftMsg fresh = vote(3, false, 2, 2);
    feed(30, 2, &fresh);
    run();
    const RaftMsg *r = reply_to(1, 1);
    assert_int_equal(r->term, 3);   /* the higher term was still adopted */
    assert_false(r->vote_reply.granted);
    assert_true(reply_to(2, 0)->vote_reply.granted);
}

/* Thesis §9.6: a pre-vote changes nothing on the voter; it is refused while
 * a leader is heard from. */
static void test_prevote(void **state)
{
    RaftMsg pv = vote(5, true, 0, 0);
    feed(10, 1, &pv);
    RaftMsg hb = append(1, 0, 0, 0, NULL, 0);
    feed(20, 2, &hb);
    feed(30, 1, &pv);
    fl_world_at(world, FL_MS(40), crash_cb, NULL, 0);
    run();
    const RaftMsg *r = reply_to(1, 0);
    assert_true(r->vote_reply.pre);
    assert_true(r->vote_reply.granted);
    assert_int_equal(r->term, 5);   /* a grant names the term it is for */
    r = reply_to(1, 1);
    assert_false(r->vote_reply.granted);
    assert_int_equal(r->term, 1);
    RaftLog log;
    RaftDurable d;
    raft_log_init(&log);
    durable_log(&log, &d);
    assert_int_equal(d.term, 1);    /* never 5 */
    raft_log_deinit(&log);
}

/* ---- Recovery --------------------------------------------------------- */

/* After a crash the log, term and vote come back from the WAL, and the
 * commit index is relearned from the leader. */
static void test_recover(void **state)
{
    RaftEntry es[] = { entry(2, 1), entry(2, 2), entry(2, 3) };
    RaftMsg a = append(2, 0, 0, 2, es, 3);
    feed(10, 1, &a);
    fl_world_at(world, FL_MS(20), crash_cb, NULL, 0);
    fl_world_at(world, FL_MS(30), restart_cb, NULL, 0);
    RaftMsg stale = vote(1, false, 0, 0);   /* an older term than the one we remember */
    feed(40, 2, &stale);
    RaftMsg hb = append(2, 3, 2, 3, NULL, 0);
    feed(50, 1, &hb);
    run();
    assert_false(reply_to(2, 0)->vote_reply.granted);
    assert_int_equal(reply_to(2, 0)->term, 2);
    const RaftMsg *r = reply_to(1, 1);
    assert_true(r->append_reply.success);
    assert_int_equal(r->append_reply.index, 3);
}

/* Tearing the last synced write (here a vote) makes the node count that
 * vote as cast and abstain, and its acknowledgements say it is recovering,
 * until a leader that has heard so has caught it up to a commit of the
 * leader's own term; a plain crash meanwhile does not end that (raft.c
 * note 11). */
static void damage_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    FlDisk *disk = fl_world_disk(w, 0);
    guint file;
    size_t from;
    assert_true(fl_disk_last_sync(disk, &file, &from));
    GByteArray *b = fl_disk_durable(disk, file);
    g_byte_array_set_size(b, (guint)(from + 3));
    fl_world_crash(w, 0);   /* reads now see the damaged durable bytes */
}

static void test_torn_vote(void **state)
{
    RaftEntry es[] = { entry(1, 1) };
    RaftMsg a = append(1, 0, 0, 1, es, 1);
    feed(10, 1, &a);
    RaftMsg v = vote(2, false, 1, 1);
    feed(20, 1, &v);                         /* granted, then torn away */
    fl_world_at(world, FL_MS(30), damage_cb, NULL, 0);
    fl_world_at(world, FL_MS(40), restart_cb, NULL, 0);
    feed(50, 2, &v);                         /* same term: must not vote twice */
    RaftMsg v3 = vote(3, false, 1, 1);
    feed(60, 2, &v3);                        /* abstains while amnesiac */
    RaftMsg hb = append(3, 1, 1, 1, NULL, 0);
    feed(70, 1, &hb);                        /* commit 1 is of term 1: not enough */
    fl_world_at(world, FL_MS(75), crash_cb, NULL, 0);
    fl_world_at(world, FL_MS(78), restart_cb, NULL, 0);
    feed(80, 2, &v3);                        /* a plain restart: still abstains */
    RaftEntry es3[] = { entry(3, 2) };
    RaftMsg a3 = append(3, 1, 1, 2, es3, 1);
    feed(85, 1, &a3);                        /* the leader may count its old acks */
    RaftMsg a3s = append(3, 1, 1, 2, es3, 1);
    a3s.append.amnesia_seen = true;
    feed(90, 1, &a3s);                       /* caught up to a commit of term 3, heard */
    RaftMsg v4 = vote(4, false, 2, 3);
    feed(100, 2, &v4);
    run();
    assert_true(reply_to(1, 0)->append_reply.success);
    assert_false(reply_to(1, 0)->append_reply.amnesiac);
    assert_true(reply_to(1, 1)->vote_reply.granted);
    assert_false(reply_to(2, 0)->vote_reply.granted);
    assert_false(reply_to(2, 1)->vote_reply.granted);
    assert_true(reply_to(1, 2)->append_reply.success);
    assert_true(reply_to(1, 2)->append_reply.amnesiac);
    assert_false(reply_to(2, 2)->vote_reply.granted);
    assert_true(reply_to(1, 3)->append_reply.success);
    assert_true(reply_to(1, 3)->append_reply.amnesiac);
    assert_true(reply_to(1, 4)->append_reply.success);
    assert_false(reply_to(1, 4)->append_reply.amnesiac);
    assert_true(reply_to(2, 3)->vote_reply.granted);
    RaftLog log;
    RaftDurable d;
    raft_log_init(&log);
    durable_log(&log, &d);
    assert_int_equal(d.amnesia_term, 0);     /* the cure is durable too */
    raft_log_deinit(&log);
}

/* ---- Hostile input ---------------------------------------------------- */

/* Garbage is dropped: no reply, no change, no crash (ASan/UBSan builds). */
static void test_garbage(void **state)
{
    FlRng rng;
    fl_rng_init(&rng, 7, "garbage");
    for (int i = 0; i < 300; i++) {
        Inject *in = g_new0(Inject, 1);
        in->from = 1;
        in->bytes = g_byte_array_new();
        size_t len = (size_t)fl_rng_below(&rng, 200);
        for (size_t k = 0; k < len; k++) {
            uint8_t b = (uint8_t)fl_rng_next(&rng);
            g_byte_array_append(in->bytes, &b, 1);
        }
        if (len)
            in->bytes->data[0] = (uint8_t)(7 + fl_rng_below(&rng, 200));   /* no such type */
        fl_world_at(world, (FlTime)FL_MS(10 + i), inject_cb, in, 0);
    }
    /* A well-formed message with every field off by one from sane. */
    RaftMsg m = append(1, 1, 2, 0, NULL, 0);   /* prevLogTerm after the term */
    feed(400, 1, &m);
    run();
    assert_int_equal(count_from(0), 0);
    assert_string_equal(fl_world_role(world, 0), "follower");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_and_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_old_term, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vote_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vote_up_to_date, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prevote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_vote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
