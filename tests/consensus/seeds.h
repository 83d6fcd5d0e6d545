/* tests/consensus/seeds: runs a scenario file over a range of seeds, in
 * process, and asserts on the checker's verdict.  Shared by the consensus
 * protocols' `sim` tests. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Runs @path with seeds @first..@last (check on, no files) and fails the
 * current cmocka test, naming the seed, unless every run's verdict is
 * valid and every expectation of the file holds. */
void seeds_all_valid(const char *path, uint64_t first, uint64_t last);
/* Runs @path with its own seed and fails unless every expectation holds
 * (for a bug scenario: expect.valid false, so the history is invalid). */
void seeds_expect(const char *path);
