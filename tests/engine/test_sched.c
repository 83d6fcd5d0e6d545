/* Tests of sim/sched: order by (time, sequence), cancellation, pool reuse,
 * and a randomized comparison with a plain reference implementation. */
#include "sim/rng.h"
#include "sim/sched.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

static FlEventId push_tag(FlSched *s, FlTime at, uint64_t tag)
{
    FlEvent ev = { .kind = 7, .node = (uint32_t)tag, .a = tag, .b = ~tag };
    FlEventId id = fl_sched_push(s, at, &ev);
    assert_int_not_equal(id, 0);
    return id;
}

/* Pops one event and checks it is the one tagged @tag at @at, with its
 * payload intact. */
static void expect_pop(FlSched *s, FlTime at, uint64_t tag)
{
    FlTime t = 0;
    FlEvent ev;
    assert_true(fl_sched_pop(s, &t, &ev));
    assert_int_equal(ev.a, tag);
    assert_int_equal(t, at);
    assert_int_equal(ev.kind, 7);
    assert_int_equal(ev.node, (uint32_t)tag);
    assert_int_equal(ev.b, ~tag);
    assert_null(ev.data);
}

static void expect_empty(FlSched *s)
{
    FlTime t;
    FlEvent ev;
    assert_false(fl_sched_pop(s, &t, &ev));
    assert_int_equal(fl_sched_pending(s), 0);
    assert_int_equal(fl_sched_peek_time(s), FL_TIME_NEVER);
}

static void test_empty(void **state)
{
    FlSched *s = fl_sched_new();
    expect_empty(s);
    assert_int_equal(fl_sched_pool_size(s), 0);
    fl_sched_free(s);
    fl_sched_free(NULL);
}

static void test_order_by_time(void **state)
{
    FlSched *s = fl_sched_new();
    static const FlTime times[] = { 50, 10, 30, 20, 40, 5, 1000000000000ULL, 25, 0, 45 };
    for (size_t i = 0; i < G_N_ELEMENTS(times); i++)
        push_tag(s, times[i], times[i]);
    assert_int_equal(fl_sched_pending(s), G_N_ELEMENTS(times));
    assert_int_equal(fl_sched_peek_time(s), 0);
    static const FlTime sorted[] = { 0, 5, 10, 20, 25, 30, 40, 45, 50, 1000000000000ULL };
    for (size_t i = 0; i < G_N_ELEMENTS(sorted); i++) {
        assert_int_equal(fl_sched_peek_time(s), sorted[i]);
        expect_pop(s, sorted[i], sorted[i]);
    }
    expect_empty(s);
    fl_sched_free(s);
}

/* Equal times fire in push order, whatever else is in the heap, and events
 * pushed later at the current time come after the earlier ones. */
static void test_ties_by_sequence(void **state)
{
    FlSched *s = fl_sched_new();
    FlRng rng;
    fl_rng_init(&rng, 11, "ties");
    /* 3000 events over 3 distinct times, pushed in a random time order; the
     * tag counts up, so within one time tags must pop increasing. */
    for (uint64_t i = 0; i < 3000; i++)
        push_tag(s, 100 + fl_rng_below(&rng, 3), i);
    uint64_t last_tag[3] = { 0, 0, 0 };
    bool seen[3] = { false, false, false };
    FlTime prev = 0;
    for (int i = 0; i < 1500; i++) {
        FlTime t;
        FlEvent ev;
        assert_true(fl_sched_pop(s, &t, &ev));
        assert_true(t >= prev);
        prev = t;
        int k = (int)(t - 100);
        if (seen[k])
            assert_true(ev.a > last_tag[k]);
        seen[k] = true;
        last_tag[k] = ev.a;
    }
    /* Push more at the current time: they come after what is pending now. */
    FlTime now = prev;
    for (uint64_t i = 3000; i < 3100; i++)
        push_tag(s, now, i);
    FlTime t;
    FlEvent ev;
    while (fl_sched_pop(s, &t, &ev)) {
        int k = (int)(t - 100);
        assert_true(t >= prev);
        prev = t;
        if (seen[k])
            assert_true(ev.a > last_tag[k]);
        seen[k] = true;
        last_tag[k] = ev.a;
    }
    assert_int_equal(last_tag[now - 100], 3099);
    expect_empty(s);
    fl_sched_free(s);
}

