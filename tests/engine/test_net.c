/* Tests of sim/net: the timing models keep their promises (sync: every
 * delay within the bound; partial: within the bound after GST; async: no
 * bound), FIFO links do not reorder, filters drop and delay in order, and
 * the base loss rate is what the scenario says. */
#include "sim/net.h"

#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static FlNetSpec spec_with(FlTiming timing, FlDelaySpec delay)
{
    FlNetSpec s;
    memset(&s, 0, sizeof s);
    s.timing = timing;
    s.bound = FL_MS(5);
    s.delay = delay;
    return s;
}

static void test_sync_bound(void **state)
{
    FlDelaySpec d = { .dist = FL_DIST_UNIFORM, .min = FL_MS(1), .max = FL_MS(20) };
    FlNetSpec s = spec_with(FL_TIMING_SYNC, d);
    FlNet *net = fl_net_new(&s, 4, 1);
    assert_int_equal(fl_net_bound_at(net, 0), FL_MS(5));
    assert_int_equal(fl_net_bound_at(net, FL_SEC(100)), FL_MS(5));
    bool at_bound = false;
    for (int i = 0; i < 10000; i++) {
        FlTime now = (FlTime)i * FL_US(100), at;
        const char *why = NULL;
        assert_true(fl_net_route(net, (uint32_t)i % 4, (uint32_t)(i + 1) % 4, now, &at, &why));
        assert_true(at >= now);
        assert_true(at - now <= (FlTime)FL_MS(5));
        at_bound |= at - now == (FlTime)FL_MS(5);
    }
    assert_true(at_bound);
    fl_net_free(net);
}

static void test_partial_gst(void **state)
{
    FlDelaySpec d = { .dist = FL_DIST_EXPONENTIAL, .min = 0, .mean = FL_MS(100) };
    FlNetSpec s = spec_with(FL_TIMING_PARTIAL, d);
    s.gst = FL_SEC(1);
    FlNet *net = fl_net_new(&s, 2, 2);
    assert_int_equal(fl_net_bound_at(net, 0), 0);
    assert_int_equal(fl_net_bound_at(net, FL_SEC(1) - 1), 0);
    assert_int_equal(fl_net_bound_at(net, FL_SEC(1)), FL_MS(5));
    int over_bound = 0;
    for (int i = 0; i < 20000; i++) {
        FlTime now = (FlTime)i * FL_US(100), at;   /* 0 .. 2 s */
        const char *why;
        assert_true(fl_net_route(net, 0, 1, now, &at, &why));
        assert_true(at >= now);
        /* Sent before GST: arrives by GST + bound at the latest. */
        FlTime latest = (now > (FlTime)FL_SEC(1) ? now : (FlTime)FL_SEC(1)) + (FlTime)FL_MS(5);
        assert_true(at <= latest);
        if (now < (FlTime)FL_SEC(1))
            over_bound += at - now > (FlTime)FL_MS(5);
    }
    assert_true(over_bound > 1000);   /* before GST the network really is async */
    fl_net_free(net);
}

static void test_async_unbounded(void **state)
{
    FlDelaySpec d = { .dist = FL_DIST_LOGNORMAL, .median = FL_MS(2), .p99 = FL_MS(20) };
    FlNetSpec s = spec_with(FL_TIMING_ASYNC, d);
    FlNet *net = fl_net_new(&s, 2, 3);
    assert_int_equal(fl_net_bound_at(net, 0), 0);
    assert_int_equal(fl_net_bound_at(net, FL_SEC(1000)), 0);
    FlTime longest = 0;
    for (int i = 0; i < 10000; i++) {
        FlTime at;
        const char *why;
        assert_true(fl_net_route(net, 0, 1, FL_SEC(1), &at, &why));
        if (at - FL_SEC(1) > longest)
            longest = at - FL_SEC(1);
    }
    assert_true(longest > (FlTime)FL_MS(20));
    fl_net_free(net);
}

/* FIFO links deliver in send order; without FIFO, a random delay reorders. */
static void test_fifo(void **state)
{
    FlDelaySpec d = { .dist = FL_DIST_UNIFORM, .min = FL_MS(1), .max = FL_MS(50) };
    for (int fifo = 0; fifo < 2; fifo++) {
        FlNetSpec s = spec_with(FL_TIMING_ASYNC, d);
        s.fifo = fifo;
        FlNet *net = fl_net_new(&s, 3, 4);
        FlTime last[3][3] = { { 0 } };
        int reordered = 0;
        for (int i = 0; i < 3000; i++) {
            uint32_t from = (uint32_t)i % 3, to = (uint32_t)(i / 3) % 3;
            FlTime at;
            const char *why;
            assert_true(fl_net_route(net, from, to, (FlTime)i * FL_US(10), &at, &why));
            reordered += at < last[from][to];
            if (at > last[from][to])
                last[from][to] = at;
        }
        if (fifo)
            assert_int_equal(reordered, 0);
        else
            assert_true(reordered > 0);
        fl_net_free(net);
    }
}

