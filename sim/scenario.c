/* Loading a scenario: every field checked, every default written down.
 * The order of reading is fixed (it decides which range is drawn first), so
 * one file and one seed resolve to the same values everywhere. */
#include "sim/scenario.h"

#include "sim/catalog.h"
#include "sim/series.h"
#include "sim/module.h"
#include "sim/check/consistency.h"
#include "sim/check/elle.h"

#include <stdlib.h>
#include <string.h>

const char *fl_model_name(const FlWorkloadModel *m)
{
    return m ? m->check_model : "none";
}

static void default_net(FlNetSpec *net)
{
    memset(net, 0, sizeof *net);
    net->timing = FL_TIMING_ASYNC;
    net->bound = FL_MS(10);
    net->delay.dist = FL_DIST_UNIFORM;
    net->delay.min = FL_MS(1);
    net->delay.max = FL_MS(5);
}

static void default_workload(FlWorkloadSpec *wl, const FlWorkloadModel *model, FlDuration duration)
{
    memset(wl, 0, sizeof *wl);
    wl->model = model;
    wl->clients = 3;
    wl->keys = 1;
    wl->rate = 100;
    wl->timeout = FL_SEC(1);
    wl->until = duration;
    wl->settle = FL_SEC(1);
    for (const FlWorkloadOp *o = model ? model->ops : NULL; o && o->name; o++)
        wl->mix[o->kind] = o->weight;
}

static FlParamValue *default_params(const FlProtocol *p, size_t *n)
{
    size_t k = 0;
    while (p->params && p->params[k].name)
        k++;
    *n = k;
    return g_new0(FlParamValue, k + 1);
}

FlScenario *fl_scenario_new(const FlProtocol *p, uint32_t nodes)
{
    FlScenario *sc = g_new0(FlScenario, 1);
    sc->name = g_strdup("unnamed");
    sc->description = g_strdup("");
    sc->seed = 1;
    sc->duration = FL_SEC(10);
    sc->max_events = 2000000000ULL;
    sc->protocol = p;
    sc->nodes = nodes;
    size_t n;
    sc->params = default_params(p, &n);
    /* Defaults of the declared parameters. */
    for (size_t i = 0; i < n; i++) {
        const FlParam *d = &p->params[i];
        json_t *v = json_loads(d->def, JSON_DECODE_ANY, NULL);
        g_assert(v);
        switch (d->type) {
        case FL_PARAM_INT: sc->params[i].i = json_integer_value(v); break;
        case FL_PARAM_BOOL: sc->params[i].i = json_is_true(v); break;
        case FL_PARAM_DOUBLE: sc->params[i].d = json_number_value(v); break;
        case FL_PARAM_DURATION:
            g_assert(fl_duration_parse(json_string_value(v), &sc->params[i].i) == 0);
            break;
        case FL_PARAM_RANGE:
            g_assert(fl_duration_parse(json_string_value(json_array_get(v, 0)), &sc->params[i].i) == 0);
            g_assert(fl_duration_parse(json_string_value(json_array_get(v, 1)), &sc->params[i].hi) == 0);
            break;
        case FL_PARAM_ENUM:
            sc->params[i].s = g_intern_string(json_string_value(v));
            break;
        }
        json_decref(v);
    }
    default_net(&sc->net);
    default_workload(&sc->workload, NULL, sc->duration);
    sc->faults = g_ptr_array_new_with_free_func((GDestroyNotify)fl_fault_free);
    sc->expect = (FlExpect){ .valid = -1, .invariant = -1, .min_ok = -1, .max_p99 = -1, .min_p50 = -1, .min_availability = -1,
                             .max_info = -1, .max_false_suspicions = -1,
                             .min_false_suspicions = -1, .max_detection_time = -1,
                             .max_missed_detections = -1 };
    return sc;
}

void fl_scenario_free(FlScenario *sc)
{
    if (!sc)
        return;
    g_free(sc->file);
    g_free(sc->name);
    g_free(sc->description);
    g_free(sc->params);
    g_free(sc->skew);
    g_free(sc->drift);
    g_free(sc->resources.cpu_kind_cost);
    g_free(sc->resources.cpu_kind_set);
    if (sc->faults)
        g_ptr_array_unref(sc->faults);
    g_free(sc->consistency);
    if (sc->expect.models)
        json_decref(sc->expect.models);
    g_free(sc->expect.live_why);
    g_free(sc->expect.alerts_rules);
    for (guint i = 0; sc->expect.counters && i < sc->expect.counters->len; i++)
        g_free(g_array_index(sc->expect.counters, FlExpectCounter, i).name);
    if (sc->expect.counters)
        g_array_free(sc->expect.counters, TRUE);
    if (sc->schedule)
        g_array_free(sc->schedule, TRUE);
    if (sc->resolved)
        json_decref(sc->resolved);
    g_free(sc);
}

const char *fl_selector_text(const FlSelector *sel, char *buf)
{
    static const char *const names[] = {
        [FL_SEL_LEADER] = "leader", [FL_SEL_RANDOM] = "random", [FL_SEL_MINORITY] = "minority",
        [FL_SEL_MAJORITY] = "majority", [FL_SEL_ALL] = "*",
        [FL_SEL_MINORITY_LEADER] = "minority-with-leader", [FL_SEL_LAST_ROLE] = "last-role-change",
    };
    switch (sel->kind) {
    case FL_SEL_ID:
        g_snprintf(buf, FL_SELECTOR_TEXT, "%u", sel->id);
        return buf;
    case FL_SEL_ROLE:
        g_snprintf(buf, FL_SELECTOR_TEXT, "role:%s", g_quark_to_string(sel->id));
        return buf;
    case FL_SEL_LEADER_PLUS:
        g_snprintf(buf, FL_SELECTOR_TEXT, "leader+%u", sel->id);
        return buf;
    default:
        return names[sel->kind];
    }
}

/* A role name as protocols write them: short, lower case, digits, '-',
 * '_'.  A name with a capital or a space is refused, since no protocol could
 * ever claim it and the fault would silently hit nothing. */
static bool role_name_ok(const char *r)
{
    size_t len = strlen(r);
    if (strcmp(r, "*") == 0)
        return true;
    if (len == 0 || len >= FL_ROLE_MAX)
        return false;
    for (const char *c = r; *c; c++)
        if (!g_ascii_islower(*c) && !g_ascii_isdigit(*c) && *c != '-' && *c != '_')
            return false;
    return true;
}

bool fl_scenario_selector(FlJv *jv, json_t *v, const char *path, uint32_t nodes,
                          FlSelector *sel)
{
    if (jv->failed)
        return false;
    static const struct { const char *name; FlSelKind kind; } names[] = {
        { "leader", FL_SEL_LEADER }, { "random", FL_SEL_RANDOM },
        { "minority", FL_SEL_MINORITY }, { "majority", FL_SEL_MAJORITY }, { "*", FL_SEL_ALL },
        { "minority-with-leader", FL_SEL_MINORITY_LEADER },
        { "last-role-change", FL_SEL_LAST_ROLE },
    };
    g_autofree char *what = g_strdup_printf(
        "a node id from 0 to %u, or \"leader\", \"random\", \"minority\", \"majority\", \"*\", "
        "\"role:NAME\", \"role:*\", \"leader+K\" (K from 1 to %u), \"minority-with-leader\", "
        "\"last-role-change\"",
        nodes - 1, nodes > 1 ? nodes - 1 : 1);
    memset(sel, 0, sizeof *sel);
    if (json_is_integer(v)) {
        json_int_t id = json_integer_value(v);
        if (id < 0 || id >= nodes)
            return fl_jv_error(jv, path, NULL, v, what);
        sel->kind = FL_SEL_ID;
        sel->id = (uint32_t)id;
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
            if (strcmp(s, names[i].name) == 0) {
                sel->kind = names[i].kind;
                return true;
            }
        }
        if (g_str_has_prefix(s, "role:") && role_name_ok(s + 5)) {
            sel->kind = FL_SEL_ROLE;
            sel->id = g_quark_from_string(s + 5);
            return true;
        }
        if (g_str_has_prefix(s, "leader+") && g_ascii_isdigit(s[7])) {
            char *end = NULL;
            guint64 k = g_ascii_strtoull(s + 7, &end, 10);
            if (end && *end == '\0' && k >= 1 && k < nodes) {
                sel->kind = FL_SEL_LEADER_PLUS;
                sel->id = (uint32_t)k;
                return true;
            }
        }
    }
    return fl_jv_error(jv, path, NULL, v, what);
}

/* ---- sections --------------------------------------------------------- */

