/* Partitions: every layout checked against a table of which pairs can
 * talk.  Each case starts the partition at time 0 in a 1 ms run, then asks
 * the world's network about every ordered pair (the partition's filter
 * stays installed after the run, as the fault has no end).  Tables read
 * row = sender, column = receiver, '1' = delivered. */
#include "tests/faults/helpers.h"

#include "sim/world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* Runs a world of @n single-protocol nodes with one fault @fault (JSON)
 * and returns who can talk to whom, as n rows of '0'/'1'.  Also checks that
 * clients still reach every server and the reverse. */
static char *talk_seed(uint32_t n, const char *fault, int seed)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":%d,\"duration\":\"1ms\",\"cluster\":{\"protocol\":\"single\",\"nodes\":%u},"
        "\"workload\":{\"model\":\"register\",\"clients\":1,\"rate\":1},"
        "\"faults\":[%s]}", seed, n, fault);
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    FlWorld *w = fl_world_new(sc, NULL, &err);
    assert_non_null(w);
    assert_int_equal(fl_world_run(w, &err), 0);
    FlNet *net = fl_world_net(w);
    GString *s = g_string_new(NULL);
    for (uint32_t a = 0; a < n; a++) {
        for (uint32_t b = 0; b < n; b++) {
            FlTime at;
            const char *why;
            g_string_append_c(s, a == b || fl_net_route(net, a, b, fl_world_now(w), &at, &why) ? '1' : '0');
        }
        /* The client is endpoint n. */
        FlTime at;
        const char *why;
        assert_true(fl_net_route(net, n, a, fl_world_now(w), &at, &why));
        assert_true(fl_net_route(net, a, n, fl_world_now(w), &at, &why));
        if (a + 1 < n)
            g_string_append_c(s, '/');
    }
    fl_world_free(w);
    fl_scenario_free(sc);
    return g_string_free(s, FALSE);
}

static char *talk(uint32_t n, const char *fault)
{
    return talk_seed(n, fault, 1);
}

static void expect_table(uint32_t n, const char *fault, const char *want)
{
    g_autofree char *got = talk(n, fault);
    if (strcmp(got, want) != 0)
        fail_msg("%s on %u nodes:\n  want %s\n  got  %s", fault, n, want, got);
}

static void test_groups_and_isolate(void **state)
{
    expect_table(5, "{\"kind\":\"partition\",\"groups\":[[0,1],[2]]}",
                 "11000/11000/00100/00011/00011");
    expect_table(5, "{\"kind\":\"partition\",\"isolate\":2}",
                 "11011/11011/00100/11011/11011");
    /* One way: the isolated node is not heard, but hears everyone. */
    expect_table(5, "{\"kind\":\"partition\",\"isolate\":2,\"oneway\":true}",
                 "11111/11111/00100/11111/11111");
    /* With groups, lower groups cannot send to higher ones. */
    expect_table(4, "{\"kind\":\"partition\",\"groups\":[[0],[1],[2,3]],\"oneway\":true}",
                 "1000/1100/1111/1111");
}

static void test_halves(void **state)
{
    expect_table(5, "{\"kind\":\"partition\",\"shape\":\"halves\",\"order\":[0,1,2,3,4]}",
                 "11000/11000/00111/00111/00111");
    expect_table(5, "{\"kind\":\"partition\",\"shape\":\"halves\",\"order\":[4,2,0,1,3]}",
                 "11010/11010/00101/11010/00101");
    expect_table(4, "{\"kind\":\"partition\",\"shape\":\"halves\",\"order\":[0,1,2,3],\"oneway\":true}",
                 "1100/1100/1111/1111");
}

static void test_bridge(void **state)
{
    /* [0,1] and [3,4] apart; 2 talks to everyone. */
    expect_table(5, "{\"kind\":\"partition\",\"shape\":\"bridge\",\"order\":[0,1,2,3,4]}",
                 "11100/11100/11111/00111/00111");
    expect_table(3, "{\"kind\":\"partition\",\"shape\":\"bridge\",\"order\":[2,0,1]}",
                 "111/110/101");
    expect_table(5, "{\"kind\":\"partition\",\"shape\":\"bridge\",\"order\":[0,1,2,3,4],\"oneway\":true}",
                 "11100/11100/11111/11111/11111");
}

static void test_majority_ring(void **state)
{
    /* n=5: each hears itself and its two ring neighbours. */
    expect_table(5, "{\"kind\":\"partition\",\"shape\":\"majority-ring\",\"order\":[0,1,2,3,4]}",
                 "11001/11100/01110/00111/10011");
    /* n=4: each hears all but the opposite node. */
    expect_table(4, "{\"kind\":\"partition\",\"shape\":\"majority-ring\",\"order\":[0,1,2,3]}",
                 "1101/1110/0111/1011");
    /* n=6: windows of 4 (two before, one after): asymmetric. */
    expect_table(6, "{\"kind\":\"partition\",\"shape\":\"majority-ring\",\"order\":[0,1,2,3,4,5]}",
                 "111001/111100/011110/001111/100111/110011");
    /* n=3: each hears only its predecessor (and itself). */
    expect_table(3, "{\"kind\":\"partition\",\"shape\":\"majority-ring\",\"order\":[0,1,2]}",
                 "110/011/101");
}

/* Properties of a layout drawn at random: for every n from 3 to 9 and a
 * few seeds, halves are two cliques of floor(n/2) and ceil(n/2) that do not
 * talk; in a majority ring each node hears a majority and no two hear the
 * same set. */
static void test_drawn_layouts(void **state)
{
    for (uint32_t n = 3; n <= 9; n++) {
        for (int seed = 0; seed < 3; seed++) {
            g_autofree char *t = talk_seed(n, "{\"kind\":\"partition\",\"shape\":\"halves\"}", seed);
            g_auto(GStrv) rows = g_strsplit(t, "/", -1);
            uint32_t small = 0;
            for (uint32_t a = 0; a < n; a++) {
                uint32_t heard = 0;
                for (uint32_t b = 0; b < n; b++) {
                    heard += rows[b][a] == '1';
                    assert_int_equal(rows[a][b], rows[b][a]);   /* symmetric */
                    for (uint32_t c = 0; c < n; c++)             /* transitive */
                        if (rows[a][b] == '1' && rows[b][c] == '1')
                            assert_int_equal(rows[a][c], '1');
                }
                assert_true(heard == n / 2 || heard == n - n / 2);
                small += heard == n / 2;
            }
            assert_int_equal(small, n % 2 ? n / 2 : n);

            g_autofree char *r = talk_seed(n, "{\"kind\":\"partition\",\"shape\":\"majority-ring\"}", seed);
            g_auto(GStrv) ring = g_strsplit(r, "/", -1);
            g_autoptr(GHashTable) views = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
            for (uint32_t b = 0; b < n; b++) {
                char *view = g_new0(char, n + 1);
                uint32_t heard = 0;
                for (uint32_t a = 0; a < n; a++) {
                    view[a] = ring[a][b];
                    heard += ring[a][b] == '1';
                }
                assert_int_equal(heard, n / 2 + 1);
                assert_false(g_hash_table_contains(views, view));
                g_hash_table_add(views, view);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_and_isolate),
        cmocka_unit_test(test_halves),
        cmocka_unit_test(test_bridge),
        cmocka_unit_test(test_majority_ring),
        cmocka_unit_test(test_drawn_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
