/* plots/sweep: parameter grids, run in worker processes.
 *
 * 1. Runs are numbered: scenario-major, then grid point (the first
 *    parameter varying fastest), then seed.  Worker w of J takes the runs
 *    whose number is w modulo J and sends one JSON line per run back on its
 *    own pipe; the parent files each line under its number.  Everything
 *    written afterwards reads the results in number order, so J changes
 *    only the wall time.
 * 2. Every grid point is loaded once in the parent before any fork, so a
 *    value the scenario rejects (a negative delay, an unknown field) is a
 *    usage error (exit 2) naming the scenario, the path and the value,
 *    never a failure deep in a worker.
 * 3. Workers are fork()ed from the one thread the simulator has.  They
 *    leave with _exit: the parent's stdio buffers (flushed before the fork)
 *    and exit handlers are the parent's alone.
 * 4. Per grid point: the fraction of runs whose checker said invalid, the
 *    mean availability, and the means over the seeds of each run's p50 and
 *    p99 latency of ok operations.
 * 5. The knee (issue 22): along the first parameter, for each scenario and
 *    each value of the others, the first point whose mean p50 passes
 *    KNEE_FACTOR times the p50 at the parameter's first value (the base).
 *    Swept over `workload.rate` with `resources` on, that is where the
 *    offered load passes capacity and operations start to queue; the p50,
 *    not the p99, so that one slow election does not mark a knee. */
#include "plots/sweep.h"

#include "plots/plot_impl.h"
#include "sim/run.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void fl_sweep_param_free(FlSweepParam *p)
{
    if (!p)
        return;
    g_free(p->path);
    g_free(p->unit);
    if (p->values)
        g_array_unref(p->values);
    g_free(p);
}

static bool parse_int(const char *t, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (!*t || *end || errno)
        return false;
    *out = v;
    return true;
}

