/* A MapReduce worker: runs one task attempt at a time, keeps map outputs
 * on its disk and serves them to reducers.  See the design notes in
 * mapreduce.c; the numbers cited are theirs. */
#include "protocols/mapreduce/mapreduce.h"

#include "sim/check/corpus.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void file_name(char *buf, size_t cap, uint64_t job, uint32_t m, uint32_t r)
{
    snprintf(buf, cap, "mr/%" PRIx64 "/m%u/r%u", job, m, r);
}

static void send_heartbeat(FlNode *n, MR *mr)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MR_HEARTBEAT);
    fl_put_u64(&w, mr->epoch);
    fl_put_u64(&w, mr->run.active ? mr->run.spec.attempt : 0);
    fl_put_u64(&w, mr->last_done);
    fl_send(n, MR_COORDINATOR, w.data, w.len);
}

void mr_worker_init(FlNode *n, MR *mr)
{
    fl_role(n, "worker");
    mr->produced = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    mr->last_done_msg = g_byte_array_new();
    send_heartbeat(n, mr);
    fl_timer(n, mr->heartbeat, MR_T_HEARTBEAT);
}

static void run_clear(FlNode *n, MrRun *run)
{
    if (!run->active)
        return;
    if (n && run->compute)
        fl_timer_cancel(n, run->compute);
    if (n && run->fetch)
        fl_timer_cancel(n, run->fetch);
    for (uint32_t i = 0; run->inputs && i < run->spec.maps; i++)
        if (run->inputs[i])
            g_string_free(run->inputs[i], TRUE);
    g_free(run->inputs);
    g_free(run->tries);
    mr_spec_clear(&run->spec);
    memset(run, 0, sizeof *run);
}

void mr_worker_destroy(MR *mr)
{
    run_clear(NULL, &mr->run);
    if (mr->produced)
        g_array_free(mr->produced, TRUE);
    if (mr->last_done_msg)
        g_byte_array_free(mr->last_done_msg, TRUE);
}

/* Sends the completion of the current attempt, keeps a copy to resend
 * (note 6), and becomes free. */
static void complete(FlNode *n, MR *mr, const GString *output)
{
    MrRun *run = &mr->run;
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MR_DONE);
    fl_put_u64(&w, run->spec.job);
    fl_put_u64(&w, run->spec.attempt);
    fl_put_u8(&w, run->spec.phase);
    fl_put_u32(&w, run->spec.task);
    fl_put_u64(&w, mr->epoch);
    fl_put_bytes(&w, output ? output->str : "", output ? output->len : 0);
    fl_send(n, MR_COORDINATOR, w.data, w.len);
    g_byte_array_set_size(mr->last_done_msg, 0);
    g_byte_array_append(mr->last_done_msg, w.data, (guint)w.len);
    fl_writer_deinit(&w);
    mr->last_done = run->spec.attempt;
    run_clear(n, run);
}

/* Note 3: a map task computes its partitions and writes them, unsynced. */
static void finish_map(FlNode *n, MR *mr)
{
    MrSpec *s = &mr->run.spec;
    uint32_t from, to;
    mr_split(s->words, s->maps, s->task, &from, &to);
    GString **parts = g_new(GString *, s->reduces);
    for (uint32_t r = 0; r < s->reduces; r++)
        parts[r] = g_string_new(NULL);
    mr_map(s->program, s->seed, s->words, from, to, s->reduces, parts);
    for (uint32_t r = 0; r < s->reduces; r++) {
        char name[96];
        file_name(name, sizeof name, s->job, s->task, r);
        /* A leading '#' tells an empty partition from a missing file. */
        g_string_prepend_c(parts[r], '#');
        fl_disk_write(n, name, parts[r]->str, parts[r]->len);
        g_string_free(parts[r], TRUE);
    }
    g_free(parts);
    bool known = false;
    for (guint i = 0; i < mr->produced->len; i++)
        known |= g_array_index(mr->produced, uint64_t, i) == s->job;
    if (!known)
        g_array_append_val(mr->produced, s->job);
    complete(n, mr, NULL);
}

static void finish_reduce(FlNode *n, MR *mr)
{
    MrSpec *s = &mr->run.spec;
    g_autoptr(GString) out = g_string_new(NULL);
    mr_reduce(s->program, mr->run.inputs, s->maps, out);
    char name[96];
    snprintf(name, sizeof name, "mr/%" PRIx64 "/out%u", s->job, s->task);
    fl_disk_write(n, name, out->str, out->len);
    fl_disk_sync(n, name);
    complete(n, mr, out);
}

