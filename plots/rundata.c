/* plots/rundata: reading a run's folder.
 *
 * 1. history.jsonl is read line by line; an invocation opens an operation
 *    for its process, the next ok/fail/info of that process closes it.  An
 *    operation still open at the end counts as info (spec/history.md) and
 *    ends at the end of the run.
 * 2. The counterexample is whatever the checker wrote under
 *    metrics.json's check.result.counterexample.  We do not depend on its
 *    exact shape: any object with a "process" and an "invoke_line" (the
 *    history line of the invocation) or "invoke_time" is an operation, and
 *    the name of the field it sits under says its part (note 3).
 * 3. "stuck" is the operation that could not be placed; "prefix" are the
 *    last operations that could be ordered; "concurrent" were open beside
 *    it; "waiting" still need a value nothing can produce again; fields a
 *    later checker adds are shown as involved.  An operation named twice
 *    keeps the strongest mark (the enum's order). */
#include "plots/rundata.h"

#include "sim/jsonv.h"

#include <errno.h>
#include <string.h>

const char *fl_outcome_name(FlOutcome o)
{
    switch (o) {
    case FL_OUTCOME_OK: return "ok";
    case FL_OUTCOME_FAIL: return "fail";
    default: return "info";
    }
}

static void op_clear(gpointer p)
{
    FlPlotOp *op = p;
    g_free(op->f);
    g_free(op->key);
    g_free(op->value);
    g_free(op->result);
}

static void span_clear(gpointer p)
{
    FlFaultSpan *s = p;
    g_free(s->kind);
    g_free(s->what);
}

void fl_rundata_free(FlRunData *rd)
{
    if (!rd)
        return;
    g_free(rd->dir);
    g_free(rd->name);
    g_free(rd->label);
    if (rd->scenario)
        json_decref(rd->scenario);
    if (rd->metrics)
        json_decref(rd->metrics);
    if (rd->ops)
        g_array_unref(rd->ops);
    if (rd->fs)
        g_ptr_array_unref(rd->fs);
    if (rd->faults)
        g_array_unref(rd->faults);
    g_free(rd->verdict);
    g_free(rd->cx_key);
    g_free(rd->trace_path);
    g_free(rd);
}

guint fl_rundata_f_index(const FlRunData *rd, const char *f)
{
    for (guint i = 0; i < rd->fs->len; i++)
        if (strcmp(g_ptr_array_index(rd->fs, i), f) == 0)
            return i;
    g_assert_not_reached();
}

static char *json_text(json_t *v)
{
    if (!v)
        return g_strdup("null");
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    char *r = g_strdup(s);
    free(s);
    return r;
}

static json_t *load_json(const char *dir, const char *name, GError **err)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    json_error_t je;
    json_t *v = json_load_file(path, 0, &je);
    if (!v) {
        if (!g_file_test(path, G_FILE_TEST_EXISTS))
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT,
                        "%s: no such file (is %s the folder of a run? faultline run writes one)",
                        path, dir);
        else
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s:%d:%d: %s", path, je.line, je.column,
                        je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: expected a JSON object", path);
        json_decref(v);
        return NULL;
    }
    return v;
}

static bool bad_line(GError **err, const char *path, guint line, const char *what)
{
    g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s:%u: %s", path, line, what);
    return false;
}

