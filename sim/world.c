/* Design notes.
 * 1. Handlers run to completion; their effects (sends, timers) are pushed
 *    to the one queue as they happen, so ties between effects of one handler
 *    keep the order the handler made them in.
 * 2. A crashed node's pending timers stay in the queue and are skipped when
 *    they fire: each carries the node's incarnation, which a crash bumps.
 * 3. Messages carry their bytes in buffers owned by the queue event; small
 *    ones come from a free list per size class (64, 128, 256 bytes), cut
 *    from 16 KiB slabs, so a steady run allocates nothing and a pending
 *    message of 64 bytes holds one cache line, not four.
 * 4. Faults aimed at protocol events (faults/trigger.c) see a node's sends,
 *    role changes and unsynced disk writes through event hooks, called
 *    inside the handler right after the effect.  A crash they ask for
 *    cannot happen there (the handler still runs on the node's state), so
 *    it takes effect when the handler returns (fl_node_leave), and every
 *    effect the handler makes after the event is lost: a node that crashed
 *    right after sending a message sends nothing more, and a write it had
 *    not synced is lost with the crash even if the handler would have
 *    synced it next.  This is what a real crash at that instant does; the
 *    only liberty taken is that the handler's pure computation runs on.
 * 5. Resources (a scenario's `resources`; sim/resource.h).  Off, w->res is
 *    NULL and each path below costs one untaken branch.  On:
 *    - a message occupies its link (from, to) for len / bytes_per_s after
 *      the ones sent on it before (serialization, first come first
 *      served), then travels with the network's delay;
 *    - a message that reaches a live, running node joins its CPU's queue:
 *      its service time (cost + per_kib) is drawn from the `resources`
 *      stream at arrival and the handler runs when the service ends
 *      (EV_SERVE), so its sends leave after it; a full queue drops the
 *      message (counted, traced as "cpu queue full").  With `per_kind`,
 *      the cost of a protocol message's kind replaces `cost` (a client's
 *      request always costs `cost`): the protocol's msg_kind names the
 *      kind, as a static string, and a small table maps each such pointer
 *      to its index in `kinds`, filled the first time the pointer is
 *      seen, so serving compares pointers, never strings; the table is a
 *      cache, so addresses decide nothing.  Timers and client
 *      events do not queue: they are the node's own work, and charging
 *      them would let a protocol's heartbeat starve its requests, which is
 *      a different model (priorities) than this one.
 *    - a node's fl_disk_sync joins its disk's queue: it takes a latency
 *      (drawn) plus the bytes it makes durable / bytes_per_s, after the
 *      syncs before it, and every message the node sends until it ends
 *      leaves when it ends (EV_DEPART), as a process blocked in fsync
 *      sends nothing.  What the sync wrote is durable at once, and a
 *      crash before the end loses the held messages (EV_DEPART carries
 *      the incarnation): the run is one where the sync finished just
 *      before the crash, and nobody heard of it.  Handlers the node runs
 *      meanwhile are not delayed (their sends are held all the same).
 *    Each resource keeps its own arithmetic (fl_server_admit), so nothing
 *    is scheduled when a job ends.  A message waiting in a CPU's queue is
 *    in the node's memory: a crash loses it (EV_SERVE carries the
 *    incarnation it was queued in, as timers do, note 2), and the node
 *    restarts with an idle CPU and an empty queue.
 * 6. The time series (w->series, sim/series.h; NULL unless asked for) is
 *    told of operations, CPU jobs and link bytes as they happen, and each
 *    window's end is sampled by series_advance before the first event at
 *    or after it: nothing is scheduled for it, so a run with a series has
 *    the events, trace and hash of one without.  A CPU job lost in a crash
 *    stays counted as busy time in its windows (as in the utilisation of
 *    metrics.json).
 * 7. For the availability figures (sim/sla.h) the world keeps two logs it
 *    never reads: the instants at which the cluster showed it noticed
 *    trouble (any role change, any detector suspicion: the earliest
 *    signal a fault was detected) and each change of w->leader (a crash
 *    of the leader clears it).  Like the series, they are measurements:
 *    no event, trace line or random draw depends on them.
 * 8. The selectors aimed at the leader ("leader", "leader+K",
 *    "minority-with-leader") need one; while there is none they select
 *    nobody, which is right mid-election.  But a leaderless protocol
 *    (ABD, Dynamo, the causal store) never has one, and the nemesis's
 *    shapes aim at the leader by default: each such fault would be lost.
 *    So until some node has held a leader or primary role in the run,
 *    they pivot on a live node drawn like "role:*" instead (the draw of
 *    select_role, on the selector's own stream).
 * 9. The wire (sim/channel.h; faults/attacker.c).  With a defence on, a
 *    message is sealed in fl_world_send, before anything else sees it
 *    (trace, network, resources, explore), so every later step handles
 *    wire bytes and the trace's lengths and hashes are the wire's; it is
 *    opened in fl_world_deliver, after the CPU queue (checking a tag costs
 *    the receiver as much as any message), and a message that fails is
 *    dropped there (traced with the reason, counted as net.*_dropped)
 *    before any handler runs.  Wire hooks (attackers) see each message
 *    after sealing and before the network: they may rewrite or drop it,
 *    and put bytes of their own on the wire (fl_world_wire_inject), which
 *    nothing seals and no wire hook sees.  A Byzantine node's send hook
 *    runs before sealing: it holds its own keys.  With neither, the send
 *    and delivery paths are those of a run without this note. */
#include "sim/world_impl.h"

#include "sim/channel.h"
#include "sim/fault.h"
#include "sim/coverage.h"
#include "sim/series.h"

#include <stdarg.h>
#include <string.h>

void fl_world_sla_signal(FlWorld *w)
{
    g_array_append_val(w->sla_signals, w->now);
}

void fl_world_set_leader(FlWorld *w, uint32_t node)
{
    if (w->leader == node)
        return;
    w->leader = node;
    w->leader_seen |= node != FL_NO_HINT;
    FlSlaLeader l = { w->now, node == FL_NO_HINT ? -1 : (int32_t)node };
    /* Two changes at one instant: the later one is what held after it. */
    if (w->sla_leaders->len && g_array_index(w->sla_leaders, FlSlaLeader, w->sla_leaders->len - 1).at == w->now)
        g_array_index(w->sla_leaders, FlSlaLeader, w->sla_leaders->len - 1) = l;
    else
        g_array_append_val(w->sla_leaders, l);
}

const FlTime *fl_world_sla_signals(const FlWorld *w, size_t *n)
{
    *n = w->sla_signals->len;
    return (const FlTime *)(void *)w->sla_signals->data;
}

const FlSlaLeader *fl_world_sla_leaders(const FlWorld *w, size_t *n)
{
    *n = w->sla_leaders->len;
    return (const FlSlaLeader *)(void *)w->sla_leaders->data;
}

typedef struct Call {
    FlWorldCallback fn;
    void *ctx;
    uint64_t arg;
} Call;

enum { SLAB = 16384 };

static inline unsigned buf_class(size_t len)
{
    return len <= 64 ? 0 : len <= 128 ? 1 : 2;
}

/* Cuts a new slab into buffers of class @c, linked in address order. */
__attribute__((noinline)) static void buf_refill(FlWorld *w, unsigned c)
{
    size_t size = (size_t)64 << c;
    uint8_t *slab = g_malloc(SLAB);
    if (!w->buf_slabs)
        w->buf_slabs = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(w->buf_slabs, slab);
    for (size_t off = SLAB; off >= size; off -= size) {
        void *b = slab + off - size;
        memcpy(b, &w->small_bufs[c], sizeof(void *));
        w->small_bufs[c] = b;
    }
}

uint8_t *fl_world_buf_alloc(FlWorld *w, size_t len)
{
    if (len <= SMALL_BUF) {
        unsigned c = buf_class(len);
        if (G_UNLIKELY(!w->small_bufs[c]))
            buf_refill(w, c);
        void *b = w->small_bufs[c];
        memcpy(&w->small_bufs[c], b, sizeof(void *));
        return b;
    }
    return g_malloc(len);
}

void fl_world_buf_free(FlWorld *w, void *buf, size_t len)
{
    if (len <= SMALL_BUF) {
        unsigned c = buf_class(len);
        memcpy(buf, &w->small_bufs[c], sizeof(void *));
        w->small_bufs[c] = buf;
    }
    else
        g_free(buf);
}

static void free_event_data(FlWorld *w, FlEvent *ev);
static void push(FlWorld *w, FlTime at, FlEvent *ev);

