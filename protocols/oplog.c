#include "protocols/oplog.h"

void fl_oplog_append(FlNode *n, const char *file, const FlRequest *req)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_request_encode(&w, req);
    fl_disk_append(n, file, w.data, w.len);
    fl_disk_sync(n, file);
    fl_writer_deinit(&w);
}

uint64_t fl_oplog_replay(FlNode *n, const char *file,
                         void (*fn)(void *ctx, const FlRequest *req), void *ctx)
{
    size_t len;
    const uint8_t *p = fl_disk_view(n, file, &len);
    FlReader r;
    fl_reader_init(&r, p, len);
    uint64_t count = 0;
    while (fl_reader_left(&r) > 0) {
        FlRequest req;
        if (!fl_request_decode(&r, &req))
            break;   /* torn or corrupt tail: what follows is not trusted */
        fn(ctx, &req);
        count++;
    }
    return count;
}
