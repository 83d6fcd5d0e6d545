/* PBFT: quorums, authentication, certificates and the new view's choice,
 * called directly; then small worlds whose send hooks shape the network
 * and watch what the replicas send (a damaged restart, a lagging new
 * primary). */
#include "protocols/pbft/pbft.h"
#include "sim/disk.h"
#include "sim/world.h"

#include <jansson.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

/* Four replicas' keys for the run seed 1 (setup); K[i] stands for the
 * state of replica i, the only one that holds its secret key. */
static PbftKeys K[4];

static int keys_setup(void **st)
{
    for (uint32_t i = 0; i < 4; i++)
        pbft_keys_init(&K[i], 1, i, 4);
    return 0;
}

static int keys_teardown(void **st)
{
    for (uint32_t i = 0; i < 4; i++)
        pbft_keys_deinit(&K[i]);
    return 0;
}

static FlRequest req(uint32_t client, int64_t a)
{
    return (FlRequest){ .client = client, .id = (uint64_t)a, .op = { .kind = FL_OP_PUT, .a = a } };
}

static void vote(FlWriter *w, uint8_t type, uint32_t signer, uint64_t view, uint64_t seq,
                 uint64_t digest)
{
    fl_writer_init(w, NULL, 0);
    pbft_stmt_begin(w, type, &K[signer]);
    fl_put_u64(w, view);
    fl_put_u64(w, seq);
    fl_put_u64(w, digest);
    pbft_stmt_end(w, 0, &K[signer]);
}

static void pre_prepare(FlWriter *w, uint32_t signer, uint64_t view, uint64_t seq, const FlRequest *r)
{
    fl_writer_init(w, NULL, 0);
    pbft_stmt_begin(w, PBFT_PRE_PREPARE, &K[signer]);
    fl_put_u64(w, view);
    fl_put_u64(w, seq);
    fl_put_u64(w, pbft_digest(r));
    fl_request_encode(w, r);
    pbft_stmt_end(w, 0, &K[signer]);
}

static void test_quorums(void **st)
{
    assert_int_equal(pbft_faults(4, false), 1);
    assert_int_equal(pbft_quorum(4, false), 3);
    assert_int_equal(pbft_quorum(7, false), 5);
    assert_int_equal(pbft_quorum(6, false), 5);
    /* Any two correct quorums share a correct replica: 2q - n >= f + 1. */
    for (uint32_t n = 1; n <= 64; n++)
        assert_true(2 * pbft_quorum(n, false) >= n + pbft_faults(n, false) + 1);
    /* The bug: f = ceil(n/3), quorum 2 of 4, two quorums can be disjoint. */
    assert_int_equal(pbft_faults(4, true), 2);
    assert_int_equal(pbft_quorum(4, true), 2);
    assert_true(2 * pbft_quorum(4, true) <= 4);
}

/* A signature binds the statement to its signer; any flipped bit fails
 * the signature or the parse. */
static void test_signatures_detect_corruption(void **st)
{
    FlWriter w;
    vote(&w, PBFT_PREPARE, 2, 5, 7, 0x1234);
    PbftStmt s;
    PbftScratch sc = { 0 };
    assert_true(pbft_stmt_parse(w.data, w.len, 4, &K[0], &s, &sc));
    assert_int_equal(s.signer, 2);
    assert_int_equal(s.seq, 7);
    for (size_t i = 0; i < w.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            w.data[i] ^= (uint8_t)(1u << bit);
            assert_false(pbft_stmt_parse(w.data, w.len, 4, &K[0], &s, &sc));
            w.data[i] ^= (uint8_t)(1u << bit);
        }
    /* Claiming another signer fails. */
    w.data[1] = 3;
    assert_false(pbft_stmt_parse(w.data, w.len, 4, &K[0], &s, &sc));
    fl_writer_deinit(&w);
}

/* A statement signed by replica 1 and claimed as replica 2's (the signer
 * field rewritten) fails every replica's check; 1 cannot make a valid one
 * in 2's name either, since stmt_begin writes the key holder's id.  Keys
 * come back the same after a restart, and differ with the run's seed. */
