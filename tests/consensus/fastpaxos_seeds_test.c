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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_isolated_200_seeds),
        cmocka_unit_test(test_omission_50_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
