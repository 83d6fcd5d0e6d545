/* sim/check/files.c: see files.h.
 *
 * Design notes.
 *  1. The `files` model below exists for the loader (pairing, process
 *     rules, shapes); values are read again from the events.
 *  2. Real-time order is event order (history.c note 1): an operation
 *     strictly precedes another when its completion comes before the
 *     other's invocation.  Info and unfinished operations never complete.
 *  3. A write or append "may be deleted" before a read when some delete of
 *     the file (ok or info) does not strictly precede it and was invoked
 *     before the read completed: that delete may have taken effect between
 *     the two, so durability does not ask for the write.
 *  4. A record at a place an acknowledged write covered may come from any
 *     write that does not strictly precede it: concurrent writes may land
 *     in either order, as GFS's "consistent but undefined" regions.
 *  5. Readable means read: a file that holds an acknowledged write, and
 *     whose final reads got answers, must be read successfully by at least
 *     one of them, else it is "unreadable".  A final read that timed out
 *     or never ended (a node that is down) says nothing: waiting forever is
 *     a matter of liveness, for the scenario's expectations.
 *  6. The namespace.  A file exists from a create until a delete.  A create
 *     that succeeds, or a delete that fails, needs the file to be absent at
 *     some instant of its window: after every ok create that strictly
 *     precedes it, some delete (ok or info) may have taken effect.  A
 *     delete that succeeds, or a create that fails, needs it present:
 *     after the last ok delete that strictly precedes it (or from the
 *     start), some create (ok or info) may have taken effect.  A master
 *     that forgets its namespace breaks one of these. */
#include "sim/check/files.h"
#include "sim/check/history.h"

#include <stdio.h>
#include <string.h>

#define RECORD 16
#define SHOWN_MAX 12
#define LISTED_MAX 100

enum { F_CREATE, F_WRITE, F_APPEND, F_READ, F_DELETE };
static const char *const files_ops[] = { "create", "write", "append", "read", "delete", NULL };

enum { V_GARBAGE, V_PHANTOM, V_MISPLACED, V_RESURRECTED, V_LOST, V_UNREADABLE, V_NAMESPACE,
       V_KINDS };
static const char *const kind_names[] = { "garbage", "phantom", "misplaced", "resurrected", "lost",
                                          "unreadable", "namespace" };

static gboolean int_field(const FlVal *m, const char *name, GString *why)
{
    const FlVal *v = fl_val_get(m, name);
    if (v && v->kind == FL_VAL_INT && v->i >= 0)
        return TRUE;
    g_string_append_printf(why, "expected a non-negative integer \"%s\"", name);
    return FALSE;
}

static gboolean files_parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok, GString *why)
{
    switch (op->f) {
    case F_WRITE:
    case F_APPEND:
        if (v->kind != FL_VAL_MAP) {
            g_string_append_printf(why, "expected {\"id\", \"records\", ...}, got %s",
                                   fl_val_kind_name(v));
            return FALSE;
        }
        if (!int_field(v, "id", why) || !int_field(v, "records", why))
            return FALSE;
        if (op->f == F_WRITE && !int_field(v, "offset", why))
            return FALSE;
        if (op->f == F_APPEND && ok && !int_field(v, "offset", why))
            return FALSE;
        return TRUE;
    case F_READ:
        if (ok && v->kind != FL_VAL_STR && v->kind != FL_VAL_NULL) {
            g_string_append_printf(why, "expected the file's bytes (a string) or null, got %s",
                                   fl_val_kind_name(v));
            return FALSE;
        }
        return TRUE;
    default:
        return TRUE;
    }
}

static const FlModel files_model = {
    .name = "files",
    .ops = files_ops,
    .readonly_ops = 1u << F_READ,
    .parse = files_parse,
};

typedef struct {
    guint op;                /* index in h->ops */
    gint64 id, file;
    gint64 offset;           /* -1: unknown (an append that did not complete ok) */
    gint64 records;
} Write;

