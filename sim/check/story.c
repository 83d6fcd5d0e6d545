/* sim/check/story.c: see story.h.
 *
 * Design notes.
 * 1. Each pattern is a proof on its own, so a story is never wrong even
 *    when the search found another reason first.  Real time is the order
 *    of events (FlOp.inv, FlOp.ret), as in the search; the `time` fields
 *    only label it.  The writers of a value are the operations that may
 *    have written it (ok or info, never fail); the overwriting write in a
 *    pattern must be ok, since an info write may never have happened.
 * 2. Stale read: every writer of the value read (and the initial value, if
 *    it is the one read) ended before some ok write of another value began,
 *    which itself ended before the read began.  Whatever order a
 *    linearization picks, take the last writer of the value before the
 *    read: its overwriting write falls between them, so the read cannot
 *    return the value.
 * 3. New-old inversion: a read returned v2, and a later read (begun after
 *    the first ended) returned v1, while every writer of v1 ended before
 *    every writer of v2 began.  The second read must follow a writer of
 *    v2, which follows every writer of v1.
 * 4. Pairs of reads are quadratic: the search for inversions stops after
 *    PAIRS_MAX pairs; the story is then simply not told.
 * 5. Appends (kv): the value is the concatenation of the appended strings
 *    in linearization order since the last put, so an append that ended
 *    before a get began is somewhere in what the get returned, and two
 *    appends ordered in real time appear in that order, unless a put may
 *    fall between the append and the get (a put not wholly before the
 *    append nor wholly after the get) whose value begins the get's: then
 *    no story.  A missing
 *    string is a proof; an order is read only from strings that occur
 *    exactly once in the result, where their place is certain. */
#include "sim/check/story.h"

#include "sim/check/model.h"

#include <string.h>

#define PAIRS_MAX 4000000

typedef struct {
    FlHistory *h;
    const FlModel *m;
    GHashTable *writers;   /* value atom -> GArray of op indices (ok or info) */
    FlAtom initial;
} Story;

static const FlOp *op_at(const Story *s, guint32 i)
{
    return &g_array_index(s->h->ops, FlOp, i);
}

static gboolean readonly(const Story *s, const FlOp *op)
{
    return (s->m->readonly_ops >> op->f) & 1u;
}

static FlAtom written(const Story *s, const FlOp *op)
{
    FlAtom v = FL_ATOM_NONE;
    if (readonly(s, op) || s->m->produces(op, &v) != FL_PRODUCES_EXACT)
        return FL_ATOM_NONE;
    return v;
}

static GArray *writers_of(const Story *s, FlAtom v)
{
    return g_hash_table_lookup(s->writers, GUINT_TO_POINTER(v));
}

static void value(const Story *s, FlAtom v, GString *out)
{
    fl_atoms_to_json(s->h->ctx.atoms, v, out);
}

/* "at 13.8 ms" when the history has times, else "at line 7". */
static void when(const FlOp *op, gboolean end, GString *out)
{
    gint64 t = end ? op->ret_time : op->inv_time;
    guint32 line = end ? op->ret_line : op->inv_line;
    if (t >= 1000000)
        g_string_append_printf(out, "at %.1f ms (line %u)", (double)t / 1e6, line);
    else if (t >= 0)
        g_string_append_printf(out, "at time %" G_GINT64_FORMAT " (line %u)", t, line);
    else
        g_string_append_printf(out, "at line %u", line);
}

/* "write 2 (process 1)" or "the read (process 2)". */
static void name(const Story *s, const FlOp *op, GString *out)
{
    if (readonly(s, op)) {
        g_string_append_printf(out, "the %s by process %" G_GINT64_FORMAT, s->m->ops[op->f],
                               op->process);
        return;
    }
    g_string_append_printf(out, "%s ", s->m->ops[op->f]);
    value(s, op->shown, out);
    g_string_append_printf(out, " (process %" G_GINT64_FORMAT ")", op->process);
}

static void add(GArray *ops, guint32 i)
{
    g_array_append_val(ops, i);
}

