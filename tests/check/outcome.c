/* tests/check/outcome.c: see outcome.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/check/outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Outcome outcome_check(const FlHistorySource *src, const char *model, const char *consistency,
                      const char *format)
{
    GString *report = g_string_new(NULL);
    json_t *json = NULL;
    GError *err = NULL;
    Outcome o = { .v = fl_check_source(src, model, consistency, format, 60, report, &json, &err) };
    o.report = g_string_free(report, FALSE);
    if (json) {
        /* "steps" counts the search's work: the same for the same input. */
        char *s = json_dumps(json, JSON_SORT_KEYS);
        o.json = g_strdup(s);
        free(s);
        json_decref(json);
    }
    if (err) {
        o.error = g_strdup(err->message);
        g_error_free(err);
    }
    return o;
}

void outcome_clear(Outcome *o)
{
    g_free(o->report);
    g_free(o->json);
    g_free(o->error);
    memset(o, 0, sizeof *o);
}

static gboolean same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

void outcome_assert_same(const Outcome *a, const Outcome *b, const char *what)
{
    if (a->v == b->v && same_str(a->report, b->report) && same_str(a->json, b->json) &&
        same_str(a->error, b->error))
        return;
    fprintf(stderr, "%s: verdict %d / %d\n--- report\n%s\n--- report\n%s\n--- json\n%s\n"
            "--- json\n%s\n--- error\n%s\n--- error\n%s\n", what, a->v, b->v,
            a->report, b->report, a->json ? a->json : "(none)", b->json ? b->json : "(none)",
            a->error ? a->error : "(none)", b->error ? b->error : "(none)");
    fail_msg("%s: the two checks differ", what);
}
