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
 *    between seeds, and a death reports what that seed printed.
 * 5. Guided search: coverage.  With --guided (or --coverage) each worker
 *    summarises its run as a set of abstract features (sim/coverage.c) and
 *    sends them back with the outcome.  The parent keeps their union.  A
 *    run that adds a feature joins the corpus as its explicit scenario: the
 *    scenario as run, with the nemesis replaced by the faults it drew, and
 *    the seed it ran with.  So the corpus holds schedules, not seeds.
 * 6. Guided search: reproducibility.  Seeds are taken in batches of
 *    FL_FUZZ_BATCH (16) in range order.  What the seed at position i runs is
 *    decided from two things only: a random stream seeded by its own seed
 *    ("guided"), and the corpus as it stood after every batch before i's.
 *    A batch is handed out only once all earlier batches have finished, and
 *    finished batches are merged into the union and the corpus in seed
 *    order.  So --jobs 1 and --jobs 8 run the same scenarios and find the
 *    same failures and the same coverage; the price is that workers idle
 *    at the end of a batch while its slowest run finishes.  The batch size
 *    is a constant, never derived from the number of workers.  The first
 *    batch, and any seed whose stream says so (a quarter of them), draws
 *    afresh exactly as plain fuzzing would, so guided search never loses
 *    the diversity of fresh draws.
 * 7. Guided search: mutations.  A mutant takes a corpus entry's schedule
 *    (drawn with more weight for entries that reached rarely reached
 *    features, pick_parent) and
 *    applies 1, 2 or 4 of: shift a fault's start, redraw its duration from
 *    the nemesis's `for` range or halve or double it, retarget it (another node, another
 *    partition order), drop it, add a fault copied from another entry's
 *    schedule at a random time (a fault "drawn as the nemesis would": the
 *    nemesis drew it), nudge a probability, aim it at whoever held a role
 *    (leader, candidate, primary, ...) at its start in the parent's run,
 *    or chase: move its start to just after one of the parent's role
 *    changes or crashes, half the time at that very node.  The last two
 *    use the parent's role changes, which the worker reports with its
 *    coverage (sim/coverage.c note 4); they are what lets a search learn
 *    "crash the node that just became leader" without a selector for it.
 *    It keeps the parent's seed,
 *    so the run is the parent's run up to the first change and the
 *    schedule's node ids still point at the nodes the parent's nemesis
 *    aimed at (who leads depends on the seed); one mutant in five runs with
 *    its own seed instead, which redraws delays, workload and timeouts:
 *    the delivery schedule changes under the same faults.
 * 8. Guided search: no false alarms.  A mutant must keep the nemesis's own
 *    rules (faults/nemesis.c notes 1, 2, 4), or the scenario's expectations
 *    (liveness after `until`, min_ok) would fail because of the schedule,
 *    not the protocol: every fault lies within [from, until], a node is
 *    never taken down twice at once, and a down fault never starts with
 *    max_down nodes down (a torn or corrupt disk counts for `recover`
 *    after its restart).  A mutant that breaks them is mutated again from
 *    the parent, and after a few tries the seed draws afresh.  Only a
 *    scenario with exactly one nemesis is bred; others always draw afresh.
 *    A mutant that fails is written as a plain scenario with explicit
 *    faults and its seed, which `faultline replay` runs without a nemesis. */
#include "sim/fuzz.h"

#include "sim/catalog.h"
#include "sim/coverage.h"
#include "sim/rng.h"
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
    g_free(o->origin);
    if (o->features)
        json_decref(o->features);
    if (o->roles)
        json_decref(o->roles);
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
    /* alerts_judged: whether promtool judged expect.alerts on this run
     * (sim/catalog.h judge_alerts); absent without expect.alerts. */
    json_t *fig = json_pack("{s:O?,s:o,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "verdicts", verdicts,
                     "unmet", unmet, "ok", json_object_get(ops, "ok"), "info",
                     json_object_get(ops, "info"), "p99_ns",
                     json_object_get(json_object_get(m, "latency_ns"), "p99"), "p50_ns",
                     json_object_get(json_object_get(m, "latency_ns"), "p50"), "availability",
                     json_object_get(m, "availability"), "live_judged",
                     json_object_get(json_object_get(m, "liveness"), "judged"), "sla_availability",
                     json_object_get(json_object_get(m, "sla"), "availability"));
    json_t *alerts = json_object_get(m, "alerts");
    if (alerts)
        json_object_set(fig, "alerts_judged", json_object_get(alerts, "judged"));
    return fig;
}

