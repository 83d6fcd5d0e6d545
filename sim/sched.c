/* Design notes.
 * 1. Keys are 16 bytes: the time, then (seq << 24 | slot).  Sequence
 *    numbers are unique, so comparing the packed word compares sequences, and
 *    the slot rides along for free.  Four keys fill one cache line, which is
 *    why the heaps are 4-ary.
 * 2. A slot's generation changes every time the slot is freed, so a stale
 *    FlEventId (fired or cancelled) no longer matches and cancel is a no-op.
 * 3. The queue is a calendar (a ladder queue with one rung, issue 25): a
 *    window [start, start + span) of virtual time is cut into buckets of
 *    2^shift ns.
 *    The bucket being drained is a 4-ary heap of keys ("bottom"); later
 *    buckets of the window are lists linked through an array parallel to
 *    the event slots (a 4-byte head per bucket, a bitmap of the non-empty
 *    ones); keys at or past the window's end wait unsorted in "far".  A
 *    push links the slot into its bucket (or is a heap push into the bottom
 *    bucket); a pop takes the bottom's root, and when the bottom is empty
 *    gathers the next non-empty bucket's keys into it and heapifies them.
 *    When the window is drained, a new one is cut from far (note 4).
 *    (Measured and dropped: a bucket as an array of keys, three to four
 *    times the memory for the same speed; as chunks of three keys, slower
 *    at 1e5-1e6 pending; the bottom kept sorted, no faster.)  Every key is popped from one heap, so the order
 *    is exactly that of one heap of (time, seq): the buckets only split the
 *    keys by time, and no key of a later bucket is earlier than one of an
 *    earlier bucket.  A push is never into a bucket before the bottom's,
 *    since it is not before the last popped time.
 * 4. A new window starts at the earliest far key.  Its bucket width is a
 *    power of two near TARGET x (mean distance of the far keys to the
 *    earliest) / (number of far keys), so that the front buckets hold about
 *    TARGET keys when delays are exponential or uniform; it is four mean
 *    distances wide, so most keys pushed while it is drained still fall
 *    inside it.  Keys past its end stay in far.  Nothing here depends on
 *    addresses: only on times, sequence numbers and counts, so the choice
 *    of width is as deterministic as the order.  The worst case (keys far
 *    apart in time and bunched, so that one bucket holds most of them) is a
 *    plain heap on that bucket. */
#include "sim/sched.h"

#include <assert.h>
#include <glib.h>
#include <string.h>

typedef struct Key {
    FlTime time;
    uint64_t seq_slot;
} Key;

enum { SLOT_BITS = 24, TARGET = 4 };
#define SLOT_MASK ((1ull << SLOT_BITS) - 1)

typedef struct Slot {
    FlEvent ev;       /* ev.gen is the slot's generation */
    uint8_t cancelled;
} Slot;

/* A slot's link in its bucket's list: its key and the next slot, apart
 * from the slot so that gathering a bucket walks 24-byte links, not the
 * events. */
typedef struct Link {
    Key key;
    uint32_t next;    /* next slot in the bucket's list, or NIL */
} Link;

#define NIL UINT32_MAX

struct FlSched {
    Key *bottom;      /* 4-ary heap: the bucket being drained */
    size_t nbottom, capbottom;
    uint32_t *head;   /* the window's buckets: first slot of each list, or NIL */
    uint32_t pf_link; /* the next bucket's link to prefetch, or NIL */
    uint64_t *bits;   /* non-empty buckets other than the bottom's */
    size_t nb, capb, cur;
    FlTime start;
    uint64_t span;    /* the window is [start, start + span), counted so that
                         it cannot overflow: a key is in it iff at - start < span */
    unsigned shift;
    Key *far;         /* unsorted: keys at or past `end` */
    size_t nfar, capfar;
    size_t len;       /* pending keys, everywhere */
    Slot *slots;
    Link *links;      /* by slot */
    size_t nslots, slots_cap;
    uint32_t *free;   /* stack of free slot indices */
    size_t nfree;
    uint64_t seq;
    FlTime last;
};

