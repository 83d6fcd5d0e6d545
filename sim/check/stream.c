/* sim/check/stream.c: see stream.h.
 *
 * Design notes.
 *  1. The loader's `stream` model names the operations and checks value
 *     shapes; the final reads' texts are parsed here (their grammar is in
 *     protocols/stream: "source window=K size=N slide=N count=N sink=M"
 *     then "e ID TIME", "w TIME", "c" lines; "sink M" then "r START END
 *     COUNT SUM LATENCY" lines).
 *  2. The sequential run is the definition (protocols/stream note 4),
 *     written again here: a window [k*slide, k*slide + size) takes an
 *     event whose time it holds unless the watermark passed its end; a
 *     watermark fires every window whose end it reached, in order; count
 *     windows fire on every count-th event of a key.  Values are
 *     id mod 100 + 1.
 *  3. Only windows fired before the marker of the last complete checkpoint
 *     are required in the output; later ones may still be on their way.
 *  4. Keys are checked in ascending order, missing events listed by id:
 *     output never depends on hash-table order. */
#include "sim/check/stream.h"
#include "sim/check/history.h"

#include <stdlib.h>
#include <string.h>

#define SHOWN_MAX 12
#define LISTED_MAX 100

enum { F_SEND, F_READ };
static const char *const stream_ops[] = { "send", "read", NULL };

static gboolean stream_parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok, GString *why)
{
    if (op->f == F_SEND) {
        const FlVal *id = v->kind == FL_VAL_MAP ? fl_val_get(v, "id") : NULL;
        if (!id || id->kind != FL_VAL_INT || id->i < 0) {
            g_string_append(why, "expected an event {\"id\": a non-negative integer, ...}");
            return FALSE;
        }
        const FlVal *t = fl_val_get(v, "time");
        if (ok && (!t || t->kind != FL_VAL_INT || t->i < 0)) {
            g_string_append(why, "expected the event's \"time\" in an ok send");
            return FALSE;
        }
        return TRUE;
    }
    if (ok && v->kind != FL_VAL_STR && v->kind != FL_VAL_NULL) {
        g_string_append_printf(why, "expected a node's text (a string) or null, got %s",
                               fl_val_kind_name(v));
        return FALSE;
    }
    return TRUE;
}

static const FlModel stream_model = {
    .name = "stream",
    .ops = stream_ops,
    .readonly_ops = 1u << F_READ,
    .parse = stream_parse,
};

enum { V_LOST, V_WRONG, V_SPURIOUS, V_DUPLICATE, V_SOURCE, V_KINDS };
static const char *const kind_names[] = { "lost", "wrong", "spurious", "duplicate", "source" };

typedef struct {
    gint64 key;
    gint64 status;
    gint64 time;
    guint32 line;
} Send;

typedef struct {
    guint64 start, end, count, sum;
    gboolean required;
    guint seen;
} Window;

typedef struct {
    GHashTable *sends;       /* id -> Send* */
    GArray *keys;            /* gint64, in first appearance */
    GHashTable *source;      /* key -> char* (text) */
    GHashTable *sink;        /* key -> char* */
    guint counts[V_KINDS];
    GString *report;
    json_t *listed;
    guint shown;
    char kind[16];
    guint64 size, slide, count;
    gboolean have_spec;
    guint events, windows, results, late, pending, unchecked;
    GArray *latencies;       /* guint64 */
} Stream;

static void violation(Stream *S, int kind, gint64 key, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static void violation(Stream *S, int kind, gint64 key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    S->counts[kind]++;
    if (S->report && S->shown++ < SHOWN_MAX)
        g_string_append_printf(S->report, "%s: key %" G_GINT64_FORMAT ": %s\n", kind_names[kind],
                               key, text);
    if (S->listed && json_array_size(S->listed) < LISTED_MAX)
        json_array_append_new(S->listed, json_pack("{s:s,s:I,s:s}", "kind", kind_names[kind],
                                                   "key", (json_int_t)key, "text", text));
}

static gboolean parse_spec(Stream *S, const char *line)
{
    char kind[16] = "", sink[16] = "";
    unsigned long long size, slide, count;
    if (sscanf(line, "source window=%15s size=%llu slide=%llu count=%llu sink=%15s", kind, &size,
               &slide, &count, sink) != 5)
        return FALSE;
    if (strcmp(kind, "tumbling") && strcmp(kind, "sliding") && strcmp(kind, "count"))
        return FALSE;
    if (strcmp(kind, "count") != 0 && (size == 0 || slide == 0))
        return FALSE;
    if (strcmp(kind, "count") == 0 && count == 0)
        return FALSE;
    g_strlcpy(S->kind, kind, sizeof S->kind);
    S->size = size;
    S->slide = slide;
    S->count = count;
    S->have_spec = TRUE;
    return TRUE;
}

static gint cmp_int64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return x < y ? -1 : x > y;
}