static bool load_params(FlJv *jv, FlScenario *sc, json_t *in, json_t *out)
{
    const FlProtocol *p = sc->protocol;
    const char *path = "/cluster/params";
    size_t n = 0;
    while (p->params && p->params[n].name)
        n++;
    g_autofree const char **names = g_new0(const char *, n + 1);
    for (size_t i = 0; i < n; i++)
        names[i] = p->params[i].name;
    if (in && !fl_jv_object(jv, in, path, names))
        return false;
    json_t *empty = json_object();
    if (!in)
        in = empty;
    for (size_t i = 0; i < n && !jv->failed; i++) {
        const FlParam *d = &p->params[i];
        FlParamValue *v = &sc->params[i];
        bool has_min = d->min != d->max;
        switch (d->type) {
        case FL_PARAM_INT:
            fl_jv_int(jv, in, path, d->name, out, false, v->i, has_min ? (int64_t)d->min : INT64_MIN,
                      has_min ? (int64_t)d->max : INT64_MAX, &v->i);
            break;
        case FL_PARAM_DOUBLE:
            fl_jv_double(jv, in, path, d->name, out, false, v->d, has_min ? d->min : -1e300,
                         has_min ? d->max : 1e300, &v->d);
            break;
        case FL_PARAM_BOOL: {
            bool b;
            if (fl_jv_bool(jv, in, path, d->name, out, false, v->i != 0, &b))
                v->i = b;
            break;
        }
        case FL_PARAM_DURATION:
            fl_jv_duration(jv, in, path, d->name, out, false, v->i, (FlDuration)d->min, &v->i);
            break;
        case FL_PARAM_RANGE:
            fl_jv_duration_range(jv, in, path, d->name, out, false, v->i, v->hi, &v->i, &v->hi);
            break;
        case FL_PARAM_ENUM: {
            const char *s;
            if (fl_jv_string(jv, in, path, d->name, out, false, v->s, d->choices, &s))
                v->s = g_intern_string(s);
            break;
        }
        }
    }
    json_decref(empty);
    if (!jv->failed && p->check_params) {
        const char *bad = NULL;
        g_autoptr(GString) why = g_string_new(NULL);
        if (!p->check_params(sc->params, sc->nodes, &bad, why))
            return fl_jv_errorf(jv, path, bad ? bad : "", "%s", why->str);
    }
    return !jv->failed;
}

static bool load_cluster(FlJv *jv, FlScenario **psc, json_t *in, json_t *root_out,
                         const char *file)
{
    static const char *const keys[] = { "module", "protocol", "nodes", "params", NULL };
    if (!fl_jv_object(jv, in, "/cluster", keys))
        return false;
    json_t *out = json_object();
    json_object_set_new(root_out, "cluster", out);
    const char *module;
    if (!fl_jv_string(jv, in, "/cluster", "module", NULL, false, NULL, NULL, &module))
        return false;
    if (module) {
        /* Relative to the scenario file; the scenario as run names it by
         * its absolute path, so that a replay file written elsewhere still
         * finds it. */
        g_autofree char *dir = g_path_get_dirname(file ? file : ".");
        g_autofree char *joined = g_path_is_absolute(module) ? g_strdup(module)
                                                             : g_build_filename(dir, module, NULL);
        g_autoptr(GError) merr = NULL;
        if (!fl_module_load(joined, fl_catalog()->protocols, &merr))
            return fl_jv_errorf(jv, "/cluster", "module", "%s", merr->message);
        g_autofree char *abs = realpath(joined, NULL);
        json_object_set_new(out, "module", json_string(abs ? abs : joined));
    }
    const char *name;
    if (!fl_jv_string(jv, in, "/cluster", "protocol", out, true, NULL, NULL, &name))
        return false;
    const FlProtocol *p = fl_catalog_protocol(name);
    if (!p) {
        g_autoptr(GString) names = g_string_new(NULL);
        for (const FlProtocol *const *q = fl_catalog()->protocols; *q; q++)
            g_string_append_printf(names, "%s%s", names->len ? ", " : "", (*q)->name);
        for (size_t i = 0; fl_module_protocol(i); i++)
            g_string_append_printf(names, ", %s", fl_module_protocol(i)->name);
        return fl_jv_errorf(jv, "/cluster", "protocol",
                            "unknown protocol \"%s\" (expected one of: %s)", name, names->str);
    }
    int64_t nodes;
    int64_t most = p->max_nodes ? p->max_nodes : FL_MAX_NODES;
    if (!fl_jv_int(jv, in, "/cluster", "nodes", out, false, 3, 1, most, &nodes))
        return false;
    FlScenario *sc = fl_scenario_new(p, (uint32_t)nodes);
    sc->file = g_strdup(file);
    *psc = sc;
    json_t *params = json_object();
    json_object_set_new(out, "params", params);
    return load_params(jv, sc, json_object_get(in, "params"), params);
}

static bool load_delay(FlJv *jv, json_t *in, const char *path, json_t *parent_out,
                       FlDelaySpec *d)
{
    if (!in)
        in = json_pack("{s:s,s:s,s:s}", "dist", "uniform", "min", "1ms", "max", "5ms");
    else
        json_incref(in);
    bool ok = true;
    if (json_is_string(in) || json_is_integer(in)) {
        d->dist = FL_DIST_FIXED;
        ok = fl_jv_duration_value(jv, in, path, 0, &d->value);
        char buf[32];
        if (ok)
            json_object_set_new(parent_out, "delay",
                                json_pack("{s:s,s:s}", "dist", "fixed", "value",
                                          fl_duration_format(d->value, buf)));
        json_decref(in);
        return ok;
    }
    static const char *const keys[] = { "dist", "value", "min", "max", "mean", "median", "p99",
                                         "alpha", NULL };
    json_t *out = json_object();
    json_object_set_new(parent_out, "delay", out);
    const char *dist;
    if (!fl_jv_object(jv, in, path, keys) ||
        !fl_jv_string(jv, in, path, "dist", out, true, NULL,
                      "fixed|uniform|exponential|lognormal|pareto", &dist)) {
        json_decref(in);
        return false;
    }
    /* Each distribution takes its own fields; the others are errors. */
    const char *allowed[8] = { "dist" };
    if (strcmp(dist, "fixed") == 0) {
        d->dist = FL_DIST_FIXED;
        allowed[1] = "value";
        ok = fl_jv_duration(jv, in, path, "value", out, true, 0, 0, &d->value);
    } else if (strcmp(dist, "uniform") == 0) {
        d->dist = FL_DIST_UNIFORM;
        allowed[1] = "min";
        allowed[2] = "max";
        ok = fl_jv_duration(jv, in, path, "min", out, false, 0, 0, &d->min) &&
             fl_jv_duration(jv, in, path, "max", out, true, 0, 0, &d->max);
        if (ok && d->max < d->min)
            ok = fl_jv_errorf(jv, path, "max", "expected max >= min");
    } else if (strcmp(dist, "exponential") == 0) {
        d->dist = FL_DIST_EXPONENTIAL;
        allowed[1] = "min";
        allowed[2] = "mean";
        ok = fl_jv_duration(jv, in, path, "min", out, false, 0, 0, &d->min) &&
             fl_jv_duration(jv, in, path, "mean", out, true, 0, 1, &d->mean);
    } else if (strcmp(dist, "lognormal") == 0) {
        d->dist = FL_DIST_LOGNORMAL;
        allowed[1] = "median";
        allowed[2] = "p99";
        ok = fl_jv_duration(jv, in, path, "median", out, true, 0, 1, &d->median) &&
             fl_jv_duration(jv, in, path, "p99", out, true, 0, 1, &d->p99);
        if (ok && d->p99 < d->median)
            ok = fl_jv_errorf(jv, path, "p99", "expected p99 >= median");
    } else {
        d->dist = FL_DIST_PARETO;
        allowed[1] = "min";
        allowed[2] = "alpha";
        ok = fl_jv_duration(jv, in, path, "min", out, true, 0, 1, &d->min) &&
             fl_jv_double(jv, in, path, "alpha", out, false, 2.0, 0.1, 100, &d->alpha);
    }
    ok = ok && fl_jv_object(jv, in, path, allowed);
    json_decref(in);
    return ok;
}

/* skew: one duration (every node), a range (each node draws), or an array
 * with one value per node.  drift likewise, with numbers. */
