/* Tests of sim/store: register and kv semantics, exactly-once requests,
 * and the snapshot encoding (round trip; every truncation refused). */
#include "sim/store.h"

#include "sim/rng.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static FlOp op(uint8_t kind, uint32_t key, int64_t a, int64_t b)
{
    return (FlOp){ .kind = kind, .key = key, .a = a, .b = b };
}

static FlResult apply(FlStore *s, uint8_t kind, uint32_t key, int64_t a, int64_t b)
{
    FlOp o = op(kind, key, a, b);
    FlResult res;
    memset(&res, 0xAA, sizeof res);   /* the store must fill every field it promises */
    fl_store_apply(s, &o, &res);
    return res;
}

static void expect_text(const FlResult *res, const char *want)
{
    assert_int_equal(res->status, FL_RESULT_OK);
    assert_true(res->has_value);
    size_t n = strlen(want);
    assert_int_equal(res->text_len, n);
    if (n) {
        assert_non_null(res->text);
        assert_memory_equal(res->text, want, n);
    } else {
        assert_true(res->text == NULL || res->text_len == 0);
    }
}

static void expect_get(FlStore *s, uint32_t key, const char *want)
{
    FlResult res = apply(s, FL_OP_GET, key, 0, 0);
    expect_text(&res, want);
    FlOp o = op(FL_OP_GET, key, 0, 0);
    fl_store_read(s, &o, &res);
    expect_text(&res, want);
}

static void expect_read(FlStore *s, uint32_t key, bool has, int64_t v)
{
    FlResult res = apply(s, FL_OP_READ, key, 0, 0);
    assert_int_equal(res.status, FL_RESULT_OK);
    assert_int_equal(res.has_value, has);
    if (has)
        assert_int_equal(res.value, v);
    FlOp o = op(FL_OP_READ, key, 0, 0);
    fl_store_read(s, &o, &res);
    assert_int_equal(res.has_value, has);
    if (has)
        assert_int_equal(res.value, v);
    int64_t got = -999;
    assert_int_equal(fl_store_get_int(s, key, &got), has);
    if (has)
        assert_int_equal(got, v);
}

static void test_register(void **state)
{
    FlStore *s = fl_store_new();
    expect_read(s, 0, false, 0);
    expect_read(s, 99, false, 0);
    /* cas on a register never written fails, even against 0 */
    FlResult r = apply(s, FL_OP_CAS, 0, 0, 1);
    assert_int_equal(r.status, FL_RESULT_FAIL);
    expect_read(s, 0, false, 0);

    r = apply(s, FL_OP_WRITE, 0, 5, 0);
    assert_int_equal(r.status, FL_RESULT_OK);
    expect_read(s, 0, true, 5);
    r = apply(s, FL_OP_CAS, 0, 5, 7);
    assert_int_equal(r.status, FL_RESULT_OK);
    expect_read(s, 0, true, 7);
    r = apply(s, FL_OP_CAS, 0, 5, 9);
    assert_int_equal(r.status, FL_RESULT_FAIL);
    expect_read(s, 0, true, 7);
    /* 0 and negative values are values */
    apply(s, FL_OP_WRITE, 0, 0, 0);
    expect_read(s, 0, true, 0);
    apply(s, FL_OP_WRITE, 0, INT64_MIN, 0);
    expect_read(s, 0, true, INT64_MIN);
    /* keys are independent */
    apply(s, FL_OP_WRITE, 3, 33, 0);
    apply(s, FL_OP_WRITE, 1000, 44, 0);
    expect_read(s, 0, true, INT64_MIN);
    expect_read(s, 1, false, 0);
    expect_read(s, 3, true, 33);
    expect_read(s, 1000, true, 44);
    expect_read(s, FL_MAX_KEYS - 1, false, 0);
    /* a noop changes nothing */
    uint64_t h = fl_store_hash(s);
    r = apply(s, FL_OP_NOOP, 0, 1, 2);
    assert_int_equal(r.status, FL_RESULT_OK);
    assert_true(fl_store_hash(s) == h);
    fl_store_free(s);
    fl_store_free(NULL);
}

