/* mapreduce: a coordinator and workers run MapReduce jobs (Dean and
 * Ghemawat, OSDI 2004), with re-execution on worker failure and backup
 * tasks for stragglers.
 *
 * Design notes.
 * 1. Roles.  Node 0 is the coordinator (the paper's master); nodes 1 ..
 *    n-1 are workers.  A client's `wordcount` or `index` request carries
 *    the seed of the input text (sim/check/corpus.h); the job's size and
 *    its M map and R reduce tasks are cluster parameters.  Other nodes
 *    redirect clients to node 0.  Jobs queue at the coordinator (at most
 *    MR_MAX_QUEUE; one more is refused with fail, certainly not run) and
 *    run one at a time.
 * 2. Input.  Map task m reads documents [D*m/M, D*(m+1)/M) of the corpus,
 *    generated from the seed as if read from a shared file system.
 * 3. Intermediate files.  A map task combines its pairs and writes R files
 *    on its worker's own disk, not synced (as in the paper, they live on
 *    local disks and die with the worker), and reports them done.  A
 *    reduce task fetches its partition from every map task's worker
 *    (MR_FETCH), retrying fetch_retries times; a worker answers only for
 *    files of its current epoch.  The output of a reduce task is written
 *    synced and sent to the coordinator, whose first accepted completion
 *    of each task is the commit (the paper's atomic rename): later ones,
 *    from backups or re-executions, are dropped.
 * 4. Failure detection.  Workers heartbeat to the coordinator with their
 *    epoch, a boot counter kept synced on their disk.  A worker silent for
 *    worker_timeout, or heard with a new epoch, is lost: its running
 *    attempts go back to idle, and so do its completed map tasks while any
 *    reduce task still needs them, because their output lived on its disk
 *    (paper §3.3).  A reducer that cannot fetch a map output reports it
 *    (MR_FETCH_FAIL) and that map task is re-executed too.
 * 5. Backup tasks (paper §3.6).  When a phase has no idle task left and a
 *    worker is free, the oldest attempt running longer than backup_after
 *    gets a second attempt on that worker; whichever finishes first wins.
 * 6. Lost messages.  A worker's heartbeat names what it runs and what it
 *    last finished; when it does not name the attempt the coordinator gave
 *    it, the coordinator resends the assignment, and a worker that already
 *    finished that attempt resends its completion.  A new assignment
 *    preempts whatever the worker ran: the coordinator is the authority.
 * 7. The coordinator is a single point of failure, as in the paper: after
 *    a crash it comes back with a new epoch (in every job and attempt id)
 *    and no jobs; clients see their jobs time out (info).
 * 8. Determinism: workers and tasks are visited in index order; every
 *    output is sorted; compute time is a timer of cost x size. */
#include "protocols/epoch.h"
#include "protocols/mapreduce/mapreduce.h"

#include <string.h>

static const FlParam mr_params[] = {
    { "map_tasks", FL_PARAM_INT, "8", "M: map tasks per job", NULL, 1, MR_MAX_TASKS },
    { "reduce_tasks", FL_PARAM_INT, "4", "R: reduce tasks per job", NULL, 1, MR_MAX_TASKS },
    { "words", FL_PARAM_INT, "4000", "size of each job's input text, in words", NULL, 1, 1000000 },
    { "heartbeat", FL_PARAM_DURATION, "\"50ms\"", "worker heartbeat interval", NULL, 1, 1e12 },
    { "worker_timeout", FL_PARAM_DURATION, "\"400ms\"", "silence after which a worker is lost", NULL, 1, 1e12 },
    { "backup_tasks", FL_PARAM_BOOL, "true", "run backup attempts of slow tasks near the end of a phase", NULL, 0, 0 },
    { "backup_after", FL_PARAM_DURATION, "\"150ms\"", "how long an attempt runs before it may get a backup", NULL, 1, 1e12 },
    { "map_cost", FL_PARAM_DURATION, "\"40us\"", "compute time of a map task per input word", NULL, 0, 1e12 },
    { "reduce_cost", FL_PARAM_DURATION, "\"100us\"", "compute time of a reduce task per input line", NULL, 0, 1e12 },
    { "fetch_timeout", FL_PARAM_DURATION, "\"150ms\"", "how long a reducer waits for one fetch", NULL, 1, 1e12 },
    { "fetch_retries", FL_PARAM_INT, "3", "fetch attempts before a map output is reported lost", NULL, 1, 100 },
    { NULL },
};

