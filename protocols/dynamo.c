/* dynamo: a leaderless store with N/R/W quorums (DeCandia et al.,
 * "Dynamo: Amazon's Highly Available Key-value Store", SOSP 2007).
 *
 * Each key lives on N replicas, the first N nodes of the ring from the
 * key's position (its preference list).  Any node coordinates a client's
 * operation: a read asks the replicas and answers after R replies, a write
 * after W acknowledgements.  With R + W > N every read quorum meets every
 * write quorum; with R + W <= N a read can miss the latest write entirely.
 * Neither is linearizable: there is no write-back, versions that reach
 * different replicas in different orders live side by side, and a sloppy
 * quorum counts nodes outside the preference list.
 *
 * Design notes.
 *  1. Versions carry vector clocks (one entry per node).  A replica keeps,
 *     per key, the siblings: versions no other dominates.  A new version
 *     replaces those it dominates and is dropped if dominated.  A read
 *     merges the siblings of its replies; if more than one is left, it
 *     answers with the one of the highest (clock sum, coordinator, clock)
 *     (a total order, so every replica shows the same one): the
 *     register cannot show siblings, Dynamo's clients would see them all.
 *  2. A write first reads (as Dynamo's clients do, to get the context):
 *     the new version's clock is the join of every sibling seen, plus one
 *     at the coordinator, so it replaces them all.  Two concurrent writes
 *     through different coordinators produce siblings.  "Plus one" is not
 *     context[self] + 1 but the coordinator's next event (note 8).
 *  3. Sloppy quorum and hinted handoff (param `sloppy`, section 4.6).  The
 *     coordinator skips preference-list nodes its failure detector
 *     suspects and takes the next nodes on the ring instead; each such
 *     write carries a hint naming the replica it stands for.  The stand-in
 *     keeps the version aside and hands it to the intended replica once it
 *     trusts it again.  Without `sloppy` (strict) only the preference list
 *     counts: fewer live replicas than R or W means no answer.
 *  4. Read repair: after a read, replicas that answered with less than the
 *     merged siblings are sent the merge.  Anti-entropy (section 4.7, here
 *     without Merkle trees): every `gossip` interval a replica sends one
 *     key's siblings to the key's other replicas, so replicas converge.
 *  5. A replica syncs its store (and hints) to disk before acknowledging.
 *  6. Registers and kv put/get only (cas and append fail: not applied).
 *     Final reads (FL_OP_F_LOCAL) are answered from the node's copy if it
 *     is a replica of the key, else redirected to the key's first replica.
 *  7. Bounds: MAX_SIBLINGS per key (past it the siblings with the lowest
 *     clock sums are dropped, and counted); MAX_PENDING coordinated
 *     operations; MAX_HINTS hints per node.
 *  8. Every version a coordinator makes gets its own event: its entry is
 *     one more than the larger of the context's entry and the last event
 *     this coordinator issued, for any key.  A vector clock names a version
 *     only if no two versions share one: two writes through one coordinator
 *     that read the same context would otherwise carry the same clock, and
 *     since a replica treats an equal clock as a version it already holds,
 *     replicas that got them in different orders keep different values for
 *     good (no fault needed).  The counter must not restart after a crash
 *     either, or the restarted coordinator reissues its old events: it
 *     starts at epoch << 32 (protocols/epoch.h, one more incarnation per
 *     start, synced to disk before anything else), above every event an
 *     earlier incarnation can have issued (fewer than 2^32 each).  This is
 *     the per-server counter of Dynamo's successors (Riak's vnode clocks):
 *     two concurrent writes through one coordinator are now ordered by
 *     their events, the later one superseding the other, so they converge
 *     but do not show as siblings; dotted version vectors (Preguica et al.,
 *     "Dotted Version Vectors", 2010) keep both, but need the coordinator
 *     to be a replica that holds its own earlier writes, which this store
 *     does not require.
 *  9. Operation ids are unique across restarts too: epoch << 32 plus a
 *     counter.  Replies are matched by id, so an id that restarted at 1
 *     after a crash would let a late reply to the previous incarnation's
 *     operation k (a GOT with old siblings, a PUTACK for a write that never
 *     happened in this incarnation) count for the new operation k.  Id 0
 *     stays reserved for hint hand-off (note 3).
 * 10. Teaching variants (param `bug`): "same-clock" makes a version's
 *     entry context[self] + 1, as before note 8 (repro: scenarios/
 *     03-replication/bugs/dynamo-same-clock.json); "volatile-ids" restarts
 *     operation ids at 1 after a crash, as before note 9.
 */
