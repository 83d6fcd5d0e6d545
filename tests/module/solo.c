/* solo: an out-of-tree protocol module, built against the installed
 * headers only (<faultline/node.h>), as a user's own protocol would be.
 *
 * One server (node 0) holds every register; the others redirect to it.
 * Each update is encoded with the node API's codec, appended to a log on
 * the node's disk and synced before the reply, so a restart replays every
 * acknowledged write.  It is the built-in `single` protocol, rewritten
 * without any in-tree helper. */
#include <faultline/node.h>

typedef struct Solo {
    FlStore *store;
} Solo;

static void solo_init(FlNode *n, void *state)
{
    Solo *s = state;
    s->store = fl_store_new();
    fl_role(n, fl_self(n) == 0 ? "leader" : "follower");
}

/* The log is a sequence of encoded requests; a torn or corrupt tail (a
 * crash between append and sync) ends the replay: what follows is not
 * trusted. */
static void solo_recover(FlNode *n, void *state)
{
    Solo *s = state;
    solo_init(n, state);
    size_t len;
    const uint8_t *p = fl_disk_view(n, "log", &len);
    FlReader r;
    fl_reader_init(&r, p, len);
    FlRequest req;
    FlResult res;
    while (fl_reader_left(&r) > 0 && fl_request_decode(&r, &req))
        fl_store_apply_request(s->store, &req, &res);
}

static void solo_destroy(FlNode *n, void *state)
{
    Solo *s = state;
    fl_store_free(s->store);
}

static void solo_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    /* Servers never talk to each other in this protocol. */
}

static void solo_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Solo *s = state;
    if (fl_self(n) != 0) {
        fl_reply_redirect(n, req, 0);
        return;
    }
    FlResult res;
    if (fl_op_is_read(req->op.kind)) {
        fl_store_read(s->store, &req->op, &res);
    } else {
        /* Durable before it is visible: log, sync, then apply and answer. */
        uint8_t buf[64];
        FlWriter w;
        fl_writer_init(&w, buf, sizeof buf);
        fl_request_encode(&w, req);
        fl_disk_append(n, "log", w.data, w.len);
        fl_disk_sync(n, "log");
        fl_writer_deinit(&w);
        if (!fl_store_apply_request(s->store, req, &res))
            return;
    }
    fl_reply(n, req, &res);
}

static const FlProtocol solo = {
    .name = "solo",
    .summary = "out-of-tree example: node 0 serves everything, logging writes to disk",
    .state_size = sizeof(Solo),
    .init = solo_init,
    .recover = solo_recover,
    .destroy = solo_destroy,
    .on_message = solo_on_message,
    .on_request = solo_on_request,
};

FL_MODULE(&solo);
