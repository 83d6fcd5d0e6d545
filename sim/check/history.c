/* sim/check/history.c: loading and validating a history.
 *
 * Design notes.
 *  1. The verdict depends on event order only (Knossos does the same): op A
 *     precedes op B in real time when A's completion comes before B's
 *     invocation in the file.  `time`, when present, must agree with that
 *     order: times never decrease from one client event to the next, so a
 *     completion before its own invocation, or a process whose clock runs
 *     backwards, is refused with the line, never read silently in line
 *     order.  (Ordering by `time` instead would let two files with the same
 *     events in different orders mean the same; refusing keeps one meaning,
 *     and a history is written in the order events happened: Jepsen's is
 *     "a totally ordered log" (jepsen.history), and so is the engine's.)  `index` (Jepsen's position of the event) must likewise grow
 *     strictly from line to line.
 *  2. An event whose process is not an integer but the name "nemesis" is a
 *     fault injector's note, not a client operation: skipped.
 *  3. An `info` completion ends its process (Jepsen): a later invocation on
 *     the same process is an error, so per-process order (sequential
 *     consistency) never has to look past an info operation.
 *  4. A history from the engine may come with an index (check.h,
 *     FlHistoryEvent) of what it wrote on each line.  The loader then reads
 *     only each value's text, and builds from the index the very values
 *     the reader would have made of the other fields: add_event, which
 *     holds every rule, cannot tell the two paths apart, so verdicts,
 *     reports and messages are the same.  The text stays the history:
 *     reports read the fields they show from it (fl_history_extra).
 *  5. `client` names the session (Terry et al.): the client that issued the
 *     operation, which stays the same when the client, after an `info`,
 *     continues as a new process.  Linearizability and the other models
 *     read processes; the session guarantees read clients (session.c).
 *     Without `client` a process is its own session.  A client, like a
 *     process, has one operation open at a time, counting an operation open
 *     until its completion of any type: after an info the client may go on,
 *     the process may not.
 */
#include "sim/check/history.h"

#include <string.h>

/* A map from process ids to non-zero numbers, without an allocation per
 * entry: open addressing, linear probing, load <= 1/2; removal shifts the
 * entries after it back, so there are no tombstones.  A value of 0 marks an
 * empty slot. */
typedef struct {
    gint64 *keys;
    guint32 *vals;
    gsize mask, count;
} ProcMap;

static gsize proc_hash(gint64 p)
{
    guint64 x = (guint64)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (gsize)x;
}

static void proc_init(ProcMap *m)
{
    m->mask = 63;
    m->count = 0;
    m->keys = g_new(gint64, m->mask + 1);
    m->vals = g_new0(guint32, m->mask + 1);
}

static void proc_clear(ProcMap *m)
{
    g_free(m->keys);
    g_free(m->vals);
}

/* The slot of @p, or the empty slot where it would go. */
static gsize proc_slot(const ProcMap *m, gint64 p)
{
    gsize i = proc_hash(p) & m->mask;
    while (m->vals[i] && m->keys[i] != p) i = (i + 1) & m->mask;
    return i;
}

static guint32 proc_get(const ProcMap *m, gint64 p)
{
    return m->vals[proc_slot(m, p)];
}

static void proc_set(ProcMap *m, gint64 p, guint32 v)
{
    g_assert(v != 0);
    gsize i = proc_slot(m, p);
    if (m->vals[i]) {
        m->vals[i] = v;
        return;
    }
    m->keys[i] = p;
    m->vals[i] = v;
    if (++m->count * 2 <= m->mask) return;
    ProcMap old = *m;
    m->mask = old.mask * 2 + 1;
    m->keys = g_new(gint64, m->mask + 1);
    m->vals = g_new0(guint32, m->mask + 1);
    for (gsize j = 0; j <= old.mask; j++) {
        if (!old.vals[j]) continue;
        gsize k = proc_slot(m, old.keys[j]);
        m->keys[k] = old.keys[j];
        m->vals[k] = old.vals[j];
    }
    proc_clear(&old);
}

