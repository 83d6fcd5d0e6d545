/* faultline/time (in-tree also "sim/time.h"): virtual time.  One clock for the whole run, in integer
 * nanoseconds since the start; nodes see it through their own skewed and
 * drifting local clock (sim/node.h, fl_now). */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t FlTime;       /* a point in virtual time, ns since start */
typedef int64_t  FlDuration;   /* a span of virtual time, ns */

#define FL_NS(x)  ((FlDuration)(x))
#define FL_US(x)  ((FlDuration)(x) * 1000)
#define FL_MS(x)  ((FlDuration)(x) * 1000000)
#define FL_SEC(x) ((FlDuration)(x) * 1000000000)
#define FL_TIME_NEVER UINT64_MAX

/* Writes a duration as the shortest exact string with a unit ("150ms",
 * "2s", "7ns") into @buf (at least 32 bytes).  Returns @buf. */
char *fl_duration_format(FlDuration d, char *buf);

/* Parses "150ms", "2s", "10us", "5ns", "1.5s", "3m", "1h" into ns.  Returns 0
 * on success, -1 when the text is not a duration (no unit, bad number,
 * overflow). Negative values parse; callers decide if they are allowed. */
int fl_duration_parse(const char *text, FlDuration *out);

#ifdef __cplusplus
}
#endif
