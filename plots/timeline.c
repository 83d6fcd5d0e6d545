/* plots/timeline: the history as bars, one row per client process.
 *
 * 1. Each operation is a bar from its invocation to its completion,
 *    labelled with its name, key and value (the result for a read, the
 *    argument otherwise), filled by outcome: ok solid, fail red, info
 *    hatched (it may or may not have happened), open ones run to the right
 *    edge.
 * 2. When the checker left a counterexample, its operations get a thick
 *    border: red for the one that could not be placed, orange for those
 *    open beside it, green for the last ones that could be ordered.  Only
 *    the counterexample's key is drawn (a model is checked per key) and the
 *    default window spans its operations; this is the picture that explains
 *    a violation.
 * 3. Without a counterexample or --from/--to, the window holds about
 *    WINDOW_OPS operations, starting a little before the first fault after
 *    time 0, or at the start of the run. */
#include "plots/plot_impl.h"

#include <string.h>

/* About 1100 pixels less the margins; a character of the labels' 8-point
 * font is about 5.6 pixels wide. */
enum { WINDOW_OPS = 36, PLOT_WIDTH_PX = 960 };
#define CHAR_PX 5.6

/* A value as a person reads it: strings without quotes. */
static char *show_value(const char *json)
{
    if (!json)
        return g_strdup("?");
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    char *r;
    if (json_is_string(v))
        r = g_strdup_printf("%s", json_string_length(v) ? json_string_value(v) : "\"\"");
    else
        r = g_strdup(json);
    if (v)
        json_decref(v);
    return r;
}

/* "put k2 1," or, @brief, only "1,". */
static char *op_label(const FlRunData *rd, const FlPlotOp *op, bool brief)
{
    bool read = strcmp(op->value, "null") == 0;
    g_autofree char *key = NULL;
    /* With one key, naming it says nothing. */
    if (op->key && rd->keys > 1) {
        g_autofree char *k = show_value(op->key);
        key = g_strdup_printf(" k%s", k);
    }
    g_autofree char *v = read ? (op->outcome == FL_OUTCOME_OK ? show_value(op->result) : g_strdup("?"))
                              : show_value(op->value);
    g_autofree char *text = brief ? g_strdup_printf("%s%s", read ? "→" : "", v)
                                  : g_strdup_printf("%s%s %s%s%s", op->f, key ? key : "", read ? "→ " : "", v,
                                                    op->outcome == FL_OUTCOME_INFO && !read ? " ?" : "");
    return fl_plot_label(text, 28);
}

static bool in_key(const FlRunData *rd, const FlPlotOp *op)
{
    if (!rd->cx_key)
        return true;
    return op->key && strcmp(op->key, rd->cx_key) == 0;
}

static void choose_window(const FlRunData *rd, const FlPlotOptions *opt, FlTime *from, FlTime *to,
                          GString *why)
{
    *from = opt->has_from ? opt->from : 0;
    *to = opt->has_to ? opt->to : rd->end;
    if (opt->has_from && opt->has_to)
        return;
    GArray *ops = rd->ops;
    if (!opt->has_from && !opt->has_to && fl_rundata_marked_span(rd, from, to)) {
        /* Note 2: span the counterexample. */
        g_string_append(why, "the operations of the counterexample");
        return;
    }
    /* Note 3: the operations of the key, in invocation order. */
    g_autoptr(GArray) times = g_array_new(FALSE, FALSE, sizeof(FlTime));
    for (guint i = 0; i < ops->len; i++)
        if (in_key(rd, &g_array_index(ops, FlPlotOp, i)))
            g_array_append_val(times, g_array_index(ops, FlPlotOp, i).invoke);
    guint n = times->len;
    if (n <= WINDOW_OPS && !opt->has_from && !opt->has_to) {
        g_string_append_printf(why, "the whole run (%u operations)", n);
        return;
    }
    FlTime anchor = 0;
    double before = 0;
    char a[32];
    if (opt->has_from) {
        anchor = opt->from;
        g_string_append_printf(why, "at most %d operations from --from", WINDOW_OPS);
    } else if (opt->has_to) {
        anchor = opt->to;
        before = 1;
        g_string_append_printf(why, "at most %d operations up to --to", WINDOW_OPS);
    } else {
        const char *what = NULL;
        for (guint i = 0; i < rd->faults->len; i++) {
            const FlFaultSpan *f = &g_array_index(rd->faults, FlFaultSpan, i);
            if (f->start > 0 && (!what || f->start < anchor)) {
                anchor = f->start;
                what = f->kind;
            }
        }
        before = what ? 0.25 : 0;
        if (what)
            g_string_append_printf(why, "at most %d of %u operations, around the %s at %s", WINDOW_OPS,
                                   n, what, fl_plot_duration(anchor, a));
        else
            g_string_append_printf(why, "at most %d of %u operations, from the start", WINDOW_OPS, n);
    }
    fl_plot_dense_window((const FlTime *)(void *)times->data, n, anchor, before, rd->end, WINDOW_OPS,
                         from, to);
}