static gint cmp_window(gconstpointer a, gconstpointer b)
{
    const Window *x = a, *y = b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return 0;
}

/* Note 2: the windows the log of one key fires, in firing order. */
static gboolean expected_windows(Stream *S, gint64 key, const char *text, GArray *fired,
                                 GString *why)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GArray *open = g_array_new(FALSE, FALSE, sizeof(Window));   /* sorted by (end, start) */
    GHashTable *ids = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    guint64 wm = 0, n_in_count = 0, count_sum = 0, count_index = 0;
    gboolean before_marker = TRUE, ok = TRUE;
    for (guint i = 1; lines[i] && ok; i++) {
        const char *l = lines[i];
        unsigned long long a, b;
        if (*l == '\0')
            continue;
        if (strcmp(l, "c") == 0) {
            before_marker = FALSE;
        } else if (sscanf(l, "w %llu", &a) == 1) {
            if (a <= wm)
                continue;
            wm = a;
            guint k = 0;
            while (k < open->len && g_array_index(open, Window, k).end <= wm) {
                Window w = g_array_index(open, Window, k++);
                w.required = before_marker;
                g_array_append_val(fired, w);
            }
            g_array_remove_range(open, 0, k);
        } else if (sscanf(l, "e %llu %llu", &a, &b) == 2) {
            gint64 id = (gint64)a;
            S->events++;
            const Send *snd = g_hash_table_lookup(S->sends, &id);
            if (g_hash_table_contains(ids, &id)) {
                violation(S, V_SOURCE, key, "event %" G_GINT64_FORMAT " is in the log twice", id);
                continue;
            }
            gint64 *k = g_new(gint64, 1);
            *k = id;
            g_hash_table_add(ids, k);
            if (!snd || snd->key != key) {
                violation(S, V_SOURCE, key, "event %" G_GINT64_FORMAT " in the log was never sent%s",
                          id, snd ? " with this key" : "");
                continue;
            }
            if (snd->status == FL_OP_OK && snd->time != (gint64)b)
                violation(S, V_SOURCE, key, "event %" G_GINT64_FORMAT " has time %llu in the log, "
                          "but its send was answered with %" G_GINT64_FORMAT, id, b, snd->time);
            guint64 value = (guint64)id % 100 + 1;
            if (strcmp(S->kind, "count") == 0) {
                n_in_count++;
                count_sum += value;
                if (n_in_count == S->count) {
                    Window w = { .start = count_index, .end = count_index + 1, .count = n_in_count,
                                 .sum = count_sum, .required = before_marker };
                    g_array_append_val(fired, w);
                    count_index++;
                    n_in_count = count_sum = 0;
                }
                continue;
            }
            guint64 ts = b, last = ts / S->slide;
            guint64 first = ts >= S->size ? (ts - S->size) / S->slide + 1 : 0;
            gboolean taken = FALSE;
            for (guint64 q = first; q <= last; q++) {
                Window w = { .start = q * S->slide, .end = q * S->slide + S->size };
                if (w.end <= wm)
                    continue;
                taken = TRUE;
                guint at;
                gboolean found = FALSE;
                for (at = 0; at < open->len; at++) {
                    int c = cmp_window(&g_array_index(open, Window, at), &w);
                    if (c == 0) { found = TRUE; break; }
                    if (c > 0) break;
                }
                if (!found)
                    g_array_insert_val(open, at, w);
                Window *x = &g_array_index(open, Window, at);
                x->count++;
                x->sum += value;
            }
            if (!taken)
                S->late++;
        } else {
            g_string_append_printf(why, "line %u of the source's text for key %" G_GINT64_FORMAT
                                   " is \"%s\"", i + 1, key, l);
            ok = FALSE;
        }
    }
    /* Note: acknowledged events of this key missing from the log. */
    GHashTableIter it;
    gpointer k, v;
    GArray *missing = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_hash_table_iter_init(&it, S->sends);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const Send *snd = v;
        if (snd->key == key && snd->status == FL_OP_OK && !g_hash_table_contains(ids, k))
            g_array_append_val(missing, *(gint64 *)k);
    }
    g_array_sort(missing, cmp_int64);
    for (guint i = 0; i < missing->len; i++)
        violation(S, V_LOST, key, "acknowledged event %" G_GINT64_FORMAT " is not in the source's log",
                  g_array_index(missing, gint64, i));
    g_array_free(missing, TRUE);
    g_array_free(open, TRUE);
    g_hash_table_unref(ids);
    return ok;
}

