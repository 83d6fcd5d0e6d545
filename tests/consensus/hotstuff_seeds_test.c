/* HotStuff under faults: valid over a few seeds; the lock bug is caught
 * and its fixed twin holds. */
#include "tests/consensus/seeds.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define DIR "scenarios/04-consensus/"

static void test_leader_crash_10_seeds(void **st)
{
    seeds_all_valid(DIR "hotstuff-leader-crash.json", 1, 10);
}

static void test_equivocating_leader_10_seeds(void **st)
{
    seeds_all_valid(DIR "hotstuff-byzantine-equivocate.json", 1, 10);
}

static void test_no_lock_check_breaks_it(void **st)
{
    seeds_expect(DIR "bugs/hotstuff-no-lock-check.json");
}

static void test_lock_check_holds_10_seeds(void **st)
{
    seeds_all_valid(DIR "bugs/hotstuff-no-lock-check-fixed.json", 1, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_crash_10_seeds),
        cmocka_unit_test(test_equivocating_leader_10_seeds),
        cmocka_unit_test(test_no_lock_check_breaks_it),
        cmocka_unit_test(test_lock_check_holds_10_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
