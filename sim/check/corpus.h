/* sim/check/corpus.h: the text a MapReduce job reads, made from a seed.
 *
 * A corpus is `words` words of pseudo-English in documents of
 * FL_CORPUS_DOC_WORDS words (the last one shorter), drawn from a fixed
 * vocabulary with Zipf frequencies, with capitals, commas, full stops and
 * line breaks, so that a map function has to tokenise.  The same (seed,
 * words) gives the same bytes everywhere: the MapReduce workers read their
 * splits from it (as they would read a file system), and the checker
 * regenerates it from the seed and size that a job's history holds.
 *
 * The generator is self-contained (no engine random streams), so the
 * checker library needs nothing else. */
#pragma once

#include <glib.h>
#include <stdint.h>

#define FL_CORPUS_DOC_WORDS 40
#define FL_CORPUS_VOCABULARY 400
#define FL_CORPUS_MAX_WORDS 1000000

/* Number of documents of a corpus of @words words. */
uint32_t fl_corpus_docs(uint32_t words);
/* Appends document @doc (< fl_corpus_docs(words)) of corpus (@seed,
 * @words) to @out. */
void fl_corpus_doc(uint64_t seed, uint32_t words, uint32_t doc, GString *out);
