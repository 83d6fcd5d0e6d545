/* Design notes.
 * 1. Links are made on first use and kept in a hash table keyed by the
 *    pair's index; the table is only looked up, never iterated, so its
 *    order cannot leak into a run.  A run with a few servers and clients
 *    uses a few dozen links; a table indexed by every pair would cost
 *    endpoints^2 entries for the rare scenario with hundreds of clients.
 * 2. A link's key is BLAKE2b-256 of ("link", from, to) keyed by the run's
 *    master key, itself BLAKE2b-256 of ("faultline channel", seed): each
 *    direction has its own key, so one counter per key makes every
 *    (key, nonce) pair of the AEAD unique.
 * 3. Sealing never fails: the engine bounds messages at FL_MAX_MESSAGE, and
 *    a link would need 2^64 messages to wrap its counter.
 * 4. Keyed BLAKE2b spends one compression on the key block before the
 *    message; the link keeps the state after it and each MAC starts from a
 *    copy, so a short message costs one compression instead of two (the
 *    engine handles a message in about half a microsecond: the MAC is of
 *    the same order, and this halves it). */
#include "sim/channel.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(crypto_generichash_KEYBYTES == 32, "BLAKE2b key size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == 32, "AEAD key size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == FL_CHANNEL_TAG_BYTES, "AEAD tag size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12, "AEAD nonce size");

typedef struct Link {
    uint64_t id;              /* from * (endpoints + 1) + to: the table's key (first member) */
    /* The MAC's state after the key (note 4): copied for each message. */
    crypto_generichash_state mac0;
    uint8_t key[32];
    bool keyed;               /* false for a link from outside the cluster */
    uint64_t sent;            /* last seq sealed */
    uint64_t top;             /* highest seq accepted; 0: none */
    uint64_t seen;            /* bit i: seq top - i accepted */
} Link;

struct FlChannel {
    FlChannelSpec spec;
    uint32_t endpoints;
    uint8_t master[32];
    GHashTable *links;        /* &Link.id -> Link (owned) */
};

bool fl_channel_spec_on(const FlChannelSpec *spec)
{
    return spec->auth != FL_AUTH_NONE || spec->encrypt || spec->replay_window > 0;
}

FlChannel *fl_channel_new(const FlChannelSpec *spec, uint32_t endpoints, uint64_t seed)
{
    g_assert(spec->replay_window <= FL_REPLAY_WINDOW_MAX);
    /* Idempotent; fails only when the system has no randomness source,
     * which none of our uses needs: keys come from the seed. */
    if (sodium_init() < 0)
        g_error("libsodium failed to initialise");
    FlChannel *c = g_new0(FlChannel, 1);
    c->spec = *spec;
    c->endpoints = endpoints;
    uint8_t in[17 + 8] = "faultline channel";
    for (int i = 0; i < 8; i++)
        in[17 + i] = (uint8_t)(seed >> (8 * i));
    crypto_generichash(c->master, sizeof c->master, in, sizeof in, NULL, 0);
    c->links = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, free);
    return c;
}

void fl_channel_free(FlChannel *c)
{
    if (!c)
        return;
    g_hash_table_destroy(c->links);
    sodium_memzero(c->master, sizeof c->master);
    g_free(c);
}

static bool tagged(const FlChannel *c)
{
    return c->spec.auth != FL_AUTH_NONE || c->spec.encrypt;
}

size_t fl_channel_overhead(const FlChannel *c)
{
    return FL_CHANNEL_SEQ_BYTES + (tagged(c) ? FL_CHANNEL_TAG_BYTES : 0);
}

/* Note 1, 2. */
static Link *link_of(FlChannel *c, uint32_t from, uint32_t to)
{
    uint32_t e = c->endpoints;
    uint64_t f = from < e ? from : e, t = to < e ? to : e;
    uint64_t id = f * ((uint64_t)e + 1) + t;
    Link *l = g_hash_table_lookup(c->links, &id);
    if (l)
        return l;
    /* The BLAKE2b state asks for 64-byte alignment, more than malloc gives. */
    void *mem = NULL;
    if (posix_memalign(&mem, _Alignof(Link), sizeof(Link)) != 0)
        g_error("out of memory");
    l = memset(mem, 0, sizeof(Link));
    l->id = id;
    l->keyed = from < e && to < e;
    if (l->keyed) {
        uint8_t in[12] = { 'l', 'i', 'n', 'k' };
        for (int i = 0; i < 4; i++) {
            in[4 + i] = (uint8_t)(from >> (8 * i));
            in[8 + i] = (uint8_t)(to >> (8 * i));
        }
        crypto_generichash(l->key, sizeof l->key, in, sizeof in, c->master, sizeof c->master);
        crypto_generichash_init(&l->mac0, l->key, sizeof l->key, FL_CHANNEL_TAG_BYTES);
    }
    g_hash_table_insert(c->links, &l->id, l);
    return l;
}

static void put_seq(uint8_t *p, uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(seq >> (8 * i));
}

