/* abd: the ABD quorum register (Attiya, Bar-Noy and Dolev, "Sharing
 * Memory Robustly in Message-Passing Systems", JACM 1995), multi-writer
 * (Lynch and Shvartsman, FTCS 1997).
 *
 * Linearizable without consensus and without a leader: every node stores a
 * tagged copy of each register, and any node coordinates a client's
 * operation in two round trips to a majority.  Any two majorities
 * intersect, so a phase always meets the latest completed write.
 *
 *   write(v):  1. query a majority for their tags; t = (max ts + 1, self).
 *              2. store (t, v) on a majority; answer ok.
 *   read:      1. query a majority for (tag, value); take the highest.
 *              2. write it back to a majority ("read write-back"), then
 *                 answer with it.  Without the write-back a later read
 *                 could meet a majority that has not seen the value this
 *                 read returned: new-old inversion, not linearizable.
 *
 * Design notes.
 *  1. Tags (ts, writer, op) are totally ordered and unique; a node keeps the value with
 *     the highest tag it was sent.  The coordinator counts itself in each
 *     majority (its own copy is read and written at once).  ABD's tag is
 *     (timestamp, writer id), and its proof needs that no two different
 *     values ever carry one tag: replicas that hold the same tag must hold
 *     the same value.  Here a node coordinates many writes at once, each
 *     its own "writer", so the writer id is the pair (node, operation id)
 *     and operation ids must be unique for the node's whole life (note 7).
 *  2. If every reply of a read's majority has the same tag, the value is
 *     already on a majority and the write-back is skipped (a standard
 *     optimisation that keeps linearizability).
 *  3. Messages are lost: the coordinator resends to nodes that have not
 *     answered every `retry`.  An operation unanswered after `give_up` is
 *     dropped (its client has timed out long before).  A minority side of
 *     a partition cannot finish any operation: unavailable, never wrong.
 *  4. A stored copy is synced to disk before it is acknowledged, so a
 *     restarted node never forgets a value a majority counted on.
 *  5. Registers and kv put/get only: cas and append need a read and a write
 *     in one atomic step, which ABD does not give; they fail (certainly not
 *     applied).  Final reads (FL_OP_F_LOCAL) answer from the node's copy,
 *     outside any quorum.  ABD has no anti-entropy: a store a node missed
 *     (lost, or sent while it was down or cut off) after the operation had
 *     its majority is never resent, so copies need not converge, and a
 *     final read is neither a linearizable read nor proof of convergence.
 *  6. Bounds: MAX_PENDING operations coordinated at once per node.
 *  7. Operation ids are (incarnation, counter).  The counter is volatile; the
 *     incarnation comes from protocols/epoch.h, which stores and syncs a new
 *     one before the node does anything else, so no two operations of one
 *     node, before and after any number of crashes, share an id.  Both
 *     things the id is used for depend on it: replies name the operation
 *     they answer by id alone, so a late reply to an operation of an earlier
 *     incarnation must not count towards a new one (it was sent before the
 *     crash and may describe a state older than what the new phase needs:
 *     a stale query reply could hide the latest write from a read's
 *     majority, a stale store ack could count a node that never stored the
 *     new value); and the id is part of the tag (note 1).
 *  8. The `bug` parameter `volatile-ids` keeps the teachable mistake: ids
 *     are the volatile counter alone, so they restart at 1 after a crash.
 *     A reply still in flight to the old operation k then counts for the
 *     new operation k, and a new write can take a tag (ts, node, k) that an
 *     old write already gave another value: two replicas hold different
 *     values under one tag, a phase "reaches a majority" that never saw the
 *     latest write, and reads go back in time
 *     (scenarios/03-replication/bugs/abd-volatile-ids.json).
 */
#include "protocols/epoch.h"
#include "sim/node.h"

#include <string.h>

enum { MSG_QUERY = 1, MSG_QREPLY, MSG_STORE, MSG_SACK };
enum { TIMER_RETRY = 1 };