static bool load_clock(FlJv *jv, FlScenario *sc, json_t *in, json_t *out)
{
    uint32_t n = sc->nodes;
    json_t *skew = json_object_get(in, "skew"), *drift = json_object_get(in, "drift");
    if (skew) {
        sc->skew = g_new0(FlDuration, n);
        json_t *a = json_array();
        json_object_set_new(out, "skew", a);
        bool per_node = json_is_array(skew) && !(json_array_size(skew) == 2 && n != 2);
        if (json_is_array(skew) && per_node && json_array_size(skew) != n)
            return fl_jv_errorf(jv, "/network", "skew",
                                "expected one duration, a range [low, high], or an array of %u durations (one per node)", n);
        for (uint32_t i = 0; i < n; i++) {
            g_autofree char *p = per_node ? g_strdup_printf("/network/skew/%u", i)
                                          : g_strdup("/network/skew");
            json_t *v = per_node ? json_array_get(skew, i) : skew;
            if (!fl_jv_duration_value(jv, v, p, INT64_MIN, &sc->skew[i]))
                return false;
            char buf[32];
            json_array_append_new(a, json_string(fl_duration_format(sc->skew[i], buf)));
        }
    }
    if (drift) {
        sc->drift = g_new0(double, n);
        json_t *a = json_array();
        json_object_set_new(out, "drift", a);
        bool per_node = json_is_array(drift) && !(json_array_size(drift) == 2 && n != 2);
        if (json_is_array(drift) && per_node && json_array_size(drift) != n)
            return fl_jv_errorf(jv, "/network", "drift",
                                "expected one number, a range [low, high], or an array of %u numbers (one per node)", n);
        for (uint32_t i = 0; i < n; i++) {
            g_autofree char *p = per_node ? g_strdup_printf("/network/drift/%u", i)
                                          : g_strdup("/network/drift");
            json_t *v = per_node ? json_array_get(drift, i) : drift;
            double x;
            if (json_is_array(v) && json_array_size(v) == 2 &&
                json_is_number(json_array_get(v, 0)) && json_is_number(json_array_get(v, 1))) {
                double lo = json_number_value(json_array_get(v, 0));
                double hi = json_number_value(json_array_get(v, 1));
                /* Rounded as number ranges are (sim/jsonv.c): scenario.json
                 * must read back as exactly the same double. */
                char buf[G_ASCII_DTOSTR_BUF_SIZE];
                x = g_ascii_strtod(g_ascii_formatd(buf, sizeof buf, "%.6g",
                                                   lo + (hi - lo) * fl_rng_double(jv->rng)), NULL);
                x = CLAMP(x, lo, hi);
            } else if (json_is_number(v)) {
                x = json_number_value(v);
            } else {
                return fl_jv_error(jv, p, NULL, v, "a clock rate offset from -0.5 to 0.5 (0.001 is 1000 ppm)");
            }
            if (!(x >= -0.5 && x <= 0.5))
                return fl_jv_error(jv, p, NULL, v, "a clock rate offset from -0.5 to 0.5 (0.001 is 1000 ppm)");
            sc->drift[i] = x;
            json_array_append_new(a, json_real(x));
        }
    }
    return true;
}

/* The network's defences (sim/channel.h).  Each is resolved into @out only
 * when given, so the resolved form of every scenario without them stays
 * what it was. */
static bool load_channel(FlJv *jv, FlScenario *sc, json_t *in, json_t *out)
{
    FlChannelSpec *ch = &sc->channel;
    const char *auth = NULL;
    bool encrypt = false;
    int64_t window = 0;
    if (json_object_get(in, "auth")) {
        if (!fl_jv_string(jv, in, "/network", "auth", out, true, NULL, "none|mac", &auth))
            return false;
        ch->auth = strcmp(auth, "mac") == 0 ? FL_AUTH_MAC : FL_AUTH_NONE;
    }
    if (json_object_get(in, "encrypt")) {
        if (!fl_jv_bool(jv, in, "/network", "encrypt", out, true, false, &encrypt))
            return false;
        ch->encrypt = encrypt;
    }
    if (json_object_get(in, "replay_window")) {
        if (!fl_jv_int(jv, in, "/network", "replay_window", out, true, 0, 0,
                       FL_REPLAY_WINDOW_MAX, &window))
            return false;
        ch->replay_window = (uint32_t)window;
    }
    return true;
}

static bool load_network(FlJv *jv, FlScenario *sc, json_t *in, json_t *root_out)
{
    static const char *const keys[] = { "timing", "bound", "gst", "delay", "fifo", "drop",
                                        "skew", "drift", "auth", "encrypt", "replay_window",
                                        NULL };
    json_t *out = json_object();
    json_object_set_new(root_out, "network", out);
    json_t *empty = NULL;
    if (!in)
        in = empty = json_object();
    bool ok = fl_jv_object(jv, in, "/network", keys);
    const char *timing = NULL;
    FlNetSpec *net = &sc->net;
    ok = ok && fl_jv_string(jv, in, "/network", "timing", out, false, "async",
                            "sync|async|partial", &timing);
    if (ok) {
        net->timing = strcmp(timing, "sync") == 0    ? FL_TIMING_SYNC
                      : strcmp(timing, "async") == 0 ? FL_TIMING_ASYNC
                                                     : FL_TIMING_PARTIAL;
        if (net->timing == FL_TIMING_ASYNC) {
            if (json_object_get(in, "bound"))
                ok = fl_jv_errorf(jv, "/network", "bound",
                                  "the async timing model has no bound (use \"sync\" or \"partial\")");
            else if (json_object_get(in, "gst"))
                ok = fl_jv_errorf(jv, "/network", "gst",
                                  "gst belongs to the partial timing model");
        }
    }
    if (ok && net->timing != FL_TIMING_ASYNC)
        ok = fl_jv_duration(jv, in, "/network", "bound", out, false, FL_MS(10), 1, &net->bound);
    if (ok && net->timing == FL_TIMING_PARTIAL)
        ok = fl_jv_duration(jv, in, "/network", "gst", out, true, 0, 0, &net->gst);
    else if (ok && json_object_get(in, "gst"))
        ok = fl_jv_errorf(jv, "/network", "gst", "gst belongs to the partial timing model");
    ok = ok && load_delay(jv, json_object_get(in, "delay"), "/network/delay", out, &net->delay);
    ok = ok && fl_jv_bool(jv, in, "/network", "fifo", out, false, false, &net->fifo);
    ok = ok && fl_jv_double(jv, in, "/network", "drop", out, false, 0, 0, 1, &net->drop);
    ok = ok && load_clock(jv, sc, in, out);
    ok = ok && load_channel(jv, sc, in, out);
    if (empty)
        json_decref(empty);
    return ok;
}

/* A required delay field @key of resource object @obj (at JSON path
 * @path), resolved into @out under the same key: load_delay names its
 * result "delay", so it resolves into a scratch object first.  @what says
 * what the delay is, for the message when it is missing. */
static bool load_resource_delay(FlJv *jv, json_t *obj, const char *path, const char *key,
                                const char *what, json_t *out, FlDelaySpec *spec)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return fl_jv_errorf(jv, path, key, "missing: %s (a duration, or a distribution "
                            "object as network.delay)", what);
    g_autofree char *at = g_strdup_printf("%s/%s", path, key);
    json_t *tmp = json_object();
    bool ok = load_delay(jv, v, at, tmp, spec);
    if (ok)
        json_object_set(out, key, json_object_get(tmp, "delay"));
    json_decref(tmp);
    return ok;
}

/* `resources.cpu.per_kind` ({"KIND": DELAY, ...}): each KIND must be one
 * of the protocol's message kinds (its msg_kind hook and `kinds` list),
 * resolved into @cout in the order of that list.  The entries are loaded
 * in that order too, not the file's, so that a range among them draws
 * the same value whatever order the file lists them in. */
static bool load_cpu_per_kind(FlJv *jv, FlScenario *sc, json_t *in, json_t *cout)
{
    const char *path = "/resources/cpu/per_kind";
    const FlProtocol *p = sc->protocol;
    FlResourceSpec *r = &sc->resources;
    if (!json_is_object(in))
        return fl_jv_error(jv, "/resources/cpu", "per_kind", in,
                           "an object: message kind -> service time");
    if (!p->msg_kind || !p->kinds)
        return fl_jv_errorf(jv, "/resources/cpu", "per_kind",
                            "protocol %s does not name its message kinds (it has no msg_kind "
                            "hook): give its messages one \"cost\"", p->name);
    g_auto(GStrv) kinds = g_strsplit(p->kinds, "|", -1);
    /* The unknown kind that sorts first, so that the message does not
     * depend on the order of the file. */
    const char *key, *worst = NULL;
    json_t *val;
    json_object_foreach(in, key, val) {
        if (!g_strv_contains((const char *const *)kinds, key) && (!worst || strcmp(key, worst) < 0))
            worst = key;
    }
    if (worst)
        return fl_jv_errorf(jv, path, worst, "protocol %s has no message kind \"%s\" (expected "
                            "one of: %s)", p->name, worst, p->kinds);
    r->cpu_kinds = g_strv_length(kinds);
    r->cpu_kind_cost = g_new0(FlDelaySpec, r->cpu_kinds);
    r->cpu_kind_set = g_new0(bool, r->cpu_kinds);
    json_t *kout = json_object();
    json_object_set_new(cout, "per_kind", kout);
    for (uint32_t i = 0; i < r->cpu_kinds; i++) {
        if (!json_object_get(in, kinds[i]))
            continue;
        if (!load_resource_delay(jv, in, path, kinds[i], "the service time of one such message",
                                 kout, &r->cpu_kind_cost[i]))
            return false;
        r->cpu_kind_set[i] = true;
    }
    return true;
}

/* `resources` (issue 22, item 1): off unless given, and then written into
 * the resolved scenario, so that a file without it resolves as before.
 *   "resources": {"cpu": {"cost": DELAY, "per_kib": DURATION, "queue": N,
 *                         "per_kind": {"KIND": DELAY, ...}},
 *                 "link": {"bytes_per_s": X},
 *                 "disk": {"sync": DELAY, "bytes_per_s": X}}
 * DELAY is a duration or a distribution object, as network.delay. */