/* ---- Codec ------------------------------------------------------------- */

void mr_spec_encode(FlWriter *w, const MrSpec *s)
{
    fl_put_u64(w, s->job);
    fl_put_u64(w, s->attempt);
    fl_put_u8(w, s->phase);
    fl_put_u8(w, s->program);
    fl_put_u32(w, s->task);
    fl_put_u64(w, s->seed);
    fl_put_u32(w, s->words);
    fl_put_u32(w, s->maps);
    fl_put_u32(w, s->reduces);
    if (s->phase == MR_REDUCE)
        for (uint32_t i = 0; i < s->maps; i++) {
            fl_put_u32(w, s->loc_worker[i]);
            fl_put_u64(w, s->loc_epoch[i]);
        }
}

bool mr_spec_decode(FlReader *r, MrSpec *s)
{
    memset(s, 0, sizeof *s);
    s->job = fl_get_u64(r);
    s->attempt = fl_get_u64(r);
    s->phase = fl_get_u8(r);
    s->program = fl_get_u8(r);
    s->task = fl_get_u32(r);
    s->seed = fl_get_u64(r);
    s->words = fl_get_u32(r);
    s->maps = fl_get_u32(r);
    s->reduces = fl_get_u32(r);
    if (!fl_reader_ok(r) || (s->phase != MR_MAP && s->phase != MR_REDUCE) ||
        (s->program != MR_WORDCOUNT && s->program != MR_INDEX) || s->maps == 0 ||
        s->maps > MR_MAX_TASKS || s->reduces == 0 || s->reduces > MR_MAX_TASKS ||
        s->words == 0 || s->words > 1000000 ||
        s->task >= (s->phase == MR_MAP ? s->maps : s->reduces))
        return false;
    if (s->phase == MR_REDUCE) {
        if (fl_reader_left(r) < (size_t)s->maps * 12)
            return false;
        s->loc_worker = g_new(uint32_t, s->maps);
        s->loc_epoch = g_new(uint64_t, s->maps);
        for (uint32_t i = 0; i < s->maps; i++) {
            s->loc_worker[i] = fl_get_u32(r);
            s->loc_epoch[i] = fl_get_u64(r);
        }
    }
    if (!fl_reader_ok(r)) {
        mr_spec_clear(s);
        return false;
    }
    return true;
}

void mr_spec_clear(MrSpec *s)
{
    g_free(s->loc_worker);
    g_free(s->loc_epoch);
    memset(s, 0, sizeof *s);
}

void mr_spec_copy(MrSpec *dst, const MrSpec *src)
{
    *dst = *src;
    if (src->loc_worker) {
        dst->loc_worker = g_new(uint32_t, src->maps);
        dst->loc_epoch = g_new(uint64_t, src->maps);
        memcpy(dst->loc_worker, src->loc_worker, sizeof(uint32_t) * src->maps);
        memcpy(dst->loc_epoch, src->loc_epoch, sizeof(uint64_t) * src->maps);
    }
}

/* ---- Protocol ---------------------------------------------------------- */

