/* nemesis: a random fault schedule, as Jepsen's nemesis and FoundationDB's
 * simulator draw them, aimed at roles and varied per seed by swarm testing.
 *
 * Design notes.
 * 1. The whole schedule is drawn when the nemesis starts (at `from`), from
 *    the faults' stream: a fault (or a shape, note 6) every `every` (a
 *    range), each lasting `for` (a range), of a kind drawn from `kinds`,
 *    until `until`.  Every drawn fault ends by `until`, so the system has
 *    the rest of the run to recover.
 * 2. Kinds that take nodes down (crash, pause, disk) may not put more than
 *    `max_down` nodes down at once; a fault that would becomes a fault of
 *    another kind, or is skipped.  The budget is kept as a list of down
 *    intervals [start, end] with the number of nodes each takes down, and a
 *    new one must fit at its start and at every start inside it, since the
 *    shapes of note 6 place faults out of order.  A fault aimed at a node
 *    id picks one with no down interval overlapping its own, so a node is
 *    free again strictly after its fault ends, and a restart and the next
 *    crash of one node never share an instant.  A fault aimed by a
 *    selector (note 5) counts by its size whatever node it hits; if it hits
 *    one that is down already it takes down fewer, never more.
 * 3. Each drawn fault is an ordinary fault object with explicit times and
 *    either explicit node ids or a selector resolved when it starts (the
 *    kind traces the ids it resolved).  fl_nemesis_schedule gives them back
 *    as JSON, and the trace shows them as one "schedule" event, so a failing
 *    run can be replayed without the nemesis and shrunk: a selector resolves
 *    the same way in the replay, since the run up to that instant is the
 *    same and its choices among candidates come from the faults' stream.
 * 4. The storage-fault budget.  A node that restarts after a disk fault
 *    that tore or corrupted what it had synced may have lost promises (a
 *    vote, an acknowledged entry); a correct protocol keeps it out of
 *    quorums until it has recovered them (Raft and Paxos abstain, PBFT stays
 *    mute).  Until then it is as good as down, so it counts against
 *    `max_down` for `recover` after its restart: the nemesis never draws
 *    more simultaneous storage damage than a protocol tolerating `max_down`
 *    failures can survive, as TigerBeetle's simulator keeps every storage
 *    fault recoverable.  A plain crash (or lose-unsynced) loses only what
 *    was never promised, so it gets no window: a protocol must survive a
 *    second crash right after a restart.  Except for a protocol that keeps
 *    nothing on disk (FlProtocol.volatile_state: VR), where every crash
 *    loses promises and a restarted node recovers them from the others:
 *    there a crash gets the same window.
 * 5. Targets.  Bugs live next to the roles a protocol gives its nodes:
 *    the leader that loses its lease, the new leader in its first
 *    heartbeat, the tail of a chain.  A uniformly drawn node id hits the
 *    leader of five nodes one time in five, and never "the leader and one
 *    other", so each fault draws a target style from `targets`: `node` (an
 *    id drawn now, as before), `leader`, `role` (role:*, a role drawn among
 *    those held when the fault starts, then a holder), `leader+k` (the
 *    leader and k others), `minority-with-leader` (for a partition: the
 *    side of the cut that holds the leader) and `last-role-change` (the
 *    node whose role changed last, often a leader a moment old).  Roles
 *    are only known when the fault starts, so these stay selectors.  A
 *    pause aimed at a role lasts at least `long_pause` (default twice the
 *    longest timeout the protocol declares: election, view change, lease),
 *    the GC pause after which a leader wakes up deposed and does not know.
 * 6. Shapes.  Some bugs need several faults in a row, so each slot draws a
 *    shape from `shapes`: `single` (one fault); `reform` (a partition that
 *    cuts off the leader's side, heals, and forms again around the leader
 *    elected meanwhile, 2 or 3 times: Raft's Figure 8 needs this); 
 *    `sequence` (2 to 4 faults of drawn kinds back to back, each aimed at
 *    whoever leads or changed role when it starts; kinds that cannot be
 *    aimed, duplicate and clog, are left out); `bounce` (one node crashed
 *    and restarted at once, 2 to 6 times, while the links into it are
 *    slow: what it kept only in memory and reuses after a
 *    restart, request ids, sequence numbers, a lease, meets replies sent
 *    before the crash; needs "crash" among the scenario's kinds, and slows
 *    links only if "delay" is there too); `churn` (3 to 5 partitions, each
 *    cutting off the newest leader alone, overlapping: leaders are deposed
 *    about when they are elected, before they replicate what they took,
 *    and come back one by one with logs that end in different terms: the
 *    divergent logs where log matching and commit rules are tested; needs
 *    "partition"); and, only when the
 *    scenario lists them, `crash-majority` and `crash-all` (a majority drawn
 *    up front, or every node, crashed at once and restarted together, beyond max_down:
 *    only synced state survives, which a protocol that persists what it
 *    promises survives, and one that keeps state in memory does not, so a
 *    scenario opts in).  These two start only when no other node is down,
 *    and nothing else goes down until they restart.
 * 7. Swarm testing (Groce et al., ISSTA 2012): with `swarm` (the default),
 *    the nemesis first keeps each kind, target style and shape with
 *    probability 1/2 (at least one of each).  A seed with only partitions
 *    aimed at the leader reaches states that one drawing from everything
 *    at once reaches rarely, since one fault kind often masks another (a
 *    crash ends the pause that would have exposed a stale lease).  The draw
 *    is in the "start" event of the trace, and the explicit schedule, which
 *    is what replays, holds only faults of what was kept.  A shape is a
 *    feature of its own: `reform` draws partitions (if the scenario lists
 *    them) even on a seed that kept no "partition" among its kinds.
 * 8. Faults aimed at protocol events: a drawn `trigger` crashes its node
 *    right after a send of one of the protocol's message kinds, a role
 *    change or a disk write before its sync, then restarts it.  When that
 *    happens is not known at draw time, so it holds a down slot for its
 *    whole window: armed for two thirds of its duration, restarted by the
 *    end, and with a torn write it also takes the storage budget of note 4.
 *    The delivery-order kinds (pct, reorder, slow-link, slow-node) take no
 *    node down; only slow-node can be aimed.
 * 9. Byzantine nodes, only for a protocol whose safety allows them
 *    (FlProtocol.tolerates_byzantine: PBFT).  The kind `mutate` draws a
 *    `byzantine` fault with behaviour mutate (faults/mutate.h: one field of
 *    a real message off by one, or a value from another message), with its
 *    probability and mutation classes drawn and written out, so the
 *    schedule replays.  It is on by default for such protocols; a
 *    crash-tolerant protocol (Raft, Paxos) is refused it at load, since its
 *    safety assumes honest nodes and a "violation" would be no bug.  A
 *    Byzantine node counts against the down budget of note 2 (for quorums
 *    it is as good as down), and Byzantine faults are further kept within
 *    f = (n-1)/3 of everything down at once: the bound the protocol's
 *    safety and liveness are stated for. */