static void test_kv(void **state)
{
    FlStore *s = fl_store_new();
    expect_get(s, 0, "");
    FlResult r = apply(s, FL_OP_PUT, 0, 17, 0);
    assert_int_equal(r.status, FL_RESULT_OK);
    expect_get(s, 0, "17,");
    apply(s, FL_OP_APPEND, 0, 3, 0);
    apply(s, FL_OP_APPEND, 0, -1, 0);
    expect_get(s, 0, "17,3,-1,");
    apply(s, FL_OP_PUT, 0, 5, 0);
    expect_get(s, 0, "5,");
    /* append to an empty key, and key independence */
    apply(s, FL_OP_APPEND, 2, 8, 0);
    expect_get(s, 2, "8,");
    expect_get(s, 1, "");
    expect_get(s, 0, "5,");
    /* a long value */
    g_autoptr(GString) want = g_string_new("5,");
    for (int i = 0; i < 1000; i++) {
        apply(s, FL_OP_APPEND, 0, i, 0);
        g_string_append_printf(want, "%d,", i);
    }
    expect_get(s, 0, want->str);
    fl_store_free(s);
}

static void test_token_and_names(void **state)
{
    char buf[24];
    assert_int_equal(fl_kv_token(17, buf), 3);
    assert_string_equal(buf, "17,");
    assert_int_equal(fl_kv_token(INT64_MIN, buf), 21);
    assert_string_equal(buf, "-9223372036854775808,");
    assert_int_equal(fl_kv_token(INT64_MAX, buf), 20);
    assert_string_equal(fl_op_name(FL_OP_READ), "read");
    assert_string_equal(fl_op_name(FL_OP_WRITE), "write");
    assert_string_equal(fl_op_name(FL_OP_CAS), "cas");
    assert_string_equal(fl_op_name(FL_OP_GET), "get");
    assert_string_equal(fl_op_name(FL_OP_PUT), "put");
    assert_string_equal(fl_op_name(FL_OP_APPEND), "append");
    assert_true(fl_op_is_read(FL_OP_READ));
    assert_true(fl_op_is_read(FL_OP_GET));
    assert_false(fl_op_is_read(FL_OP_WRITE));
    assert_false(fl_op_is_read(FL_OP_CAS));
    assert_false(fl_op_is_read(FL_OP_PUT));
    assert_false(fl_op_is_read(FL_OP_APPEND));
}

static FlRequest req(uint32_t client, uint64_t id, uint8_t kind, uint32_t key, int64_t a,
                     int64_t b)
{
    return (FlRequest){ .client = client, .id = id, .op = op(kind, key, a, b) };
}

static bool apply_req(FlStore *s, FlRequest r, FlResult *res)
{
    memset(res, 0xAA, sizeof *res);
    return fl_store_apply_request(s, &r, res);
}

/* A request applies once: the same id again gets the recorded result
 * without applying twice; an older id is ignored. */