static void proc_remove(ProcMap *m, gint64 p)
{
    gsize i = proc_slot(m, p);
    if (!m->vals[i]) return;
    m->vals[i] = 0;
    m->count--;
    /* Move back every entry after the hole that may no longer be found. */
    for (gsize j = (i + 1) & m->mask; m->vals[j]; j = (j + 1) & m->mask) {
        gsize home = proc_hash(m->keys[j]) & m->mask;
        /* The entry stays if its home lies cyclically in (i, j]. */
        gboolean stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        m->keys[i] = m->keys[j];
        m->vals[i] = m->vals[j];
        m->vals[j] = 0;
        i = j;
    }
}

typedef struct {
    FlHistory *h;
    ProcMap open;             /* process -> op index + 1 */
    ProcMap dead;             /* process -> line of its info completion */
    ProcMap client_open;      /* client -> line of its open invocation */
    gint64 last_time;         /* note 1: the latest time so far, or -1 */
    guint32 last_time_line;
    gint64 last_index;        /* note 1: the last index so far, or -1 */
    guint32 last_index_line;
    gint keyed;               /* -1 unknown, 0 no, 1 yes */
    guint32 first_line;
    GHashTable *key_seen;     /* atom -> 1 */
    GString *why;             /* a model's complaint, reused */
} Loader;

/* The fields the checker reads, the first of each name as fl_val_get finds
 * them, in one pass over the event's map. */
typedef struct {
    const FlVal *process, *type, *f, *value, *time, *key, *final, *client, *index;
} Fields;

static void fields_of(const FlVal *ev, Fields *out)
{
    memset(out, 0, sizeof *out);
    if (ev->kind != FL_VAL_MAP) return;
    for (gsize i = 0; i + 1 < ev->seq.n; i += 2) {
        const FlVal *k = ev->seq.items[i];
        if (k->kind != FL_VAL_KEYWORD && k->kind != FL_VAL_STR) continue;
        const FlVal **slot = NULL;
        const char *s = k->str.s;
        switch (k->str.len) {
        case 1: if (s[0] == 'f') slot = &out->f; break;
        case 3: if (memcmp(s, "key", 3) == 0) slot = &out->key; break;
        case 4:
            if (memcmp(s, "type", 4) == 0) slot = &out->type;
            else if (memcmp(s, "time", 4) == 0) slot = &out->time;
            break;
        case 5:
            if (memcmp(s, "value", 5) == 0) slot = &out->value;
            else if (memcmp(s, "final", 5) == 0) slot = &out->final;
            else if (memcmp(s, "index", 5) == 0) slot = &out->index;
            break;
        case 6: if (memcmp(s, "client", 6) == 0) slot = &out->client; break;
        case 7: if (memcmp(s, "process", 7) == 0) slot = &out->process; break;
        default: break;
        }
        if (slot && *slot == NULL) *slot = ev->seq.items[i + 1];
    }
}

static const FlVal null_val = { .kind = FL_VAL_NULL };

static gboolean name_is_len(const FlVal *v, const char *s, gsize n)
{
    return v && (v->kind == FL_VAL_STR || v->kind == FL_VAL_KEYWORD) &&
           v->str.len == n && memcmp(v->str.s, s, n) == 0;
}

/* Whether @v is the string or keyword @lit (a string constant). */
#define name_is(v, lit) name_is_len((v), (lit), sizeof(lit) - 1)

static void set_err(GError **err, const FlHistory *h, guint32 line,
                    const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void set_err(GError **err, const FlHistory *h, guint32 line,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:%u: %s", h->path,
                line, msg);
}

static char *ops_list(const FlModel *m)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; m->ops[i]; i++) {
        if (i) g_string_append(s, m->ops[i + 1] ? ", " : " or ");
        g_string_append(s, m->ops[i]);
    }
    return g_string_free(s, FALSE);
}

/* One event, read from the text (text_event) or from the engine's index
 * (index_event): every rule is here, so that the two cannot differ.
 * @line and @offset are where the event starts. */
