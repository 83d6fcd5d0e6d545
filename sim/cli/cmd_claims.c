/* faultline claims SCENARIO... [--seeds N | --seed-range A..B] [--jobs J]
 *                 [--time-limit S] [--strict-bounds] [--markdown | --json]
 *
 * A scenario's `expect` is a statement over seeds, not about one run.  This
 * runs each scenario over a range of seeds (the fuzzer's worker processes,
 * every seed kept) and weighs each claim:
 *   - a model claimed to hold must hold on every seed;
 *   - a model claimed to fail must fail on at least one seed, and its rate
 *     is what a description may state ("violated on 37 of 200 seeds");
 *   - a bound (min_ok, max_info, max_p99, min_p50, min_availability, sla,
 *     liveness, counters, detectors, alerts) must be met on every seed; a bound that sits
 *     below 80% of the worst seed's figure (above 125% for maxima) is loose:
 *     a regression of that size would pass unnoticed.
 * A model the scenario checks and says nothing of is claimed to hold (the
 * default expectation, spec/scenario.md), and so is liveness when every
 * fault heals: a seed whose run could not weigh it (too little time after
 * the heal) is counted apart, as not judged, never as met.  expect.alerts
 * is judged by promtool on every seed (sim/cli/cmd_alerts.c, about half a
 * second each) when the scenario names its rules and promtool is
 * installed; otherwise the claim says it was not judged.  A run that
 * crashed or passed its time limit breaks every claim of its seed. */
#include "sim/cli/cli.h"
#include "sim/fuzz.h"
#include "sim/scenario.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* What a claim says. */
typedef enum { WANT_HOLD, WANT_FAIL, WANT_SOME_FAIL, WANT_NOTHING } Want;

typedef struct Claim {
    char *name;          /* a model, "some model" or an expectation key */
    bool is_model;
    Want want;
    uint64_t yes, no;    /* seeds where the model held / failed (bounds: met / missed) */
    uint64_t first_no, first_yes;   /* 0: none */
    char *bound;         /* bounds: the bound as text ("min_ok >= 1500"), else NULL */
    double limit;        /* the bound's value, and the worst figure seen */
    bool is_min, has_worst;
    double worst;
    uint64_t worst_seed;
    const char *figure;  /* key in FlOutcome.figures, or NULL */
    bool liveness;       /* the liveness claim: seeds that did not weigh it are not judged */
    bool alerts;         /* the expect.alerts claim: likewise, seeds promtool did not judge */
    uint64_t unjudged;
    char *note;          /* shown instead of the seed counts (a claim not made), or NULL */
} Claim;

static void claim_free(Claim *c)
{
    g_free(c->name);
    g_free(c->bound);
    g_free(c->note);
    g_free(c);
}

static Claim *claim_new(GPtrArray *claims, const char *name, bool is_model, Want want)
{
    Claim *c = g_new0(Claim, 1);
    c->name = g_strdup(name);
    c->is_model = is_model;
    c->want = want;
    g_ptr_array_add(claims, c);
    return c;
}

static void bound(GPtrArray *claims, const char *key, const char *text, double limit, bool is_min,
                  const char *figure)
{
    Claim *c = claim_new(claims, key, false, WANT_HOLD);
    c->bound = g_strdup(text);
    c->limit = limit;
    c->is_min = is_min;
    c->figure = figure;
}

