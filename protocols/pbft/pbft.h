/* protocols/pbft/pbft: PBFT, the parts that tests call directly.
 *
 * The protocol is fl_proto_pbft (pbft.c); this header exposes quorum
 * sizes, authentication (mac.c), the statement codec and the certificate
 * checks (wire.c).
 *
 * Authentication.  Every protocol message is a *statement* signed by its
 * author, followed by a MAC of the link it travels on:
 *
 *   statement := type u8, signer u32, body, sig[64] (signed types only)
 *   message   := statement, mac[16]
 *
 * sig is an Ed25519 signature (libsodium) of type..body by the signer's
 * secret key: any replica can check it with the public key table, so
 * statements can be relayed and collected into certificates (view changes,
 * checkpoint proofs).  Only the types that are relayed or certified carry
 * one (PRE-PREPARE, PREPARE, CHECKPOINT, VIEW-CHANGE, NEW-VIEW); COMMIT,
 * STATUS and STATE go only from their author to a peer and are never
 * relayed, so the link MAC authenticates them, as the paper's
 * authenticators do, and a receiver takes one only from its signer.
 * (Signing those too made fuzzing about twice as slow again.)  mac is keyed BLAKE2b-128 of the statement under the
 * key the two ends of the link share (X25519 of one's secret key and the
 * other's public key): a corrupted or misdelivered message fails it and is
 * dropped.  Keys derive from the run's seed and the node id (mac.c: the
 * dealer); a node's secret key lives only in its own state (PbftKeys), and
 * every function that signs or MACs takes that state's keys, never a node
 * id, so a Byzantine replica (the `lie` and `reseal` hooks run on the
 * liar's own state) can sign only as itself.  A signature is verified
 * only where a statement is relayed: one that comes from its signer over
 * their link is authenticated by the MAC and remembered as authentic
 * (pbft_note_authentic), so a certificate relaying it back costs a hash
 * (pbft.c note 12, README.md).  A message whose MAC or signature fails is
 * dropped and counted (metrics `mac_rejected`, `sig_rejected`).  Memory: PbftKeys is plain data the caller embeds;
 * statements are borrowed (PbftBytes point into the message). */
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

#define PBFT_SIG_BYTES 64        /* Ed25519 signature */
#define PBFT_PK_BYTES 32         /* Ed25519 public key */
#define PBFT_SK_BYTES 64         /* Ed25519 secret key (seed and public key) */
#define PBFT_MAC_BYTES 16        /* keyed BLAKE2b output */
#define PBFT_LINK_KEY_BYTES 32   /* BLAKE2b key of one link */
/* The shortest statement: type, signer, no body, no signature. */
#define PBFT_STMT_MIN (1 + 4)

/* Statements known authentic: a signature already verified, or a
 * statement its signer sent us itself (pbft_note_authentic), so that a
 * statement received again (votes are resent every `resend`, certificates
 * relay prepares their authors sent us) costs a hash instead of an
 * Ed25519 verification (about 50 us, which made fuzzing PBFT some 80
 * times slower).  Direct-mapped: slot =
 * low bits of BLAKE2b-128(signer, statement, signature); a slot holds the
 * whole 128-bit hash, so a hit is a statement verified before (up to a
 * BLAKE2b collision).  It only ever saves work: its contents depend on the
 * statements seen, never on addresses, and a miss just verifies. */
#define PBFT_VERIFIED_SLOTS 8192
typedef struct PbftVerified {
    uint8_t hash[PBFT_VERIFIED_SLOTS][16];
} PbftVerified;

/* One node's keys: its own secret key and link keys, and everyone's public
 * keys.  Only that node's state holds it. */
typedef struct PbftKeys {
    uint32_t self, n;
    uint8_t sk[PBFT_SK_BYTES];                          /* ours alone */
    uint8_t pk[PBFT_MAX_NODES][PBFT_PK_BYTES];          /* pk[j]: node j's public key */
    uint8_t link[PBFT_MAX_NODES][PBFT_LINK_KEY_BYTES];  /* link[j]: shared with node j */
    PbftVerified *verified;   /* owned; written through const PbftKeys * (a cache) */
} PbftKeys;

/* Fills @k (caller-owned) with node @self's keys among @n nodes, derived
 * from @run_seed: the same on every call, so a restart gets them back.
 * Calls sodium_init() (idempotent).  Never draws randomness.  Release
 * with pbft_keys_deinit. */
void pbft_keys_init(PbftKeys *k, uint64_t run_seed, uint32_t self, uint32_t n);
/* Frees what @k owns and wipes it. */
void pbft_keys_deinit(PbftKeys *k);
/* Ed25519 signature of @data by @k's own secret key, into @sig. */
void pbft_sign(const PbftKeys *k, const void *data, size_t len, uint8_t sig[PBFT_SIG_BYTES]);
/* True when @sig (PBFT_SIG_BYTES, borrowed) is @signer's signature of @data. */
bool pbft_verify(const PbftKeys *k, uint32_t signer, const void *data, size_t len,
                 const uint8_t *sig);
