/* Explore mode: the world's choice points (sim/world.h, "Explore mode").
 *
 * Design notes.
 * 1. In explore mode nothing enters the event queue: a message sent joins
 *    `ex->msgs`, a timer armed joins `ex->timers`, each under an id that
 *    counts from 1 in the order they were made.  Since a run is a function
 *    of its choices, the same schedule gives the same ids, so a schedule
 *    can name what it chooses ("deliver m7") and replay exactly.
 * 2. Both lists stay sorted by id: appends come in id order and removals
 *    keep the order (g_array_remove_index), so enumerating them is
 *    deterministic, with no hash table and no address in sight.
 * 3. Each node has its own clock, which only its own steps move: a
 *    delivery or restart there by STEP, a timer firing by STEP or to when
 *    it was due if that is later.  So protocol code that compares local
 *    times (a lease, an election timeout counted by ticks, pre-vote's
 *    "heard from a leader lately") sees time pass as its timers fire, and
 *    what one node reads on its clock never depends on steps elsewhere,
 *    which is what lets steps at different nodes commute (note 5): the
 *    asynchronous model, where clocks are not synchronized.  The world's
 *    time (for the trace and the history) moves by STEP per choice, and to
 *    a node's clock when a timer moves that past it.  The digest leaves
 *    time out (note 4), which is what abstracting timing means.
 * 4. The digest hashes what decides the future and nothing that only
 *    names or dates it: protocol digests, durable disks, in-flight
 *    messages by content (a multiset: sorted hashes), per-node counts of
 *    armed timers (what they are for is in the protocol's digest), budgets
 *    spent, and clients' progress with their history lines cut before
 *    "time".
 * 5. Footprints (partial-order reduction).  A delivery or a timer runs
 *    only its receiver's handler, whose effects are its own state and
 *    disk and messages added to the multiset in flight; an invocation and
 *    a client's answer touch only that client and the history.  So two
 *    choices at different nodes commute, up to what the digest leaves out:
 *    the ids of later messages and timers, and the world's time (note 3:
 *    what a node reads is its own clock, which steps elsewhere leave
 *    alone).  Choices that
 *    share a budget do not commute (one can disable the other), nor do
 *    two that write the history (the order of its lines is the real-time
 *    order the checkers read), nor two about the same message. */
#include "sim/world_impl.h"

#include <errno.h>
#include <string.h>

#define STEP FL_US(1)

void fl_explore_send(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len,
                     uint64_t hash)
{
    Explore *x = w->ex;
    ExMsg m = { .id = ++x->next_msg, .from = from, .to = to, .len = len, .hash = hash,
                .data = fl_world_buf_alloc(w, len) };
    if (len)
        memcpy(m.data, msg, len);
    g_array_append_val(x->msgs, m);
}

FlTimerId fl_explore_timer(FlWorld *w, uint32_t node, FlTime at, uint64_t tag)
{
    Explore *x = w->ex;
    ExTimer t = { .id = ++x->next_timer, .node = node, .tag = tag, .at = at };
    g_array_append_val(x->timers, t);
    return t.id;
}

static gint find_timer(const Explore *x, FlTimerId id)
{
    for (guint i = 0; i < x->timers->len; i++)
        if (g_array_index(x->timers, ExTimer, i).id == id)
            return (gint)i;
    return -1;
}

static gint find_msg(const Explore *x, uint64_t id)
{
    for (guint i = 0; i < x->msgs->len; i++)
        if (g_array_index(x->msgs, ExMsg, i).id == id)
            return (gint)i;
    return -1;
}

void fl_explore_timer_cancel(FlWorld *w, FlTimerId t)
{
    gint i = find_timer(w->ex, t);
    if (i >= 0)
        g_array_remove_index(w->ex->timers, (guint)i);
}

void fl_explore_crashed(FlWorld *w, uint32_t node)
{
    GArray *ts = w->ex->timers;
    for (guint i = ts->len; i-- > 0;)
        if (g_array_index(ts, ExTimer, i).node == node)
            g_array_remove_index(ts, i);
}

