/* faultline alerts RUN_DIR --rules RULES.yml
 *
 * Prometheus alerting rules evaluated against a run's time series by the
 * real engine (issue 22, item 5): the run's metrics.om becomes the
 * input_series of a `promtool test rules` file, promtool evaluates every
 * rule at every window's end, and what fired is read back and set against
 * the run's faults.
 *
 * Design notes.
 * 1. promtool only says what fired when a test fails, so the test file
 *    expects no alert at every evaluation: each "got" in its report is an
 *    alert firing then (pending ones are not listed, as on a real
 *    Alertmanager).  Exit 0 from promtool means nothing fired.
 * 2. Virtual time is Prometheus time: the run starts at the Unix epoch,
 *    which is also where metrics.om's timestamps count from, and the
 *    test's interval is the series' window.  Sample k (the end of window
 *    k) is at (k + 1) x window: index k + 1 of `values`, index 0 being '_'
 *    (no sample at the start).  A last window cut short by the run's end
 *    goes to the next grid point, the only place promtool can put it.
 * 3. promtool's times are whole milliseconds: a window that is not is
 *    refused (run again with --window).
 * 4. The alert names come from the rules file's `alert:` lines (promtool
 *    checks the file first, so they are a valid rule set's). */
#include "sim/cli/cli.h"
#include "sim/jsonv.h"
#include "sim/time.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Series {
    char *name;             /* the sample's name with its labels, as in metrics.om */
    GPtrArray *values;      /* of char*, by grid index; NULL: no sample ('_') */
} Series;

static void series_free(gpointer p)
{
    Series *s = p;
    g_free(s->name);
    g_ptr_array_unref(s->values);
    g_free(s);
}

typedef struct Firing {
    char *alert, *labels;
    int64_t at_ms;
} Firing;

static void firing_free(gpointer p)
{
    Firing *f = p;
    g_free(f->alert);
    g_free(f->labels);
    g_free(f);
}

/* Reads metrics.om into @series (in order of first appearance) with the
 * grid of @interval_ns.  Returns the last grid index, or -1 with a message
 * printed. */
static int64_t read_om(const char *path, const char *text, int64_t interval_ns, GPtrArray *series)
{
    g_autoptr(GHashTable) by_name = g_hash_table_new(g_str_hash, g_str_equal);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    int64_t last = 0;
    for (int i = 0; lines[i]; i++) {
        char *l = lines[i];
        if (!*l || l[0] == '#')
            continue;
        char *ts = strrchr(l, ' ');
        if (!ts || ts == l) {
            fprintf(stderr, "faultline alerts: %s:%d: expected \"name value timestamp\"\n", path, i + 1);
            return -1;
        }
        *ts++ = '\0';
        char *val = strrchr(l, ' ');
        if (!val) {
            fprintf(stderr, "faultline alerts: %s:%d: expected \"name value timestamp\"\n", path, i + 1);
            return -1;
        }
        *val++ = '\0';
        char *end = NULL;
        double t = g_ascii_strtod(ts, &end);
        if (*end || t < 0 || !isfinite(t)) {
            fprintf(stderr, "faultline alerts: %s:%d: expected a timestamp in seconds, got \"%s\"\n",
                    path, i + 1, ts);
            return -1;
        }
        int64_t t_ns = (int64_t)llround(t * 1e9);
        int64_t k = (t_ns + interval_ns - 1) / interval_ns;   /* note 2 */
        Series *s = g_hash_table_lookup(by_name, l);
        if (!s) {
            s = g_new0(Series, 1);
            s->name = g_strdup(l);
            s->values = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(series, s);
            g_hash_table_insert(by_name, s->name, s);
        }
        while ((int64_t)s->values->len <= k)
            g_ptr_array_add(s->values, NULL);
        g_free(g_ptr_array_index(s->values, k));
        g_ptr_array_index(s->values, k) = g_strdup(val);
        if (k > last)
            last = k;
    }
    return last;
}