#include "protocols/epoch.h"
#include "sim/fd.h"
#include "sim/node.h"

#include <string.h>

enum { MSG_GET = 1, MSG_GOT, MSG_PUT, MSG_PUTACK, MSG_REPAIR, MSG_FD = 0xFD };
enum { TIMER_TICK = 1, TIMER_FD = 100 };

#define MAX_SIBLINGS 8
#define MAX_PENDING 1024
#define MAX_HINTS 4096

typedef struct Version {
    uint64_t *vc;         /* nodes entries, owned */
    uint32_t writer;      /* the coordinator that made it */
    bool set;
    int64_t v;
    GString *text;        /* kv, owned; NULL for registers */
} Version;

typedef struct Sibs {
    GArray *vs;           /* of Version */
} Sibs;

typedef struct Hint {
    uint32_t key, owner;  /* the replica this version is for */
    Version ver;
} Hint;

typedef struct Target {
    uint32_t node, hint;  /* hint: the replica stood in for, or FL_NO_HINT */
    bool replied;
    Sibs got;             /* phase 1 reply, for read repair */
} Target;

typedef struct Pending {
    uint64_t id;
    FlRequest req;
    int phase;            /* 1 read (or write's context read), 2 write */
    FlTime started;
    Target *targets;
    uint32_t ntargets, count, need;
    Sibs merged;
} Pending;

typedef struct Dynamo {
    FlFd fd;
    bool fd_running;
    uint32_t nodes, self, n, r, w;
    bool sloppy;
    GArray *store;        /* of Sibs, by key */
    GArray *hints;        /* of Hint */
    GArray *pending;      /* of Pending */
    uint64_t epoch;       /* this incarnation (note 8) */
    uint64_t next_id;     /* the last operation id issued (note 9) */
    uint64_t last_event;  /* the last vector clock entry issued (note 8) */
    bool bug_same_clock, bug_volatile_ids;   /* note 10 */
    uint32_t next_key;
    FlDuration tick, give_up, gossip;
    FlTime last_gossip;
} Dynamo;

static const FlParam dynamo_params[] = {
    { "n", FL_PARAM_INT, "3", "replicas per key (N)", NULL, 1, 64 },
    { "r", FL_PARAM_INT, "2", "replies a read waits for (R)", NULL, 1, 64 },
    { "w", FL_PARAM_INT, "2", "acknowledgements a write waits for (W)", NULL, 1, 64 },
    { "sloppy", FL_PARAM_BOOL, "false", "sloppy quorum with hinted handoff", NULL, 0, 0 },
    { "retry", FL_PARAM_DURATION, "\"50ms\"", "resend to silent nodes, hand off hints", NULL, 1, 1e12 },
    { "give_up", FL_PARAM_DURATION, "\"1s\"", "drop an operation unanswered for this long (a read then fails)", NULL, 1, 1e13 },
    { "gossip", FL_PARAM_DURATION, "\"200ms\"", "anti-entropy: send one key's siblings to its replicas (0: never)", NULL, 0, 1e12 },
    FL_FD_PARAMS,
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake, for teaching (see dynamo.c note 10)",
      "none|same-clock|volatile-ids", 0, 0 },
    { NULL },
};

/* ---- Versions and siblings (note 1) ---------------------------------------- */

static void version_clear(Version *v)
{
    g_free(v->vc);
    if (v->text)
        g_string_free(v->text, TRUE);
    v->vc = NULL;
    v->text = NULL;
}

static void version_copy(const Dynamo *d, Version *dst, const Version *src)
{
    *dst = *src;
    dst->vc = g_memdup2(src->vc, d->nodes * sizeof(uint64_t));
    dst->text = src->text ? g_string_new_len(src->text->str, (gssize)src->text->len) : NULL;
}

static void sibs_init(Sibs *s)
{
    s->vs = g_array_new(FALSE, FALSE, sizeof(Version));
}

static void sibs_clear(Sibs *s)
{
    if (!s->vs)
        return;
    for (guint i = 0; i < s->vs->len; i++)
        version_clear(&g_array_index(s->vs, Version, i));
    g_array_free(s->vs, TRUE);
    s->vs = NULL;
}