/* An ok write of another value than @v that begins after @c ends (any, for
 * the initial value: @c NULL) and ends before @r begins; the latest such. */
static gint64 overwriter(const Story *s, const guint32 *idx, guint n, const FlOp *c, FlAtom v,
                         const FlOp *r)
{
    gint64 best = -1;
    for (guint k = 0; k < n; k++) {
        const FlOp *w = op_at(s, idx[k]);
        FlAtom u = written(s, w);
        if (w->status != FL_OP_OK || u == FL_ATOM_NONE || u == v)
            continue;
        if ((c == NULL || c->ret < w->inv) && w->ret < r->inv &&
            (best < 0 || op_at(s, (guint32)best)->ret < w->ret))
            best = idx[k];
    }
    return best;
}

static gboolean nobody_wrote(Story *s, guint32 ri, GString *text, GArray *ops)
{
    const FlOp *r = op_at(s, ri);
    FlAtom v = s->m->observes(r);
    if (v == FL_ATOM_NONE || v == s->initial || writers_of(s, v))
        return FALSE;
    g_string_append(text, "In short: ");
    name(s, r, text);
    g_string_append(text, " returned ");
    value(s, v, text);
    g_string_append(text, " ");
    when(r, TRUE, text);
    g_string_append(text, ", a value no operation wrote (a failed write takes no effect); "
                          "a register returns only a value written to it, or its initial ");
    value(s, s->initial, text);
    g_string_append(text, ".\n");
    add(ops, ri);
    return TRUE;
}

static gboolean from_the_future(Story *s, guint32 ri, GString *text, GArray *ops)
{
    const FlOp *r = op_at(s, ri);
    FlAtom v = s->m->observes(r);
    GArray *ws = writers_of(s, v);
    if (v == FL_ATOM_NONE || v == s->initial || !ws)
        return FALSE;
    guint32 first = g_array_index(ws, guint32, 0);
    for (guint k = 0; k < ws->len; k++) {
        const FlOp *w = op_at(s, g_array_index(ws, guint32, k));
        if (w->inv < r->ret)
            return FALSE;
        if (w->inv < op_at(s, first)->inv)
            first = g_array_index(ws, guint32, k);
    }
    g_string_append(text, "In short: ");
    name(s, r, text);
    g_string_append(text, " returned ");
    value(s, v, text);
    g_string_append(text, " and ended ");
    when(r, TRUE, text);
    g_string_append(text, ", before ");
    name(s, op_at(s, first), text);
    g_string_append(text, " began ");
    when(op_at(s, first), FALSE, text);
    g_string_append(text, ": it read a value that had not been written yet.\n");
    add(ops, ri);
    add(ops, first);
    return TRUE;
}

static gboolean stale(Story *s, const guint32 *idx, guint n, guint32 ri, GString *text,
                      GArray *ops)
{
    const FlOp *r = op_at(s, ri);
    FlAtom v = s->m->observes(r);
    if (v == FL_ATOM_NONE)
        return FALSE;
    GArray *ws = writers_of(s, v);
    /* Note 2: every writer of v overwritten before the read began. */
    gint64 c0 = -1, w0 = -1;
    if (v == s->initial) {
        w0 = overwriter(s, idx, n, NULL, v, r);
        if (w0 < 0)
            return FALSE;
    }
    for (guint k = 0; ws && k < ws->len; k++) {
        guint32 ci = g_array_index(ws, guint32, k);
        gint64 wi = overwriter(s, idx, n, op_at(s, ci), v, r);
        if (wi < 0)
            return FALSE;
        if (c0 < 0 || op_at(s, (guint32)c0)->ret < op_at(s, ci)->ret) {
            c0 = ci;
            if (v != s->initial)
                w0 = wi;
        }
    }
    if (w0 < 0)
        return FALSE;
    const FlOp *w = op_at(s, (guint32)w0);
    g_string_append(text, "In short: ");
    if (c0 >= 0 && v != s->initial) {
        const FlOp *c = op_at(s, (guint32)c0);
        name(s, c, text);
        g_string_append(text, " ended ");
        when(c, TRUE, text);
        g_string_append(text, " before ");
        name(s, w, text);
        g_string_append(text, " began ");
        when(w, FALSE, text);
        g_string_append(text, "; ");
        add(ops, (guint32)c0);
    }
    name(s, w, text);
    g_string_append(text, " ended ");
    when(w, TRUE, text);
    g_string_append(text, " before ");
    name(s, r, text);
    g_string_append(text, " began ");
    when(r, FALSE, text);
    g_string_append(text, "; so the read must return ");
    value(s, w->shown, text);
    g_string_append(text, " or a later value, but it returned ");
    if (v == s->initial)
        g_string_append(text, "the initial value ");
    value(s, v, text);
    if (ws && ws->len > 1)
        g_string_append(text, " (and every other write of that value was overwritten the same way)");
    g_string_append(text, ".\n");
    add(ops, (guint32)w0);
    add(ops, ri);
    return TRUE;
}

