/* The nemesis: the same seed draws the same schedule, another seed another
 * one; never more than max_down nodes crashed or paused at once, checked
 * on the trace; every drawn fault heals by `until`; and the explicit
 * schedule it gives back replays the same run without it.  Then one test
 * per target (the selectors, on Raft's roles), per shape, and for swarm
 * (nemesis.c notes 5-7). */
#include "tests/faults/helpers.h"

#include "faults/nemesis.h"
#include "sim/world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static FlScenario *nemesis_scenario(int seed, uint32_t nodes, const char *nemesis)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":%d,\"duration\":\"12s\",\"cluster\":{\"protocol\":\"single\",\"nodes\":%u},"
        "\"faults\":[%s]}", seed, nodes, nemesis);
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    return sc;
}

/* Runs @sc and returns the nemesis's drawn schedule and the trace hash. */
static json_t *schedule_of(FlScenario *sc, uint64_t *hash)
{
    GError *err = NULL;
    FlWorld *w = fl_world_new(sc, NULL, &err);
    assert_non_null(w);
    assert_int_equal(fl_world_run(w, &err), 0);
    *hash = fl_world_trace_hash(w);
    fl_world_free(w);
    json_t *s = fl_nemesis_schedule(g_ptr_array_index(sc->faults, 0));
    assert_non_null(s);
    return s;
}

#define EVERYTHING "{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"disk\",\"partition\"," \
                   "\"omission\",\"delay\",\"duplicate\",\"clock\",\"clog\"]," \
                   "\"every\":[\"100ms\",\"800ms\"],\"from\":\"1s\",\"until\":\"10s\"}"

static void test_same_seed_same_schedule(void **state)
{
    uint64_t h1, h2, h3;
    FlScenario *a = nemesis_scenario(7, 5, EVERYTHING);
    FlScenario *b = nemesis_scenario(7, 5, EVERYTHING);
    FlScenario *c = nemesis_scenario(8, 5, EVERYTHING);
    json_t *sa = schedule_of(a, &h1), *sb = schedule_of(b, &h2), *sc = schedule_of(c, &h3);
    assert_true(json_array_size(sa) > 5);
    assert_true(json_equal(sa, sb));
    assert_int_equal(h1, h2);
    assert_false(json_equal(sa, sc));
    /* The same scenario object run again draws the same again. */
    uint64_t h4;
    json_t *sa2 = schedule_of(a, &h4);
    assert_true(json_equal(sa, sa2));
    assert_int_equal(h1, h4);
    json_decref(sa);
    json_decref(sa2);
    json_decref(sb);
    json_decref(sc);
    fl_scenario_free(a);
    fl_scenario_free(b);
    fl_scenario_free(c);
}

/* Walks the trace: the nodes crashed or paused at each instant never
 * exceed @max_down, all are back by @until, and the schedule was traced. */
static void check_trace(json_t *trace, int64_t max_down, uint32_t nodes, FlTime until)
{
    g_autofree bool *down = g_new0(bool, nodes);
    int64_t count = 0, peak = 0;
    bool scheduled = false;
    size_t i;
    json_t *ev;
    json_array_foreach(trace, i, ev) {
        const char *kind = json_string_value(json_object_get(ev, "ev"));
        FlTime t = (FlTime)json_integer_value(json_object_get(ev, "t"));
        uint32_t node = (uint32_t)json_integer_value(json_object_get(ev, "node"));
        if (strcmp(kind, "fault") == 0) {
            const char *text = json_string_value(json_object_get(ev, "text"));
            scheduled |= g_str_has_prefix(text, "schedule nemesis [");
            /* Every drawn fault starts and stops inside [from, until]. */
            if (g_str_has_prefix(text, "start ") || g_str_has_prefix(text, "stop "))
                assert_true(t <= until);
            continue;
        }
        bool goes_down = strcmp(kind, "crash") == 0 || strcmp(kind, "pause") == 0;
        bool comes_back = strcmp(kind, "restart") == 0 || strcmp(kind, "resume") == 0;
        if (!goes_down && !comes_back)
            continue;
        assert_true(node < nodes);
        if (goes_down && !down[node]) {
            down[node] = true;
            count++;
        } else if (comes_back && down[node]) {
            down[node] = false;
            count--;
        }
        if (count > peak)
            peak = count;
        if (count > max_down)
            fail_msg("%" G_GINT64_FORMAT " nodes down at t=%" G_GUINT64_FORMAT " (max_down %" G_GINT64_FORMAT ")",
                     count, t, max_down);
        if (t > until)
            fail_msg("a node went down or came back at t=%" G_GUINT64_FORMAT ", after until", t);
    }
    assert_int_equal(count, 0);
    assert_true(scheduled);
    /* Only a test of something if the nemesis came close to the limit. */
    if (max_down > 0)
        assert_true(peak >= 1);
}

