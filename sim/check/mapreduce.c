/* sim/check/mapreduce.c: see mapreduce.h.
 *
 * Design notes.
 *  1. The `mapreduce` model below exists for the loader: it names the two
 *     operations and checks the shapes of their values, so pairing and
 *     process rules are those of every history.  Values are read again
 *     from the events when the check needs them.
 *  2. The sequential run is written here, apart from the protocol's map
 *     and reduce functions, so that a bug in those cannot hide itself.
 *  3. A difference is explained by words: missing (expected, absent),
 *     extra (present, not expected) and wrong (both, different values),
 *     with the first differing line of each kind shown. */
#include "sim/check/mapreduce.h"
#include "sim/check/corpus.h"
#include "sim/check/history.h"

#include <stdlib.h>
#include <string.h>

#define SHOWN_MAX 10
#define LISTED_MAX 100

enum { F_WORDCOUNT, F_INDEX };
static const char *const mr_ops[] = { "wordcount", "index", NULL };

static gboolean mr_parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok, GString *why)
{
    if (v->kind != FL_VAL_MAP) {
        g_string_append_printf(why, "expected a job {\"seed\", ...}, got %s", fl_val_kind_name(v));
        return FALSE;
    }
    const FlVal *seed = fl_val_get(v, "seed");
    if (!seed || seed->kind != FL_VAL_INT || seed->i < 0) {
        g_string_append(why, "expected a non-negative integer \"seed\"");
        return FALSE;
    }
    if (!ok)
        return TRUE;
    const FlVal *words = fl_val_get(v, "words");
    const FlVal *out = fl_val_get(v, "output");
    if (!words || words->kind != FL_VAL_INT || words->i < 1 || words->i > FL_CORPUS_MAX_WORDS) {
        g_string_append_printf(why, "expected \"words\", an integer from 1 to %d",
                               FL_CORPUS_MAX_WORDS);
        return FALSE;
    }
    if (!out || out->kind != FL_VAL_STR) {
        g_string_append(why, "expected \"output\", a string");
        return FALSE;
    }
    return TRUE;
}

static const FlModel mr_model = {
    .name = "mapreduce",
    .ops = mr_ops,
    .parse = mr_parse,
};

/* ---- The sequential run (note 2) ---------------------------------------- */

typedef struct {
    guint64 count;
    GArray *docs;   /* guint32 ascending */
} Entry;

static void entry_free(gpointer p)
{
    Entry *e = p;
    if (e->docs)
        g_array_free(e->docs, TRUE);
    g_free(e);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fl_mapreduce_expected(uint64_t seed, uint32_t words, gboolean index, GString *out)
{
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, entry_free);
    GString *text = g_string_new(NULL), *w = g_string_new(NULL);
    uint32_t docs = fl_corpus_docs(words);
    for (uint32_t d = 0; d < docs; d++) {
        g_string_truncate(text, 0);
        fl_corpus_doc(seed, words, d, text);
        for (gsize i = 0; i <= text->len; i++) {
            char c = i < text->len ? text->str[i] : '\0';
            if (g_ascii_isalpha(c)) {
                g_string_append_c(w, g_ascii_tolower(c));
            } else if (w->len) {
                Entry *e = g_hash_table_lookup(t, w->str);
                if (!e) {
                    e = g_new0(Entry, 1);
                    e->docs = g_array_new(FALSE, FALSE, sizeof(guint32));
                    g_hash_table_insert(t, g_strdup(w->str), e);
                }
                e->count++;
                if (e->docs->len == 0 || g_array_index(e->docs, guint32, e->docs->len - 1) != d)
                    g_array_append_val(e->docs, d);
                g_string_truncate(w, 0);
            }
        }
    }
    guint n;
    gpointer *keys = g_hash_table_get_keys_as_array(t, &n);
    qsort(keys, n, sizeof(gpointer), cmp_cstr);
    g_string_truncate(out, 0);
    for (guint i = 0; i < n; i++) {
        const Entry *e = g_hash_table_lookup(t, keys[i]);
        g_string_append_printf(out, "%s ", (const char *)keys[i]);
        if (!index) {
            g_string_append_printf(out, "%" G_GUINT64_FORMAT, e->count);
        } else {
            for (guint k = 0; k < e->docs->len; k++)
                g_string_append_printf(out, "%s%u", k ? "," : "", g_array_index(e->docs, guint32, k));
        }
        g_string_append_c(out, '\n');
    }
    g_free(keys);
    g_hash_table_unref(t);
    g_string_free(text, TRUE);
    g_string_free(w, TRUE);
}

/* ---- Comparing (note 3) ---------------------------------------------- */

typedef struct {
    guint missing, extra, wrong;
    char *first_missing, *first_extra, *first_wrong_expected, *first_wrong_got;
} Diff;

static void diff_clear(Diff *d)
{
    g_free(d->first_missing);
    g_free(d->first_extra);
    g_free(d->first_wrong_expected);
    g_free(d->first_wrong_got);
}

