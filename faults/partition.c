/* partition: cuts the links between servers; clients still reach every
 * server (as in Jepsen).  Heals when it stops.
 *
 * Layouts:
 *   groups         explicit groups; nodes named in none form one more group
 *   isolate        one node (id or selector) against the rest; a selector
 *                  of several nodes (minority-with-leader, leader+K)
 *                  isolates them together: the side that holds the leader
 *   shape halves   two halves of sizes floor(n/2) and ceil(n/2)
 *   shape bridge   two halves that cannot talk, and one node between them
 *                  that talks to both (n >= 3)
 *   shape majority-ring
 *                  the nodes on a ring; each receives only from the m = n/2+1
 *                  nodes of its window (itself, m/2 before it, the rest
 *                  after), so each sees a majority and no two see the same
 *                  one.  For even n the cut is asymmetric.
 * Shapes place nodes in `order` (a permutation of the ids), or in an order
 * drawn from the faults' stream when it starts.  `oneway` cuts only one
 * direction: a lower-numbered group (the isolated node, the first half, the
 * first named group) cannot send to a higher one but still hears it.
 *
 * The cut is one matrix cut[from][to], built when the fault starts, so the
 * filter is a lookup and every layout is checked the same way. */
#include "faults/links.h"

#include <string.h>

enum { SHAPE_GROUPS, SHAPE_ISOLATE, SHAPE_HALVES, SHAPE_BRIDGE, SHAPE_RING };

typedef struct Partition {
    int shape;
    json_t *groups;      /* SHAPE_GROUPS */
    FlSelector isolate;  /* SHAPE_ISOLATE */
    uint32_t *order;     /* given order, or NULL: drawn at start */
    bool oneway;
    uint32_t nodes;
    uint8_t *cut;        /* nodes x nodes, while on */
    int filter;
} Partition;

static bool parse_order(Partition *p, json_t *v, const char *path, FlJv *jv)
{
    g_autofree char *op = fl_jv_join(path, "order");
    g_autofree char *what = g_strdup_printf("a permutation of the node ids 0 .. %u", p->nodes - 1);
    if (!json_is_array(v) || json_array_size(v) != p->nodes)
        return fl_jv_error(jv, op, NULL, v, what);
    g_autofree bool *seen = g_new0(bool, p->nodes);
    p->order = g_new0(uint32_t, p->nodes);
    size_t i;
    json_t *id;
    json_array_foreach(v, i, id) {
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= p->nodes || seen[json_integer_value(id)]) {
            g_autofree char *ip = g_strdup_printf("%s/%zu", op, i);
            return fl_jv_error(jv, ip, NULL, id, what);
        }
        seen[json_integer_value(id)] = true;
        p->order[i] = (uint32_t)json_integer_value(id);
    }
    return true;
}

static bool parse_groups(Partition *p, json_t *groups, const char *path, FlJv *jv)
{
    g_autofree char *gp = fl_jv_join(path, "groups");
    if (!json_is_array(groups) || json_array_size(groups) < 1)
        return fl_jv_error(jv, gp, NULL, groups, "an array of groups of node ids, e.g. [[0,1],[2,3,4]]");
    g_autofree bool *seen = g_new0(bool, p->nodes);
    size_t i, k;
    json_t *g, *id;
    json_array_foreach(groups, i, g) {
        g_autofree char *gi = g_strdup_printf("%s/%zu", gp, i);
        if (!json_is_array(g) || json_array_size(g) == 0)
            return fl_jv_error(jv, gi, NULL, g, "a non-empty array of node ids");
        json_array_foreach(g, k, id) {
            g_autofree char *ik = g_strdup_printf("%s/%zu", gi, k);
            if (!json_is_integer(id) || json_integer_value(id) < 0 ||
                json_integer_value(id) >= p->nodes) {
                g_autofree char *what = g_strdup_printf("a node id from 0 to %u", p->nodes - 1);
                return fl_jv_error(jv, ik, NULL, id, what);
            }
            if (seen[json_integer_value(id)])
                return fl_jv_errorf(jv, ik, NULL, "node %" JSON_INTEGER_FORMAT " is in two groups",
                                    json_integer_value(id));
            seen[json_integer_value(id)] = true;
        }
    }
    p->groups = json_incref(groups);
    return true;
}

