#include "sim/rng.h"

#include <glib.h>
#include <math.h>

uint64_t fl_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return fl_mix64(h);
}

void fl_rng_init(FlRng *r, uint64_t seed, const char *name)
{
    uint64_t x = fl_mix64(seed + 0x9e3779b97f4a7c15ULL) ^ fl_hash_str(name);
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = fl_mix64(x);
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;   /* the all-zero state is the one fixed point */
}

uint64_t fl_rng_below(FlRng *r, uint64_t n)
{
    __uint128_t m = (__uint128_t)fl_rng_next(r) * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            m = (__uint128_t)fl_rng_next(r) * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int64_t fl_rng_range(FlRng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX)
        return (int64_t)fl_rng_next(r);
    return lo + (int64_t)fl_rng_below(r, span + 1);
}

double fl_rng_exp(FlRng *r, double mean)
{
    /* 1 - u is in (0, 1], so the log is finite. */
    return -mean * log(1.0 - fl_rng_double(r));
}

/* The ziggurat of Marsaglia and Tsang (2000), 128 layers, on 64-bit
 * draws: the low 7 bits pick a layer, the top 53 are a signed uniform.  About
 * 99% of draws are one multiply and one compare; the rest test the wedge or
 * the tail exactly, so the result is exactly normal (Box-Muller's log, sqrt
 * and cos per draw cost more than the rest of a message's routing). */
enum { ZIG_LAYERS = 128 };
static int64_t zig_k[ZIG_LAYERS];
static double zig_w[ZIG_LAYERS], zig_f[ZIG_LAYERS];
static const double ZIG_R = 3.442619855899;

static void zig_setup(void)
{
    const double m = 0x1.0p52, v = 9.91256303526217e-3;
    double d = ZIG_R, t = d, q = v / exp(-0.5 * d * d);
    zig_k[0] = (int64_t)(d / q * m);
    zig_k[1] = 0;
    zig_w[0] = q / m;
    zig_w[ZIG_LAYERS - 1] = d / m;
    zig_f[0] = 1.0;
    zig_f[ZIG_LAYERS - 1] = exp(-0.5 * d * d);
    for (int i = ZIG_LAYERS - 2; i >= 1; i--) {
        d = sqrt(-2.0 * log(v / d + exp(-0.5 * d * d)));
        zig_k[i + 1] = (int64_t)(d / t * m);
        t = d;
        zig_f[i] = exp(-0.5 * d * d);
        zig_w[i] = d / m;
    }
}

double fl_rng_normal(FlRng *r)
{
    static gsize ready;
    if (g_once_init_enter(&ready)) {
        zig_setup();
        g_once_init_leave(&ready, 1);
    }
    for (;;) {
        uint64_t bits = fl_rng_next(r);
        unsigned i = (unsigned)(bits & (ZIG_LAYERS - 1));
        int64_t h = (int64_t)bits >> 11;   /* signed, 53 bits */
        double x = (double)h * zig_w[i];
        if ((h < 0 ? -h : h) < zig_k[i])
            return x;
        if (i == 0) {
            /* The tail beyond R (Marsaglia 1964). */
            double a, b;
            do {
                a = -log(1.0 - fl_rng_double(r)) / ZIG_R;
                b = -log(1.0 - fl_rng_double(r));
            } while (b + b < a * a);
            return h > 0 ? ZIG_R + a : -ZIG_R - a;
        }
        /* The wedge between layers i and i - 1. */
        if (zig_f[i] + fl_rng_double(r) * (zig_f[i - 1] - zig_f[i]) < exp(-0.5 * x * x))
            return x;
    }
}

double fl_rng_pareto(FlRng *r, double xm, double alpha)
{
    return xm / pow(1.0 - fl_rng_double(r), 1.0 / alpha);
}
