/* sim/resource: capacity that saturates (issue 22, item 1).
 *
 * A scenario's optional `resources` object gives each node a CPU (one
 * message handled at a time, a service time per message, a bounded queue),
 * each link a bandwidth (a message occupies its link for size /
 * bandwidth, first come first served) and each node a disk (a sync takes
 * a latency plus its bytes / bandwidth, one sync after another).  This module is the arithmetic of
 * one such first-come-first-served server, kept apart from the world so
 * that unit tests can check it without running anything.
 *
 * Memory: an FlServer owns its ring of completion times (fl_server_init
 * allocates it, fl_server_deinit frees it); the struct itself is the
 * caller's.  An FlResourceSpec lives in its FlScenario, which owns its
 * per-kind arrays (fl_scenario_free frees them). */
#pragma once

#include "sim/net.h"
#include "sim/time.h"

#include <stdbool.h>
#include <stdint.h>

/* What a scenario's `resources` asks for.  `on` false: no resource at all,
 * and the engine takes none of the paths below (every old run unchanged). */
typedef struct FlResourceSpec {
    bool on;
    bool cpu;                   /* a CPU per node */
    FlDelaySpec cpu_cost;       /* service time per message, drawn per message */
    FlDuration cpu_per_kib;     /* plus this per 1024 bytes of the message */
    uint32_t cpu_queue;         /* messages that may wait (besides the one served) */
    /* `per_kind`: a message whose kind (the protocol's msg_kind hook) is
     * the i-th name of its `kinds` list costs cpu_kind_cost[i] instead of
     * cpu_cost when cpu_kind_set[i] (per_kib still adds).  Indexes, not
     * names, so that serving a message compares no strings.  NULL and 0
     * unless the scenario gives per_kind. */
    FlDelaySpec *cpu_kind_cost;
    bool *cpu_kind_set;
    uint32_t cpu_kinds;         /* entries of both arrays: the protocol's kinds */
    double link_bytes_per_s;    /* bandwidth of every link; 0: unlimited */
    bool disk;                  /* a disk per node: fl_disk_sync takes time */
    FlDelaySpec disk_sync;      /* the latency of one sync, drawn per sync */
    double disk_bytes_per_s;    /* plus the bytes it makes durable at this rate; 0: unlimited */
} FlResourceSpec;

/* One first-come-first-served server with a bounded waiting room. */
typedef struct FlServer {
    FlTime free_at;             /* when the work admitted so far is done */
    FlTime *done;               /* ring: completion times of admitted jobs, oldest first */
    uint32_t cap;               /* ring size: queue + 1 (0: no bound, no ring) */
    uint32_t head, count;
    uint64_t admitted, dropped;
    uint32_t peak;              /* most jobs in the system at once (bounded servers) */
    FlDuration busy;            /* service time admitted */
} FlServer;

/* Prepares @s with room for @queue waiting jobs besides the one in
 * service; @bounded false: no bound and no ring (links). */
void fl_server_init(FlServer *s, bool bounded, uint32_t queue);
void fl_server_deinit(FlServer *s);

/* Jobs admitted and not done at @now (bounded servers only). */
uint32_t fl_server_backlog(FlServer *s, FlTime now);

/* A job of @service arriving at @now: returns when it completes (it starts
 * when every job before it is done), or FL_TIME_NEVER when the waiting room
 * is full (the job is dropped and counted; nothing else changes).
 * Precondition: @now is not before an earlier call's @now. */
FlTime fl_server_admit(FlServer *s, FlTime now, FlDuration service);

/* Fraction of [0, @end] the server was busy, counting only work admitted
 * (work still queued at @end counts up to @end). */
double fl_server_utilisation(const FlServer *s, FlTime end);
