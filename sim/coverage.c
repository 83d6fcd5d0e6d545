/* Design notes.
 * 1. What counts as behaviour.  Mallory (Meng et al., CCS 2023) steers a
 *    distributed-system fuzzer by abstract states: per node, the role it is
 *    in and the kinds of messages it sends and receives, and happens-before
 *    summaries of those events, never their times or payloads.  We keep the
 *    same spirit with what the engine sees, as 64-bit features:
 *    - an event label per node event: (event, the node's role, the message's
 *      kind); a timer's tag is left out, since protocols pack generations
 *      and indexes into it;
 *    - node-local happens-before: (previous label of that node, label), so
 *      "a follower got a vote request, then sent a vote reply" and "... then
 *      its election timer fired" differ;
 *    - who talks to whom: (event, own role, peer's role now, message kind);
 *    - the cluster's state whenever a role or liveness changes: the multiset
 *      of (role, up / paused / down) over the servers, so "two leaders at
 *      once" or "the leader paused while a candidate runs" are features;
 *    - fault starts and stops by kind and the number of servers down then;
 *      drops by reason and the receiver's role; client completions (ok,
 *      fail, info) by the cluster state they happened in;
 *    - protocol counters (fl_metric_add) by name and log2 bucket of value.
 *    Node ids never enter a feature, so the five rotations of "node k leads
 *    and crashes" are one behaviour; role names enter as hashes of their
 *    text, so features mean the same in every run.
 * 2. A message's kind is its first byte: every protocol here writes its type
 *    tag first (sim/codec.h).  A reply to a client is the engine's own
 *    (fl_reply): its kind is its status, after the 8-byte request id.  When FlProtocol grows a msg_kind hook, that is
 *    the better source.
 * 3. Cost.  The world calls in only when a coverage object is installed
 *    (FlWorldOptions.coverage): plain runs and plain fuzzing pay one untaken
 *    branch per event.  With it, a message costs three probes of a small
 *    open-addressing set; the set is bounded (MAX_FEATURES) and a run that
 *    reaches the bound simply stops adding features.
 * 4. Besides features, the object keeps the run's role changes (when which
 *    node became what, and crashes), so that the fuzzer can breed a
 *    schedule that aims a fault at whoever held a role at that moment of
 *    the parent's run, or starts it right after a role changed.  Role
 *    changes are rare (elections, crashes), so this costs little; the list
 *    is bounded. */
#include "sim/coverage.h"

#include "sim/rng.h"

#include <glib.h>
#include <math.h>
#include <string.h>

enum { MAX_FEATURES = 1 << 16, MAX_ROLE_CHANGES = 1024, CLIENT_ROLE = 0xC11E };

enum { ST_UP = 0, ST_PAUSED = 1, ST_DOWN = 2 };

typedef struct NodeCov {
    uint32_t role;      /* low bits of the hash of its role's text; 0: none */
    uint8_t status;     /* ST_* */
    uint64_t last;      /* label of its previous event, 0 at start */
    uint64_t before;    /* and of the one before that */
} NodeCov;

struct FlCoverage {
    uint32_t nodes;
    NodeCov *node;
    uint64_t cluster;   /* hash of the cluster state (note 1) */
    uint32_t down;
    uint64_t *slot;     /* open addressing, 0 = empty */
    size_t cap, count;
    json_t *roles;      /* role changes (fl_coverage_roles) */
};

static inline uint64_t mix2(uint64_t a, uint64_t b)
{
    return fl_mix64(a * 0x9e3779b97f4a7c15ULL + fl_mix64(b));
}

static inline uint64_t mix4(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return mix2(mix2(a, b), mix2(c, d));
}

static void grow(FlCoverage *c)
{
    size_t old_cap = c->cap;
    uint64_t *old = c->slot;
    c->cap = old_cap ? old_cap * 2 : 1024;
    c->slot = g_new0(uint64_t, c->cap);
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i])
            continue;
        size_t j = (size_t)old[i] & (c->cap - 1);
        while (c->slot[j])
            j = (j + 1) & (c->cap - 1);
        c->slot[j] = old[i];
    }
    g_free(old);
}