void fl_explore_free(FlWorld *w)
{
    Explore *x = w->ex;
    if (!x)
        return;
    for (guint i = 0; i < x->msgs->len; i++) {
        ExMsg *m = &g_array_index(x->msgs, ExMsg, i);
        fl_world_buf_free(w, m->data, m->len);
    }
    g_array_free(x->msgs, TRUE);
    g_array_free(x->timers, TRUE);
    g_free(x->ops);
    g_free(x->clock);
    g_free(x->broken);
    g_free(x);
    w->ex = NULL;
}

/* A message can arrive when its receiver is a client or a live node. */
static bool deliverable(const FlWorld *w, const ExMsg *m)
{
    return m->to >= w->nnodes || w->nodes[m->to].up;
}

static bool can_invoke(const FlWorld *w, uint32_t c)
{
    return !w->clients[c].busy && w->ex->ops[c] < w->sc->explore.ops;
}

static void add(GArray *out, uint32_t kind, uint64_t id)
{
    FlChoice c = { kind, id };
    g_array_append_val(out, c);
}

void fl_world_choices(FlWorld *w, GArray *out)
{
    Explore *x = w->ex;
    const FlExploreSpec *b = &w->sc->explore;
    g_assert(x);
    if (w->stopping)
        return;
    for (guint i = 0; i < x->msgs->len; i++) {
        const ExMsg *m = &g_array_index(x->msgs, ExMsg, i);
        if (deliverable(w, m))
            add(out, FL_CHOICE_DELIVER, m->id);
    }
    for (guint i = 0; i < x->timers->len; i++)
        add(out, FL_CHOICE_TIMER, g_array_index(x->timers, ExTimer, i).id);
    for (uint32_t c = 0; c < w->nclients; c++)
        if (can_invoke(w, c))
            add(out, FL_CHOICE_INVOKE, c);
    for (uint32_t i = 0; x->crashes < b->crashes && i < w->nnodes; i++)
        if (w->nodes[i].up)
            add(out, FL_CHOICE_CRASH, i);
    for (uint32_t i = 0; i < w->nnodes; i++)
        if (!w->nodes[i].up)
            add(out, FL_CHOICE_RESTART, i);
    for (guint i = 0; x->drops < b->drops && i < x->msgs->len; i++)
        add(out, FL_CHOICE_DROP, g_array_index(x->msgs, ExMsg, i).id);
    for (guint i = 0; x->duplicates < b->duplicates && i < x->msgs->len; i++)
        add(out, FL_CHOICE_DUPLICATE, g_array_index(x->msgs, ExMsg, i).id);
}

