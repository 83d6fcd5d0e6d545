#include "sim/jsonv.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK(faultline-error-quark, fl_error)

char *fl_jv_join(const char *path, const char *key)
{
    return key ? g_strdup_printf("%s/%s", path, key) : g_strdup(*path ? path : "/");
}

char *fl_jv_show(json_t *v)
{
    if (!v)
        return g_strdup("nothing");
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s)
        return g_strdup("?");
    char *r = strlen(s) > 60 ? g_strdup_printf("%.57s...", s) : g_strdup(s);
    free(s);
    return r;
}

bool fl_jv_errorf(FlJv *jv, const char *path, const char *key, const char *fmt, ...)
{
    if (jv->failed)
        return false;
    jv->failed = true;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *p = fl_jv_join(path, key);
    g_set_error(jv->err, FL_ERROR, FL_ERROR_INPUT, "%s: %s: %s", jv->file, p, msg);
    return false;
}

bool fl_jv_error(FlJv *jv, const char *path, const char *key, json_t *got, const char *what)
{
    if (!got)
        return fl_jv_errorf(jv, path, key, "expected %s", what);
    g_autofree char *shown = fl_jv_show(got);
    return fl_jv_errorf(jv, path, key, "expected %s, got %s", what, shown);
}

bool fl_jv_object(FlJv *jv, json_t *v, const char *path, const char *const *allowed)
{
    if (jv->failed)
        return false;
    if (!json_is_object(v))
        return fl_jv_error(jv, path, NULL, v, "an object");
    /* Report unknown keys in sorted order, so the message is the same
     * whatever order the file lists them in. */
    const char *key;
    json_t *val;
    const char *worst = NULL;
    json_object_foreach(v, key, val) {
        bool ok = false;
        for (const char *const *a = allowed; a && *a; a++)
            if (strcmp(*a, key) == 0)
                ok = true;
        if (!ok && (!worst || strcmp(key, worst) < 0))
            worst = key;
    }
    if (worst) {
        g_autoptr(GString) names = g_string_new(NULL);
        for (const char *const *a = allowed; a && *a; a++)
            g_string_append_printf(names, "%s%s", names->len ? ", " : "", *a);
        if (names->len == 0)
            return fl_jv_errorf(jv, path, worst, "unknown field (this object takes no fields)");
        return fl_jv_errorf(jv, path, worst, "unknown field (expected one of: %s)",
                            names->str);
    }
    return true;
}

static bool is_range(json_t *v)
{
    return json_is_array(v) && json_array_size(v) == 2;
}

bool fl_jv_duration_value(FlJv *jv, json_t *v, const char *path, FlDuration min,
                          FlDuration *res)
{
    if (jv->failed)
        return false;
    if (is_range(v) && jv->rng) {
        FlDuration lo, hi;
        g_autofree char *p0 = g_strdup_printf("%s/0", path);
        g_autofree char *p1 = g_strdup_printf("%s/1", path);
        if (!fl_jv_duration_value(jv, json_array_get(v, 0), p0, min, &lo) ||
            !fl_jv_duration_value(jv, json_array_get(v, 1), p1, min, &hi))
            return false;
        if (hi < lo)
            return fl_jv_error(jv, path, NULL, v, "a range [low, high] with low <= high");
        *res = fl_rng_range(jv->rng, lo, hi);
        return true;
    }
    FlDuration d;
    if (json_is_integer(v)) {
        d = json_integer_value(v);
    } else if (json_is_string(v)) {
        if (fl_duration_parse(json_string_value(v), &d) != 0)
            return fl_jv_error(jv, path, NULL, v,
                               "a duration with a unit (\"150ms\", \"2s\", \"10us\", \"5ns\")");
    } else {
        return fl_jv_error(jv, path, NULL, v,
                           "a duration (a string with a unit such as \"150ms\", or integer ns)");
    }
    if (d < min) {
        char buf[32];
        g_autofree char *what = g_strdup_printf("a duration of at least %s",
                                                fl_duration_format(min, buf));
        return fl_jv_error(jv, path, NULL, v, min == 0 ? "a non-negative duration" : what);
    }
    *res = d;
    return true;
}