/* Adds a feature of class @cls (its top byte, so that a feature says what
 * kind of behaviour it stands for) and hash @h. */
static void add(FlCoverage *c, uint64_t cls, uint64_t h)
{
    uint64_t f = (cls << 56) | (h & 0x00ffffffffffffffULL);
    f |= f == 0;   /* 0 marks an empty slot */
    size_t j = (size_t)f & (c->cap - 1);
    while (c->slot[j]) {
        if (c->slot[j] == f)
            return;
        j = (j + 1) & (c->cap - 1);
    }
    if (c->count >= MAX_FEATURES)
        return;
    c->slot[j] = f;
    if (++c->count * 2 > c->cap)
        grow(c);
}

FlCoverage *fl_coverage_new(uint32_t nodes)
{
    FlCoverage *c = g_new0(FlCoverage, 1);
    c->nodes = nodes;
    c->node = g_new0(NodeCov, nodes ? nodes : 1);
    c->roles = json_array();
    grow(c);
    return c;
}

void fl_coverage_free(FlCoverage *c)
{
    if (!c)
        return;
    g_free(c->node);
    g_free(c->slot);
    json_decref(c->roles);
    g_free(c);
}

static uint32_t role_of(const FlCoverage *c, uint32_t node)
{
    return node < c->nodes ? c->node[node].role : CLIENT_ROLE;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The cluster state changed: hash the multiset of (role, status) (note 1). */
static void cluster_changed(FlCoverage *c)
{
    uint32_t buf[64];
    uint32_t n = c->nodes < 64 ? c->nodes : 64;
    c->down = 0;
    for (uint32_t i = 0; i < c->nodes; i++)
        c->down += c->node[i].status != ST_UP;
    for (uint32_t i = 0; i < n; i++)
        buf[i] = (c->node[i].role << 2) | c->node[i].status;
    qsort(buf, n, sizeof buf[0], cmp_u32);
    uint64_t h = 0x5eed;
    for (uint32_t i = 0; i < n; i++)
        h = mix2(h, buf[i]);
    c->cluster = h;
    add(c, 4, mix2(4, h));
}

/* One labelled event of a server: the label alone and after the node's
 * previous label (note 1). */
static void node_event(FlCoverage *c, uint32_t node, uint64_t label)
{
    NodeCov *nc = node < c->nodes ? &c->node[node] : NULL;
    if (nc && nc->last == label && nc->before == label)
        return;   /* a run of one label: its features are in already */
    add(c, 1, fl_mix64(label ^ 0x6c6162656cULL));
    if (nc) {
        add(c, 2, fl_mix64((nc->last * 0x9e3779b97f4a7c15ULL) ^ label));
        nc->before = nc->last;
        nc->last = label;
    }
}

/* A label packed, not hashed: the hot path (messages) mixes once per
 * feature.  @role is a 30-bit role hash, @what up to 24 bits. */
static inline uint64_t label_of(FlTraceKind kind, uint32_t role, uint64_t what)
{
    return ((uint64_t)kind << 56) ^ ((uint64_t)role << 24) ^ (what & 0xffffff);
}

/* The hash of the first @words words of @text. */
static uint64_t words_hash(const char *text, int words)
{
    if (!text)
        return 0;
    const char *p = text;
    for (int k = 0; k < words && *p; k++) {
        while (*p && *p != ' ')
            p++;
        if (k + 1 < words && *p == ' ')
            p++;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *q = text; q < p; q++)
        h = (h ^ (uint8_t)*q) * 0x100000001b3ULL;
    return fl_mix64(h);
}

/* Notes a role change for fl_coverage_roles (bounded, note 4). */
static void timeline(FlCoverage *c, FlTime time, uint32_t node, const char *role)
{
    if (json_array_size(c->roles) < MAX_ROLE_CHANGES)
        json_array_append_new(c->roles, json_pack("[I,i,s]", (json_int_t)time, (int)node, role));
}

void fl_coverage_event(FlCoverage *c, FlTraceKind kind, FlTime time, uint32_t node, uint32_t peer,
                       uint64_t a, const char *text)
{
    switch (kind) {
    case FL_TR_TIMER:
        /* Not the tag: protocols pack generations and indexes into it. */
        node_event(c, node, label_of(kind, role_of(c, node), 0));
        break;
    case FL_TR_CRASH:
    case FL_TR_RESTART:
    case FL_TR_PAUSE:
    case FL_TR_RESUME:
        if (node >= c->nodes)
            break;
        node_event(c, node, label_of(kind, role_of(c, node), 0));
        c->node[node].status = kind == FL_TR_CRASH ? ST_DOWN : kind == FL_TR_PAUSE ? ST_PAUSED : ST_UP;
        if (kind == FL_TR_CRASH || kind == FL_TR_RESTART)
            c->node[node].last = c->node[node].before = 0;   /* a restarted node begins a new history */
        if (kind == FL_TR_CRASH)
            timeline(c, time, node, "");
        cluster_changed(c);
        break;
    case FL_TR_ROLE: {
        if (node >= c->nodes || !text)
            break;
        uint32_t role = (uint32_t)(fl_hash_str(text) & 0x3fffffff);
        role |= role == 0;
        node_event(c, node, label_of(kind, role, c->node[node].role));
        c->node[node].role = role;
        timeline(c, time, node, text);
        cluster_changed(c);
        break;
    }
    case FL_TR_FAULT:
        /* "start crash node 3 ...": what and which kind, not the details. */
        add(c, 5, mix4(5, words_hash(text, 2), c->down, 0));
        break;
    case FL_TR_DROP:
        add(c, 7, mix4(7, role_of(c, node), words_hash(text, 1), 0));
        break;
    case FL_TR_COMPLETE:
        add(c, 8, mix4(8, words_hash(text, 1), c->cluster, 0));
        break;
    default:
        break;
    }
}

void fl_coverage_message(FlCoverage *c, FlTraceKind kind, uint32_t node, uint32_t peer,
                         const uint8_t *msg, size_t len)
{
    uint64_t mk = len ? msg[0] : 0x100;
    if (kind == FL_TR_SEND && peer >= c->nodes)
        mk = 0x200 | (len > 8 ? msg[8] : 0);   /* a reply (fl_reply): request id, then status */
    uint32_t role = role_of(c, node);
    uint64_t label = label_of(kind, role, mk);
    node_event(c, node, label);
    add(c, 3, fl_mix64(label ^ ((uint64_t)role_of(c, peer) * 0xc2b2ae3d27d4eb4fULL)));
}

void fl_coverage_counters(FlCoverage *c, json_t *counters)
{
    const char *name;
    json_t *v;
    json_object_foreach(counters, name, v) {
        double x = json_number_value(v);
        int bucket = x <= 0 ? (x < 0 ? -1 : 0) : 1 + (int)floor(log2(x + 1));
        add(c, 9, mix4(9, fl_hash_str(name), (uint64_t)(int64_t)bucket, 0));
    }
}

size_t fl_coverage_count(const FlCoverage *c)
{
    return c->count;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

json_t *fl_coverage_features(const FlCoverage *c)
{
    g_autofree uint64_t *v = g_new(uint64_t, c->count ? c->count : 1);
    size_t n = 0;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slot[i])
            v[n++] = c->slot[i];
    qsort(v, n, sizeof v[0], cmp_u64);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char buf[24];
        g_snprintf(buf, sizeof buf, "%016" G_GINT64_MODIFIER "x", v[i]);
        json_array_append_new(a, json_string(buf));
    }
    return a;
}

json_t *fl_coverage_roles(const FlCoverage *c)
{
    return json_deep_copy(c->roles);
}

bool fl_coverage_parse(const char *s, uint64_t *feature)
{
    char *end = NULL;
    if (!s || strlen(s) != 16)
        return false;
    *feature = g_ascii_strtoull(s, &end, 16);
    return end && *end == '\0';
}