/* Note 5: the runtime of a scenario's `resources`. */
typedef struct Resources {
    FlServer *cpu;          /* per node, or NULL */
    FlServer *link;         /* endpoints x endpoints, or NULL */
    uint32_t endpoints;
    FlRng rng;              /* service times: a stream of its own */
    uint64_t cpu_drops;
    uint32_t *cpu_incarnation;  /* per node: the incarnation its CPU's queue belongs to */
    FlServer *disk;         /* per node, or NULL */
    uint32_t *disk_incarnation; /* per node: the incarnation its disk's queue belongs to */
    uint64_t disk_syncs, disk_held;
    GArray *kind_seen;      /* of KindSeen: msg_kind's strings met so far (per_kind only) */
    char **kinds;           /* the protocol's kinds, split (per_kind only) */
} Resources;

/* Note 5: a string msg_kind returned, and its index in the protocol's
 * kinds (-1: none of them). */
typedef struct KindSeen {
    const char *name;
    int index;
} KindSeen;

static Resources *resources_new(const FlScenario *sc, uint32_t nnodes, uint32_t endpoints)
{
    const FlResourceSpec *r = &sc->resources;
    Resources *res = g_new0(Resources, 1);
    fl_rng_init(&res->rng, sc->seed, "resources");
    res->endpoints = endpoints;
    if (r->cpu) {
        res->cpu = g_new0(FlServer, nnodes);
        res->cpu_incarnation = g_new0(uint32_t, nnodes);
        for (uint32_t i = 0; i < nnodes; i++)
            fl_server_init(&res->cpu[i], true, r->cpu_queue);
        if (r->cpu_kinds) {
            res->kind_seen = g_array_new(FALSE, FALSE, sizeof(KindSeen));
            res->kinds = g_strsplit(sc->protocol->kinds, "|", -1);
            g_assert(g_strv_length(res->kinds) == r->cpu_kinds);
        }
    }
    if (r->disk) {
        res->disk = g_new0(FlServer, nnodes);
        res->disk_incarnation = g_new0(uint32_t, nnodes);
        for (uint32_t i = 0; i < nnodes; i++)
            fl_server_init(&res->disk[i], false, 0);
    }
    if (r->link_bytes_per_s > 0) {
        res->link = g_new0(FlServer, (size_t)endpoints * endpoints);
        for (size_t i = 0; i < (size_t)endpoints * endpoints; i++)
            fl_server_init(&res->link[i], false, 0);
    }
    return res;
}

static void resources_free(FlWorld *w)
{
    Resources *res = w->res;
    if (!res)
        return;
    for (uint32_t i = 0; res->cpu && i < w->nnodes; i++)
        fl_server_deinit(&res->cpu[i]);
    g_free(res->cpu);
    g_free(res->cpu_incarnation);
    if (res->kind_seen)
        g_array_free(res->kind_seen, TRUE);
    g_strfreev(res->kinds);
    g_free(res->disk);
    g_free(res->disk_incarnation);
    g_free(res->link);
    g_free(res);
    w->res = NULL;
}

json_t *fl_world_resource_metrics(const FlWorld *w)
{
    const Resources *res = w->res;
    if (!res)
        return NULL;
    json_t *m = json_object();
    if (res->cpu) {
        json_t *nodes = json_array();
        double sum = 0, most = 0;
        for (uint32_t i = 0; i < w->nnodes; i++) {
            const FlServer *c = &res->cpu[i];
            double u = fl_server_utilisation(c, w->end);
            sum += u;
            most = MAX(most, u);
            json_array_append_new(nodes, json_pack("{s:i,s:f,s:I,s:I,s:i}", "node", (int)i,
                                                   "utilisation", u, "served", (json_int_t)c->admitted,
                                                   "dropped", (json_int_t)c->dropped,
                                                   "peak_queue", (int)c->peak));
        }
        json_object_set_new(m, "cpu", json_pack("{s:f,s:f,s:I,s:o}", "utilisation_mean",
                                                 w->nnodes ? sum / w->nnodes : 0.0,
                                                 "utilisation_max", most,
                                                 "dropped", (json_int_t)res->cpu_drops, "nodes", nodes));
    }
    if (res->disk) {
        json_t *nodes = json_array();
        double sum = 0, most = 0;
        for (uint32_t i = 0; i < w->nnodes; i++) {
            const FlServer *d = &res->disk[i];
            double u = fl_server_utilisation(d, w->end);
            sum += u;
            most = MAX(most, u);
            json_array_append_new(nodes, json_pack("{s:i,s:f,s:I}", "node", (int)i,
                                                   "utilisation", u, "syncs",
                                                   (json_int_t)d->admitted));
        }
        json_object_set_new(m, "disk", json_pack("{s:f,s:f,s:I,s:I,s:o}", "utilisation_mean",
                                                  w->nnodes ? sum / w->nnodes : 0.0,
                                                  "utilisation_max", most,
                                                  "syncs", (json_int_t)res->disk_syncs,
                                                  "held_messages", (json_int_t)res->disk_held,
                                                  "nodes", nodes));
    }
    if (res->link) {
        double sum = 0, most = 0;
        uint32_t used = 0, from = 0, to = 0;
        for (uint32_t a = 0; a < res->endpoints; a++)
            for (uint32_t b = 0; b < res->endpoints; b++) {
                const FlServer *l = &res->link[(size_t)a * res->endpoints + b];
                if (l->admitted == 0)
                    continue;
                double u = fl_server_utilisation(l, w->end);
                used++;
                sum += u;
                if (u > most) {
                    most = u;
                    from = a;
                    to = b;
                }
            }
        json_object_set_new(m, "links", json_pack("{s:i,s:f,s:f,s:[i,i]}", "used", (int)used,
                                                   "utilisation_mean", used ? sum / used : 0.0,
                                                   "utilisation_max", most, "busiest", (int)from,
                                                   (int)to));
    }
    return m;
}

/* Note 5: the time a copy sent now on (from, to) leaves its link. */
static FlTime link_serialize(FlWorld *w, uint32_t from, uint32_t to, size_t len)
{
    Resources *res = w->res;
    double secs = (double)len / w->sc->resources.link_bytes_per_s;
    FlDuration tx = (FlDuration)(secs * 1e9 + 0.5);
    return fl_server_admit(&res->link[(size_t)from * res->endpoints + to], w->now, tx);
}

/* Note 5: the disk of @node as its current incarnation sees it (a restart
 * finds an idle disk: the syncs queued before died with the process). */
static FlServer *node_disk(FlWorld *w, uint32_t node)
{
    Resources *res = w->res;
    FlServer *d = &res->disk[node];
    if (res->disk_incarnation[node] != w->nodes[node].incarnation) {
        d->free_at = 0;
        res->disk_incarnation[node] = w->nodes[node].incarnation;
    }
    return d;
}

void fl_world_disk_sync(FlWorld *w, uint32_t node, uint64_t bytes)
{
    if (G_LIKELY(w->res == NULL) || !w->res->disk)
        return;
    const FlResourceSpec *r = &w->sc->resources;
    FlDuration service = fl_delay_draw(&r->disk_sync, &w->res->rng);
    if (service < 0)
        service = 0;
    if (r->disk_bytes_per_s > 0)
        service += (FlDuration)((double)bytes / r->disk_bytes_per_s * 1e9 + 0.5);
    fl_server_admit(node_disk(w, node), w->now, service);
    w->res->disk_syncs++;
}

/* Note 5: when a message @from sends now may leave: after its disk's
 * syncs (now when there is no disk resource or no sync pending). */
static FlTime departure(FlWorld *w, uint32_t from)
{
    if (from >= w->nnodes || !w->res->disk)
        return w->now;
    FlServer *d = node_disk(w, from);
    return d->free_at > w->now ? d->free_at : w->now;
}

/* Note 5: the cost of serving @msg under `per_kind`: its kind's entry,
 * or `cost` when its kind has none or msg_kind cannot name it. */
static const FlDelaySpec *kind_cost(FlWorld *w, uint32_t node, const uint8_t *msg, size_t len)
{
    const FlResourceSpec *r = &w->sc->resources;
    Resources *res = w->res;
    const char *name = fl_world_msg_kind(w, node, msg, len);
    if (!name)
        return &r->cpu_cost;
    int index = -1;
    guint i = 0;
    for (; i < res->kind_seen->len; i++) {
        const KindSeen *k = &g_array_index(res->kind_seen, KindSeen, i);
        if (k->name == name) {
            index = k->index;
            break;
        }
    }
    if (i == res->kind_seen->len) {
        /* First time this string: once per return statement of msg_kind. */
        for (uint32_t j = 0; j < r->cpu_kinds; j++)
            if (strcmp(res->kinds[j], name) == 0)
                index = (int)j;
        g_array_append_val(res->kind_seen, ((KindSeen){ name, index }));
    }
    return index >= 0 && r->cpu_kind_set[index] ? &r->cpu_kind_cost[index] : &r->cpu_cost;
}