/* -1 a < b, 1 a > b, 0 equal, 2 concurrent. */
static int vc_cmp(const Dynamo *d, const uint64_t *a, const uint64_t *b)
{
    bool less = false, more = false;
    for (uint32_t i = 0; i < d->nodes; i++) {
        less |= a[i] < b[i];
        more |= a[i] > b[i];
    }
    return less && more ? 2 : less ? -1 : more ? 1 : 0;
}

static uint64_t vc_sum(const Dynamo *d, const uint64_t *a)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < d->nodes; i++)
        s += a[i];
    return s;
}

/* Whether @a ranks above @b when one sibling must be shown (note 1).  The
 * order must be total on distinct versions, whatever order a replica got
 * them in, or replicas holding the same siblings show different values:
 * (sum, writer) ties between two versions of one coordinator whose
 * entries trade places, so the clocks themselves break the tie, and since
 * no two versions share a clock (note 8) they always do. */
static bool ranks_above(const Dynamo *d, const Version *a, const Version *b)
{
    uint64_t sa = vc_sum(d, a->vc), sb = vc_sum(d, b->vc);
    if (sa != sb)
        return sa > sb;
    if (a->writer != b->writer)
        return a->writer > b->writer;
    for (uint32_t i = 0; i < d->nodes; i++)
        if (a->vc[i] != b->vc[i])
            return a->vc[i] > b->vc[i];
    return false;
}

/* Merges a copy of @v into @s; returns whether @s changed. */
static bool sibs_add(Dynamo *d, Sibs *s, const Version *v)
{
    for (guint i = 0; i < s->vs->len;) {
        Version *x = &g_array_index(s->vs, Version, i);
        int c = vc_cmp(d, v->vc, x->vc);
        if (c == 0 || c == -1)
            return false;   /* known, or dominated */
        if (c == 1) {
            version_clear(x);
            g_array_remove_index(s->vs, i);
            continue;
        }
        i++;
    }
    Version copy;
    version_copy(d, &copy, v);
    g_array_append_val(s->vs, copy);
    if (s->vs->len > MAX_SIBLINGS) {
        guint low = 0;
        for (guint i = 1; i < s->vs->len; i++)
            if (ranks_above(d, &g_array_index(s->vs, Version, low), &g_array_index(s->vs, Version, i)))
                low = i;
        version_clear(&g_array_index(s->vs, Version, low));
        g_array_remove_index(s->vs, low);
    }
    return true;
}

static bool sibs_merge(Dynamo *d, Sibs *dst, const Sibs *src)
{
    bool changed = false;
    for (guint i = 0; i < src->vs->len; i++)
        changed |= sibs_add(d, dst, &g_array_index(src->vs, Version, i));
    return changed;
}

/* Whether @a holds everything @b does. */
static bool sibs_covers(Dynamo *d, const Sibs *a, const Sibs *b)
{
    for (guint i = 0; i < b->vs->len; i++) {
        const Version *y = &g_array_index(b->vs, Version, i);
        bool covered = false;
        for (guint j = 0; j < a->vs->len && !covered; j++) {
            int c = vc_cmp(d, g_array_index(a->vs, Version, j).vc, y->vc);
            covered = c == 0 || c == 1;
        }
        if (!covered)
            return false;
    }
    return true;
}

static const Version *sibs_pick(const Dynamo *d, const Sibs *s)
{
    const Version *best = NULL;
    for (guint i = 0; i < s->vs->len; i++) {
        const Version *x = &g_array_index(s->vs, Version, i);
        if (!best || ranks_above(d, x, best))
            best = x;
    }
    return best;
}

static Sibs *local(Dynamo *d, uint32_t key)
{
    while (key >= d->store->len) {
        Sibs s;
        sibs_init(&s);
        g_array_append_val(d->store, s);
    }
    return &g_array_index(d->store, Sibs, key);
}

/* ---- The ring ------------------------------------------------------------------ */

static uint32_t ring(const Dynamo *d, uint32_t key, uint32_t i)
{
    return (uint32_t)(((uint64_t)key + i) % d->nodes);
}

static bool is_replica(const Dynamo *d, uint32_t key, uint32_t node)
{
    for (uint32_t i = 0; i < d->n; i++)
        if (ring(d, key, i) == node)
            return true;
    return false;
}

