#include "faults/links.h"

bool fl_fault_node_field(FlJv *jv, json_t *spec, const char *path, const char *key,
                         json_t *out, const FlScenario *sc, FlSelector *sel)
{
    json_t *v = json_object_get(spec, key);
    if (!v)
        return fl_jv_errorf(jv, path, key, "missing (this field is required)");
    g_autofree char *p = fl_jv_join(path, key);
    if (!fl_scenario_selector(jv, v, p, sc->nodes, sel))
        return false;
    json_object_set(out, key, v);
    return true;
}

bool fl_links_parse(FlLinks *l, json_t *spec, const char *path, json_t *out, FlJv *jv,
                    const FlScenario *sc)
{
    l->nodes = sc->nodes;
    json_t *star = json_string("*");
    json_t *from = json_object_get(spec, "from"), *to = json_object_get(spec, "to");
    g_autofree char *fp = fl_jv_join(path, "from");
    g_autofree char *tp = fl_jv_join(path, "to");
    bool ok = fl_scenario_selector(jv, from ? from : star, fp, sc->nodes, &l->from) &&
              fl_scenario_selector(jv, to ? to : star, tp, sc->nodes, &l->to) &&
              fl_jv_bool(jv, spec, path, "clients", out, false, false, &l->clients);
    if (ok) {
        json_object_set(out, "from", from ? from : star);
        json_object_set(out, "to", to ? to : star);
    }
    json_decref(star);
    return ok;
}

void fl_fault_resolve_set(FlWorld *w, const FlSelector *sel, bool *set, uint32_t n)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    fl_world_select(w, sel, ids);
    for (uint32_t i = 0; i < n; i++)
        set[i] = false;
    for (guint i = 0; i < ids->len; i++)
        set[g_array_index(ids, uint32_t, i)] = true;
}

void fl_links_resolve(FlLinks *l, FlWorld *w)
{
    if (!l->src) {
        l->src = g_new0(bool, l->nodes);
        l->dst = g_new0(bool, l->nodes);
    }
    fl_fault_resolve_set(w, &l->from, l->src, l->nodes);
    fl_fault_resolve_set(w, &l->to, l->dst, l->nodes);
}

static bool one_way(const FlLinks *l, uint32_t from, uint32_t to)
{
    bool fc = from >= l->nodes, tc = to >= l->nodes;
    if ((fc || tc) && !l->clients)
        return false;
    return (fc || l->src[from]) && (tc || l->dst[to]);
}

bool fl_links_match(const FlLinks *l, uint32_t from, uint32_t to)
{
    return one_way(l, from, to) || (l->both && one_way(l, to, from));
}

char *fl_fault_set_text(const bool *set, uint32_t n)
{
    GString *s = g_string_new(NULL);
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (set[i]) {
            g_string_append_printf(s, "%s%u", count ? "," : "", i);
            count++;
        }
    }
    if (count == n && n > 1)
        g_string_assign(s, "*");
    else if (count == 0)
        g_string_assign(s, "none");
    return g_string_free(s, FALSE);
}

char *fl_links_text(const FlLinks *l)
{
    g_autofree char *a = fl_fault_set_text(l->src, l->nodes);
    g_autofree char *b = fl_fault_set_text(l->dst, l->nodes);
    return g_strdup_printf("from %s %s %s%s", a, l->both ? "<->" : "to", b,
                           l->clients ? " (and clients)" : "");
}

void fl_fault_net_stop_text(FlFault *f, FlWorld *w, const char *text)
{
    int *handle = f->state;   /* the first member, by contract */
    if (!*handle)
        return;
    fl_net_remove_filter(fl_world_net(w), *handle);
    *handle = 0;
    fl_world_fault_event(w, f->index, f->kind->name, "stop", text);
}

void fl_fault_net_stop(FlFault *f, FlWorld *w)
{
    fl_fault_net_stop_text(f, w, NULL);
}

void fl_links_deinit(FlLinks *l)
{
    g_free(l->src);
    g_free(l->dst);
    l->src = l->dst = NULL;
}
