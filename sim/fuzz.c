/* Design notes.
 * 1. Runs happen in worker processes.  A worker reads seeds from a pipe,
 *    loads the scenario with each, runs and checks it, and writes one
 *    length-prefixed JSON object per seed back.  A worker that dies mid-run
 *    (a protocol assertion, a crash of the simulator, SIGALRM armed from the
 *    time limit) takes only that seed with it: the parent records the seed's
 *    failure from the exit status and starts a fresh worker.  Workers live
 *    for many seeds because a fork per seed, with its page faults on a fresh
 *    heap, cost about a sixth of each run.  A run depends only on its
 *    scenario and seed, never on what the worker ran before (tests/fuzz
 *    compares worker results with single runs).
 * 2. Results are stored by position in the seed list and read back in that
 *    order.  Without --keep-going the search stops at the lowest failing
 *    seed: runs of higher seeds that finished meanwhile are ignored, so the
 *    answer is the same for any number of workers.
 * 3. Shrinking works on the resolved scenario of the failing run (ranges
 *    drawn, defaults filled, seed fixed), so every candidate is an ordinary,
 *    self-contained scenario file.
 * 4. A worker's standard output and error go to a file of its own, never to
 *    the parent's: what a dying worker prints (GLib's assertion message,
 *    "Bail out!") would otherwise land in the middle of `--json` output.
 *    The file shares its offset with the worker, so the parent empties it
 *    between seeds, and a death reports what that seed printed. */
#include "sim/fuzz.h"

#include "faults/nemesis.h"
#include "sim/run.h"
#include "sim/scenario.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

volatile int fl_fuzz_interrupted;

void fl_outcome_clear(FlOutcome *o)
{
    g_free(o->kind);
    g_free(o->detail);
    if (o->resolved)
        json_decref(o->resolved);
    if (o->explicit_faults)
        json_decref(o->explicit_faults);
    if (o->figures)
        json_decref(o->figures);
    memset(o, 0, sizeof *o);
}

/* The failure's kind, from the expectations a run missed. */
static char *failure_kind(const FlRunResult *res)
{
    g_autoptr(GPtrArray) kinds = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < res->unmet->len; i++) {
        const char *line = g_ptr_array_index(res->unmet, i);
        const char *colon = strchr(line, ':');
        g_autofree char *key = g_strndup(line, colon ? (gsize)(colon - line) : strlen(line));
        if (strcmp(key, "trace_hash") == 0)
            continue;
        if (strcmp(key, "valid") == 0) {
            g_free(key);
            key = g_strdup(res->verdict == FL_VERDICT_INVALID ? "invalid"
                           : res->verdict == FL_VERDICT_VALID ? "unexpectedly-valid"
                                                              : "no-verdict");
        }
        g_ptr_array_add(kinds, g_steal_pointer(&key));
    }
    if (kinds->len == 0)
        return g_strdup("ok");
    g_ptr_array_sort(kinds, (GCompareFunc)g_strcmp0);
    g_ptr_array_add(kinds, NULL);
    return g_strjoinv("+", (char **)kinds->pdata);
}

/* What `faultline claims` weighs a run by (FlOutcome.figures). */
static json_t *figures_of(const FlRunResult *res)
{
    json_t *m = res->metrics, *ops = json_object_get(m, "ops");
    json_t *verdicts = json_object_get(json_object_get(m, "check"), "verdicts");
    json_t *unmet = json_array();
    for (guint i = 0; i < res->unmet->len; i++) {
        const char *line = g_ptr_array_index(res->unmet, i);
        const char *colon = strchr(line, ':');
        json_array_append_new(unmet, json_stringn(line, colon ? (size_t)(colon - line) : strlen(line)));
    }
    /* live_judged: whether this run weighed its liveness claim (a default
     * claim may find too little time after a late heal), so that `claims`
     * never counts an unweighed claim as met. */
    return json_pack("{s:O?,s:o,s:O?,s:O?,s:O?,s:O?,s:O?}", "verdicts", verdicts,
                     "unmet", unmet, "ok", json_object_get(ops, "ok"), "info",
                     json_object_get(ops, "info"), "p99_ns",
                     json_object_get(json_object_get(m, "latency_ns"), "p99"), "availability",
                     json_object_get(m, "availability"), "live_judged",
                     json_object_get(json_object_get(m, "liveness"), "judged"));
}