FlSched *fl_sched_new(void)
{
    FlSched *s = g_new0(FlSched, 1);
    s->slots_cap = 64;
    s->slots = g_new(Slot, s->slots_cap);
    s->links = g_new(Link, s->slots_cap);
    s->free = g_new(uint32_t, s->slots_cap);
    s->pf_link = NIL;
    return s;
}

void fl_sched_free(FlSched *s)
{
    if (!s)
        return;
    g_free(s->head);
    g_free(s->bits);
    g_free(s->bottom);
    g_free(s->far);
    g_free(s->slots);
    g_free(s->links);
    g_free(s->free);
    g_free(s);
}

/* One 128-bit comparison instead of two branches: the compiler turns it
 * into cmp/sbb, and the child selection into conditional moves. */
static inline bool key_less(const Key *a, const Key *b)
{
    __uint128_t x = ((__uint128_t)a->time << 64) | a->seq_slot;
    __uint128_t y = ((__uint128_t)b->time << 64) | b->seq_slot;
    return x < y;
}

static uint32_t slot_alloc(FlSched *s)
{
    if (s->nfree > 0)
        return s->free[--s->nfree];
    if (s->nslots == s->slots_cap) {
        s->slots_cap *= 2;
        s->slots = g_renew(Slot, s->slots, s->slots_cap);
        s->links = g_renew(Link, s->links, s->slots_cap);
        s->free = g_renew(uint32_t, s->free, s->slots_cap);
    }
    uint32_t i = (uint32_t)s->nslots++;
    s->slots[i].ev.gen = 1;
    return i;
}

static void slot_release(FlSched *s, uint32_t i)
{
    s->slots[i].ev.gen++;
    if (s->slots[i].ev.gen == 0)
        s->slots[i].ev.gen = 1;
    s->free[s->nfree++] = i;
}

static void bottom_push(FlSched *s, Key k)
{
    if (s->nbottom == s->capbottom) {
        s->capbottom = s->capbottom ? s->capbottom * 2 : 16;
        s->bottom = g_renew(Key, s->bottom, s->capbottom);
    }
    Key *h = s->bottom;
    size_t pos = s->nbottom++;
    while (pos > 0) {
        size_t parent = (pos - 1) >> 2;
        if (!key_less(&k, &h[parent]))
            break;
        h[pos] = h[parent];
        pos = parent;
    }
    h[pos] = k;
}

static inline void bucket_push(FlSched *s, size_t i, Key k)
{
    uint32_t slot = (uint32_t)(k.seq_slot & SLOT_MASK);
    Link *sl = &s->links[slot];
    sl->key = k;
    sl->next = s->head[i];
    s->head[i] = slot;
    s->bits[i >> 6] |= 1ull << (i & 63);
}

static void far_push(FlSched *s, Key k)
{
    if (s->nfar == s->capfar) {
        s->capfar = s->capfar ? s->capfar * 2 : 64;
        s->far = g_renew(Key, s->far, s->capfar);
    }
    s->far[s->nfar++] = k;
}

static void key_push(FlSched *s, FlTime at, uint32_t slot)
{
    Key k = { at, (s->seq++ << SLOT_BITS) | slot };
    s->len++;
    if (at - s->start < s->span) {
        size_t i = (size_t)((at - s->start) >> s->shift);
        if (i == s->cur)
            bottom_push(s, k);
        else
            bucket_push(s, i, k);
    } else {
        far_push(s, k);
    }
}

FlEventId fl_sched_push(FlSched *s, FlTime at, const FlEvent *ev)
{
    assert(at >= s->last);
    if (s->len >= FL_SCHED_MAX_PENDING)
        return 0;
    uint32_t i = slot_alloc(s);
    Slot *slot = &s->slots[i];
    uint32_t gen = slot->ev.gen;
    slot->ev = *ev;
    slot->ev.gen = gen;
    slot->cancelled = 0;

    key_push(s, at, i);
    return ((uint64_t)gen << 32) | i;
}