#define MAX_PENDING 1024

/* An operation's id, unique over every incarnation of its coordinator
 * (note 7); epoch 0 is never handed out by protocols/epoch.h, the bug
 * variant (note 8) uses it for every incarnation. */
typedef struct OpId {
    uint64_t epoch;
    uint64_t seq;
} OpId;

/* (ts, writer, op): two writes one coordinator runs at once, or one before
 * and one after a crash, must not share a tag, or replicas would keep
 * different values under one tag (note 1). */
typedef struct Tag {
    uint64_t ts;
    uint32_t writer;
    OpId op;
} Tag;

typedef struct Val {
    Tag tag;              /* ts 0: never written */
    bool set;
    int64_t v;
    GString *text;        /* kv: owned, NULL means "" */
} Val;

typedef struct Pending {
    OpId id;
    FlRequest req;
    int phase;            /* 1 query, 2 store */
    FlTime started;
    uint8_t *answered;    /* per node, this phase */
    uint32_t count;
    bool same_tag;        /* phase 1 of a read: all tags equal so far */
    Val best;             /* phase 1: highest seen; phase 2: what is stored */
} Pending;

typedef struct Abd {
    GArray *regs;         /* of Val, by key */
    GArray *pending;      /* of Pending */
    uint64_t epoch;       /* this incarnation (note 7); 0 with bug volatile-ids */
    uint64_t next_id;     /* volatile: restarts at 0 after a crash */
    bool bug_volatile_ids;
    FlDuration retry, give_up;
    uint32_t nodes;       /* the cluster's size, for the digest */
} Abd;

static const FlParam abd_params[] = {
    { "retry", FL_PARAM_DURATION, "\"50ms\"", "resend a phase's message to silent nodes after this", NULL, 1, 1e12 },
    { "give_up", FL_PARAM_DURATION, "\"2s\"", "drop an operation unanswered for this long", NULL, 1, 1e13 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake, for teaching (see abd.c note 8): volatile-ids (operation ids restart at 1 after a crash)",
      "none|volatile-ids", 0, 0 },
    { NULL },
};

static int tag_cmp(Tag a, Tag b)
{
    if (a.ts != b.ts)
        return a.ts < b.ts ? -1 : 1;
    if (a.writer != b.writer)
        return a.writer < b.writer ? -1 : 1;
    if (a.op.epoch != b.op.epoch)
        return a.op.epoch < b.op.epoch ? -1 : 1;
    return a.op.seq < b.op.seq ? -1 : a.op.seq > b.op.seq;
}

static bool opid_eq(OpId a, OpId b)
{
    return a.epoch == b.epoch && a.seq == b.seq;
}

static void val_set(Val *dst, const Val *src)
{
    dst->tag = src->tag;
    dst->set = src->set;
    dst->v = src->v;
    if (src->text) {
        if (!dst->text)
            dst->text = g_string_new(NULL);
        g_string_assign(dst->text, "");
        g_string_append_len(dst->text, src->text->str, (gssize)src->text->len);
    } else if (dst->text) {
        g_string_free(dst->text, TRUE);
        dst->text = NULL;
    }
}

static void val_clear(Val *v)
{
    if (v->text)
        g_string_free(v->text, TRUE);
    v->text = NULL;
}

static Val *reg(Abd *a, uint32_t key)
{
    if (key >= a->regs->len)
        g_array_set_size(a->regs, key + 1);
    return &g_array_index(a->regs, Val, key);
}

static bool is_text_op(uint8_t kind)
{
    return kind == FL_OP_GET || kind == FL_OP_PUT;
}

/* ---- Encoding --------------------------------------------------------- */

static void put_opid(FlWriter *w, OpId id)
{
    fl_put_u64(w, id.epoch);
    fl_put_u64(w, id.seq);
}

static OpId get_opid(FlReader *r)
{
    OpId id;
    id.epoch = fl_get_u64(r);
    id.seq = fl_get_u64(r);
    return id;
}

