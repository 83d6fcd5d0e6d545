/* crdt: state-based CRDTs on multi-master replicas (Shapiro, Preguica,
 * Baquero and Zawirski, "Conflict-free Replicated Data Types", SSS 2011).
 *
 * Every node accepts every operation and answers at once from its own
 * state; states travel between replicas and merge with a join that is
 * commutative, associative and idempotent, so any two replicas that have
 * received the same updates, in any order and any number of times, hold
 * the same state: strong eventual consistency, with no coordination at all.
 *
 * Design notes.
 *  1. Types (param `type`), one object per key:
 *       g-counter   one count per node; a node increments its own entry;
 *                   value = sum; merge = entry-wise max (Specification 6).
 *       pn-counter  two g-counters, P and N; value = sum P - sum N (Spec. 7).
 *       g-set       a grow-only set: merge = union (Spec. 11).
 *       or-set      the observed-remove set (Spec. 15): each add creates a
 *                   unique tag (node, seq); a remove tombstones the tags of
 *                   the element this replica has seen; an element is in the
 *                   set while one of its tags is alive.  A concurrent add
 *                   wins over a remove, because the remove never saw its tag.
 *                   Merge = union of tags, tombstones included.
 *     An operation the type cannot do (a remove on a g-set, a decrement on
 *     a g-counter, a register op) fails: it certainly did not happen.
 *  2. Dissemination: after an update the node sends the key's state to
 *     every peer, and every `gossip` interval it sends its whole state to
 *     one random peer (anti-entropy), which repairs what the network lost.
 *  3. Durability: the state is written and synced after each update,
 *     before the answer, so a restarted node has its own increments and
 *     tags (a g-counter that forgot its own entry would take it back from a
 *     peer's older copy, and its next increments would vanish).
 *  4. Bounds: at most MAX_TAGS tags per key (tombstones count); an add
 *     past that fails.
 */
#include "sim/node.h"

#include <string.h>

enum { MSG_STATE = 1 };
enum { TIMER_GOSSIP = 1 };
enum { T_GCOUNTER, T_PNCOUNTER, T_GSET, T_ORSET };

#define MAX_TAGS 65536
#define MAX_KEYS_PER_MSG 4096

typedef struct Tag {
    int64_t elem;
    uint32_t node;
    uint64_t seq;
    bool removed;
} Tag;

typedef struct Obj {
    int64_t *p, *n;       /* counters: one entry per node */
    GArray *tags;         /* sets: of Tag, sorted by (node, seq) */
} Obj;

typedef struct Crdt {
    int type;
    uint32_t nodes;
    FlDuration gossip;
    uint64_t seq;         /* this node's last tag */
    GArray *objs;         /* of Obj, by key */
    uint32_t next_key;
} Crdt;

static const FlParam crdt_params[] = {
    { "type", FL_PARAM_ENUM, "\"pn-counter\"", "the data type of every key",
      "g-counter|pn-counter|g-set|or-set", 0, 0 },
    { "gossip", FL_PARAM_DURATION, "\"200ms\"",
      "anti-entropy: every interval, send the whole state to one random peer (0: never)", NULL, 0,
      1e12 },
    { NULL },
};

static bool is_counter(const Crdt *c)
{
    return c->type == T_GCOUNTER || c->type == T_PNCOUNTER;
}

static Obj *obj(Crdt *c, uint32_t key)
{
    while (key >= c->objs->len) {
        Obj o = { 0 };
        if (is_counter(c)) {
            o.p = g_new0(int64_t, c->nodes);
            o.n = g_new0(int64_t, c->nodes);
        } else {
            o.tags = g_array_new(FALSE, FALSE, sizeof(Tag));
        }
        g_array_append_val(c->objs, o);
    }
    return &g_array_index(c->objs, Obj, key);
}

/* ---- The join (note 1) ------------------------------------------------ */

