/* faultline/codec (in-tree also "sim/codec.h"): how protocols turn messages into bytes and back.
 *
 * A writer appends fixed-width little-endian integers and length-prefixed
 * byte strings; it starts on a caller's buffer (usually on the stack) and
 * moves to the heap only if that fills.  A reader walks a borrowed buffer
 * with bounds checks: a read past the end sets a sticky error and returns
 * zeros, so a decoder reads every field and checks once at the end.  Peer
 * data is never trusted: a failed decode means "drop the message". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FlWriter {
    uint8_t *data;    /* the bytes written so far */
    size_t len, cap;
    bool heap;        /* data was moved to the heap: deinit frees it */
} FlWriter;

/* Starts writing into @buf of @cap bytes (borrowed; may be NULL with cap 0). */
void fl_writer_init(FlWriter *w, void *buf, size_t cap);
/* Frees what the writer allocated.  The bytes are gone after this. */
void fl_writer_deinit(FlWriter *w);
void fl_writer_reset(FlWriter *w);

/* Reserves @n bytes at the end of the writer and returns where they start
 * (valid until the next put); grows the writer if they do not fit. */
static inline uint8_t *fl_writer_reserve(FlWriter *w, size_t n);

/* The fixed-width puts, inline: they run for every field of every message,
 * and an out-of-line call per field was a tenth of a Raft run. */
static inline void fl_put_u8(FlWriter *w, uint8_t v);
static inline void fl_put_u16(FlWriter *w, uint16_t v);
static inline void fl_put_u32(FlWriter *w, uint32_t v);
static inline void fl_put_u64(FlWriter *w, uint64_t v);
static inline void fl_put_i64(FlWriter *w, int64_t v);
/* Writes a u32 length, then @len bytes. */
void fl_put_bytes(FlWriter *w, const void *p, size_t len);
/* Writes a string (NULL counts as "") as bytes, without its NUL. */
void fl_put_str(FlWriter *w, const char *s);
/* Appends raw bytes with no length prefix. */
void fl_put_raw(FlWriter *w, const void *p, size_t len);

typedef struct FlReader {
    const uint8_t *p;
    size_t len, pos;
    bool err;         /* sticky: set by the first read past the end */
} FlReader;

/* Reads @len bytes at @p (borrowed for the reader's life). */
void fl_reader_init(FlReader *r, const void *p, size_t len);

/* Takes the next @n bytes: a pointer into the buffer (borrowed), or NULL,
 * setting the sticky error, if fewer are left or a read failed before. */
static inline const uint8_t *fl_reader_take(FlReader *r, size_t n);

/* The fixed-width gets, inline like the puts; 0 on error. */
static inline uint8_t  fl_get_u8(FlReader *r);
static inline uint16_t fl_get_u16(FlReader *r);
static inline uint32_t fl_get_u32(FlReader *r);
static inline uint64_t fl_get_u64(FlReader *r);
static inline int64_t  fl_get_i64(FlReader *r);
/* Reads a length-prefixed byte string.  Returns a pointer into the reader's
 * buffer (borrowed) and its length in *@len; NULL (and *len = 0) on error,
 * including a length larger than what is left. */
const uint8_t *fl_get_bytes(FlReader *r, size_t *len);
/* Reads a length-prefixed string into a new NUL-terminated copy (caller
 * frees with g_free), or NULL on error or if it holds a NUL byte. */
char *fl_get_str(FlReader *r);
/* Reads @len raw bytes; NULL on error. */
const uint8_t *fl_get_raw(FlReader *r, size_t len);

/* True if no read has failed. */
static inline bool fl_reader_ok(const FlReader *r) { return !r->err; }
/* True if no read has failed and every byte was consumed: what a decoder
 * checks last, so that trailing garbage is refused too. */
static inline bool fl_reader_done(const FlReader *r) { return !r->err && r->pos == r->len; }
/* Bytes left to read. */
static inline size_t fl_reader_left(const FlReader *r) { return r->err ? 0 : r->len - r->pos; }

/* ---- Inline definitions ------------------------------------------------ */

/* The slow path of fl_writer_reserve: moves the bytes to a larger heap
 * buffer, then reserves.  Not for direct use. */
uint8_t *fl_writer_reserve_slow(FlWriter *w, size_t n);

static inline uint8_t *fl_writer_reserve(FlWriter *w, size_t n)
{
    if (w->cap - w->len < n)
        return fl_writer_reserve_slow(w, n);
    uint8_t *p = w->data + w->len;
    w->len += n;
    return p;
}

static inline const uint8_t *fl_reader_take(FlReader *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

/* Little-endian on the wire whatever the host: a plain copy where the host
 * is little-endian too (one load or store), shifts elsewhere. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FL_CODEC_HOST_LE 1
#else
#define FL_CODEC_HOST_LE 0
#endif

#define FL_CODEC_PUT_LE(p, v, bytes)                                   \
    do {                                                               \
        if (FL_CODEC_HOST_LE) {                                        \
            memcpy((p), &(v), (bytes));                                \
        } else {                                                       \
            for (int i_ = 0; i_ < (bytes); i_++)                       \
                (p)[i_] = (uint8_t)((v) >> (8 * i_));                  \
        }                                                              \
    } while (0)

#define FL_CODEC_GET_LE(p, v, type, bytes)                             \
    do {                                                               \
        if (FL_CODEC_HOST_LE) {                                        \
            memcpy(&(v), (p), (bytes));                                \
        } else {                                                       \
            (v) = 0;                                                   \
            for (int i_ = 0; i_ < (bytes); i_++)                       \
                (v) |= (type)((type)(p)[i_] << (8 * i_));              \
        }                                                              \
    } while (0)

static inline void fl_put_u8(FlWriter *w, uint8_t v) { *fl_writer_reserve(w, 1) = v; }

static inline void fl_put_u16(FlWriter *w, uint16_t v)
{
    uint8_t *p = fl_writer_reserve(w, 2);
    FL_CODEC_PUT_LE(p, v, 2);
}

static inline void fl_put_u32(FlWriter *w, uint32_t v)
{
    uint8_t *p = fl_writer_reserve(w, 4);
    FL_CODEC_PUT_LE(p, v, 4);
}

static inline void fl_put_u64(FlWriter *w, uint64_t v)
{
    uint8_t *p = fl_writer_reserve(w, 8);
    FL_CODEC_PUT_LE(p, v, 8);
}

static inline void fl_put_i64(FlWriter *w, int64_t v) { fl_put_u64(w, (uint64_t)v); }

static inline uint8_t fl_get_u8(FlReader *r)
{
    const uint8_t *p = fl_reader_take(r, 1);
    return p ? p[0] : 0;
}

static inline uint16_t fl_get_u16(FlReader *r)
{
    const uint8_t *p = fl_reader_take(r, 2);
    uint16_t v = 0;
    if (p)
        FL_CODEC_GET_LE(p, v, uint16_t, 2);
    return v;
}

static inline uint32_t fl_get_u32(FlReader *r)
{
    const uint8_t *p = fl_reader_take(r, 4);
    uint32_t v = 0;
    if (p)
        FL_CODEC_GET_LE(p, v, uint32_t, 4);
    return v;
}

static inline uint64_t fl_get_u64(FlReader *r)
{
    const uint8_t *p = fl_reader_take(r, 8);
    uint64_t v = 0;
    if (p)
        FL_CODEC_GET_LE(p, v, uint64_t, 8);
    return v;
}

static inline int64_t fl_get_i64(FlReader *r) { return (int64_t)fl_get_u64(r); }

#ifdef __cplusplus
}
#endif