#include "faults/nemesis.h"

#include "faults/links.h"
#include "faults/registry.h"

#include <string.h>

static const char *const allowed_kinds[] = {
    "crash", "pause", "disk", "partition", "omission", "delay", "duplicate", "clock", "clog",
    "pct", "reorder", "slow-link", "slow-node", "trigger", "mutate", NULL,
};
static const char *const default_kinds[] = { "crash", "pause", "partition", NULL };

/* Note 5. */
static const char *const allowed_targets[] = {
    "node", "leader", "role", "leader+k", "minority-with-leader", "last-role-change", NULL,
};

/* Note 6.  The last two only when the scenario names them. */
static const char *const allowed_shapes[] = {
    "single", "reform", "sequence", "bounce", "churn", "crash-majority", "crash-all", NULL,
};
static const char *const default_shapes[] = { "single", "reform", "sequence", "bounce", "churn", NULL };

typedef struct Nemesis {
    GPtrArray *kinds;        /* of const char* (static strings), as given */
    GPtrArray *targets;      /* the same, target styles (note 5) */
    GPtrArray *shapes;       /* the same, shapes (note 6) */
    bool swarm;              /* note 7 */
    FlDuration every_lo, every_hi, for_lo, for_hi;
    FlDuration from, until;
    FlDuration recover;      /* note 4 */
    FlDuration long_pause;   /* note 5 */
    int64_t max_down;
    uint32_t nodes;
    const FlScenario *sc;
    json_t *drawn;           /* the schedule, once started */
    GPtrArray *faults;       /* of FlFault*, owned: the drawn faults */
} Nemesis;

/* What one start of the nemesis kept (note 7) and the budget (note 2). */
typedef struct Draw {
    GPtrArray *kinds, *up_kinds, *targets, *shapes;   /* borrowed strings */
    GArray *downs;           /* of Down */
} Draw;

typedef struct Down {
    FlTime start, end;       /* inclusive: free again strictly after end */
    uint32_t size;           /* nodes it takes down (at most) */
    int64_t node;            /* the node, or -1 when a selector picks it */
    bool byzantine;          /* a mutate fault (note 9) */
} Down;

static bool is_down_kind(const char *k)
{
    return strcmp(k, "crash") == 0 || strcmp(k, "pause") == 0 || strcmp(k, "disk") == 0 ||
           strcmp(k, "trigger") == 0 || strcmp(k, "mutate") == 0;
}

/* Note 9: the most nodes that may be Byzantine, or down, while one is. */
static int64_t byzantine_most(const Nemesis *m)
{
    int64_t f = (int64_t)(m->nodes - 1) / 3;
    return f < m->max_down ? f : m->max_down;
}

static bool has(GPtrArray *a, const char *s)
{
    for (guint i = 0; a && i < a->len; i++)
        if (strcmp(g_ptr_array_index(a, i), s) == 0)
            return true;
    return false;
}

/* Reads the array field @key of names from @allowed into @into (the static
 * strings), or @def when absent.  @what describes the expected value. */
static bool parse_names(FlJv *jv, json_t *spec, const char *path, const char *key, json_t *out,
                        const char *const *allowed, const char *const *def, const char *what,
                        GPtrArray *into)
{
    json_t *v = json_object_get(spec, key);
    g_autofree char *kp = fl_jv_join(path, key);
    json_t *o = json_array();
    json_object_set_new(out, key, o);
    if (!v) {
        for (const char *const *d = def; *d; d++) {
            g_ptr_array_add(into, (gpointer)*d);
            json_array_append_new(o, json_string(*d));
        }
        return true;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return fl_jv_error(jv, kp, NULL, v, what);
    size_t i;
    json_t *k;
    json_array_foreach(v, i, k) {
        const char *found = NULL;
        for (const char *const *a = allowed; json_is_string(k) && *a; a++)
            if (strcmp(*a, json_string_value(k)) == 0)
                found = *a;
        g_autofree char *ip = g_strdup_printf("%s/%zu", kp, i);
        if (!found)
            return fl_jv_error(jv, ip, NULL, k, what);
        if (has(into, found))
            return fl_jv_errorf(jv, ip, NULL, "\"%s\" is listed twice", found);
        g_ptr_array_add(into, (gpointer)found);
        json_array_append_new(o, json_string(found));
    }
    return true;
}

/* Twice the longest timeout the protocol declares (a parameter whose name
 * ends in "timeout": election, view change, a lost worker), or 0 when it
 * declares none: a leader paused that long has been replaced (note 5). */
static FlDuration protocol_timeout(const FlScenario *sc)
{
    FlDuration most = 0;
    for (size_t i = 0; sc->protocol->params && sc->protocol->params[i].name; i++) {
        const FlParam *p = &sc->protocol->params[i];
        FlDuration d = p->type == FL_PARAM_RANGE ? sc->params[i].hi
                       : p->type == FL_PARAM_DURATION ? sc->params[i].i : 0;
        if (g_str_has_suffix(p->name, "timeout") && d > most)
            most = d;
    }
    return 2 * most;
}

static bool nemesis_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                          const FlScenario *sc)
{
    Nemesis *m = f->state;
    m->nodes = sc->nodes;
    m->sc = sc;
    m->kinds = g_ptr_array_new();
    m->targets = g_ptr_array_new();
    m->shapes = g_ptr_array_new();
    if (!parse_names(jv, spec, path, "kinds", out, allowed_kinds, default_kinds,
                     "an array of fault kinds from crash, pause, disk, partition, omission, "
                     "delay, duplicate, clock, clog, pct, reorder, slow-link, slow-node, trigger, "
                     "mutate",
                     m->kinds) ||
        !parse_names(jv, spec, path, "targets", out, allowed_targets, allowed_targets,
                     "an array of target styles from node, leader, role, leader+k, "
                     "minority-with-leader, last-role-change", m->targets) ||
        !parse_names(jv, spec, path, "shapes", out, allowed_shapes, default_shapes,
                     "an array of shapes from single, reform, sequence, bounce, churn, crash-majority, crash-all",
                     m->shapes))
        return false;
    /* Note 9. */
    const FlProtocol *proto = sc->protocol;
    for (guint i = 0; i < m->kinds->len; i++) {
        if (strcmp(g_ptr_array_index(m->kinds, i), "mutate") != 0)
            continue;
        g_autofree char *kp = g_strdup_printf("%s/kinds/%u", path, i);
        if (!proto->tolerates_byzantine)
            return fl_jv_errorf(jv, kp, NULL,
                                "\"mutate\" makes nodes Byzantine, but the safety of %s assumes "
                                "honest nodes (it does not declare tolerates_byzantine); use a "
                                "byzantine fault to show what lies do to it",
                                proto->name);
        if (!proto->fields)
            return fl_jv_errorf(jv, kp, NULL,
                                "\"mutate\" needs a protocol that describes its messages' fields "
                                "(a fields hook); %s has none", proto->name);
    }
    if (!json_object_get(spec, "kinds") && proto->tolerates_byzantine && proto->fields) {
        g_ptr_array_add(m->kinds, (gpointer) "mutate");
        json_array_append_new(json_object_get(out, "kinds"), json_string("mutate"));
    }
    int64_t max_down_def = sc->nodes > 1 ? (sc->nodes - 1) / 2 : 1;
    if (!fl_jv_duration_range(jv, spec, path, "every", out, false, FL_SEC(1), FL_SEC(3),
                              &m->every_lo, &m->every_hi) ||
        !fl_jv_duration_range(jv, spec, path, "for", out, false, FL_MS(500), FL_SEC(2),
                              &m->for_lo, &m->for_hi) ||
        !fl_jv_int(jv, spec, path, "max_down", out, false, max_down_def, 0, sc->nodes,
                   &m->max_down) ||
        !fl_jv_duration(jv, spec, path, "from", out, false, 0, 0, &m->from) ||
        !fl_jv_duration(jv, spec, path, "recover", out, false, FL_SEC(1), 0, &m->recover) ||
        !fl_jv_duration(jv, spec, path, "long_pause", out, false, protocol_timeout(sc), 0,
                        &m->long_pause) ||
        !fl_jv_bool(jv, spec, path, "swarm", out, false, true, &m->swarm) ||
        !fl_jv_duration(jv, spec, path, "until", out, false, sc->duration, 0, &m->until))
        return false;
    if (m->every_lo < 1)
        return fl_jv_errorf(jv, path, "every", "expected a positive duration");
    if (m->for_lo < 1)
        return fl_jv_errorf(jv, path, "for", "expected a positive duration");
    if (m->until <= m->from)
        return fl_jv_errorf(jv, path, "until", "expected a time after \"from\"");
    f->at = (FlTime)m->from;
    f->dur = m->until - m->from;
    return true;
}