/* The claims of @sc, in the order a reader meets them. */
static GPtrArray *claims_of(const FlScenario *sc)
{
    GPtrArray *claims = g_ptr_array_new_with_free_func((GDestroyNotify)claim_free);
    const FlExpect *e = &sc->expect;
    g_auto(GStrv) models = sc->consistency ? g_strsplit(sc->consistency, ",", -1) : NULL;
    guint n = models ? g_strv_length(models) : 0;
    for (guint i = 0; i < n; i++) {
        json_t *m = e->models ? json_object_get(e->models, models[i]) : NULL;
        Want w = m ? (json_is_null(m) ? WANT_NOTHING : json_is_true(m) ? WANT_HOLD : WANT_FAIL)
               : e->valid < 0 || e->valid == 1 ? WANT_HOLD
               : n == 1 ? WANT_FAIL : WANT_NOTHING;
        claim_new(claims, models[i], true, w);
    }
    if (n > 1 && e->valid == 0)
        claim_new(claims, "some model", true, WANT_SOME_FAIL);
    char t[96], d[32];
    if (e->min_ok >= 0) {
        g_snprintf(t, sizeof t, "min_ok %" PRId64, e->min_ok);
        bound(claims, "min_ok", t, (double)e->min_ok, true, "ok");
    }
    if (e->max_info >= 0) {
        g_snprintf(t, sizeof t, "max_info %" PRId64, e->max_info);
        bound(claims, "max_info", t, (double)e->max_info, false, "info");
    }
    if (e->max_p99 >= 0) {
        g_snprintf(t, sizeof t, "max_p99 %s", fl_duration_format(e->max_p99, d));
        bound(claims, "max_p99", t, (double)e->max_p99, false, "p99_ns");
    }
    if (e->min_p50 >= 0) {
        g_snprintf(t, sizeof t, "min_p50 %s", fl_duration_format(e->min_p50, d));
        bound(claims, "min_p50", t, (double)e->min_p50, true, "p50_ns");
    }
    if (e->min_availability >= 0) {
        g_snprintf(t, sizeof t, "min_availability %.4g", e->min_availability);
        bound(claims, "min_availability", t, e->min_availability, true, "availability");
    }
    if (e->has_sla) {
        g_snprintf(t, sizeof t, "sla availability >= %.6g in windows of %s", e->sla_target,
                   fl_duration_format(e->sla_window, d));
        bound(claims, "sla", t, e->sla_target, true, "sla_availability");
    }
    if (e->live_mode == FL_LIVE_EXPLICIT || e->live_mode == FL_LIVE_DEFAULT) {
        char a[32], b[32];
        g_autofree char *text = g_strdup_printf(
            "liveness%s >= %" PRId64 " ok within %s of %s", e->live_mode == FL_LIVE_DEFAULT ? " (default)" : "",
            e->live_min_ok, fl_duration_format(e->live_budget, a),
            e->live_mode == FL_LIVE_DEFAULT ? "the last heal" : fl_duration_format(e->live_after, b));
        bound(claims, "liveness", text, 0, true, NULL);
        ((Claim *)g_ptr_array_index(claims, claims->len - 1))->liveness = true;
    } else if (e->live_mode == FL_LIVE_UNJUDGED) {
        Claim *c = claim_new(claims, "liveness (default)", false, WANT_NOTHING);
        c->note = g_strdup_printf("not judged: %s", e->live_why);
    }
    if (e->counters && e->counters->len)
        bound(claims, "counters", "counters", 0, true, NULL);
    if (e->has_alerts) {
        json_t *ea = json_object_get(json_object_get(sc->resolved, "expect"), "alerts");
        g_autoptr(GString) text = g_string_new("alerts");
        if (json_is_true(json_object_get(ea, "quiet")))
            g_string_append(text, " quiet");
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(ea, "fire"), i, f)
            g_string_append_printf(text, "%s %s within %s", i ? "," : "",
                                   json_string_value(json_object_get(f, "alert")),
                                   json_string_value(json_object_get(f, "within")));
        g_autofree char *promtool = g_find_program_in_path("promtool");
        if (e->alerts_rules && promtool) {
            bound(claims, "alerts", text->str, 0, true, NULL);
            ((Claim *)g_ptr_array_index(claims, claims->len - 1))->alerts = true;
        } else {
            Claim *c = claim_new(claims, text->str, false, WANT_NOTHING);
            c->note = g_strdup_printf("not judged: %s", e->alerts_rules
                                      ? "promtool not found (Debian package `prometheus`)"
                                      : "the scenario names no rules file (expect.alerts.rules)");
        }
    }
    if (e->max_false_suspicions >= 0 || e->min_false_suspicions >= 0 ||
        e->max_detection_time >= 0 || e->max_missed_detections >= 0)
        bound(claims, "detectors", "detectors", 0, true, NULL);
    return claims;
}

