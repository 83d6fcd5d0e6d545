/* sim/jsonv: reading JSON input strictly, with the path of every value.
 *
 * Each getter reads one field of an object, checks its type and range,
 * draws a value when the field is a two-element range, records the value as
 * resolved (defaults included) into an output object, and on error sets a
 * GError that names the file, the JSON path and what was expected, e.g.
 *   x.json: /cluster/nodes: expected a positive integer, got "five"
 * After the first error every getter returns false at once, so callers may
 * chain them and check once.  The context borrows everything. */
#pragma once

#include "sim/rng.h"
#include "sim/time.h"

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>

#define FL_ERROR (fl_error_quark())
GQuark fl_error_quark(void);
enum { FL_ERROR_INPUT = 1, FL_ERROR_RUN = 2 };

typedef struct FlJv {
    const char *file;
    GError **err;
    FlRng *rng;       /* draws values from ranges; NULL: ranges are errors */
    bool failed;
} FlJv;

/* Reports an error at @path (+ "/" + @key if not NULL): "expected @what,
 * got <v>" (v omitted when NULL).  Always returns false. */
bool fl_jv_error(FlJv *jv, const char *path, const char *key, json_t *got, const char *what);
/* Same, with a free-form message instead of "expected ..., got ...". */
bool fl_jv_errorf(FlJv *jv, const char *path, const char *key, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* Checks that @v is an object whose keys are all in @allowed (NULL
 * terminated).  @path names @v. */
bool fl_jv_object(FlJv *jv, json_t *v, const char *path, const char *const *allowed);

/* Field getters.  @obj is the object, @path its path; @out, if not NULL,
 * receives the resolved value under @key.  When the field is absent: if
 * @required, an error; otherwise *res = @def (and @out gets the default). */
bool fl_jv_duration(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
                    bool required, FlDuration def, FlDuration min, FlDuration *res);
/* A duration range: a two-element array kept as a range (or one duration,
 * meaning [d, d]). */
bool fl_jv_duration_range(FlJv *jv, json_t *obj, const char *path, const char *key,
                          json_t *out, bool required, FlDuration def_lo, FlDuration def_hi,
                          FlDuration *lo, FlDuration *hi);
bool fl_jv_int(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
               bool required, int64_t def, int64_t min, int64_t max, int64_t *res);
bool fl_jv_double(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
                  bool required, double def, double min, double max, double *res);
bool fl_jv_bool(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
                bool required, bool def, bool *res);
/* A string; if @choices ("a|b|c") is given, one of them.  *res is borrowed
 * from the JSON (or is @def). */
bool fl_jv_string(FlJv *jv, json_t *obj, const char *path, const char *key, json_t *out,
                  bool required, const char *def, const char *choices, const char **res);

/* Parses a single duration value @v at @path (a string with a unit, or an
 * integer of ns; a range is drawn when jv->rng is set). */
bool fl_jv_duration_value(FlJv *jv, json_t *v, const char *path, FlDuration min,
                          FlDuration *res);

/* Short text of a JSON value for messages ("five" with quotes, 3, [..]);
 * caller frees. */
char *fl_jv_show(json_t *v);
/* path + "/" + key, caller frees. */
char *fl_jv_join(const char *path, const char *key);
