/* Design notes.
 * 1. Small scope.  ByzzFuzz's finding is that a Byzantine sender need not be
 *    clever to break a protocol: the bugs it found came from messages with
 *    one field a little off (a round number off by one, a value that was
 *    true a moment ago or for someone else), which random bytes almost
 *    never produce since they fail to decode.  So a mutation changes one
 *    field of a real message and nothing else, and values come from real
 *    messages, never from thin air.
 * 2. Fields are the protocol's to describe (FlProtocol.fields): offsets and
 *    widths in this very message, and a role.  The engine knows no
 *    protocol: "same field" means the same name, "same kind" the same
 *    msg_kind, or the same first byte for a protocol without msg_kind
 *    (every protocol here writes its type first, as sim/coverage.c notes).
 * 3. Memory is bounded: two rings of decoded field values, never whole
 *    messages.  `kept` (REPLAY) holds the last KEPT honest messages of the
 *    mutating nodes, `recent` (STEAL) the last RECENT messages of any node:
 *    "in flight" is read as "sent lately", since a mutator does not see
 *    deliveries and a recent send is usually still on the wire.
 * 4. Draws.  One class among the enabled ones that apply to this message,
 *    then one field, then one value, each uniform: a class never starves
 *    because another has more candidates.  Every draw comes from the
 *    caller's stream, so a run replays. */
#include "faults/mutate.h"

#include <string.h>

enum { KEPT = 128, RECENT = 64 };

typedef struct Seen {
    uint32_t from;
    const char *kind;   /* static, from msg_kind; or NULL */
    uint8_t type;
    uint8_t nfields;
    FlMsgField fields[FL_MAX_MSG_FIELDS];
    uint64_t values[FL_MAX_MSG_FIELDS];
} Seen;

typedef struct Ring {
    Seen *slot;
    uint32_t cap, count, next;
} Ring;

struct FlMutator {
    const FlProtocol *proto;
    Ring kept, recent;
};

static const char *const class_names[] = { "round", "replay", "steal" };

const char *fl_mutate_class_name(unsigned cls)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(class_names); i++)
        if (cls == 1u << i)
            return class_names[i];
    return NULL;
}

unsigned fl_mutate_class_parse(const char *name)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(class_names); i++)
        if (strcmp(name, class_names[i]) == 0)
            return 1u << i;
    return 0;
}

FlMutator *fl_mutator_new(const FlProtocol *p)
{
    g_assert(p && p->fields);
    FlMutator *m = g_new0(FlMutator, 1);
    m->proto = p;
    m->kept = (Ring){ .slot = g_new0(Seen, KEPT), .cap = KEPT };
    m->recent = (Ring){ .slot = g_new0(Seen, RECENT), .cap = RECENT };
    return m;
}

void fl_mutator_free(FlMutator *m)
{
    if (!m)
        return;
    g_free(m->kept.slot);
    g_free(m->recent.slot);
    g_free(m);
}

void fl_mutator_reset(FlMutator *m)
{
    m->kept.count = m->kept.next = 0;
    m->recent.count = m->recent.next = 0;
}

static uint64_t get_le(const uint8_t *p, uint8_t width)
{
    uint64_t v = 0;
    for (uint8_t i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *p, uint8_t width, uint64_t v)
{
    for (uint8_t i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t width_max(uint8_t width)
{
    return width >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * width)) - 1;
}

/* Decodes @msg's fields into @s; false when it does not decode or the
 * protocol described a field outside it (a bug in the hook: asserted). */
static bool decode(const FlProtocol *p, uint32_t from, const uint8_t *msg, size_t len, Seen *s)
{
    int n = p->fields(msg, len, s->fields, FL_MAX_MSG_FIELDS);
    if (n <= 0)
        return false;
    g_assert(n <= FL_MAX_MSG_FIELDS);
    s->from = from;
    s->kind = p->msg_kind ? p->msg_kind(msg, len) : NULL;
    s->type = msg[0];
    s->nfields = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        const FlMsgField *f = &s->fields[i];
        g_assert(f->name);
        g_assert(f->width == 1 || f->width == 2 || f->width == 4 || f->width == 8);
        g_assert((size_t)f->offset + f->width <= len);
        s->values[i] = get_le(msg + f->offset, f->width);
    }
    return true;
}

static void ring_add(const FlProtocol *p, Ring *r, uint32_t from, const uint8_t *msg, size_t len)
{
    if (decode(p, from, msg, len, &r->slot[r->next])) {
        r->next = (r->next + 1) % r->cap;
        if (r->count < r->cap)
            r->count++;
    }
}

void fl_mutator_observe(FlMutator *m, uint32_t from, const uint8_t *msg, size_t len)
{
    ring_add(m->proto, &m->recent, from, msg, len);
}

void fl_mutator_keep(FlMutator *m, uint32_t from, const uint8_t *msg, size_t len)
{
    ring_add(m->proto, &m->kept, from, msg, len);
}

static bool same_kind(const Seen *a, const Seen *b)
{
    if (a->kind && b->kind)
        return strcmp(a->kind, b->kind) == 0;
    return !a->kind && !b->kind && a->type == b->type;
}