static gboolean add_event(Loader *L, const Fields *fl, guint32 line, gsize offset,
                          GError **err)
{
    FlHistory *h = L->h;
    const FlModel *m = h->model;

    const FlVal *process = fl->process;
    if (process == NULL) {
        set_err(err, h, line, "missing field \"process\"");
        return FALSE;
    }
    if (name_is(process, "nemesis")) return TRUE;
    if (process->kind != FL_VAL_INT) {
        set_err(err, h, process->line, "expected an integer process, got %s",
                fl_val_kind_name(process));
        return FALSE;
    }
    const FlVal *type = fl->type;
    FlOpStatus status = FL_OP_OK;
    gboolean invoke = FALSE;
    if (name_is(type, "invoke")) invoke = TRUE;
    else if (name_is(type, "ok")) status = FL_OP_OK;
    else if (name_is(type, "fail")) status = FL_OP_FAIL;
    else if (name_is(type, "info")) status = FL_OP_INFO;
    else {
        set_err(err, h, type ? type->line : line,
                "expected \"type\" to be invoke, ok, fail or info");
        return FALSE;
    }
    const FlVal *f = fl->f;
    if (f == NULL || (f->kind != FL_VAL_STR && f->kind != FL_VAL_KEYWORD)) {
        set_err(err, h, f ? f->line : line,
                "expected \"f\", the operation's name, as a string");
        return FALSE;
    }
    int fi = fl_model_op(m, f->str.s, f->str.len);
    if (fi < 0) {
        g_autofree char *names = ops_list(m);
        set_err(err, h, f->line, "unknown f \"%.*s\" for model %s (expected %s)",
                (int)MIN(f->str.len, 40), f->str.s, m->name, names);
        return FALSE;
    }
    const FlVal *value = fl->value;
    if (value == NULL) value = &null_val;
    const FlVal *time = fl->time;
    if (time && time->kind != FL_VAL_INT) {
        set_err(err, h, time->line, "expected an integer \"time\" (nanoseconds), got %s",
                fl_val_kind_name(time));
        return FALSE;
    }
    const FlVal *client = fl->client;
    if (client && client->kind != FL_VAL_INT) {
        set_err(err, h, client->line, "expected an integer \"client\" (the session), got %s",
                fl_val_kind_name(client));
        return FALSE;
    }
    const FlVal *index = fl->index;
    if (index && index->kind != FL_VAL_INT) {
        set_err(err, h, index->line, "expected an integer \"index\", got %s",
                fl_val_kind_name(index));
        return FALSE;
    }
    /* Note 1: `index` and `time` agree with line order. */
    if (index) {
        if (L->last_index_line && index->i <= L->last_index) {
            set_err(err, h, index->line, "index %" G_GINT64_FORMAT " does not follow index %"
                    G_GINT64_FORMAT " at line %u (events are in index order, each index "
                    "greater than the one before)", index->i, L->last_index,
                    L->last_index_line);
            return FALSE;
        }
        L->last_index = index->i;
        L->last_index_line = line;
    }
    if (time) {
        guint32 open = proc_get(&L->open, process->i);
        const FlOp *o = open && !invoke ? &g_array_index(h->ops, FlOp, open - 1) : NULL;
        if (o && o->inv_time > time->i) {
            set_err(err, h, time->line, "this completion of process %" G_GINT64_FORMAT
                    " has time %" G_GINT64_FORMAT ", before its own invocation at line %u "
                    "(time %" G_GINT64_FORMAT "): times must not decrease from line to line",
                    process->i, time->i, o->inv_line, o->inv_time);
            return FALSE;
        }
        if (L->last_time_line && time->i < L->last_time) {
            set_err(err, h, time->line, "time %" G_GINT64_FORMAT " is before time %"
                    G_GINT64_FORMAT " at line %u: times must not decrease from line to "
                    "line (line order is the order events happened in)", time->i,
                    L->last_time, L->last_time_line);
            return FALSE;
        }
        L->last_time = time->i;
        L->last_time_line = line;
    }
    const FlVal *key = fl->key;
    FlAtom key_atom = FL_ATOM_NONE;
    if (key) {
        if (key->kind != FL_VAL_INT && key->kind != FL_VAL_STR &&
            key->kind != FL_VAL_KEYWORD) {
            set_err(err, h, key->line, "expected a string or integer \"key\", got %s",
                    fl_val_kind_name(key));
            return FALSE;
        }
        key_atom = fl_atoms_value(h->ctx.atoms, key);
    }
    if (L->keyed < 0) {
        L->keyed = key != NULL;
        L->first_line = line;
    } else if (L->keyed != (key != NULL)) {
        set_err(err, h, line, "%s, but the event at line %u %s (a keyed history "
                "has a key on every event)", key ? "this event has a key" :
                "this event has no key", L->first_line, key ? "has none" : "has one");
        return FALSE;
    }
    gint64 pos = 2 * (gint64)h->n_events++;
    gint64 t = time ? time->i : -1;
    guint32 slot = proc_get(&L->open, process->i);
    GString *why = L->why;
    g_string_truncate(why, 0);

    if (invoke) {
        if (slot) {
            FlOp *o = &g_array_index(h->ops, FlOp, slot - 1);
            set_err(err, h, line, "process %" G_GINT64_FORMAT " invokes an operation "
                    "while its %s from line %u is still open", process->i,
                    m->ops[o->f], o->inv_line);
            return FALSE;
        }
        gint64 cid = client ? client->i : process->i;
        guint32 copen = client ? proc_get(&L->client_open, cid) : 0;
        if (copen) {
            set_err(err, h, line, "client %" G_GINT64_FORMAT " invokes an operation while its "
                    "operation from line %u is still open (a client, like a process, runs "
                    "one operation at a time)", cid, copen);
            return FALSE;
        }
        guint32 dead = proc_get(&L->dead, process->i);
        if (dead) {
            set_err(err, h, line, "process %" G_GINT64_FORMAT " invokes an operation "
                    "after its info completion at line %u (a process whose operation "
                    "ended in info never issues another)", process->i,
                    dead);
            return FALSE;
        }
        FlOp op = {
            .process = process->i, .inv = pos, .ret = FL_POS_INF,
            .inv_time = t, .ret_time = -1, .inv_line = line,
            .inv_offset = offset, .key = key_atom, .f = (guint8)fi,
            .status = FL_OP_INFO, .shown = fl_atoms_value(h->ctx.atoms, value),
            .final = fl->final && fl->final->kind == FL_VAL_BOOL && fl->final->b,
            .client = cid, .has_client = client != NULL,
        };
        if (!m->parse(&h->ctx, &op, value, FALSE, why)) {
            set_err(err, h, value->line ? value->line : line, "%s", why->str);
            return FALSE;
        }
        g_array_append_val(h->ops, op);
        g_assert(h->ops->len < G_MAXUINT32);
        proc_set(&L->open, process->i, h->ops->len);
        if (client) proc_set(&L->client_open, cid, line);
        if (key && !g_hash_table_contains(L->key_seen, GUINT_TO_POINTER(key_atom))) {
            g_hash_table_add(L->key_seen, GUINT_TO_POINTER(key_atom));
            g_array_append_val(h->keys, key_atom);
        }
        return TRUE;
    }

    if (!slot) {
        set_err(err, h, line, "a completion (%.*s) of process %" G_GINT64_FORMAT
                " with no open invocation", (int)type->str.len, type->str.s,
                process->i);
        return FALSE;
    }
    FlOp *op = &g_array_index(h->ops, FlOp, slot - 1);
    if (op->f != fi) {
        set_err(err, h, line, "completion f \"%s\" does not match the invocation's "
                "\"%s\" at line %u", m->ops[fi], m->ops[op->f], op->inv_line);
        return FALSE;
    }
    if (op->key != key_atom) {
        set_err(err, h, line, "completion key differs from the invocation's at line %u",
                op->inv_line);
        return FALSE;
    }
    if (client && (!op->has_client || op->client != client->i)) {
        set_err(err, h, client->line, "completion client %" G_GINT64_FORMAT " differs from "
                "the invocation's at line %u (%s)", client->i, op->inv_line,
                op->has_client ? "another client" : "none");
        return FALSE;
    }
    if (op->has_client) proc_remove(&L->client_open, op->client);
    op->status = (guint8)status;
    op->ret_line = line;
    op->ret_time = t;
    op->ret_offset = offset;
    if (status == FL_OP_OK) {
        op->ret = pos;
        if (!m->parse(&h->ctx, op, value, TRUE, why)) {
            set_err(err, h, value->line ? value->line : line, "%s", why->str);
            return FALSE;
        }
        op->shown = fl_atoms_value(h->ctx.atoms, value);
    }
    if (status == FL_OP_INFO) proc_set(&L->dead, process->i, line);
    proc_remove(&L->open, process->i);
    return TRUE;
}

