/* tests/check/test_generated.c: generated histories with known answers, and
 * small random ones cross-checked against the brute-force oracle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/check/check.h"
#include "sim/check/history.h"
#include "sim/check/story.h"
#include "tests/check/gen.h"
#include "tests/check/oracle.h"

#include <stdio.h>
#include <string.h>

static const char *const models[] = { "register", "kv", "mutex", "set", "queue" };

static FlVerdict check_text(const char *model, const GString *text,
                            const char *format, const char *consistency,
                            gboolean *oracle)
{
    GError *err = NULL;
    FlHistory *h = fl_history_parse("generated", text->str, text->len, format,
                                    fl_model_find(model), &err);
    if (h == NULL) {
        fprintf(stderr, "%s\n%s", err->message, text->str);
        g_error_free(err);
        fail();
    }
    FlVerdict v = fl_check_history(h, consistency, 0, NULL, NULL, &err);
    assert_null(err);
    if (oracle) *oracle = fl_oracle(h, g_strcmp0(consistency, "sequential-per-key") == 0);
    fl_history_free(h);
    return v;
}

/* Register and kv histories get the pruning for distinct values (search.c
 * note 6); set and queue histories rely on the plain search, so they stay
 * smaller. */
static FlGenParams params(const char *model, guint64 seed, gboolean invalid)
{
    gboolean pruned = strcmp(model, "register") == 0 || strcmp(model, "kv") == 0 ||
                      strcmp(model, "mutex") == 0;
    FlGenParams p = {
        .model = model,
        .ops = 20 + (guint32)(seed * 37 % (pruned ? 280 : 80)),
        .processes = 2 + (guint32)(seed % (pruned ? 9 : 4)),
        .keys = (strcmp(model, "register") == 0 || strcmp(model, "kv") == 0) && seed % 3 == 0 ? 3 : 0,
        .info = strcmp(model, "mutex") == 0 && invalid ? 0 : 0.08,
        .fail = strcmp(model, "mutex") == 0 && invalid ? 0 : 0.05,
        .cas = 0.15,
        .invalid = invalid,
        .seed = seed,
    };
    return p;
}

/* Linearizable by construction: every model, hundreds of seeds, and
 * sequentially consistent too. */
static void test_generated_valid(void **state)
{
    for (gsize m = 0; m < G_N_ELEMENTS(models); m++) {
        for (guint64 seed = 0; seed < 200; seed++) {
            FlGenParams p = params(models[m], seed, FALSE);
            GString *text = g_string_new(NULL);
            fl_gen_history(&p, text);
            FlVerdict v = check_text(models[m], text, "jsonl", NULL, NULL);
            if (v != FL_VERDICT_VALID)
                fprintf(stderr, "model %s seed %" G_GUINT64_FORMAT ": %d\n", models[m], seed, v);
            assert_int_equal(v, FL_VERDICT_VALID);
            if (seed % 4 == 0)
                assert_int_equal(check_text(models[m], text, "jsonl", "sequential-per-key", NULL),
                                 FL_VERDICT_VALID);
            g_string_free(text, TRUE);
        }
    }
}

/* One result changed so that no order explains it. */
static void test_generated_invalid(void **state)
{
    for (gsize m = 0; m < G_N_ELEMENTS(models); m++) {
        int checked = 0;
        for (guint64 seed = 0; seed < 200; seed++) {
            FlGenParams p = params(models[m], seed, TRUE);
            GString *text = g_string_new(NULL);
            if (fl_gen_history(&p, text)) {
                FlVerdict v = check_text(models[m], text, "jsonl", NULL, NULL);
                if (v != FL_VERDICT_INVALID)
                    fprintf(stderr, "model %s seed %" G_GUINT64_FORMAT ": %d\n", models[m], seed, v);
                assert_int_equal(v, FL_VERDICT_INVALID);
                checked++;
            }
            g_string_free(text, TRUE);
        }
        assert_true(checked > 150);
    }
}