/* Records (@signer, @data, @sig) in @k's cache as authentic without
 * verifying @sig: for a statement that @signer itself sent over its link
 * (the MAC checked), so @signer said exactly these bytes.  Later
 * pbft_verify calls on the same bytes (the statement relayed back to us in
 * a certificate) return true without Ed25519.  See README.md, "Where
 * signatures are verified", for why this is safe. */
void pbft_note_authentic(const PbftKeys *k, uint32_t signer, const void *data, size_t len,
                         const uint8_t *sig);
/* The MAC of @data on the link between @k's node and @peer (either way). */
void pbft_mac(const PbftKeys *k, uint32_t peer, const void *data, size_t len,
              uint8_t mac[PBFT_MAC_BYTES]);
/* True when @mac (PBFT_MAC_BYTES) is that MAC; compares in constant time. */
bool pbft_mac_check(const PbftKeys *k, uint32_t peer, const void *data, size_t len,
                    const uint8_t *mac);

/* SipHash-2-4, for digests and disk record sums (not authentication). */
uint64_t pbft_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);
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

/* True for the statement types that carry a signature (see above). */
bool pbft_type_signed(uint8_t type);

/* Starts a statement of @type in @w, signed by @k's node (the signer field
 * is always k->self); the body follows; finish with pbft_stmt_end, which
 * appends the signature of the bytes from @start if the type has one. */
void pbft_stmt_begin(FlWriter *w, uint8_t type, const PbftKeys *k);
void pbft_stmt_end(FlWriter *w, size_t start, const PbftKeys *k);

/* Parses one statement of exactly @len bytes and checks its fields (@n
 * nodes: signer < n, counts bounded) and, with @k, its signature if its
 * type has one (an unsigned one is authentic only from its signer, which
 * the caller checks); @k NULL parses only (for hooks that see no keys).  Nested statements are only
 * located, not checked.  Returns false to drop. */
bool pbft_stmt_parse(const uint8_t *p, size_t len, uint32_t n, const PbftKeys *k, PbftStmt *st,
                     PbftScratch *sc);
/* True when @st (parsed by pbft_stmt_parse) carries no signature or a
 * valid one by its signer: the check pbft_stmt_parse makes with keys, for
 * a statement parsed without them. */
bool pbft_stmt_verify(const PbftKeys *k, const PbftStmt *st);
/* Records @st, received from its signer over their link (MAC checked), as
 * authentic in @k's cache (pbft_note_authentic). */
void pbft_stmt_note_authentic(const PbftKeys *k, const PbftStmt *st);

/* FlProtocol.fields: the view, sequence numbers and digests of a message
 * (a statement and its MAC) at their offsets; 0 unless the statement
 * parses (its signature is not checked: the hook sees no keys).  The
 * signer and relayed statements are left out: a Byzantine replica has
 * only its own key. */
int pbft_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max);
/* What FlProtocol.reseal does with the sending node's keys @k: signs the
 * statement in @msg again and recomputes the MAC of the link to @to;
 * false unless k->self is its signer. */
bool pbft_reseal_keys(const PbftKeys *k, uint32_t to, uint8_t *msg, size_t len);
/* The same for any protocol sealing as PBFT does (a statement whose bytes 1-4
 * name the sender, a signature when @is_signed says its type is signed,
 * then the link MAC), with statements of at least @stmt_min bytes: HotStuff
 * shares it. */
bool pbft_reseal_with(const PbftKeys *k, uint32_t to, uint8_t *msg, size_t len, size_t stmt_min,
                      bool (*is_signed)(uint8_t type));

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
 * Fills @out.  Signatures are checked with @k (every check below too). */
bool pbft_cert_check(const PbftCertRaw *c, uint32_t n, const PbftKeys *k, uint32_t quorum,
                     PbftPrepared *out);

/* Checks a checkpoint proof: @count statements, at least @quorum from distinct
 * signers, all CHECKPOINT for (@seq, @digest).  @seq 0 needs none. */
bool pbft_proof_check(const PbftBytes *subs, uint32_t count, uint32_t n, const PbftKeys *k,
                      uint32_t quorum, uint64_t seq, uint64_t digest);

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
bool pbft_vc_check(const uint8_t *p, size_t len, uint32_t n, const PbftKeys *k, uint32_t quorum,
                   uint64_t window, PbftVC *out, PbftScratch *sc);

/* The new primary's choice (section 4.4): from @k checked view changes,
 * min-s is the highest stable checkpoint, max-s the highest prepared
 * sequence number; every s in (min-s, max-s] gets the request of the
 * certificate with the highest view, or the null request.  Writes
 * max-s - min-s entries to @ops (capacity @cap) and returns their count,
 * or -1 if they do not fit.  *@min_s receives min-s and @min_vc the index of
 * a view change that proves it. */
int pbft_new_view_ops(const PbftVC *vcs, uint32_t k, PbftPrepared *ops, uint32_t cap,
                      uint64_t *min_s, uint32_t *min_vc);
