/* sim/check/check.c: `faultline check`, fl_check_file and fl_check_buffer.
 *
 * Loads a history, splits it by key (P-compositionality: a history is
 * linearizable, or sequentially consistent, when each key's sub-history is,
 * because the keys are independent objects), decides each key with
 * fl_search in the order the keys first appear, and explains the first key
 * that fails.  Output never depends on hash-table order.
 */
#include "sim/check/check.h"
#include "sim/check/atomic.h"
#include "sim/check/elle.h"
#include "sim/check/story.h"
#include "sim/check/files.h"
#include "sim/check/history.h"
#include "sim/check/events.h"
#include "sim/check/mapreduce.h"
#include "sim/check/stream.h"
#include "sim/check/search.h"
#include "sim/check/weak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX_SHOWN 10

static const char *verdict_word(FlVerdict v)
{
    switch (v) {
    case FL_VERDICT_VALID: return "valid";
    case FL_VERDICT_INVALID: return "invalid";
    case FL_VERDICT_UNKNOWN: return "unknown";
    case FL_VERDICT_ERROR: return "error";
    }
    return "?";
}

static const char *status_word(const FlOp *op)
{
    switch (op->status) {
    case FL_OP_OK: return "ok";
    case FL_OP_FAIL: return "fail";
    default: return op->ret_line ? "info" : "open";
    }
}

/* One line a student can read: process, f, value, invocation and
 * completion (time when the history has it, and line). */
static void show_op(FlHistory *h, guint32 idx, GString *out)
{
    const FlOp *op = &g_array_index(h->ops, FlOp, idx);
    GString *v = g_string_new(NULL);
    fl_atoms_to_json(h->ctx.atoms, op->shown, v);
    g_string_append_printf(out, "  process %-4" G_GINT64_FORMAT " %-8s %-14s",
                           op->process, h->model->ops[op->f], v->str);
    g_string_free(v, TRUE);
    /* Times of a millisecond or more (a simulator's or Jepsen's
     * nanoseconds) read better in ms; small ones are a hand-written
     * history's own numbers. */
    if (op->inv_time >= 1000000)
        g_string_append_printf(out, " invoked %.1f ms (line %u)", (double)op->inv_time / 1e6,
                               op->inv_line);
    else if (op->inv_time >= 0)
        g_string_append_printf(out, " invoked %" G_GINT64_FORMAT " (line %u)",
                               op->inv_time, op->inv_line);
    else
        g_string_append_printf(out, " invoked at line %u", op->inv_line);
    if (op->ret_line == 0)
        g_string_append(out, ", never completed");
    else if (op->ret_time >= 1000000)
        g_string_append_printf(out, ", %s %.1f ms (line %u)", status_word(op),
                               (double)op->ret_time / 1e6, op->ret_line);
    else if (op->ret_time >= 0)
        g_string_append_printf(out, ", %s %" G_GINT64_FORMAT " (line %u)",
                               status_word(op), op->ret_time, op->ret_line);
    else
        g_string_append_printf(out, ", %s at line %u", status_word(op), op->ret_line);
    GString *extra = g_string_new(NULL);
    fl_history_extra(h, op, extra);
    if (extra->len > 2) g_string_append_printf(out, "  {%s}", extra->str + 2);
    g_string_free(extra, TRUE);
    g_string_append_c(out, '\n');
}

static json_t *json_of_text(const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    return j ? j : json_string(text);
}

