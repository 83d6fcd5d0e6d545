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
#include "sim/cli/export.h"
#include "sim/scenario.h"
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
 * grid of @interval_ns.  Returns the last grid index, or -1 with @err
 * set. */
static int64_t read_om(const char *path, const char *text, int64_t interval_ns, GPtrArray *series,
                       GError **err)
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
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s:%d: expected \"name value timestamp\"",
                        path, i + 1);
            return -1;
        }
        *ts++ = '\0';
        char *val = strrchr(l, ' ');
        if (!val) {
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s:%d: expected \"name value timestamp\"",
                        path, i + 1);
            return -1;
        }
        *val++ = '\0';
        char *end = NULL;
        double t = g_ascii_strtod(ts, &end);
        if (*end || t < 0 || !isfinite(t)) {
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s:%d: expected a timestamp in seconds, got \"%s\"",
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

static char *read_text(const char *dir, const char *name, const char *hint, GError **err)
{
    g_autofree char *path = dir ? g_build_filename(dir, name, NULL) : g_strdup(name);
    char *text = NULL;
    g_autoptr(GError) e = NULL;
    if (!g_file_get_contents(path, &text, NULL, &e)) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: cannot read it%s: %s", path, hint, e->message);
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
static bool spawn(char **args, char **out, int *status, GError **err)
{
    g_autofree char *o = NULL, *e = NULL;
    g_autoptr(GError) serr = NULL;
    if (!g_spawn_sync(NULL, args, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &o, &e, status, &serr)) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "cannot run %s: %s", args[0], serr->message);
        return false;
    }
    *out = g_strconcat(o ? o : "", e ? e : "", NULL);
    return true;
}

/* Evaluates the rules file @rules over a run: @om, its metrics.om text
 * (@om_path names it in the test file and in messages), with windows of
 * @interval_ns, and the faults of @metrics' "sla" (borrowed); judges @ea,
 * the resolved expect.alerts (borrowed; NULL: none).  Writes
 * DIR/alerts-test.yml and DIR/alerts.json, prints the report on @out
 * (NULL: nothing).  Returns alerts.json's content (transfer full), or
 * NULL with @err set: promtool missing, failing or refusing the rules,
 * or a run it cannot read.  `faultline alerts` and the judge fl_run calls
 * (fl_alerts_judge) share it: one copy of the evaluation. */
