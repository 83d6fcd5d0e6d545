/* sim/sched: the one event queue of a run.
 *
 * Events are ordered by (virtual time, sequence number): two events at the
 * same time fire in the order they were pushed, never by address.  The queue
 * is a calendar queue of 16-byte keys (sched.c notes 3-4: buckets over a
 * window of virtual time, the bucket being drained a 4-ary heap, O(1) per
 * push and pop while delays keep their distribution) over a pool of event
 * slots reused through a free list, so a push allocates nothing once the
 * pool has grown to the run's peak.  Cancelling is O(1): the slot is marked
 * and skipped when it reaches the top.
 *
 * Memory: the scheduler owns its pool.  An event's `data` pointer is the
 * caller's; the scheduler never frees it, and events that own data must not
 * be cancelled (they are popped and freed by the caller). */
#pragma once

#include "sim/time.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What an event carries.  The meaning of the fields is the caller's. */
typedef struct FlEvent {
    uint32_t kind;
    uint32_t node;
    uint32_t peer;
    uint32_t gen;      /* scheduler-private: slot generation */
    uint64_t a, b;
    void *data;
} FlEvent;

/* Identifies a pushed event for fl_sched_cancel; 0 is never a valid id. */
typedef uint64_t FlEventId;

typedef struct FlSched FlSched;

/* The bound on pending events: pushing more is a bug in the caller (a
 * protocol that floods the network), reported by fl_sched_push. */
#define FL_SCHED_MAX_PENDING (1u << 24)

FlSched *fl_sched_new(void);
void fl_sched_free(FlSched *s);

/* Pushes a copy of @ev at time @at; @at must not be before the last popped
 * time.  Returns its id, or 0 when FL_SCHED_MAX_PENDING events are already
 * pending. */
FlEventId fl_sched_push(FlSched *s, FlTime at, const FlEvent *ev);

/* Cancels a pending event.  Returns true if it was pending (and will now
 * never be popped), false if it already fired or was cancelled. */
bool fl_sched_cancel(FlSched *s, FlEventId id);

/* Removes the earliest pending event, copying it to @out and its time to
 * @at.  Returns its id, or 0 when nothing is pending. */
FlEventId fl_sched_pop(FlSched *s, FlTime *at, FlEvent *out);

/* Like fl_sched_pop, but the event keeps its slot and its id: the caller
 * must then either fl_sched_release it or fl_sched_repush it (a paused node
 * parks its events this way, so the ids a protocol holds stay valid and can
 * still be cancelled).  Cancelling a taken event marks it, and a repushed
 * cancelled event is dropped when it comes up. */
FlEventId fl_sched_take(FlSched *s, FlTime *at, FlEvent *out);
void fl_sched_release(FlSched *s, FlEventId id);
/* Pushes a taken event again at @at, with the same id. */
void fl_sched_repush(FlSched *s, FlEventId id, FlTime at);
/* True if @id is pending or taken and cancelled. */
bool fl_sched_cancelled(const FlSched *s, FlEventId id);

/* Time of the earliest pending event (cancelled ones may count), or
 * FL_TIME_NEVER. */
FlTime fl_sched_peek_time(const FlSched *s);

/* Pending events, counting cancelled ones not yet popped. */
size_t fl_sched_pending(const FlSched *s);
/* Slots the pool holds (its high-water mark), for tests of reuse. */
size_t fl_sched_pool_size(const FlSched *s);
/* Bytes the scheduler's arrays hold (their capacity, so the high-water
 * mark), for the benchmarks' memory per pending event. */
size_t fl_sched_bytes(const FlSched *s);