static gboolean text_event(Loader *L, const FlVal *ev, gsize offset, GError **err)
{
    Fields fl;
    fields_of(ev, &fl);
    return add_event(L, &fl, ev->line, offset, err);
}

static const FlVal type_vals[] = {
    [FL_EVENT_INVOKE] = { .kind = FL_VAL_STR, .str = { "invoke", 6 } },
    [FL_EVENT_OK] = { .kind = FL_VAL_STR, .str = { "ok", 2 } },
    [FL_EVENT_FAIL] = { .kind = FL_VAL_STR, .str = { "fail", 4 } },
    [FL_EVENT_INFO] = { .kind = FL_VAL_STR, .str = { "info", 4 } },
};

/* Whether @e lies in the text after @end (the end of the line before it),
 * its f and value inside its line. */
static gboolean index_fits(const FlHistory *h, const FlHistoryEvent *e, gsize end,
                           guint32 prev_line)
{
    const char *d = h->data;
    return e->offset == end && e->len > 0 && e->len <= h->len - e->offset &&
           e->line > prev_line && d[e->offset] == '{' && e->type <= FL_EVENT_INFO &&
           e->f_at > 0 && e->f_at + (gsize)e->f_len < e->len &&
           d[e->offset + e->f_at - 1] == '"' && d[e->offset + e->f_at + e->f_len] == '"' &&
           e->value_at > 0 && e->value_len > 0 && e->value_at < e->len &&
           e->value_len <= e->len - e->value_at;
}

