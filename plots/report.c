/* plots/report: the HTML page of a run.
 *
 * 1. Self-contained: styles inline, pictures embedded (PNG as data: URLs,
 *    SVG inline without its XML prologue), no script, nothing fetched.
 * 2. Every text from the run goes through g_markup_escape_text: a scenario
 *    description or a history value may hold "<" or "&".
 * 3. The scenario and metrics are shown field by field as the files hold
 *    them, so fields added later (new faults, counters) appear without a
 *    change here.
 * 4. The checker's own words: metrics.json keeps the counterexample as
 *    data; the explanation a person reads is asked of the checker again on
 *    history.jsonl (it is deterministic), with a time limit, and left out
 *    when it gives no answer in time.
 * 5. When the checker found a violation, the history timeline (which frames
 *    the counterexample) is shown in the counterexample section, right under
 *    its first sentence, rather than with the other pictures. */
#include "plots/report.h"

#include "plots/plot_impl.h"
#include "sim/check/check.h"

#include <string.h>

static const char *const sections[] = { "scenario", "summary", "verdicts", "counterexample", "plots",
                                        NULL };

const char *const *fl_report_sections(void)
{
    return sections;
}

static const char style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0;background:#f4f5f7;color:#1d2330;line-height:1.45}"
    "main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff;"
    "box-shadow:0 0 0 1px #e3e6eb}"
    "h1{font-size:28px;margin:0 0 4px}h1 small{font-size:16px;color:#667;font-weight:normal}"
    "h2{font-size:20px;border-bottom:2px solid #e3e6eb;padding-bottom:4px;margin:32px 0 12px}"
    "h3{font-size:16px;margin:20px 0 8px}"
    "nav a{margin-right:14px;color:#1f5fa8;text-decoration:none;font-size:14px}"
    ".desc{font-size:15px;max-width:900px;color:#333}"
    "table{border-collapse:collapse;font-size:14px;margin:6px 0 10px}"
    "th,td{text-align:left;padding:4px 12px 4px 8px;border-bottom:1px solid #e7e9ee;vertical-align:top}"
    "th{background:#f0f2f5;font-weight:600}"
    "table.kv th{background:none;color:#556;font-weight:600;white-space:nowrap}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "code,pre{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12.5px}"
    "pre{background:#f6f8fa;border:1px solid #e3e6eb;padding:10px 12px;overflow:auto;max-height:420px}"
    ".badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:700;font-size:13px;"
    "color:#fff;background:#8a8f98}"
    ".valid{background:#2e8540}.invalid{background:#c0262d}.unknown{background:#8a8f98}"
    ".met{color:#2e8540;font-weight:600}.unmet{color:#c0262d;font-weight:600}"
    ".swatch{display:inline-block;width:12px;height:12px;border:3px solid;border-radius:2px;"
    "vertical-align:-3px;margin-right:6px}"
    "figure{margin:18px 0 28px}figure img,figure svg{max-width:100%;height:auto;display:block;"
    "border:1px solid #e3e6eb}"
    "figcaption{font-size:14px;color:#333;margin-top:6px;max-width:1000px}"
    "figcaption .note{color:#667}"
    "footer{margin-top:36px;font-size:13px;color:#667}";

static void esc(GString *out, const char *text)
{
    g_autofree char *e = g_markup_escape_text(text ? text : "", -1);
    g_string_append(out, e);
}