typedef struct {
    FlHistory *h;
    GArray *writes;          /* Write */
    GHashTable *by_id;       /* gint64* -> index + 1 */
    guint counts[V_KINDS];
    GString *report;
    json_t *listed;
    guint shown;
    guint reads, final_reads, stale_reads;
} Files;

static gint64 int_of(const FlVal *m, const char *name, gint64 def)
{
    const FlVal *v = fl_val_get(m, name);
    return v && v->kind == FL_VAL_INT ? v->i : def;
}

static const FlOp *op_at(Files *F, guint i)
{
    return &g_array_index(F->h->ops, FlOp, i);
}

static gint64 file_of(Files *F, const FlOp *op)
{
    const FlVal *ev = fl_reader_event_at(F->h->reader, op->inv_offset, op->inv_line);
    const FlVal *k = fl_val_get(ev, "key");
    return k && k->kind == FL_VAL_INT ? k->i : -1;
}

/* Note 2. */
static gboolean precedes(const FlOp *a, const FlOp *b)
{
    return a->status == FL_OP_OK && a->ret < b->inv;
}

static void violation(Files *F, int kind, gint64 file, const FlOp *read, const char *fmt, ...)
    G_GNUC_PRINTF(5, 6);
static void violation(Files *F, int kind, gint64 file, const FlOp *read, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    F->counts[kind]++;
    if (F->report && F->shown++ < SHOWN_MAX)
        g_string_append_printf(F->report, "%s: file %" G_GINT64_FORMAT ", read of process %"
                               G_GINT64_FORMAT " (line %u): %s\n", kind_names[kind], file,
                               read->process, read->ret_line ? read->ret_line : read->inv_line, text);
    if (F->listed && json_array_size(F->listed) < LISTED_MAX)
        json_array_append_new(F->listed,
                              json_pack("{s:s,s:I,s:I,s:i,s:s}", "kind", kind_names[kind], "file",
                                        (json_int_t)file, "process", (json_int_t)read->process,
                                        "line", (int)(read->ret_line ? read->ret_line : read->inv_line), "text", text));
}

/* Parses one record; false if it is not exactly "w=%08x k=%02x\n". */
static gboolean parse_record(const char *p, gint64 *id, gint64 *k)
{
    static const char hex[] = "0123456789abcdef";
    if (p[0] != 'w' || p[1] != '=' || p[10] != ' ' || p[11] != 'k' || p[12] != '=' || p[15] != '\n')
        return FALSE;
    gint64 v = 0;
    for (int i = 2; i < 10; i++) {
        const char *c = p[i] ? strchr(hex, p[i]) : NULL;
        if (!c)
            return FALSE;
        v = v * 16 + (c - hex);
    }
    gint64 kv = 0;
    for (int i = 13; i < 15; i++) {
        const char *c = p[i] ? strchr(hex, p[i]) : NULL;
        if (!c)
            return FALSE;
        kv = kv * 16 + (c - hex);
    }
    *id = v;
    *k = kv;
    return TRUE;
}

static gint cmp_int64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return x < y ? -1 : x > y;
}

static const Write *write_of(Files *F, gint64 id)
{
    gpointer i = g_hash_table_lookup(F->by_id, &id);
    return i ? &g_array_index(F->writes, Write, GPOINTER_TO_SIZE(i) - 1) : NULL;
}

/* Note 3: some delete of @file may fall between @w and @r. */
static gboolean maybe_deleted(Files *F, gint64 file, const FlOp *w, const FlOp *r, GArray *deletes)
{
    for (guint i = 0; i < deletes->len; i++) {
        const FlOp *d = op_at(F, g_array_index(deletes, guint, i));
        if (file_of(F, d) == file && !precedes(d, w) && d->inv < r->ret)
            return TRUE;
    }
    return FALSE;
}

/* Integrity of one read's records; fills @got[p] with the write index + 1
 * of record p (0 when it was not a valid record). */
