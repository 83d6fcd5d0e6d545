/* The file system checker (`durable`) on both sides: histories where every
 * byte read was written and every acknowledged write survives, and
 * histories with garbage, phantom, misplaced, resurrected, lost and
 * unreadable data; then the DFS scenarios. */
#include "tests/storage/helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* Records of write @id, k = from .. to-1, as the bytes of a read. */
static void recs(GString *s, unsigned id, unsigned from, unsigned to)
{
    for (unsigned k = from; k < to; k++)
        g_string_append_printf(s, "w=%08x k=%02x\\n", id, k);
}

typedef struct {
    GString *h;
} H;

static void ev(H *x, int process, const char *type, const char *f, int key, const char *value,
               gboolean final)
{
    g_string_append_printf(x->h, "{\"process\":%d,\"type\":\"%s\",\"f\":\"%s\",\"key\":%d,"
                           "\"value\":%s%s}\n", process, type, f, key, value,
                           final ? ",\"final\":true" : "");
}

/* create 0, append 1 (2 records, at 0), write 2 (1 record at 1), append 3
 * (1 record, at 2). */
static void base(H *x)
{
    ev(x, 0, "invoke", "create", 0, "null", FALSE);
    ev(x, 0, "ok", "create", 0, "null", FALSE);
    ev(x, 0, "invoke", "append", 0, "{\"id\":1,\"records\":2}", FALSE);
    ev(x, 0, "ok", "append", 0, "{\"id\":1,\"records\":2,\"offset\":0}", FALSE);
    ev(x, 0, "invoke", "write", 0, "{\"id\":2,\"offset\":1,\"records\":1}", FALSE);
    ev(x, 0, "ok", "write", 0, "{\"id\":2,\"offset\":1,\"records\":1}", FALSE);
    ev(x, 0, "invoke", "append", 0, "{\"id\":3,\"records\":1}", FALSE);
    ev(x, 0, "ok", "append", 0, "{\"id\":3,\"records\":1,\"offset\":2}", FALSE);
}

/* A final read of file 0 by process @p returning @bytes (a JSON string
 * body without quotes, or NULL for null). */
static void final_read(H *x, int p, const char *bytes)
{
    ev(x, p, "invoke", "read", 0, "null", TRUE);
    g_autofree char *v = bytes ? g_strdup_printf("\"%s\"", bytes) : g_strdup("null");
    ev(x, p, "ok", "read", 0, v, TRUE);
}

static FlVerdict check(H *x, json_t **j)
{
    return sx_check(x->h->str, "files", "durable", j, NULL);
}

static int64_t count(json_t *j, const char *kind)
{
    return json_integer_value(json_object_get(j, kind));
}

static void test_good(void **state)
{
    H x = { g_string_new(NULL) };
    base(&x);
    GString *b = g_string_new(NULL);
    recs(b, 1, 0, 1);
    recs(b, 2, 0, 1);
    recs(b, 3, 0, 1);
    final_read(&x, 1, b->str);
    json_t *j = NULL;
    assert_int_equal(check(&x, &j), FL_VERDICT_VALID);
    assert_int_equal(count(j, "final_reads"), 1);
    json_decref(j);
    g_string_free(b, TRUE);
    g_string_free(x.h, TRUE);
}

/* A concurrent write may win over an acknowledged one (note 4), and an
 * info append may show up anywhere. */
static void test_concurrent_and_unknown(void **state)
{
    H x = { g_string_new(NULL) };
    ev(&x, 0, "invoke", "create", 0, "null", FALSE);
    ev(&x, 0, "ok", "create", 0, "null", FALSE);
    ev(&x, 0, "invoke", "append", 0, "{\"id\":1,\"records\":2}", FALSE);
    ev(&x, 1, "invoke", "write", 0, "{\"id\":2,\"offset\":0,\"records\":1}", FALSE);
    ev(&x, 0, "ok", "append", 0, "{\"id\":1,\"records\":2,\"offset\":0}", FALSE);
    ev(&x, 1, "ok", "write", 0, "{\"id\":2,\"offset\":0,\"records\":1}", FALSE);
    ev(&x, 2, "invoke", "append", 0, "{\"id\":3,\"records\":1}", FALSE);
    ev(&x, 2, "info", "append", 0, "{\"id\":3,\"records\":1}", FALSE);
    GString *b = g_string_new(NULL);
    recs(b, 2, 0, 1);
    recs(b, 1, 1, 2);
    recs(b, 3, 0, 1);
    final_read(&x, 3, b->str);
    assert_int_equal(check(&x, NULL), FL_VERDICT_VALID);
    g_string_free(b, TRUE);
    g_string_free(x.h, TRUE);
}

static void expect_invalid(void (*build)(H *x), const char *kind)
{
    H x = { g_string_new(NULL) };
    build(&x);
    json_t *j = NULL;
    char *report = NULL;
    assert_int_equal(sx_check(x.h->str, "files", "durable", &j, &report), FL_VERDICT_INVALID);
    if (count(j, kind) < 1)
        fail_msg("expected a %s violation; report:\n%s", kind, report);
    assert_non_null(strstr(report, kind));
    json_decref(j);
    g_free(report);
    g_string_free(x.h, TRUE);
}

