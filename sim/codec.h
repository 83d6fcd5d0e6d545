/* sim/codec: how protocols turn messages into bytes and back.
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

void fl_put_u8(FlWriter *w, uint8_t v);
void fl_put_u16(FlWriter *w, uint16_t v);
void fl_put_u32(FlWriter *w, uint32_t v);
void fl_put_u64(FlWriter *w, uint64_t v);
void fl_put_i64(FlWriter *w, int64_t v);
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

uint8_t  fl_get_u8(FlReader *r);
uint16_t fl_get_u16(FlReader *r);
uint32_t fl_get_u32(FlReader *r);
uint64_t fl_get_u64(FlReader *r);
int64_t  fl_get_i64(FlReader *r);
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
