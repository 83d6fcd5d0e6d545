/* faultline fuzz SCENARIO [--seeds N | --seed-range A..B] [--jobs J] [--shard I/N]
 *                [--time-limit S] [--out DIR] [--keep-going] [--json] [--guided | --coverage]
 * faultline fuzz --merge RESULT.json... */
#include "sim/cli/cli.h"
#include "sim/fuzz.h"
#include "sim/scenario.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void on_sigint(int sig)
{
    fl_fuzz_interrupted = 1;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end = NULL;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    *v = g_ascii_strtoull(s, &end, 10);
    return errno == 0 && end && *end == '\0';
}

static json_t *failure_json(const FlOutcome *o, const char *file, const char *note)
{
    char hash[24];
    g_snprintf(hash, sizeof hash, "%016" PRIx64, o->trace_hash);
    /* "seed" is the seed of the range whose turn found it, so that "seed k
     * is the k-th run" holds for guided runs too (readers count seeds to
     * the first failure by it); a guided mutant may have run with its
     * parent's seed, given as "run_seed" (the failure file holds it). */
    json_t *f = json_pack("{s:I,s:s,s:s,s:s}", "seed", (json_int_t)o->slot, "kind", o->kind,
                          "detail", o->detail ? o->detail : "", "trace_hash", hash);
    if (o->seed != o->slot)
        json_object_set_new(f, "run_seed", json_integer((json_int_t)o->seed));
    if (file)
        json_object_set_new(f, "file", json_string(file));
    if (note)
        json_object_set_new(f, "shrunk", json_string(note));
    if (o->origin)   /* guided: how its scenario came about */
        json_object_set_new(f, "origin", json_string(o->origin));
    return f;
}

static void print_summary(json_t *sum, FILE *out)
{
    json_t *fails = json_object_get(sum, "failures");
    json_t *kinds = json_object_get(sum, "kinds");
    fprintf(out, "fuzz %s: %" JSON_INTEGER_FORMAT " seeds run, %zu failure%s%s\n",
            json_string_value(json_object_get(sum, "scenario")),
            json_integer_value(json_object_get(sum, "ran")), json_array_size(fails),
            json_array_size(fails) == 1 ? "" : "s",
            json_is_true(json_object_get(sum, "interrupted")) ? " (interrupted)" : "");
    if (json_object_size(kinds)) {
        fprintf(out, "  kinds    ");
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach(kinds, k, v) {
            fprintf(out, "%s%s x%" JSON_INTEGER_FORMAT, first ? "" : ", ", k, json_integer_value(v));
            first = false;
        }
        fprintf(out, " (%zu distinct)\n", json_object_size(kinds));
    }
    size_t i;
    json_t *f;
    json_array_foreach(fails, i, f) {
        if (i >= 20) {
            fprintf(out, "  ... and %zu more\n", json_array_size(fails) - 20);
            break;
        }
        fprintf(out, "  seed %-8" JSON_INTEGER_FORMAT " %-12s %s\n", json_integer_value(json_object_get(f, "seed")),
                json_string_value(json_object_get(f, "kind")), json_string_value(json_object_get(f, "detail")));
        const char *origin = json_string_value(json_object_get(f, "origin"));
        if (origin && strcmp(origin, "fresh") != 0) {
            fprintf(out, "           guided: %s", origin);
            if (json_object_get(f, "run_seed"))
                fprintf(out, "; runs with seed %" JSON_INTEGER_FORMAT,
                        json_integer_value(json_object_get(f, "run_seed")));
            fprintf(out, "\n");
        }
        if (json_object_get(f, "file"))
            fprintf(out, "           -> %s\n", json_string_value(json_object_get(f, "file")));
        if (json_object_get(f, "shrunk"))
            fprintf(out, "              shrunk: %s\n", json_string_value(json_object_get(f, "shrunk")));
    }
    json_t *cov = json_object_get(sum, "coverage");
    if (cov) {
        json_t *curve = json_object_get(cov, "curve");
        size_t n = json_array_size(curve);
        fprintf(out, "  coverage %" JSON_INTEGER_FORMAT " distinct features; corpus %" JSON_INTEGER_FORMAT
                " schedules; %" JSON_INTEGER_FORMAT " mutant runs",
                json_integer_value(json_object_get(cov, "features")),
                json_integer_value(json_object_get(cov, "corpus")),
                json_integer_value(json_object_get(cov, "mutants")));
        /* Whether it is still learning: what the last quarter of the seeds added. */
        if (n >= 4) {
            json_t *q = json_array_get(curve, n - 1 - n / 4), *z = json_array_get(curve, n - 1);
            fprintf(out, "; the last %" JSON_INTEGER_FORMAT " seeds added %" JSON_INTEGER_FORMAT,
                    json_integer_value(json_array_get(z, 0)) - json_integer_value(json_array_get(q, 0)),
                    json_integer_value(json_array_get(z, 1)) - json_integer_value(json_array_get(q, 1)));
        }
        fprintf(out, "\n");
    }
    double secs = json_number_value(json_object_get(sum, "seconds"));
    json_int_t ran = json_integer_value(json_object_get(sum, "ran"));
    fprintf(out, "  speed    %.1f seeds/s over %.1f s with %" JSON_INTEGER_FORMAT " job%s; %.0fx faster than real time\n",
            secs > 0 ? (double)ran / secs : 0, secs, json_integer_value(json_object_get(sum, "jobs")),
            json_integer_value(json_object_get(sum, "jobs")) == 1 ? "" : "s",
            secs > 0 ? json_number_value(json_object_get(sum, "virtual_seconds")) / secs : 0);
}

