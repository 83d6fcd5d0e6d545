/* HotStuff: the codec (every message round-trips, every cut or altered
 * one is dropped) and the rules on hand-built chains (safeNode with and
 * without the lock check, the three-chain commit rule, linking). */
#include "protocols/hotstuff/hotstuff.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

/* Four replicas' keys for the run seed 1; K[i] stands for replica i's
 * state, the only one that holds its secret key. */
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

/* A QC for (@view, @block) signed by replicas 0..2. */
static void make_qc(HsQC *qc, uint64_t view, uint64_t block)
{
    memset(qc, 0, sizeof *qc);
    qc->view = view;
    qc->block = block;
    if (view == 0)
        return;
    for (uint32_t i = 0; i < 3; i++) {
        uint8_t body[32];
        size_t len = hs_vote_body(body, i, view, block);
        qc->signer[i] = i;
        pbft_sign(&K[i], body, len, qc->sig[i]);
    }
    qc->nsig = 3;
}

static FlRequest req(uint32_t client, uint64_t id, int64_t a)
{
    return (FlRequest){ .client = client, .id = id, .op = { .kind = FL_OP_PUT, .key = 1, .a = a } };
}

/* A block of @view on @parent (a block, or NULL for genesis). */
static HsBlock *block_on(uint64_t view, const HsBlock *parent, int64_t value)
{
    HsQC *qc = g_new(HsQC, 1);
    make_qc(qc, parent ? parent->view : 0, parent ? parent->hash : HS_GENESIS);
    FlRequest r = req(5, view, value);
    HsBlock *b = hs_block_make(view, qc, &r, value ? 1 : 0);
    g_free(qc);
    return b;
}

static void test_qc_roundtrip(void **unused)
{
    HsQC *qc = g_new(HsQC, 1), *back = g_new(HsQC, 1);
    make_qc(qc, 7, 0xabcdef);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    hs_qc_encode(&w, qc);
    FlReader r;
    fl_reader_init(&r, w.data, w.len);
    assert_true(hs_qc_decode(&r, 4, back) && fl_reader_done(&r));
    assert_int_equal(back->view, 7);
    assert_int_equal(back->nsig, 3);
    assert_true(hs_qc_verify(&K[3], back, 3));
    /* Too few votes for the quorum. */
    assert_false(hs_qc_verify(&K[3], back, 4));
    /* A vote's signature altered. */
    back->sig[1][5] ^= 1;
    assert_false(hs_qc_verify(&K[3], back, 3));
    /* A signer twice (not ascending): refused at decode. */
    w.data[8 + 8 + 4 + 68] = 0;   /* the second signer's id becomes 0 */
    fl_reader_init(&r, w.data, w.len);
    assert_false(hs_qc_decode(&r, 4, back));
    fl_writer_deinit(&w);
    g_free(qc);
    g_free(back);
}

static void test_proposal_roundtrip_and_cuts(void **unused)
{
    HsBlock *a = block_on(1, NULL, 10);
    HsBlock *b = block_on(2, a, 20);
    /* PROPOSAL by the leader of view 2 (replica 2 with a span of 1). */
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    hs_stmt_begin(&w, HS_PROPOSAL, &K[2]);
    gsize len;
    const uint8_t *p = g_bytes_get_data(b->raw, &len);
    fl_put_raw(&w, p, len);
    hs_stmt_end(&w, 0, &K[2]);
    HsStmt *st = g_new(HsStmt, 1);
    assert_true(hs_stmt_parse(w.data, w.len, 4, st));
    assert_int_equal(st->type, HS_PROPOSAL);
    assert_int_equal(st->signer, 2);
    assert_int_equal(st->view, 2);
    HsBlock *d = hs_block_decode(st->body.p, st->body.len, 4, 32);
    assert_non_null(d);
    assert_int_equal(d->hash, b->hash);
    assert_int_equal(d->parent, a->hash);
    assert_int_equal(d->justify_view, 1);
    assert_int_equal(d->ncmd, 1);
    assert_int_equal(d->cmds[0].op.a, 20);
    hs_block_free(d);
    /* Every cut: the statement or its block fails to decode (a cut body
     * leaves the signature short, or the block short). */
    for (size_t cut = 0; cut < w.len; cut++) {
        if (!hs_stmt_parse(w.data, cut, 4, st))
            continue;
        d = hs_block_decode(st->body.p, st->body.len, 4, 32);
        assert_null(d);
    }
    /* A batch above the bound is dropped. */
    assert_null(hs_block_decode(p, len, 4, 0));
    /* A signer outside the cluster. */
    assert_false(hs_stmt_parse(w.data, w.len, 2, st));
    fl_writer_deinit(&w);
    g_free(st);
    hs_block_free(a);
    hs_block_free(b);
}

