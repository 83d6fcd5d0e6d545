/* The MapReduce coordinator (node 0): queues jobs, hands out task
 * attempts, watches workers, re-executes and backs up tasks.  See the
 * design notes in mapreduce.c; the numbers cited are theirs. */
#include "protocols/mapreduce/mapreduce.h"

#include <inttypes.h>
#include <string.h>

/* Local time since @t; 0 if the clock stepped back past it. */
static FlDuration since(FlNode *n, FlTime t)
{
    FlTime now = fl_now(n);
    return now > t ? (FlDuration)(now - t) : 0;
}

static uint64_t new_attempt_id(MR *mr)
{
    return (mr->epoch << 32) | ++mr->next_attempt;
}

void mr_coordinator_init(FlNode *n, MR *mr)
{
    fl_role(n, "coordinator");
    mr->queue = g_queue_new();
    mr->workers = g_new0(MrWorkerView, fl_nodes(n));
    fl_timer(n, mr->heartbeat, MR_T_TICK);
}

static void job_free(MrJob *job)
{
    if (!job)
        return;
    for (uint32_t i = 0; i < job->maps + job->reduces; i++) {
        g_array_free(job->tasks[i].attempts, TRUE);
        if (job->tasks[i].output)
            g_string_free(job->tasks[i].output, TRUE);
    }
    g_free(job->tasks);
    g_free(job);
}

void mr_coordinator_destroy(MR *mr)
{
    job_free(mr->job);
    if (mr->queue)
        g_queue_free_full(mr->queue, g_free);
    g_free(mr->workers);
}

void mr_coordinator_request(FlNode *n, MR *mr, const FlRequest *req)
{
    if (req->op.kind != FL_OP_MR_WORDCOUNT && req->op.kind != FL_OP_MR_INDEX) {
        fl_reply_fail(n, req);
        return;
    }
    /* A retried request already queued or running is not queued twice. */
    if (mr->job && mr->job->req.client == req->client && mr->job->req.id == req->id)
        return;
    for (GList *l = mr->queue->head; l; l = l->next) {
        const FlRequest *q = l->data;
        if (q->client == req->client && q->id == req->id)
            return;
    }
    if (g_queue_get_length(mr->queue) >= MR_MAX_QUEUE) {
        fl_reply_fail(n, req);   /* refused before anything ran: certainly not done */
        return;
    }
    FlRequest *copy = g_new(FlRequest, 1);
    *copy = *req;
    g_queue_push_tail(mr->queue, copy);
    mr_coordinator_tick(n, mr);
}

/* ---- Jobs and tasks ---------------------------------------------------- */

static MrTask *task_of(MrJob *job, uint8_t phase, uint32_t task)
{
    return &job->tasks[phase == MR_MAP ? task : job->maps + task];
}

static void start_job(FlNode *n, MR *mr)
{
    FlRequest *req = g_queue_pop_head(mr->queue);
    MrJob *job = g_new0(MrJob, 1);
    job->id = (mr->epoch << 32) | ++mr->next_job;
    job->req = *req;
    g_free(req);
    job->program = job->req.op.kind == FL_OP_MR_WORDCOUNT ? MR_WORDCOUNT : MR_INDEX;
    job->seed = (uint64_t)job->req.op.a;
    job->words = mr->words;
    job->maps = mr->maps;
    job->reduces = mr->reduces;
    job->started = fl_now(n);
    job->tasks = g_new0(MrTask, job->maps + job->reduces);
    for (uint32_t i = 0; i < job->maps + job->reduces; i++)
        job->tasks[i].attempts = g_array_new(FALSE, FALSE, sizeof(MrAttempt));
    mr->job = job;
    fl_log(n, "job %" PRIx64 ": %s of seed %" PRIu64 ", %u words, M=%u R=%u",
           job->id, job->program == MR_WORDCOUNT ? "wordcount" : "index", job->seed,
           job->words, job->maps, job->reduces);
}