static void test_max_down(void **state)
{
    for (int64_t max_down = 0; max_down <= 3; max_down++) {
        for (int seed = 1; seed <= 12; seed++) {
            g_autofree char *nem = g_strdup_printf(
                "{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"disk\",\"clock\"],"
                "\"every\":[\"50ms\",\"400ms\"],\"for\":[\"200ms\",\"3s\"],"
                "\"max_down\":%" G_GINT64_FORMAT ",\"from\":\"500ms\",\"until\":\"9s\"}", max_down);
            FlScenario *sc = nemesis_scenario(seed, 5, nem);
            json_t *trace = fx_trace(sc);
            check_trace(trace, max_down, 5, FL_SEC(9));
            json_decref(trace);
            fl_scenario_free(sc);
        }
    }
}

/* Only down kinds and max_down 0: nothing is ever drawn. */
static void test_nothing_to_draw(void **state)
{
    uint64_t h;
    FlScenario *sc = nemesis_scenario(1, 3, "{\"kind\":\"nemesis\",\"kinds\":[\"crash\"],\"max_down\":0}");
    json_t *s = schedule_of(sc, &h);
    assert_int_equal(json_array_size(s), 0);
    json_decref(s);
    fl_scenario_free(sc);
}

static void replace_faults(json_t *root, void *ctx)
{
    json_object_set(root, "faults", ctx);
}

/* The explicit schedule, run without the nemesis, gives the same history.
 * (lww: no timers on round times, so no tie between a drawn fault and a
 * protocol event could be broken differently.  Disk and clog draw their
 * damage and their order when they start, so they are left out.) */
static void test_explicit_replay(void **state)
{
    const char *nem = "[{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"partition\",\"omission\","
                      "\"delay\",\"duplicate\",\"clock\"],\"every\":[\"200ms\",\"1s\"],\"from\":\"1s\",\"until\":\"9s\","
                      "\"swarm\":false,\"targets\":[\"node\"],\"shapes\":[\"single\"]}]";
    for (int seed = 1; seed <= 4; seed++) {
        FlScenario *sc = fx_scenario("tests/faults/lww-quiet.json", nem, NULL, NULL);
        sc->seed = (uint64_t)seed;
        FlRunResult a;
        fx_run(sc, &a);
        json_t *explicit = fl_faults_explicit(sc);
        assert_true(json_array_size(explicit) > 3);
        FlScenario *sc2 = fx_scenario("tests/faults/lww-quiet.json", "[]", replace_faults, explicit);
        sc2->seed = (uint64_t)seed;
        FlRunResult b;
        fx_run(sc2, &b);
        assert_string_equal(a.history->str, b.history->str);
        /* And the nemesis run is not the fault-free run. */
        assert_true(json_array_size(json_object_get(a.metrics, "faults")) > 3);
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
        json_decref(explicit);
        fl_scenario_free(sc);
        fl_scenario_free(sc2);
    }
}

/* The storage-fault budget (nemesis.c note 4): a node restarted from a torn
 * or corrupt disk counts as down for `recover` more, so with max_down 1 no
 * other down fault starts before that window ends; plain crashes get none. */
static FlTime dur_of(json_t *o, const char *key)
{
    FlDuration d = 0;
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    assert_int_equal(fl_duration_parse(s, &d), 0);
    return (FlTime)d;
}

static void test_storage_budget(void **state)
{
    int windows = 0, crashes_close = 0;
    for (int seed = 1; seed <= 40; seed++) {
        FlScenario *sc = nemesis_scenario(seed, 3,
            "{\"kind\":\"nemesis\",\"kinds\":[\"disk\",\"crash\"],\"max_down\":1,"
            "\"every\":[\"100ms\",\"400ms\"],\"for\":[\"50ms\",\"200ms\"],"
            "\"recover\":\"700ms\",\"until\":\"10s\"}");
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        FlTime free_at = 0;
        bool prev_damaged = false;
        size_t i;
        json_t *o;
        json_array_foreach(s, i, o) {
            FlTime at = dur_of(o, "at");
            if (i > 0) {
                assert_true(at > free_at);
                if (!prev_damaged && at <= free_at + FL_MS(700))
                    crashes_close++;
            }
            const char *mode = json_string_value(json_object_get(o, "mode"));
            prev_damaged = mode && strcmp(mode, "lose-unsynced") != 0;
            free_at = at + dur_of(o, "restart_after") + (prev_damaged ? FL_MS(700) : 0);
            windows += prev_damaged;
        }
        json_decref(s);
        fl_scenario_free(sc);
    }
    assert_true(windows > 20);
    assert_true(crashes_close > 20);   /* the window is for storage damage only */
}

/* ---- Byzantine nodes (nemesis.c note 9) -------------------------------- */

static FlScenario *pbft_nemesis(int seed, uint32_t nodes, const char *nemesis)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":%d,\"duration\":\"12s\",\"cluster\":{\"protocol\":\"pbft\",\"nodes\":%u},"
        "\"faults\":[%s]}", seed, nodes, nemesis);
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    return sc;
}

/* How many nodes a drawn fault's target may take: 1 for an id or
 * "leader", k+1 for "leader+k". */
