/* The table of scenarios/02-consistency: the same workload against every
 * system, with and without a partition.  Every scenario meets its
 * expectations (which models hold), the verdicts respect the hierarchy
 * linearizable < sequential < causal < session guarantees, the claims of
 * issue 7 hold, runs replay to the same trace hash, and the README shows
 * exactly the table the runs give. */
#include "tests/replication/table.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define DIR "scenarios/02-consistency"

static GPtrArray *rows;

static int setup(void **state)
{
    GError *err = NULL;
    rows = table_run_dir(DIR, &err);
    if (!rows)
        fprintf(stderr, "%s\n", err->message);
    return rows ? 0 : -1;
}

static int teardown(void **state)
{
    g_ptr_array_unref(rows);
    return 0;
}

static const TableRow *row(const char *name)
{
    for (guint i = 0; i < rows->len; i++) {
        const TableRow *r = g_ptr_array_index(rows, i);
        if (strcmp(r->name, name) == 0)
            return r;
    }
    fail_msg("no scenario %s in %s", name, DIR);
    return NULL;
}

static bool holds(const char *name, const char *model)
{
    const char *v = table_verdict(row(name), model);
    assert_non_null(v);
    assert_string_not_equal(v, "unknown");
    return strcmp(v, "valid") == 0;
}

static void expectations_met(void **state)
{
    assert_true(rows->len >= 18);
    int bad = 0;
    for (guint i = 0; i < rows->len; i++) {
        const TableRow *r = g_ptr_array_index(rows, i);
        if (!r->met) {
            fprintf(stderr, "%s:\n%s", r->file, r->unmet);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static bool checked(const char *name, const char *model)
{
    return table_verdict(row(name), model) != NULL;
}

/* A stronger model implies the weaker ones, on every history (among the
 * models checked: the CRDT rows check fewer). */
static void hierarchy(void **state)
{
    static const char *const session[] = { "read-your-writes", "monotonic-reads",
                                           "monotonic-writes", "writes-follow-reads" };
    for (guint i = 0; i < rows->len; i++) {
        const TableRow *r = g_ptr_array_index(rows, i);
        if (!checked(r->name, "causal"))
            continue;
        if (holds(r->name, "linearizable"))
            assert_true(holds(r->name, "sequential"));
        if (holds(r->name, "sequential"))
            assert_true(holds(r->name, "causal"));
        if (holds(r->name, "causal-convergence"))
            assert_true(holds(r->name, "causal"));
        for (int k = 0; k < 4; k++)
            if (holds(r->name, "causal"))
                assert_true(holds(r->name, session[k]));
    }
}

/* The claims of the issue, and the other lessons of the table. */
static void claims(void **state)
{
    /* Async primary-backup with a failover is not linearizable; the
     * replicas converge all the same. */
    assert_false(holds("pb-async-partition", "linearizable"));
    assert_true(holds("pb-async-partition", "eventual"));
    /* Causal is causal but not sequential under a partition. */
    assert_true(holds("causal-partition", "causal"));
    assert_true(holds("causal-partition", "causal-convergence"));
    assert_false(holds("causal-partition", "sequential"));
    /* lww converges but is not causal. */
    assert_true(holds("lww-partition", "eventual"));
    assert_false(holds("lww-partition", "causal"));
    /* The linearizable systems stay linearizable across the partition. */
    static const char *const lin[] = { "single", "abd", "chain", "dynamo-strict" };
    for (int i = 0; i < 4; i++) {
        assert_true(holds(lin[i], "linearizable"));
        g_autofree char *p = g_strdup_printf("%s-partition", lin[i]);
        assert_true(holds(p, "linearizable"));
    }
    /* Primary-backup relies on its failure detector: a partition gives two
     * primaries; the sloppy quorum gives up even read-your-writes. */
    assert_false(holds("pb-sync-partition", "linearizable"));
    /* A client that timed out at the heal goes on at the new primary as a
     * new process but the same session, and misses its own writes: the
     * session guarantees are checked per client, not per process. */
    assert_false(holds("pb-sync-partition", "read-your-writes"));
    assert_false(holds("dynamo-sloppy-partition", "read-your-writes"));
    /* Every system here converges once the partition heals. */
    for (guint i = 0; i < rows->len; i++)
        assert_true(holds(((const TableRow *)g_ptr_array_index(rows, i))->name, "eventual"));
}

/* Same scenario, same seed: same run. */
static void deterministic(void **state)
{
    GError *err = NULL;
    GPtrArray *again = table_run_dir(DIR, &err);
    assert_non_null(again);
    assert_int_equal(again->len, rows->len);
    for (guint i = 0; i < rows->len; i++)
        assert_int_equal(((TableRow *)g_ptr_array_index(again, i))->trace_hash,
                         ((TableRow *)g_ptr_array_index(rows, i))->trace_hash);
    g_ptr_array_unref(again);
}

/* README.md shows the table between <!-- table --> and <!-- /table -->. */
static void readme_in_sync(void **state)
{
    g_autofree char *readme = NULL;
    assert_true(g_file_get_contents(DIR "/README.md", &readme, NULL, NULL));
    const char *a = strstr(readme, "<!-- table -->\n"), *b = strstr(readme, "<!-- /table -->");
    assert_non_null(a);
    assert_non_null(b);
    a += strlen("<!-- table -->\n");
    g_autofree char *shown = g_strndup(a, (gsize)(b - a));
    g_autofree char *md = table_markdown(rows);
    if (strcmp(shown, md) != 0)
        fprintf(stderr, "README.md is out of date; regenerate with\n"
                        "  build/tests/replication/consistency-table\nIt should read:\n%s", md);
    assert_string_equal(shown, md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expectations_met),
        cmocka_unit_test(hierarchy),
        cmocka_unit_test(claims),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(readme_in_sync),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
