/* causal: a causally consistent store in the style of COPS (Lloyd,
 * Freedman, Kaminsky and Andersen, "Don't Settle for Eventual", SOSP 2011).
 *
 * Every node is a full replica (a "datacenter" of COPS) and answers its
 * clients at once; writes replicate in the background.  Causality is kept
 * by dependencies: a write carries the versions its client had seen, and
 * a replica makes a remote write visible only after every one of them is
 * visible there.  So no client ever sees an effect before its cause, even
 * during a partition, while every node stays available: causal, not
 * sequential, and certainly not linearizable.
 *
 * Design notes.
 *  1. Versions are Lamport stamps (ts, origin), totally ordered.  Each key
 *     holds the visible version with the highest stamp (last writer wins,
 *     with a causal order that every replica agrees on), so replicas
 *     converge: COPS's "causal+".
 *  2. Client context.  The client carries the causal past of its session
 *     in its session token (FlResult.session), as COPS's client library
 *     does: per key, the highest version of that key among the writes the
 *     client read or wrote, at any node, and everything those writes
 *     depended on (a read adds the version read and that version's own
 *     dependency list).  A write depends on the whole context, and the
 *     context then also holds the write.  So a write's
 *     dependency list is its whole causal past, one entry per key, not only
 *     its nearest dependencies (COPS section 4.2 keeps only the nearest
 *     ones and relies on transitivity, which note 3 explains breaks here;
 *     COPS-GT stores every version's full dependencies, as here).  The list
 *     is bounded by the number of keys.  A node serves a request only once
 *     what it shows covers the client's context (note 3's rule): a client
 *     that moves to a node that is behind (after a timeout) waits there
 *     until anti-entropy brings that node up to what the client has seen,
 *     or times out again; it never sees its own past undone.  Waiting
 *     requests are volatile: a crash drops them, and the clients time out.
 *  3. Dependency check.  A dependency (k, v) is satisfied when the visible
 *     version of k is at least v.  A remote write whose dependencies are
 *     not all satisfied waits in `pending`; every write made visible wakes
 *     the pending ones.  Why "at least" is safe only with note 2's full
 *     lists: a version v' of k newer than v may be concurrent with v, so
 *     v' being visible says nothing of v's own dependencies.  With nearest
 *     dependencies alone, v' would stand in for v while v's causes are
 *     still missing, and a client would see an effect before its cause.
 *     With full lists, v's causes are entries of the same list and are
 *     checked on their own; v' stands in only for v itself, which last
 *     writer wins would hide behind v' anyway (Lamport stamps follow
 *     causality, so v' is never causally older than v).  We keep "at
 *     least" rather than COPS's exact version or a causal successor: a key
 *     keeps only its newest version (note 4), so a v that was lost in the
 *     network and then overwritten everywhere by a concurrent write would
 *     never arrive, and a write waiting for exactly v would wait forever.
 *     Invariant: every visible version's dependency list is covered by
 *     what is visible here (visible versions only grow).
 *  4. Anti-entropy.  Every `gossip` interval (jittered by half either
 *     way) a node sends every visible
 *     version, with its dependencies, to one random peer: writes lost in
 *     the network or sent during a partition arrive in the end.  A key keeps
 *     only its newest version, so older ones never travel again; instead the
 *     digest is the sender's whole visible state, which is causally closed
 *     by note 3's invariant (each entry's dependencies are met by the
 *     digest's own entries), and its writes become visible together: a
 *     dependency may be met by another write of the same digest, under the
 *     same rule as note 3, that write's own dependencies being checked in
 *     the same pass.
 *  5. Durability: the state (versions, clock) is written and
 *     synced before a write is answered and after each remote write is
 *     made visible, so a restarted node never shows its clients an older
 *     state than they saw.
 *  6. Bounds: MAX_PENDING waiting writes (past it the oldest is dropped:
 *     anti-entropy brings it back), MAX_WAITING waiting requests (past it
 *     the oldest is dropped: its client times out), at most MAX_DEPS
 *     dependencies.  A session token that fails to decode drops its
 *     request.
 *  7. The teachable bug `newer-satisfies` is the store before note 2's fix:
 *     a context holds only nearest dependencies (a read adds the version
 *     read, not its dependencies; a write replaces the context by itself),
 *     and note 3's "at least" rule then lets a concurrent newer version of
 *     k stand in for v while v's own dependencies are missing, here and in
 *     a digest.  Under 5% message loss alone the causal check fails on
 *     19 of seeds 1..200 (scenarios/03-replication/bugs/
 *     causal-newer-satisfies.json).
 */