static void test_forged_signer_rejected(void **st)
{
    FlWriter w;
    vote(&w, PBFT_PREPARE, 1, 5, 7, 0x1234);
    PbftStmt s;
    PbftScratch sc = { 0 };
    for (uint32_t i = 0; i < 4; i++)
        assert_true(pbft_stmt_parse(w.data, w.len, 4, &K[i], &s, &sc));
    assert_int_equal(s.signer, 1);
    w.data[1] = 2;   /* signer u32 at offset 1, little-endian */
    for (uint32_t i = 0; i < 4; i++)
        assert_false(pbft_stmt_parse(w.data, w.len, 4, &K[i], &s, &sc));
    /* Still well formed: only the signature is wrong. */
    assert_true(pbft_stmt_parse(w.data, w.len, 4, NULL, &s, &sc));
    fl_writer_deinit(&w);

    PbftKeys again, other;
    pbft_keys_init(&again, 1, 1, 4);
    pbft_keys_init(&other, 2, 1, 4);
    assert_memory_equal(again.sk, K[1].sk, sizeof again.sk);
    assert_memory_equal(again.link[2], K[1].link[2], sizeof again.link[2]);
    assert_memory_not_equal(other.sk, K[1].sk, sizeof other.sk);
    assert_memory_not_equal(K[0].sk, K[1].sk, sizeof K[0].sk);
    pbft_keys_deinit(&again);
    pbft_keys_deinit(&other);
}

/* A link MAC belongs to one pair: both ends compute the same one, a third
 * replica cannot, and changing any one byte breaks it. */
static void test_link_macs(void **st)
{
    uint8_t msg[] = "pre-prepare";
    uint8_t m12[PBFT_MAC_BYTES], m21[PBFT_MAC_BYTES], m13[PBFT_MAC_BYTES], m32[PBFT_MAC_BYTES];
    pbft_mac(&K[1], 2, msg, sizeof msg, m12);
    pbft_mac(&K[2], 1, msg, sizeof msg, m21);
    pbft_mac(&K[1], 3, msg, sizeof msg, m13);
    pbft_mac(&K[3], 2, msg, sizeof msg, m32);
    assert_memory_equal(m12, m21, PBFT_MAC_BYTES);
    assert_memory_not_equal(m12, m13, PBFT_MAC_BYTES);
    assert_true(pbft_mac_check(&K[2], 1, msg, sizeof msg, m12));
    /* Replica 3 MACing "as 1" to 2 uses its own link key with 2: refused. */
    assert_false(pbft_mac_check(&K[2], 1, msg, sizeof msg, m32));
    for (size_t i = 0; i < sizeof msg; i++) {
        msg[i] ^= 0x01;
        assert_false(pbft_mac_check(&K[2], 1, msg, sizeof msg, m12));
        msg[i] ^= 0x01;
    }
    for (size_t i = 0; i < PBFT_MAC_BYTES; i++) {
        m12[i] ^= 0x80;
        assert_false(pbft_mac_check(&K[2], 1, msg, sizeof msg, m12));
        m12[i] ^= 0x80;
    }
    assert_false(pbft_mac_check(&K[2], 1, msg, sizeof msg - 1, m12));
}

typedef struct Cert {
    FlWriter pp, prep[4];
    PbftCertRaw raw;
} Cert;

static void cert_make(Cert *c, uint64_t view, uint64_t seq, const FlRequest *r,
                      const uint32_t *signers, uint32_t k, uint64_t digest)
{
    pre_prepare(&c->pp, pbft_primary(view, 4), view, seq, r);
    c->raw.pp = (PbftBytes){ c->pp.data, c->pp.len };
    c->raw.nprep = k;
    for (uint32_t i = 0; i < k; i++) {
        vote(&c->prep[i], PBFT_PREPARE, signers[i], view, seq, digest);
        c->raw.prep[i] = (PbftBytes){ c->prep[i].data, c->prep[i].len };
    }
}

static void cert_free(Cert *c)
{
    fl_writer_deinit(&c->pp);
    for (uint32_t i = 0; i < c->raw.nprep; i++)
        fl_writer_deinit(&c->prep[i]);
}