static bool load_resources(FlJv *jv, FlScenario *sc, json_t *in, json_t *root_out)
{
    static const char *const keys[] = { "cpu", "link", "disk", NULL };
    static const char *const cpu_keys[] = { "cost", "per_kib", "queue", "per_kind", NULL };
    static const char *const link_keys[] = { "bytes_per_s", NULL };
    static const char *const disk_keys[] = { "sync", "bytes_per_s", NULL };
    FlResourceSpec *r = &sc->resources;
    *r = (FlResourceSpec){ 0 };
    if (!in)
        return true;
    json_t *out = json_object();
    json_object_set_new(root_out, "resources", out);
    if (!fl_jv_object(jv, in, "/resources", keys))
        return false;
    json_t *cpu = json_object_get(in, "cpu"), *link = json_object_get(in, "link");
    json_t *disk = json_object_get(in, "disk");
    if (!cpu && !link && !disk)
        return fl_jv_errorf(jv, "", "resources", "expected at least one of \"cpu\", \"link\", \"disk\"");
    r->on = true;
    if (cpu) {
        json_t *cout = json_object();
        json_object_set_new(out, "cpu", cout);
        if (!fl_jv_object(jv, cpu, "/resources/cpu", cpu_keys))
            return false;
        bool ok = load_resource_delay(jv, cpu, "/resources/cpu", "cost",
                                      "the service time of one message, such as \"200us\"",
                                      cout, &r->cpu_cost);
        int64_t queue = 0;
        ok = ok &&
             fl_jv_duration(jv, cpu, "/resources/cpu", "per_kib", cout, false, 0, 0, &r->cpu_per_kib) &&
             fl_jv_int(jv, cpu, "/resources/cpu", "queue", cout, false, 1000, 0, 1000000, &queue);
        json_t *per_kind = json_object_get(cpu, "per_kind");
        ok = ok && (!per_kind || load_cpu_per_kind(jv, sc, per_kind, cout));
        if (!ok)
            return false;
        r->cpu = true;
        r->cpu_queue = (uint32_t)queue;
    }
    if (link) {
        json_t *lout = json_object();
        json_object_set_new(out, "link", lout);
        if (!fl_jv_object(jv, link, "/resources/link", link_keys) ||
            !fl_jv_double(jv, link, "/resources/link", "bytes_per_s", lout, true, 0, 1, 1e15,
                          &r->link_bytes_per_s))
            return false;
    }
    if (disk) {
        json_t *dout = json_object();
        json_object_set_new(out, "disk", dout);
        if (!fl_jv_object(jv, disk, "/resources/disk", disk_keys))
            return false;
        bool ok = load_resource_delay(jv, disk, "/resources/disk", "sync",
                                      "the latency of one sync, such as \"2ms\"", dout,
                                      &r->disk_sync);
        if (!ok || !fl_jv_double(jv, disk, "/resources/disk", "bytes_per_s", dout, false, 0, 0,
                                 1e15, &r->disk_bytes_per_s))
            return false;
        r->disk = true;
    }
    return true;
}

/* `timeseries` (issue 22, item 3): {"window": DURATION}, the windows of
 * timeseries.jsonl and metrics.om.  Written into the resolved scenario
 * only when given (scenario.json stays as before). */
static bool load_timeseries(FlJv *jv, FlScenario *sc, json_t *in, json_t *root_out)
{
    static const char *const keys[] = { "window", NULL };
    sc->series_window = 0;
    if (!in)
        return true;
    json_t *out = json_object();
    json_object_set_new(root_out, "timeseries", out);
    return fl_jv_object(jv, in, "/timeseries", keys) &&
           fl_jv_duration(jv, in, "/timeseries", "window", out, false, FL_MS(100), FL_US(1),
                          &sc->series_window);
}

static bool load_workload(FlJv *jv, FlScenario *sc, json_t *in, json_t *root_out)
{
    static const char *const keys[] = { "model", "clients", "keys", "rate", "mix", "timeout",
                                        "start", "until", "final_reads", "settle", NULL };
    if (!in) {
        default_workload(&sc->workload, NULL, sc->duration);
        json_object_set_new(root_out, "workload", json_pack("{s:s}", "model", "none"));
        return true;
    }
    json_t *out = json_object();
    json_object_set_new(root_out, "workload", out);
    g_autoptr(GString) names = g_string_new("none");
    /* Appended, not printed: this runs once per seed of a fuzz campaign. */
    for (const FlWorkloadModel *const *m = fl_workload_models(); *m; m++) {
        g_string_append_c(names, '|');
        g_string_append(names, (*m)->name);
    }
    g_string_append(names, "|cas-register");
    const char *model;
    if (!fl_jv_object(jv, in, "/workload", keys) ||
        !fl_jv_string(jv, in, "/workload", "model", out, true, NULL, names->str, &model))
        return false;
    const FlWorkloadModel *m = strcmp(model, "none") == 0 ? NULL : fl_workload_model_find(model);
    FlWorkloadSpec *wl = &sc->workload;
    default_workload(wl, m, sc->duration);
    if (!m)
        return true;
    int64_t clients, keys_n;
    bool ok = fl_jv_int(jv, in, "/workload", "clients", out, false, 3, 1, 10000, &clients) &&
              fl_jv_int(jv, in, "/workload", "keys", out, false, 1, 1, FL_MAX_KEYS, &keys_n) &&
              fl_jv_double(jv, in, "/workload", "rate", out, false, 100, 1e-3, 1e9, &wl->rate) &&
              fl_jv_duration(jv, in, "/workload", "timeout", out, false, FL_SEC(1), 1, &wl->timeout) &&
              fl_jv_duration(jv, in, "/workload", "start", out, false, 0, 0, &wl->start) &&
              fl_jv_duration(jv, in, "/workload", "until", out, false, sc->duration, 0, &wl->until) &&
              fl_jv_bool(jv, in, "/workload", "final_reads", out, false, false, &wl->final_reads) &&
              fl_jv_duration(jv, in, "/workload", "settle", out, false, FL_SEC(1), 0, &wl->settle);
    if (!ok)
        return false;
    wl->clients = (uint32_t)clients;
    wl->keys = (uint32_t)keys_n;
    json_t *mix = json_object_get(in, "mix");
    json_t *mix_out = json_object();
    json_object_set_new(out, "mix", mix_out);
    const char *ops[FL_OP_MAX + 1];
    size_t n = 0;
    for (const FlWorkloadOp *o = m->ops; o->name; o++)
        ops[n++] = o->name;
    ops[n] = NULL;
    if (mix && !fl_jv_object(jv, mix, "/workload/mix", ops))
        return false;
    double total = 0;
    for (const FlWorkloadOp *o = m->ops; o->name; o++) {
        double *slot = &wl->mix[o->kind];
        if (mix && !fl_jv_double(jv, mix, "/workload/mix", o->name, NULL, false, 0, 0, 1e9, slot))
            return false;
        json_object_set_new(mix_out, o->name, json_real(*slot));
        total += *slot;
    }
    if (total <= 0)
        return fl_jv_errorf(jv, "/workload", "mix", "expected at least one operation with a positive weight");
    if (wl->final_reads && wl->until + wl->settle >= sc->duration)
        return fl_jv_errorf(jv, "/workload", "final_reads",
                            "the final reads start at until + settle, which must be before the end of the run");
    return true;
}

static bool load_faults(FlJv *jv, FlScenario *sc, json_t *in, json_t *root_out)
{
    json_t *out = json_array();
    json_object_set_new(root_out, "faults", out);
    if (!in)
        return true;
    if (!json_is_array(in))
        return fl_jv_error(jv, "/faults", NULL, in, "an array of faults");
    size_t i;
    json_t *spec;
    json_array_foreach(in, i, spec) {
        g_autofree char *path = g_strdup_printf("/faults/%zu", i);
        if (!json_is_object(spec))
            return fl_jv_error(jv, path, NULL, spec, "a fault object");
        json_t *fo = json_object();
        json_array_append_new(out, fo);
        const char *kind_name;
        if (!fl_jv_string(jv, spec, path, "kind", fo, true, NULL, NULL, &kind_name))
            return false;
        const FlFaultKind *kind = fl_catalog_fault_kind(kind_name);
        if (!kind) {
            g_autoptr(GString) names = g_string_new(NULL);
            for (const FlFaultKind *const *k = fl_catalog()->fault_kinds; *k; k++)
                g_string_append_printf(names, "%s%s", names->len ? ", " : "", (*k)->name);
            return fl_jv_errorf(jv, path, "kind", "unknown fault kind \"%s\" (expected one of: %s)",
                                kind_name, names->str);
        }
        /* Allowed keys: the common ones and the kind's own.  A kind with its
         * own timing (the nemesis) reads every time field itself. */
        GPtrArray *allowed = g_ptr_array_new();
        g_ptr_array_add(allowed, "kind");
        if (!kind->own_timing) {
            g_ptr_array_add(allowed, "at");
            g_ptr_array_add(allowed, "for");
            g_ptr_array_add(allowed, "until");
        }
        if (kind->duration_field)
            g_ptr_array_add(allowed, (gpointer)kind->duration_field);
        for (const FlFaultField *ff = kind->fields; ff && ff->name; ff++)
            g_ptr_array_add(allowed, (gpointer)ff->name);
        g_ptr_array_add(allowed, NULL);
        bool ok = fl_jv_object(jv, spec, path, (const char *const *)allowed->pdata);
        g_ptr_array_free(allowed, TRUE);
        if (!ok)
            return false;

        FlFault *f = g_new0(FlFault, 1);
        f->kind = kind;
        f->index = (uint32_t)i;
        f->state = g_malloc0(kind->state_size ? kind->state_size : 1);
        g_ptr_array_add(sc->faults, f);
        if (kind->own_timing) {
            if (!kind->parse(f, spec, path, fo, jv, sc))
                return false;
            continue;
        }
        FlDuration at, dur = 0, until;
        if (!fl_jv_duration(jv, spec, path, "at", fo, false, 0, 0, &at))
            return false;
        f->at = (FlTime)at;
        int given = !!json_object_get(spec, "for") + !!json_object_get(spec, "until") +
                    (kind->duration_field && json_object_get(spec, kind->duration_field));
        if (given > 1)
            return fl_jv_errorf(jv, path, NULL, "give at most one of \"for\", \"until\"%s%s%s",
                                kind->duration_field ? ", \"" : "",
                                kind->duration_field ? kind->duration_field : "",
                                kind->duration_field ? "\"" : "");
        if (json_object_get(spec, "for")) {
            if (!fl_jv_duration(jv, spec, path, "for", fo, true, 0, 1, &dur))
                return false;
        } else if (json_object_get(spec, "until")) {
            if (!fl_jv_duration(jv, spec, path, "until", fo, true, 0, 0, &until))
                return false;
            if (until <= at)
                return fl_jv_errorf(jv, path, "until", "expected a time after \"at\"");
            dur = until - at;
        } else if (kind->duration_field && json_object_get(spec, kind->duration_field)) {
            if (!fl_jv_duration(jv, spec, path, kind->duration_field, fo, true, 0, 1, &dur))
                return false;
        }
        f->dur = dur;
        if (!kind->parse(f, spec, path, fo, jv, sc))
            return false;
    }
    return true;
}