#include "sim/node.h"

#include <string.h>

enum { MSG_REPL = 1, MSG_DIGEST = 2 };
enum { TIMER_GOSSIP = 1 };

#define MAX_PENDING 4096
/* A dependency list holds at most one entry per key (note 2); a longer cap
 * than the workload's keys would make a node drop, and on restart lose, a
 * list it wrote itself. */
#define MAX_DEPS FL_MAX_KEYS
#define MAX_DIGEST 4096
#define MAX_WAITING 1024

typedef struct Ver {
    uint64_t ts;
    uint32_t origin;
} Ver;

typedef struct Dep {
    uint32_t key;
    Ver ver;
} Dep;

/* One write: a key's value at a version, and what it depends on. */
typedef struct Update {
    uint32_t key;
    Ver ver;
    bool set;             /* register: written at least once */
    bool is_text;
    int64_t v;
    GString *text;        /* kv value, owned */
    GArray *deps;         /* of Dep, owned */
} Update;

/* A client request waiting until this node covers the client's context
 * (note 2). */
typedef struct Waiting {
    FlRequest req;
    GArray *deps;         /* of Dep, sorted by key: the client's context, owned */
} Waiting;

typedef struct Causal {
    uint64_t clock;       /* Lamport */
    GArray *store;        /* of Update, by key; ver.ts == 0: never written */
    GArray *waiting;      /* of Waiting, oldest first (note 2) */
    GArray *pending;      /* of Update, oldest first */
    FlDuration gossip;
    uint32_t next_key;
    bool bug_newer_satisfies;   /* note 7 */
} Causal;

static const FlParam causal_params[] = {
    { "gossip", FL_PARAM_DURATION, "\"200ms\"",
      "anti-entropy: every interval, send every visible version to one random peer (0: never)",
      NULL, 0, 1e12 },
    { "bug", FL_PARAM_ENUM, "\"none\"",
      "a deliberate mistake: newer-satisfies (nearest dependencies only, so a concurrent newer version stands in for a dependency whose own dependencies are missing)",
      "none|newer-satisfies", 0, 0 },
    { NULL },
};

static int ver_cmp(Ver a, Ver b)
{
    if (a.ts != b.ts)
        return a.ts < b.ts ? -1 : 1;
    return a.origin < b.origin ? -1 : a.origin > b.origin;
}

static void update_clear(Update *u)
{
    if (u->text)
        g_string_free(u->text, TRUE);
    if (u->deps)
        g_array_free(u->deps, TRUE);
    u->text = NULL;
    u->deps = NULL;
}

static Update *slot(Causal *c, uint32_t key)
{
    if (key >= c->store->len)
        g_array_set_size(c->store, key + 1);
    return &g_array_index(c->store, Update, key);
}

static Ver visible(const Causal *c, uint32_t key)
{
    if (key >= c->store->len)
        return (Ver){ 0, 0 };
    return g_array_index(c->store, Update, key).ver;
}

/* ---- Contexts (note 2) ------------------------------------------------ */

/* Adds (key, ver) to a sorted dependency list, keeping the higher version. */
static void deps_add(GArray *deps, uint32_t key, Ver ver)
{
    guint i = 0;
    while (i < deps->len && g_array_index(deps, Dep, i).key < key)
        i++;
    if (i < deps->len && g_array_index(deps, Dep, i).key == key) {
        Dep *d = &g_array_index(deps, Dep, i);
        if (ver_cmp(ver, d->ver) > 0)
            d->ver = ver;
        return;
    }
    Dep d = { key, ver };
    g_array_insert_val(deps, i, d);
}

/* What a client learns from seeing @u (borrowed): @u itself and, unless the
 * bug of note 7 is on, @u's dependency list, which is @u's causal past
 * (note 2). */
static void context_see(const Causal *c, GArray *deps, const Update *u)
{
    deps_add(deps, u->key, u->ver);
    if (c->bug_newer_satisfies)
        return;
    for (guint i = 0; u->deps && i < u->deps->len; i++) {
        const Dep *d = &g_array_index(u->deps, Dep, i);
        deps_add(deps, d->key, d->ver);
    }
}

/* ---- Encoding ----------------------------------------------------------- */

