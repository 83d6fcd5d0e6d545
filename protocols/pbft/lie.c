/* PBFT's `lie` hook: what a Byzantine replica says instead of the truth.
 *
 * The lies are convincing: they parse, carry the liar's own valid signature
 * and the right link MAC, so only the protocol's quorums can defeat them.
 * Every liar follows the same rule, so f+1 liars collude without talking:
 *
 * 1. Equivocation by recipient parity.  Even-numbered replicas hear the
 *    truth.  Odd-numbered ones hear that every request that changes the
 *    state (anything but a read) is the null request: the primary
 *    pre-prepares it so, and backups prepare and commit the null digest;
 *    reads stay as they are.  A backup tells the even side the digest the
 *    even replicas prepared (it learns it from their PREPAREs and tells
 *    them on its next resend), whatever it believes itself.  With at most f
 *    liars neither side gathers a quorum for a conflict.  With f+1 (a lying
 *    primary 0 and a lying backup 1 of 4) both sides do: replicas 0 and 2
 *    execute everything, 1 and 3 only the reads, and each pair has f+1
 *    replicas to answer a read from its own state: a write is
 *    acknowledged, then a read does not see it.
 * 2. View changes claim that nothing was prepared (certificates dropped).
 * 3. Checkpoints tell each side the state digest its own peers announced.
 * 4. Answers to clients, if a fault hands them to us (the `byzantine`
 *    fault keeps them honest), say every read found nothing.  One liar's
 *    answer never reaches f+1 matching votes alone.
 * Relayed statements signed by others are passed on unchanged: a liar has
 * only its own key. */
#include "protocols/pbft/pbft.h"

#include <string.h>

size_t pbft_lie(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len, size_t cap);
uint64_t pbft_peer_digest(void *state, uint64_t view, uint64_t seq);
bool pbft_own_request(void *state, uint64_t view, uint64_t seq, FlRequest *out);
uint64_t pbft_peer_checkpoint(void *state, uint64_t seq, bool even);
const PbftKeys *pbft_keys(void *state);

static bool modifies(const FlRequest *r)
{
    return !pbft_is_null(r) && !fl_op_is_read(r->op.kind);
}

/* Rule 4, on the engine's reply encoding (sim/node.c fl_reply): id u64,
 * status u8, hint u32, has_value u8, value i64, text bytes. */
static size_t lie_reply(uint8_t *msg, size_t len, size_t cap)
{
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint64_t id = fl_get_u64(&r);
    uint8_t status = fl_get_u8(&r);
    uint32_t hint = fl_get_u32(&r);
    uint8_t has_value = fl_get_u8(&r);
    fl_get_i64(&r);
    size_t text_len;
    fl_get_bytes(&r, &text_len);
    if (!fl_reader_done(&r) || status != FL_RESULT_OK || (!has_value && text_len == 0))
        return 0;
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u64(&w, id);
    fl_put_u8(&w, status);
    fl_put_u32(&w, hint);
    fl_put_u8(&w, 0);
    fl_put_i64(&w, 0);
    fl_put_bytes(&w, "", 0);
    size_t out = w.len <= cap ? w.len : 0;
    if (out)
        memcpy(msg, w.data, out);
    fl_writer_deinit(&w);
    return out;
}

size_t pbft_lie(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len, size_t cap)
{
    uint32_t self = fl_self(n), nodes = fl_nodes(n);
    if (to >= nodes)
        return lie_reply(msg, len, cap);
    if (len < PBFT_MAC_BYTES + PBFT_STMT_MIN)
        return 0;
    /* The liar's own keys, from its own state: the only ones it can sign
     * or MAC with. */
    const PbftKeys *keys = pbft_keys(state);
    PbftStmt st;
    PbftScratch sc;
    /* Only a VIEW-CHANGE has certificates: don't allocate room otherwise. */
    sc.certs = msg[0] == PBFT_VIEW_CHANGE ? g_new(PbftCertRaw, PBFT_MAX_WINDOW) : NULL;
    size_t out = 0;
    /* Our own outgoing statement: parsed, not verified. */
    if (!pbft_stmt_parse(msg, len - PBFT_MAC_BYTES, nodes, NULL, &st, &sc) || st.signer != self)
        goto done;
    bool odd = to % 2 == 1;
    FlRequest null = pbft_null_request();
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    switch (st.type) {
    case PBFT_PRE_PREPARE:
        if (!odd || !modifies(&st.req))
            break;
        pbft_stmt_begin(&w, st.type, keys);
        fl_put_u64(&w, st.view);
        fl_put_u64(&w, st.seq);
        fl_put_u64(&w, pbft_digest(&null));
        fl_request_encode(&w, &null);
        pbft_stmt_end(&w, 0, keys);
        break;
    case PBFT_PREPARE:
    case PBFT_COMMIT: {
        FlRequest own;
        bool known = pbft_own_request(state, st.view, st.seq, &own);
        uint64_t d = 0;
        if (odd && known)
            d = modifies(&own) ? pbft_digest(&null) : pbft_digest(&own);
        else if (!odd)
            d = pbft_peer_digest(state, st.view, st.seq);
        if (!odd && !d && known && !pbft_is_null(&own))
            d = pbft_digest(&own);
        if (!d || d == st.digest)
            break;
        pbft_stmt_begin(&w, st.type, keys);
        fl_put_u64(&w, st.view);
        fl_put_u64(&w, st.seq);
        fl_put_u64(&w, d);
        pbft_stmt_end(&w, 0, keys);
        break;
    }
    case PBFT_CHECKPOINT: {
        uint64_t d = pbft_peer_checkpoint(state, st.seq, !odd);
        if (!d || d == st.digest)
            break;
        pbft_stmt_begin(&w, st.type, keys);
        fl_put_u64(&w, st.seq);
        fl_put_u64(&w, d);
        pbft_stmt_end(&w, 0, keys);
        break;
    }
    case PBFT_VIEW_CHANGE:
        if (st.ncert == 0)
            break;
        pbft_stmt_begin(&w, st.type, keys);
        fl_put_u64(&w, st.view);
        fl_put_u64(&w, st.seq);
        fl_put_u64(&w, st.digest);
        fl_put_u32(&w, st.nsub);
        for (uint32_t i = 0; i < st.nsub; i++)
            fl_put_bytes(&w, st.subs[i].p, st.subs[i].len);
        fl_put_u32(&w, 0);
        pbft_stmt_end(&w, 0, keys);
        break;
    default:
        break;
    }
    if (w.len > 0 && w.len + PBFT_MAC_BYTES <= cap) {
        uint8_t mac[PBFT_MAC_BYTES];
        pbft_mac(keys, to, w.data, w.len, mac);
        fl_put_raw(&w, mac, sizeof mac);
        memcpy(msg, w.data, w.len);
        out = w.len;
    }
    fl_writer_deinit(&w);
done:
    g_free(sc.certs);
    return out;
}