static int target_size(json_t *o)
{
    json_t *node = json_object_get(o, "node");
    const char *s = json_string_value(node);
    if (s && g_str_has_prefix(s, "leader+"))
        return 1 + atoi(s + strlen("leader+"));
    return 1;
}

/* mutate draws a byzantine fault with behaviour mutate, its p and classes
 * written out; at most f = 2 of 7 nodes are Byzantine, or down while one
 * is, though max_down is 3. */
static void test_mutate_within_f(void **state)
{
    int drawn = 0, crash_only_three = 0;
    for (int seed = 1; seed <= 30; seed++) {
        FlScenario *sc = pbft_nemesis(seed, 7,
            "{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"mutate\"],\"swarm\":false,"
            "\"targets\":[\"node\",\"leader\",\"leader+k\"],\"shapes\":[\"single\"],"
            "\"every\":[\"50ms\",\"300ms\"],\"for\":[\"200ms\",\"1s\"],\"until\":\"10s\"}");
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        size_t i, j;
        json_t *o, *q;
        json_array_foreach(s, i, o) {
            const char *kind = json_string_value(json_object_get(o, "kind"));
            if (strcmp(kind, "byzantine") == 0) {
                drawn++;
                assert_string_equal(json_string_value(json_object_get(o, "behaviour")), "mutate");
                double p = json_real_value(json_object_get(o, "p"));
                assert_true(p >= 0.05 && p <= 0.5);
                json_t *m = json_object_get(o, "mutations");
                assert_true(json_array_size(m) >= 1 && json_array_size(m) <= 3);
            }
            /* Everything down or Byzantine at this fault's start. */
            FlTime at = dur_of(o, "at");
            int down = 0;
            bool byzantine = false;
            json_array_foreach(s, j, q) {
                bool byz = strcmp(json_string_value(json_object_get(q, "kind")), "byzantine") == 0;
                FlTime start = dur_of(q, "at");
                FlTime end = start + dur_of(q, byz ? "for" : "restart_after");
                if (start <= at && at <= end) {
                    down += target_size(q);
                    byzantine |= byz;
                }
            }
            assert_true(down <= (byzantine ? 2 : 3));
            crash_only_three += !byzantine && down == 3;
        }
        json_decref(s);
        fl_scenario_free(sc);
    }
    assert_true(drawn > 30);
    assert_true(crash_only_three > 0);   /* max_down still holds for crashes alone */
}

/* By default the nemesis draws mutate for PBFT, never for Raft (whose
 * nemesis refuses it outright: test_bad_faults). */
static void test_mutate_default(void **state)
{
    int pbft = 0;
    for (int seed = 1; seed <= 10; seed++) {
        FlScenario *sc = pbft_nemesis(seed, 4, "{\"kind\":\"nemesis\",\"until\":\"10s\"}");
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        size_t i;
        json_t *o;
        json_array_foreach(s, i, o)
            pbft += strcmp(json_string_value(json_object_get(o, "kind")), "byzantine") == 0;
        json_decref(s);
        fl_scenario_free(sc);
    }
    assert_true(pbft > 0);
    for (int seed = 1; seed <= 10; seed++) {
        FlScenario *sc = nemesis_scenario(seed, 3, "{\"kind\":\"nemesis\",\"until\":\"10s\"}");
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        size_t i;
        json_t *o;
        json_array_foreach(s, i, o)
            assert_string_not_equal(json_string_value(json_object_get(o, "kind")), "byzantine");
        json_decref(s);
        fl_scenario_free(sc);
    }
}

/* ---- targets (nemesis.c note 5) and their selectors ------------------- */

/* Raft on five nodes, whose roles the selectors aim at, with @faults. */
static FlScenario *raft_scenario(int seed, const char *faults)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":%d,\"duration\":\"8s\",\"cluster\":{\"protocol\":\"raft\",\"nodes\":5,"
        "\"params\":{\"election_timeout\":[\"150ms\",\"300ms\"],\"heartbeat\":\"50ms\"}},"
        "\"workload\":{\"model\":\"kv\",\"clients\":2,\"keys\":2,\"rate\":50,\"until\":\"7s\"},"
        "\"faults\":%s}", seed, faults);
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    return sc;
}

/* The cluster as the trace shows it, walked event by event: each node's
 * role, whether it is up, and when its role last changed. */
typedef struct Cluster {
    char role[5][32];
    bool up[5];
    size_t changed[5];   /* index of its last role event; 0: none */
} Cluster;

static void cluster_init(Cluster *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 5; i++)
        c->up[i] = true;
}

static void cluster_step(Cluster *c, json_t *ev, size_t index)
{
    const char *kind = json_string_value(json_object_get(ev, "ev"));
    int node = (int)json_integer_value(json_object_get(ev, "node"));
    if (strcmp(kind, "role") == 0) {
        g_strlcpy(c->role[node], json_string_value(json_object_get(ev, "text")), 32);
        c->changed[node] = index;
    } else if (strcmp(kind, "crash") == 0) {
        c->up[node] = false;
        c->role[node][0] = '\0';
    } else if (strcmp(kind, "restart") == 0) {
        c->up[node] = true;
    }
}