static bool unmet_has(json_t *unmet, const char *key)
{
    size_t i;
    json_t *v;
    json_array_foreach(unmet, i, v)
        if (g_strcmp0(json_string_value(v), key) == 0)
            return true;
    return false;
}

static void note(uint64_t *count, uint64_t *first, uint64_t seed)
{
    if (!*first)
        *first = seed;
    ++*count;
}

/* Weighs one seed's outcome against every claim. */
static void weigh(GPtrArray *claims, const FlOutcome *o)
{
    json_t *fig = o->figures;
    json_t *verdicts = json_object_get(fig, "verdicts");
    json_t *unmet = json_object_get(fig, "unmet");
    bool any_invalid = false;
    for (guint i = 0; i < claims->len; i++) {
        Claim *c = g_ptr_array_index(claims, i);
        if (c->want == WANT_SOME_FAIL) {
            if (any_invalid)
                note(&c->no, &c->first_no, o->seed);
            else
                note(&c->yes, &c->first_yes, o->seed);
        } else if (c->is_model) {
            const char *v = json_string_value(json_object_get(verdicts, c->name));
            if (g_strcmp0(v, "valid") == 0)
                note(&c->yes, &c->first_yes, o->seed);
            else if (g_strcmp0(v, "invalid") == 0) {
                note(&c->no, &c->first_no, o->seed);
                any_invalid = true;
            }
            /* No verdict (a crash, a time limit): neither holds nor fails,
             * which breaks a claim either way. */
        } else if (c->note) {
            continue;
        } else if (c->liveness && fig && json_is_false(json_object_get(fig, "live_judged"))) {
            c->unjudged++;
        } else if (c->alerts && fig && !json_is_true(json_object_get(fig, "alerts_judged"))) {
            c->unjudged++;
        } else {
            if (fig && !unmet_has(unmet, c->name))
                note(&c->yes, &c->first_yes, o->seed);
            else
                note(&c->no, &c->first_no, o->seed);
            json_t *x = c->figure ? json_object_get(fig, c->figure) : NULL;
            if (json_is_number(x)) {
                double v = json_number_value(x);
                if (!c->has_worst || (c->is_min ? v < c->worst : v > c->worst)) {
                    c->worst = v;
                    c->worst_seed = o->seed;
                    c->has_worst = true;
                }
            }
        }
    }
}

/* Whether @c is true over @n seeds. */
static bool claim_true(const Claim *c, uint64_t n)
{
    switch (c->want) {
    case WANT_HOLD:
        /* A liveness claim that no seed could weigh is not shown true;
         * an alerts claim is true only where promtool judged every seed. */
        return c->liveness ? c->yes + c->unjudged == n && c->yes > 0
               : c->alerts ? c->yes == n && c->unjudged == 0
                           : c->yes == n;
    case WANT_FAIL: return c->no >= 1;
    case WANT_SOME_FAIL: return c->no >= 1;
    case WANT_NOTHING: return true;
    }
    return false;
}

/* A bound a real regression would pass: under 80% of the worst seed (a
 * minimum) or over 125% of it (a maximum, whose worst is not zero). */
static bool claim_loose(const Claim *c)
{
    if (!c->has_worst || c->want != WANT_HOLD)
        return false;
    return c->is_min ? c->limit < 0.8 * c->worst : c->limit > 1.25 * c->worst && c->worst > 0;
}

static const char *want_word(const Claim *c)
{
    switch (c->want) {
    case WANT_HOLD: return c->is_model ? "holds" : "met";
    case WANT_FAIL: return "fails";
    case WANT_SOME_FAIL: return "fails";
    case WANT_NOTHING: return "(no claim)";
    }
    return "";
}

