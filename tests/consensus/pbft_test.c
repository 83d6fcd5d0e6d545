/* PBFT: quorums, authentication, certificates and the new view's choice,
 * called directly. */
#include "protocols/pbft/pbft.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static FlRequest req(uint32_t client, int64_t a)
{
    return (FlRequest){ .client = client, .id = (uint64_t)a, .op = { .kind = FL_OP_PUT, .a = a } };
}

static void vote(FlWriter *w, uint8_t type, uint32_t signer, uint64_t view, uint64_t seq,
                 uint64_t digest)
{
    fl_writer_init(w, NULL, 0);
    pbft_stmt_begin(w, type, signer);
    fl_put_u64(w, view);
    fl_put_u64(w, seq);
    fl_put_u64(w, digest);
    pbft_stmt_end(w, 0, signer);
}

static void pre_prepare(FlWriter *w, uint32_t signer, uint64_t view, uint64_t seq, const FlRequest *r)
{
    fl_writer_init(w, NULL, 0);
    pbft_stmt_begin(w, PBFT_PRE_PREPARE, signer);
    fl_put_u64(w, view);
    fl_put_u64(w, seq);
    fl_put_u64(w, pbft_digest(r));
    fl_request_encode(w, r);
    pbft_stmt_end(w, 0, signer);
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
    assert_true(pbft_stmt_parse(w.data, w.len, 4, &s, &sc));
    assert_int_equal(s.signer, 2);
    assert_int_equal(s.seq, 7);
    for (size_t i = 0; i < w.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            w.data[i] ^= (uint8_t)(1u << bit);
            assert_false(pbft_stmt_parse(w.data, w.len, 4, &s, &sc));
            w.data[i] ^= (uint8_t)(1u << bit);
        }
    /* Claiming another signer fails. */
    w.data[1] = 3;
    assert_false(pbft_stmt_parse(w.data, w.len, 4, &s, &sc));
    fl_writer_deinit(&w);
}

/* A link MAC belongs to one pair: the same bytes do not verify elsewhere. */
static void test_link_macs(void **st)
{
    const char msg[] = "pre-prepare";
    assert_int_equal(pbft_mac(1, 2, msg, sizeof msg), pbft_mac(2, 1, msg, sizeof msg));
    assert_int_not_equal(pbft_mac(1, 2, msg, sizeof msg), pbft_mac(1, 3, msg, sizeof msg));
    assert_int_not_equal(pbft_mac(1, 2, msg, sizeof msg), pbft_mac(1, 2, msg, sizeof msg - 1));
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
    assert_true(pbft_cert_check(&c.raw, 4, 3, &out));
    assert_int_equal(out.seq, 3);
    assert_int_equal(out.digest, d);
    assert_int_equal(out.req.op.a, 42);
    cert_free(&c);
    /* Too few prepares. */
    cert_make(&c, 0, 3, &r, good, 1, d);
    assert_false(pbft_cert_check(&c.raw, 4, 3, &out));
    cert_free(&c);
    /* The same backup twice does not count twice. */
    uint32_t twice[2] = { 1, 1 };
    cert_make(&c, 0, 3, &r, twice, 2, d);
    assert_false(pbft_cert_check(&c.raw, 4, 3, &out));
    cert_free(&c);
    /* The primary's own prepare is not a backup's. */
    uint32_t primary[2] = { 0, 1 };
    cert_make(&c, 0, 3, &r, primary, 2, d);
    assert_false(pbft_cert_check(&c.raw, 4, 3, &out));
    cert_free(&c);
    /* Prepares for another digest. */
    cert_make(&c, 0, 3, &r, good, 2, d ^ 1);
    assert_false(pbft_cert_check(&c.raw, 4, 3, &out));
    cert_free(&c);
    /* A pre-prepare not signed by its view's primary. */
    cert_make(&c, 1, 3, &r, good, 2, d);
    assert_false(pbft_cert_check(&c.raw, 4, 3, &out));   /* primary of view 1 is 1, who also prepared */
    cert_free(&c);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorums),
        cmocka_unit_test(test_signatures_detect_corruption),
        cmocka_unit_test(test_link_macs),
        cmocka_unit_test(test_prepared_certificates),
        cmocka_unit_test(test_new_view_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
