/* lww: multi-master, last-writer-wins by timestamp.
 *
 * Every node accepts every operation and answers at once from its own copy;
 * updates are stamped with the node's local clock (ties broken by node id)
 * and sent to every other node, which keeps, per key, the update with the
 * highest stamp.  Nothing waits for anyone: always available, and not
 * linearizable, on purpose: concurrent writers overwrite each other, reads
 * are stale, and a node whose clock runs behind loses its writes.  A cas or
 * an append reads the local copy, so both can lose updates.  State is in
 * memory only: a crashed node comes back empty and fills up again from
 * later updates. */
#include "sim/node.h"

#include <string.h>

enum { MSG_UPDATE = 1 };

typedef struct Cell {
    uint64_t ts;
    uint32_t origin;
    bool set;
    int64_t v;
    GString *text;
} Cell;

typedef struct Lww {
    GArray *cells;        /* of Cell, by key */
} Lww;

static Cell *cell(Lww *l, uint32_t key)
{
    if (key >= l->cells->len)
        g_array_set_size(l->cells, key + 1);
    return &g_array_index(l->cells, Cell, key);
}

static void lww_init(FlNode *n, void *state)
{
    Lww *l = state;
    l->cells = g_array_new(FALSE, TRUE, sizeof(Cell));
    fl_role(n, "replica");
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

static void broadcast_update(FlNode *n, uint32_t key, const Cell *c)
{
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MSG_UPDATE);
    fl_put_u32(&w, key);
    fl_put_u64(&w, c->ts);
    fl_put_u32(&w, c->origin);
    fl_put_u8(&w, c->text != NULL);
    fl_put_i64(&w, c->v);
    fl_put_bytes(&w, c->text ? c->text->str : "", c->text ? c->text->len : 0);
    fl_broadcast(n, w.data, w.len);
    fl_writer_deinit(&w);
}

static void lww_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                           size_t len)
{
    Lww *l = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    if (fl_get_u8(&r) != MSG_UPDATE)
        return;
    uint32_t key = fl_get_u32(&r);
    uint64_t ts = fl_get_u64(&r);
    uint32_t origin = fl_get_u32(&r);
    bool is_text = fl_get_u8(&r) != 0;
    int64_t v = fl_get_i64(&r);
    size_t tlen;
    const uint8_t *text = fl_get_bytes(&r, &tlen);
    if (!fl_reader_done(&r) || key >= FL_MAX_KEYS || origin >= fl_nodes(n))
        return;
    Cell *c = cell(l, key);
    if (newer(ts, origin, c))
        set_cell(c, ts, origin, is_text, v, (const char *)text, tlen);
}

static void lww_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Lww *l = state;
    const FlOp *op = &req->op;
    Cell *c = cell(l, op->key);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
    uint64_t ts = fl_now(n);
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
        set_cell(c, ts, fl_self(n), false, op->a, NULL, 0);
        broadcast_update(n, op->key, c);
        break;
    case FL_OP_CAS:
        if (!c->set || c->v != op->a) {
            res.status = FL_RESULT_FAIL;
            break;
        }
        set_cell(c, ts, fl_self(n), false, op->b, NULL, 0);
        broadcast_update(n, op->key, c);
        break;
    case FL_OP_PUT:
    case FL_OP_APPEND: {
        tn = fl_kv_token(op->a, tok);
        g_autoptr(GString) v = g_string_new(op->kind == FL_OP_APPEND && c->text ? c->text->str : "");
        g_string_append_len(v, tok, (gssize)tn);
        set_cell(c, ts, fl_self(n), true, 0, v->str, v->len);
        broadcast_update(n, op->key, c);
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
    .summary = "every node accepts writes and answers at once; last writer (by local clock) wins: not linearizable",
    .state_size = sizeof(Lww),
    .init = lww_init,
    .destroy = lww_destroy,
    .on_message = lww_on_message,
    .on_request = lww_on_request,
};
