/* Tests of sim/rng: named streams are reproducible and independent, bounded
 * draws stay in bounds, and the distributions have roughly the right
 * moments.  Seeds are fixed, so the statistical checks are deterministic;
 * the tolerances are still wide enough for any decent generator. */
#include "sim/net.h"
#include "sim/rng.h"

#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

static void test_same_seed_same_name(void **state)
{
    FlRng a, b;
    fl_rng_init(&a, 42, "node/3");
    fl_rng_init(&b, 42, "node/3");
    for (int i = 0; i < 1000; i++)
        assert_true(fl_rng_next(&a) == fl_rng_next(&b));
    /* NULL counts as "". */
    fl_rng_init(&a, 42, NULL);
    fl_rng_init(&b, 42, "");
    for (int i = 0; i < 100; i++)
        assert_true(fl_rng_next(&a) == fl_rng_next(&b));
    /* A copy is an independent value that continues identically. */
    fl_rng_init(&a, 7, "net");
    fl_rng_next(&a);
    b = a;
    for (int i = 0; i < 100; i++)
        assert_true(fl_rng_next(&a) == fl_rng_next(&b));
}

/* Streams that differ by name or by seed share nothing visible: no equal
 * draw at the same position, and no stream is another shifted by a few. */
static void test_different_streams(void **state)
{
    static const char *const names[] = { "net", "workload", "faults", "node/0", "node/1",
                                         "node/10", "scenario", "" };
    enum { N = G_N_ELEMENTS(names), LEN = 256 };
    uint64_t draws[N + 2][LEN];
    for (size_t k = 0; k < N + 2; k++) {
        FlRng r;
        if (k < N)
            fl_rng_init(&r, 1, names[k]);
        else
            fl_rng_init(&r, k == N ? 2 : 0, "net");   /* other seeds, same name */
        for (int i = 0; i < LEN; i++)
            draws[k][i] = fl_rng_next(&r);
    }
    for (size_t x = 0; x < N + 2; x++)
        for (size_t y = x + 1; y < N + 2; y++)
            for (int i = 0; i < LEN; i++)
                for (int shift = 0; shift < 4 && i + shift < LEN; shift++) {
                    assert_true(draws[x][i] != draws[y][i + shift]);
                    assert_true(draws[y][i] != draws[x][i + shift]);
                }
    /* Neighbouring seeds must not give related streams either. */
    FlRng a, b;
    fl_rng_init(&a, 100, "net");
    fl_rng_init(&b, 101, "net");
    int same_bits = 0;
    for (int i = 0; i < 1000; i++)
        same_bits += 64 - __builtin_popcountll(fl_rng_next(&a) ^ fl_rng_next(&b));
    double frac = same_bits / 64000.0;
    assert_true(frac > 0.48 && frac < 0.52);
}

static void test_below_bounds(void **state)
{
    FlRng r;
    fl_rng_init(&r, 5, "below");
    assert_int_equal(fl_rng_below(&r, 1), 0);
    static const uint64_t ns[] = { 1, 2, 3, 7, 10, 1000, 1ULL << 32, (1ULL << 63) + 1, UINT64_MAX };
    for (size_t k = 0; k < G_N_ELEMENTS(ns); k++)
        for (int i = 0; i < 20000; i++)
            assert_true(fl_rng_below(&r, ns[k]) < ns[k]);
    /* Every value of a small range shows up, about equally often. */
    enum { N = 10, DRAWS = 100000 };
    int count[N] = { 0 };
    for (int i = 0; i < DRAWS; i++)
        count[fl_rng_below(&r, N)]++;
    for (int i = 0; i < N; i++)
        assert_true(count[i] > DRAWS / N * 0.95 && count[i] < DRAWS / N * 1.05);
    /* Inclusive ranges, negatives, and the full span. */
    bool lo_seen = false, hi_seen = false;
    for (int i = 0; i < 10000; i++) {
        int64_t v = fl_rng_range(&r, -3, 3);
        assert_true(v >= -3 && v <= 3);
        lo_seen |= v == -3;
        hi_seen |= v == 3;
    }
    assert_true(lo_seen && hi_seen);
    assert_int_equal(fl_rng_range(&r, 5, 5), 5);
    fl_rng_range(&r, INT64_MIN, INT64_MAX);   /* must not divide by zero or trap */
    for (int i = 0; i < 1000; i++) {
        int64_t v = fl_rng_range(&r, INT64_MAX - 1, INT64_MAX);
        assert_true(v >= INT64_MAX - 1);
    }
}

static void test_double_and_chance(void **state)
{
    FlRng r;
    fl_rng_init(&r, 9, "double");
    double sum = 0;
    enum { DRAWS = 200000 };
    for (int i = 0; i < DRAWS; i++) {
        double u = fl_rng_double(&r);
        assert_true(u >= 0 && u < 1);
        sum += u;
    }
    assert_true(fabs(sum / DRAWS - 0.5) < 0.01);
    int hits = 0;
    for (int i = 0; i < DRAWS; i++)
        hits += fl_rng_chance(&r, 0.25);
    assert_true(fabs((double)hits / DRAWS - 0.25) < 0.01);
    for (int i = 0; i < 1000; i++) {
        assert_false(fl_rng_chance(&r, 0));
        assert_false(fl_rng_chance(&r, -1));
        assert_true(fl_rng_chance(&r, 1));
    }
}

