/* lww: multi-master, last-writer-wins by timestamp.
 *
 * Every node accepts every operation and answers at once from its own copy;
 * updates are stamped with the node's local clock (ties broken by node id)
 * and sent to every other node, which keeps, per key, the update with the
 * highest stamp.  A client's write follows the same rule on the node that
 * takes it: it is acknowledged at once, and kept only if its stamp is newer
 * than the cell's.  Nothing waits for anyone: always available, and not
 * linearizable, on purpose: concurrent writers overwrite each other, reads
 * are stale, and a node whose clock runs behind loses its writes (an
 * acknowledged write stamped older than the cell vanishes at once, on that
 * node as on every other, and a read there right after it returns the
 * value that won).  A cas or an append reads the local copy, which may be
 * stale, and then writes like a write, so both can lose updates, other
 * clients' or their own.  State is in
 * memory only: a crashed node comes back empty and fills up again from
 * later updates.
 *
 * Anti-entropy (Demers et al., "Epidemic algorithms for replicated
 * database maintenance", 1987): every `gossip` interval a node sends
 * `gossip_cells` cells, round robin over the keys, to one peer drawn at
 * random, which merges them with the same rule.  Updates lost in the network, or sent while a peer was down or
 * cut off, still arrive in the end: once writes stop and the network
 * heals, every replica holds, for each key, the write with the highest
 * stamp.  Replicas converge (eventual consistency); they are not causal:
 * keys travel independently (after a partition a replica may get the new
 * value of one key long before the older write of another that it
 * depends on), and a late clock's write can vanish under an older one it
 * had read. */
#include "sim/node.h"

#include <string.h>

enum { MSG_UPDATE = 1, MSG_DIGEST = 2 };
enum { TIMER_GOSSIP = 1 };

/* Cells per anti-entropy message: a bound on its size. */
#define GOSSIP_MAX_CELLS 4096

typedef struct Cell {
    uint64_t ts;
    uint32_t origin;
    bool set;
    int64_t v;
    GString *text;
} Cell;

typedef struct Lww {
    GArray *cells;        /* of Cell, by key */
    FlDuration gossip;    /* 0: no anti-entropy */
    uint32_t gossip_cells;
    uint32_t next_cell;   /* where the next digest starts */
} Lww;

static const FlParam lww_params[] = {
    { "gossip", FL_PARAM_DURATION, "\"100ms\"",
      "anti-entropy: every interval, send cells to one random peer (0: never)", NULL, 0, 1e12 },
    { "gossip_cells", FL_PARAM_INT, "4", "cells per anti-entropy message, round robin over the keys",
      NULL, 1, GOSSIP_MAX_CELLS },
    { NULL },
};

static Cell *cell(Lww *l, uint32_t key)
{
    if (key >= l->cells->len)
        g_array_set_size(l->cells, key + 1);
    return &g_array_index(l->cells, Cell, key);
}

/* The wait before the next anti-entropy round: `gossip`, jittered by half
 * either way (as real gossip does, so that rounds neither synchronise
 * across nodes nor fall on round instants). */
static FlDuration next_round(FlNode *n, const Lww *l)
{
    return fl_random_duration(n, l->gossip / 2, l->gossip + l->gossip / 2);
}

static void lww_init(FlNode *n, void *state)
{
    Lww *l = state;
    l->cells = g_array_new(FALSE, TRUE, sizeof(Cell));
    l->gossip = fl_param_duration(n, "gossip");
    l->gossip_cells = (uint32_t)fl_param_int(n, "gossip_cells");
    fl_role(n, "replica");
    if (l->gossip > 0 && fl_nodes(n) > 1)
        fl_timer(n, next_round(n, l), TIMER_GOSSIP);
}

static void lww_destroy(FlNode *n, void *state)
{
    Lww *l = state;
    for (guint i = 0; i < l->cells->len; i++) {
        Cell *c = &g_array_index(l->cells, Cell, i);
        if (c->text)
            g_string_free(c->text, TRUE);
    }
    g_array_free(l->cells, TRUE);
}