/* One run of @seed, as the JSON text a worker sends back (free with free()). */
static char *run_seed(json_t *scenario, const char *file, uint64_t seed, double limit,
                      bool coverage)
{
    GError *err = NULL;
    json_t *out = json_object();
    FlScenario *sc = fl_scenario_from_json(scenario, file, (int64_t)seed, &err);
    if (!sc) {
        json_object_set_new(out, "kind", json_string("error"));
        json_object_set_new(out, "detail", json_string(err->message));
        g_error_free(err);
    } else {
        FlCoverage *cov = coverage ? fl_coverage_new(sc->nodes) : NULL;
        FlRunOptions opt = { .check = true, .check_timeout_s = limit > 0 ? limit / 2 : 60,
                             .coverage = cov };
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
            /* The scenario as run and the faults as the nemesis actually
             * drew them: what shrinking and the guided corpus work on.  Only
             * a failing run is shrunk and only a guided one breeds, so a
             * passing unguided run does not send them: for a tiny scenario
             * writing and parsing them back was a fifth of the seed's cost
             * (issue 25). */
            if (strcmp(kind, "ok") != 0 || coverage) {
                json_object_set(out, "resolved", sc->resolved);
                json_object_set_new(out, "explicit_faults", fl_catalog()->faults_explicit(sc));
            }
            json_object_set_new(out, "figures", figures_of(&res));
            if (cov) {
                fl_coverage_counters(cov, json_object_get(res.metrics, "counters"));
                json_object_set_new(out, "features", fl_coverage_features(cov));
                json_object_set_new(out, "roles", fl_coverage_roles(cov));
            }
            fl_run_result_clear(&res);
        }
        fl_coverage_free(cov);
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

/* The worker's life: a seed and a scenario frame in (u32 length, then that
 * many bytes of JSON; length 0: the worker's own scenario), a result frame
 * (u32 length, JSON) out, until the parent closes the pipe. */
G_GNUC_NORETURN static void worker_main(json_t *scenario, const char *file, double limit,
                                        bool coverage, int in, int out)
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
    uint32_t sc_len;
    while (read_all(in, &seed, sizeof seed) && read_all(in, &sc_len, sizeof sc_len)) {
        json_t *own = NULL;
        if (sc_len > 0) {
            g_autofree char *sc_text = g_malloc(sc_len);
            if (!read_all(in, sc_text, sc_len))
                _exit(1);
            own = json_loadb(sc_text, sc_len, 0, NULL);
            if (!own)
                _exit(1);
        }
        g_assert_cmpuint(seed, !=, assert_seed);
        if (limit > 0)
            alarm((unsigned)ceil(limit));
        char *text = run_seed(own ? own : scenario, file, seed, limit, coverage);
        alarm(0);
        if (own)
            json_decref(own);
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
                         const char *file, double limit, bool coverage)
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
        worker_main(scenario, file, limit, coverage, in[0], out[1]);
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

/* Gives @wk @seed to run with @text (JSON, borrowed), or with its own
 * scenario when @text is NULL. */
static bool worker_send(Worker *wk, uint64_t seed, const char *text, size_t pos)
{
    wk->busy = true;
    wk->pos = pos;
    g_string_truncate(wk->buf, 0);
    if (wk->log >= 0) {
        /* The worker is idle: nothing it prints can race this.  The offset
         * is shared with the worker (note 4): at 0 it printed nothing since
         * the log was last emptied, and there is nothing to empty (one
         * system call per seed instead of two, for tiny scenarios). */
        off_t at = lseek(wk->log, 0, SEEK_CUR);
        if (at != 0 && (ftruncate(wk->log, 0) != 0 || lseek(wk->log, 0, SEEK_SET) != 0))
            g_warning("fuzz: cannot empty a worker's log: %s", g_strerror(errno));
    }
    uint32_t len = text ? (uint32_t)strlen(text) : 0;
    return write_all(wk->to, &seed, sizeof seed) && write_all(wk->to, &len, sizeof len) &&
           (len == 0 || write_all(wk->to, text, len));
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
    o->slot = seed;
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
    o->features = json_incref(json_object_get(j, "features"));
    o->roles = json_incref(json_object_get(j, "roles"));
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
    if (!worker_start(&wk, &wk, 1, scenario, file, time_limit_s, false))
        return false;
    int got = worker_send(&wk, seed, NULL, 0) ? 0 : -1;
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

/* ---- guided search (notes 5-8) ------------------------------------------- */

/* The rules of the one nemesis a bred schedule must keep (note 8). */
typedef struct NemSpec {
    uint32_t nodes;
    FlDuration from, until, recover;
    FlDuration every_hi, for_lo, for_hi;
    int64_t max_down;
} NemSpec;

/* A corpus entry: a schedule whose run reached new behaviour. */
typedef struct Entry {
    json_t *scenario;   /* the scenario as run, nemesis made explicit (owned) */
    uint64_t seed;      /* what it ran with */
    uint64_t slot;
    size_t lo, count;   /* its bred faults: scenario faults [lo, lo + count) */
    json_t *roles;      /* its run's role changes (fl_coverage_roles), owned */
    GArray *features;   /* of uint64_t: its run's features, ascending */
} Entry;

typedef struct Guide {
    bool active;        /* the scenario has exactly one nemesis */
    bool have_spec;     /* spec read (from the first run that shows the nemesis) */
    NemSpec spec;
    GHashTable *seen;   /* the union of features: uint64_t* -> how many runs reached it */
    GPtrArray *corpus;  /* of Entry* */
    uint64_t merges;    /* batches merged so far */
    GArray *weights;    /* of double: pick_parent's, as of merge weights_for */
    uint64_t weights_for;
} Guide;

static bool dur_of(json_t *v, FlDuration *d)
{
    if (json_is_integer(v)) {
        *d = json_integer_value(v);
        return true;
    }
    return json_is_string(v) && fl_duration_parse(json_string_value(v), d) == 0;
}

/* A duration or a [lo, hi] range. */
static bool range_of(json_t *v, FlDuration *lo, FlDuration *hi)
{
    if (json_is_array(v) && json_array_size(v) == 2)
        return dur_of(json_array_get(v, 0), lo) && dur_of(json_array_get(v, 1), hi);
    if (!dur_of(v, lo))
        return false;
    *hi = *lo;
    return true;
}

/* The nemesis of the scenario file @scenario, if it has exactly one; its
 * index in "faults" in @at. */
static json_t *the_nemesis(json_t *scenario, size_t *at)
{
    json_t *found = NULL, *f;
    size_t i;
    json_array_foreach(json_object_get(scenario, "faults"), i, f) {
        const char *k = json_string_value(json_object_get(f, "kind"));
        if (k && strcmp(k, "nemesis") == 0) {
            if (found)
                return NULL;
            found = f;
            *at = i;
        }
    }
    return found;
}

/* Reads the nemesis's rules from a resolved scenario (defaults filled). */
static bool nem_spec(json_t *resolved, NemSpec *s)
{
    size_t at;
    json_t *n = the_nemesis(resolved, &at);
    json_int_t nodes = json_integer_value(json_object_get(json_object_get(resolved, "cluster"), "nodes"));
    FlDuration every_lo;
    memset(s, 0, sizeof *s);
    if (!n || nodes <= 0 || !dur_of(json_object_get(resolved, "duration"), &s->until))
        return false;
    s->nodes = (uint32_t)nodes;
    s->max_down = json_is_integer(json_object_get(n, "max_down"))
                      ? json_integer_value(json_object_get(n, "max_down")) : (nodes - 1) / 2;
    s->recover = FL_SEC(1);
    if (json_object_get(n, "from") && !dur_of(json_object_get(n, "from"), &s->from))
        return false;
    if (json_object_get(n, "until") && !dur_of(json_object_get(n, "until"), &s->until))
        return false;
    if (json_object_get(n, "recover") && !dur_of(json_object_get(n, "recover"), &s->recover))
        return false;
    return range_of(json_object_get(n, "every"), &every_lo, &s->every_hi) &&
           range_of(json_object_get(n, "for"), &s->for_lo, &s->for_hi) && s->until > s->from;
}

static const char *fault_kind(json_t *f)
{
    const char *k = json_string_value(json_object_get(f, "kind"));
    return k ? k : "";
}

/* The field that holds a fault's length: crashes and disk faults restart. */
static const char *dur_field(json_t *f)
{
    const char *k = fault_kind(f);
    return strcmp(k, "crash") == 0 || strcmp(k, "disk") == 0 ? "restart_after" : "for";
}

static bool is_down(json_t *f)
{
    const char *k = fault_kind(f);
    return strcmp(k, "crash") == 0 || strcmp(k, "pause") == 0 || strcmp(k, "disk") == 0;
}

static FlDuration ms_round(FlDuration d)
{
    return d / FL_MS(1) * FL_MS(1);
}

static void put_dur(json_t *f, const char *key, FlDuration d)
{
    char buf[32];
    json_object_set_new(f, key, json_string(fl_duration_format(d, buf)));
}

static FlDuration at_of(json_t *f)
{
    FlDuration at = 0;
    dur_of(json_object_get(f, "at"), &at);
    return at;
}

static int cmp_at(const void *a, const void *b)
{
    FlDuration x = at_of(*(json_t *const *)a), y = at_of(*(json_t *const *)b);
    return x < y ? -1 : x > y;
}

/* Sorts @faults by start, ties in their present order (a stable sort). */
static void sort_by_at(json_t *faults)
{
    size_t n = json_array_size(faults);
    if (n < 2)
        return;
    g_autofree json_t **v = g_new(json_t *, n);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(faults, i));
    /* Insertion sort: stable, and schedules are short. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_at(&v[j - 1], &v[j]) > 0; j--) {
            json_t *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    json_array_clear(faults);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(faults, v[i]);
}

/* Whether bred @faults keep the nemesis's rules (note 8). */
static bool keeps_rules(const NemSpec *s, json_t *faults)
{
    g_autofree FlTime *busy = g_new0(FlTime, s->nodes);
    size_t i;
    json_t *f;
    json_array_foreach(faults, i, f) {
        FlDuration at, d;
        if (!dur_of(json_object_get(f, "at"), &at) || !dur_of(json_object_get(f, dur_field(f)), &d))
            return false;
        if (d <= 0 || at < s->from || at + d > s->until)
            return false;
        if (!is_down(f))
            continue;
        json_int_t node = json_integer_value(json_object_get(f, "node"));
        if (node < 0 || node >= s->nodes)
            return false;
        int64_t down = 0;
        for (uint32_t k = 0; k < s->nodes; k++)
            down += busy[k] != 0 && busy[k] >= (FlTime)at;
        if ((busy[node] != 0 && busy[node] >= (FlTime)at) || down >= s->max_down)
            return false;
        busy[node] = (FlTime)(at + d);
        const char *mode = json_string_value(json_object_get(f, "mode"));
        if (strcmp(fault_kind(f), "disk") == 0 && mode && strcmp(mode, "lose-unsynced") != 0)
            busy[node] += (FlTime)s->recover;
    }
    return true;
}

static FlDuration uniform_ms(FlRng *rng, FlDuration lo, FlDuration hi)
{
    if (hi <= lo)
        return lo;
    return lo + ms_round((FlDuration)fl_rng_below(rng, (uint64_t)(hi - lo) + 1));
}

/* The field of @f that names one node, or NULL. */
static const char *node_key(json_t *f)
{
    return json_object_get(f, "node") ? "node"
           : json_object_get(f, "isolate") ? "isolate"
           : strcmp(fault_kind(f), "delay") == 0 ? "from" : NULL;
}

/* Aims @f (which names one node) at a node that held a role at @f's start
 * in the parent's run (note 7): a role drawn from those held then, and
 * one of its holders.  False if no node held a role then. */
static bool aim(const Guide *g, FlRng *rng, const Entry *e, json_t *f)
{
    const char *key = node_key(f);
    if (!key)
        return false;
    FlDuration at = at_of(f);
    g_autofree const char **role = g_new0(const char *, g->spec.nodes);
    size_t i;
    json_t *ev;
    json_array_foreach(e->roles, i, ev) {
        json_int_t t = json_integer_value(json_array_get(ev, 0));
        json_int_t node = json_integer_value(json_array_get(ev, 1));
        if (t > at)
            break;
        if (node >= 0 && node < g->spec.nodes)
            role[node] = json_string_value(json_array_get(ev, 2));
    }
    /* Roles in the order their first holder's id comes: deterministic. */
    g_autoptr(GPtrArray) distinct = g_ptr_array_new();
    for (uint32_t k = 0; k < g->spec.nodes; k++) {
        bool seen = !role[k] || !*role[k];
        for (guint d = 0; d < distinct->len && !seen; d++)
            seen = strcmp(g_ptr_array_index(distinct, d), role[k]) == 0;
        if (!seen)
            g_ptr_array_add(distinct, (gpointer)role[k]);
    }
    if (distinct->len == 0)
        return false;
    const char *want = g_ptr_array_index(distinct, fl_rng_below(rng, distinct->len));
    uint32_t holders = 0, pick;
    for (uint32_t k = 0; k < g->spec.nodes; k++)
        holders += role[k] && strcmp(role[k], want) == 0;
    pick = (uint32_t)fl_rng_below(rng, holders);
    for (uint32_t k = 0; k < g->spec.nodes; k++)
        if (role[k] && strcmp(role[k], want) == 0 && pick-- == 0)
            json_object_set_new(f, key, json_integer(k));
    return true;
}

/* Moves @f's start to just after a role change (or crash) of the parent's
 * run, and half the time aims it at that node (note 7).  False if the
 * parent's run changed no role within the nemesis's window. */
static bool chase(const Guide *g, FlRng *rng, const Entry *e, json_t *f)
{
    const NemSpec *s = &g->spec;
    size_t lo = 0, hi = 0, i;
    json_t *ev;
    json_array_foreach(e->roles, i, ev) {
        json_int_t t = json_integer_value(json_array_get(ev, 0));
        if (t < s->from)
            lo = i + 1;
        if (t < s->until)
            hi = i + 1;
    }
    if (hi <= lo)
        return false;
    ev = json_array_get(e->roles, lo + fl_rng_below(rng, hi - lo));
    FlDuration t = json_integer_value(json_array_get(ev, 0));
    put_dur(f, "at", ms_round(t + FL_MS(1) - 1) + uniform_ms(rng, 0, s->for_lo));
    const char *key = node_key(f);
    if (key && fl_rng_chance(rng, 0.5))
        json_object_set(f, key, json_array_get(ev, 1));
    return true;
}

/* One mutation of @faults, bred from @e (note 7); appends its name to
 * @what. */
static void mutate_once(Guide *g, FlRng *rng, const Entry *e, json_t *faults, GString *what)
{
    const NemSpec *s = &g->spec;
    size_t n = json_array_size(faults);
    uint64_t op = fl_rng_below(rng, 8);
    if (n == 0)
        op = 4;
    json_t *f = n ? json_array_get(faults, fl_rng_below(rng, n)) : NULL;
    if (op == 6) {
        if (aim(g, rng, e, f)) {
            g_string_append(what, "aim ");
            return;
        }
        op = 2;
    }
    if (op == 7) {
        if (chase(g, rng, e, f)) {
            g_string_append(what, "chase ");
            return;
        }
        op = 0;
    }
    if (op == 2 && !json_object_get(f, "node") && !json_object_get(f, "isolate") &&
        !json_object_get(f, "order") && !(strcmp(fault_kind(f), "delay") == 0))
        op = 0;
    if (op == 5 && !json_is_number(json_object_get(f, "p")))
        op = 1;
    switch (op) {
    case 0: {   /* shift */
        FlDuration at = at_of(f), span = s->every_hi > 0 ? s->every_hi : FL_SEC(1);
        FlDuration to = at - span + uniform_ms(rng, 0, 2 * span);
        put_dur(f, "at", MAX(to, s->from));
        g_string_append(what, "shift ");
        break;
    }
    case 1: {   /* duration: as the nemesis draws it, or halved or doubled */
        FlDuration d = 0;
        dur_of(json_object_get(f, dur_field(f)), &d);
        uint64_t how = fl_rng_below(rng, 3);
        /* Halving goes below the nemesis's range on purpose: a crash that
         * restarts within milliseconds, with replies still in flight, is
         * within the rules (note 8) and a classic source of bugs. */
        d = how == 0 ? uniform_ms(rng, s->for_lo, s->for_hi) : how == 1 ? d / 2 : d * 2;
        put_dur(f, dur_field(f), MAX(ms_round(d), FL_MS(1)));
        g_string_append(what, how == 0 ? "length " : how == 1 ? "shorten " : "lengthen ");
        break;
    }
    case 2: {   /* retarget */
        const char *key = node_key(f);
        if (key) {
            json_int_t old = json_integer_value(json_object_get(f, key));
            json_int_t to = s->nodes > 1 ? (old + 1 + (json_int_t)fl_rng_below(rng, s->nodes - 1)) % s->nodes : 0;
            json_object_set_new(f, key, json_integer(to));
        } else {
            json_t *order = json_object_get(f, "order");
            size_t m = json_array_size(order);
            if (m >= 2) {
                size_t a = fl_rng_below(rng, m), b = fl_rng_below(rng, m);
                json_t *x = json_incref(json_array_get(order, a));
                json_array_set(order, a, json_array_get(order, b));
                json_array_set_new(order, b, x);
            }
        }
        g_string_append(what, "retarget ");
        break;
    }
    case 3:     /* drop */
        json_array_remove(faults, fl_rng_below(rng, n));
        g_string_append(what, "drop ");
        break;
    case 4: {   /* add: a fault the nemesis drew in another entry's run */
        Entry *donor = g_ptr_array_index(g->corpus, fl_rng_below(rng, g->corpus->len));
        json_t *df = json_object_get(donor->scenario, "faults");
        if (donor->count == 0)
            break;
        json_t *c = json_deep_copy(json_array_get(df, donor->lo + fl_rng_below(rng, donor->count)));
        FlDuration d = 0;
        dur_of(json_object_get(c, dur_field(c)), &d);
        put_dur(c, "at", uniform_ms(rng, s->from, s->until - d > s->from ? s->until - d : s->from));
        json_array_append_new(faults, c);
        g_string_append(what, "add ");
        break;
    }
    default: {  /* nudge a probability */
        double p = json_number_value(json_object_get(f, "p"));
        p += ((double)fl_rng_below(rng, 41) - 20) / 100;
        p = p < 0.05 ? 0.05 : p > 1 ? 1 : p;
        json_object_set_new(f, "p", json_real(round(p * 100) / 100));
        g_string_append(what, "nudge ");
        break;
    }
    }
}

/* A corpus entry to breed from, drawn with weight the sum over its
 * features of 1 / (runs that reached it so far): a schedule that reached
 * behaviour few runs reach gets more mutants, as AFL's and libFuzzer's
 * schedulers favour inputs with rare features.  The weights depend only on
 * the corpus and counts as of the last merged batch (note 6). */
static Entry *pick_parent(Guide *g, FlRng *rng)
{
    if (g->weights_for != g->merges) {
        g_array_set_size(g->weights, g->corpus->len);
        for (guint i = 0; i < g->corpus->len; i++) {
            const Entry *e = g_ptr_array_index(g->corpus, i);
            double w = 0;
            for (guint k = 0; k < e->features->len; k++) {
                gpointer hits = g_hash_table_lookup(g->seen, &g_array_index(e->features, uint64_t, k));
                w += 1.0 / (double)MAX(GPOINTER_TO_SIZE(hits), 1);
            }
            g_array_index(g->weights, double, i) = w;
        }
        g->weights_for = g->merges;
    }
    double total = 0;
    for (guint i = 0; i < g->weights->len; i++)
        total += g_array_index(g->weights, double, i);
    double x = fl_rng_double(rng) * total;
    for (guint i = 0; i < g->weights->len; i++) {
        x -= g_array_index(g->weights, double, i);
        if (x < 0)
            return g_ptr_array_index(g->corpus, i);
    }
    return g_ptr_array_index(g->corpus, g->corpus->len - 1);
}

/* What the seed at a position runs: its own draw (scenario NULL) or a
 * mutant (note 6, 7). */
typedef struct Plan {
    uint64_t seed;
    char *text;         /* the mutant as JSON, or NULL */
    char *origin;
} Plan;

static void plan_make(Guide *g, uint64_t slot, Plan *p)
{
    memset(p, 0, sizeof *p);
    p->seed = slot;
    FlRng rng;
    fl_rng_init(&rng, slot, "guided");
    if (!g->active || !g->have_spec || g->corpus->len == 0 || fl_rng_chance(&rng, 0.25)) {
        p->origin = g_strdup("fresh");
        return;
    }
    Entry *e = pick_parent(g, &rng);
    bool reseed = fl_rng_chance(&rng, 0.2);
    for (int attempt = 0; attempt < 8; attempt++) {
        json_t *all = json_object_get(e->scenario, "faults");
        json_t *bred = json_array();
        for (size_t i = 0; i < e->count; i++)
            json_array_append_new(bred, json_deep_copy(json_array_get(all, e->lo + i)));
        g_autoptr(GString) what = g_string_new(NULL);
        for (uint64_t k = 0, ops = 1ULL << fl_rng_below(&rng, 3); k < ops; k++)
            mutate_once(g, &rng, e, bred, what);
        sort_by_at(bred);
        if (!keeps_rules(&g->spec, bred)) {
            json_decref(bred);
            continue;
        }
        json_t *sc = json_deep_copy(e->scenario);
        json_t *faults = json_array();
        for (size_t i = 0; i < e->lo; i++)
            json_array_append(faults, json_array_get(all, i));
        json_array_extend(faults, bred);
        for (size_t i = e->lo + e->count; i < json_array_size(all); i++)
            json_array_append(faults, json_array_get(all, i));
        json_object_set_new(sc, "faults", faults);
        json_decref(bred);
        p->seed = reseed ? slot : e->seed;
        json_object_set_new(sc, "seed", json_integer((json_int_t)p->seed));
        g_string_truncate(what, what->len ? what->len - 1 : 0);
        p->origin = g_strdup_printf("mutant of seed %" G_GUINT64_FORMAT "'s schedule (%s)%s",
                                    e->slot, what->str, reseed ? ", own seed" : "");
        p->text = json_dumps(sc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(sc);
        return;
    }
    p->seed = slot;
    p->origin = g_strdup("fresh (no mutant kept the nemesis's rules)");
}

static void plan_clear(Plan *p)
{
    free(p->text);
    g_free(p->origin);
    memset(p, 0, sizeof *p);
}

static void entry_free(Entry *e)
{
    json_decref(e->scenario);
    if (e->roles)
        json_decref(e->roles);
    g_array_unref(e->features);
    g_free(e);
}

/* Merges @o's features into the union; if it added some and its schedule
 * can be bred, it joins the corpus.  @base is the scenario file's JSON.
 * Returns the number of new features. */
static size_t guide_merge(Guide *g, const FlOutcome *o, json_t *base)
{
    size_t added = 0, i;
    json_t *v;
    g_autoptr(GArray) mine = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    json_array_foreach(o->features, i, v) {
        uint64_t f;
        if (!fl_coverage_parse(json_string_value(v), &f))
            continue;
        g_array_append_val(mine, f);
        gpointer hits;
        if (g_hash_table_lookup_extended(g->seen, &f, NULL, &hits)) {
            g_hash_table_replace(g->seen, g_memdup2(&f, sizeof f), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(hits) + 1));
            continue;
        }
        g_hash_table_insert(g->seen, g_memdup2(&f, sizeof f), GSIZE_TO_POINTER(1));
        added++;
    }
    if (g->active && !g->have_spec && o->resolved && the_nemesis(o->resolved, &(size_t){ 0 })) {
        /* The first fresh run's nemesis, defaults filled in, gives the rules. */
        g->have_spec = true;
        g->active = nem_spec(o->resolved, &g->spec);
    }
    if (added == 0 || !g->active || !g->have_spec || !o->resolved || !o->explicit_faults)
        return added;
    /* Where the bred faults sit: the file's faults around the nemesis stay
     * put, so the same number of them come before and after. */
    size_t at;
    json_t *file_faults = json_object_get(base, "faults");
    if (!the_nemesis(base, &at))
        return added;
    size_t others = json_array_size(file_faults) - 1;
    size_t len = json_array_size(o->explicit_faults);
    if (len < others)
        return added;
    Entry *e = g_new0(Entry, 1);
    e->scenario = json_deep_copy(o->resolved);
    json_object_set(e->scenario, "faults", o->explicit_faults);
    json_object_del(json_object_get(e->scenario, "expect"), "trace_hash");
    e->seed = o->seed;
    e->slot = o->slot;
    e->lo = at;
    e->count = len - others;
    e->roles = o->roles ? json_incref(o->roles) : json_array();
    e->features = g_array_ref(mine);
    g_ptr_array_add(g->corpus, e);
    return added;
}

/* Merges the finished batch of positions [@lo, @hi) into the union and
 * the corpus, in seed order, up to the first failure (@stop_at) (note 6). */
static void merge_batch(Guide *g, FlFuzzReport *r, json_t *base, FlOutcome *out, const Plan *plans,
                        size_t lo, size_t hi, size_t stop_at)
{
    for (size_t i = lo; i < hi && i <= stop_at; i++) {
        if (!out[i].kind)
            continue;   /* never ran (interrupted) */
        if (out[i].features)
            guide_merge(g, &out[i], base);
        r->mutants += plans[i].text != NULL;
        g_clear_pointer(&out[i].features, json_decref);
        g_clear_pointer(&out[i].roles, json_decref);
    }
    g->merges++;
    FlCoveragePoint point = { MIN(hi, stop_at + 1), g_hash_table_size(g->seen) };
    g_array_append_val(r->curve, point);
}

static void progress(const FlFuzzOptions *opt, size_t done, size_t total, size_t failures,
                     gint64 t0, bool last, const Guide *g)
{
    if (!opt->progress)
        return;
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    double rate = secs > 0 ? (double)done / secs : 0;
    double left = rate > 0 ? (double)(total - done) / rate : 0;
    bool tty = isatty(2);
    g_autofree char *cov = g && g->seen ? g_strdup_printf(", coverage %u, corpus %u",
                                                          g_hash_table_size(g->seen), g->corpus->len)
                                        : g_strdup("");
    fprintf(stderr, "%sfuzz: %zu/%zu seeds, %zu failure%s%s, %.1f seeds/s, ~%.0fs left%s",
            tty ? "\r\033[K" : "", done, total, failures, failures == 1 ? "" : "s", cov, rate, left,
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
    /* Coverage and guided search (notes 5-8). */
    bool coverage = opt->coverage || opt->guided;
    Guide guide = { 0 };
    size_t merged = 0;    /* batches merged into the union, in seed order */
    size_t nbatches = (total + FL_FUZZ_BATCH - 1) / FL_FUZZ_BATCH;
    Plan *plans = g_new0(Plan, total ? total : 1);
    if (coverage) {
        guide.seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
        guide.weights = g_array_new(FALSE, FALSE, sizeof(double));
        guide.weights_for = UINT64_MAX;
        guide.corpus = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
        guide.active = opt->guided && the_nemesis(scenario, &(size_t){ 0 }) != NULL;
        r->curve = g_array_new(FALSE, FALSE, sizeof(FlCoveragePoint));
    }
    /* A worker that died makes writing its seed pipe fail with EPIPE. */
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);

    for (;;) {
        /* Merge every finished batch, in order (note 6). */
        while (coverage && merged < nbatches && !fl_fuzz_interrupted) {
            size_t lo = merged * FL_FUZZ_BATCH, hi = MIN(lo + FL_FUZZ_BATCH, total);
            bool whole = true;
            for (size_t i = lo; i < hi && whole; i++)
                whole = done[i] || (i > stop_at && i >= next);
            if (!whole)
                break;
            merge_batch(&guide, r, scenario, out, plans, lo, hi, stop_at);
            merged++;
        }
        /* Hand out seeds to idle workers, starting workers as needed.  A
         * guided batch waits for every batch before it (note 6). */
        for (uint32_t k = 0; k < opt->jobs && !fl_fuzz_interrupted && next < total && next < stop_at &&
                             (!opt->guided || next / FL_FUZZ_BATCH <= merged); k++) {
            Worker *wk = &wks[k];
            if (wk->pid && wk->busy)
                continue;
            if (!wk->pid && !worker_start(wk, wks, opt->jobs, scenario, file, opt->time_limit_s, coverage)) {
                g_warning("fuzz: cannot start a worker: %s", g_strerror(errno));
                fl_fuzz_interrupted = 1;
                break;
            }
            uint64_t slot = g_array_index(seeds, uint64_t, next);
            if (!plans[next].origin) {
                if (opt->guided)
                    plan_make(&guide, slot, &plans[next]);
                else
                    plans[next].seed = slot;
            }
            if (!worker_send(wk, plans[next].seed, plans[next].text, next)) {
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
            uint64_t seed = plans[pos].seed;
            if (got == 1) {
                worker_outcome(wk, seed, &out[pos]);
                wk->busy = false;
            } else {
                g_autofree char *said = last_words(wk->log);
                int status = worker_stop(wk, false);
                finish(seed, NULL, 0, status, said, &out[pos]);
            }
            out[pos].slot = g_array_index(seeds, uint64_t, pos);
            if (plans[pos].origin)
                out[pos].origin = g_strdup(plans[pos].origin);
            if (!out[pos].resolved && plans[pos].text)   /* a mutant that died: keep what it ran */
                out[pos].resolved = json_loads(plans[pos].text, 0, NULL);
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
            progress(opt, completed, total, failures, t0, false, coverage ? &guide : NULL);
            last_report = now;
        }
    }
    for (uint32_t k = 0; k < opt->jobs; k++)
        if (wks[k].pid)
            worker_stop(&wks[k], false);
    signal(SIGPIPE, old_pipe);
    /* What is left: the last batch, up to the first failure. */
    for (; coverage && merged < nbatches; merged++) {
        size_t lo = merged * FL_FUZZ_BATCH, hi = MIN(lo + FL_FUZZ_BATCH, total);
        merge_batch(&guide, r, scenario, out, plans, lo, hi, stop_at);
    }
    progress(opt, completed, total, failures, t0, true, coverage ? &guide : NULL);
    if (coverage) {
        r->coverage = g_hash_table_size(guide.seen);
        r->corpus = guide.corpus->len;
        g_hash_table_unref(guide.seen);
        g_array_unref(guide.weights);
        g_ptr_array_unref(guide.corpus);
    }
    for (size_t i = 0; i < total; i++)
        plan_clear(&plans[i]);
    g_free(plans);

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
                copy.origin = g_strdup(copy.origin);
                copy.features = copy.roles = NULL;
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
    if (r->curve)
        g_array_free(r->curve, TRUE);
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