/* A hundred events at one time, pushed in order: they pop in exactly that
 * order (a heap that is not stable would scramble them). */
static void test_ties_exact(void **state)
{
    FlSched *s = fl_sched_new();
    for (uint64_t i = 0; i < 100; i++)
        push_tag(s, i % 2 ? 7 : 3, i);
    for (uint64_t i = 0; i < 100; i += 2)
        expect_pop(s, 3, i);
    for (uint64_t i = 1; i < 100; i += 2)
        expect_pop(s, 7, i);
    expect_empty(s);
    fl_sched_free(s);
}

static void test_cancel(void **state)
{
    FlSched *s = fl_sched_new();
    FlEventId a = push_tag(s, 10, 1);
    FlEventId b = push_tag(s, 20, 2);
    FlEventId c = push_tag(s, 30, 3);
    assert_int_not_equal(a, b);
    assert_int_not_equal(b, c);

    assert_true(fl_sched_cancel(s, b));
    assert_false(fl_sched_cancel(s, b));      /* already cancelled */
    assert_false(fl_sched_cancel(s, 0));      /* never valid */
    assert_false(fl_sched_cancel(s, 12345));  /* never issued */
    assert_false(fl_sched_cancel(s, ((uint64_t)1 << 32) | 999999));

    expect_pop(s, 10, 1);
    assert_false(fl_sched_cancel(s, a));      /* already fired */
    expect_pop(s, 30, 3);                     /* b is skipped */
    assert_false(fl_sched_cancel(s, c));
    expect_empty(s);

    /* Cancelling the earliest event: the next one pops. */
    FlEventId d = push_tag(s, 40, 4);
    push_tag(s, 50, 5);
    assert_true(fl_sched_cancel(s, d));
    expect_pop(s, 50, 5);
    expect_empty(s);

    /* Cancel everything: nothing pops. */
    FlEventId ids[10];
    for (int i = 0; i < 10; i++)
        ids[i] = push_tag(s, 60 + (FlTime)i, (uint64_t)i);
    for (int i = 0; i < 10; i++)
        assert_true(fl_sched_cancel(s, ids[i]));
    for (int i = 0; i < 10; i++)
        assert_false(fl_sched_cancel(s, ids[i]));
    expect_empty(s);
    fl_sched_free(s);
}

/* A stale id must not cancel the event that now occupies its slot. */
static void test_cancel_stale_id_after_reuse(void **state)
{
    FlSched *s = fl_sched_new();
    FlEventId old = push_tag(s, 1, 1);
    expect_pop(s, 1, 1);
    FlEventId fresh = push_tag(s, 2, 2);   /* reuses the freed slot */
    assert_int_equal(fl_sched_pool_size(s), 1);
    assert_int_not_equal(old, fresh);
    assert_false(fl_sched_cancel(s, old));
    expect_pop(s, 2, 2);                   /* still fires */

    FlEventId x = push_tag(s, 3, 3);
    assert_true(fl_sched_cancel(s, x));
    FlTime t;
    FlEvent ev;
    assert_false(fl_sched_pop(s, &t, &ev));  /* frees the cancelled slot */
    FlEventId y = push_tag(s, 4, 4);
    assert_false(fl_sched_cancel(s, x));
    expect_pop(s, 4, 4);
    assert_false(fl_sched_cancel(s, y));
    expect_empty(s);
    fl_sched_free(s);
}

/* The pool grows to the peak number of pending events and no further: a
 * steady run (W1, "hold") allocates nothing once warm. */
