/* HotStuff statements, blocks and quorum certificates on the wire.  See
 * hotstuff.h for the layout; every decoder is bounds-checked and returns
 * false (or NULL) on anything malformed, so the caller drops it. */
#include "protocols/hotstuff/hotstuff.h"

#include <sodium.h>
#include <string.h>

bool hs_type_signed(uint8_t type)
{
    return type == HS_VOTE;
}

size_t hs_vote_body(uint8_t buf[32], uint32_t signer, uint64_t view, uint64_t block)
{
    FlWriter w;
    fl_writer_init(&w, buf, 32);
    fl_put_u8(&w, HS_VOTE);
    fl_put_u32(&w, signer);
    fl_put_u64(&w, view);
    fl_put_u64(&w, block);
    size_t len = w.len;
    g_assert(w.data == buf);   /* fits: never reallocated */
    fl_writer_deinit(&w);
    return len;
}

void hs_qc_encode(FlWriter *w, const HsQC *qc)
{
    fl_put_u64(w, qc->view);
    fl_put_u64(w, qc->block);
    fl_put_u32(w, qc->nsig);
    for (uint32_t i = 0; i < qc->nsig; i++) {
        fl_put_u32(w, qc->signer[i]);
        fl_put_raw(w, qc->sig[i], PBFT_SIG_BYTES);
    }
}

bool hs_qc_decode(FlReader *r, uint32_t n, HsQC *qc)
{
    qc->view = fl_get_u64(r);
    qc->block = fl_get_u64(r);
    qc->nsig = fl_get_u32(r);
    if (!fl_reader_ok(r) || qc->nsig > n || qc->nsig > HS_MAX_NODES)
        return false;
    for (uint32_t i = 0; i < qc->nsig; i++) {
        qc->signer[i] = fl_get_u32(r);
        const uint8_t *sig = fl_get_raw(r, PBFT_SIG_BYTES);
        /* Ascending signers: one vote each, and one encoding per QC. */
        if (!sig || qc->signer[i] >= n || (i > 0 && qc->signer[i] <= qc->signer[i - 1]))
            return false;
        memcpy(qc->sig[i], sig, PBFT_SIG_BYTES);
    }
    /* The genesis QC is the only one without votes, and only for genesis. */
    if ((qc->nsig == 0) != (qc->view == 0) || (qc->view == 0 && qc->block != HS_GENESIS))
        return false;
    return true;
}

/* A process-wide memo of votes whose signature verified: key = BLAKE2b-128
 * of the signer's public key, the signed bytes and the signature.  Why a
 * static in protocol code, which otherwise keeps everything in its node's
 * state: Ed25519 verification is a pure function of public bytes, so the
 * memo can only save work, never change an answer (a hit is a triple that
 * verified before, up to a BLAKE2b collision; the public key in the key
 * keeps runs of other seeds apart), and nothing a node does depends on
 * whether another node checked the same vote first.  Without it every
 * replica but the leader verifies each QC's 2f+1 votes again, three
 * quarters of a run's CPU time.  The engine runs one thread. */
#define MEMO_SLOTS 16384
static uint8_t memo[MEMO_SLOTS][16];

static uint8_t *memo_slot(const PbftKeys *k, uint32_t signer, const uint8_t *body, size_t len,
                          const uint8_t *sig, uint8_t h[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, k->pk[signer], PBFT_PK_BYTES);
    crypto_generichash_update(&st, body, len);
    crypto_generichash_update(&st, sig, PBFT_SIG_BYTES);
    crypto_generichash_final(&st, h, 16);
    return memo[(h[0] | (uint32_t)h[1] << 8) % MEMO_SLOTS];
}

bool hs_qc_verify(const PbftKeys *k, const HsQC *qc, uint32_t quorum)
{
    if (qc->view == 0)
        return qc->block == HS_GENESIS && qc->nsig == 0;
    if (qc->nsig < quorum)
        return false;
    for (uint32_t i = 0; i < qc->nsig; i++) {
        uint8_t body[32];
        size_t len = hs_vote_body(body, qc->signer[i], qc->view, qc->block);
        if (qc->signer[i] >= k->n)
            return false;
        uint8_t h[16];
        uint8_t *slot = memo_slot(k, qc->signer[i], body, len, qc->sig[i], h);
        if (memcmp(slot, h, sizeof h) == 0)
            continue;
        if (!pbft_verify(k, qc->signer[i], body, len, qc->sig[i]))
            return false;
        memcpy(slot, h, sizeof h);
    }
    return true;
}