bool fl_sched_cancel(FlSched *s, FlEventId id)
{
    uint32_t i = (uint32_t)id, gen = (uint32_t)(id >> 32);
    if (id == 0 || i >= s->nslots)
        return false;
    Slot *slot = &s->slots[i];
    if (slot->ev.gen != gen || slot->cancelled)
        return false;
    assert(slot->ev.data == NULL);   /* only events that own nothing are cancelled */
    slot->cancelled = 1;
    return true;
}

static void sift_down(Key *h, size_t n, size_t pos)
{
    Key k = h[pos];
    for (;;) {
        size_t c = 4 * pos + 1;
        if (c >= n)
            break;
        size_t best = c;
        size_t e = c + 4 < n ? c + 4 : n;
        for (size_t j = c + 1; j < e; j++)
            if (key_less(&h[j], &h[best]))
                best = j;
        if (!key_less(&h[best], &k))
            break;
        h[pos] = h[best];
        pos = best;
    }
    h[pos] = k;
}

/* The window is drained (note 4): a new one from far. */
static void rebuild(FlSched *s)
{
    FlTime min = FL_TIME_NEVER;
    for (size_t i = 0; i < s->nfar; i++)
        if (s->far[i].time < min)
            min = s->far[i].time;
    double sum = 0;
    for (size_t i = 0; i < s->nfar; i++)
        sum += (double)(s->far[i].time - min);
    double mean = sum / (double)s->nfar + 1.0;
    double width = TARGET * mean / (double)s->nfar;
    unsigned shift = 0;
    while (shift < 62 && (double)(2ull << shift) <= width)
        shift++;
    size_t nb = (size_t)(4.0 * mean / (double)(1ull << shift)) + 1;
    if (nb > 4 * s->nfar + 64)
        nb = 4 * s->nfar + 64;
    if (nb > s->capb) {
        g_free(s->head);
        s->head = g_new(uint32_t, nb);
        memset(s->head, 0xff, nb * sizeof(uint32_t));
        s->capb = nb;
        g_free(s->bits);
        s->bits = g_new0(uint64_t, (nb + 63) / 64 + 1);
    }
    s->nb = nb;
    s->shift = shift;
    s->start = min;
    /* Saturated: a window reaching past FL_TIME_NEVER holds every later
     * key, and its bucket indexes stay below nb. */
    s->span = nb > (UINT64_MAX >> shift) ? UINT64_MAX : (uint64_t)nb << shift;
    s->cur = (size_t)-1;   /* bucket 0 is opened like any other */
    s->pf_link = NIL;
    size_t keep = 0;
    for (size_t i = 0; i < s->nfar; i++) {
        Key k = s->far[i];
        if (k.time - min < s->span)
            bucket_push(s, (size_t)((k.time - min) >> shift), k);
        else
            s->far[keep++] = k;
    }
    s->nfar = keep;
}

/* Opens the next non-empty bucket of the window as the bottom heap; false
 * if the window is drained. */
static bool advance(FlSched *s)
{
    size_t i = s->cur + 1;
    size_t w = i >> 6, words = (s->nb + 63) / 64;
    if (w >= words)
        return false;
    uint64_t m = s->bits[w] & (~0ull << (i & 63));
    while (!m) {
        if (++w >= words)
            return false;
        m = s->bits[w];
    }
    i = (w << 6) + (size_t)__builtin_ctzll(m);
    s->bits[w] &= ~(1ull << (i & 63));
    s->cur = i;
    size_t n = 0;
    for (uint32_t j = s->head[i]; j != NIL; j = s->links[j].next) {
        if (n == s->capbottom) {
            s->capbottom = s->capbottom ? s->capbottom * 2 : 16;
            s->bottom = g_renew(Key, s->bottom, s->capbottom);
        }
        s->bottom[n++] = s->links[j].key;
    }
    s->head[i] = NIL;
    /* The next bucket's links are cold by now, and a list is walked one
     * dependent load at a time: fetch them ahead, one per pop (key_pop),
     * while this bucket is drained. */
    s->pf_link = i + 1 < s->nb ? s->head[i + 1] : NIL;
    if (s->pf_link != NIL)
        __builtin_prefetch(&s->links[s->pf_link]);
    s->nbottom = n;
    for (size_t p = s->nbottom >= 2 ? (s->nbottom - 2) / 4 + 1 : 0; p-- > 0;)
        sift_down(s->bottom, s->nbottom, p);
    return true;
}

