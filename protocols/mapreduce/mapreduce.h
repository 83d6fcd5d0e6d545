/* protocols/mapreduce: shared declarations of the MapReduce protocol.
 *
 * mapreduce.c holds the design notes, the protocol table and the message
 * codec; coordinator.c the coordinator (node 0); worker.c the workers
 * (nodes 1 ..); programs.c the user programs, word count and inverted
 * index, written as a MapReduce user would write them. */
#pragma once

#include "sim/node.h"

#include <glib.h>

#define MR_MAX_TASKS 1024        /* bound on M and on R */
#define MR_MAX_QUEUE 16          /* jobs waiting at the coordinator */
#define MR_COORDINATOR 0

enum { MR_MAP = 1, MR_REDUCE = 2 };
enum { MR_WORDCOUNT = 1, MR_INDEX = 2 };

/* Messages: the first byte. */
enum {
    MR_HEARTBEAT = 1,   /* worker -> coordinator: epoch, running attempt, last finished */
    MR_ASSIGN,          /* coordinator -> worker: a task attempt (MrSpec) */
    MR_DONE,            /* worker -> coordinator: job, attempt, phase, task, epoch, output */
    MR_FETCH,           /* reducer -> mapper: job, map task, partition, epoch, attempt */
    MR_FETCH_REPLY,     /* mapper -> reducer: job, map task, attempt, found, data */
    MR_FETCH_FAIL,      /* reducer -> coordinator: job, attempt, map task, worker, epoch */
    MR_JOB_END,         /* coordinator -> workers: job; its intermediate files may go */
};

/* Timer tags. */
enum { MR_T_TICK = 1, MR_T_HEARTBEAT, MR_T_COMPUTE, MR_T_FETCH };

/* One task attempt as the coordinator hands it out. */
typedef struct MrSpec {
    uint64_t job, attempt;
    uint8_t phase;           /* MR_MAP or MR_REDUCE */
    uint8_t program;         /* MR_WORDCOUNT or MR_INDEX */
    uint32_t task;           /* map index or reduce partition */
    uint64_t seed;
    uint32_t words, maps, reduces;
    /* Reduce only: where map task i's output lives (worker, its epoch). */
    uint32_t *loc_worker;    /* owned, `maps` entries, NULL for maps */
    uint64_t *loc_epoch;
} MrSpec;

void mr_spec_encode(FlWriter *w, const MrSpec *s);
/* Fills @s (owning its arrays on success); false on malformed input. */
bool mr_spec_decode(FlReader *r, MrSpec *s);
void mr_spec_clear(MrSpec *s);
void mr_spec_copy(MrSpec *dst, const MrSpec *src);

/* ---- Coordinator (coordinator.c) ------------------------------------- */

typedef struct MrAttempt {
    uint64_t id;
    uint32_t worker;
    uint64_t epoch;
    FlTime started;
    bool backup;
} MrAttempt;

enum { MR_IDLE = 0, MR_RUNNING, MR_DONE_STATE };

typedef struct MrTask {
    uint8_t state;
    GArray *attempts;        /* of MrAttempt: running ones */
    uint32_t done_worker;    /* map: where its output is */
    uint64_t done_epoch;
    uint32_t executions;     /* completed executions (re-executions counted) */
    GString *output;         /* reduce: its partition of the output */
} MrTask;

typedef struct MrJob {
    uint64_t id;
    FlRequest req;
    uint8_t program;
    uint64_t seed;
    uint32_t words, maps, reduces;
    FlTime started;
    MrTask *tasks;           /* maps, then reduces */
    uint32_t maps_done, reduces_done;
    uint32_t reexecuted, backups, backup_wins, attempts;
} MrJob;

typedef struct MrWorkerView {
    uint64_t epoch;          /* 0: never heard */
    FlTime last_heard;
    bool alive;
    uint64_t attempt;        /* running, as the coordinator believes; 0: free */
    uint32_t task;           /* its task index in the job */
    FlTime assigned_at;
} MrWorkerView;

/* ---- Worker (worker.c) ----------------------------------------------- */

typedef struct MrRun {
    bool active;
    MrSpec spec;
    FlTimerId compute, fetch;
    GString **inputs;        /* reduce: one per map task, NULL until fetched */
    uint32_t have;
    uint32_t *tries;
} MrRun;

typedef struct MR {
    /* Parameters. */
    uint32_t maps, reduces, words;
    FlDuration heartbeat, worker_timeout, backup_after, fetch_timeout;
    FlDuration map_cost, reduce_cost;   /* per word, per input line */
    uint32_t fetch_retries;
    bool backups;
    uint64_t epoch;          /* incarnation, from the disk */

    /* Coordinator. */
    uint64_t next_job, next_attempt;
    MrJob *job;              /* running, or NULL */
    GQueue *queue;           /* of FlRequest*, waiting */
    MrWorkerView *workers;   /* per node */

    /* Worker. */
    MrRun run;
    uint64_t last_done;      /* attempt id of the last finished attempt */
    GByteArray *last_done_msg;   /* its MR_DONE, to resend */
    GArray *produced;        /* of uint64_t job ids whose files this worker wrote */
} MR;

void mr_coordinator_init(FlNode *n, MR *mr);
void mr_coordinator_destroy(MR *mr);
void mr_coordinator_request(FlNode *n, MR *mr, const FlRequest *req);
void mr_coordinator_message(FlNode *n, MR *mr, uint32_t from, uint8_t type, FlReader *r);
void mr_coordinator_tick(FlNode *n, MR *mr);

void mr_worker_init(FlNode *n, MR *mr);
void mr_worker_destroy(MR *mr);
void mr_worker_message(FlNode *n, MR *mr, uint32_t from, uint8_t type, FlReader *r);
void mr_worker_timer(FlNode *n, MR *mr, FlTimerId t, uint64_t tag);

/* ---- Programs (programs.c) ------------------------------------------- */

/* The documents of map task @m of @maps over a corpus of @words words. */
void mr_split(uint32_t words, uint32_t maps, uint32_t m, uint32_t *doc_from, uint32_t *doc_to);
/* Map: reads the split's documents, emits (word, 1) or (word, doc),
 * combines locally, and fills @parts[0 .. reduces-1] with sorted
 * "word\tvalue\n" lines, one partition per reduce task.  Returns the
 * number of words read. */
uint32_t mr_map(uint8_t program, uint64_t seed, uint32_t words, uint32_t doc_from,
                uint32_t doc_to, uint32_t reduces, GString **parts);
/* Reduce: merges the partitions in @inputs into @out, sorted lines
 * "word count\n" (word count) or "word d1,d2,...\n" (index).  Returns the
 * number of input lines.  Malformed lines are skipped. */
uint32_t mr_reduce(uint8_t program, GString *const *inputs, uint32_t n, GString *out);
/* Sorts the lines of @text (each ending in '\n') bytewise, in place. */
void mr_sort_lines(GString *text);