static int tag_cmp(const Tag *a, uint32_t node, uint64_t seq)
{
    if (a->node != node)
        return a->node < node ? -1 : 1;
    return a->seq < seq ? -1 : a->seq > seq;
}

/* Index of (node, seq) in the sorted tags, or where it would go. */
static guint tag_find(GArray *tags, uint32_t node, uint64_t seq, bool *found)
{
    guint lo = 0, hi = tags->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        int c = tag_cmp(&g_array_index(tags, Tag, mid), node, seq);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Merges one tag; false if the key is full. */
static bool merge_tag(Obj *o, const Tag *t)
{
    bool found;
    guint at = tag_find(o->tags, t->node, t->seq, &found);
    if (found) {
        g_array_index(o->tags, Tag, at).removed |= t->removed;
        return true;
    }
    if (o->tags->len >= MAX_TAGS)
        return false;
    g_array_insert_val(o->tags, at, *t);
    return true;
}

static void merge_counts(Crdt *c, Obj *o, const int64_t *p, const int64_t *n)
{
    for (uint32_t i = 0; i < c->nodes; i++) {
        if (p[i] > o->p[i])
            o->p[i] = p[i];
        if (n[i] > o->n[i])
            o->n[i] = n[i];
    }
}

static int64_t count_value(const Crdt *c, const Obj *o)
{
    int64_t v = 0;
    for (uint32_t i = 0; i < c->nodes; i++)
        v += o->p[i] - o->n[i];
    return v;
}

static bool alive(const Obj *o, int64_t elem)
{
    for (guint i = 0; i < o->tags->len; i++) {
        const Tag *t = &g_array_index(o->tags, Tag, i);
        if (t->elem == elem && !t->removed)
            return true;
    }
    return false;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* The set's members as tokens "3,7," in @s. */
static void members(const Obj *o, GString *s)
{
    g_autoptr(GArray) xs = g_array_new(FALSE, FALSE, sizeof(int64_t));
    for (guint i = 0; i < o->tags->len; i++) {
        const Tag *t = &g_array_index(o->tags, Tag, i);
        if (!t->removed)
            g_array_append_val(xs, t->elem);
    }
    g_array_sort(xs, cmp_i64);
    char tok[24];
    for (guint i = 0; i < xs->len; i++) {
        int64_t v = g_array_index(xs, int64_t, i);
        if (i && v == g_array_index(xs, int64_t, i - 1))
            continue;
        size_t n = fl_kv_token(v, tok);
        g_string_append_len(s, tok, (gssize)n);
    }
}

/* ---- Encoding: a state is a list of keys ------------------------------ */

static void put_obj(FlWriter *w, const Crdt *c, uint32_t key, const Obj *o)
{
    fl_put_u32(w, key);
    if (is_counter(c)) {
        for (uint32_t i = 0; i < c->nodes; i++) {
            fl_put_i64(w, o->p[i]);
            fl_put_i64(w, o->n[i]);
        }
        return;
    }
    fl_put_u32(w, o->tags->len);
    for (guint i = 0; i < o->tags->len; i++) {
        const Tag *t = &g_array_index(o->tags, Tag, i);
        fl_put_i64(w, t->elem);
        fl_put_u32(w, t->node);
        fl_put_u64(w, t->seq);
        fl_put_u8(w, t->removed);
    }
}

static void put_state(FlWriter *w, const Crdt *c, uint32_t first, uint32_t count)
{
    fl_put_u32(w, count);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t key = (first + k) % c->objs->len;
        put_obj(w, c, key, &g_array_index(c->objs, Obj, key));
    }
}

/* Reads a state and merges it.  Everything is decoded and checked before
 * anything is merged: a malformed message changes nothing.  Returns
 * false if it was malformed. */
static bool merge_state(Crdt *c, FlReader *r)
{
    uint32_t count = fl_get_u32(r);
    if (count > MAX_KEYS_PER_MSG || count > fl_reader_left(r))
        return false;
    size_t start = r->pos;
    /* Pass 1: validate. */
    for (uint32_t k = 0; k < count && fl_reader_ok(r); k++) {
        uint32_t key = fl_get_u32(r);
        if (key >= FL_MAX_KEYS)
            return false;
        if (is_counter(c)) {
            for (uint32_t i = 0; i < c->nodes; i++) {
                int64_t p = fl_get_i64(r), n = fl_get_i64(r);
                if (p < 0 || n < 0 || (c->type == T_GCOUNTER && n != 0))
                    return false;
            }
            continue;
        }
        uint32_t m = fl_get_u32(r);
        if (m > MAX_TAGS || m > fl_reader_left(r))
            return false;
        for (uint32_t i = 0; i < m && fl_reader_ok(r); i++) {
            fl_get_i64(r);
            uint32_t node = fl_get_u32(r);
            uint64_t seq = fl_get_u64(r);
            uint8_t rm = fl_get_u8(r);
            if (node >= c->nodes || seq == 0 || rm > 1 || (c->type == T_GSET && rm))
                return false;
        }
    }
    if (!fl_reader_done(r))
        return false;
    /* Pass 2: merge. */
    r->pos = start;
    g_autofree int64_t *p = is_counter(c) ? g_new(int64_t, c->nodes) : NULL;
    g_autofree int64_t *n = is_counter(c) ? g_new(int64_t, c->nodes) : NULL;
    for (uint32_t k = 0; k < count; k++) {
        Obj *o = obj(c, fl_get_u32(r));
        if (is_counter(c)) {
            for (uint32_t i = 0; i < c->nodes; i++) {
                p[i] = fl_get_i64(r);
                n[i] = fl_get_i64(r);
            }
            merge_counts(c, o, p, n);
            continue;
        }
        uint32_t m = fl_get_u32(r);
        for (uint32_t i = 0; i < m; i++) {
            Tag t = { .elem = fl_get_i64(r), .node = fl_get_u32(r), .seq = fl_get_u64(r) };
            t.removed = fl_get_u8(r) != 0;
            merge_tag(o, &t);   /* a full key keeps what it has */
        }
    }
    return true;
}

/* ---- Durability (note 3) ---------------------------------------------- */

static void persist(FlNode *nd, Crdt *c)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u64(&w, c->seq);
    put_state(&w, c, 0, c->objs->len);
    fl_disk_write(nd, "state", w.data, w.len);
    fl_disk_sync(nd, "state");
    fl_writer_deinit(&w);
}