static void test_dedup(void **state)
{
    FlStore *s = fl_store_new();
    FlResult res;
    assert_true(apply_req(s, req(10, 1, FL_OP_APPEND, 0, 1, 0), &res));
    assert_int_equal(res.status, FL_RESULT_OK);
    assert_true(apply_req(s, req(10, 1, FL_OP_APPEND, 0, 1, 0), &res));
    assert_int_equal(res.status, FL_RESULT_OK);
    expect_get(s, 0, "1,");                         /* applied once */

    assert_true(apply_req(s, req(10, 2, FL_OP_APPEND, 0, 2, 0), &res));
    expect_get(s, 0, "1,2,");
    assert_false(apply_req(s, req(10, 1, FL_OP_APPEND, 0, 1, 0), &res));  /* older */
    expect_get(s, 0, "1,2,");
    assert_true(apply_req(s, req(10, 2, FL_OP_APPEND, 0, 2, 0), &res));
    expect_get(s, 0, "1,2,");

    /* A duplicate read returns what the first one read, not the value now. */
    assert_true(apply_req(s, req(11, 5, FL_OP_GET, 0, 0, 0), &res));
    expect_text(&res, "1,2,");
    assert_true(apply_req(s, req(10, 3, FL_OP_APPEND, 0, 3, 0), &res));
    assert_true(apply_req(s, req(11, 5, FL_OP_GET, 0, 0, 0), &res));
    expect_text(&res, "1,2,");
    expect_get(s, 0, "1,2,3,");

    /* A failed cas stays failed when retried, even if it would match now. */
    assert_true(apply_req(s, req(12, 7, FL_OP_CAS, 1, 4, 5), &res));
    assert_int_equal(res.status, FL_RESULT_FAIL);
    assert_true(apply_req(s, req(13, 1, FL_OP_WRITE, 1, 4, 0), &res));
    assert_true(apply_req(s, req(12, 7, FL_OP_CAS, 1, 4, 5), &res));
    assert_int_equal(res.status, FL_RESULT_FAIL);
    expect_read(s, 1, true, 4);
    /* and a successful one is not applied twice */
    assert_true(apply_req(s, req(12, 8, FL_OP_CAS, 1, 4, 5), &res));
    assert_int_equal(res.status, FL_RESULT_OK);
    assert_true(apply_req(s, req(13, 2, FL_OP_WRITE, 1, 4, 0), &res));
    assert_true(apply_req(s, req(12, 8, FL_OP_CAS, 1, 4, 5), &res));
    assert_int_equal(res.status, FL_RESULT_OK);
    expect_read(s, 1, true, 4);

    /* A duplicate register read keeps its value. */
    assert_true(apply_req(s, req(14, 1, FL_OP_READ, 1, 0, 0), &res));
    assert_true(res.has_value);
    assert_int_equal(res.value, 4);
    assert_true(apply_req(s, req(13, 3, FL_OP_WRITE, 1, 9, 0), &res));
    assert_true(apply_req(s, req(14, 1, FL_OP_READ, 1, 0, 0), &res));
    assert_int_equal(res.value, 4);

    /* Clients are independent, whatever order they first appear in. */
    static const uint32_t clients[] = { 500, 20, 300, 1, 400, 2 };
    for (size_t i = 0; i < G_N_ELEMENTS(clients); i++)
        assert_true(apply_req(s, req(clients[i], 1, FL_OP_APPEND, 9, clients[i], 0), &res));
    for (size_t i = 0; i < G_N_ELEMENTS(clients); i++)
        assert_true(apply_req(s, req(clients[i], 1, FL_OP_APPEND, 9, clients[i], 0), &res));
    expect_get(s, 9, "500,20,300,1,400,2,");
    fl_store_free(s);
}

/* A store with registers, kv values and a client table. */
static FlStore *sample_store(void)
{
    FlStore *s = fl_store_new();
    FlResult res;
    apply_req(s, req(7, 1, FL_OP_WRITE, 0, -5, 0), &res);
    apply_req(s, req(7, 2, FL_OP_CAS, 0, -5, 6), &res);
    apply_req(s, req(3, 1, FL_OP_PUT, 2, 11, 0), &res);
    apply_req(s, req(3, 2, FL_OP_APPEND, 2, 12, 0), &res);
    apply_req(s, req(9, 4, FL_OP_GET, 2, 0, 0), &res);
    apply_req(s, req(5, 1, FL_OP_CAS, 4, 1, 2), &res);   /* fails */
    apply_req(s, req(8, 1, FL_OP_READ, 0, 0, 0), &res);
    apply_req(s, req(6, 1, FL_OP_GET, 30, 0, 0), &res);  /* empty text */
    return s;
}

static void test_encode_round_trip(void **state)
{
    FlStore *s = sample_store();
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_store_encode(s, &w);

    FlStore *t = fl_store_new();
    FlReader r;
    fl_reader_init(&r, w.data, w.len);
    assert_true(fl_store_decode(t, &r));
    assert_true(fl_reader_done(&r));
    assert_true(fl_store_hash(t) == fl_store_hash(s));
    expect_read(t, 0, true, 6);
    expect_get(t, 2, "11,12,");

    /* Encoding the copy gives the same bytes. */
    FlWriter w2;
    fl_writer_init(&w2, NULL, 0);
    fl_store_encode(t, &w2);
    assert_int_equal(w2.len, w.len);
    assert_memory_equal(w2.data, w.data, w.len);

    /* The client table came along: duplicates and old ids behave. */
    FlResult res;
    assert_true(apply_req(t, req(9, 4, FL_OP_GET, 2, 0, 0), &res));
    expect_text(&res, "11,12,");
    assert_false(apply_req(t, req(3, 1, FL_OP_PUT, 2, 11, 0), &res));
    assert_true(apply_req(t, req(3, 2, FL_OP_APPEND, 2, 12, 0), &res));
    expect_get(t, 2, "11,12,");
    assert_true(apply_req(t, req(5, 1, FL_OP_CAS, 4, 1, 2), &res));
    assert_int_equal(res.status, FL_RESULT_FAIL);
    assert_true(apply_req(t, req(6, 1, FL_OP_GET, 30, 0, 0), &res));
    expect_text(&res, "");
    assert_true(apply_req(t, req(8, 1, FL_OP_READ, 0, 0, 0), &res));
    assert_true(res.has_value);
    assert_int_equal(res.value, 6);

    /* Decoding into a store that has content replaces it. */
    FlStore *u = sample_store();
    apply(u, FL_OP_WRITE, 77, 1, 0);
    FlStore *empty = fl_store_new();
    FlWriter we;
    fl_writer_init(&we, NULL, 0);
    fl_store_encode(empty, &we);
    fl_reader_init(&r, we.data, we.len);
    assert_true(fl_store_decode(u, &r));
    assert_true(fl_store_hash(u) == fl_store_hash(empty));
    expect_read(u, 77, false, 0);

    /* Trailing bytes: decode itself succeeds, the caller's done check fails. */
    fl_put_u8(&w, 0);
    fl_reader_init(&r, w.data, w.len);
    assert_true(fl_store_decode(t, &r));
    assert_false(fl_reader_done(&r));

    fl_writer_deinit(&we);
    fl_writer_deinit(&w2);
    fl_writer_deinit(&w);
    fl_store_free(empty);
    fl_store_free(u);
    fl_store_free(t);
    fl_store_free(s);
}