static bool suspects(const Dynamo *d, uint32_t peer)
{
    return peer != d->self && d->fd_running && fl_fd_suspects(&d->fd, peer);
}

/* The nodes an operation on @key asks (note 3). */
static uint32_t targets(const Dynamo *d, uint32_t key, Target *out)
{
    uint32_t count = 0;
    if (!d->sloppy) {
        for (uint32_t i = 0; i < d->n; i++)
            out[count++] = (Target){ .node = ring(d, key, i), .hint = FL_NO_HINT };
        return count;
    }
    /* The live replicas, then stand-ins for the suspected ones. */
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t x = ring(d, key, i);
        if (!suspects(d, x))
            out[count++] = (Target){ .node = x, .hint = FL_NO_HINT };
    }
    for (uint32_t i = 0, j = d->n; i < d->n && j < d->nodes; i++) {
        uint32_t x = ring(d, key, i);
        if (!suspects(d, x))
            continue;
        while (j < d->nodes && suspects(d, ring(d, key, j)))
            j++;
        if (j < d->nodes)
            out[count++] = (Target){ .node = ring(d, key, j++), .hint = x };
    }
    return count;
}

/* ---- Encoding -------------------------------------------------------------------- */

static void put_version(FlWriter *w, const Dynamo *d, const Version *v)
{
    for (uint32_t i = 0; i < d->nodes; i++)
        fl_put_u64(w, v->vc[i]);
    fl_put_u32(w, v->writer);
    fl_put_u8(w, v->set);
    fl_put_i64(w, v->v);
    fl_put_u8(w, v->text != NULL);
    fl_put_bytes(w, v->text ? v->text->str : "", v->text ? v->text->len : 0);
}

static void put_sibs(FlWriter *w, const Dynamo *d, const Sibs *s)
{
    fl_put_u32(w, s->vs->len);
    for (guint i = 0; i < s->vs->len; i++)
        put_version(w, d, &g_array_index(s->vs, Version, i));
}

/* Decodes a version into @v (owned; clear it either way). */
static bool get_version(FlReader *r, const Dynamo *d, Version *v)
{
    memset(v, 0, sizeof *v);
    v->vc = g_new(uint64_t, d->nodes);
    for (uint32_t i = 0; i < d->nodes; i++)
        v->vc[i] = fl_get_u64(r);
    v->writer = fl_get_u32(r);
    v->set = fl_get_u8(r) != 0;
    v->v = fl_get_i64(r);
    bool has_text = fl_get_u8(r) != 0;
    size_t tlen;
    const uint8_t *text = fl_get_bytes(r, &tlen);
    if (has_text && text)
        v->text = g_string_new_len((const char *)text, (gssize)tlen);
    return fl_reader_ok(r) && v->writer < d->nodes;
}

/* Decodes siblings into @s (initialised by the call; clear it either way). */
static bool get_sibs(FlReader *r, const Dynamo *d, Sibs *s)
{
    sibs_init(s);
    uint32_t count = fl_get_u32(r);
    if (count > MAX_SIBLINGS * 4)
        return false;
    for (uint32_t k = 0; k < count && fl_reader_ok(r); k++) {
        Version v;
        if (!get_version(r, d, &v))
            r->err = true;
        g_array_append_val(s->vs, v);
    }
    return fl_reader_ok(r);
}

static void persist(FlNode *n, Dynamo *d)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u32(&w, d->store->len);
    for (guint k = 0; k < d->store->len; k++)
        put_sibs(&w, d, &g_array_index(d->store, Sibs, k));
    fl_put_u32(&w, d->hints->len);
    for (guint i = 0; i < d->hints->len; i++) {
        const Hint *h = &g_array_index(d->hints, Hint, i);
        fl_put_u32(&w, h->key);
        fl_put_u32(&w, h->owner);
        put_version(&w, d, &h->ver);
    }
    fl_disk_write(n, "store", w.data, w.len);
    fl_disk_sync(n, "store");
    fl_writer_deinit(&w);
}

/* ---- Life cycle ------------------------------------------------------------------ */

