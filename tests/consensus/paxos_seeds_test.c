/* Multi-Paxos under faults: valid over 200 seeds; the bug is caught. */
#include "tests/consensus/seeds.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define DIR "scenarios/04-consensus/"

static void test_leader_isolated_200_seeds(void **st)
{
    seeds_all_valid(DIR "paxos-leader-isolated.json", 1, 200);
}

static void test_leader_crash_50_seeds(void **st)
{
    seeds_all_valid(DIR "paxos-leader-crash.json", 1, 50);
}

static void test_ignore_accepted_is_caught(void **st)
{
    seeds_expect(DIR "bugs/paxos-ignore-accepted.json");
}

/* The repro (shared/repro/paxos-disk-crash.json, the same run as
 * this scenario): before the damaged-disk recovery of paxos.c note 9, 8 of
 * seeds 1..200 were invalid, the first 110. */
static void test_disk_crash_repro_seed_110(void **st)
{
    seeds_all_valid(DIR "paxos-disk-crash.json", 110, 110);
}

static void test_disk_crash_200_seeds(void **st)
{
    seeds_all_valid(DIR "paxos-disk-crash.json", 1, 200);
}

/* The old behaviour (note 10) loses an acknowledged write. */
static void test_trust_disk_is_caught(void **st)
{
    seeds_expect(DIR "bugs/paxos-trust-disk.json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_isolated_200_seeds),
        cmocka_unit_test(test_leader_crash_50_seeds),
        cmocka_unit_test(test_ignore_accepted_is_caught),
        cmocka_unit_test(test_disk_crash_repro_seed_110),
        cmocka_unit_test(test_disk_crash_200_seeds),
        cmocka_unit_test(test_trust_disk_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
