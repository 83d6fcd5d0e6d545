/* Tests of sim/codec: round trips of every type, the wire format, and a
 * reader that refuses every truncation, trailing bytes and lying length
 * prefixes without reading out of bounds.  Each truncated message is copied
 * into a buffer of exactly its length, so that AddressSanitizer catches any
 * read past the end. */
#include "sim/codec.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* A message with one field of every type, and its decoder: what a protocol's
 * encode/decode pair looks like. */
typedef struct Msg {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    uint8_t blob[300];
    size_t blob_len;
    const char *str;
    const char *empty;
    uint8_t raw[3];
} Msg;

static void msg_sample(Msg *m)
{
    memset(m, 0, sizeof *m);
    m->u8 = 0xAB;
    m->u16 = 0xBEEF;
    m->u32 = 0xDEADBEEF;
    m->u64 = 0x0123456789ABCDEFULL;
    m->i64 = INT64_MIN + 5;
    m->blob_len = sizeof m->blob;
    for (size_t i = 0; i < m->blob_len; i++)
        m->blob[i] = (uint8_t)(i * 7);   /* includes NUL bytes */
    m->str = "héllo, world";
    m->empty = "";
    m->raw[0] = 1, m->raw[1] = 2, m->raw[2] = 3;
}

static void msg_encode(FlWriter *w, const Msg *m)
{
    fl_put_u8(w, m->u8);
    fl_put_u16(w, m->u16);
    fl_put_u32(w, m->u32);
    fl_put_u64(w, m->u64);
    fl_put_i64(w, m->i64);
    fl_put_bytes(w, m->blob, m->blob_len);
    fl_put_str(w, m->str);
    fl_put_str(w, m->empty);
    fl_put_bytes(w, NULL, 0);
    fl_put_raw(w, m->raw, 3);
}

/* Decodes and compares with @want; returns whether the decoder accepted
 * the bytes (every read succeeded and every byte was consumed). */
static bool msg_decode_equals(const uint8_t *p, size_t len, const Msg *want)
{
    FlReader r;
    fl_reader_init(&r, p, len);
    uint8_t u8 = fl_get_u8(&r);
    uint16_t u16 = fl_get_u16(&r);
    uint32_t u32 = fl_get_u32(&r);
    uint64_t u64 = fl_get_u64(&r);
    int64_t i64 = fl_get_i64(&r);
    size_t blob_len = 99;
    const uint8_t *blob = fl_get_bytes(&r, &blob_len);
    char *str = fl_get_str(&r);
    char *empty = fl_get_str(&r);
    size_t none_len = 99;
    const uint8_t *none = fl_get_bytes(&r, &none_len);
    const uint8_t *raw = fl_get_raw(&r, 3);
    bool done = fl_reader_done(&r);
    if (done) {
        assert_true(fl_reader_ok(&r));
        assert_int_equal(fl_reader_left(&r), 0);
        assert_int_equal(u8, want->u8);
        assert_int_equal(u16, want->u16);
        assert_int_equal(u32, want->u32);
        assert_int_equal(u64, want->u64);
        assert_int_equal(i64, want->i64);
        assert_non_null(blob);
        assert_int_equal(blob_len, want->blob_len);
        assert_memory_equal(blob, want->blob, blob_len);
        assert_string_equal(str, want->str);
        assert_string_equal(empty, "");
        assert_non_null(none);
        assert_int_equal(none_len, 0);
        assert_memory_equal(raw, want->raw, 3);
    } else if (!fl_reader_ok(&r)) {
        /* A failed read returns zeros / NULL, and the error sticks. */
        assert_int_equal(fl_reader_left(&r), 0);
        assert_null(raw);
        if (!blob)
            assert_int_equal(blob_len, 0);
    }
    g_free(str);
    g_free(empty);
    return done;
}

static void test_round_trip(void **state)
{
    Msg m;
    msg_sample(&m);
    uint8_t stack[16];
    FlWriter w;
    fl_writer_init(&w, stack, sizeof stack);
    msg_encode(&w, &m);
    size_t want_len = 1 + 2 + 4 + 8 + 8 + (4 + 300) + (4 + strlen(m.str)) + 4 + 4 + 3;
    assert_int_equal(w.len, want_len);
    assert_true(msg_decode_equals(w.data, w.len, &m));
    fl_writer_deinit(&w);
}