static void dynamo_start(FlNode *n, Dynamo *d)
{
    d->nodes = fl_nodes(n);
    d->self = fl_self(n);
    d->n = (uint32_t)MIN(fl_param_int(n, "n"), (int64_t)d->nodes);
    d->r = (uint32_t)MIN(fl_param_int(n, "r"), (int64_t)d->n);
    d->w = (uint32_t)MIN(fl_param_int(n, "w"), (int64_t)d->n);
    d->sloppy = fl_param_bool(n, "sloppy");
    d->tick = fl_param_duration(n, "retry");
    d->give_up = fl_param_duration(n, "give_up");
    d->gossip = fl_param_duration(n, "gossip");
    d->bug_same_clock = strcmp(fl_param_enum(n, "bug"), "same-clock") == 0;
    d->bug_volatile_ids = strcmp(fl_param_enum(n, "bug"), "volatile-ids") == 0;
    /* Notes 8 and 9: both counters start above anything an earlier
     * incarnation issued. */
    d->epoch = fl_epoch_next(n);
    d->last_event = d->epoch << 32;
    d->next_id = d->bug_volatile_ids ? 0 : d->epoch << 32;
    d->store = g_array_new(FALSE, TRUE, sizeof(Sibs));
    d->hints = g_array_new(FALSE, FALSE, sizeof(Hint));
    d->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
    FlFdConfig cfg;
    fl_fd_config_from_params(n, &cfg, MSG_FD, TIMER_FD);
    d->fd_running = d->nodes > 1 && fl_fd_init(&d->fd, n, &cfg) == 0;
    fl_role(n, "replica");
    fl_timer(n, d->tick, TIMER_TICK);
}

static void dynamo_init(FlNode *n, void *state)
{
    dynamo_start(n, state);
}

static void dynamo_recover(FlNode *n, void *state)
{
    Dynamo *d = state;
    dynamo_start(n, d);
    size_t len;
    const uint8_t *data = fl_disk_view(n, "store", &len);
    if (!data)
        return;
    FlReader r;
    fl_reader_init(&r, data, len);
    uint32_t keys = fl_get_u32(&r);
    for (uint32_t k = 0; k < keys && k < FL_MAX_KEYS && fl_reader_ok(&r); k++) {
        Sibs s;
        if (get_sibs(&r, d, &s))
            sibs_merge(d, local(d, k), &s);
        sibs_clear(&s);
    }
    uint32_t nh = fl_get_u32(&r);
    for (uint32_t i = 0; i < nh && i < MAX_HINTS && fl_reader_ok(&r); i++) {
        Hint h = { .key = fl_get_u32(&r), .owner = fl_get_u32(&r) };
        if (get_version(&r, d, &h.ver) && h.owner < d->nodes && h.key < FL_MAX_KEYS)
            g_array_append_val(d->hints, h);
        else
            version_clear(&h.ver);
    }
}

static void pending_clear(Pending *p)
{
    for (uint32_t i = 0; p->targets && i < p->ntargets; i++)
        sibs_clear(&p->targets[i].got);
    g_free(p->targets);
    sibs_clear(&p->merged);
}

static void dynamo_destroy(FlNode *n, void *state)
{
    Dynamo *d = state;
    if (d->fd_running)
        fl_fd_deinit(&d->fd);
    for (guint k = 0; k < d->store->len; k++)
        sibs_clear(&g_array_index(d->store, Sibs, k));
    for (guint i = 0; i < d->hints->len; i++)
        version_clear(&g_array_index(d->hints, Hint, i).ver);
    for (guint i = 0; i < d->pending->len; i++)
        pending_clear(&g_array_index(d->pending, Pending, i));
    g_array_free(d->store, TRUE);
    g_array_free(d->hints, TRUE);
    g_array_free(d->pending, TRUE);
}

/* ---- Replica side ---------------------------------------------------------------- */

/* Stores @s at @key (or, with a hint, aside for its owner: note 3). */
static bool store_sibs(Dynamo *d, uint32_t key, uint32_t hint, const Sibs *s)
{
    if (hint == FL_NO_HINT || hint == d->self)
        return sibs_merge(d, local(d, key), s);
    bool changed = false;
    for (guint i = 0; i < s->vs->len && d->hints->len < MAX_HINTS; i++) {
        Hint h = { .key = key, .owner = hint };
        version_copy(d, &h.ver, &g_array_index(s->vs, Version, i));
        g_array_append_val(d->hints, h);
        changed = true;
    }
    return changed;
}

