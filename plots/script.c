/* plots/script: writing a picture's data file and gnuplot script, and
 * running gnuplot.
 *
 * 1. gnuplot runs in the output folder on NAME.gp, which names its data
 *    files without a folder, so the folder can be moved and redrawn by hand.
 * 2. Terminals are noenhanced: operation values and scenario names are
 *    shown as written, never read as sub- or superscripts.
 * 3. gnuplot's exit status decides success; its warnings go to the notes. */
#include "plots/plot_impl.h"

#include "sim/jsonv.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

struct FlSeries {
    GString *data;
    guint points;
    char *using, *style, *title;
};

struct FlScript {
    char *stem;
    const FlPlotOptions *opt;
    char *ext;
    GString *set;           /* settings */
    GPtrArray *series;      /* of FlSeries*, owned */
    GPtrArray *clauses;     /* of char*: keyentries and raw clauses, after the series */
    GString *data;          /* blocks of the panels already flushed */
    guint blocks;
    guint plots;            /* `plot` commands written */
    GString *notes;
};

static void series_free(gpointer p)
{
    FlSeries *se = p;
    g_string_free(se->data, TRUE);
    g_free(se->using);
    g_free(se->style);
    g_free(se->title);
    g_free(se);
}

void fl_gp_quote(GString *out, const char *text)
{
    g_string_append_c(out, '"');
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(out, '\\');
        if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

static bool has_pngcairo(void)
{
    static int known = -1;
    if (known < 0) {
        g_autofree char *gp = fl_gnuplot_find();
        int status = 1;
        if (gp) {
            char *argv[] = { gp, "-e", "set terminal pngcairo", NULL };
            g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                         NULL, NULL, NULL, NULL, &status, NULL);
        }
        known = status == 0;
    }
    return known;
}

char *fl_gnuplot_find(void)
{
    return g_find_program_in_path("gnuplot");
}

char *fl_gnuplot_terminal(const char *format, int width, int height)
{
    if (format && strcmp(format, "svg") == 0)
        return g_strdup_printf("svg size %d,%d dynamic font \"Sans,11\" noenhanced background \"white\"",
                               width, height);
    if (has_pngcairo())
        return g_strdup_printf("pngcairo size %d,%d font \"Sans,10\" noenhanced background \"white\"",
                               width, height);
    return g_strdup_printf("png size %d,%d noenhanced background \"white\"", width, height);
}

bool fl_gnuplot_run(const char *dir, const char *script, GError **err)
{
    g_autofree char *gp = fl_gnuplot_find();
    if (!gp) {
        g_set_error(err, FL_ERROR, FL_ERROR_RUN, FL_GNUPLOT_HINT);
        return false;
    }
    char *argv[] = { gp, (char *)script, NULL };
    g_autofree char *out = NULL, *errs = NULL;
    int status = 0;
    GError *e = NULL;
    if (!g_spawn_sync(dir, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errs, &status, &e)) {
        g_set_error(err, FL_ERROR, FL_ERROR_RUN, "running gnuplot: %s", e->message);
        g_error_free(e);
        return false;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(err, FL_ERROR, FL_ERROR_RUN, "gnuplot failed on %s/%s:\n%s", dir, script,
                    errs && *errs ? g_strchomp(errs) : "(no message)");
        return false;
    }
    return true;
}

FlScript *fl_script_new(const char *stem, const FlPlotOptions *opt, int width, int height,
                        const char *source)
{
    FlScript *s = g_new0(FlScript, 1);
    s->stem = g_strdup(stem);
    s->opt = opt;
    s->ext = g_strdup(opt->format && strcmp(opt->format, "svg") == 0 ? "svg" : "png");
    s->set = g_string_new(NULL);
    s->series = g_ptr_array_new_with_free_func(series_free);
    s->clauses = g_ptr_array_new_with_free_func(g_free);
    s->notes = g_string_new(NULL);
    s->data = g_string_new(NULL);
    g_string_append_printf(s->data, "# %s.dat: data of %s.gp, one block per series "
                           "(gnuplot's `index`).\n", stem, stem);
    g_autofree char *term = fl_gnuplot_terminal(s->ext, width, height);
    g_string_append_printf(s->set,
                           "# %s.gp: written by faultline from %s.\n"
                           "# Redraw with: gnuplot %s.gp (in this folder).\n"
                           "set terminal %s\n"
                           "set output \"%s.%s\"\n"
                           "set encoding utf8\n"
                           "set border lc rgb \"#555555\"\n"
                           "set grid lc rgb \"#dddddd\" lw 1 dt 1\n"
                           "set key noautotitle\n",
                           stem, source, stem, term, stem, s->ext);
    return s;
}

