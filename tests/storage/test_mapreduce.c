/* The MapReduce checker on both sides (outputs equal to the sequential
 * run, and outputs with a word missing, extra or miscounted), the corpus
 * generator, and the MapReduce scenarios: exact outputs, re-execution
 * after a crash, backup tasks against a straggler. */
#include "tests/storage/helpers.h"

#include "protocols/mapreduce/mapreduce.h"
#include "sim/check/corpus.h"
#include "sim/check/mapreduce.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* A history of one job: invoke, then ok with @output. */
static char *job_history(const char *f, int64_t seed, int64_t words, const char *output)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "{\"process\":0,\"type\":\"invoke\",\"f\":\"%s\",\"key\":0,"
                           "\"value\":{\"seed\":%" G_GINT64_FORMAT "}}\n", f, seed);
    json_t *out = json_string(output);
    char *o = json_dumps(out, JSON_ENCODE_ANY);
    g_string_append_printf(s, "{\"process\":0,\"type\":\"ok\",\"f\":\"%s\",\"key\":0,\"value\":"
                           "{\"seed\":%" G_GINT64_FORMAT ",\"words\":%" G_GINT64_FORMAT
                           ",\"output\":%s}}\n", f, seed, words, o);
    free(o);
    json_decref(out);
    return g_string_free(s, FALSE);
}

static void test_corpus_is_reproducible(void **state)
{
    GString *a = g_string_new(NULL), *b = g_string_new(NULL), *c = g_string_new(NULL);
    fl_corpus_doc(7, 100, 1, a);
    fl_corpus_doc(7, 100, 1, b);
    fl_corpus_doc(8, 100, 1, c);
    assert_string_equal(a->str, b->str);
    assert_string_not_equal(a->str, c->str);
    assert_int_equal(fl_corpus_docs(100), 3);
    /* The last document is the rest: 100 - 80 = 20 words. */
    g_string_truncate(a, 0);
    fl_corpus_doc(7, 100, 2, a);
    g_auto(GStrv) w = g_strsplit_set(a->str, " \n", -1);
    guint n = 0;
    for (guint i = 0; w[i]; i++)
        n += *w[i] != '\0';
    assert_int_equal(n, 20);
    g_string_free(a, TRUE);
    g_string_free(b, TRUE);
    g_string_free(c, TRUE);
}

static void test_wordcount_sums_to_words(void **state)
{
    GString *out = g_string_new(NULL);
    fl_mapreduce_expected(3, 1000, FALSE, out);
    guint64 total = 0;
    g_auto(GStrv) lines = g_strsplit(out->str, "\n", -1);
    for (guint i = 0; lines[i] && *lines[i]; i++)
        total += g_ascii_strtoull(strchr(lines[i], ' ') + 1, NULL, 10);
    assert_int_equal(total, 1000);
    g_string_free(out, TRUE);
}

/* The protocol's map and reduce functions, run by hand over every split
 * and partition, give the sequential output: what a fault-free job must. */
static void test_programs_match_the_sequential_run(void **state)
{
    for (uint8_t program = MR_WORDCOUNT; program <= MR_INDEX; program++) {
        for (uint32_t maps = 1; maps <= 9; maps += 4) {
            uint32_t reduces = maps == 1 ? 1 : 3, words = 1234;
            GString ***parts = g_new0(GString **, maps);
            for (uint32_t m = 0; m < maps; m++) {
                parts[m] = g_new0(GString *, reduces);
                for (uint32_t r = 0; r < reduces; r++)
                    parts[m][r] = g_string_new(NULL);
                uint32_t from, to;
                mr_split(words, maps, m, &from, &to);
                mr_map(program, 77, words, from, to, reduces, parts[m]);
            }
            GString *all = g_string_new(NULL), *one = g_string_new(NULL);
            GString **inputs = g_new0(GString *, maps);
            for (uint32_t r = 0; r < reduces; r++) {
                for (uint32_t m = 0; m < maps; m++)
                    inputs[m] = parts[m][r];
                mr_reduce(program, inputs, maps, one);
                g_string_append_len(all, one->str, (gssize)one->len);
            }
            mr_sort_lines(all);
            GString *want = g_string_new(NULL);
            fl_mapreduce_expected(77, words, program == MR_INDEX, want);
            assert_string_equal(all->str, want->str);
            for (uint32_t m = 0; m < maps; m++) {
                for (uint32_t r = 0; r < reduces; r++)
                    g_string_free(parts[m][r], TRUE);
                g_free(parts[m]);
            }
            g_free(parts);
            g_free(inputs);
            g_string_free(all, TRUE);
            g_string_free(one, TRUE);
            g_string_free(want, TRUE);
        }
    }
}