static void test_prepared_certificates(void **st)
{
    FlRequest r = req(9, 42);
    uint64_t d = pbft_digest(&r);
    PbftPrepared out;
    Cert c;
    uint32_t good[2] = { 1, 2 };
    cert_make(&c, 0, 3, &r, good, 2, d);
    assert_true(pbft_cert_check(&c.raw, 4, &K[0], 3, &out));
    assert_int_equal(out.seq, 3);
    assert_int_equal(out.digest, d);
    assert_int_equal(out.req.op.a, 42);
    cert_free(&c);
    /* Too few prepares. */
    cert_make(&c, 0, 3, &r, good, 1, d);
    assert_false(pbft_cert_check(&c.raw, 4, &K[0], 3, &out));
    cert_free(&c);
    /* The same backup twice does not count twice. */
    uint32_t twice[2] = { 1, 1 };
    cert_make(&c, 0, 3, &r, twice, 2, d);
    assert_false(pbft_cert_check(&c.raw, 4, &K[0], 3, &out));
    cert_free(&c);
    /* The primary's own prepare is not a backup's. */
    uint32_t primary[2] = { 0, 1 };
    cert_make(&c, 0, 3, &r, primary, 2, d);
    assert_false(pbft_cert_check(&c.raw, 4, &K[0], 3, &out));
    cert_free(&c);
    /* Prepares for another digest. */
    cert_make(&c, 0, 3, &r, good, 2, d ^ 1);
    assert_false(pbft_cert_check(&c.raw, 4, &K[0], 3, &out));
    cert_free(&c);
    /* A pre-prepare not signed by its view's primary. */
    cert_make(&c, 1, 3, &r, good, 2, d);
    assert_false(pbft_cert_check(&c.raw, 4, &K[0], 3, &out));   /* primary of view 1 is 1, who also prepared */
    cert_free(&c);
}

/* A VIEW-CHANGE by @author for view 1 (stable checkpoint 0) carrying one
 * prepared certificate of view 0 at sequence 1: the primary's pre-prepare
 * and the prepares @prep (borrowed). */
static void view_change(FlWriter *w, uint32_t author, const FlWriter *pp, const FlWriter *prep,
                        uint32_t nprep)
{
    fl_writer_init(w, NULL, 0);
    pbft_stmt_begin(w, PBFT_VIEW_CHANGE, &K[author]);
    fl_put_u64(w, 1);
    fl_put_u64(w, 0);
    fl_put_u64(w, 0);
    fl_put_u32(w, 0);   /* no checkpoint proof: stable is 0 */
    fl_put_u32(w, 1);
    fl_put_bytes(w, pp->data, pp->len);
    fl_put_u32(w, nprep);
    for (uint32_t i = 0; i < nprep; i++)
        fl_put_bytes(w, prep[i].data, prep[i].len);
    pbft_stmt_end(w, 0, &K[author]);
}

/* Statements from their authors are taken on the link MAC alone (README:
 * "Where signatures are verified"); relayed ones are verified.  Replica 3
 * relays, in its own validly signed VIEW-CHANGE, a prepare it claims for
 * replica 2 but signed itself (the signer field rewritten): replica 0
 * rejects the view change, even after 2's genuine prepare reached it
 * directly (noted authentic), since the forged bytes differ. */
