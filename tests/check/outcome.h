/* tests/check/outcome.h: what one check gives (verdict, text report, JSON
 * result, error message), kept as strings so that two ways of checking the
 * same history can be compared byte for byte. */
#pragma once

#include "sim/check/check.h"

typedef struct {
    FlVerdict v;
    char *report;
    char *json;    /* sorted keys */
    char *error;
} Outcome;

/* Checks @src (borrowed) as fl_check_source does, with a 60 s limit. */
Outcome outcome_check(const FlHistorySource *src, const char *model, const char *consistency,
                      const char *format);
void outcome_clear(Outcome *o);
/* Asserts (cmocka) that @a and @b are the same, naming @what on failure. */
void outcome_assert_same(const Outcome *a, const Outcome *b, const char *what);