/* check.consistency: one model, or a list of them ("linearizable",
 * ["linearizable", "causal", "eventual"]); kept as one comma-separated
 * string, which is what the checker takes. */
static bool load_check(FlJv *jv, FlScenario *sc, json_t *in, json_t *root_out)
{
    static const char *const keys[] = { "consistency", NULL };
    if (!in)
        return true;
    json_t *out = json_object();
    json_object_set_new(root_out, "check", out);
    if (!fl_jv_object(jv, in, "/check", keys))
        return false;
    /* The storage and computation checkers (sim/check/files.c,
     * mapreduce.c, stream.c) and the node-log checkers (events.c) decide
     * these, by model, before the others. */
    static const char *const storage_checks[] = { "durable", "exact", "exactly-once",
                                                  "at-least-once", "happens-before", "one-leader",
                                                  "consistent-cut", "mutual-exclusion", "serial-resource", "membership", "validity", "agreement",
                                                  "integrity", "fifo-order", "causal-order",
                                                  "total-order", NULL };
    g_autoptr(GString) names = g_string_new("none");
    /* Appended, not printed: this runs once per seed of a fuzz campaign. */
    for (const char *const *c = fl_consistency_names(); *c; c++) {
        g_string_append_c(names, '|');
        g_string_append(names, *c);
    }
    for (const char *const *c = storage_checks; *c; c++) {
        g_string_append_c(names, '|');
        g_string_append(names, *c);
    }
    /* The transactional levels (sim/check/elle.h), for list-append and
     * rw-register workloads. */
    for (const char *const *c = fl_elle_consistency_names(); *c; c++) {
        g_string_append_c(names, '|');
        g_string_append(names, *c);
    }
    json_t *c = json_object_get(in, "consistency");
    if (json_is_array(c)) {
        if (json_array_size(c) == 0)
            return fl_jv_errorf(jv, "/check", "consistency", "expected at least one model");
        g_autoptr(GString) list = g_string_new(NULL);
        json_t *arr = json_array();
        json_object_set_new(out, "consistency", arr);
        size_t i;
        json_t *item;
        json_array_foreach(c, i, item) {
            g_autofree char *idx = g_strdup_printf("%zu", i);
            const char *m = json_string_value(item);
            bool known = false;
            for (const char *const *k = fl_consistency_names(); m && *k; k++)
                known |= strcmp(*k, m) == 0;
            for (const char *const *k = storage_checks; m && *k; k++)
                known |= strcmp(*k, m) == 0;
            for (const char *const *k = fl_elle_consistency_names(); m && *k; k++)
                known |= strcmp(*k, m) == 0;
            if (!known)
                return fl_jv_error(jv, "/check/consistency", idx, item, names->str + 5);
            g_string_append_printf(list, "%s%s", list->len ? "," : "", m);
            json_array_append(arr, item);
        }
        sc->consistency = g_strdup(list->str);
    } else {
        const char *one;
        if (!fl_jv_string(jv, in, "/check", "consistency", out, true, NULL, names->str, &one))
            return false;
        if (strcmp(one, "none") != 0)
            sc->consistency = g_strdup(one);
    }
    if (sc->consistency && !sc->workload.model)
        return fl_jv_errorf(jv, "/check", "consistency",
                            "a check needs a workload (give /workload/model)");
    /* The transactional levels belong to the list-append and rw-register
     * workloads, and only they: caught here, not by the checker after the
     * run (which would report a bad scenario as a checker failure). */
    if (sc->consistency) {
        bool txn_model = fl_elle_model(fl_model_name(sc->workload.model));
        g_auto(GStrv) levels = g_strsplit(sc->consistency, ",", -1);
        for (char **l = levels; *l; l++) {
            bool txn_level = false;
            for (const char *const *k = fl_elle_consistency_names(); *k; k++)
                txn_level |= strcmp(*k, *l) == 0;
            if (txn_level != txn_model)
                return fl_jv_errorf(jv, "/check", "consistency",
                                    txn_model ? "workload %s is checked at a transactional level "
                                                "(read-uncommitted ... strict-serializable), not %s"
                                              : "%s is a transactional level: it needs workload "
                                                "list-append or rw-register, not %s",
                                    txn_model ? fl_model_name(sc->workload.model) : *l,
                                    txn_model ? *l : fl_model_name(sc->workload.model));
        }
    }
    return true;
}

/* expect.counters: {"name": {"min": x, "max": y}, ...}, bounds on the
 * protocol counters of metrics.json. */
/* Edit distance, to list the declared counters closest to a misspelt
 * name first. */
static guint edit_distance(const char *a, const char *b)
{
    gsize la = strlen(a), lb = strlen(b);
    g_autofree guint *row = g_new(guint, lb + 1);
    for (gsize j = 0; j <= lb; j++)
        row[j] = (guint)j;
    for (gsize i = 1; i <= la; i++) {
        guint diag = row[0];
        row[0] = (guint)i;
        for (gsize j = 1; j <= lb; j++) {
            guint up = row[j];
            guint best = MIN(row[j] + 1, row[j - 1] + 1);
            row[j] = MIN(best, diag + (a[i - 1] != b[j - 1]));
            diag = up;
        }
    }
    return row[lb];
}

typedef struct {
    const char *name;
    guint dist;
    guint index;
} CounterHint;

