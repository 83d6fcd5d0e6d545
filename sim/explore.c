/* Systematic exploration: see explore.h.
 *
 * Design notes.
 * 1. The search tree is one array of nodes (parent index, the choice that
 *    led there, depth, history length); a node's schedule is its path from
 *    the root.  BFS keeps one queue of node indexes per depth and always
 *    takes from the shallowest (a redo, note 7, can add to a level already
 *    passed), DFS keeps a stack.  Memory is a few dozen bytes per state.
 * 2. Expanding a state replays its schedule once to list its choices, then
 *    once per choice (no world can be copied: protocol state is opaque),
 *    so a state of depth d costs about d x (choices + 1) steps.
 * 3. The visited set holds 64-bit world digests in an open-addressing
 *    table that is only probed, never iterated: its layout cannot leak
 *    into the order of the search.
 * 4. The history is checked only when it grew: a verdict can change only
 *    when an event was added, and the histories of a search are tiny.
 * 5. The wall clock decides when to stop (time limit) and when to print
 *    progress, never what is explored next.
 * 6. Partial-order reduction by sleep sets (Godefroid, "Partial-Order
 *    Methods for the Verification of Concurrent Systems", LNCS 1032,
 *    ch. 5).  Choices whose footprints are independent (sim/choice.c note
 *    5: different nodes, different messages, no shared budget, history or
 *    clock) commute.  When a state's choices are taken in order a1, a2, ..,
 *    the child reached by ai sleeps on every earlier aj (and everything
 *    asleep in the parent) that is independent of ai: those orders were
 *    covered by aj's subtree.  A sleeping choice is not taken.  Sleep sets
 *    prune steps, never states: every state within the depth is still
 *    visited (test_reduction_same_states), so the invariant and the
 *    history are checked everywhere, and since commuting keeps a path's
 *    length, at its shallowest depth.  Entries name choices by id (valid
 *    along their node's path) and compare by content key, which is the
 *    same in every path reaching an equal digest.
 * 7. Sleep sets and the visited set together (Godefroid, ch. 5.3): a
 *    state reached again with sleep set Z, first stored with Z', is
 *    covered when Z' is a subset of Z.  Otherwise the stored set becomes
 *    Z' n Z, and if the state was expanded already, a redo expands it
 *    again with only the choices of Z' \ Z.  A redo can reach a state
 *    more shallowly than BFS first did (that visit takes over), and after
 *    a level a redo reopened: so BFS, having found a violation of length
 *    L, keeps expanding the levels below L - 1 and keeps the shortest
 *    violation it finds.
 * 8. Delay bounding (Emmi, Qadeer and Rakamaric, "Delay-bounded
 *    scheduling", POPL 2011).  The default scheduler delivers the oldest
 *    message in flight, else lets the first idle client invoke, else
 *    fires the oldest timer, and never injects a fault.  Taking the i-th
 *    choice of that order instead (0-based) costs i delays; a crash,
 *    restart, drop or duplicate costs 1.  DFS keeps the schedules of at
 *    most K delays, cheapest first; a state revisited with no more depth
 *    and no more delays than a visit before is covered, otherwise it is
 *    expanded again, so the search is exhaustive within depth and delays.
 *    Sleep sets are not combined with it (a skipped order may be the only
 *    one within the delay budget). */
#include "sim/explore.h"

#include "sim/check/check.h"
#include "sim/world.h"

#include <string.h>

typedef struct TNode {
    int64_t parent;          /* -1: the root */
    FlChoice choice;
    uint32_t depth;
    uint32_t history;        /* history events at this state */
    uint32_t delays;         /* delay bounding: deviations spent on the way here (note 8) */
    guint sleep_at, sleep_len;   /* its sleep set, in Search.pool (note 6) */
    guint only_at, only_len;     /* a re-expansion: only the choices with these keys */
    bool expanded;           /* its choices were listed (a sleep set shrinking now needs a redo) */
    bool redo;               /* a re-expansion of an expanded state (note 7) */
} TNode;

/* A choice asleep: not to be taken from this state, since a sibling
 * explored earlier covers its schedules (note 6). */
typedef struct SleepEnt {
    FlChoice c;              /* ids as the path to its state names them */
    uint64_t key;            /* FlChoiceFootprint.key: comparable across paths */
} SleepEnt;

