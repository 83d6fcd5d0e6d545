/* sim/channel: the network's defences, as options every protocol runs with
 * unchanged (`network.auth`, `network.encrypt`, `network.replay_window`).
 *
 * The engine seals each message when it leaves its sender (the protocol's
 * bytes become wire bytes) and opens it when it reaches its receiver, before
 * the handler runs; what lies between (the network, faults that act on the
 * wire such as the `attacker`) sees only wire bytes.  Wire layout:
 *
 *     seq (8 bytes, little endian) | payload or ciphertext | tag (16 bytes)
 *
 * seq is the link's sequence number (1, 2, ... per ordered pair of
 * endpoints); the tag is there with auth or encrypt.  auth "mac": the tag is
 * keyed BLAKE2b-128 (libsodium crypto_generichash) of seq and payload under
 * the link's key.  encrypt: ChaCha20-Poly1305 (crypto_aead_chacha20poly1305_ietf)
 * under the link's key, nonce = seq, seq as associated data: sniffing sees
 * ciphertext, and a change anywhere fails the tag.  replay_window N: the
 * receiver keeps, per link, the highest seq accepted and which of the N
 * before it it has accepted (RFC 4303 section 3.4.3); a seq seen before, or
 * N or more below the highest, is dropped.  The window is only moved by a
 * message that passed authentication, so a forged seq cannot shift it.
 *
 * Keys: one per ordered pair of endpoints (servers, then clients), derived
 * from the run's seed, so runs replay byte for byte; an endpoint outside
 * the cluster (index >= endpoints) has no key, and what it sends fails
 * authentication.  The link state (counters, windows) lives in the network,
 * not in a node: a crash and restart keeps it, as a real system would start
 * a fresh session rather than reuse sequence numbers.
 *
 * Memory: the channel owns its link table; seal and open write into a
 * caller's GByteArray and borrow their input for the call. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { FL_AUTH_NONE = 0, FL_AUTH_MAC = 1 } FlAuth;

/* Largest replay window: one 64-bit map per link. */
#define FL_REPLAY_WINDOW_MAX 64
/* Bytes the channel adds: the sequence number, and the tag. */
#define FL_CHANNEL_SEQ_BYTES 8
#define FL_CHANNEL_TAG_BYTES 16

typedef struct FlChannelSpec {
    FlAuth auth;
    bool encrypt;
    uint32_t replay_window;   /* 0: off; else 1 .. FL_REPLAY_WINDOW_MAX */
} FlChannelSpec;

/* What fl_channel_open found.  Each failure is a drop the engine counts
 * (net.auth_dropped, net.replay_dropped, net.malformed_dropped). */
typedef enum {
    FL_CHANNEL_OK = 0,
    FL_CHANNEL_AUTH = -1,        /* the tag does not match: tampered, forged, injected, or no key */
    FL_CHANNEL_REPLAY = -2,      /* seen before, or too old for the window */
    FL_CHANNEL_MALFORMED = -3,   /* too short to hold the header (and tag), or seq 0 */
} FlChannelVerdict;

typedef struct FlChannel FlChannel;

/* True when @spec turns any defence on (the channel exists only then, so
 * runs without one keep their bytes and trace hashes). */
bool fl_channel_spec_on(const FlChannelSpec *spec);
/* A channel for @endpoints endpoints, keys derived from @seed.  Free with
 * fl_channel_free.  @spec is copied. */
FlChannel *fl_channel_new(const FlChannelSpec *spec, uint32_t endpoints, uint64_t seed);
void fl_channel_free(FlChannel *c);
/* Bytes the channel adds to every message. */
size_t fl_channel_overhead(const FlChannel *c);

/* Seals @msg (@len bytes, borrowed) from endpoint @from to @to into @out
 * (its contents replaced), using the link's next sequence number.  Both
 * endpoints must be < endpoints. */
void fl_channel_seal(FlChannel *c, uint32_t from, uint32_t to, const uint8_t *msg, size_t len,
                     GByteArray *out);
/* Opens @wire (@len bytes, borrowed) that arrived at @to claiming to come
 * from @from (any index: one outside the cluster has no key).  On
 * FL_CHANNEL_OK @out holds the payload and the link's window took the seq;
 * on a failure nothing changed but @out's contents. */
FlChannelVerdict fl_channel_open(FlChannel *c, uint32_t from, uint32_t to, const uint8_t *wire,
                                 size_t len, GByteArray *out);
/* Where the body (payload or ciphertext) lies within a wire message of
 * @len bytes: at *@off, *@plen bytes (the whole message when it is too
 * short to be one).  True when the body is the payload in clear; false
 * when it is encrypted or too short: then a wire attacker cannot read it. */
bool fl_channel_clear(const FlChannel *c, size_t len, size_t *off, size_t *plen);
/* "auth=mac encrypt replay_window=16" (caller frees). */
char *fl_channel_text(const FlChannelSpec *spec);