static json_t *evaluate(const char *dir, const char *rules, const char *om, const char *om_path,
                        json_t *metrics, int64_t interval_ns, json_t *ea, FILE *out, GError **err)
{
    g_autofree char *promtool = g_find_program_in_path("promtool");
    if (!promtool) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "promtool not found: install the Debian package "
                    "`prometheus` (apt-get install prometheus), which provides it");
        return NULL;
    }
    g_autofree char *rules_text = read_text(NULL, rules, "", err);
    if (!rules_text)
        return NULL;
    g_autofree char *rules_abs = g_canonicalize_filename(rules, NULL);
    {
        char *args[] = { promtool, "check", "rules", rules_abs, NULL };
        g_autofree char *pout = NULL;
        int st;
        if (!spawn(args, &pout, &st, err))
            return NULL;
        if (!g_spawn_check_wait_status(st, NULL)) {
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: promtool check rules refused it:\n%s",
                        rules, pout);
            return NULL;
        }
    }
    g_autoptr(GPtrArray) names = alert_names(rules_text);
    if (names->len == 0) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT,
                    "%s: expected at least one alerting rule (\"alert: NAME\")", rules);
        return NULL;
    }
    if (interval_ns % 1000000 != 0) {
        char a[32];
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: windows of %s: promtool's times are whole "
                    "milliseconds; run again with --window in whole ms", dir,
                    fl_duration_format((FlDuration)interval_ns, a));
        return NULL;
    }
    g_autoptr(GPtrArray) series = g_ptr_array_new_with_free_func(series_free);
    g_autoptr(GPtrArray) firings = g_ptr_array_new_with_free_func(firing_free);
    g_autoptr(GString) y = g_string_new(NULL);
    g_autofree char *test_path = g_build_filename(dir, "alerts-test.yml", NULL);
    int64_t last = read_om(om_path, om, interval_ns, series, err);
    if (last < 0)
        return NULL;
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
        if (!g_file_set_contents(test_path, y->str, (gssize)y->len, err))
            return NULL;
        char *args[] = { promtool, "test", "rules", test_path, NULL };
        g_autofree char *pout = NULL;
        int st;
        if (!spawn(args, &pout, &st, err))
            return NULL;
        bool passed = g_spawn_check_wait_status(st, NULL);
        if (!passed && (!strstr(pout, "FAILED:") || !parse_report(pout, firings) || firings->len == 0)) {
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "promtool test rules %s failed:\n%s",
                        test_path, pout);
            return NULL;
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

    /* expect.alerts. */
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
                g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s/scenario.json: /expect/alerts/fire/%zu: "
                            "expected {\"alert\": NAME, \"within\": DURATION}", dir, k);
                json_decref(unmet);
                json_decref(episodes);
                json_decref(per_fault);
                return NULL;
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
    json_t *report = json_pack("{s:s,s:I,s:o,s:o,s:s,s:o}", "rules", rules_abs, "interval_ns",
                       (json_int_t)interval_ns, "alerts", episodes, "faults", per_fault, "expect",
                       !ea ? "none" : json_array_size(unmet) ? "not-met" : "met", "unmet", unmet);
    {
        g_autofree char *path = g_build_filename(dir, "alerts.json", NULL);
        char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        g_autofree char *text = g_strdup_printf("%s\n", s);
        free(s);
        if (!g_file_set_contents(path, text, -1, err)) {
            json_decref(report);
            return NULL;
        }
    }
    if (out) {
        char a[32], b[32], c[32];
        fprintf(out, "faultline alerts %s --rules %s: %u rule%s evaluated every %s by promtool\n", dir, rules,
               names->len, names->len == 1 ? "" : "s", fl_duration_format((FlDuration)interval_ns, a));
        size_t k;
        json_t *ep;
        json_array_foreach(episodes, k, ep) {
            json_t *af = json_object_get(ep, "after_fault");
            fprintf(out, "  fired     %s %s from %s to %s", json_string_value(json_object_get(ep, "alert")),
                   json_string_value(json_object_get(ep, "labels")),
                   ms_text(json_integer_value(json_object_get(ep, "from_ns")), a),
                   ms_text(json_integer_value(json_object_get(ep, "to_ns")), b));
            if (json_is_integer(af))
                fprintf(out, ", %s after fault %" JSON_INTEGER_FORMAT "\n",
                       ms_text(json_integer_value(json_object_get(ep, "after_ns")), c), json_integer_value(af));
            else
                fprintf(out, ", before any fault\n");
        }
        if (!ne)
            fprintf(out, "  fired     none\n");
        json_array_foreach(per_fault, k, ep) {
            json_t *fa = json_object_get(ep, "first_alert");
            fprintf(out, "  fault %" JSON_INTEGER_FORMAT "   %s %s at %s: ", json_integer_value(json_object_get(ep, "fault")),
                   json_string_value(json_object_get(ep, "kind")), json_string_value(json_object_get(ep, "what")),
                   ms_text(json_integer_value(json_object_get(ep, "start_ns")), a));
            if (json_is_string(fa))
                fprintf(out, "first alert %s after %s\n", json_string_value(fa),
                       ms_text(json_integer_value(json_object_get(ep, "first_alert_ns")), b));
            else
                fprintf(out, "no alert after it\n");
        }
        json_array_foreach(unmet, k, ep)
            fprintf(out, "  expect    NOT MET: %s\n", json_string_value(ep));
    }
    return report;
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
        "A scenario whose expect.alerts names its \"rules\" file is judged by\n"
        "`run`, `fuzz` and `claims` too, when promtool is installed.\n"
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
    /* promtool first: the likelier mistake, and the message says how to
     * install it. */
    g_autofree char *promtool = g_find_program_in_path("promtool");
    if (!promtool) {
        fprintf(stderr, "faultline alerts: promtool not found: install the Debian package "
                        "`prometheus` (apt-get install prometheus), which provides it\n");
        return 2;
    }
    g_autoptr(GError) err = NULL;
    const char *hint = " (a folder `faultline run` wrote)";
    g_autofree char *om = NULL, *mj = NULL, *tsl = NULL, *scj = NULL;
    if (!(om = read_text(dir, "metrics.om", hint, &err)) ||
        !(mj = read_text(dir, "metrics.json", hint, &err)) ||
        !(tsl = read_text(dir, "timeseries.jsonl", hint, &err)) ||
        !(scj = read_text(dir, "scenario.json", hint, &err))) {
        fprintf(stderr, "faultline alerts: %s\n", err->message);
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
    int status = 2;
    g_autofree char *om_path = g_build_filename(dir, "metrics.om", NULL);
    json_t *report = NULL;
    if (!metrics || !scenario || interval_ns <= 0) {
        fprintf(stderr, "faultline alerts: %s: expected metrics.json, scenario.json and "
                        "timeseries.jsonl as `faultline run` writes them\n", dir);
        goto done;
    }
    report = evaluate(dir, rules, om, om_path, metrics, interval_ns,
                      json_object_get(json_object_get(scenario, "expect"), "alerts"),
                      quiet ? NULL : stdout, &err);
    if (!report) {
        fprintf(stderr, "faultline alerts: %s\n", err->message);
        goto done;
    }
    printf("alerts=%zu expect=%s\n", json_array_size(json_object_get(report, "alerts")),
           json_string_value(json_object_get(report, "expect")));
    status = json_array_size(json_object_get(report, "unmet")) ? 1 : 0;
done:
    json_decref(report);
    json_decref(metrics);
    json_decref(scenario);
    return status;
}