static int cluster_leader(const Cluster *c)
{
    for (int i = 0; i < 5; i++)
        if (c->up[i] && strcmp(c->role[i], "leader") == 0)
            return i;
    return -1;
}

/* The ids a fault event's text lists after @prefix ("start crash node "):
 * "1 3" or "1,3". */
static GArray *ids_after(const char *text, const char *prefix)
{
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int));
    const char *p = text + strlen(prefix);
    while (*p && (g_ascii_isdigit(*p) || *p == ' ' || *p == ',')) {
        if (g_ascii_isdigit(*p)) {
            int id = (int)strtol(p, (char **)&p, 10);
            g_array_append_val(ids, id);
        } else {
            p++;
        }
    }
    return ids;
}

static bool ids_have(GArray *ids, int id)
{
    for (guint i = 0; i < ids->len; i++)
        if (g_array_index(ids, int, i) == id)
            return true;
    return false;
}

/* Runs one fault aimed by a selector on seeds 1..@seeds and calls @check
 * with the cluster as it was when the fault's start event came, and the
 * ids the fault acted on.  Returns how many starts were checked. */
static int aimed(const char *fault, const char *prefix, int seeds,
                 void (*check)(const Cluster *c, GArray *ids))
{
    int checked = 0;
    for (int seed = 1; seed <= seeds; seed++) {
        FlScenario *sc = raft_scenario(seed, fault);
        json_t *trace = fx_trace(sc);
        /* A fault acts first and traces its start after: judge it by the
         * cluster as it was before the crashes or pauses just traced. */
        Cluster c, before;
        cluster_init(&c);
        bool acting = false;
        size_t i;
        json_t *ev;
        json_array_foreach(trace, i, ev) {
            const char *kind = json_string_value(json_object_get(ev, "ev"));
            const char *text = json_string_value(json_object_get(ev, "text"));
            if (strcmp(kind, "fault") == 0 && g_str_has_prefix(text, prefix)) {
                GArray *ids = ids_after(text, prefix);
                check(acting ? &before : &c, ids);
                g_array_unref(ids);
                checked++;
            }
            bool acts = strcmp(kind, "crash") == 0 || strcmp(kind, "pause") == 0;
            if (acts && !acting)
                before = c;
            acting = acts;
            cluster_step(&c, ev, i + 1);
        }
        json_decref(trace);
        fl_scenario_free(sc);
    }
    return checked;
}

static void check_leader_plus_1(const Cluster *c, GArray *ids)
{
    int leader = cluster_leader(c);
    assert_true(leader >= 0);
    assert_int_equal(ids->len, 2);
    assert_true(ids_have(ids, leader));
}

static void test_target_leader_plus(void **state)
{
    assert_int_equal(aimed("[{\"at\":\"2s\",\"kind\":\"crash\",\"node\":\"leader+1\",\"restart_after\":\"1s\"}]",
                           "start crash node ", 6, check_leader_plus_1), 6);
}

static void check_minority_with_leader(const Cluster *c, GArray *ids)
{
    int leader = cluster_leader(c);
    assert_true(leader >= 0);
    assert_int_equal(ids->len, 2);   /* (5 - 1) / 2 */
    assert_true(ids_have(ids, leader));
}

static void test_target_minority_with_leader(void **state)
{
    assert_int_equal(aimed("[{\"at\":\"2s\",\"kind\":\"partition\",\"isolate\":\"minority-with-leader\",\"for\":\"1s\"}]",
                           "start partition isolate ", 6, check_minority_with_leader), 6);
}

static void check_follower(const Cluster *c, GArray *ids)
{
    assert_int_equal(ids->len, 1);
    int id = g_array_index(ids, int, 0);
    assert_true(c->up[id]);
    assert_string_equal(c->role[id], "follower");
}

static void check_any_role(const Cluster *c, GArray *ids)
{
    assert_int_equal(ids->len, 1);
    int id = g_array_index(ids, int, 0);
    assert_true(c->up[id]);
    assert_true(c->role[id][0] != '\0');
}

static int role_leader_hits;

static void check_any_role_count(const Cluster *c, GArray *ids)
{
    check_any_role(c, ids);
    role_leader_hits += g_array_index(ids, int, 0) == cluster_leader(c);
}