static void flipped(H *x)
{
    base(x);
    final_read(x, 1, "w=00000001 k=00\\nw=0000\\u00c202 k=00\\nw=00000003 k=00\\n");
}

static void torn(H *x)
{
    base(x);
    final_read(x, 1, "w=00000001 k=00\\nw=00000002 k=00\\nw=00000003 k=");
}

static void phantom(H *x)
{
    base(x);
    /* Record of write 9, which nobody issued. */
    final_read(x, 1, "w=00000001 k=00\\nw=00000002 k=00\\nw=00000003 k=00\\nw=00000009 k=00\\n");
}

static void failed_write_seen(H *x)
{
    base(x);
    ev(x, 2, "invoke", "write", 0, "{\"id\":4,\"offset\":0,\"records\":1}", FALSE);
    ev(x, 2, "fail", "write", 0, "{\"id\":4,\"offset\":0,\"records\":1}", FALSE);
    final_read(x, 1, "w=00000004 k=00\\nw=00000002 k=00\\nw=00000003 k=00\\n");
}

static void misplaced(H *x)
{
    base(x);
    final_read(x, 1, "w=00000002 k=00\\nw=00000001 k=00\\nw=00000003 k=00\\n");
}

static void lost(H *x)
{
    base(x);
    /* Append 3 was acknowledged at offset 2, but the file has 2 records. */
    final_read(x, 1, "w=00000001 k=00\\nw=00000002 k=00\\n");
}

static void lost_to_older(H *x)
{
    base(x);
    /* Place 1 holds append 1's record, which write 2 overwrote later. */
    final_read(x, 1, "w=00000001 k=00\\nw=00000001 k=01\\nw=00000003 k=00\\n");
}

static void gone(H *x)
{
    base(x);
    final_read(x, 1, NULL);
}

static void resurrected(H *x)
{
    base(x);
    ev(x, 2, "invoke", "delete", 0, "null", FALSE);
    ev(x, 2, "ok", "delete", 0, "null", FALSE);
    ev(x, 2, "invoke", "create", 0, "null", FALSE);
    ev(x, 2, "ok", "create", 0, "null", FALSE);
    final_read(x, 1, "w=00000001 k=00\\n");
}

static void unreadable(H *x)
{
    base(x);
    ev(x, 1, "invoke", "read", 0, "null", TRUE);
    ev(x, 1, "fail", "read", 0, "null", TRUE);
}

static void test_invalid(void **state)
{
    expect_invalid(flipped, "garbage");
    expect_invalid(torn, "garbage");
    expect_invalid(phantom, "phantom");
    expect_invalid(failed_write_seen, "phantom");
    expect_invalid(misplaced, "misplaced");
    expect_invalid(lost, "lost");
    expect_invalid(lost_to_older, "lost");
    expect_invalid(gone, "lost");
    expect_invalid(resurrected, "resurrected");
    expect_invalid(unreadable, "unreadable");
}

/* A delete that may fall between a write and the final read excuses the
 * write; one that surely came before it does not. */
static void test_deletes(void **state)
{
    H x = { g_string_new(NULL) };
    base(&x);
    ev(&x, 2, "invoke", "delete", 0, "null", FALSE);
    ev(&x, 2, "info", "delete", 0, "null", FALSE);
    final_read(&x, 1, NULL);
    assert_int_equal(check(&x, NULL), FL_VERDICT_VALID);
    g_string_free(x.h, TRUE);

    /* Final reads that timed out (a node that is down) say nothing. */
    H y = { g_string_new(NULL) };
    base(&y);
    ev(&y, 1, "invoke", "read", 0, "null", TRUE);
    ev(&y, 1, "info", "read", 0, "null", TRUE);
    json_t *j = NULL;
    assert_int_equal(check(&y, &j), FL_VERDICT_VALID);
    assert_int_equal(count(j, "final_reads"), 0);
    json_decref(j);
    g_string_free(y.h, TRUE);
}

static void test_stale_reads_are_counted(void **state)
{
    H x = { g_string_new(NULL) };
    base(&x);
    ev(&x, 1, "invoke", "read", 0, "null", FALSE);
    ev(&x, 1, "ok", "read", 0, "\"w=00000001 k=00\\n\"", FALSE);
    json_t *j = NULL;
    assert_int_equal(check(&x, &j), FL_VERDICT_VALID);
    assert_true(count(j, "stale_reads") >= 1);
    json_decref(j);
    g_string_free(x.h, TRUE);
}