static void send_assign(FlNode *n, MR *mr, uint32_t worker, uint32_t index, uint64_t attempt)
{
    MrJob *job = mr->job;
    MrSpec s = {
        .job = job->id, .attempt = attempt, .program = job->program, .seed = job->seed,
        .words = job->words, .maps = job->maps, .reduces = job->reduces,
    };
    if (index < job->maps) {
        s.phase = MR_MAP;
        s.task = index;
    } else {
        s.phase = MR_REDUCE;
        s.task = index - job->maps;
        s.loc_worker = g_new(uint32_t, job->maps);
        s.loc_epoch = g_new(uint64_t, job->maps);
        for (uint32_t m = 0; m < job->maps; m++) {
            s.loc_worker[m] = job->tasks[m].done_worker;
            s.loc_epoch[m] = job->tasks[m].done_epoch;
        }
    }
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MR_ASSIGN);
    mr_spec_encode(&w, &s);
    fl_send(n, worker, w.data, w.len);
    fl_writer_deinit(&w);
    mr_spec_clear(&s);
}

static void launch(FlNode *n, MR *mr, uint32_t worker, uint32_t index, bool backup)
{
    MrJob *job = mr->job;
    MrTask *t = &job->tasks[index];
    MrAttempt a = { .id = new_attempt_id(mr), .worker = worker, .epoch = mr->workers[worker].epoch,
                    .started = fl_now(n), .backup = backup };
    g_array_append_val(t->attempts, a);
    t->state = MR_RUNNING;
    job->attempts++;
    if (backup) {
        job->backups++;
        fl_log(n, "backup attempt of %s task %u on worker %u",
               index < job->maps ? "map" : "reduce",
               index < job->maps ? index : index - job->maps, worker);
    }
    MrWorkerView *wv = &mr->workers[worker];
    wv->attempt = a.id;
    wv->task = index;
    wv->assigned_at = a.started;
    send_assign(n, mr, worker, index, a.id);
}

/* Note 5: the task of the current phase whose only attempt has run the
 * longest, past backup_after, and not on @worker; -1 if none. */
static int64_t backup_candidate(FlNode *n, MR *mr, uint32_t worker, uint32_t from, uint32_t to)
{
    MrJob *job = mr->job;
    int64_t best = -1;
    FlTime best_start = FL_TIME_NEVER;
    for (uint32_t i = from; i < to; i++) {
        MrTask *t = &job->tasks[i];
        if (t->state != MR_RUNNING || t->attempts->len != 1)
            continue;
        MrAttempt *a = &g_array_index(t->attempts, MrAttempt, 0);
        if (a->worker == worker || since(n, a->started) < mr->backup_after)
            continue;
        if (a->started < best_start) {
            best_start = a->started;
            best = i;
        }
    }
    return best;
}

static void schedule(FlNode *n, MR *mr)
{
    MrJob *job = mr->job;
    if (!job)
        return;
    bool maps_phase = job->maps_done < job->maps;
    uint32_t from = maps_phase ? 0 : job->maps;
    uint32_t to = maps_phase ? job->maps : job->maps + job->reduces;
    uint32_t next_idle = from;
    for (uint32_t w = 1; w < fl_nodes(n); w++) {
        MrWorkerView *wv = &mr->workers[w];
        if (!wv->alive || wv->attempt != 0)
            continue;
        while (next_idle < to && job->tasks[next_idle].state != MR_IDLE)
            next_idle++;
        if (next_idle < to) {
            launch(n, mr, w, next_idle, false);
            continue;
        }
        if (!mr->backups)
            break;
        int64_t b = backup_candidate(n, mr, w, from, to);
        if (b >= 0)
            launch(n, mr, w, (uint32_t)b, true);
    }
}

static void finish_job(FlNode *n, MR *mr)
{
    MrJob *job = mr->job;
    g_autoptr(GString) out = g_string_new(NULL);
    for (uint32_t r = 0; r < job->reduces; r++)
        g_string_append_len(out, job->tasks[job->maps + r].output->str,
                            (gssize)job->tasks[job->maps + r].output->len);
    mr_sort_lines(out);   /* partitions hold disjoint words: a merge */
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true,
                     .value = job->words, .text = out->str, .text_len = out->len };
    fl_reply(n, &job->req, &res);
    double ms = (double)since(n, job->started) / 1e6;
    fl_log(n, "job %" PRIx64 " done in %.1f ms: %u attempts, %u re-executed, %u backups (%u won)",
           job->id, ms, job->attempts, job->reexecuted, job->backups, job->backup_wins);
    fl_metric_add(n, "mr_jobs", 1);
    fl_metric_add(n, "mr_job_time_ms", ms);
    fl_metric_add(n, "mr_attempts", job->attempts);
    fl_metric_add(n, "mr_reexecuted", job->reexecuted);
    fl_metric_add(n, "mr_backups", job->backups);
    fl_metric_add(n, "mr_backup_wins", job->backup_wins);
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MR_JOB_END);
    fl_put_u64(&w, job->id);
    for (uint32_t i = 1; i < fl_nodes(n); i++)
        fl_send(n, i, w.data, w.len);
    job_free(job);
    mr->job = NULL;
}

