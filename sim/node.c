/* The node runtime: what fl_send, fl_timer, fl_disk_* and friends do for a
 * node, and how the world starts, stops and feeds it. */
#include "sim/world_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

FlTime fl_node_local(const FlNode *n, FlTime global)
{
    int64_t t = (int64_t)global + (int64_t)((double)global * n->drift) + n->clock_offset;
    return t < 0 ? 0 : (FlTime)t;
}

void fl_node_start(FlWorld *w, FlNode *n, bool recover)
{
    n->state = g_malloc0(n->proto->state_size ? n->proto->state_size : 1);
    n->up = true;
    n->paused = false;
    n->role[0] = '\0';
    n->crash_pending = false;
    n->lost_effects = 0;
    FlNode *prev = fl_node_enter(w, n);
    if (recover && n->proto->recover)
        n->proto->recover(n, n->state);
    else
        n->proto->init(n, n->state);
    fl_node_leave(w, n, prev);
}

FlNode *fl_node_enter(FlWorld *w, FlNode *n)
{
    FlNode *prev = w->running;
    w->running = n;
    w->handler_calls++;
    return prev;
}

/* A trigger asked for a crash during the handler (world.c note 4): it
 * happens now that the handler has returned. */
void fl_node_leave(FlWorld *w, FlNode *n, FlNode *prev)
{
    w->running = prev;
    if (!n->crash_pending || !n->up)
        return;
    char line[96];
    g_snprintf(line, sizeof line, "crashed at handler return (trigger): %u later effect%s lost",
               n->lost_effects, n->lost_effects == 1 ? "" : "s");
    fl_trace(&w->trace, FL_TR_LOG, w->now, n->id, 0, 0, 0, line);
    fl_world_crash(w, n->id);
}

/* True when the node is crashing at the end of this handler: the effect
 * the caller was about to make is lost with it. */
static inline bool lost(FlNode *n)
{
    if (G_LIKELY(!n->crash_pending))
        return false;
    n->lost_effects++;
    return true;
}

void fl_node_stop(FlWorld *w, FlNode *n)
{
    if (n->proto->destroy)
        n->proto->destroy(n, n->state);
    g_free(n->state);
    n->state = NULL;
    n->up = false;
    n->incarnation++;
    n->role[0] = '\0';
}

static void request(FlWorld *w, FlNode *n, uint32_t from, const uint8_t *msg, size_t len)
{
    FlReader r;
    fl_reader_init(&r, msg, len);
    FlRequest req;
    const uint8_t *session = NULL;
    size_t session_len = 0;
    bool ok = fl_get_u8(&r) == CMSG_REQUEST && fl_request_decode(&r, &req);
    if (ok && !fl_reader_done(&r))   /* a session token follows (FlResult.session) */
        session = fl_get_bytes(&r, &session_len);
    if (!ok || !fl_reader_done(&r) || req.client != from || session_len > FL_MAX_SESSION) {
        fl_trace(&w->trace, FL_TR_LOG, w->now, n->id, from, 0, 0, "dropped a malformed request");
        return;
    }
    if (!n->proto->on_request) {
        fl_reply_fail(n, &req);
        return;
    }
    n->session_req = req.id;
    n->session = session;
    n->session_len = session_len;
    n->proto->on_request(n, n->state, &req);
    n->session = NULL;
    n->session_len = 0;
}

void fl_node_deliver(FlWorld *w, FlNode *n, uint32_t from, const uint8_t *msg, size_t len)
{
    FlNode *prev = fl_node_enter(w, n);
    if (from >= w->nnodes)
        request(w, n, from, msg, len);
    else
        n->proto->on_message(n, n->state, from, msg, len);
    fl_node_leave(w, n, prev);
}