/* Splits sorted lines "word rest"; compares by word. */
static void diff_outputs(const char *exp, const char *got, Diff *d)
{
    gchar **a = g_strsplit(exp, "\n", -1), **b = g_strsplit(got, "\n", -1);
    guint na = g_strv_length(a), nb = g_strv_length(b);
    if (na && !*a[na - 1]) na--;
    if (nb && !*b[nb - 1]) nb--;
    /* The output should be sorted; if it is not, compare it sorted anyway
     * and let the byte comparison have said it differs. */
    qsort(b, nb, sizeof(char *), cmp_cstr);
    guint i = 0, j = 0;
    while (i < na || j < nb) {
        const char *x = i < na ? a[i] : NULL, *y = j < nb ? b[j] : NULL;
        gsize lx = x ? strcspn(x, " ") : 0, ly = y ? strcspn(y, " ") : 0;
        int c = !x ? 1 : !y ? -1 : strncmp(x, y, MAX(lx, ly) + 0);
        if (x && y && c == 0 && lx != ly)
            c = lx < ly ? -1 : 1;
        if (c < 0) {
            if (!d->missing++) d->first_missing = g_strdup(x);
            i++;
        } else if (c > 0) {
            if (!d->extra++) d->first_extra = g_strdup(y);
            j++;
        } else {
            if (strcmp(x, y) != 0 && !d->wrong++) {
                d->first_wrong_expected = g_strdup(x);
                d->first_wrong_got = g_strdup(y);
            }
            i++;
            j++;
        }
    }
    g_strfreev(a);
    g_strfreev(b);
}

FlVerdict fl_check_mapreduce(const FlHistorySource *src, const char *consistency, const char *format,
                             GString *report, json_t **json_out, GError **err)
{
    if (json_out)
        *json_out = NULL;
    if (consistency && strcmp(consistency, "exact") != 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "unknown consistency \"%s\" for model mapreduce (expected exact)", consistency);
        return FL_VERDICT_ERROR;
    }
    FlHistory *h = fl_history_open(src, format, &mr_model, err);
    if (!h)
        return FL_VERDICT_ERROR;
    guint jobs = 0, matched = 0, shown = 0;
    json_t *mism = json_array();
    GString *exp = g_string_new(NULL);
    for (guint i = 0; i < h->ops->len; i++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        if (op->status != FL_OP_OK)
            continue;
        const FlVal *ev = fl_reader_event_at(h->reader, op->ret_offset, op->ret_line);
        const FlVal *v = fl_val_get(ev, "value");
        gint64 seed = fl_val_get(v, "seed")->i;
        gint64 words = fl_val_get(v, "words")->i;
        const FlVal *outv = fl_val_get(v, "output");
        g_autofree char *got = g_strndup(outv->str.s, outv->str.len);
        const char *fname = mr_ops[op->f];
        jobs++;
        fl_mapreduce_expected((uint64_t)seed, (uint32_t)words, op->f == F_INDEX, exp);
        if (exp->len == outv->str.len && memcmp(exp->str, outv->str.s, exp->len) == 0) {
            matched++;
            continue;
        }
        Diff d = { 0 };
        diff_outputs(exp->str, got, &d);
        if (report && shown++ < SHOWN_MAX) {
            g_string_append_printf(report, "%s job of seed %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
                                   " words, process %" G_GINT64_FORMAT ", line %u): output differs "
                                   "from the sequential run: %u words missing, %u extra, %u wrong%s\n",
                                   fname, seed, words, op->process, op->ret_line, d.missing, d.extra,
                                   d.wrong, d.missing + d.extra + d.wrong ? "" : " (same lines, another order)");
            if (d.first_missing)
                g_string_append_printf(report, "  missing: \"%s\"\n", d.first_missing);
            if (d.first_extra)
                g_string_append_printf(report, "  extra:   \"%s\"\n", d.first_extra);
            if (d.first_wrong_expected)
                g_string_append_printf(report, "  wrong:   expected \"%s\", got \"%s\"\n",
                                       d.first_wrong_expected, d.first_wrong_got);
        }
        if (json_array_size(mism) < LISTED_MAX) {
            json_t *m = json_pack("{s:s,s:I,s:I,s:I,s:i,s:i,s:i,s:i}", "f", fname, "seed",
                                  (json_int_t)seed, "words", (json_int_t)words, "process",
                                  (json_int_t)op->process, "line", (int)op->ret_line,
                                  "missing", (int)d.missing, "extra", (int)d.extra, "wrong",
                                  (int)d.wrong);
            if (d.first_missing) json_object_set_new(m, "first_missing", json_string(d.first_missing));
            if (d.first_extra) json_object_set_new(m, "first_extra", json_string(d.first_extra));
            if (d.first_wrong_expected) {
                json_object_set_new(m, "first_wrong_expected", json_string(d.first_wrong_expected));
                json_object_set_new(m, "first_wrong_got", json_string(d.first_wrong_got));
            }
            json_array_append_new(mism, m);
        }
        diff_clear(&d);
    }
    g_string_free(exp, TRUE);
    FlVerdict verdict = matched == jobs ? FL_VERDICT_VALID : FL_VERDICT_INVALID;
    if (report) {
        if (jobs - matched > SHOWN_MAX)
            g_string_append_printf(report, "... and %u more wrong jobs\n", jobs - matched - SHOWN_MAX);
        g_string_append_printf(report, "%u operations, %u completed jobs, %u with the exact "
                               "sequential output%s\n", h->ops->len, jobs, matched,
                               verdict == FL_VERDICT_VALID ? "" : ": outputs differ");
    }
    if (json_out) {
        json_t *j = json_object();
        json_object_set_new(j, "valid", json_boolean(verdict == FL_VERDICT_VALID));
        json_object_set_new(j, "model", json_string("mapreduce"));
        json_object_set_new(j, "consistency", json_string("exact"));
        json_object_set_new(j, "operations", json_integer(h->ops->len));
        json_object_set_new(j, "keys", json_integer(MAX(h->keys->len, 1)));
        json_object_set_new(j, "verdict", json_string(verdict == FL_VERDICT_VALID ? "valid" : "invalid"));
        json_object_set_new(j, "jobs", json_integer(jobs));
        json_object_set_new(j, "matched", json_integer(matched));
        json_object_set_new(j, "mismatches", mism);
        *json_out = j;
    } else {
        json_decref(mism);
    }
    fl_history_free(h);
    return verdict;
}