void fl_script_free(FlScript *s)
{
    if (!s)
        return;
    g_free(s->stem);
    g_free(s->ext);
    g_string_free(s->set, TRUE);
    g_ptr_array_unref(s->series);
    g_ptr_array_unref(s->clauses);
    g_string_free(s->notes, TRUE);
    g_string_free(s->data, TRUE);
    g_free(s);
}

void fl_script_set(FlScript *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(s->set, fmt, ap);
    va_end(ap);
    g_string_append_c(s->set, '\n');
}

void fl_script_title(FlScript *s, const char *title)
{
    g_string_append(s->set, "set title ");
    fl_gp_quote(s->set, title);
    g_string_append_c(s->set, '\n');
}

void fl_script_note(FlScript *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (s->notes->len)
        g_string_append_c(s->notes, ' ');
    g_string_append(s->notes, line);
    if (s->opt->notes)
        fprintf(s->opt->notes, "faultline: %s: %s\n", s->stem, line);
}

FlSeries *fl_script_series(FlScript *s, const char *using, const char *style, const char *title)
{
    FlSeries *se = g_new0(FlSeries, 1);
    se->data = g_string_new(NULL);
    se->using = g_strdup(using);
    se->style = g_strdup(style);
    se->title = title ? g_strdup(title) : NULL;
    g_ptr_array_add(s->series, se);
    return se;
}

void fl_series_row(FlSeries *se, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(se->data, fmt, ap);
    va_end(ap);
    g_string_append_c(se->data, '\n');
    se->points++;
}

guint fl_series_points(const FlSeries *se)
{
    return se->points;
}

void fl_script_keyentry(FlScript *s, const char *style, const char *title)
{
    GString *c = g_string_new("keyentry ");
    g_string_append_printf(c, "%s title ", style);
    fl_gp_quote(c, title);
    g_ptr_array_add(s->clauses, g_string_free(c, FALSE));
}

void fl_script_clause(FlScript *s, const char *clause)
{
    g_ptr_array_add(s->clauses, g_strdup(clause));
}

void fl_plot_output_free(FlPlotOutput *o)
{
    if (!o)
        return;
    g_free(o->image);
    g_free(o->data);
    g_free(o->script);
    g_free(o->note);
    g_free(o);
}

static bool ensure_dir(const char *dir, GError **err)
{
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        g_set_error(err, FL_ERROR, FL_ERROR_RUN, "%s: cannot create the folder: %s", dir,
                    g_strerror(errno));
        return false;
    }
    return true;
}

/* Moves the series and clauses given so far into one `plot` command at the
 * end of the settings, and their data into the data file's blocks. */
static void flush_plot(FlScript *s)
{
    g_autoptr(GString) plot = g_string_new("plot ");
    guint clauses = 0;
    for (guint i = 0; i < s->series->len; i++) {
        FlSeries *se = g_ptr_array_index(s->series, i);
        if (se->points == 0)
            continue;
        if (s->blocks)
            g_string_append(s->data, "\n\n");
        g_string_append_printf(s->data, "# series %u: %s (%u points)\n", s->blocks,
                               se->title ? se->title : "-", se->points);
        g_string_append_len(s->data, se->data->str, (gssize)se->data->len);
        if (clauses++)
            g_string_append(plot, ", \\\n     ");
        g_string_append_printf(plot, "\"%s.dat\" index %u using %s %s ", s->stem, s->blocks,
                               se->using, se->style);
        if (se->title) {
            g_string_append(plot, "title ");
            fl_gp_quote(plot, se->title);
        }
        else
            g_string_append(plot, "notitle");
        s->blocks++;
    }
    /* gnuplot cannot draw key entries alone (it asserts): an empty picture
     * gets one invisible data clause first. */
    if (clauses == 0) {
        g_string_append(plot, "NaN notitle");
        clauses++;
    }
    for (guint i = 0; i < s->clauses->len; i++) {
        if (clauses++)
            g_string_append(plot, ", \\\n     ");
        g_string_append(plot, g_ptr_array_index(s->clauses, i));
    }
    g_string_append_printf(s->set, "%s\n", plot->str);
    g_ptr_array_set_size(s->series, 0);
    g_ptr_array_set_size(s->clauses, 0);
    s->plots++;
}

void fl_script_panel(FlScript *s)
{
    flush_plot(s);
}

