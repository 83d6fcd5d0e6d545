/* tests/check/test_index.c: a history read through an index of its lines
 * (check.h, FlHistoryEvent) against the same text read alone.
 *
 * `faultline run` hands the checker the engine's index with the text; the
 * verdict, report, JSON and error message must be those of the text.  The
 * indices here are made by hand from tiny histories (index_of below
 * finds the fields of each line as the engine writes them); the runs of
 * every scenario are compared in test_index_runs.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/check/outcome.h"

#include <stdlib.h>
#include <string.h>

/* The integer after `"name":` in the line at @p, if any. */
static gboolean int_field(const char *p, const char *end, const char *name, gint64 *out)
{
    g_autofree char *pat = g_strdup_printf("\"%s\":", name);
    g_autofree char *line = g_strndup(p, (gsize)(end - p));
    const char *at = strstr(line, pat);
    if (!at) return FALSE;
    *out = g_ascii_strtoll(at + strlen(pat), NULL, 10);
    return TRUE;
}

/* Where a JSON value starting at @p ends (its last byte + 1): at the first
 * ',' or '}' outside strings and brackets. */
static const char *value_end(const char *p)
{
    int depth = 0;
    gboolean in_str = FALSE;
    for (;; p++) {
        char c = *p;
        if (in_str) {
            if (c == '\\') p++;
            else if (c == '"') in_str = FALSE;
            continue;
        }
        if (c == '"') in_str = TRUE;
        else if (c == '[' || c == '{') depth++;
        else if (c == ']' || (c == '}' && depth > 0)) depth--;
        else if ((c == ',' || c == '}') && depth == 0) return p;
    }
}

/* An index of @text (JSON Lines, one event a line, each with process,
 * type, f and value, maybe key, time and client, as the engine writes them), as an
 * array of FlHistoryEvent. */
static GArray *index_of(const char *text)
{
    GArray *ix = g_array_new(FALSE, TRUE, sizeof(FlHistoryEvent));
    const char *p = text;
    for (guint32 line = 1; *p; line++) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl + 1 : p + strlen(p);
        FlHistoryEvent e = { .offset = (gsize)(p - text), .len = (guint32)(end - p), .line = line };
        g_assert(int_field(p, end, "process", &e.process));
        if (int_field(p, end, "key", &e.key)) e.flags |= FL_EVENT_HAS_KEY;
        if (int_field(p, end, "time", &e.time)) e.flags |= FL_EVENT_HAS_TIME;
        if (int_field(p, end, "client", &e.client)) e.flags |= FL_EVENT_HAS_CLIENT;
        static const char *const types[] = { "invoke", "ok", "fail", "info" };
        gboolean found = FALSE;
        for (guint8 t = 0; t < 4 && !found; t++) {
            g_autofree char *pat = g_strdup_printf("\"type\":\"%s\"", types[t]);
            g_autofree char *l = g_strndup(p, (gsize)(end - p));
            if (strstr(l, pat)) {
                e.type = t;
                found = TRUE;
            }
        }
        g_assert(found);
        const char *f = strstr(p, "\"f\":\"") + 5;
        e.f_at = (guint32)(f - p);
        e.f_len = (guint16)(strchr(f, '"') - f);
        const char *v = strstr(p, "\"value\":") + 8;
        e.value_at = (guint32)(v - p);
        e.value_len = (guint32)(value_end(v) - v);
        g_array_append_val(ix, e);
        p = end;
    }
    return ix;
}

/* @text checked alone and with @ix (its index_of when NULL): the same. */
static void same_with_index(const char *text, GArray *ix, const char *model,
                            const char *consistency, Outcome *out)
{
    GArray *own = ix ? NULL : index_of(text);
    if (own) ix = own;
    FlHistorySource plain = { .name = "h.jsonl", .data = text, .len = strlen(text) };
    FlHistorySource indexed = plain;
    indexed.events = (const FlHistoryEvent *)(void *)ix->data;
    indexed.n_events = ix->len;
    Outcome a = outcome_check(&plain, model, consistency, "jsonl");
    Outcome b = outcome_check(&indexed, model, consistency, "jsonl");
    outcome_assert_same(&a, &b, text);
    /* The format chosen by the name's extension reads the index too. */
    Outcome c = outcome_check(&indexed, model, consistency, NULL);
    outcome_assert_same(&a, &c, text);
    outcome_clear(&b);
    outcome_clear(&c);
    if (out) *out = a;
    else outcome_clear(&a);
    if (own) g_array_unref(own);
}

