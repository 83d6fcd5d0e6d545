/* protocols/hotstuff/hotstuff: chained HotStuff, the parts that tests call
 * directly.
 *
 * The protocol is fl_proto_hotstuff (hotstuff.c); this header exposes the
 * wire codec and quorum certificates (wire.c) and the block tree with the
 * two rules a replica decides by (chain.c): safeNode and the three-chain
 * commit rule.
 *
 * Authentication is PBFT's (protocols/pbft/mac.c, pbft.h): every message is
 * a statement by its author plus a link MAC,
 *
 *   statement := type u8, signer u32, body, sig[64] (VOTE only)
 *   message   := statement, mac[16]
 *
 * A VOTE is signed because 2f+1 of them, relayed inside the next proposal
 * or a NEW-VIEW, are a quorum certificate (the paper's threshold
 * signature, modelled as the set of signed votes).  Every other message
 * goes only from its author to one peer, so the link MAC authenticates it
 * (as PBFT's COMMIT), and what it relays proves itself: a QC by its
 * votes' signatures, a block by its hash.
 *
 * Memory: HsQC and HsBlock are plain data; HsBlock.cmds and HsBlock.raw are
 * owned by the block (hs_block_free).  Decoded parts of a message that
 * are HsBytes are borrowed from the message. */
#pragma once

#include "protocols/pbft/pbft.h"

#include <glib.h>

#define HS_MAX_NODES PBFT_MAX_NODES
#define HS_MAX_BATCH 256           /* requests in one block */
#define HS_MAX_FETCH 64            /* blocks in one BLOCKS answer */
#define HS_GENESIS 1ULL            /* the hash of the genesis block (view 0) */

enum {
    HS_PROPOSAL = 1,  /* block: view, justify QC, commands */
    HS_VOTE,          /* view, block hash */
    HS_NEW_VIEW,      /* view (the one entered), the sender's highQC */
    HS_FETCH,         /* block hash, count: "send me this block and its ancestors" */
    HS_BLOCKS,        /* count, blocks (newest first, each the parent of the previous) */
};

/* The shortest statement: type and signer. */
#define HS_STMT_MIN (1 + 4)

typedef struct HsBytes {
    const uint8_t *p;
    size_t len;
} HsBytes;

/* A quorum certificate: @nsig votes for (@view, @block), signer ids
 * ascending.  The genesis QC is (0, HS_GENESIS) with no votes. */
typedef struct HsQC {
    uint64_t view, block;
    uint32_t nsig;
    uint32_t signer[HS_MAX_NODES];
    uint8_t sig[HS_MAX_NODES][PBFT_SIG_BYTES];
} HsQC;

/* A block as decoded (hs_block_decode) or made (hs_block_make).  Its parent
 * is always justify.block: a leader extends the block its QC certifies, so
 * "b extends justify.node" (Algorithm 2's check) holds by construction.
 * The justify QC is kept encoded (@qc): a replica decodes it only to check
 * it or to lock on it, and a tree of blocks holding 64 decoded votes each
 * would be some 4 KB a block. */
typedef struct HsBlock {
    uint64_t hash;             /* BLAKE2b of raw, never 0 or HS_GENESIS */
    uint64_t view;
    uint64_t parent;           /* justify.block */
    uint64_t justify_view;     /* justify.view, below view */
    GBytes *qc;                /* owned: the encoded justify QC (NULL for genesis) */
    uint32_t ncmd;
    FlRequest *cmds;           /* owned, ncmd of them */
    GBytes *raw;               /* owned: the encoded block, what the hash covers */
    /* Kept by the tree (chain.c), not on the wire: */
    uint64_t height;           /* genesis 0, parent + 1; valid when linked */
    bool linked;               /* every ancestor down to genesis is in the tree */
} HsBlock;

/* A parsed statement.  Parts are borrowed from the message. */
typedef struct HsStmt {
    uint8_t type;
    uint32_t signer;
    uint64_t view;             /* PROPOSAL, VOTE, NEW-VIEW */
    uint64_t block;            /* VOTE, FETCH */
    uint32_t count;            /* FETCH, BLOCKS */
    HsBytes body;              /* PROPOSAL: the encoded block; NEW-VIEW: the QC */
    HsBytes blocks[HS_MAX_FETCH];   /* BLOCKS */
    HsBytes raw;               /* the whole statement, signature included */
} HsStmt;

/* ---- Codec (wire.c) ------------------------------------------------------ */

/* True for the statement types that carry a signature. */
bool hs_type_signed(uint8_t type);
/* Writes the QC @qc. */
void hs_qc_encode(FlWriter *w, const HsQC *qc);
/* Reads a QC with at most @n votes from distinct signers below @n, ascending;
 * false on anything else.  Signatures are not checked (hs_qc_verify). */
bool hs_qc_decode(FlReader *r, uint32_t n, HsQC *qc);
/* True when @qc is the genesis QC, or holds at least @quorum votes whose
 * signatures are valid for (VOTE, signer, view, block) (@k: the checking
 * node's keys, whose cache makes a vote seen before cost a hash; a
 * process-wide memo does the same for a vote another node verified: see
 * wire.c for why that cannot change an answer). */