static json_t *claim_json(const Claim *c, uint64_t n)
{
    json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:b}", "claim", c->bound ? c->bound : c->name,
                          "expected", want_word(c), "seeds", (json_int_t)n, "held",
                          (json_int_t)c->yes, "failed", (json_int_t)c->no, "true", claim_true(c, n));
    if (c->first_no)
        json_object_set_new(j, "first_failing_seed", json_integer((json_int_t)c->first_no));
    if (c->unjudged)
        json_object_set_new(j, "not_judged", json_integer((json_int_t)c->unjudged));
    if (c->note)
        json_object_set_new(j, "note", json_string(c->note));
    if (c->has_worst) {
        json_object_set_new(j, "worst", json_real(c->worst));
        json_object_set_new(j, "worst_seed", json_integer((json_int_t)c->worst_seed));
        json_object_set_new(j, "loose", json_boolean(claim_loose(c)));
    }
    return j;
}

static void print_claim(const Claim *c, uint64_t n, bool strict, FILE *out)
{
    bool ok = claim_true(c, n), loose = claim_loose(c);
    char what[512], worst[96] = "";
    if (c->want == WANT_FAIL || c->want == WANT_SOME_FAIL)
        g_snprintf(what, sizeof what, "violated on %" PRIu64 " of %" PRIu64 " seeds", c->no, n);
    else if (c->is_model)
        g_snprintf(what, sizeof what, "holds on %" PRIu64 " of %" PRIu64 " seeds", c->yes, n);
    else if (c->note)
        g_snprintf(what, sizeof what, "%s", c->note);
    else if (c->unjudged)
        g_snprintf(what, sizeof what, "met on %" PRIu64 " of %" PRIu64 " seeds (not judged on %"
                   PRIu64 ": %s)", c->yes, n, c->unjudged,
                   c->alerts ? "promtool could not judge them" : "too little time after the last heal");
    else
        g_snprintf(what, sizeof what, "met on %" PRIu64 " of %" PRIu64 " seeds", c->yes, n);
    if (c->has_worst)
        g_snprintf(worst, sizeof worst, "; worst %.6g (seed %" PRIu64 ")%s", c->worst,
                   c->worst_seed, loose ? ", bound loose (80% rule)" : "");
    const char *mark = !ok ? "FALSE" : loose && strict ? "LOOSE" : c->want == WANT_NOTHING ? "-" : "ok";
    fprintf(out, "  %-6s %-24s expected %-6s %s", mark, c->bound ? c->bound : c->name,
            c->want == WANT_NOTHING ? "-" : want_word(c), what);
    if (!ok && c->want == WANT_HOLD && c->first_no)
        fprintf(out, ", first failing seed %" PRIu64, c->first_no);
    fprintf(out, "%s\n", worst);
}

typedef struct Result {
    char *file, *name;
    uint64_t n;
    GPtrArray *claims;
    double seconds;
    uint64_t crashes, first_crash;
    uint64_t own_seed;   /* the file's seed, when weighed besides the range */
    bool replay;         /* an explicit schedule: weighed at its own seed only */
} Result;

