/* byzantine: makes nodes lie in what they send to their peers.
 *
 * A send hook on each chosen node sees every message its protocol sends to
 * another server; with probability p it acts by `behaviour`:
 *   corrupt     flips 1 to 4 random bytes;
 *   random      replaces the message with 0 to 2*len+16 random bytes, half
 *               the time keeping its first byte (the message type, usually)
 *               so that decoders get past their first switch;
 *   replay      sends the message and, as well, an old one this node sent
 *               before (to any peer), as a stale or misdirected duplicate;
 *   equivocate  tells the peers of the upper half (id > n/2) something else
 *               than the others: the protocol's own lie if it has a `lie`
 *               hook, else an older message of the same type;
 *   drop-all    sends nothing (a mute, yet running, node);
 *   lie         the protocol's `lie` hook rewrites it into a lie that still
 *               parses (refused for protocols without one);
 *   mutate      changes one field of it, small-scope as ByzzFuzz does
 *               (faults/mutate.h): a round-like field (term, view, ballot,
 *               seq) by one (`round`), a field's value from an earlier
 *               message of the same kind the node sent (`replay`), or from
 *               the same field of a message any node sent lately, still in
 *               flight (`steal`).  `mutations` lists the classes enabled;
 *               absent, each is kept with probability 1/2 (at least one)
 *               when the fault starts, so seeds differ in kind.  `count`
 *               bounds the mutations of one run of the fault.  The fault
 *               observes every node's sends (an event hook) but mutates
 *               only its own nodes'; each mutation is a trace line "node 1
 *               to 2: PREPARE seq 7 -> 8 (round)".  Needs the protocol's
 *               `fields` hook (and `reseal` where messages are signed).
 * Replies to clients stay honest (see fl_world_set_send_hook), so the
 * history shows what the other replicas made of the lies.  Randomness comes
 * from the faults' stream. */
#include "faults/links.h"
#include "faults/mutate.h"

#include <string.h>

enum { CORRUPT, RANDOM, REPLAY, EQUIVOCATE, DROP_ALL, LIE, MUTATE };
static const char *const behaviours = "corrupt|random|replay|equivocate|drop-all|lie|mutate";
static const char *const names[] = { "corrupt", "random", "replay", "equivocate", "drop-all", "lie",
                                     "mutate" };

/* Old messages kept for replay and equivocation. */
#define KEPT 64

typedef struct Kept {
    uint32_t from;
    GBytes *msg;
} Kept;

typedef struct Byzantine {
    FlSelector node;
    int behaviour;
    double p;
    uint32_t nodes;
    GArray *liars;       /* uint32_t: the nodes hooked */
    Kept kept[KEPT];     /* ring */
    uint32_t nkept, next;
    /* mutate */
    uint32_t index;      /* the fault's, for its trace lines */
    unsigned classes;    /* FL_MUTATE_* given by `mutations`; 0: drawn at start */
    unsigned enabled;    /* this run's */
    int64_t count;       /* most mutations per start; 0: no bound */
    int64_t done;
    FlMutator *mutator;
    bool observing;
} Byzantine;