static json_t *json_op(FlHistory *h, guint32 idx)
{
    const FlOp *op = &g_array_index(h->ops, FlOp, idx);
    GString *v = g_string_new(NULL);
    fl_atoms_to_json(h->ctx.atoms, op->shown, v);
    json_t *o = json_pack("{s:I, s:s, s:o, s:s, s:i}",
                          "process", (json_int_t)op->process,
                          "f", h->model->ops[op->f],
                          "value", json_of_text(v->str),
                          "type", status_word(op),
                          "invoke_line", (int)op->inv_line);
    g_string_free(v, TRUE);
    if (op->ret_line) json_object_set_new(o, "complete_line", json_integer(op->ret_line));
    if (op->inv_time >= 0) json_object_set_new(o, "invoke_time", json_integer(op->inv_time));
    if (op->ret_time >= 0) json_object_set_new(o, "complete_time", json_integer(op->ret_time));
    if (op->key != FL_ATOM_NONE) {
        GString *k = g_string_new(NULL);
        fl_atoms_to_json(h->ctx.atoms, op->key, k);
        json_object_set_new(o, "key", json_of_text(k->str));
        g_string_free(k, TRUE);
    }
    GString *extra = g_string_new("{");
    fl_history_extra(h, op, extra);
    if (extra->len > 1) {
        g_string_erase(extra, 1, 2);
        g_string_append_c(extra, '}');
        json_t *x = json_loads(extra->str, 0, NULL);
        if (x) json_object_set_new(o, "fields", x);
    }
    g_string_free(extra, TRUE);
    return o;
}

static json_t *json_ops(FlHistory *h, const guint32 *idx, guint n)
{
    json_t *a = json_array();
    for (guint i = 0; i < n; i++) json_array_append_new(a, json_op(h, idx[i]));
    return a;
}

/* The explanation of an invalid key, as text and as data. */
static void explain(FlHistory *h, FlAtom key, FlConsistency c, const guint32 *idx, guint nidx,
                    const FlSearchResult *r, GString *report, json_t *json)
{
    /* The contradiction in the history's own terms first (story.h), when
     * it has a textbook shape; the search's account after it. */
    g_autoptr(GString) story = g_string_new(NULL);
    g_autoptr(GArray) story_ops = g_array_new(FALSE, FALSE, sizeof(guint32));
    if (c == FL_CONSISTENCY_LINEARIZABLE && !fl_story_register(h, idx, nidx, story, story_ops))
        fl_story_append(h, idx, nidx, story, story_ops);
    const char *what = c == FL_CONSISTENCY_LINEARIZABLE ? "linearizable"
                                                       : "sequentially consistent";
    g_autoptr(GString) keytext = g_string_new(NULL);
    if (key != FL_ATOM_NONE) fl_atoms_to_json(h->ctx.atoms, key, keytext);
    guint n = r->prefix->len;
    guint from = n > PREFIX_SHOWN ? n - PREFIX_SHOWN : 0;
    if (report) {
        g_string_append_printf(report, "The history is not %s for model %s%s%s.\n",
                               what, h->model->name, key != FL_ATOM_NONE ? ", key " : "",
                               keytext->str);
        if (story->len) {
            g_string_append(report, story->str);
            g_string_append(report, "The operations it names:\n");
            for (guint i = 0; i < story_ops->len; i++)
                show_op(h, g_array_index(story_ops, guint32, i), report);
            g_string_append(report, "How the checker's search got there:\n");
        }
        if (r->why->len) {
            /* Decided by the cluster check (search.c note 11); the search
             * found no ordered prefix within its budget. */
            g_string_append_printf(report, "This operation cannot be placed: %s.\n", r->why->str);
            show_op(h, r->stuck, report);
            for (guint i = 0; i < r->concurrent->len; i++)
                show_op(h, g_array_index(r->concurrent, guint32, i), report);
            goto json;
        }
        if (n == 0) {
            g_string_append(report, "Not even its first operation can be placed.\n");
        } else {
            g_string_append_printf(report,
                "The longest prefix that could be ordered has %u operation%s%s:\n",
                n, n == 1 ? "" : "s", from ? ", of which the last ones are" : "");
            if (from) g_string_append_printf(report, "  ... %u earlier operations\n", from);
            for (guint i = from; i < n; i++)
                show_op(h, g_array_index(r->prefix, guint32, i), report);
        }
        g_string_append_printf(report, "After it the %s holds: %s\n", h->model->name,
                               r->state->str);
        g_string_append(report, "This operation could not be placed next:\n");
        show_op(h, r->stuck, report);
        if (r->waiting->len) {
            g_string_append_printf(report, "It cannot move on from %s: nothing left can "
                                   "produce that value again, and these operations still need it:\n",
                                   r->state->str);
            for (guint i = 0; i < r->waiting->len; i++)
                show_op(h, g_array_index(r->waiting, guint32, i), report);
        }
        if (r->concurrent->len) {
            g_string_append_printf(report, "%s:\n", c == FL_CONSISTENCY_LINEARIZABLE
                ? "Operations open beside it, none of which could be placed either"
                : "The next operations of the other processes, none of which could be placed either");
            for (guint i = 0; i < r->concurrent->len; i++)
                show_op(h, g_array_index(r->concurrent, guint32, i), report);
        }
    }
json:
    if (json) {
        json_t *cx = json_object();
        if (key != FL_ATOM_NONE) json_object_set_new(cx, "key", json_of_text(keytext->str));
        if (story->len) {
            g_autofree char *t = g_strndup(story->str + strlen("In short: "),
                                           story->len - strlen("In short: ") - 1);
            json_object_set_new(cx, "story", json_string(t));
            json_object_set_new(cx, "story_ops", json_ops(h, (const guint32 *)story_ops->data,
                                                          story_ops->len));
        }
        json_object_set_new(cx, "prefix_length", json_integer(n));
        json_object_set_new(cx, "prefix", json_ops(h, (const guint32 *)r->prefix->data + from, n - from));
        if (r->why->len) json_object_set_new(cx, "reason", json_string(r->why->str));
        else json_object_set_new(cx, "state", json_string(r->state->str));
        json_object_set_new(cx, "stuck", json_op(h, r->stuck));
        json_object_set_new(cx, "concurrent", json_ops(h, (const guint32 *)r->concurrent->data,
                                                       r->concurrent->len));
        json_object_set_new(cx, "waiting", json_ops(h, (const guint32 *)r->waiting->data,
                                                    r->waiting->len));
        json_object_set_new(json, "counterexample", cx);
    }
}