static void put_update(FlWriter *w, const Update *u)
{
    fl_put_u32(w, u->key);
    fl_put_u64(w, u->ver.ts);
    fl_put_u32(w, u->ver.origin);
    fl_put_u8(w, u->set);
    fl_put_u8(w, u->is_text);
    fl_put_i64(w, u->v);
    fl_put_bytes(w, u->text ? u->text->str : "", u->text ? u->text->len : 0);
    uint32_t nd = u->deps ? u->deps->len : 0;
    fl_put_u32(w, nd);
    for (uint32_t i = 0; i < nd; i++) {
        const Dep *d = &g_array_index(u->deps, Dep, i);
        fl_put_u32(w, d->key);
        fl_put_u64(w, d->ver.ts);
        fl_put_u32(w, d->ver.origin);
    }
}

/* Decodes an update into @u (owning its text and deps on success). */
static bool get_update(FlReader *r, uint32_t nodes, Update *u)
{
    memset(u, 0, sizeof *u);
    u->key = fl_get_u32(r);
    u->ver.ts = fl_get_u64(r);
    u->ver.origin = fl_get_u32(r);
    u->set = fl_get_u8(r) != 0;
    u->is_text = fl_get_u8(r) != 0;
    u->v = fl_get_i64(r);
    size_t tlen;
    const uint8_t *text = fl_get_bytes(r, &tlen);
    uint32_t nd = fl_get_u32(r);
    if (!fl_reader_ok(r) || u->key >= FL_MAX_KEYS || u->ver.ts == 0 || u->ver.origin >= nodes ||
        nd > MAX_DEPS || nd > fl_reader_left(r))
        return false;
    u->deps = g_array_sized_new(FALSE, FALSE, sizeof(Dep), nd);
    for (uint32_t i = 0; i < nd; i++) {
        Dep d = { .key = fl_get_u32(r) };
        d.ver.ts = fl_get_u64(r);
        d.ver.origin = fl_get_u32(r);
        if (d.key >= FL_MAX_KEYS || d.ver.origin >= nodes)
            r->err = true;
        g_array_append_val(u->deps, d);
    }
    if (!fl_reader_ok(r)) {
        update_clear(u);
        return false;
    }
    if (u->is_text)
        u->text = g_string_new_len((const char *)text, (gssize)tlen);
    return true;
}

static void persist(FlNode *n, Causal *c)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u64(&w, c->clock);
    uint32_t written = 0;
    for (guint k = 0; k < c->store->len; k++)
        written += g_array_index(c->store, Update, k).ver.ts != 0;
    fl_put_u32(&w, written);
    for (guint k = 0; k < c->store->len; k++)
        if (g_array_index(c->store, Update, k).ver.ts != 0)
            put_update(&w, &g_array_index(c->store, Update, k));
    fl_disk_write(n, "state", w.data, w.len);
    fl_disk_sync(n, "state");
    fl_writer_deinit(&w);
}

/* ---- Visibility (notes 1, 3) ------------------------------------------- */

static bool deps_satisfied(const Causal *c, const Update *u)
{
    for (guint i = 0; u->deps && i < u->deps->len; i++) {
        const Dep *d = &g_array_index(u->deps, Dep, i);
        if (ver_cmp(visible(c, d->key), d->ver) < 0)
            return false;
    }
    return true;
}

/* Makes @u (taken) visible if it is newer than what the key shows. */
static void make_visible(Causal *c, Update *u)
{
    if (u->ver.ts > c->clock)
        c->clock = u->ver.ts;
    Update *s = slot(c, u->key);
    if (ver_cmp(u->ver, s->ver) <= 0) {
        update_clear(u);
        return;
    }
    update_clear(s);
    *s = *u;
}

/* Wakes the pending writes whose dependencies are now visible; returns
 * whether any became visible. */
static bool wake(Causal *c)
{
    bool any = false, progress = true;
    while (progress) {
        progress = false;
        for (guint i = 0; i < c->pending->len;) {
            Update *p = &g_array_index(c->pending, Update, i);
            if (ver_cmp(p->ver, visible(c, p->key)) <= 0) {
                update_clear(p);   /* superseded while it waited */
                g_array_remove_index(c->pending, i);
                continue;
            }
            if (!deps_satisfied(c, p)) {
                i++;
                continue;
            }
            Update u = *p;
            g_array_remove_index(c->pending, i);
            make_visible(c, &u);
            any = progress = true;
        }
    }
    return any;
}