static void send_put(FlNode *n, Dynamo *d, uint32_t to, uint8_t type, uint64_t id, uint32_t key,
                     uint32_t hint, const Sibs *s)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, type);
    fl_put_u64(&w, id);
    fl_put_u32(&w, key);
    fl_put_u32(&w, hint);
    put_sibs(&w, d, s);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void on_get(FlNode *n, Dynamo *d, uint32_t from, FlReader *r)
{
    uint64_t id = fl_get_u64(r);
    uint32_t key = fl_get_u32(r);
    if (!fl_reader_done(r) || key >= FL_MAX_KEYS)
        return;
    send_put(n, d, from, MSG_GOT, id, key, FL_NO_HINT, local(d, key));
}

static void on_put(FlNode *n, Dynamo *d, uint32_t from, FlReader *r, bool ack)
{
    uint64_t id = fl_get_u64(r);
    uint32_t key = fl_get_u32(r), hint = fl_get_u32(r);
    Sibs s;
    bool ok = get_sibs(r, d, &s) && fl_reader_done(r) && key < FL_MAX_KEYS &&
              (hint == FL_NO_HINT || hint < d->nodes);
    if (ok && store_sibs(d, key, hint, &s))
        persist(n, d);   /* note 5 */
    sibs_clear(&s);
    if (!ok || !ack)
        return;
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MSG_PUTACK);
    fl_put_u64(&w, id);
    fl_put_u32(&w, key);
    fl_send(n, from, w.data, w.len);
}

/* ---- Coordinator ------------------------------------------------------------------ */

static Pending *find(Dynamo *d, uint64_t id, guint *at)
{
    for (guint i = 0; i < d->pending->len; i++)
        if (g_array_index(d->pending, Pending, i).id == id) {
            *at = i;
            return &g_array_index(d->pending, Pending, i);
        }
    return NULL;
}

static void send_phase(FlNode *n, Dynamo *d, Pending *p, bool only_silent)
{
    for (uint32_t i = 0; i < p->ntargets; i++) {
        Target *t = &p->targets[i];
        if (t->node == d->self || (only_silent && t->replied))
            continue;
        if (p->phase == 1) {
            uint8_t buf[32];
            FlWriter w;
            fl_writer_init(&w, buf, sizeof buf);
            fl_put_u8(&w, MSG_GET);
            fl_put_u64(&w, p->id);
            fl_put_u32(&w, p->req.op.key);
            fl_send(n, t->node, w.data, w.len);
        } else {
            send_put(n, d, t->node, MSG_PUT, p->id, p->req.op.key, t->hint, &p->merged);
        }
    }
}

static void check_done(FlNode *n, Dynamo *d, guint at);

/* Starts a phase; the coordinator answers for itself at once. */
static void start_phase(FlNode *n, Dynamo *d, guint at, int phase)
{
    Pending *p = &g_array_index(d->pending, Pending, at);
    p->phase = phase;
    p->count = 0;
    p->need = phase == 1 ? d->r : d->w;
    for (uint32_t i = 0; i < p->ntargets; i++) {
        Target *t = &p->targets[i];
        t->replied = false;
        if (t->node != d->self)
            continue;
        t->replied = true;
        p->count++;
        if (phase == 1) {
            sibs_merge(d, &p->merged, local(d, p->req.op.key));
            sibs_clear(&t->got);
            sibs_init(&t->got);
            sibs_merge(d, &t->got, local(d, p->req.op.key));
        } else if (store_sibs(d, p->req.op.key, t->hint, &p->merged)) {
            persist(n, d);
        }
    }
    send_phase(n, d, p, false);
    check_done(n, d, at);
}

static void reply_read(FlNode *n, Dynamo *d, const FlRequest *req, const Sibs *s)
{
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
    const Version *v = sibs_pick(d, s);
    if (req->op.kind == FL_OP_GET) {
        res.has_value = true;
        res.text = v && v->text ? v->text->str : "";
        res.text_len = v && v->text ? v->text->len : 0;
    } else {
        res.has_value = v && v->set;
        res.value = v ? v->v : 0;
    }
    fl_reply(n, req, &res);
}