void hs_block_encode(FlWriter *w, uint64_t view, const HsQC *justify, const FlRequest *cmds,
                     uint32_t ncmd)
{
    fl_put_u64(w, view);
    hs_qc_encode(w, justify);
    fl_put_u32(w, ncmd);
    for (uint32_t i = 0; i < ncmd; i++)
        fl_request_encode(w, &cmds[i]);
}

uint64_t hs_block_hash(const void *p, size_t len)
{
    /* BLAKE2b (the paper's collision-resistant hash), cut to 64 bits so
     * that a hash is one field a `mutate` fault can replace.  0 and
     * HS_GENESIS are reserved. */
    uint8_t h[8];
    crypto_generichash(h, sizeof h, p, len, NULL, 0);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | h[i];
    return v <= HS_GENESIS ? v + 2 : v;
}

static HsBlock *block_new(const uint8_t *p, size_t len)
{
    HsBlock *b = g_new0(HsBlock, 1);
    b->raw = g_bytes_new(p, len);
    b->hash = hs_block_hash(p, len);
    return b;
}

HsBlock *hs_block_decode(const uint8_t *p, size_t len, uint32_t n, uint32_t max_batch)
{
    FlReader r;
    fl_reader_init(&r, p, len);
    uint64_t view = fl_get_u64(&r);
    size_t qc_start = r.pos;
    HsQC *qc = g_new(HsQC, 1);
    bool ok = hs_qc_decode(&r, n, qc) && view > qc->view;
    size_t qc_end = r.pos;
    uint32_t ncmd = fl_get_u32(&r);
    ok = ok && fl_reader_ok(&r) && ncmd <= max_batch && ncmd <= HS_MAX_BATCH;
    HsBlock *b = NULL;
    if (ok) {
        b = block_new(p, len);
        b->view = view;
        b->parent = qc->block;
        b->justify_view = qc->view;
        b->qc = g_bytes_new_from_bytes(b->raw, qc_start, qc_end - qc_start);
        b->ncmd = ncmd;
        b->cmds = g_new0(FlRequest, ncmd ? ncmd : 1);
        for (uint32_t i = 0; ok && i < ncmd; i++)
            ok = fl_request_decode(&r, &b->cmds[i]);
        ok = ok && fl_reader_done(&r);
    }
    g_free(qc);
    if (!ok && b) {
        hs_block_free(b);
        b = NULL;
    }
    return b;
}

HsBlock *hs_block_make(uint64_t view, const HsQC *justify, const FlRequest *cmds, uint32_t ncmd)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    hs_block_encode(&w, view, justify, cmds, ncmd);
    HsBlock *b = hs_block_decode(w.data, w.len, HS_MAX_NODES, HS_MAX_BATCH);
    fl_writer_deinit(&w);
    g_assert(b);   /* we encoded it: it decodes */
    return b;
}

HsBlock *hs_block_genesis(void)
{
    HsBlock *b = g_new0(HsBlock, 1);
    b->hash = HS_GENESIS;
    b->raw = g_bytes_new(NULL, 0);
    b->cmds = g_new0(FlRequest, 1);
    b->linked = true;
    return b;
}

void hs_block_free(HsBlock *b)
{
    if (!b)
        return;
    if (b->qc)
        g_bytes_unref(b->qc);
    g_bytes_unref(b->raw);
    g_free(b->cmds);
    g_free(b);
}

void hs_stmt_begin(FlWriter *w, uint8_t type, const PbftKeys *k)
{
    fl_put_u8(w, type);
    fl_put_u32(w, k->self);
}