void fl_node_timer(FlWorld *w, FlNode *n, FlEventId id, uint64_t tag)
{
    fl_trace(&w->trace, FL_TR_TIMER, w->now, n->id, 0, tag, 0, NULL);
    FlNode *prev = fl_node_enter(w, n);
    if (n->proto->on_timer)
        n->proto->on_timer(n, n->state, id, tag);
    fl_node_leave(w, n, prev);
}

/* ---- The API ---------------------------------------------------------- */

uint32_t fl_self(const FlNode *n) { return n->id; }
uint32_t fl_nodes(const FlNode *n) { return n->w->nnodes; }
uint64_t fl_run_seed(const FlNode *n) { return n->w->sc->seed; }
FlDuration fl_net_bound(const FlNode *n) { return fl_net_bound_at(n->w->net, n->w->now); }
FlTime fl_now(const FlNode *n)
{
    /* Explore mode: each node's own clock (choice.c note 3). */
    return fl_node_local(n, G_UNLIKELY(n->w->ex != NULL) ? n->w->ex->clock[n->id] : n->w->now);
}
uint64_t fl_random(FlNode *n) { return fl_rng_next(&n->rng); }
FlRng *fl_rng(FlNode *n) { return &n->rng; }

FlDuration fl_random_duration(FlNode *n, FlDuration lo, FlDuration hi)
{
    return hi <= lo ? lo : fl_rng_range(&n->rng, lo, hi);
}

static const FlParamValue *param(const FlNode *n, const char *name, FlParamType *type)
{
    const FlParam *ps = n->proto->params;
    for (size_t i = 0; ps && ps[i].name; i++) {
        if (strcmp(ps[i].name, name) == 0) {
            *type = ps[i].type;
            return &n->w->sc->params[i];
        }
    }
    g_error("protocol %s asked for undeclared parameter %s", n->proto->name, name);
}

int64_t fl_param_int(const FlNode *n, const char *name)
{
    FlParamType t;
    const FlParamValue *v = param(n, name, &t);
    g_assert(t == FL_PARAM_INT);
    return v->i;
}

double fl_param_double(const FlNode *n, const char *name)
{
    FlParamType t;
    const FlParamValue *v = param(n, name, &t);
    g_assert(t == FL_PARAM_DOUBLE);
    return v->d;
}

bool fl_param_bool(const FlNode *n, const char *name)
{
    FlParamType t;
    const FlParamValue *v = param(n, name, &t);
    g_assert(t == FL_PARAM_BOOL);
    return v->i != 0;
}

FlDuration fl_param_duration(const FlNode *n, const char *name)
{
    FlParamType t;
    const FlParamValue *v = param(n, name, &t);
    g_assert(t == FL_PARAM_DURATION);
    return v->i;
}

void fl_param_range(const FlNode *n, const char *name, FlDuration *lo, FlDuration *hi)
{
    FlParamType t;
    const FlParamValue *v = param(n, name, &t);
    g_assert(t == FL_PARAM_RANGE);
    *lo = v->i;
    *hi = v->hi;
}

const char *fl_param_enum(const FlNode *n, const char *name)
{
    FlParamType t;
    const FlParamValue *v = param(n, name, &t);
    g_assert(t == FL_PARAM_ENUM);
    return v->s;
}

/* A Byzantine fault's hook rewrites or withholds the message; what it
 * withholds is traced as sent and dropped, so the trace shows the lie. */
static void send_hooked(FlWorld *w, FlNode *n, uint32_t to, const void *msg, size_t len)
{
    GByteArray *b = w->hook_buf;
    g_byte_array_set_size(b, 0);
    g_byte_array_append(b, msg, (guint)len);
    if (!n->send_hook(w, n->send_hook_ctx, n->id, to, b)) {
        uint64_t h = fl_trace_bytes_hash(msg, len);
        w->stats.sent++;
        w->stats.dropped++;
        fl_trace(&w->trace, FL_TR_SEND, w->now, n->id, to, len, h, NULL);
        fl_trace(&w->trace, FL_TR_DROP, w->now, to, n->id, len, h, "byzantine");
        return;
    }
    if (b->len > FL_MAX_MESSAGE)
        g_byte_array_set_size(b, FL_MAX_MESSAGE);
    fl_world_send(w, n->id, to, b->data, b->len);
}