/* One run of @seed, as the JSON text a worker sends back (free with free()). */
static char *run_seed(json_t *scenario, const char *file, uint64_t seed, double limit)
{
    GError *err = NULL;
    json_t *out = json_object();
    FlScenario *sc = fl_scenario_from_json(scenario, file, (int64_t)seed, &err);
    if (!sc) {
        json_object_set_new(out, "kind", json_string("error"));
        json_object_set_new(out, "detail", json_string(err->message));
        g_error_free(err);
    } else {
        FlRunOptions opt = { .check = true, .check_timeout_s = limit > 0 ? limit / 2 : 60 };
        FlRunResult res;
        if (fl_run(sc, &opt, &res, &err) != 0) {
            json_object_set_new(out, "kind", json_string("error"));
            json_object_set_new(out, "detail", json_string(err->message));
            g_error_free(err);
        } else {
            g_autofree char *kind = failure_kind(&res);
            g_autoptr(GString) detail = g_string_new(NULL);
            for (guint i = 0; i < res.unmet->len; i++)
                g_string_append_printf(detail, "%s%s", i ? "; " : "",
                                       (char *)g_ptr_array_index(res.unmet, i));
            char hash[24];
            g_snprintf(hash, sizeof hash, "%016" G_GINT64_MODIFIER "x", res.trace_hash);
            json_object_set_new(out, "kind", json_string(kind));
            json_object_set_new(out, "detail", json_string(detail->str));
            json_object_set_new(out, "trace_hash", json_string(hash));
            json_object_set_new(out, "virtual_s", json_real((double)sc->duration / 1e9));
            json_object_set(out, "resolved", sc->resolved);
            /* The faults as the nemesis actually drew them: what shrinking
             * works on. */
            json_object_set_new(out, "explicit_faults", fl_faults_explicit(sc));
            json_object_set_new(out, "figures", figures_of(&res));
            fl_run_result_clear(&res);
        }
        fl_scenario_free(sc);
    }
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

static bool write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = write(fd, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        c += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads exactly @len bytes; false at end of file or on an error. */
static bool read_all(int fd, void *p, size_t len)
{
    char *c = p;
    while (len > 0) {
        ssize_t n = read(fd, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        c += n;
        len -= (size_t)n;
    }
    return true;
}

typedef struct Worker {
    pid_t pid;        /* 0: none */
    int to, from;     /* seeds go in, results come out */
    bool busy;
    size_t pos;       /* position of the seed it runs, when busy */
    GString *buf;     /* what it wrote of its current result */
    int log;          /* its standard output and error (note 4), or -1 */
} Worker;

/* The worker's life: a seed in, a result frame (u32 length, JSON) out, until
 * the parent closes the pipe. */
G_GNUC_NORETURN static void worker_main(json_t *scenario, const char *file, double limit,
                                        int in, int out)
{
#ifdef __GLIBC__
    /* Keep freed memory for the next seed instead of handing it back to the
     * kernel and taking page faults to get it again. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
    uint64_t seed;
    /* Tests make a worker fail a real assertion at one seed. */
    const char *hook = g_getenv("FAULTLINE_TEST_ASSERT_SEED");
    uint64_t assert_seed = hook ? g_ascii_strtoull(hook, NULL, 10) : 0;
    while (read_all(in, &seed, sizeof seed)) {
        g_assert_cmpuint(seed, !=, assert_seed);
        if (limit > 0)
            alarm((unsigned)ceil(limit));
        char *text = run_seed(scenario, file, seed, limit);
        alarm(0);
        uint32_t len = (uint32_t)strlen(text);
        bool ok = write_all(out, &len, sizeof len) && write_all(out, text, len);
        free(text);
        if (!ok)
            _exit(1);
    }
    _exit(0);
}

/* Starts @wk.  The other workers' pipe ends are closed in the child: a worker
 * holding a sibling's seed pipe would keep that sibling from ever seeing
 * the end of its input. */
static bool worker_start(Worker *wk, Worker *all, uint32_t nall, json_t *scenario,
                         const char *file, double limit)
{
    int in[2], out[2];
    FILE *logf = tmpfile();
    int log = logf ? dup(fileno(logf)) : -1;
    if (logf)
        fclose(logf);
    if (pipe(in) != 0) {
        if (log >= 0)
            close(log);
        return false;
    }
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        if (log >= 0)
            close(log);
        return false;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return false;
    }
    if (pid == 0) {
        for (uint32_t k = 0; k < nall; k++) {
            if (all[k].pid) {
                close(all[k].to);
                close(all[k].from);
            }
        }
        close(in[1]);
        close(out[0]);
        for (uint32_t k = 0; k < nall; k++)
            if (all[k].pid && all[k].log >= 0)
                close(all[k].log);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
            close(log);
        }
        signal(SIGINT, SIG_IGN);   /* the parent decides what an interrupt stops */
        worker_main(scenario, file, limit, in[0], out[1]);
    }
    close(in[0]);
    close(out[1]);
    wk->pid = pid;
    wk->to = in[1];
    wk->from = out[0];
    wk->busy = false;
    wk->buf = g_string_new(NULL);
    wk->log = log;
    return true;
}

/* Ends @wk (killing it first if @kill) and returns how it exited. */
static int worker_stop(Worker *wk, bool kill_it)
{
    if (kill_it)
        kill(wk->pid, SIGKILL);
    close(wk->to);
    close(wk->from);
    int status = 0;
    while (waitpid(wk->pid, &status, 0) < 0 && errno == EINTR)
        ;
    g_string_free(wk->buf, TRUE);
    if (wk->log >= 0)
        close(wk->log);
    memset(wk, 0, sizeof *wk);
    return status;
}

static bool worker_send(Worker *wk, uint64_t seed, size_t pos)
{
    wk->busy = true;
    wk->pos = pos;
    g_string_truncate(wk->buf, 0);
    if (wk->log >= 0) {
        /* The worker is idle: nothing it prints can race this. */
        if (ftruncate(wk->log, 0) != 0 || lseek(wk->log, 0, SEEK_SET) != 0)
            g_warning("fuzz: cannot empty a worker's log: %s", g_strerror(errno));
    }
    return write_all(wk->to, &seed, sizeof seed);
}

/* Reads what @wk has written.  Returns 1 when its current result is whole
 * (the JSON text is then in @wk->buf, after the 4-byte length), 0 when more
 * is to come, -1 when the worker is gone. */
static int worker_read(Worker *wk)
{
    char chunk[65536];
    ssize_t n = read(wk->from, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
        return 0;
    if (n <= 0)
        return -1;
    g_string_append_len(wk->buf, chunk, n);
    uint32_t len;
    if (wk->buf->len < sizeof len)
        return 0;
    memcpy(&len, wk->buf->str, sizeof len);
    g_assert(wk->buf->len <= sizeof len + (size_t)len);   /* one seed at a time */
    return wk->buf->len == sizeof len + (size_t)len;
}

/* Turns what a worker wrote for @seed (@len bytes of JSON, none if it died)
 * and how it ended into an outcome. */
/* The last lines @log_fd holds (what a dead worker printed for its seed),
 * on one line, or NULL when it printed nothing. */
static char *last_words(int log_fd)
{
    if (log_fd < 0)
        return NULL;
    off_t end = lseek(log_fd, 0, SEEK_END);
    if (end <= 0)
        return NULL;
    size_t want = end > 600 ? 600 : (size_t)end;
    char *buf = g_malloc0(want + 1);
    ssize_t got = pread(log_fd, buf, want, end - (off_t)want);
    if (got <= 0) {
        g_free(buf);
        return NULL;
    }
    buf[got] = '\0';
    g_strstrip(g_strdelimit(buf, "\n\r\t", ' '));
    return buf;
}

static void finish(uint64_t seed, const char *text, size_t len, int status, const char *said,
                   FlOutcome *o)
{
    memset(o, 0, sizeof *o);
    o->seed = seed;
    json_t *j = len ? json_loadb(text, len, 0, NULL) : NULL;
    if (WIFSIGNALED(status) || !j) {
        int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        o->kind = g_strdup(sig == SIGALRM ? "timeout" : "crash");
        o->detail = sig == SIGALRM ? g_strdup("the run passed its time limit")
                    : sig ? g_strdup_printf("the simulator died of signal %d (%s)", sig, g_strsignal(sig))
                          : g_strdup_printf("the simulator exited with status %d without a result",
                                            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        if (said && *said && sig != SIGALRM) {
            char *d = g_strdup_printf("%s: %s", o->detail, said);
            g_free(o->detail);
            o->detail = d;
        }
        o->failed = true;
        if (j)
            json_decref(j);
        return;
    }
    o->kind = g_strdup(json_string_value(json_object_get(j, "kind")));
    o->detail = g_strdup(json_string_value(json_object_get(j, "detail")));
    const char *h = json_string_value(json_object_get(j, "trace_hash"));
    o->trace_hash = h ? g_ascii_strtoull(h, NULL, 16) : 0;
    o->virtual_s = json_number_value(json_object_get(j, "virtual_s"));
    o->resolved = json_incref(json_object_get(j, "resolved"));
    o->explicit_faults = json_incref(json_object_get(j, "explicit_faults"));
    o->figures = json_incref(json_object_get(j, "figures"));
    o->failed = strcmp(o->kind, "ok") != 0;
    json_decref(j);
}

/* The outcome of the whole result @wk wrote for @seed. */
static void worker_outcome(Worker *wk, uint64_t seed, FlOutcome *o)
{
    finish(seed, wk->buf->str + 4, wk->buf->len - 4, 0, NULL, o);
}

bool fl_fuzz_run_one(json_t *scenario, const char *file, uint64_t seed, double time_limit_s,
                     FlOutcome *o)
{
    Worker wk = { 0 };
    if (!worker_start(&wk, &wk, 1, scenario, file, time_limit_s))
        return false;
    int got = worker_send(&wk, seed, 0) ? 0 : -1;
    while (got == 0)
        got = worker_read(&wk);
    if (got == 1) {
        worker_outcome(&wk, seed, o);
        worker_stop(&wk, false);
    } else {
        g_autofree char *said = last_words(wk.log);
        finish(seed, NULL, 0, worker_stop(&wk, false), said, o);
    }
    return true;
}

static void progress(const FlFuzzOptions *opt, size_t done, size_t total, size_t failures,
                     gint64 t0, bool last)
{
    if (!opt->progress)
        return;
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    double rate = secs > 0 ? (double)done / secs : 0;
    double left = rate > 0 ? (double)(total - done) / rate : 0;
    bool tty = isatty(2);
    fprintf(stderr, "%sfuzz: %zu/%zu seeds, %zu failure%s, %.1f seeds/s, ~%.0fs left%s",
            tty ? "\r\033[K" : "", done, total, failures, failures == 1 ? "" : "s", rate, left,
            tty && !last ? "" : "\n");
    fflush(stderr);
}

FlFuzzReport *fl_fuzz(json_t *scenario, const char *file, const FlFuzzOptions *opt)
{
    FlFuzzReport *r = g_new0(FlFuzzReport, 1);
    r->failures = g_array_new(FALSE, TRUE, sizeof(FlOutcome));
    r->notes = g_ptr_array_new_with_free_func(g_free);
    if (opt->keep_all)
        r->all = g_array_new(FALSE, TRUE, sizeof(FlOutcome));
    g_autoptr(GArray) seeds = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    for (uint64_t s = opt->first; s <= opt->last; s++) {
        if ((s - opt->first) % opt->shards == opt->shard)
            g_array_append_val(seeds, s);
        if (s == UINT64_MAX)
            break;
    }
    size_t total = seeds->len;
    FlOutcome *out = g_new0(FlOutcome, total ? total : 1);
    bool *done = g_new0(bool, total ? total : 1);
    Worker *wks = g_new0(Worker, opt->jobs);
    struct pollfd *pfd = g_new0(struct pollfd, opt->jobs);
    uint32_t *which = g_new0(uint32_t, opt->jobs);
    size_t next = 0, running = 0, completed = 0, failures = 0;
    size_t stop_at = total;   /* without --keep-going: the lowest failing position */
    gint64 t0 = g_get_monotonic_time(), last_report = 0;
    /* A worker that died makes writing its seed pipe fail with EPIPE. */
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);

    for (;;) {
        /* Hand out seeds to idle workers, starting workers as needed. */
        for (uint32_t k = 0; k < opt->jobs && !fl_fuzz_interrupted && next < total && next < stop_at; k++) {
            Worker *wk = &wks[k];
            if (wk->pid && wk->busy)
                continue;
            if (!wk->pid && !worker_start(wk, wks, opt->jobs, scenario, file, opt->time_limit_s)) {
                g_warning("fuzz: cannot start a worker: %s", g_strerror(errno));
                fl_fuzz_interrupted = 1;
                break;
            }
            if (!worker_send(wk, g_array_index(seeds, uint64_t, next), next)) {
                /* Gone before it took the seed: try again with a new one. */
                worker_stop(wk, true);
                k--;
                continue;
            }
            next++;
            running++;
        }
        if (running == 0)
            break;
        nfds_t n = 0;
        for (uint32_t k = 0; k < opt->jobs; k++) {
            if (wks[k].pid && wks[k].busy) {
                pfd[n] = (struct pollfd){ .fd = wks[k].from, .events = POLLIN };
                which[n++] = k;
            }
        }
        int ready = poll(pfd, n, 200);
        if (fl_fuzz_interrupted) {
            /* What the workers were running is not reported: stop them. */
            for (uint32_t k = 0; k < opt->jobs; k++)
                if (wks[k].pid)
                    worker_stop(&wks[k], true);
            running = 0;
            break;
        }
        for (nfds_t i = 0; ready > 0 && i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            Worker *wk = &wks[which[i]];
            int got = worker_read(wk);
            if (got == 0)
                continue;
            size_t pos = wk->pos;
            uint64_t seed = g_array_index(seeds, uint64_t, pos);
            if (got == 1) {
                worker_outcome(wk, seed, &out[pos]);
                wk->busy = false;
            } else {
                g_autofree char *said = last_words(wk->log);
                int status = worker_stop(wk, false);
                finish(seed, NULL, 0, status, said, &out[pos]);
            }
            done[pos] = true;
            completed++;
            running--;
            if (out[pos].failed) {
                failures++;
                if (!opt->keep_going && pos < stop_at)
                    stop_at = pos;
            }
        }
        gint64 now = g_get_monotonic_time();
        if (now - last_report > 200000) {
            progress(opt, completed, total, failures, t0, false);
            last_report = now;
        }
    }
    for (uint32_t k = 0; k < opt->jobs; k++)
        if (wks[k].pid)
            worker_stop(&wks[k], false);
    signal(SIGPIPE, old_pipe);
    progress(opt, completed, total, failures, t0, true);

    /* Collect in seed order, up to the first failure unless --keep-going. */
    for (size_t i = 0; i < total && i <= stop_at; i++) {
        if (!done[i])
            continue;
        if (i < stop_at || opt->keep_going || stop_at == total || i == stop_at) {
            r->ran++;
            r->virtual_s += out[i].virtual_s;
            if (r->all) {
                FlOutcome copy = out[i];
                copy.kind = g_strdup(copy.kind);
                copy.detail = g_strdup(copy.detail);
                copy.resolved = copy.explicit_faults = NULL;
                copy.figures = copy.figures ? json_incref(copy.figures) : NULL;
                g_array_append_val(r->all, copy);
            }
            if (out[i].failed) {
                g_array_append_val(r->failures, out[i]);
                memset(&out[i], 0, sizeof out[i]);
            }
        }
    }
    for (size_t i = 0; i < total; i++)
        fl_outcome_clear(&out[i]);
    g_free(out);
    g_free(done);
    g_free(wks);
    g_free(pfd);
    g_free(which);
    r->interrupted = fl_fuzz_interrupted != 0;
    r->seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
    return r;
}

void fl_fuzz_report_free(FlFuzzReport *r)
{
    if (!r)
        return;
    for (guint i = 0; i < r->failures->len; i++)
        fl_outcome_clear(&g_array_index(r->failures, FlOutcome, i));
    g_array_free(r->failures, TRUE);
    for (guint i = 0; r->all && i < r->all->len; i++)
        fl_outcome_clear(&g_array_index(r->all, FlOutcome, i));
    if (r->all)
        g_array_free(r->all, TRUE);
    g_ptr_array_unref(r->notes);
    g_free(r);
}

/* ---- shrinking ----------------------------------------------------------- */

typedef struct Shrink {
    const char *file;
    uint64_t seed;
    const char *kind;
    double limit;
    uint32_t runs, max_runs;
    FlOutcome best;
} Shrink;

/* Runs @cand; if it fails the same way, it becomes the best and true. */
static bool still_fails(Shrink *s, json_t *cand)
{
    if (s->runs >= s->max_runs || fl_fuzz_interrupted)
        return false;
    s->runs++;
    FlOutcome o;
    if (!fl_fuzz_run_one(cand, s->file, s->seed, s->limit, &o))
        return false;
    bool same = o.failed && strcmp(o.kind, s->kind) == 0;
    if (same) {
        fl_outcome_clear(&s->best);
        s->best = o;
    } else {
        fl_outcome_clear(&o);
    }
    return same;
}

/* ddmin over the array at @key of @sc: removes chunks while the run still
 * fails.  Returns the number of elements removed. */
static size_t ddmin_array(Shrink *s, json_t *sc, const char *key)
{
    json_t *arr = json_object_get(sc, key);
    size_t before = json_array_size(arr);
    size_t n = 2;
    while (json_array_size(arr) >= 1 && s->runs < s->max_runs) {
        size_t len = json_array_size(arr);
        if (n > len)
            n = len;
        bool reduced = false;
        for (size_t c = 0; c < n && !reduced; c++) {
            size_t lo = c * len / n, hi = (c + 1) * len / n;
            json_t *cand_arr = json_array();
            for (size_t i = 0; i < len; i++)
                if (i < lo || i >= hi)
                    json_array_append(cand_arr, json_array_get(arr, i));
            json_t *cand = json_deep_copy(sc);
            json_object_set_new(cand, key, cand_arr);
            if (still_fails(s, cand)) {
                json_object_set(sc, key, json_object_get(cand, key));
                arr = json_object_get(sc, key);
                reduced = true;
                n = n > 2 ? n - 1 : 2;
            }
            json_decref(cand);
        }
        if (!reduced) {
            if (n >= len)
                break;
            n = n * 2 < len ? n * 2 : len;
        }
    }
    return before - json_array_size(arr);
}

static bool get_duration(json_t *obj, const char *key, FlDuration *d)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        *d = json_integer_value(v);
        return true;
    }
    return json_is_string(v) && fl_duration_parse(json_string_value(v), d) == 0;
}