/* Groups op indices by key, keys in order of first appearance.  Final
 * reads are left out (counted in @finals): each reads one replica's own copy
 * outside the protocol, so it says whether replicas converged (eventual.c),
 * not what a client of the protocol may see. */
static GPtrArray *split_by_key(FlHistory *h, guint *finals)
{
    GPtrArray *groups = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    guint nk = MAX(h->keys->len, 1);
    GHashTable *index = g_hash_table_new(NULL, NULL);
    for (guint k = 0; k < nk; k++) {
        g_ptr_array_add(groups, nk == 1 ? g_array_sized_new(FALSE, FALSE, sizeof(guint32),
                                                            h->ops->len)
                                        : g_array_new(FALSE, FALSE, sizeof(guint32)));
        if (h->keys->len)
            g_hash_table_insert(index, GUINT_TO_POINTER(g_array_index(h->keys, FlAtom, k)),
                                GUINT_TO_POINTER(k));
    }
    *finals = 0;
    for (guint32 i = 0; i < h->ops->len; i++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        if (op->final) {
            ++*finals;
            continue;
        }
        /* Every key of an op is in h->keys: with one key there is no
         * lookup to make. */
        guint k = op->key == FL_ATOM_NONE || nk == 1 ? 0
                : GPOINTER_TO_UINT(g_hash_table_lookup(index, GUINT_TO_POINTER(op->key)));
        g_array_append_val(g_ptr_array_index(groups, k), i);
    }
    g_hash_table_unref(index);
    return groups;
}

static gboolean parse_consistency(const char *name, FlConsistency *out, GError **err)
{
    if (name == NULL || strcmp(name, "linearizable") == 0 ||
        strcmp(name, "linearizability") == 0) {
        *out = FL_CONSISTENCY_LINEARIZABLE;
        return TRUE;
    }
    if (strcmp(name, "sequential-per-key") == 0) {
        *out = FL_CONSISTENCY_SEQUENTIAL;
        return TRUE;
    }
    g_autofree char *all = g_strjoinv(", ", (char **)fl_consistency_names());
    g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "unknown consistency \"%s\" (expected one of %s, or a comma-separated list)",
                name, all);
    return FALSE;
}