/* A map task whose output is gone goes back to idle (note 4). */
static void lose_map_output(FlNode *n, MR *mr, uint32_t m, const char *why)
{
    MrJob *job = mr->job;
    MrTask *t = &job->tasks[m];
    g_assert(t->state == MR_DONE_STATE);
    t->state = t->attempts->len ? MR_RUNNING : MR_IDLE;
    job->maps_done--;
    job->reexecuted++;
    fl_log(n, "map task %u re-executes: %s", m, why);
}

/* Frees @worker in the coordinator's view, dropping its attempts. */
static void drop_attempts_of(MR *mr, uint32_t worker)
{
    MrJob *job = mr->job;
    mr->workers[worker].attempt = 0;
    if (!job)
        return;
    for (uint32_t i = 0; i < job->maps + job->reduces; i++) {
        MrTask *t = &job->tasks[i];
        for (guint k = t->attempts->len; k-- > 0;)
            if (g_array_index(t->attempts, MrAttempt, k).worker == worker)
                g_array_remove_index(t->attempts, k);
        if (t->state == MR_RUNNING && t->attempts->len == 0)
            t->state = MR_IDLE;
    }
}

/* Note 4: a worker is lost (silent, or restarted with a new epoch). */
static void worker_lost(FlNode *n, MR *mr, uint32_t worker, const char *why)
{
    fl_log(n, "worker %u lost: %s", worker, why);
    fl_metric_add(n, "mr_workers_lost", 1);
    drop_attempts_of(mr, worker);
    MrJob *job = mr->job;
    if (!job || job->reduces_done == job->reduces)
        return;
    for (uint32_t m = 0; m < job->maps; m++) {
        MrTask *t = &job->tasks[m];
        if (t->state == MR_DONE_STATE && t->done_worker == worker)
            lose_map_output(n, mr, m, "its worker was lost");
    }
}

/* ---- Messages ---------------------------------------------------------- */

static void heard(FlNode *n, MR *mr, uint32_t from, uint64_t epoch)
{
    MrWorkerView *wv = &mr->workers[from];
    if (wv->epoch != 0 && epoch > wv->epoch)
        worker_lost(n, mr, from, "it restarted");
    if (epoch >= wv->epoch) {
        wv->epoch = epoch;
        wv->last_heard = fl_now(n);
        wv->alive = true;
    }
}

static void on_heartbeat(FlNode *n, MR *mr, uint32_t from, FlReader *r)
{
    uint64_t epoch = fl_get_u64(r);
    uint64_t running = fl_get_u64(r);
    uint64_t last_done = fl_get_u64(r);
    if (!fl_reader_done(r) || epoch < mr->workers[from].epoch)
        return;
    heard(n, mr, from, epoch);
    MrWorkerView *wv = &mr->workers[from];
    /* Note 6: the worker does not run what we gave it: resend. */
    if (mr->job && wv->attempt != 0 && running != wv->attempt &&
        since(n, wv->assigned_at) > 2 * mr->heartbeat) {
        (void)last_done;   /* a finished attempt is resent by the worker itself */
        send_assign(n, mr, from, wv->task, wv->attempt);
        wv->assigned_at = fl_now(n);
    }
    schedule(n, mr);
}