/* Reads map @m's partition @r from this worker's disk into a new string,
 * or returns NULL if it is not here. */
static GString *local_partition(FlNode *n, uint64_t job, uint32_t m, uint32_t r)
{
    char name[96];
    file_name(name, sizeof name, job, m, r);
    size_t len;
    const uint8_t *p = fl_disk_view(n, name, &len);
    if (!p || len == 0 || p[0] != '#')
        return NULL;
    return g_string_new_len((const char *)p + 1, (gssize)len - 1);
}

static void fetch_fail(FlNode *n, MR *mr, uint32_t m)
{
    MrSpec *s = &mr->run.spec;
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MR_FETCH_FAIL);
    fl_put_u64(&w, s->job);
    fl_put_u64(&w, s->attempt);
    fl_put_u32(&w, m);
    fl_put_u32(&w, s->loc_worker[m]);
    fl_put_u64(&w, s->loc_epoch[m]);
    fl_send(n, MR_COORDINATOR, w.data, w.len);
    fl_log(n, "reduce %u gives up: map output %u on worker %u is unreachable", s->task, m,
           s->loc_worker[m]);
    run_clear(n, &mr->run);
}

static void send_fetch(FlNode *n, MR *mr, uint32_t m)
{
    MrSpec *s = &mr->run.spec;
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MR_FETCH);
    fl_put_u64(&w, s->job);
    fl_put_u32(&w, m);
    fl_put_u32(&w, s->task);
    fl_put_u64(&w, s->loc_epoch[m]);
    fl_put_u64(&w, s->attempt);
    fl_send(n, s->loc_worker[m], w.data, w.len);
}

static void inputs_complete(FlNode *n, MR *mr)
{
    MrRun *run = &mr->run;
    if (run->fetch) {
        fl_timer_cancel(n, run->fetch);
        run->fetch = 0;
    }
    uint64_t lines = 0;
    for (uint32_t m = 0; m < run->spec.maps; m++)
        for (size_t i = 0; i < run->inputs[m]->len; i++)
            lines += run->inputs[m]->str[i] == '\n';
    run->compute = fl_timer(n, (FlDuration)(lines * (uint64_t)mr->reduce_cost), MR_T_COMPUTE);
}

static void start_reduce(FlNode *n, MR *mr)
{
    MrRun *run = &mr->run;
    MrSpec *s = &run->spec;
    run->inputs = g_new0(GString *, s->maps);
    run->tries = g_new0(uint32_t, s->maps);
    for (uint32_t m = 0; m < s->maps; m++) {
        if (s->loc_worker[m] == fl_self(n)) {
            if (s->loc_epoch[m] != mr->epoch ||
                !(run->inputs[m] = local_partition(n, s->job, m, s->task))) {
                fetch_fail(n, mr, m);
                return;
            }
            run->have++;
        } else if (s->loc_worker[m] == MR_COORDINATOR || s->loc_worker[m] >= fl_nodes(n)) {
            fetch_fail(n, mr, m);
            return;
        } else {
            run->tries[m] = 1;
            send_fetch(n, mr, m);
        }
    }
    if (run->have == s->maps)
        inputs_complete(n, mr);
    else
        run->fetch = fl_timer(n, mr->fetch_timeout, MR_T_FETCH);
}

static void on_assign(FlNode *n, MR *mr, FlReader *r)
{
    MrSpec s;
    if (!mr_spec_decode(r, &s))
        return;
    if (!fl_reader_done(r)) {
        mr_spec_clear(&s);
        return;
    }
    if (mr->run.active && mr->run.spec.attempt == s.attempt) {
        mr_spec_clear(&s);
        return;   /* running it already */
    }
    if (s.attempt == mr->last_done) {
        mr_spec_clear(&s);
        /* Its completion was lost: send it again (note 6). */
        fl_send(n, MR_COORDINATOR, mr->last_done_msg->data, mr->last_done_msg->len);
        return;
    }
    run_clear(n, &mr->run);   /* a new assignment preempts (note 6) */
    MrRun *run = &mr->run;
    run->active = true;
    run->spec = s;
    if (s.phase == MR_MAP) {
        uint32_t from, to;
        mr_split(s.words, s.maps, s.task, &from, &to);
        uint64_t words = 0;
        for (uint32_t d = from; d < to; d++)
            words += MIN(s.words - d * FL_CORPUS_DOC_WORDS, FL_CORPUS_DOC_WORDS);
        run->compute = fl_timer(n, (FlDuration)(words * (uint64_t)mr->map_cost), MR_T_COMPUTE);
    } else {
        start_reduce(n, mr);
    }
}

