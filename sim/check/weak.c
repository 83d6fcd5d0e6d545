/* sim/check/weak.c: dispatch for the weaker models, and lists of models.
 *
 * fl_check_file (check.c) hands a consistency it does not decide itself
 * to fl_weak_check_file, and a comma-separated list to fl_check_list, which
 * calls fl_check_file once per model and puts the verdicts side by side:
 * the table a student reads to place a history in the hierarchy
 * linearizable < sequential < causal < eventual. */
#include "sim/check/weak.h"

#include <string.h>

static const char *const names[] = {
    "linearizable", "sequential-per-key", "atomic-commit", "atomic", "sequential", "sequential-multikey",
    "causal", "causal-memory",
    "causal-convergence", "session", "read-your-writes", "monotonic-reads",
    "monotonic-writes", "writes-follow-reads", "eventual", NULL,
};

/* One line each, for `faultline list consistency`; same order as names. */
static const char *const docs[] = {
    "one order of all operations that respects real time (Herlihy and Wing)",
    "linearizable key by key; weaker than sequential consistency, which does not compose",
    "atomic commitment of transactions: every participant decides the same (txn type)",
    "old name of atomic-commit",
    "one order of all operations that respects each process's order (Lamport)",
    "old name of sequential",
    "causal consistency (CC): no read sees an effect before its cause (Bouajjani et al.)",
    "causal memory (CM): CC where each process's view is a causal order of all writes",
    "causal convergence (CC+, causal+): CC where every replica applies one arbitration order",
    "read-your-writes, monotonic-reads, monotonic-writes and writes-follow-reads together",
    "a client's read reflects its own earlier writes (Terry et al.)",
    "a client's reads never go back in time (Terry et al.)",
    "a client's writes take effect in the order issued (Terry et al.)",
    "a write follows the writes its client had read (Terry et al.)",
    "convergence: once writes stop, the final reads of every replica agree on a written value",
    NULL,
};

const char *const *fl_consistency_names(void)
{
    return names;
}

const char *fl_consistency_doc(const char *name)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return docs[i];
    return NULL;
}

gboolean fl_weak_known(const char *name)
{
    for (int i = 4; names[i]; i++)   /* after the ones check.c decides */
        if (strcmp(names[i], name) == 0) return TRUE;
    return FALSE;
}

FlVerdict fl_weak_check(FlHistory *h, const char *name, gint64 deadline_us,
                        GString *report, json_t *json)
{
    /* Lamport's sequential consistency is over the whole history: one
     * order of all operations (sequential.c).  On a history of one key it
     * is the per-key search, which reads every data model.
     * "sequential-multikey" is its old name. */
    if (strcmp(name, "sequential") == 0 || strcmp(name, "sequential-multikey") == 0) {
        if (h->keys->len <= 1) {
            double left = deadline_us > 0 ? (double)(deadline_us - g_get_monotonic_time()) / 1e6 : 0;
            json_t *sub = NULL;
            GError *err = NULL;
            FlVerdict v = fl_check_history(h, "sequential-per-key",
                                           deadline_us > 0 ? MAX(left, 1e-6) : 0, report,
                                           json ? &sub : NULL, &err);
            g_clear_error(&err);
            if (sub) {
                json_object_update(json, sub);
                json_object_set_new(json, "consistency", json_string("sequential"));
                json_decref(sub);
            }
            return v;
        }
        return fl_check_sequential_multikey(h, deadline_us, report, json);
    }
    if (strcmp(name, "causal") == 0)
        return fl_check_causal(h, FL_CAUSAL_CC, deadline_us, report, json);
    if (strcmp(name, "causal-memory") == 0)
        return fl_check_causal(h, FL_CAUSAL_CM, deadline_us, report, json);
    if (strcmp(name, "causal-convergence") == 0)
        return fl_check_causal(h, FL_CAUSAL_CCV, deadline_us, report, json);
    if (strcmp(name, "session") == 0)
        return fl_check_session(h, FL_SESSION_ALL, report, json);
    if (strcmp(name, "read-your-writes") == 0)
        return fl_check_session(h, FL_SESSION_RYW, report, json);
    if (strcmp(name, "monotonic-reads") == 0)
        return fl_check_session(h, FL_SESSION_MR, report, json);
    if (strcmp(name, "monotonic-writes") == 0)
        return fl_check_session(h, FL_SESSION_MW, report, json);
    if (strcmp(name, "writes-follow-reads") == 0)
        return fl_check_session(h, FL_SESSION_WFR, report, json);
    g_assert(strcmp(name, "eventual") == 0);
    return fl_check_eventual(h, report, json);
}