static void test_view_change_forged_prepare_rejected(void **st)
{
    FlRequest r = req(9, 42);
    uint64_t d = pbft_digest(&r);
    FlWriter pp, prep[2], forged, vc;
    pre_prepare(&pp, 0, 0, 1, &r);
    vote(&prep[0], PBFT_PREPARE, 1, 0, 1, d);
    vote(&prep[1], PBFT_PREPARE, 2, 0, 1, d);
    PbftScratch sc = { .certs = g_new(PbftCertRaw, PBFT_MAX_WINDOW) };
    PbftVC out = { .prepared = g_new(PbftPrepared, PBFT_MAX_WINDOW) };
    PbftStmt s;
    /* The genuine certificate passes, and is what 2 sent 0 directly. */
    view_change(&vc, 3, &pp, prep, 2);
    assert_true(pbft_vc_check(vc.data, vc.len, 4, &K[0], 3, 4, &out, &sc));
    assert_int_equal(out.nprepared, 1);
    assert_true(pbft_stmt_parse(prep[1].data, prep[1].len, 4, NULL, &s, &sc));
    pbft_stmt_note_authentic(&K[0], &s);
    fl_writer_deinit(&vc);
    /* 3 signs a prepare and makes it 2's. */
    vote(&forged, PBFT_PREPARE, 3, 0, 1, d);
    forged.data[1] = 2;   /* signer u32 at offset 1, little-endian */
    FlWriter bad[2] = { prep[0], forged };
    view_change(&vc, 3, &pp, bad, 2);
    assert_true(pbft_stmt_parse(vc.data, vc.len, 4, &K[0], &s, &sc));   /* 3's own signature is fine */
    for (uint32_t i = 0; i < 3; i++)
        assert_false(pbft_vc_check(vc.data, vc.len, 4, &K[i], 3, 4, &out, &sc));
    /* Only the forged signature fails: unchecked, the certificate passes. */
    assert_true(pbft_vc_check(vc.data, vc.len, 4, NULL, 3, 4, &out, &sc));
    fl_writer_deinit(&vc);
    fl_writer_deinit(&forged);
    fl_writer_deinit(&pp);
    fl_writer_deinit(&prep[0]);
    fl_writer_deinit(&prep[1]);
    g_free(sc.certs);
    g_free(out.prepared);
}

/* Section 4.4: per sequence number the certificate of the highest view;
 * null requests in the gaps; nothing at or below the highest stable
 * checkpoint. */
static void test_new_view_ops(void **st)
{
    PbftPrepared a[2] = { { .seq = 5, .view = 0, .req = req(1, 1) }, { .seq = 8, .view = 1, .req = req(3, 3) } };
    PbftPrepared b[2] = { { .seq = 5, .view = 2, .req = req(2, 2) }, { .seq = 6, .view = 0, .req = req(4, 4) } };
    for (int i = 0; i < 2; i++) {
        a[i].digest = pbft_digest(&a[i].req);
        b[i].digest = pbft_digest(&b[i].req);
    }
    PbftVC vcs[3] = {
        { .signer = 0, .view = 3, .stable = 4, .nprepared = 2, .prepared = a },
        { .signer = 1, .view = 3, .stable = 4, .nprepared = 2, .prepared = b },
        { .signer = 2, .view = 3, .stable = 0, .nprepared = 0, .prepared = NULL },
    };
    PbftPrepared ops[16];
    uint64_t min_s;
    uint32_t min_vc;
    int k = pbft_new_view_ops(vcs, 3, ops, 16, &min_s, &min_vc);
    assert_int_equal(min_s, 4);
    assert_int_equal(k, 4);   /* 5, 6, 7, 8 */
    assert_int_equal(ops[0].req.op.a, 2);   /* view 2 beats view 0 */
    assert_int_equal(ops[1].req.op.a, 4);
    assert_true(pbft_is_null(&ops[2].req));
    FlRequest null = pbft_null_request();
    assert_int_equal(ops[2].digest, pbft_digest(&null));
    assert_int_equal(ops[3].req.op.a, 3);
    assert_int_equal(pbft_new_view_ops(vcs, 3, ops, 2, &min_s, &min_vc), -1);
}

/* ---- Small worlds ---------------------------------------------------------- */

/* Four replicas, two clients, checkpoints every 2 requests (window 4), a
 * crash of @crash at 1s with restart at @restart_ms, and @bug. */
static FlWorld *world_new(FlScenario **sc, const char *bug, uint32_t crash, uint32_t restart_ms,
                          int64_t seed)
{
    g_autofree char *text = g_strdup_printf(
        "{ \"name\": \"pbft-world\", \"duration\": \"4s\","
        "  \"cluster\": { \"protocol\": \"pbft\", \"nodes\": 4,"
        "    \"params\": { \"checkpoint_interval\": 2, \"bug\": \"%s\" } },"
        "  \"network\": { \"timing\": \"async\", \"delay\": { \"dist\": \"lognormal\", \"median\": \"2ms\", \"p99\": \"10ms\" } },"
        "  \"workload\": { \"model\": \"kv\", \"clients\": 2, \"keys\": 2, \"rate\": 40, \"timeout\": \"1s\", \"until\": \"3s\" },"
        "  \"faults\": [ { \"at\": \"1s\", \"kind\": \"crash\", \"node\": %u, \"restart_after\": \"%ums\" } ] }",
        bug, crash, restart_ms - 1000);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    assert_non_null(root);
    GError *err = NULL;
    *sc = fl_scenario_from_json(root, "test.json", seed, &err);
    json_decref(root);
    if (!*sc)
        fail_msg("%s", err->message);
    FlWorldOptions wo = { 0 };
    FlWorld *w = fl_world_new(*sc, &wo, &err);
    if (!w)
        fail_msg("%s", err->message);
    return w;
}