static void test_pool_reuse(void **state)
{
    FlSched *s = fl_sched_new();
    FlRng rng;
    fl_rng_init(&rng, 3, "pool");
    enum { K = 1000 };
    for (int i = 0; i < K; i++)
        push_tag(s, fl_rng_below(&rng, 1000), (uint64_t)i);
    assert_int_equal(fl_sched_pool_size(s), K);
    /* Hold: pop one, push one. */
    for (int i = 0; i < 200000; i++) {
        FlTime t;
        FlEvent ev;
        assert_true(fl_sched_pop(s, &t, &ev));
        push_tag(s, t + 1 + fl_rng_below(&rng, 1000), ev.a);
        assert_int_equal(fl_sched_pending(s), K);
    }
    assert_int_equal(fl_sched_pool_size(s), K);

    /* Hold with cancels: each step cancels one pending timer and re-arms it
     * (what election timers do); the cancelled slot is freed when it comes
     * to the top, so the pool stays bounded by the pending count. */
    FlEventId *ids = g_new0(FlEventId, K);
    FlSched *s2 = fl_sched_new();
    for (int i = 0; i < K; i++)
        ids[i] = push_tag(s2, 1 + fl_rng_below(&rng, 1000), (uint64_t)i);
    FlTime now = 0;
    size_t peak = fl_sched_pending(s2);
    for (int i = 0; i < 100000; i++) {
        uint64_t k = fl_rng_below(&rng, K);
        if (fl_sched_cancel(s2, ids[k])) {
            ids[k] = push_tag(s2, now + 1 + fl_rng_below(&rng, 1000), k);
            if (fl_sched_pending(s2) > peak)
                peak = fl_sched_pending(s2);
        }
        FlTime t;
        FlEvent ev;
        if (i % 2 == 0 && fl_sched_pop(s2, &t, &ev)) {
            now = t;
            ids[ev.a] = push_tag(s2, now + 1 + fl_rng_below(&rng, 1000), ev.a);
            if (fl_sched_pending(s2) > peak)
                peak = fl_sched_pending(s2);
        }
    }
    assert_int_equal(fl_sched_pool_size(s2), peak);
    fl_sched_free(s2);
    g_free(ids);

    /* Drain, then fill to the same peak again: no growth. */
    FlTime t;
    FlEvent ev;
    FlTime last = 0;
    while (fl_sched_pop(s, &t, &ev))
        last = t;
    assert_int_equal(fl_sched_pool_size(s), K);
    for (int i = 0; i < K; i++)
        push_tag(s, last + (FlTime)i, (uint64_t)i);
    assert_int_equal(fl_sched_pool_size(s), K);
    push_tag(s, last, K);
    assert_int_equal(fl_sched_pool_size(s), K + 1);
    fl_sched_free(s);
}

/* ---- randomized, against a reference ------------------------------------ */

typedef struct Ref {
    FlTime at;
    uint64_t seq;    /* push order */
    FlEventId id;
    bool pending;    /* neither popped nor cancelled */
} Ref;