/* The EDN form of a history gets the verdict of its JSON Lines form. */
static void test_edn_same_verdict(void **state)
{
    for (gsize m = 0; m < G_N_ELEMENTS(models); m++) {
        for (guint64 seed = 0; seed < 40; seed++) {
            FlGenParams p = params(models[m], seed, seed % 2 == 1);
            GString *jsonl = g_string_new(NULL), *edn = g_string_new(NULL);
            fl_gen_history(&p, jsonl);
            p.edn = TRUE;
            fl_gen_history(&p, edn);
            FlVerdict a = check_text(models[m], jsonl, "jsonl", NULL, NULL);
            FlVerdict b = check_text(models[m], edn, "edn", NULL, NULL);
            assert_int_equal(a, b);
            GString *edn2 = g_string_new(NULL);
            fl_gen_jsonl_to_edn(jsonl->str, edn2);
            assert_int_equal(check_text(models[m], edn2, "edn", NULL, NULL), a);
            g_string_free(jsonl, TRUE);
            g_string_free(edn, TRUE);
            g_string_free(edn2, TRUE);
        }
    }
}

/* Small histories with random results (values repeat, so the pruning for
 * distinct values must stay out of the way): the search and the oracle
 * agree, for both consistency models. */
static void test_oracle_random(void **state)
{
    for (gsize m = 0; m < G_N_ELEMENTS(models); m++) {
        int valid = 0, invalid = 0;
        for (guint64 seed = 0; seed < 1000; seed++) {
            GString *text = g_string_new(NULL);
            fl_gen_random(models[m], 4 + (guint32)(seed % 9), 2 + (guint32)(seed % 3), seed, text);
            for (int sc = 0; sc < 2; sc++) {
                gboolean expect;
                FlVerdict v = check_text(models[m], text, "jsonl", sc ? "sequential-per-key" : NULL, &expect);
                if (v != (expect ? FL_VERDICT_VALID : FL_VERDICT_INVALID))
                    fprintf(stderr, "model %s seed %" G_GUINT64_FORMAT " %s: search %d oracle %d\n%s",
                            models[m], seed, sc ? "sequential-per-key" : "linearizable", v, expect, text->str);
                assert_int_equal(v, expect ? FL_VERDICT_VALID : FL_VERDICT_INVALID);
                if (!sc) {
                    valid += expect;
                    invalid += !expect;
                }
            }
            g_string_free(text, TRUE);
        }
        /* Both answers must be common, or the comparison proves little. */
        fprintf(stderr, "%s: %d valid, %d invalid\n", models[m], valid, invalid);
        assert_true(valid > 25);
        assert_true(invalid > 25);
    }
}

/* Small generated histories (distinct values, info and fail operations):
 * the oracle agrees with the generator and with the search. */
static void test_oracle_generated(void **state)
{
    for (gsize m = 0; m < G_N_ELEMENTS(models); m++) {
        for (guint64 seed = 0; seed < 1000; seed++) {
            FlGenParams p = params(models[m], seed, seed % 2 == 1);
            p.ops = 6 + (guint32)(seed % 10);
            p.processes = 2 + (guint32)(seed % 4);
            p.keys = 0;
            p.info = 0.15;
            if (seed % 4 < 2) p.cas = 0;   /* reads and writes only: search.c note 11 */
            if (seed % 4 == 2) {           /* chains of cas, note 11 */
                p.info = 0;
                p.cas = 0.3;
            }
            if (p.invalid && strcmp(models[m], "mutex") == 0) p.info = p.fail = 0;
            GString *text = g_string_new(NULL);
            gboolean mutated = fl_gen_history(&p, text);
            gboolean expect;
            FlVerdict v = check_text(models[m], text, "jsonl", NULL, &expect);
            if (v != (expect ? FL_VERDICT_VALID : FL_VERDICT_INVALID))
                fprintf(stderr, "model %s seed %" G_GUINT64_FORMAT ": search %d oracle %d\n%s",
                        models[m], seed, v, expect, text->str);
            assert_int_equal(v, expect ? FL_VERDICT_VALID : FL_VERDICT_INVALID);
            if (!p.invalid || !mutated) assert_true(expect);
            else assert_false(expect);
            g_string_free(text, TRUE);
        }
    }
}

/* Many processes and an impossible read: decided by the cluster check
 * (search.c note 11) even where the search alone would take too long, and
 * explained either way. */