/* A duration from [lo, hi], to the millisecond when the range allows, so
 * that the explicit schedule reads well. */
static FlDuration draw(FlRng *rng, FlDuration lo, FlDuration hi)
{
    FlDuration d = hi > lo ? fl_rng_range(rng, lo, hi) : lo;
    FlDuration r = d / FL_MS(1) * FL_MS(1);
    return r >= lo ? r : d;
}

static json_t *dur_json(FlDuration d)
{
    char buf[32];
    return json_string(fl_duration_format(d, buf));
}

static json_t *order_json(FlRng *rng, uint32_t n)
{
    g_autofree uint32_t *v = g_new(uint32_t, n);
    for (uint32_t i = 0; i < n; i++)
        v[i] = i;
    for (uint32_t k = n; k > 1; k--) {
        uint32_t j = (uint32_t)fl_rng_below(rng, k);
        uint32_t t = v[k - 1];
        v[k - 1] = v[j];
        v[j] = t;
    }
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* Kinds whose node field a target style (note 5) can aim. */
static bool is_aimable(const char *k)
{
    return strcmp(k, "duplicate") != 0 && strcmp(k, "clog") != 0 && strcmp(k, "pct") != 0 &&
           strcmp(k, "reorder") != 0 && strcmp(k, "slow-link") != 0;
}

/* One of the protocol's declared message kinds ("a|b|c"), or "*". */
static json_t *message_kind(Nemesis *m, FlRng *rng)
{
    const char *kinds = m->sc->protocol->kinds;
    if (!kinds || fl_rng_chance(rng, 0.1))
        return json_string("*");
    g_auto(GStrv) names = g_strsplit(kinds, "|", -1);
    guint n = g_strv_length(names);
    return json_string(n ? names[fl_rng_below(rng, n)] : "*");
}

/* Note 8: a trigger armed for two thirds of @d, the node back after the
 * rest, so that it ends by `until` like every drawn fault. */
static void draw_trigger(Nemesis *m, FlRng *rng, json_t *who, FlDuration d, json_t *o)
{
    FlDuration armed = d * 2 / 3 > 0 ? d * 2 / 3 : 1;
    json_object_set_new(o, "for", dur_json(armed));
    json_object_set_new(o, "node", who);
    uint64_t on = fl_rng_below(rng, 10);
    if (on < 6) {
        json_object_set_new(o, "on", json_string("send"));
        json_object_set_new(o, "message", message_kind(m, rng));
        json_object_set_new(o, "when", json_string(fl_rng_chance(rng, 0.2) ? "before" : "after"));
        if (fl_rng_chance(rng, 0.3))
            json_object_set_new(o, "in_handler", json_integer(1 + (json_int_t)fl_rng_below(rng, 3)));
    } else if (on < 8) {
        static const char *const roles[] = { "*", "*", "leader", "primary" };
        json_object_set_new(o, "on", json_string("role"));
        json_object_set_new(o, "role", json_string(roles[fl_rng_below(rng, 4)]));
    } else {
        json_object_set_new(o, "on", json_string("disk-write"));
        json_object_set_new(o, "mode", json_string(fl_rng_chance(rng, 0.3) ? "torn" : "lose-unsynced"));
    }
    json_int_t count = 1;
    while (count < 8 && fl_rng_chance(rng, 0.5))
        count++;
    json_object_set_new(o, "count", json_integer(count));
    json_object_set_new(o, "restart_after", dur_json(d - armed));
}

/* The fields of one drawn fault of kind @k, lasting @d: on @target (a
 * selector, borrowed) when not NULL, else on node @node for the down kinds
 * and on a node drawn here for the others. */
static void draw_fields(Nemesis *m, FlRng *rng, const char *k, json_t *target, uint32_t node,
                        FlDuration d, json_t *o)
{
    uint32_t n = m->nodes;
    json_t *who = target ? json_incref(target) : json_integer(node);
    if (strcmp(k, "crash") == 0) {
        json_object_set_new(o, "node", who);
        json_object_set_new(o, "restart_after", dur_json(d));
        return;
    }
    if (strcmp(k, "trigger") == 0) {
        draw_trigger(m, rng, who, d, o);
        return;
    }
    if (strcmp(k, "mutate") == 0) {
        /* Note 9: a Byzantine node for @d, mutating 5% to 50% of what it
         * sends, with classes kept as swarm keeps kinds. */
        static const char *const classes[] = { "round", "replay", "steal" };
        json_object_set_new(o, "for", dur_json(d));
        json_object_set_new(o, "node", who);
        json_object_set_new(o, "behaviour", json_string("mutate"));
        json_object_set_new(o, "p", json_real((double)(5 + fl_rng_below(rng, 46)) / 100));
        json_t *a = json_array();
        for (int i = 0; i < 3; i++)
            if (fl_rng_chance(rng, 0.5))
                json_array_append_new(a, json_string(classes[i]));
        if (json_array_size(a) == 0)
            json_array_append_new(a, json_string(classes[fl_rng_below(rng, 3)]));
        json_object_set_new(o, "mutations", a);
        return;
    }
    if (strcmp(k, "disk") == 0) {
        static const char *const modes[] = { "lose-unsynced", "torn", "corrupt" };
        json_object_set_new(o, "node", who);
        json_object_set_new(o, "mode", json_string(modes[fl_rng_below(rng, 3)]));
        json_object_set_new(o, "restart_after", dur_json(d));
        return;
    }
    json_object_set_new(o, "for", dur_json(d));
    if (strcmp(k, "pause") == 0) {
        json_object_set_new(o, "node", who);
        return;
    }
    json_decref(who);
    /* The other kinds draw their own node (as they did before targets
     * existed: a "node" target draws the same schedule as then). */
    if (strcmp(k, "partition") == 0) {
        if (target) {
            json_object_set(o, "isolate", target);
            return;
        }
        static const char *const shapes[] = { "isolate", "halves", "bridge", "majority-ring" };
        const char *shape = shapes[fl_rng_below(rng, n >= 3 ? 4 : 2)];
        if (strcmp(shape, "isolate") == 0) {
            json_object_set_new(o, "isolate", json_integer(fl_rng_below(rng, n)));
        } else {
            json_object_set_new(o, "shape", json_string(shape));
            json_object_set_new(o, "order", order_json(rng, n));
        }
    } else if (strcmp(k, "omission") == 0) {
        static const char *const modes[] = { "send", "receive", "both" };
        json_object_set_new(o, "node", target ? json_incref(target)
                                              : json_integer(fl_rng_below(rng, n)));
        json_object_set_new(o, "mode", json_string(modes[fl_rng_below(rng, 3)]));
        json_object_set_new(o, "p", json_real((double)(20 + fl_rng_below(rng, 81)) / 100));
    } else if (strcmp(k, "delay") == 0) {
        FlDuration extra = FL_MS(10) * (FlDuration)(1 + fl_rng_below(rng, 20));
        json_object_set_new(o, "from", target ? json_incref(target)
                                              : json_integer(fl_rng_below(rng, n)));
        json_object_set_new(o, "extra", dur_json(extra));
        json_object_set_new(o, "jitter", dur_json(extra / 2));
    } else if (strcmp(k, "duplicate") == 0) {
        json_object_set_new(o, "p", json_real((double)(10 + fl_rng_below(rng, 41)) / 100));
    } else if (strcmp(k, "clock") == 0) {
        FlDuration jump = FL_MS(50) * (FlDuration)(1 + fl_rng_below(rng, 40));
        json_object_set_new(o, "node", target ? json_incref(target)
                                              : json_integer(fl_rng_below(rng, n)));
        json_object_set_new(o, "jump", dur_json(fl_rng_chance(rng, 0.5) ? jump : -jump));
    } else if (strcmp(k, "clog") == 0) {
        FlDuration links = n * (n - 1) / 2;
        FlDuration every = d / (2 * (links ? links : 1));
        json_object_set_new(o, "every", dur_json(every > 0 ? every : 1));
    } else if (strcmp(k, "pct") == 0) {
        /* PCT depth 1..3 (0..2 change points); a step of 5..50ms. */
        json_object_set_new(o, "step", dur_json(FL_MS(5) * (FlDuration)(1 + fl_rng_below(rng, 10))));
        json_object_set_new(o, "changes", json_integer((json_int_t)fl_rng_below(rng, 3)));
    } else if (strcmp(k, "reorder") == 0) {
        json_object_set_new(o, "window", dur_json(FL_MS(10) * (FlDuration)(1 + fl_rng_below(rng, 20))));
    } else if (strcmp(k, "slow-link") == 0) {
        uint32_t a = (uint32_t)fl_rng_below(rng, n), b = (uint32_t)fl_rng_below(rng, n - 1);
        json_object_set_new(o, "from", json_integer(a));
        json_object_set_new(o, "to", json_integer(b + (b >= a)));
        json_object_set_new(o, "both", json_boolean(fl_rng_chance(rng, 0.5)));
        json_object_set_new(o, "factor", json_integer(5 + (json_int_t)fl_rng_below(rng, 96)));
    } else if (strcmp(k, "slow-node") == 0) {
        json_object_set_new(o, "node", target ? json_incref(target)
                                              : json_integer(fl_rng_below(rng, n)));
        json_object_set_new(o, "factor", json_integer(5 + (json_int_t)fl_rng_below(rng, 96)));
    }
}

/* ---- the down budget (note 2) ------------------------------------------ */

/* Nodes down at @t by the intervals drawn so far. */
static uint32_t down_at(const GArray *downs, FlTime t)
{
    uint32_t sum = 0;
    for (guint i = 0; i < downs->len; i++) {
        const Down *v = &g_array_index(downs, Down, i);
        if (v->start <= t && t <= v->end)
            sum += v->size;
    }
    return sum;
}

/* Whether @size more nodes may go down over [@start, @end] with at most
 * @most down at once: the count only rises where an interval starts. */
static bool fits(const GArray *downs, FlTime start, FlTime end, uint32_t size, int64_t most)
{
    if ((int64_t)(down_at(downs, start) + size) > most)
        return false;
    for (guint i = 0; i < downs->len; i++) {
        const Down *v = &g_array_index(downs, Down, i);
        if (v->start > start && v->start <= end &&
            (int64_t)(down_at(downs, v->start) + size) > most)
            return false;
    }
    return true;
}

/* Whether node @node has no down interval overlapping [@start, @end]. */
static bool node_free(const GArray *downs, uint32_t node, FlTime start, FlTime end)
{
    for (guint i = 0; i < downs->len; i++) {
        const Down *v = &g_array_index(downs, Down, i);
        if (v->node == (int64_t)node && v->start <= end && start <= v->end)
            return false;
    }
    return true;
}

static void add_down(GArray *downs, FlTime start, FlTime end, uint32_t size, int64_t node)
{
    Down v = { start, end, size, node, false };
    g_array_append_val(downs, v);
}

/* Whether a Byzantine node's interval overlaps [@start, @end] (note 9). */
static bool byzantine_within(const GArray *downs, FlTime start, FlTime end)
{
    for (guint i = 0; i < downs->len; i++) {
        const Down *v = &g_array_index(downs, Down, i);
        if (v->byzantine && v->start <= end && start <= v->end)
            return true;
    }
    return false;
}

/* ---- targets and shapes (notes 5, 6) ---------------------------------- */

static uint32_t minority_size(uint32_t n)
{
    return (n - 1) / 2 > 0 ? (n - 1) / 2 : 1;
}

/* The selector for target style @style (not "node"), as JSON (transfer
 * full), and in *@size how many nodes it may take down. */
static json_t *aim(Nemesis *m, FlRng *rng, const char *style, uint32_t *size)
{
    uint32_t n = m->nodes;
    *size = 1;
    if (strcmp(style, "role") == 0)
        return json_string("role:*");
    if (strcmp(style, "last-role-change") == 0)
        return json_string("last-role-change");
    if (strcmp(style, "minority-with-leader") == 0) {
        *size = minority_size(n);
        return json_string("minority-with-leader");
    }
    if (strcmp(style, "leader+k") == 0 && n >= 2) {
        uint32_t most = n / 2 > 1 ? n / 2 : 1;
        uint32_t k = 1 + (uint32_t)fl_rng_below(rng, most);
        *size = k + 1;
        g_autofree char *s = g_strdup_printf("leader+%u", k);
        return json_string(s);
    }
    return json_string("leader");
}

static const char *pick(FlRng *rng, GPtrArray *a)
{
    return g_ptr_array_index(a, a->len > 1 ? fl_rng_below(rng, a->len) : 0);
}

static void append_fault(Nemesis *m, const char *k, FlTime t, json_t *o)
{
    json_t *f = json_object();
    json_object_set_new(f, "kind", json_string(k));
    json_object_set_new(f, "at", dur_json((FlDuration)t));
    json_object_update(f, o);
    json_decref(o);
    json_array_append_new(m->drawn, f);
}

/* Draws one fault of kind @k at @t lasting @d, aimed by @style (NULL or
 * "node": an id drawn now), within the down budget (notes 2, 4, 5).
 * Returns false when nothing could be drawn; else sets *@took to how long
 * the fault lasts (a pause aimed at a role may be stretched). */
static bool place_one(Nemesis *m, Draw *dr, FlRng *rng, FlTime t, FlDuration d, const char *k,
                      const char *style, FlDuration *took)
{
    uint32_t n = m->nodes;
    if (style && strcmp(style, "node") == 0)
        style = NULL;
    json_t *target = NULL;   /* owned */
    uint32_t node = 0, size = 1;
    if (style && is_aimable(k))
        target = aim(m, rng, style, &size);
    if (target && strcmp(k, "pause") == 0 && d < m->long_pause) {
        /* A GC pause that outlasts the failure detector (note 5). */
        d = m->long_pause + (d - m->for_lo);
        if (t + (FlTime)d > (FlTime)m->until) {
            json_decref(target);   /* too late for a pause that long */
            return false;
        }
    }
    if (is_down_kind(k)) {
        bool ok;
        bool byzantine = strcmp(k, "mutate") == 0;
        int64_t most = byzantine || byzantine_within(dr->downs, t, t + (FlTime)d)
                           ? byzantine_most(m) : m->max_down;
        if (target) {
            ok = fits(dr->downs, t, t + (FlTime)d, size, most);
            if (!ok && size > 1) {
                json_decref(target);
                target = json_string("leader");
                size = 1;
                ok = fits(dr->downs, t, t + (FlTime)d, size, most);
            }
        } else {
            uint32_t free_nodes = 0;
            for (uint32_t i = 0; i < n; i++)
                free_nodes += node_free(dr->downs, i, t, t + (FlTime)d);
            ok = free_nodes > 0 && fits(dr->downs, t, t + (FlTime)d, 1, most);
            if (ok) {
                uint32_t p = (uint32_t)fl_rng_below(rng, free_nodes);
                for (uint32_t i = 0; i < n; i++)
                    if (node_free(dr->downs, i, t, t + (FlTime)d) && p-- == 0)
                        node = i;
            }
        }
        if (!ok) {
            if (dr->up_kinds->len == 0) {
                if (target)
                    json_decref(target);
                return false;
            }
            k = g_ptr_array_index(dr->up_kinds, fl_rng_below(rng, dr->up_kinds->len));
        } else {
            add_down(dr->downs, t, t + (FlTime)d, size, target ? -1 : (int64_t)node);
            g_array_index(dr->downs, Down, dr->downs->len - 1).byzantine = byzantine;
        }
    }
    json_t *o = json_object();
    draw_fields(m, rng, k, is_aimable(k) ? target : NULL, node, d, o);
    const char *mode = json_string_value(json_object_get(o, "mode"));
    bool lost = ((strcmp(k, "disk") == 0 || strcmp(k, "trigger") == 0) && mode &&
                 strcmp(mode, "lose-unsynced") != 0) ||
                (strcmp(k, "crash") == 0 && m->sc->protocol->volatile_state);
    if (lost)
        g_array_index(dr->downs, Down, dr->downs->len - 1).end += (FlTime)m->recover;   /* note 4 */
    append_fault(m, strcmp(k, "mutate") == 0 ? "byzantine" : k, t, o);
    if (target)
        json_decref(target);
    *took = d;
    return true;
}

/* A pause between two faults of a shape: long enough for a heartbeat to
 * pass, short enough that an election started under the first fault may
 * still be running. */
static FlDuration gap(Nemesis *m, FlRng *rng)
{
    FlDuration hi = m->long_pause > 0 ? m->long_pause / 2 : m->for_lo;
    return draw(rng, hi > FL_MS(1) ? FL_MS(1) : 1, hi > FL_MS(1) ? hi : FL_MS(1));
}

/* A target style aimed at whoever holds a role when the fault starts: the
 * kept ones other than "node", or "leader". */
static const char *role_style(FlRng *rng, Draw *dr)
{
    g_autoptr(GPtrArray) aimed = g_ptr_array_new();
    for (guint i = 0; i < dr->targets->len; i++)
        if (strcmp(g_ptr_array_index(dr->targets, i), "node") != 0)
            g_ptr_array_add(aimed, g_ptr_array_index(dr->targets, i));
    return aimed->len ? pick(rng, aimed) : "leader";
}

/* Shape "reform" (note 6): 2 or 3 partitions, each cutting off the side
 * that holds the leader of the moment, healed and formed again.  Each lasts
 * at least long_pause, so that the other side elects a leader that the next
 * round then cuts off.  Returns when the last one heals. */
static FlTime draw_reform(Nemesis *m, Draw *dr, FlRng *rng, FlTime t)
{
    uint32_t rounds = 2 + (uint32_t)fl_rng_below(rng, 2);
    FlTime last = t;
    for (uint32_t r = 0; r < rounds; r++) {
        FlDuration d = draw(rng, m->for_lo, m->for_hi);
        if (d < m->long_pause)
            d = m->long_pause + (d - m->for_lo);
        if (t + (FlTime)d > (FlTime)m->until)
            break;
        json_t *o = json_object();
        json_object_set_new(o, "for", dur_json(d));
        json_object_set_new(o, "isolate", json_string(fl_rng_chance(rng, 0.5) ? "leader"
                                                      : "minority-with-leader"));
        append_fault(m, "partition", t, o);
        last = t + (FlTime)d;
        t += (FlTime)(d + gap(m, rng));
    }
    return last;
}

/* Shape "churn" (note 6): 3 to 5 partitions, each cutting off the leader
 * of the moment alone, started an eighth to a half of long_pause apart and
 * lasting a quarter to a whole of it, so they overlap: a leader is cut
 * off about when it has been elected, before it could replicate what it
 * took, and deposed leaders come back one by one with logs that end in
 * different terms.  Returns when the last one heals. */
static FlTime draw_churn(Nemesis *m, FlRng *rng, FlTime t)
{
    FlDuration unit = m->long_pause > FL_MS(8) ? m->long_pause : FL_MS(8);
    uint32_t rounds = 3 + (uint32_t)fl_rng_below(rng, 3);
    FlTime last = t;
    for (uint32_t r = 0; r < rounds; r++) {
        FlDuration d = draw(rng, unit / 4, unit);
        if (t + (FlTime)d > (FlTime)m->until)
            break;
        json_t *o = json_object();
        json_object_set_new(o, "for", dur_json(d));
        json_object_set_new(o, "isolate", json_string("leader"));
        append_fault(m, "partition", t, o);
        if (t + (FlTime)d > last)
            last = t + (FlTime)d;
        t += (FlTime)draw(rng, unit / 8, unit / 2);
    }
    return last;
}

/* Shape "sequence" (note 6): 2 to 4 faults of kept kinds back to back, each
 * aimed at a role when it starts.  Returns when the last one ends. */
static FlTime draw_sequence(Nemesis *m, Draw *dr, FlRng *rng, FlTime t)
{
    /* Only kinds that can be aimed: a duplicate or a clog hits every link. */
    g_autoptr(GPtrArray) aimable = g_ptr_array_new();
    for (guint i = 0; i < dr->kinds->len; i++)
        if (is_aimable(g_ptr_array_index(dr->kinds, i)))
            g_ptr_array_add(aimable, g_ptr_array_index(dr->kinds, i));
    uint32_t count = 2 + (uint32_t)fl_rng_below(rng, 3);
    FlTime last = t;
    for (uint32_t i = 0; i < count && aimable->len > 0; i++) {
        FlDuration d = draw(rng, m->for_lo, m->for_hi);
        if (t + (FlTime)d > (FlTime)m->until)
            break;
        const char *k = pick(rng, aimable);
        FlDuration took = d;
        if (place_one(m, dr, rng, t, d, k, role_style(rng, dr), &took))
            last = t + (FlTime)took;
        t += (FlTime)(took + gap(m, rng));
    }
    return last;
}

/* Shape "bounce" (note 6): node x down for 1-10 ms, 2 to 6 times, while
 * messages into x from its peers (all of them on half the draws, else one
 * or two) take 50-400 ms more.  Restarts come a quarter to one and a half
 * link delays apart: when they come faster than the delay, the replies to
 * what x sent before a crash land after its restart, ahead of any reply to
 * what it sends now.  The down slot is held for the whole shape.  Returns
 * when it ends, or @t when it did not fit. */
static FlTime draw_bounce(Nemesis *m, Draw *dr, FlRng *rng, FlTime t, FlDuration d)
{
    uint32_t n = m->nodes;
    FlDuration extra = FL_MS(50) * (FlDuration)(1 + fl_rng_below(rng, 8));
    uint32_t crashes = 2 + (uint32_t)fl_rng_below(rng, 5);
    if (d < extra * (crashes + 1))
        d = extra * (crashes + 1);
    FlTime end = t + (FlTime)d;
    if (n < 2 || end > (FlTime)m->until || !fits(dr->downs, t, end, 1, m->max_down))
        return t;
    uint32_t x = (uint32_t)fl_rng_below(rng, n);
    if (!node_free(dr->downs, x, t, end))
        return t;
    add_down(dr->downs, t, end, 1, x);
    bool all = fl_rng_chance(rng, 0.5);
    uint32_t peers = all ? n - 1 : n > 2 && fl_rng_chance(rng, 0.5) ? 2 : 1;
    if (!has(m->kinds, "delay"))
        peers = 0;   /* a scenario without delays may promise a sync network */
    uint32_t first = all ? 0 : (uint32_t)fl_rng_below(rng, n - 1);
    for (uint32_t i = 0; i < peers; i++) {
        uint32_t p = (first + i) % (n - 1);
        json_t *o = json_object();
        json_object_set_new(o, "for", dur_json(d));
        json_object_set_new(o, "from", json_integer(p + (p >= x)));
        json_object_set_new(o, "to", json_integer(x));
        json_object_set_new(o, "extra", dur_json(extra));
        append_fault(m, "delay", t, o);
    }
    FlTime c = t;
    for (uint32_t i = 0; i < crashes; i++) {
        c += (FlTime)draw(rng, extra / 4, extra * 3 / 2);
        FlDuration down = FL_MS(1) * (FlDuration)(1 + fl_rng_below(rng, 10));
        if (c + (FlTime)down > end)
            break;
        json_t *o = json_object();
        json_object_set_new(o, "node", json_integer(x));
        json_object_set_new(o, "restart_after", dur_json(down));
        append_fault(m, "crash", c, o);
    }
    return end;
}

/* Shapes "crash-majority" and "crash-all" (note 6): beyond max_down, so
 * only when no other node is down over the whole interval, and nothing
 * else may go down until they restart (they count as every node). */
static bool draw_mass_crash(Nemesis *m, Draw *dr, FlRng *rng, FlTime t, FlDuration d, bool all)
{
    uint32_t n = m->nodes;
    if (!fits(dr->downs, t, t + (FlTime)d, n, n))
        return false;
    add_down(dr->downs, t, t + (FlTime)d, n, -1);
    if (all) {
        json_t *o = json_object();
        json_object_set_new(o, "node", json_string("*"));
        json_object_set_new(o, "restart_after", dur_json(d));
        append_fault(m, "crash", t, o);
        return true;
    }
    /* A majority drawn now, one crash per node at the same instant: explicit
     * ids replay exactly and shrink one node at a time.  Not "leader+K": a
     * mass crash must hit a leaderless moment too, and a random majority
     * holds the leader often enough. */
    json_t *order = order_json(rng, n);
    g_autofree bool *in = g_new0(bool, n);
    for (uint32_t i = 0; i < n / 2 + 1; i++)
        in[json_integer_value(json_array_get(order, i))] = true;
    json_decref(order);
    for (uint32_t i = 0; i < n; i++) {
        if (!in[i])
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "node", json_integer(i));
        json_object_set_new(o, "restart_after", dur_json(d));
        append_fault(m, "crash", t, o);
    }
    return true;
}