/* ---- The visited set (note 3) ------------------------------------------ */

typedef struct Slot {
    uint64_t digest;         /* 0: empty (a digest of 0 is stored as 1) */
    int64_t node;            /* the tree node that stands for it; -1: none to expand */
} Slot;

typedef struct Seen {
    Slot *slots;
    size_t cap, len;
} Seen;

#define SLOT_NEW INT64_MIN

/* The slot of digest @d; a new one has node SLOT_NEW (the caller sets it). */
static Slot *seen_slot(Seen *s, uint64_t d)
{
    if (d == 0)
        d = 1;
    if ((s->len + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 16;
        Slot *slots = g_new0(Slot, cap);
        for (size_t i = 0; i < s->cap; i++) {
            Slot v = s->slots[i];
            if (!v.digest)
                continue;
            size_t j = v.digest & (cap - 1);
            while (slots[j].digest)
                j = (j + 1) & (cap - 1);
            slots[j] = v;
        }
        g_free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t j = d & (s->cap - 1);
    while (s->slots[j].digest) {
        if (s->slots[j].digest == d)
            return &s->slots[j];
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j].digest = d;
    s->slots[j].node = SLOT_NEW;
    s->len++;
    return &s->slots[j];
}

static bool seen_add(Seen *s, uint64_t d)
{
    Slot *sl = seen_slot(s, d);
    if (sl->node != SLOT_NEW)
        return false;
    sl->node = -1;
    return true;
}

/* ---- Search ------------------------------------------------------------ */

typedef struct Search {
    const FlScenario *sc;
    const FlExploreOptions *opt;
    FlExploreResult *res;
    GArray *tree;            /* of TNode */
    GArray *pool;            /* of SleepEnt: sleep sets and redo sets (note 6) */
    GPtrArray *levels;       /* BFS: per depth, a GArray of node indexes (note 1) */
    GArray *heads;           /* BFS: per depth, the next index to take (of guint) */
    guint level;             /* BFS: the lowest depth that may have work */
    GArray *stack;           /* DFS: of int64_t */
    Seen seen;
    bool prune, reduce, bfs;
    gint64 t0, next_progress;
    GString *why;
    GError **err;
    bool failed;             /* an error: err is set */
    uint64_t found;          /* violations recorded */
} Search;

const char *fl_explore_strategy_name(FlExploreStrategy s)
{
    switch (s) {
    case FL_EXPLORE_BFS: return "bfs";
    case FL_EXPLORE_DFS: return "dfs";
    default: return "random-walk";
    }
}

/* The choices from the root to @node, in order. */
static void path_of(const Search *s, int64_t node, GArray *out)
{
    g_array_set_size(out, 0);
    /* By parent links, not by index: a redo (note 7) is a copy of its node. */
    for (int64_t k = node; g_array_index(s->tree, TNode, k).parent >= 0;
         k = g_array_index(s->tree, TNode, k).parent)
        g_array_prepend_val(out, g_array_index(s->tree, TNode, k).choice);
}

static FlWorld *replay(Search *s, const GArray *path)
{
    FlWorldOptions wo = { .record_history = true, .explore = true };
    FlWorld *w = fl_world_new(s->sc, &wo, s->err);
    if (!w) {
        s->failed = true;
        return NULL;
    }
    for (guint i = 0; i < path->len; i++) {
        int r = fl_world_choose(w, &g_array_index(path, FlChoice, i));
        g_assert(r == 0);   /* runs are deterministic: a choice once enabled is again */
        s->res->stats.steps++;
    }
    return w;
}

static void progress(Search *s)
{
    gint64 now = g_get_monotonic_time();
    s->res->stats.wall_s = (double)(now - s->t0) / 1e6;
    if (s->opt->progress_cb && s->opt->progress_s > 0 && now >= s->next_progress) {
        s->next_progress = now + (gint64)(s->opt->progress_s * 1e6);
        s->opt->progress_cb(&s->res->stats, s->opt->progress_ctx);
    }
}

/* Why to stop now, or NULL. */
static const char *limit_hit(Search *s)
{
    if (s->opt->max_states && s->res->stats.states >= s->opt->max_states)
        return "max-states";
    if (s->opt->time_limit_s > 0 && s->res->stats.wall_s >= s->opt->time_limit_s)
        return "time-limit";
    return NULL;
}

static uint32_t history_events(FlWorld *w)
{
    const GString *h = fl_world_history(w);
    uint32_t n = 0;
    for (gsize i = 0; i < h->len; i++)
        n += h->str[i] == '\n';
    return n;
}

/* Checks the state @w is in: the invariant always, the history when it
 * grew past @parent_history events.  True when a violation was found (and
 * recorded in the result with @path). */
static bool state_bad(Search *s, FlWorld *w, uint32_t parent_history)
{
    g_string_truncate(s->why, 0);
    bool bad = !fl_world_invariant(w, s->why);
    if (!bad && s->sc->consistency) {
        const GString *h = fl_world_history(w);
        uint32_t events = history_events(w);
        if (events > parent_history) {
            g_autoptr(GString) report = g_string_new(NULL);
            GError *cerr = NULL;
            FlHistorySource src = { .name = "history.jsonl", .data = h->str, .len = h->len };
            FlVerdict v = fl_check_source(&src, fl_model_name(s->sc->workload.model),
                                          s->sc->consistency, "jsonl", s->opt->check_timeout_s,
                                          report, NULL, &cerr);
            if (v == FL_VERDICT_ERROR) {
                g_propagate_prefixed_error(s->err, cerr, "checking a history: ");
                s->failed = true;
                return true;
            }
            if (v == FL_VERDICT_INVALID) {
                bad = true;
                g_string_printf(s->why, "the history is not %s", s->sc->consistency);
            }
        }
    }
    return bad;
}

/* Records a violation at the state @path reaches (replacing an earlier,
 * longer one: BFS with reduction, note 7). */
static bool violated(Search *s, FlWorld *w, uint32_t parent_history, const GArray *path)
{
    if (!state_bad(s, w, parent_history) || s->failed)
        return s->failed;
    FlExploreResult *res = s->res;
    s->found++;
    g_free(res->what);
    if (res->schedule)
        g_array_free(res->schedule, TRUE);
    res->violation = true;
    res->what = g_strdup(s->why->str);
    res->schedule = g_array_sized_new(FALSE, FALSE, sizeof(FlChoice), path->len);
    g_array_append_vals(res->schedule, path->data, path->len);
    res->stopped = "violation";
    return true;
}

/* ---- Sleep sets (notes 6 and 7) ----------------------------------------- */

static SleepEnt *pool_at(const Search *s, guint at)
{
    return &g_array_index(s->pool, SleepEnt, at);
}

static bool has_key(const Search *s, guint at, guint len, uint64_t key)
{
    for (guint i = 0; i < len; i++)
        if (pool_at(s, at + i)->key == key)
            return true;
    return false;
}

/* Queues node @idx for expansion (DFS: on top of the stack). */
static void schedule(Search *s, int64_t idx)
{
    const TNode *n = &g_array_index(s->tree, TNode, idx);
    if (!s->bfs) {
        g_array_append_val(s->stack, idx);
        return;
    }
    while (s->levels->len <= n->depth) {
        g_ptr_array_add(s->levels, g_array_new(FALSE, FALSE, sizeof(int64_t)));
        guint zero = 0;
        g_array_append_val(s->heads, zero);
    }
    g_array_append_val(g_ptr_array_index(s->levels, n->depth), idx);
    if (n->depth < s->level)
        s->level = n->depth;
}

/* A state seen before (its slot @sl) reached again as @child.  Returns
 * true when @child is to be kept and expanded (it stands for the state
 * from now on); otherwise the state is covered, perhaps by a redo
 * queued here (note 7). */
static bool revisit(Search *s, Slot *sl, TNode *child)
{
    if (sl->node < 0)
        return false;   /* a violating state, or one a walk saw */
    TNode *k = &g_array_index(s->tree, TNode, sl->node);
    if (s->opt->bound_delays) {
        /* Note 8: a visit with no more depth and no more delays spent covers this one. */
        if (k->depth <= child->depth && k->delays <= child->delays)
            return false;
        child->history = k->history;
        sl->node = s->tree->len;
        return true;
    }
    if (!s->reduce)
        return false;
    if (s->bfs && child->depth < k->depth) {
        /* Only a redo reaches a state shallower than before: it takes over. */
        child->history = k->history;
        sl->node = s->tree->len;
        return true;
    }
    if (child->depth >= s->opt->depth)
        return false;
    /* Covered when everything asleep there is asleep here too. */
    bool subset = true;
    for (guint i = 0; i < k->sleep_len && subset; i++)
        subset = has_key(s, child->sleep_at, child->sleep_len, pool_at(s, k->sleep_at + i)->key);
    if (subset)
        return false;
    /* The stored sleep set becomes the intersection; what dropped out of
     * it must be explored from there (unless it was not expanded yet). */
    guint kept = 0, only_at = s->pool->len, only_len = 0;
    for (guint i = 0; i < k->sleep_len; i++) {
        SleepEnt e = *pool_at(s, k->sleep_at + i);
        if (has_key(s, child->sleep_at, child->sleep_len, e.key)) {
            *pool_at(s, k->sleep_at + kept++) = e;
        } else if (k->expanded) {
            g_array_append_val(s->pool, e);
            only_len++;
            k = &g_array_index(s->tree, TNode, sl->node);
        }
    }
    k->sleep_len = kept;
    if (!k->expanded)
        return false;
    TNode r = *k;
    r.redo = true;
    r.expanded = false;
    r.only_at = only_at;
    r.only_len = only_len;
    r.sleep_at = s->pool->len;
    for (guint i = 0; i < r.sleep_len; i++) {
        SleepEnt e = *pool_at(s, k->sleep_at + i);   /* a copy: appending may move the pool */
        g_array_append_val(s->pool, e);
    }
    g_array_append_val(s->tree, r);
    s->res->stats.redone++;
    schedule(s, s->tree->len - 1);
    return false;
}

/* A new state reached by @path (whose last choice is in @node): counts it,
 * prunes it if seen, checks it.  Returns true when the caller is to keep
 * it for expansion (as the next node of the tree). */
static bool visit(Search *s, FlWorld *w, TNode *node, uint32_t parent_history,
                  const GArray *path)
{
    FlExploreStats *st = &s->res->stats;
    st->states++;
    if (node->depth > st->depth)
        st->depth = node->depth;
    uint64_t d = 0;
    if (s->prune) {
        d = fl_world_digest(w);
        Slot *sl = seen_slot(&s->seen, d);
        if (sl->node != SLOT_NEW)
            return revisit(s, sl, node);
        sl->node = -1;
    }
    st->unique++;
    node->history = history_events(w);
    if (violated(s, w, parent_history, path))
        return false;
    if (s->prune)
        seen_slot(&s->seen, d)->node = s->tree->len;
    return true;
}

/* Delay bounding (note 8): what taking choice @i of @choices costs. */
static void delay_costs(const GArray *choices, uint32_t *cost)
{
    uint32_t deliveries = 0, invokes = 0;
    for (guint i = 0; i < choices->len; i++) {
        uint32_t k = g_array_index(choices, FlChoice, i).kind;
        deliveries += k == FL_CHOICE_DELIVER;
        invokes += k == FL_CHOICE_INVOKE;
    }
    uint32_t d = 0, v = 0, t = 0;
    for (guint i = 0; i < choices->len; i++) {
        switch (g_array_index(choices, FlChoice, i).kind) {
        case FL_CHOICE_DELIVER: cost[i] = d++; break;
        case FL_CHOICE_INVOKE: cost[i] = deliveries + v++; break;
        case FL_CHOICE_TIMER: cost[i] = deliveries + invokes + t++; break;
        default: cost[i] = 1; break;
        }
    }
}

typedef struct Awake {
    SleepEnt e;
    FlChoiceFootprint f;
} Awake;

/* Pops the next node to expand, or -1. */
static int64_t next_node(Search *s, uint32_t below)
{
    if (!s->bfs) {
        if (s->stack->len == 0)
            return -1;
        int64_t at = g_array_index(s->stack, int64_t, s->stack->len - 1);
        g_array_set_size(s->stack, s->stack->len - 1);
        return at;
    }
    for (; s->level < s->levels->len && s->level < below; s->level++) {
        GArray *q = g_ptr_array_index(s->levels, s->level);
        guint *head = &g_array_index(s->heads, guint, s->level);
        if (*head < q->len)
            return g_array_index(q, int64_t, (*head)++);
    }
    return -1;
}

static int search_tree(Search *s)
{
    FlExploreResult *res = s->res;
    const bool bounded = s->opt->bound_delays;
    const uint32_t delay_bound = s->opt->delays;
    g_autoptr(GArray) path = g_array_new(FALSE, FALSE, sizeof(FlChoice));
    g_autoptr(GArray) choices = g_array_new(FALSE, FALSE, sizeof(FlChoice));
    g_autoptr(GArray) feet = g_array_new(FALSE, FALSE, sizeof(FlChoiceFootprint));
    g_autoptr(GArray) awake = g_array_new(FALSE, FALSE, sizeof(Awake));
    g_autoptr(GArray) order = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GArray) cost = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    TNode root = { .parent = -1 };
    FlWorld *w = replay(s, path);
    if (!w)
        return -1;
    bool ok = visit(s, w, &root, 0, path);
    fl_world_free(w);
    if (s->failed)
        return -1;
    if (!ok)
        return 0;
    g_array_append_val(s->tree, root);
    schedule(s, 0);
    for (;;) {
        /* BFS with reduction, after a violation: only what could give a
         * shorter one (note 7). */
        uint32_t below = res->violation ? res->schedule->len - 1 : UINT32_MAX;
        int64_t at = next_node(s, below);
        if (at < 0)
            break;
        progress(s);
        const char *lim = limit_hit(s);
        if (lim) {
            if (!res->violation)
                res->stopped = lim;
            res->exhausted = false;
            return 0;
        }
        TNode me = g_array_index(s->tree, TNode, at);
        if (me.depth >= s->opt->depth)
            continue;
        g_array_index(s->tree, TNode, at).expanded = true;
        path_of(s, at, path);
        w = replay(s, path);
        if (!w)
            return -1;
        g_array_set_size(choices, 0);
        fl_world_choices(w, choices);
        g_array_set_size(feet, choices->len);
        g_array_set_size(awake, 0);
        if (s->reduce) {
            for (guint i = 0; i < choices->len; i++)
                fl_world_choice_footprint(w, &g_array_index(choices, FlChoice, i),
                                          &g_array_index(feet, FlChoiceFootprint, i));
            for (guint i = 0; i < me.sleep_len; i++) {
                Awake a = { .e = *pool_at(s, me.sleep_at + i) };
                fl_world_choice_footprint(w, &a.e.c, &a.f);
                g_array_append_val(awake, a);
            }
        }
        fl_world_free(w);
        /* The order to try them in: the list's, or by cost (cheapest on top). */
        g_array_set_size(order, 0);
        g_array_set_size(cost, choices->len);
        if (bounded)
            delay_costs(choices, (uint32_t *)(void *)cost->data);
        else if (choices->len)
            memset(cost->data, 0, choices->len * sizeof(uint32_t));
        uint32_t left = bounded ? delay_bound - me.delays : 0;
        for (uint32_t c = 0; c <= left; c++)
            for (guint i = 0; i < choices->len; i++)
                if (!bounded || g_array_index(cost, uint32_t, i) == c)
                    g_array_append_val(order, i);
        guint base = s->stack->len;
        for (guint oi = 0; oi < order->len; oi++) {
            guint i = g_array_index(order, guint, oi);
            FlChoice c = g_array_index(choices, FlChoice, i);
            const FlChoiceFootprint *f = &g_array_index(feet, FlChoiceFootprint, i);
            TNode child = { .parent = at, .choice = c, .depth = me.depth + 1,
                            .delays = me.delays + g_array_index(cost, uint32_t, i) };
            if (s->reduce) {
                bool asleep = false;
                for (guint a = 0; a < awake->len && !asleep; a++)
                    asleep = g_array_index(awake, Awake, a).e.key == f->key;
                if (asleep || (me.redo && !has_key(s, me.only_at, me.only_len, f->key))) {
                    res->stats.slept += asleep;
                    continue;
                }
                /* Note 6: the child sleeps on what is asleep here or was
                 * explored before it, as long as it commutes with c. */
                child.sleep_at = s->pool->len;
                for (guint a = 0; a < awake->len; a++) {
                    const Awake *z = &g_array_index(awake, Awake, a);
                    if (fl_choice_independent(&z->f, f)) {
                        g_array_append_val(s->pool, z->e);
                        child.sleep_len++;
                    }
                }
            }
            w = replay(s, path);
            if (!w)
                return -1;
            int r = fl_world_choose(w, &c);
            g_assert(r == 0);
            res->stats.steps++;
            g_array_append_val(path, c);
            uint64_t found = s->found;
            bool keep = visit(s, w, &child, me.history, path);
            g_array_set_size(path, path->len - 1);
            fl_world_free(w);
            if (s->failed)
                return -1;
            if (s->found != found) {
                if (!(s->bfs && s->reduce))
                    return 0;
                break;   /* siblings are no shorter */
            }
            if (s->reduce) {
                Awake z = { .e = { .c = c, .key = f->key }, .f = *f };
                g_array_append_val(awake, z);
            }
            if (!keep)
                continue;
            g_array_append_val(s->tree, child);
            int64_t idx = s->tree->len - 1;
            if (s->bfs)
                schedule(s, idx);
            else
                g_array_insert_val(s->stack, base, idx);   /* first choice on top */
        }
    }
    if (res->violation)
        return 0;
    res->exhausted = true;
    res->stopped = "exhausted";
    return 0;
}

static int search_walks(Search *s)
{
    FlExploreResult *res = s->res;
    FlRng rng;
    fl_rng_init(&rng, s->sc->seed, "explore random-walk");
    g_autoptr(GArray) path = g_array_new(FALSE, FALSE, sizeof(FlChoice));
    g_autoptr(GArray) choices = g_array_new(FALSE, FALSE, sizeof(FlChoice));
    for (;;) {
        g_array_set_size(path, 0);
        FlWorld *w = replay(s, path);
        if (!w)
            return -1;
        TNode node = { .parent = -1 };
        (void)visit(s, w, &node, 0, path);
        uint32_t hist = node.history;
        while (!res->violation && !s->failed && node.depth < s->opt->depth) {
            progress(s);
            if (limit_hit(s))
                break;
            g_array_set_size(choices, 0);
            fl_world_choices(w, choices);
            if (choices->len == 0)
                break;
            FlChoice c = g_array_index(choices, FlChoice, fl_rng_below(&rng, choices->len));
            int r = fl_world_choose(w, &c);
            g_assert(r == 0);
            res->stats.steps++;
            g_array_append_val(path, c);
            node.depth++;
            /* A walk goes on through states seen before: pruning would
             * end it at the first familiar one. */
            res->stats.states++;
            if (node.depth > res->stats.depth)
                res->stats.depth = node.depth;
            if (s->prune)
                res->stats.unique += seen_add(&s->seen, fl_world_digest(w));
            else
                res->stats.unique++;
            uint32_t now_hist = history_events(w);
            if (violated(s, w, hist, path))
                break;
            hist = now_hist;
        }
        fl_world_free(w);
        if (s->failed)
            return -1;
        if (res->violation)
            return 0;
        const char *lim = limit_hit(s);
        if (lim) {
            res->stopped = lim;
            return 0;
        }
    }
}

/* Replays @in leniently (a choice no longer enabled is skipped), checking
 * each state; on a violation, sets @out to the choices taken up to it and
 * returns true. */
static bool try_schedule(Search *s, const GArray *in, GArray *out)
{
    FlWorldOptions wo = { .record_history = true, .explore = true };
    FlWorld *w = fl_world_new(s->sc, &wo, NULL);
    if (!w)
        return false;
    g_array_set_size(out, 0);
    uint32_t hist = history_events(w);
    bool bad = false;
    for (guint i = 0; i < in->len && !bad && !s->failed; i++) {
        const FlChoice *c = &g_array_index(in, FlChoice, i);
        if (fl_world_choose(w, c) != 0)
            continue;
        s->res->stats.steps++;
        g_array_append_val(out, *c);
        bad = state_bad(s, w, hist);
        hist = history_events(w);
    }
    fl_world_free(w);
    return bad && !s->failed;
}

/* Shrinks a violating schedule found by DFS or a walk: removes one choice
 * at a time (later ones that are no longer enabled are skipped) while a
 * violation remains, until no single removal keeps one.  The result is
 * locally minimal, not necessarily shortest (BFS gives that). */
static void shrink(Search *s)
{
    FlExploreResult *res = s->res;
    g_autoptr(GArray) cand = g_array_new(FALSE, FALSE, sizeof(FlChoice));
    g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(FlChoice));
    bool progress_made = true;
    while (progress_made) {
        progress_made = false;
        for (guint i = res->schedule->len; i-- > 0;) {
            g_array_set_size(cand, 0);
            g_array_append_vals(cand, res->schedule->data, i);
            g_array_append_vals(cand, &g_array_index(res->schedule, FlChoice, i + 1),
                                res->schedule->len - i - 1);
            if (try_schedule(s, cand, got) && got->len < res->schedule->len) {
                g_array_set_size(res->schedule, 0);
                g_array_append_vals(res->schedule, got->data, got->len);
                g_free(res->what);
                res->what = g_strdup(s->why->str);
                progress_made = true;
                if (i > res->schedule->len)
                    i = res->schedule->len;
            }
        }
    }
}