int fl_world_choose(FlWorld *w, const FlChoice *c)
{
    Explore *x = w->ex;
    const FlExploreSpec *b = &w->sc->explore;
    g_assert(x);
    if (w->stopping)
        return -1;
    gint i;
    switch (c->kind) {
    case FL_CHOICE_DELIVER:
    case FL_CHOICE_DROP:
    case FL_CHOICE_DUPLICATE: {
        i = find_msg(x, c->id);
        if (i < 0)
            return -1;
        ExMsg m = g_array_index(x->msgs, ExMsg, i);
        if ((c->kind == FL_CHOICE_DELIVER && !deliverable(w, &m)) ||
            (c->kind == FL_CHOICE_DROP && x->drops >= b->drops) ||
            (c->kind == FL_CHOICE_DUPLICATE && x->duplicates >= b->duplicates))
            return -1;
        w->now += STEP;
        if (c->kind == FL_CHOICE_DUPLICATE) {
            x->duplicates++;
            fl_trace(&w->trace, FL_TR_FAULT, w->now, m.to, m.from, m.len, m.hash,
                     "explore duplicate");
            fl_explore_send(w, m.from, m.to, m.data, m.len, m.hash);
            break;
        }
        g_array_remove_index(x->msgs, (guint)i);
        if (c->kind == FL_CHOICE_DROP) {
            x->drops++;
            w->stats.dropped++;
            fl_trace(&w->trace, FL_TR_DROP, w->now, m.to, m.from, m.len, m.hash, "explore");
            fl_world_buf_free(w, m.data, m.len);
            break;
        }
        if (m.to < w->nnodes)
            x->clock[m.to] += STEP;
        FlEvent ev = { .kind = EV_DELIVER, .node = m.to, .peer = m.from, .a = m.len,
                       .b = m.hash, .data = m.data };
        fl_world_deliver(w, &ev);
        break;
    }
    case FL_CHOICE_TIMER: {
        i = find_timer(x, c->id);
        if (i < 0)
            return -1;
        ExTimer t = g_array_index(x->timers, ExTimer, i);
        g_array_remove_index(x->timers, (guint)i);
        w->now += STEP;
        x->clock[t.node] += STEP;
        if (t.at > x->clock[t.node])
            x->clock[t.node] = t.at;
        if (x->clock[t.node] > w->now)
            w->now = x->clock[t.node];
        g_assert(w->nodes[t.node].up);   /* a crash removes its timers */
        fl_node_timer(w, &w->nodes[t.node], t.id, t.tag);
        break;
    }
    case FL_CHOICE_INVOKE:
        if (c->id >= w->nclients || !can_invoke(w, (uint32_t)c->id))
            return -1;
        w->now += STEP;
        x->ops[c->id]++;
        fl_client_invoke(w, (uint32_t)c->id);
        break;
    case FL_CHOICE_CRASH:
        if (c->id >= w->nnodes || !w->nodes[c->id].up || x->crashes >= b->crashes)
            return -1;
        w->now += STEP;
        x->crashes++;
        fl_world_crash(w, (uint32_t)c->id);
        break;
    case FL_CHOICE_RESTART:
        if (c->id >= w->nnodes || w->nodes[c->id].up)
            return -1;
        w->now += STEP;
        x->clock[c->id] += STEP;
        fl_world_restart(w, (uint32_t)c->id);
        break;
    default:
        return -1;
    }
    w->stats.events++;
    return 0;
}

static inline uint64_t key_of(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return fl_mix64(fl_mix64(fl_mix64(fl_mix64(a) ^ b) ^ c) ^ d);
}

/* Note 5: footprints for partial-order reduction. */
void fl_world_choice_footprint(FlWorld *w, const FlChoice *c, FlChoiceFootprint *f)
{
    Explore *x = w->ex;
    g_assert(x);
    memset(f, 0, sizeof *f);
    f->actor = FL_FOOT_NOBODY;
    gint i;
    switch (c->kind) {
    case FL_CHOICE_DELIVER:
    case FL_CHOICE_DROP:
    case FL_CHOICE_DUPLICATE: {
        i = find_msg(x, c->id);
        g_assert(i >= 0);
        const ExMsg *m = &g_array_index(x->msgs, ExMsg, i);
        f->key = key_of(c->kind, m->from, m->to, m->hash);
        f->msg = m->id;
        if (c->kind == FL_CHOICE_DELIVER) {
            f->actor = m->to;
            if (m->to >= w->nnodes)
                f->shared |= FL_FOOT_HISTORY;
        } else {
            f->shared |= c->kind == FL_CHOICE_DROP ? FL_FOOT_DROPS : FL_FOOT_DUPLICATES;
        }
        break;
    }
    case FL_CHOICE_TIMER: {
        i = find_timer(x, c->id);
        g_assert(i >= 0);
        const ExTimer *t = &g_array_index(x->timers, ExTimer, i);
        /* Two timers with one tag are told apart by how far ahead of the
         * node's clock they are due: firing either moves the clock. */
        f->key = key_of(c->kind, t->node, t->tag,
                        t->at > x->clock[t->node] ? t->at - x->clock[t->node] : 0);
        f->actor = t->node;
        break;
    }
    case FL_CHOICE_INVOKE:
        f->key = key_of(c->kind, c->id, 0, 0);
        f->actor = w->nnodes + (uint32_t)c->id;
        f->shared |= FL_FOOT_HISTORY;
        break;
    case FL_CHOICE_CRASH:
    case FL_CHOICE_RESTART:
        f->key = key_of(c->kind, c->id, 0, 0);
        f->actor = (uint32_t)c->id;
        if (c->kind == FL_CHOICE_CRASH)
            f->shared |= FL_FOOT_CRASHES;
        break;
    default:
        g_assert_not_reached();
    }
}