static void result_free(Result *r)
{
    g_free(r->file);
    g_free(r->name);
    if (r->claims)
        g_ptr_array_unref(r->claims);
    g_free(r);
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

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs @file over the seeds of @base; NULL (message printed) on bad input. */
static Result *weigh_file(const char *file, const FlFuzzOptions *base)
{
    json_error_t je;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        fprintf(stderr, "faultline claims: %s:%d:%d: invalid JSON: %s\n", file, je.line, je.column, je.text);
        return NULL;
    }
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(root, file, (int64_t)base->first, &err);
    if (!sc) {
        fprintf(stderr, "faultline claims: %s\n", err->message);
        g_error_free(err);
        json_decref(root);
        return NULL;
    }
    json_object_del(json_object_get(root, "expect"), "trace_hash");
    Result *r = g_new0(Result, 1);
    r->file = g_strdup(file);
    r->name = g_strdup(sc->name);
    r->claims = claims_of(sc);
    /* The file's own seed is part of its claim (a replayed failure states
     * its violation there): weigh it too when the range misses it. */
    json_t *own = json_object_get(root, "seed");
    uint64_t own_seed = json_is_integer(own) && json_integer_value(own) > 0
                            ? (uint64_t)json_integer_value(own) : 0;
    /* An explicit schedule (a counterexample `faultline explore` wrote)
     * names choices that exist only with the seed it was found at: it is a
     * replay, weighed at its own seed alone. */
    bool replay = sc->schedule != NULL;
    fl_scenario_free(sc);
    FlFuzzOptions opt = *base;
    if (replay) {
        opt.first = opt.last = own_seed ? own_seed : 1;
        opt.shard = 0;
        opt.shards = 1;
        r->replay = true;
    }
    opt.keep_going = true;
    opt.shrink = false;
    opt.keep_all = true;
    FlFuzzReport *rep = fl_fuzz(root, file, &opt);
    r->seconds = rep->seconds;
    for (guint i = 0; i < rep->all->len; i++) {
        const FlOutcome *o = &g_array_index(rep->all, FlOutcome, i);
        if (!o->figures) {
            r->crashes++;
            if (!r->first_crash)
                r->first_crash = o->seed;
        }
        weigh(r->claims, o);
    }
    r->n = rep->all->len;
    fl_fuzz_report_free(rep);
    if (!replay && own_seed && (own_seed < base->first || own_seed > base->last) &&
        !fl_fuzz_interrupted) {
        opt.first = opt.last = own_seed;
        opt.shard = 0;
        opt.shards = 1;
        rep = fl_fuzz(root, file, &opt);
        for (guint i = 0; i < rep->all->len; i++) {
            const FlOutcome *o = &g_array_index(rep->all, FlOutcome, i);
            if (!o->figures && !r->crashes++)
                r->first_crash = o->seed;
            weigh(r->claims, o);
        }
        r->n += rep->all->len;
        r->own_seed = own_seed;
        fl_fuzz_report_free(rep);
    }
    json_decref(root);
    return r;
}

/* One column per model, in order of first appearance; ✓ on every seed, ✗
 * on none, else the rate. */
static void print_markdown(GPtrArray *results, FILE *out)
{
    g_autoptr(GPtrArray) cols = g_ptr_array_new();
    for (guint i = 0; i < results->len; i++) {
        Result *r = g_ptr_array_index(results, i);
        for (guint k = 0; k < r->claims->len; k++) {
            Claim *c = g_ptr_array_index(r->claims, k);
            if (!c->is_model || c->want == WANT_SOME_FAIL)
                continue;
            bool seen = false;
            for (guint j = 0; j < cols->len && !seen; j++)
                seen = strcmp(g_ptr_array_index(cols, j), c->name) == 0;
            if (!seen)
                g_ptr_array_add(cols, c->name);
        }
    }
    fprintf(out, "| scenario | seeds |");
    for (guint j = 0; j < cols->len; j++)
        fprintf(out, " %s |", (char *)g_ptr_array_index(cols, j));
    fprintf(out, "\n|---|---|");
    for (guint j = 0; j < cols->len; j++)
        fprintf(out, "---|");
    fprintf(out, "\n");
    for (guint i = 0; i < results->len; i++) {
        Result *r = g_ptr_array_index(results, i);
        fprintf(out, "| %s | %" PRIu64 " |", r->name, r->n);
        for (guint j = 0; j < cols->len; j++) {
            const Claim *c = NULL;
            for (guint k = 0; k < r->claims->len && !c; k++) {
                Claim *x = g_ptr_array_index(r->claims, k);
                if (x->is_model && strcmp(x->name, g_ptr_array_index(cols, j)) == 0)
                    c = x;
            }
            if (!c)
                fprintf(out, "  |");
            else if (c->yes == r->n)
                fprintf(out, " ✓ |");
            else if (c->no == r->n)
                fprintf(out, " ✗ |");
            else
                fprintf(out, " %" PRIu64 "/%" PRIu64 " |", c->yes, r->n);
        }
        fprintf(out, "\n");
    }
}