/* A reducer asks for one partition of a map output on this disk. */
static void on_fetch(FlNode *n, MR *mr, uint32_t from, FlReader *r)
{
    uint64_t job = fl_get_u64(r);
    uint32_t m = fl_get_u32(r);
    uint32_t part = fl_get_u32(r);
    uint64_t epoch = fl_get_u64(r);
    uint64_t attempt = fl_get_u64(r);
    if (!fl_reader_done(r) || m >= MR_MAX_TASKS || part >= MR_MAX_TASKS)
        return;
    g_autoptr(GString) data = epoch == mr->epoch ? local_partition(n, job, m, part) : NULL;
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, MR_FETCH_REPLY);
    fl_put_u64(&w, job);
    fl_put_u32(&w, m);
    fl_put_u64(&w, attempt);
    fl_put_u8(&w, data != NULL);
    fl_put_bytes(&w, data ? data->str : "", data ? data->len : 0);
    fl_send(n, from, w.data, w.len);
    fl_writer_deinit(&w);
}

static void on_fetch_reply(FlNode *n, MR *mr, uint32_t from, FlReader *r)
{
    uint64_t job = fl_get_u64(r);
    uint32_t m = fl_get_u32(r);
    uint64_t attempt = fl_get_u64(r);
    uint8_t found = fl_get_u8(r);
    size_t len;
    const uint8_t *p = fl_get_bytes(r, &len);
    MrRun *run = &mr->run;
    if (!fl_reader_done(r) || !run->active || run->spec.phase != MR_REDUCE ||
        run->spec.job != job || run->spec.attempt != attempt || m >= run->spec.maps ||
        run->spec.loc_worker[m] != from || run->inputs[m] || run->compute)
        return;
    if (!found) {
        fetch_fail(n, mr, m);
        return;
    }
    run->inputs[m] = g_string_new_len((const char *)p, (gssize)len);
    if (++run->have == run->spec.maps)
        inputs_complete(n, mr);
}

static void on_job_end(FlNode *n, MR *mr, FlReader *r)
{
    uint64_t job = fl_get_u64(r);
    if (!fl_reader_done(r))
        return;
    for (guint i = 0; i < mr->produced->len; i++) {
        if (g_array_index(mr->produced, uint64_t, i) != job)
            continue;
        /* Intermediate files are dropped once the job is done. */
        for (uint32_t m = 0; m < MR_MAX_TASKS && m < mr->maps; m++)
            for (uint32_t p = 0; p < mr->reduces; p++) {
                char name[96];
                file_name(name, sizeof name, job, m, p);
                fl_disk_truncate(n, name, 0);
            }
        g_array_remove_index(mr->produced, i);
        break;
    }
}

void mr_worker_message(FlNode *n, MR *mr, uint32_t from, uint8_t type, FlReader *r)
{
    switch (type) {
    case MR_ASSIGN:
        if (from == MR_COORDINATOR)
            on_assign(n, mr, r);
        break;
    case MR_FETCH: on_fetch(n, mr, from, r); break;
    case MR_FETCH_REPLY: on_fetch_reply(n, mr, from, r); break;
    case MR_JOB_END:
        if (from == MR_COORDINATOR)
            on_job_end(n, mr, r);
        break;
    default: break;   /* not a worker's: drop */
    }
}

void mr_worker_timer(FlNode *n, MR *mr, FlTimerId t, uint64_t tag)
{
    MrRun *run = &mr->run;
    switch (tag) {
    case MR_T_HEARTBEAT:
        send_heartbeat(n, mr);
        fl_timer(n, mr->heartbeat, MR_T_HEARTBEAT);
        break;
    case MR_T_COMPUTE:
        if (!run->active || run->compute != t)
            break;
        run->compute = 0;
        if (run->spec.phase == MR_MAP)
            finish_map(n, mr);
        else
            finish_reduce(n, mr);
        break;
    case MR_T_FETCH:
        if (!run->active || run->fetch != t)
            break;
        run->fetch = 0;
        for (uint32_t m = 0; m < run->spec.maps; m++) {
            if (run->inputs[m])
                continue;
            if (run->tries[m] >= mr->fetch_retries) {
                fetch_fail(n, mr, m);
                return;
            }
            run->tries[m]++;
            send_fetch(n, mr, m);
        }
        run->fetch = fl_timer(n, mr->fetch_timeout, MR_T_FETCH);
        break;
    }
}