bool fl_choice_independent(const FlChoiceFootprint *a, const FlChoiceFootprint *b)
{
    if (a->actor != FL_FOOT_NOBODY && a->actor == b->actor)
        return false;
    if (a->msg && a->msg == b->msg)
        return false;
    return (a->shared & b->shared) == 0;
}

int fl_world_finish(FlWorld *w, GError **err)
{
    if (!w->stopping)
        w->end = w->now;
    return fl_world_close(w, err);
}

bool fl_world_has_digest(const FlWorld *w)
{
    return w->sc->protocol->digest != NULL;
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    return fl_mix64(h * 0x100000001b3ULL ^ v);
}

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t fl_world_digest(FlWorld *w)
{
    Explore *x = w->ex;
    g_assert(x);
    const FlProtocol *p = w->sc->protocol;
    uint64_t h = 0x6a09e667f3bcc908ULL;
    g_autofree uint32_t *timers = g_new0(uint32_t, w->nnodes);
    for (guint i = 0; i < x->timers->len; i++)
        timers[g_array_index(x->timers, ExTimer, i).node]++;
    for (uint32_t i = 0; i < w->nnodes; i++) {
        FlNode *n = &w->nodes[i];
        h = mix(h, n->up);
        if (n->up && p->digest)
            h = mix(h, p->digest(n->state));
        h = mix(h, timers[i]);
        for (guint f = 0; f < fl_disk_files(n->disk); f++) {
            GByteArray *d = fl_disk_durable(n->disk, f);
            h = mix(h, fl_trace_bytes_hash(d->data, d->len));
        }
    }
    g_autoptr(GArray) ms = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), x->msgs->len);
    for (guint i = 0; i < x->msgs->len; i++) {
        const ExMsg *m = &g_array_index(x->msgs, ExMsg, i);
        uint64_t v = mix(mix(m->from, m->to), m->hash);
        g_array_append_val(ms, v);
    }
    g_array_sort(ms, cmp_u64);
    h = mix(h, ms->len);
    for (guint i = 0; i < ms->len; i++)
        h = mix(h, g_array_index(ms, uint64_t, i));
    h = mix(mix(mix(h, x->crashes), x->drops), x->duplicates);
    for (uint32_t c = 0; c < w->nclients; c++) {
        const Client *cl = &w->clients[c];
        h = mix(mix(mix(h, cl->busy), x->ops[c]), cl->leader_guess);
        if (cl->busy)
            h = mix(mix(h, cl->target), cl->req.id);
    }
    /* The history without times (note 4): the line up to its value. */
    for (guint i = 0; i < w->history_index->len; i++) {
        const FlHistoryEvent *e = &g_array_index(w->history_index, FlHistoryEvent, i);
        h = mix(h, fl_trace_bytes_hash(w->history->str + e->offset, e->value_at + e->value_len));
    }
    return h;
}

bool fl_world_invariant(FlWorld *w, GString *why)
{
    const FlProtocol *p = w->sc->protocol;
    if (!p->invariant)
        return true;
    const void *small[16];
    g_autofree const void **big = w->nnodes > 16 ? g_new(const void *, w->nnodes) : NULL;
    const void **states = big ? big : small;
    for (uint32_t i = 0; i < w->nnodes; i++)
        states[i] = w->nodes[i].up ? w->nodes[i].state : NULL;
    return p->invariant(states, w->nnodes, why);
}

guint fl_world_in_flight(const FlWorld *w)
{
    return w->ex ? w->ex->msgs->len + w->ex->timers->len : 0;
}

const char *fl_world_invariant_broken(const FlWorld *w, uint32_t *at)
{
    if (!w->ex || !w->ex->broken)
        return NULL;
    *at = w->ex->broken_at;
    return w->ex->broken;
}