/* Note 3: every writer of @v1 ends before every writer of @v2 begins; the
 * last of the first and the first of the second, for the story. */
static gboolean ordered(Story *s, FlAtom v1, FlAtom v2, guint32 *last1, guint32 *first2)
{
    GArray *a = writers_of(s, v1), *b = writers_of(s, v2);
    if (!b || v2 == s->initial || (!a && v1 != s->initial))
        return FALSE;
    gint64 end1 = G_MININT64;   /* the initial value "ends" before everything */
    for (guint k = 0; a && k < a->len; k++) {
        const FlOp *o = op_at(s, g_array_index(a, guint32, k));
        if (o->ret > end1) {
            end1 = o->ret;
            *last1 = g_array_index(a, guint32, k);
        }
    }
    gint64 begin2 = G_MAXINT64;
    for (guint k = 0; k < b->len; k++) {
        const FlOp *o = op_at(s, g_array_index(b, guint32, k));
        if (o->inv < begin2) {
            begin2 = o->inv;
            *first2 = g_array_index(b, guint32, k);
        }
    }
    if (v1 == s->initial && a)
        return FALSE;   /* the initial value written again: keep it simple */
    if (!a)
        *last1 = G_MAXUINT32;
    return end1 < begin2;
}

static gboolean inversion(Story *s, const GArray *reads, GString *text, GArray *ops)
{
    guint64 pairs = 0;
    for (guint i = 0; i < reads->len; i++) {
        guint32 r1i = g_array_index(reads, guint32, i);
        const FlOp *r1 = op_at(s, r1i);
        for (guint j = 0; j < reads->len; j++) {
            if (++pairs > PAIRS_MAX)
                return FALSE;
            guint32 r2i = g_array_index(reads, guint32, j);
            const FlOp *r2 = op_at(s, r2i);
            FlAtom v2 = s->m->observes(r1), v1 = s->m->observes(r2);
            guint32 last1 = G_MAXUINT32, first2 = 0;
            if (r1->ret >= r2->inv || v1 == v2 || !ordered(s, v1, v2, &last1, &first2))
                continue;
            g_string_append(text, "In short: ");
            if (last1 != G_MAXUINT32) {
                name(s, op_at(s, last1), text);
                g_string_append(text, " ended ");
                when(op_at(s, last1), TRUE, text);
                g_string_append(text, " before ");
            } else {
                g_string_append(text, "the register held its initial value until ");
            }
            name(s, op_at(s, first2), text);
            g_string_append(text, " began ");
            when(op_at(s, first2), FALSE, text);
            g_string_append(text, "; ");
            name(s, r1, text);
            g_string_append(text, " returned ");
            value(s, v2, text);
            g_string_append(text, " and ended ");
            when(r1, TRUE, text);
            g_string_append(text, " before ");
            name(s, r2, text);
            g_string_append(text, " began ");
            when(r2, FALSE, text);
            g_string_append(text, "; so the second read must return ");
            value(s, v2, text);
            g_string_append(text, " or a later value, but it returned the older ");
            value(s, v1, text);
            g_string_append(text, ".\n");
            if (last1 != G_MAXUINT32)
                add(ops, last1);
            add(ops, first2);
            add(ops, r1i);
            add(ops, r2i);
            return TRUE;
        }
    }
    return FALSE;
}