void hs_stmt_end(FlWriter *w, size_t start, const PbftKeys *k)
{
    g_assert(w->len > start);
    if (!hs_type_signed(w->data[start]))
        return;
    uint8_t sig[PBFT_SIG_BYTES];
    pbft_sign(k, w->data + start, w->len - start, sig);
    fl_put_raw(w, sig, sizeof sig);
}

bool hs_stmt_parse(const uint8_t *p, size_t len, uint32_t n, HsStmt *st)
{
    if (len < HS_STMT_MIN)
        return false;
    size_t sig = hs_type_signed(p[0]) ? PBFT_SIG_BYTES : 0;
    if (len < HS_STMT_MIN + sig)
        return false;
    FlReader r;
    fl_reader_init(&r, p, len - sig);
    memset(st, 0, sizeof *st);
    st->raw = (HsBytes){ p, len };
    st->type = fl_get_u8(&r);
    st->signer = fl_get_u32(&r);
    if (st->signer >= n)
        return false;
    switch (st->type) {
    case HS_PROPOSAL:
        /* The body is the block; its first field is the view. */
        st->body = (HsBytes){ p + r.pos, len - sig - r.pos };
        st->view = fl_get_u64(&r);
        if (!fl_reader_ok(&r))
            return false;
        r.pos = r.len;
        break;
    case HS_VOTE:
        st->view = fl_get_u64(&r);
        st->block = fl_get_u64(&r);
        break;
    case HS_NEW_VIEW: {
        st->view = fl_get_u64(&r);
        size_t at = r.pos;
        HsQC *qc = g_new(HsQC, 1);
        bool ok = hs_qc_decode(&r, n, qc);
        g_free(qc);
        if (!ok)
            return false;
        st->body = (HsBytes){ p + at, r.pos - at };
        break;
    }
    case HS_FETCH:
        st->block = fl_get_u64(&r);
        st->count = fl_get_u32(&r);
        if (!fl_reader_ok(&r) || st->count == 0 || st->count > HS_MAX_FETCH)
            return false;
        break;
    case HS_BLOCKS:
        st->count = fl_get_u32(&r);
        if (!fl_reader_ok(&r) || st->count > HS_MAX_FETCH)
            return false;
        for (uint32_t i = 0; i < st->count; i++) {
            st->blocks[i].p = fl_get_bytes(&r, &st->blocks[i].len);
            if (!st->blocks[i].p)
                return false;
        }
        break;
    default:
        return false;
    }
    return fl_reader_done(&r);
}

/* The fields a Byzantine replica could change in its own statements, at
 * the offsets hs_stmt_parse reads them: type u8 at 0, signer u32 at 1, the
 * body from 5.  A QC's view and block are left out: they are what 2f+1
 * other replicas signed, so changing them only makes the message fail its
 * check, and the same holds for a block's justify (the block's parent). */
int hs_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max)
{
    if (len < PBFT_MAC_BYTES + HS_STMT_MIN)
        return 0;
    HsStmt *st = g_new(HsStmt, 1);
    bool ok = hs_stmt_parse(msg, len - PBFT_MAC_BYTES, HS_MAX_NODES, st);
    uint8_t type = st->type;
    g_free(st);
    if (!ok)
        return 0;
    FlMsgField f[4];
    int n = 0;
    switch (type) {
    case HS_PROPOSAL:
    case HS_NEW_VIEW:
        f[n++] = (FlMsgField){ "view", 5, 8, FL_FIELD_ROUND };
        break;
    case HS_VOTE:
        f[n++] = (FlMsgField){ "view", 5, 8, FL_FIELD_ROUND };
        f[n++] = (FlMsgField){ "block", 13, 8, FL_FIELD_VALUE };
        break;
    case HS_FETCH:
        f[n++] = (FlMsgField){ "block", 5, 8, FL_FIELD_VALUE };
        break;
    }
    if (n > max)
        n = max;
    memcpy(out, f, (size_t)n * sizeof *f);
    return n;
}

bool hs_reseal_keys(const PbftKeys *k, uint32_t to, uint8_t *msg, size_t len)
{
    return pbft_reseal_with(k, to, msg, len, HS_STMT_MIN, hs_type_signed);
}