static void crdt_init(FlNode *n, void *state)
{
    Crdt *c = state;
    const char *type = fl_param_enum(n, "type");
    c->type = strcmp(type, "g-counter") == 0 ? T_GCOUNTER
            : strcmp(type, "pn-counter") == 0 ? T_PNCOUNTER
            : strcmp(type, "g-set") == 0 ? T_GSET : T_ORSET;
    c->nodes = fl_nodes(n);
    c->gossip = fl_param_duration(n, "gossip");
    c->objs = g_array_new(FALSE, TRUE, sizeof(Obj));
    fl_role(n, "replica");
    if (c->gossip > 0 && c->nodes > 1)
        fl_timer(n, fl_random_duration(n, c->gossip / 2, c->gossip + c->gossip / 2), TIMER_GOSSIP);
}

static void crdt_recover(FlNode *n, void *state)
{
    Crdt *c = state;
    crdt_init(n, state);
    size_t len;
    const uint8_t *data = fl_disk_view(n, "state", &len);
    if (!data)
        return;
    FlReader r;
    fl_reader_init(&r, data, len);
    uint64_t seq = fl_get_u64(&r);
    if (fl_reader_ok(&r) && merge_state(c, &r))
        c->seq = seq;
}

static void crdt_destroy(FlNode *n, void *state)
{
    Crdt *c = state;
    for (guint i = 0; i < c->objs->len; i++) {
        Obj *o = &g_array_index(c->objs, Obj, i);
        g_free(o->p);
        g_free(o->n);
        if (o->tags)
            g_array_free(o->tags, TRUE);
    }
    g_array_free(c->objs, TRUE);
}