static void test_distributions(void **state)
{
    FlRng r;
    fl_rng_init(&r, 13, "dist");
    enum { DRAWS = 200000 };
    double sum = 0, sum2 = 0;
    for (int i = 0; i < DRAWS; i++) {
        double x = fl_rng_exp(&r, 5.0);
        assert_true(x >= 0 && isfinite(x));
        sum += x;
    }
    assert_true(fabs(sum / DRAWS - 5.0) < 0.1);

    sum = sum2 = 0;
    for (int i = 0; i < DRAWS; i++) {
        double x = fl_rng_normal(&r);
        assert_true(isfinite(x));
        sum += x;
        sum2 += x * x;
    }
    double mean = sum / DRAWS, var = sum2 / DRAWS - mean * mean;
    assert_true(fabs(mean) < 0.02);
    assert_true(fabs(var - 1.0) < 0.03);

    /* The shape, not only two moments: the ziggurat's layers, wedges and
     * tail each carry part of the mass.  Bounds are about 5 standard errors
     * for 10^6 draws. */
    enum { NORMALS = 1000000 };
    static const double cut[] = { -3.5, -2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 2.0, 3.0, 3.5 };
    static const double cdf[] = { 2.326291e-4, 0.0227501, 0.1586553, 0.3085375, 0.5,
                                  0.6179114, 0.8413447, 0.9772499, 0.9986501, 0.9997674 };
    long below[G_N_ELEMENTS(cut)] = { 0 };
    for (int i = 0; i < NORMALS; i++) {
        double x = fl_rng_normal(&r);
        for (size_t k = 0; k < G_N_ELEMENTS(cut); k++)
            below[k] += x < cut[k];
    }
    for (size_t k = 0; k < G_N_ELEMENTS(cut); k++) {
        double p = cdf[k], got = (double)below[k] / NORMALS;
        double se = sqrt(p * (1 - p) / NORMALS);
        assert_true(fabs(got - p) < 5 * se + 1e-6);
    }

    /* Pareto(xm=2, alpha=3): never below xm, mean alpha*xm/(alpha-1) = 3. */
    sum = 0;
    for (int i = 0; i < DRAWS; i++) {
        double x = fl_rng_pareto(&r, 2.0, 3.0);
        assert_true(x >= 2.0 && isfinite(x));
        sum += x;
    }
    assert_true(fabs(sum / DRAWS - 3.0) < 0.1);
}

/* The network's delay distributions, as a scenario gives them. */
static void test_delay_draws(void **state)
{
    FlRng r;
    fl_rng_init(&r, 17, "delays");
    enum { DRAWS = 100000 };

    FlDelaySpec fixed = { .dist = FL_DIST_FIXED, .value = FL_MS(3) };
    for (int i = 0; i < 100; i++)
        assert_int_equal(fl_delay_draw(&fixed, &r), FL_MS(3));

    FlDelaySpec uni = { .dist = FL_DIST_UNIFORM, .min = FL_MS(1), .max = FL_MS(5) };
    double sum = 0;
    bool lo = false, hi = false;
    for (int i = 0; i < DRAWS; i++) {
        FlDuration d = fl_delay_draw(&uni, &r);
        assert_true(d >= FL_MS(1) && d <= FL_MS(5));
        lo |= d < FL_MS(1) + FL_US(100);
        hi |= d > FL_MS(5) - FL_US(100);
        sum += (double)d;
    }
    assert_true(lo && hi);
    assert_true(fabs(sum / DRAWS - FL_MS(3)) < FL_US(50));
    /* Both ends are included: over [1ns, 3ns] every value shows up. */
    FlDelaySpec tiny = { .dist = FL_DIST_UNIFORM, .min = 1, .max = 3 };
    int seen[4] = { 0 };
    for (int i = 0; i < 3000; i++) {
        FlDuration t = fl_delay_draw(&tiny, &r);
        assert_true(t >= 1 && t <= 3);
        seen[t]++;
    }
    assert_true(seen[1] > 800 && seen[2] > 800 && seen[3] > 800);

    FlDelaySpec ex = { .dist = FL_DIST_EXPONENTIAL, .min = FL_MS(1), .mean = FL_MS(2) };
    sum = 0;
    for (int i = 0; i < DRAWS; i++) {
        FlDuration d = fl_delay_draw(&ex, &r);
        assert_true(d >= FL_MS(1));
        sum += (double)d;
    }
    /* "mean above min": the mean of the whole delay is min + mean. */
    assert_true(fabs(sum / DRAWS - FL_MS(3)) < FL_US(60));

    /* Lognormal given by its median and 99th percentile. */
    FlDelaySpec ln = { .dist = FL_DIST_LOGNORMAL, .median = FL_MS(2), .p99 = FL_MS(20) };
    int below_median = 0, below_p99 = 0;
    for (int i = 0; i < DRAWS; i++) {
        FlDuration d = fl_delay_draw(&ln, &r);
        assert_true(d >= 0);
        below_median += d <= FL_MS(2);
        below_p99 += d <= FL_MS(20);
    }
    assert_true(fabs((double)below_median / DRAWS - 0.5) < 0.01);
    assert_true(fabs((double)below_p99 / DRAWS - 0.99) < 0.003);

    FlDelaySpec par = { .dist = FL_DIST_PARETO, .min = FL_MS(1), .alpha = 3.0 };
    sum = 0;
    for (int i = 0; i < DRAWS; i++) {
        FlDuration d = fl_delay_draw(&par, &r);
        assert_true(d >= FL_MS(1));
        sum += (double)d;
    }
    assert_true(fabs(sum / DRAWS - 1.5 * FL_MS(1)) < FL_US(50));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_name),
        cmocka_unit_test(test_different_streams),
        cmocka_unit_test(test_below_bounds),
        cmocka_unit_test(test_double_and_chance),
        cmocka_unit_test(test_distributions),
        cmocka_unit_test(test_delay_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