/* Tells the trigger hooks a message is about to leave, then sends it
 * unless one of them crashed the node (world.c note 4), then tells them it
 * left. */
static void send_with_events(FlWorld *w, FlNode *n, uint32_t to, const void *msg, size_t len)
{
    FlProtoEvent ev = {
        .kind = FL_PEV_SEND, .node = n->id, .peer = to, .data = msg, .len = len,
        .name = n->proto->msg_kind ? n->proto->msg_kind(msg, len) : NULL,
        .before = true, .handler = w->handler_calls,
    };
    fl_world_proto_event(w, &ev);
    if (lost(n))
        return;
    if (n->send_hook)
        send_hooked(w, n, to, msg, len);
    else
        fl_world_send(w, n->id, to, msg, len);
    ev.before = false;
    fl_world_proto_event(w, &ev);
}

void fl_send(FlNode *n, uint32_t to, const void *msg, size_t len)
{
    FlWorld *w = n->w;
    g_assert(to < w->nnodes);
    if (lost(n))
        return;
    if (len > FL_MAX_MESSAGE) {
        fl_log(n, "refused to send %zu bytes (limit %u)", len, FL_MAX_MESSAGE);
        return;
    }
    if (G_UNLIKELY(w->event_hooks != NULL))
        send_with_events(w, n, to, msg, len);
    else if (n->send_hook)
        send_hooked(w, n, to, msg, len);
    else
        fl_world_send(w, n->id, to, msg, len);
}

void fl_broadcast(FlNode *n, const void *msg, size_t len)
{
    for (uint32_t i = 0; i < n->w->nnodes; i++)
        if (i != n->id)
            fl_send(n, i, msg, len);
}

void fl_reply(FlNode *n, const FlRequest *req, const FlResult *res)
{
    FlWorld *w = n->w;
    if (req->client < w->nnodes || req->client >= w->nnodes + w->nclients)
        return;   /* not a client: a forged or corrupted request */
    if (lost(n))
        return;
    uint8_t buf[128];
    FlWriter wr;
    fl_writer_init(&wr, buf, sizeof buf);
    fl_put_u64(&wr, req->id);
    fl_put_u8(&wr, (uint8_t)res->status);
    fl_put_u32(&wr, res->hint);
    fl_put_u8(&wr, res->has_value);
    fl_put_i64(&wr, res->value);
    fl_put_bytes(&wr, res->text ? res->text : "", res->text ? res->text_len : 0);
    if (res->session_len > FL_MAX_SESSION)
        fl_log(n, "refused a session token of %zu bytes (limit %u)", res->session_len, FL_MAX_SESSION);
    else if (res->session_len > 0)
        fl_put_bytes(&wr, res->session, res->session_len);
    fl_world_send(w, n->id, req->client, wr.data, wr.len);
    fl_writer_deinit(&wr);
    /* An acknowledgement is a promise to the client: the trigger hooks may
     * crash the node right after making it (faults/trigger.c note 2).  A
     * redirect or a failure promises nothing. */
    if (res->status == FL_RESULT_OK) {
        FlProtoEvent ev = { .kind = FL_PEV_REPLY, .node = n->id, .peer = req->client,
                            .handler = w->handler_calls };
        fl_world_proto_event(w, &ev);
    }
}

const uint8_t *fl_request_session(FlNode *n, const FlRequest *req, size_t *len)
{
    bool ours = n->session && n->session_req == req->id;
    *len = ours ? n->session_len : 0;
    return ours ? n->session : NULL;
}

void fl_reply_redirect(FlNode *n, const FlRequest *req, uint32_t hint)
{
    FlResult res = { .status = FL_RESULT_REDIRECT, .hint = hint };
    fl_reply(n, req, &res);
}