/* The `alert:` names of @rules' text, in order, once each (note 4). */
static GPtrArray *alert_names(const char *text)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        char *l = g_strstrip(lines[i]);
        if (l[0] == '-')
            l = g_strchug(l + 1);
        if (!g_str_has_prefix(l, "alert:"))
            continue;
        char *n = g_strstrip(l + 6);
        size_t len = strlen(n);
        if (len >= 2 && (n[0] == '"' || n[0] == '\'') && n[len - 1] == n[0]) {
            n[len - 1] = '\0';
            n++;
        }
        bool seen = false;
        for (guint j = 0; j < names->len; j++)
            seen = seen || strcmp(g_ptr_array_index(names, j), n) == 0;
        if (*n && !seen)
            g_ptr_array_add(names, g_strdup(n));
    }
    return names;
}

/* A Prometheus duration as promtool prints it ("1m2s300ms", "500ms",
 * "0s") in ms, or -1. */
static int64_t prom_ms(const char *s)
{
    int64_t total = 0;
    while (*s) {
        char *end = NULL;
        int64_t v = g_ascii_strtoll(s, &end, 10);
        if (end == s)
            return -1;
        s = end;
        int64_t unit;
        if (g_str_has_prefix(s, "ms")) { unit = 1; s += 2; }
        else if (*s == 's') { unit = 1000; s++; }
        else if (*s == 'm') { unit = 60000; s++; }
        else if (*s == 'h') { unit = 3600000; s++; }
        else if (*s == 'd') { unit = 86400000; s++; }
        else if (*s == 'w') { unit = 7 * 86400000LL; s++; }
        else if (*s == 'y') { unit = 365 * 86400000LL; s++; }
        else return -1;
        total += v * unit;
    }
    return total;
}

/* promtool's failure report (note 1): each alert that fired, with when. */
static bool parse_report(const char *out, GPtrArray *firings)
{
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    g_autofree char *alert = NULL;
    int64_t at = -1;
    bool in_got = false;
    for (int i = 0; lines[i]; i++) {
        char *l = g_strstrip(lines[i]);
        if (g_str_has_prefix(l, "alertname: ")) {
            char *comma = strstr(l, ", time: ");
            if (!comma)
                return false;
            g_free(alert);
            alert = g_strndup(l + 11, (gsize)(comma - l - 11));
            char *t = comma + 8;
            char *c2 = strchr(t, ',');
            g_autofree char *ts = c2 ? g_strndup(t, (gsize)(c2 - t)) : g_strdup(t);
            at = prom_ms(g_strstrip(ts));
            if (at < 0)
                return false;
            in_got = false;
        } else if (g_str_has_prefix(l, "got:")) {
            in_got = true;
        } else if (in_got && alert && g_str_has_prefix(l, "Labels:")) {
            Firing *f = g_new0(Firing, 1);
            f->alert = g_strdup(alert);
            f->labels = g_strdup(l + 7);
            f->at_ms = at;
            g_ptr_array_add(firings, f);
        }
    }
    return true;
}

static int cmp_firing(gconstpointer a, gconstpointer b)
{
    const Firing *x = *(Firing *const *)a, *y = *(Firing *const *)b;
    int c = strcmp(x->alert, y->alert);
    if (c)
        return c;
    c = strcmp(x->labels, y->labels);
    if (c)
        return c;
    return x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms;
}

static char *read_text(const char *dir, const char *name, const char *hint)
{
    g_autofree char *path = dir ? g_build_filename(dir, name, NULL) : g_strdup(name);
    char *text = NULL;
    g_autoptr(GError) err = NULL;
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        fprintf(stderr, "faultline alerts: %s: cannot read it%s: %s\n", path, hint, err->message);
        return NULL;
    }
    return text;
}

static const char *ms_text(int64_t ns, char *buf)
{
    g_snprintf(buf, 32, "%.3fs", (double)ns / 1e9);
    return buf;
}

/* Runs promtool with @args; its output in *@out (stdout then stderr). */
static bool spawn(char **args, char **out, int *status)
{
    g_autofree char *o = NULL, *e = NULL;
    g_autoptr(GError) err = NULL;
    if (!g_spawn_sync(NULL, args, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &o, &e, status, &err)) {
        fprintf(stderr, "faultline alerts: cannot run %s: %s\n", args[0], err->message);
        return false;
    }
    *out = g_strconcat(o ? o : "", e ? e : "", NULL);
    return true;
}