/* Compares the sink's output of @key with the windows the log fired. */
static gboolean compare(Stream *S, gint64 key, const char *text, GArray *fired, gboolean exactly,
                        GString *why)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 1; lines[i]; i++) {
        const char *l = lines[i];
        unsigned long long start, end, count, sum, lat;
        if (*l == '\0')
            continue;
        if (sscanf(l, "r %llu %llu %llu %llu %llu", &start, &end, &count, &sum, &lat) != 5) {
            g_string_append_printf(why, "line %u of the sink's text for key %" G_GINT64_FORMAT
                                   " is \"%s\"", i + 1, key, l);
            return FALSE;
        }
        S->results++;
        guint64 latency = lat;
        g_array_append_val(S->latencies, latency);
        Window *w = NULL;
        for (guint k = 0; k < fired->len && !w; k++) {
            Window *x = &g_array_index(fired, Window, k);
            if (x->start == start && x->end == end)
                w = x;
        }
        if (!w) {
            violation(S, V_SPURIOUS, key, "window [%llu, %llu) is in the output (count %llu, sum "
                      "%llu) but never fired", start, end, count, sum);
            continue;
        }
        if (w->count != count || w->sum != sum) {
            violation(S, V_WRONG, key, "window [%llu, %llu) has count %llu and sum %llu, the "
                      "sequential run gives count %" G_GUINT64_FORMAT " and sum %" G_GUINT64_FORMAT,
                      start, end, count, sum, w->count, w->sum);
            w->seen++;
            continue;
        }
        if (w->seen++ > 0) {
            if (exactly)
                violation(S, V_DUPLICATE, key, "window [%llu, %llu) is in the output %u times",
                          start, end, w->seen);
            else
                S->counts[V_DUPLICATE]++;
        }
    }
    for (guint k = 0; k < fired->len; k++) {
        const Window *w = &g_array_index(fired, Window, k);
        if (w->seen)
            continue;
        if (w->required)
            violation(S, V_LOST, key, "window [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                      ") (count %" G_GUINT64_FORMAT ", sum %" G_GUINT64_FORMAT ") fired before "
                      "the last complete checkpoint but is not in the output",
                      w->start, w->end, w->count, w->sum);
        else
            S->pending++;
    }
    return TRUE;
}

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
    guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
    return x < y ? -1 : x > y;
}

static guint64 pct(GArray *v, double q)
{
    if (v->len == 0)
        return 0;
    gsize rank = (gsize)(q * v->len + 0.999999);
    rank = CLAMP(rank, 1, v->len);
    return g_array_index(v, guint64, rank - 1);
}

static void take_text(GHashTable *t, gint64 key, const FlVal *v)
{
    gint64 *k = g_new(gint64, 1);
    *k = key;
    g_hash_table_replace(t, k, g_strndup(v->str.s, v->str.len));
}

