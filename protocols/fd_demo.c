/* fd-demo: every node runs a failure detector, and nothing else.
 *
 * The smallest user of sim/fd.h, for the scenarios of 01-failure that
 * compare detectors: each node embeds one FlFd, forwards it every message
 * and timer, and shows what it suspects as its role ("suspects 1,3" or
 * "trusts all"), so a trace reads like the detector's output.  The engine
 * measures the detector (metrics.json "detectors").  Client requests are
 * refused: there is no data here.
 *
 * Its `lie` hook, for the byzantine fault's `lie` behaviour, rewrites a
 * heartbeat's epoch: the heartbeat still parses, but tells the peer that
 * the liar has just restarted. */
#include "sim/fd.h"
#include "sim/node.h"

#include <string.h>

enum { MSG_FD = 0xFD };
enum { TIMER_FD = 100 };

typedef struct FdDemo {
    FlFd fd;
    bool running;
    GString *shown;    /* the role last shown */
} FdDemo;

static const FlParam fd_demo_params[] = {
    FL_FD_PARAMS,
    { NULL },
};

/* The role tells what the detector suspects now. */
static void show(FlNode *n, FdDemo *d)
{
    g_autoptr(GString) s = g_string_new(NULL);
    for (uint32_t i = 0; i < fl_nodes(n); i++)
        if (fl_fd_suspects(&d->fd, i))
            g_string_append_printf(s, "%s%u", s->len ? "," : "suspects ", i);
    if (!s->len)
        g_string_assign(s, "trusts all");
    if (strcmp(s->str, d->shown->str) != 0) {
        g_string_assign(d->shown, s->str);
        fl_role(n, s->str);
    }
}

static void fd_demo_init(FlNode *n, void *state)
{
    FdDemo *d = state;
    FlFdConfig cfg;
    d->shown = g_string_new(NULL);
    fl_fd_config_from_params(n, &cfg, MSG_FD, TIMER_FD);
    d->running = fl_fd_init(&d->fd, n, &cfg) == 0;
    if (d->running)
        show(n, d);
}

static void fd_demo_destroy(FlNode *n, void *state)
{
    FdDemo *d = state;
    fl_fd_deinit(&d->fd);
    g_string_free(d->shown, TRUE);
}

static void fd_demo_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                               size_t len)
{
    FdDemo *d = state;
    if (d->running && fl_fd_on_message(&d->fd, n, from, msg, len))
        show(n, d);
    /* Anything else is not ours: drop it. */
}

static void fd_demo_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    FdDemo *d = state;
    if (d->running && fl_fd_on_timer(&d->fd, n, tag))
        show(n, d);
}

static void fd_demo_on_request(FlNode *n, void *state, const FlRequest *req)
{
    fl_reply_fail(n, req);
}

/* A heartbeat is [0xFD][epoch u64][seq u64]: a new epoch looks like a
 * restart, which resets what phi-accrual learnt about this node. */
static size_t fd_demo_lie(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len,
                          size_t cap)
{
    if (len != 17 || msg[0] != MSG_FD)
        return 0;
    uint64_t epoch = fl_random(n) | 1;
    memcpy(msg + 1, &epoch, sizeof epoch);
    return len;
}

const FlProtocol fl_proto_fd_demo = {
    .name = "fd-demo",
    .summary = "every node runs a failure detector (param detector) and shows its suspicions as its role",
    .params = fd_demo_params,
    .state_size = sizeof(FdDemo),
    .init = fd_demo_init,
    .destroy = fd_demo_destroy,
    .on_message = fd_demo_on_message,
    .on_timer = fd_demo_on_timer,
    .on_request = fd_demo_on_request,
    .lie = fd_demo_lie,
};
