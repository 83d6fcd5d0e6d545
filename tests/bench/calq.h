/* A hand-written calendar queue for the benchmarks' baseline loops (issue
 * 25): the fastest loop we could write for W1 and W2, to quote the engine
 * against.  Keys only, no pool, no cancellation, no bounds.
 *
 * Shape (a ladder queue with one rung): a window [start, end) of virtual
 * time cut into buckets of 2^shift ns; the bucket being drained is a 4-ary
 * heap ("bottom"), later buckets are unsorted arrays, and events at or past
 * the window's end wait unsorted in "far".  When the window is drained it is
 * rebuilt from far: bucket width from the mean distance of the far events to
 * the earliest (about TARGET events per bucket at the front), window four
 * such mean distances wide.  Every operation is O(1) amortised while the
 * delays keep their distribution; the worst case (everything in one bucket)
 * is a plain heap.
 *
 * Before including, define CQ_KEY, a struct whose first members are
 * `uint64_t t, seq;` (order: t, then seq; seqs are unique). */
#include <glib.h>
#include <stdint.h>
#include <string.h>

enum { CQ_TARGET = 4 };

typedef struct CqBucket {
    CQ_KEY *k;
    uint32_t len, cap;
} CqBucket;

typedef struct Cq {
    CQ_KEY *bottom;             /* 4-ary heap: the bucket being drained */
    size_t nbottom, capbottom;
    CqBucket *b;
    uint64_t *bits;             /* non-empty buckets */
    size_t nb, capb, cur;
    uint64_t start, end;
    unsigned shift;
    CQ_KEY *far;
    size_t nfar, capfar;
    size_t len;
} Cq;

static inline int cq_less(const CQ_KEY *a, const CQ_KEY *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void cq_init(Cq *q)
{
    memset(q, 0, sizeof *q);
}

static void cq_deinit(Cq *q)
{
    for (size_t i = 0; i < q->capb; i++)
        g_free(q->b[i].k);
    g_free(q->b);
    g_free(q->bits);
    g_free(q->bottom);
    g_free(q->far);
}

static inline void cq_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need > *cap) {
        *cap = *cap ? *cap * 2 : 16;
        while (*cap < need)
            *cap *= 2;
        *p = g_realloc(*p, *cap * size);
    }
}

static inline void cq_bottom_push(Cq *q, CQ_KEY k)
{
    cq_grow((void **)&q->bottom, &q->capbottom, q->nbottom + 1, sizeof(CQ_KEY));
    CQ_KEY *h = q->bottom;
    size_t pos = q->nbottom++;
    while (pos > 0 && cq_less(&k, &h[(pos - 1) >> 2])) {
        h[pos] = h[(pos - 1) >> 2];
        pos = (pos - 1) >> 2;
    }
    h[pos] = k;
}

static inline void cq_bucket_push(Cq *q, size_t i, CQ_KEY k)
{
    CqBucket *b = &q->b[i];
    if (b->len == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->k = g_renew(CQ_KEY, b->k, b->cap);
    }
    b->k[b->len++] = k;
    q->bits[i >> 6] |= 1ull << (i & 63);
}

static inline void cq_push(Cq *q, CQ_KEY k)
{
    q->len++;
    if (k.t < q->end) {
        size_t i = (size_t)((k.t - q->start) >> q->shift);
        if (i == q->cur)
            cq_bottom_push(q, k);
        else
            cq_bucket_push(q, i, k);
        return;
    }
    if (q->nfar == q->capfar) {
        q->capfar = q->capfar ? q->capfar * 2 : 64;
        q->far = g_renew(CQ_KEY, q->far, q->capfar);
    }
    q->far[q->nfar++] = k;
}

static void cq_sift_down(CQ_KEY *h, size_t n, size_t pos)
{
    CQ_KEY k = h[pos];
    for (;;) {
        size_t c = 4 * pos + 1, best = c;
        if (c >= n)
            break;
        size_t e = c + 4 < n ? c + 4 : n;
        for (size_t j = c + 1; j < e; j++)
            if (cq_less(&h[j], &h[best]))
                best = j;
        if (!cq_less(&h[best], &k))
            break;
        h[pos] = h[best];
        pos = best;
    }
    h[pos] = k;
}

/* The window is drained: a new one from far. */
static void cq_rebuild(Cq *q)
{
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < q->nfar; i++)
        if (q->far[i].t < min)
            min = q->far[i].t;
    double sum = 0;
    for (size_t i = 0; i < q->nfar; i++)
        sum += (double)(q->far[i].t - min);
    double mean = sum / (double)q->nfar + 1.0;
    double width = CQ_TARGET * mean / (double)q->nfar;
    unsigned shift = 0;
    while (shift < 62 && (double)(2ull << shift) <= width)
        shift++;
    size_t nb = (size_t)(4.0 * mean / (double)(1ull << shift)) + 1;
    if (nb > 4 * q->nfar + 64)
        nb = 4 * q->nfar + 64;
    if (nb > q->capb) {
        q->b = g_renew(CqBucket, q->b, nb);
        memset(q->b + q->capb, 0, (nb - q->capb) * sizeof(CqBucket));
        q->capb = nb;
        g_free(q->bits);
        q->bits = g_new0(uint64_t, (nb + 63) / 64 + 1);
    }
    q->nb = nb;
    q->shift = shift;
    q->start = min;
    q->end = min + ((uint64_t)nb << shift);
    if (q->end < min)
        q->end = UINT64_MAX;
    q->cur = 0;
    size_t keep = 0;
    for (size_t i = 0; i < q->nfar; i++) {
        CQ_KEY k = q->far[i];
        if (k.t < q->end)
            cq_bucket_push(q, (size_t)((k.t - min) >> shift), k);
        else
            q->far[keep++] = k;
    }
    q->nfar = keep;
}

/* Opens the next non-empty bucket into bottom; false if the window is
 * drained. */
static inline int cq_advance(Cq *q)
{
    size_t i = q->cur + 1;
    size_t w = i >> 6;
    size_t words = (q->nb + 63) / 64;
    if (w >= words)
        return 0;
    uint64_t m = q->bits[w] & (~0ull << (i & 63));
    while (!m) {
        if (++w >= words)
            return 0;
        m = q->bits[w];
    }
    i = (w << 6) + (size_t)__builtin_ctzll(m);
    q->bits[w] &= ~(1ull << (i & 63));
    q->cur = i;
    CqBucket *b = &q->b[i];
    /* Swap the bucket's array with bottom's (empty) one: no copy. */
    CQ_KEY *k = q->bottom;
    size_t cap = q->capbottom;
    q->bottom = b->k;
    q->capbottom = b->cap;
    q->nbottom = b->len;
    b->k = k;
    b->cap = (uint32_t)cap;
    b->len = 0;
    for (size_t p = q->nbottom >= 2 ? (q->nbottom - 2) / 4 + 1 : 0; p-- > 0;)
        cq_sift_down(q->bottom, q->nbottom, p);
    return 1;
}

/* Removes the earliest key into @out; 0 if empty. */
static inline int cq_pop(Cq *q, CQ_KEY *out)
{
    while (q->nbottom == 0) {
        if (!cq_advance(q)) {
            if (q->nfar == 0)
                return 0;
            cq_rebuild(q);
            /* Bucket 0 is opened like any other. */
            q->cur = (size_t)-1;
        }
    }
    CQ_KEY *h = q->bottom;
    *out = h[0];
    CQ_KEY last = h[--q->nbottom];
    size_t n = q->nbottom;
    if (n) {
        h[0] = last;
        cq_sift_down(h, n, 0);
    }
    q->len--;
    return 1;
}