/* A write from a peer (taken): visible now, or pending (note 3). */
static bool receive(Causal *c, Update *u)
{
    if (ver_cmp(u->ver, visible(c, u->key)) <= 0) {
        update_clear(u);
        return false;
    }
    if (deps_satisfied(c, u)) {
        make_visible(c, u);
        wake(c);
        return true;
    }
    for (guint i = 0; i < c->pending->len; i++) {
        Update *p = &g_array_index(c->pending, Update, i);
        if (p->key == u->key && ver_cmp(p->ver, u->ver) == 0) {
            update_clear(u);
            return false;
        }
    }
    if (c->pending->len >= MAX_PENDING) {
        update_clear(&g_array_index(c->pending, Update, 0));
        g_array_remove_index(c->pending, 0);
    }
    g_array_append_val(c->pending, *u);
    return false;
}

/* ---- Handlers ----------------------------------------------------------- */

static void serve_waiting(FlNode *n, Causal *c);

static void causal_init(FlNode *n, void *state)
{
    Causal *c = state;
    c->store = g_array_new(FALSE, TRUE, sizeof(Update));
    c->waiting = g_array_new(FALSE, FALSE, sizeof(Waiting));
    c->pending = g_array_new(FALSE, FALSE, sizeof(Update));
    c->gossip = fl_param_duration(n, "gossip");
    c->bug_newer_satisfies = strcmp(fl_param_enum(n, "bug"), "newer-satisfies") == 0;
    fl_role(n, "replica");
    if (c->gossip > 0 && fl_nodes(n) > 1)
        fl_timer(n, fl_random_duration(n, c->gossip / 2, c->gossip + c->gossip / 2), TIMER_GOSSIP);
}

static void causal_recover(FlNode *n, void *state)
{
    Causal *c = state;
    causal_init(n, state);
    size_t len;
    const uint8_t *data = fl_disk_view(n, "state", &len);
    if (!data)
        return;
    FlReader r;
    fl_reader_init(&r, data, len);
    c->clock = fl_get_u64(&r);
    uint32_t nk = fl_get_u32(&r);
    for (uint32_t i = 0; i < nk && fl_reader_ok(&r); i++) {
        Update u;
        if (get_update(&r, fl_nodes(n), &u))
            make_visible(c, &u);
    }
}

static void causal_destroy(FlNode *n, void *state)
{
    Causal *c = state;
    for (guint i = 0; i < c->store->len; i++)
        update_clear(&g_array_index(c->store, Update, i));
    for (guint i = 0; i < c->pending->len; i++)
        update_clear(&g_array_index(c->pending, Update, i));
    for (guint i = 0; i < c->waiting->len; i++)
        g_array_free(g_array_index(c->waiting, Waiting, i).deps, TRUE);
    g_array_free(c->store, TRUE);
    g_array_free(c->pending, TRUE);
    g_array_free(c->waiting, TRUE);
}

static void on_repl(FlNode *n, Causal *c, FlReader *r)
{
    Update u;
    if (!get_update(r, fl_nodes(n), &u))
        return;
    if (!fl_reader_done(r)) {
        update_clear(&u);
        return;
    }
    if (receive(c, &u)) {
        persist(n, c);
        serve_waiting(n, c);
    }
}

/* A dependency of a digest's write is met by what is visible here or by
 * the digest's own write of that key: the sender's visible state is
 * causally closed, so its writes become visible together (note 4). */
static bool met_with(const Causal *c, const Update *u, const GArray *us, const bool *keep)
{
    for (guint i = 0; u->deps && i < u->deps->len; i++) {
        const Dep *d = &g_array_index(u->deps, Dep, i);
        if (ver_cmp(visible(c, d->key), d->ver) >= 0)
            continue;
        bool met = false;
        for (guint j = 0; j < us->len && !met; j++) {
            const Update *o = &g_array_index(us, Update, j);
            met = keep[j] && o->key == d->key && ver_cmp(o->ver, d->ver) >= 0;
        }
        if (!met)
            return false;
    }
    return true;
}

