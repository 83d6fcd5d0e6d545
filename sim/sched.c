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

static inline bool key_less(const Key *a, const Key *b)
{
    return a->time < b->time || (a->time == b->time && a->seq_slot < b->seq_slot);
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

    if (s->len == s->cap) {
        s->cap *= 2;
        s->heap = g_renew(Key, s->heap, s->cap);
    }
    Key k = { at, (s->seq++ << SLOT_BITS) | i };
    size_t pos = s->len++;
    while (pos > 0) {
        size_t parent = (pos - 1) >> 2;
        if (!key_less(&k, &s->heap[parent]))
            break;
        s->heap[pos] = s->heap[parent];
        pos = parent;
    }
    s->heap[pos] = k;
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
    assert(slot->ev.data == NULL);
    slot->cancelled = 1;
    return true;
}

static void heap_pop_top(FlSched *s)
{
    Key last = s->heap[--s->len];
    size_t n = s->len, pos = 0;
    if (n == 0)
        return;
    for (;;) {
        size_t c = 4 * pos + 1;
        if (c >= n)
            break;
        size_t best = c, end = c + 4 < n ? c + 4 : n;
        for (size_t j = c + 1; j < end; j++)
            if (key_less(&s->heap[j], &s->heap[best]))
                best = j;
        if (!key_less(&s->heap[best], &last))
            break;
        s->heap[pos] = s->heap[best];
        pos = best;
    }
    s->heap[pos] = last;
}

bool fl_sched_pop(FlSched *s, FlTime *at, FlEvent *out)
{
    while (s->len > 0) {
        Key top = s->heap[0];
        heap_pop_top(s);
        uint32_t i = (uint32_t)(top.seq_slot & SLOT_MASK);
        Slot *slot = &s->slots[i];
        bool cancelled = slot->cancelled;
        if (!cancelled) {
            *out = slot->ev;
            *at = top.time;
            s->last = top.time;
        }
        slot_release(s, i);
        if (!cancelled)
            return true;
    }
    return false;
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
