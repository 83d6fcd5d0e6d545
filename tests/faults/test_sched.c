/* The delivery-order fault kinds (pct, reorder, slow-link, slow-node),
 * measured on their traces: each message's send and delivery times.
 *
 * The base is tests/faults/lww-quiet.json: three lww replicas that send
 * each update to each other over a network whose delay is uniform in
 * [1ms, 5ms], so without a fault every server message takes 1 to 5 ms. */
#include "tests/faults/helpers.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define LWW "tests/faults/lww-quiet.json"
#define NODES 3u
#define MS ((int64_t)FL_MS(1))

/* One delivered message. */
typedef struct Msg {
    uint32_t from, to;
    int64_t sent, arrived;
} Msg;

typedef struct Sent {
    uint32_t from, to;
    const char *hash;    /* borrowed from the trace */
    int64_t t;
    bool used;
} Sent;

static uint32_t ev_u32(json_t *ev, const char *key)
{
    return (uint32_t)json_integer_value(json_object_get(ev, key));
}

/* Each delivery of @trace with its send time, in delivery order.  A
 * delivery is matched with the earliest unmatched send of the same bytes on
 * the same link. */
static GArray *messages(json_t *trace)
{
    g_autoptr(GArray) sends = g_array_new(FALSE, FALSE, sizeof(Sent));
    GArray *out = g_array_new(FALSE, FALSE, sizeof(Msg));
    size_t i;
    json_t *ev;
    json_array_foreach(trace, i, ev) {
        const char *kind = json_string_value(json_object_get(ev, "ev"));
        int64_t t = json_integer_value(json_object_get(ev, "t"));
        if (strcmp(kind, "send") == 0) {
            Sent s = { ev_u32(ev, "from"), ev_u32(ev, "to"),
                       json_string_value(json_object_get(ev, "hash")), t, false };
            g_array_append_val(sends, s);
        } else if (strcmp(kind, "deliver") == 0) {
            Msg m = { ev_u32(ev, "from"), ev_u32(ev, "to"), -1, t };
            const char *hash = json_string_value(json_object_get(ev, "hash"));
            for (guint k = 0; k < sends->len && m.sent < 0; k++) {
                Sent *s = &g_array_index(sends, Sent, k);
                if (!s->used && s->from == m.from && s->to == m.to && strcmp(s->hash, hash) == 0) {
                    s->used = true;
                    m.sent = s->t;
                }
            }
            assert_true(m.sent >= 0);
            g_array_append_val(out, m);
        }
    }
    return out;
}

/* The text of the first fault event whose text starts with @prefix, and
 * its time (NULL if none; borrowed from @trace). */
static const char *fault_text(json_t *trace, const char *prefix, int64_t *t)
{
    size_t i;
    json_t *ev;
    json_array_foreach(trace, i, ev) {
        const char *text = json_string_value(json_object_get(ev, "text"));
        if (strcmp(json_string_value(json_object_get(ev, "ev")), "fault") == 0 && text &&
            g_str_has_prefix(text, prefix)) {
            if (t)
                *t = json_integer_value(json_object_get(ev, "t"));
            return text;
        }
    }
    return NULL;
}

static void set_seed(json_t *root, void *ctx)
{
    json_object_set_new(root, "seed", json_integer(*(int64_t *)ctx));
}

static void set_fifo(json_t *root, void *ctx)
{
    json_object_set_new(json_object_get(root, "network"), "fifo", json_true());
}

static json_t *trace_of(const char *faults, void (*edit)(json_t *, void *), void *ctx)
{
    FlScenario *sc = fx_scenario(LWW, faults, edit, ctx);
    json_t *trace = fx_trace(sc);
    fl_scenario_free(sc);
    return trace;
}

/* Reads "order a,b,c" (high to low) out of a pct line into @rank. */
static void read_order(const char *text, uint32_t *rank)
{
    const char *o = strstr(text, "order ");
    assert_non_null(o);
    unsigned a, b, c;
    assert_int_equal(sscanf(o, "order %u,%u,%u", &a, &b, &c), 3);
    assert_true(a < NODES && b < NODES && c < NODES && a != b && b != c && a != c);
    rank[a] = 0;
    rank[b] = 1;
    rank[c] = 2;
}

static bool server_link(const Msg *m)
{
    return m->from < NODES && m->to < NODES;
}

/* pct without change points: a server message from the node of rank r
 * takes its network delay (1-5ms) plus r x step, so with a step above the
 * delay spread every message of the top node arrives sooner than any of
 * the lowest node's: of two sent at one instant, the top's is first. */