static const char *mark_color(FlMark m)
{
    switch (m) {
    case FL_MARK_STUCK: return "#c00000";
    case FL_MARK_PREFIX: return "#2ca02c";
    case FL_MARK_WAITING: return "#9467bd";
    case FL_MARK_CONCURRENT: return "#ff7f0e";
    default: return "#8c564b";
    }
}

static const char *mark_title(FlMark m)
{
    switch (m) {
    case FL_MARK_STUCK: return "could not be placed next";
    case FL_MARK_PREFIX: return "last of the ops that could be ordered";
    case FL_MARK_WAITING: return "still needs a value nothing can write again";
    case FL_MARK_CONCURRENT: return "open beside it, not placeable either";
    default: return "named by the checker";
    }
}

static int cmp_i64(gconstpointer a, gconstpointer b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

FlPlotOutput *fl_plot_timeline(FlRunData *rd, const FlPlotOptions *opt, GError **err)
{
    FlTime from, to;
    g_autoptr(GString) why = g_string_new(NULL);
    choose_window(rd, opt, &from, &to, why);
    /* Rows: the processes with an operation in the window. */
    g_autoptr(GArray) procs = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);
    guint shown = 0;
    for (guint i = 0; i < rd->ops->len; i++) {
        FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, i);
        if (!in_key(rd, op) || op->invoke > to || op->complete < from)
            continue;
        shown++;
        if (!g_hash_table_contains(seen, &op->process)) {
            g_hash_table_add(seen, &op->process);
            g_array_append_val(procs, op->process);
        }
    }
    g_array_sort(procs, cmp_i64);
    g_autoptr(GHashTable) row = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint r = 0; r < procs->len; r++)
        g_hash_table_insert(row, &g_array_index(procs, int64_t, r), GUINT_TO_POINTER(r));
    int height = CLAMP(170 + 46 * (int)procs->len, 380, 1600);
    g_autoptr(FlScript) s = fl_script_new("timeline", opt, 1100, height, rd->dir);
    char a[32], b[32];
    g_autoptr(GString) title = g_string_new(NULL);
    g_string_printf(title, "%s: history, %s to %s", rd->label, fl_plot_duration(from, a),
                    fl_plot_duration(to, b));
    if (rd->cx_key && rd->keys > 1) {
        g_autofree char *k = show_value(rd->cx_key);
        g_string_append_printf(title, ", key %s only", k);
    }
    g_string_append_printf(title, " (checker: %s)", rd->verdict);
    fl_script_title(s, title->str);
    fl_script_set(s, "set xlabel \"time (ms)\"");
    fl_script_set(s, "set xrange [%.6f:%.6f]", (double)from / 1e6, (double)to / 1e6);
    fl_script_set(s, "set yrange [%.2f:0.8]", -(double)MAX(procs->len, 1) + 0.2);
    fl_script_set(s, "set grid xtics noytics");
    fl_script_set(s, "set key below horizontal Left reverse samplen 2 spacing 1.1");
    fl_script_set(s, "set style fill solid 0.3 border");
    fl_script_set(s, "set clip two");
    {
        GString *tics = g_string_new("set ytics (");
        for (guint r = 0; r < procs->len; r++)
            g_string_append_printf(tics, "%s\"process %" G_GINT64_FORMAT "\" %d", r ? ", " : "",
                                   g_array_index(procs, int64_t, r), -(int)r);
        g_string_append(tics, ") scale 0");
        fl_script_set(s, "%s", procs->len ? tics->str : "unset ytics");
        g_string_free(tics, TRUE);
    }
    if (!fl_script_faults(s, rd, from, to, 1e6, NULL, err))
        return NULL;
    /* Note 1: ok solid, fail solid red, info hatched. */
    FlSeries *bars[FL_OUTCOME_COUNT];
    for (int o = 0; o < FL_OUTCOME_COUNT; o++) {
        g_autofree char *style = g_strdup_printf(
            "with boxxyerror %s lw 1 lc rgb \"%s\"",
            o == FL_OUTCOME_INFO ? "fs pattern 4 border" : "fs solid 0.3 border", fl_outcome_color(o));
        g_autofree char *name = g_strdup_printf("%s%s", fl_outcome_name(o),
                                                o == FL_OUTCOME_INFO ? " (may or may not have happened)" : "");
        bars[o] = fl_script_series(s, "1:2:3:4:5:6", style, name);
    }
    FlSeries *marks[FL_MARK_COUNT] = { 0 };
    for (int m = FL_MARK_PREFIX; m < FL_MARK_COUNT; m++) {
        g_autofree char *style = g_strdup_printf("with boxxyerror fs empty border lw 4 lc rgb \"%s\"",
                                                 mark_color(m));
        marks[m] = fl_script_series(s, "1:2:3:4:5:6", style, mark_title(m));
    }
    FlSeries *labels = fl_script_series(s, "1:2:3", "with labels center font \",8\" tc rgb \"#222222\"", NULL);
    for (guint i = 0; i < rd->ops->len; i++) {
        const FlPlotOp *op = &g_array_index(rd->ops, FlPlotOp, i);
        if (!in_key(rd, op) || op->invoke > to || op->complete < from)
            continue;
        int r = (int)GPOINTER_TO_UINT(g_hash_table_lookup(row, &op->process));
        double x0 = (double)op->invoke / 1e6, x1 = (double)(op->open ? MAX(to, op->invoke) : op->complete) / 1e6;
        double y = -(double)r;
        fl_series_row(bars[op->outcome], "%.6f %.2f %.6f %.6f %.2f %.2f", (x0 + x1) / 2, y, x0, x1,
                      y - 0.3, y + 0.3);
        if (op->mark)
            fl_series_row(marks[op->mark], "%.6f %.2f %.6f %.6f %.2f %.2f", (x0 + x1) / 2, y, x0, x1,
                          y - 0.36, y + 0.36);
        /* Centre the label on the visible part of the bar, when it fits
         * there; else its value alone; else none (the data file and the
         * history still hold it). */
        double v0 = MAX(x0, (double)from / 1e6), v1 = MIN(x1, (double)to / 1e6);
        double px = (v1 - v0) / ((double)(to - from) / 1e6) * PLOT_WIDTH_PX;
        for (int brief = 0; brief < 2; brief++) {
            g_autofree char *lab = op_label(rd, op, brief);
            if (g_utf8_strlen(lab, -1) * CHAR_PX + 4 <= px) {
                fl_series_row(labels, "%.6f %.2f \"%s\"", (v0 + v1) / 2, y, lab);
                break;
            }
        }
    }
    if (shown == 0)
        fl_script_set(s, "set label 1 \"no operation in this window\" at graph 0.5, graph 0.5 center");
    if (rd->has_cx && !rd->marked)
        fl_script_note(s, "the checker's counterexample names no operation this history holds; "
                          "nothing is highlighted.");
    fl_script_note(s, "showing %s to %s: %s; %u operations.%s", fl_plot_duration(from, a),
                   fl_plot_duration(to, b), why->len ? why->str : "the window given", shown,
                   opt->has_from || opt->has_to ? "" : " Choose another window with --from and --to.");
    return fl_script_finish(s, FL_PLOT_TIMELINE, err);
}