static int cmp_hint(const void *x, const void *y)
{
    const CounterHint *a = x, *b = y;
    if (a->dist != b->dist)
        return a->dist < b->dist ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* A bound on a counter the protocol does not declare (FlProtocol.counters)
 * would read as 0 and pass whatever happens: refuse it, naming the
 * declared counters, closest first. */
static const char *const net_counters[] = { "net.auth_dropped", "net.replay_dropped",
                                             "net.malformed_dropped", NULL };

bool fl_scenario_counter_engine(const FlScenario *sc, const char *name)
{
    for (const char *const *c = net_counters; *c; c++)
        if (strcmp(*c, name) == 0)
            return true;
    for (guint i = 0; sc->faults && i < sc->faults->len; i++) {
        const FlFault *f = g_ptr_array_index(sc->faults, i);
        for (const char *const *c = f->kind->counters; c && *c; c++)
            if (strcmp(*c, name) == 0)
                return true;
    }
    return false;
}

static bool check_counter_declared(FlJv *jv, const FlScenario *sc, const char *name,
                                   const char *path)
{
    const FlProtocol *p = sc->protocol;
    if (!p || !p->counters || fl_scenario_counter_engine(sc, name))
        return true;
    guint n = 0;
    for (const char *const *c = p->counters; *c; c++, n++)
        if (g_pattern_match_simple(*c, name))
            return true;
    g_autofree CounterHint *h = g_new(CounterHint, MAX(n, 1));
    for (guint i = 0; i < n; i++)
        h[i] = (CounterHint){ p->counters[i], edit_distance(name, p->counters[i]), i };
    qsort(h, n, sizeof *h, cmp_hint);
    g_autoptr(GString) names = g_string_new(NULL);
    for (guint i = 0; i < n; i++)
        g_string_append_printf(names, "%s%s", i ? ", " : "", h[i].name);
    return fl_jv_errorf(jv, path, NULL, "protocol %s has no counter \"%s\" (its counters, "
                        "closest first: %s)", p->name, name, names->str);
}

static bool load_expect_counters(FlJv *jv, const FlScenario *sc, FlExpect *e, json_t *in,
                                 json_t *out)
{
    static const char *const bkeys[] = { "min", "max", NULL };
    if (!json_is_object(in))
        return fl_jv_error(jv, "/expect", "counters", in,
                           "an object of counter names, each with \"min\" and/or \"max\"");
    json_t *co = json_object();
    json_object_set_new(out, "counters", co);
    e->counters = g_array_new(FALSE, TRUE, sizeof(FlExpectCounter));
    const char *name;
    json_t *b;
    json_object_foreach(in, name, b) {
        g_autofree char *path = g_strdup_printf("/expect/counters/%s", name);
        if (!check_counter_declared(jv, sc, name, path))
            return false;
        json_t *bo = json_object();
        json_object_set_new(co, name, bo);
        FlExpectCounter c = { 0 };
        if (!fl_jv_object(jv, b, path, bkeys))
            return false;
        if (!json_object_get(b, "min") && !json_object_get(b, "max"))
            return fl_jv_errorf(jv, path, NULL, "expected \"min\" and/or \"max\"");
        c.has_min = json_object_get(b, "min") != NULL;
        c.has_max = json_object_get(b, "max") != NULL;
        if ((c.has_min && !fl_jv_double(jv, b, path, "min", bo, true, 0, -1e300, 1e300, &c.min)) ||
            (c.has_max && !fl_jv_double(jv, b, path, "max", bo, true, 0, -1e300, 1e300, &c.max)))
            return false;
        c.name = g_strdup(name);
        g_array_append_val(e->counters, c);
    }
    return true;
}

static bool load_expect(FlJv *jv, FlScenario *sc, json_t *in, json_t *root_out)
{
    static const char *const keys[] = { "valid", "min_ok", "max_p99", "min_p50", "min_availability",
                                        "max_info", "liveness", "trace_hash", "models",
                                        "max_false_suspicions", "min_false_suspicions",
                                        "max_detection_time", "max_missed_detections", "counters",
                                        "invariant", "sla", "alerts", NULL };
    FlExpect *e = &sc->expect;
    if (!in)
        return true;
    json_t *out = json_object();
    json_object_set_new(root_out, "expect", out);
    if (!fl_jv_object(jv, in, "/expect", keys))
        return false;
    bool ok = true;
    if (json_object_get(in, "valid")) {
        bool v = false;
        ok = fl_jv_bool(jv, in, "/expect", "valid", out, true, false, &v);
        if (ok)
            e->valid = v;
        if (ok && !sc->consistency)
            return fl_jv_errorf(jv, "/expect", "valid",
                                "an expected verdict needs a check (give /check/consistency)");
    }
    if (ok && json_object_get(in, "invariant")) {
        bool v = false;
        ok = fl_jv_bool(jv, in, "/expect", "invariant", out, true, false, &v);
        if (ok)
            e->invariant = v;
    }
    if (ok && json_object_get(in, "min_ok"))
        ok = fl_jv_int(jv, in, "/expect", "min_ok", out, true, 0, 0, INT64_MAX, &e->min_ok);
    if (ok && json_object_get(in, "max_info"))
        ok = fl_jv_int(jv, in, "/expect", "max_info", out, true, 0, 0, INT64_MAX, &e->max_info);
    if (ok && json_object_get(in, "max_p99"))
        ok = fl_jv_duration(jv, in, "/expect", "max_p99", out, true, 0, 0, &e->max_p99);
    if (ok && json_object_get(in, "min_p50"))
        ok = fl_jv_duration(jv, in, "/expect", "min_p50", out, true, 0, 1, &e->min_p50);
    if (ok && json_object_get(in, "min_availability"))
        ok = fl_jv_double(jv, in, "/expect", "min_availability", out, true, 0, 0, 1,
                          &e->min_availability);
    json_t *live = json_object_get(in, "liveness");
    if (ok && json_is_false(live)) {
        /* No liveness claimed (spec/scenario.md): kept as written. */
        json_object_set_new(out, "liveness", json_false());
        e->live_mode = FL_LIVE_OFF;
        live = NULL;
    }
    if (ok && live) {
        static const char *const lkeys[] = { "after", "budget", "min_ok", "core", NULL };
        json_t *lo = json_object();
        json_object_set_new(out, "liveness", lo);
        ok = fl_jv_object(jv, live, "/expect/liveness", lkeys) &&
             fl_jv_duration(jv, live, "/expect/liveness", "after", lo, true, 0, 0, &e->live_after) &&
             fl_jv_duration(jv, live, "/expect/liveness", "budget", lo, true, 0, 1, &e->live_budget) &&
             fl_jv_int(jv, live, "/expect/liveness", "min_ok", lo, false, 1, 1, INT64_MAX,
                       &e->live_min_ok) &&
             fl_jv_bool(jv, live, "/expect/liveness", "core", lo, false, false, &e->live_core);
        e->liveness = ok;
        e->live_mode = FL_LIVE_EXPLICIT;
        if (ok && !sc->workload.model)
            return fl_jv_errorf(jv, "/expect", "liveness", "the liveness phase needs a workload");
        if (ok && (e->live_after + e->live_budget > sc->duration ||
                   e->live_after + e->live_budget > sc->workload.until)) {
            char a[32], b[32];
            return fl_jv_errorf(jv, "/expect", "liveness",
                                "after + budget (%s) must not pass the run's duration or the "
                                "workload's until (%s)",
                                fl_duration_format(e->live_after + e->live_budget, a),
                                fl_duration_format(sc->duration < sc->workload.until ? sc->duration
                                                                                     : sc->workload.until, b));
        }
    }
    json_t *models = json_object_get(in, "models");
    if (ok && models) {
        /* Which of the checked models hold: {"linearizable": false, ...};
         * null: checked for its rate over seeds (`faultline claims`), with
         * no claim either way. */
        if (!json_is_object(models) || json_object_size(models) == 0)
            return fl_jv_error(jv, "/expect", "models", models,
                               "an object from checked models to true, false or null");
        g_auto(GStrv) checked = g_strsplit(sc->consistency ? sc->consistency : "", ",", -1);
        const char *name;
        json_t *want;
        json_object_foreach(models, name, want) {
            if (!json_is_boolean(want) && !json_is_null(want))
                return fl_jv_error(jv, "/expect/models", name, want, "true, false or null");
            if (!g_strv_contains((const char *const *)checked, name))
                return fl_jv_errorf(jv, "/expect/models", name, "\"%s\" is not among the "
                                    "checked models (/check/consistency)", name);
        }
        e->models = json_incref(models);
        json_object_set(out, "models", models);
    }
    json_t *counters = json_object_get(in, "counters");
    if (ok && counters)
        ok = load_expect_counters(jv, sc, e, counters, out);
    json_t *th = json_object_get(in, "trace_hash");
    if (ok && th) {
        const char *s = json_string_value(th);
        char *end = NULL;
        if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16 ||
            (e->trace_hash = g_ascii_strtoull(s, &end, 16), *end))
            return fl_jv_error(jv, "/expect", "trace_hash", th, "16 hex digits");
        e->has_trace_hash = true;
        json_object_set(out, "trace_hash", th);
    }
    json_t *sla = json_object_get(in, "sla");
    if (ok && sla) {
        /* {"target": 0.999, "window": "1s"}: a target strictly between 0
         * and 1 (1 leaves no budget to spend, 0 claims nothing), a window
         * that cuts the run into at most FL_SERIES_MAX_WINDOWS. */
        static const char *const skeys[] = { "target", "window", NULL };
        json_t *so = json_object();
        json_object_set_new(out, "sla", so);
        ok = fl_jv_object(jv, sla, "/expect/sla", skeys) &&
             fl_jv_double(jv, sla, "/expect/sla", "target", so, true, 0, 0, 1, &e->sla_target) &&
             fl_jv_duration(jv, sla, "/expect/sla", "window", so, false, FL_SLA_DEFAULT_WINDOW,
                            FL_MS(1), &e->sla_window);
        if (ok && (e->sla_target <= 0 || e->sla_target >= 1))
            return fl_jv_error(jv, "/expect/sla", "target", json_object_get(sla, "target"),
                               "a number strictly between 0 and 1, such as 0.999");
        if (ok && !sc->workload.model)
            return fl_jv_errorf(jv, "/expect", "sla", "an availability target needs a workload");
        if (ok && sc->duration / e->sla_window >= FL_SERIES_MAX_WINDOWS)
            return fl_jv_errorf(jv, "/expect/sla", "window",
                                "too short for the run: at most %u windows", FL_SERIES_MAX_WINDOWS);
        e->has_sla = ok;
    }
    json_t *alerts = json_object_get(in, "alerts");
    if (ok && alerts) {
        /* {"fire": [{"alert": NAME, "within": DURATION}], "quiet": bool,
         * "rules": FILE}: judged against the rules file by promtool, in
         * `run`, `fuzz` and `claims` when the scenario names it (relative
         * to its own folder, written absolute into the resolved scenario,
         * as cluster.module, so that a replay file elsewhere finds it),
         * and by `faultline alerts --rules` in any case; checked here so
         * that a typo is caught when the scenario loads, and kept in
         * scenario.json for `faultline alerts`. */
        static const char *const akeys[] = { "fire", "quiet", "rules", NULL };
        static const char *const fkeys[] = { "alert", "within", NULL };
        json_t *ao = json_object();
        json_object_set_new(out, "alerts", ao);
        bool quiet = false;
        ok = fl_jv_object(jv, alerts, "/expect/alerts", akeys) &&
             fl_jv_bool(jv, alerts, "/expect/alerts", "quiet", ao, false, false, &quiet);
        json_t *fire = json_object_get(alerts, "fire");
        if (ok && fire && !json_is_array(fire))
            return fl_jv_error(jv, "/expect/alerts", "fire", fire,
                               "an array of {\"alert\": NAME, \"within\": DURATION}");
        json_t *fo = json_array();
        json_object_set_new(ao, "fire", fo);
        size_t i;
        json_t *f;
        json_array_foreach(fire, i, f) {
            g_autofree char *p = g_strdup_printf("/expect/alerts/fire/%zu", i);
            json_t *one = json_object();
            json_array_append_new(fo, one);
            const char *name = NULL;
            FlDuration within = 0;
            ok = ok && fl_jv_object(jv, f, p, fkeys) &&
                 fl_jv_string(jv, f, p, "alert", one, true, NULL, NULL, &name) &&
                 fl_jv_duration(jv, f, p, "within", one, true, 0, 0, &within);
        }
        if (ok && quiet && json_array_size(fire))
            return fl_jv_errorf(jv, "/expect", "alerts",
                                "\"quiet\": true and \"fire\" contradict each other");
        const char *rules = NULL;
        ok = ok && fl_jv_string(jv, alerts, "/expect/alerts", "rules", NULL, false, NULL, NULL, &rules);
        if (ok && rules) {
            g_autofree char *dir = g_path_get_dirname(jv->file ? jv->file : ".");
            g_autofree char *joined = g_path_is_absolute(rules) ? g_strdup(rules)
                                                                : g_build_filename(dir, rules, NULL);
            if (!g_file_test(joined, G_FILE_TEST_IS_REGULAR))
                return fl_jv_errorf(jv, "/expect/alerts", "rules",
                                    "%s: no such file (expected Prometheus alerting rules, "
                                    "a path relative to the scenario's folder)", joined);
            char *abs = realpath(joined, NULL);
            e->alerts_rules = g_strdup(abs ? abs : joined);
            free(abs);
            json_object_set_new(ao, "rules", json_string(e->alerts_rules));
        }
        e->has_alerts = ok;
    }
    if (ok && json_object_get(in, "max_false_suspicions"))
        ok = fl_jv_int(jv, in, "/expect", "max_false_suspicions", out, true, 0, 0, INT64_MAX,
                       &e->max_false_suspicions);
    if (ok && json_object_get(in, "min_false_suspicions"))
        ok = fl_jv_int(jv, in, "/expect", "min_false_suspicions", out, true, 0, 0, INT64_MAX,
                       &e->min_false_suspicions);
    if (ok && json_object_get(in, "max_detection_time"))
        ok = fl_jv_duration(jv, in, "/expect", "max_detection_time", out, true, 0, 0,
                            &e->max_detection_time);
    if (ok && json_object_get(in, "max_missed_detections"))
        ok = fl_jv_int(jv, in, "/expect", "max_missed_detections", out, true, 0, 0, INT64_MAX,
                       &e->max_missed_detections);
    return ok;
}