bool hs_qc_verify(const PbftKeys *k, const HsQC *qc, uint32_t quorum);
/* The signed part of a vote by @signer for (@view, @block), into @buf (21
 * bytes), as hs_stmt_end signs it; returns its length. */
size_t hs_vote_body(uint8_t buf[32], uint32_t signer, uint64_t view, uint64_t block);

/* Encodes a block (view, justify, commands) into @w; the hash is
 * hs_block_hash of those bytes. */
void hs_block_encode(FlWriter *w, uint64_t view, const HsQC *justify, const FlRequest *cmds,
                     uint32_t ncmd);
uint64_t hs_block_hash(const void *p, size_t len);
/* Decodes exactly @len bytes of a block for @n nodes (batch at most
 * @max_batch, justify.view below view).  Returns a new block (caller frees
 * with hs_block_free) or NULL to drop. */
HsBlock *hs_block_decode(const uint8_t *p, size_t len, uint32_t n, uint32_t max_batch);
/* A block made by hand (tests, and the leader): copies @cmds. */
HsBlock *hs_block_make(uint64_t view, const HsQC *justify, const FlRequest *cmds, uint32_t ncmd);
void hs_block_free(HsBlock *b);
/* The genesis block: view 0, no parent; its hash is HS_GENESIS. */
HsBlock *hs_block_genesis(void);

/* Starts a statement of @type signed by @k's node; the body follows;
 * hs_stmt_end appends the signature of the bytes from @start if the type
 * has one. */
void hs_stmt_begin(FlWriter *w, uint8_t type, const PbftKeys *k);
void hs_stmt_end(FlWriter *w, size_t start, const PbftKeys *k);
/* Parses one statement of exactly @len bytes for @n nodes (signer < n,
 * counts bounded).  The signature is not checked here (the link MAC
 * authenticates what comes from its signer; see hotstuff.c note 2).
 * Returns false to drop. */
bool hs_stmt_parse(const uint8_t *p, size_t len, uint32_t n, HsStmt *st);

/* FlProtocol.fields: the views and the voted block of a message (a
 * statement and its MAC); what lies inside a QC or a block's justify is
 * left out, since changing it breaks other replicas' signatures. */
int hs_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max);
/* FlProtocol.reseal with the sender's keys @k: signs the statement in @msg
 * again and recomputes the MAC of the link to @to; false unless k->self
 * signed it. */
bool hs_reseal_keys(const PbftKeys *k, uint32_t to, uint8_t *msg, size_t len);

/* ---- The block tree and the rules (chain.c) ---------------------------- */

/* Blocks by hash.  Owns its blocks.  Lookups only: nothing iterates it, so
 * hash order never reaches behaviour. */
typedef struct HsTree {
    GHashTable *blocks;        /* uint64_t* hash -> HsBlock* */
    uint32_t size, cap;
} HsTree;

/* Starts @t with the genesis block; at most @cap blocks. */
void hs_tree_init(HsTree *t, uint32_t cap);
void hs_tree_deinit(HsTree *t);
HsBlock *hs_tree_get(const HsTree *t, uint64_t hash);
/* Takes ownership of @b.  Returns the block now in the tree under b's hash
 * (@b, or the copy already there, @b then freed), or NULL when the tree is
 * full (@b freed). */
HsBlock *hs_tree_add(HsTree *t, HsBlock *b);
/* Links @b if every ancestor is present (heights set along the way);
 * otherwise returns false and sets *@missing to the first absent hash. */
bool hs_tree_link(HsTree *t, HsBlock *b, uint64_t *missing);
/* True when linked block @b is @anc or descends from it.  Views strictly
 * fall along a chain, so the walk stops below @anc's view. */
bool hs_extends(const HsTree *t, const HsBlock *b, uint64_t anc_hash, uint64_t anc_view);

/* safeNode (Algorithm 1 and 3): the safety rule (@b extends the locked
 * block) or the liveness rule (its justify QC is newer than the lock).
 * With @check_lock false (the bug no-lock-check) the safety rule is gone:
 * every proposal is safe. */
bool hs_safe_node(const HsTree *t, const HsBlock *b, uint64_t lock_view, uint64_t lock_block,
                  bool check_lock);

/* What a new proposal b* changes (Algorithm 3, the update procedure):
 * b'' = b*.justify.node, b' = b''.justify.node, b = b'.justify.node.
 * @lock: b'' when it is not genesis (its justify, the QC of b', is what
 * the caller locks on if it is newer than its lock).  @commit: b's hash when b'' and
 * b' and b are a direct chain (consecutive views, the dummy-free form of
 * "b''.parent = b' and b'.parent = b"), else 0. */
typedef struct HsUpdate {
    const HsBlock *lock;       /* borrowed from the tree, or NULL */
    uint64_t commit;
} HsUpdate;
void hs_update(const HsTree *t, const HsBlock *bstar, HsUpdate *out);

/* Quorum size for @n nodes: n - f with f = (n-1)/3 (2f+1 when n = 3f+1). */
static inline uint32_t hs_quorum(uint32_t n)
{
    return n - (n - 1) / 3;
}

/* The leader of view @v: round robin, each leader keeping @span
 * consecutive views (hotstuff.c note 5). */
static inline uint32_t hs_leader(uint64_t v, uint32_t n, uint32_t span)
{
    return (uint32_t)((v / span) % n);
}
