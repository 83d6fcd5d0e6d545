/* Design notes.
 * 1. Heap keys are 16 bytes: the time, then (seq << 24 | slot).  Sequence
 *    numbers are unique, so comparing the packed word compares sequences, and
 *    the slot rides along for free.  Four keys fill one cache line, which is
 *    why the heap is 4-ary.
 * 2. A slot's generation changes every time the slot is freed, so a stale
 *    FlEventId (fired or cancelled) no longer matches and cancel is a no-op. */
#include "sim/sched.h"

#include <assert.h>
#include <glib.h>
#include <string.h>

typedef struct Key {
    FlTime time;
    uint64_t seq_slot;
} Key;

enum { SLOT_BITS = 24 };
#define SLOT_MASK ((1ull << SLOT_BITS) - 1)

typedef struct Slot {
    FlEvent ev;       /* ev.gen is the slot's generation */
    uint8_t cancelled;
} Slot;

struct FlSched {
    Key *heap;
    size_t len, cap;
    Slot *slots;
    size_t nslots, slots_cap;
    uint32_t *free;   /* stack of free slot indices */
    size_t nfree;
    uint64_t seq;
    FlTime last;
};

FlSched *fl_sched_new(void)
{
    FlSched *s = g_new0(FlSched, 1);
    s->cap = 64;
    s->heap = g_new(Key, s->cap);
    s->slots_cap = 64;
    s->slots = g_new(Slot, s->slots_cap);
    s->free = g_new(uint32_t, s->slots_cap);
    return s;
}

void fl_sched_free(FlSched *s)
{
    if (!s)
        return;
    g_free(s->heap);
    g_free(s->slots);
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

static void heap_push(FlSched *s, FlTime at, uint32_t slot)
{
    if (s->len == s->cap) {
        s->cap *= 2;
        s->heap = g_renew(Key, s->heap, s->cap);
    }
    Key k = { at, (s->seq++ << SLOT_BITS) | slot };
    size_t pos = s->len++;
    while (pos > 0) {
        size_t parent = (pos - 1) >> 2;
        if (!key_less(&k, &s->heap[parent]))
            break;
        s->heap[pos] = s->heap[parent];
        pos = parent;
    }
    s->heap[pos] = k;
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

    heap_push(s, at, i);
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

/* Removes the root.  Bottom-up (Floyd): the hole walks down to a leaf along
 * the smallest children, then the last key climbs back from there.  The last
 * key almost always belongs near the bottom, so this saves most of the
 * comparisons of a classic sift-down. */
static void heap_pop_top(FlSched *s)
{
    Key last = s->heap[--s->len];
    size_t n = s->len, pos = 0;
    if (n == 0)
        return;
    Key *h = s->heap;
    for (;;) {
        size_t c = 4 * pos + 1;
        if (c + 3 < n) {
            size_t a = key_less(&h[c + 1], &h[c]) ? c + 1 : c;
            size_t b = key_less(&h[c + 3], &h[c + 2]) ? c + 3 : c + 2;
            size_t best = key_less(&h[b], &h[a]) ? b : a;
            h[pos] = h[best];
            pos = best;
        } else if (c < n) {
            size_t best = c;
            for (size_t j = c + 1; j < n; j++)
                if (key_less(&h[j], &h[best]))
                    best = j;
            h[pos] = h[best];
            pos = best;
        } else {
            break;
        }
    }
    while (pos > 0) {
        size_t parent = (pos - 1) >> 2;
        if (!key_less(&last, &h[parent]))
            break;
        h[pos] = h[parent];
        pos = parent;
    }
    h[pos] = last;
}

FlEventId fl_sched_take(FlSched *s, FlTime *at, FlEvent *out)
{
    while (s->len > 0) {
        Key top = s->heap[0];
        heap_pop_top(s);
        uint32_t i = (uint32_t)(top.seq_slot & SLOT_MASK);
        Slot *slot = &s->slots[i];
        /* The next event's slot was written long ago and is cold; fetch it
         * while the caller handles this one. */
        if (s->len)
            __builtin_prefetch(&s->slots[s->heap[0].seq_slot & SLOT_MASK]);
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
    heap_push(s, at, i);
}

bool fl_sched_cancelled(const FlSched *s, FlEventId id)
{
    uint32_t i = (uint32_t)id;
    return i < s->nslots && s->slots[i].ev.gen == (uint32_t)(id >> 32) && s->slots[i].cancelled;
}

FlTime fl_sched_peek_time(const FlSched *s)
{
    return s->len ? s->heap[0].time : FL_TIME_NEVER;
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
    return sizeof *s + s->cap * sizeof(Key) + s->slots_cap * (sizeof(Slot) + sizeof(uint32_t));
}
