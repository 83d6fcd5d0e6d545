/* Design notes.
 * 1. One child process per run.  The child loads the scenario with the seed,
 *    runs and checks it, and writes one JSON object to a pipe; the parent
 *    reads it.  A child that dies before writing crashed; one killed by
 *    SIGALRM (armed from the time limit) ran too long.
 * 2. Results are stored by position in the seed list and read back in that
 *    order.  Without --keep-going the search stops at the lowest failing
 *    seed: runs of higher seeds that finished meanwhile are ignored, so the
 *    answer is the same for any number of workers.
 * 3. Shrinking works on the resolved scenario of the failing run (ranges
 *    drawn, defaults filled, seed fixed), so every candidate is an ordinary,
 *    self-contained scenario file. */
#include "sim/fuzz.h"

#include "faults/nemesis.h"
#include "sim/run.h"
#include "sim/scenario.h"

#include <errno.h>
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

static void child_run(json_t *scenario, const char *file, uint64_t seed, double limit, int fd)
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
            fl_run_result_clear(&res);
        }
        fl_scenario_free(sc);
    }
    char *text = json_dumps(out, JSON_COMPACT);
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    _exit(0);
}

static pid_t spawn(json_t *scenario, const char *file, uint64_t seed, double limit, int *fd)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        signal(SIGINT, SIG_IGN);   /* the parent decides what an interrupt stops */
        if (limit > 0)
            alarm((unsigned)ceil(limit));
        child_run(scenario, file, seed, limit, p[1]);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

/* Turns what a child wrote and how it ended into an outcome. */
static void finish(uint64_t seed, const GString *buf, int status, FlOutcome *o)
{
    memset(o, 0, sizeof *o);
    o->seed = seed;
    json_t *j = buf->len ? json_loadb(buf->str, buf->len, 0, NULL) : NULL;
    if (WIFSIGNALED(status) || !j) {
        int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        o->kind = g_strdup(sig == SIGALRM ? "timeout" : "crash");
        o->detail = sig == SIGALRM ? g_strdup("the run passed its time limit")
                    : sig ? g_strdup_printf("the simulator died of signal %d (%s)", sig, g_strsignal(sig))
                          : g_strdup_printf("the simulator exited with status %d without a result",
                                            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
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
    o->failed = strcmp(o->kind, "ok") != 0;
    json_decref(j);
}

static bool read_some(int fd, GString *buf)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n > 0) {
        g_string_append_len(buf, chunk, n);
        return true;
    }
    return n < 0 && errno == EINTR;
}

bool fl_fuzz_run_one(json_t *scenario, const char *file, uint64_t seed, double time_limit_s,
                     FlOutcome *o)
{
    int fd;
    pid_t pid = spawn(scenario, file, seed, time_limit_s, &fd);
    if (pid < 0)
        return false;
    g_autoptr(GString) buf = g_string_new(NULL);
    while (read_some(fd, buf))
        ;
    close(fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    finish(seed, buf, status, o);
    return true;
}

typedef struct Job {
    pid_t pid;
    int fd;
    size_t pos;
    GString *buf;
} Job;

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
    Job *jobs = g_new0(Job, opt->jobs);
    size_t next = 0, running = 0, completed = 0, failures = 0;
    size_t stop_at = total;   /* without --keep-going: the lowest failing position */
    gint64 t0 = g_get_monotonic_time(), last_report = 0;

    for (;;) {
        while (!fl_fuzz_interrupted && running < opt->jobs && next < total && next < stop_at) {
            Job *j = NULL;
            for (uint32_t k = 0; k < opt->jobs && !j; k++)
                if (jobs[k].pid == 0)
                    j = &jobs[k];
            j->pos = next;
            j->buf = g_string_new(NULL);
            j->pid = spawn(scenario, file, g_array_index(seeds, uint64_t, next), opt->time_limit_s, &j->fd);
            if (j->pid < 0) {
                g_warning("fuzz: cannot start a worker: %s", g_strerror(errno));
                g_string_free(j->buf, TRUE);
                j->pid = 0;
                fl_fuzz_interrupted = 1;
                break;
            }
            next++;
            running++;
        }
        if (running == 0)
            break;
        struct pollfd *pfd = g_new0(struct pollfd, opt->jobs);
        uint32_t *which = g_new0(uint32_t, opt->jobs);
        nfds_t n = 0;
        for (uint32_t k = 0; k < opt->jobs; k++) {
            if (jobs[k].pid) {
                pfd[n].fd = jobs[k].fd;
                pfd[n].events = POLLIN;
                which[n++] = k;
            }
        }
        int ready = poll(pfd, n, 200);
        if (fl_fuzz_interrupted) {
            for (uint32_t k = 0; k < opt->jobs; k++)
                if (jobs[k].pid)
                    kill(jobs[k].pid, SIGKILL);
        }
        for (nfds_t i = 0; ready > 0 && i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            Job *j = &jobs[which[i]];
            if (read_some(j->fd, j->buf))
                continue;
            close(j->fd);
            int status = 0;
            while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
                ;
            if (!fl_fuzz_interrupted || !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
                finish(g_array_index(seeds, uint64_t, j->pos), j->buf, status, &out[j->pos]);
                done[j->pos] = true;
                completed++;
                if (out[j->pos].failed) {
                    failures++;
                    if (!opt->keep_going && j->pos < stop_at)
                        stop_at = j->pos;
                }
            }
            g_string_free(j->buf, TRUE);
            j->pid = 0;
            running--;
        }
        g_free(pfd);
        g_free(which);
        gint64 now = g_get_monotonic_time();
        if (now - last_report > 200000) {
            progress(opt, completed, total, failures, t0, false);
            last_report = now;
        }
    }
    progress(opt, completed, total, failures, t0, true);

    /* Collect in seed order, up to the first failure unless --keep-going. */
    for (size_t i = 0; i < total && i <= stop_at; i++) {
        if (!done[i])
            continue;
        if (i < stop_at || opt->keep_going || stop_at == total || i == stop_at) {
            r->ran++;
            r->virtual_s += out[i].virtual_s;
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
    g_free(jobs);
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