static void set_duration(json_t *obj, const char *key, FlDuration d)
{
    char buf[32];
    json_object_set_new(obj, key, json_string(fl_duration_format(d, buf)));
}

/* Halves the duration at @obj/@key (not below @floor) while the run fails. */
static bool halve_duration(Shrink *s, json_t *sc, json_t *obj, const char *key, FlDuration floor)
{
    bool changed = false;
    FlDuration d;
    while (get_duration(obj, key, &d) && d / 2 >= floor && d / 2 > 0 && s->runs < s->max_runs) {
        FlDuration want = d / 2;
        want -= want % FL_MS(1) < want ? want % FL_MS(1) : 0;   /* round numbers read better */
        set_duration(obj, key, want);
        if (still_fails(s, sc)) {
            changed = true;
            continue;
        }
        set_duration(obj, key, d);
        break;
    }
    return changed;
}

json_t *fl_fuzz_shrink(const FlOutcome *o, const char *file, double time_limit_s,
                       uint32_t max_runs, FlOutcome *shrunk, GString *note)
{
    json_t *sc = json_deep_copy(o->resolved);
    json_object_del(json_object_get(sc, "expect"), "trace_hash");
    Shrink s = { .file = file, .seed = o->seed, .kind = o->kind, .limit = time_limit_s,
                 .max_runs = max_runs };
    s.best.seed = o->seed;
    s.best.failed = true;
    s.best.kind = g_strdup(o->kind);
    s.best.detail = g_strdup(o->detail);
    s.best.trace_hash = o->trace_hash;

    json_t *wl = json_object_get(sc, "workload");
    FlDuration until0 = 0, dur0 = 0, until, dur;
    get_duration(wl, "until", &until0);
    get_duration(sc, "duration", &dur0);
    json_int_t clients0 = json_integer_value(json_object_get(wl, "clients"));

    /* The nemesis drew its faults at run time; as explicit faults they can be
     * shrunk one by one.  Keep that form only if it still fails the same way
     * (a few draws, such as disk damage, happen only when a fault starts). */
    bool made_explicit = false;
    json_t *faults = json_object_get(sc, "faults");
    if (o->explicit_faults && !json_equal(o->explicit_faults, faults)) {
        json_t *cand = json_deep_copy(sc);
        json_object_set(cand, "faults", o->explicit_faults);
        if (still_fails(&s, cand)) {
            json_object_set(sc, "faults", o->explicit_faults);
            made_explicit = true;
        }
        json_decref(cand);
    }
    size_t faults0 = json_array_size(json_object_get(sc, "faults"));

    for (int round = 0; round < 3; round++) {
        bool changed = ddmin_array(&s, sc, "faults") > 0;
        FlDuration start = 0;
        get_duration(wl, "start", &start);
        if (wl && json_object_get(wl, "until"))
            changed |= halve_duration(&s, sc, wl, "until", start + FL_MS(1));
        if (wl && json_integer_value(json_object_get(wl, "clients")) > 1) {
            json_int_t c = json_integer_value(json_object_get(wl, "clients"));
            for (json_int_t want = 1; want < c && s.runs < s.max_runs; want = want * 2) {
                json_object_set_new(wl, "clients", json_integer(want));
                if (still_fails(&s, sc)) {
                    changed = true;
                    break;
                }
                json_object_set_new(wl, "clients", json_integer(c));
            }
        }
        changed |= halve_duration(&s, sc, sc, "duration", FL_MS(1));
        if (!changed)
            break;
    }
    get_duration(wl, "until", &until);
    get_duration(sc, "duration", &dur);
    char a[32], b[32], c[32], d[32];
    if (made_explicit)
        g_string_printf(note, "nemesis made explicit, ");
    g_string_append_printf(note, "faults %zu -> %zu, workload until %s -> %s, clients %" JSON_INTEGER_FORMAT
                    " -> %" JSON_INTEGER_FORMAT ", duration %s -> %s; %u shrink run%s%s",
                    faults0, json_array_size(json_object_get(sc, "faults")),
                    fl_duration_format(until0, a), fl_duration_format(until, b), clients0,
                    json_integer_value(json_object_get(wl, "clients")), fl_duration_format(dur0, c),
                    fl_duration_format(dur, d), s.runs, s.runs == 1 ? "" : "s",
                    fl_fuzz_interrupted ? " (interrupted)" : s.runs >= s.max_runs ? " (budget spent)" : "");
    *shrunk = s.best;
    return sc;
}