static void test_target_role(void **state)
{
    assert_int_equal(aimed("[{\"at\":\"2s\",\"kind\":\"crash\",\"node\":\"role:follower\",\"restart_after\":\"1s\"}]",
                           "start crash node ", 4, check_follower), 4);
    /* role:* draws a role first: the one leader is hit about half the time
     * (two roles held: leader and follower), not one time in five. */
    role_leader_hits = 0;
    int n = aimed("[{\"at\":\"2s\",\"kind\":\"clock\",\"node\":\"role:*\",\"jump\":\"1s\",\"for\":\"100ms\"},"
                  "{\"at\":\"3s\",\"kind\":\"clock\",\"node\":\"role:*\",\"jump\":\"1s\",\"for\":\"100ms\"},"
                  "{\"at\":\"4s\",\"kind\":\"clock\",\"node\":\"role:*\",\"jump\":\"1s\",\"for\":\"100ms\"},"
                  "{\"at\":\"5s\",\"kind\":\"clock\",\"node\":\"role:*\",\"jump\":\"1s\",\"for\":\"100ms\"}]",
                  "start clock node ", 10, check_any_role_count);
    assert_int_equal(n, 40);
    assert_true(role_leader_hits >= 12 && role_leader_hits <= 28);
}

static void check_last_role_change(const Cluster *c, GArray *ids)
{
    assert_int_equal(ids->len, 1);
    int id = g_array_index(ids, int, 0), best = -1;
    for (int i = 0; i < 5; i++)
        if (c->up[i] && c->changed[i] > 0 && (best < 0 || c->changed[i] > c->changed[best]))
            best = i;
    assert_int_equal(id, best);
}

static void test_target_last_role_change(void **state)
{
    /* Crash the leader first, so that the last change is an election's. */
    assert_int_equal(aimed("[{\"at\":\"2s\",\"kind\":\"crash\",\"node\":\"leader\",\"restart_after\":\"3s\"},"
                           "{\"at\":\"2600ms\",\"kind\":\"pause\",\"node\":\"last-role-change\",\"for\":\"200ms\"}]",
                           "start pause node ", 6, check_last_role_change), 6);
}

static void check_leader(const Cluster *c, GArray *ids)
{
    int leader = cluster_leader(c);
    assert_true(leader >= 0);
    assert_int_equal(ids->len, 1);
    assert_int_equal(g_array_index(ids, int, 0), leader);
}

/* Clock jumps on the leader: the clock kind takes any selector. */
static void test_target_clock_on_leader(void **state)
{
    assert_int_equal(aimed("[{\"at\":\"2s\",\"kind\":\"clock\",\"node\":\"leader\",\"jump\":\"-2s\",\"for\":\"1s\"}]",
                           "start clock node ", 4, check_leader), 4);
}

static void test_selector_errors(void **state)
{
    static const char *const bad[] = { "leader+0", "leader+5", "leader+", "leader+1x", "role:",
                                       "role:Leader", "role:a b", "minority-with-lead" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf(
            "{\"duration\":\"1s\",\"cluster\":{\"protocol\":\"raft\",\"nodes\":5},"
            "\"faults\":[{\"kind\":\"crash\",\"node\":\"%s\"}]}", bad[i]);
        GError *err = NULL;
        FlScenario *sc = fx_scenario_text(text, &err);
        if (sc)
            fail_msg("selector \"%s\" was accepted", bad[i]);
        assert_non_null(strstr(err->message, "/faults/0/node"));
        g_error_free(err);
    }
}

/* ---- shapes (note 6) and swarm (note 7), on the drawn schedule ------- */

static FlTime at_of(json_t *o)
{
    return dur_of(o, "at");
}

static FlTime len_of(json_t *o)
{
    return dur_of(o, json_object_get(o, "restart_after") ? "restart_after" : "for");
}

/* A pause aimed at a role outlasts two election timeouts (the GC pause);
 * one aimed at a drawn id keeps the `for` range. */
static void test_shape_leader_pause(void **state)
{
    for (int seed = 1; seed <= 5; seed++) {
        FlScenario *sc = raft_scenario(seed,
            "[{\"kind\":\"nemesis\",\"kinds\":[\"pause\"],\"targets\":[\"leader\"],\"shapes\":[\"single\"],"
            "\"swarm\":false,\"for\":[\"100ms\",\"200ms\"],\"every\":[\"1s\",\"2s\"],\"max_down\":1,\"until\":\"7s\"}]");
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        assert_true(json_array_size(s) >= 2);
        size_t i;
        json_t *o;
        json_array_foreach(s, i, o) {
            assert_string_equal(json_string_value(json_object_get(o, "node")), "leader");
            assert_true(len_of(o) >= FL_MS(600));   /* 2 x 300ms */
        }
        json_decref(s);
        fl_scenario_free(sc);
        sc = raft_scenario(seed,
            "[{\"kind\":\"nemesis\",\"kinds\":[\"pause\"],\"targets\":[\"node\"],\"shapes\":[\"single\"],\"swarm\":false,"
            "\"for\":[\"100ms\",\"200ms\"],\"max_down\":1,\"until\":\"7s\"}]");
        s = schedule_of(sc, &h);
        json_array_foreach(s, i, o) {
            assert_true(json_is_integer(json_object_get(o, "node")));
            assert_true(len_of(o) <= FL_MS(200));
        }
        json_decref(s);
        fl_scenario_free(sc);
    }
}

/* reform: partitions around the leader, healed and formed again, each long
 * enough for the other side to elect; over seeds, a later round cuts off a
 * leader other than the one the round before cut off. */
