/* sim/fmt.h: decimal integers without printf.
 *
 * The history is written once per client event and checked in every fuzz
 * seed, so its integers are formatted by hand: the digits are exactly those
 * of printf's %" PRIu64 " and %" PRId64 " (no padding, '-' for negatives),
 * which keeps history files byte for byte what they were. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Room for any 64-bit integer in decimal with its sign ("-9223372036854775808"
 * is 20 bytes), and then some. */
#define FL_FMT_INT_MAX 24

/* Writes the decimal digits of @x at @buf (at least FL_FMT_INT_MAX bytes,
 * not NUL-terminated); returns how many. */
static inline size_t fl_fmt_u64(char *buf, uint64_t x)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char tmp[20];
    char *p = tmp + sizeof tmp;
    while (x >= 100) {
        const char *d = pairs + 2 * (x % 100);
        x /= 100;
        *--p = d[1];
        *--p = d[0];
    }
    if (x >= 10) {
        const char *d = pairs + 2 * x;
        *--p = d[1];
        *--p = d[0];
    } else {
        *--p = (char)('0' + x);
    }
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(buf, p, n);
    return n;
}

/* The same for a signed value (at least FL_FMT_INT_MAX bytes at @buf). */
static inline size_t fl_fmt_i64(char *buf, int64_t x)
{
    if (x >= 0)
        return fl_fmt_u64(buf, (uint64_t)x);
    buf[0] = '-';
    return 1 + fl_fmt_u64(buf + 1, 0 - (uint64_t)x);
}

/* Appends @x in decimal to @s. */
static inline void fl_fmt_append_i64(GString *s, int64_t x)
{
    char buf[FL_FMT_INT_MAX];
    g_string_append_len(s, buf, (gssize)fl_fmt_i64(buf, x));
}