static json_t *count_kinds(json_t *fails)
{
    json_t *kinds = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(fails, i, f) {
        const char *k = json_string_value(json_object_get(f, "kind"));
        json_int_t n = json_integer_value(json_object_get(kinds, k));
        json_object_set_new(kinds, k, json_integer(n + 1));
    }
    return kinds;
}

static int cmp_seed(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "seed"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "seed"));
    return x < y ? -1 : x > y;
}

/* Bad input to --merge: frees what was read so far; the exit status. */
static int merge_refused(json_t *all, json_t *keep)
{
    json_decref(all);
    json_decref(keep);
    return 2;
}

static int merge(char **files, int n, bool as_json)
{
    json_t *all = json_array();
    json_int_t ran = 0, jobs = 0;
    double secs = 0, vsecs = 0;
    const char *name = NULL;
    json_t *keep = json_array();
    bool interrupted = false;
    uint64_t shards = 0;
    json_int_t first_from = 0, first_to = 0;
    g_autofree int *seen = NULL;   /* per shard index: 1 + the file that gave it */
    for (int i = 0; i < n; i++) {
        json_error_t je;
        json_t *j = json_load_file(files[i], 0, &je);
        if (!j) {
            fprintf(stderr, "faultline fuzz --merge: %s:%d:%d: %s\n", files[i], je.line, je.column, je.text);
            return merge_refused(all, keep);
        }
        json_array_append_new(keep, j);
        const char *sn = json_string_value(json_object_get(j, "scenario"));
        if (!sn || !json_is_array(json_object_get(j, "failures")) || !json_is_integer(json_object_get(j, "ran"))) {
            fprintf(stderr, "faultline fuzz --merge: %s: expected the JSON written by faultline fuzz --json\n", files[i]);
            return merge_refused(all, keep);
        }
        if (name && strcmp(name, sn) != 0) {
            fprintf(stderr, "faultline fuzz --merge: %s: scenario \"%s\", but %s has \"%s\"\n", files[i], sn, files[0], name);
            return merge_refused(all, keep);
        }
        name = sn;
        /* Each shard once, all of one split of one seed range. */
        const char *sh = json_string_value(json_object_get(j, "shard"));
        uint64_t si = 0, sn_ = 1;
        json_int_t from = json_integer_value(json_object_get(j, "from"));
        json_int_t to = json_integer_value(json_object_get(j, "to"));
        g_auto(GStrv) parts = sh ? g_strsplit(sh, "/", 2) : NULL;
        if (!parts || !parts[0] || !parts[1] || !parse_u64(parts[0], &si) || !parse_u64(parts[1], &sn_) ||
            sn_ == 0 || si >= sn_ || sn_ > 65536) {
            fprintf(stderr, "faultline fuzz --merge: %s: expected \"shard\": \"I/N\" (the JSON of faultline fuzz --json)\n", files[i]);
            return merge_refused(all, keep);
        }
        if (i == 0) {
            shards = sn_;
            first_from = from;
            first_to = to;
            seen = g_new0(int, shards);
        } else if (sn_ != shards || from != first_from || to != first_to) {
            fprintf(stderr, "faultline fuzz --merge: %s: shard %s of seeds %" JSON_INTEGER_FORMAT "..%"
                    JSON_INTEGER_FORMAT ", but %s is one of %" PRIu64 " shards of seeds %" JSON_INTEGER_FORMAT
                    "..%" JSON_INTEGER_FORMAT ": results of different runs cannot be merged\n", files[i], sh,
                    from, to, files[0], shards, first_from, first_to);
            return merge_refused(all, keep);
        }
        if (seen[si]) {
            fprintf(stderr, "faultline fuzz --merge: %s: shard %s is also in %s; give each shard once\n",
                    files[i], sh, files[seen[si] - 1]);
            return merge_refused(all, keep);
        }
        seen[si] = i + 1;
        ran += json_integer_value(json_object_get(j, "ran"));
        jobs += json_integer_value(json_object_get(j, "jobs"));
        secs = MAX(secs, json_number_value(json_object_get(j, "seconds")));
        vsecs += json_number_value(json_object_get(j, "virtual_seconds"));
        interrupted |= json_is_true(json_object_get(j, "interrupted"));
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(j, "failures"), k, f) json_array_append(all, f);
    }
    /* Seed order, as if one machine had run them all. */
    size_t len = json_array_size(all);
    g_autofree json_t **v = g_new(json_t *, len + 1);
    for (size_t i = 0; i < len; i++)
        v[i] = json_array_get(all, i);
    qsort(v, len, sizeof *v, cmp_seed);
    json_t *sorted = json_array();
    for (size_t i = 0; i < len; i++)
        json_array_append(sorted, v[i]);
    json_t *sum = json_pack("{s:s,s:I,s:I,s:f,s:f,s:b,s:o,s:o,s:i}", "scenario", name ? name : "",
                            "ran", ran, "jobs", jobs, "seconds", secs, "virtual_seconds", vsecs,
                            "interrupted", interrupted, "failures", sorted, "kinds", count_kinds(sorted),
                            "merged", n);
    int status = len ? 1 : 0;
    g_autoptr(GString) missing = g_string_new(NULL);
    json_t *missing_j = json_array();
    for (uint64_t k = 0; k < shards; k++) {
        if (seen[k])
            continue;
        g_string_append_printf(missing, "%s%" PRIu64 "/%" PRIu64, missing->len ? ", " : "", k, shards);
        json_array_append_new(missing_j, json_integer((json_int_t)k));
    }
    json_object_set_new(sum, "missing_shards", missing_j);
    if (as_json) {
        char *s = json_dumps(sum, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
    } else {
        print_summary(sum, stdout);
    }
    if (missing->len) {
        fprintf(stderr, "faultline fuzz --merge: incomplete: shard%s %s missing; the seeds they hold were not run\n",
                strchr(missing->str, ',') ? "s" : "", missing->str);
        status = 1;
    }
    json_decref(sum);
    json_decref(all);
    json_decref(keep);
    return status;
}

