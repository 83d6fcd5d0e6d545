/* HotStuff's `lie` hook: what a Byzantine replica says instead of the truth.
 *
 * The lies parse and carry the liar's own valid signature and the right
 * link MAC, so only the protocol's rules can defeat them.
 *
 * 1. A proposal forks behind the last committed block.  The liar, leader
 *    of its view, proposes the same commands on the QC of the parent of
 *    the last block with a write it executed (the QC sits in that
 *    block's justify), a fork that leaves out a block every replica that
 *    executed it committed.  Correct replicas are locked at least on that block's
 *    child (they committed it on a three-chain, so they locked on the
 *    two-chain above it): the fork neither extends their lock nor carries
 *    a newer QC, and safeNode refuses it.  With the bug no-lock-check
 *    they vote for it, the fork gets the newest QC, honest leaders extend
 *    it and it commits: what was acknowledged from the abandoned block is
 *    gone (hotstuff.c note 9).  With nothing committed yet to fork behind,
 *    the lie is a different block for the same view: the same QC with no
 *    commands (an equivocation, when only some peers hear it).
 * 2. Everything else is sent unchanged: votes and NEW-VIEWs are the
 *    liar's own to withhold (the `drop-all` behaviour does that), and
 *    relayed blocks prove themselves by their hashes.
 * With `behaviour: "equivocate"` the byzantine fault sends these lies to
 * the upper half of the replicas only, the truth to the others. */
#include "protocols/hotstuff/hotstuff.h"

#include <string.h>

const PbftKeys *hs_lie_keys(void *state);
const HsTree *hs_lie_tree(void *state);
uint64_t hs_lie_exec_tip(void *state);
size_t hs_lie(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len, size_t cap);

static bool writes(const HsBlock *b)
{
    for (uint32_t i = 0; i < b->ncmd; i++)
        if (b->cmds[i].op.kind != FL_OP_NOOP && !fl_op_is_read(b->cmds[i].op.kind))
            return true;
    return false;
}

size_t hs_lie(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len, size_t cap)
{
    uint32_t self = fl_self(n), nodes = fl_nodes(n);
    if (to >= nodes || len < PBFT_MAC_BYTES + HS_STMT_MIN || msg[0] != HS_PROPOSAL)
        return 0;
    const PbftKeys *keys = hs_lie_keys(state);
    const HsTree *tree = hs_lie_tree(state);
    HsStmt *st = g_new(HsStmt, 1);
    HsBlock *truth = NULL;
    size_t out = 0;
    if (!hs_stmt_parse(msg, len - PBFT_MAC_BYTES, nodes, st) || st->signer != self)
        goto done;
    truth = hs_block_decode(st->body.p, st->body.len, nodes, HS_MAX_BATCH);
    if (!truth)
        goto done;
    /* Rule 1: the QC of the parent of the last executed block with a
     * write (found in that block's justify): forking behind an empty block
     * or one of reads would lose nothing a client could see. */
    const HsBlock *tip = hs_tree_get(tree, hs_lie_exec_tip(state));
    while (tip && tip->view > 0 && !writes(tip))
        tip = hs_tree_get(tree, tip->parent);
    HsQC *qc = g_new(HsQC, 1);
    bool fork = false;
    if (tip && tip->qc && tip->justify_view > 0) {
        gsize qlen;
        const uint8_t *q = g_bytes_get_data(tip->qc, &qlen);
        FlReader r;
        fl_reader_init(&r, q, qlen);
        fork = hs_qc_decode(&r, nodes, qc) && fl_reader_done(&r) && qc->view < truth->justify_view;
    }
    if (!fork) {
        gsize qlen;
        const uint8_t *q = g_bytes_get_data(truth->qc, &qlen);
        FlReader r;
        fl_reader_init(&r, q, qlen);
        if (!hs_qc_decode(&r, nodes, qc) || truth->ncmd == 0) {
            g_free(qc);
            goto done;   /* an empty block for an empty one: no lie to tell */
        }
    }
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    hs_stmt_begin(&w, HS_PROPOSAL, keys);
    hs_block_encode(&w, truth->view, qc, truth->cmds, fork ? truth->ncmd : 0);
    hs_stmt_end(&w, 0, keys);
    g_free(qc);
    if (w.len + PBFT_MAC_BYTES <= cap) {
        uint8_t mac[PBFT_MAC_BYTES];
        pbft_mac(keys, to, w.data, w.len, mac);
        fl_put_raw(&w, mac, sizeof mac);
        memcpy(msg, w.data, w.len);
        out = w.len;
    }
    fl_writer_deinit(&w);
done:
    hs_block_free(truth);
    g_free(st);
    return out;
}