static void test_shape_reform(void **state)
{
    int moved = 0;
    for (int seed = 1; seed <= 6; seed++) {
        FlScenario *sc = raft_scenario(seed,
            "[{\"kind\":\"nemesis\",\"kinds\":[\"partition\"],\"shapes\":[\"reform\"],\"swarm\":false,"
            "\"every\":[\"500ms\",\"1s\"],\"from\":\"1s\",\"until\":\"7s\"}]");
        json_t *trace = fx_trace(sc);
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        assert_true(json_array_size(s) >= 2);
        size_t i;
        json_t *o, *prev = NULL;
        bool rejoined = false;
        json_array_foreach(s, i, o) {
            const char *iso = json_string_value(json_object_get(o, "isolate"));
            assert_non_null(iso);
            assert_true(strcmp(iso, "leader") == 0 || strcmp(iso, "minority-with-leader") == 0);
            assert_true(len_of(o) >= FL_MS(600));
            /* Healed strictly before it forms again. */
            if (prev)
                assert_true(at_of(o) > at_of(prev) + len_of(prev));
            if (prev && at_of(o) <= at_of(prev) + len_of(prev) + FL_MS(300))
                rejoined = true;
            prev = o;
        }
        assert_true(rejoined);
        /* In the run: each round isolates the leader of its moment. */
        Cluster c;
        cluster_init(&c);
        int last = -1;
        json_array_foreach(trace, i, o) {
            const char *text = json_string_value(json_object_get(o, "text"));
            if (text && g_str_has_prefix(text, "start partition isolate ")) {
                GArray *ids = ids_after(text, "start partition isolate ");
                int leader = cluster_leader(&c);
                if (leader >= 0) {
                    assert_true(ids_have(ids, leader));
                    moved += last >= 0 && leader != last;
                    last = leader;
                }
                g_array_unref(ids);
            }
            cluster_step(&c, o, i + 1);
        }
        json_decref(s);
        json_decref(trace);
        fl_scenario_free(sc);
    }
    assert_true(moved >= 3);
}

/* churn: overlapping partitions, each cutting off the newest leader
 * alone, so that a leader falls soon after it is elected. */
static void test_shape_churn(void **state)
{
    int moved = 0, overlaps = 0;
    for (int seed = 1; seed <= 6; seed++) {
        FlScenario *sc = raft_scenario(seed,
            "[{\"kind\":\"nemesis\",\"kinds\":[\"partition\"],\"shapes\":[\"churn\"],\"swarm\":false,"
            "\"every\":[\"500ms\",\"1s\"],\"from\":\"1s\",\"until\":\"7s\"}]");
        json_t *trace = fx_trace(sc);
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        assert_true(json_array_size(s) >= 3);
        size_t i;
        json_t *o, *prev = NULL;
        json_array_foreach(s, i, o) {
            assert_string_equal(json_string_value(json_object_get(o, "kind")), "partition");
            assert_string_equal(json_string_value(json_object_get(o, "isolate")), "leader");
            assert_true(len_of(o) >= FL_MS(100) && len_of(o) <= FL_MS(600));
            if (prev && at_of(o) < at_of(prev) + len_of(prev))
                overlaps++;
            prev = o;
        }
        /* In the run: each round cuts off one node, the leader of its moment. */
        int last = -1;
        json_array_foreach(trace, i, o) {
            const char *text = json_string_value(json_object_get(o, "text"));
            if (text && g_str_has_prefix(text, "start partition isolate ")) {
                GArray *ids = ids_after(text, "start partition isolate ");
                assert_true(ids->len <= 1);
                if (ids->len == 1) {
                    moved += last >= 0 && g_array_index(ids, int, 0) != last;
                    last = g_array_index(ids, int, 0);
                }
                g_array_unref(ids);
            }
        }
        json_decref(s);
        json_decref(trace);
        fl_scenario_free(sc);
    }
    assert_true(overlaps >= 6);
    assert_true(moved >= 6);
}

/* sequence: faults back to back, each aimed by a selector, and the down
 * budget still holds. */
static void test_shape_sequence(void **state)
{
    int chained = 0;
    for (int seed = 1; seed <= 6; seed++) {
        FlScenario *sc = raft_scenario(seed,
            "[{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"clock\"],\"shapes\":[\"sequence\"],"
            "\"targets\":[\"leader\",\"last-role-change\",\"leader+k\"],\"swarm\":false,\"max_down\":2,"
            "\"every\":[\"300ms\",\"600ms\"],\"for\":[\"100ms\",\"400ms\"],\"from\":\"1s\",\"until\":\"7s\"}]");
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        size_t i;
        json_t *o, *prev = NULL;
        json_array_foreach(s, i, o) {
            assert_true(json_is_string(json_object_get(o, "node")));
            if (prev && at_of(o) > at_of(prev) + len_of(prev) &&
                at_of(o) <= at_of(prev) + len_of(prev) + FL_MS(300))
                chained++;
            if (prev)
                assert_true(at_of(o) >= at_of(prev));
            prev = o;
        }
        json_t *trace = fx_trace(sc);
        check_trace(trace, 2, 5, FL_SEC(7));
        json_decref(trace);
        json_decref(s);
        fl_scenario_free(sc);
    }
    assert_true(chained >= 10);
}