static bool history_event(FlRunData *rd, GHashTable *open, GHashTable *fs, GHashTable *keys,
                          json_t *ev, const char *path, guint line, GError **err)
{
    json_t *proc = json_object_get(ev, "process"), *type = json_object_get(ev, "type"),
           *f = json_object_get(ev, "f"), *t = json_object_get(ev, "time");
    if (!json_is_integer(proc))
        return bad_line(err, path, line, "\"process\": expected an integer");
    if (!json_is_string(type))
        return bad_line(err, path, line, "\"type\": expected invoke, ok, fail or info");
    if (!json_is_string(f))
        return bad_line(err, path, line, "\"f\": expected a string");
    if (!json_is_integer(t) || json_integer_value(t) < 0)
        return bad_line(err, path, line,
                        "\"time\": expected nanoseconds (the pictures need times)");
    int64_t pid = json_integer_value(proc);
    FlTime time = (FlTime)json_integer_value(t);
    const char *ty = json_string_value(type);
    if (strcmp(ty, "invoke") == 0) {
        if (g_hash_table_contains(open, &pid))
            return bad_line(err, path, line,
                            "this process already has an operation open");
        FlPlotOp op = { 0 };
        op.process = pid;
        op.f = g_strdup(json_string_value(f));
        json_t *k = json_object_get(ev, "key");
        op.key = k ? json_text(k) : NULL;
        op.value = json_text(json_object_get(ev, "value"));
        op.invoke = time;
        /* Optional (an older history, or a final read, has none); an
         * arrival after the invocation is not one. */
        json_t *arr = json_object_get(ev, "arrival");
        op.arrival = json_is_integer(arr) && json_integer_value(arr) >= 0 &&
                             (FlTime)json_integer_value(arr) <= time
                         ? (FlTime)json_integer_value(arr)
                         : time;
        op.invoke_line = line;
        op.open = true;
        op.outcome = FL_OUTCOME_INFO;
        g_array_append_val(rd->ops, op);
        int64_t *kp = g_new(int64_t, 1);
        *kp = pid;
        /* A process maps to its open operation's index + 1. */
        g_hash_table_insert(open, kp, GUINT_TO_POINTER(rd->ops->len));
        g_hash_table_add(fs, op.f);
        if (op.key)
            g_hash_table_add(keys, op.key);
        return true;
    }
    FlOutcome o;
    if (strcmp(ty, "ok") == 0)
        o = FL_OUTCOME_OK;
    else if (strcmp(ty, "fail") == 0)
        o = FL_OUTCOME_FAIL;
    else if (strcmp(ty, "info") == 0)
        o = FL_OUTCOME_INFO;
    else
        return bad_line(err, path, line, "\"type\": expected invoke, ok, fail or info");
    gpointer vp = g_hash_table_lookup(open, &pid);
    if (!vp)
        return bad_line(err, path, line, "a completion with no invocation open");
    FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, GPOINTER_TO_UINT(vp) - 1);
    g_hash_table_remove(open, &pid);
    if (time < op->invoke)
        return bad_line(err, path, line, "completes before its invocation");
    op->open = false;
    op->outcome = o;
    op->complete = time;
    op->complete_line = line;
    op->result = json_text(json_object_get(ev, "value"));
    return true;
}

/* Note 1. */
static bool load_history(FlRunData *rd, GError **err)
{
    g_autofree char *path = g_build_filename(rd->dir, "history.jsonl", NULL);
    g_autofree char *text = NULL;
    gsize len;
    GError *e = NULL;
    if (!g_file_get_contents(path, &text, &len, &e)) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s", e->message);
        g_error_free(e);
        return false;
    }
    g_autoptr(GHashTable) open = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_autoptr(GHashTable) fs = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
    char *p = text, *end = text + len;
    guint line = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        line++;
        *stop = '\0';
        char *s = p;
        p = stop + 1;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (!*s)
            continue;
        json_error_t je;
        json_t *ev = json_loads(s, 0, &je);
        if (!ev || !json_is_object(ev)) {
            if (ev)
                json_decref(ev);
            return bad_line(err, path, line, ev ? "expected a JSON object" : je.text);
        }
        bool ok = history_event(rd, open, fs, keys, ev, path, line, err);
        json_decref(ev);
        if (!ok)
            return false;
    }
    /* Operations still open end with the run (note 1). */
    GHashTableIter it;
    gpointer kp, vp;
    g_hash_table_iter_init(&it, open);
    while (g_hash_table_iter_next(&it, &kp, &vp)) {
        FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, GPOINTER_TO_UINT(vp) - 1);
        op->complete = MAX(rd->end, op->invoke);
    }
    rd->keys = g_hash_table_size(keys);
    GList *names = g_list_sort(g_hash_table_get_keys(fs), (GCompareFunc)strcmp);
    for (GList *l = names; l; l = l->next)
        g_ptr_array_add(rd->fs, g_strdup(l->data));
    g_list_free(names);
    return true;
}

static bool load_faults(FlRunData *rd, GError **err)
{
    json_t *faults = json_object_get(rd->metrics, "faults");
    if (!faults)
        return true;
    g_autofree char *path = g_build_filename(rd->dir, "metrics.json", NULL);
    if (!json_is_array(faults)) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: /faults: expected an array", path);
        return false;
    }
    size_t i;
    json_t *f;
    json_array_foreach(faults, i, f) {
        json_t *start = json_object_get(f, "start"), *stop = json_object_get(f, "stop");
        json_t *kind = json_object_get(f, "kind"), *what = json_object_get(f, "what");
        if (!json_is_integer(start) || !json_is_integer(stop) || !json_is_string(kind) ||
            json_integer_value(start) < 0 || json_integer_value(stop) < json_integer_value(start)) {
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT,
                        "%s: /faults/%zu: expected {kind, what, start, stop} with 0 <= start <= stop",
                        path, i);
            return false;
        }
        FlFaultSpan s = { g_strdup(json_string_value(kind)),
                          g_strdup(json_is_string(what) ? json_string_value(what) : ""),
                          (FlTime)json_integer_value(start), (FlTime)json_integer_value(stop) };
        g_array_append_val(rd->faults, s);
    }
    return true;
}

static FlMark mark_of(const char *field)
{
    if (!field)
        return FL_MARK_OTHER;
    if (strcmp(field, "stuck") == 0)
        return FL_MARK_STUCK;
    if (strcmp(field, "prefix") == 0)
        return FL_MARK_PREFIX;
    if (strcmp(field, "concurrent") == 0)
        return FL_MARK_CONCURRENT;
    if (strcmp(field, "waiting") == 0)
        return FL_MARK_WAITING;
    return FL_MARK_OTHER;
}