static uint64_t get_seq(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void nonce_of(uint8_t nonce[12], const uint8_t *seq)
{
    memset(nonce, 0, 12);
    memcpy(nonce, seq, 8);
}

static void mac(const Link *l, const uint8_t *seq, const uint8_t *msg, size_t len,
                uint8_t tag[FL_CHANNEL_TAG_BYTES])
{
    crypto_generichash_state st = l->mac0;   /* note 4 */
    crypto_generichash_update(&st, seq, FL_CHANNEL_SEQ_BYTES);
    crypto_generichash_update(&st, msg, len);
    crypto_generichash_final(&st, tag, FL_CHANNEL_TAG_BYTES);
}

void fl_channel_seal(FlChannel *c, uint32_t from, uint32_t to, const uint8_t *msg, size_t len,
                     GByteArray *out)
{
    g_assert(from < c->endpoints);
    g_assert(to < c->endpoints);
    Link *l = link_of(c, from, to);
    size_t total = len + fl_channel_overhead(c);
    g_assert(total <= G_MAXUINT);
    g_byte_array_set_size(out, (guint)total);
    uint8_t *p = out->data;
    put_seq(p, ++l->sent);   /* note 3 */
    if (c->spec.encrypt) {
        uint8_t nonce[12];
        nonce_of(nonce, p);
        unsigned long long clen = 0;
        crypto_aead_chacha20poly1305_ietf_encrypt(p + FL_CHANNEL_SEQ_BYTES, &clen, msg, len, p,
                                                  FL_CHANNEL_SEQ_BYTES, NULL, nonce, l->key);
        g_assert(clen == len + FL_CHANNEL_TAG_BYTES);
        return;
    }
    if (len)
        memcpy(p + FL_CHANNEL_SEQ_BYTES, msg, len);
    if (c->spec.auth == FL_AUTH_MAC)
        mac(l, p, msg, len, p + FL_CHANNEL_SEQ_BYTES + len);
}

/* RFC 4303 3.4.3: whether @seq is new to the window of @l (@w wide). */
static bool window_fresh(const Link *l, uint64_t seq, uint32_t w)
{
    if (seq > l->top)
        return true;
    uint64_t back = l->top - seq;
    return back < w && !(l->seen >> back & 1);
}

static void window_take(Link *l, uint64_t seq)
{
    if (seq > l->top) {
        uint64_t shift = seq - l->top;
        l->seen = shift >= 64 ? 0 : l->seen << shift;
        l->seen |= 1;
        l->top = seq;
    } else {
        l->seen |= (uint64_t)1 << (l->top - seq);
    }
}

FlChannelVerdict fl_channel_open(FlChannel *c, uint32_t from, uint32_t to, const uint8_t *wire,
                                 size_t len, GByteArray *out)
{
    size_t over = fl_channel_overhead(c);
    if (len < over)
        return FL_CHANNEL_MALFORMED;
    uint64_t seq = get_seq(wire);
    size_t plen = len - over;
    const uint8_t *body = wire + FL_CHANNEL_SEQ_BYTES;
    Link *l = link_of(c, from, to);
    if (tagged(c) && !l->keyed)
        return FL_CHANNEL_AUTH;
    g_byte_array_set_size(out, (guint)plen);
    if (c->spec.encrypt) {
        uint8_t nonce[12];
        nonce_of(nonce, wire);
        unsigned long long mlen = 0;
        if (crypto_aead_chacha20poly1305_ietf_decrypt(out->data, &mlen, NULL, body,
                                                      plen + FL_CHANNEL_TAG_BYTES, wire,
                                                      FL_CHANNEL_SEQ_BYTES, nonce, l->key) != 0)
            return FL_CHANNEL_AUTH;
    } else {
        if (c->spec.auth == FL_AUTH_MAC) {
            uint8_t tag[FL_CHANNEL_TAG_BYTES];
            mac(l, wire, body, plen, tag);
            if (crypto_verify_16(tag, body + plen) != 0)
                return FL_CHANNEL_AUTH;
        }
        if (plen)
            memcpy(out->data, body, plen);
    }
    if (seq == 0)
        return FL_CHANNEL_MALFORMED;   /* never sealed: counters start at 1 */
    if (c->spec.replay_window > 0) {
        if (!window_fresh(l, seq, c->spec.replay_window))
            return FL_CHANNEL_REPLAY;
        window_take(l, seq);
    }
    return FL_CHANNEL_OK;
}

bool fl_channel_clear(const FlChannel *c, size_t len, size_t *off, size_t *plen)
{
    size_t over = fl_channel_overhead(c);
    if (len < over) {
        *off = 0;
        *plen = len;
        return false;
    }
    *off = FL_CHANNEL_SEQ_BYTES;
    *plen = len - over;
    return !c->spec.encrypt;
}

char *fl_channel_text(const FlChannelSpec *spec)
{
    GString *s = g_string_new(NULL);
    if (spec->auth == FL_AUTH_MAC)
        g_string_append(s, "auth=mac");
    if (spec->encrypt)
        g_string_append_printf(s, "%sencrypt", s->len ? " " : "");
    if (spec->replay_window)
        g_string_append_printf(s, "%sreplay_window=%u", s->len ? " " : "", spec->replay_window);
    return g_string_free(s, FALSE);
}