/* Walks the trace: the most nodes down at once, and whether nodes ever
 * went down together beyond @limit while another fault had one down. */
static int peak_down(json_t *trace, int *together)
{
    bool down[5] = { false };
    int count = 0, peak = 0;
    FlTime t_last = UINT64_MAX;
    int at_once = 0;
    *together = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(trace, i, ev) {
        const char *kind = json_string_value(json_object_get(ev, "ev"));
        int node = (int)json_integer_value(json_object_get(ev, "node"));
        FlTime t = (FlTime)json_integer_value(json_object_get(ev, "t"));
        if (strcmp(kind, "crash") == 0 && !down[node]) {
            down[node] = true;
            count++;
            at_once = t == t_last ? at_once + 1 : 1;
            t_last = t;
            if (at_once > *together)
                *together = at_once;
        } else if (strcmp(kind, "restart") == 0 && down[node]) {
            down[node] = false;
            count--;
        }
        if (count > peak)
            peak = count;
    }
    return peak;
}

/* crash-majority and crash-all: beyond max_down, at once, and only when
 * the scenario lists them; nothing else is down meanwhile. */
static void test_shape_mass_crash(void **state)
{
    static const struct { const char *shape; int want; } cases[] = {
        { "crash-majority", 3 }, { "crash-all", 5 },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        for (int seed = 1; seed <= 3; seed++) {
            g_autofree char *nem = g_strdup_printf(
                "[{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\"],\"shapes\":[\"single\",\"%s\"],"
                "\"swarm\":false,\"max_down\":1,\"every\":[\"300ms\",\"800ms\"],\"for\":[\"200ms\",\"600ms\"],"
                "\"from\":\"1s\",\"until\":\"7s\"}]", cases[k].shape);
            FlScenario *sc = raft_scenario(seed, nem);
            uint64_t h;
            json_t *s = schedule_of(sc, &h);
            /* crash-all is one crash of "*"; crash-majority one crash per
             * node of a majority drawn up front, at one instant. */
            int mass = 0, same = 1;
            size_t i;
            json_t *o, *prev = NULL;
            json_array_foreach(s, i, o) {
                json_t *node = json_object_get(o, "node");
                if (json_is_string(node) && strcmp(json_string_value(node), "*") == 0)
                    mass++;
                same = prev && at_of(prev) == at_of(o) ? same + 1 : 1;
                mass += same == 3;
                prev = o;
            }
            assert_true(mass >= 1);
            json_t *trace = fx_trace(sc);
            int together;
            assert_int_equal(peak_down(trace, &together), cases[k].want);
            assert_int_equal(together, cases[k].want);
            json_decref(trace);
            json_decref(s);
            fl_scenario_free(sc);
        }
    }
    /* Not listed: never drawn, whatever swarm keeps. */
    for (int seed = 1; seed <= 20; seed++) {
        FlScenario *sc = raft_scenario(seed,
            "[{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"partition\"],\"max_down\":2,"
            "\"every\":[\"200ms\",\"500ms\"],\"until\":\"7s\"}]");
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        size_t i;
        json_t *o;
        json_array_foreach(s, i, o) {
            const char *node = json_string_value(json_object_get(o, "node"));
            assert_true(!node || (strcmp(node, "*") != 0 && strcmp(node, "majority") != 0));
        }
        json_decref(s);
        fl_scenario_free(sc);
    }
}

/* The budget of note 2 holds with every target and shape but the mass
 * crashes. */
static void test_max_down_aimed(void **state)
{
    for (int64_t max_down = 0; max_down <= 2; max_down++) {
        for (int seed = 1; seed <= 4; seed++) {
            g_autofree char *nem = g_strdup_printf(
                "[{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"disk\",\"partition\"],"
                "\"shapes\":[\"single\",\"reform\",\"sequence\"],\"swarm\":false,"
                "\"every\":[\"50ms\",\"400ms\"],\"for\":[\"200ms\",\"1s\"],"
                "\"max_down\":%" G_GINT64_FORMAT ",\"from\":\"500ms\",\"until\":\"7s\"}]", max_down);
            FlScenario *sc = raft_scenario(seed, nem);
            json_t *trace = fx_trace(sc);
            check_trace(trace, max_down, 5, FL_SEC(7));
            json_decref(trace);
            fl_scenario_free(sc);
        }
    }
}

/* Swarm: each seed keeps its own non-empty subset of kinds, targets and
 * shapes, says so in the start event, and draws only from it. */