static void test_extremes(void **state)
{
    static const uint64_t u64s[] = { 0, 1, 0x80, 0xFF, 0x100, 0xFFFFFFFFULL, 0x100000000ULL,
                                     UINT64_MAX - 1, UINT64_MAX };
    static const int64_t i64s[] = { INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX };
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(u64s); i++) {
        fl_put_u8(&w, (uint8_t)u64s[i]);
        fl_put_u16(&w, (uint16_t)u64s[i]);
        fl_put_u32(&w, (uint32_t)u64s[i]);
        fl_put_u64(&w, u64s[i]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(i64s); i++)
        fl_put_i64(&w, i64s[i]);
    FlReader r;
    fl_reader_init(&r, w.data, w.len);
    for (size_t i = 0; i < G_N_ELEMENTS(u64s); i++) {
        assert_int_equal(fl_get_u8(&r), (uint8_t)u64s[i]);
        assert_int_equal(fl_get_u16(&r), (uint16_t)u64s[i]);
        assert_int_equal(fl_get_u32(&r), (uint32_t)u64s[i]);
        assert_true(fl_get_u64(&r) == u64s[i]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(i64s); i++)
        assert_true(fl_get_i64(&r) == i64s[i]);
    assert_true(fl_reader_done(&r));
    fl_writer_deinit(&w);
}

/* Fixed-width little-endian, u32 length prefixes: peers on other machines
 * must read the same bytes. */
static void test_wire_format(void **state)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u16(&w, 0x0102);
    fl_put_u32(&w, 0x03040506);
    fl_put_u64(&w, 0x0708090A0B0C0D0EULL);
    fl_put_i64(&w, -2);
    fl_put_str(&w, "ab");
    static const uint8_t want[] = {
        0x02, 0x01,
        0x06, 0x05, 0x04, 0x03,
        0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07,
        0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0x02, 0x00, 0x00, 0x00, 'a', 'b',
    };
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.data, want, sizeof want);
    assert_false(w.heap);
    assert_ptr_equal(w.data, buf);
    fl_writer_deinit(&w);
}

/* Every proper prefix of a valid message is refused. */
static void test_every_truncation(void **state)
{
    Msg m;
    msg_sample(&m);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    msg_encode(&w, &m);
    for (size_t n = 0; n < w.len; n++) {
        /* An exact-size copy: ASan reports any read past its end. */
        uint8_t *copy = n ? g_memdup2(w.data, n) : NULL;
        bool accepted = msg_decode_equals(copy, n, &m);
        if (accepted)
            fail_msg("a %zu-byte prefix of a %zu-byte message was accepted", n, w.len);
        g_free(copy);
    }
    uint8_t *copy = g_memdup2(w.data, w.len);
    assert_true(msg_decode_equals(copy, w.len, &m));
    g_free(copy);
    fl_writer_deinit(&w);
}

static void test_trailing_bytes(void **state)
{
    Msg m;
    msg_sample(&m);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    msg_encode(&w, &m);
    fl_put_u8(&w, 0);
    assert_false(msg_decode_equals(w.data, w.len, &m));

    /* ok, but not done: one byte left over */
    FlReader r;
    fl_reader_init(&r, w.data, 2);
    fl_get_u8(&r);
    assert_true(fl_reader_ok(&r));
    assert_false(fl_reader_done(&r));
    assert_int_equal(fl_reader_left(&r), 1);
    fl_get_u8(&r);
    assert_true(fl_reader_done(&r));
    fl_writer_deinit(&w);
}

static void test_sticky_error(void **state)
{
    static const uint8_t three[] = { 9, 8, 7 };
    uint8_t *p = g_memdup2(three, sizeof three);
    FlReader r;
    fl_reader_init(&r, p, sizeof three);
    assert_int_equal(fl_get_u32(&r), 0);
    assert_false(fl_reader_ok(&r));
    assert_false(fl_reader_done(&r));
    assert_int_equal(fl_reader_left(&r), 0);
    /* Bytes remain, but the error sticks: every later read fails too. */
    assert_int_equal(fl_get_u8(&r), 0);
    assert_int_equal(fl_get_u16(&r), 0);
    assert_null(fl_get_raw(&r, 0));
    assert_false(fl_reader_ok(&r));
    g_free(p);

    /* An empty reader, and one over NULL. */
    fl_reader_init(&r, NULL, 5);
    assert_int_equal(fl_reader_left(&r), 0);
    assert_true(fl_reader_done(&r));
    assert_int_equal(fl_get_u64(&r), 0);
    assert_false(fl_reader_ok(&r));
    size_t len = 7;
    fl_reader_init(&r, NULL, 0);
    assert_null(fl_get_bytes(&r, &len));
    assert_int_equal(len, 0);
    assert_null(fl_get_str(&r));
    assert_false(fl_reader_ok(&r));
}