static void test_small_statements(void **unused)
{
    HsStmt *st = g_new(HsStmt, 1);
    uint8_t buf[256];
    FlWriter w;
    /* VOTE */
    fl_writer_init(&w, buf, sizeof buf);
    hs_stmt_begin(&w, HS_VOTE, &K[1]);
    fl_put_u64(&w, 9);
    fl_put_u64(&w, 0x1234);
    hs_stmt_end(&w, 0, &K[1]);
    assert_true(hs_stmt_parse(w.data, w.len, 4, st));
    assert_int_equal(st->view, 9);
    assert_int_equal(st->block, 0x1234);
    /* The signature covers what hs_vote_body rebuilds for a QC. */
    uint8_t body[32];
    size_t blen = hs_vote_body(body, 1, 9, 0x1234);
    assert_memory_equal(body, w.data, blen);
    assert_true(pbft_verify(&K[0], 1, body, blen, w.data + blen));
    for (size_t cut = 0; cut < w.len; cut++)
        assert_false(hs_stmt_parse(w.data, cut, 4, st));
    /* NEW-VIEW with the genesis QC */
    fl_writer_init(&w, buf, sizeof buf);
    hs_stmt_begin(&w, HS_NEW_VIEW, &K[3]);
    fl_put_u64(&w, 4);
    HsQC g = { .view = 0, .block = HS_GENESIS };
    hs_qc_encode(&w, &g);
    hs_stmt_end(&w, 0, &K[3]);
    assert_true(hs_stmt_parse(w.data, w.len, 4, st));
    assert_int_equal(st->view, 4);
    for (size_t cut = 0; cut < w.len; cut++)
        assert_false(hs_stmt_parse(w.data, cut, 4, st));
    /* FETCH: a count of 0 or above the bound is refused */
    fl_writer_init(&w, buf, sizeof buf);
    hs_stmt_begin(&w, HS_FETCH, &K[0]);
    fl_put_u64(&w, 77);
    fl_put_u32(&w, HS_MAX_FETCH + 1);
    hs_stmt_end(&w, 0, &K[0]);
    assert_false(hs_stmt_parse(w.data, w.len, 4, st));
    /* An unknown type */
    buf[0] = 99;
    assert_false(hs_stmt_parse(buf, w.len, 4, st));
    g_free(st);
}

static void test_fields(void **unused)
{
    uint8_t buf[128];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    hs_stmt_begin(&w, HS_VOTE, &K[1]);
    fl_put_u64(&w, 9);
    fl_put_u64(&w, 0x1234);
    hs_stmt_end(&w, 0, &K[1]);
    uint8_t mac[PBFT_MAC_BYTES];
    pbft_mac(&K[1], 2, w.data, w.len, mac);
    fl_put_raw(&w, mac, sizeof mac);
    FlMsgField f[4];
    assert_int_equal(hs_fields(w.data, w.len, f, 4), 2);
    assert_string_equal(f[0].name, "view");
    assert_int_equal(f[0].offset, 5);
    assert_string_equal(f[1].name, "block");
    /* A mutated view, resealed by its signer, checks again at the peer. */
    w.data[5]++;
    assert_true(hs_reseal_keys(&K[1], 2, w.data, w.len));
    size_t slen = w.len - PBFT_MAC_BYTES;
    assert_true(pbft_mac_check(&K[2], 1, w.data, slen, w.data + slen));
    assert_true(pbft_verify(&K[2], 1, w.data, slen - PBFT_SIG_BYTES, w.data + slen - PBFT_SIG_BYTES));
    /* Another replica cannot reseal it. */
    assert_false(hs_reseal_keys(&K[3], 2, w.data, w.len));
}

/* genesis <- A(1) <- B(2) <- C(3) <- D(4), and a fork F(5) on A. */
typedef struct Chain {
    HsTree t;
    HsBlock *a, *b, *c, *d;
} Chain;

static void chain_init(Chain *ch)
{
    hs_tree_init(&ch->t, 100);
    ch->a = hs_tree_add(&ch->t, block_on(1, NULL, 1));
    ch->b = hs_tree_add(&ch->t, block_on(2, ch->a, 2));
    ch->c = hs_tree_add(&ch->t, block_on(3, ch->b, 0));
    ch->d = hs_tree_add(&ch->t, block_on(4, ch->c, 0));
    uint64_t missing;
    assert_true(hs_tree_link(&ch->t, ch->d, &missing));
    assert_int_equal(ch->d->height, 4);
    assert_true(ch->a->linked);
}