static char *model_list(void)
{
    GString *s = g_string_new(NULL);
    const char *const *names = fl_check_model_names();
    for (int i = 0; names[i]; i++) {
        if (i) g_string_append(s, names[i + 1] ? ", " : " or ");
        g_string_append(s, names[i]);
    }
    return g_string_free(s, FALSE);
}

FlVerdict fl_check_file(const char *path, const char *model,
                        const char *consistency, const char *format,
                        double timeout_s, GString *report, json_t **json_out,
                        GError **err)
{
    FlHistorySource src = { .name = path };
    return fl_check_source(&src, model, consistency, format, timeout_s, report, json_out, err);
}

FlVerdict fl_check_buffer(const char *name, const char *data, gsize len,
                          const char *model, const char *consistency,
                          const char *format, double timeout_s, GString *report,
                          json_t **json_out, GError **err)
{
    /* An empty buffer may come as NULL; NULL data would mean "a file". */
    FlHistorySource src = { .name = name, .data = data ? data : "", .len = data ? len : 0 };
    return fl_check_source(&src, model, consistency, format, timeout_s, report, json_out, err);
}

FlVerdict fl_check_source(const FlHistorySource *src, const char *model,
                          const char *consistency, const char *format,
                          double timeout_s, GString *report, json_t **json_out,
                          GError **err)
{
    if (json_out) *json_out = NULL;
    if ((model && strcmp(model, "txn") == 0) || (consistency && (strcmp(consistency, "atomic") == 0 || strcmp(consistency, "atomic-commit") == 0)))
        return fl_check_atomic(src, model, consistency, format, report, json_out, err);
    if (fl_elle_model(model))
        return fl_check_elle(src, model, consistency, format, timeout_s, NULL, report, json_out,
                             err);
    if (model && strcmp(model, "mapreduce") == 0)
        return fl_check_mapreduce(src, consistency, format, report, json_out, err);
    if (model && strcmp(model, "files") == 0)
        return fl_check_files(src, consistency, format, report, json_out, err);
    if (model && strcmp(model, "stream") == 0)
        return fl_check_stream(src, consistency, format, report, json_out, err);
    if (model && strcmp(model, "events") == 0)
        return fl_check_events(src, consistency, format, report, json_out, err);
    const FlModel *m = model ? fl_model_find(model) : NULL;
    if (m == NULL) {
        g_autofree char *names = model_list();
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "unknown model \"%s\" (expected %s)", model ? model : "", names);
        return FL_VERDICT_ERROR;
    }
    /* The weaker models and lists of models live in weak.c. */
    if (consistency && strchr(consistency, ','))
        return fl_check_list(src, model, consistency, format, timeout_s, report, json_out, err);
    if (consistency && fl_weak_known(consistency))
        return fl_weak_check_file(src, m, consistency, format, timeout_s, report, json_out, err);
    FlConsistency c;
    if (!parse_consistency(consistency, &c, err)) return FL_VERDICT_ERROR;
    gint64 start = g_get_monotonic_time();
    FlHistory *h = fl_history_open(src, format, m, err);
    if (h == NULL) return FL_VERDICT_ERROR;
    /* The time limit covers reading the file too. */
    double left = timeout_s - (double)(g_get_monotonic_time() - start) / 1e6;
    FlVerdict v = fl_check_history(h, consistency, timeout_s > 0 ? MAX(left, 1e-6) : 0,
                                   report, json_out, err);
    fl_history_free(h);
    return v;
}