/* Keeps each of @all with probability 1/2, at least one (note 7). */
static void swarm_keep(FlRng *rng, GPtrArray *all, GPtrArray *kept)
{
    for (guint i = 0; i < all->len; i++)
        if (fl_rng_chance(rng, 0.5))
            g_ptr_array_add(kept, g_ptr_array_index(all, i));
    if (kept->len == 0)
        g_ptr_array_add(kept, g_ptr_array_index(all, fl_rng_below(rng, all->len)));
}

static void names_text(GString *s, const char *label, GPtrArray *a)
{
    g_string_append_printf(s, "%s%s ", s->len ? "; " : "", label);
    for (guint i = 0; i < a->len; i++)
        g_string_append_printf(s, "%s%s", i ? "," : "", (const char *)g_ptr_array_index(a, i));
}

/* Draws the schedule (notes 1, 2, 5, 6, 7) into m->drawn; describes what
 * swarm kept in @kept. */
static void draw_schedule(Nemesis *m, FlRng *rng, FlTime now, GString *kept)
{
    Draw dr = {
        .kinds = g_ptr_array_new(), .up_kinds = g_ptr_array_new(),
        .targets = g_ptr_array_new(), .shapes = g_ptr_array_new(),
        .downs = g_array_new(FALSE, FALSE, sizeof(Down)),
    };
    if (m->swarm) {
        swarm_keep(rng, m->kinds, dr.kinds);
        swarm_keep(rng, m->targets, dr.targets);
        swarm_keep(rng, m->shapes, dr.shapes);
        names_text(kept, "kinds", dr.kinds);
        names_text(kept, "targets", dr.targets);
        names_text(kept, "shapes", dr.shapes);
    } else {
        g_ptr_array_extend(dr.kinds, m->kinds, NULL, NULL);
        g_ptr_array_extend(dr.targets, m->targets, NULL, NULL);
        g_ptr_array_extend(dr.shapes, m->shapes, NULL, NULL);
    }
    for (guint i = 0; i < dr.kinds->len; i++)
        if (!is_down_kind(g_ptr_array_index(dr.kinds, i)))
            g_ptr_array_add(dr.up_kinds, g_ptr_array_index(dr.kinds, i));
    m->drawn = json_array();
    /* No fault can start after the run ends: drawing stops there, whatever
     * `until` says (an `until` of years would otherwise draw billions of
     * slots before the run starts).  The draws before it are unchanged. */
    FlTime horizon = MIN((FlTime)m->until, (FlTime)m->sc->duration);
    for (FlTime t = now; t < horizon; t += (FlTime)draw(rng, m->every_lo, m->every_hi)) {
        FlDuration d = draw(rng, m->for_lo, m->for_hi);
        if (t + (FlTime)d > (FlTime)m->until)
            break;
        const char *shape = pick(rng, dr.shapes);
        /* Reform is a swarm feature of its own: it needs partitions among
         * the scenario's kinds, not among those this seed kept. */
        if (strcmp(shape, "reform") == 0 && has(m->kinds, "partition")) {
            t = draw_reform(m, &dr, rng, t);
            continue;
        }
        if (strcmp(shape, "churn") == 0 && has(m->kinds, "partition")) {
            t = draw_churn(m, rng, t);
            continue;
        }
        if (strcmp(shape, "sequence") == 0) {
            t = draw_sequence(m, &dr, rng, t);
            continue;
        }
        if (strcmp(shape, "bounce") == 0 && has(m->kinds, "crash")) {
            FlTime end = draw_bounce(m, &dr, rng, t, d);
            if (end > t) {
                t = end;
                continue;
            }
        }
        if ((strcmp(shape, "crash-majority") == 0 || strcmp(shape, "crash-all") == 0) &&
            draw_mass_crash(m, &dr, rng, t, d, strcmp(shape, "crash-all") == 0))
            continue;
        /* Drawn even from one kind, as before targets and shapes: with
         * swarm off, one shape and the "node" target, a scenario draws the
         * schedule it drew then. */
        const char *k = g_ptr_array_index(dr.kinds, fl_rng_below(rng, dr.kinds->len));
        const char *style = is_aimable(k) && dr.targets->len > 1 ? pick(rng, dr.targets)
                            : g_ptr_array_index(dr.targets, 0);
        FlDuration took;
        place_one(m, &dr, rng, t, d, k, style, &took);
    }
    g_ptr_array_unref(dr.kinds);
    g_ptr_array_unref(dr.up_kinds);
    g_ptr_array_unref(dr.targets);
    g_ptr_array_unref(dr.shapes);
    g_array_unref(dr.downs);
}