/* Adds @path to @files, or every *.json under it when it is a folder,
 * in name order (so the output does not depend on the file system). */
static void add_files(const char *path, GPtrArray *files)
{
    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_ptr_array_add(files, g_strdup(path));
        return;
    }
    GDir *d = g_dir_open(path, 0, NULL);
    if (!d) {
        g_ptr_array_add(files, g_strdup(path));   /* reported when read */
        return;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (const char *n; (n = g_dir_read_name(d));)
        g_ptr_array_add(names, g_strdup(n));
    g_dir_close(d);
    g_ptr_array_sort(names, (GCompareFunc)cmp_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *p = g_build_filename(path, (char *)g_ptr_array_index(names, i), NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) || g_str_has_suffix(p, ".json"))
            add_files(p, files);
    }
}

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
    (void)sig;
    fl_fuzz_interrupted = 1;
    stop = 1;
}

int fl_cmd_claims(int argc, char **argv)
{
    gint64 nseeds = 0;
    g_autofree char *range = NULL;
    gint jobs = 0;
    double limit = 60;
    gboolean as_json = FALSE, markdown = FALSE, strict = FALSE;
    GOptionEntry entries[] = {
        { "seeds", 'n', 0, G_OPTION_ARG_INT64, &nseeds, "Run seeds 1..N (default 200)", "N" },
        { "seed-range", 0, 0, G_OPTION_ARG_STRING, &range, "Run seeds A..B (inclusive)", "A..B" },
        { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "Worker processes (default: the number of cores)", "J" },
        { "time-limit", 0, 0, G_OPTION_ARG_DOUBLE, &limit, "Wall seconds one run may take (default 60)", "S" },
        { "strict-bounds", 0, 0, G_OPTION_ARG_NONE, &strict,
          "A loose bound (under 80% of the worst seed) is a false claim", NULL },
        { "markdown", 0, 0, G_OPTION_ARG_NONE, &markdown,
          "Print a table of models by scenario: ✓ every seed, ✗ none, else holds/seeds", NULL },
        { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "Print the results as JSON", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("SCENARIO|FOLDER...");
    g_option_context_set_summary(ctx,
        "Weighs every claim of each scenario over many seeds.  A model claimed\n"
        "to hold (by expect.models, expect.valid, or by naming it in check and\n"
        "saying nothing) must hold on every seed; a model claimed to fail must\n"
        "fail on at least one, and its rate is printed; a bound must be met on\n"
        "every seed, and is loose when it sits under 80% of the worst seed's\n"
        "figure (over 125% for maxima).  Prints, per claim, on how many seeds it\n"
        "held and the first seed to replay where it did not.  The file's own\n"
        "seed is always weighed too.  A folder stands for every *.json under it.\n"
        "Exit status: 0 every claim true, 1 some claim false (or loose, with\n"
        "--strict-bounds), 2 bad usage or input.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!fl_cli_parse(ctx, &argc, &argv, "claims"))
        return 2;
    if (argc < 2) {
        fprintf(stderr, "faultline claims: expected one or more scenario files (see faultline claims --help)\n");
        return 2;
    }
    FlFuzzOptions opt = { .first = 1, .last = 200, .shard = 0, .shards = 1, .time_limit_s = limit,
                          .progress = isatty(2) };
    if (nseeds && range) {
        fprintf(stderr, "faultline claims: give --seeds or --seed-range, not both\n");
        return 2;
    }
    if (nseeds < 0) {
        fprintf(stderr, "faultline claims: --seeds: expected a positive number\n");
        return 2;
    }
    if (nseeds)
        opt.last = (uint64_t)nseeds;
    if (range) {
        g_auto(GStrv) ab = g_strsplit(range, "..", 2);
        if (!ab[0] || !ab[1] || !parse_u64(ab[0], &opt.first) || !parse_u64(ab[1], &opt.last) ||
            opt.last < opt.first || opt.first == 0) {
            fprintf(stderr, "faultline claims: --seed-range: expected A..B with 1 <= A <= B, got \"%s\"\n", range);
            return 2;
        }
    }
    if (limit <= 0) {
        fprintf(stderr, "faultline claims: --time-limit: expected a positive number of seconds\n");
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opt.jobs = jobs > 0 ? (uint32_t)jobs : (uint32_t)(cores > 0 ? cores : 1);
    if (jobs < 0 || opt.jobs > 1024) {
        fprintf(stderr, "faultline claims: --jobs: expected 1 to 1024\n");
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_sigint };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func((GDestroyNotify)result_free);
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    for (int i = 1; i < argc; i++)
        add_files(argv[i], files);
    if (files->len == 0) {
        fprintf(stderr, "faultline claims: no scenario file in %s\n", argv[1]);
        return 2;
    }
    for (guint i = 0; i < files->len && !stop; i++) {
        const char *file = g_ptr_array_index(files, i);
        fprintf(stderr, "claims: %s, seeds %" PRIu64 "..%" PRIu64 " (%u of %u)\n", file, opt.first,
                opt.last, i + 1, files->len);
        Result *r = weigh_file(file, &opt);
        if (!r)
            return 2;
        g_ptr_array_add(results, r);
    }
    if (stop) {
        fprintf(stderr, "faultline claims: interrupted; no verdict\n");
        return 2;
    }
    uint64_t ntrue = 0, nfalse = 0, nloose = 0;
    json_t *all = json_array();
    for (guint i = 0; i < results->len; i++) {
        Result *r = g_ptr_array_index(results, i);
        json_t *cl = json_array();
        if (!as_json && !markdown)
            fprintf(stdout, "%s (%s): %" PRIu64 " seeds%s in %.1f s\n", r->file, r->name, r->n,
                    r->replay     ? " (an explicit schedule replays at its own seed only)"
                    : r->own_seed ? " (the range and the file's own seed)"
                                  : "",
                    r->seconds);
        if (r->crashes && !as_json && !markdown)
            fprintf(stdout, "  FALSE  %" PRIu64 " run%s crashed or passed the time limit, first seed %" PRIu64 "\n",
                    r->crashes, r->crashes == 1 ? "" : "s", r->first_crash);
        if (r->crashes)
            nfalse++;
        for (guint k = 0; k < r->claims->len; k++) {
            Claim *c = g_ptr_array_index(r->claims, k);
            if (c->want == WANT_NOTHING) {
                if (!as_json && !markdown)
                    print_claim(c, r->n, strict, stdout);
                json_array_append_new(cl, claim_json(c, r->n));
                continue;
            }
            bool t = claim_true(c, r->n), loose = claim_loose(c);
            if (!t || (strict && loose))
                nfalse++;
            else
                ntrue++;
            nloose += loose;
            if (!as_json && !markdown)
                print_claim(c, r->n, strict, stdout);
            json_array_append_new(cl, claim_json(c, r->n));
        }
        json_t *sj = json_pack("{s:s,s:s,s:I,s:f,s:I,s:o}", "file", r->file, "scenario", r->name,
                               "seeds", (json_int_t)r->n, "seconds", r->seconds, "crashes",
                               (json_int_t)r->crashes, "claims", cl);
        json_array_append_new(all, sj);
    }
    if (as_json) {
        json_t *doc = json_pack("{s:I,s:I,s:o,s:I,s:I,s:I}", "from", (json_int_t)opt.first, "to",
                                (json_int_t)opt.last, "scenarios", all, "true", (json_int_t)ntrue,
                                "false", (json_int_t)nfalse, "loose", (json_int_t)nloose);
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(doc);
    } else {
        json_decref(all);
        if (markdown)
            print_markdown(results, stdout);
        else
            printf("claims: %" PRIu64 " true, %" PRIu64 " false, %" PRIu64 " loose bound%s over %u scenario%s\n",
                   ntrue, nfalse, nloose, nloose == 1 ? "" : "s", results->len,
                   results->len == 1 ? "" : "s");
    }
    return nfalse ? 1 : 0;
}
