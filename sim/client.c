/* Clients: the processes that run the workload and record the history.
 *
 * A client is a network endpoint after the servers.  It runs one operation
 * at a time: it records the invocation, sends the request through the
 * simulated network (so faults hit clients too), follows redirects, and
 * records ok or fail when the answer comes, or info when its timeout fires
 * first.  After an info it continues as a new process, as Jepsen's clients
 * do, because the old operation may still take effect; every line also
 * names the client itself ("client"), the session that carries on across
 * that change, which is what the session guarantees are about (Terry et
 * al.: a client that moves to another server must still see its writes).
 *
 * Operations arrive open-loop: each client's arrivals are a Poisson process
 * whose rates add up to the scenario's `rate`.  An operation that arrives
 * while the previous one is still running starts when that one ends, so a
 * cluster that keeps up sees the rate asked for whatever its latency, and a
 * slow one a queue (a closed loop with think times would instead give
 * clients / (think + latency), well under the rate).
 *
 * Coordinated omission (Gil Tene, "How NOT to measure latency"; wrk2): the
 * invocation in the history is when the request is sent, which is what the
 * checkers need; but measured from there, an operation that queued behind
 * a stalled one looks fast, and an election shows as a gap in the latency
 * plot instead of the stall it is.  So each workload invocation also
 * records its intended arrival ("arrival"), and latency figures count
 * from it: latency = queueing (arrival to invocation) + service
 * (invocation to completion).
 *
 * Values are unique: every write, cas target, put and append uses a number
 * drawn from one counter, which is what lets checkers tell writes apart.
 *
 * A store may hand a client a session token with an ok answer
 * (FlResult.session); the client keeps the last one and sends it with
 * every later request of its session, whichever node it goes to, as a
 * driver does with Cosmos DB's session tokens or COPS's client context. */
#include "sim/world_impl.h"
#include "sim/series.h"
#include "sim/fmt.h"

#include <inttypes.h>
#include <string.h>


static void clear_answers(Client *cl);

static void schedule(FlWorld *w, uint32_t c, FlTime at, uint64_t what, uint64_t req)
{
    FlEvent ev = { .kind = EV_CLIENT, .node = c, .a = what, .b = req };
    if (fl_sched_push(w->sched, at, &ev) == 0)
        fl_world_queue_full(w);
    if (what == CLIENT_TIMEOUT)
        w->clients[c].timer_at = at;
}

/* A client keeps at most one timeout event in the queue.  Cancelling one per
 * operation would leave rate x timeout dead events in the queue (200 at 200
 * ops/s and 1s), deepening every push and pop; instead the event stays, and
 * when it fires before the current operation's deadline it moves there. */
static void arm_timeout(FlWorld *w, uint32_t c)
{
    Client *cl = &w->clients[c];
    if (w->ex)
        return;   /* explore mode: clients wait as long as the schedule goes on */
    if (cl->timer_at == FL_TIME_NEVER || cl->timer_at > cl->deadline)
        schedule(w, c, cl->deadline, CLIENT_TIMEOUT, 0);
}

static FlDuration think(FlWorld *w, Client *cl)
{
    const FlWorkloadSpec *wl = &w->sc->workload;
    double mean_ns = 1e9 * (double)w->nclients / wl->rate;
    return (FlDuration)fl_rng_exp(&cl->rng, mean_ns);
}

void fl_clients_init(FlWorld *w)
{
    const FlWorkloadSpec *wl = &w->sc->workload;
    if (w->nclients == 0)
        return;
    w->clients = g_new0(Client, w->nclients);
    w->gen.keys = wl->keys;
    w->gen.recent = g_new0(int64_t, (size_t)wl->keys * FL_RECENT);
    w->final_at = wl->final_reads ? (FlTime)(wl->until + wl->settle) : FL_TIME_NEVER;
    for (uint32_t i = 0; i < w->nclients; i++) {
        Client *cl = &w->clients[i];
        cl->addr = w->nnodes + i;
        cl->process = i;
        cl->leader_guess = FL_NO_HINT;
        cl->final_next = i;
        cl->timer_at = FL_TIME_NEVER;
        char name[32];
        g_snprintf(name, sizeof name, "client/%u", i);
        fl_rng_init(&cl->rng, w->sc->seed, name);
        if (w->ex)
            continue;   /* explore mode: invocations are choices (choice.c) */
        cl->arrival = (FlTime)wl->start + (FlTime)think(w, cl);
        schedule(w, i, cl->arrival, CLIENT_NEXT, 0);
    }
}

