/* The checkers of the weaker models on small histories written by hand:
 * for each model a history that satisfies it, and at least one that breaks
 * it by each bad pattern or guarantee. */
#include "sim/check/check.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* One event per line: "p type f key value"; value "-" is null; a trailing
 * "final" marks a final read; "@N" gives the node. */
static char *write_history(const char *text)
{
    GString *s = g_string_new(NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    int t = 0;
    for (int i = 0; lines[i]; i++) {
        g_auto(GStrv) w = g_strsplit_set(g_strstrip(lines[i]), " ", -1);
        if (!w[0] || !*w[0])
            continue;
        assert_true(g_strv_length(w) >= 5);
        const char *v = strcmp(w[4], "-") == 0 ? "null" : w[4];
        g_string_append_printf(s, "{\"process\":%s,\"type\":\"%s\",\"f\":\"%s\",\"key\":%s,"
                               "\"value\":%s,\"time\":%d", w[0], w[1], w[2], w[3], v, t += 1000);
        for (int k = 5; w[k]; k++) {
            if (strcmp(w[k], "final") == 0)
                g_string_append(s, ",\"final\":true");
            else if (w[k][0] == '@')
                g_string_append_printf(s, ",\"node\":%s", w[k] + 1);
        }
        g_string_append(s, "}\n");
    }
    char *path = NULL;
    int fd = g_file_open_tmp("replication-XXXXXX.jsonl", &path, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_true(g_file_set_contents(path, s->str, (gssize)s->len, NULL));
    g_string_free(s, TRUE);
    return path;
}

/* Checks @text; returns the verdict and, in *@json, the result. */
static FlVerdict check(const char *model, const char *consistency, const char *text,
                       json_t **json)
{
    g_autofree char *path = write_history(text);
    GError *err = NULL;
    g_autoptr(GString) report = g_string_new(NULL);
    json_t *j = NULL;
    FlVerdict v = fl_check_file(path, model, consistency, "jsonl", 10, report, &j, &err);
    if (v == FL_VERDICT_ERROR)
        fprintf(stderr, "error: %s\n", err->message);
    if (getenv("VERBOSE"))
        fprintf(stderr, "--- %s %s\n%s", model, consistency, report->str);
    g_unlink(path);
    if (json)
        *json = j;
    else if (j)
        json_decref(j);
    return v;
}

/* Whether a causal check's JSON names @pattern. */
static bool has_pattern(json_t *j, const char *pattern)
{
    return json_integer_value(json_object_get(json_object_get(j, "patterns"), pattern)) > 0;
}

static void expect_pattern(const char *consistency, const char *text, const char *pattern)
{
    json_t *j;
    assert_int_equal(check("register", consistency, text, &j), FL_VERDICT_INVALID);
    assert_true(has_pattern(j, pattern));
    json_decref(j);
}

/* ---- Causal consistency: the bad patterns --------------------------------- */

/* Writes seen in order by everyone: every variant holds. */
static const char GOOD[] =
    "0 invoke write 0 1\n 0 ok write 0 1\n"
    "1 invoke read 0 -\n 1 ok read 0 1\n"
    "1 invoke write 1 2\n 1 ok write 1 2\n"
    "2 invoke read 1 -\n 2 ok read 1 2\n"
    "2 invoke read 0 -\n 2 ok read 0 1\n"
    "0 invoke write 0 3\n 0 ok write 0 3\n"
    "2 invoke read 0 -\n 2 ok read 0 3\n";

static void causal_good(void **state)
{
    assert_int_equal(check("register", "causal", GOOD, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("register", "causal-convergence", GOOD, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("register", "causal-memory", GOOD, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("register", "session", GOOD, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("register", "sequential-multikey", GOOD, NULL), FL_VERDICT_VALID);
}

static void causal_thin_air(void **state)
{
    expect_pattern("causal", "0 invoke write 0 1\n 0 ok write 0 1\n 1 invoke read 0 -\n 1 ok read 0 99\n",
                   "ThinAirRead");
}

/* Each process reads the value the other writes after its read. */
static void causal_cyclic_co(void **state)
{
    expect_pattern("causal",
                   "0 invoke read 0 -\n 1 invoke read 1 -\n 0 ok read 0 1\n 1 ok read 1 2\n"
                   "0 invoke write 1 2\n 1 invoke write 0 1\n 0 ok write 1 2\n 1 ok write 0 1\n",
                   "CyclicCO");
}

/* p writes x then y; q sees y, then the initial x. */
static void causal_write_co_init_read(void **state)
{
    expect_pattern("causal",
                   "0 invoke write 0 1\n 0 ok write 0 1\n 0 invoke write 1 2\n 0 ok write 1 2\n"
                   "1 invoke read 1 -\n 1 ok read 1 2\n 1 invoke read 0 -\n 1 ok read 0 -\n",
                   "WriteCOInitRead");
}

/* p writes x=1 then x=2; q sees 2, then 1 again. */
static void causal_write_co_read(void **state)
{
    expect_pattern("causal",
                   "0 invoke write 0 1\n 0 ok write 0 1\n 0 invoke write 0 2\n 0 ok write 0 2\n"
                   "1 invoke read 0 -\n 1 ok read 0 2\n 1 invoke read 0 -\n 1 ok read 0 1\n",
                   "WriteCORead");
}

/* Two readers see two concurrent writes in opposite orders: causal (CC),
 * causal memory, but not convergent (CCv). */
static const char CF[] =
    "0 invoke write 0 1\n 0 ok write 0 1\n 1 invoke write 0 2\n 1 ok write 0 2\n"
    "2 invoke read 0 -\n 2 ok read 0 1\n 2 invoke read 0 -\n 2 ok read 0 2\n"
    "3 invoke read 0 -\n 3 ok read 0 2\n 3 invoke read 0 -\n 3 ok read 0 1\n";

static void causal_cyclic_cf(void **state)
{
    assert_int_equal(check("register", "causal", CF, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("register", "causal-memory", CF, NULL), FL_VERDICT_VALID);
    expect_pattern("causal-convergence", CF, "CyclicCF");
}

/* The paper's example of CC but not CM: q reads z = 0 although, in its
 * view, w(z,1) happens before w(x,1), which happens before q's own w(x,2). */
static const char HB_INIT[] =
    "0 invoke write 2 1\n 0 ok write 2 1\n 0 invoke write 0 1\n 0 ok write 0 1\n"
    "0 invoke write 1 1\n 0 ok write 1 1\n"
    "1 invoke write 0 2\n 1 ok write 0 2\n 1 invoke read 2 -\n 1 ok read 2 -\n"
    "1 invoke read 1 -\n 1 ok read 1 1\n 1 invoke read 0 -\n 1 ok read 0 2\n";

static void causal_write_hb_init_read(void **state)
{
    assert_int_equal(check("register", "causal", HB_INIT, NULL), FL_VERDICT_VALID);
    expect_pattern("causal-memory", HB_INIT, "WriteHBInitRead");
}

/* Each process orders the two writes of x differently, and p sees q's
 * read: in p's view, each write happens before the other. */
static const char HB_CYCLE[] =
    "0 invoke write 0 1\n 0 ok write 0 1\n 1 invoke write 0 2\n 1 ok write 0 2\n"
    "1 invoke read 0 -\n 1 ok read 0 1\n 1 invoke write 1 1\n 1 ok write 1 1\n"
    "0 invoke read 1 -\n 0 ok read 1 1\n 0 invoke read 0 -\n 0 ok read 0 2\n";

static void causal_cyclic_hb(void **state)
{
    assert_int_equal(check("register", "causal", HB_CYCLE, NULL), FL_VERDICT_VALID);
    expect_pattern("causal-memory", HB_CYCLE, "CyclicHB");
}

/* kv: a get reads from the write of its last token, and observed them all. */
static void causal_kv(void **state)
{
    const char *good =
        "0 invoke put 0 \"1,\"\n 0 ok put 0 \"1,\"\n 0 invoke append 0 \"2,\"\n 0 ok append 0 \"2,\"\n"
        "1 invoke get 0 -\n 1 ok get 0 \"1,2,\"\n";
    const char *bad =
        "0 invoke put 0 \"1,\"\n 0 ok put 0 \"1,\"\n 0 invoke put 1 \"2,\"\n 0 ok put 1 \"2,\"\n"
        "1 invoke get 1 -\n 1 ok get 1 \"2,\"\n 1 invoke get 0 -\n 1 ok get 0 \"\"\n";
    assert_int_equal(check("kv", "causal", good, NULL), FL_VERDICT_VALID);
    json_t *j;
    assert_int_equal(check("kv", "causal", bad, &j), FL_VERDICT_INVALID);
    assert_true(has_pattern(j, "WriteCOInitRead"));
    json_decref(j);
}

/* A model the causal checker does not read: no verdict, never an error. */
static void causal_unsupported(void **state)
{
    assert_int_equal(check("queue", "causal", "0 invoke enqueue 0 1\n 0 ok enqueue 0 1\n", NULL),
                     FL_VERDICT_UNKNOWN);
}

/* ---- Session guarantees, one by one ---------------------------------------- */

static bool guarantee(json_t *j, const char *name)
{
    return json_is_true(json_object_get(json_object_get(json_object_get(j, "guarantees"), name),
                                        "valid"));
}

/* Checks "session" and returns which guarantees held, as "RYW MR MW WFR"
 * letters: a letter in upper case held. */
static char *session(const char *text)
{
    json_t *j;
    FlVerdict v = check("register", "session", text, &j);
    assert_true(v == FL_VERDICT_VALID || v == FL_VERDICT_INVALID);
    char *s = g_strdup_printf("%s %s %s %s", guarantee(j, "read-your-writes") ? "RYW" : "ryw",
                              guarantee(j, "monotonic-reads") ? "MR" : "mr",
                              guarantee(j, "monotonic-writes") ? "MW" : "mw",
                              guarantee(j, "writes-follow-reads") ? "WFR" : "wfr");
    json_decref(j);
    return s;
}

static void session_each(void **state)
{
    g_autofree char *good = session(GOOD);
    assert_string_equal(good, "RYW MR MW WFR");
    /* p writes x = 1, then reads the initial value. */
    g_autofree char *ryw = session("0 invoke write 0 1\n 0 ok write 0 1\n 0 invoke read 0 -\n 0 ok read 0 -\n");
    assert_string_equal(ryw, "ryw MR MW WFR");
    /* p reads 5 (q's), writes 6, then reads 5 again: its own write vanished. */
    g_autofree char *ryw2 = session(
        "1 invoke write 0 5\n 1 ok write 0 5\n 0 invoke read 0 -\n 0 ok read 0 5\n"
        "0 invoke write 0 6\n 0 ok write 0 6\n 0 invoke read 0 -\n 0 ok read 0 5\n");
    assert_string_equal(ryw2, "ryw MR MW WFR");
    /* q writes 1 then 2; p sees 2, then 1. */
    g_autofree char *mr = session(
        "1 invoke write 0 1\n 1 ok write 0 1\n 1 invoke write 0 2\n 1 ok write 0 2\n"
        "0 invoke read 0 -\n 0 ok read 0 2\n 0 invoke read 0 -\n 0 ok read 0 1\n");
    assert_string_equal(mr, "RYW mr MW WFR");
    /* q writes x then y; p sees y, then the initial x. */
    g_autofree char *mw = session(
        "1 invoke write 0 1\n 1 ok write 0 1\n 1 invoke write 1 2\n 1 ok write 1 2\n"
        "0 invoke read 1 -\n 0 ok read 1 2\n 0 invoke read 0 -\n 0 ok read 0 -\n");
    assert_string_equal(mw, "RYW MR mw WFR");
    /* r reads q's x, then writes y; p sees y, then the initial x. */
    g_autofree char *wfr = session(
        "1 invoke write 0 1\n 1 ok write 0 1\n 2 invoke read 0 -\n 2 ok read 0 1\n"
        "2 invoke write 1 2\n 2 ok write 1 2\n"
        "0 invoke read 1 -\n 0 ok read 1 2\n 0 invoke read 0 -\n 0 ok read 0 -\n");
    assert_string_equal(wfr, "RYW MR MW wfr");
    /* One guarantee by its own name. */
    assert_int_equal(check("register", "monotonic-reads",
                           "1 invoke write 0 1\n 1 ok write 0 1\n 1 invoke write 1 2\n 1 ok write 1 2\n"
                           "0 invoke read 1 -\n 0 ok read 1 2\n 0 invoke read 0 -\n 0 ok read 0 -\n", NULL),
                     FL_VERDICT_VALID);
}

/* ---- Eventual consistency and CRDT convergence ----------------------------- */

static const char WRITES[] =
    "0 invoke write 0 1\n 0 ok write 0 1 @0\n 1 invoke write 0 2\n 1 ok write 0 2 @1\n";

static void eventual(void **state)
{
    g_autofree char *agree = g_strconcat(WRITES,
        "0 invoke read 0 - final\n 0 ok read 0 2 @0\n 1 invoke read 0 - final\n 1 ok read 0 2 @1\n", NULL);
    json_t *j;
    assert_int_equal(check("register", "eventual", agree, &j), FL_VERDICT_VALID);
    assert_true(json_is_integer(json_object_get(j, "convergence_ns")));
    json_decref(j);
    g_autofree char *disagree = g_strconcat(WRITES,
        "0 invoke read 0 - final\n 0 ok read 0 1 @0\n 1 invoke read 0 - final\n 1 ok read 0 2 @1\n", NULL);
    assert_int_equal(check("register", "eventual", disagree, NULL), FL_VERDICT_INVALID);
    g_autofree char *thin = g_strconcat(WRITES,
        "0 invoke read 0 - final\n 0 ok read 0 7 @0\n 1 invoke read 0 - final\n 1 ok read 0 7 @1\n", NULL);
    assert_int_equal(check("register", "eventual", thin, NULL), FL_VERDICT_INVALID);
    g_autofree char *lost = g_strconcat(WRITES,
        "0 invoke read 0 - final\n 0 ok read 0 - @0\n 1 invoke read 0 - final\n 1 ok read 0 - @1\n", NULL);
    assert_int_equal(check("register", "eventual", lost, NULL), FL_VERDICT_INVALID);
    /* A node down during the final reads is left out. */
    g_autofree char *down = g_strconcat(WRITES,
        "0 invoke read 0 - final\n 0 ok read 0 2 @0\n 1 invoke read 0 - final\n 1 info read 0 -\n", NULL);
    assert_int_equal(check("register", "eventual", down, NULL), FL_VERDICT_VALID);
    /* Without final reads: no verdict. */
    assert_int_equal(check("register", "eventual", WRITES, NULL), FL_VERDICT_UNKNOWN);
}

static void crdt_counter(void **state)
{
    const char *adds =
        "0 invoke add 0 1\n 0 ok add 0 1 @0\n 1 invoke add 0 2\n 1 ok add 0 2 @1\n"
        "2 invoke add 0 -3\n 2 ok add 0 -3 @2\n 3 invoke add 0 4\n 3 info add 0 4\n";
    g_autofree char *good = g_strconcat(adds,
        "0 invoke read 0 - final\n 0 ok read 0 4 @0\n 1 invoke read 0 - final\n 1 ok read 0 4 @1\n", NULL);
    g_autofree char *info_lost = g_strconcat(adds,
        "0 invoke read 0 - final\n 0 ok read 0 0 @0\n 1 invoke read 0 - final\n 1 ok read 0 0 @1\n", NULL);
    g_autofree char *wrong = g_strconcat(adds,
        "0 invoke read 0 - final\n 0 ok read 0 7 @0\n 1 invoke read 0 - final\n 1 ok read 0 7 @1\n", NULL);
    g_autofree char *apart = g_strconcat(adds,
        "0 invoke read 0 - final\n 0 ok read 0 4 @0\n 1 invoke read 0 - final\n 1 ok read 0 0 @1\n", NULL);
    assert_int_equal(check("counter", "eventual", good, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("counter", "eventual", info_lost, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("counter", "eventual", wrong, NULL), FL_VERDICT_INVALID);
    assert_int_equal(check("counter", "eventual", apart, NULL), FL_VERDICT_INVALID);
    /* A counter is linearizable when reads follow the adds. */
    assert_int_equal(check("counter", "linearizable",
                           "0 invoke add 0 2\n 0 ok add 0 2\n 1 invoke read 0 -\n 1 ok read 0 2\n", NULL),
                     FL_VERDICT_VALID);
    assert_int_equal(check("counter", "linearizable",
                           "0 invoke add 0 2\n 0 ok add 0 2\n 1 invoke read 0 -\n 1 ok read 0 0\n", NULL),
                     FL_VERDICT_INVALID);
}

static void crdt_set(void **state)
{
    const char *ops =
        "0 invoke add 0 1\n 0 ok add 0 1 @0\n 1 invoke add 0 2\n 1 ok add 0 2 @1\n"
        "0 invoke add 0 3\n 0 ok add 0 3 @0\n 1 invoke remove 0 3\n 1 ok remove 0 3 @1\n";
    g_autofree char *good = g_strconcat(ops,
        "0 invoke read 0 - final\n 0 ok read 0 [1,2] @0\n 1 invoke read 0 - final\n 1 ok read 0 [2,1] @1\n", NULL);
    g_autofree char *add_wins = g_strconcat(ops,
        "0 invoke read 0 - final\n 0 ok read 0 [1,2,3] @0\n 1 invoke read 0 - final\n 1 ok read 0 [1,2,3] @1\n", NULL);
    g_autofree char *missing = g_strconcat(ops,
        "0 invoke read 0 - final\n 0 ok read 0 [1] @0\n 1 invoke read 0 - final\n 1 ok read 0 [1] @1\n", NULL);
    g_autofree char *stranger = g_strconcat(ops,
        "0 invoke read 0 - final\n 0 ok read 0 [1,2,9] @0\n 1 invoke read 0 - final\n 1 ok read 0 [1,2,9] @1\n", NULL);
    g_autofree char *apart = g_strconcat(ops,
        "0 invoke read 0 - final\n 0 ok read 0 [1,2] @0\n 1 invoke read 0 - final\n 1 ok read 0 [1,2,3] @1\n", NULL);
    assert_int_equal(check("set", "eventual", good, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("set", "eventual", add_wins, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("set", "eventual", missing, NULL), FL_VERDICT_INVALID);
    assert_int_equal(check("set", "eventual", stranger, NULL), FL_VERDICT_INVALID);
    assert_int_equal(check("set", "eventual", apart, NULL), FL_VERDICT_INVALID);
    /* The set model's remove, for the linearizability check. */
    assert_int_equal(check("set", "linearizable",
                           "0 invoke add 0 1\n 0 ok add 0 1\n 0 invoke remove 0 1\n 0 ok remove 0 1\n"
                           "1 invoke read 0 -\n 1 ok read 0 []\n", NULL),
                     FL_VERDICT_VALID);
    assert_int_equal(check("set", "linearizable",
                           "0 invoke add 0 1\n 0 ok add 0 1\n 0 invoke remove 0 1\n 0 ok remove 0 1\n"
                           "1 invoke read 0 -\n 1 ok read 0 [1]\n", NULL),
                     FL_VERDICT_INVALID);
}

/* ---- Sequential consistency over all keys ---------------------------------- */

/* The store buffer: each process writes, then reads the other's key as
 * initial.  Each key alone is sequentially consistent; both together not. */
static const char SB[] =
    "0 invoke write 0 1\n 1 invoke write 1 2\n 0 ok write 0 1\n 1 ok write 1 2\n"
    "0 invoke read 1 -\n 1 invoke read 0 -\n 0 ok read 1 -\n 1 ok read 0 -\n";

static void sequential_multikey(void **state)
{
    json_t *j;
    /* Each key alone can be ordered (the per-key check says valid); the
     * whole history cannot, which is what `sequential` means (Lamport). */
    assert_int_equal(check("register", "sequential-per-key", SB, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("register", "sequential", SB, NULL), FL_VERDICT_INVALID);
    assert_int_equal(check("register", "causal", SB, NULL), FL_VERDICT_VALID);
    assert_int_equal(check("register", "sequential-multikey", SB, &j), FL_VERDICT_INVALID);
    assert_int_equal(json_array_size(json_object_get(j, "cycle")), 4);
    json_decref(j);
    /* Stale but sequential: q's read may come before p's write. */
    assert_int_equal(check("register", "sequential-multikey",
                           "0 invoke write 0 1\n 0 ok write 0 1\n 1 invoke read 0 -\n 1 ok read 0 -\n"
                           "1 invoke read 0 -\n 1 ok read 0 1\n", NULL),
                     FL_VERDICT_VALID);
    /* A cas reads and writes in one step. */
    assert_int_equal(check("register", "sequential-multikey",
                           "0 invoke write 0 1\n 0 ok write 0 1\n 1 invoke cas 0 [1,2]\n 1 ok cas 0 [1,2]\n"
                           "0 invoke read 0 -\n 0 ok read 0 2\n", NULL),
                     FL_VERDICT_VALID);
}

/* ---- Lists of models --------------------------------------------------------- */

static void lists(void **state)
{
    json_t *j;
    assert_int_equal(check("register", "linearizable,sequential-multikey,causal,session", SB, &j),
                     FL_VERDICT_INVALID);
    json_t *v = json_object_get(j, "verdicts");
    assert_string_equal(json_string_value(json_object_get(v, "linearizable")), "invalid");
    assert_string_equal(json_string_value(json_object_get(v, "sequential-multikey")), "invalid");
    assert_string_equal(json_string_value(json_object_get(v, "causal")), "valid");
    assert_string_equal(json_string_value(json_object_get(v, "session")), "valid");
    assert_non_null(json_object_get(json_object_get(j, "results"), "causal"));
    json_decref(j);
    assert_int_equal(check("register", "causal, session", GOOD, NULL), FL_VERDICT_VALID);
    GError *err = NULL;
    g_autofree char *path = write_history(GOOD);
    assert_int_equal(fl_check_file(path, "register", "causal,bogus", "jsonl", 0, NULL, NULL, &err),
                     FL_VERDICT_ERROR);
    assert_non_null(strstr(err->message, "bogus"));
    g_error_free(err);
    g_unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(causal_good),
        cmocka_unit_test(causal_thin_air),
        cmocka_unit_test(causal_cyclic_co),
        cmocka_unit_test(causal_write_co_init_read),
        cmocka_unit_test(causal_write_co_read),
        cmocka_unit_test(causal_cyclic_cf),
        cmocka_unit_test(causal_write_hb_init_read),
        cmocka_unit_test(causal_cyclic_hb),
        cmocka_unit_test(causal_kv),
        cmocka_unit_test(causal_unsupported),
        cmocka_unit_test(session_each),
        cmocka_unit_test(eventual),
        cmocka_unit_test(crdt_counter),
        cmocka_unit_test(crdt_set),
        cmocka_unit_test(sequential_multikey),
        cmocka_unit_test(lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