static const char *const choice_names[] = {
    [FL_CHOICE_DELIVER] = "deliver", [FL_CHOICE_TIMER] = "timer", [FL_CHOICE_INVOKE] = "invoke",
    [FL_CHOICE_CRASH] = "crash", [FL_CHOICE_RESTART] = "restart", [FL_CHOICE_DROP] = "drop",
    [FL_CHOICE_DUPLICATE] = "duplicate",
};

/* The letter before a choice's id: what the id numbers. */
static char choice_letter(uint32_t kind)
{
    switch (kind) {
    case FL_CHOICE_TIMER: return 't';
    case FL_CHOICE_INVOKE: return 'c';
    case FL_CHOICE_CRASH:
    case FL_CHOICE_RESTART: return 'n';
    default: return 'm';
    }
}

const char *fl_choice_text(const FlChoice *c, char *buf)
{
    g_assert(c->kind >= FL_CHOICE_DELIVER && c->kind <= FL_CHOICE_DUPLICATE);
    g_snprintf(buf, FL_CHOICE_TEXT, "%s %c%" G_GUINT64_FORMAT, choice_names[c->kind],
               choice_letter(c->kind), (guint64)c->id);
    return buf;
}

bool fl_choice_parse(const char *s, FlChoice *c)
{
    for (uint32_t k = FL_CHOICE_DELIVER; k <= FL_CHOICE_DUPLICATE; k++) {
        size_t n = strlen(choice_names[k]);
        if (strncmp(s, choice_names[k], n) != 0 || s[n] != ' ' || s[n + 1] != choice_letter(k))
            continue;
        const char *digits = s + n + 2;
        if (!g_ascii_isdigit(digits[0]) || strlen(digits) > 19)
            return false;
        for (const char *p = digits; *p; p++)
            if (!g_ascii_isdigit(*p))
                return false;
        c->kind = k;
        c->id = g_ascii_strtoull(digits, NULL, 10);
        return true;
    }
    return false;
}

/* The `explore` section (bounds of `faultline explore`) and the explicit
 * `schedule` a counterexample carries (spec: README "Scenario format"). */
static bool load_explore(FlJv *jv, FlScenario *sc, json_t *in, json_t *sched, json_t *root_out)
{
    static const char *const keys[] = { "crashes", "drops", "duplicates", "clients", "ops", NULL };
    FlExploreSpec *x = &sc->explore;
    if (!in) {
        if (sched)
            return fl_jv_errorf(jv, "", "schedule", "a schedule needs an explore section "
                                "(its bounds and workload size)");
        return true;
    }
    json_t *out = json_object();
    json_object_set_new(root_out, "explore", out);
    if (!fl_jv_object(jv, in, "/explore", keys))
        return false;
    int64_t crashes, drops, dups, clients, ops;
    int64_t def_clients = sc->workload.model ? sc->workload.clients : 0;
    if (!fl_jv_int(jv, in, "/explore", "crashes", out, false, 0, 0, 64, &crashes) ||
        !fl_jv_int(jv, in, "/explore", "drops", out, false, 0, 0, 64, &drops) ||
        !fl_jv_int(jv, in, "/explore", "duplicates", out, false, 0, 0, 64, &dups) ||
        !fl_jv_int(jv, in, "/explore", "clients", out, false, def_clients < 16 ? def_clients : 16,
                   0, 16, &clients) ||
        !fl_jv_int(jv, in, "/explore", "ops", out, false, 1, 0, 64, &ops))
        return false;
    if (clients > 0 && !sc->workload.model)
        return fl_jv_errorf(jv, "/explore", "clients", "clients need a workload (give /workload/model)");
    if (sc->faults && sc->faults->len > 0)
        return fl_jv_errorf(jv, "", "faults", "an explore scenario takes its faults from "
                            "/explore (crashes, drops, duplicates), not from a fault list");
    x->on = true;
    x->crashes = (uint32_t)crashes;
    x->drops = (uint32_t)drops;
    x->duplicates = (uint32_t)dups;
    x->clients = (uint32_t)clients;
    x->ops = (uint32_t)ops;
    if (!sched)
        return true;
    if (!json_is_array(sched))
        return fl_jv_error(jv, "/schedule", NULL, sched, "an array of choices (\"deliver m3\", "
                           "\"timer t1\", \"invoke c0\", \"crash n2\", \"restart n2\", "
                           "\"drop m4\", \"duplicate m5\")");
    if (json_array_size(sched) > 1000000)
        return fl_jv_errorf(jv, "", "schedule", "more than 1000000 choices");
    sc->schedule = g_array_sized_new(FALSE, FALSE, sizeof(FlChoice), (guint)json_array_size(sched));
    json_t *sched_out = json_array();
    json_object_set_new(root_out, "schedule", sched_out);
    size_t i;
    json_t *v;
    json_array_foreach(sched, i, v) {
        FlChoice c = { 0 };
        bool ok = json_is_string(v) && fl_choice_parse(json_string_value(v), &c);
        if (ok && (c.kind == FL_CHOICE_CRASH || c.kind == FL_CHOICE_RESTART))
            ok = c.id < sc->nodes;
        else if (ok && c.kind == FL_CHOICE_INVOKE)
            ok = c.id < x->clients;
        else if (ok)
            ok = c.id > 0;
        if (!ok) {
            g_autofree char *path = g_strdup_printf("/schedule/%zu", i);
            return fl_jv_error(jv, path, NULL, v, "a choice: \"deliver mN\", \"timer tN\", "
                               "\"drop mN\", \"duplicate mN\" (N from 1), \"invoke cK\" "
                               "(K below /explore/clients), \"crash nI\" or \"restart nI\" "
                               "(I below /cluster/nodes)");
        }
        g_array_append_val(sc->schedule, c);
        json_array_append(sched_out, v);
    }
    return true;
}