static void on_done(FlNode *n, MR *mr, uint32_t from, FlReader *r)
{
    uint64_t job_id = fl_get_u64(r);
    uint64_t attempt = fl_get_u64(r);
    uint8_t phase = fl_get_u8(r);
    uint32_t task = fl_get_u32(r);
    uint64_t epoch = fl_get_u64(r);
    size_t len;
    const uint8_t *out = fl_get_bytes(r, &len);
    if (!fl_reader_done(r) || (phase != MR_MAP && phase != MR_REDUCE))
        return;
    if (epoch < mr->workers[from].epoch)
        return;   /* from an incarnation that is gone: its files are too */
    heard(n, mr, from, epoch);
    MrJob *job = mr->job;
    if (!job || job->id != job_id || task >= (phase == MR_MAP ? job->maps : job->reduces))
        return;
    MrWorkerView *wv = &mr->workers[from];
    if (wv->attempt == attempt)
        wv->attempt = 0;
    MrTask *t = task_of(job, phase, task);
    if (t->state == MR_DONE_STATE)
        return;   /* a backup or re-execution lost the race: dropped (note 3) */
    /* Was it a backup that won? */
    for (guint k = 0; k < t->attempts->len; k++) {
        MrAttempt *a = &g_array_index(t->attempts, MrAttempt, k);
        if (a->id == attempt && a->backup)
            job->backup_wins++;
    }
    /* The other attempts of this task are abandoned: their workers are free
     * (a new assignment preempts them). */
    for (guint k = 0; k < t->attempts->len; k++) {
        MrAttempt *a = &g_array_index(t->attempts, MrAttempt, k);
        if (a->id != attempt && mr->workers[a->worker].attempt == a->id)
            mr->workers[a->worker].attempt = 0;
    }
    g_array_set_size(t->attempts, 0);
    t->state = MR_DONE_STATE;
    t->executions++;
    if (phase == MR_MAP) {
        t->done_worker = from;
        t->done_epoch = epoch;
        job->maps_done++;
    } else {
        t->output = g_string_new_len((const char *)out, (gssize)len);
        job->reduces_done++;
        if (job->reduces_done == job->reduces) {
            finish_job(n, mr);
            if (!g_queue_is_empty(mr->queue))
                start_job(n, mr);
        }
    }
    schedule(n, mr);
}

static void on_fetch_fail(FlNode *n, MR *mr, uint32_t from, FlReader *r)
{
    uint64_t job_id = fl_get_u64(r);
    uint64_t attempt = fl_get_u64(r);
    uint32_t m = fl_get_u32(r);
    uint32_t worker = fl_get_u32(r);
    uint64_t epoch = fl_get_u64(r);
    MrJob *job = mr->job;
    if (!fl_reader_done(r) || !job || job->id != job_id || m >= job->maps)
        return;
    MrTask *t = &job->tasks[m];
    if (t->state == MR_DONE_STATE && t->done_worker == worker && t->done_epoch == epoch)
        lose_map_output(n, mr, m, "a reducer could not fetch its output");
    /* The reducer gave up this attempt. */
    MrWorkerView *wv = &mr->workers[from];
    for (uint32_t i = job->maps; i < job->maps + job->reduces; i++) {
        MrTask *rt = &job->tasks[i];
        for (guint k = rt->attempts->len; k-- > 0;)
            if (g_array_index(rt->attempts, MrAttempt, k).id == attempt)
                g_array_remove_index(rt->attempts, k);
        if (rt->state == MR_RUNNING && rt->attempts->len == 0)
            rt->state = MR_IDLE;
    }
    if (wv->attempt == attempt)
        wv->attempt = 0;
    schedule(n, mr);
}

void mr_coordinator_message(FlNode *n, MR *mr, uint32_t from, uint8_t type, FlReader *r)
{
    if (from == MR_COORDINATOR)
        return;
    switch (type) {
    case MR_HEARTBEAT: on_heartbeat(n, mr, from, r); break;
    case MR_DONE: on_done(n, mr, from, r); break;
    case MR_FETCH_FAIL: on_fetch_fail(n, mr, from, r); break;
    default: break;   /* not the coordinator's: drop */
    }
}

void mr_coordinator_tick(FlNode *n, MR *mr)
{
    for (uint32_t w = 1; w < fl_nodes(n); w++) {
        MrWorkerView *wv = &mr->workers[w];
        if (wv->alive && since(n, wv->last_heard) > mr->worker_timeout) {
            wv->alive = false;
            worker_lost(n, mr, w, "silent");
        }
    }
    if (!mr->job && !g_queue_is_empty(mr->queue))
        start_job(n, mr);
    schedule(n, mr);
}