static bool newer(uint64_t ts, uint32_t origin, const Cell *c)
{
    return ts > c->ts || (ts == c->ts && origin > c->origin);
}

static void set_cell(Cell *c, uint64_t ts, uint32_t origin, bool is_text, int64_t v,
                     const char *text, size_t len)
{
    c->ts = ts;
    c->origin = origin;
    c->set = true;
    c->v = v;
    if (is_text) {
        if (!c->text)
            c->text = g_string_new(NULL);
        g_string_truncate(c->text, 0);
        g_string_append_len(c->text, text, (gssize)len);
    }
}

static void put_cell(FlWriter *w, uint32_t key, const Cell *c)
{
    fl_put_u32(w, key);
    fl_put_u64(w, c->ts);
    fl_put_u32(w, c->origin);
    fl_put_u8(w, c->text != NULL);
    fl_put_i64(w, c->v);
    fl_put_bytes(w, c->text ? c->text->str : "", c->text ? c->text->len : 0);
}

static void broadcast_update(FlNode *n, uint32_t key, const Cell *c)
{
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MSG_UPDATE);
    put_cell(&w, key, c);
    fl_broadcast(n, w.data, w.len);
    fl_writer_deinit(&w);
}

/* A cell read from a message; false if malformed. */
typedef struct CellMsg {
    uint32_t key, origin;
    uint64_t ts;
    bool is_text;
    int64_t v;
    const uint8_t *text;
    size_t tlen;
} CellMsg;

static bool get_cell(FlNode *n, FlReader *r, CellMsg *m)
{
    m->key = fl_get_u32(r);
    m->ts = fl_get_u64(r);
    m->origin = fl_get_u32(r);
    m->is_text = fl_get_u8(r) != 0;
    m->v = fl_get_i64(r);
    m->text = fl_get_bytes(r, &m->tlen);
    return fl_reader_ok(r) && m->key < FL_MAX_KEYS && m->origin < fl_nodes(n);
}

/* The rule of last-writer-wins: keep the update with the higher stamp. */
static void merge(Lww *l, const CellMsg *m)
{
    Cell *c = cell(l, m->key);
    if (newer(m->ts, m->origin, c))
        set_cell(c, m->ts, m->origin, m->is_text, m->v, (const char *)m->text, m->tlen);
}

static void on_update(FlNode *n, Lww *l, FlReader *r)
{
    CellMsg m;
    if (get_cell(n, r, &m) && fl_reader_done(r))
        merge(l, &m);
}

/* Anti-entropy: a batch of cells.  Decoded whole before any is merged, so a
 * malformed message changes nothing. */
static void on_digest(FlNode *n, Lww *l, FlReader *r)
{
    uint32_t count = fl_get_u32(r);
    if (count > GOSSIP_MAX_CELLS)
        return;
    CellMsg *cells = g_new(CellMsg, count ? count : 1);
    uint32_t i = 0;
    while (i < count && get_cell(n, r, &cells[i]))
        i++;
    if (i == count && fl_reader_done(r))
        for (i = 0; i < count; i++)
            merge(l, &cells[i]);
    g_free(cells);
}

static void lww_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                           size_t len)
{
    Lww *l = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    switch (fl_get_u8(&r)) {
    case MSG_UPDATE: on_update(n, l, &r); break;
    case MSG_DIGEST: on_digest(n, l, &r); break;
    default: break;   /* not ours: drop */
    }
}