/* Note 5: queues the message of @ev (EV_DELIVER) at its node's CPU;
 * returns false when the queue was full and the message is dropped (its
 * bytes freed). */
static bool cpu_enqueue(FlWorld *w, FlEvent *ev)
{
    const FlResourceSpec *r = &w->sc->resources;
    Resources *res = w->res;
    FlNode *n = &w->nodes[ev->node];
    FlServer *cpu = &res->cpu[ev->node];
    if (res->cpu_incarnation[ev->node] != n->incarnation) {
        /* Restarted since its CPU last queued: the queue died with the
         * old process (its messages are dropped when they come up). */
        cpu->free_at = 0;
        cpu->head = cpu->count = 0;
        res->cpu_incarnation[ev->node] = n->incarnation;
    }
    /* A client's request is the engine's encoding, not one of the
     * protocol's messages: msg_kind cannot name it, and it costs `cost`. */
    const FlDelaySpec *cost = r->cpu_kinds && ev->peer < w->nnodes
                                  ? kind_cost(w, ev->node, ev->data, ev->a)
                                  : &r->cpu_cost;
    FlDuration service = fl_delay_draw(cost, &res->rng);
    if (service < 0)
        service = 0;
    service += (FlDuration)(((double)ev->a / 1024.0) * (double)r->cpu_per_kib + 0.5);
    FlTime done = fl_server_admit(cpu, w->now, service);
    if (w->series && done != FL_TIME_NEVER)
        fl_series_busy(w->series, ev->node, done - (FlTime)service, done);
    if (done == FL_TIME_NEVER) {
        res->cpu_drops++;
        w->stats.dropped++;
        fl_trace(&w->trace, FL_TR_DROP, w->now, ev->node, ev->peer, ev->a, ev->b, "cpu queue full");
        free_event_data(w, ev);
        return false;
    }
    FlEvent served = *ev;
    served.kind = EV_SERVE;
    g_assert(ev->a <= UINT32_MAX);
    served.a = ev->a | (uint64_t)n->incarnation << 32;   /* see free_event_data */
    push(w, done, &served);
    return true;
}

/* A full queue ends the run with a message, not an abort: it is what a
 * scenario asking for a timer every nanosecond gets, and bad input must never
 * crash the program. */
void fl_world_queue_full(FlWorld *w)
{
    fl_world_refuse(w, "%s: more than %u events pending at t=%" G_GUINT64_FORMAT "ns: the "
                    "protocol floods the network, or a parameter asks for more messages or "
                    "timers than a simulation can hold (a period of a few nanoseconds?)",
                    w->sc->file ? w->sc->file : w->sc->name, FL_SCHED_MAX_PENDING, w->now);
}

static void push(FlWorld *w, FlTime at, FlEvent *ev)
{
    if (w->stopping || fl_sched_push(w->sched, at, ev) == 0) {
        if (!w->stopping)
            fl_world_queue_full(w);
        free_event_data(w, ev);
    }
}

static void route(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len, uint64_t h);

static bool wire(FlWorld *w, uint32_t from, uint32_t to, const void **msg, size_t *len);

void fl_world_send(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len)
{
    if (G_UNLIKELY(w->chan != NULL || w->wire_hooks != NULL) && !wire(w, from, to, &msg, &len))
        return;
    uint64_t h = fl_trace_bytes_hash(msg, len);
    w->stats.sent++;
    if (w->trace.out)
        fl_trace(&w->trace, FL_TR_SEND, w->now, from, to, len, h, NULL);
    else
        fl_trace_fast(&w->trace, FL_TR_SEND, w->now, from, to, len, h);
    if (w->trace.cov)
        fl_coverage_message(w->trace.cov, FL_TR_SEND, from, to, msg, len);
    if (G_UNLIKELY(w->ex != NULL)) {
        fl_explore_send(w, from, to, msg, len, h);
        return;
    }
    if (G_UNLIKELY(w->res != NULL)) {
        FlTime leave = departure(w, from);
        if (leave > w->now) {
            /* Note 5: held in the sender until its sync ends. */
            uint8_t *buf = fl_world_buf_alloc(w, len);
            if (len)
                memcpy(buf, msg, len);
            g_assert(len <= UINT32_MAX);
            FlEvent ev = { .kind = EV_DEPART, .node = from, .peer = to,
                           .a = len | (uint64_t)w->nodes[from].incarnation << 32, .b = h,
                           .data = buf };
            w->res->disk_held++;
            push(w, leave, &ev);
            return;
        }
    }
    route(w, from, to, msg, len, h);
}

typedef struct WireHook {
    FlWorldWireHook fn;
    void *ctx;
} WireHook;

/* Note 8: seals the message into w->wire_buf and shows it to the wire
 * hooks; *@msg and *@len become the wire bytes.  False when a hook
 * dropped it (traced as sent and dropped, as a Byzantine drop is). */
static bool wire(FlWorld *w, uint32_t from, uint32_t to, const void **msg, size_t *len)
{
    GByteArray *b = w->wire_buf;
    if (!b)
        b = w->wire_buf = g_byte_array_new();
    if (w->chan) {
        fl_channel_seal(w->chan, from, to, *msg, *len, b);
    } else {
        g_byte_array_set_size(b, 0);
        g_byte_array_append(b, *msg, (guint)*len);
    }
    /* By index, re-reading the length: a hook never adds or removes hooks
     * here, but the loop does not rely on it. */
    for (guint i = 0; w->wire_hooks && i < w->wire_hooks->len; i++) {
        WireHook hk = g_array_index(w->wire_hooks, WireHook, i);
        if (!hk.fn(w, hk.ctx, from, to, b)) {
            uint64_t h = fl_trace_bytes_hash(b->data, b->len);
            w->stats.sent++;
            w->stats.dropped++;
            fl_trace(&w->trace, FL_TR_SEND, w->now, from, to, b->len, h, NULL);
            fl_trace(&w->trace, FL_TR_DROP, w->now, to, from, b->len, h, "attacker");
            return false;
        }
    }
    *msg = b->data;
    *len = b->len;
    return true;
}

void fl_world_add_wire_hook(FlWorld *w, FlWorldWireHook fn, void *ctx)
{
    if (!w->wire_hooks)
        w->wire_hooks = g_array_new(FALSE, FALSE, sizeof(WireHook));
    WireHook h = { fn, ctx };
    g_array_append_val(w->wire_hooks, h);
}

void fl_world_remove_wire_hook(FlWorld *w, FlWorldWireHook fn, void *ctx)
{
    for (guint i = 0; w->wire_hooks && i < w->wire_hooks->len; i++) {
        WireHook *h = &g_array_index(w->wire_hooks, WireHook, i);
        if (h->fn == fn && h->ctx == ctx) {
            g_array_remove_index(w->wire_hooks, i);
            break;
        }
    }
    if (w->wire_hooks && w->wire_hooks->len == 0) {
        g_array_free(w->wire_hooks, TRUE);
        w->wire_hooks = NULL;
    }
}

void fl_world_wire_inject(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len)
{
    g_assert(to < w->nnodes + w->nclients);
    if (len > FL_MAX_MESSAGE + FL_CHANNEL_SEQ_BYTES + FL_CHANNEL_TAG_BYTES || w->ex)
        return;
    uint64_t h = fl_trace_bytes_hash(msg, len);
    w->stats.sent++;
    fl_trace(&w->trace, FL_TR_SEND, w->now, from, to, len, h, NULL);
    route(w, from, to, msg, len, h);
}

bool fl_world_wire_clear(const FlWorld *w, size_t len, size_t *off, size_t *plen)
{
    if (!w->chan) {
        *off = 0;
        *plen = len;
        return true;
    }
    return fl_channel_clear(w->chan, len, off, plen);
}

uint32_t fl_world_outsider(const FlWorld *w)
{
    return w->nnodes + w->nclients;
}

int64_t fl_world_values_written(const FlWorld *w)
{
    return w->gen.next_value;
}

