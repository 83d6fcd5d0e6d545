/* protocols/pbft/pbft: PBFT, the parts that tests call directly.
 *
 * The protocol is fl_proto_pbft (pbft.c); this header exposes quorum
 * sizes, authentication (mac.c), the statement codec and the certificate
 * checks (wire.c).
 *
 * Authentication.  Every protocol message is a *statement* signed by its
 * author, followed by a MAC of the link it travels on:
 *
 *   statement := type u8, signer u32, body, sig u64
 *   message   := statement, mac u64
 *
 * sig = SipHash(sign_key(signer), type..body) stands for a public-key
 * signature: any replica can check it, so statements can be relayed and
 * collected into certificates (view changes, checkpoint proofs).  mac =
 * SipHash(link_key(from, to), statement) is the per-pair MAC of the normal
 * case: a corrupted or misdelivered message fails it and is dropped.  Keys
 * derive from node ids; in simulation the crypto assumption is that a
 * Byzantine node never uses another node's key (the `lie` hook signs with
 * its own). */
#pragma once

#include "protocols/paxos/ballot.h"
#include "sim/node.h"

#define PBFT_MAX_NODES 64
#define PBFT_MAX_WINDOW 1024

/* ---- Quorums ------------------------------------------------------------ */

/* The faults tolerated: f = floor((n-1)/3); with @bug (f-equals-n-over-3),
 * ceil(n/3), which for n = 4 gives f = 2. */
uint32_t pbft_faults(uint32_t n, bool bug);
/* The quorum: n - f (2f+1 when n = 3f+1); any two intersect in at least
 * one correct replica.  With the bug, 2 of 4: two quorums can be disjoint. */
uint32_t pbft_quorum(uint32_t n, bool bug);

/* ---- Authentication (mac.c) ------------------------------------------------ */

uint64_t pbft_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);
uint64_t pbft_sign(uint32_t signer, const void *data, size_t len);
uint64_t pbft_mac(uint32_t from, uint32_t to, const void *data, size_t len);
/* The digest of a request (a collision-resistant hash in the paper). */
uint64_t pbft_digest(const FlRequest *req);
/* The null request that fills sequence numbers with no certificate. */
FlRequest pbft_null_request(void);
bool pbft_is_null(const FlRequest *req);

/* ---- Statements (wire.c) ------------------------------------------------- */

enum {
    PBFT_PRE_PREPARE = 1,  /* view, seq, digest, request */
    PBFT_PREPARE,          /* view, seq, digest */
    PBFT_COMMIT,           /* view, seq, digest */
    PBFT_CHECKPOINT,       /* seq, digest (of the state) */
    PBFT_VIEW_CHANGE,      /* view (new), seq (stable), proofs: checkpoints; certs */
    PBFT_NEW_VIEW,         /* view, subs: view-change statements */
    PBFT_STATUS,           /* view, flags, seq (last executed), stable, promised view, reach */
    PBFT_STATE,            /* seq, blob (snapshot), subs: checkpoint proof */
};

/* STATUS flags. */
enum {
    PBFT_STATUS_IN_VC = 1,      /* waiting for a NEW-VIEW */
    PBFT_STATUS_AMNESIAC = 2,   /* restarted and not recovered: its report bounds nothing */
};

typedef struct PbftBytes {
    const uint8_t *p;      /* borrowed from the message */
    size_t len;
} PbftBytes;

/* A prepared certificate as carried in a VIEW-CHANGE: a pre-prepare and the
 * prepares that match it, all signed statements. */
typedef struct PbftCertRaw {
    PbftBytes pp;
    uint32_t nprep;
    PbftBytes prep[PBFT_MAX_NODES];
} PbftCertRaw;

typedef struct PbftStmt {
    uint8_t type;
    uint32_t signer;
    uint64_t view, seq, digest, stable;
    bool in_vc;
    bool amnesiac;         /* STATUS */
    uint64_t promised;     /* STATUS: the highest view the signer voted or asked for */
    uint64_t reach;        /* STATUS: the top of the highest window the signer ever had */
    FlRequest req;         /* PRE_PREPARE */
    PbftBytes blob;        /* STATE: the snapshot */
    uint32_t nsub;         /* VIEW_CHANGE: checkpoints; NEW_VIEW: view changes; STATE: checkpoints */
    PbftBytes *subs;       /* borrowed from the caller's array */
    uint32_t ncert;        /* VIEW_CHANGE */
    PbftCertRaw *certs;    /* borrowed from the caller's array */
    PbftBytes raw;         /* the whole statement, signature included */
} PbftStmt;

