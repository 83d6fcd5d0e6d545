/* plots/plot: the list of pictures and drawing them. */
#include "plots/plot_impl.h"

#include <string.h>

static const struct {
    const char *name, *heading;
    FlPlotOutput *(*draw)(FlRunData *, const FlPlotOptions *, GError **);
} pictures[FL_PLOT_COUNT] = {
    [FL_PLOT_LATENCY] = { "latency", "Latency of every operation", fl_plot_latency },
    [FL_PLOT_RATE] = { "rate", "Throughput over time", fl_plot_rate },
    [FL_PLOT_DISTRIBUTION] = { "latency-dist", "Latency distribution", fl_plot_distribution },
    [FL_PLOT_SPACETIME] = { "space-time", "Space-time diagram", fl_plot_spacetime },
    [FL_PLOT_TIMELINE] = { "timeline", "History timeline", fl_plot_timeline },
    [FL_PLOT_SLA] = { "sla", "Availability against the SLA", fl_plot_sla },
};

const char *fl_plot_name(FlPlotKind k)
{
    g_assert(k < FL_PLOT_COUNT);
    return pictures[k].name;
}

const char *fl_plot_heading(FlPlotKind k)
{
    g_assert(k < FL_PLOT_COUNT);
    return pictures[k].heading;
}

bool fl_plot_kind_from_name(const char *name, FlPlotKind *k)
{
    for (int i = 0; i < FL_PLOT_COUNT; i++)
        if (strcmp(name, pictures[i].name) == 0) {
            *k = (FlPlotKind)i;
            return true;
        }
    return false;
}

FlPlotOutput *fl_plot_draw(FlRunData *rd, FlPlotKind k, const FlPlotOptions *opt, GError **err)
{
    g_assert(k < FL_PLOT_COUNT);
    g_assert(opt->out_dir);
    return pictures[k].draw(rd, opt, err);
}

bool fl_plot_draw_all(FlRunData *rd, const FlPlotOptions *opt, GPtrArray *outputs, GError **err)
{
    for (int k = 0; k < FL_PLOT_COUNT; k++) {
        FlPlotOutput *o = fl_plot_draw(rd, (FlPlotKind)k, opt, err);
        if (!o)
            return false;
        g_ptr_array_add(outputs, o);
    }
    return true;
}