FlPlotOutput *fl_script_finish(FlScript *s, FlPlotKind kind, GError **err)
{
    const char *dir = s->opt->out_dir;
    if (!ensure_dir(dir, err))
        return NULL;
    /* A multiplot ends with settings ("unset multiplot"), not a plot. */
    if (s->plots == 0 || s->series->len || s->clauses->len)
        flush_plot(s);
    GString *data = s->data;
    GString *script = s->set;
    FlPlotOutput *o = g_new0(FlPlotOutput, 1);
    o->kind = kind;
    o->data = g_strdup_printf("%s/%s.dat", dir, s->stem);
    o->script = g_strdup_printf("%s/%s.gp", dir, s->stem);
    o->note = s->notes->len ? g_strdup(s->notes->str) : NULL;
    if (!g_file_set_contents(o->data, data->str, (gssize)data->len, err) ||
        !g_file_set_contents(o->script, script->str, (gssize)script->len, err)) {
        fl_plot_output_free(o);
        return NULL;
    }
    if (s->opt->render) {
        g_autofree char *name = g_strdup_printf("%s.gp", s->stem);
        if (!fl_gnuplot_run(dir, name, err)) {
            fl_plot_output_free(o);
            return NULL;
        }
        o->image = g_strdup_printf("%s/%s.%s", dir, s->stem, s->ext);
    }
    return o;
}