/* Every proper prefix of a snapshot is refused, and leaves the store empty. */
static void test_decode_truncations(void **state)
{
    FlStore *s = sample_store();
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_store_encode(s, &w);
    FlStore *empty = fl_store_new();
    uint64_t empty_hash = fl_store_hash(empty);
    for (size_t n = 0; n < w.len; n++) {
        uint8_t *copy = n ? g_memdup2(w.data, n) : NULL;   /* exact size, for ASan */
        FlStore *t = sample_store();
        FlReader r;
        fl_reader_init(&r, copy, n);
        if (fl_store_decode(t, &r))
            fail_msg("a %zu-byte prefix of a %zu-byte snapshot was accepted", n, w.len);
        assert_false(fl_reader_ok(&r));
        assert_true(fl_store_hash(t) == empty_hash);
        expect_read(t, 0, false, 0);
        /* and it still works afterwards */
        FlResult res;
        assert_true(apply_req(t, req(3, 1, FL_OP_PUT, 2, 1, 0), &res));
        assert_int_equal(res.status, FL_RESULT_OK);
        fl_store_free(t);
        g_free(copy);
    }
    fl_store_free(empty);
    fl_store_free(s);
    fl_writer_deinit(&w);
}

/* Random bytes, and valid snapshots with bytes flipped: never a crash, an
 * out-of-bounds read or a leak (ASan), whatever the verdict. */
static void test_decode_garbage(void **state)
{
    FlRng rng;
    fl_rng_init(&rng, 5, "store-garbage");
    FlStore *s = sample_store();
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_store_encode(s, &w);
    FlStore *t = fl_store_new();
    uint64_t empty_hash = fl_store_hash(t);
    int refused = 0;
    for (int i = 0; i < 5000; i++) {
        size_t n = i % 2 ? w.len : fl_rng_below(&rng, 64);
        uint8_t *buf = g_malloc(n ? n : 1);
        if (i % 2) {
            memcpy(buf, w.data, n);
            for (int k = 0; k < 3; k++)
                buf[fl_rng_below(&rng, n)] ^= (uint8_t)(1 + fl_rng_below(&rng, 255));
        } else {
            for (size_t k = 0; k < n; k++)
                buf[k] = (uint8_t)fl_rng_next(&rng);
        }
        FlReader r;
        fl_reader_init(&r, buf, n);
        if (!fl_store_decode(t, &r)) {
            refused++;
            assert_true(fl_store_hash(t) == empty_hash);   /* refused: left empty */
        }
        g_free(buf);
    }
    assert_true(refused > 0);
    fl_store_free(t);
    fl_store_free(s);
    fl_writer_deinit(&w);
}