static bool byzantine_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                            const FlScenario *sc)
{
    Byzantine *b = f->state;
    const char *s;
    b->nodes = sc->nodes;
    if (!fl_fault_node_field(jv, spec, path, "node", out, sc, &b->node) ||
        !fl_jv_string(jv, spec, path, "behaviour", out, true, NULL, behaviours, &s) ||
        !fl_jv_double(jv, spec, path, "p", out, false, 1.0, 0, 1, &b->p))
        return false;
    for (int i = 0; i < (int)G_N_ELEMENTS(names); i++)
        if (strcmp(s, names[i]) == 0)
            b->behaviour = i;
    if (b->behaviour == LIE && !sc->protocol->lie)
        return fl_jv_errorf(jv, path, "behaviour",
                            "protocol %s has no lie hook (use corrupt, random, replay, equivocate or drop-all)",
                            sc->protocol->name);
    if (b->behaviour == MUTATE && !sc->protocol->fields)
        return fl_jv_errorf(jv, path, "behaviour",
                            "protocol %s does not describe its messages' fields (no fields hook), "
                            "so it cannot be mutated (use corrupt, random, replay, equivocate or drop-all)",
                            sc->protocol->name);
    json_t *classes = json_object_get(spec, "mutations");
    if (b->behaviour != MUTATE) {
        if (classes)
            return fl_jv_errorf(jv, path, "mutations", "only with behaviour \"mutate\"");
        if (json_object_get(spec, "count"))
            return fl_jv_errorf(jv, path, "count", "only with behaviour \"mutate\"");
        return true;
    }
    if (!fl_jv_int(jv, spec, path, "count", out, false, 0, 0, INT64_MAX, &b->count))
        return false;
    b->classes = 0;
    if (classes) {
        g_autofree char *cp = fl_jv_join(path, "mutations");
        const char *what = "a non-empty array of mutation classes from round, replay, steal";
        if (!json_is_array(classes) || json_array_size(classes) == 0)
            return fl_jv_error(jv, cp, NULL, classes, what);
        size_t i;
        json_t *c;
        json_array_foreach(classes, i, c) {
            g_autofree char *ip = g_strdup_printf("%s/%zu", cp, i);
            unsigned cls = json_is_string(c) ? fl_mutate_class_parse(json_string_value(c)) : 0;
            if (!cls)
                return fl_jv_error(jv, ip, NULL, c, what);
            if (b->classes & cls)
                return fl_jv_errorf(jv, ip, NULL, "\"%s\" is listed twice", json_string_value(c));
            b->classes |= cls;
        }
        json_object_set(out, "mutations", classes);
    }
    return true;
}

static void keep(Byzantine *b, uint32_t from, const GByteArray *msg)
{
    Kept *k = &b->kept[b->next];
    if (k->msg)
        g_bytes_unref(k->msg);
    k->from = from;
    k->msg = g_bytes_new(msg->data, msg->len);
    b->next = (b->next + 1) % KEPT;
    if (b->nkept < KEPT)
        b->nkept++;
}

/* A kept message of @from, at random; with @type >= 0, only one that
 * starts with that byte and differs from @not.  NULL if none. */
static GBytes *pick(Byzantine *b, FlRng *rng, uint32_t from, int type, const GByteArray *not)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < b->nkept; i++) {
        const Kept *k = &b->kept[i];
        gsize len;
        const uint8_t *d = g_bytes_get_data(k->msg, &len);
        bool ok = k->from == from &&
                  (type < 0 || (len > 0 && d[0] == type &&
                                (len != not->len || memcmp(d, not->data, len) != 0)));
        count += ok;
    }
    if (count == 0)
        return NULL;
    uint32_t want = (uint32_t)fl_rng_below(rng, count);
    for (uint32_t i = 0; i < b->nkept; i++) {
        const Kept *k = &b->kept[i];
        gsize len;
        const uint8_t *d = g_bytes_get_data(k->msg, &len);
        bool ok = k->from == from &&
                  (type < 0 || (len > 0 && d[0] == type &&
                                (len != not->len || memcmp(d, not->data, len) != 0)));
        if (ok && want-- == 0)
            return k->msg;
    }
    g_assert_not_reached();
}

/* Rewrites @msg with the protocol's lie; false if it had none. */
static bool lie(FlWorld *w, uint32_t from, uint32_t to, GByteArray *msg)
{
    size_t len = msg->len, cap = 2 * len + 256;
    g_byte_array_set_size(msg, (guint)cap);
    size_t r = fl_world_lie(w, from, to, msg->data, len, cap);
    g_byte_array_set_size(msg, (guint)(r ? r : len));
    return r != 0;
}

/* The sender's own keys reseal a mutated message: the hook runs on its
 * state, never another node's. */
static bool reseal_cb(void *ctx, uint32_t from, uint32_t to, uint8_t *msg, size_t len)
{
    return fl_world_reseal(ctx, from, to, msg, len);
}