const char *fl_fault_color(const char *kind)
{
    static const struct { const char *kind, *color; } colors[] = {
        { "crash", "#d62728" }, { "partition", "#9467bd" }, { "omission", "#7f7f7f" },
        { "pause", "#bcbd22" }, { "delay", "#17becf" }, { "clock", "#8c564b" },
        { "byzantine", "#e377c2" }, { "duplicate", "#2ca02c" }, { "disk", "#ff7f0e" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(colors); i++)
        if (strcmp(kind, colors[i].kind) == 0)
            return colors[i].color;
    return "#8c564b";
}

int fl_point_type(guint i)
{
    /* Filled circle, square, triangle, diamond, inverted triangle, then
     * open shapes. */
    static const int pt[] = { 7, 5, 9, 13, 11, 6, 4, 8, 12, 10 };
    return pt[i % G_N_ELEMENTS(pt)];
}

const char *fl_line_color(guint i)
{
    static const char *const c[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                     "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22" };
    return c[i % G_N_ELEMENTS(c)];
}

const char *fl_outcome_color(FlOutcome o)
{
    switch (o) {
    case FL_OUTCOME_OK: return FL_COLOR_OK;
    case FL_OUTCOME_FAIL: return FL_COLOR_FAIL;
    default: return FL_COLOR_INFO;
    }
}

char *fl_plot_duration(FlTime ns, char *buf)
{
    if (ns == 0)
        g_strlcpy(buf, "0s", 32);
    else if (ns >= 1000000000ULL)
        g_snprintf(buf, 32, "%.4gs", (double)ns / 1e9);
    else if (ns >= 1000000ULL)
        g_snprintf(buf, 32, "%.4gms", (double)ns / 1e6);
    else if (ns >= 1000ULL)
        g_snprintf(buf, 32, "%.4gus", (double)ns / 1e3);
    else
        g_snprintf(buf, 32, "%" G_GUINT64_FORMAT "ns", (guint64)ns);
    return buf;
}

char *fl_plot_label(const char *text, guint max)
{
    GString *out = g_string_new(NULL);
    guint n = 0;
    for (const char *p = text; *p; p = g_utf8_next_char(p)) {
        if (n == max) {
            g_string_truncate(out, out->len);
            g_string_append(out, "…");
            break;
        }
        gunichar c = g_utf8_get_char_validated(p, -1);
        if (c == (gunichar)-1 || c == (gunichar)-2)
            break;
        if (c == '"')
            g_string_append_c(out, '\'');
        else if (c == '\n' || c == '\r' || c == '\t')
            g_string_append_c(out, ' ');
        else
            g_string_append_unichar(out, c);
        n++;
    }
    return g_string_free(out, FALSE);
}

void fl_plot_window(const FlRunData *rd, const FlPlotOptions *opt, FlTime *from, FlTime *to)
{
    *from = opt->has_from ? opt->from : 0;
    *to = opt->has_to ? opt->to : rd->end;
    if (*to <= *from)
        *to = *from + 1;
}

/* The number of @times in [from, to]. */
static guint count_in(const FlTime *times, guint n, FlTime from, FlTime to)
{
    guint lo = 0, hi = n;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (times[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    guint a = lo;
    hi = n;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (times[mid] <= to)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - a;
}

static void place(FlTime d, FlTime anchor, double before, FlTime end, FlTime *from, FlTime *to)
{
    FlTime back = (FlTime)((double)d * before);
    *from = anchor > back ? anchor - back : 0;
    *to = *from + d;
    if (*to > end) {
        *to = end;
        *from = end > d ? end - d : 0;
    }
}

void fl_plot_dense_window(const FlTime *times, guint n, FlTime anchor, double before, FlTime end,
                          guint budget, FlTime *from, FlTime *to)
{
    if (end == 0)
        end = 1;
    anchor = MIN(anchor, end);
    /* Doubling, then bisection, on the width. */
    FlTime lo = 1000, hi = 1000;
    place(hi, anchor, before, end, from, to);
    while (hi < end && count_in(times, n, *from, *to) <= budget) {
        lo = hi;
        hi = MIN(hi * 2, end);
        place(hi, anchor, before, end, from, to);
    }
    if (count_in(times, n, *from, *to) <= budget) {
        lo = hi;
    } else {
        while (hi - lo > MAX(lo / 100, 1000)) {
            FlTime mid = lo + (hi - lo) / 2;
            place(mid, anchor, before, end, from, to);
            if (count_in(times, n, *from, *to) <= budget)
                lo = mid;
            else
                hi = mid;
        }
    }
    place(lo, anchor, before, end, from, to);
}

FlTime fl_plot_bucket(FlTime span)
{
    double want = (double)span / 50.0;
    static const double steps[] = { 1, 2, 2.5, 5 };
    for (double p = 1; p < 1e18; p *= 10)
        for (size_t i = 0; i < G_N_ELEMENTS(steps); i++)
            if (steps[i] * p >= want)
                return (FlTime)(steps[i] * p);
    return span;
}

bool fl_script_faults(FlScript *s, const FlRunData *rd, FlTime from, FlTime to,
                      double unit_ns, const char *const *skip_kinds, GError **err)
{
    if (!ensure_dir(s->opt->out_dir, err))
        return false;
    g_autoptr(GString) dat = g_string_new("# faults.dat: fault intervals of the run "
                                          "(start s, stop s, kind, what), from metrics.json.\n");
    guint obj = 0;
    for (guint i = 0; i < rd->faults->len; i++) {
        const FlFaultSpan *f = &g_array_index(rd->faults, FlFaultSpan, i);
        g_autofree char *what = fl_plot_label(f->what, 60);
        g_string_append_printf(dat, "%.9f %.9f %s \"%s\"\n", (double)f->start / 1e9,
                               (double)f->stop / 1e9, f->kind, what);
        bool skip = false;
        for (const char *const *k = skip_kinds; k && *k; k++)
            skip |= strcmp(*k, f->kind) == 0;
        if (skip || f->stop < from || f->start > to)
            continue;
        const char *color = fl_fault_color(f->kind);
        char a[32], b[32];
        g_autofree char *title = NULL;
        if (f->start <= from && f->stop >= to) {
            /* Note in the key only: shading everything says nothing. */
            title = g_strdup_printf("%s %s (whole window, not shaded)", f->kind, what);
            fl_script_keyentry(s, "with lines lw 0 lc rgb \"white\"", title);
            continue;
        }
        title = g_strdup_printf("%s %s (%s–%s)", f->kind, what, fl_plot_duration(f->start, a),
                                fl_plot_duration(f->stop, b));
        double x0 = (double)MAX(f->start, from) / unit_ns, x1 = (double)MIN(f->stop, to) / unit_ns;
        if (x1 <= x0)
            x1 = x0 + (double)(to - from) / unit_ns / 400;
        fl_script_set(s, "set object %u rect from first %.9g, graph 0 to first %.9g, graph 1 "
                      "behind fc rgb \"%s\" fs transparent solid 0.13 noborder",
                      ++obj, x0, x1, color);
        /* Named on the band too, for a reader without the key (or colour). */
        g_autoptr(GString) label = g_string_new("set label ");
        g_string_append_printf(label, "%u ", 100 + obj);
        g_autofree char *text = g_strdup_printf("%s %s", f->kind, what);
        fl_gp_quote(label, text);
        g_string_append_printf(label, " at first %.9g, graph 0.03 left offset 0.4,0 front font \",8\" "
                               "tc rgb \"%s\"", x0, color);
        fl_script_set(s, "%s", label->str);
        /* One key entry per interval: the key then lists every fault. */
        g_autofree char *style = g_strdup_printf("with boxes fs transparent solid 0.25 noborder "
                                                 "fc rgb \"%s\"", color);
        fl_script_keyentry(s, style, title);
    }
    g_autofree char *path = g_build_filename(s->opt->out_dir, "faults.dat", NULL);
    return g_file_set_contents(path, dat->str, (gssize)dat->len, err);
}

bool fl_plot_parse_time(const char *text, FlTime *out)
{
    FlDuration d;
    if (fl_duration_parse(text, &d) != 0) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno)
            return false;
        d = v;
    }
    if (d < 0)
        return false;
    *out = (FlTime)d;
    return true;
}
