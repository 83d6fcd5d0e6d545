/* PBFT authentication: Ed25519 signatures and keyed BLAKE2b link MACs
 * (libsodium), and SipHash-2-4 (Aumasson & Bernstein, 2012) for request
 * digests.  See pbft.h for what stands for what. */
#include "protocols/pbft/pbft.h"

#include "sim/rng.h"

#include <sodium.h>
#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                              \
    do {                                                                      \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);             \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);             \
    } while (0)

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t pbft_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    const uint8_t *end = in + len - (len % 8);
    for (; in != end; in += 8) {
        uint64_t m = load_le64(in);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = ((uint64_t)len) << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= ((uint64_t)in[i]) << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- Keys ------------------------------------------------------------------
 *
 * The dealer.  A real deployment provisions each replica with its own
 * Ed25519 key pair and everyone's public keys; here the run's seed stands
 * for that setup, so a run replays.  dealer_keypair is the only code that
 * turns a node id into a secret key: pbft_keys_init calls it for the
 * node it initialises (the secret key stays in that node's state) and, for
 * every other node, keeps the public half and wipes the secret one.  No
 * function here takes a node id and signs: signing takes a PbftKeys, which
 * only the node's own state holds. */

_Static_assert(PBFT_SIG_BYTES == crypto_sign_BYTES, "Ed25519 signature size");
_Static_assert(PBFT_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key size");
_Static_assert(PBFT_SK_BYTES == crypto_sign_SECRETKEYBYTES, "Ed25519 secret key size");
_Static_assert(PBFT_MAC_BYTES == 16 && PBFT_MAC_BYTES >= crypto_generichash_BYTES_MIN,
               "a BLAKE2b output that crypto_verify_16 compares");
_Static_assert(PBFT_LINK_KEY_BYTES == crypto_generichash_KEYBYTES, "BLAKE2b key size");

static void le_put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void dealer_keypair(uint64_t run_seed, uint32_t node, uint8_t pk[PBFT_PK_BYTES],
                           uint8_t sk[PBFT_SK_BYTES])
{
    /* seed = BLAKE2b-256("faultline pbft ed25519" || run seed || node id):
     * a fixed function, so a restarted replica gets its own key back. */
    static const char label[] = "faultline pbft ed25519";
    uint8_t in[sizeof label + 12];
    memcpy(in, label, sizeof label);
    le_put(in + sizeof label, run_seed, 8);
    le_put(in + sizeof label + 8, node, 4);
    uint8_t seed[crypto_sign_SEEDBYTES];
    crypto_generichash(seed, sizeof seed, in, sizeof in, NULL, 0);
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
}

static void sodium_once(void)
{
    /* Idempotent and thread-safe; it may read the OS's random source to
     * seed randombytes, which we never call: every key and signature here
     * comes from the run's seed (Ed25519 signing is deterministic). */
    if (sodium_init() < 0)
        g_error("pbft: libsodium failed to initialise");
}

void pbft_keys_init(PbftKeys *k, uint64_t run_seed, uint32_t self, uint32_t n)
{
    g_assert(self < n && n <= PBFT_MAX_NODES);
    sodium_once();
    memset(k, 0, sizeof *k);
    k->self = self;
    k->n = n;
    for (uint32_t j = 0; j < n; j++) {
        uint8_t sk[PBFT_SK_BYTES];
        dealer_keypair(run_seed, j, k->pk[j], sk);
        if (j == self)
            memcpy(k->sk, sk, sizeof sk);
        sodium_memzero(sk, sizeof sk);
    }
    /* Link keys: X25519 between our secret key and the peer's public one
     * (both converted from Ed25519), hashed with the two public keys in
     * id order.  Both ends get the same key, and computing it takes one of
     * the two secret keys: a third replica cannot MAC on the link. */
    uint8_t xsk[crypto_scalarmult_curve25519_BYTES];
    crypto_sign_ed25519_sk_to_curve25519(xsk, k->sk);
    for (uint32_t j = 0; j < n; j++) {
        uint8_t xpk[crypto_scalarmult_curve25519_BYTES], shared[crypto_scalarmult_BYTES];
        if (crypto_sign_ed25519_pk_to_curve25519(xpk, k->pk[j]) != 0 ||
            crypto_scalarmult(shared, xsk, xpk) != 0)
            g_error("pbft: X25519 failed for node %u", j);
        uint32_t lo = self < j ? self : j, hi = self < j ? j : self;
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, PBFT_LINK_KEY_BYTES);
        crypto_generichash_update(&h, shared, sizeof shared);
        crypto_generichash_update(&h, k->pk[lo], PBFT_PK_BYTES);
        crypto_generichash_update(&h, k->pk[hi], PBFT_PK_BYTES);
        crypto_generichash_final(&h, k->link[j], PBFT_LINK_KEY_BYTES);
        sodium_memzero(shared, sizeof shared);
    }
    sodium_memzero(xsk, sizeof xsk);
    k->verified = g_new0(PbftVerified, 1);
}

void pbft_keys_deinit(PbftKeys *k)
{
    g_free(k->verified);
    sodium_memzero(k, sizeof *k);
}

void pbft_sign(const PbftKeys *k, const void *data, size_t len, uint8_t sig[PBFT_SIG_BYTES])
{
    crypto_sign_detached(sig, NULL, data, len, k->sk);
    /* Ours, so authentic: when others relay it back to us in their
     * certificates, it costs a hash, not an Ed25519 verification. */
    pbft_note_authentic(k, k->self, data, len, sig);
}

/* The cache slot of (@signer, @data, @sig) and its 128-bit key, in @h. */
static uint8_t *verified_slot(const PbftKeys *k, uint32_t signer, const void *data, size_t len,
                              const uint8_t *sig, uint8_t h[16])
{
    uint8_t id[4];
    le_put(id, signer, 4);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, id, sizeof id);
    crypto_generichash_update(&st, data, len);
    crypto_generichash_update(&st, sig, PBFT_SIG_BYTES);
    crypto_generichash_final(&st, h, 16);
    return k->verified->hash[(h[0] | (uint32_t)h[1] << 8) % PBFT_VERIFIED_SLOTS];
}

bool pbft_verify(const PbftKeys *k, uint32_t signer, const void *data, size_t len,
                 const uint8_t *sig)
{
    if (signer >= k->n)
        return false;
    uint8_t h[16];
    uint8_t *slot = verified_slot(k, signer, data, len, sig, h);
    if (memcmp(slot, h, sizeof h) == 0)
        return true;
    if (crypto_sign_verify_detached(sig, data, len, k->pk[signer]) != 0)
        return false;
    memcpy(slot, h, sizeof h);
    return true;
}

void pbft_note_authentic(const PbftKeys *k, uint32_t signer, const void *data, size_t len,
                         const uint8_t *sig)
{
    g_assert(signer < k->n);
    uint8_t h[16];
    memcpy(verified_slot(k, signer, data, len, sig, h), h, sizeof h);
}

void pbft_mac(const PbftKeys *k, uint32_t peer, const void *data, size_t len,
              uint8_t mac[PBFT_MAC_BYTES])
{
    g_assert(peer < k->n);
    crypto_generichash(mac, PBFT_MAC_BYTES, data, len, k->link[peer], PBFT_LINK_KEY_BYTES);
}

bool pbft_mac_check(const PbftKeys *k, uint32_t peer, const void *data, size_t len,
                    const uint8_t *mac)
{
    if (peer >= k->n)
        return false;
    uint8_t want[PBFT_MAC_BYTES];
    pbft_mac(k, peer, data, len, want);
    return crypto_verify_16(want, mac) == 0;
}

uint64_t pbft_digest(const FlRequest *req)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_request_encode(&w, req);
    uint64_t d = pbft_siphash(0x6469676573743031ULL, 0x7062667464696731ULL, w.data, w.len);
    fl_writer_deinit(&w);
    return d;
}

FlRequest pbft_null_request(void)
{
    return (FlRequest){ .client = 0, .id = 0, .op = { .kind = FL_OP_NOOP } };
}

bool pbft_is_null(const FlRequest *req)
{
    FlRequest z = pbft_null_request();
    return paxos_value_eq(req, &z);
}

uint32_t pbft_faults(uint32_t n, bool bug)
{
    if (bug)
        return (n + 2) / 3;   /* the bug: f = ceil(n/3) */
    return n >= 1 ? (n - 1) / 3 : 0;
}

uint32_t pbft_quorum(uint32_t n, bool bug)
{
    return n - pbft_faults(n, bug);
}