FlVerdict fl_check_history(FlHistory *h, const char *consistency,
                           double timeout_s, GString *report,
                           json_t **json_out, GError **err)
{
    if (json_out) *json_out = NULL;
    const FlModel *m = h->model;
    FlConsistency c;
    if (!parse_consistency(consistency, &c, err)) return FL_VERDICT_ERROR;
    gint64 deadline = timeout_s > 0 ? g_get_monotonic_time() + (gint64)(timeout_s * 1e6) : 0;

    guint finals;
    GPtrArray *groups = split_by_key(h, &finals);
    FlVerdict verdict = FL_VERDICT_VALID;
    json_t *json = json_out ? json_object() : NULL;
    json_t *cx = json_out ? json_object() : NULL;
    guint64 steps = 0, dropped = 0;
    guint unknown_keys = 0;
    for (guint k = 0; k < groups->len; k++) {
        GArray *g = g_ptr_array_index(groups, k);
        FlSearchResult r;
        FlVerdict v = FL_VERDICT_UNKNOWN;
        if (c == FL_CONSISTENCY_SEQUENTIAL) {
            /* A linearizable history is sequentially consistent, and the
             * real-time search prunes far more: try it first. */
            v = fl_search(h, (const guint32 *)g->data, g->len, FL_CONSISTENCY_LINEARIZABLE,
                          deadline, &r);
            steps += r.steps;
            fl_search_result_clear(&r);
        }
        if (v == FL_VERDICT_VALID) {
            fl_search_result_init_valid(&r);
        } else {
            v = fl_search(h, (const guint32 *)g->data, g->len, c, deadline, &r);
        }
        dropped += r.dropped_info;
        steps += r.steps;
        if (v == FL_VERDICT_UNKNOWN) {
            unknown_keys++;
            verdict = FL_VERDICT_UNKNOWN;
        }
        if (v == FL_VERDICT_INVALID) {
            verdict = FL_VERDICT_INVALID;
            FlAtom key = h->keys->len ? g_array_index(h->keys, FlAtom, k) : FL_ATOM_NONE;
            explain(h, key, c, (const guint32 *)g->data, g->len, &r, report, cx);
            fl_search_result_clear(&r);
            break;
        }
        fl_search_result_clear(&r);
    }
    const char *cname = c == FL_CONSISTENCY_LINEARIZABLE ? "linearizable" : "sequential-per-key";
    if (report && verdict != FL_VERDICT_INVALID) {
        g_string_append_printf(report, "%u operations, %u key%s, model %s, %s: %s",
                               h->ops->len - finals, MAX(h->keys->len, 1),
                               MAX(h->keys->len, 1) == 1 ? "" : "s", m->name, cname,
                               verdict == FL_VERDICT_VALID ? "every key can be ordered"
                               : "no verdict within the time limit");
        if (unknown_keys) g_string_append_printf(report, " (%u undecided)", unknown_keys);
        g_string_append_c(report, '\n');
        if (finals)
            g_string_append_printf(report, "%u final read%s left out: %s a replica's own copy, "
                                   "checked for convergence only (eventual)\n", finals,
                                   finals == 1 ? "" : "s", finals == 1 ? "it reads" : "each reads");
    }
    if (json) {
        json_object_set_new(json, "valid", verdict == FL_VERDICT_VALID ? json_true()
                                   : verdict == FL_VERDICT_INVALID ? json_false() : json_null());
        json_object_set_new(json, "model", json_string(m->name));
        json_object_set_new(json, "consistency", json_string(cname));
        json_object_set_new(json, "operations", json_integer(h->ops->len - finals));
        json_object_set_new(json, "final_reads_left_out", json_integer(finals));
        json_object_set_new(json, "keys", json_integer(MAX(h->keys->len, 1)));
        json_object_set_new(json, "verdict", json_string(verdict_word(verdict)));
        json_object_set_new(json, "steps", json_integer((json_int_t)steps));
        json_object_set_new(json, "info_dropped", json_integer((json_int_t)dropped));
        if (json_object_size(cx)) json_object_update(json, cx);
        json_decref(cx);
        *json_out = json;
    }
    g_ptr_array_unref(groups);
    return verdict;
}

