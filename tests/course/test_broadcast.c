/* The broadcast protocol and its checker (sim/check/broadcast.c).
 *
 * Hand-made logs, each breaking one property and no other (where the
 * definitions allow it), the crashed-node rule, bad lines; then the table
 * of 11-broadcast: each variant, on a few seeds, gives the verdicts its
 * scenario states. */
#include "tests/storage/helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define ALL "validity,agreement,integrity,fifo-order,causal-order,total-order"

/* Checks @logs against every property; returns the "verdicts" as a
 * string "validity=valid,agreement=invalid,...". */
static char *verdicts(const char *const *logs, int n)
{
    g_autofree char *h = sx_logs_history(logs, n);
    json_t *j = NULL;
    sx_check(h, "events", ALL, &j, NULL);
    json_t *v = json_object_get(j, "verdicts");
    GString *s = g_string_new(NULL);
    const char *names[] = { "validity", "agreement", "integrity", "fifo-order", "causal-order", "total-order" };
    for (int k = 0; k < 6; k++)
        g_string_append_printf(s, "%s%c", json_string_value(json_object_get(v, names[k])) [0] == 'v' ? "ok" : "NO",
                               k < 5 ? ',' : '\0');
    json_decref(j);
    return g_string_free(s, FALSE);
}

#define H(i) "broadcast node=" #i " nodes=3 variant=x\n"

static void test_properties(void **state)
{
    /* Everyone delivers 0:0 then 0:1: all six hold. */
    const char *const good[] = { H(0) "b 0\nd 0 0\nb 1\nd 0 1\n", H(1) "d 0 0\nd 0 1\n", H(2) "d 0 0\nd 0 1\n" };
    g_autofree char *v1 = verdicts(good, 3);
    assert_string_equal(v1, "ok,ok,ok,ok,ok,ok");
    /* Node 2 misses 0:1: agreement breaks. */
    const char *const miss[] = { good[0], good[1], H(2) "d 0 0\n" };
    g_autofree char *v2 = verdicts(miss, 3);
    assert_string_equal(v2, "ok,NO,ok,ok,ok,ok");
    /* The origin never delivers its own 0:1, nobody does: validity. */
    const char *const lost[] = { H(0) "b 0\nd 0 0\nb 1\n", H(1) "d 0 0\n", H(2) "d 0 0\n" };
    g_autofree char *v3 = verdicts(lost, 3);
    assert_string_equal(v3, "NO,ok,ok,ok,ok,ok");
    /* Node 1 delivers 0:0 twice: integrity. */
    const char *const twice[] = { good[0], H(1) "d 0 0\nd 0 0\nd 0 1\n", good[2] };
    g_autofree char *v4 = verdicts(twice, 3);
    assert_string_equal(v4, "ok,ok,NO,ok,ok,ok");
    /* Node 2 delivers 0:1 before 0:0: FIFO, causal (0:0 is in 0:1's past)
     * and total order break. */
    const char *const swap[] = { good[0], good[1], H(2) "d 0 1\nd 0 0\n" };
    g_autofree char *v5 = verdicts(swap, 3);
    assert_string_equal(v5, "ok,ok,ok,NO,NO,NO");
    /* Node 1 delivers 0:0 then broadcasts 1:0; node 2 delivers 1:0 first:
     * causal order breaks, FIFO holds (different origins). */
    const char *const cause[] = { H(0) "b 0\nd 0 0\nd 1 0\n", H(1) "d 0 0\nb 0\nd 1 0\n", H(2) "d 1 0\nd 0 0\n" };
    g_autofree char *v6 = verdicts(cause, 3);
    assert_string_equal(v6, "ok,ok,ok,ok,NO,NO");
    /* Two concurrent messages in different orders: only total order. */
    const char *const conc[] = { H(0) "b 0\nd 0 0\nd 1 0\n", H(1) "b 0\nd 1 0\nd 0 0\n", H(2) "d 0 0\nd 1 0\n" };
    g_autofree char *v7 = verdicts(conc, 3);
    assert_string_equal(v7, "ok,ok,ok,ok,ok,NO");
    /* A crashed node ("up") is not held to agreement or the orders. */
    const char *const crashed[] = { good[0], good[1], H(2) "up\nd 0 1\n" };
    g_autofree char *v8 = verdicts(crashed, 3);
    assert_string_equal(v8, "ok,ok,ok,ok,ok,ok");
}

static void test_errors(void **state)
{
    const char *const bad[] = { H(0) "b 0\nb 0\n", H(1), H(2) };
    g_autofree char *h = sx_logs_history(bad, 3);
    g_autofree char *e = sx_check_error(h, "events", ALL);
    assert_non_null(strstr(e, "line 3"));
    g_autofree char *e2 = sx_check_error(h, "events", "validity,linearizable");
    assert_non_null(strstr(e2, "fifo-order"));
}

static void test_variants(void **state)
{
    static const char *const variants[] = { "best-effort", "reliable", "fifo", "causal", "total" };
    for (size_t i = 0; i < G_N_ELEMENTS(variants); i++) {
        g_autofree char *file = g_strdup_printf("scenarios/11-broadcast/broadcast-%s.json", variants[i]);
        for (int64_t seed = 1; seed <= 3; seed++) {
            FlRunResult res;
            sx_run_file(file, seed, &res);
            if (!res.met)
                fail_msg("%s seed %d: %s", file, (int)seed, (char *)g_ptr_array_index(res.unmet, 0));
            assert_true(sx_check_int(&res, "messages") > 300);
            assert_int_equal(sx_check_int(&res, "correct_nodes"), 4);
            fl_run_result_clear(&res);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