static json_t *field(FlJv *jv, json_t *obj, const char *path, const char *key, bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v && required)
        fl_jv_errorf(jv, path, key, "missing (this field is required)");
    return v;
}

static void put_duration(json_t *out, const char *key, FlDuration d)
{
    char buf[32];
    if (out)
        json_object_set_new(out, key, json_string(fl_duration_format(d, buf)));
}

bool fl_jv_duration(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
                    bool required, FlDuration def, FlDuration min, FlDuration *res)
{
    if (jv->failed)
        return false;
    json_t *v = field(jv, obj, path, key, required);
    if (jv->failed)
        return false;
    if (!v) {
        *res = def;
    } else {
        g_autofree char *p = fl_jv_join(path, key);
        if (!fl_jv_duration_value(jv, v, p, min, res))
            return false;
    }
    put_duration(out, key, *res);
    return true;
}

bool fl_jv_duration_range(FlJv *jv, json_t *obj, const char *path, const char *key,
                          json_t *out, bool required, FlDuration def_lo, FlDuration def_hi,
                          FlDuration *lo, FlDuration *hi)
{
    if (jv->failed)
        return false;
    json_t *v = field(jv, obj, path, key, required);
    if (jv->failed)
        return false;
    g_autofree char *p = fl_jv_join(path, key);
    FlRng *saved = jv->rng;
    jv->rng = NULL;   /* a range here is kept, not drawn */
    bool ok = true;
    if (!v) {
        *lo = def_lo;
        *hi = def_hi;
    } else if (json_is_array(v)) {
        g_autofree char *p0 = g_strdup_printf("%s/0", p);
        g_autofree char *p1 = g_strdup_printf("%s/1", p);
        if (json_array_size(v) != 2)
            ok = fl_jv_error(jv, p, NULL, v, "a range of two durations [low, high]");
        else
            ok = fl_jv_duration_value(jv, json_array_get(v, 0), p0, 0, lo) &&
                 fl_jv_duration_value(jv, json_array_get(v, 1), p1, 0, hi);
        if (ok && *hi < *lo)
            ok = fl_jv_error(jv, p, NULL, v, "a range [low, high] with low <= high");
    } else {
        ok = fl_jv_duration_value(jv, v, p, 0, lo);
        *hi = *lo;
    }
    jv->rng = saved;
    if (ok && out) {
        char a[32], b[32];
        json_object_set_new(out, key, json_pack("[ss]", fl_duration_format(*lo, a),
                                                fl_duration_format(*hi, b)));
    }
    return ok;
}

static bool number_value(FlJv *jv, json_t *v, const char *p, bool integer, double *res)
{
    if (integer ? !json_is_integer(v) : !json_is_number(v))
        return fl_jv_error(jv, p, NULL, v, integer ? "an integer" : "a number");
    *res = json_number_value(v);
    return true;
}

static bool number(FlJv *jv, json_t *obj, const char *path, const char *key, bool required,
                   bool integer, double def, double min, double max, double *res,
                   const char *what)
{
    if (jv->failed)
        return false;
    json_t *v = field(jv, obj, path, key, required);
    if (jv->failed)
        return false;
    if (!v) {
        *res = def;
        return true;
    }
    g_autofree char *p = fl_jv_join(path, key);
    double x;
    if (is_range(v) && jv->rng) {
        double lo = 0, hi = 0;   /* set by number_value; -O3 cannot see it */
        g_autofree char *p0 = g_strdup_printf("%s/0", p);
        g_autofree char *p1 = g_strdup_printf("%s/1", p);
        if (!number_value(jv, json_array_get(v, 0), p0, integer, &lo) ||
            !number_value(jv, json_array_get(v, 1), p1, integer, &hi))
            return false;
        if (hi < lo)
            return fl_jv_error(jv, p, NULL, v, "a range [low, high] with low <= high");
        if (integer) {
            x = (double)fl_rng_range(jv->rng, (int64_t)lo, (int64_t)hi);
        } else {
            /* Six significant digits: the value prints short in scenario.json
             * and reads back as exactly the same double. */
            char buf[G_ASCII_DTOSTR_BUF_SIZE];
            x = g_ascii_strtod(g_ascii_formatd(buf, sizeof buf, "%.6g",
                                               lo + (hi - lo) * fl_rng_double(jv->rng)), NULL);
            if (x < lo)
                x = lo;
            if (x > hi)
                x = hi;
        }
    } else if (integer ? !json_is_integer(v) : !json_is_number(v)) {
        return fl_jv_error(jv, p, NULL, v, what);
    } else {
        x = json_number_value(v);
    }
    if (!(x >= min && x <= max) || isnan(x))
        return fl_jv_error(jv, p, NULL, v, what);
    *res = x;
    return true;
}