void fl_clients_free(FlWorld *w)
{
    for (uint32_t i = 0; w->clients && i < w->nclients; i++) {
        clear_answers(&w->clients[i]);
        if (w->clients[i].answers)
            g_array_free(w->clients[i].answers, TRUE);
        if (w->clients[i].session)
            g_byte_array_unref(w->clients[i].session);
    }
    g_free(w->clients);
    g_free(w->gen.recent);
    w->clients = NULL;
    w->gen.recent = NULL;
}

/* Appends the literal @lit (a string constant) to @p. */
#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

static char *put_str(char *p, const char *str)
{
    size_t n = strlen(str);
    memcpy(p, str, n);
    return p + n;
}

/* The history's names of event types. */
static const char *const type_names[] = {
    [FL_EVENT_INVOKE] = "invoke", [FL_EVENT_OK] = "ok",
    [FL_EVENT_FAIL] = "fail", [FL_EVENT_INFO] = "info",
};

/* One history line: built in a local buffer and appended at once (no
 * printf: this runs for every client event of every seed), byte for byte
 * what
 *   {"process":%PRIu64,"client":%u,"type":"%s","f":"%s","key":%u,"value":VALUE,
 *    "time":%PRIu64[,"arrival":%PRIu64][,"node":%u][,"final":true]}\n
 * gives.  Its entry in the history's index (check.h, FlHistoryEvent) says
 * what the line holds, for the checker. */
static void record(FlWorld *w, Client *cl, FlEventType type, uint32_t node,
                   const FlResult *res)
{
    if (!w->record_history)
        return;
    GString *s = w->history;
    const char *f = fl_op_name(cl->req.op.kind);
    g_assert(strlen(f) < 16);
    g_assert(cl->process <= G_MAXINT64 && w->now <= G_MAXINT64);
    FlHistoryEvent ev = {
        .process = (gint64)cl->process, .key = cl->req.op.key, .time = (gint64)w->now,
        .offset = s->len, .line = w->history_index->len + 1, .type = (guint8)type,
        .client = (gint64)(cl - w->clients),
        .flags = FL_EVENT_HAS_KEY | FL_EVENT_HAS_TIME | FL_EVENT_HAS_CLIENT,
        .f_len = (guint16)strlen(f),
    };
    char head[160], *p = head;
    PUT_LIT(p, "{\"process\":");
    p += fl_fmt_u64(p, cl->process);
    PUT_LIT(p, ",\"client\":");
    p += fl_fmt_u64(p, (uint64_t)ev.client);
    PUT_LIT(p, ",\"type\":\"");
    p = put_str(p, type_names[type]);
    PUT_LIT(p, "\",\"f\":\"");
    ev.f_at = (guint32)(p - head);
    p = put_str(p, f);
    PUT_LIT(p, "\",\"key\":");
    p += fl_fmt_u64(p, cl->req.op.key);
    PUT_LIT(p, ",\"value\":");
    ev.value_at = (guint32)(p - head);
    g_string_append_len(s, head, p - head);
    w->sc->workload.model->value(s, &cl->req.op, res);
    ev.value_len = (guint32)(s->len - ev.offset - ev.value_at);
    char tail[96];
    p = tail;
    PUT_LIT(p, ",\"time\":");
    p += fl_fmt_u64(p, w->now);
    /* The intended arrival (note on coordinated omission above): only on
     * workload invocations, which have one; checkers ignore the field. */
    if (type == FL_EVENT_INVOKE && !(cl->req.op.flags & FL_OP_F_LOCAL) && !w->ex) {
        PUT_LIT(p, ",\"arrival\":");
        p += fl_fmt_u64(p, cl->arrival);
    }
    if (node != FL_NO_HINT) {
        PUT_LIT(p, ",\"node\":");
        p += fl_fmt_u64(p, node);
    }
    if (cl->req.op.flags & FL_OP_F_LOCAL) {
        PUT_LIT(p, ",\"final\":true");
        ev.flags |= FL_EVENT_FINAL;
    }
    PUT_LIT(p, "}\n");
    g_string_append_len(s, tail, p - tail);
    ev.len = (guint32)(s->len - ev.offset);
    g_array_append_val(w->history_index, ev);
}