/* Note 6 of files.c: creates and deletes against the namespace. */
static void test_namespace(void **state)
{
    H a = { g_string_new(NULL) };
    ev(&a, 0, "invoke", "create", 0, "null", FALSE);
    ev(&a, 0, "ok", "create", 0, "null", FALSE);
    ev(&a, 1, "invoke", "create", 0, "null", FALSE);
    ev(&a, 1, "ok", "create", 0, "null", FALSE);   /* it existed */
    json_t *j = NULL;
    assert_int_equal(check(&a, &j), FL_VERDICT_INVALID);
    assert_int_equal(count(j, "namespace"), 1);
    json_decref(j);
    g_string_free(a.h, TRUE);

    H b = { g_string_new(NULL) };
    ev(&b, 0, "invoke", "create", 0, "null", FALSE);
    ev(&b, 0, "ok", "create", 0, "null", FALSE);
    ev(&b, 1, "invoke", "delete", 0, "null", FALSE);
    ev(&b, 1, "fail", "delete", 0, "null", FALSE);   /* it existed */
    ev(&b, 2, "invoke", "delete", 0, "null", FALSE);
    ev(&b, 2, "ok", "delete", 0, "null", FALSE);
    ev(&b, 3, "invoke", "delete", 0, "null", FALSE);
    ev(&b, 3, "ok", "delete", 0, "null", FALSE);     /* it was gone */
    assert_int_equal(check(&b, &j), FL_VERDICT_INVALID);
    assert_int_equal(count(j, "namespace"), 2);
    json_decref(j);
    g_string_free(b.h, TRUE);

    /* A delete that may have happened explains a second create; a create
     * still open explains a failed one. */
    H c = { g_string_new(NULL) };
    ev(&c, 0, "invoke", "create", 0, "null", FALSE);
    ev(&c, 0, "ok", "create", 0, "null", FALSE);
    ev(&c, 1, "invoke", "delete", 0, "null", FALSE);
    ev(&c, 1, "info", "delete", 0, "null", FALSE);
    ev(&c, 2, "invoke", "create", 0, "null", FALSE);
    ev(&c, 2, "ok", "create", 0, "null", FALSE);
    ev(&c, 3, "invoke", "create", 1, "null", FALSE);
    ev(&c, 4, "invoke", "create", 1, "null", FALSE);
    ev(&c, 4, "fail", "create", 1, "null", FALSE);
    assert_int_equal(check(&c, NULL), FL_VERDICT_VALID);
    g_string_free(c.h, TRUE);
}

static void test_errors(void **state)
{
    g_autofree char *e1 = sx_check_error(
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":0,\"value\":{\"id\":1}}\n",
        "files", "durable");
    assert_non_null(strstr(e1, "records"));
    g_autofree char *e2 = sx_check_error(
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"append\",\"key\":0,\"value\":{\"id\":1,\"records\":1}}\n"
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"append\",\"key\":0,\"value\":{\"id\":1,\"records\":1}}\n",
        "files", "durable");
    assert_non_null(strstr(e2, "used already"));
    g_autofree char *e3 = sx_check_error("", "files", "exact");
    assert_non_null(strstr(e3, "durable"));
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; const char *counter; } runs[] = {
        { "scenarios/06-storage/dfs.json", NULL },
        { "scenarios/06-storage/dfs-chunkserver-crash.json", "dfs_rereplicated" },
        { "scenarios/06-storage/dfs-corrupt-chunk.json", "dfs_corrupt_found" },
        { "scenarios/06-storage/dfs-master-crash.json", NULL },
        { "scenarios/06-storage/dfs-master-disk-corrupt.json", NULL },
        { "scenarios/06-storage/dfs-nemesis.json", NULL },
        { "scenarios/06-storage/dfs-master-bounce.json", NULL },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        FlRunResult res;
        sx_run_file(runs[i].file, -1, &res);
        if (!res.met)
            fail_msg("%s: %s", runs[i].file, (char *)g_ptr_array_index(res.unmet, 0));
        assert_int_equal(res.verdict, FL_VERDICT_VALID);
        assert_true(sx_check_int(&res, "final_reads") > 0);
        if (runs[i].counter)
            assert_true(sx_counter(&res, runs[i].counter) >= 1);
        fl_run_result_clear(&res);
    }
}

/* Without the metadata backup, a master that loses its disk loses the
 * namespace, and the checker sees it. */
static void test_no_backup(void **state)
{
    FlRunResult res;
    sx_run_file("scenarios/06-storage/dfs-no-backup.json", -1, &res);
    assert_true(res.met);
    assert_int_equal(res.verdict, FL_VERDICT_INVALID);
    assert_true(sx_check_int(&res, "namespace") > 0);
    fl_run_result_clear(&res);
}

/* Any schedule of the nemesis: never invalid. */
static void test_nemesis_seeds(void **state)
{
    for (int64_t seed = 1; seed <= 40; seed++) {
        FlRunResult res;
        sx_run_file("scenarios/06-storage/dfs-nemesis.json", seed, &res);
        if (res.verdict != FL_VERDICT_VALID)
            fail_msg("seed %" G_GINT64_FORMAT ": %s", seed,
                     res.check_report ? res.check_report->str : "");
        fl_run_result_clear(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_concurrent_and_unknown),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_deletes),
        cmocka_unit_test(test_stale_reads_are_counted),
        cmocka_unit_test(test_namespace),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_no_backup),
        cmocka_unit_test(test_nemesis_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