/* Removes the earliest key; false when nothing is pending. */
static inline bool key_pop(FlSched *s, Key *out)
{
    while (s->nbottom == 0) {
        if (!advance(s)) {
            if (s->nfar == 0)
                return false;
            rebuild(s);
        }
    }
    if (s->pf_link != NIL) {
        /* A hint only: an index gone stale stops the walk, never misleads
         * the queue. */
        uint32_t next = s->links[s->pf_link].next;
        s->pf_link = next < s->nslots ? next : NIL;
        if (s->pf_link != NIL)
            __builtin_prefetch(&s->links[s->pf_link]);
    }
    Key *h = s->bottom;
    *out = h[0];
    size_t n = --s->nbottom;
    if (n) {
        h[0] = h[n];
        sift_down(h, n, 0);
    }
    s->len--;
    return true;
}

FlEventId fl_sched_take(FlSched *s, FlTime *at, FlEvent *out)
{
    Key top;
    while (key_pop(s, &top)) {
        uint32_t i = (uint32_t)(top.seq_slot & SLOT_MASK);
        Slot *slot = &s->slots[i];
        /* The next event's slot was written long ago and is cold; fetch it
         * while the caller handles this one. */
        if (s->nbottom)
            __builtin_prefetch(&s->slots[s->bottom[0].seq_slot & SLOT_MASK]);
        if (slot->cancelled) {
            slot_release(s, i);
            continue;
        }
        *out = slot->ev;
        *at = top.time;
        s->last = top.time;
        return ((uint64_t)slot->ev.gen << 32) | i;
    }
    return 0;
}

FlEventId fl_sched_pop(FlSched *s, FlTime *at, FlEvent *out)
{
    FlEventId id = fl_sched_take(s, at, out);
    if (id)
        slot_release(s, (uint32_t)id);
    return id;
}

void fl_sched_release(FlSched *s, FlEventId id)
{
    uint32_t i = (uint32_t)id;
    assert(i < s->nslots && s->slots[i].ev.gen == (uint32_t)(id >> 32));
    slot_release(s, i);
}

void fl_sched_repush(FlSched *s, FlEventId id, FlTime at)
{
    uint32_t i = (uint32_t)id;
    assert(i < s->nslots && s->slots[i].ev.gen == (uint32_t)(id >> 32));
    assert(at >= s->last);
    assert(s->len < FL_SCHED_MAX_PENDING);
    key_push(s, at, i);
}

bool fl_sched_cancelled(const FlSched *s, FlEventId id)
{
    uint32_t i = (uint32_t)id;
    return i < s->nslots && s->slots[i].ev.gen == (uint32_t)(id >> 32) && s->slots[i].cancelled;
}

FlTime fl_sched_peek_time(const FlSched *s)
{
    if (s->nbottom)
        return s->bottom[0].time;
    /* The earliest non-empty bucket after the bottom's, else far. */
    for (size_t i = s->cur + 1; i < s->nb; i++) {
        if (!(s->bits[i >> 6] & (1ull << (i & 63))))
            continue;
        FlTime min = FL_TIME_NEVER;
        for (uint32_t j = s->head[i]; j != NIL; j = s->links[j].next)
            if (s->links[j].key.time < min)
                min = s->links[j].key.time;
        return min;
    }
    FlTime min = FL_TIME_NEVER;
    for (size_t i = 0; i < s->nfar; i++)
        if (s->far[i].time < min)
            min = s->far[i].time;
    return min;
}

size_t fl_sched_pending(const FlSched *s)
{
    return s->len;
}

size_t fl_sched_pool_size(const FlSched *s)
{
    return s->nslots;
}

size_t fl_sched_bytes(const FlSched *s)
{
    size_t bytes = sizeof *s + (s->capbottom + s->capfar) * sizeof(Key) +
                   s->capb * sizeof(uint32_t) + ((s->capb + 63) / 64 + 1) * sizeof(uint64_t) +
                   s->slots_cap * (sizeof(Slot) + sizeof(Link) + sizeof(uint32_t));
    return bytes;
}