static void check_integrity(Files *F, const FlOp *r, gint64 file, const char *s, gsize len,
                            GArray *deletes, guint *got, gint64 *got_k)
{
    gsize n = len / RECORD;
    if (len % RECORD)
        violation(F, V_GARBAGE, file, r, "%zu bytes is not a whole number of records (a torn "
                  "record at the end)", len);
    for (gsize p = 0; p < n; p++) {
        gint64 id, k;
        got[p] = 0;
        if (!parse_record(s + p * RECORD, &id, &k)) {
            char shown[RECORD * 4 + 1];
            gsize at = 0;
            for (int i = 0; i < RECORD; i++) {
                unsigned char c = (unsigned char)s[p * RECORD + i];
                at += (gsize)g_snprintf(shown + at, sizeof shown - at,
                                        c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
            }
            violation(F, V_GARBAGE, file, r, "record %zu is \"%s\": bytes no write made", p, shown);
            continue;
        }
        const Write *w = write_of(F, id);
        const FlOp *wop = w ? op_at(F, w->op) : NULL;
        if (!w || w->file != file || wop->inv > r->ret || k >= w->records) {
            violation(F, V_PHANTOM, file, r, "record %zu names write %" G_GINT64_FORMAT " record %"
                      G_GINT64_FORMAT ", which %s", p, id, k,
                      !w ? "no operation made" : w->file != file ? "went to another file"
                      : wop->inv > r->ret ? "began after this read ended" : "that write did not have");
            continue;
        }
        if (w->offset >= 0 && w->offset + k != (gint64)p) {
            violation(F, V_MISPLACED, file, r, "record %zu is record %" G_GINT64_FORMAT
                      " of write %" G_GINT64_FORMAT ", which put it at %" G_GINT64_FORMAT,
                      p, k, id, w->offset + k);
            continue;
        }
        for (guint i = 0; i < deletes->len; i++) {
            const FlOp *d = op_at(F, g_array_index(deletes, guint, i));
            if (d->status == FL_OP_OK && file_of(F, d) == file && precedes(wop, d) &&
                d->ret < r->inv) {
                violation(F, V_RESURRECTED, file, r, "record %zu is from write %" G_GINT64_FORMAT
                          ", which ended before the file was deleted (line %u), before this read",
                          p, id, d->ret_line);
                break;
            }
        }
        got[p] = (guint)(w - (const Write *)F->writes->data) + 1;
        got_k[p] = k;
    }
}

/* Durability (note 3, 4): acknowledged writes before @r are in it. */
static void check_durability(Files *F, const FlOp *r, gint64 file, gboolean exists, gsize n,
                             const guint *got, const gint64 *got_k, GArray *deletes, gboolean final)
{
    for (guint i = 0; i < F->writes->len; i++) {
        const Write *w = &g_array_index(F->writes, Write, i);
        const FlOp *wop = op_at(F, w->op);
        if (w->file != file || wop->status != FL_OP_OK || !precedes(wop, r) || w->offset < 0 ||
            maybe_deleted(F, file, wop, r, deletes))
            continue;
        for (gint64 k = 0; k < w->records; k++) {
            gint64 p = w->offset + k;
            const char *why = NULL;
            g_autofree char *owned = NULL;
            if (!exists) {
                why = "the file is gone";
            } else if (p >= (gint64)n) {
                owned = g_strdup_printf("the file has %zu records", n);
                why = owned;
            } else if (got[p] == 0) {
                why = "its place holds bytes no write made";
            } else if (got[p] != i + 1 || got_k[p] != k) {
                const Write *o = &g_array_index(F->writes, Write, got[p] - 1);
                if (!precedes(op_at(F, o->op), wop))
                    continue;   /* a write that is not older may win (note 4) */
                owned = g_strdup_printf("its place holds write %" G_GINT64_FORMAT
                                        ", which ended before it began", o->id);
                why = owned;
            } else {
                continue;
            }
            if (final)
                violation(F, V_LOST, file, r, "acknowledged %s %" G_GINT64_FORMAT " (line %u), "
                          "record %" G_GINT64_FORMAT " at %" G_GINT64_FORMAT ", is missing: %s",
                          files_ops[wop->f], w->id, wop->ret_line, k, p, why);
            else
                F->stale_reads++;
            break;   /* one line per write */
        }
    }
}

static void ns_violation(Files *F, gint64 file, const FlOp *o, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static void ns_violation(Files *F, gint64 file, const FlOp *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    F->counts[V_NAMESPACE]++;
    guint32 line = o->ret_line ? o->ret_line : o->inv_line;
    if (F->report && F->shown++ < SHOWN_MAX)
        g_string_append_printf(F->report, "namespace: file %" G_GINT64_FORMAT ", %s of process %"
                               G_GINT64_FORMAT " (line %u): %s\n", file, files_ops[o->f], o->process,
                               line, text);
    if (F->listed && json_array_size(F->listed) < LISTED_MAX)
        json_array_append_new(F->listed, json_pack("{s:s,s:I,s:I,s:i,s:s}", "kind", "namespace",
                                                   "file", (json_int_t)file, "process",
                                                   (json_int_t)o->process, "line", (int)line,
                                                   "text", text));
}

/* Where @op ended, as a byte offset in the file (event order); never for
 * an info or unfinished one.  Offsets order fail completions too, which
 * FlOp.ret does not. */
static gsize end_of(const FlOp *op)
{
    return op->status == FL_OP_INFO || op->ret_line == 0 ? G_MAXSIZE : op->ret_offset;
}

static gboolean before(const FlOp *a, const FlOp *b)
{
    return a->status == FL_OP_OK && end_of(a) < b->inv_offset;
}

/* Note 6, for every create and delete that completed. */
static void check_namespace(Files *F)
{
    FlHistory *h = F->h;
    for (guint i = 0; i < h->ops->len; i++) {
        const FlOp *o = op_at(F, i);
        if ((o->f != F_CREATE && o->f != F_DELETE) || o->status == FL_OP_INFO)
            continue;
        gint64 file = file_of(F, o);
        gboolean ok = o->status == FL_OP_OK;
        gboolean needs_absent = (o->f == F_CREATE) == ok;
        gboolean fine = TRUE;
        const FlOp *witness = NULL;
        if (needs_absent) {
            for (guint k = 0; k < h->ops->len && fine; k++) {
                const FlOp *c = op_at(F, k);
                if (k == i || c->f != F_CREATE || !before(c, o) || file_of(F, c) != file)
                    continue;
                gboolean gone = FALSE;
                for (guint q = 0; q < h->ops->len && !gone; q++) {
                    const FlOp *x = op_at(F, q);
                    gone = q != i && x->f == F_DELETE && x->status != FL_OP_FAIL &&
                           file_of(F, x) == file && x->inv_offset < end_of(o) && !before(x, c);
                }
                if (!gone) {
                    fine = FALSE;
                    witness = c;
                }
            }
        } else {
            const FlOp *last = NULL;
            for (guint k = 0; k < h->ops->len; k++) {
                const FlOp *x = op_at(F, k);
                if (k != i && x->f == F_DELETE && before(x, o) && file_of(F, x) == file &&
                    (!last || x->ret_offset > last->ret_offset))
                    last = x;
            }
            gboolean there = FALSE;
            for (guint q = 0; q < h->ops->len && !there; q++) {
                const FlOp *y = op_at(F, q);
                there = q != i && y->f == F_CREATE && y->status != FL_OP_FAIL &&
                        file_of(F, y) == file && y->inv_offset < end_of(o) && (!last || !before(y, last));
            }
            fine = there;
            witness = last;
        }
        if (fine)
            continue;
        if (needs_absent)
            ns_violation(F, file, o, "%s, yet the file was created at line %u and no delete "
                         "could have removed it since", ok ? "it succeeded" : "it found no file",
                         witness->ret_line);
        else if (witness)
            ns_violation(F, file, o, "%s, yet the file was deleted at line %u and no create "
                         "could have made it again since", ok ? "it succeeded" : "it found the file",
                         witness->ret_line);
        else
            ns_violation(F, file, o, "%s, yet no create of the file came before",
                         ok ? "it succeeded" : "it found the file");
    }
}

FlVerdict fl_check_files(const FlHistorySource *src, const char *consistency, const char *format,
                         GString *report, json_t **json_out, GError **err)
{
    if (json_out)
        *json_out = NULL;
    if (consistency && strcmp(consistency, "durable") != 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "unknown consistency \"%s\" for model files (expected durable)", consistency);
        return FL_VERDICT_ERROR;
    }
    FlHistory *h = fl_history_open(src, format, &files_model, err);
    if (!h)
        return FL_VERDICT_ERROR;
    Files F = {
        .h = h,
        .writes = g_array_new(FALSE, FALSE, sizeof(Write)),
        .by_id = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL),
        .report = report ? g_string_new(NULL) : NULL,
        .listed = json_out ? json_array() : NULL,
    };
    GArray *deletes = g_array_new(FALSE, FALSE, sizeof(guint));
    GHashTable *final_seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    GList *files = NULL;
    FlVerdict verdict = FL_VERDICT_VALID;
    for (guint i = 0; i < h->ops->len; i++) {
        const FlOp *op = op_at(&F, i);
        gint64 file = file_of(&F, op);
        if (file < 0) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s:%u: expected the file number as an integer \"key\"", src->name, op->inv_line);
            verdict = FL_VERDICT_ERROR;
            goto out;
        }
        if (op->f == F_DELETE && op->status != FL_OP_FAIL)
            g_array_append_val(deletes, i);
        if (op->f != F_WRITE && op->f != F_APPEND)
            continue;
        const FlVal *ev = fl_reader_event_at(h->reader, op->inv_offset, op->inv_line);
        const FlVal *v = fl_val_get(ev, "value");
        Write w = { .op = i, .id = int_of(v, "id", -1), .file = file,
                    .records = int_of(v, "records", 0), .offset = int_of(v, "offset", -1) };
        if (op->f == F_APPEND) {
            w.offset = -1;
            if (op->status == FL_OP_OK) {
                const FlVal *rv = fl_val_get(fl_reader_event_at(h->reader, op->ret_offset,
                                                                op->ret_line), "value");
                w.offset = int_of(rv, "offset", -1);
            }
        }
        if (write_of(&F, w.id)) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s:%u: write id %" G_GINT64_FORMAT " was used already (every write "
                        "and append needs its own id)", src->name, op->inv_line, w.id);
            verdict = FL_VERDICT_ERROR;
            goto out;
        }
        if (op->status == FL_OP_FAIL)
            continue;   /* certainly not applied: its bytes must never be seen */
        g_array_append_val(F.writes, w);
        gint64 *key = g_new(gint64, 1);
        *key = w.id;
        g_hash_table_insert(F.by_id, key, GSIZE_TO_POINTER(F.writes->len));
    }
    for (guint i = 0; i < h->ops->len; i++) {
        const FlOp *op = op_at(&F, i);
        if (op->f != F_READ)
            continue;
        const FlVal *iev = fl_reader_event_at(h->reader, op->inv_offset, op->inv_line);
        const FlVal *fin = fl_val_get(iev, "final");
        gboolean final = fin && fin->kind == FL_VAL_BOOL && fin->b;
        gint64 file = file_of(&F, op);
        if (final && op->status != FL_OP_INFO) {
            /* Note 5: remember, per file, a final read that answered and
             * whether any succeeded (value: op index + 1, G_MAXSIZE once
             * one succeeded). */
            gpointer seen = g_hash_table_lookup(final_seen, &file);
            if (!seen || op->status == FL_OP_OK) {
                gint64 *k = g_new(gint64, 1);
                *k = file;
                g_hash_table_replace(final_seen, k,
                                     GSIZE_TO_POINTER(op->status == FL_OP_OK ? G_MAXSIZE : i + 1));
            }
        }
        if (op->status != FL_OP_OK)
            continue;
        const FlVal *ev = fl_reader_event_at(h->reader, op->ret_offset, op->ret_line);
        const FlVal *v = fl_val_get(ev, "value");
        gboolean exists = v && v->kind == FL_VAL_STR;
        g_autofree char *s = exists ? g_strndup(v->str.s, v->str.len) : g_strdup("");
        gsize len = exists ? v->str.len : 0;
        gsize n = len / RECORD;
        g_autofree guint *got = g_new0(guint, n + 1);
        g_autofree gint64 *got_k = g_new0(gint64, n + 1);
        F.reads++;
        F.final_reads += final;
        check_integrity(&F, op, file, s, len, deletes, got, got_k);
        check_durability(&F, op, file, exists, n, got, got_k, deletes, final);
    }
    check_namespace(&F);
    /* Note 5, in file order. */
    files = g_list_sort(g_hash_table_get_keys(final_seen), (GCompareFunc)cmp_int64);
    for (GList *l = files; l; l = l->next) {
        gint64 file = *(gint64 *)l->data;
        gsize v = GPOINTER_TO_SIZE(g_hash_table_lookup(final_seen, &file));
        if (v == G_MAXSIZE)
            continue;
        const FlOp *r = op_at(&F, (guint)(v - 1));
        for (guint i = 0; i < F.writes->len; i++) {
            const Write *w = &g_array_index(F.writes, Write, i);
            const FlOp *wop = op_at(&F, w->op);
            if (w->file == file && wop->status == FL_OP_OK && precedes(wop, r) &&
                !maybe_deleted(&F, file, wop, r, deletes)) {
                violation(&F, V_UNREADABLE, file, r, "no final read of the file succeeded, yet "
                          "acknowledged %s %" G_GINT64_FORMAT " (line %u) is in it",
                          files_ops[wop->f], w->id, wop->ret_line);
                break;
            }
        }
    }
    guint bad = 0;
    for (int k = 0; k < V_KINDS; k++)
        bad += F.counts[k];
    verdict = bad ? FL_VERDICT_INVALID : FL_VERDICT_VALID;
    if (report) {
        g_string_append(report, F.report->str);
        if (F.shown > SHOWN_MAX)
            g_string_append_printf(report, "... and %u more\n", F.shown - SHOWN_MAX);
        g_string_append_printf(report, "%u operations, %u reads (%u final), %u writes and appends "
                               "that may have happened", h->ops->len, F.reads, F.final_reads,
                               F.writes->len);
        if (bad) {
            g_string_append(report, ":");
            for (int k = 0; k < V_KINDS; k++)
                if (F.counts[k])
                    g_string_append_printf(report, " %u %s", F.counts[k], kind_names[k]);
        } else {
            g_string_append(report, ": every byte read was written");
            g_string_append(report, F.final_reads ? ", every acknowledged write survived"
                                                  : " (no final reads: durability not checked)");
        }
        if (F.stale_reads)
            g_string_append_printf(report, "; %u reads during the run missed an acknowledged write",
                                   F.stale_reads);
        g_string_append_c(report, '\n');
    }
    if (json_out) {
        json_t *j = json_object();
        json_object_set_new(j, "valid", json_boolean(verdict == FL_VERDICT_VALID));
        json_object_set_new(j, "model", json_string("files"));
        json_object_set_new(j, "consistency", json_string("durable"));
        json_object_set_new(j, "operations", json_integer(h->ops->len));
        json_object_set_new(j, "keys", json_integer(MAX(h->keys->len, 1)));
        json_object_set_new(j, "verdict", json_string(verdict == FL_VERDICT_VALID ? "valid" : "invalid"));
        json_object_set_new(j, "reads", json_integer(F.reads));
        json_object_set_new(j, "final_reads", json_integer(F.final_reads));
        json_object_set_new(j, "stale_reads", json_integer(F.stale_reads));
        for (int k = 0; k < V_KINDS; k++)
            json_object_set_new(j, kind_names[k], json_integer(F.counts[k]));
        json_object_set_new(j, "violations", F.listed);
        F.listed = NULL;
        *json_out = j;
    }
out:
    if (F.listed)
        json_decref(F.listed);
    if (F.report)
        g_string_free(F.report, TRUE);
    g_array_free(deletes, TRUE);
    g_list_free(files);
    g_hash_table_unref(final_seen);
    g_array_free(F.writes, TRUE);
    g_hash_table_unref(F.by_id);
    fl_history_free(h);
    return verdict;
}