static bool partition_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                            const FlScenario *sc)
{
    Partition *p = f->state;
    p->nodes = sc->nodes;
    json_t *groups = json_object_get(spec, "groups"), *iso = json_object_get(spec, "isolate");
    json_t *shape = json_object_get(spec, "shape"), *order = json_object_get(spec, "order");
    if (!!groups + !!iso + !!shape != 1)
        return fl_jv_errorf(jv, path, NULL,
                            "expected exactly one of \"groups\", \"isolate\" or \"shape\"");
    if (!fl_jv_bool(jv, spec, path, "oneway", out, false, false, &p->oneway))
        return false;
    if (order && !shape)
        return fl_jv_errorf(jv, path, "order", "an order places the nodes of a \"shape\"");
    if (iso) {
        p->shape = SHAPE_ISOLATE;
        return fl_fault_node_field(jv, spec, path, "isolate", out, sc, &p->isolate);
    }
    if (groups) {
        p->shape = SHAPE_GROUPS;
        if (!parse_groups(p, groups, path, jv))
            return false;
        json_object_set(out, "groups", groups);
        return true;
    }
    const char *s;
    if (!fl_jv_string(jv, spec, path, "shape", out, true, NULL, "halves|bridge|majority-ring", &s))
        return false;
    p->shape = strcmp(s, "halves") == 0 ? SHAPE_HALVES
               : strcmp(s, "bridge") == 0 ? SHAPE_BRIDGE : SHAPE_RING;
    if (p->shape == SHAPE_BRIDGE && sc->nodes < 3)
        return fl_jv_errorf(jv, path, "shape", "a bridge needs at least 3 nodes (the cluster has %u)",
                            sc->nodes);
    if (p->shape == SHAPE_RING && p->oneway)
        return fl_jv_errorf(jv, path, "oneway",
                            "a majority ring has no sides to cut one way (drop \"oneway\")");
    if (order) {
        if (!parse_order(p, order, path, jv))
            return false;
        json_object_set(out, "order", order);
    }
    return true;
}

static FlFilterAction partition_filter(void *ctx, uint32_t from, uint32_t to, FlTime now,
                                       FlRng *rng, FlDuration *extra)
{
    Partition *p = ctx;
    if (from >= p->nodes || to >= p->nodes)
        return FL_FILTER_PASS;
    return p->cut[(size_t)from * p->nodes + to] ? FL_FILTER_DROP : FL_FILTER_PASS;
}

/* Cuts group a -> group b for every pair of nodes in different groups
 * (group UINT32_MAX, the bridge, is in none and is never cut). */
static void cut_groups(Partition *p, const uint32_t *group)
{
    uint32_t n = p->nodes;
    for (uint32_t a = 0; a < n; a++)
        for (uint32_t b = 0; b < n; b++)
            p->cut[(size_t)a * n + b] = group[a] != UINT32_MAX && group[b] != UINT32_MAX &&
                                        group[a] != group[b] &&
                                        (!p->oneway || group[a] < group[b]);
}

static void append_group(GString *s, const uint32_t *order, uint32_t from, uint32_t to)
{
    g_string_append_c(s, '[');
    for (uint32_t i = from; i < to; i++)
        g_string_append_printf(s, "%s%u", i > from ? "," : "", order[i]);
    g_string_append_c(s, ']');
}

/* Builds the cut matrix and describes it in @text.  Returns false when
 * nothing is cut because no node matched the selector. */