static const char *word(FlVerdict v)
{
    switch (v) {
    case FL_VERDICT_VALID: return "valid";
    case FL_VERDICT_INVALID: return "invalid";
    default: return "unknown";
    }
}

FlVerdict fl_weak_check_file(const FlHistorySource *src, const FlModel *m, const char *consistency,
                             const char *format, double timeout_s, GString *report,
                             json_t **json_out, GError **err)
{
    gint64 deadline = timeout_s > 0 ? g_get_monotonic_time() + (gint64)(timeout_s * 1e6) : 0;
    FlHistory *h = fl_history_open(src, format, m, err);
    if (!h) return FL_VERDICT_ERROR;
    json_t *json = json_out ? json_object() : NULL;
    json_t *detail = json_out ? json_object() : NULL;
    FlVerdict v = fl_weak_check(h, consistency, deadline, report, detail);
    if (json) {
        json_object_set_new(json, "valid", v == FL_VERDICT_VALID ? json_true()
                                   : v == FL_VERDICT_INVALID ? json_false() : json_null());
        json_object_set_new(json, "model", json_string(m->name));
        json_object_set_new(json, "consistency", json_string(consistency));
        json_object_set_new(json, "operations", json_integer(h->ops->len));
        json_object_set_new(json, "keys", json_integer(MAX(h->keys->len, 1)));
        json_object_set_new(json, "verdict", json_string(word(v)));
        json_object_update(json, detail);
        *json_out = json;
    }
    if (detail) json_decref(detail);
    fl_history_free(h);
    return v;
}

FlVerdict fl_check_list(const FlHistorySource *src, const char *model, const char *consistencies,
                        const char *format, double timeout_s, GString *report,
                        json_t **json_out, GError **err)
{
    g_auto(GStrv) list = g_strsplit(consistencies, ",", -1);
    json_t *verdicts = json_object(), *results = json_object();
    FlVerdict all = FL_VERDICT_VALID;
    g_autoptr(GString) table = g_string_new(NULL);
    guint n = 0;
    for (int i = 0; list[i]; i++) {
        char *name = g_strstrip(list[i]);
        if (!*name) continue;
        if (json_object_get(verdicts, name)) continue;   /* named twice */
        n++;
        g_autoptr(GString) r = report ? g_string_new(NULL) : NULL;
        json_t *j = NULL;
        FlVerdict v = fl_check_source(src, model, name, format, timeout_s, r,
                                    json_out ? &j : NULL, err);
        if (v == FL_VERDICT_ERROR) {
            json_decref(verdicts);
            json_decref(results);
            return v;
        }
        if (v == FL_VERDICT_INVALID) all = FL_VERDICT_INVALID;
        else if (v == FL_VERDICT_UNKNOWN && all == FL_VERDICT_VALID) all = FL_VERDICT_UNKNOWN;
        json_object_set_new(verdicts, name, json_string(word(v)));
        if (j) json_object_set_new(results, name, j);
        if (report) {
            g_string_append_printf(report, "== %s: %s\n%s", name, word(v), r->str);
            g_string_append_printf(table, "  %-22s %s\n", name, word(v));
        }
    }
    if (n == 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "an empty list of consistency models");
        json_decref(verdicts);
        json_decref(results);
        return FL_VERDICT_ERROR;
    }
    if (report) g_string_append_printf(report, "== verdicts (model %s)\n%s", model, table->str);
    if (json_out) {
        *json_out = json_pack("{s:o,s:s,s:s,s:s,s:o,s:o}",
                              "valid", all == FL_VERDICT_VALID ? json_true()
                                     : all == FL_VERDICT_INVALID ? json_false() : json_null(),
                              "model", model, "consistency", consistencies,
                              "verdict", word(all), "verdicts", verdicts, "results", results);
    } else {
        json_decref(verdicts);
        json_decref(results);
    }
    return all;
}
