/* single: one server holds the data; every other node redirects to it.
 *
 * The baseline of every comparison: linearizable by construction, and
 * unavailable whenever node 0 is down.  Each update is appended to a log on
 * disk and synced before the reply, so a restart loses nothing that was
 * acknowledged. */
#include "protocols/oplog.h"
#include "sim/node.h"

typedef struct Single {
    FlStore *store;
} Single;

static void single_init(FlNode *n, void *state)
{
    Single *s = state;
    s->store = fl_store_new();
    fl_role(n, fl_self(n) == 0 ? "leader" : "follower");
}

static void replay_one(void *ctx, const FlRequest *req)
{
    FlResult res;
    fl_store_apply_request(ctx, req, &res);
}

static void single_recover(FlNode *n, void *state)
{
    Single *s = state;
    single_init(n, state);
    fl_oplog_replay(n, "log", replay_one, s->store);
}

static void single_destroy(FlNode *n, void *state)
{
    Single *s = state;
    fl_store_free(s->store);
}

static void single_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                              size_t len)
{
    /* Servers never talk to each other in this protocol. */
}

static void single_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Single *s = state;
    if (fl_self(n) != 0) {
        fl_reply_redirect(n, req, 0);
        return;
    }
    FlResult res;
    if (fl_op_is_read(req->op.kind)) {
        fl_store_read(s->store, &req->op, &res);
    } else {
        /* Durable before it is visible: log, sync, then apply and answer. */
        fl_oplog_append(n, "log", req);
        if (!fl_store_apply_request(s->store, req, &res))
            return;
    }
    fl_reply(n, req, &res);
}

const FlProtocol fl_proto_single = {
    .name = "single",
    .summary = "one server (node 0) serves everything: linearizable by construction, down when it is",
    .state_size = sizeof(Single),
    .init = single_init,
    .recover = single_recover,
    .destroy = single_destroy,
    .on_message = single_on_message,
    .on_request = single_on_request,
};