static bool layout(Partition *p, FlWorld *w, GString *text)
{
    uint32_t n = p->nodes;
    g_autofree uint32_t *group = g_new0(uint32_t, n);
    g_autofree uint32_t *order = g_new0(uint32_t, n);
    bool shaped = p->shape == SHAPE_HALVES || p->shape == SHAPE_BRIDGE || p->shape == SHAPE_RING;
    if (p->order) {
        memcpy(order, p->order, n * sizeof *order);
    } else {
        for (uint32_t i = 0; i < n; i++)
            order[i] = i;
        /* Only shapes draw: groups and isolate leave the stream as it was. */
        for (uint32_t k = shaped ? n : 0; k > 1; k--) {
            uint32_t j = (uint32_t)fl_rng_below(fl_world_fault_rng(w), k);
            uint32_t t = order[k - 1];
            order[k - 1] = order[j];
            order[j] = t;
        }
    }
    switch (p->shape) {
    case SHAPE_ISOLATE: {
        g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        fl_world_select(w, &p->isolate, ids);
        if (ids->len == 0)
            return false;
        /* A selector of several nodes ("minority-with-leader",
         * "leader+K", "minority") cuts that whole side off from the rest. */
        for (uint32_t i = 0; i < n; i++)
            group[i] = 1;
        g_string_assign(text, "isolate ");
        for (guint i = 0; i < ids->len; i++) {
            uint32_t who = g_array_index(ids, uint32_t, i);
            group[who] = 0;
            g_string_append_printf(text, "%s%u", i ? "," : "", who);
        }
        break;
    }
    case SHAPE_GROUPS: {
        size_t ng = json_array_size(p->groups), i, k;
        for (uint32_t x = 0; x < n; x++)
            group[x] = (uint32_t)ng;
        json_t *g, *id;
        json_array_foreach(p->groups, i, g) {
            json_array_foreach(g, k, id) group[json_integer_value(id)] = (uint32_t)i;
        }
        char *s = json_dumps(p->groups, JSON_COMPACT);
        g_string_printf(text, "groups %s", s);
        free(s);
        break;
    }
    case SHAPE_HALVES:
        for (uint32_t i = 0; i < n; i++)
            group[order[i]] = i < n / 2 ? 0 : 1;
        g_string_assign(text, "halves [");
        append_group(text, order, 0, n / 2);
        g_string_append_c(text, ',');
        append_group(text, order, n / 2, n);
        g_string_append_c(text, ']');
        break;
    case SHAPE_BRIDGE: {
        uint32_t mid = (n - 1) / 2;
        for (uint32_t i = 0; i < n; i++)
            group[order[i]] = i < mid ? 0 : i == mid ? UINT32_MAX : 1;
        g_string_assign(text, "bridge [");
        append_group(text, order, 0, mid);
        g_string_append_c(text, ',');
        append_group(text, order, mid + 1, n);
        g_string_append_printf(text, "] via %u", order[mid]);
        break;
    }
    case SHAPE_RING: {
        uint32_t m = n / 2 + 1;
        g_autofree uint32_t *pos = g_new0(uint32_t, n);
        for (uint32_t i = 0; i < n; i++)
            pos[order[i]] = i;
        /* b receives from a when a's ring position is in b's window
         * [pos(b) - m/2, pos(b) - m/2 + m - 1], taken mod n. */
        for (uint32_t a = 0; a < n; a++) {
            for (uint32_t b = 0; b < n; b++) {
                uint32_t off = (pos[a] + n - pos[b] + m / 2) % n;
                p->cut[(size_t)a * n + b] = off >= m;
            }
        }
        g_string_assign(text, "majority-ring ");
        append_group(text, order, 0, n);
        break;
    }
    }
    if (p->shape != SHAPE_RING)
        cut_groups(p, group);
    if (p->oneway)
        g_string_append(text, " oneway");
    return true;
}

static void partition_start(FlFault *f, FlWorld *w)
{
    Partition *p = f->state;
    g_free(p->cut);
    p->cut = g_new0(uint8_t, (size_t)p->nodes * p->nodes);
    g_autoptr(GString) text = g_string_new(NULL);
    if (!layout(p, w, text)) {
        fl_world_fault_event(w, f->index, "partition", "skip", "isolate: no node matched");
        return;
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
    g_free(p->order);
    g_free(p->cut);
}

static const FlFaultField partition_fields[] = {
    { "groups", "explicit groups of node ids, e.g. [[0,1],[2,3,4]]; unnamed nodes form one more group" },
    { "isolate", "node id or selector cut off from all others; a selector of several nodes (minority-with-leader, leader+K, minority) cuts them off together" },
    { "shape", "halves, bridge (two halves joined by one node) or majority-ring (each node sees a different majority)" },
    { "order", "the node ids in the order a shape places them (default: shuffled from the faults' stream)" },
    { "oneway", "cut one direction only: a lower group cannot send to a higher one, but hears it (default false)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_partition = {
    .name = "partition",
    .summary = "cuts servers apart: groups, isolate, halves, bridge, majority-ring, optionally one way; heals when it stops",
    .fields = partition_fields,
    .state_size = sizeof(Partition),
    .parse = partition_parse,
    .start = partition_start,
    .stop = partition_stop,
    .destroy = partition_destroy,
};