/* The field of @s named like @f with its width, or -1. */
static int find_field(const Seen *s, const FlMsgField *f)
{
    for (int i = 0; i < s->nfields; i++)
        if (s->fields[i].width == f->width && strcmp(s->fields[i].name, f->name) == 0)
            return i;
    return -1;
}

/* Calls @fn for each candidate value of class @cls for field @i of @cur,
 * in ring order; returns how many there are.  With @fn NULL it only
 * counts; with @want >= 0 it stops at the @want-th and sets *@hit. */
static uint32_t candidates(const FlMutator *m, unsigned cls, const Seen *cur, int i,
                           int64_t want, const Seen **hit, uint64_t *value)
{
    const FlMsgField *f = &cur->fields[i];
    if (cls == FL_MUTATE_ROUND) {
        if (f->role != FL_FIELD_ROUND)
            return 0;
        if (want == 0) {
            *hit = NULL;
            *value = 0;
        }
        return 1;
    }
    const Ring *r = cls == FL_MUTATE_REPLAY ? &m->kept : &m->recent;
    uint32_t count = 0;
    /* Oldest first, so that the order does not depend on where the ring
     * wrapped. */
    for (uint32_t k = 0; k < r->count; k++) {
        const Seen *s = &r->slot[(r->next + r->cap - r->count + k) % r->cap];
        if (cls == FL_MUTATE_REPLAY && (s->from != cur->from || !same_kind(s, cur)))
            continue;
        int j = find_field(s, f);
        if (j < 0 || s->values[j] == cur->values[i])
            continue;
        if ((int64_t)count == want) {
            *hit = s;
            *value = s->values[j];
        }
        count++;
    }
    return count;
}

bool fl_mutator_apply(FlMutator *m, FlRng *rng, unsigned classes, uint32_t from, uint32_t to,
                      GByteArray *msg, FlMutation *out, FlMutatorResealFn reseal_cb, void *ctx)
{
    Seen cur;
    if (msg->len == 0 || !decode(m->proto, from, msg->data, msg->len, &cur))
        return false;
    /* Note 4: the classes that can change some field here. */
    unsigned usable[3];
    uint32_t nusable = 0;
    for (unsigned c = FL_MUTATE_ROUND; c <= FL_MUTATE_STEAL; c <<= 1) {
        if (!(classes & c))
            continue;
        for (int i = 0; i < cur.nfields; i++)
            if (candidates(m, c, &cur, i, -1, NULL, NULL) > 0) {
                usable[nusable++] = c;
                break;
            }
    }
    if (nusable == 0)
        return false;
    unsigned cls = usable[fl_rng_below(rng, nusable)];
    int fields[FL_MAX_MSG_FIELDS];
    uint32_t nfields = 0;
    for (int i = 0; i < cur.nfields; i++)
        if (candidates(m, cls, &cur, i, -1, NULL, NULL) > 0)
            fields[nfields++] = i;
    int i = fields[fl_rng_below(rng, nfields)];
    const FlMsgField *f = &cur.fields[i];
    uint64_t old = cur.values[i], value = 0;
    const Seen *src = NULL;
    uint32_t n = candidates(m, cls, &cur, i, -1, NULL, NULL);
    candidates(m, cls, &cur, i, (int64_t)fl_rng_below(rng, n), &src, &value);
    if (cls == FL_MUTATE_ROUND) {
        /* One up or one down, never past the field's range. */
        bool up = fl_rng_chance(rng, 0.5);
        if (old == 0)
            up = true;
        else if (old == width_max(f->width))
            up = false;
        value = up ? old + 1 : old - 1;
    }
    g_autofree uint8_t *saved = g_memdup2(msg->data, msg->len);
    put_le(msg->data + f->offset, f->width, value);
    if (m->proto->reseal && !(reseal_cb && reseal_cb(ctx, from, to, msg->data, msg->len))) {
        memcpy(msg->data, saved, msg->len);
        return false;
    }
    *out = (FlMutation){
        .cls = cls, .kind = cur.kind, .type = cur.type, .field = *f,
        .old_value = old, .new_value = value,
        .source = src ? src->from : from,
        .source_kind = src ? src->kind : NULL,
    };
    return true;
}

char *fl_mutation_text(const FlMutation *mu)
{
    g_autofree char *kind = mu->kind ? g_strdup(mu->kind) : g_strdup_printf("type %u", mu->type);
    GString *s = g_string_new(NULL);
    g_string_printf(s, "%s %s %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " (%s", kind,
                    mu->field.name, mu->old_value, mu->new_value, fl_mutate_class_name(mu->cls));
    if (mu->cls == FL_MUTATE_REPLAY)
        g_string_append(s, ": an earlier one");
    else if (mu->cls == FL_MUTATE_STEAL)
        g_string_append_printf(s, ": node %u's %s", mu->source,
                               mu->source_kind ? mu->source_kind : "message");
    g_string_append_c(s, ')');
    return g_string_free(s, FALSE);
}