static void test_swarm(void **state)
{
    g_autoptr(GHashTable) sets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int kept_crash = 0, dropped_crash = 0;
    for (int seed = 1; seed <= 30; seed++) {
        FlScenario *sc = nemesis_scenario(seed, 5, EVERYTHING);
        json_t *trace = fx_trace(sc);
        const char *start = NULL;
        size_t i;
        json_t *ev;
        json_array_foreach(trace, i, ev) {
            const char *text = json_string_value(json_object_get(ev, "text"));
            if (text && g_str_has_prefix(text, "start nemesis "))
                start = text;
        }
        assert_non_null(start);
        const char *kinds = strstr(start, "swarm kept kinds ");
        assert_non_null(kinds);
        assert_non_null(strstr(start, "; targets "));
        assert_non_null(strstr(start, "; shapes "));
        g_autofree char *klist = g_strndup(kinds + strlen("swarm kept kinds "),
                                           strcspn(kinds + strlen("swarm kept kinds "), ";"));
        assert_true(strlen(klist) > 0);
        g_hash_table_add(sets, g_strdup(start + strcspn(start, ";")));
        g_auto(GStrv) kept = g_strsplit(klist, ",", -1);
        bool crash = g_strv_contains((const char *const *)kept, "crash");
        kept_crash += crash;
        dropped_crash += !crash;
        uint64_t h;
        json_t *s = schedule_of(sc, &h);
        /* reform and churn bring partitions of their own, bounce crashes
         * and delays (nemesis.c notes 6, 7). */
        bool reform = strstr(strstr(start, "; shapes "), "reform") != NULL ||
                      strstr(strstr(start, "; shapes "), "churn") != NULL;
        bool bounce = strstr(strstr(start, "; shapes "), "bounce") != NULL;
        json_t *o;
        json_array_foreach(s, i, o) {
            const char *kind = json_string_value(json_object_get(o, "kind"));
            assert_true(g_strv_contains((const char *const *)kept, kind) ||
                        (reform && strcmp(kind, "partition") == 0) ||
                        (bounce && (strcmp(kind, "crash") == 0 || strcmp(kind, "delay") == 0)));
        }
        json_decref(s);
        json_decref(trace);
        fl_scenario_free(sc);
    }
    assert_true(g_hash_table_size(sets) >= 20);
    assert_true(kept_crash >= 5 && dropped_crash >= 5);
    /* Off: everything listed is drawn from, and the start event says nothing of swarm. */
    FlScenario *sc = nemesis_scenario(3, 5, "{\"kind\":\"nemesis\",\"swarm\":false,\"targets\":[\"node\"]}");
    json_t *trace = fx_trace(sc);
    size_t i;
    json_t *ev;
    json_array_foreach(trace, i, ev) {
        const char *text = json_string_value(json_object_get(ev, "text"));
        assert_true(!text || !strstr(text, "swarm kept"));
    }
    json_decref(trace);
    fl_scenario_free(sc);
}

/* The explicit schedule of an aimed nemesis, selectors and all, replays the
 * same run on Raft. */
static void test_explicit_replay_aimed(void **state)
{
    const char *nem = "[{\"kind\":\"nemesis\",\"kinds\":[\"crash\",\"pause\",\"partition\",\"clock\"],"
                      "\"shapes\":[\"single\",\"reform\",\"sequence\",\"crash-all\"],"
                      "\"every\":[\"200ms\",\"1s\"],\"from\":\"1s\",\"until\":\"6s\"}]";
    for (int seed = 1; seed <= 4; seed++) {
        FlScenario *sc = raft_scenario(seed, nem);
        FlRunResult a;
        fx_run(sc, &a);
        json_t *explicit = fl_faults_explicit(sc);
        assert_true(json_array_size(explicit) >= 3);
        g_autofree char *text = json_dumps(explicit, JSON_COMPACT);
        FlScenario *sc2 = raft_scenario(seed, text);
        FlRunResult b;
        fx_run(sc2, &b);
        assert_string_equal(a.history->str, b.history->str);
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
        json_decref(explicit);
        fl_scenario_free(sc);
        fl_scenario_free(sc2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_schedule),
        cmocka_unit_test(test_max_down),
        cmocka_unit_test(test_storage_budget),
        cmocka_unit_test(test_nothing_to_draw),
        cmocka_unit_test(test_explicit_replay),
        cmocka_unit_test(test_target_leader_plus),
        cmocka_unit_test(test_target_minority_with_leader),
        cmocka_unit_test(test_target_role),
        cmocka_unit_test(test_target_last_role_change),
        cmocka_unit_test(test_target_clock_on_leader),
        cmocka_unit_test(test_selector_errors),
        cmocka_unit_test(test_shape_leader_pause),
        cmocka_unit_test(test_shape_reform),
        cmocka_unit_test(test_shape_sequence),
        cmocka_unit_test(test_shape_churn),
        cmocka_unit_test(test_shape_mass_crash),
        cmocka_unit_test(test_max_down_aimed),
        cmocka_unit_test(test_swarm),
        cmocka_unit_test(test_explicit_replay_aimed),
        cmocka_unit_test(test_mutate_within_f),
        cmocka_unit_test(test_mutate_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