typedef struct FilterCtx {
    uint32_t from, to;
    FlFilterAction action;
    FlDuration extra;
    int calls;
} FilterCtx;

static FlFilterAction filter(void *ctx, uint32_t from, uint32_t to, FlTime now, FlRng *rng,
                             FlDuration *extra)
{
    FilterCtx *f = ctx;
    f->calls++;
    if (from != f->from || to != f->to)
        return FL_FILTER_PASS;
    *extra += f->extra;
    return f->action;
}

static void test_filters(void **state)
{
    FlDelaySpec d = { .dist = FL_DIST_FIXED, .value = FL_MS(1) };
    FlNetSpec s = spec_with(FL_TIMING_SYNC, d);
    FlNet *net = fl_net_new(&s, 3, 5);
    FlTime at;
    const char *why = NULL;
    assert_true(fl_net_route(net, 0, 1, 0, &at, &why));
    assert_int_equal(at, FL_MS(1));

    FilterCtx slow = { 0, 1, FL_FILTER_PASS, FL_MS(30), 0 };
    FilterCtx cut = { 1, 0, FL_FILTER_DROP, 0, 0 };
    int h1 = fl_net_add_filter(net, filter, &slow);
    int h2 = fl_net_add_filter(net, filter, &cut);
    assert_true(h1 > 0 && h2 > 0 && h1 != h2);

    /* Extra delay comes on top, and may break the sync bound on purpose. */
    assert_true(fl_net_route(net, 0, 1, 0, &at, &why));
    assert_int_equal(at, FL_MS(31));
    assert_false(fl_net_route(net, 1, 0, 0, &at, &why));
    assert_string_equal(why, "filter");
    assert_true(fl_net_route(net, 0, 2, 0, &at, &why));
    assert_int_equal(at, FL_MS(1));
    /* Every filter is asked about every message until one drops it. */
    assert_int_equal(slow.calls, 3);
    assert_int_equal(cut.calls, 3);

    fl_net_remove_filter(net, h2);
    assert_true(fl_net_route(net, 1, 0, 0, &at, &why));
    assert_int_equal(cut.calls, 3);
    fl_net_remove_filter(net, h1);
    fl_net_remove_filter(net, h1);   /* removing twice is harmless */
    assert_true(fl_net_route(net, 0, 1, 0, &at, &why));
    assert_int_equal(at, FL_MS(1));
    assert_int_equal(slow.calls, 4);
    /* Handles are not reused. */
    int h3 = fl_net_add_filter(net, filter, &slow);
    assert_true(h3 != h1 && h3 != h2);
    fl_net_remove_filter(net, h3);
    fl_net_free(net);
}

static void test_loss_rate(void **state)
{
    FlDelaySpec d = { .dist = FL_DIST_FIXED, .value = FL_MS(1) };
    FlNetSpec s = spec_with(FL_TIMING_ASYNC, d);
    s.drop = 0.3;
    FlNet *net = fl_net_new(&s, 2, 6);
    int lost = 0;
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        FlTime at;
        const char *why = NULL;
        if (!fl_net_route(net, 0, 1, 0, &at, &why)) {
            lost++;
            assert_string_equal(why, "loss");
        }
    }
    assert_true(fabs((double)lost / N - 0.3) < 0.01);
    fl_net_free(net);
}

/* The same seed routes the same way; the network's stream is its own. */
static void test_route_deterministic(void **state)
{
    FlDelaySpec d = { .dist = FL_DIST_EXPONENTIAL, .min = FL_MS(1), .mean = FL_MS(3) };
    FlNetSpec s = spec_with(FL_TIMING_ASYNC, d);
    s.drop = 0.1;
    FlNet *a = fl_net_new(&s, 2, 9), *b = fl_net_new(&s, 2, 9), *c = fl_net_new(&s, 2, 10);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        FlTime ta = 0, tb = 0, tc = 0;
        const char *why;
        bool ra = fl_net_route(a, 0, 1, 0, &ta, &why);
        bool rb = fl_net_route(b, 0, 1, 0, &tb, &why);
        bool rc = fl_net_route(c, 0, 1, 0, &tc, &why);
        assert_int_equal(ra, rb);
        assert_int_equal(ta, tb);
        differ += ra != rc || ta != tc;
    }
    assert_true(differ > 500);
    fl_net_free(a);
    fl_net_free(b);
    fl_net_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_bound),
        cmocka_unit_test(test_partial_gst),
        cmocka_unit_test(test_async_unbounded),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_loss_rate),
        cmocka_unit_test(test_route_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