FlScenario *fl_scenario_from_json(json_t *root, const char *file, int64_t seed_override,
                                  GError **err)
{
    static const char *const keys[] = { "name", "description", "seed", "duration",
                                        "max_events", "cluster", "network", "workload",
                                        "faults", "check", "expect", "buggify", "explore",
                                        "schedule", "resources", "timeseries", NULL };
    FlJv jv = { .file = file, .err = err };
    FlScenario *sc = NULL;
    json_t *out = json_object();
    const char *name = NULL, *desc = NULL;
    int64_t seed = 1, max_events = 0;
    FlDuration duration = 0;
    FlRng draw;
    g_autofree char *base = g_path_get_basename(file);

    if (!fl_jv_object(&jv, root, "", keys))
        goto fail;
    char *dot = strrchr(base, '.');
    if (dot)
        *dot = '\0';
    if (!fl_jv_string(&jv, root, "", "name", out, false, base, NULL, &name) ||
        !fl_jv_string(&jv, root, "", "description", out, false, "", NULL, &desc) ||
        !fl_jv_int(&jv, root, "", "seed", NULL, false, 1, 0, INT64_MAX, &seed))
        goto fail;
    if (seed_override >= 0)
        seed = seed_override;
    json_object_set_new(out, "seed", json_integer(seed));
    /* Ranges anywhere in the file are drawn from this stream, in reading
     * order: the seed alone decides them. */
    fl_rng_init(&draw, (uint64_t)seed, "scenario");
    jv.rng = &draw;
    if (!fl_jv_duration(&jv, root, "", "duration", out, false, FL_SEC(10), 1, &duration) ||
        !fl_jv_int(&jv, root, "", "max_events", out, false, 200000000LL, 1, INT64_MAX, &max_events))
        goto fail;
    if (!json_object_get(root, "cluster")) {
        fl_jv_errorf(&jv, "", "cluster", "missing (this field is required)");
        goto fail;
    }
    if (!load_cluster(&jv, &sc, json_object_get(root, "cluster"), out, file))
        goto fail;
    g_free(sc->name);
    g_free(sc->description);
    sc->name = g_strdup(name);
    sc->description = g_strdup(desc);
    sc->seed = (uint64_t)seed;
    sc->duration = duration;
    sc->max_events = (uint64_t)max_events;
    sc->pace_guard = true;
    /* Written into the resolved scenario only when the file gives it, so a
     * run without the field writes the same scenario.json as before. */
    if (!fl_jv_bool(&jv, root, "", "buggify", json_object_get(root, "buggify") ? out : NULL,
                    false, false, &sc->buggify))
        goto fail;
    if (!load_network(&jv, sc, json_object_get(root, "network"), out) ||
        !load_workload(&jv, sc, json_object_get(root, "workload"), out) ||
        !load_resources(&jv, sc, json_object_get(root, "resources"), out) ||
        !load_timeseries(&jv, sc, json_object_get(root, "timeseries"), out) ||
        !load_faults(&jv, sc, json_object_get(root, "faults"), out) ||
        !load_check(&jv, sc, json_object_get(root, "check"), out) ||
        !load_expect(&jv, sc, json_object_get(root, "expect"), out) ||
        !load_explore(&jv, sc, json_object_get(root, "explore"), json_object_get(root, "schedule"),
                      out))
        goto fail;
    fl_scenario_default_liveness(sc);
    sc->resolved = out;
    return sc;
fail:
    json_decref(out);
    fl_scenario_free(sc);
    return NULL;
}

void fl_scenario_fuzz_defaults(json_t *root)
{
    if (json_is_object(root) && !json_object_get(root, "buggify"))
        json_object_set_new(root, "buggify", json_true());
}

FlScenario *fl_scenario_load(const char *path, int64_t seed_override, GError **err)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: is a folder, expected a scenario file", path);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (je.line < 1)
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s: %s", path, je.text);
        else
            g_set_error(err, FL_ERROR, FL_ERROR_INPUT, "%s:%d:%d: invalid JSON: %s", path,
                        je.line, je.column, je.text);
        return NULL;
    }
    FlScenario *sc = fl_scenario_from_json(root, path, seed_override, err);
    json_decref(root);
    return sc;
}

/* The default liveness claim: see scenario.h for the rule.  It is decided
 * from the scenario alone (the faults' scheduled ends, the protocol's
 * parameters), so that `faultline claims` can state it before any run and
 * every seed is held to the same kind of claim; the run then checks that
 * the faults did heal when scheduled (run.c). */
void fl_scenario_default_liveness(FlScenario *sc)
{
    FlExpect *e = &sc->expect;
    char a[32], b[32], c[32];
    if (e->live_mode != FL_LIVE_NONE)
        return;
    g_clear_pointer(&e->live_why, g_free);
    if (!sc->workload.model) {
        e->live_why = g_strdup("no clients to make progress");
        return;
    }
    /* The last heal: the latest scheduled end of a fault that starts within
     * the run.  A fault without an end (no `for`, `until` or
     * `restart_after`) lasts to the end of the run: nothing promised after it. */
    FlTime heal = 0;
    guint started = 0;
    for (guint i = 0; sc->faults && i < sc->faults->len; i++) {
        const FlFault *f = g_ptr_array_index(sc->faults, i);
        if (f->at > (FlTime)sc->duration)
            continue;   /* never starts */
        started++;
        FlTime end = f->at + (FlTime)f->dur;
        if (f->dur == 0 || end >= (FlTime)sc->duration) {
            e->live_why = g_strdup_printf("fault %u (%s) %s", i, f->kind->name,
                                          f->dur == 0 ? "lasts to the end of the run"
                                                      : "heals only at the end of the run");
            return;
        }
        if (end > heal)
            heal = end;
    }
    if (started == 0) {
        e->live_why = g_strdup("no faults to recover from");
        return;
    }
    /* A partially synchronous network promises nothing before GST: progress
     * is owed from then on, not earlier. */
    if (sc->net.timing == FL_TIMING_PARTIAL && (FlTime)sc->net.gst > heal)
        heal = (FlTime)sc->net.gst;

    /* T: the protocol's largest timeout, the time within which it notices
     * that something is wrong (an election, a view change, a suspicion). */
    FlDuration t = 0, any = 0;
    const char *t_name = NULL, *any_name = NULL;
    for (size_t i = 0; sc->protocol->params && sc->protocol->params[i].name; i++) {
        const FlParam *p = &sc->protocol->params[i];
        FlDuration v;
        if (p->type == FL_PARAM_DURATION)
            v = sc->params[i].i;
        else if (p->type == FL_PARAM_RANGE)
            v = sc->params[i].hi;
        else
            continue;
        if (g_str_has_suffix(p->name, "timeout") && v > t) {
            t = v;
            t_name = p->name;
        }
        if (v > any) {
            any = v;
            any_name = p->name;
        }
    }
    if (!t_name) {
        t = any;
        t_name = any_name;
    }
    /* Clients must also invoke operations in the window: at a low rate the
     * mean gap between two arrivals dominates. */
    FlDuration gap = (FlDuration)(1e9 / sc->workload.rate);
    g_autofree char *why_t = NULL;
    if (gap > t)
        why_t = g_strdup_printf("4 x the mean gap between arrivals %s", fl_duration_format(gap, a));
    else if (t_name)
        why_t = g_strdup_printf("4 x %s %s", t_name, fl_duration_format(t, a));
    else
        why_t = g_strdup_printf("4 x the mean gap between arrivals %s", fl_duration_format(gap, a));
    FlDuration unit = gap > t ? gap : t;
    FlDuration budget = sc->workload.timeout + 4 * unit;
    FlTime limit = (FlTime)(sc->duration < sc->workload.until ? sc->duration : sc->workload.until);
    const char *limit_name = sc->workload.until < sc->duration ? "the workload's until"
                                                               : "the run's duration";
    g_autofree char *rule = g_strdup_printf("client timeout %s + %s",
                                            fl_duration_format(sc->workload.timeout, c), why_t);
    /* What is left of the run clamps the budget, down to a floor: every
     * client may be stuck on an operation sent before the heal, and sends
     * nothing new before its timeout; then the protocol needs T to notice
     * and T to act.  Below that nothing fair can be asked: no claim. */
    FlDuration left = limit > heal ? (FlDuration)(limit - heal) : 0;
    FlDuration floor = sc->workload.timeout + 2 * unit;
    e->live_after = (FlDuration)heal;
    e->live_min_ok = 1;
    if (left < floor) {
        char d[32];
        e->live_mode = FL_LIVE_UNJUDGED;
        e->live_budget = budget;
        e->live_why = g_strdup_printf("the last fault heals at %s, %s before %s; the budget "
                                      "(%s) needs at least %s (the client timeout + 2 x %s)",
                                      fl_duration_format((FlDuration)heal, a),
                                      fl_duration_format(left, b), limit_name, rule,
                                      fl_duration_format(floor, c), fl_duration_format(unit, d));
        return;
    }
    if (budget > left) {
        g_autofree char *full = g_steal_pointer(&rule);
        rule = g_strdup_printf("%s, clamped to the %s left before %s", full,
                               fl_duration_format(left, a), limit_name);
        budget = left;
    }
    e->live_budget = budget;
    e->live_mode = FL_LIVE_DEFAULT;
    e->live_why = g_steal_pointer(&rule);
}