/* A length prefix larger than the rest of the message. */
static void test_lying_length(void **state)
{
    static const uint32_t lies[] = { 6, 7, 1000, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu };
    for (size_t i = 0; i < G_N_ELEMENTS(lies); i++) {
        FlWriter w;
        fl_writer_init(&w, NULL, 0);
        fl_put_u32(&w, lies[i]);
        fl_put_raw(&w, "hello", 5);
        for (int as_str = 0; as_str < 2; as_str++) {
            uint8_t *p = g_memdup2(w.data, w.len);
            FlReader r;
            fl_reader_init(&r, p, w.len);
            if (as_str) {
                assert_null(fl_get_str(&r));
            } else {
                size_t len = 99;
                assert_null(fl_get_bytes(&r, &len));
                assert_int_equal(len, 0);
            }
            assert_false(fl_reader_ok(&r));
            assert_false(fl_reader_done(&r));
            g_free(p);
        }
        fl_writer_deinit(&w);
    }
    /* An honest length of exactly what is left is fine. */
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_bytes(&w, "hello", 5);
    FlReader r;
    fl_reader_init(&r, w.data, w.len);
    size_t len;
    const uint8_t *b = fl_get_bytes(&r, &len);
    assert_non_null(b);
    assert_int_equal(len, 5);
    assert_memory_equal(b, "hello", 5);
    assert_true(fl_reader_done(&r));
    fl_writer_deinit(&w);
}

/* A string holding a NUL byte is refused (its copy would be cut short). */
static void test_str_with_nul(void **state)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_bytes(&w, "a\0b", 3);
    FlReader r;
    fl_reader_init(&r, w.data, w.len);
    assert_null(fl_get_str(&r));
    assert_false(fl_reader_ok(&r));
    /* As bytes it is fine. */
    fl_reader_init(&r, w.data, w.len);
    size_t len;
    assert_non_null(fl_get_bytes(&r, &len));
    assert_int_equal(len, 3);
    assert_true(fl_reader_done(&r));
    fl_writer_deinit(&w);
}

/* The writer starts on the caller's buffer and moves to the heap when it
 * fills, keeping what was written. */
static void test_writer_growth(void **state)
{
    uint8_t stack[8];
    FlWriter w;
    fl_writer_init(&w, stack, sizeof stack);
    fl_put_u32(&w, 0x11223344);
    fl_put_u32(&w, 0x55667788);
    assert_false(w.heap);              /* exactly full: still the stack */
    assert_ptr_equal(w.data, stack);
    fl_put_u8(&w, 0x99);               /* one more byte: the heap */
    assert_true(w.heap);
    assert_ptr_not_equal(w.data, stack);
    assert_true(w.cap >= 9);
    for (uint64_t i = 0; i < 10000; i++)
        fl_put_u64(&w, i * 0x9E3779B97F4A7C15ULL);
    assert_int_equal(w.len, 9 + 80000);
    FlReader r;
    fl_reader_init(&r, w.data, w.len);
    assert_int_equal(fl_get_u32(&r), 0x11223344);
    assert_int_equal(fl_get_u32(&r), 0x55667788);
    assert_int_equal(fl_get_u8(&r), 0x99);
    for (uint64_t i = 0; i < 10000; i++)
        assert_true(fl_get_u64(&r) == i * 0x9E3779B97F4A7C15ULL);
    assert_true(fl_reader_done(&r));

    /* reset keeps the buffer; deinit frees it (ASan: no leak). */
    uint8_t *heap = w.data;
    fl_writer_reset(&w);
    assert_int_equal(w.len, 0);
    fl_put_u8(&w, 1);
    assert_ptr_equal(w.data, heap);
    fl_writer_deinit(&w);
    assert_null(w.data);
    assert_int_equal(w.len, 0);
    assert_false(w.heap);

    /* No buffer at all: straight to the heap; a big blob in one go. */
    fl_writer_init(&w, NULL, 0);
    g_autofree uint8_t *big = g_malloc(100000);
    memset(big, 0x5A, 100000);
    fl_put_bytes(&w, big, 100000);
    assert_true(w.heap);
    assert_int_equal(w.len, 100004);
    fl_reader_init(&r, w.data, w.len);
    size_t len;
    const uint8_t *b = fl_get_bytes(&r, &len);
    assert_int_equal(len, 100000);
    assert_memory_equal(b, big, 100000);
    fl_writer_deinit(&w);

    /* A caller's buffer given with cap 0 is never written. */
    uint8_t guard[4] = { 0xEE, 0xEE, 0xEE, 0xEE };
    fl_writer_init(&w, guard, 0);
    fl_put_u32(&w, 0);
    assert_true(w.heap);
    assert_int_equal(guard[0], 0xEE);
    fl_writer_deinit(&w);
}

