#include "sim/time.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *unit; int64_t ns; } units[] = {
    { "h", 3600000000000LL }, { "m", 60000000000LL }, { "s", 1000000000LL },
    { "ms", 1000000LL }, { "us", 1000LL }, { "ns", 1LL },
};

char *fl_duration_format(FlDuration d, char *buf)
{
    /* Largest unit that divides exactly, so the text parses back to d. */
    static const struct { const char *unit; int64_t ns; } fmt[] = {
        { "s", 1000000000LL }, { "ms", 1000000LL }, { "us", 1000LL },
    };
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        if (d != 0 && d % fmt[i].ns == 0) {
            snprintf(buf, 32, "%" PRId64 "%s", d / fmt[i].ns, fmt[i].unit);
            return buf;
        }
    }
    snprintf(buf, 32, "%" PRId64 "ns", d);
    return buf;
}

int fl_duration_parse(const char *text, FlDuration *out)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno != 0 || !isfinite(v))
        return -1;
    /* strtod accepts "inf", hex and exponents; allow only plain decimals. */
    for (const char *p = text; p < end; p++)
        if (!(*p == '-' || *p == '+' || *p == '.' || (*p >= '0' && *p <= '9')))
            return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double ns = v * (double)units[i].ns;
            if (fabs(ns) > 9.2e18)
                return -1;
            *out = (FlDuration)llround(ns);
            return 0;
        }
    }
    return -1;
}
