/* attacker: an adversary on the network, in the style of Dolev and Yao: it
 * sees every message on the chosen links (`from`, `to`, `clients`, as the
 * other network faults), and may keep, change, withhold and send messages,
 * but holds no key: what the network's defences seal (sim/channel.h) it can
 * only break, never forge.  One `action` per fault (give several faults for
 * a combined attack):
 *
 *   sniff           keeps copies of what crosses, and checks
 *                   confidentiality: a value a client wrote counts as seen
 *                   in clear when its 8 little-endian bytes (how the codec,
 *                   fl_put_i64, writes it) occur in the body of a captured
 *                   message.  The simplest honest definition, and a
 *                   generous one: a small value also matches a term or an
 *                   index equal to it, so in clear it over-reports; under
 *                   encryption a match is a 2^-50 accident per byte.
 *                   attack.secrets_seen counts the distinct values seen;
 *                   the first few are trace lines.
 *   tamper          with probability p, flips 1 to 4 bytes of a message in
 *                   flight; `mode: "field"` instead moves one round-like
 *                   field by one through the protocol's `fields` hook
 *                   (faults/mutate.h), so the result still decodes (when
 *                   the body is encrypted, or no field applies, it flips
 *                   bytes).
 *   inject          with probability p per message crossing, sends an
 *                   earlier captured message to that message's receiver as
 *                   if another server had sent it.
 *   replay          with probability p per message crossing, resends an
 *                   earlier captured message on its own link, unchanged.
 *   drop-selective  drops the messages of one kind (`msg_kind`, as the
 *                   protocol's msg_kind names it) with probability p
 *                   (default 1); it must read the kind, so it drops nothing
 *                   it cannot read (attack.opaque counts those: encrypted).
 *   flood           sends `rate` messages per second of `size` random bytes
 *                   to each of `node` from an endpoint outside the cluster
 *                   (fl_world_outsider): what servers make of them is
 *                   nothing, but with `resources.cpu` each costs service.
 *
 * The faults' stream decides every draw, so a run replays; each act is a
 * trace line ("attacker tamper: 0 to 2, 2 bytes flipped"), and counters
 * attack.* go to metrics.json.  Memory: a ring of the last 64 messages
 * captured (owned, freed at the next start and at destroy). */
#include "faults/links.h"
#include "faults/mutate.h"

#include <stdarg.h>
#include <string.h>

enum { SNIFF, TAMPER, INJECT, REPLAY, DROP_SELECTIVE, FLOOD };
static const char *const actions = "sniff|tamper|inject|replay|drop-selective|flood";
static const char *const names[] = { "sniff", "tamper", "inject", "replay", "drop-selective",
                                     "flood" };

/* Messages kept for inject and replay. */
#define RING 64
/* Trace lines for secrets seen, at most: the counter has the rest. */
#define SECRET_LINES 5
/* Bounds of a flood, so a scenario cannot ask the queue for more than it
 * holds (FL_SCHED_MAX_PENDING) by accident. */
#define FLOOD_RATE_MAX 100000
#define FLOOD_SIZE_MAX 65536

static const char *const counters[] = {
    "attack.captured", "attack.secrets_seen", "attack.tampered", "attack.injected",
    "attack.replayed", "attack.dropped", "attack.opaque", "attack.flooded", NULL,
};

typedef struct Captured {
    uint32_t from, to;
    GBytes *wire;
} Captured;

typedef struct Attacker {
    FlLinks links;
    int action;
    double p;
    bool field;            /* tamper: mode "field" */
    char *kind;            /* drop-selective: msg_kind (owned) */
    FlSelector node;       /* flood: the targets */
    int64_t rate, size;    /* flood */
    uint32_t index;
    uint32_t nodes;
    Captured ring[RING];
    uint32_t nring, next;
    FlMutator *mutator;    /* tamper "field" */
    GHashTable *seen;      /* sniff: values seen (int64 as pointer keys), or NULL */
    uint32_t secret_lines;
    bool hooked;
    uint64_t gen;          /* flood: ticks of an earlier start are ignored */
    GArray *targets;       /* flood: uint32_t */
} Attacker;