gboolean fl_story_register(FlHistory *h, const guint32 *idx, guint n, GString *text,
                           GArray *ops)
{
    const FlModel *m = h->model;
    if (!m->observes || !m->produces || !m->init)
        return FALSE;
    Story s = { .h = h, .m = m };
    g_autoptr(GByteArray) st = g_byte_array_new();
    m->init(&h->ctx, st);
    if (st->len != sizeof(FlAtom))
        return FALSE;
    s.initial = fl_state_atom(st->data, st->len);
    s.writers = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_array_unref);
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(guint32));
    gboolean shaped = TRUE;
    for (guint k = 0; k < n && shaped; k++) {
        const FlOp *op = op_at(&s, idx[k]);
        if (op->status == FL_OP_FAIL)
            continue;
        if (readonly(&s, op)) {
            if (op->status == FL_OP_OK && m->observes(op) != FL_ATOM_NONE)
                g_array_append_val(reads, idx[k]);
            continue;
        }
        FlAtom v = written(&s, op);
        if (v == FL_ATOM_NONE) {
            shaped = FALSE;   /* not a register: some write is not one exact value */
            break;
        }
        GArray *ws = writers_of(&s, v);
        if (!ws) {
            ws = g_array_new(FALSE, FALSE, sizeof(guint32));
            g_hash_table_insert(s.writers, GUINT_TO_POINTER(v), ws);
        }
        g_array_append_val(ws, idx[k]);
    }
    gboolean told = FALSE;
    for (guint k = 0; shaped && !told && k < reads->len; k++)
        told = nobody_wrote(&s, g_array_index(reads, guint32, k), text, ops);
    for (guint k = 0; shaped && !told && k < reads->len; k++)
        told = from_the_future(&s, g_array_index(reads, guint32, k), text, ops);
    for (guint k = 0; shaped && !told && k < reads->len; k++)
        told = stale(&s, idx, n, g_array_index(reads, guint32, k), text, ops);
    if (shaped && !told)
        told = inversion(&s, reads, text, ops);
    g_hash_table_unref(s.writers);
    return told;
}

/* How often @p (@m bytes) occurs in @s (@n bytes), stopping at 2; the
 * first place in @at. */
static int occurs(const char *s, gsize n, const char *p, gsize m, gsize *at)
{
    int c = 0;
    for (gsize i = 0; m && i + m <= n && c < 2; i++) {
        const char *q = memchr(s + i, p[0], n - i - m + 1);
        if (!q)
            break;
        i = (gsize)(q - s);
        if (memcmp(q, p, m) == 0) {
            if (c++ == 0)
                *at = i;
        }
    }
    return c;
}

static void bytes_json(const Story *s, FlAtom v, GString *out)
{
    fl_atoms_to_json(s->h->ctx.atoms, v, out);
}

/* Note 5: some put may be linearized between @a and @g and explain what
 * @g returned: the value after a put starts with what it put. */