void fl_world_count(FlWorld *w, const char *name, double v)
{
    double *cur = g_tree_lookup(w->counters, name);
    if (!cur) {
        cur = g_new0(double, 1);
        g_tree_insert(w->counters, g_strdup(name), cur);
    }
    *cur += v;
}

/* The network's part of a send at w->now: copies, drops, delays, links. */
static void route(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len, uint64_t h)
{
    FlTime at[FL_NET_MAX_COPIES];
    const char *why;
    uint32_t copies = fl_net_route_copies(w->net, from, to, w->now, at, FL_NET_MAX_COPIES, &why);
    if (copies == 0) {
        w->stats.dropped++;
        fl_trace(&w->trace, FL_TR_DROP, w->now, to, from, len, h, why);
        return;
    }
    /* A sender outside the cluster (an attacker's flood) has no link of
     * its own to account. */
    bool inside = from < w->nnodes + w->nclients;
    if (w->series && inside)
        fl_series_link_bytes(w->series, from, to, (uint64_t)len * copies);
    /* Each copy owns its buffer: the queue frees each on delivery. */
    if (G_UNLIKELY(w->res != NULL) && w->res->link && inside)
        for (uint32_t k = 0; k < copies; k++)
            at[k] += link_serialize(w, from, to, len) - w->now;
    for (uint32_t k = 0; k < copies; k++) {
        uint8_t *buf = fl_world_buf_alloc(w, len);
        if (len)
            memcpy(buf, msg, len);
        FlEvent ev = { .kind = EV_DELIVER, .node = to, .peer = from, .a = len, .b = h, .data = buf };
        push(w, at[k], &ev);
    }
}

void fl_world_at(FlWorld *w, FlTime at, FlWorldCallback fn, void *ctx, uint64_t arg)
{
    g_assert(at >= w->now);
    Call *c = g_new(Call, 1);
    *c = (Call){ fn, ctx, arg };
    FlEvent ev = { .kind = EV_CALL, .data = c };
    push(w, at, &ev);
}

static void fault_stop_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    FlFault *f = ctx;
    if (f->started && !f->stopped) {
        f->stopped = true;
        if (f->kind->stop)
            f->kind->stop(f, w);
    }
}

static void fault_start_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    FlFault *f = ctx;
    if (f->started)
        return;   /* the liveness phase healed everything already */
    f->started = true;
    f->kind->start(f, w);
    if (f->dur > 0)
        fl_world_at(w, w->now + (FlTime)f->dur, fault_stop_cb, f, 0);
}

static gint cmp_names(gconstpointer a, gconstpointer b, gpointer data)
{
    return strcmp(a, b);
}

/* Liveness "core": messages to or from a node outside the core are lost. */
static FlFilterAction cut_off(void *ctx, uint32_t from, uint32_t to, FlTime now, FlRng *rng,
                              FlDuration *extra)
{
    FlWorld *w = ctx;
    bool out = (from < w->nnodes && w->outside_core[from]) || (to < w->nnodes && w->outside_core[to]);
    return out ? FL_FILTER_DROP : FL_FILTER_PASS;
}

/* The liveness phase: every fault heals, crashed nodes restart, paused ones
 * resume.  Faults that run to the end are stopped too: from here on the
 * system owes its clients progress.  With `core` (as TigerBeetle's
 * simulator does it) only a majority drawn from the seed heals: the other
 * nodes keep the state they were in (down, paused or up) and are cut off
 * from everyone, so the core must make progress on its own. */
static void heal_all(FlWorld *w, void *ctx, uint64_t arg)
{
    const FlScenario *sc = w->sc;
    uint32_t n = w->nnodes;
    g_autofree bool *was_down = g_new0(bool, n), *was_paused = g_new0(bool, n);
    for (uint32_t i = 0; i < n; i++) {
        was_down[i] = !w->nodes[i].up;
        was_paused[i] = w->nodes[i].up && w->nodes[i].paused;
    }
    g_autoptr(GString) what = g_string_new("liveness: heal everything");
    if (sc->expect.live_core) {
        /* A partial Fisher-Yates shuffle: the first n/2 + 1 are the core. */
        FlRng rng;
        fl_rng_init(&rng, sc->seed, "liveness-core");
        g_autofree uint32_t *order = g_new(uint32_t, n);
        for (uint32_t i = 0; i < n; i++)
            order[i] = i;
        uint32_t core = n / 2 + 1;
        for (uint32_t i = 0; i < core; i++) {
            uint32_t j = i + (uint32_t)fl_rng_below(&rng, n - i);
            uint32_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        w->outside_core = g_malloc(n);
        memset(w->outside_core, 1, n);
        g_string_assign(what, "liveness: heal the core");
        for (uint32_t i = 0; i < core; i++)
            w->outside_core[order[i]] = 0;
        for (uint32_t i = 0; i < n; i++)
            if (!w->outside_core[i])
                g_string_append_printf(what, " %u", i);
    }
    fl_trace(&w->trace, FL_TR_FAULT, w->now, 0, 0, UINT32_MAX, 0, what->str);
    for (guint i = 0; sc->faults && i < sc->faults->len; i++)
        fault_stop_cb(w, g_ptr_array_index(sc->faults, i), 0);
    for (guint i = 0; sc->faults && i < sc->faults->len; i++) {
        FlFault *f = g_ptr_array_index(sc->faults, i);
        f->stopped = f->started = true;   /* a start still queued must not fire */
    }
    for (uint32_t i = 0; i < n; i++) {
        bool frozen = w->outside_core && w->outside_core[i];
        if (frozen) {
            /* Stopping its faults may have restarted or resumed it: put it
             * back as it was. */
            if (was_down[i] && w->nodes[i].up)
                fl_world_crash(w, i);
            else if (was_paused[i] && !w->nodes[i].paused)
                fl_world_pause(w, i);
        } else if (!w->nodes[i].up) {
            fl_world_restart(w, i);
        } else if (w->nodes[i].paused) {
            fl_world_resume(w, i);
        }
    }
    if (w->outside_core)
        fl_net_add_filter(w->net, cut_off, w);
}

FlWorld *fl_world_new(const FlScenario *sc, const FlWorldOptions *opt, GError **err)
{
    FlWorld *w = g_new0(FlWorld, 1);
    w->sc = sc;
    w->sched = fl_sched_new();
    w->nnodes = sc->nodes;
    w->nclients = sc->workload.model ? sc->workload.clients : 0;
    if ((opt && opt->explore) || sc->schedule) {
        /* Explore mode (choice.c): the bounded workload's clients. */
        w->nclients = sc->workload.model ? sc->explore.clients : 0;
        w->ex = g_new0(Explore, 1);
        w->ex->msgs = g_array_new(FALSE, FALSE, sizeof(ExMsg));
        w->ex->timers = g_array_new(FALSE, FALSE, sizeof(ExTimer));
        w->ex->ops = g_new0(uint32_t, w->nclients ? w->nclients : 1);
        w->ex->clock = g_new0(FlTime, sc->nodes ? sc->nodes : 1);
    }
    w->net = fl_net_new(&sc->net, w->nnodes + w->nclients, sc->seed);
    fl_trace_init(&w->trace);
    w->trace.cov = opt ? opt->coverage : NULL;
    w->end = (FlTime)sc->duration;
    w->leader = FL_NO_HINT;
    w->record_history = opt ? opt->record_history : true;
    w->history = g_string_sized_new(1 << 16);
    w->history_index = g_array_sized_new(FALSE, FALSE, sizeof(FlHistoryEvent), 1024);
    w->stats.latencies = g_array_new(FALSE, FALSE, sizeof(FlDuration));
    w->stats.services = g_array_new(FALSE, FALSE, sizeof(FlDuration));
    w->intervals = g_array_new(FALSE, TRUE, sizeof(Interval));
    w->sla_signals = g_array_new(FALSE, FALSE, sizeof(FlTime));
    w->sla_leaders = g_array_new(FALSE, FALSE, sizeof(FlSlaLeader));
    w->counters = g_tree_new_full(cmp_names, NULL, g_free, g_free);
    fl_rng_init(&w->workload_rng, sc->seed, "workload");
    fl_rng_init(&w->fault_rng, sc->seed, "faults");
    w->buggify = sc->buggify;
    fl_rng_init(&w->buggify_rng, sc->seed, "buggify");
    /* With BUGGIFY on, `buggify.fired` is in metrics.json even at 0, so a
     * bound on it is about a counter the run produces. */
    if (sc->buggify)
        g_tree_insert(w->counters, g_strdup("buggify.fired"), g_new0(double, 1));
    w->next_fault_index = sc->faults ? sc->faults->len : 0;
    w->hook_buf = g_byte_array_new();
    if (fl_channel_spec_on(&sc->channel)) {
        w->chan = fl_channel_new(&sc->channel, w->nnodes + w->nclients, sc->seed);
        w->wire_buf = g_byte_array_new();
        w->open_buf = g_byte_array_new();
        /* In metrics.json even at 0, so bounds on them read what the run did. */
        static const char *const names[] = { "net.auth_dropped", "net.replay_dropped",
                                             "net.malformed_dropped" };
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
            g_tree_insert(w->counters, g_strdup(names[i]), g_new0(double, 1));
    }
    if (sc->resources.on && !w->ex)
        w->res = resources_new(sc, w->nnodes, w->nnodes + w->nclients);
    if (opt && opt->series_window > 0 && !w->ex)
        w->series = fl_series_new(fl_series_fit(opt->series_window, w->end), w->end, w->nnodes,
                                  w->nnodes + w->nclients);

    if (opt && opt->trace_path && !fl_trace_open(&w->trace, opt->trace_path)) {
        g_set_error(err, FL_ERROR, FL_ERROR_RUN, "%s: cannot write: %s", opt->trace_path,
                    g_strerror(errno));
        fl_world_free(w);
        return NULL;
    }

    w->nodes = g_new0(FlNode, w->nnodes);
    for (uint32_t i = 0; i < w->nnodes; i++) {
        FlNode *n = &w->nodes[i];
        n->w = w;
        n->id = i;
        n->proto = sc->protocol;
        n->disk = fl_disk_new();
        n->clock_offset = sc->skew ? sc->skew[i] : 0;
        n->drift = sc->drift ? sc->drift[i] : 0;
        n->down_since = FL_TIME_NEVER;
        char name[32];
        g_snprintf(name, sizeof name, "node/%u", i);
        fl_rng_init(&n->rng, sc->seed, name);
    }
    for (uint32_t i = 0; i < w->nnodes; i++)
        fl_node_start(w, &w->nodes[i], false);
    fl_clients_init(w);
    for (guint i = 0; !w->ex && sc->faults && i < sc->faults->len; i++) {
        FlFault *f = g_ptr_array_index(sc->faults, i);
        f->started = f->stopped = false;
        if (f->at <= w->end)
            fl_world_at(w, f->at, fault_start_cb, f, 0);
    }
    w->heal_at = FL_TIME_NEVER;
    if (w->ex) {
        /* Explore mode judges safety only: nothing heals by time. */
    } else if (sc->expect.liveness) {
        w->heal_at = (FlTime)sc->expect.live_after;
        fl_world_at(w, w->heal_at, heal_all, NULL, 0);
    } else if (sc->expect.live_mode == FL_LIVE_DEFAULT) {
        /* The default claim heals nothing: the faults end on their own
         * schedule, and only the clients' ok answers after it are counted,
         * so the run (and its trace hash) is the one it would be without
         * the claim. */
        w->heal_at = (FlTime)sc->expect.live_after;
    }
    w->stats.live_first_ok = FL_TIME_NEVER;
    if (w->stopping) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s", w->refusal);
        fl_world_free(w);
        return NULL;
    }
    return w;
}