static void put_val(FlWriter *w, const Val *v)
{
    fl_put_u64(w, v->tag.ts);
    fl_put_u32(w, v->tag.writer);
    put_opid(w, v->tag.op);
    fl_put_u8(w, v->set);
    fl_put_i64(w, v->v);
    fl_put_u8(w, v->text != NULL);
    fl_put_bytes(w, v->text ? v->text->str : "", v->text ? v->text->len : 0);
}

/* Decodes a value; its text is borrowed from the message. */
typedef struct ValMsg {
    Val v;
    const uint8_t *text;
    size_t tlen;
    bool has_text;
} ValMsg;

static bool get_val(FlReader *r, uint32_t nodes, ValMsg *m)
{
    memset(m, 0, sizeof *m);
    m->v.tag.ts = fl_get_u64(r);
    m->v.tag.writer = fl_get_u32(r);
    m->v.tag.op = get_opid(r);
    m->v.set = fl_get_u8(r) != 0;
    m->v.v = fl_get_i64(r);
    m->has_text = fl_get_u8(r) != 0;
    m->text = fl_get_bytes(r, &m->tlen);
    return fl_reader_ok(r) && m->v.tag.writer < nodes;
}

/* @m's value as an owned Val in @dst. */
static void val_from_msg(Val *dst, const ValMsg *m)
{
    Val tmp = m->v;
    tmp.text = m->has_text ? g_string_new_len((const char *)m->text, (gssize)m->tlen) : NULL;
    val_set(dst, &tmp);
    val_clear(&tmp);
}

static void persist(FlNode *n, Abd *a)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u32(&w, a->regs->len);
    for (guint k = 0; k < a->regs->len; k++)
        put_val(&w, &g_array_index(a->regs, Val, k));
    fl_disk_write(n, "registers", w.data, w.len);
    fl_disk_sync(n, "registers");
    fl_writer_deinit(&w);
}

/* Keeps @v at @key if its tag is higher (note 1); returns whether it did. */
static bool adopt(Abd *a, uint32_t key, const Val *v)
{
    Val *r = reg(a, key);
    if (tag_cmp(v->tag, r->tag) <= 0)
        return false;
    val_set(r, v);
    return true;
}

/* ---- Life cycle --------------------------------------------------------- */

static void abd_init(FlNode *n, void *state)
{
    Abd *a = state;
    a->bug_volatile_ids = strcmp(fl_param_enum(n, "bug"), "volatile-ids") == 0;
    /* Note 7: the new incarnation is durable before any operation id of it
     * is handed out. */
    a->epoch = a->bug_volatile_ids ? 0 : fl_epoch_next(n);
    a->next_id = 0;
    a->regs = g_array_new(FALSE, TRUE, sizeof(Val));
    a->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
    a->retry = fl_param_duration(n, "retry");
    a->give_up = fl_param_duration(n, "give_up");
    a->nodes = fl_nodes(n);
    fl_role(n, "replica");
    fl_timer(n, a->retry, TIMER_RETRY);
}

static void abd_recover(FlNode *n, void *state)
{
    Abd *a = state;
    abd_init(n, state);
    size_t len;
    const uint8_t *data = fl_disk_view(n, "registers", &len);
    if (!data)
        return;
    FlReader r;
    fl_reader_init(&r, data, len);
    uint32_t count = fl_get_u32(&r);
    for (uint32_t k = 0; k < count && fl_reader_ok(&r) && k < FL_MAX_KEYS; k++) {
        ValMsg m;
        if (!get_val(&r, fl_nodes(n), &m))
            break;
        Val v = { 0 };
        val_from_msg(&v, &m);
        adopt(a, k, &v);
        val_clear(&v);
    }
}

static void pending_clear(Pending *p)
{
    g_free(p->answered);
    val_clear(&p->best);
}