/* Design note 4: the value of an indexed event when its text is null or an
 * integer of at most 18 digits (what a register history mostly holds), as
 * fl_reader_value_at would read it (reader.c note 5, its fast path for
 * numbers): FALSE for any other text, which the reader then reads. */
static gboolean plain_value(const char *d, gsize n, guint32 line, guint32 col, FlVal *out)
{
    if (n == 4 && memcmp(d, "null", 4) == 0) {
        *out = (FlVal){ .kind = FL_VAL_NULL, .line = line, .col = col };
        return TRUE;
    }
    gsize i = d[0] == '-';
    gsize digits_at = i;
    guint64 x = 0;
    if (i < n && d[i] == '0') {
        i++;
    } else {
        while (i < n && g_ascii_isdigit(d[i]) && i - digits_at < 18) {
            x = x * 10 + (guint64)(d[i] - '0');
            i++;
        }
    }
    if (i == digits_at || i != n) return FALSE;
    *out = (FlVal){ .kind = FL_VAL_INT, .line = line, .col = col };
    out->str.len = n;   /* as the reader leaves it */
    out->i = d[0] == '-' ? -(gint64)x : (gint64)x;
    return TRUE;
}

/* Design note 4: an event from the engine's index (check.h).  The fields
 * the index gives become the values the reader would have made of the
 * line's text (on one line, so their line is the event's), the value is
 * read from its own text, and add_event does the rest. */