void fl_world_refuse(FlWorld *w, const char *fmt, ...)
{
    if (w->stopping)
        return;
    va_list ap;
    va_start(ap, fmt);
    w->refusal = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    w->stopping = true;
}

static void free_event_data(FlWorld *w, FlEvent *ev)
{
    if (ev->kind == EV_DELIVER)
        fl_world_buf_free(w, ev->data, ev->a);
    else if (ev->kind == EV_SERVE || ev->kind == EV_DEPART)   /* a: length, incarnation << 32 (note 5) */
        fl_world_buf_free(w, ev->data, (uint32_t)ev->a);
    else if (ev->kind == EV_CALL)
        g_free(ev->data);
}

static void hold(FlNode *n, FlEventId id, const FlEvent *ev)
{
    if (!n->held)
        n->held = g_array_new(FALSE, FALSE, sizeof(Held));
    Held h = { id, *ev };
    g_array_append_val(n->held, h);
}

/* Drops what a node had parked (it crashed, or the run ends). */
static void drop_held(FlWorld *w, FlNode *n)
{
    for (guint k = 0; n->held && k < n->held->len; k++) {
        Held *h = &g_array_index(n->held, Held, k);
        free_event_data(w, &h->ev);
        fl_sched_release(w->sched, h->id);
    }
    if (n->held)
        g_array_set_size(n->held, 0);
}

void fl_world_free(FlWorld *w)
{
    if (!w)
        return;
    FlTime at;
    FlEvent ev;
    while (fl_sched_pop(w->sched, &at, &ev))
        free_event_data(w, &ev);
    for (uint32_t i = 0; w->nodes && i < w->nnodes; i++) {
        FlNode *n = &w->nodes[i];
        if (n->up)
            fl_node_stop(w, n);
        drop_held(w, n);
        if (n->held)
            g_array_free(n->held, TRUE);
        fl_disk_free(n->disk);
    }
    g_free(w->nodes);
    fl_clients_free(w);
    for (guint i = 0; i < w->intervals->len; i++) {
        Interval *iv = &g_array_index(w->intervals, Interval, i);
        g_free(iv->kind);
        g_free(iv->text);
    }
    g_array_free(w->intervals, TRUE);
    g_array_free(w->sla_signals, TRUE);
    g_array_free(w->sla_leaders, TRUE);
    g_tree_destroy(w->counters);
    g_array_free(w->stats.latencies, TRUE);
    g_array_free(w->stats.services, TRUE);
    resources_free(w);
    fl_series_free(w->series);
    g_string_free(w->history, TRUE);
    g_array_unref(w->history_index);
    g_byte_array_unref(w->hook_buf);
    fl_channel_free(w->chan);
    if (w->wire_buf)
        g_byte_array_unref(w->wire_buf);
    if (w->open_buf)
        g_byte_array_unref(w->open_buf);
    if (w->wire_hooks)
        g_array_free(w->wire_hooks, TRUE);
    if (w->event_hooks)
        g_array_free(w->event_hooks, TRUE);
    g_free(w->refusal);
    fl_fd_book_free(w);
    fl_explore_free(w);
    fl_trace_close(&w->trace);
    if (w->buf_slabs)
        g_ptr_array_free(w->buf_slabs, TRUE);
    fl_net_free(w->net);
    fl_sched_free(w->sched);
    g_free(w->outside_core);
    g_free(w);
}

/* Note 8: opens the wire bytes of @ev into w->open_buf; false (the
 * message dropped, traced and counted) when the channel refuses them. */
static bool unwire(FlWorld *w, const FlEvent *ev, const uint8_t **msg, size_t *len)
{
    FlChannelVerdict v = fl_channel_open(w->chan, ev->peer, ev->node, ev->data, ev->a, w->open_buf);
    if (v == FL_CHANNEL_OK) {
        *msg = w->open_buf->data;
        *len = w->open_buf->len;
        return true;
    }
    const char *why = v == FL_CHANNEL_AUTH ? "auth" : v == FL_CHANNEL_REPLAY ? "replay" : "malformed";
    char counter[32];
    g_snprintf(counter, sizeof counter, "net.%s_dropped", why);
    fl_world_count(w, counter, 1);
    w->stats.dropped++;
    fl_trace(&w->trace, FL_TR_DROP, w->now, ev->node, ev->peer, ev->a, ev->b, why);
    return false;
}

void fl_world_deliver(FlWorld *w, FlEvent *ev)
{
    uint32_t to = ev->node, from = ev->peer;
    const uint8_t *msg = ev->data;
    size_t len = ev->a;
    if (G_UNLIKELY(w->chan != NULL) && (to >= w->nnodes || w->nodes[to].up) &&
        !unwire(w, ev, &msg, &len)) {
        /* fall through to the free below */
    } else if (to >= w->nnodes) {
        w->stats.delivered++;
        fl_trace(&w->trace, FL_TR_DELIVER, w->now, to, from, ev->a, ev->b, NULL);
        fl_client_deliver(w, to - w->nnodes, from, msg, len);
    } else if (!w->nodes[to].up) {
        w->stats.dropped++;
        fl_trace(&w->trace, FL_TR_DROP, w->now, to, from, ev->a, ev->b, "down");
    } else {
        w->stats.delivered++;
        if (w->trace.out)
            fl_trace(&w->trace, FL_TR_DELIVER, w->now, to, from, ev->a, ev->b, NULL);
        else
            fl_trace_fast(&w->trace, FL_TR_DELIVER, w->now, to, from, ev->a, ev->b);
        if (w->trace.cov)
            fl_coverage_message(w->trace.cov, FL_TR_DELIVER, to, from, msg, len);
        fl_node_deliver(w, &w->nodes[to], from, msg, len);
    }
    fl_world_buf_free(w, ev->data, ev->a);
}

