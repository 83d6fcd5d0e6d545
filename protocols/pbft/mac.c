/* PBFT authentication: SipHash-2-4 (Aumasson & Bernstein, 2012) keyed by
 * node ids.  See pbft.h for what stands for what. */
#include "protocols/pbft/pbft.h"

#include "sim/rng.h"

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

uint64_t pbft_sign(uint32_t signer, const void *data, size_t len)
{
    uint64_t k0 = fl_mix64(0x5167e7a1c0ffee01ULL ^ signer);
    uint64_t k1 = fl_mix64(k0 ^ 0x9e3779b97f4a7c15ULL);
    return pbft_siphash(k0, k1, data, len);
}

uint64_t pbft_mac(uint32_t from, uint32_t to, const void *data, size_t len)
{
    uint64_t lo = from < to ? from : to, hi = from < to ? to : from;
    uint64_t k0 = fl_mix64(0x3a4b5c6d7e8f9011ULL ^ (lo << 32) ^ hi);
    uint64_t k1 = fl_mix64(k0 ^ 0x2545f4914f6cdd1dULL);
    return pbft_siphash(k0, k1, data, len);
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