static gboolean index_event(Loader *L, const FlHistoryEvent *e, GError **err)
{
    static const FlVal final_true = { .kind = FL_VAL_BOOL, .b = TRUE };
    FlHistory *h = L->h;
    FlVal process = { .kind = FL_VAL_INT, .line = e->line, .i = e->process };
    FlVal f = { .kind = FL_VAL_STR, .line = e->line,
                .str = { h->data + e->offset + e->f_at, e->f_len } };
    FlVal type = type_vals[e->type];
    type.line = e->line;
    FlVal key = { .kind = FL_VAL_INT, .line = e->line, .i = e->key };
    FlVal time = { .kind = FL_VAL_INT, .line = e->line, .i = e->time };
    FlVal client = { .kind = FL_VAL_INT, .line = e->line, .i = e->client };
    FlVal plain;
    const FlVal *value = plain_value(h->data + e->offset + e->value_at, e->value_len, e->line,
                                     e->value_at + 1, &plain)
                             ? &plain
                             : fl_reader_value_at(h->reader, e->offset + e->value_at,
                                                  e->value_len, e->line, e->value_at + 1, err);
    if (value == NULL) return FALSE;
    Fields fl = {
        .process = &process, .type = &type, .f = &f, .value = value,
        .time = e->flags & FL_EVENT_HAS_TIME ? &time : NULL,
        .key = e->flags & FL_EVENT_HAS_KEY ? &key : NULL,
        .final = e->flags & FL_EVENT_FINAL ? &final_true : NULL,
        .client = e->flags & FL_EVENT_HAS_CLIENT ? &client : NULL,
    };
    return add_event(L, &fl, e->line, e->offset, err);
}

static FlHistory *parse(const char *path, GMappedFile *file, const char *data,
                        gsize len, const FlHistorySource *index, const char *format,
                        const FlModel *model, GError **err);

FlHistory *fl_history_load(const char *path, const char *format,
                           const FlModel *model, GError **err)
{
    GMappedFile *file = g_mapped_file_new(path, FALSE, err);
    if (!file) return NULL;
    const char *data = g_mapped_file_get_contents(file);
    gsize len = g_mapped_file_get_length(file);
    return parse(path, file, data ? data : "", len, NULL, format, model, err);
}

FlHistory *fl_history_parse(const char *name, const char *data, gsize len,
                            const char *format, const FlModel *model,
                            GError **err)
{
    return parse(name, NULL, data, len, NULL, format, model, err);
}

FlHistory *fl_history_open(const FlHistorySource *src, const char *format,
                           const FlModel *model, GError **err)
{
    if (src->data == NULL) return fl_history_load(src->name, format, model, err);
    return parse(src->name, NULL, src->data, src->len, src->events ? src : NULL, format,
                 model, err);
}

/* Takes ownership of @file (may be NULL), even on failure.  With @index
 * (its events not NULL), JSON Lines are read from its events. */