/* A world in explore mode runs the scenario's explicit schedule, choice
 * by choice, then ends (a schedule a search wrote replays exactly). */
static int run_schedule(FlWorld *w, GError **err)
{
    const GArray *s = w->sc->schedule;
    for (guint i = 0; s && i < s->len; i++) {
        const FlChoice *c = &g_array_index(s, FlChoice, i);
        if (w->stopping)
            break;
        if (fl_world_choose(w, c) != 0) {
            char buf[FL_CHOICE_TEXT];
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT,
                        "%s: /schedule/%u: \"%s\" is not enabled after the choices before it "
                        "(a schedule replays only on the scenario, seed and bounds it was "
                        "found with)", w->sc->file ? w->sc->file : w->sc->name, i,
                        fl_choice_text(c, buf));
            return -1;
        }
        g_autoptr(GString) why = g_string_new(NULL);
        if (!w->ex->broken && !fl_world_invariant(w, why)) {
            w->ex->broken = g_string_free(g_steal_pointer(&why), FALSE);
            w->ex->broken_at = i + 1;
            g_autofree char *line = g_strconcat("invariant broken: ", w->ex->broken, NULL);
            fl_trace(&w->trace, FL_TR_LOG, w->now, 0, 0, 0, 0, line);
        }
    }
    return fl_world_finish(w, err);
}

/* Closes the series' windows that end by @at (all of them when @last):
 * what the world holds at each window's end is sampled before the first
 * event at or after it runs, so nothing is scheduled for it and the run's
 * events and trace stay those of a run without a series. */
static void series_advance(FlWorld *w, FlTime at, bool last)
{
    FlSeries *s = w->series;
    FlDuration win = fl_series_window(s);
    uint32_t n = fl_series_count(win, w->end);
    FlTime t0, t1;
    /* Called before every event: most find the current window still open. */
    if (!last) {
        uint32_t k = fl_series_closed(s);
        if (k + 1 >= n)
            return;
        fl_series_bounds(win, w->end, k, &t0, &t1);
        if (at < t1)
            return;
    }
    g_autofree uint32_t *queue = w->res && w->res->cpu ? g_new0(uint32_t, w->nnodes) : NULL;
    g_autofree uint64_t *synced = g_new0(uint64_t, w->nnodes ? w->nnodes : 1);
    for (uint32_t k = fl_series_closed(s); k < n; k++) {
        fl_series_bounds(win, w->end, k, &t0, &t1);
        if (!last && (k + 1 == n || at < t1))
            break;
        for (uint32_t i = 0; i < w->nnodes; i++) {
            FlNode *node = &w->nodes[i];
            /* A node restarted since its CPU last queued has an empty
             * queue (note 5), which its ring learns only at the next
             * message. */
            if (queue && node->up && w->res->cpu_incarnation[i] == node->incarnation)
                queue[i] = fl_server_backlog(&w->res->cpu[i], t1);
            else if (queue)
                queue[i] = 0;
            synced[i] = fl_disk_synced_bytes(node->disk);
        }
        fl_series_close(s, k, queue, synced, fl_world_counters(w));
    }
}

struct FlSeries *fl_world_take_series(FlWorld *w)
{
    FlSeries *s = w->series;
    w->series = NULL;
    return s;
}

int fl_world_run(FlWorld *w, GError **err)
{
    FlTime at;
    FlEvent ev;
    FlEventId id;
    uint64_t limit = w->sc->max_events;
    if (w->ex)
        return run_schedule(w, err);
    while ((id = fl_sched_take(w->sched, &at, &ev)) != 0) {
        if (at > w->end) {
            free_event_data(w, &ev);
            fl_sched_release(w->sched, id);
            break;
        }
        if (G_UNLIKELY(w->series != NULL))
            series_advance(w, at, false);
        w->now = at;
        if (w->stopping) {
            free_event_data(w, &ev);
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s", w->refusal);
            return -1;
        }
        if (++w->stats.events > limit) {
            free_event_data(w, &ev);
            fl_sched_release(w->sched, id);
            g_set_error(err, FL_ERROR, FL_ERROR_RUN,
                        "%s: $.max_events: the run passed its limit of %" G_GUINT64_FORMAT
                        " events at t=%" G_GUINT64_FORMAT "ns (raise max_events)",
                        w->sc->file ? w->sc->file : w->sc->name, limit, at);
            return -1;
        }
        /* A run that could never finish (a parameter asking for a timer
         * every nanosecond, say) says so at once, not after hours: from a
         * million events on, it stops once its pace projects past the
         * limit. */
        if ((w->stats.events & 0xffff) == 0 && w->stats.events >= (1u << 20) &&
            w->sc->pace_guard && at > 0 &&
            (double)w->stats.events * ((double)w->end / (double)at) > (double)limit) {
            free_event_data(w, &ev);
            fl_sched_release(w->sched, id);
            char a[32], b[32];
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT,
                        "%s: the run would need about %.3g events to reach its duration of %s "
                        "(%" G_GUINT64_FORMAT " events by t=%s), more than max_events (%"
                        G_GUINT64_FORMAT "): some parameter asks for more work than a "
                        "simulation can do (a period of a few nanoseconds?); raise max_events "
                        "to run it anyway", w->sc->file ? w->sc->file : w->sc->name,
                        (double)w->stats.events * ((double)w->end / (double)at),
                        fl_duration_format((FlDuration)w->end, a), w->stats.events,
                        fl_duration_format((FlDuration)at, b), limit);
            return -1;
        }
        FlNode *n = ev.node < w->nnodes ? &w->nodes[ev.node] : NULL;
        switch (ev.kind) {
        case EV_DELIVER:
            if (n && n->up && n->paused) {
                hold(n, id, &ev);
                continue;   /* parked: keeps its slot */
            }
            if (G_UNLIKELY(w->res != NULL) && n && n->up && w->res->cpu) {
                cpu_enqueue(w, &ev);   /* note 5: the handler runs when served */
                break;
            }
            fl_world_deliver(w, &ev);
            break;
        case EV_SERVE:
            if (n->up && n->paused) {
                hold(n, id, &ev);
                continue;
            }
            if (!n->up || ev.a >> 32 != n->incarnation) {
                /* Queued in a process that crashed since (note 5). */
                w->stats.dropped++;
                fl_trace(&w->trace, FL_TR_DROP, w->now, ev.node, ev.peer, (uint32_t)ev.a, ev.b,
                         "down");
                free_event_data(w, &ev);
                break;
            }
            ev.a = (uint32_t)ev.a;
            ev.kind = EV_DELIVER;
            fl_world_deliver(w, &ev);
            break;
        case EV_DEPART:
            if (n->up && n->paused) {
                hold(n, id, &ev);
                continue;
            }
            if (!n->up || ev.a >> 32 != n->incarnation) {
                /* The sender crashed before its sync ended (note 5). */
                w->stats.dropped++;
                fl_trace(&w->trace, FL_TR_DROP, w->now, ev.peer, ev.node, (uint32_t)ev.a, ev.b,
                         "sender crashed in sync");
            } else
                route(w, ev.node, ev.peer, ev.data, (uint32_t)ev.a, ev.b);
            free_event_data(w, &ev);
            break;
        case EV_TIMER:
            if (!n->up || ev.b != n->incarnation)
                break;
            if (n->paused) {
                hold(n, id, &ev);
                continue;
            }
            fl_node_timer(w, n, id, ev.a);
            break;
        case EV_CLIENT:
            fl_client_event(w, ev.node, ev.a, ev.b);
            break;
        case EV_CALL: {
            Call *c = ev.data;
            c->fn(w, c->ctx, c->arg);
            g_free(c);
            break;
        }
        default:
            g_assert_not_reached();
        }
        fl_sched_release(w->sched, id);
    }
    if (w->now < w->end)
        w->now = w->end;
    if (w->series)
        series_advance(w, w->end, true);
    return fl_world_close(w, err);
}