int fl_cmd_fuzz(int argc, char **argv)
{
    gint64 nseeds = 0;
    g_autofree char *range = NULL, *shard = NULL, *out = NULL;
    gint jobs = 0;
    double limit = 60;
    gboolean keep_going = FALSE, as_json = FALSE, do_merge = FALSE, no_shrink = FALSE;
    gboolean guided = FALSE, coverage = FALSE;
    gint shrink_runs = 200;
    GOptionEntry entries[] = {
        { "seeds", 'n', 0, G_OPTION_ARG_INT64, &nseeds, "Run seeds 1..N (default 100)", "N" },
        { "seed-range", 0, 0, G_OPTION_ARG_STRING, &range, "Run seeds A..B (inclusive)", "A..B" },
        { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "Worker processes (default: the number of cores)", "J" },
        { "shard", 0, 0, G_OPTION_ARG_STRING, &shard, "Run only share I of N of the seeds (0 <= I < N)", "I/N" },
        { "time-limit", 0, 0, G_OPTION_ARG_DOUBLE, &limit, "Wall seconds one run may take (default 60)", "S" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Folder for failures/ (default runs/fuzz-NAME)", "DIR" },
        { "keep-going", 'k', 0, G_OPTION_ARG_NONE, &keep_going, "Run every seed, not only up to the first failure", NULL },
        { "no-shrink", 0, 0, G_OPTION_ARG_NONE, &no_shrink, "Write failures as found, unshrunk", NULL },
        { "shrink-runs", 0, 0, G_OPTION_ARG_INT, &shrink_runs, "Most runs one shrink may take (default 200)", "N" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "Print the summary as JSON", NULL },
        { "merge", 0, 0, G_OPTION_ARG_NONE, &do_merge, "Combine the --json results of several shards", NULL },
        { "guided", 'g', 0, G_OPTION_ARG_NONE, &guided, "Breed fault schedules from runs that reached new behaviour (implies --coverage)", NULL },
        { "coverage", 0, 0, G_OPTION_ARG_NONE, &coverage, "Measure and report coverage: distinct abstract behaviours reached", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("SCENARIO | --merge RESULT.json...");
    g_option_context_set_summary(ctx,
        "Runs a scenario once per seed in J worker processes (a worker that dies\n"
        "costs only the seed it ran).\n"
        "Every seed draws its own workload, nemesis and any value the scenario\n"
        "gives as a range.  A run fails when an expectation does not hold, the\n"
        "simulator crashes or a run passes its time limit; each failure is shrunk\n"
        "(faults, operations, clients, duration) and written to DIR/failures/ as a\n"
        "scenario that `faultline replay` reproduces.  Results come in seed order\n"
        "whatever J is.\n"
        "With --guided, seeds go in batches of 16: after the first batch, most seeds\n"
        "mutate the fault schedule of an earlier run that reached new abstract\n"
        "behaviour (roles, message kinds and their order, cluster states, counters)\n"
        "instead of drawing afresh; the rest draw afresh.  Only a scenario with one\n"
        "nemesis is bred, and mutants keep its rules.  Coverage (distinct\n"
        "behaviours) is reported as seeds go by: when it stops growing, the search\n"
        "has stopped learning.  The same seed range gives the same runs whatever J\n"
        "is.\n"
        "BUGGIFY is on for every seed (protocols take rare but legal paths at\n"
        "named sites, each enabled on about a quarter of the seeds; firings are\n"
        "\"buggify SITE\" trace lines) unless the scenario says \"buggify\": false;\n"
        "failure files carry the field, so replay takes the same paths.\n"
        "Exit status: 0 no failure, 1 failures, 2 bad usage.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!fl_cli_parse(ctx, &argc, &argv, "fuzz"))
        return 2;
    if (do_merge) {
        if (argc < 2) {
            fprintf(stderr, "faultline fuzz --merge: expected one or more result files\n");
            return 2;
        }
        return merge(argv + 1, argc - 1, as_json);
    }
    if (argc != 2) {
        fprintf(stderr, "faultline fuzz: expected one scenario file (see faultline fuzz --help)\n");
        return 2;
    }
    FlFuzzOptions opt = { .first = 1, .last = 100, .shard = 0, .shards = 1, .time_limit_s = limit,
                          .keep_going = keep_going, .shrink = !no_shrink,
                          .shrink_runs = (uint32_t)MAX(shrink_runs, 0), .progress = true,
                          .guided = guided, .coverage = coverage || guided };
    if (nseeds && range) {
        fprintf(stderr, "faultline fuzz: give --seeds or --seed-range, not both\n");
        return 2;
    }
    if (nseeds < 0) {
        fprintf(stderr, "faultline fuzz: --seeds: expected a positive number\n");
        return 2;
    }
    if (nseeds)
        opt.last = (uint64_t)nseeds;
    if (range) {
        g_auto(GStrv) ab = g_strsplit(range, "..", 2);
        if (!ab[0] || !ab[1] || !parse_u64(ab[0], &opt.first) || !parse_u64(ab[1], &opt.last) ||
            opt.last < opt.first) {
            fprintf(stderr, "faultline fuzz: --seed-range: expected A..B with A <= B, got \"%s\"\n", range);
            return 2;
        }
    }
    if (shard) {
        uint64_t i, n;
        g_auto(GStrv) in = g_strsplit(shard, "/", 2);
        if (!in[0] || !in[1] || !parse_u64(in[0], &i) || !parse_u64(in[1], &n) || n == 0 || i >= n ||
            n > UINT32_MAX) {
            fprintf(stderr, "faultline fuzz: --shard: expected I/N with 0 <= I < N, got \"%s\"\n", shard);
            return 2;
        }
        opt.shard = (uint32_t)i;
        opt.shards = (uint32_t)n;
    }
    if (limit <= 0) {
        fprintf(stderr, "faultline fuzz: --time-limit: expected a positive number of seconds\n");
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opt.jobs = jobs > 0 ? (uint32_t)jobs : (uint32_t)(cores > 0 ? cores : 1);
    if (jobs < 0 || opt.jobs > 1024) {
        fprintf(stderr, "faultline fuzz: --jobs: expected 1 to 1024\n");
        return 2;
    }

    const char *file = argv[1];
    json_error_t je;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        fprintf(stderr, "faultline fuzz: %s:%d:%d: invalid JSON: %s\n", file, je.line, je.column, je.text);
        return 2;
    }
    /* Validate once here, so bad input is one clear message, not N failures. */
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(root, file, (int64_t)opt.first, &err);
    if (!sc) {
        fprintf(stderr, "faultline fuzz: %s\n", err->message);
        g_error_free(err);
        json_decref(root);
        return 2;
    }
    if (sc->schedule) {
        /* Its choices exist only at the seed it was found at. */
        fprintf(stderr, "faultline fuzz: %s: /schedule: an explicit schedule replays at its own "
                "seed only, so there is nothing to fuzz (use faultline run, or fuzz the scenario "
                "without its schedule)\n", file);
        fl_scenario_free(sc);
        json_decref(root);
        return 2;
    }
    g_autofree char *name = g_strdup(sc->name);
    /* Each run judges expect.alerts with promtool (fl_run, through the
     * catalog); when it cannot, every seed would say so: say it once. */
    g_autofree char *alerts_note = NULL;
    if (sc->expect.has_alerts) {
        g_autofree char *promtool = g_find_program_in_path("promtool");
        if (!sc->expect.alerts_rules)
            alerts_note = g_strdup("the scenario names no rules file (expect.alerts.rules)");
        else if (!promtool)
            alerts_note = g_strdup("promtool not found (Debian package `prometheus`)");
    }
    fl_scenario_free(sc);
    json_object_del(json_object_get(root, "expect"), "trace_hash");
    fl_scenario_fuzz_defaults(root);
    g_autofree char *dir = out ? g_strdup(out) : g_strdup_printf("runs/fuzz-%s", name);

    struct sigaction sa = { .sa_handler = on_sigint };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    fprintf(stderr, "fuzz %s: seeds %" PRIu64 "..%" PRIu64 "%s%s, %u job%s\n", file, opt.first, opt.last,
            shard ? " shard " : "", shard ? shard : "", opt.jobs, opt.jobs == 1 ? "" : "s");
    if (alerts_note)
        fprintf(stderr, "fuzz %s: expect.alerts not judged: %s\n", file, alerts_note);
    FlFuzzReport *r = fl_fuzz(root, file, &opt);

    json_t *fails = json_array();
    for (guint i = 0; i < r->failures->len; i++) {
        FlOutcome *o = &g_array_index(r->failures, FlOutcome, i);
        if (!o->resolved) {   /* crashed before it could say what it ran: keep the file's own */
            o->resolved = json_deep_copy(root);
            json_object_set_new(o->resolved, "seed", json_integer((json_int_t)o->seed));
        }
        json_t *doc;
        FlOutcome shrunk = { 0 };
        g_autoptr(GString) note = g_string_new(NULL);
        if (opt.shrink && !fl_fuzz_interrupted) {
            fprintf(stderr, "fuzz: shrinking seed %" PRIu64 " (%s)...\n", o->seed, o->kind);
            doc = fl_fuzz_shrink(o, file, limit, opt.shrink_runs, &shrunk, note);
        } else {
            doc = json_deep_copy(o->resolved);
            g_string_assign(note, fl_fuzz_interrupted ? "not shrunk: interrupted" : "not shrunk");
        }
        /* The hash a replay must match is the one of this very file's run. */
        FlOutcome confirm = { 0 };
        json_object_del(json_object_get(doc, "expect"), "trace_hash");
        if (fl_fuzz_run_one(doc, file, o->seed, limit, &confirm) && confirm.trace_hash) {
            char hash[24];
            g_snprintf(hash, sizeof hash, "%016" PRIx64, confirm.trace_hash);
            json_t *expect = json_object_get(doc, "expect");
            if (!expect) {
                expect = json_object();
                json_object_set_new(doc, "expect", expect);
            }
            json_object_set_new(expect, "trace_hash", json_string(hash));
        }
        const char *desc = json_string_value(json_object_get(doc, "description"));
        g_autofree char *how = o->origin && strcmp(o->origin, "fresh") != 0
            ? g_strdup_printf(" (guided, at seed %" PRIu64 "'s turn: %s)", o->slot, o->origin) : g_strdup("");
        g_autofree char *d2 = g_strdup_printf("%s%sFound by faultline fuzz with seed %" PRIu64 "%s: %s (%s). Shrunk: %s.",
                                              desc ? desc : "", desc && *desc ? " " : "", o->seed, how, o->kind,
                                              confirm.detail && *confirm.detail ? confirm.detail : o->detail,
                                              note->str);
        json_object_set_new(doc, "description", json_string(d2));
        g_autofree char *fdir = g_build_filename(dir, "failures", NULL);
        /* Named by the turn that found it (a guided mutant may run with its
         * parent's seed, which its "seed" field holds): unique per run. */
        g_autofree char *path = g_strdup_printf("%s/%s-seed%" PRIu64 ".json", fdir, name, o->slot);
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        g_autofree char *text_nl = g_strdup_printf("%s\n", text);
        free(text);
        if (g_mkdir_with_parents(fdir, 0755) != 0 || !g_file_set_contents(path, text_nl, -1, NULL)) {
            fprintf(stderr, "faultline fuzz: cannot write %s: %s\n", path, g_strerror(errno));
            g_clear_pointer(&path, g_free);
        }
        FlOutcome *shown = confirm.kind ? &confirm : o;
        shown->seed = o->seed;
        shown->slot = o->slot;
        if (shown != o && o->origin)
            shown->origin = g_strdup(o->origin);
        json_array_append_new(fails, failure_json(shown, path, note->str));
        fl_outcome_clear(&confirm);
        fl_outcome_clear(&shrunk);
        json_decref(doc);
    }
    json_t *sum = json_pack("{s:s,s:s,s:I,s:I,s:s,s:I,s:i,s:f,s:f,s:b,s:o,s:o}", "scenario", name,
                            "file", file, "from", (json_int_t)opt.first, "to", (json_int_t)opt.last,
                            "shard", shard ? shard : "0/1", "ran", (json_int_t)r->ran, "jobs", (int)opt.jobs,
                            "seconds", r->seconds, "virtual_seconds", r->virtual_s,
                            "interrupted", r->interrupted, "failures", fails, "kinds", count_kinds(fails));
    if (r->curve) {
        json_t *curve = json_array();
        for (guint i = 0; i < r->curve->len; i++) {
            const FlCoveragePoint *p = &g_array_index(r->curve, FlCoveragePoint, i);
            json_array_append_new(curve, json_pack("[I,I]", (json_int_t)p->seeds, (json_int_t)p->features));
        }
        json_object_set_new(sum, "coverage",
                            json_pack("{s:b,s:I,s:I,s:I,s:i,s:o}", "guided", guided,
                                      "features", (json_int_t)r->coverage, "corpus", (json_int_t)r->corpus,
                                      "mutants", (json_int_t)r->mutants, "batch", FL_FUZZ_BATCH,
                                      "curve", curve));
    }
    if (as_json) {
        char *s = json_dumps(sum, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
    } else {
        print_summary(sum, stdout);
    }
    int status = r->failures->len ? 1 : 0;
    json_decref(sum);
    fl_fuzz_report_free(r);
    json_decref(root);
    return status;
}