int fl_cmd_alerts(int argc, char **argv)
{
    g_autofree char *rules = NULL;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        { "rules", 'r', 0, G_OPTION_ARG_FILENAME, &rules, "Prometheus alerting rules (YAML, as for rule_files)", "FILE" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the last line", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("RUN_DIR");
    g_option_context_set_summary(ctx,
        "Evaluates Prometheus alerting rules against a run's time series with\n"
        "Prometheus' own engine: RUN_DIR/metrics.om (written by `faultline run`)\n"
        "becomes the input_series of a `promtool test rules` file (virtual time\n"
        "from the Unix epoch, one sample per window, the window as interval and\n"
        "evaluation_interval), promtool evaluates every rule at every window's\n"
        "end, and faultline reports which alerts fired, from when to when, how\n"
        "long after the fault before them, and per fault the first alert after\n"
        "it.  Writes RUN_DIR/alerts.json and RUN_DIR/alerts-test.yml (the test\n"
        "file, to rerun with promtool by hand).\n"
        "\n"
        "When the run's scenario has expect.alerts, it is judged here:\n"
        "  \"fire\": [{\"alert\": NAME, \"within\": DURATION}]  NAME fires within\n"
        "    DURATION of every fault's start (a run without faults: not judged);\n"
        "  \"quiet\": true  no alert fires at all (a calm run).\n"
        "\n"
        "Needs promtool, from the Debian package `prometheus`.  The last line is\n"
        "\"alerts=N expect=met|not-met|none\".\n"
        "\n"
        "Exit status: 0 (expectations met, or none), 1 expect.alerts not met,\n"
        "2 bad usage or input, promtool missing or refusing the rules.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!fl_cli_parse(ctx, &argc, &argv, "alerts"))
        return 2;
    if (argc != 2 || !rules) {
        fprintf(stderr, "faultline alerts: expected a run's folder and --rules FILE "
                        "(see faultline alerts --help)\n");
        return 2;
    }
    const char *dir = argv[1];
    g_autofree char *promtool = g_find_program_in_path("promtool");
    if (!promtool) {
        fprintf(stderr, "faultline alerts: promtool not found: install the Debian package "
                        "`prometheus` (apt-get install prometheus), which provides it\n");
        return 2;
    }
    g_autofree char *rules_text = read_text(NULL, rules, "");
    if (!rules_text)
        return 2;
    const char *hint = " (a folder `faultline run` wrote)";
    g_autofree char *om = read_text(dir, "metrics.om", hint);
    g_autofree char *mj = om ? read_text(dir, "metrics.json", hint) : NULL;
    g_autofree char *tsl = mj ? read_text(dir, "timeseries.jsonl", hint) : NULL;
    g_autofree char *scj = tsl ? read_text(dir, "scenario.json", hint) : NULL;
    if (!scj)
        return 2;
    g_autofree char *rules_abs = g_canonicalize_filename(rules, NULL);
    {
        char *args[] = { promtool, "check", "rules", rules_abs, NULL };
        g_autofree char *out = NULL;
        int st;
        if (!spawn(args, &out, &st))
            return 2;
        if (!g_spawn_check_wait_status(st, NULL)) {
            fprintf(stderr, "faultline alerts: %s: promtool check rules refused it:\n%s", rules, out);
            return 2;
        }
    }
    g_autoptr(GPtrArray) names = alert_names(rules_text);
    if (names->len == 0) {
        fprintf(stderr, "faultline alerts: %s: expected at least one alerting rule (\"alert: NAME\")\n",
                rules);
        return 2;
    }
    json_error_t jerr;
    json_t *metrics = json_loads(mj, 0, &jerr), *scenario = json_loads(scj, 0, &jerr);
    /* The window: the first line of timeseries.jsonl is window 0. */
    char *nl = strchr(tsl, '\n');
    if (nl)
        *nl = '\0';
    json_t *w0 = json_loads(tsl, 0, &jerr);
    int64_t interval_ns = json_integer_value(json_object_get(w0, "t1_ns")) -
                          json_integer_value(json_object_get(w0, "t0_ns"));
    json_decref(w0);
    if (!metrics || !scenario || interval_ns <= 0) {
        fprintf(stderr, "faultline alerts: %s: expected metrics.json, scenario.json and "
                        "timeseries.jsonl as `faultline run` writes them\n", dir);
        json_decref(metrics);
        json_decref(scenario);
        return 2;
    }
    int status = 2;
    g_autoptr(GPtrArray) series = g_ptr_array_new_with_free_func(series_free);
    g_autoptr(GPtrArray) firings = g_ptr_array_new_with_free_func(firing_free);
    g_autoptr(GString) y = g_string_new(NULL);
    g_autofree char *om_path = g_build_filename(dir, "metrics.om", NULL);
    g_autofree char *test_path = g_build_filename(dir, "alerts-test.yml", NULL);
    json_t *report = NULL;
    if (interval_ns % 1000000 != 0) {
        char a[32];
        fprintf(stderr, "faultline alerts: %s: windows of %s: promtool's times are whole "
                        "milliseconds; run again with --window in whole ms\n",
                dir, fl_duration_format((FlDuration)interval_ns, a));
        goto done;
    }
    int64_t last = read_om(om_path, om, interval_ns, series);
    if (last < 0)
        goto done;
    int64_t iv_ms = interval_ns / 1000000;
    /* Note 1: no alert expected at any window's end. */
    g_string_append_printf(y, "# Generated by faultline alerts from %s: promtool test rules %s\n"
                           "rule_files:\n  - '%s'\nevaluation_interval: %" PRId64 "ms\n"
                           "tests:\n  - interval: %" PRId64 "ms\n    input_series:\n",
                           om_path, test_path, rules_abs, iv_ms, iv_ms);
    for (guint i = 0; i < series->len; i++) {
        Series *s = g_ptr_array_index(series, i);
        g_string_append(y, "      - series: '");
        for (const char *c = s->name; *c; c++)
            g_string_append(y, *c == '\'' ? "''" : (char[]){ *c, 0 });
        g_string_append(y, "'\n        values: '");
        for (int64_t k = 0; k <= last; k++) {
            const char *v = k < (int64_t)s->values->len ? g_ptr_array_index(s->values, k) : NULL;
            g_string_append_printf(y, "%s%s", k ? " " : "", v ? v : "_");
        }
        g_string_append(y, "'\n");
    }
    g_string_append(y, "    alert_rule_test:\n");
    for (int64_t k = 1; k <= last; k++)
        for (guint a = 0; a < names->len; a++)
            g_string_append_printf(y, "      - { eval_time: %" PRId64 "ms, alertname: '%s', exp_alerts: [] }\n",
                                   k * iv_ms, (char *)g_ptr_array_index(names, a));
    {
        g_autoptr(GError) err = NULL;
        if (!g_file_set_contents(test_path, y->str, (gssize)y->len, &err)) {
            fprintf(stderr, "faultline alerts: %s\n", err->message);
            goto done;
        }
        char *args[] = { promtool, "test", "rules", test_path, NULL };
        g_autofree char *out = NULL;
        int st;
        if (!spawn(args, &out, &st))
            goto done;
        bool passed = g_spawn_check_wait_status(st, NULL);
        if (!passed && (!strstr(out, "FAILED:") || !parse_report(out, firings) || firings->len == 0)) {
            fprintf(stderr, "faultline alerts: promtool test rules %s failed:\n%s", test_path, out);
            goto done;
        }
    }
    g_ptr_array_sort(firings, cmp_firing);

    /* Episodes: one alert with one label set at consecutive evaluations. */
    json_t *faults = json_object_get(json_object_get(metrics, "sla"), "faults");
    if (!faults)
        faults = json_array();
    else
        json_incref(faults);
    json_t *episodes = json_array();
    for (guint i = 0; i < firings->len;) {
        Firing *f = g_ptr_array_index(firings, i);
        guint j = i + 1;
        while (j < firings->len) {
            Firing *g = g_ptr_array_index(firings, j), *p = g_ptr_array_index(firings, j - 1);
            if (strcmp(g->alert, f->alert) || strcmp(g->labels, f->labels) || g->at_ms != p->at_ms + iv_ms)
                break;
            j++;
        }
        Firing *e = g_ptr_array_index(firings, j - 1);
        int64_t from_ns = f->at_ms * 1000000, to_ns = e->at_ms * 1000000;
        /* The latest fault that started at or before it. */
        json_t *fault = NULL;
        size_t fi;
        json_t *ft;
        json_array_foreach(faults, fi, ft)
            if (json_integer_value(json_object_get(ft, "start_ns")) <= from_ns)
                fault = ft;
        json_t *ep = json_pack("{s:s,s:s,s:I,s:I,s:I}", "alert", f->alert, "labels", f->labels,
                               "from_ns", (json_int_t)from_ns, "to_ns", (json_int_t)to_ns,
                               "evaluations", (json_int_t)(j - i));
        json_object_set_new(ep, "after_fault", fault ? json_incref(json_object_get(fault, "fault")) : json_null());
        json_object_set_new(ep, "after_ns", fault ? json_integer(from_ns - json_integer_value(json_object_get(fault, "start_ns")))
                                                  : json_null());
        json_array_append_new(episodes, ep);
        i = j;
    }
    /* Sorted by when each episode began, then by name: the order a pager
     * would have rung. */
    size_t ne = json_array_size(episodes);
    for (size_t a = 1; a < ne; a++)
        for (size_t b = a; b > 0; b--) {
            json_t *x = json_array_get(episodes, b - 1), *z = json_array_get(episodes, b);
            if (json_integer_value(json_object_get(x, "from_ns")) <= json_integer_value(json_object_get(z, "from_ns")))
                break;
            json_incref(x);
            json_array_set(episodes, b - 1, z);
            json_array_set_new(episodes, b, x);
        }
    json_t *per_fault = json_array();
    size_t fi;
    json_t *ft;
    json_array_foreach(faults, fi, ft) {
        int64_t s = json_integer_value(json_object_get(ft, "start_ns"));
        json_t *first = NULL;
        size_t k;
        json_t *ep;
        json_array_foreach(episodes, k, ep)
            if (json_integer_value(json_object_get(ep, "from_ns")) >= s) {
                first = ep;
                break;
            }
        json_t *o = json_pack("{s:O,s:O,s:O,s:I}", "fault", json_object_get(ft, "fault"), "kind",
                              json_object_get(ft, "kind"), "what", json_object_get(ft, "what"),
                              "start_ns", (json_int_t)s);
        json_object_set_new(o, "first_alert", first ? json_incref(json_object_get(first, "alert")) : json_null());
        json_object_set_new(o, "first_alert_ns", first ? json_integer(json_integer_value(json_object_get(first, "from_ns")) - s)
                                                       : json_null());
        json_array_append_new(per_fault, o);
    }
    json_decref(faults);

    /* expect.alerts (judged here: the rules are not part of the scenario). */
    json_t *ea = json_object_get(json_object_get(scenario, "expect"), "alerts");
    json_t *unmet = json_array();
    if (ea) {
        if (json_is_true(json_object_get(ea, "quiet")) && ne)
            json_array_append_new(unmet, json_sprintf("quiet: expected no alert to fire, %s fired first at %s",
                                                      json_string_value(json_object_get(json_array_get(episodes, 0), "alert")),
                                                      ms_text(json_integer_value(json_object_get(json_array_get(episodes, 0), "from_ns")), (char[32]){ 0 })));
        size_t k;
        json_t *want;
        json_array_foreach(json_object_get(ea, "fire"), k, want) {
            const char *name = json_string_value(json_object_get(want, "alert"));
            /* scenario.json keeps durations as text ("2s"): read back as
             * the scenario loader reads them. */
            FlDuration within = 0;
            g_autoptr(GError) werr = NULL;
            FlJv jv = { .file = "scenario.json", .err = &werr };
            if (!name || !fl_jv_duration_value(&jv, json_object_get(want, "within"),
                                               "/expect/alerts/fire", 0, &within)) {
                fprintf(stderr, "faultline alerts: %s/scenario.json: /expect/alerts/fire/%zu: expected "
                                "{\"alert\": NAME, \"within\": DURATION}\n", dir, k);
                json_decref(unmet);
                json_decref(episodes);
                json_decref(per_fault);
                goto done;
            }
            json_array_foreach(per_fault, fi, ft) {
                int64_t s = json_integer_value(json_object_get(ft, "start_ns"));
                int64_t best = -1;
                size_t e;
                json_t *ep;
                json_array_foreach(episodes, e, ep) {
                    int64_t t = json_integer_value(json_object_get(ep, "from_ns"));
                    if (t >= s && strcmp(json_string_value(json_object_get(ep, "alert")), name) == 0) {
                        best = t - s;
                        break;
                    }
                }
                if (best < 0 || best > (int64_t)within) {
                    char a[32], b[32], c[32];
                    json_array_append_new(unmet, json_sprintf(
                        "fire: expected %s within %s of fault %" JSON_INTEGER_FORMAT " (%s at %s), %s%s",
                        name, fl_duration_format((FlDuration)within, a),
                        json_integer_value(json_object_get(ft, "fault")),
                        json_string_value(json_object_get(ft, "kind")), ms_text(s, b),
                        best < 0 ? "it never fired after it" : "it fired after ",
                        best < 0 ? "" : ms_text(best, c)));
                }
            }
        }
    }
    report = json_pack("{s:s,s:I,s:o,s:o,s:s,s:o}", "rules", rules_abs, "interval_ns",
                       (json_int_t)interval_ns, "alerts", episodes, "faults", per_fault, "expect",
                       !ea ? "none" : json_array_size(unmet) ? "not-met" : "met", "unmet", unmet);
    {
        g_autofree char *path = g_build_filename(dir, "alerts.json", NULL);
        char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        g_autofree char *text = g_strdup_printf("%s\n", s);
        free(s);
        g_autoptr(GError) err = NULL;
        if (!g_file_set_contents(path, text, -1, &err)) {
            fprintf(stderr, "faultline alerts: %s\n", err->message);
            goto done;
        }
    }
    if (!quiet) {
        char a[32], b[32], c[32];
        printf("faultline alerts %s --rules %s: %u rule%s evaluated every %s by promtool\n", dir, rules,
               names->len, names->len == 1 ? "" : "s", fl_duration_format((FlDuration)interval_ns, a));
        size_t k;
        json_t *ep;
        json_array_foreach(episodes, k, ep) {
            json_t *af = json_object_get(ep, "after_fault");
            printf("  fired     %s %s from %s to %s", json_string_value(json_object_get(ep, "alert")),
                   json_string_value(json_object_get(ep, "labels")),
                   ms_text(json_integer_value(json_object_get(ep, "from_ns")), a),
                   ms_text(json_integer_value(json_object_get(ep, "to_ns")), b));
            if (json_is_integer(af))
                printf(", %s after fault %" JSON_INTEGER_FORMAT "\n",
                       ms_text(json_integer_value(json_object_get(ep, "after_ns")), c), json_integer_value(af));
            else
                printf(", before any fault\n");
        }
        if (!ne)
            printf("  fired     none\n");
        json_array_foreach(per_fault, k, ep) {
            json_t *fa = json_object_get(ep, "first_alert");
            printf("  fault %" JSON_INTEGER_FORMAT "   %s %s at %s: ", json_integer_value(json_object_get(ep, "fault")),
                   json_string_value(json_object_get(ep, "kind")), json_string_value(json_object_get(ep, "what")),
                   ms_text(json_integer_value(json_object_get(ep, "start_ns")), a));
            if (json_is_string(fa))
                printf("first alert %s after %s\n", json_string_value(fa),
                       ms_text(json_integer_value(json_object_get(ep, "first_alert_ns")), b));
            else
                printf("no alert after it\n");
        }
        json_array_foreach(unmet, k, ep)
            printf("  expect    NOT MET: %s\n", json_string_value(ep));
    }
    printf("alerts=%zu expect=%s\n", ne, json_string_value(json_object_get(report, "expect")));
    status = json_array_size(unmet) ? 1 : 0;
done:
    json_decref(report);
    json_decref(metrics);
    json_decref(scenario);
    return status;
}