static bool parse_real(const char *t, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (!*t || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* A duration with a unit, or a plain 0. */
static bool parse_dur(const char *t, double *out)
{
    FlDuration d;
    double z;
    if (fl_duration_parse(t, &d) == 0) {
        *out = (double)d;
        return true;
    }
    if (parse_real(t, &z) && z == 0) {
        *out = 0;
        return true;
    }
    return false;
}

static bool has_unit(const char *t)
{
    size_t n = strlen(t);
    return n && g_ascii_isalpha(t[n - 1]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void set_unit(FlSweepParam *p)
{
    double top = 0;
    for (guint i = 0; i < p->values->len; i++)
        top = MAX(top, fabs(g_array_index(p->values, double, i)));
    static const struct { const char *unit; double ns; } units[] = {
        { "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 }, { "ns", 1 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
        if (top >= units[i].ns || units[i].ns == 1) {
            p->unit = g_strdup(units[i].unit);
            p->unit_ns = units[i].ns;
            return;
        }
}

static FlSweepParam *bad_param(FlSweepParam *p, GError **err, const char *spec, const char *what)
{
    g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "--param %s: %s", spec, what);
    fl_sweep_param_free(p);
    return NULL;
}

FlSweepParam *fl_sweep_param_parse(const char *spec, GError **err)
{
    FlSweepParam *p = g_new0(FlSweepParam, 1);
    p->values = g_array_new(FALSE, FALSE, sizeof(double));
    p->unit_ns = 1;
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || spec[0] != '/')
        return bad_param(p, err, spec, "expected PATH=A..B[:STEPS] or PATH=V1,V2,... with PATH a "
                                       "JSON pointer such as /network/delay/max");
    p->path = g_strndup(spec, (gsize)(eq - spec));
    const char *range = eq + 1;
    const char *dots = strstr(range, "..");
    if (!dots) {
        /* A list of values. */
        g_auto(GStrv) items = g_strsplit(range, ",", -1);
        bool units = false, ints = true;
        for (int i = 0; items[i]; i++) {
            g_strstrip(items[i]);
            long long iv;
            units |= has_unit(items[i]);
            ints &= parse_int(items[i], &iv);
        }
        for (int i = 0; items[i]; i++) {
            double v;
            if (!(units ? parse_dur(items[i], &v) : parse_real(items[i], &v))) {
                g_autofree char *what = g_strdup_printf(
                    "\"%s\" is not a %s", items[i], units ? "duration with a unit (e.g. 50ms)" : "number");
                return bad_param(p, err, spec, what);
            }
            g_array_append_val(p->values, v);
        }
        if (p->values->len == 0)
            return bad_param(p, err, spec, "no values");
        p->duration = units;
        p->integer = !units && ints;
        g_array_sort(p->values, cmp_double);
    } else {
        g_autofree char *a = g_strndup(range, (gsize)(dots - range));
        g_autofree char *b = g_strdup(dots + 2);
        long long steps = 0;
        char *colon = strrchr(b, ':');
        if (colon) {
            *colon = '\0';
            if (!parse_int(colon + 1, &steps) || steps < 1 || steps > 1000)
                return bad_param(p, err, spec, "STEPS: expected a whole number from 1 to 1000");
        }
        double lo, hi;
        long long ilo, ihi;
        p->duration = has_unit(a) || has_unit(b);
        if (p->duration) {
            if (!parse_dur(a, &lo) || !parse_dur(b, &hi))
                return bad_param(p, err, spec, "expected two durations with units, e.g. 10ms..200ms");
        } else if (parse_int(a, &ilo) && parse_int(b, &ihi)) {
            p->integer = true;
            lo = (double)ilo;
            hi = (double)ihi;
        } else if (!parse_real(a, &lo) || !parse_real(b, &hi)) {
            return bad_param(p, err, spec, "expected two numbers, e.g. 0.01..0.2, or durations, e.g. 10ms..200ms");
        }
        if (hi < lo)
            return bad_param(p, err, spec, "the range runs backwards (A must not exceed B)");
        if (steps == 0)
            steps = p->integer && hi - lo + 1 <= 11 ? (long long)(hi - lo + 1) : 5;
        if (lo == hi)
            steps = 1;
        if (steps == 1 && lo != hi)
            return bad_param(p, err, spec, "STEPS must be at least 2 for a range of several values");
        for (long long i = 0; i < steps; i++) {
            double v = steps == 1 ? lo : lo + (hi - lo) * (double)i / (double)(steps - 1);
            if (p->integer || p->duration)
                v = round(v);
            if (p->values->len && g_array_index(p->values, double, p->values->len - 1) == v)
                continue;
            g_array_append_val(p->values, v);
        }
    }
    if (p->duration) {
        set_unit(p);
    } else {
        p->unit = g_strdup("");
    }
    return p;
}

json_t *fl_sweep_param_json(const FlSweepParam *p, guint i)
{
    double v = g_array_index(p->values, double, i);
    if (p->duration) {
        char buf[32];
        return json_string(fl_duration_format((FlDuration)v, buf));
    }
    if (p->integer)
        return json_integer((json_int_t)v);
    return json_real(v);
}

char *fl_sweep_param_text(const FlSweepParam *p, guint i)
{
    double v = g_array_index(p->values, double, i);
    if (p->duration) {
        char buf[32];
        return g_strdup(fl_duration_format((FlDuration)v, buf));
    }
    if (p->integer)
        return g_strdup_printf("%lld", (long long)v);
    return g_strdup_printf("%g", v);
}

/* RFC 6901: "~1" is "/", "~0" is "~". */
static char *unescape_token(const char *t)
{
    GString *out = g_string_new(NULL);
    for (; *t; t++) {
        if (t[0] == '~' && t[1] == '1') {
            g_string_append_c(out, '/');
            t++;
        } else if (t[0] == '~' && t[1] == '0') {
            g_string_append_c(out, '~');
            t++;
        } else {
            g_string_append_c(out, *t);
        }
    }
    return g_string_free(out, FALSE);
}

static bool array_index(const char *tok, size_t size, size_t *out)
{
    long long v;
    if (!parse_int(tok, &v) || v < 0 || (size_t)v >= size)
        return false;
    *out = (size_t)v;
    return true;
}

bool fl_json_pointer_set(json_t *root, const char *path, json_t *value, GError **err)
{
    if (path[0] != '/') {
        json_decref(value);
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: a JSON pointer starts with /", path);
        return false;
    }
    g_auto(GStrv) raw = g_strsplit(path + 1, "/", -1);
    guint n = g_strv_length(raw);
    json_t *cur = root;
    for (guint i = 0; i < n; i++) {
        g_autofree char *tok = unescape_token(raw[i]);
        bool last = i + 1 == n;
        size_t idx;
        if (json_is_object(cur)) {
            if (last) {
                json_object_set_new(cur, tok, value);
                return true;
            }
            json_t *next = json_object_get(cur, tok);
            if (!next) {
                next = json_object();
                json_object_set_new(cur, tok, next);
            }
            cur = next;
        } else if (json_is_array(cur)) {
            if (!array_index(tok, json_array_size(cur), &idx)) {
                json_decref(value);
                g_set_error(err, FL_ERROR, FL_ERROR_INPUT,
                            "%s: \"%s\" is not an index of an array of %zu", path, tok,
                            json_array_size(cur));
                return false;
            }
            if (last) {
                json_array_set_new(cur, idx, value);
                return true;
            }
            cur = json_array_get(cur, idx);
        } else {
            json_decref(value);
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: \"%s\" is inside a value that is neither "
                        "an object nor an array", path, tok);
            return false;
        }
    }
    json_decref(value);
    g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: the whole scenario cannot be a parameter", path);
    return false;
}

typedef struct Sweep {
    const char *const *files;
    guint nfiles;
    json_t **roots;          /* each file's JSON */
    uint64_t *seeds;         /* each file's seed */
    char **names;            /* each file's scenario name */
    GPtrArray *params;
    guint ncombo, nseeds;
    const FlSweepOptions *opt;
} Sweep;

static guint value_index(const Sweep *sw, guint combo, guint j)
{
    guint div = 1;
    for (guint l = 0; l < j; l++)
        div *= ((FlSweepParam *)g_ptr_array_index(sw->params, l))->values->len;
    FlSweepParam *p = g_ptr_array_index(sw->params, j);
    return combo / div % p->values->len;
}

/* The scenario @s at grid point @combo (transfer full). */
static json_t *build(const Sweep *sw, guint s, guint combo, GError **err)
{
    json_t *root = json_deep_copy(sw->roots[s]);
    for (guint j = 0; j < sw->params->len; j++) {
        FlSweepParam *p = g_ptr_array_index(sw->params, j);
        if (!fl_json_pointer_set(root, p->path, fl_sweep_param_json(p, value_index(sw, combo, j)), err)) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

static char *point_text(const Sweep *sw, guint combo, guint from_param)
{
    GString *out = g_string_new(NULL);
    for (guint j = from_param; j < sw->params->len; j++) {
        FlSweepParam *p = g_ptr_array_index(sw->params, j);
        g_autofree char *v = fl_sweep_param_text(p, value_index(sw, combo, j));
        g_string_append_printf(out, "%s%s=%s", out->len ? " " : "", p->path, v);
    }
    return g_string_free(out, FALSE);
}

/* One run, in a worker: its result line (transfer full). */
static char *run_one(const Sweep *sw, guint index)
{
    guint k = index % sw->nseeds, combo = index / sw->nseeds % sw->ncombo,
          s = index / sw->nseeds / sw->ncombo;
    GError *err = NULL;
    json_t *out = json_pack("{s:I}", "i", (json_int_t)index);
    json_t *root = build(sw, s, combo, &err);
    FlScenario *sc = root ? fl_scenario_from_json(root, sw->files[s], (int64_t)(sw->seeds[s] + k), &err)
                          : NULL;
    if (root)
        json_decref(root);
    FlRunResult res;
    memset(&res, 0, sizeof res);
    FlRunOptions ro = { .check = true, .check_timeout_s = sw->opt->check_timeout_s };
    if (!sc || fl_run(sc, &ro, &res, &err) != 0) {
        json_object_set_new(out, "error", json_string(err ? err->message : "unknown error"));
        g_clear_error(&err);
    } else {
        json_t *m = res.metrics, *ops = json_object_get(m, "ops"), *lat = json_object_get(m, "latency_ns");
        json_object_set_new(out, "seed", json_integer((json_int_t)sc->seed));
        json_object_set_new(out, "verdict", json_string(fl_verdict_name(res.verdict)));
        json_object_set(out, "invoked", json_object_get(ops, "invoked"));
        json_object_set(out, "ok", json_object_get(ops, "ok"));
        json_object_set(out, "fail", json_object_get(ops, "fail"));
        json_object_set(out, "info", json_object_get(ops, "info"));
        json_object_set(out, "availability", json_object_get(m, "availability"));
        json_object_set(out, "p50", json_object_get(lat, "p50"));
        json_object_set(out, "p99", json_object_get(lat, "p99"));
        json_object_set(out, "count", json_object_get(lat, "count"));
        json_object_set_new(out, "met", json_boolean(res.met));
        json_object_set(out, "hash", json_object_get(m, "trace_hash"));
        if (sw->opt->counter) {
            /* A counter the run never created reads as 0. */
            json_t *c = json_object_get(json_object_get(m, "counters"), sw->opt->counter);
            json_object_set_new(out, "counter", json_real(c ? json_number_value(c) : 0));
        }
    }
    fl_run_result_clear(&res);
    if (sc)
        fl_scenario_free(sc);
    char *s_ = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    char *line = g_strdup_printf("%s\n", s_);
    free(s_);
    return line;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Note 3. */
G_GNUC_NORETURN static void worker(const Sweep *sw, guint w, guint jobs, guint total, int fd)
{
    for (guint i = w; i < total; i += jobs) {
        char *line = run_one(sw, i);
        bool ok = write_all(fd, line, strlen(line));
        g_free(line);
        if (!ok)
            _exit(3);
    }
    close(fd);
    _exit(0);
}

/* A line at most every second, and one at the end. */
static void progress(const Sweep *sw, guint done, guint total, gint64 t0, gint64 *last)
{
    if (!sw->opt->progress)
        return;
    gint64 now = g_get_monotonic_time();
    if (done != total && now - *last < G_USEC_PER_SEC)
        return;
    *last = now;
    fprintf(stderr, "faultline sweep: %u/%u runs done (%.1f s)\n", done, total, (double)(now - t0) / 1e6);
}

/* Note 1: runs everything, filling @results (of json_t*, by run number). */
static bool run_all(const Sweep *sw, json_t **results, guint total, GError **err)
{
    guint jobs = MIN(MAX(sw->opt->jobs, 1), total);
    int *fds = g_new(int, jobs);
    pid_t *pids = g_new(pid_t, jobs);
    GString **buf = g_new0(GString *, jobs);
    fflush(stdout);
    fflush(stderr);
    guint started = 0;
    bool ok = true;
    for (guint w = 0; w < jobs; w++) {
        int p[2];
        if (pipe(p) != 0) {
            g_set_error(err, FL_ERROR, FL_ERROR_RUN, "pipe: %s", g_strerror(errno));
            ok = false;
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            g_set_error(err, FL_ERROR, FL_ERROR_RUN, "fork: %s", g_strerror(errno));
            close(p[0]);
            close(p[1]);
            ok = false;
            break;
        }
        if (pid == 0) {
            close(p[0]);
            /* Only this worker's own pipe stays open in it. */
            for (guint v = 0; v < started; v++)
                close(fds[v]);
            worker(sw, w, jobs, total, p[1]);
        }
        close(p[1]);
        fds[w] = p[0];
        pids[w] = pid;
        buf[w] = g_string_new(NULL);
        started++;
    }
    gint64 t0 = g_get_monotonic_time(), last = t0;
    guint done = 0, open = started;
    g_autofree struct pollfd *pfd = g_new0(struct pollfd, started ? started : 1);
    while (open > 0) {
        guint n = 0;
        g_autofree guint *who = g_new(guint, started);
        for (guint w = 0; w < started; w++)
            if (fds[w] >= 0) {
                pfd[n].fd = fds[w];
                pfd[n].events = POLLIN;
                who[n++] = w;
            }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            g_set_error(err, FL_ERROR, FL_ERROR_RUN, "poll: %s", g_strerror(errno));
            ok = false;
            break;
        }
        for (guint k = 0; k < n; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            guint w = who[k];
            char chunk[65536];
            ssize_t r = read(fds[w], chunk, sizeof chunk);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close(fds[w]);
                fds[w] = -1;
                open--;
                continue;
            }
            g_string_append_len(buf[w], chunk, r);
            char *nl;
            while ((nl = memchr(buf[w]->str, '\n', buf[w]->len))) {
                *nl = '\0';
                json_t *line = json_loads(buf[w]->str, 0, NULL);
                json_int_t i = json_integer_value(json_object_get(line, "i"));
                if (line && i >= 0 && (guint)i < total && !results[i]) {
                    results[i] = line;
                    done++;
                    progress(sw, done, total, t0, &last);
                } else if (line) {
                    json_decref(line);
                }
                g_string_erase(buf[w], 0, (gssize)(nl - buf[w]->str) + 1);
            }
        }
    }
    for (guint w = 0; w < started; w++) {
        int status = 0;
        while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
            ;
        if (ok && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            /* Name the first run this worker did not report. */
            guint missing = w;
            while (missing < total && results[missing])
                missing += jobs;
            g_set_error(err, FL_ERROR, FL_ERROR_RUN, "worker %u %s%s (run %u of the grid)", w,
                        WIFSIGNALED(status) ? "was killed by signal " : "failed",
                        WIFSIGNALED(status) ? g_strsignal(WTERMSIG(status)) : "", missing);
            ok = false;
        }
        if (fds[w] >= 0)
            close(fds[w]);
        g_string_free(buf[w], TRUE);
    }
    g_free(fds);
    g_free(pids);
    g_free(buf);
    for (guint i = 0; ok && i < total; i++) {
        if (!results[i]) {
            g_set_error(err, FL_ERROR, FL_ERROR_RUN, "run %u of the grid sent no result", i);
            ok = false;
        } else if (json_object_get(results[i], "error")) {
            g_set_error(err, FL_ERROR, FL_ERROR_RUN, "run %u of the grid failed: %s", i,
                        json_string_value(json_object_get(results[i], "error")));
            ok = false;
        }
    }
    return ok;
}

typedef struct Point {
    guint runs, invalid, unknown, met;
    double availability, p50_ms, p99_ms;
    double counter;          /* mean of FlSweepOptions.counter */
} Point;

/* Note 4. */
static Point aggregate(const Sweep *sw, json_t **results, guint s, guint combo)
{
    Point pt = { 0 };
    for (guint k = 0; k < sw->nseeds; k++) {
        json_t *r = results[((size_t)s * sw->ncombo + combo) * sw->nseeds + k];
        const char *v = json_string_value(json_object_get(r, "verdict"));
        pt.runs++;
        pt.invalid += v && strcmp(v, "invalid") == 0;
        pt.unknown += !v || strcmp(v, "unknown") == 0;
        pt.met += json_is_true(json_object_get(r, "met"));
        pt.availability += json_number_value(json_object_get(r, "availability"));
        pt.p50_ms += (double)json_integer_value(json_object_get(r, "p50")) / 1e6;
        pt.p99_ms += (double)json_integer_value(json_object_get(r, "p99")) / 1e6;
        pt.counter += json_number_value(json_object_get(r, "counter"));
    }
    pt.counter /= pt.runs;
    pt.availability /= pt.runs;
    pt.p50_ms /= pt.runs;
    pt.p99_ms /= pt.runs;
    return pt;
}

static bool write_tsv(const Sweep *sw, json_t **results, guint total, GError **err)
{
    g_autoptr(GString) t = g_string_new("scenario");
    for (guint j = 0; j < sw->params->len; j++)
        g_string_append_printf(t, "\t%s", ((FlSweepParam *)g_ptr_array_index(sw->params, j))->path);
    g_string_append(t, "\tseed\tverdict\tinvoked\tok\tfail\tinfo\tavailability\tp50_ms\tp99_ms\tmet\ttrace_hash");
    if (sw->opt->counter)
        g_string_append_printf(t, "\t%s", sw->opt->counter);
    g_string_append_c(t, '\n');
    for (guint i = 0; i < total; i++) {
        json_t *r = results[i];
        guint combo = i / sw->nseeds % sw->ncombo, s = i / sw->nseeds / sw->ncombo;
        g_string_append(t, sw->names[s]);
        for (guint j = 0; j < sw->params->len; j++) {
            g_autofree char *v = fl_sweep_param_text(g_ptr_array_index(sw->params, j),
                                                     value_index(sw, combo, j));
            g_string_append_printf(t, "\t%s", v);
        }
        g_string_append_printf(t, "\t%" JSON_INTEGER_FORMAT "\t%s\t%" JSON_INTEGER_FORMAT "\t%"
                               JSON_INTEGER_FORMAT "\t%" JSON_INTEGER_FORMAT "\t%" JSON_INTEGER_FORMAT
                               "\t%.6f\t%.6f\t%.6f\t%s\t%s",
                               json_integer_value(json_object_get(r, "seed")),
                               json_string_value(json_object_get(r, "verdict")),
                               json_integer_value(json_object_get(r, "invoked")),
                               json_integer_value(json_object_get(r, "ok")),
                               json_integer_value(json_object_get(r, "fail")),
                               json_integer_value(json_object_get(r, "info")),
                               json_number_value(json_object_get(r, "availability")),
                               (double)json_integer_value(json_object_get(r, "p50")) / 1e6,
                               (double)json_integer_value(json_object_get(r, "p99")) / 1e6,
                               json_is_true(json_object_get(r, "met")) ? "yes" : "no",
                               json_string_value(json_object_get(r, "hash")));
        if (sw->opt->counter)
            g_string_append_printf(t, "\t%.9g", json_number_value(json_object_get(r, "counter")));
        g_string_append_c(t, '\n');
    }
    g_autofree char *path = g_build_filename(sw->opt->out_dir, "sweep.tsv", NULL);
    return g_file_set_contents(path, t->str, (gssize)t->len, err);
}

static void print_table(const Sweep *sw, json_t **results, FILE *out)
{
    int wn = 8, wp = 5;
    for (guint s = 0; s < sw->nfiles; s++)
        wn = MAX(wn, (int)strlen(sw->names[s]));
    for (guint c = 0; c < sw->ncombo; c++) {
        g_autofree char *point = point_text(sw, c, 0);
        wp = MAX(wp, (int)strlen(point));
    }
    fprintf(out, "%-*s  %-*s %5s %8s %8s %12s %10s %10s", wn, "scenario", wp, "point", "runs", "invalid",
            "unknown", "availability", "p50", "p99");
    if (sw->opt->counter)
        fprintf(out, "  %s", sw->opt->counter);
    fputc('\n', out);
    for (guint s = 0; s < sw->nfiles; s++)
        for (guint c = 0; c < sw->ncombo; c++) {
            Point pt = aggregate(sw, results, s, c);
            g_autofree char *point = point_text(sw, c, 0);
            char a[32], b[32];
            fprintf(out, "%-*s  %-*s %5u %8u %8u %11.2f%% %10s %10s", wn, sw->names[s], wp, point, pt.runs,
                    pt.invalid, pt.unknown, 100 * pt.availability,
                    fl_plot_duration((FlTime)(pt.p50_ms * 1e6), a),
                    fl_plot_duration((FlTime)(pt.p99_ms * 1e6), b));
            if (sw->opt->counter)
                fprintf(out, "  %.6g", pt.counter);
            fputc('\n', out);
        }
}

/* Note 5. */
#define KNEE_FACTOR 2.0

static void print_knees(const Sweep *sw, json_t **results, FILE *out)
{
    FlSweepParam *x = g_ptr_array_index(sw->params, 0);
    guint nx = x->values->len;
    if (nx < 2)
        return;
    for (guint s = 0; s < sw->nfiles; s++)
        for (guint g = 0; g < sw->ncombo / nx; g++) {
            Point base = aggregate(sw, results, s, g * nx);
            g_autofree char *rest = point_text(sw, g * nx, 1);
            g_autofree char *v0 = fl_sweep_param_text(x, 0);
            char a[32], b[32];
            fprintf(out, "knee      %s%s%s: ", sw->names[s], rest[0] ? " " : "", rest);
            guint k = 1;
            Point pt = { 0 };
            for (; k < nx; k++) {
                pt = aggregate(sw, results, s, g * nx + k);
                if (pt.p50_ms > KNEE_FACTOR * base.p50_ms)
                    break;
            }
            if (k == nx) {
                fprintf(out, "none: p50 stays within %gx of its base %s (%s=%s)\n", KNEE_FACTOR,
                        fl_plot_duration((FlTime)(base.p50_ms * 1e6), a), x->path, v0);
                continue;
            }
            g_autofree char *vk = fl_sweep_param_text(x, k);
            g_autofree char *vprev = fl_sweep_param_text(x, k - 1);
            fprintf(out, "%s=%s, p50 %s = %.1fx the base %s (%s=%s); last point below: %s=%s\n",
                    x->path, vk, fl_plot_duration((FlTime)(pt.p50_ms * 1e6), a),
                    base.p50_ms > 0 ? pt.p50_ms / base.p50_ms : INFINITY,
                    fl_plot_duration((FlTime)(base.p50_ms * 1e6), b), x->path, v0, x->path, vprev);
        }
}

static FlPlotOutput *draw(const Sweep *sw, json_t **results, GError **err)
{
    FlPlotOptions po = sw->opt->plot;
    po.out_dir = sw->opt->out_dir;
    FlSweepParam *x = g_ptr_array_index(sw->params, 0);
    guint nx = x->values->len, nlines = sw->ncombo / nx;
    g_autoptr(FlScript) s = fl_script_new("sweep", &po, 1000, 1100, "a sweep");
    g_autofree char *xlabel = x->unit[0] ? g_strdup_printf("%s (%s)", x->path, x->unit) : g_strdup(x->path);
    GString *t = g_string_new(NULL);
    int npanels = sw->opt->counter ? 4 : 3;
    g_string_append_printf(t, "set multiplot layout %d,1 title ", npanels);
    g_autofree char *head = g_strdup_printf("Sweep of %s: %u seed%s per point", x->path, sw->nseeds,
                                            sw->nseeds == 1 ? "" : "s");
    fl_gp_quote(t, head);
    g_string_append(t, " font \",13\"");
    fl_script_set(s, "%s", t->str);
    g_string_free(t, TRUE);
    GString *xl = g_string_new("set xlabel ");
    fl_gp_quote(xl, xlabel);
    fl_script_set(s, "%s", xl->str);
    g_string_free(xl, TRUE);
    double lo = g_array_index(x->values, double, 0) / x->unit_ns,
           hi = g_array_index(x->values, double, nx - 1) / x->unit_ns;
    double pad = hi > lo ? (hi - lo) * 0.03 : (lo != 0 ? fabs(lo) * 0.1 : 1);
    fl_script_set(s, "set xrange [%.9g:%.9g]", lo - pad, hi + pad);
    /* Room on the right for the longest line name. */
    guint longest = 0;
    for (guint sc = 0; sc < sw->nfiles; sc++)
        for (guint l = 0; l < nlines; l++) {
            g_autofree char *rest = point_text(sw, l * nx, 1);
            longest = MAX(longest, (guint)(strlen(rest) + (sw->nfiles > 1 || !rest[0] ? strlen(sw->names[sc]) + 1 : 0)));
        }
    fl_script_set(s, "set key outside right top vertical Left reverse samplen 3");
    fl_script_set(s, "set lmargin 12");
    fl_script_set(s, "set rmargin %u", MIN(longest + 14, 60));
    static const char *const panels[] = { "runs whose check failed (%)", "availability (%)",
                                          "latency of ok operations (ms)", NULL };
    g_autofree char *counter_title = sw->opt->counter ? g_strdup_printf("%s (mean per point)", sw->opt->counter)
                                                      : NULL;
    for (int panel = 0; panel < npanels; panel++) {
        fl_script_title(s, panel == 3 ? counter_title : panels[panel]);
        if (panel == 0)
            fl_script_set(s, "set yrange [-2:102]");
        else if (panel == 1)
            fl_script_set(s, "set yrange [*:100.5]");
        else {
            /* Latency, and a counter (messages against n: a log scale shows
             * n^2 and n log n apart). */
            fl_script_set(s, "set yrange [*:*]");
            fl_script_set(s, "set logscale y");
            fl_script_set(s, "set format y \"%%g\"");
        }
        guint line = 0;
        for (guint sc = 0; sc < sw->nfiles; sc++)
            for (guint l = 0; l < nlines; l++, line++) {
                g_autofree char *rest = point_text(sw, l * nx, 1);
                g_autofree char *name = sw->nfiles > 1 && rest[0] ? g_strdup_printf("%s %s", sw->names[sc], rest)
                                      : rest[0] ? g_strdup(rest) : g_strdup(sw->names[sc]);
                const char *color = fl_line_color(line);
                int pt = fl_point_type(line);
                for (int pass = 0; pass < (panel == 2 ? 2 : 1); pass++) {
                    g_autofree char *style = g_strdup_printf("with linespoints pt %d ps 0.9 lw 2 dt %d lc rgb \"%s\"",
                                                             pt, pass ? 2 : 1, color);
                    g_autofree char *title = panel == 2 ? g_strdup_printf("%s %s", name, pass ? "p50" : "p99")
                                                        : g_strdup(name);
                    FlSeries *se = fl_script_series(s, "1:2", style, title);
                    for (guint i = 0; i < nx; i++) {
                        Point p = aggregate(sw, results, sc, l * nx + i);
                        double v = panel == 0 ? 100.0 * p.invalid / p.runs
                                 : panel == 1 ? 100.0 * p.availability
                                 : panel == 3 ? p.counter
                                 : pass ? p.p50_ms : p.p99_ms;
                        /* A point with no ok operation has no latency (and
                         * a log scale no zero). */
                        if (panel >= 2 && v <= 0)
                            continue;
                        fl_series_row(se, "%.9g %.9g", g_array_index(x->values, double, i) / x->unit_ns, v);
                    }
                }
            }
        fl_script_panel(s);
        if (panel == npanels - 1)
            break;
    }
    fl_script_set(s, "unset multiplot");
    return fl_script_finish(s, FL_PLOT_COUNT, err);
}

int fl_sweep_run(const char *const *files, guint nfiles, GPtrArray *params,
                 const FlSweepOptions *opt, FILE *out, GError **err)
{
    g_assert(nfiles > 0 && params->len > 0 && opt->seeds > 0);
    Sweep sw = { .files = files, .nfiles = nfiles, .params = params, .nseeds = opt->seeds, .opt = opt };
    sw.roots = g_new0(json_t *, nfiles);
    sw.seeds = g_new0(uint64_t, nfiles);
    sw.names = g_new0(char *, nfiles + 1);
    sw.ncombo = 1;
    for (guint j = 0; j < params->len; j++)
        sw.ncombo *= ((FlSweepParam *)g_ptr_array_index(params, j))->values->len;
    guint total = nfiles * sw.ncombo * sw.nseeds;
    json_t **results = NULL;
    int rc = -1;
    if ((guint64)nfiles * sw.ncombo * sw.nseeds > 1000000) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%u scenarios x %u points x %u seeds is more than "
                    "a million runs", nfiles, sw.ncombo, sw.nseeds);
        goto done;
    }
    /* Note 2: load every point before any run. */
    for (guint s = 0; s < nfiles; s++) {
        json_error_t je;
        sw.roots[s] = json_load_file(files[s], 0, &je);
        if (!sw.roots[s]) {
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s:%d:%d: %s", files[s], je.line, je.column, je.text);
            goto done;
        }
        for (guint c = 0; c < sw.ncombo; c++) {
            GError *e = NULL;
            json_t *root = build(&sw, s, c, &e);
            FlScenario *sc = root ? fl_scenario_from_json(root, files[s], -1, &e) : NULL;
            if (root)
                json_decref(root);
            if (!sc) {
                g_autofree char *point = point_text(&sw, c, 0);
                g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "with %s: %s", point, e->message);
                g_error_free(e);
                goto done;
            }
            if (c == 0) {
                sw.seeds[s] = sc->seed;
                sw.names[s] = g_strdup(sc->name);
            }
            fl_scenario_free(sc);
        }
    }
    if (g_mkdir_with_parents(opt->out_dir, 0755) != 0) {
        g_set_error(err, FL_ERROR, FL_ERROR_RUN, "%s: cannot create the folder: %s", opt->out_dir,
                    g_strerror(errno));
        goto done;
    }
    if (opt->progress)
        fprintf(stderr, "faultline sweep: %u run%s (%u scenario%s x %u point%s x %u seed%s) on %u worker%s\n",
                total, total == 1 ? "" : "s", nfiles, nfiles == 1 ? "" : "s", sw.ncombo,
                sw.ncombo == 1 ? "" : "s", sw.nseeds, sw.nseeds == 1 ? "" : "s", MIN(opt->jobs, total),
                MIN(opt->jobs, total) == 1 ? "" : "s");
    results = g_new0(json_t *, total);
    if (!run_all(&sw, results, total, err) || !write_tsv(&sw, results, total, err))
        goto done;
    FlPlotOutput *o = draw(&sw, results, err);
    if (!o)
        goto done;
    print_table(&sw, results, out);
    print_knees(&sw, results, out);
    fprintf(out, "  files     %s/sweep.tsv, %s\n", opt->out_dir, o->image ? o->image : o->script);
    fl_plot_output_free(o);
    rc = 0;
done:
    for (guint s = 0; s < nfiles; s++) {
        if (sw.roots[s])
            json_decref(sw.roots[s]);
        g_free(sw.names[s]);
    }
    for (guint i = 0; results && i < total; i++)
        if (results[i])
            json_decref(results[i]);
    g_free(results);
    g_free(sw.roots);
    g_free(sw.seeds);
    g_free(sw.names);
    return rc;
}