/* Scratch space for decoding nested parts (owned by the caller). */
typedef struct PbftScratch {
    PbftBytes subs[PBFT_MAX_NODES];
    PbftCertRaw *certs;    /* PBFT_MAX_WINDOW of them */
} PbftScratch;

/* Starts a statement of @type by @signer in @w; the body follows; finish
 * with pbft_stmt_end, which appends the signature. */
void pbft_stmt_begin(FlWriter *w, uint8_t type, uint32_t signer);
void pbft_stmt_end(FlWriter *w, size_t start, uint32_t signer);

/* Parses one statement of exactly @len bytes and checks its signature and
 * fields (@n nodes: signer < n, counts bounded).  Nested statements are
 * only located, not checked.  Returns false to drop. */
bool pbft_stmt_parse(const uint8_t *p, size_t len, uint32_t n, PbftStmt *st, PbftScratch *sc);

/* FlProtocol.fields: the view, sequence numbers and digests of a message
 * (a statement and its MAC) at their offsets; 0 unless the statement
 * parses with a valid signature.  The signer and relayed statements are
 * left out: a Byzantine replica has only its own key. */
int pbft_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max);
/* FlProtocol.reseal: signs the statement in @msg again and recomputes the
 * MAC of the link @from -> @to; false unless @from is its signer. */
bool pbft_reseal(uint32_t from, uint32_t to, uint8_t *msg, size_t len);

/* ---- Certificates (wire.c) -------------------------------------------- */

/* Primary of view @v. */
static inline uint32_t pbft_primary(uint64_t v, uint32_t n)
{
    return (uint32_t)(v % n);
}

/* A checked prepared certificate: request @req with @digest prepared at
 * @seq in @view. */
typedef struct PbftPrepared {
    uint64_t seq, view, digest;
    FlRequest req;
} PbftPrepared;

/* Checks a prepared certificate (section 4.4: a pre-prepare signed by the
 * primary of its view and quorum-1 prepares from distinct other replicas,
 * matching view, sequence number and digest; the digest is the request's).
 * Fills @out. */
bool pbft_cert_check(const PbftCertRaw *c, uint32_t n, uint32_t quorum, PbftPrepared *out);

/* Checks a checkpoint proof: @k statements, at least @quorum from distinct
 * signers, all CHECKPOINT for (@seq, @digest).  @seq 0 needs none. */
bool pbft_proof_check(const PbftBytes *subs, uint32_t k, uint32_t n, uint32_t quorum,
                      uint64_t seq, uint64_t digest);

/* A checked view change: its signer, the stable checkpoint it proves and
 * the certificates it carries (at most PBFT_MAX_WINDOW). */
typedef struct PbftVC {
    uint32_t signer;
    uint64_t view, stable, stable_digest;
    uint32_t nprepared;
    PbftPrepared *prepared;   /* caller-provided, PBFT_MAX_WINDOW */
} PbftVC;

/* Parses and checks a VIEW-CHANGE statement entirely (signature, proof,
 * every certificate below the new view and within @window of the stable
 * checkpoint).  @sc (with PBFT_MAX_WINDOW certs) is overwritten. */
bool pbft_vc_check(const uint8_t *p, size_t len, uint32_t n, uint32_t quorum, uint64_t window,
                   PbftVC *out, PbftScratch *sc);

/* The new primary's choice (section 4.4): from @k checked view changes,
 * min-s is the highest stable checkpoint, max-s the highest prepared
 * sequence number; every s in (min-s, max-s] gets the request of the
 * certificate with the highest view, or the null request.  Writes
 * max-s - min-s entries to @ops (capacity @cap) and returns their count,
 * or -1 if they do not fit.  *@min_s receives min-s and @min_vc the index of
 * a view change that proves it. */
int pbft_new_view_ops(const PbftVC *vcs, uint32_t k, PbftPrepared *ops, uint32_t cap,
                      uint64_t *min_s, uint32_t *min_vc);