int fl_explore(const FlScenario *sc, const FlExploreOptions *opt, FlExploreResult *res,
               GError **err)
{
    memset(res, 0, sizeof *res);
    res->stopped = "exhausted";
    Search s = { .sc = sc, .opt = opt, .res = res, .err = err,
                 .tree = g_array_new(FALSE, FALSE, sizeof(TNode)), .why = g_string_new(NULL) };
    s.t0 = g_get_monotonic_time();
    s.next_progress = s.t0 + (gint64)(opt->progress_s * 1e6);
    s.prune = sc->protocol->digest != NULL;
    s.bfs = opt->strategy == FL_EXPLORE_BFS;
    s.reduce = !opt->no_reduction && opt->strategy != FL_EXPLORE_RANDOM_WALK &&
               !opt->bound_delays;
    s.pool = g_array_new(FALSE, FALSE, sizeof(SleepEnt));
    s.levels = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    s.heads = g_array_new(FALSE, FALSE, sizeof(guint));
    s.stack = g_array_new(FALSE, FALSE, sizeof(int64_t));
    int r = opt->strategy == FL_EXPLORE_RANDOM_WALK ? search_walks(&s) : search_tree(&s);
    if (r == 0 && res->violation && opt->strategy != FL_EXPLORE_BFS && !opt->no_shrink) {
        res->found_length = res->schedule->len;
        shrink(&s);
        if (s.failed)
            r = -1;
    }
    res->stats.wall_s = (double)(g_get_monotonic_time() - s.t0) / 1e6;
    if (res->violation)
        res->exhausted = false;
    g_array_free(s.tree, TRUE);
    g_free(s.seen.slots);
    g_array_free(s.pool, TRUE);
    g_ptr_array_free(s.levels, TRUE);
    g_array_free(s.heads, TRUE);
    g_array_free(s.stack, TRUE);
    g_string_free(s.why, TRUE);
    return r;
}