static bool no_field(FlJv *jv, json_t *spec, const char *path, const char *key, const char *only)
{
    if (!json_object_get(spec, key))
        return true;
    return fl_jv_errorf(jv, path, key, "only with action %s", only);
}

static bool kind_listed(const char *kinds, const char *k)
{
    g_auto(GStrv) list = g_strsplit(kinds, "|", -1);
    for (char **s = list; *s; s++)
        if (strcmp(*s, k) == 0)
            return true;
    return false;
}

static bool attacker_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                           const FlScenario *sc)
{
    Attacker *a = f->state;
    const char *s;
    a->nodes = sc->nodes;
    if (!fl_jv_string(jv, spec, path, "action", out, true, NULL, actions, &s))
        return false;
    for (int i = 0; i < (int)G_N_ELEMENTS(names); i++)
        if (strcmp(s, names[i]) == 0)
            a->action = i;
    if (a->action == FLOOD) {
        return no_field(jv, spec, path, "from", "sniff, tamper, inject, replay or drop-selective") &&
               no_field(jv, spec, path, "to", "sniff, tamper, inject, replay or drop-selective") &&
               no_field(jv, spec, path, "clients", "sniff, tamper, inject, replay or drop-selective") &&
               no_field(jv, spec, path, "p", "tamper, inject, replay or drop-selective") &&
               no_field(jv, spec, path, "mode", "tamper") &&
               no_field(jv, spec, path, "msg_kind", "drop-selective") &&
               fl_fault_node_field(jv, spec, path, "node", out, sc, &a->node) &&
               fl_jv_int(jv, spec, path, "rate", out, true, 0, 1, FLOOD_RATE_MAX, &a->rate) &&
               fl_jv_int(jv, spec, path, "size", out, false, 64, 1, FLOOD_SIZE_MAX, &a->size);
    }
    if (!no_field(jv, spec, path, "node", "flood") || !no_field(jv, spec, path, "rate", "flood") ||
        !no_field(jv, spec, path, "size", "flood") ||
        !fl_links_parse(&a->links, spec, path, out, jv, sc))
        return false;
    if (a->action == SNIFF)
        return no_field(jv, spec, path, "p", "tamper, inject, replay or drop-selective") &&
               no_field(jv, spec, path, "mode", "tamper") &&
               no_field(jv, spec, path, "msg_kind", "drop-selective");
    if (!fl_jv_double(jv, spec, path, "p", out, false, a->action == DROP_SELECTIVE ? 1.0 : 0.1,
                      0, 1, &a->p))
        return false;
    if (a->action != TAMPER && !no_field(jv, spec, path, "mode", "tamper"))
        return false;
    if (a->action != DROP_SELECTIVE && !no_field(jv, spec, path, "msg_kind", "drop-selective"))
        return false;
    if (a->action == TAMPER) {
        const char *mode;
        if (!fl_jv_string(jv, spec, path, "mode", out, false, "bytes", "bytes|field", &mode))
            return false;
        a->field = strcmp(mode, "field") == 0;
        if (a->field && !sc->protocol->fields)
            return fl_jv_errorf(jv, path, "mode",
                                "protocol %s does not describe its messages' fields (no fields "
                                "hook), so it cannot be tampered field by field (use \"bytes\")",
                                sc->protocol->name);
    }
    if (a->action == DROP_SELECTIVE) {
        const char *k;
        if (!fl_jv_string(jv, spec, path, "msg_kind", out, true, NULL, NULL, &k))
            return false;
        if (!sc->protocol->msg_kind || !sc->protocol->kinds)
            return fl_jv_errorf(jv, path, "msg_kind",
                                "protocol %s does not name its message kinds (no msg_kind hook)",
                                sc->protocol->name);
        if (!kind_listed(sc->protocol->kinds, k))
            return fl_jv_errorf(jv, path, "msg_kind", "expected one of %s, got \"%s\"",
                                sc->protocol->kinds, k);
        g_free(a->kind);
        a->kind = g_strdup(k);
    }
    return true;
}

static void forget(Attacker *a)
{
    for (uint32_t i = 0; i < RING; i++) {
        if (a->ring[i].wire)
            g_bytes_unref(a->ring[i].wire);
        a->ring[i].wire = NULL;
    }
    a->nring = a->next = 0;
}