static gboolean put_between(const Story *s, const GArray *puts, const FlOp *a, const FlOp *g)
{
    gsize glen, plen;
    const char *gs = fl_atoms_bytes(s->h->ctx.atoms, g->a, &glen);
    for (guint k = 0; k < puts->len; k++) {
        const FlOp *p = op_at(s, g_array_index(puts, guint32, k));
        const char *ps = fl_atoms_bytes(s->h->ctx.atoms, p->a, &plen);
        if (!(p->ret < a->inv) && !(g->ret < p->inv) && plen <= glen && memcmp(ps, gs, plen) == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean fl_story_append(FlHistory *h, const guint32 *idx, guint n, GString *text, GArray *ops)
{
    enum { GET, PUT, APPEND };   /* model_kv.c */
    if (strcmp(h->model->name, "kv") != 0)
        return FALSE;
    Story st = { .h = h, .m = h->model };
    Story *s = &st;
    g_autoptr(GArray) apps = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(GArray) gets = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(GArray) puts = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (guint k = 0; k < n; k++) {
        const FlOp *op = op_at(s, idx[k]);
        if (op->status == FL_OP_FAIL)
            continue;
        if (op->f == PUT)
            g_array_append_val(puts, idx[k]);
        if (op->f == APPEND && op->status == FL_OP_OK)
            g_array_append_val(apps, idx[k]);
        if (op->f == GET && op->status == FL_OP_OK && op->a != FL_ATOM_NONE)
            g_array_append_val(gets, idx[k]);
    }
    guint64 pairs = 0;
    for (guint i = 0; i < gets->len; i++) {
        const FlOp *g = op_at(s, g_array_index(gets, guint32, i));
        gsize glen;
        const char *gs = fl_atoms_bytes(h->ctx.atoms, g->a, &glen);
        for (guint j = 0; j < apps->len; j++) {
            const FlOp *a = op_at(s, g_array_index(apps, guint32, j));
            gsize alen, at;
            const char *as = fl_atoms_bytes(h->ctx.atoms, a->a, &alen);
            if (a->ret >= g->inv || alen == 0 || occurs(gs, glen, as, alen, &at) > 0 ||
                put_between(s, puts, a, g))
                continue;
            g_string_append(text, "In short: ");
            name(s, a, text);
            g_string_append(text, " ended ");
            when(a, TRUE, text);
            g_string_append(text, " before ");
            name(s, g, text);
            g_string_append(text, " began ");
            when(g, FALSE, text);
            g_string_append(text, ", but the get returned ");
            bytes_json(s, g->a, text);
            g_string_append(text, ", which lacks ");
            bytes_json(s, a->a, text);
            g_string_append(text, ": appends only add to the value, so an append that had ended "
                                  "is in every later get.  The get read a value from before the "
                                  "append (a stale read), or the append was lost.\n");
            add(ops, g_array_index(apps, guint32, j));
            add(ops, g_array_index(gets, guint32, i));
            return TRUE;
        }
        for (guint j = 0; j < apps->len; j++) {
            const FlOp *a = op_at(s, g_array_index(apps, guint32, j));
            gsize alen, apos;
            const char *as = fl_atoms_bytes(h->ctx.atoms, a->a, &alen);
            if (alen == 0 || occurs(gs, glen, as, alen, &apos) != 1 || put_between(s, puts, a, g))
                continue;
            for (guint k = 0; k < apps->len; k++) {
                if (++pairs > PAIRS_MAX)
                    return FALSE;
                const FlOp *b = op_at(s, g_array_index(apps, guint32, k));
                gsize blen, bpos;
                const char *bs = fl_atoms_bytes(h->ctx.atoms, b->a, &blen);
                /* Both copies are in the get's value only if both ended
                 * before it began (b after a, so b's end is enough). */
                if (a->ret >= b->inv || b->ret >= g->inv || blen == 0 ||
                    occurs(gs, glen, bs, blen, &bpos) != 1 || bpos >= apos)
                    continue;
                g_string_append(text, "In short: ");
                name(s, a, text);
                g_string_append(text, " ended ");
                when(a, TRUE, text);
                g_string_append(text, " before ");
                name(s, b, text);
                g_string_append(text, " began ");
                when(b, FALSE, text);
                g_string_append(text, ", but ");
                name(s, g, text);
                g_string_append(text, " ");
                when(g, TRUE, text);
                g_string_append(text, " has ");
                bytes_json(s, b->a, text);
                g_string_append(text, " before ");
                bytes_json(s, a->a, text);
                g_string_append(text, ": the appends were applied out of order.\n");
                add(ops, g_array_index(apps, guint32, j));
                add(ops, g_array_index(apps, guint32, k));
                add(ops, g_array_index(gets, guint32, i));
                return TRUE;
            }
        }
    }
    return FALSE;
}