int fl_world_close(FlWorld *w, GError **err)
{
    if (w->stopping) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s", w->refusal);
        return -1;
    }
    w->stats.end = w->end;
    fl_fd_book_finish(w);
    fl_trace(&w->trace, FL_TR_END, w->end, 0, 0, w->stats.events, 0, NULL);
    if (!fl_trace_close(&w->trace)) {
        g_set_error(err, FL_ERROR, FL_ERROR_RUN, "cannot write the trace: %s",
                    g_strerror(errno));
        return -1;
    }
    return 0;
}

uint64_t fl_world_trace_hash(const FlWorld *w) { return w->trace.hash; }
const FlRunStats *fl_world_stats(const FlWorld *w) { return &w->stats; }
size_t fl_world_sched_bytes(const FlWorld *w) { return fl_sched_bytes(w->sched); }
const GString *fl_world_history(const FlWorld *w) { return w->history; }

GString *fl_world_take_history(FlWorld *w)
{
    GString *h = w->history;
    w->history = g_string_new(NULL);
    return h;
}

GArray *fl_world_take_history_index(FlWorld *w)
{
    GArray *x = w->history_index;
    w->history_index = g_array_new(FALSE, FALSE, sizeof(FlHistoryEvent));
    return x;
}
FlTime fl_world_now(const FlWorld *w) { return w->now; }
uint32_t fl_world_nodes(const FlWorld *w) { return w->nnodes; }
const FlScenario *fl_world_scenario(const FlWorld *w) { return w->sc; }
FlNet *fl_world_net(FlWorld *w) { return w->net; }
FlRng *fl_world_fault_rng(FlWorld *w) { return &w->fault_rng; }
FlDisk *fl_world_disk(FlWorld *w, uint32_t node) { return w->nodes[node].disk; }

bool fl_world_node_up(const FlWorld *w, uint32_t node)
{
    return node < w->nnodes && w->nodes[node].up;
}

bool fl_world_node_paused(const FlWorld *w, uint32_t node)
{
    return node < w->nnodes && w->nodes[node].paused;
}

const char *fl_world_role(const FlWorld *w, uint32_t node)
{
    return w->nodes[node].role;
}

void fl_world_crash(FlWorld *w, uint32_t node)
{
    g_assert(node < w->nnodes);
    FlNode *n = &w->nodes[node];
    if (!n->up)
        return;
    fl_trace(&w->trace, FL_TR_CRASH, w->now, node, 0, 0, 0, NULL);
    fl_node_stop(w, n);
    /* A crash also ends a pause: what waited for the node is lost with it. */
    drop_held(w, n);
    n->paused = false;
    fl_disk_crash(n->disk);
    if (w->leader == node)
        fl_world_set_leader(w, FL_NO_HINT);
    if (w->ex)
        fl_explore_crashed(w, node);
    n->down_since = w->now;
    fl_fd_book_crash(w, node);
}

void fl_world_restart(FlWorld *w, uint32_t node)
{
    g_assert(node < w->nnodes);
    FlNode *n = &w->nodes[node];
    if (n->up)
        return;
    fl_trace(&w->trace, FL_TR_RESTART, w->now, node, 0, 0, 0, NULL);
    n->down_since = FL_TIME_NEVER;
    fl_fd_book_restart(w, node);
    fl_node_start(w, n, true);
}

void fl_world_pause(FlWorld *w, uint32_t node)
{
    FlNode *n = &w->nodes[node];
    if (!n->up || n->paused)
        return;
    n->paused = true;
    fl_trace(&w->trace, FL_TR_PAUSE, w->now, node, 0, 0, 0, NULL);
}

void fl_world_resume(FlWorld *w, uint32_t node)
{
    FlNode *n = &w->nodes[node];
    if (!n->paused)
        return;
    n->paused = false;
    fl_trace(&w->trace, FL_TR_RESUME, w->now, node, 0, 0, 0, NULL);
    /* What waited runs now, in the order it was due, under its own id. */
    for (guint k = 0; n->held && k < n->held->len; k++)
        fl_sched_repush(w->sched, g_array_index(n->held, Held, k).id, w->now);
    if (n->held)
        g_array_set_size(n->held, 0);
}

void fl_world_set_clock(FlWorld *w, uint32_t node, FlDuration jump, double drift)
{
    FlNode *n = &w->nodes[node];
    /* Keep local time continuous at `now` under the new rate, then jump. */
    FlTime local = fl_node_local(n, w->now);
    n->drift = drift;
    n->clock_offset = (int64_t)local - (int64_t)(w->now + (int64_t)((double)w->now * drift)) + jump;
}

FlTime fl_world_local_time(const FlWorld *w, uint32_t node)
{
    return fl_node_local(&w->nodes[node], w->now);
}

double fl_world_clock_drift(const FlWorld *w, uint32_t node)
{
    return w->nodes[node].drift;
}

uint32_t fl_world_new_fault_index(FlWorld *w)
{
    return w->next_fault_index++;
}

void fl_world_set_send_hook(FlWorld *w, uint32_t node, FlWorldSendHook fn, void *ctx)
{
    g_assert(node < w->nnodes);
    w->nodes[node].send_hook = fn;
    w->nodes[node].send_hook_ctx = fn ? ctx : NULL;
}

void fl_world_inject(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len)
{
    g_assert(from < w->nnodes && to < w->nnodes);
    if (!w->nodes[from].up || len > FL_MAX_MESSAGE)
        return;
    fl_world_send(w, from, to, msg, len);
}

size_t fl_world_lie(FlWorld *w, uint32_t node, uint32_t to, uint8_t *msg, size_t len,
                    size_t cap)
{
    FlNode *n = &w->nodes[node];
    if (!n->up || !n->proto->lie)
        return 0;
    size_t r = n->proto->lie(n, n->state, to, msg, len, cap);
    return r <= cap ? r : 0;
}

bool fl_world_reseal(FlWorld *w, uint32_t node, uint32_t to, uint8_t *msg, size_t len)
{
    g_assert(node < w->nnodes);
    FlNode *n = &w->nodes[node];
    if (!n->up || !n->proto->reseal)
        return false;
    return n->proto->reseal(n, n->state, to, msg, len);
}

/* The stream the role selectors choose with: the faults' own, derived from
 * the seed, the instant and the selector rather than taken from the shared
 * fault stream.  A role selector is resolved when its fault starts, often
 * in a fault the nemesis drew: replayed from the explicit schedule (which
 * no longer draws the schedule first) or with another fault shrunk away,
 * the shared stream would be elsewhere and the same selector would pick
 * another node.  (The older selectors, "random", "minority", "majority",
 * keep the shared stream, so existing scenarios run as before.) */
static void select_rng(FlWorld *w, const FlSelector *sel, FlRng *rng)
{
    char buf[FL_SELECTOR_TEXT];
    g_autofree char *name = g_strdup_printf("faults select %s at %" G_GUINT64_FORMAT,
                                            fl_selector_text(sel, buf), (guint64)w->now);
    fl_rng_init(rng, w->sc->seed, name);
}

/* Moves @k of the @len ids in @pool (ascending) into @chosen: a partial
 * Fisher-Yates shuffle over a sorted pool, so the draw depends on @rng
 * alone. */
static void draw_some(FlRng *rng, uint32_t *pool, uint32_t len, uint32_t k, bool *chosen)
{
    for (uint32_t i = 0; i < k && i < len; i++) {
        uint32_t j = i + (uint32_t)fl_rng_below(rng, len - i);
        uint32_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
        chosen[pool[i]] = true;
    }
}

/* role:NAME picks one live holder of the role; role:* first draws a role
 * among those live nodes hold (sorted by name), then a holder, so that a
 * rare role (the one leader, the tail) is aimed at as often as a common
 * one (the followers). */
static void select_role(FlWorld *w, FlRng *rng, const char *role, GArray *ids)
{
    uint32_t n = w->nnodes;
    g_autofree uint32_t *holders = g_new(uint32_t, n);
    uint32_t count = 0;
    const char *want = role;
    if (strcmp(role, "*") == 0) {
        g_autofree const char **roles = g_new0(const char *, n);
        uint32_t nroles = 0;
        for (uint32_t i = 0; i < n; i++) {
            const char *r = w->nodes[i].role;
            if (!w->nodes[i].up || !r[0])
                continue;
            uint32_t at = 0;
            while (at < nroles && strcmp(roles[at], r) < 0)
                at++;
            if (at < nroles && strcmp(roles[at], r) == 0)
                continue;
            memmove(roles + at + 1, roles + at, (nroles - at) * sizeof *roles);
            roles[at] = r;
            nroles++;
        }
        if (nroles == 0)
            return;
        want = roles[fl_rng_below(rng, nroles)];
    }
    for (uint32_t i = 0; i < n; i++)
        if (w->nodes[i].up && strcmp(w->nodes[i].role, want) == 0)
            holders[count++] = i;
    if (count > 0)
        g_array_append_val(ids, holders[fl_rng_below(rng, count)]);
}