/* ok, fail, info and a never-completed operation; fields the checker does
 * not interpret (node) and one history without time. */
static const char register_valid[] =
    "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":10}\n"
    "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":11}\n"
    "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1,\"time\":20,\"node\":2}\n"
    "{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":1,\"time\":21,\"node\":1}\n"
    "{\"process\":2,\"type\":\"invoke\",\"f\":\"write\",\"value\":2,\"time\":30}\n"
    "{\"process\":2,\"type\":\"fail\",\"f\":\"write\",\"value\":2,\"time\":31,\"node\":0}\n"
    "{\"process\":3,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[1,3],\"time\":40}\n"
    "{\"process\":3,\"type\":\"info\",\"f\":\"cas\",\"value\":[1,3],\"time\":50}\n"
    "{\"process\":4,\"type\":\"invoke\",\"f\":\"write\",\"value\":4,\"time\":60}\n";

/* The read sees the failed write: invalid, with a counterexample whose
 * operations show their extra fields. */
static const char register_invalid[] =
    "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n"
    "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1,\"node\":2}\n"
    "{\"process\":2,\"type\":\"invoke\",\"f\":\"write\",\"value\":2}\n"
    "{\"process\":2,\"type\":\"fail\",\"f\":\"write\",\"value\":2,\"node\":0}\n"
    "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n"
    "{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":2,\"node\":1,\"error\":\"late\"}\n"
    "{\"process\":3,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[1,3]}\n"
    "{\"process\":3,\"type\":\"info\",\"f\":\"cas\",\"value\":[1,3]}\n";

/* Keyed, as the engine writes: a stale get on key 1 (linearizable: no;
 * sequential: yes), an escaped string, an append never completed. */
static const char kv_stale[] =
    "{\"process\":0,\"type\":\"invoke\",\"f\":\"put\",\"key\":1,\"value\":\"a\\\"b\",\"time\":1}\n"
    "{\"process\":0,\"type\":\"ok\",\"f\":\"put\",\"key\":1,\"value\":\"a\\\"b\",\"time\":2,\"node\":0}\n"
    "{\"process\":1,\"type\":\"invoke\",\"f\":\"get\",\"key\":1,\"value\":null,\"time\":3}\n"
    "{\"process\":1,\"type\":\"ok\",\"f\":\"get\",\"key\":1,\"value\":\"\",\"time\":4,\"node\":1,\"final\":true}\n"
    "{\"process\":2,\"type\":\"invoke\",\"f\":\"append\",\"key\":2,\"value\":\"x\",\"time\":5}\n";

static void test_verdicts(void **state)
{
    (void)state;
    Outcome o;
    same_with_index(register_valid, NULL, "register", NULL, &o);
    assert_int_equal(o.v, FL_VERDICT_VALID);
    outcome_clear(&o);
    same_with_index(register_valid, NULL, "register", "sequential-per-key", NULL);
    same_with_index(register_valid, NULL, "register", "linearizable,sequential", NULL);

    same_with_index(register_invalid, NULL, "register", NULL, &o);
    assert_int_equal(o.v, FL_VERDICT_INVALID);
    assert_non_null(strstr(o.report, "{\"node\": 1, \"error\": \"late\"}"));
    assert_non_null(strstr(o.json, "\"late\""));
    outcome_clear(&o);

    same_with_index(kv_stale, NULL, "kv", NULL, &o);
    assert_int_equal(o.v, FL_VERDICT_INVALID);
    assert_non_null(strstr(o.report, "\"final\": true"));
    outcome_clear(&o);
    same_with_index(kv_stale, NULL, "kv", "sequential-per-key", &o);
    assert_int_equal(o.v, FL_VERDICT_VALID);
    outcome_clear(&o);
    /* A checker of its own (weak.c) loads through the index as well. */
    same_with_index(kv_stale, NULL, "kv", "linearizable,sequential,session", NULL);
    /* Sessions by client read the same from the index. */
    same_with_index("{\"process\":0,\"client\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n"
                    "{\"process\":0,\"client\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n"
                    "{\"process\":0,\"client\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":2}\n"
                    "{\"process\":0,\"client\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":2}\n"
                    "{\"process\":0,\"client\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n"
                    "{\"process\":0,\"client\":0,\"type\":\"info\",\"f\":\"read\",\"value\":null}\n"
                    "{\"process\":2,\"client\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n"
                    "{\"process\":2,\"client\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n",
                    NULL, "register", "read-your-writes", &o);
    assert_int_equal(o.v, FL_VERDICT_INVALID);
    outcome_clear(&o);

    /* No event at all. */
    same_with_index("", NULL, "kv", NULL, &o);
    assert_int_equal(o.v, FL_VERDICT_VALID);
    outcome_clear(&o);
}