static FlHistory *parse(const char *path, GMappedFile *file, const char *data,
                        gsize len, const FlHistorySource *index, const char *format,
                        const FlModel *model, GError **err)
{
    FlFormat fmt;
    if (format == NULL) {
        fmt = g_str_has_suffix(path, ".edn") ? FL_FORMAT_EDN : FL_FORMAT_JSONL;
    } else if (strcmp(format, "jsonl") == 0 || strcmp(format, "json") == 0) {
        fmt = FL_FORMAT_JSONL;
    } else if (strcmp(format, "edn") == 0) {
        fmt = FL_FORMAT_EDN;
    } else {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "unknown format \"%s\" (expected jsonl or edn)", format);
        if (file) g_mapped_file_unref(file);
        return NULL;
    }

    FlHistory *h = g_new0(FlHistory, 1);
    h->model = model;
    h->ctx.atoms = fl_atoms_new();
    h->ctx.items = g_array_new(FALSE, FALSE, sizeof(guint32));
    /* With an index the number of events is known: an operation is at
     * most two of them. */
    h->ops = index ? g_array_sized_new(FALSE, FALSE, sizeof(FlOp), (guint)(index->n_events / 2 + 1))
                   : g_array_new(FALSE, FALSE, sizeof(FlOp));
    h->keys = g_array_new(FALSE, FALSE, sizeof(FlAtom));
    h->path = g_strdup(path);
    h->file = file;
    h->data = data;
    h->len = len;
    h->reader = fl_reader_new(path, data, len, fmt);

    Loader L = {
        .h = h,
        .keyed = -1,
        .last_time = -1,
        .last_index = -1,
        .key_seen = g_hash_table_new(NULL, NULL),
        .why = g_string_new(NULL),
    };
    proc_init(&L.open);
    proc_init(&L.dead);
    proc_init(&L.client_open);
    gboolean ok = TRUE;
    if (index && fmt == FL_FORMAT_JSONL) {
        gsize end = 0;
        guint32 prev_line = 0;
        for (gsize i = 0; ok && i < index->n_events; i++) {
            const FlHistoryEvent *e = &index->events[i];
            if (!index_fits(h, e, end, prev_line)) {
                set_err(err, h, e->line, "the history's index does not match its text "
                        "(event %" G_GSIZE_FORMAT ")", i);
                ok = FALSE;
                break;
            }
            ok = index_event(&L, e, err);
            end = e->offset + e->len;
            prev_line = e->line;
        }
        if (ok && end != len) {
            set_err(err, h, prev_line + 1, "the history's index does not cover its text");
            ok = FALSE;
        }
    } else {
        for (;;) {
            const FlVal *ev;
            gsize offset;
            int rc = fl_reader_next(h->reader, &ev, &offset, err);
            if (rc < 0) ok = FALSE;
            if (rc <= 0) break;
            if (!text_event(&L, ev, offset, err)) {
                ok = FALSE;
                break;
            }
        }
    }
    proc_clear(&L.open);
    proc_clear(&L.dead);
    proc_clear(&L.client_open);
    g_hash_table_unref(L.key_seen);
    g_string_free(L.why, TRUE);
    if (!ok) {
        fl_history_free(h);
        return NULL;
    }
    return h;
}

void fl_history_free(FlHistory *h)
{
    if (h == NULL) return;
    fl_reader_free(h->reader);
    if (h->file) g_mapped_file_unref(h->file);
    fl_atoms_free(h->ctx.atoms);
    g_array_unref(h->ctx.items);
    g_array_unref(h->ops);
    g_array_unref(h->keys);
    g_free(h->path);
    g_free(h);
}

static const char *const used_fields[] = {
    "process", "type", "f", "value", "key", "time", NULL,
};

static void extra_of(FlHistory *h, gsize offset, guint32 line,
                     GHashTable *seen, GString *out)
{
    const FlVal *ev = fl_reader_event_at(h->reader, offset, line);
    if (ev == NULL || ev->kind != FL_VAL_MAP) return;
    for (gsize i = 0; i + 1 < ev->seq.n; i += 2) {
        const FlVal *k = ev->seq.items[i];
        if (k->kind != FL_VAL_STR && k->kind != FL_VAL_KEYWORD) continue;
        g_autofree char *name = g_strndup(k->str.s, k->str.len);
        gboolean used = FALSE;
        for (int j = 0; used_fields[j]; j++) used |= strcmp(used_fields[j], name) == 0;
        if (used || g_hash_table_contains(seen, name)) continue;
        g_string_append(out, ", ");
        fl_val_to_json(k, out);
        g_string_append(out, ": ");
        fl_val_to_json(ev->seq.items[i + 1], out);
        g_hash_table_add(seen, g_steal_pointer(&name));
    }
}

void fl_history_extra(FlHistory *h, const FlOp *op, GString *out)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    extra_of(h, op->inv_offset, op->inv_line, seen, out);
    if (op->ret_line) extra_of(h, op->ret_offset, op->ret_line, seen, out);
    g_hash_table_unref(seen);
}
