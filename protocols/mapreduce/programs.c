/* The user programs: word count and inverted index, as map and reduce
 * functions with a combiner, over the corpus of sim/check/corpus.h.
 *
 * Tokens are maximal runs of ASCII letters, lowercased.  Intermediate
 * lines are "word\tvalue\n": a count for word count (after the combiner),
 * an ascending list of document numbers "3,17,40" for the index.  Every
 * list of lines is sorted before it leaves a function, so nothing depends
 * on hash-table order. */
#include "protocols/mapreduce/mapreduce.h"

#include "sim/check/corpus.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: which reduce task owns a word. */
static uint32_t partition_of(const char *w, size_t len, uint32_t reduces)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)w[i];
        h *= 16777619u;
    }
    return h % reduces;
}

void mr_split(uint32_t words, uint32_t maps, uint32_t m, uint32_t *doc_from, uint32_t *doc_to)
{
    uint64_t docs = fl_corpus_docs(words);
    *doc_from = (uint32_t)(docs * m / maps);
    *doc_to = (uint32_t)(docs * (m + 1) / maps);
}

typedef struct Acc {
    uint64_t count;          /* word count */
    GArray *docs;            /* index: uint32_t, ascending, unique */
} Acc;

static void acc_free(gpointer p)
{
    Acc *a = p;
    if (a->docs)
        g_array_free(a->docs, TRUE);
    g_free(a);
}

static Acc *acc_get(GHashTable *t, const char *w, size_t len)
{
    char *key = g_strndup(w, len);
    Acc *a = g_hash_table_lookup(t, key);
    if (a) {
        g_free(key);
        return a;
    }
    a = g_new0(Acc, 1);
    g_hash_table_insert(t, key, a);
    return a;
}

static void add_doc(Acc *a, uint32_t doc)
{
    if (!a->docs)
        a->docs = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    /* Documents arrive in ascending order within one input. */
    if (a->docs->len == 0 || g_array_index(a->docs, uint32_t, a->docs->len - 1) < doc)
        g_array_append_val(a->docs, doc);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of @t, sorted (borrowed from the table). */
static GPtrArray *sorted_keys(GHashTable *t)
{
    GPtrArray *keys = g_ptr_array_new();
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(keys, k);
    qsort(keys->pdata, keys->len, sizeof(gpointer), cmp_str);
    return keys;
}

static void append_docs(GString *out, const GArray *docs)
{
    for (guint i = 0; docs && i < docs->len; i++)
        g_string_append_printf(out, "%s%u", i ? "," : "", g_array_index(docs, uint32_t, i));
}

uint32_t mr_map(uint8_t program, uint64_t seed, uint32_t words, uint32_t doc_from,
                uint32_t doc_to, uint32_t reduces, GString **parts)
{
    g_autoptr(GHashTable) t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, acc_free);
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GString) word = g_string_new(NULL);
    uint32_t seen = 0;
    for (uint32_t d = doc_from; d < doc_to; d++) {
        g_string_truncate(text, 0);
        fl_corpus_doc(seed, words, d, text);
        for (size_t i = 0; i <= text->len; i++) {
            char c = i < text->len ? text->str[i] : ' ';
            if (g_ascii_isalpha(c)) {
                g_string_append_c(word, g_ascii_tolower(c));
                continue;
            }
            if (word->len == 0)
                continue;
            Acc *a = acc_get(t, word->str, word->len);
            if (program == MR_WORDCOUNT)
                a->count++;
            else
                add_doc(a, d);
            seen++;
            g_string_truncate(word, 0);
        }
    }
    g_autoptr(GPtrArray) keys = sorted_keys(t);
    for (uint32_t r = 0; r < reduces; r++)
        g_string_truncate(parts[r], 0);
    for (guint i = 0; i < keys->len; i++) {
        const char *w = g_ptr_array_index(keys, i);
        const Acc *a = g_hash_table_lookup(t, w);
        GString *p = parts[partition_of(w, strlen(w), reduces)];
        g_string_append_printf(p, "%s\t", w);
        if (program == MR_WORDCOUNT)
            g_string_append_printf(p, "%" PRIu64, a->count);
        else
            append_docs(p, a->docs);
        g_string_append_c(p, '\n');
    }
    return seen;
}

/* Parses "3,17,40" into @a's documents (merging, keeping order unique). */
static void merge_docs(Acc *a, const char *p, const char *end)
{
    g_autoptr(GArray) in = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    while (p < end) {
        char *stop;
        uint64_t v = g_ascii_strtoull(p, &stop, 10);
        if (stop == p || v > UINT32_MAX)
            return;
        uint32_t d = (uint32_t)v;
        g_array_append_val(in, d);
        p = stop < end && *stop == ',' ? stop + 1 : end;
    }
    if (!a->docs)
        a->docs = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    g_autoptr(GArray) merged = g_array_sized_new(FALSE, FALSE, sizeof(uint32_t),
                                                 a->docs->len + in->len);
    guint i = 0, j = 0;
    while (i < a->docs->len || j < in->len) {
        uint32_t x = i < a->docs->len ? g_array_index(a->docs, uint32_t, i) : UINT32_MAX;
        uint32_t y = j < in->len ? g_array_index(in, uint32_t, j) : UINT32_MAX;
        uint32_t v = x < y ? x : y;
        if (x == v)
            i++;
        if (y == v)
            j++;
        if (merged->len == 0 || g_array_index(merged, uint32_t, merged->len - 1) < v)
            g_array_append_val(merged, v);
    }
    g_array_free(a->docs, TRUE);
    a->docs = g_steal_pointer(&merged);
}

uint32_t mr_reduce(uint8_t program, GString *const *inputs, uint32_t n, GString *out)
{
    g_autoptr(GHashTable) t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, acc_free);
    uint32_t lines = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *p = inputs[i]->str, *end = p + inputs[i]->len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *eol = nl ? nl : end;
            const char *tab = memchr(p, '\t', (size_t)(eol - p));
            if (tab && tab > p) {
                Acc *a = acc_get(t, p, (size_t)(tab - p));
                if (program == MR_WORDCOUNT)
                    a->count += g_ascii_strtoull(tab + 1, NULL, 10);
                else
                    merge_docs(a, tab + 1, eol);
                lines++;
            }
            p = eol + 1;
        }
    }
    g_autoptr(GPtrArray) keys = sorted_keys(t);
    g_string_truncate(out, 0);
    for (guint i = 0; i < keys->len; i++) {
        const char *w = g_ptr_array_index(keys, i);
        const Acc *a = g_hash_table_lookup(t, w);
        g_string_append_printf(out, "%s ", w);
        if (program == MR_WORDCOUNT)
            g_string_append_printf(out, "%" PRIu64, a->count);
        else
            append_docs(out, a->docs);
        g_string_append_c(out, '\n');
    }
    return lines;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void mr_sort_lines(GString *text)
{
    g_auto(GStrv) lines = g_strsplit(text->str, "\n", -1);
    guint n = g_strv_length(lines);
    if (n > 0 && lines[n - 1][0] == '\0')
        n--;   /* the empty piece after the last newline */
    qsort(lines, n, sizeof(char *), cmp_line);
    g_string_truncate(text, 0);
    for (guint i = 0; i < n; i++) {
        g_string_append(text, lines[i]);
        g_string_append_c(text, '\n');
    }
}
