/* Fast Paxos under faults and conflicts: valid over many seeds. */
#include "tests/consensus/seeds.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define DIR "scenarios/04-consensus/"

static void test_leader_isolated_200_seeds(void **st)
{
    seeds_all_valid(DIR "fastpaxos-leader-isolated.json", 1, 200);
}

static void test_omission_50_seeds(void **st)
{
    seeds_all_valid(DIR "fastpaxos-omission.json", 1, 50);
}

/* The repro (shared/repro/fastpaxos-disk-crash.json, the same run
 * as this scenario): before the damaged-disk recovery of fastpaxos.c note
 * 9, 3 of seeds 1..200 were invalid, the first 88. */
static void test_disk_crash_repro_seed_88(void **st)
{
    seeds_all_valid(DIR "fastpaxos-disk-crash.json", 88, 88);
}

static void test_disk_crash_200_seeds(void **st)
{
    seeds_all_valid(DIR "fastpaxos-disk-crash.json", 1, 200);
}

/* The old behaviour (note 10) loses an acknowledged write. */
static void test_trust_disk_is_caught(void **st)
{
    seeds_expect(DIR "bugs/fastpaxos-trust-disk.json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_isolated_200_seeds),
        cmocka_unit_test(test_omission_50_seeds),
        cmocka_unit_test(test_disk_crash_repro_seed_88),
        cmocka_unit_test(test_disk_crash_200_seeds),
        cmocka_unit_test(test_trust_disk_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