static void run_random(uint64_t seed, int steps, uint64_t spread)
{
    /* One line reproduces a failure. */
    printf("# sched random: seed=%" G_GUINT64_FORMAT " steps=%d spread=%" G_GUINT64_FORMAT "\n",
           seed, steps, spread);
    FlRng rng;
    fl_rng_init(&rng, seed, "sched-random");
    FlSched *s = fl_sched_new();
    GArray *refs = g_array_new(FALSE, FALSE, sizeof(Ref));
    FlTime now = 0;
    size_t pending = 0, peak_heap = 0;
    for (int step = 0; step < steps; step++) {
        uint64_t op = fl_rng_below(&rng, 10);
        if (op < 5) {
            /* push; small spreads make many ties */
            FlTime at = now + fl_rng_below(&rng, spread);
            Ref r = { at, refs->len, 0, true };
            FlEvent ev = { .kind = 1, .a = refs->len };
            r.id = fl_sched_push(s, at, &ev);
            assert_int_not_equal(r.id, 0);
            g_array_append_val(refs, r);
            pending++;
        } else if (op < 7 && refs->len > 0) {
            /* cancel any id ever issued: pending, fired or cancelled */
            Ref *r = &g_array_index(refs, Ref, fl_rng_below(&rng, refs->len));
            bool got = fl_sched_cancel(s, r->id);
            assert_int_equal(got, r->pending);
            if (r->pending) {
                r->pending = false;
                pending--;
            }
        } else {
            /* pop: the reference's minimum by (time, seq) */
            Ref *best = NULL;
            for (guint i = 0; i < refs->len; i++) {
                Ref *r = &g_array_index(refs, Ref, i);
                if (r->pending && (!best || r->at < best->at))
                    best = r;   /* ties keep the earliest seq: i ascends */
            }
            FlTime t;
            FlEvent ev;
            bool got = fl_sched_pop(s, &t, &ev);
            assert_int_equal(got, best != NULL);
            if (best) {
                assert_int_equal(ev.a, best->seq);
                assert_int_equal(t, best->at);
                best->pending = false;
                pending--;
                now = t;
            }
        }
        if (fl_sched_pending(s) > peak_heap)
            peak_heap = fl_sched_pending(s);
        /* Pending counts cancelled events not yet popped, so it is at least
         * the reference's count. */
        assert_true(fl_sched_pending(s) >= pending);
        if (pending == 0 && fl_sched_pending(s) == 0)
            assert_int_equal(fl_sched_peek_time(s), FL_TIME_NEVER);
    }
    assert_true(fl_sched_pool_size(s) <= peak_heap);
    /* Drain and compare the rest. */
    for (;;) {
        Ref *best = NULL;
        for (guint i = 0; i < refs->len; i++) {
            Ref *r = &g_array_index(refs, Ref, i);
            if (r->pending && (!best || r->at < best->at))
                best = r;
        }
        FlTime t;
        FlEvent ev;
        bool got = fl_sched_pop(s, &t, &ev);
        assert_int_equal(got, best != NULL);
        if (!best)
            break;
        assert_int_equal(ev.a, best->seq);
        assert_int_equal(t, best->at);
        best->pending = false;
    }
    expect_empty(s);
    g_array_free(refs, TRUE);
    fl_sched_free(s);
}

static void test_random_many_ties(void **state)
{
    run_random(1, 20000, 4);
}

static void test_random_spread(void **state)
{
    for (uint64_t seed = 2; seed < 6; seed++)
        run_random(seed, 20000, 1000000);
}

/* The calendar's window (sched.c notes 3-4) near the end of time: keys up
 * to FL_TIME_NEVER still come out in order, and a window reaching past it
 * neither overflows nor loses them. */
static void test_extreme_times(void **state)
{
    FlSched *s = fl_sched_new();
    const FlTime times[] = { FL_TIME_NEVER, 5, FL_TIME_NEVER - 1, 1000000000000000000ull,
                             FL_TIME_NEVER, 7, (FlTime)1 << 63, 5 };
    for (uint64_t i = 0; i < G_N_ELEMENTS(times); i++)
        push_tag(s, times[i], i);
    expect_pop(s, 5, 1);
    expect_pop(s, 5, 7);
    expect_pop(s, 7, 5);
    /* A push after the window was cut, then the far keys. */
    push_tag(s, 9, 8);
    expect_pop(s, 9, 8);
    expect_pop(s, 1000000000000000000ull, 3);
    expect_pop(s, (FlTime)1 << 63, 6);
    expect_pop(s, FL_TIME_NEVER - 1, 2);
    push_tag(s, FL_TIME_NEVER, 9);
    expect_pop(s, FL_TIME_NEVER, 0);
    expect_pop(s, FL_TIME_NEVER, 4);
    expect_pop(s, FL_TIME_NEVER, 9);
    expect_empty(s);
    fl_sched_free(s);
}

/* Delays over fifteen orders of magnitude: windows cut again and again,
 * most keys far, buckets of very different loads. */
static void test_random_wide(void **state)
{
    run_random(7, 20000, 1000000000000000ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_order_by_time),
        cmocka_unit_test(test_ties_by_sequence),
        cmocka_unit_test(test_ties_exact),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_stale_id_after_reuse),
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_random_many_ties),
        cmocka_unit_test(test_random_spread),
        cmocka_unit_test(test_extreme_times),
        cmocka_unit_test(test_random_wide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
