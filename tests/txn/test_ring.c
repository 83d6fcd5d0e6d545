/* The placement functions of protocols/shard/ring.c on their own: keys move
 * only between neighbours on a consistent-hashing ring, virtual nodes even
 * the load, modulo hashing moves most keys, ranges cut the key space. */
#include "protocols/shard/ring.h"

#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define SAMPLE 20000

static void owners(const ShardRing *r, uint32_t *out)
{
    for (uint32_t k = 0; k < SAMPLE; k++)
        out[k] = shard_ring_owner(r, k);
}

/* Keys move only to the member that joins, or from the one that leaves,
 * and about 1/n of them. */
static void test_ring_moves_only_neighbours(void **st)
{
    g_autofree uint32_t *a = g_new(uint32_t, SAMPLE), *b = g_new(uint32_t, SAMPLE);
    ShardRing *r = shard_ring_new(64);
    for (uint32_t m = 0; m < 5; m++)
        shard_ring_add(r, m);
    assert_int_equal(shard_ring_size(r), 5);
    owners(r, a);
    shard_ring_add(r, 7);
    owners(r, b);
    size_t bystanders;
    double f = shard_moved_fraction(a, b, SAMPLE, 7, &bystanders);
    assert_int_equal(bystanders, 0);
    for (uint32_t k = 0; k < SAMPLE; k++)
        if (a[k] != b[k])
            assert_int_equal(b[k], 7);
    assert_true(f > 0.10 && f < 0.25);   /* 1/6 expected */
    shard_ring_remove(r, 2);
    owners(r, a);
    f = shard_moved_fraction(b, a, SAMPLE, 2, &bystanders);
    assert_int_equal(bystanders, 0);
    for (uint32_t k = 0; k < SAMPLE; k++)
        if (a[k] != b[k])
            assert_int_equal(b[k], 2);
    assert_true(f > 0.10 && f < 0.25);
    /* Adding twice, removing the absent: no-ops. */
    shard_ring_add(r, 7);
    shard_ring_remove(r, 2);
    assert_int_equal(shard_ring_size(r), 5);
    shard_ring_free(r);
}

static void test_vnodes_even_the_load(void **st)
{
    uint32_t members[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    g_autofree uint32_t *own = g_new(uint32_t, SAMPLE);
    double spread[2];
    uint32_t vn[2] = { 1, 256 };
    for (int i = 0; i < 2; i++) {
        ShardRing *r = shard_ring_new(vn[i]);
        for (uint32_t m = 0; m < 8; m++)
            shard_ring_add(r, m);
        owners(r, own);
        spread[i] = shard_load_spread(own, SAMPLE, members, 8);
        shard_ring_free(r);
    }
    assert_true(spread[0] > 1.5);
    assert_true(spread[1] < 1.25);
    assert_true(spread[1] >= 1.0);
}

static void test_modulo_moves_most(void **st)
{
    uint32_t five[5] = { 0, 1, 2, 3, 4 }, six[6] = { 0, 1, 2, 3, 4, 5 };
    g_autofree uint32_t *a = g_new(uint32_t, SAMPLE), *b = g_new(uint32_t, SAMPLE);
    for (uint32_t k = 0; k < SAMPLE; k++) {
        a[k] = shard_modulo_owner(five, 5, k);
        b[k] = shard_modulo_owner(six, 6, k);
    }
    size_t bystanders;
    double f = shard_moved_fraction(a, b, SAMPLE, 5, &bystanders);
    assert_true(f > 0.75 && f < 0.9);   /* 5/6 expected */
    assert_true(bystanders > SAMPLE / 2);
    assert_true(shard_load_spread(b, SAMPLE, six, 6) < 1.1);
}

static void test_ranges(void **st)
{
    assert_int_equal(shard_range_of(0, 64, 4), 0);
    assert_int_equal(shard_range_of(15, 64, 4), 0);
    assert_int_equal(shard_range_of(16, 64, 4), 1);
    assert_int_equal(shard_range_of(63, 64, 4), 3);
    assert_int_equal(shard_range_of(66, 64, 4), 3);   /* past the end: the last */
    assert_int_equal(shard_range_of(9, 10, 3), 2);    /* the last takes the rest */
    assert_int_equal(shard_range_of(5, 4, 16), 5);    /* more ranges than keys */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_moves_only_neighbours),
        cmocka_unit_test(test_vnodes_even_the_load),
        cmocka_unit_test(test_modulo_moves_most),
        cmocka_unit_test(test_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