/* Mutate: one small-scope change with probability p, within `count`. */
static void mutate(Byzantine *b, FlWorld *w, FlRng *rng, uint32_t from, uint32_t to,
                   GByteArray *msg)
{
    /* Kept as it was: a later replay takes values of honest messages. */
    fl_mutator_keep(b->mutator, from, msg->data, msg->len);
    if ((b->count > 0 && b->done >= b->count) || !fl_rng_chance(rng, b->p))
        return;
    FlMutation mu;
    if (!fl_mutator_apply(b->mutator, rng, b->enabled, from, to, msg, &mu, reseal_cb, w))
        return;
    b->done++;
    g_autofree char *what = fl_mutation_text(&mu);
    g_autofree char *text = g_strdup_printf("node %u to %u: %s", from, to, what);
    fl_world_fault_event(w, b->index, "byzantine", "mutate", text);
}

/* Mutate: every node's sends, for `steal`. */
static void observe_cb(FlWorld *w, void *ctx, const FlProtoEvent *ev)
{
    Byzantine *b = ctx;
    if (ev->kind == FL_PEV_SEND && !ev->before)
        fl_mutator_observe(b->mutator, ev->node, ev->data, ev->len);
}

static bool byzantine_hook(FlWorld *w, void *ctx, uint32_t from, uint32_t to, GByteArray *msg)
{
    Byzantine *b = ctx;
    FlRng *rng = fl_world_fault_rng(w);
    if (b->behaviour == MUTATE) {
        mutate(b, w, rng, from, to, msg);
        return true;
    }
    if (!fl_rng_chance(rng, b->p)) {
        if (b->behaviour == REPLAY || b->behaviour == EQUIVOCATE)
            keep(b, from, msg);
        return true;
    }
    switch (b->behaviour) {
    case CORRUPT: {
        uint32_t flips = msg->len ? 1 + (uint32_t)fl_rng_below(rng, 4) : 0;
        for (uint32_t k = 0; k < flips; k++)
            msg->data[fl_rng_below(rng, msg->len)] ^= (uint8_t)(1 + fl_rng_below(rng, 255));
        return true;
    }
    case RANDOM: {
        size_t len = (size_t)fl_rng_below(rng, 2 * (uint64_t)msg->len + 17);
        bool keep_type = msg->len > 0 && len > 0 && fl_rng_chance(rng, 0.5);
        uint8_t type = msg->len ? msg->data[0] : 0;
        g_byte_array_set_size(msg, (guint)len);
        for (size_t i = 0; i < len; i++)
            msg->data[i] = (uint8_t)fl_rng_next(rng);
        if (keep_type)
            msg->data[0] = type;
        return true;
    }
    case REPLAY: {
        GBytes *old = pick(b, rng, from, -1, msg);
        if (old) {
            gsize len;
            const void *d = g_bytes_get_data(old, &len);
            fl_world_inject(w, from, to, d, len);
        }
        keep(b, from, msg);
        return true;
    }
    case EQUIVOCATE: {
        if (to <= b->nodes / 2 || msg->len == 0) {
            keep(b, from, msg);
            return true;
        }
        if (lie(w, from, to, msg))
            return true;
        GBytes *old = pick(b, rng, from, msg->data[0], msg);
        if (old) {
            gsize len;
            const void *d = g_bytes_get_data(old, &len);
            g_byte_array_set_size(msg, 0);
            g_byte_array_append(msg, d, (guint)len);
        }
        return true;
    }
    case DROP_ALL:
        return false;
    case LIE:
        lie(w, from, to, msg);
        return true;
    case MUTATE:
        break;
    }
    g_assert_not_reached();
}