static void abd_destroy(FlNode *n, void *state)
{
    Abd *a = state;
    for (guint k = 0; k < a->regs->len; k++)
        val_clear(&g_array_index(a->regs, Val, k));
    for (guint i = 0; i < a->pending->len; i++)
        pending_clear(&g_array_index(a->pending, Pending, i));
    g_array_free(a->regs, TRUE);
    g_array_free(a->pending, TRUE);
}

/* ---- The coordinator ----------------------------------------------------- */

static uint32_t majority(FlNode *n)
{
    return fl_nodes(n) / 2 + 1;
}

static void send_phase(FlNode *n, Pending *p, bool only_silent)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, p->phase == 1 ? MSG_QUERY : MSG_STORE);
    put_opid(&w, p->id);
    fl_put_u32(&w, p->req.op.key);
    if (p->phase == 2)
        put_val(&w, &p->best);
    for (uint32_t i = 0; i < fl_nodes(n); i++)
        if (i != fl_self(n) && !(only_silent && p->answered[i]))
            fl_send(n, i, w.data, w.len);
    fl_writer_deinit(&w);
}

static void start_phase(FlNode *n, Abd *a, Pending *p, int phase)
{
    p->phase = phase;
    memset(p->answered, 0, fl_nodes(n));
    p->answered[fl_self(n)] = 1;   /* the coordinator's own copy (note 1) */
    p->count = 1;
    if (phase == 2 && adopt(a, p->req.op.key, &p->best))
        persist(n, a);
    send_phase(n, p, false);
}

/* The operation a reply names, by its id alone (note 7). */
static Pending *find(Abd *a, OpId id, guint *at)
{
    for (guint i = 0; i < a->pending->len; i++)
        if (opid_eq(g_array_index(a->pending, Pending, i).id, id)) {
            *at = i;
            return &g_array_index(a->pending, Pending, i);
        }
    return NULL;
}

static void finish(FlNode *n, Abd *a, guint at)
{
    Pending *p = &g_array_index(a->pending, Pending, at);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
    if (p->req.op.kind == FL_OP_READ) {
        res.has_value = p->best.set;
        res.value = p->best.v;
    } else if (p->req.op.kind == FL_OP_GET) {
        res.has_value = true;
        res.text = p->best.text ? p->best.text->str : "";
        res.text_len = p->best.text ? p->best.text->len : 0;
    }
    fl_reply(n, &p->req, &res);
    pending_clear(p);
    g_array_remove_index(a->pending, at);
}

static void end_query(FlNode *n, Abd *a, guint at);

/* Moves the operation on once its phase has a majority. */
static void check_done(FlNode *n, Abd *a, guint at)
{
    Pending *p = &g_array_index(a->pending, Pending, at);
    if (p->count < majority(n))
        return;
    if (p->phase == 1)
        end_query(n, a, at);
    else
        finish(n, a, at);
}

/* Phase 1 is over: a write picks its tag, a read writes back (or not). */
static void end_query(FlNode *n, Abd *a, guint at)
{
    Pending *p = &g_array_index(a->pending, Pending, at);
    const FlOp *op = &p->req.op;
    if (fl_op_is_read(op->kind)) {
        if (p->same_tag) {   /* note 2 */
            finish(n, a, at);
            return;
        }
        start_phase(n, a, p, 2);
        check_done(n, a, at);
        return;
    }
    Val v = { .tag = { p->best.tag.ts + 1, fl_self(n), p->id }, .set = true, .v = op->a };
    if (op->kind == FL_OP_PUT) {
        char tok[24];
        size_t tn = fl_kv_token(op->a, tok);
        v.text = g_string_new_len(tok, (gssize)tn);
        v.v = 0;
    }
    val_set(&p->best, &v);
    val_clear(&v);
    start_phase(n, a, p, 2);
    check_done(n, a, at);
}

/* Counts @from's answer; moves the operation on at a majority. */
static void count(FlNode *n, Abd *a, guint at, uint32_t from)
{
    Pending *p = &g_array_index(a->pending, Pending, at);
    if (p->answered[from])
        return;
    p->answered[from] = 1;
    p->count++;
    check_done(n, a, at);
}

