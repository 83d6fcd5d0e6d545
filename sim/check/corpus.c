/* sim/check/corpus.c: see corpus.h.
 *
 * Word i of the vocabulary is i written in bijective base 20 with a
 * syllable per digit ("ka", "lo", ...), so words are distinct and
 * pronounceable.  Word frequencies follow Zipf's law through integer
 * weights (no floating point: every machine draws the same words). */
#include "sim/check/corpus.h"

#include <stdbool.h>
#include <string.h>

static const char *const syllables[20] = {
    "ka", "lo", "mi", "nu", "pe", "ra", "so", "ti", "vu", "ze",
    "ba", "do", "fi", "gu", "he", "ja", "ko", "li", "mu", "ne",
};

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void vocabulary_word(uint32_t i, GString *out)
{
    char digits[8];
    int n = 0;
    uint32_t x = i + 1;   /* bijective base 20: 1 .. 20 are one syllable */
    while (x > 0 && n < 8) {
        x -= 1;
        digits[n++] = (char)(x % 20);
        x /= 20;
    }
    while (n > 0)
        g_string_append(out, syllables[(int)digits[--n]]);
}

uint32_t fl_corpus_docs(uint32_t words)
{
    return (words + FL_CORPUS_DOC_WORDS - 1) / FL_CORPUS_DOC_WORDS;
}

/* Zipf rank drawn from @r: weight of rank k is floor(2^20 / (k + 1)).
 * The cumulative weights are a constant table, filled on first use
 * (the same on every machine), and searched by bisection: drawing was a
 * scan of the whole vocabulary per word, over half of a MapReduce run. */
static uint64_t cumulative[FL_CORPUS_VOCABULARY];

static uint32_t zipf_rank(uint64_t r)
{
    if (cumulative[FL_CORPUS_VOCABULARY - 1] == 0) {
        uint64_t total = 0;
        for (uint32_t k = 0; k < FL_CORPUS_VOCABULARY; k++)
            cumulative[k] = total += (1u << 20) / (k + 1);
    }
    uint64_t x = r % cumulative[FL_CORPUS_VOCABULARY - 1];
    uint32_t lo = 0, hi = FL_CORPUS_VOCABULARY - 1;   /* first k with x < cumulative[k] */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (x < cumulative[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void fl_corpus_doc(uint64_t seed, uint32_t words, uint32_t doc, GString *out)
{
    g_assert(doc < fl_corpus_docs(words));
    uint32_t first = doc * FL_CORPUS_DOC_WORDS;
    uint32_t n = MIN(FL_CORPUS_DOC_WORDS, words - first);
    uint64_t state = mix(seed ^ mix((uint64_t)doc + 0x5bd1e995ULL));
    bool sentence_start = true;
    for (uint32_t i = 0; i < n; i++) {
        state = mix(state);
        size_t at = out->len;
        vocabulary_word(zipf_rank(state), out);
        if (sentence_start)
            out->str[at] = g_ascii_toupper(out->str[at]);
        uint32_t r = (uint32_t)(state >> 40) % 16;
        sentence_start = false;
        if (i + 1 == n || r == 0) {
            g_string_append_c(out, '.');
            sentence_start = true;
        } else if (r == 1) {
            g_string_append_c(out, ',');
        }
        g_string_append_c(out, i + 1 == n ? '\n' : (i % 12 == 11 ? '\n' : ' '));
    }
}