int fl_check_main(int argc, char **argv)
{
    g_autofree char *model = NULL, *type = NULL, *consistency = NULL, *format = NULL;
    g_autofree char *picture = NULL;
    double timeout_s = 0;
    gboolean as_json = FALSE;
    g_auto(GStrv) rest = NULL;
    GOptionEntry entries[] = {
        { "type", 'T', 0, G_OPTION_ARG_STRING, &type,
          "the data type the history operates on: register (cas-register), kv, mutex, set, queue, "
          "counter, txn, files, mapreduce, stream, events, list-append or rw-register "
          "(faultline list types)", "TYPE" },
        { "model", 'm', 0, G_OPTION_ARG_STRING, &model,
          "the old name of --type, still accepted (a consistency model is --consistency)", "TYPE" },
        { "consistency", 'c', 0, G_OPTION_ARG_STRING, &consistency,
          "the consistency model (faultline list consistency): linearizable (default), sequential (Lamport's: one order of the whole history), "
          "sequential-per-key (each key alone; weaker: it does not compose), atomic-commit (txn; "
          "old name atomic), causal, "
          "causal-memory, causal-convergence, session, read-your-writes, monotonic-reads, "
          "monotonic-writes, writes-follow-reads, eventual; or a comma-separated list of them; "
          "durable (files), exact (mapreduce), exactly-once or at-least-once (stream), "
          "happens-before, one-leader, consistent-cut, mutual-exclusion, serial-resource or membership "
          "(events: the clocks, election, snapshot, mutex, lease and swim protocols' logs); for list-append and rw-register: read-uncommitted, read-committed, "
          "repeatable-read, snapshot-isolation, serializable (default), each also with a strict- "
          "or session- prefix", "C" },
        { "picture", 0, 0, G_OPTION_ARG_FILENAME, &picture,
          "list-append, rw-register: draw the anomalies' cycles into this Graphviz file (and "
          "an .svg next to it when dot is installed)", "FILE.dot" },
        { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout_s,
          "give up after SECONDS and answer unknown (exit 3)", "SECONDS" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
          "jsonl or edn (default: by extension, .edn is EDN)", "FORMAT" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &as_json,
          "print one JSON object instead of text", NULL },
        { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, "HISTORY" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new("HISTORY");
    g_option_context_set_summary(ctx,
        "Decides whether a history (JSON Lines or Jepsen EDN) satisfies a consistency\n"
        "model (linearizable by default; with a list, each model's verdict is shown\n"
        "and the history is valid when all hold).  The last line of output is the\n"
        "verdict: valid, invalid or unknown.\n\n"
        "Exit status: 0 valid, 1 invalid, 2 bad usage or input, 3 unknown.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    gboolean ok = g_option_context_parse(ctx, &argc, &argv, &err);
    g_option_context_free(ctx);
    if (!ok) {
        fprintf(stderr, "faultline check: %s (see faultline check --help)\n", err->message);
        g_error_free(err);
        return 2;
    }
    if (rest == NULL || rest[0] == NULL || rest[1] != NULL) {
        fprintf(stderr, "faultline check: expected exactly one HISTORY file "
                        "(see faultline check --help)\n");
        return 2;
    }
    if (type && model && strcmp(type, model) != 0) {
        fprintf(stderr, "faultline check: --type %s and --model %s disagree (--model is the old "
                        "name of --type)\n", type, model);
        return 2;
    }
    if (type) {
        g_free(model);
        model = g_steal_pointer(&type);
    }
    if (model == NULL) {
        fprintf(stderr, "faultline check: --type is required: the history's data type, e.g. "
                        "--type register (see faultline list types)\n");
        return 2;
    }
    GString *report = g_string_new(NULL);
    json_t *json = NULL;
    FlVerdict v;
    if (fl_elle_model(model)) {
        FlHistorySource src = { .name = rest[0] };
        v = fl_check_elle(&src, model, consistency, format, timeout_s, picture,
                          as_json ? NULL : report, as_json ? &json : NULL, &err);
    } else {
        v = fl_check_file(rest[0], model, consistency, format, timeout_s,
                          as_json ? NULL : report, as_json ? &json : NULL, &err);
    }
    if (v == FL_VERDICT_ERROR) {
        fprintf(stderr, "faultline check: %s\n", err->message);
        g_error_free(err);
        g_string_free(report, TRUE);
        return 2;
    }
    if (as_json) {
        char *text = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
        json_decref(json);
    } else {
        fputs(report->str, stdout);
        printf("%s\n", verdict_word(v));
    }
    g_string_free(report, TRUE);
    fflush(stdout);
    return (int)v;
}