/* ---- Handlers ------------------------------------------------------------ */

static void reply_val(FlNode *n, uint32_t to, uint8_t type, OpId id, const Val *v)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, type);
    put_opid(&w, id);
    if (v)
        put_val(&w, v);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void on_query(FlNode *n, Abd *a, uint32_t from, FlReader *r)
{
    OpId id = get_opid(r);
    uint32_t key = fl_get_u32(r);
    if (!fl_reader_done(r) || key >= FL_MAX_KEYS)
        return;
    reply_val(n, from, MSG_QREPLY, id, reg(a, key));
}

static void on_qreply(FlNode *n, Abd *a, uint32_t from, FlReader *r)
{
    OpId id = get_opid(r);
    ValMsg m;
    guint at;
    if (!get_val(r, fl_nodes(n), &m) || !fl_reader_done(r))
        return;
    Pending *p = find(a, id, &at);
    if (!p || p->phase != 1 || p->answered[from])
        return;
    int c = tag_cmp(m.v.tag, p->best.tag);
    if (c != 0)
        p->same_tag = false;
    if (c > 0)
        val_from_msg(&p->best, &m);
    count(n, a, at, from);
}

static void on_store(FlNode *n, Abd *a, uint32_t from, FlReader *r)
{
    OpId id = get_opid(r);
    uint32_t key = fl_get_u32(r);
    ValMsg m;
    if (!get_val(r, fl_nodes(n), &m) || !fl_reader_done(r) || key >= FL_MAX_KEYS)
        return;
    Val v = { 0 };
    val_from_msg(&v, &m);
    if (adopt(a, key, &v))
        persist(n, a);   /* note 4: durable before acknowledged */
    val_clear(&v);
    reply_val(n, from, MSG_SACK, id, NULL);
}

static void on_sack(FlNode *n, Abd *a, uint32_t from, FlReader *r)
{
    OpId id = get_opid(r);
    guint at;
    if (!fl_reader_done(r))
        return;
    Pending *p = find(a, id, &at);
    if (p && p->phase == 2)
        count(n, a, at, from);
}

static void abd_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                           size_t len)
{
    Abd *a = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    if (from >= fl_nodes(n))
        return;
    switch (fl_get_u8(&r)) {
    case MSG_QUERY: on_query(n, a, from, &r); break;
    case MSG_QREPLY: on_qreply(n, a, from, &r); break;
    case MSG_STORE: on_store(n, a, from, &r); break;
    case MSG_SACK: on_sack(n, a, from, &r); break;
    default: break;   /* not ours: drop */
    }
}

/* Note 3: resend to the silent, drop the hopeless. */
static void abd_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Abd *a = state;
    if (tag != TIMER_RETRY)
        return;
    for (guint i = 0; i < a->pending->len;) {
        Pending *p = &g_array_index(a->pending, Pending, i);
        if (fl_now(n) - p->started > (FlTime)a->give_up) {
            pending_clear(p);
            g_array_remove_index(a->pending, i);
            continue;
        }
        send_phase(n, p, true);
        i++;
    }
    fl_timer(n, a->retry, TIMER_RETRY);
}

static void abd_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Abd *a = state;
    const FlOp *op = &req->op;
    if (op->kind != FL_OP_READ && op->kind != FL_OP_WRITE && op->kind != FL_OP_GET &&
        op->kind != FL_OP_PUT) {
        fl_reply_fail(n, req);   /* note 5 */
        return;
    }
    if (op->flags & FL_OP_F_LOCAL) {
        const Val *v = reg(a, op->key);
        FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = v->set,
                         .value = v->v };
        if (is_text_op(op->kind)) {
            res.has_value = true;
            res.text = v->text ? v->text->str : "";
            res.text_len = v->text ? v->text->len : 0;
        }
        fl_reply(n, req, &res);
        return;
    }
    if (a->pending->len >= MAX_PENDING) {
        fl_reply_fail(n, req);   /* not started: certainly not applied */
        return;
    }
    Pending p = { .id = { a->epoch, ++a->next_id }, .req = *req, .started = fl_now(n), .same_tag = true };
    p.answered = g_new0(uint8_t, fl_nodes(n));
    val_set(&p.best, reg(a, op->key));   /* the coordinator's own copy */
    g_array_append_val(a->pending, p);
    guint at = a->pending->len - 1;
    start_phase(n, a, &g_array_index(a->pending, Pending, at), 1);
    check_done(n, a, at);
}