/* ---- Handlers ---------------------------------------------------------- */

static void send_state(FlNode *n, Crdt *c, int to, uint32_t first, uint32_t count)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, MSG_STATE);
    put_state(&w, c, first, count);
    if (to < 0)
        fl_broadcast(n, w.data, w.len);
    else
        fl_send(n, (uint32_t)to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void crdt_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                            size_t len)
{
    Crdt *c = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    if (fl_get_u8(&r) != MSG_STATE)
        return;   /* not ours: drop */
    merge_state(c, &r);
}

static void crdt_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Crdt *c = state;
    if (tag != TIMER_GOSSIP)
        return;
    if (c->objs->len) {
        uint32_t peer = (uint32_t)fl_rng_below(fl_rng(n), c->nodes - 1);
        if (peer >= fl_self(n))
            peer++;
        uint32_t count = MIN(c->objs->len, MAX_KEYS_PER_MSG);
        send_state(n, c, (int)peer, c->next_key, count);
        c->next_key = (c->next_key + count) % c->objs->len;
    }
    fl_timer(n, fl_random_duration(n, c->gossip / 2, c->gossip + c->gossip / 2), TIMER_GOSSIP);
}

/* Applies an update to this replica's state (note 1); false if the type
 * cannot do it. */
static bool update(FlNode *n, Crdt *c, const FlOp *op)
{
    uint32_t self = fl_self(n);
    if (is_counter(c)) {
        if (op->a < 0 || (op->kind != FL_OP_INCR && op->kind != FL_OP_DECR) ||
            (op->kind == FL_OP_DECR && c->type == T_GCOUNTER))
            return false;
        Obj *o = obj(c, op->key);
        if (op->kind == FL_OP_INCR)
            o->p[self] += op->a;
        else
            o->n[self] += op->a;
        return true;
    }
    if (op->kind == FL_OP_ADD) {
        Obj *o = obj(c, op->key);
        if (c->type == T_GSET && alive(o, op->a))
            return true;
        Tag t = { .elem = op->a, .node = self, .seq = c->seq + 1 };
        if (!merge_tag(o, &t))
            return false;
        c->seq++;
        return true;
    }
    if (op->kind == FL_OP_REMOVE && c->type == T_ORSET) {
        /* Tombstone the tags this replica has seen (observed remove). */
        Obj *o = obj(c, op->key);
        for (guint i = 0; i < o->tags->len; i++) {
            Tag *t = &g_array_index(o->tags, Tag, i);
            if (t->elem == op->a)
                t->removed = true;
        }
        return true;
    }
    return false;
}

static void crdt_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Crdt *c = state;
    const FlOp *op = &req->op;
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
    if (op->kind == FL_OP_READ && is_counter(c)) {
        res.has_value = true;
        res.value = count_value(c, obj(c, op->key));
        fl_reply(n, req, &res);
        return;
    }
    if (op->kind == FL_OP_SREAD && !is_counter(c)) {
        g_autoptr(GString) s = g_string_new(NULL);
        members(obj(c, op->key), s);
        res.has_value = true;
        res.text = s->str;
        res.text_len = s->len;
        fl_reply(n, req, &res);
        return;
    }
    if (!update(n, c, op)) {
        fl_reply_fail(n, req);
        return;
    }
    persist(n, c);
    send_state(n, c, -1, op->key, 1);
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_crdt = {
    .name = "crdt",
    .summary = "state-based CRDTs (g-counter, pn-counter, g-set, or-set) on multi-master replicas: strong eventual consistency",
    .params = crdt_params,
    .state_size = sizeof(Crdt),
    .init = crdt_init,
    .recover = crdt_recover,
    .destroy = crdt_destroy,
    .on_message = crdt_on_message,
    .on_timer = crdt_on_timer,
    .on_request = crdt_on_request,
};
