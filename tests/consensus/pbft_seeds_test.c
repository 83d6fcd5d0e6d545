/* PBFT under faults: valid over many seeds; the bug is caught. */
#include "tests/consensus/seeds.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define DIR "scenarios/04-consensus/"

static void test_partition_halves_200_seeds(void **st)
{
    seeds_all_valid(DIR "pbft-partition-halves.json", 1, 200);
}

static void test_primary_crash_30_seeds(void **st)
{
    seeds_all_valid(DIR "pbft-primary-crash.json", 1, 30);
}

static void test_one_liar_200_seeds(void **st)
{
    seeds_all_valid(DIR "pbft-byzantine-lie.json", 1, 200);
}

static void test_two_liars_break_it(void **st)
{
    seeds_expect(DIR "bugs/pbft-byzantine-f-plus-1.json");
}

/* Crashes with torn and corrupted records: seeds 46 and 86 were invalid
 * before records had sums (note 9 of pbft.c). */
static void test_disk_crash_seeds(void **st)
{
    seeds_all_valid(DIR "pbft-disk-crash.json", 46, 46);
    seeds_all_valid(DIR "pbft-disk-crash.json", 86, 86);
    seeds_all_valid(DIR "pbft-disk-crash.json", 1, 20);
}

static void test_trust_disk_is_caught(void **st)
{
    seeds_expect(DIR "bugs/pbft-trust-disk.json");
}

static void test_f_equals_n_over_3_is_caught(void **st)
{
    seeds_expect(DIR "bugs/pbft-f-equals-n-over-3.json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_halves_200_seeds),
        cmocka_unit_test(test_primary_crash_30_seeds),
        cmocka_unit_test(test_one_liar_200_seeds),
        cmocka_unit_test(test_two_liars_break_it),
        cmocka_unit_test(test_f_equals_n_over_3_is_caught),
        cmocka_unit_test(test_disk_crash_seeds),
        cmocka_unit_test(test_trust_disk_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