static void test_exact_output_is_valid(void **state)
{
    GString *out = g_string_new(NULL);
    for (int index = 0; index < 2; index++) {
        fl_mapreduce_expected(42, 800, index, out);
        g_autofree char *h = job_history(index ? "index" : "wordcount", 42, 800, out->str);
        json_t *j = NULL;
        assert_int_equal(sx_check(h, "mapreduce", "exact", &j, NULL), FL_VERDICT_VALID);
        assert_int_equal(json_integer_value(json_object_get(j, "jobs")), 1);
        assert_int_equal(json_integer_value(json_object_get(j, "matched")), 1);
        json_decref(j);
    }
    g_string_free(out, TRUE);
}

/* Replaces the first line of @out with @with (NULL: drops it). */
static char *edit_first_line(const char *out, const char *with)
{
    const char *nl = strchr(out, '\n');
    return g_strdup_printf("%s%s", with ? with : "", nl + 1);
}

static void test_wrong_outputs_are_invalid(void **state)
{
    GString *out = g_string_new(NULL);
    fl_mapreduce_expected(42, 800, FALSE, out);
    g_autofree char *word = g_strndup(out->str, strcspn(out->str, " "));

    /* A count off by one (a map output counted twice, say). */
    g_autofree char *line = g_strdup_printf("%s 100000\n", word);
    g_autofree char *wrong = edit_first_line(out->str, line);
    g_autofree char *h1 = job_history("wordcount", 42, 800, wrong);
    json_t *j = NULL;
    char *report = NULL;
    assert_int_equal(sx_check(h1, "mapreduce", "exact", &j, &report), FL_VERDICT_INVALID);
    json_t *m = json_array_get(json_object_get(j, "mismatches"), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "wrong")), 1);
    assert_int_equal(json_integer_value(json_object_get(m, "missing")), 0);
    assert_non_null(strstr(report, "wrong:"));
    json_decref(j);
    g_free(report);

    /* A word lost (a reduce partition dropped a line). */
    g_autofree char *lost = edit_first_line(out->str, NULL);
    g_autofree char *h2 = job_history("wordcount", 42, 800, lost);
    assert_int_equal(sx_check(h2, "mapreduce", "exact", &j, NULL), FL_VERDICT_INVALID);
    m = json_array_get(json_object_get(j, "mismatches"), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "missing")), 1);
    json_decref(j);

    /* A word that is not in the text. */
    g_autofree char *extra = g_strdup_printf("aaaa 1\n%s", out->str);
    g_autofree char *h3 = job_history("wordcount", 42, 800, extra);
    assert_int_equal(sx_check(h3, "mapreduce", "exact", &j, NULL), FL_VERDICT_INVALID);
    m = json_array_get(json_object_get(j, "mismatches"), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "extra")), 1);
    json_decref(j);

    /* The right output for another seed. */
    g_autofree char *h4 = job_history("wordcount", 43, 800, out->str);
    assert_int_equal(sx_check(h4, "mapreduce", "exact", NULL, NULL), FL_VERDICT_INVALID);

    /* An index where a document is missing from one word's list. */
    fl_mapreduce_expected(42, 800, TRUE, out);
    char *comma = strchr(out->str, ',');
    assert_non_null(comma);
    char *end = comma + 1;
    while (*end >= '0' && *end <= '9')
        end++;
    g_string_erase(out, comma - out->str, end - comma);
    g_autofree char *h5 = job_history("index", 42, 800, out->str);
    assert_int_equal(sx_check(h5, "mapreduce", "exact", NULL, NULL), FL_VERDICT_INVALID);
    g_string_free(out, TRUE);
}

