/* Systematic exploration: see explore.h.
 *
 * Design notes.
 * 1. The search tree is one array of nodes (parent index, the choice that
 *    led there, depth, history length); a node's schedule is its path from
 *    the root.  BFS reads the array in order (it is its own queue), DFS
 *    keeps a stack of indexes.  Memory is a few dozen bytes per state.
 * 2. Expanding a state replays its schedule once to list its choices, then
 *    once per choice (no world can be copied: protocol state is opaque),
 *    so a state of depth d costs about d x (choices + 1) steps.
 * 3. The visited set holds 64-bit world digests in an open-addressing
 *    table that is only probed, never iterated: its layout cannot leak
 *    into the order of the search.
 * 4. The history is checked only when it grew: a verdict can change only
 *    when an event was added, and the histories of a search are tiny.
 * 5. The wall clock decides when to stop (time limit) and when to print
 *    progress, never what is explored next. */
#include "sim/explore.h"

#include "sim/check/check.h"
#include "sim/world.h"

#include <string.h>

typedef struct TNode {
    int64_t parent;          /* -1: the root */
    FlChoice choice;
    uint32_t depth;
    uint32_t history;        /* history events at this state */
} TNode;

/* ---- The visited set (note 3) ------------------------------------------ */

typedef struct Seen {
    uint64_t *slots;         /* 0: empty (a digest of 0 is stored as 1) */
    size_t cap, len;
} Seen;

static bool seen_add(Seen *s, uint64_t d)
{
    if (d == 0)
        d = 1;
    if ((s->len + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 16;
        uint64_t *slots = g_new0(uint64_t, cap);
        for (size_t i = 0; i < s->cap; i++) {
            uint64_t v = s->slots[i];
            if (!v)
                continue;
            size_t j = v & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = v;
        }
        g_free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t j = d & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == d)
            return false;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = d;
    s->len++;
    return true;
}

/* ---- Search ------------------------------------------------------------ */

typedef struct Search {
    const FlScenario *sc;
    const FlExploreOptions *opt;
    FlExploreResult *res;
    GArray *tree;            /* of TNode */
    Seen seen;
    bool prune;
    gint64 t0, next_progress;
    GString *why;
    GError **err;
    bool failed;             /* an error: err is set */
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
    for (int64_t k = node; k > 0; k = g_array_index(s->tree, TNode, k).parent)
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

static bool violated(Search *s, FlWorld *w, uint32_t parent_history, const GArray *path)
{
    if (!state_bad(s, w, parent_history) || s->failed)
        return s->failed;
    s->res->violation = true;
    s->res->what = g_strdup(s->why->str);
    s->res->schedule = g_array_sized_new(FALSE, FALSE, sizeof(FlChoice), path->len);
    g_array_append_vals(s->res->schedule, path->data, path->len);
    s->res->stopped = "violation";
    return true;
}

/* A new state reached by @path (whose last choice is in @node): counts it,
 * prunes it if seen, checks it.  Returns true when it is new and fine
 * (the caller keeps it for expansion). */
static bool visit(Search *s, FlWorld *w, TNode *node, uint32_t parent_history,
                  const GArray *path)
{
    FlExploreStats *st = &s->res->stats;
    st->states++;
    if (node->depth > st->depth)
        st->depth = node->depth;
    if (s->prune && !seen_add(&s->seen, fl_world_digest(w)))
        return false;
    st->unique++;
    node->history = history_events(w);
    if (violated(s, w, parent_history, path))
        return false;
    return true;
}

static int search_tree(Search *s)
{
    FlExploreResult *res = s->res;
    bool bfs = s->opt->strategy == FL_EXPLORE_BFS;
    g_autoptr(GArray) path = g_array_new(FALSE, FALSE, sizeof(FlChoice));
    g_autoptr(GArray) choices = g_array_new(FALSE, FALSE, sizeof(FlChoice));
    g_autoptr(GArray) stack = g_array_new(FALSE, FALSE, sizeof(int64_t));
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
    int64_t zero = 0;
    g_array_append_val(stack, zero);
    guint head = 0;
    for (;;) {
        int64_t at;
        if (bfs) {
            if (head >= s->tree->len)
                break;
            at = head++;
        } else {
            if (stack->len == 0)
                break;
            at = g_array_index(stack, int64_t, stack->len - 1);
            g_array_set_size(stack, stack->len - 1);
        }
        progress(s);
        const char *lim = limit_hit(s);
        if (lim) {
            res->stopped = lim;
            res->exhausted = false;
            return 0;
        }
        TNode me = g_array_index(s->tree, TNode, at);
        if (me.depth >= s->opt->depth)
            continue;
        path_of(s, at, path);
        w = replay(s, path);
        if (!w)
            return -1;
        g_array_set_size(choices, 0);
        fl_world_choices(w, choices);
        fl_world_free(w);
        guint base = stack->len;
        for (guint i = 0; i < choices->len; i++) {
            FlChoice c = g_array_index(choices, FlChoice, i);
            w = replay(s, path);
            if (!w)
                return -1;
            int r = fl_world_choose(w, &c);
            g_assert(r == 0);
            res->stats.steps++;
            g_array_append_val(path, c);
            TNode child = { .parent = at, .choice = c, .depth = me.depth + 1 };
            bool keep = visit(s, w, &child, me.history, path);
            g_array_set_size(path, path->len - 1);
            fl_world_free(w);
            if (s->failed)
                return -1;
            if (res->violation)
                return 0;
            if (!keep)
                continue;
            g_array_append_val(s->tree, child);
            int64_t idx = s->tree->len - 1;
            if (!bfs)
                g_array_insert_val(stack, base, idx);   /* first choice on top */
        }
    }
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
