#include "protocols/shard/ring.h"

#include "sim/rng.h"

#include <glib.h>

typedef struct Point {
    uint64_t pos;
    uint32_t member;
} Point;

struct ShardRing {
    uint32_t vnodes;
    GArray *points;   /* of Point, sorted by (pos, member) */
    uint64_t members; /* bit set */
};

static gint cmp_point(gconstpointer a, gconstpointer b)
{
    const Point *x = a, *y = b;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return x->member < y->member ? -1 : x->member > y->member;
}

uint64_t shard_key_hash(uint64_t key)
{
    return fl_mix64(key * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
}

/* Where virtual node @v of member @m sits: a hash of both, fixed, so that
 * every router computes the same ring. */
static uint64_t point_pos(uint32_t m, uint32_t v)
{
    return fl_mix64(((uint64_t)m << 32 | v) ^ 0xd1b54a32d192ed03ULL);
}

ShardRing *shard_ring_new(uint32_t vnodes)
{
    g_assert(vnodes >= 1 && vnodes <= SHARD_MAX_VNODES);
    ShardRing *r = g_new0(ShardRing, 1);
    r->vnodes = vnodes;
    r->points = g_array_new(FALSE, FALSE, sizeof(Point));
    return r;
}

void shard_ring_free(ShardRing *r)
{
    if (!r)
        return;
    g_array_free(r->points, TRUE);
    g_free(r);
}

bool shard_ring_has(const ShardRing *r, uint32_t m)
{
    return m < SHARD_MAX_MEMBERS && (r->members >> m & 1);
}

uint32_t shard_ring_size(const ShardRing *r)
{
    return (uint32_t)__builtin_popcountll(r->members);
}

void shard_ring_add(ShardRing *r, uint32_t m)
{
    g_assert(m < SHARD_MAX_MEMBERS);
    if (shard_ring_has(r, m))
        return;
    r->members |= 1ull << m;
    for (uint32_t v = 0; v < r->vnodes; v++) {
        Point p = { .pos = point_pos(m, v), .member = m };
        g_array_append_val(r->points, p);
    }
    g_array_sort(r->points, cmp_point);
}

void shard_ring_remove(ShardRing *r, uint32_t m)
{
    if (!shard_ring_has(r, m))
        return;
    r->members &= ~(1ull << m);
    guint k = 0;
    for (guint i = 0; i < r->points->len; i++) {
        Point p = g_array_index(r->points, Point, i);
        if (p.member != m)
            g_array_index(r->points, Point, k++) = p;
    }
    g_array_set_size(r->points, k);
}

uint32_t shard_ring_owner(const ShardRing *r, uint64_t key)
{
    g_assert(r->points->len > 0);
    uint64_t h = shard_key_hash(key);
    /* The first point at or after h, wrapping to the first point. */
    guint lo = 0, hi = r->points->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(r->points, Point, mid).pos < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == r->points->len)
        lo = 0;
    return g_array_index(r->points, Point, lo).member;
}

uint32_t shard_modulo_owner(const uint32_t *members, uint32_t n, uint64_t key)
{
    g_assert(n > 0);
    return members[shard_key_hash(key) % n];
}

uint32_t shard_range_of(uint64_t key, uint64_t keyspace, uint32_t ranges)
{
    g_assert(ranges > 0 && keyspace > 0);
    uint64_t width = keyspace / ranges;
    if (width == 0)
        width = 1;
    uint64_t r = key / width;
    return r >= ranges ? ranges - 1 : (uint32_t)r;
}

double shard_moved_fraction(const uint32_t *before, const uint32_t *after, size_t n,
                            uint32_t changed, size_t *bystander_moves)
{
    size_t moved = 0, bystander = 0;
    for (size_t i = 0; i < n; i++) {
        if (before[i] == after[i])
            continue;
        moved++;
        if (before[i] != changed && after[i] != changed)
            bystander++;
    }
    if (bystander_moves)
        *bystander_moves = bystander;
    return n ? (double)moved / (double)n : 0.0;
}

double shard_load_spread(const uint32_t *owners, size_t n, const uint32_t *members, uint32_t count)
{
    if (count == 0 || n == 0)
        return 0.0;
    size_t load[SHARD_MAX_MEMBERS] = { 0 };
    for (size_t i = 0; i < n; i++)
        if (owners[i] < SHARD_MAX_MEMBERS)
            load[owners[i]]++;
    size_t max = 0;
    for (uint32_t i = 0; i < count; i++)
        if (load[members[i]] > max)
            max = load[members[i]];
    return (double)max / ((double)n / (double)count);
}