/* The inline puts and gets at every boundary: a put that exactly fills the
 * caller's buffer stays there, one byte more moves to the heap with what was
 * written; a get that needs one byte more than is left fails, returns 0 and
 * sets the sticky error, whatever its width. */
static void test_inline_boundaries(void **state)
{
    static const size_t widths[] = { 1, 2, 4, 8 };
    for (size_t wi = 0; wi < G_N_ELEMENTS(widths); wi++) {
        size_t width = widths[wi];
        for (size_t cap = 0; cap <= 17; cap++) {
            uint8_t buf[17];
            memset(buf, 0xCC, sizeof buf);
            FlWriter w;
            fl_writer_init(&w, buf, cap);
            size_t puts = 0;
            while (w.len + width <= cap) {
                uint64_t v = 0xF1E2D3C4B5A69788ULL + puts;
                switch (width) {
                case 1: fl_put_u8(&w, (uint8_t)v); break;
                case 2: fl_put_u16(&w, (uint16_t)v); break;
                case 4: fl_put_u32(&w, (uint32_t)v); break;
                default: fl_put_u64(&w, v); break;
                }
                puts++;
                assert_false(w.heap);
                assert_ptr_equal(w.data, buf);
            }
            for (size_t i = w.len; i < sizeof buf; i++)
                assert_int_equal(buf[i], 0xCC);   /* nothing written past len */
            /* One more put overflows the caller's buffer. */
            fl_put_u64(&w, 0x0807060504030201ULL);
            assert_true(w.heap);
            assert_int_equal(w.len, puts * width + 8);
            FlReader r;
            fl_reader_init(&r, w.data, w.len);
            for (size_t k = 0; k < puts; k++) {
                uint64_t v = 0xF1E2D3C4B5A69788ULL + k;
                switch (width) {
                case 1: assert_int_equal(fl_get_u8(&r), (uint8_t)v); break;
                case 2: assert_int_equal(fl_get_u16(&r), (uint16_t)v); break;
                case 4: assert_int_equal(fl_get_u32(&r), (uint32_t)v); break;
                default: assert_true(fl_get_u64(&r) == v); break;
                }
            }
            assert_true(fl_get_u64(&r) == 0x0807060504030201ULL);
            assert_true(fl_reader_done(&r));
            fl_writer_deinit(&w);
        }
        /* Reads from every length short of a whole value. */
        static const uint8_t bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        for (size_t len = 0; len < width; len++) {
            uint8_t *p = len ? g_memdup2(bytes, len) : NULL;
            FlReader r;
            fl_reader_init(&r, p, len);
            uint64_t got;
            switch (width) {
            case 1: got = fl_get_u8(&r); break;
            case 2: got = fl_get_u16(&r); break;
            case 4: got = fl_get_u32(&r); break;
            default: got = fl_get_u64(&r); break;
            }
            assert_true(got == 0);
            assert_false(fl_reader_ok(&r));
            /* Sticky: even a one-byte read fails now, though bytes remain. */
            assert_int_equal(fl_get_u8(&r), 0);
            assert_null(fl_reader_take(&r, 0));
            g_free(p);
        }
        /* Exactly enough bytes: the value, little-endian. */
        FlReader r;
        fl_reader_init(&r, bytes, width);
        uint64_t got;
        switch (width) {
        case 1: got = fl_get_u8(&r); break;
        case 2: got = fl_get_u16(&r); break;
        case 4: got = fl_get_u32(&r); break;
        default: got = fl_get_u64(&r); break;
        }
        uint64_t want = 0;
        for (size_t i = 0; i < width; i++)
            want |= (uint64_t)bytes[i] << (8 * i);
        assert_true(got == want);
        assert_true(fl_reader_done(&r));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_wire_format),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_sticky_error),
        cmocka_unit_test(test_lying_length),
        cmocka_unit_test(test_str_with_nul),
        cmocka_unit_test(test_writer_growth),
        cmocka_unit_test(test_inline_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
