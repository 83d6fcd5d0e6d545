#include "protocols/epoch.h"

uint64_t fl_epoch_next(FlNode *n)
{
    uint8_t buf[8] = { 0 };
    uint64_t e = 0;
    if (fl_disk_read(n, "epoch", buf, sizeof buf) == sizeof buf) {
        FlReader r;
        fl_reader_init(&r, buf, sizeof buf);
        e = fl_get_u64(&r);
    }
    e++;
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u64(&w, e);
    fl_disk_write(n, "epoch", w.data, w.len);
    fl_disk_sync(n, "epoch");
    fl_writer_deinit(&w);
    return e;
}