static void byzantine_start(FlFault *f, FlWorld *w)
{
    Byzantine *b = f->state;
    /* The scenario (and this state) may serve another run: forget the
     * last one's messages. */
    for (uint32_t i = 0; i < KEPT; i++) {
        if (b->kept[i].msg)
            g_bytes_unref(b->kept[i].msg);
        b->kept[i].msg = NULL;
    }
    b->nkept = b->next = 0;
    b->index = f->index;
    if (b->behaviour == MUTATE) {
        if (!b->mutator)
            b->mutator = fl_mutator_new(fl_world_scenario(w)->protocol);
        fl_mutator_reset(b->mutator);
        b->done = 0;
        b->enabled = b->classes;
        if (!b->enabled) {
            /* Small scope, per seed: each class with probability 1/2, at
             * least one (as the nemesis keeps its kinds, note 7). */
            FlRng *rng = fl_world_fault_rng(w);
            for (unsigned c = FL_MUTATE_ROUND; c <= FL_MUTATE_STEAL; c <<= 1)
                if (fl_rng_chance(rng, 0.5))
                    b->enabled |= c;
            if (!b->enabled)
                b->enabled = 1u << fl_rng_below(rng, 3);
        }
        /* Always added: a run that ended before the stop freed the last
         * world's hooks with it. */
        fl_world_add_event_hook(w, observe_cb, b);
        b->observing = true;
    }
    if (!b->liars)
        b->liars = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    g_array_set_size(b->liars, 0);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    fl_world_select(w, &b->node, ids);
    g_autoptr(GString) text = g_string_new("node");
    for (guint i = 0; i < ids->len; i++) {
        uint32_t id = g_array_index(ids, uint32_t, i);
        fl_world_set_send_hook(w, id, byzantine_hook, b);
        g_array_append_val(b->liars, id);
        g_string_append_printf(text, " %u", id);
    }
    g_string_append_printf(text, " %s p=%g", names[b->behaviour], b->p);
    if (b->behaviour == MUTATE) {
        g_string_append(text, " mutations");
        for (unsigned c = FL_MUTATE_ROUND, first = 1; c <= FL_MUTATE_STEAL; c <<= 1)
            if (b->enabled & c) {
                g_string_append_printf(text, "%s%s", first ? " " : ",", fl_mutate_class_name(c));
                first = 0;
            }
        if (b->count > 0)
            g_string_append_printf(text, " count=%" G_GINT64_FORMAT, b->count);
    }
    fl_world_fault_event(w, f->index, "byzantine", "start", text->str);
}

static void byzantine_stop(FlFault *f, FlWorld *w)
{
    Byzantine *b = f->state;
    for (guint i = 0; b->liars && i < b->liars->len; i++)
        fl_world_set_send_hook(w, g_array_index(b->liars, uint32_t, i), NULL, NULL);
    if (b->observing) {
        fl_world_remove_event_hook(w, observe_cb, b);
        b->observing = false;
    }
    fl_world_fault_event(w, f->index, "byzantine", "stop", "honest again");
}

static void byzantine_destroy(FlFault *f)
{
    Byzantine *b = f->state;
    for (uint32_t i = 0; i < KEPT; i++)
        if (b->kept[i].msg)
            g_bytes_unref(b->kept[i].msg);
    if (b->liars)
        g_array_free(b->liars, TRUE);
    fl_mutator_free(b->mutator);
}

static const FlFaultField byzantine_fields[] = {
    { "node", "node id or selector that lies" },
    { "behaviour", "corrupt (flip bytes), random (arbitrary bytes), replay (resend old messages), equivocate (tell half the peers something else), drop-all, lie (the protocol's own lie hook), mutate (change one field of a real message, ByzzFuzz-style: needs the protocol's fields hook)" },
    { "p", "probability that each message is affected (default 1)" },
    { "mutations", "mutate only: the classes enabled, from round (a term, view, ballot or seq +-1), replay (a field's value from an earlier message of the same kind), steal (a field's value from a message another node sent lately); default: each with probability 1/2 per run, at least one" },
    { "count", "mutate only: at most this many mutations per start of the fault (default 0: no bound)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_byzantine = {
    .name = "byzantine",
    .summary = "makes a node lie to its peers: corrupt, random, replay, equivocate, drop-all, the protocol's own lie, or small-scope mutations of real messages",
    .fields = byzantine_fields,
    .state_size = sizeof(Byzantine),
    .parse = byzantine_parse,
    .start = byzantine_start,
    .stop = byzantine_stop,
    .destroy = byzantine_destroy,
};