static void capture(Attacker *a, FlWorld *w, uint32_t from, uint32_t to, const GByteArray *wire)
{
    Captured *c = &a->ring[a->next];
    if (c->wire)
        g_bytes_unref(c->wire);
    *c = (Captured){ from, to, g_bytes_new(wire->data, wire->len) };
    a->next = (a->next + 1) % RING;
    if (a->nring < RING)
        a->nring++;
    fl_world_count(w, "attack.captured", 1);
}

/* A captured message drawn uniformly, or NULL when none is kept. */
static const Captured *pick(Attacker *a, FlRng *rng)
{
    if (a->nring == 0)
        return NULL;
    return &a->ring[fl_rng_below(rng, a->nring)];
}

static void event(Attacker *a, FlWorld *w, const char *what, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static void event(Attacker *a, FlWorld *w, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fl_world_fault_event(w, a->index, "attacker", what, text);
}

/* Sniff: the confidentiality check (see the top of the file). */
static void sniff(Attacker *a, FlWorld *w, uint32_t from, uint32_t to, const GByteArray *wire)
{
    size_t off, len;
    fl_world_wire_clear(w, wire->len, &off, &len);
    int64_t written = fl_world_values_written(w);
    const uint8_t *b = wire->data + off;
    for (size_t i = 0; i + 8 <= len; i++) {
        int64_t v = 0;
        for (int k = 7; k >= 0; k--)
            v = (int64_t)((uint64_t)v << 8 | b[i + (size_t)k]);
        if (v < 1 || v > written)
            continue;
        gpointer key = GSIZE_TO_POINTER((gsize)v);
        if (g_hash_table_contains(a->seen, key))
            continue;
        g_hash_table_add(a->seen, key);
        fl_world_count(w, "attack.secrets_seen", 1);
        if (a->secret_lines++ < SECRET_LINES)
            event(a, w, "sniff", "value %" G_GINT64_FORMAT " seen in clear on %u to %u", v,
                  from, to);
    }
}

static void flip(FlRng *rng, GByteArray *wire, uint32_t *flips)
{
    *flips = wire->len ? 1 + (uint32_t)fl_rng_below(rng, 4) : 0;
    for (uint32_t k = 0; k < *flips; k++)
        wire->data[fl_rng_below(rng, wire->len)] ^= (uint8_t)(1 + fl_rng_below(rng, 255));
}

static void tamper(Attacker *a, FlWorld *w, FlRng *rng, uint32_t from, uint32_t to,
                   GByteArray *wire)
{
    size_t off, len;
    if (a->field && fl_world_wire_clear(w, wire->len, &off, &len) && from < a->nodes) {
        g_autoptr(GByteArray) body = g_byte_array_new();
        g_byte_array_append(body, wire->data + off, (guint)len);
        FlMutation mu;
        /* No reseal: the attacker holds no node's keys.  ROUND only: the
         * other classes need messages a sender kept, which a wire attacker
         * sees but a mutator would have to be told of per node. */
        if (fl_mutator_apply(a->mutator, rng, FL_MUTATE_ROUND, from, to, body, &mu, NULL, NULL) &&
            body->len == len) {
            memcpy(wire->data + off, body->data, len);
            fl_world_count(w, "attack.tampered", 1);
            g_autofree char *what = fl_mutation_text(&mu);
            event(a, w, "tamper", "%u to %u: %s", from, to, what);
            return;
        }
    }
    uint32_t flips;
    flip(rng, wire, &flips);
    fl_world_count(w, "attack.tampered", 1);
    event(a, w, "tamper", "%u to %u: %u byte%s flipped", from, to, flips, flips == 1 ? "" : "s");
}

static void inject(Attacker *a, FlWorld *w, FlRng *rng, uint32_t to)
{
    const Captured *c = pick(a, rng);
    if (!c || a->nodes < 3)
        return;
    /* Claimed sender: a server that is neither the receiver nor the
     * message's true sender (so the lie is in who sent it). */
    uint32_t n = 0, as = 0;
    for (uint32_t i = 0; i < a->nodes; i++)
        n += i != to && i != c->from;
    if (n == 0)
        return;
    for (uint64_t want = fl_rng_below(rng, n);; as++)
        if (as != to && as != c->from && want-- == 0)
            break;
    gsize len;
    const void *d = g_bytes_get_data(c->wire, &len);
    fl_world_count(w, "attack.injected", 1);
    event(a, w, "inject", "%u's message to %u sent to %u as %u", c->from, c->to, to, as);
    fl_world_wire_inject(w, as, to, d, len);
}

static void replay(Attacker *a, FlWorld *w, FlRng *rng)
{
    const Captured *c = pick(a, rng);
    if (!c)
        return;
    gsize len;
    const void *d = g_bytes_get_data(c->wire, &len);
    fl_world_count(w, "attack.replayed", 1);
    event(a, w, "replay", "%u to %u again (%zu bytes)", c->from, c->to, (size_t)len);
    /* A copy: the ring may let go of it while the network holds it. */
    fl_world_wire_inject(w, c->from, c->to, d, len);
}

static bool drop_selective(Attacker *a, FlWorld *w, FlRng *rng, uint32_t from, uint32_t to,
                           const GByteArray *wire)
{
    size_t off, len;
    if (!fl_world_wire_clear(w, wire->len, &off, &len)) {
        fl_world_count(w, "attack.opaque", 1);
        return true;
    }
    /* The kind of a server's message, read as the protocol would (client
     * requests are the engine's and have no protocol kind). */
    if (from >= a->nodes || to >= a->nodes)
        return true;
    const char *k = fl_world_msg_kind(w, to, wire->data + off, len);
    if (!k || strcmp(k, a->kind) != 0 || !fl_rng_chance(rng, a->p))
        return true;
    fl_world_count(w, "attack.dropped", 1);
    event(a, w, "drop", "%s from %u to %u", k, from, to);
    return false;
}

static bool attacker_hook(FlWorld *w, void *ctx, uint32_t from, uint32_t to, GByteArray *wire)
{
    Attacker *a = ctx;
    if (!fl_links_match(&a->links, from, to))
        return true;
    FlRng *rng = fl_world_fault_rng(w);
    bool pass = true;
    switch (a->action) {
    case SNIFF:
        sniff(a, w, from, to, wire);
        break;
    case TAMPER:
        if (fl_rng_chance(rng, a->p))
            tamper(a, w, rng, from, to, wire);
        break;
    case INJECT:
        if (fl_rng_chance(rng, a->p))
            inject(a, w, rng, to);
        break;
    case REPLAY:
        if (fl_rng_chance(rng, a->p))
            replay(a, w, rng);
        break;
    case DROP_SELECTIVE:
        pass = drop_selective(a, w, rng, from, to, wire);
        break;
    default:
        g_assert_not_reached();
    }
    /* Kept as it went on (after a tamper: what the receiver gets), so
     * inject and replay draw from messages that crossed before this one. */
    capture(a, w, from, to, wire);
    return pass;
}

static void flood_cb(FlWorld *w, void *ctx, uint64_t gen)
{
    Attacker *a = ctx;
    if (gen != a->gen)
        return;   /* a tick of an earlier start */
    FlRng *rng = fl_world_fault_rng(w);
    g_autofree uint8_t *buf = g_malloc((size_t)a->size);
    for (guint i = 0; i < a->targets->len; i++) {
        for (int64_t k = 0; k < a->size; k++)
            buf[k] = (uint8_t)fl_rng_next(rng);
        fl_world_wire_inject(w, fl_world_outsider(w), g_array_index(a->targets, uint32_t, i), buf,
                             (size_t)a->size);
        fl_world_count(w, "attack.flooded", 1);
    }
    fl_world_at(w, fl_world_now(w) + (FlTime)(1000000000 / a->rate), flood_cb, a, gen);
}

static void attacker_start(FlFault *f, FlWorld *w)
{
    Attacker *a = f->state;
    a->index = f->index;
    /* The scenario (and this state) may serve another run: forget the last
     * one's messages. */
    forget(a);
    a->secret_lines = 0;
    if (a->seen)
        g_hash_table_remove_all(a->seen);
    for (const char *const *c = counters; *c; c++)
        fl_world_count(w, *c, 0);
    if (a->action == FLOOD) {
        if (!a->targets)
            a->targets = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        g_array_set_size(a->targets, 0);
        fl_world_select(w, &a->node, a->targets);
        g_autoptr(GString) text = g_string_new("flood");
        for (guint i = 0; i < a->targets->len; i++)
            g_string_append_printf(text, "%s%u", i ? "," : " node ",
                                   g_array_index(a->targets, uint32_t, i));
        g_string_append_printf(text, " rate=%" G_GINT64_FORMAT "/s size=%" G_GINT64_FORMAT
                               " from outside (endpoint %u)", a->rate, a->size,
                               fl_world_outsider(w));
        fl_world_fault_event(w, f->index, "attacker", "start", text->str);
        a->gen++;
        fl_world_at(w, fl_world_now(w) + (FlTime)(1000000000 / a->rate), flood_cb, a, a->gen);
        return;
    }
    fl_links_resolve(&a->links, w);
    if (a->action == SNIFF && !a->seen)
        a->seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (a->action == TAMPER && a->field) {
        if (!a->mutator)
            a->mutator = fl_mutator_new(fl_world_scenario(w)->protocol);
        fl_mutator_reset(a->mutator);
    }
    /* Always added: a run that ended before the stop freed the last
     * world's hooks with it. */
    fl_world_add_wire_hook(w, attacker_hook, a);
    a->hooked = true;
    g_autofree char *links = fl_links_text(&a->links);
    g_autoptr(GString) text = g_string_new(names[a->action]);
    g_string_append_printf(text, " %s", links);
    if (a->action != SNIFF)
        g_string_append_printf(text, " p=%g", a->p);
    if (a->action == TAMPER)
        g_string_append(text, a->field ? " mode=field" : " mode=bytes");
    if (a->action == DROP_SELECTIVE)
        g_string_append_printf(text, " msg_kind=%s", a->kind);
    fl_world_fault_event(w, f->index, "attacker", "start", text->str);
}

static void attacker_stop(FlFault *f, FlWorld *w)
{
    Attacker *a = f->state;
    a->gen++;   /* stops a flood: its next tick sees a new generation */
    if (a->hooked) {
        fl_world_remove_wire_hook(w, attacker_hook, a);
        a->hooked = false;
    }
    fl_world_fault_event(w, f->index, "attacker", "stop", names[a->action]);
}

static void attacker_destroy(FlFault *f)
{
    Attacker *a = f->state;
    forget(a);
    fl_links_deinit(&a->links);
    fl_mutator_free(a->mutator);
    if (a->seen)
        g_hash_table_destroy(a->seen);
    if (a->targets)
        g_array_free(a->targets, TRUE);
    g_free(a->kind);
}

static const FlFaultField attacker_fields[] = {
    { "action", "sniff (keep copies; report written values seen in clear), tamper (change bytes in flight), inject (send a captured message as another server), replay (resend a captured message on its link), drop-selective (drop one message kind), flood (messages at a node from outside the cluster)" },
    { "from", "sender: node id or selector (default *); not with flood" },
    { "to", "receiver: node id or selector (default *); not with flood" },
    { "clients", "also client <-> server links (default false); not with flood" },
    { "p", "tamper, inject, replay: probability per message crossing (default 0.1); drop-selective: per message of the kind (default 1)" },
    { "mode", "tamper only: bytes (flip 1 to 4 bytes, default) or field (move one round-like field by one through the protocol's fields hook)" },
    { "msg_kind", "drop-selective only: the kind of message to drop, as the protocol names it (faultline list)" },
    { "node", "flood only: node id or selector flooded" },
    { "rate", "flood only: messages per second to each flooded node (1 to 100000)" },
    { "size", "flood only: bytes per message (default 64)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_attacker = {
    .name = "attacker",
    .summary = "an adversary on the network (Dolev-Yao, without keys): sniff, tamper, inject, replay, drop-selective or flood",
    .fields = attacker_fields,
    .state_size = sizeof(Attacker),
    .parse = attacker_parse,
    .start = attacker_start,
    .stop = attacker_stop,
    .destroy = attacker_destroy,
    .counters = counters,
};