/* Read repair (note 4): send the merge to the replicas that lack it. */
static void repair(FlNode *n, Dynamo *d, Pending *p)
{
    for (uint32_t i = 0; i < p->ntargets; i++) {
        Target *t = &p->targets[i];
        if (!t->replied || !t->got.vs || sibs_covers(d, &t->got, &p->merged))
            continue;
        if (t->node == d->self) {
            if (store_sibs(d, p->req.op.key, FL_NO_HINT, &p->merged))
                persist(n, d);
        } else {
            send_put(n, d, t->node, MSG_REPAIR, 0, p->req.op.key, t->hint, &p->merged);
        }
        fl_metric_add(n, "read_repairs", 1);
    }
}

static void check_done(FlNode *n, Dynamo *d, guint at)
{
    Pending *p = &g_array_index(d->pending, Pending, at);
    if (p->count < p->need)
        return;
    const FlOp *op = &p->req.op;
    if (p->phase == 1 && fl_op_is_read(op->kind)) {
        reply_read(n, d, &p->req, &p->merged);
        repair(n, d, p);
        pending_clear(p);
        g_array_remove_index(d->pending, at);
        return;
    }
    if (p->phase == 1) {
        /* Note 2: the new version supersedes every sibling seen. */
        Version v = { .vc = g_new0(uint64_t, d->nodes), .writer = d->self, .set = true, .v = op->a };
        for (guint i = 0; i < p->merged.vs->len; i++) {
            const Version *x = &g_array_index(p->merged.vs, Version, i);
            for (uint32_t j = 0; j < d->nodes; j++)
                if (x->vc[j] > v.vc[j])
                    v.vc[j] = x->vc[j];
        }
        if (d->bug_same_clock) {
            v.vc[d->self]++;
        } else {
            /* Note 8: an event no other version of any key carries. */
            d->last_event = MAX(d->last_event, v.vc[d->self]) + 1;
            v.vc[d->self] = d->last_event;
        }
        if (op->kind == FL_OP_PUT) {
            char tok[24];
            size_t tn = fl_kv_token(op->a, tok);
            v.text = g_string_new_len(tok, (gssize)tn);
            v.v = 0;
        }
        sibs_clear(&p->merged);
        sibs_init(&p->merged);
        sibs_add(d, &p->merged, &v);
        version_clear(&v);
        start_phase(n, d, at, 2);
        return;
    }
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
    fl_reply(n, &p->req, &res);
    pending_clear(p);
    g_array_remove_index(d->pending, at);
}

static void on_got(FlNode *n, Dynamo *d, uint32_t from, FlReader *r)
{
    uint64_t id = fl_get_u64(r);
    uint32_t key = fl_get_u32(r), hint = fl_get_u32(r);
    Sibs s;
    guint at;
    Pending *p;
    if (get_sibs(r, d, &s) && fl_reader_done(r) && hint == FL_NO_HINT &&
        (p = find(d, id, &at)) && p->phase == 1 && p->req.op.key == key) {
        for (uint32_t i = 0; i < p->ntargets; i++) {
            Target *t = &p->targets[i];
            if (t->node != from || t->replied)
                continue;
            t->replied = true;
            sibs_clear(&t->got);
            sibs_init(&t->got);
            sibs_merge(d, &t->got, &s);
            sibs_merge(d, &p->merged, &s);
            p->count++;
            check_done(n, d, at);
            break;
        }
    }
    sibs_clear(&s);
}

static void on_putack(FlNode *n, Dynamo *d, uint32_t from, FlReader *r)
{
    uint64_t id = fl_get_u64(r);
    uint32_t key = fl_get_u32(r);
    if (!fl_reader_done(r))
        return;
    if (id == 0) {
        /* A handed-off hint arrived (note 3): forget it. */
        bool changed = false;
        for (guint i = 0; i < d->hints->len;) {
            Hint *h = &g_array_index(d->hints, Hint, i);
            if (h->owner == from && h->key == key) {
                version_clear(&h->ver);
                g_array_remove_index(d->hints, i);
                changed = true;
                continue;
            }
            i++;
        }
        if (changed)
            persist(n, d);
        return;
    }
    guint at;
    Pending *p = find(d, id, &at);
    if (!p || p->phase != 2)
        return;
    for (uint32_t i = 0; i < p->ntargets; i++) {
        Target *t = &p->targets[i];
        if (t->node == from && !t->replied) {
            t->replied = true;
            p->count++;
            check_done(n, d, at);
            return;
        }
    }
}