static void test_failed_and_timed_out_jobs_say_nothing(void **state)
{
    const char *h =
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"wordcount\",\"key\":0,\"value\":{\"seed\":1}}\n"
        "{\"process\":0,\"type\":\"fail\",\"f\":\"wordcount\",\"key\":0,\"value\":{\"seed\":1}}\n"
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"index\",\"key\":0,\"value\":{\"seed\":2}}\n"
        "{\"process\":1,\"type\":\"info\",\"f\":\"index\",\"key\":0,\"value\":{\"seed\":2}}\n";
    assert_int_equal(sx_check(h, "mapreduce", "exact", NULL, NULL), FL_VERDICT_VALID);
}

static void test_bad_histories_are_errors(void **state)
{
    g_autofree char *e1 = sx_check_error(
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"wordcount\",\"key\":0,\"value\":3}\n",
        "mapreduce", "exact");
    assert_non_null(strstr(e1, "seed"));
    g_autofree char *e2 = sx_check_error(
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"wordcount\",\"key\":0,\"value\":{\"seed\":1}}\n"
        "{\"process\":0,\"type\":\"ok\",\"f\":\"wordcount\",\"key\":0,\"value\":{\"seed\":1}}\n",
        "mapreduce", "exact");
    assert_non_null(strstr(e2, "words"));
    g_autofree char *e3 = sx_check_error("", "mapreduce", "linearizable");
    assert_non_null(strstr(e3, "exact"));
}

static void test_scenarios(void **state)
{
    FlRunResult res;
    sx_run_file("scenarios/07-computation/mapreduce.json", -1, &res);
    assert_true(res.met);
    assert_int_equal(res.verdict, FL_VERDICT_VALID);
    assert_true(sx_check_int(&res, "jobs") >= 20);
    assert_int_equal(sx_counter(&res, "mr_reexecuted"), 0);
    fl_run_result_clear(&res);

    sx_run_file("scenarios/07-computation/mapreduce-worker-crash.json", -1, &res);
    assert_true(res.met);
    assert_true(sx_counter(&res, "mr_reexecuted") >= 1);
    fl_run_result_clear(&res);

    /* Backup tasks beat the straggler: shorter jobs on average. */
    FlRunResult on, off;
    sx_run_file("scenarios/07-computation/mapreduce-straggler-backup-true.json", -1, &on);
    sx_run_file("scenarios/07-computation/mapreduce-straggler-backup-false.json", -1, &off);
    assert_true(on.met);
    assert_true(off.met);
    double mean_on = sx_counter(&on, "mr_job_time_ms") / sx_counter(&on, "mr_jobs");
    double mean_off = sx_counter(&off, "mr_job_time_ms") / sx_counter(&off, "mr_jobs");
    printf("# mean job time: %.1f ms with backup tasks, %.1f ms without (speedup %.2f)\n",
           mean_on, mean_off, mean_off / mean_on);
    assert_true(mean_off > 2 * mean_on);
    fl_run_result_clear(&on);
    fl_run_result_clear(&off);
}

/* Several seeds of the nemesis scenario: any schedule, exact outputs. */
static void test_nemesis_seeds(void **state)
{
    for (int64_t seed = 1; seed <= 8; seed++) {
        FlRunResult res;
        sx_run_file("scenarios/07-computation/mapreduce-nemesis.json", seed, &res);
        if (res.verdict != FL_VERDICT_VALID)
            fail_msg("seed %" G_GINT64_FORMAT ": %s", seed,
                     res.check_report ? res.check_report->str : "");
        fl_run_result_clear(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_is_reproducible),
        cmocka_unit_test(test_wordcount_sums_to_words),
        cmocka_unit_test(test_programs_match_the_sequential_run),
        cmocka_unit_test(test_exact_output_is_valid),
        cmocka_unit_test(test_wrong_outputs_are_invalid),
        cmocka_unit_test(test_failed_and_timed_out_jobs_say_nothing),
        cmocka_unit_test(test_bad_histories_are_errors),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_nemesis_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