/* Every rule of the loader says the same from the index as from the text. */
static void test_errors(void **state)
{
    (void)state;
    static const struct { const char *model, *text, *error; } cases[] = {
        /* A value the model rejects. */
        { "kv", "{\"process\":0,\"type\":\"invoke\",\"f\":\"put\",\"key\":1,\"value\":5,\"time\":1}\n",
          "h.jsonl:1: expected a string as the value of a put, got an integer" },
        { "register",
          "{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[1],\"time\":1}\n", NULL },
        { "kv", "{\"process\":0,\"type\":\"invoke\",\"f\":\"get\",\"key\":1,\"value\":null}\n"
                "{\"process\":0,\"type\":\"ok\",\"f\":\"get\",\"key\":1,\"value\":[\"a\"]}\n",
          "h.jsonl:2: expected a string as the result of a get, got an array" },
        /* A value that is not JSON: the reader's message, same column. */
        { "register", "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":nul}\n",
          "h.jsonl:1:50: expected a JSON value, got 'n'" },
        /* The pairing rules. */
        { "register", "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n",
          "h.jsonl:1: a completion (ok) of process 0 with no open invocation" },
        { "register",
          "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n"
          "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":2}\n", NULL },
        { "register",
          "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n"
          "{\"process\":0,\"type\":\"info\",\"f\":\"write\",\"value\":1}\n"
          "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n", NULL },
        { "register",
          "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n"
          "{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n", NULL },
        { "kv", "{\"process\":0,\"type\":\"invoke\",\"f\":\"get\",\"key\":1,\"value\":null}\n"
                "{\"process\":0,\"type\":\"ok\",\"f\":\"get\",\"key\":2,\"value\":\"\"}\n", NULL },
        { "kv", "{\"process\":0,\"type\":\"invoke\",\"f\":\"get\",\"key\":1,\"value\":null}\n"
                "{\"process\":1,\"type\":\"invoke\",\"f\":\"get\",\"value\":null}\n", NULL },
        { "kv", "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":1,\"value\":null}\n",
          "h.jsonl:1: unknown f \"read\" for model kv (expected get, put or append)" },
        /* Time against line order, and sessions (history.c notes 1, 5). */
        { "register",
          "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":5}\n"
          "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1,\"time\":4}\n", NULL },
        { "register",
          "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":5}\n"
          "{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"value\":2,\"time\":4}\n", NULL },
        { "register",
          "{\"process\":0,\"client\":3,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n"
          "{\"process\":1,\"client\":3,\"type\":\"invoke\",\"f\":\"write\",\"value\":2}\n",
          "h.jsonl:2: client 3 invokes an operation while its operation from line 1 is still "
          "open (a client, like a process, runs one operation at a time)" },
        { "register",
          "{\"process\":0,\"client\":3,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n"
          "{\"process\":0,\"client\":4,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n", NULL },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        Outcome o;
        same_with_index(cases[i].text, NULL, cases[i].model, NULL, &o);
        assert_int_equal(o.v, FL_VERDICT_ERROR);
        if (cases[i].error) assert_string_equal(o.error, cases[i].error);
        outcome_clear(&o);
    }
}