static void sub_stop_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    FlFault *f = ctx;
    if (f->started && !f->stopped) {
        f->stopped = true;
        if (f->kind->stop)
            f->kind->stop(f, w);
    }
}

static void sub_start_cb(FlWorld *w, void *ctx, uint64_t arg)
{
    FlFault *f = ctx;
    if (f->started)
        return;   /* the nemesis stopped (a liveness phase healed it) */
    f->started = true;
    f->kind->start(f, w);
    if (f->dur > 0)
        fl_world_at(w, fl_world_now(w) + (FlTime)f->dur, sub_stop_cb, f, 0);
}

/* Turns a drawn fault object into a fault, as the scenario loader would. */
static FlFault *make_fault(Nemesis *m, FlWorld *w, json_t *o, size_t i)
{
    const FlFaultKind *kind = fl_fault_kind_find(json_string_value(json_object_get(o, "kind")));
    g_assert(kind);
    FlFault *f = g_new0(FlFault, 1);
    f->kind = kind;
    f->index = fl_world_new_fault_index(w);
    f->state = g_malloc0(kind->state_size ? kind->state_size : 1);
    GError *err = NULL;
    FlJv jv = { .file = "nemesis", .err = &err };
    g_autofree char *path = g_strdup_printf("/nemesis/%zu", i);
    json_t *dur = json_object_get(o, kind->duration_field ? kind->duration_field : "for");
    FlDuration at, d;
    bool ok = fl_jv_duration_value(&jv, json_object_get(o, "at"), path, 0, &at) &&
              fl_jv_duration_value(&jv, dur, path, 1, &d);
    json_t *out = json_object();
    ok = ok && kind->parse(f, o, path, out, &jv, m->sc);
    json_decref(out);
    if (!ok)
        g_error("nemesis drew a fault its kind refuses: %s", err ? err->message : "?");
    f->at = (FlTime)at;
    f->dur = d;
    return f;
}