static void on_digest(FlNode *n, Causal *c, FlReader *r)
{
    uint32_t count = fl_get_u32(r);
    if (count > MAX_DIGEST || count > fl_reader_left(r))
        return;
    g_autoptr(GArray) us = g_array_new(FALSE, FALSE, sizeof(Update));
    for (uint32_t i = 0; i < count; i++) {
        Update u;
        if (!get_update(r, fl_nodes(n), &u))
            break;
        g_array_append_val(us, u);
    }
    bool ok = us->len == count && fl_reader_done(r), changed = false;
    /* The writes that can become visible together: drop, until none is
     * left to drop, those with a dependency neither here nor among them. */
    g_autofree bool *keep = g_new(bool, us->len + 1);
    for (guint i = 0; i < us->len; i++)
        keep[i] = ok;
    for (bool dropped = true; dropped;) {
        dropped = false;
        for (guint i = 0; i < us->len; i++)
            if (keep[i] && !met_with(c, &g_array_index(us, Update, i), us, keep)) {
                keep[i] = false;
                dropped = true;
            }
    }
    for (guint i = 0; i < us->len; i++) {
        Update *u = &g_array_index(us, Update, i);
        if (!keep[i]) {
            if (ok)
                changed |= receive(c, u);   /* waits for its dependencies */
            else
                update_clear(u);
            continue;
        }
        if (ver_cmp(u->ver, visible(c, u->key)) > 0)
            changed = true;
        make_visible(c, u);
    }
    if (changed) {
        wake(c);
        persist(n, c);
        serve_waiting(n, c);
    }
}

static void causal_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                              size_t len)
{
    Causal *c = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    switch (fl_get_u8(&r)) {
    case MSG_REPL: on_repl(n, c, &r); break;
    case MSG_DIGEST: on_digest(n, c, &r); break;
    default: break;   /* not ours: drop */
    }
}

/* Anti-entropy (note 4). */
static void causal_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Causal *c = state;
    if (tag != TIMER_GOSSIP)
        return;
    uint32_t total = c->store->len, count = 0;
    for (uint32_t k = 0; k < total; k++)
        count += g_array_index(c->store, Update, k).ver.ts != 0;
    count = MIN(count, MAX_DIGEST);
    if (count) {
        uint32_t peer = (uint32_t)fl_rng_below(fl_rng(n), fl_nodes(n) - 1);
        if (peer >= fl_self(n))
            peer++;
        FlWriter w;
        fl_writer_init(&w, NULL, 0);
        fl_put_u8(&w, MSG_DIGEST);
        fl_put_u32(&w, count);
        for (uint32_t sent = 0, k = 0; sent < count && k < total; k++) {
            const Update *u = &g_array_index(c->store, Update, (c->next_key + k) % total);
            if (u->ver.ts) {
                put_update(&w, u);
                sent++;
            }
        }
        c->next_key = (c->next_key + 1) % total;
        fl_send(n, peer, w.data, w.len);
        fl_writer_deinit(&w);
    }
    fl_timer(n, fl_random_duration(n, c->gossip / 2, c->gossip + c->gossip / 2), TIMER_GOSSIP);
}

/* A client's write (note 2): depends on the client's context @deps, then
 * joins it (with the bug of note 7, replaces it). */
static void local_write(FlNode *n, Causal *c, GArray *deps, uint32_t key, bool is_text,
                        int64_t v, const char *text, size_t tlen)
{
    Update u = { .key = key, .set = true, .is_text = is_text, .v = v };
    u.ver = (Ver){ ++c->clock, fl_self(n) };
    u.text = is_text ? g_string_new_len(text, (gssize)tlen) : NULL;
    u.deps = g_array_new(FALSE, FALSE, sizeof(Dep));
    g_array_append_vals(u.deps, deps->data, deps->len);
    if (c->bug_newer_satisfies)
        g_array_set_size(deps, 0);
    deps_add(deps, u.key, u.ver);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, MSG_REPL);
    put_update(&w, &u);
    make_visible(c, &u);   /* the newest stamp this node has seen: it wins here */
    wake(c);
    persist(n, c);
    fl_broadcast(n, w.data, w.len);
    fl_writer_deinit(&w);
}

/* ---- Sessions (note 2) ---------------------------------------------------- */

/* The context a session token holds, or NULL if it does not decode. */
static GArray *token_decode(const uint8_t *p, size_t len, uint32_t nodes)
{
    GArray *deps = g_array_new(FALSE, FALSE, sizeof(Dep));
    if (!p)
        return deps;
    FlReader r;
    fl_reader_init(&r, p, len);
    uint32_t nd = fl_get_u32(&r);
    bool ok = fl_reader_ok(&r) && nd <= MAX_DEPS && nd <= fl_reader_left(&r);
    for (uint32_t i = 0; ok && i < nd; i++) {
        Dep d = { .key = fl_get_u32(&r) };
        d.ver.ts = fl_get_u64(&r);
        d.ver.origin = fl_get_u32(&r);
        /* Sorted by key, one entry per key, as deps_add keeps them. */
        ok = fl_reader_ok(&r) && d.key < FL_MAX_KEYS && d.ver.ts > 0 && d.ver.origin < nodes &&
             (i == 0 || g_array_index(deps, Dep, i - 1).key < d.key);
        g_array_append_val(deps, d);
    }
    if (!ok || !fl_reader_done(&r)) {
        g_array_free(deps, TRUE);
        return NULL;
    }
    return deps;
}