/* The checker does read the index (it does not parse the text again): an
 * index that says otherwise than the text is believed. */
static void test_index_is_read(void **state)
{
    (void)state;
    GArray *ix = index_of(register_valid);
    g_array_index(ix, FlHistoryEvent, 2).process = 7;
    FlHistorySource src = { .name = "h.jsonl", .data = register_valid,
                            .len = strlen(register_valid),
                            .events = (const FlHistoryEvent *)(void *)ix->data,
                            .n_events = ix->len };
    Outcome o = outcome_check(&src, "register", NULL, "jsonl");
    assert_int_equal(o.v, FL_VERDICT_ERROR);
    assert_string_equal(o.error, "h.jsonl:3: a completion (ok) of process 7 with no open invocation");
    outcome_clear(&o);
    g_array_unref(ix);
}

/* An index that does not lie line after line over the whole text is a bug
 * of its maker, reported as an error, never a verdict. */
static void test_index_must_fit(void **state)
{
    (void)state;
    FlHistorySource src = { .name = "h.jsonl", .data = register_valid,
                            .len = strlen(register_valid) };
    GArray *ix = index_of(register_valid);
    src.events = (const FlHistoryEvent *)(void *)ix->data;

    src.n_events = ix->len - 1;   /* the last line left out */
    Outcome o = outcome_check(&src, "register", NULL, "jsonl");
    assert_int_equal(o.v, FL_VERDICT_ERROR);
    assert_string_equal(o.error, "h.jsonl:9: the history's index does not cover its text");
    outcome_clear(&o);

    src.n_events = ix->len;
    g_array_remove_index(ix, 1);   /* a gap */
    src.events = (const FlHistoryEvent *)(void *)ix->data;
    src.n_events = ix->len;
    o = outcome_check(&src, "register", NULL, "jsonl");
    assert_int_equal(o.v, FL_VERDICT_ERROR);
    assert_string_equal(o.error, "h.jsonl:3: the history's index does not match its text (event 1)");
    outcome_clear(&o);

    g_array_index(ix, FlHistoryEvent, 0).f_at += 1;   /* f not between quotes */
    o = outcome_check(&src, "register", NULL, "jsonl");
    assert_int_equal(o.v, FL_VERDICT_ERROR);
    assert_string_equal(o.error, "h.jsonl:1: the history's index does not match its text (event 0)");
    outcome_clear(&o);
    g_array_unref(ix);
}

/* The index is for JSON Lines in memory: ignored for EDN and for a file. */
static void test_index_ignored(void **state)
{
    (void)state;
    static const char edn[] =
        "{:process 0, :type :invoke, :f :write, :value 1}\n"
        "{:process 0, :type :ok, :f :write, :value 1}\n";
    GArray *ix = index_of(register_valid);
    FlHistorySource src = { .name = "h.edn", .data = edn, .len = strlen(edn),
                            .events = (const FlHistoryEvent *)(void *)ix->data,
                            .n_events = ix->len };
    Outcome o = outcome_check(&src, "register", NULL, NULL);
    assert_int_equal(o.v, FL_VERDICT_VALID);
    outcome_clear(&o);
    o = outcome_check(&src, "register", NULL, "edn");
    assert_int_equal(o.v, FL_VERDICT_VALID);
    outcome_clear(&o);

    FlHistorySource file = { .name = "tests/check/histories/register__stale-read.invalid.jsonl",
                             .events = (const FlHistoryEvent *)(void *)ix->data,
                             .n_events = ix->len };
    FlHistorySource plain = { .name = file.name };
    o = outcome_check(&file, "register", NULL, NULL);
    Outcome p = outcome_check(&plain, "register", NULL, NULL);
    assert_int_equal(o.v, FL_VERDICT_INVALID);
    outcome_assert_same(&o, &p, file.name);
    outcome_clear(&o);
    outcome_clear(&p);
    g_array_unref(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_index_is_read),
        cmocka_unit_test(test_index_must_fit),
        cmocka_unit_test(test_index_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
