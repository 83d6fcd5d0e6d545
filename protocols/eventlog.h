/* protocols/eventlog.h: the bounded node log of the course protocols whose
 * checkers read each node's events back (workload `events`,
 * sim/check/events.h).
 *
 * A node appends one line per event to its disk file "log"; the file must
 * stay small enough for the final read to carry it, so past @max bytes
 * (less a margin for the longest line) the node writes "full" once, counts
 * it in @counter, and logs nothing more.  *@full is the caller's flag.
 * fl_eventlog_reply answers a final read with the log as it stands. */
#pragma once

#include "sim/node.h"

#include <string.h>

static inline void fl_eventlog_append(FlNode *n, bool *full, size_t max, const char *counter,
                                      const char *line)
{
    if (*full)
        return;
    size_t len = 0;
    fl_disk_view(n, "log", &len);
    if (len + strlen(line) + 1024 > max) {
        fl_disk_append(n, "log", "full\n", 5);
        *full = true;
        fl_metric_add(n, counter, 1);
        return;
    }
    fl_disk_append(n, "log", line, strlen(line));
}

static inline void fl_eventlog_reply(FlNode *n, const FlRequest *req)
{
    size_t len = 0;
    const uint8_t *data = fl_disk_view(n, "log", &len);
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = data != NULL,
                     .text = (const char *)data, .text_len = len };
    fl_reply(n, req, &res);
}
