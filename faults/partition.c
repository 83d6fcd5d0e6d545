/* partition: servers are split into groups that cannot talk to each other;
 * clients still reach every server (as in Jepsen).  Heals when it stops. */
#include "faults/fault.h"

#include <string.h>

typedef struct Partition {
    json_t *groups;      /* explicit groups, or NULL */
    bool has_isolate;
    FlSelector isolate;
    uint32_t nodes;
    uint32_t *group;     /* per node, while on */
    int filter;
} Partition;

static bool partition_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                            const FlScenario *sc)
{
    Partition *p = f->state;
    p->nodes = sc->nodes;
    json_t *groups = json_object_get(spec, "groups"), *iso = json_object_get(spec, "isolate");
    if (!!groups + !!iso != 1)
        return fl_jv_errorf(jv, path, NULL, "expected exactly one of \"groups\" or \"isolate\"");
    if (iso) {
        g_autofree char *ip = fl_jv_join(path, "isolate");
        p->has_isolate = true;
        if (!fl_scenario_selector(jv, iso, ip, sc->nodes, &p->isolate))
            return false;
        json_object_set(out, "isolate", iso);
        return true;
    }
    g_autofree char *gp = fl_jv_join(path, "groups");
    if (!json_is_array(groups) || json_array_size(groups) < 1)
        return fl_jv_error(jv, gp, NULL, groups, "an array of groups of node ids, e.g. [[0,1],[2,3,4]]");
    g_autofree bool *seen = g_new0(bool, sc->nodes);
    size_t i, k;
    json_t *g, *id;
    json_array_foreach(groups, i, g) {
        g_autofree char *gi = g_strdup_printf("%s/%zu", gp, i);
        if (!json_is_array(g) || json_array_size(g) == 0)
            return fl_jv_error(jv, gi, NULL, g, "a non-empty array of node ids");
        json_array_foreach(g, k, id) {
            g_autofree char *ik = g_strdup_printf("%s/%zu", gi, k);
            if (!json_is_integer(id) || json_integer_value(id) < 0 ||
                json_integer_value(id) >= sc->nodes) {
                g_autofree char *what = g_strdup_printf("a node id from 0 to %u", sc->nodes - 1);
                return fl_jv_error(jv, ik, NULL, id, what);
            }
            if (seen[json_integer_value(id)])
                return fl_jv_errorf(jv, ik, NULL, "node %" JSON_INTEGER_FORMAT " is in two groups",
                                    json_integer_value(id));
            seen[json_integer_value(id)] = true;
        }
    }
    p->groups = json_incref(groups);
    json_object_set(out, "groups", groups);
    return true;
}

static FlFilterAction partition_filter(void *ctx, uint32_t from, uint32_t to, FlTime now,
                                       FlRng *rng, FlDuration *extra)
{
    Partition *p = ctx;
    if (from >= p->nodes || to >= p->nodes)
        return FL_FILTER_PASS;
    return p->group[from] == p->group[to] ? FL_FILTER_PASS : FL_FILTER_DROP;
}

static void partition_start(FlFault *f, FlWorld *w)
{
    Partition *p = f->state;
    g_free(p->group);
    p->group = g_new0(uint32_t, p->nodes);
    g_autoptr(GString) text = g_string_new(NULL);
    if (p->has_isolate) {
        g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        fl_world_select(w, &p->isolate, ids);
        if (ids->len == 0) {
            fl_world_fault_event(w, f->index, "partition", "skip", "isolate: no node matched");
            return;
        }
        uint32_t who = g_array_index(ids, uint32_t, 0);
        p->group[who] = 1;
        g_string_printf(text, "isolate %u", who);
    } else {
        /* Nodes named in no group form one more group together. */
        size_t ng = json_array_size(p->groups);
        for (uint32_t i = 0; i < p->nodes; i++)
            p->group[i] = (uint32_t)ng;
        size_t i, k;
        json_t *g, *id;
        json_array_foreach(p->groups, i, g) {
            json_array_foreach(g, k, id) p->group[json_integer_value(id)] = (uint32_t)i;
        }
        char *s = json_dumps(p->groups, JSON_COMPACT);
        g_string_printf(text, "groups %s", s);
        free(s);
    }
    p->filter = fl_net_add_filter(fl_world_net(w), partition_filter, p);
    fl_world_fault_event(w, f->index, "partition", "start", text->str);
}

static void partition_stop(FlFault *f, FlWorld *w)
{
    Partition *p = f->state;
    if (!p->filter)
        return;
    fl_net_remove_filter(fl_world_net(w), p->filter);
    p->filter = 0;
    fl_world_fault_event(w, f->index, "partition", "stop", "healed");
}

static void partition_destroy(FlFault *f)
{
    Partition *p = f->state;
    if (p->groups)
        json_decref(p->groups);
    g_free(p->group);
}

static const FlFaultField partition_fields[] = {
    { "groups", "explicit groups of node ids, e.g. [[0,1],[2,3,4]]; unnamed nodes form one more group" },
    { "isolate", "node id or selector cut off from all others" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_partition = {
    .name = "partition",
    .summary = "splits the servers into groups that cannot talk; heals when it stops",
    .fields = partition_fields,
    .state_size = sizeof(Partition),
    .parse = partition_parse,
    .start = partition_start,
    .stop = partition_stop,
    .destroy = partition_destroy,
};