static void test_cluster_decides(void **state)
{
    FlGenParams p = params("register", 1, TRUE);
    p.ops = 1000;
    p.processes = 200;
    p.info = p.fail = 0;
    p.cas = 0.1;
    GString *text = g_string_new(NULL);
    assert_true(fl_gen_history(&p, text));
    GError *err = NULL;
    FlHistory *h = fl_history_parse("generated", text->str, text->len, "jsonl",
                                    fl_model_find("register"), &err);
    assert_non_null(h);
    json_t *json = NULL;
    GString *report = g_string_new(NULL);
    assert_int_equal(fl_check_history(h, NULL, 30, report, &json, &err), FL_VERDICT_INVALID);
    json_t *cx = json_object_get(json, "counterexample");
    assert_non_null(cx);
    assert_non_null(json_object_get(cx, "stuck"));
    assert_true(json_object_get(cx, "reason") || json_object_get(cx, "state"));
    assert_non_null(strstr(report->str, "process"));
    json_decref(json);
    g_string_free(report, TRUE);
    fl_history_free(h);
    g_string_free(text, TRUE);
}

/* Each story of sim/check/story.c is a proof that no linearization
 * exists: on every history the oracle finds linearizable, none is told;
 * on invalid ones, most are. */
static int stories(const char *model, const GString *text, gboolean *valid)   /* NULL: valid by construction */
{
    GError *err = NULL;
    FlHistory *h = fl_history_parse("generated", text->str, text->len, "jsonl",
                                    fl_model_find(model), &err);
    assert_non_null(h);
    if (valid)
        *valid = fl_oracle(h, FALSE);
    int told = 0;
    guint nk = MAX(h->keys->len, 1);
    for (guint k = 0; k < nk; k++) {
        g_autoptr(GArray) idx = g_array_new(FALSE, FALSE, sizeof(guint32));
        for (guint32 i = 0; i < h->ops->len; i++) {
            const FlOp *op = &g_array_index(h->ops, FlOp, i);
            if (!h->keys->len || op->key == g_array_index(h->keys, FlAtom, k))
                g_array_append_val(idx, i);
        }
        g_autoptr(GString) story = g_string_new(NULL);
        g_autoptr(GArray) ops = g_array_new(FALSE, FALSE, sizeof(guint32));
        if (fl_story_register(h, (const guint32 *)idx->data, idx->len, story, ops) ||
            fl_story_append(h, (const guint32 *)idx->data, idx->len, story, ops)) {
            told++;
            if (valid && *valid)
                fprintf(stderr, "%s", story->str);   /* the false story, to fix */
            assert_true(ops->len > 0);
            assert_true(g_str_has_prefix(story->str, "In short: "));
        }
    }
    fl_history_free(h);
    return told;
}

static void test_story_sound(void **state)
{
    static const char *const types[] = { "register", "kv" };
    for (int t = 0; t < 2; t++) {
        int invalid = 0, told = 0;
        for (guint64 seed = 0; seed < 2000; seed++) {
            GString *text = g_string_new(NULL);
            fl_gen_random(types[t], 4 + (guint32)(seed % 9), 2 + (guint32)(seed % 3), seed, text);
            gboolean valid;
            int n = stories(types[t], text, &valid);
            if (valid && n)
                fprintf(stderr, "%s seed %" G_GUINT64_FORMAT ": a story on a valid history\n%s",
                        types[t], seed, text->str);
            assert_false(valid && n);
            invalid += !valid;
            told += !valid && n;
            g_string_free(text, TRUE);
        }
        for (guint64 seed = 0; seed < 200; seed++) {
            FlGenParams p = params(types[t], seed, FALSE);
            GString *text = g_string_new(NULL);
            fl_gen_history(&p, text);
            assert_int_equal(stories(types[t], text, NULL), 0);
            g_string_free(text, TRUE);
        }
        fprintf(stderr, "%s: stories told for %d of %d invalid random histories\n", types[t],
                told, invalid);
        assert_true(told * 4 > invalid);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_random),
        cmocka_unit_test(test_oracle_generated),
        cmocka_unit_test(test_generated_valid),
        cmocka_unit_test(test_generated_invalid),
        cmocka_unit_test(test_edn_same_verdict),
        cmocka_unit_test(test_cluster_decides),
        cmocka_unit_test(test_story_sound),
    };
    /* CHECK_ONLY=test_name runs one test. */
    if (g_getenv("CHECK_ONLY")) cmocka_set_test_filter(g_getenv("CHECK_ONLY"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