static void test_commit_rule(void **unused)
{
    Chain ch;
    chain_init(&ch);
    HsUpdate u;
    /* b* = D: b'' = C, b' = B, b = A, views 1, 2, 3: A commits, and the
     * lock goes to C's justify, the QC of B. */
    hs_update(&ch.t, ch.d, &u);
    assert_ptr_equal(u.lock, ch.c);
    assert_int_equal(u.lock->justify_view, 2);
    assert_int_equal(u.commit, ch.a->hash);
    /* b* = C: b'' = B, b' = A, b = genesis: a lock on A's QC, no commit. */
    hs_update(&ch.t, ch.c, &u);
    assert_ptr_equal(u.lock, ch.b);
    assert_int_equal(u.commit, 0);
    /* A gap: E(6) on D(4), then G(7) on E, H(8) on G: b* = H gives
     * b'' = G(7), b' = E(6), b = D(4): E is not D's direct child (view 5
     * passed without a QC), so nothing commits; the lock still moves. */
    HsBlock *e = hs_tree_add(&ch.t, block_on(6, ch.d, 0));
    HsBlock *g = hs_tree_add(&ch.t, block_on(7, e, 0));
    HsBlock *h = hs_tree_add(&ch.t, block_on(8, g, 0));
    uint64_t missing;
    assert_true(hs_tree_link(&ch.t, h, &missing));
    hs_update(&ch.t, h, &u);
    assert_ptr_equal(u.lock, g);
    assert_int_equal(u.commit, 0);
    /* ...and one more direct block commits E. */
    HsBlock *i = hs_tree_add(&ch.t, block_on(9, h, 0));
    assert_true(hs_tree_link(&ch.t, i, &missing));
    hs_update(&ch.t, i, &u);
    assert_int_equal(u.commit, e->hash);
    hs_tree_deinit(&ch.t);
}

static void test_safe_node(void **unused)
{
    Chain ch;
    chain_init(&ch);
    uint64_t missing;
    /* Locked on B (view 2), as after receiving D. */
    uint64_t lv = ch.b->view, lb = ch.b->hash;
    /* E(5) on D extends B: safe. */
    HsBlock *e = hs_tree_add(&ch.t, block_on(5, ch.d, 0));
    assert_true(hs_tree_link(&ch.t, e, &missing));
    assert_true(hs_safe_node(&ch.t, e, lv, lb, true));
    /* F(5) on A: a fork behind the lock with an older QC (view 1). */
    HsBlock *f = hs_tree_add(&ch.t, block_on(5, ch.a, 7));
    assert_true(hs_tree_link(&ch.t, f, &missing));
    assert_false(hs_extends(&ch.t, f, lb, lv));
    assert_false(hs_safe_node(&ch.t, f, lv, lb, true));
    /* The bug no-lock-check votes for it. */
    assert_true(hs_safe_node(&ch.t, f, lv, lb, false));
    /* X(6) on F, then Y(7) on X: Y's QC (view 6) is newer than the lock
     * (view 2): the liveness rule makes it safe though it forks. */
    HsBlock *x = hs_tree_add(&ch.t, block_on(6, f, 0));
    HsBlock *y = hs_tree_add(&ch.t, block_on(7, x, 0));
    assert_true(hs_tree_link(&ch.t, y, &missing));
    assert_false(hs_extends(&ch.t, y, lb, lv));
    assert_true(hs_safe_node(&ch.t, y, lv, lb, true));
    hs_tree_deinit(&ch.t);
}

static void test_link_missing(void **unused)
{
    HsTree t;
    hs_tree_init(&t, 3);
    HsBlock *a = block_on(1, NULL, 1);
    HsBlock *b = block_on(2, a, 2);
    HsBlock *c = block_on(3, b, 3);
    uint64_t a_hash = a->hash, b_hash = b->hash;
    HsBlock *in = hs_tree_add(&t, c);
    uint64_t missing = 0;
    assert_false(hs_tree_link(&t, in, &missing));
    assert_int_equal(missing, b_hash);
    assert_non_null(hs_tree_add(&t, b));
    assert_false(hs_tree_link(&t, in, &missing));
    assert_int_equal(missing, a_hash);
    /* The tree holds 3 blocks (genesis counts): the fourth is refused. */
    assert_null(hs_tree_add(&t, a));
    hs_tree_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qc_roundtrip),
        cmocka_unit_test(test_proposal_roundtrip_and_cuts),
        cmocka_unit_test(test_small_statements),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_commit_rule),
        cmocka_unit_test(test_safe_node),
        cmocka_unit_test(test_link_missing),
    };
    return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