void fl_reply_fail(FlNode *n, const FlRequest *req)
{
    FlResult res = { .status = FL_RESULT_FAIL, .hint = FL_NO_HINT };
    fl_reply(n, req, &res);
}

FlTimerId fl_timer(FlNode *n, FlDuration after, uint64_t tag)
{
    FlWorld *w = n->w;
    if (after < 0)
        after = 0;
    /* @after is local time; the global delay depends on the clock's rate. */
    double rate = 1.0 + n->drift;
    FlDuration global = rate > 0 ? (FlDuration)ceil((double)after / rate) : after;
    FlEvent ev = { .kind = EV_TIMER, .node = n->id, .a = tag, .b = n->incarnation };
    if (w->stopping || lost(n))
        return 0;
    if (G_UNLIKELY(w->ex != NULL))
        return fl_explore_timer(w, n->id, w->ex->clock[n->id] + (FlTime)global, tag);
    FlEventId id = fl_sched_push(w->sched, w->now + (FlTime)global, &ev);
    if (id == 0)
        fl_world_queue_full(w);   /* the run ends at its next event */
    return id;
}

void fl_timer_cancel(FlNode *n, FlTimerId t)
{
    if (G_UNLIKELY(n->w->ex != NULL)) {
        fl_explore_timer_cancel(n->w, t);
        return;
    }
    fl_sched_cancel(n->w->sched, t);
}

/* Tells the trigger hooks of a write that is not yet durable. */
static void write_event(FlNode *n, const char *file, const void *data, size_t len, bool append)
{
    FlProtoEvent ev = { .kind = FL_PEV_DISK_WRITE, .node = n->id, .name = file,
                        .data = data, .len = len, .append = append,
                        .handler = n->w->handler_calls };
    fl_world_proto_event(n->w, &ev);
}

void fl_disk_write(FlNode *n, const char *file, const void *data, size_t len)
{
    if (lost(n))
        return;
    fl_disk_do_write(n->disk, file, data, len);
    if (G_UNLIKELY(n->w->event_hooks != NULL))
        write_event(n, file, data, len, false);
}

void fl_disk_append(FlNode *n, const char *file, const void *data, size_t len)
{
    if (lost(n))
        return;
    fl_disk_do_append(n->disk, file, data, len);
    if (G_UNLIKELY(n->w->event_hooks != NULL))
        write_event(n, file, data, len, true);
}

void fl_disk_truncate(FlNode *n, const char *file, size_t len)
{
    if (lost(n))
        return;
    fl_disk_do_truncate(n->disk, file, len);
}

void fl_disk_sync(FlNode *n, const char *file)
{
    if (lost(n))
        return;
    uint64_t before = fl_disk_synced_bytes(n->disk);
    fl_disk_do_sync(n->disk, file);
    fl_world_disk_sync(n->w, n->id, fl_disk_synced_bytes(n->disk) - before);
}

size_t fl_disk_read(FlNode *n, const char *file, void *buf, size_t cap)
{
    size_t len;
    const uint8_t *p = fl_disk_do_view(n->disk, file, &len);
    if (p && buf)
        memcpy(buf, p, len < cap ? len : cap);
    return len;
}

const uint8_t *fl_disk_view(FlNode *n, const char *file, size_t *len)
{
    return fl_disk_do_view(n->disk, file, len);
}