FlVerdict fl_check_stream(const FlHistorySource *source, const char *consistency, const char *format,
                          GString *report, json_t **json_out, GError **err)
{
    if (json_out)
        *json_out = NULL;
    if (consistency && strcmp(consistency, "exactly-once") != 0 &&
        strcmp(consistency, "at-least-once") != 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "unknown consistency \"%s\" for model stream (expected exactly-once or "
                    "at-least-once)", consistency);
        return FL_VERDICT_ERROR;
    }
    gboolean exactly = !consistency || strcmp(consistency, "exactly-once") == 0;
    FlHistory *h = fl_history_open(source, format, &stream_model, err);
    if (!h)
        return FL_VERDICT_ERROR;
    Stream S = {
        .sends = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free),
        .keys = g_array_new(FALSE, FALSE, sizeof(gint64)),
        .source = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free),
        .sink = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free),
        .report = report ? g_string_new(NULL) : NULL,
        .listed = json_out ? json_array() : NULL,
        .latencies = g_array_new(FALSE, FALSE, sizeof(guint64)),
    };
    FlVerdict verdict = FL_VERDICT_VALID;
    guint sent_ok = 0;
    gint64 first_time = -1, last_time = -1;
    g_autoptr(GString) why = g_string_new(NULL);
    for (guint i = 0; i < h->ops->len; i++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        const FlVal *iev = fl_reader_event_at(h->reader, op->inv_offset, op->inv_line);
        const FlVal *kv = fl_val_get(iev, "key");
        if (!kv || kv->kind != FL_VAL_INT) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s:%u: expected the event's key as an integer \"key\"", source->name, op->inv_line);
            verdict = FL_VERDICT_ERROR;
            goto out;
        }
        gint64 key = kv->i;
        gboolean known = FALSE;
        for (guint k = 0; k < S.keys->len && !known; k++)
            known = g_array_index(S.keys, gint64, k) == key;
        if (!known)
            g_array_append_val(S.keys, key);
        if (op->f == F_SEND) {
            gint64 id = fl_val_get(fl_val_get(iev, "value"), "id")->i;
            if (g_hash_table_contains(S.sends, &id)) {
                g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s:%u: event id %" G_GINT64_FORMAT " was sent already (every event "
                            "needs its own id)", source->name, op->inv_line, id);
                verdict = FL_VERDICT_ERROR;
                goto out;
            }
            Send *snd = g_new0(Send, 1);
            snd->key = key;
            snd->status = op->status;
            snd->line = op->inv_line;
            if (op->status == FL_OP_OK) {
                const FlVal *rev = fl_reader_event_at(h->reader, op->ret_offset, op->ret_line);
                snd->time = fl_val_get(fl_val_get(rev, "value"), "time")->i;
                sent_ok++;
                if (first_time < 0)
                    first_time = op->inv_time;
                last_time = op->ret_time;
            }
            gint64 *k = g_new(gint64, 1);
            *k = id;
            g_hash_table_insert(S.sends, k, snd);
            continue;
        }
        if (op->status != FL_OP_OK)
            continue;
        const FlVal *rev = fl_reader_event_at(h->reader, op->ret_offset, op->ret_line);
        const FlVal *v = fl_val_get(rev, "value");
        if (!v || v->kind != FL_VAL_STR)
            continue;   /* a node with nothing to show */
        if (v->str.len >= 7 && memcmp(v->str.s, "source ", 7) == 0)
            take_text(S.source, key, v);
        else if (v->str.len >= 5 && memcmp(v->str.s, "sink ", 5) == 0)
            take_text(S.sink, key, v);
    }
    g_array_sort(S.keys, cmp_int64);
    for (guint k = 0; k < S.keys->len; k++) {
        gint64 key = g_array_index(S.keys, gint64, k);
        const char *src = g_hash_table_lookup(S.source, &key);
        const char *snk = g_hash_table_lookup(S.sink, &key);
        if (!src || !snk) {
            S.unchecked++;
            continue;
        }
        g_autofree char *first = g_strndup(src, strcspn(src, "\n"));
        if (!parse_spec(&S, first)) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s: the source's text for key %" G_GINT64_FORMAT " does not start with "
                        "\"source window=K size=N slide=N count=N sink=M\": \"%s\"", source->name, key, first);
            verdict = FL_VERDICT_ERROR;
            goto out;
        }
        GArray *fired = g_array_new(FALSE, FALSE, sizeof(Window));
        gboolean ok = expected_windows(&S, key, src, fired, why) &&
                      compare(&S, key, snk, fired, exactly, why);
        S.windows += fired->len;
        g_array_free(fired, TRUE);
        if (!ok) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", source->name, why->str);
            verdict = FL_VERDICT_ERROR;
            goto out;
        }
    }
    guint bad = S.counts[V_LOST] + S.counts[V_WRONG] + S.counts[V_SPURIOUS] + S.counts[V_SOURCE] +
                (exactly ? S.counts[V_DUPLICATE] : 0);
    verdict = bad ? FL_VERDICT_INVALID : FL_VERDICT_VALID;
    g_array_sort(S.latencies, cmp_u64);
    if (report) {
        g_string_append(report, S.report->str);
        if (S.shown > SHOWN_MAX)
            g_string_append_printf(report, "... and %u more\n", S.shown - SHOWN_MAX);
        g_string_append_printf(report, "%u events sent (%u acknowledged), %u in the source's log, "
                               "%u late; %u windows fired, %u results in the output (%s): ",
                               g_hash_table_size(S.sends), sent_ok, S.events, S.late, S.windows,
                               S.results, exactly ? "exactly-once" : "at-least-once");
        if (bad) {
            for (int k = 0; k < V_KINDS; k++)
                if (S.counts[k] && (k != V_DUPLICATE || exactly))
                    g_string_append_printf(report, "%u %s ", S.counts[k], kind_names[k]);
        } else {
            g_string_append(report, "the output is the sequential run's");
            if (S.counts[V_DUPLICATE])
                g_string_append_printf(report, " with %u duplicates (allowed)", S.counts[V_DUPLICATE]);
        }
        if (S.pending)
            g_string_append_printf(report, "; %u windows after the last checkpoint not out yet", S.pending);
        if (S.unchecked)
            g_string_append_printf(report, "; %u keys without both final reads (not checked)", S.unchecked);
        g_string_append_c(report, '\n');
    }
    if (json_out) {
        json_t *j = json_object();
        json_object_set_new(j, "valid", json_boolean(verdict == FL_VERDICT_VALID));
        json_object_set_new(j, "model", json_string("stream"));
        json_object_set_new(j, "consistency", json_string(exactly ? "exactly-once" : "at-least-once"));
        json_object_set_new(j, "operations", json_integer(h->ops->len));
        json_object_set_new(j, "keys", json_integer(MAX(S.keys->len, 1)));
        json_object_set_new(j, "verdict", json_string(verdict == FL_VERDICT_VALID ? "valid" : "invalid"));
        json_object_set_new(j, "events", json_integer(sent_ok));
        json_object_set_new(j, "events_logged", json_integer(S.events));
        json_object_set_new(j, "keys_checked", json_integer(S.keys->len - S.unchecked));
        json_object_set_new(j, "windows", json_integer(S.windows));
        json_object_set_new(j, "results", json_integer(S.results));
        json_object_set_new(j, "late", json_integer(S.late));
        json_object_set_new(j, "not_out_yet", json_integer(S.pending));
        for (int k = 0; k < V_KINDS; k++)
            json_object_set_new(j, kind_names[k], json_integer(S.counts[k]));
        json_object_set_new(j, "latency_ns", json_pack("{s:I,s:I,s:I}",
                                                       "p50", (json_int_t)pct(S.latencies, 0.5),
                                                       "p99", (json_int_t)pct(S.latencies, 0.99),
                                                       "max", (json_int_t)pct(S.latencies, 1.0)));
        double span = last_time > first_time && first_time >= 0 ? (double)(last_time - first_time) / 1e9 : 0;
        json_object_set_new(j, "throughput_events_per_s", json_real(span > 0 ? sent_ok / span : 0));
        json_object_set_new(j, "violations", S.listed);
        S.listed = NULL;
        *json_out = j;
    }
out:
    if (S.listed)
        json_decref(S.listed);
    if (S.report)
        g_string_free(S.report, TRUE);
    g_hash_table_unref(S.sends);
    g_hash_table_unref(S.source);
    g_hash_table_unref(S.sink);
    g_array_free(S.keys, TRUE);
    g_array_free(S.latencies, TRUE);
    fl_history_free(h);
    return verdict;
}