static void test_op_codec(void **state)
{
    FlRequest in = req(4097, 0x123456789ULL, FL_OP_CAS, FL_MAX_KEYS - 1, INT64_MIN, INT64_MAX);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_request_encode(&w, &in);
    FlReader r;
    fl_reader_init(&r, w.data, w.len);
    FlRequest out;
    assert_true(fl_request_decode(&r, &out));
    assert_true(fl_reader_done(&r));
    assert_int_equal(out.client, in.client);
    assert_true(out.id == in.id);
    assert_int_equal(out.op.kind, in.op.kind);
    assert_int_equal(out.op.key, in.op.key);
    assert_true(out.op.a == in.op.a);
    assert_true(out.op.b == in.op.b);
    for (size_t n = 0; n < w.len; n++) {
        uint8_t *copy = n ? g_memdup2(w.data, n) : NULL;
        fl_reader_init(&r, copy, n);
        assert_false(fl_request_decode(&r, &out));
        g_free(copy);
    }
    fl_writer_deinit(&w);

    /* Kinds outside the enum, keys past the bound and unknown flags are
     * refused. */
    static const uint8_t bad_kinds[] = { 0, FL_OP_MAX, 255 };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_kinds); i++) {
        FlOp o = op(bad_kinds[i], 0, 0, 0);
        fl_writer_init(&w, NULL, 0);
        fl_op_encode(&w, &o);
        fl_reader_init(&r, w.data, w.len);
        FlOp got;
        assert_false(fl_op_decode(&r, &got));
        fl_writer_deinit(&w);
    }
    FlOp o = op(FL_OP_WRITE, FL_MAX_KEYS, 1, 0);
    fl_writer_init(&w, NULL, 0);
    fl_op_encode(&w, &o);
    fl_reader_init(&r, w.data, w.len);
    FlOp got;
    assert_false(fl_op_decode(&r, &got));
    fl_writer_deinit(&w);
    o = op(FL_OP_READ, 1, 0, 0);
    o.flags = 0x80;
    fl_writer_init(&w, NULL, 0);
    fl_op_encode(&w, &o);
    fl_reader_init(&r, w.data, w.len);
    assert_false(fl_op_decode(&r, &got));
    fl_writer_deinit(&w);
    o.flags = FL_OP_F_LOCAL;
    fl_writer_init(&w, NULL, 0);
    fl_op_encode(&w, &o);
    fl_reader_init(&r, w.data, w.len);
    assert_true(fl_op_decode(&r, &got));
    assert_int_equal(got.flags, FL_OP_F_LOCAL);
    fl_writer_deinit(&w);
    for (uint8_t k = FL_OP_READ; k <= FL_OP_NOOP; k++) {
        o = op(k, 3, 1, 2);
        fl_writer_init(&w, NULL, 0);
        fl_op_encode(&w, &o);
        fl_reader_init(&r, w.data, w.len);
        assert_true(fl_op_decode(&r, &got));
        assert_int_equal(got.kind, k);
        fl_writer_deinit(&w);
    }
}

static void test_hash(void **state)
{
    /* The hash is of the content: reading a key, even far away, is not a
     * change, so replicas that served different reads still compare equal. */
    FlStore *x = fl_store_new(), *y = fl_store_new();
    apply(x, FL_OP_WRITE, 0, 1, 0);
    apply(y, FL_OP_WRITE, 0, 1, 0);
    apply(y, FL_OP_READ, 500, 0, 0);
    apply(y, FL_OP_GET, 700, 0, 0);
    assert_true(fl_store_hash(x) == fl_store_hash(y));
    fl_store_free(x);
    fl_store_free(y);

    FlStore *a = fl_store_new(), *b = fl_store_new();
    assert_true(fl_store_hash(a) == fl_store_hash(b));
    apply(a, FL_OP_WRITE, 0, 1, 0);
    assert_true(fl_store_hash(a) != fl_store_hash(b));
    apply(b, FL_OP_WRITE, 1, 1, 0);
    assert_true(fl_store_hash(a) != fl_store_hash(b));
    apply(b, FL_OP_WRITE, 0, 1, 0);
    apply(a, FL_OP_WRITE, 1, 1, 0);
    assert_true(fl_store_hash(a) == fl_store_hash(b));
    apply(a, FL_OP_APPEND, 2, 1, 0);
    apply(b, FL_OP_APPEND, 2, 2, 0);
    assert_true(fl_store_hash(a) != fl_store_hash(b));
    fl_store_free(a);
    fl_store_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register),
        cmocka_unit_test(test_kv),
        cmocka_unit_test(test_token_and_names),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_decode_truncations),
        cmocka_unit_test(test_decode_garbage),
        cmocka_unit_test(test_op_codec),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