static void escf(GString *out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void escf(GString *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *t = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    esc(out, t);
}

/* A JSON value in one line as a person reads it: strings without quotes,
 * reals rounded, objects as "k: v, k: v" ({...} when nested). */
static void show_into(GString *out, json_t *v, int depth)
{
    if (json_is_string(v)) {
        g_string_append(out, json_string_value(v));
    } else if (json_is_real(v)) {
        g_string_append_printf(out, "%.6g", json_real_value(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        bool first = true;
        if (depth)
            g_string_append_c(out, '{');
        json_object_foreach(v, k, x) {
            g_string_append_printf(out, "%s%s: ", first ? "" : ", ", k);
            show_into(out, x, depth + 1);
            first = false;
        }
        if (depth)
            g_string_append_c(out, '}');
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        g_string_append_c(out, '[');
        json_array_foreach(v, i, x) {
            if (i)
                g_string_append(out, ", ");
            show_into(out, x, depth + 1);
        }
        g_string_append_c(out, ']');
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        g_string_append(out, s ? s : "");
        free(s);
    }
}

static char *show(json_t *v)
{
    GString *out = g_string_new(NULL);
    show_into(out, v, 1);
    return g_string_free(out, FALSE);
}

/* Objects without their outer braces. */
static char *show_flat(json_t *v)
{
    GString *out = g_string_new(NULL);
    show_into(out, v, 0);
    return g_string_free(out, FALSE);
}

static const char *dur(json_int_t ns, char *buf)
{
    return fl_plot_duration(ns < 0 ? 0 : (FlTime)ns, buf);
}

static void kv_row(GString *h, const char *key, const char *value)
{
    g_string_append(h, "<tr><th>");
    esc(h, key);
    g_string_append(h, "</th><td>");
    esc(h, value);
    g_string_append(h, "</td></tr>\n");
}

/* Note 3. */
static void section_scenario(GString *h, const FlRunData *rd)
{
    json_t *sc = rd->scenario;
    g_string_append(h, "<section id=\"scenario\"><h2>Scenario</h2>\n");
    json_t *desc = json_object_get(sc, "description");
    if (json_is_string(desc)) {
        g_string_append(h, "<p class=\"desc\">");
        esc(h, json_string_value(desc));
        g_string_append(h, "</p>\n");
    }
    g_string_append(h, "<table class=\"kv\">\n");
    const char *k;
    json_t *v;
    json_object_foreach(sc, k, v) {
        if (strcmp(k, "name") == 0 || strcmp(k, "description") == 0)
            continue;
        if (json_is_array(v) && strcmp(k, "faults") == 0) {
            GString *all = g_string_new(NULL);
            size_t i;
            json_t *f;
            json_array_foreach(v, i, f) {
                g_autofree char *s = show_flat(f);
                g_string_append_printf(all, "%s%s", i ? "\n" : "", s);
            }
            g_string_append(h, "<tr><th>faults</th><td>");
            if (!all->len)
                g_string_append(all, "none");
            g_autofree char *e = g_markup_escape_text(all->str, -1);
            g_autofree char *br = NULL;
            {
                g_auto(GStrv) lines = g_strsplit(e, "\n", -1);
                br = g_strjoinv("<br>", lines);
            }
            g_string_append(h, br);
            g_string_append(h, "</td></tr>\n");
            g_string_free(all, TRUE);
            continue;
        }
        g_autofree char *s = show_flat(v);
        kv_row(h, k, s);
    }
    g_string_append(h, "</table>\n<p>Run it again (the file is the scenario as run, seed fixed): "
                       "<code>faultline run ");
    escf(h, "%s/scenario.json", rd->dir);
    g_string_append(h, "</code></p>\n<details><summary>scenario.json</summary><pre>");
    char *text = json_dumps(sc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    esc(h, text);
    free(text);
    g_string_append(h, "</pre></details>\n</section>\n");
}

static void section_summary(GString *h, const FlRunData *rd)
{
    json_t *m = rd->metrics;
    json_t *ops = json_object_get(m, "ops"), *lat = json_object_get(m, "latency_ns"),
           *msg = json_object_get(m, "messages");
#define I(o, k) json_integer_value(json_object_get(o, k))
    char a[32], b[32], c[32], d[32], e[32];
    g_string_append(h, "<section id=\"summary\"><h2>Summary</h2>\n<table class=\"kv\">\n");
    g_autofree char *opsline = g_strdup_printf(
        "%" JSON_INTEGER_FORMAT " invoked: %" JSON_INTEGER_FORMAT " ok, %" JSON_INTEGER_FORMAT
        " fail, %" JSON_INTEGER_FORMAT " info, %" JSON_INTEGER_FORMAT " open",
        I(ops, "invoked"), I(ops, "ok"), I(ops, "fail"), I(ops, "info"), I(ops, "open"));
    kv_row(h, "operations", opsline);
    g_autofree char *latline = g_strdup_printf(
        "p50 %s · p90 %s · p99 %s · p99.9 %s · max %s (ok operations)", dur(I(lat, "p50"), a),
        dur(I(lat, "p90"), b), dur(I(lat, "p99"), c), dur(I(lat, "p999"), d), dur(I(lat, "max"), e));
    kv_row(h, "latency", latline);
    g_autofree char *rate = g_strdup_printf("%.1f ok operations per second",
                                            json_real_value(json_object_get(m, "throughput_ok_per_s")));
    kv_row(h, "throughput", rate);
    g_autofree char *avail = g_strdup_printf("%.2f%% of operations answered (ok or fail)",
                                             100 * json_real_value(json_object_get(m, "availability")));
    kv_row(h, "availability", avail);
    json_t *sla = json_object_get(m, "sla");
    if (sla) {
        /* sim/sla.h: windows, not requests (README, "Performance and
         * operations"). */
        json_t *mttr = json_object_get(sla, "mttr_ns"), *mtbf = json_object_get(sla, "mtbf_ns");
        g_autofree char *line = g_strdup_printf(
            "%.4g%% of %" JSON_INTEGER_FORMAT " windows of %s with demand up, against %.4g%%%s · "
            "error budget %.0f%% spent · burn rate %.2f · MTTR %s · MTBF %s",
            100 * json_number_value(json_object_get(sla, "availability")), I(sla, "demand_windows"),
            dur(I(sla, "window_ns"), a), 100 * json_number_value(json_object_get(sla, "target")),
            json_is_true(json_object_get(sla, "claimed")) ? " (expect.sla)" : " (default, not claimed)",
            100 * json_number_value(json_object_get(json_object_get(sla, "error_budget"), "spent")),
            json_number_value(json_object_get(sla, "burn_rate")),
            json_is_integer(mttr) ? dur(json_integer_value(mttr), b) : "-",
            json_is_integer(mtbf) ? dur(json_integer_value(mtbf), c) : "-");
        kv_row(h, "SLA", line);
    }
    g_autofree char *msgs = g_strdup_printf("%" JSON_INTEGER_FORMAT " sent, %" JSON_INTEGER_FORMAT
                                            " delivered, %" JSON_INTEGER_FORMAT " dropped",
                                            I(msg, "sent"), I(msg, "delivered"), I(msg, "dropped"));
    kv_row(h, "messages", msgs);
    g_autofree char *events = g_strdup_printf("%" JSON_INTEGER_FORMAT " over %s of virtual time",
                                              I(m, "events"), dur(I(m, "virtual_time_ns"), a));
    kv_row(h, "events", events);
    json_t *counters = json_object_get(m, "counters");
    if (json_object_size(counters)) {
        g_autofree char *s = show_flat(counters);
        kv_row(h, "counters", s);
    }
    json_t *hash = json_object_get(m, "trace_hash");
    kv_row(h, "trace hash", json_is_string(hash) ? json_string_value(hash) : "?");
    g_string_append(h, "</table>\n<h3>Faults</h3>\n");
    if (rd->faults->len == 0) {
        g_string_append(h, "<p>None.</p>\n");
    } else {
        g_string_append(h, "<table><tr><th>kind</th><th>what</th><th>from</th><th>to</th>"
                           "<th>lasted</th></tr>\n");
        for (guint i = 0; i < rd->faults->len; i++) {
            const FlFaultSpan *f = &g_array_index(rd->faults, FlFaultSpan, i);
            g_string_append(h, "<tr><td>");
            esc(h, f->kind);
            g_string_append(h, "</td><td>");
            esc(h, f->what);
            g_string_append_printf(h, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                                   "<td class=\"num\">%s</td></tr>\n", fl_plot_duration(f->start, a),
                                   fl_plot_duration(f->stop, b), fl_plot_duration(f->stop - f->start, c));
        }
        g_string_append(h, "</table>\n");
    }
    json_t *sf = json_object_get(sla, "faults");
    if (json_array_size(sf)) {
        g_string_append(h, "<h3>What each fault cost</h3>\n<table><tr><th>kind</th><th>what</th>"
                           "<th>at</th><th>detected after</th><th>recovered after</th>"
                           "<th>stable leader after</th></tr>\n");
        size_t i;
        json_t *f;
        json_array_foreach(sf, i, f) {
            json_t *v[3] = { json_object_get(f, "detect_ns"), json_object_get(f, "recover_ns"),
                             json_object_get(f, "leader_ns") };
            g_string_append(h, "<tr><td>");
            esc(h, json_string_value(json_object_get(f, "kind")));
            g_string_append(h, "</td><td>");
            esc(h, json_string_value(json_object_get(f, "what")));
            g_string_append_printf(h, "</td><td class=\"num\">%s</td>", dur(I(f, "start_ns"), a));
            for (int k = 0; k < 3; k++)
                g_string_append_printf(h, "<td class=\"num\">%s</td>",
                                       json_is_integer(v[k]) ? dur(json_integer_value(v[k]), b)
                                       : v[k] ? "never" : "-");
            g_string_append(h, "</tr>\n");
        }
        g_string_append(h, "</table>\n");
    }
    g_string_append(h, "</section>\n");
#undef I
}

/* Every checker's entry: "checks" (a list) when a later engine writes
 * several, else "check". */
static GPtrArray *checks_of(json_t *m)
{
    GPtrArray *out = g_ptr_array_new();
    json_t *list = json_object_get(m, "checks"), *one = json_object_get(m, "check");
    if (json_is_array(list)) {
        size_t i;
        json_t *c;
        json_array_foreach(list, i, c) g_ptr_array_add(out, c);
    } else if (json_is_object(one)) {
        g_ptr_array_add(out, one);
    }
    return out;
}

static void badge(GString *h, const char *verdict)
{
    const char *cls = strcmp(verdict, "valid") == 0 ? "valid" : strcmp(verdict, "invalid") == 0
                      ? "invalid" : "unknown";
    g_string_append_printf(h, "<span class=\"badge %s\">", cls);
    esc(h, verdict);
    g_string_append(h, "</span>");
}

static const char *str(json_t *o, const char *k, const char *dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static void section_verdicts(GString *h, const FlRunData *rd, GPtrArray *checks)
{
    g_string_append(h, "<section id=\"verdicts\"><h2>Verdicts</h2>\n");
    if (checks->len == 0) {
        g_string_append(h, "<p>The scenario asks for no check.</p>\n");
    } else {
        g_string_append(h, "<table><tr><th>consistency</th><th>model</th><th>verdict</th>"
                           "<th>operations</th><th>keys</th><th>search steps</th></tr>\n");
        for (guint i = 0; i < checks->len; i++) {
            json_t *c = g_ptr_array_index(checks, i), *r = json_object_get(c, "result");
            g_string_append(h, "<tr><td>");
            esc(h, str(c, "consistency", "?"));
            g_string_append(h, "</td><td>");
            esc(h, str(c, "model", "?"));
            g_string_append(h, "</td><td>");
            badge(h, str(c, "verdict", "unknown"));
            g_string_append(h, "</td>");
            static const char *const nums[] = { "operations", "keys", "steps" };
            for (int k = 0; k < 3; k++) {
                json_t *n = json_object_get(r, nums[k]);
                if (json_is_integer(n))
                    g_string_append_printf(h, "<td class=\"num\">%" JSON_INTEGER_FORMAT "</td>",
                                           json_integer_value(n));
                else
                    g_string_append(h, "<td class=\"num\">–</td>");
            }
            g_string_append(h, "</tr>\n");
        }
        g_string_append(h, "</table>\n");
    }
    json_t *expect = json_object_get(rd->metrics, "expect"), *unmet = json_object_get(expect, "unmet");
    g_string_append(h, "<h3>Expectations</h3>\n");
    if (json_is_true(json_object_get(expect, "met"))) {
        g_string_append(h, "<p class=\"met\">Met: the run did what the scenario's author expected.</p>\n");
    } else if (json_array_size(unmet)) {
        g_string_append(h, "<ul>\n");
        size_t i;
        json_t *u;
        json_array_foreach(unmet, i, u) {
            g_string_append(h, "<li class=\"unmet\">Not met: ");
            esc(h, json_string_value(u));
            g_string_append(h, "</li>\n");
        }
        g_string_append(h, "</ul>\n");
    } else {
        g_string_append(h, "<p>None given.</p>\n");
    }
    g_string_append(h, "</section>\n");
}

static const char *mark_color(const char *field)
{
    if (strcmp(field, "stuck") == 0)
        return "#c00000";
    if (strcmp(field, "prefix") == 0)
        return "#2ca02c";
    if (strcmp(field, "waiting") == 0)
        return "#9467bd";
    if (strcmp(field, "concurrent") == 0)
        return "#ff7f0e";
    return "#8c564b";
}

static const char *field_heading(const char *field)
{
    if (strcmp(field, "stuck") == 0)
        return "Could not be placed next";
    if (strcmp(field, "prefix") == 0)
        return "The last operations that could be ordered";
    if (strcmp(field, "waiting") == 0)
        return "Still need a value nothing can write again";
    if (strcmp(field, "concurrent") == 0)
        return "Open beside it, none of which could be placed either";
    return field;
}

static bool is_op(json_t *o)
{
    return json_is_object(o) && json_object_get(o, "process") &&
           (json_object_get(o, "invoke_line") || json_object_get(o, "invoke_time"));
}

static void op_row(GString *h, json_t *op)
{
    char a[32], b[32];
    json_t *it = json_object_get(op, "invoke_time"), *ct = json_object_get(op, "complete_time");
    g_autofree char *p = show(json_object_get(op, "process"));
    g_autofree char *f = show(json_object_get(op, "f"));
    g_autofree char *v = show(json_object_get(op, "value"));
    g_autofree char *t = show(json_object_get(op, "type"));
    g_autofree char *key = json_object_get(op, "key") ? show(json_object_get(op, "key")) : g_strdup("");
    g_autofree char *lines = g_strdup_printf("%" JSON_INTEGER_FORMAT "–%" JSON_INTEGER_FORMAT,
                                             json_integer_value(json_object_get(op, "invoke_line")),
                                             json_integer_value(json_object_get(op, "complete_line")));
    const char *cells[] = { p, f, key, v, t,
                            json_is_integer(it) ? dur(json_integer_value(it), a) : "",
                            json_is_integer(ct) ? dur(json_integer_value(ct), b) : "never", lines };
    g_string_append(h, "<tr>");
    for (size_t i = 0; i < G_N_ELEMENTS(cells); i++) {
        g_string_append(h, i >= 5 ? "<td class=\"num\">" : "<td>");
        esc(h, cells[i]);
        g_string_append(h, "</td>");
    }
    g_string_append(h, "</tr>\n");
}

static void ops_table(GString *h, const char *field, json_t *v)
{
    g_string_append_printf(h, "<h3><span class=\"swatch\" style=\"border-color:%s\"></span>",
                           mark_color(field));
    esc(h, field_heading(field));
    g_string_append(h, "</h3>\n<table><tr><th>process</th><th>f</th><th>key</th><th>value</th>"
                       "<th>outcome</th><th>invoked</th><th>completed</th><th>history lines</th></tr>\n");
    if (json_is_array(v)) {
        size_t i;
        json_t *op;
        json_array_foreach(v, i, op) if (is_op(op)) op_row(h, op);
    } else {
        op_row(h, v);
    }
    g_string_append(h, "</table>\n");
}

/* Note 4. */
static char *explanation(const FlRunData *rd, const char *model, const char *consistency)
{
    g_autofree char *hist = g_build_filename(rd->dir, "history.jsonl", NULL);
    g_autoptr(GString) text = g_string_new(NULL);
    GError *err = NULL;
    FlVerdict v = fl_check_file(hist, model, consistency, "jsonl", 20.0, text, NULL, &err);
    if (err)
        g_error_free(err);
    return v == FL_VERDICT_INVALID && text->len ? g_strdup(text->str) : NULL;
}

static bool figure(GString *h, const FlPlotOutput *o, GError **err);

static void section_counterexample(GString *h, const FlRunData *rd, GPtrArray *checks,
                                   const FlPlotOutput *timeline, bool *timeline_shown, GError **err)
{
    g_string_append(h, "<section id=\"counterexample\"><h2>Counterexample</h2>\n");
    guint shown = 0;
    /* A check of several models keeps one result per model: each that
     * failed gets its own explanation. */
    g_autoptr(GPtrArray) one = g_ptr_array_new();   /* triples: consistency, model, result */
    for (guint i = 0; i < checks->len; i++) {
        json_t *c = g_ptr_array_index(checks, i), *res = json_object_get(c, "result");
        json_t *per = json_object_get(res, "results");
        if (json_is_object(per)) {
            const char *name;
            json_t *r;
            json_object_foreach(per, name, r) {
                g_ptr_array_add(one, (gpointer)name);
                g_ptr_array_add(one, (gpointer)str(c, "model", "register"));
                g_ptr_array_add(one, r);
            }
        } else {
            g_ptr_array_add(one, (gpointer)str(c, "consistency", "linearizable"));
            g_ptr_array_add(one, (gpointer)str(c, "model", "register"));
            g_ptr_array_add(one, res);
        }
    }
    for (guint i = 0; i + 2 < one->len; i += 3) {
        const char *consistency = g_ptr_array_index(one, i), *model = g_ptr_array_index(one, i + 1);
        json_t *result = g_ptr_array_index(one, i + 2);
        json_t *cx = json_object_get(result, "counterexample");
        if (!cx && !json_is_false(json_object_get(result, "valid")))
            continue;
        shown++;
        g_string_append(h, "<p>The history is not ");
        esc(h, consistency);
        g_string_append(h, " for the model ");
        esc(h, model);
        g_string_append(h, ". The history timeline draws the operations of the counterexample "
                           "framed in the colours of the tables below.</p>\n");
        /* The picture that explains it, first (note 5). */
        if (!*timeline_shown && rd->marked) {
            if (!figure(h, timeline, err))
                return;
            *timeline_shown = true;
        }
        g_autofree char *why = explanation(rd, model, consistency);
        if (why) {
            g_string_append(h, "<pre>");
            esc(h, why);
            g_string_append(h, "</pre>\n");
        }
        if (!cx)
            continue;   /* the checkers of weaker models explain in words only */
        const char *k;
        json_t *v;
        g_string_append(h, "<table class=\"kv\">\n");
        json_object_foreach(cx, k, v) {
            if (is_op(v) || (json_is_array(v) && json_array_size(v) && is_op(json_array_get(v, 0))))
                continue;
            if (json_is_array(v) && json_array_size(v) == 0)
                continue;
            g_autofree char *s = show_flat(v);
            kv_row(h, k, s);
        }
        g_string_append(h, "</table>\n");
        /* The stuck operation first: it is the news. */
        json_t *stuck = json_object_get(cx, "stuck");
        if (stuck && is_op(stuck))
            ops_table(h, "stuck", stuck);
        json_object_foreach(cx, k, v) {
            if (strcmp(k, "stuck") == 0)
                continue;
            if (is_op(v) || (json_is_array(v) && json_array_size(v) && is_op(json_array_get(v, 0))))
                ops_table(h, k, v);
        }
    }
    if (!shown) {
        if (strcmp(rd->verdict, "valid") == 0)
            g_string_append(h, "<p>None: the checker found the history valid.</p>\n");
        else if (strcmp(rd->verdict, "invalid") == 0)
            g_string_append(h, "<p>The checker found the history invalid but left no counterexample "
                               "in metrics.json.</p>\n");
        else
            g_string_append(h, "<p>None: the checker gave no verdict (no check asked, or no answer "
                               "within its time limit).</p>\n");
    }
    g_string_append(h, "</section>\n");
}

static const char *how_to_read(FlPlotKind k)
{
    switch (k) {
    case FL_PLOT_LATENCY:
        return "Each point is one operation: across, when it was invoked; up, how long it took "
               "(log scale). Blue ok, red fail, orange info (timed out: it may or may not have "
               "happened); the shape says which operation. Shaded bands are faults.";
    case FL_PLOT_RATE:
        return "Completions per second in short buckets, per operation and outcome. A line "
               "falling to zero during a shaded fault is an outage.";
    case FL_PLOT_DISTRIBUTION:
        return "For each operation, the latency of ok operations against their percentile: "
               "p50, p90, p99 and p99.9 are equally spaced, so the tail is as visible as the "
               "median.";
    case FL_PLOT_SPACETIME:
        return "Time runs left to right; each node and client is a line. An arrow is a message "
               "from its send to its delivery; red dashes ending in a cross are messages lost "
               "(to a partition, an omission, or a crashed node). A thick blue line marks the "
               "leader or primary, red dashes a crashed node.";
    case FL_PLOT_TIMELINE:
        return "One row per client process; each bar is one operation, from its invocation to "
               "its completion, labelled with its name and value. Hatched bars timed out. When "
               "the checker found a violation, the operations of its counterexample are framed.";
    default:
        return "";
    }
}

static bool embed(GString *h, const FlPlotOutput *o, GError **err)
{
    g_autofree char *data = NULL;
    gsize len;
    if (!g_file_get_contents(o->image, &data, &len, err))
        return false;
    if (g_str_has_suffix(o->image, ".svg")) {
        /* Note 1: inline, from the <svg element on. */
        const char *start = strstr(data, "<svg");
        g_string_append(h, start ? start : data);
    } else {
        g_autofree char *b64 = g_base64_encode((const guchar *)data, len);
        g_string_append_printf(h, "<img alt=\"%s\" src=\"data:image/png;base64,%s\">",
                               fl_plot_heading(o->kind), b64);
    }
    return true;
}

static bool figure(GString *h, const FlPlotOutput *o, GError **err)
{
    g_string_append_printf(h, "<figure id=\"plot-%s\"><h3>%s</h3>\n", fl_plot_name(o->kind),
                           fl_plot_heading(o->kind));
    if (!embed(h, o, err))
        return false;
    g_string_append(h, "\n<figcaption>");
    esc(h, how_to_read(o->kind));
    if (o->note) {
        g_string_append(h, " <span class=\"note\">");
        esc(h, o->note);
        g_string_append(h, "</span>");
    }
    g_string_append(h, "</figcaption></figure>\n");
    return true;
}

static bool section_plots(GString *h, GPtrArray *outs, bool timeline_shown, GError **err)
{
    g_string_append(h, "<section id=\"plots\"><h2>Pictures</h2>\n");
    if (timeline_shown)
        g_string_append(h, "<p>The history timeline is in the <a href=\"#counterexample\">"
                           "counterexample</a> section.</p>\n");
    for (guint i = 0; i < outs->len; i++) {
        const FlPlotOutput *o = g_ptr_array_index(outs, i);
        if (o->kind == FL_PLOT_TIMELINE && timeline_shown)
            continue;
        if (!figure(h, o, err))
            return false;
    }
    g_string_append(h, "</section>\n");
    return true;
}

bool fl_report_write(const char *run_dir, const FlPlotOptions *opt, const char *out_file,
                     GError **err)
{
    g_assert(opt->render);
    g_autoptr(FlRunData) rd = fl_rundata_load(run_dir, err);
    if (!rd)
        return false;
    g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func((GDestroyNotify)fl_plot_output_free);
    if (!fl_plot_draw_all(rd, opt, outs, err))
        return false;
    g_autoptr(GPtrArray) checks = checks_of(rd->metrics);
    g_autoptr(GString) h = g_string_new("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                                        "<meta charset=\"utf-8\">\n<title>faultline: ");
    esc(h, rd->label);
    g_string_append_printf(h, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<header><h1>", style);
    esc(h, rd->name);
    g_string_append_printf(h, " <small>seed %" G_GUINT64_FORMAT " · %s · %u nodes</small> ", rd->seed,
                           str(rd->metrics, "protocol", "?"), rd->nodes);
    badge(h, rd->verdict);
    g_string_append(h, "</h1>\n<nav>");
    static const char *const titles[] = { "Scenario", "Summary", "Verdicts", "Counterexample", "Pictures" };
    for (int i = 0; sections[i]; i++)
        g_string_append_printf(h, "<a href=\"#%s\">%s</a>", sections[i], titles[i]);
    g_string_append(h, "</nav></header>\n");
    section_scenario(h, rd);
    section_summary(h, rd);
    section_verdicts(h, rd, checks);
    bool timeline_shown = false;
    GError *e = NULL;
    section_counterexample(h, rd, checks, g_ptr_array_index(outs, FL_PLOT_TIMELINE), &timeline_shown, &e);
    if (e) {
        g_propagate_error(err, e);
        return false;
    }
    if (!section_plots(h, outs, timeline_shown, err))
        return false;
    g_string_append(h, "<footer>Made by faultline from the run in <code>");
    esc(h, run_dir);
    g_string_append(h, "</code>. The pictures' data and gnuplot scripts are in <code>");
    esc(h, opt->out_dir);
    g_string_append(h, "</code>.</footer>\n</main>\n</body>\n</html>\n");
    return g_file_set_contents(out_file, h->str, (gssize)h->len, err);
}