void fl_world_select(FlWorld *w, const FlSelector *sel, GArray *ids)
{
    uint32_t n = w->nnodes, k;
    bool has_leader = w->leader != FL_NO_HINT && w->nodes[w->leader].up;
    uint32_t leader = w->leader;
    FlRng rng;
    bool aims_leader = sel->kind == FL_SEL_LEADER || sel->kind == FL_SEL_LEADER_PLUS ||
                       sel->kind == FL_SEL_MINORITY_LEADER;
    if (sel->kind == FL_SEL_ROLE || aims_leader)
        select_rng(w, sel, &rng);
    if (aims_leader && !w->leader_seen) {
        /* Note 8: a leaderless protocol; a stand-in pivot. */
        g_autoptr(GArray) pivot = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        select_role(w, &rng, "*", pivot);
        if (pivot->len) {
            leader = g_array_index(pivot, uint32_t, 0);
            has_leader = true;
        }
    }
    switch (sel->kind) {
    case FL_SEL_ID:
        g_array_append_val(ids, sel->id);
        break;
    case FL_SEL_LEADER:
        if (has_leader)
            g_array_append_val(ids, leader);
        break;
    case FL_SEL_RANDOM:
        k = (uint32_t)fl_rng_below(&w->fault_rng, n);
        g_array_append_val(ids, k);
        break;
    case FL_SEL_ALL:
        for (k = 0; k < n; k++)
            g_array_append_val(ids, k);
        break;
    case FL_SEL_MINORITY:
    case FL_SEL_MAJORITY: {
        /* A random subset: a minority is (n-1)/2 nodes, a majority n/2+1. */
        uint32_t want = sel->kind == FL_SEL_MINORITY ? (n - 1) / 2 : n / 2 + 1;
        g_autofree uint32_t *perm = g_new(uint32_t, n);
        for (k = 0; k < n; k++)
            perm[k] = k;
        for (k = n; k > 1; k--) {
            uint32_t j = (uint32_t)fl_rng_below(&w->fault_rng, k);
            uint32_t t = perm[k - 1];
            perm[k - 1] = perm[j];
            perm[j] = t;
        }
        bool *in = g_new0(bool, n);
        for (k = 0; k < want; k++)
            in[perm[k]] = true;
        for (k = 0; k < n; k++)
            if (in[k])
                g_array_append_val(ids, k);
        g_free(in);
        break;
    }
    case FL_SEL_ROLE:
        select_role(w, &rng, g_quark_to_string(sel->id), ids);
        break;
    case FL_SEL_LEADER_PLUS:
    case FL_SEL_MINORITY_LEADER: {
        /* The others are drawn from every other node, down or not, as
         * "minority" draws: the set is a shape (the side of a partition
         * that holds the leader), and a crash simply skips a node that is
         * down already.  No leader, no set. */
        if (!has_leader)
            break;
        uint32_t others = sel->kind == FL_SEL_LEADER_PLUS ? sel->id
                          : (n - 1) / 2 > 0 ? (n - 1) / 2 - 1 : 0;
        g_autofree uint32_t *pool = g_new(uint32_t, n);
        g_autofree bool *in = g_new0(bool, n);
        uint32_t len = 0;
        for (k = 0; k < n; k++)
            if (k != leader)
                pool[len++] = k;
        in[leader] = true;
        draw_some(&rng, pool, len, others, in);
        for (k = 0; k < n; k++)
            if (in[k])
                g_array_append_val(ids, k);
        break;
    }
    case FL_SEL_LAST_ROLE: {
        /* The live node whose role changed most recently: a new leader in
         * its first moments, a candidate mid-election.  Sequence numbers are
         * unique, so there is no tie to break. */
        uint64_t best = 0;
        uint32_t who = 0;
        for (k = 0; k < n; k++) {
            if (w->nodes[k].up && w->nodes[k].role_seq > best) {
                best = w->nodes[k].role_seq;
                who = k;
            }
        }
        if (best > 0)
            g_array_append_val(ids, who);
        break;
    }
    }
}

void fl_world_fault_event(FlWorld *w, uint32_t fault_index, const char *kind,
                          const char *what, const char *text)
{
    g_autofree char *line = g_strdup_printf("%s %s%s%s", what, kind, text ? " " : "",
                                            text ? text : "");
    fl_trace(&w->trace, FL_TR_FAULT, w->now, 0, 0, fault_index, 0, line);
    if (strcmp(what, "start") == 0) {
        Interval iv = { fault_index, g_strdup(kind), g_strdup(text ? text : ""), w->now,
                        FL_TIME_NEVER };
        g_array_append_val(w->intervals, iv);
    } else if (strcmp(what, "stop") == 0) {
        for (guint i = w->intervals->len; i-- > 0;) {
            Interval *iv = &g_array_index(w->intervals, Interval, i);
            if (iv->fault == fault_index && iv->stop == FL_TIME_NEVER) {
                iv->stop = w->now;
                break;
            }
        }
    }
}

json_t *fl_world_fault_intervals(const FlWorld *w)
{
    json_t *a = json_array();
    for (guint i = 0; i < w->intervals->len; i++) {
        const Interval *iv = &g_array_index(w->intervals, Interval, i);
        FlTime stop = iv->stop == FL_TIME_NEVER ? w->end : iv->stop;
        json_array_append_new(a, json_pack("{s:i,s:s,s:s,s:I,s:I}", "fault", (int)iv->fault,
                                           "kind", iv->kind, "what", iv->text, "start",
                                           (json_int_t)iv->start, "stop", (json_int_t)stop));
    }
    return a;
}

static gboolean add_counter(gpointer key, gpointer value, gpointer data)
{
    json_object_set_new(data, key, json_real(*(double *)value));
    return FALSE;
}

json_t *fl_world_counters(const FlWorld *w)
{
    json_t *o = json_object();
    g_tree_foreach(w->counters, add_counter, o);
    return o;
}

/* ---- Protocol-event hooks (note 4) ------------------------------------- */

typedef struct EventHook {
    FlWorldEventHook fn;
    void *ctx;
} EventHook;

void fl_world_add_event_hook(FlWorld *w, FlWorldEventHook fn, void *ctx)
{
    if (!w->event_hooks)
        w->event_hooks = g_array_new(FALSE, FALSE, sizeof(EventHook));
    EventHook h = { fn, ctx };
    g_array_append_val(w->event_hooks, h);
}

void fl_world_remove_event_hook(FlWorld *w, FlWorldEventHook fn, void *ctx)
{
    for (guint i = 0; w->event_hooks && i < w->event_hooks->len; i++) {
        EventHook *h = &g_array_index(w->event_hooks, EventHook, i);
        if (h->fn == fn && h->ctx == ctx) {
            g_array_remove_index(w->event_hooks, i);
            break;
        }
    }
    /* No hooks left: the hot paths go back to one NULL test. */
    if (w->event_hooks && w->event_hooks->len == 0) {
        g_array_free(w->event_hooks, TRUE);
        w->event_hooks = NULL;
    }
}

void fl_world_proto_event(FlWorld *w, const FlProtoEvent *ev)
{
    /* By index, and re-reading the length: a hook may remove itself. */
    for (guint i = 0; w->event_hooks && i < w->event_hooks->len; i++) {
        EventHook h = g_array_index(w->event_hooks, EventHook, i);
        h.fn(w, h.ctx, ev);
        if (w->event_hooks && i < w->event_hooks->len &&
            (g_array_index(w->event_hooks, EventHook, i).fn != h.fn ||
             g_array_index(w->event_hooks, EventHook, i).ctx != h.ctx))
            i--;   /* it removed itself: the next one moved into its slot */
    }
}

void fl_world_crash_at_return(FlWorld *w, uint32_t node)
{
    g_assert(node < w->nnodes);
    FlNode *n = &w->nodes[node];
    if (!n->up)
        return;
    if (w->running == n)
        n->crash_pending = true;
    else
        fl_world_crash(w, node);
}

const char *fl_world_msg_kind(const FlWorld *w, uint32_t node, const uint8_t *msg, size_t len)
{
    const FlProtocol *p = w->nodes[node].proto;
    return p->msg_kind ? p->msg_kind(msg, len) : NULL;
}