/* Every cell (up to the bound, round robin) to one random peer. */
static void lww_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Lww *l = state;
    if (tag != TIMER_GOSSIP)
        return;
    uint32_t peer = (uint32_t)fl_rng_below(fl_rng(n), fl_nodes(n) - 1);
    if (peer >= fl_self(n))
        peer++;
    uint32_t total = l->cells->len, count = 0;
    for (uint32_t k = 0; k < total; k++)
        count += g_array_index(l->cells, Cell, k).set;
    if (count > l->gossip_cells)
        count = l->gossip_cells;
    if (count) {
        FlWriter w;
        fl_writer_init(&w, NULL, 0);
        fl_put_u8(&w, MSG_DIGEST);
        fl_put_u32(&w, count);
        uint32_t sent = 0, k = 0;
        for (; sent < count && k < total; k++) {
            uint32_t key = (l->next_cell + k) % total;
            const Cell *c = &g_array_index(l->cells, Cell, key);
            if (c->set) {
                put_cell(&w, key, c);
                sent++;
            }
        }
        l->next_cell = (l->next_cell + k) % total;
        fl_send(n, peer, w.data, w.len);
        fl_writer_deinit(&w);
    }
    fl_timer(n, next_round(n, l), TIMER_GOSSIP);
}

/* A local write follows the rule of last-writer-wins too: it is stamped
 * (local clock, self) and the replica keeps the newer of its cell and the
 * write, as it does for a peer's update.  A write whose stamp is older than
 * the cell (this node's clock runs behind the writer of the cell) loses here
 * at once: it is acknowledged all the same, as a real LWW store does, and
 * it vanishes.  It is still sent to every peer, which keeps or drops it by
 * the same rule (one that has not yet seen the newer cell keeps it until
 * the newer cell arrives).  The counter `lww.lost_writes` of metrics.json
 * counts the writes lost at once (not those that lose later, to an update
 * that arrives after them).  Keeping the loser here instead would make this
 * replica serve a value its own merge rule says has lost, until
 * anti-entropy repaired it. */
static void local_write(FlNode *n, Lww *l, uint32_t key, bool is_text, int64_t v,
                        GString *text)
{
    /* The write as a cell; borrows @text (NULL unless is_text). */
    Cell w = { .ts = fl_now(n), .origin = fl_self(n), .set = true, .v = v, .text = text };
    Cell *c = cell(l, key);
    if (newer(w.ts, w.origin, c))
        set_cell(c, w.ts, w.origin, is_text, v, text ? text->str : NULL, text ? text->len : 0);
    else
        fl_metric_add(n, "lww.lost_writes", 1);
    broadcast_update(n, key, &w);
}

/* Every operation answers at once from the local copy.  A write is
 * acknowledged whether or not it wins (local_write); a cas compares with
 * the local copy, and an append extends it, then each writes like a
 * write, so either can be lost as well. */
static void lww_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Lww *l = state;
    const FlOp *op = &req->op;
    const Cell *c = cell(l, op->key);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
    char tok[24];
    size_t tn;
    switch (op->kind) {
    case FL_OP_READ:
        res.has_value = c->set;
        res.value = c->v;
        break;
    case FL_OP_GET:
        res.has_value = true;
        res.text = c->text ? c->text->str : "";
        res.text_len = c->text ? c->text->len : 0;
        break;
    case FL_OP_WRITE:
        local_write(n, l, op->key, false, op->a, NULL);
        break;
    case FL_OP_CAS:
        if (!c->set || c->v != op->a) {
            res.status = FL_RESULT_FAIL;
            break;
        }
        local_write(n, l, op->key, false, op->b, NULL);
        break;
    case FL_OP_PUT:
    case FL_OP_APPEND: {
        tn = fl_kv_token(op->a, tok);
        g_autoptr(GString) v = g_string_new(op->kind == FL_OP_APPEND && c->text ? c->text->str : "");
        g_string_append_len(v, tok, (gssize)tn);
        local_write(n, l, op->key, true, 0, v);
        break;
    }
    default:
        res.status = FL_RESULT_FAIL;
        break;
    }
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_lww = {
    .name = "lww",
    .summary = "every node accepts writes and answers at once; last writer (by local clock) wins; anti-entropy gossip makes replicas converge",
    .params = lww_params,
    .state_size = sizeof(Lww),
    .init = lww_init,
    .destroy = lww_destroy,
    .on_message = lww_on_message,
    .on_timer = lww_on_timer,
    .on_request = lww_on_request,
};