static uint8_t stmt_type(const GByteArray *msg)
{
    return msg->len ? msg->data[0] : 0;
}

/* (b) A new primary that lags behind the stable checkpoint.  Until 1.6s
 * the network loses everything sent to replica 1 but view changes, so 1
 * executes nothing while 0, 2 and 3 pass checkpoints.  Primary 0 crashes
 * at 1s; 2 and 3 ask for view 1, whose primary is the lagging 1.  Its
 * NEW-VIEW proves min-s, their stable checkpoint (section 4.4). */
typedef struct Lag {
    uint64_t min_s;          /* from replica 1's NEW-VIEW for view 1 */
    uint64_t pp_low, pp_high;   /* replica 1's pre-prepares in view 1 */
    uint32_t pps;
} Lag;

static bool lag_cb(FlWorld *w, void *ctx, uint32_t from, uint32_t to, GByteArray *msg)
{
    Lag *lag = ctx;
    if (from == 1 && msg->len > PBFT_MAC_BYTES) {
        PbftStmt st;
        PbftScratch sc = { .certs = g_new(PbftCertRaw, PBFT_MAX_WINDOW) };
        if (pbft_stmt_parse(msg->data, msg->len - PBFT_MAC_BYTES, 4, NULL, &st, &sc)) {
            if (st.type == PBFT_NEW_VIEW && st.view == 1 && lag->min_s == UINT64_MAX) {
                PbftBytes subs[PBFT_MAX_NODES];
                memcpy(subs, st.subs, sizeof(PbftBytes) * st.nsub);
                lag->min_s = 0;
                PbftVC vc = { .prepared = g_new(PbftPrepared, PBFT_MAX_WINDOW) };
                for (uint32_t i = 0; i < st.nsub; i++) {
                    assert_true(pbft_vc_check(subs[i].p, subs[i].len, 4, NULL, 3, 4, &vc, &sc));
                    if (vc.stable > lag->min_s)
                        lag->min_s = vc.stable;
                }
                g_free(vc.prepared);
            }
            if (st.type == PBFT_PRE_PREPARE && st.view == 1) {
                lag->pps++;
                if (st.seq < lag->pp_low)
                    lag->pp_low = st.seq;
                if (st.seq > lag->pp_high)
                    lag->pp_high = st.seq;
            }
        }
        g_free(sc.certs);
    }
    if (to == 1 && from != 1 && fl_world_now(w) < FL_MS(1600) && stmt_type(msg) != PBFT_VIEW_CHANGE)
        return false;
    return true;
}

static Lag run_lagging_primary(const char *bug, int64_t seed)
{
    FlScenario *sc;
    FlWorld *w = world_new(&sc, bug, 0, 3000, seed);
    Lag lag = { .min_s = UINT64_MAX, .pp_low = UINT64_MAX };
    for (uint32_t i = 0; i < 4; i++)
        fl_world_set_send_hook(w, i, lag_cb, &lag);
    GError *err = NULL;
    if (fl_world_run(w, &err) != 0)
        fail_msg("%s", err->message);
    fl_world_free(w);
    fl_scenario_free(sc);
    return lag;
}

/* Fixed: the new primary sets h = min-s and numbers from above it and
 * max-s.  Bug ignore-min-s: it keeps its own window (0, 4] and numbers
 * new requests from its own last execution, at or below min-s: sequence
 * numbers that the old view already used for other requests. */
