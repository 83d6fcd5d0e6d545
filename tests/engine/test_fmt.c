/* tests/engine/test_fmt.c: sim/fmt.h gives printf's digits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/fmt.h"
#include "sim/store.h"
#include "sim/workload.h"

#include <inttypes.h>
#include <stdio.h>

static void same_as_printf(int64_t x)
{
    char want[32], got[FL_FMT_INT_MAX + 1];
    snprintf(want, sizeof want, "%" PRId64, x);
    size_t n = fl_fmt_i64(got, x);
    got[n] = '\0';
    assert_string_equal(got, want);
    snprintf(want, sizeof want, "%" PRIu64, (uint64_t)x);
    n = fl_fmt_u64(got, (uint64_t)x);
    got[n] = '\0';
    assert_string_equal(got, want);
    GString *s = g_string_new("x");
    fl_fmt_append_i64(s, x);
    snprintf(want, sizeof want, "x%" PRId64, x);
    assert_string_equal(s->str, want);
    g_string_free(s, TRUE);
    char tok[24];
    n = fl_kv_token(x, tok);
    snprintf(want, sizeof want, "%" PRId64 ",", x);
    assert_int_equal(n, strlen(want));
    assert_string_equal(tok, want);
}

static void test_edges(void **state)
{
    (void)state;
    /* Around every power of ten, and the ends of both ranges. */
    uint64_t p = 1;
    for (int i = 0; i < 20; i++) {
        for (int64_t d = -2; d <= 2; d++) {
            same_as_printf((int64_t)(p + (uint64_t)d));
            same_as_printf(-(int64_t)(p + (uint64_t)d));
        }
        p *= 10;
    }
    same_as_printf(0);
    same_as_printf(INT64_MAX);
    same_as_printf(INT64_MIN);
    same_as_printf(INT64_MIN + 1);
    same_as_printf(-1);   /* UINT64_MAX unsigned */
}

static void test_random(void **state)
{
    (void)state;
    GRand *r = g_rand_new_with_seed(7);
    for (int i = 0; i < 100000; i++) {
        uint64_t x = ((uint64_t)g_rand_int(r) << 32) | g_rand_int(r);
        same_as_printf((int64_t)(x >> g_rand_int_range(r, 0, 64)));
        same_as_printf((int64_t)x);
    }
    g_rand_free(r);
}

/* fl_json_text escapes as it did with printf: \" \\\\ and \\u00xx for
 * control and non-ASCII bytes, everything else as is. */
static void test_json_text(void **state)
{
    (void)state;
    char all[300];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    memcpy(all + 256, "plain,text,\"end\"", 17);
    for (size_t len = 0; len <= 273; len += len < 20 ? 1 : 13) {
        for (size_t from = 0; from + len <= 273; from += 37) {
            GString *want = g_string_new("\"");
            for (size_t i = from; i < from + len; i++) {
                unsigned char c = (unsigned char)all[i];
                if (c == '"' || c == '\\') g_string_append_printf(want, "\\%c", c);
                else if (c < 0x20 || c >= 0x7f) g_string_append_printf(want, "\\u%04x", c);
                else g_string_append_c(want, (char)c);
            }
            g_string_append_c(want, '"');
            GString *got = g_string_new(NULL);
            fl_json_text(got, all + from, len);
            assert_int_equal(got->len, want->len);
            assert_memory_equal(got->str, want->str, want->len);
            g_string_free(got, TRUE);
            g_string_free(want, TRUE);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_json_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