/* ---- Exploration ----------------------------------------------------- */

static uint64_t digest_val(uint64_t h, const Val *v)
{
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, v->tag.ts), v->tag.writer), v->tag.op.epoch);
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, v->tag.op.seq), v->set), (uint64_t)v->v);
    h = fl_digest_mix(h, v->text ? v->text->len + 1 : 0);
    for (gsize i = 0; v->text && i < v->text->len; i++)
        h = fl_digest_mix(h, (uint8_t)v->text->str[i]);
    return h;
}

/* Registers, operations in flight with what each phase has gathered, and
 * the id counter (which the bug of note 8 reuses); not the start times. */
static uint64_t abd_digest(const void *state)
{
    const Abd *a = state;
    uint64_t h = fl_digest_mix(fl_digest_mix(a->epoch, a->next_id), a->regs->len);
    for (guint k = 0; k < a->regs->len; k++)
        h = digest_val(h, &g_array_index(a->regs, Val, k));
    for (guint i = 0; i < a->pending->len; i++) {
        const Pending *p = &g_array_index(a->pending, Pending, i);
        h = fl_digest_request(fl_digest_mix(fl_digest_mix(h, p->id.epoch), p->id.seq), &p->req);
        h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, (uint64_t)p->phase), p->count), p->same_tag);
        h = digest_val(h, &p->best);
        /* `answered` has one byte per node; count and best summarise it
         * only in part, so fold it in. */
        for (uint32_t j = 0; p->answered && j < a->nodes; j++)
            h = fl_digest_mix(h, p->answered[j]);
    }
    return h;
}

static bool val_eq(const Val *x, const Val *y)
{
    if (x->set != y->set || x->v != y->v || !x->text != !y->text)
        return false;
    return !x->text || g_string_equal(x->text, y->text);
}

/* Note 1's premise: replicas that hold one tag hold one value. */
static bool abd_invariant(const void *const *states, uint32_t nodes, GString *why)
{
    for (uint32_t i = 0; i < nodes; i++) {
        const Abd *a = states[i];
        for (uint32_t j = i + 1; a && j < nodes; j++) {
            const Abd *b = states[j];
            guint len = b ? MIN(a->regs->len, b->regs->len) : 0;
            for (guint k = 0; k < len; k++) {
                const Val *x = &g_array_index(a->regs, Val, k);
                const Val *y = &g_array_index(b->regs, Val, k);
                if (x->tag.ts != 0 && tag_cmp(x->tag, y->tag) == 0 && !val_eq(x, y)) {
                    g_string_printf(why, "one value per tag: nodes %u and %u hold key %u at tag "
                                    "(%" G_GUINT64_FORMAT ", node %u, op %" G_GUINT64_FORMAT ":%"
                                    G_GUINT64_FORMAT ") with different values",
                                    i, j, k, x->tag.ts, x->tag.writer, x->tag.op.epoch,
                                    x->tag.op.seq);
                    return false;
                }
            }
        }
    }
    return true;
}

const FlProtocol fl_proto_abd = {
    .name = "abd",
    .summary = "ABD multi-writer quorum register: two majority round trips per operation, read write-back; linearizable without consensus",
    .params = abd_params,
    .state_size = sizeof(Abd),
    .init = abd_init,
    .recover = abd_recover,
    .destroy = abd_destroy,
    .on_message = abd_on_message,
    .on_timer = abd_on_timer,
    .on_request = abd_on_request,
    .digest = abd_digest,
    .invariant = abd_invariant,
};