static void test_pct_orders_senders(void **state)
{
    json_t *trace = trace_of("[{\"kind\":\"pct\",\"at\":\"1s\",\"for\":\"8s\",\"step\":\"10ms\","
                             "\"changes\":0}]", NULL, NULL);
    uint32_t rank[NODES];
    read_order(fault_text(trace, "start pct", NULL), rank);
    g_autoptr(GArray) msgs = messages(trace);
    int64_t top_max = 0, low_min = INT64_MAX;
    uint32_t counted[NODES] = { 0 };
    for (guint i = 0; i < msgs->len; i++) {
        const Msg *m = &g_array_index(msgs, Msg, i);
        if (!server_link(m) || m->sent < 1000 * MS || m->sent >= 9000 * MS)
            continue;
        int64_t lat = m->arrived - m->sent, r = rank[m->from];
        if (lat < MS + r * 10 * MS || lat > 5 * MS + r * 10 * MS)
            fail_msg("%u -> %u (rank %" PRId64 ") took %" PRId64 " ns", m->from, m->to, r, lat);
        counted[r]++;
        if (r == 0 && lat > top_max)
            top_max = lat;
        if (r == NODES - 1 && lat < low_min)
            low_min = lat;
    }
    for (uint32_t r = 0; r < NODES; r++)
        assert_true(counted[r] > 10);
    assert_true(top_max < low_min);
    /* Client messages are not ranked (note 4): they keep the base delay. */
    for (guint i = 0; i < msgs->len; i++) {
        const Msg *m = &g_array_index(msgs, Msg, i);
        if (!server_link(m))
            assert_true(m->arrived - m->sent <= 5 * MS);
    }
    json_decref(trace);
}

/* One change point: the top node drops below the others, so from then on
 * its messages are the slowest. */
static void test_pct_change_point(void **state)
{
    json_t *trace = trace_of("[{\"kind\":\"pct\",\"at\":\"1s\",\"for\":\"8s\",\"step\":\"10ms\","
                             "\"changes\":1}]", NULL, NULL);
    uint32_t before[NODES], after[NODES];
    read_order(fault_text(trace, "start pct", NULL), before);
    int64_t when;
    const char *change = fault_text(trace, "step pct change 1: ", &when);
    assert_non_null(change);
    read_order(change, after);
    assert_true(when >= 1000 * MS && when < 9000 * MS);
    uint32_t top = 0;
    for (uint32_t a = 0; a < NODES; a++)
        if (before[a] == 0)
            top = a;
    assert_int_equal(after[top], NODES - 1);
    g_autoptr(GArray) msgs = messages(trace);
    uint32_t fast = 0, slow = 0;
    for (guint i = 0; i < msgs->len; i++) {
        const Msg *m = &g_array_index(msgs, Msg, i);
        if (!server_link(m) || m->from != top || m->sent < 1000 * MS || m->sent >= 9000 * MS)
            continue;
        int64_t lat = m->arrived - m->sent;
        if (m->sent < when) {
            assert_true(lat <= 5 * MS);
            fast++;
        } else {
            assert_true(lat >= MS + (int64_t)(NODES - 1) * 10 * MS);
            slow++;
        }
    }
    print_message("top node %u: %u messages before the change, %u after\n", top, fast, slow);
    /* The change time is drawn, so either side may be short; not both. */
    assert_true(fast + slow > 10);
    json_decref(trace);
}

/* The order is the seed's: seeds draw different orders, and one seed
 * replays to the same trace. */
static void test_pct_seeds(void **state)
{
    g_autoptr(GHashTable) orders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int64_t seed = 1; seed <= 12; seed++) {
        json_t *trace = trace_of("[{\"kind\":\"pct\",\"at\":\"1s\",\"for\":\"2s\"}]", set_seed,
                                 &seed);
        const char *o = strstr(fault_text(trace, "start pct", NULL), "order ");
        assert_non_null(o);
        g_hash_table_add(orders, g_strndup(o, strcspn(o + 6, " ") + 6));
        json_decref(trace);
    }
    assert_true(g_hash_table_size(orders) >= 3);
}

/* Pairs of messages on one link that arrive in the other order than they
 * were sent. */
static uint32_t overtakes(json_t *trace)
{
    g_autoptr(GArray) msgs = messages(trace);
    uint32_t n = 0;
    for (guint i = 0; i < msgs->len; i++) {
        const Msg *a = &g_array_index(msgs, Msg, i);
        for (guint k = i + 1; k < msgs->len; k++) {
            const Msg *b = &g_array_index(msgs, Msg, k);
            /* b arrived after a (delivery order) but was sent before it. */
            n += server_link(a) && a->from == b->from && a->to == b->to && b->sent < a->sent;
        }
    }
    return n;
}

/* A reorder burst makes messages on one link overtake each other far more
 * often than the base delay does; on a FIFO network, never. */
static void test_reorder(void **state)
{
    json_t *base = trace_of("[]", NULL, NULL);
    json_t *burst = trace_of("[{\"kind\":\"reorder\",\"at\":\"1s\",\"for\":\"8s\",\"window\":\"300ms\"}]",
                             NULL, NULL);
    json_t *fifo = trace_of("[{\"kind\":\"reorder\",\"at\":\"1s\",\"for\":\"8s\",\"window\":\"300ms\"}]",
                            set_fifo, NULL);
    assert_non_null(fault_text(burst, "start reorder from * to * window=300ms", NULL));
    uint32_t b = overtakes(base), r = overtakes(burst);
    print_message("overtakes on one link: base %u, reorder %u\n", b, r);
    if (r < 5 || r <= 3 * b)
        fail_msg("reorder: %u overtakes on one link, base %u", r, b);
    assert_int_equal(overtakes(fifo), 0);
    json_decref(base);
    json_decref(burst);
    json_decref(fifo);
}

