#include "sim/rng.h"

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

double fl_rng_normal(FlRng *r)
{
    double u1 = 1.0 - fl_rng_double(r), u2 = fl_rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double fl_rng_pareto(FlRng *r, double xm, double alpha)
{
    return xm / pow(1.0 - fl_rng_double(r), 1.0 / alpha);
}