static uint8_t pick_kind(FlWorld *w, Client *cl)
{
    const double *mix = w->sc->workload.mix;
    const FlWorkloadOp *ops = w->sc->workload.model->ops;
    double total = 0;
    for (const FlWorkloadOp *o = ops; o->name; o++)
        total += mix[o->kind];
    double x = fl_rng_double(&cl->rng) * total;
    uint8_t last = 0;
    for (const FlWorkloadOp *o = ops; o->name; o++) {
        if (mix[o->kind] <= 0)
            continue;
        if (x < mix[o->kind])
            return o->kind;
        x -= mix[o->kind];
        last = o->kind;
    }
    return last;   /* rounding: the last op with a weight */
}

static void make_op(FlWorld *w, Client *cl, FlOp *op)
{
    memset(op, 0, sizeof *op);
    op->kind = pick_kind(w, cl);
    op->key = (uint32_t)fl_rng_below(&cl->rng, w->sc->workload.keys);
    w->sc->workload.model->make(&w->gen, &cl->rng, op);
}

static void clear_answers(Client *cl)
{
    if (!cl->answers)
        return;
    for (guint i = 0; i < cl->answers->len; i++)
        g_free(g_array_index(cl->answers, Answer, i).text);
    g_array_set_size(cl->answers, 0);
}

static void send_request(FlWorld *w, uint32_t c)
{
    Client *cl = &w->clients[c];
    uint8_t buf[64];
    FlWriter wr;
    fl_writer_init(&wr, buf, sizeof buf);
    fl_put_u8(&wr, CMSG_REQUEST);
    fl_request_encode(&wr, &cl->req);
    if (cl->session)
        fl_put_bytes(&wr, cl->session->data, cl->session->len);
    fl_trace(&w->trace, FL_TR_INVOKE, w->now, cl->addr, cl->target, cl->req.id, 0, NULL);
    if (w->sc->protocol->client_mode == FL_CLIENT_ONE) {
        fl_world_send(w, cl->addr, cl->target, wr.data, wr.len);
    } else {
        for (uint32_t i = 0; i < w->nnodes; i++)
            fl_world_send(w, cl->addr, i, wr.data, wr.len);
    }
    fl_writer_deinit(&wr);
}

static uint32_t random_node(FlWorld *w, Client *cl)
{
    return (uint32_t)fl_rng_below(&cl->rng, w->nnodes);
}

/* When the current operation's latency counts from: its intended arrival,
 * except for local reads and in explore mode (the same rule as
 * fl_client_deliver's latency). */
static FlTime op_from(const FlWorld *w, const Client *cl)
{
    return w->ex || (cl->req.op.flags & FL_OP_F_LOCAL) ? cl->invoked : cl->arrival;
}

static void start_op(FlWorld *w, uint32_t c, uint32_t target)
{
    Client *cl = &w->clients[c];
    const FlWorkloadSpec *wl = &w->sc->workload;
    cl->busy = true;
    cl->req.client = cl->addr;
    cl->req.id = ++w->next_request;
    cl->invoked = w->now;
    cl->redirects = 0;
    cl->target = target;
    w->stats.invoked++;
    if (w->series)
        fl_series_offer(w->series, op_from(w, cl));
    record(w, cl, FL_EVENT_INVOKE, FL_NO_HINT, NULL);
    cl->deadline = w->now + (FlTime)wl->timeout;
    arm_timeout(w, c);
    send_request(w, c);
}

/* The final read phase: each client takes its share of (key, node) pairs
 * and asks that node for its own copy of that key. */