static void nemesis_start(FlFault *f, FlWorld *w)
{
    Nemesis *m = f->state;
    if (m->drawn)
        json_decref(m->drawn);
    if (m->faults)
        g_ptr_array_unref(m->faults);
    m->faults = g_ptr_array_new_with_free_func((GDestroyNotify)fl_fault_free);
    g_autoptr(GString) kept = g_string_new(NULL);
    draw_schedule(m, fl_world_fault_rng(w), fl_world_now(w), kept);
    size_t i;
    json_t *o;
    json_array_foreach(m->drawn, i, o) {
        FlFault *sub = make_fault(m, w, o, i);
        g_ptr_array_add(m->faults, sub);
        fl_world_at(w, sub->at, sub_start_cb, sub, 0);
    }
    char a[32];
    g_autofree char *text = g_strdup_printf("%zu faults drawn up to %s, at most %" G_GINT64_FORMAT
                                            " nodes down (first index %u)",
                                            json_array_size(m->drawn),
                                            fl_duration_format(m->until, a), m->max_down,
                                            m->faults->len ? ((FlFault *)g_ptr_array_index(m->faults, 0))->index : 0);
    if (kept->len) {
        /* Note 7: what this seed's swarm draw kept. */
        g_autofree char *with = g_strdup_printf("%s; swarm kept %s", text, kept->str);
        fl_world_fault_event(w, f->index, "nemesis", "start", with);
    } else {
        fl_world_fault_event(w, f->index, "nemesis", "start", text);
    }
    char *s = json_dumps(m->drawn, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fl_world_fault_event(w, f->index, "nemesis", "schedule", s);
    free(s);
}

/* At `until` every drawn fault has ended (note 1); stop any that has not,
 * in case a kind outlives its duration.  The liveness phase stops the
 * nemesis early: then faults not yet started never start. */
static void nemesis_stop(FlFault *f, FlWorld *w)
{
    Nemesis *m = f->state;
    for (guint i = 0; m->faults && i < m->faults->len; i++) {
        FlFault *sub = g_ptr_array_index(m->faults, i);
        sub_stop_cb(w, sub, 0);
        sub->started = sub->stopped = true;   /* a start still queued must not fire */
    }
    fl_world_fault_event(w, f->index, "nemesis", "stop", "every drawn fault healed");
}

static void nemesis_destroy(FlFault *f)
{
    Nemesis *m = f->state;
    if (m->kinds)
        g_ptr_array_unref(m->kinds);
    if (m->targets)
        g_ptr_array_unref(m->targets);
    if (m->shapes)
        g_ptr_array_unref(m->shapes);
    if (m->faults)
        g_ptr_array_unref(m->faults);
    if (m->drawn)
        json_decref(m->drawn);
}

json_t *fl_nemesis_schedule(const FlFault *f)
{
    if (strcmp(f->kind->name, "nemesis") != 0)
        return NULL;
    const Nemesis *m = f->state;
    return m->drawn ? json_deep_copy(m->drawn) : NULL;
}

json_t *fl_faults_explicit(const FlScenario *sc)
{
    json_t *all = json_array();
    json_t *resolved = sc->resolved ? json_object_get(sc->resolved, "faults") : NULL;
    for (guint i = 0; sc->faults && i < sc->faults->len; i++) {
        const FlFault *f = g_ptr_array_index(sc->faults, i);
        json_t *drawn = fl_nemesis_schedule(f);
        if (drawn) {
            json_array_extend(all, drawn);
            json_decref(drawn);
        } else if (strcmp(f->kind->name, "nemesis") != 0 && json_array_get(resolved, i)) {
            json_array_append_new(all, json_deep_copy(json_array_get(resolved, i)));
        }
    }
    return all;
}

static const FlFaultField nemesis_fields[] = {
    { "kinds", "fault kinds to draw from: crash, pause, disk, partition, omission, delay, duplicate, clock, clog, pct, reorder, slow-link, slow-node, trigger, mutate (a Byzantine node mutating its messages; only for protocols that tolerate Byzantine nodes, PBFT) (default crash, pause, partition, and mutate for those protocols)" },
    { "every", "time between two faults' starts, a duration or a range (default [\"1s\",\"3s\"])" },
    { "for", "how long each fault lasts, a duration or a range (default [\"500ms\",\"2s\"])" },
    { "targets", "how a fault picks its node, each fault drawing one: node (an id drawn up front), leader, role (a role drawn among those held when the fault starts, then a holder: role:*), leader+k (the leader and k others), minority-with-leader (a partition cuts off the side holding the leader), last-role-change (the node whose role changed last); default all" },
    { "shapes", "what a slot of the schedule holds, each slot drawing one: single (one fault), reform (a partition around the leader that heals and forms again around the next leader, 2-3 times), sequence (2-4 faults back to back, each aimed at a role), bounce (one node crashed and back within 10ms, 2-6 times, while links into it are slow), churn (3-5 overlapping partitions, each cutting off the newest leader alone, so leaders fall before they replicate), and only when listed: crash-majority, crash-all (a majority or every node crashed at once and restarted together, beyond max_down: for protocols that persist what they promise); default single, reform, sequence, bounce, churn" },
    { "swarm", "swarm testing (default true): each run keeps each kind, target and shape with probability 1/2 (at least one of each), so seeds differ in kind and not only in timing; the trace's start event says what was kept" },
    { "long_pause", "a pause aimed at a role lasts at least this (default twice the longest *timeout parameter of the protocol: a GC pause that outlasts an election)" },
    { "max_down", "most nodes crashed, paused or recovering from storage damage at once (default a minority, (n-1)/2); crash-majority and crash-all go beyond it" },
    { "recover", "how long a node still counts as down after it restarts from a torn or corrupt disk fault, while it recovers the promises it lost (default 1s): the budget that keeps storage damage within what the protocol tolerates" },
    { "from", "when the nemesis starts (default 0)" },
    { "until", "every fault has healed by then (default the end of the run)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_nemesis = {
    .name = "nemesis",
    .summary = "a random schedule of faults drawn from the faults' stream, aimed at roles, swarm-varied per seed, never more than max_down nodes down (unless crash-majority/crash-all are listed), healed by until",
    .fields = nemesis_fields,
    .state_size = sizeof(Nemesis),
    .parse = nemesis_parse,
    .start = nemesis_start,
    .stop = nemesis_stop,
    .destroy = nemesis_destroy,
    .own_timing = true,
};