json_t *fl_alerts_judge(const FlScenario *sc, json_t *windows, json_t *metrics, const char *dir,
                        GPtrArray *unmet, GError **err)
{
    const char *why = NULL;
    g_autofree char *promtool = g_find_program_in_path("promtool");
    if (!sc->expect.alerts_rules)
        why = "the scenario names no rules file (expect.alerts.rules): judge a run with "
              "`faultline alerts RUN_DIR --rules FILE`";
    else if (!promtool)
        why = "promtool not found (Debian package `prometheus`)";
    else if (!json_array_size(windows))
        why = "the run has no time series (explore mode)";
    if (why)
        return json_pack("{s:b,s:s}", "judged", false, "why", why);
    g_autofree char *tmp = NULL;
    if (!dir) {
        tmp = g_dir_make_tmp("faultline-alerts-XXXXXX", err);
        if (!tmp)
            return NULL;
        dir = tmp;
    }
    json_t *w0 = json_array_get(windows, 0);
    int64_t interval_ns = json_integer_value(json_object_get(w0, "t1_ns")) -
                          json_integer_value(json_object_get(w0, "t0_ns"));
    /* The metrics.om text `run` writes beside it (sim/cli/export.h). */
    g_autofree char *om = fl_export_openmetrics(windows, sc->nodes);
    g_autofree char *om_path = g_build_filename(dir, "metrics.om", NULL);
    json_t *ea = json_object_get(json_object_get(sc->resolved, "expect"), "alerts");
    json_t *report = evaluate(dir, sc->expect.alerts_rules, om, om_path, metrics, interval_ns, ea,
                              NULL, err);
    if (tmp) {
        /* A fuzz or claims run keeps no files. */
        const char *const files[] = { "alerts-test.yml", "alerts.json" };
        for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
            g_autofree char *f = g_build_filename(tmp, files[i], NULL);
            g_unlink(f);
        }
        g_rmdir(tmp);
    }
    if (!report)
        return NULL;
    size_t i;
    json_t *line;
    json_array_foreach(json_object_get(report, "unmet"), i, line)
        g_ptr_array_add(unmet, g_strdup_printf("alerts: %s", json_string_value(line)));
    json_t *summary = json_pack("{s:b,s:s,s:I,s:O,s:O}", "judged", true, "rules",
                                sc->expect.alerts_rules, "fired",
                                (json_int_t)json_array_size(json_object_get(report, "alerts")),
                                "expect", json_object_get(report, "expect"), "unmet",
                                json_object_get(report, "unmet"));
    json_decref(report);
    return summary;
}