void fl_explore_result_clear(FlExploreResult *res)
{
    g_free(res->what);
    if (res->schedule)
        g_array_free(res->schedule, TRUE);
    memset(res, 0, sizeof *res);
}

json_t *fl_explore_counterexample(json_t *root, const char *name, const char *what,
                                  const GArray *schedule, uint64_t trace_hash,
                                  bool history_invalid)
{
    json_t *o = json_deep_copy(root);
    json_object_set_new(o, "name", json_string(name));
    const char *old = json_string_value(json_object_get(root, "description"));
    g_autofree char *desc = g_strdup_printf(
        "Counterexample found by faultline explore: %s, after %u choices. `faultline run` "
        "replays the schedule below exactly.%s%s", what, schedule->len,
        old && *old ? " The scenario explored: " : "", old && *old ? old : "");
    json_object_set_new(o, "description", json_string(desc));
    json_t *a = json_array();
    for (guint i = 0; i < schedule->len; i++) {
        char buf[FL_CHOICE_TEXT];
        json_array_append_new(a, json_string(fl_choice_text(&g_array_index(schedule, FlChoice, i),
                                                             buf)));
    }
    json_object_set_new(o, "schedule", a);
    json_t *expect = json_object();
    if (history_invalid)
        json_object_set_new(expect, "valid", json_false());
    char hash[24];
    g_snprintf(hash, sizeof hash, "%016" G_GINT64_MODIFIER "x", (guint64)trace_hash);
    json_object_set_new(expect, "trace_hash", json_string(hash));
    json_object_set_new(o, "expect", expect);
    return o;
}
