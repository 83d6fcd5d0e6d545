/* faultline/rng (in-tree also "sim/rng.h"): seeded random streams (xoshiro256**).
 *
 * Every source of randomness in a run is one named stream derived from the
 * run's seed and its name ("net", "workload", "faults", "node/3"), so that
 * adding a fault never changes what the workload draws.  FlRng is a plain
 * value: embed it, copy it, no allocation. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FlRng {
    uint64_t s[4];
} FlRng;

/* Seeds @r from @seed and @name (any string; NULL counts as ""). */
void fl_rng_init(FlRng *r, uint64_t seed, const char *name);

static inline uint64_t fl_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits. */
static inline uint64_t fl_rng_next(FlRng *r)
{
    uint64_t *s = r->s;
    uint64_t result = fl_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = fl_rng_rotl(s[3], 45);
    return result;
}

/* Uniform double in [0, 1). */
static inline double fl_rng_double(FlRng *r)
{
    return (double)(fl_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n); n > 0.  Lemire's multiply-shift, unbiased. */
uint64_t fl_rng_below(FlRng *r, uint64_t n);

/* Uniform integer in [lo, hi] (inclusive); lo <= hi. */
int64_t fl_rng_range(FlRng *r, int64_t lo, int64_t hi);

/* True with probability p. */
static inline bool fl_rng_chance(FlRng *r, double p)
{
    return p > 0 && (p >= 1 || fl_rng_double(r) < p);
}

/* Exponential with the given mean. */
double fl_rng_exp(FlRng *r, double mean);
/* Standard normal (the ziggurat method). */
double fl_rng_normal(FlRng *r);
/* Pareto with scale xm > 0 and shape alpha > 0. */
double fl_rng_pareto(FlRng *r, double xm, double alpha);

/* A 64-bit hash of a string (FNV-1a then a finaliser), used to derive
 * streams and to mix names into hashes. */
uint64_t fl_hash_str(const char *s);
/* splitmix64's finaliser: a good 64-bit mixer. */
static inline uint64_t fl_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#ifdef __cplusplus
}
#endif