static void dynamo_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                              size_t len)
{
    Dynamo *d = state;
    if (from >= d->nodes)
        return;
    if (d->fd_running && fl_fd_on_message(&d->fd, n, from, msg, len))
        return;
    FlReader r;
    fl_reader_init(&r, msg, len);
    switch (fl_get_u8(&r)) {
    case MSG_GET: on_get(n, d, from, &r); break;
    case MSG_GOT: on_got(n, d, from, &r); break;
    case MSG_PUT: on_put(n, d, from, &r, true); break;
    case MSG_REPAIR: on_put(n, d, from, &r, false); break;
    case MSG_PUTACK: on_putack(n, d, from, &r); break;
    default: break;   /* not ours: drop */
    }
}

/* Hands hints to their owners once trusted again (note 3). */
static void hand_off(FlNode *n, Dynamo *d)
{
    for (guint i = 0; i < d->hints->len; i++) {
        const Hint *h = &g_array_index(d->hints, Hint, i);
        if (suspects(d, h->owner))
            continue;
        Sibs one;
        sibs_init(&one);
        sibs_add(d, &one, &h->ver);
        send_put(n, d, h->owner, MSG_PUT, 0, h->key, FL_NO_HINT, &one);
        sibs_clear(&one);
    }
}

/* Anti-entropy (note 4): one key's siblings to its other replicas. */
static void anti_entropy(FlNode *n, Dynamo *d)
{
    if (!d->store->len)
        return;
    for (guint tries = 0; tries < d->store->len; tries++) {
        uint32_t key = d->next_key++ % d->store->len;
        Sibs *s = local(d, key);
        if (!s->vs->len || !is_replica(d, key, d->self))
            continue;
        for (uint32_t i = 0; i < d->n; i++) {
            uint32_t x = ring(d, key, i);
            if (x != d->self)
                send_put(n, d, x, MSG_REPAIR, 0, key, FL_NO_HINT, s);
        }
        return;
    }
}

static void dynamo_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Dynamo *d = state;
    if (d->fd_running && fl_fd_on_timer(&d->fd, n, tag))
        return;
    if (tag != TIMER_TICK)
        return;
    for (guint i = 0; i < d->pending->len;) {
        Pending *p = &g_array_index(d->pending, Pending, i);
        if (fl_now(n) - p->started > (FlTime)d->give_up) {
            if (fl_op_is_read(p->req.op.kind) && p->phase == 1)
                fl_reply_fail(n, &p->req);   /* a read that failed changed nothing */
            pending_clear(p);
            g_array_remove_index(d->pending, i);
            continue;
        }
        send_phase(n, d, p, true);
        i++;
    }
    hand_off(n, d);
    if (d->gossip > 0 && fl_now(n) - d->last_gossip >= (FlTime)d->gossip) {
        d->last_gossip = fl_now(n);
        anti_entropy(n, d);
    }
    fl_timer(n, d->tick, TIMER_TICK);
}

static void dynamo_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Dynamo *d = state;
    const FlOp *op = &req->op;
    if (op->kind != FL_OP_READ && op->kind != FL_OP_WRITE && op->kind != FL_OP_GET &&
        op->kind != FL_OP_PUT) {
        fl_reply_fail(n, req);   /* note 6 */
        return;
    }
    if (op->flags & FL_OP_F_LOCAL) {
        if (is_replica(d, op->key, d->self))
            reply_read(n, d, req, local(d, op->key));
        else
            fl_reply_redirect(n, req, ring(d, op->key, 0));
        return;
    }
    if (d->pending->len >= MAX_PENDING) {
        fl_reply_fail(n, req);
        return;
    }
    Pending p = { .id = ++d->next_id, .req = *req, .started = fl_now(n) };
    p.targets = g_new0(Target, d->nodes);
    p.ntargets = targets(d, op->key, p.targets);
    sibs_init(&p.merged);
    g_array_append_val(d->pending, p);
    start_phase(n, d, d->pending->len - 1, 1);
}

const FlProtocol fl_proto_dynamo = {
    .name = "dynamo",
    .summary = "leaderless N/R/W quorums with vector-clock siblings, read repair, anti-entropy; optional sloppy quorum with hinted handoff",
    .params = dynamo_params,
    .state_size = sizeof(Dynamo),
    .init = dynamo_init,
    .recover = dynamo_recover,
    .destroy = dynamo_destroy,
    .on_message = dynamo_on_message,
    .on_timer = dynamo_on_timer,
    .on_request = dynamo_on_request,
};