static void next_final_read(FlWorld *w, uint32_t c)
{
    Client *cl = &w->clients[c];
    const FlWorkloadSpec *wl = &w->sc->workload;
    uint64_t total = (uint64_t)wl->keys * w->nnodes;
    if (cl->final_next >= total)
        return;
    if (w->now < w->final_at) {
        schedule(w, c, w->final_at, CLIENT_NEXT, 0);
        return;
    }
    uint64_t i = cl->final_next;
    cl->final_next += w->nclients;
    memset(&cl->req.op, 0, sizeof cl->req.op);
    cl->req.op.kind = wl->model->read_kind;
    cl->req.op.key = (uint32_t)(i / w->nnodes);
    cl->req.op.flags = FL_OP_F_LOCAL;
    start_op(w, c, (uint32_t)(i % w->nnodes));
}

static void next_op(FlWorld *w, uint32_t c)
{
    Client *cl = &w->clients[c];
    const FlWorkloadSpec *wl = &w->sc->workload;
    if (w->now >= (FlTime)wl->until) {
        if (wl->final_reads)
            next_final_read(w, c);
        return;
    }
    make_op(w, cl, &cl->req.op);
    start_op(w, c, cl->leader_guess != FL_NO_HINT ? cl->leader_guess : random_node(w, cl));
}

void fl_client_invoke(FlWorld *w, uint32_t c)
{
    Client *cl = &w->clients[c];
    g_assert(!cl->busy);
    make_op(w, cl, &cl->req.op);
    start_op(w, c, cl->leader_guess != FL_NO_HINT ? cl->leader_guess : random_node(w, cl));
}

static void finish(FlWorld *w, uint32_t c, FlEventType type, uint32_t node, const FlResult *res)
{
    Client *cl = &w->clients[c];
    if (w->series)
        fl_series_end(w->series, op_from(w, cl), w->now,
                      type == FL_EVENT_OK ? FL_SERIES_OK : type == FL_EVENT_FAIL ? FL_SERIES_FAIL
                                                                                  : FL_SERIES_TIMEOUT);
    record(w, cl, type, node, res);
    fl_trace(&w->trace, FL_TR_COMPLETE, w->now, cl->addr, node == FL_NO_HINT ? 0 : node,
             cl->req.id, 0, type_names[type]);
    cl->busy = false;
    clear_answers(cl);
    if (w->ex)
        return;   /* the next invocation is a choice */
    cl->arrival += (FlTime)think(w, cl);
    schedule(w, c, cl->arrival > w->now ? cl->arrival : w->now, CLIENT_NEXT, 0);
}

/* FL_CLIENT_BFT: counts @res as @from's answer; returns the answer once f+1
 * distinct nodes gave the same one, else NULL.  A node's later answers to
 * the same request do not count again. */
static const Answer *vote(FlWorld *w, Client *cl, uint32_t from, const FlResult *res)
{
    uint32_t f = (w->nnodes - 1) / 3;
    if (!cl->answers)
        cl->answers = g_array_new(FALSE, TRUE, sizeof(Answer));
    uint64_t bit = from < 64 ? 1ull << from : 0;
    for (guint i = 0; i < cl->answers->len; i++)
        if (g_array_index(cl->answers, Answer, i).voters & bit)
            return NULL;
    uint64_t th = fl_trace_bytes_hash(res->text ? res->text : "", res->text_len);
    Answer *a = NULL;
    for (guint i = 0; i < cl->answers->len && !a; i++) {
        Answer *x = &g_array_index(cl->answers, Answer, i);
        if (x->status == res->status && x->has_value == res->has_value &&
            x->value == res->value && x->text_hash == th && x->text_len == res->text_len)
            a = x;
    }
    if (!a) {
        Answer fresh = { .status = (uint8_t)res->status, .has_value = res->has_value,
                         .value = res->value, .text_hash = th, .text_len = res->text_len,
                         .text = g_strndup(res->text ? res->text : "", res->text_len) };
        g_array_append_val(cl->answers, fresh);
        a = &g_array_index(cl->answers, Answer, cl->answers->len - 1);
    }
    a->voters |= bit;
    a->votes++;
    return a->votes >= f + 1 ? a : NULL;
}

