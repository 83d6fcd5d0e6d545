/* Design notes.
 * 1. A server is a single FIFO queue (an M/G/1/K queue when arrivals are
 *    Poisson): a job starts when the job before it is done, so its
 *    completion is max(now, free_at) + service, computed at admission.
 *    Nothing has to happen when a job ends; that is why a message can be
 *    pushed straight to the time its handler runs.
 * 2. The backlog at @now is the number of admitted jobs whose completion
 *    is after @now.  Completions are admitted in increasing order, so they
 *    sit in a ring, oldest first, and the ones done by @now are popped
 *    from its head: O(1) amortised, no event per completion. */
#include "sim/resource.h"

#include <glib.h>

void fl_server_init(FlServer *s, bool bounded, uint32_t queue)
{
    *s = (FlServer){ 0 };
    if (bounded) {
        g_assert(queue < UINT32_MAX);
        s->cap = queue + 1;
        s->done = g_new(FlTime, s->cap);
    }
}

void fl_server_deinit(FlServer *s)
{
    g_free(s->done);
    s->done = NULL;
}

uint32_t fl_server_backlog(FlServer *s, FlTime now)
{
    while (s->count > 0 && s->done[s->head] <= now) {
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    return s->count;
}

FlTime fl_server_admit(FlServer *s, FlTime now, FlDuration service)
{
    g_assert(service >= 0);
    if (s->cap) {
        if (fl_server_backlog(s, now) >= s->cap) {
            s->dropped++;
            return FL_TIME_NEVER;
        }
    }
    FlTime start = s->free_at > now ? s->free_at : now;
    FlTime end = start + (FlTime)service;
    s->free_at = end;
    s->busy += service;
    s->admitted++;
    if (s->cap) {
        s->done[(s->head + s->count) % s->cap] = end;
        s->count++;
        if (s->count > s->peak)
            s->peak = s->count;
    }
    return end;
}

double fl_server_utilisation(const FlServer *s, FlTime end)
{
    if (end == 0)
        return 0;
    /* Work past @end was admitted but not yet done: leave it out. */
    double busy = (double)s->busy;
    if (s->free_at > end)
        busy -= (double)(s->free_at - end);
    if (busy < 0)
        busy = 0;
    double u = busy / (double)end;
    return u > 1 ? 1 : u;
}