/* slow-link multiplies one direction of one link's delay, nothing else;
 * drawn, it joins two distinct servers. */
static void test_slow_link(void **state)
{
    json_t *trace = trace_of("[{\"kind\":\"slow-link\",\"at\":\"1s\",\"for\":\"8s\",\"from\":0,"
                             "\"to\":1,\"factor\":10}]", NULL, NULL);
    g_autoptr(GArray) msgs = messages(trace);
    uint32_t slowed = 0;
    for (guint i = 0; i < msgs->len; i++) {
        const Msg *m = &g_array_index(msgs, Msg, i);
        int64_t lat = m->arrived - m->sent;
        if (m->sent < 1000 * MS || m->sent >= 9000 * MS)
            continue;
        if (m->from == 0 && m->to == 1) {
            assert_true(lat >= 10 * MS && lat <= 50 * MS);
            slowed++;
        } else {
            assert_true(lat <= 5 * MS);
        }
    }
    assert_true(slowed > 10);
    json_decref(trace);
    for (int64_t seed = 1; seed <= 8; seed++) {
        trace = trace_of("[{\"kind\":\"slow-link\",\"at\":\"1s\",\"for\":\"1s\"}]", set_seed, &seed);
        const char *text = fault_text(trace, "start slow-link from ", NULL);
        unsigned a, b;
        assert_non_null(text);
        assert_int_equal(sscanf(text, "start slow-link from %u to %u (drawn)", &a, &b), 2);
        assert_true(a != b && a < NODES && b < NODES);
        json_decref(trace);
    }
}

/* slow-node: everything node 1 sends and receives is ten times slower,
 * and it goes on handling messages meanwhile (unlike pause). */
static void test_slow_node(void **state)
{
    json_t *trace = trace_of("[{\"kind\":\"slow-node\",\"at\":\"1s\",\"for\":\"8s\",\"node\":1,"
                             "\"factor\":10}]", NULL, NULL);
    g_autoptr(GArray) msgs = messages(trace);
    int64_t sum_slow = 0, n_slow = 0, sum_other = 0, n_other = 0, sent_by_1 = 0;
    for (guint i = 0; i < msgs->len; i++) {
        const Msg *m = &g_array_index(msgs, Msg, i);
        if (m->sent < 1000 * MS || m->sent >= 9000 * MS)
            continue;
        int64_t lat = m->arrived - m->sent;
        if (m->from == 1 || m->to == 1) {
            assert_true(lat >= 10 * MS);
            sum_slow += lat;
            n_slow++;
            sent_by_1 += m->from == 1;
        } else {
            assert_true(lat <= 5 * MS);
            sum_other += lat;
            n_other++;
        }
    }
    assert_true(n_slow > 10 && n_other > 10 && sent_by_1 > 10);
    assert_true(sum_slow / n_slow > 5 * (sum_other / n_other));
    json_decref(trace);
}

/* Every kind replays: one scenario and seed, one trace hash; and the
 * scenario as run (what `run` writes to scenario.json, which a slow link
 * drawn at start leaves undrawn) loads and replays to the same trace. */
static void test_replay(void **state)
{
    static const char *const faults[] = {
        "[{\"kind\":\"pct\",\"at\":\"1s\",\"for\":\"5s\",\"changes\":3}]",
        "[{\"kind\":\"reorder\",\"at\":\"1s\",\"for\":\"5s\"}]",
        "[{\"kind\":\"slow-link\",\"at\":\"1s\",\"for\":\"5s\"}]",
        "[{\"kind\":\"slow-link\",\"from\":1,\"to\":\"random\",\"both\":true,\"factor\":3}]",
        "[{\"kind\":\"slow-node\",\"at\":\"1s\",\"for\":\"5s\",\"node\":\"random\"}]",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(faults); i++) {
        FlRunResult a, b;
        FlScenario *sc = fx_scenario(LWW, faults[i], NULL, NULL);
        fx_run(sc, &a);
        fx_run(sc, &b);
        GError *err = NULL;
        FlScenario *again = fl_scenario_from_json(sc->resolved, "as-run.json", -1, &err);
        if (!again)
            fail_msg("%s: the scenario as run does not load: %s", faults[i], err->message);
        fl_scenario_free(sc);
        if (a.trace_hash != b.trace_hash)
            fail_msg("%s: two runs, two trace hashes", faults[i]);
        fl_run_result_clear(&b);
        fx_run(again, &b);
        fl_scenario_free(again);
        if (a.trace_hash != b.trace_hash)
            fail_msg("%s: the scenario as run replays to another trace", faults[i]);
        fl_run_result_clear(&a);
        fl_run_result_clear(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pct_orders_senders),
        cmocka_unit_test(test_pct_change_point),
        cmocka_unit_test(test_pct_seeds),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_slow_link),
        cmocka_unit_test(test_slow_node),
        cmocka_unit_test(test_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