void fl_role(FlNode *n, const char *role)
{
    FlWorld *w = n->w;
    if (strncmp(n->role, role, sizeof n->role - 1) == 0 && n->role[0])
        return;
    if (lost(n))
        return;
    g_strlcpy(n->role, role, sizeof n->role);
    n->role_seq = ++w->role_changes;   /* for the "last-role-change" selector */
    fl_trace(&w->trace, FL_TR_ROLE, w->now, n->id, 0, 0, 0, n->role);
    fl_world_sla_signal(w);
    if (strcmp(role, "leader") == 0 || strcmp(role, "primary") == 0)
        fl_world_set_leader(w, n->id);
    else if (w->leader == n->id)
        fl_world_set_leader(w, FL_NO_HINT);
    if (G_UNLIKELY(w->event_hooks != NULL)) {
        FlProtoEvent ev = { .kind = FL_PEV_ROLE, .node = n->id, .name = n->role,
                            .handler = w->handler_calls };
        fl_world_proto_event(w, &ev);
    }
}

void fl_log(FlNode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fl_trace(&n->w->trace, FL_TR_LOG, n->w->now, n->id, 0, 0, 0, s);
}

void fl_log_text(FlNode *n, const char *text)
{
    fl_trace(&n->w->trace, FL_TR_LOG, n->w->now, n->id, 0, 0, 0, text);
}

double *fl_metric(FlNode *n, const char *name)
{
    double *cur = g_tree_lookup(n->w->counters, name);
    if (!cur) {
        cur = g_new0(double, 1);
        g_tree_insert(n->w->counters, g_strdup(name), cur);
    }
    return cur;
}

void fl_metric_add(FlNode *n, const char *name, double v)
{
    *fl_metric(n, name) += v;
}

void fl_clock_report(FlNode *n, const char *prefix, FlTime believed)
{
    FlWorld *w = n->w;
    int64_t err = (int64_t)believed - (int64_t)w->now;
    n->sync_reported = true;
    n->sync_error = err;
    g_autofree char *emax = g_strdup_printf("%s.error_max_us", prefix);
    g_autofree char *spread = g_strdup_printf("%s.spread_us", prefix);
    double *c = fl_metric(n, emax);
    double abs_us = (double)(err < 0 ? -err : err) / 1e3;
    if (abs_us > *c)
        *c = abs_us;
    int64_t lo = err, hi = err;
    for (uint32_t i = 0; i < w->nnodes; i++)
        if (w->nodes[i].sync_reported) {
            lo = MIN(lo, w->nodes[i].sync_error);
            hi = MAX(hi, w->nodes[i].sync_error);
        }
    *fl_metric(n, spread) = (double)(hi - lo) / 1e3;
    g_autofree char *text = g_strdup_printf("clock error %+.3fms", (double)err / 1e6);
    fl_trace(&w->trace, FL_TR_LOG, w->now, n->id, 0, 0, 0, text);
}

/* ---- BUGGIFY ------------------------------------------------------------ */

/* Share of seeds on which one site is enabled, and how often an enabled
 * site fires by default (FoundationDB enables a section on 25% of runs;
 * firing less often than its 25% keeps a site called on every message from
 * turning a rare path into the common one). */
#define BUGGIFY_ENABLED_ONE_IN 4
#define BUGGIFY_FIRE_P 0.05

/* Whether @site is enabled in this run: a function of the seed and the
 * site's name only, never of the order in which sites are first asked. */
static bool buggify_enabled(const FlWorld *w, const char *site)
{
    uint64_t h = fl_mix64(w->sc->seed * 0x9e3779b97f4a7c15ULL ^ fl_hash_str(site));
    return h % BUGGIFY_ENABLED_ONE_IN == 0;
}

bool fl_buggify_p(FlNode *n, const char *site, double p)
{
    FlWorld *w = n->w;
    if (!w->buggify || !buggify_enabled(w, site) || !fl_rng_chance(&w->buggify_rng, p))
        return false;
    g_autofree char *line = g_strconcat("buggify ", site, NULL);
    fl_trace(&w->trace, FL_TR_LOG, w->now, n->id, 0, 0, 0, line);
    fl_metric_add(n, "buggify.fired", 1);
    return true;
}

bool fl_buggify(FlNode *n, const char *site)
{
    return fl_buggify_p(n, site, BUGGIFY_FIRE_P);
}