static void test_new_view_starts_at_min_s(void **st)
{
    for (int64_t seed = 1; seed <= 10; seed++) {
        Lag lag = run_lagging_primary("none", seed);
        assert_true(lag.min_s != UINT64_MAX);
        assert_true(lag.min_s >= 8);      /* 0, 2, 3 ran ahead: the lag is real */
        assert_true(lag.pps > 0);
        assert_true(lag.pp_low > lag.min_s);
    }
    Lag bad = run_lagging_primary("ignore-min-s", 1);
    assert_true(bad.min_s != UINT64_MAX && bad.min_s >= 8);
    assert_true(bad.pps > 0);
    assert_true(bad.pp_low <= bad.min_s);
}

/* (a) Replica 2 crashes at 1s; its record is torn (a prefix of the last
 * synced write survives) and it restarts at 1.3s.  While its role is
 * "mute" it must send no PREPARE, COMMIT or VIEW-CHANGE:
 * its votes before the crash are lost with the record.  It votes again
 * later (the others bound its promises and the checkpoint passes them). */
typedef struct Torn {
    FlTime restart;
    uint32_t votes_amnesiac;    /* votes while mute */
    uint32_t votes_after;       /* votes after it recovered */
    bool recovered;
    bool sent_any, mute_at_restart;
} Torn;

static void tear_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    FlDisk *disk = fl_world_disk(w, 2);
    GByteArray *b = fl_disk_durable(disk, 0);   /* "view", its only file */
    g_byte_array_set_size(b, b->len / 2);
    fl_disk_crash(disk);   /* what recover will read */
}

static bool torn_cb(FlWorld *w, void *ctx, uint32_t from, uint32_t to, GByteArray *msg)
{
    Torn *t = ctx;
    if (from != 2 || fl_world_now(w) < FL_MS(1300) || msg->len <= PBFT_MAC_BYTES)
        return true;
    PbftStmt st;
    PbftScratch sc = { .certs = g_new(PbftCertRaw, PBFT_MAX_WINDOW) };
    if (pbft_stmt_parse(msg->data, msg->len - PBFT_MAC_BYTES, 4, NULL, &st, &sc)) {
        /* The role says "mute" from the restart until it may vote again. */
        t->recovered = strcmp(fl_world_role(w, 2), "mute") != 0;
        if (!t->sent_any)
            t->mute_at_restart = !t->recovered;
        t->sent_any = true;
        bool vote = st.type == PBFT_PREPARE || st.type == PBFT_COMMIT || st.type == PBFT_VIEW_CHANGE;
        if (vote && !t->recovered)
            t->votes_amnesiac++;
        if (vote && t->recovered)
            t->votes_after++;
    }
    g_free(sc.certs);
    return true;
}

static Torn run_torn(const char *bug)
{
    FlScenario *sc;
    FlWorld *w = world_new(&sc, bug, 2, 1300, 1);
    Torn t = { 0 };
    fl_world_at(w, FL_MS(1100), tear_cb, NULL, 0);   /* while 2 is down: recover reads it */
    for (uint32_t i = 0; i < 4; i++)
        fl_world_set_send_hook(w, i, torn_cb, &t);
    GError *err = NULL;
    if (fl_world_run(w, &err) != 0)
        fail_msg("%s", err->message);
    fl_world_free(w);
    fl_scenario_free(sc);
    return t;
}

static void test_torn_record_mutes(void **st)
{
    Torn t = run_torn("none");
    assert_true(t.mute_at_restart);
    assert_int_equal(t.votes_amnesiac, 0);
    assert_true(t.recovered);
    assert_true(t.votes_after > 0);
    /* trust-disk: the torn record reads as a first start, and it votes at once. */
    Torn bad = run_torn("trust-disk");
    assert_false(bad.mute_at_restart);
    assert_true(bad.votes_after > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorums),
        cmocka_unit_test(test_signatures_detect_corruption),
        cmocka_unit_test(test_forged_signer_rejected),
        cmocka_unit_test(test_link_macs),
        cmocka_unit_test(test_prepared_certificates),
        cmocka_unit_test(test_view_change_forged_prepare_rejected),
        cmocka_unit_test(test_new_view_ops),
        cmocka_unit_test(test_new_view_starts_at_min_s),
        cmocka_unit_test(test_torn_record_mutes),
    };
    return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