static void token_encode(FlWriter *w, const GArray *deps)
{
    fl_put_u32(w, deps->len);
    for (guint i = 0; i < deps->len; i++) {
        const Dep *d = &g_array_index(deps, Dep, i);
        fl_put_u32(w, d->key);
        fl_put_u64(w, d->ver.ts);
        fl_put_u32(w, d->ver.origin);
    }
}

/* Whether what is visible here covers the context @deps (note 3's rule). */
static bool covers(const Causal *c, const GArray *deps)
{
    Update tmp = { .deps = (GArray *)deps };
    return deps_satisfied(c, &tmp);
}

/* Serves @req for a client whose context is @deps (changed here to the
 * context after the operation), and answers with it as the token. */
static void serve(FlNode *n, Causal *c, const FlRequest *req, GArray *deps)
{
    const FlOp *op = &req->op;
    Update *s = slot(c, op->key);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
    char tok[24];
    size_t tn;
    /* What the client sees here becomes part of its context. */
    if (s->ver.ts && op->kind != FL_OP_PUT && op->kind != FL_OP_WRITE)
        context_see(c, deps, s);
    switch (op->kind) {
    case FL_OP_READ:
        res.has_value = s->set;
        res.value = s->v;
        break;
    case FL_OP_GET:
        res.has_value = true;
        res.text = s->text ? s->text->str : "";
        res.text_len = s->text ? s->text->len : 0;
        break;
    case FL_OP_WRITE:
        local_write(n, c, deps, op->key, false, op->a, NULL, 0);
        break;
    case FL_OP_CAS:
        if (!s->set || s->v != op->a) {
            res.status = FL_RESULT_FAIL;
            break;
        }
        local_write(n, c, deps, op->key, false, op->b, NULL, 0);
        break;
    case FL_OP_PUT:
    case FL_OP_APPEND: {
        tn = fl_kv_token(op->a, tok);
        g_autoptr(GString) v = g_string_new(op->kind == FL_OP_APPEND && s->text ? s->text->str : "");
        g_string_append_len(v, tok, (gssize)tn);
        local_write(n, c, deps, op->key, true, 0, v->str, v->len);
        break;
    }
    default:
        res.status = FL_RESULT_FAIL;
        break;
    }
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    token_encode(&w, deps);
    res.session = w.data;
    res.session_len = w.len;
    /* Read results point into the store: answer before anything changes it. */
    fl_reply(n, req, &res);
    fl_writer_deinit(&w);
}

/* Serves, oldest first, the waiting requests this node now covers; a
 * write served may cover more. */
static void serve_waiting(FlNode *n, Causal *c)
{
    for (bool progress = true; progress;) {
        progress = false;
        for (guint i = 0; i < c->waiting->len; i++) {
            Waiting x = g_array_index(c->waiting, Waiting, i);
            if (!covers(c, x.deps))
                continue;
            g_array_remove_index(c->waiting, i);
            serve(n, c, &x.req, x.deps);
            g_array_free(x.deps, TRUE);
            progress = true;
            break;
        }
    }
}

static void causal_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Causal *c = state;
    size_t len;
    const uint8_t *token = fl_request_session(n, req, &len);
    GArray *deps = token_decode(token, len, fl_nodes(n));
    if (!deps) {
        fl_log(n, "dropped a request whose session token does not decode");
        return;
    }
    if (covers(c, deps)) {
        serve(n, c, req, deps);
        g_array_free(deps, TRUE);
        serve_waiting(n, c);
        return;
    }
    if (c->waiting->len >= MAX_WAITING) {
        g_array_free(g_array_index(c->waiting, Waiting, 0).deps, TRUE);
        g_array_remove_index(c->waiting, 0);
    }
    Waiting x = { .req = *req, .deps = deps };
    g_array_append_val(c->waiting, x);
}

const FlProtocol fl_proto_causal = {
    .name = "causal",
    .summary = "COPS-style causal+ store: every node answers at once; writes carry dependencies and become visible only after them",
    .params = causal_params,
    .state_size = sizeof(Causal),
    .init = causal_init,
    .recover = causal_recover,
    .destroy = causal_destroy,
    .on_message = causal_on_message,
    .on_timer = causal_on_timer,
    .on_request = causal_on_request,
};