bool fl_jv_int(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
               bool required, int64_t def, int64_t min, int64_t max, int64_t *res)
{
    g_autofree char *what = NULL;
    if (min == 1 && max >= INT32_MAX)
        what = g_strdup("a positive integer");
    else if (min == 0 && max >= INT32_MAX)
        what = g_strdup("a non-negative integer");
    else
        what = g_strdup_printf("an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                               min, max);
    /* A plain integer is checked as an integer: through a double, values past
     * 2^53 (seeds) would be rounded, and INT64_MAX would not convert back. */
    json_t *v = jv->failed ? NULL : json_object_get(obj, key);
    if (v && json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < min || x > max) {
            g_autofree char *p = fl_jv_join(path, key);
            return fl_jv_error(jv, p, NULL, v, what);
        }
        *res = x;
        if (out)
            json_object_set_new(out, key, json_integer(*res));
        return true;
    }
    double x;
    if (!number(jv, obj, path, key, required, true, (double)def, (double)min, (double)max,
                &x, what))
        return false;
    *res = (int64_t)x;
    if (out)
        json_object_set_new(out, key, json_integer(*res));
    return true;
}

bool fl_jv_double(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
                  bool required, double def, double min, double max, double *res)
{
    g_autofree char *what = g_strdup_printf("a number from %g to %g", min, max);
    if (!number(jv, obj, path, key, required, false, def, min, max, res, what))
        return false;
    if (out)
        json_object_set_new(out, key, json_real(*res));
    return true;
}

bool fl_jv_bool(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
                bool required, bool def, bool *res)
{
    if (jv->failed)
        return false;
    json_t *v = field(jv, obj, path, key, required);
    if (jv->failed)
        return false;
    if (v && !json_is_boolean(v))
        return fl_jv_error(jv, path, key, v, "true or false");
    *res = v ? json_is_true(v) : def;
    if (out)
        json_object_set_new(out, key, json_boolean(*res));
    return true;
}

bool fl_jv_string(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
                  bool required, const char *def, const char *choices, const char **res)
{
    if (jv->failed)
        return false;
    json_t *v = field(jv, obj, path, key, required);
    if (jv->failed)
        return false;
    if (v && !json_is_string(v)) {
        if (choices) {
            g_autofree char *what = g_strdup_printf("one of %s", choices);
            return fl_jv_error(jv, path, key, v, what);
        }
        return fl_jv_error(jv, path, key, v, "a string");
    }
    const char *s = v ? json_string_value(v) : def;
    if (s && choices) {
        /* Searched in place: splitting the list on every call was most of
         * a scenario copy's cost per seed (issue 25). */
        size_t n = strlen(s);
        bool found = false;
        for (const char *c = choices; !found;) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            found = len == n && memcmp(c, s, n) == 0;
            if (!bar)
                break;
            c = bar + 1;
        }
        if (!found) {
            g_autofree char *what = g_strdup_printf("one of %s", choices);
            return fl_jv_error(jv, path, key, v, what);
        }
    }
    *res = s;
    if (out && s)
        json_object_set_new(out, key, json_string(s));
    return true;
}