void fl_client_event(FlWorld *w, uint32_t c, uint64_t what, uint64_t req)
{
    Client *cl = &w->clients[c];
    switch (what) {
    case CLIENT_NEXT:
        next_op(w, c);
        break;
    case CLIENT_TIMEOUT:
        if (cl->timer_at != w->now)
            break;   /* superseded by an earlier one */
        cl->timer_at = FL_TIME_NEVER;
        if (!cl->busy)
            break;
        if (w->now < cl->deadline) {
            arm_timeout(w, c);
            break;
        }
        w->stats.info++;
        cl->leader_guess = FL_NO_HINT;
        finish(w, c, FL_EVENT_INFO, FL_NO_HINT, NULL);
        /* The old operation may still happen: continue as a new process. */
        cl->process += w->nclients;
        break;
    case CLIENT_RETRY:
        if (cl->busy && cl->req.id == req)
            send_request(w, c);
        break;
    }
}

void fl_client_deliver(FlWorld *w, uint32_t c, uint32_t from, const uint8_t *msg, size_t len)
{
    Client *cl = &w->clients[c];
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint64_t id = fl_get_u64(&r);
    FlResult res = { 0 };
    res.status = fl_get_u8(&r);
    res.hint = fl_get_u32(&r);
    res.has_value = fl_get_u8(&r) != 0;
    res.value = fl_get_i64(&r);
    res.text = (const char *)fl_get_bytes(&r, &res.text_len);
    if (fl_reader_ok(&r) && !fl_reader_done(&r))
        res.session = fl_get_bytes(&r, &res.session_len);
    if (!fl_reader_done(&r) || from >= w->nnodes || res.session_len > FL_MAX_SESSION)
        return;   /* a malformed answer is no answer */
    if (!cl->busy || id != cl->req.id)
        return;   /* late: that operation already ended */
    if (w->sc->protocol->client_mode == FL_CLIENT_BFT) {
        if (res.status == FL_RESULT_REDIRECT)
            return;   /* it was sent to everyone already */
        const Answer *a = vote(w, cl, from, &res);
        if (!a)
            return;
        /* Complete with the agreed answer, not the last node's own copy. */
        res.status = a->status;
        res.has_value = a->has_value;
        res.value = a->value;
        res.text = a->text;
        res.text_len = a->text_len;
    }
    switch (res.status) {
    case FL_RESULT_OK:
        w->stats.ok++;
        if (res.session_len > 0 && w->sc->protocol->client_mode != FL_CLIENT_BFT) {
            if (!cl->session)
                cl->session = g_byte_array_new();
            g_byte_array_set_size(cl->session, 0);
            g_byte_array_append(cl->session, res.session, (guint)res.session_len);
        }
        {
            /* Latency counts from the intended arrival, not from the
             * invocation: an operation that waited behind a slow one
             * waited for the system (coordinated omission, note above). */
            FlTime from_t = w->ex || (cl->req.op.flags & FL_OP_F_LOCAL) ? cl->invoked : cl->arrival;
            FlDuration lat = (FlDuration)(w->now - from_t);
            FlDuration svc = (FlDuration)(w->now - cl->invoked);
            g_array_append_val(w->stats.latencies, lat);
            g_array_append_val(w->stats.services, svc);
        }
        cl->leader_guess = from;
        if (cl->invoked >= w->heal_at &&
            w->now <= w->heal_at + (FlTime)w->sc->expect.live_budget) {
            if (w->stats.live_ok++ == 0)
                w->stats.live_first_ok = w->now;
        }
        finish(w, c, FL_EVENT_OK, from, &res);
        break;
    case FL_RESULT_FAIL:
        w->stats.fail++;
        finish(w, c, FL_EVENT_FAIL, from, NULL);
        break;
    case FL_RESULT_REDIRECT: {
        cl->redirects++;
        bool known = res.hint < w->nnodes && res.hint != from;
        cl->target = known ? res.hint : random_node(w, cl);
        cl->leader_guess = known ? res.hint : FL_NO_HINT;
        /* Follow a hint at once; without one, or around a loop of hints,
         * back off so that an election has time to finish. */
        FlDuration wait = known && cl->redirects <= w->nnodes ? 0 : FL_MS(10);
        if (w->ex) {
            send_request(w, c);   /* explore mode: no waiting by time */
            break;
        }
        schedule(w, c, w->now + (FlTime)wait, CLIENT_RETRY, cl->req.id);
        break;
    }
    default:
        break;   /* an unknown status from a lying node: ignore it */
    }
}