static void mr_init(FlNode *n, void *state)
{
    MR *mr = state;
    mr->maps = (uint32_t)fl_param_int(n, "map_tasks");
    mr->reduces = (uint32_t)fl_param_int(n, "reduce_tasks");
    mr->words = (uint32_t)fl_param_int(n, "words");
    mr->heartbeat = fl_param_duration(n, "heartbeat");
    mr->worker_timeout = fl_param_duration(n, "worker_timeout");
    mr->backups = fl_param_bool(n, "backup_tasks");
    mr->backup_after = fl_param_duration(n, "backup_after");
    mr->map_cost = fl_param_duration(n, "map_cost");
    mr->reduce_cost = fl_param_duration(n, "reduce_cost");
    mr->fetch_timeout = fl_param_duration(n, "fetch_timeout");
    mr->fetch_retries = (uint32_t)fl_param_int(n, "fetch_retries");
    mr->epoch = fl_epoch_next(n);
    if (fl_self(n) == MR_COORDINATOR)
        mr_coordinator_init(n, mr);
    else
        mr_worker_init(n, mr);
}

static void mr_destroy(FlNode *n, void *state)
{
    MR *mr = state;
    if (fl_self(n) == MR_COORDINATOR)
        mr_coordinator_destroy(mr);
    else
        mr_worker_destroy(mr);
}

static void mr_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    MR *mr = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    if (!fl_reader_ok(&r) || from >= fl_nodes(n))
        return;
    if (fl_self(n) == MR_COORDINATOR)
        mr_coordinator_message(n, mr, from, type, &r);
    else
        mr_worker_message(n, mr, from, type, &r);
}

static void mr_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    MR *mr = state;
    if (fl_self(n) == MR_COORDINATOR) {
        if (tag == MR_T_TICK) {
            mr_coordinator_tick(n, mr);
            fl_timer(n, mr->heartbeat, MR_T_TICK);
        }
    } else {
        mr_worker_timer(n, mr, t, tag);
    }
}

static void mr_on_request(FlNode *n, void *state, const FlRequest *req)
{
    MR *mr = state;
    if (fl_self(n) != MR_COORDINATOR) {
        fl_reply_redirect(n, req, MR_COORDINATOR);
        return;
    }
    mr_coordinator_request(n, mr, req);
}

/* The counters the coordinator creates (FlProtocol.counters). */
static const char *const mr_counters[] = {
    "mr_jobs", "mr_job_time_ms", "mr_attempts", "mr_reexecuted", "mr_backups",
    "mr_backup_wins", "mr_workers_lost", NULL,
};
/* Names a message's kind for faults aimed at protocol events (the
 * `trigger` fault): the first byte is the type, and a DONE says which phase
 * finished (the byte after job and attempt, worker.c), since a map task's
 * output lives on its worker's disk and a reduce task's does not: crashing
 * a worker right after MAP-DONE is what forces a re-execution.  NULL for a
 * type this protocol does not send. */
static const char *mr_msg_kind(const uint8_t *msg, size_t len)
{
    static const char *const names[] = {
        [MR_HEARTBEAT] = "HEARTBEAT",
        [MR_ASSIGN] = "ASSIGN",
        [MR_FETCH] = "FETCH",
        [MR_FETCH_REPLY] = "FETCH_REPLY",
        [MR_FETCH_FAIL] = "FETCH_FAIL",
        [MR_JOB_END] = "JOB_END",
    };
    if (len == 0)
        return NULL;
    if (msg[0] == MR_DONE)
        return len < 18 ? NULL : msg[17] == MR_MAP ? "MAP-DONE" : msg[17] == MR_REDUCE ? "REDUCE-DONE" : NULL;
    return msg[0] < G_N_ELEMENTS(names) ? names[msg[0]] : NULL;
}

const FlProtocol fl_proto_mapreduce = {
    .name = "mapreduce",
    .summary = "MapReduce: coordinator and workers, re-execution on worker loss, backup tasks (word count, inverted index)",
    .params = mr_params,
    .state_size = sizeof(MR),
    .init = mr_init,
    .recover = mr_init,
    .destroy = mr_destroy,
    .on_message = mr_on_message,
    .on_timer = mr_on_timer,
    .on_request = mr_on_request,
    .counters = mr_counters,
    .msg_kind = mr_msg_kind,
    .kinds = "HEARTBEAT|ASSIGN|MAP-DONE|REDUCE-DONE|FETCH|FETCH_REPLY|FETCH_FAIL|JOB_END",
};