static FlPlotOp *find_op(FlRunData *rd, json_t *o)
{
    int64_t pid = json_integer_value(json_object_get(o, "process"));
    json_t *line = json_object_get(o, "invoke_line"), *time = json_object_get(o, "invoke_time");
    for (guint i = 0; i < rd->ops->len; i++) {
        FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, i);
        if (op->process != pid)
            continue;
        if (json_is_integer(line) && op->invoke_line == (guint)json_integer_value(line))
            return op;
        if (json_is_integer(time) && op->invoke == (FlTime)json_integer_value(time))
            return op;
    }
    return NULL;
}

/* Note 2: walks any JSON, marking operations by the field above them. */
static guint mark_walk(FlRunData *rd, json_t *v, const char *field)
{
    guint n = 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) n += mark_walk(rd, x, field);
    } else if (json_is_object(v)) {
        if (json_is_integer(json_object_get(v, "process")) &&
            (json_object_get(v, "invoke_line") || json_object_get(v, "invoke_time"))) {
            FlPlotOp *op = find_op(rd, v);
            FlMark m = mark_of(field);
            if (op && m > op->mark) {
                n += op->mark == FL_MARK_NONE;
                op->mark = m;
            }
            return n;
        }
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) n += mark_walk(rd, x, k);
    }
    return n;
}

bool fl_rundata_marked_span(const FlRunData *rd, FlTime *from, FlTime *to)
{
    FlTime lo = G_MAXUINT64, hi = 0;
    for (guint i = 0; i < rd->ops->len; i++) {
        const FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, i);
        if (!op->mark)
            continue;
        lo = MIN(lo, op->invoke);
        hi = MAX(hi, op->open ? op->invoke : op->complete);
    }
    if (lo > hi)
        return false;
    FlTime pad = MAX((hi - lo) / 6, 1000000);
    *from = lo > pad ? lo - pad : 0;
    *to = MIN(hi + pad, MAX(rd->end, hi));
    return true;
}

guint fl_rundata_mark(FlRunData *rd, json_t *cx)
{
    guint n = mark_walk(rd, cx, NULL);
    rd->marked += n;
    json_t *key = json_object_get(cx, "key");
    if (key && !rd->cx_key)
        rd->cx_key = json_text(key);
    return n;
}

FlRunData *fl_rundata_load(const char *dir, GError **err)
{
    g_autoptr(FlRunData) rd = g_new0(FlRunData, 1);
    rd->dir = g_strdup(dir);
    rd->ops = g_array_new(FALSE, TRUE, sizeof(FlPlotOp));
    g_array_set_clear_func(rd->ops, op_clear);
    rd->fs = g_ptr_array_new_with_free_func(g_free);
    rd->faults = g_array_new(FALSE, TRUE, sizeof(FlFaultSpan));
    g_array_set_clear_func(rd->faults, span_clear);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: not a folder (expected the folder of a run, "
                    "such as runs/primary-backup-3)", dir);
        return NULL;
    }
    if (!(rd->metrics = load_json(dir, "metrics.json", err)) ||
        !(rd->scenario = load_json(dir, "scenario.json", err)))
        return NULL;
    json_t *m = rd->metrics;
    json_t *name = json_object_get(m, "scenario"), *vt = json_object_get(m, "virtual_time_ns");
    if (!json_is_integer(vt) || json_integer_value(vt) < 0) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT,
                    "%s/metrics.json: /virtual_time_ns: expected nanoseconds", dir);
        return NULL;
    }
    rd->end = (FlTime)json_integer_value(vt);
    rd->name = g_strdup(json_is_string(name) ? json_string_value(name) : "run");
    rd->seed = (uint64_t)json_integer_value(json_object_get(m, "seed"));
    rd->nodes = (uint32_t)json_integer_value(json_object_get(m, "nodes"));
    rd->label = g_strdup_printf("%s, seed %" G_GUINT64_FORMAT, rd->name, rd->seed);
    json_t *verdict = json_object_get(m, "verdict");
    rd->verdict = g_strdup(json_is_string(verdict) ? json_string_value(verdict) : "unknown");
    if (!load_history(rd, err) || !load_faults(rd, err))
        return NULL;
    json_t *cx = json_object_get(json_object_get(json_object_get(m, "check"), "result"),
                                 "counterexample");
    if (cx) {
        rd->has_cx = true;
        fl_rundata_mark(rd, cx);
    }
    g_autofree char *trace = g_build_filename(dir, "trace.jsonl", NULL);
    if (g_file_test(trace, G_FILE_TEST_IS_REGULAR))
        rd->trace_path = g_steal_pointer(&trace);
    return g_steal_pointer(&rd);
}
