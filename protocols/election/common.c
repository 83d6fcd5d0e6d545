/* protocols/election/common.c: see election.h. */
#include "protocols/election/election.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MAX (256u * 1024u)

static void append(FlNode *n, const char *line)
{
    size_t len = 0;
    const uint8_t *data = fl_disk_view(n, "log", &len);
    if (data && len >= 5 && memcmp(data + len - 5, "full\n", 5) == 0)
        return;
    if (len + strlen(line) + 64 > LOG_MAX)
        line = "full\n";
    fl_disk_append(n, "log", line, strlen(line));
    fl_disk_sync(n, "log");
}

void el_log_start(FlNode *n, const char *algo, bool restart)
{
    size_t len = 0;
    fl_disk_view(n, "log", &len);
    if (!restart || len == 0) {
        g_autofree char *h = g_strdup_printf("election node=%u nodes=%u algo=%s\n", fl_self(n), fl_nodes(n), algo);
        fl_disk_write(n, "log", h, strlen(h));
        fl_disk_sync(n, "log");
    }
    if (restart) {
        g_autofree char *l = g_strdup_printf("up %" PRIu64 "\n", (uint64_t)fl_now(n));
        append(n, l);
    }
}

void el_log_view(FlNode *n, uint64_t epoch, int64_t leader)
{
    g_autofree char *l = leader < 0 ? g_strdup_printf("n %" PRIu64 "\n", (uint64_t)fl_now(n))
                                    : g_strdup_printf("v %" PRIu64 " %" PRIu64 " %" PRId64 "\n",
                                                      (uint64_t)fl_now(n), epoch, leader);
    append(n, l);
}

uint64_t el_log_max_epoch(FlNode *n)
{
    size_t len = 0;
    const uint8_t *data = fl_disk_view(n, "log", &len);
    if (!data)
        return 0;
    g_autofree char *text = g_strndup((const char *)data, len);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    uint64_t max = 0;
    for (guint i = 1; lines[i]; i++) {
        unsigned long long t, e;
        long long l;
        if (sscanf(lines[i], "v %llu %llu %lld", &t, &e, &l) == 3 && e > max)
            max = e;
    }
    return max;
}

size_t el_encode(const ElMsg *m, uint8_t *buf, size_t cap)
{
    FlWriter w;
    fl_writer_init(&w, buf, cap);
    fl_put_u8(&w, m->type);
    fl_put_u64(&w, m->epoch);
    fl_put_u32(&w, m->id);
    size_t len = w.len;
    fl_writer_deinit(&w);
    return len;
}

bool el_decode(const uint8_t *msg, size_t len, uint32_t nodes, ElMsg *m)
{
    FlReader r;
    fl_reader_init(&r, msg, len);
    m->type = fl_get_u8(&r);
    m->epoch = fl_get_u64(&r);
    m->id = fl_get_u32(&r);
    return fl_reader_done(&r) && m->id < nodes;
}

void el_send(FlNode *n, uint32_t to, uint8_t type, uint64_t epoch, uint32_t id)
{
    ElMsg m = { .type = type, .epoch = epoch, .id = id };
    uint8_t buf[16];
    size_t len = el_encode(&m, buf, sizeof buf);
    fl_send(n, to, buf, len);
}
