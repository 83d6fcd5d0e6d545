#include "protocols/epoch.h"

#include "protocols/raft/raft.h"   /* raft_crc32: one CRC-32 for the tree */

static const char *const copies[] = { "epoch", "epoch.b" };

/* Copy @i's number, or false when it is absent or damaged (*@bad set for
 * the latter). */
static bool read_copy(FlNode *n, int i, uint64_t *e, bool *bad)
{
    uint8_t buf[12];
    size_t len = fl_disk_read(n, copies[i], buf, sizeof buf);
    if (len == 0)
        return false;
    FlReader r;
    fl_reader_init(&r, buf, len < sizeof buf ? len : sizeof buf);
    uint64_t v = fl_get_u64(&r);
    uint32_t crc = fl_get_u32(&r);
    if (len != sizeof buf || !fl_reader_ok(&r) || raft_crc32(buf, 8, 0) != crc) {
        *bad = true;
        return false;
    }
    *e = v;
    return true;
}

uint64_t fl_epoch_next_checked(FlNode *n, bool *damaged)
{
    uint64_t e = 0, v;
    bool bad = false;
    for (int i = 0; i < 2; i++)
        if (read_copy(n, i, &v, &bad) && v > e)
            e = v;
    e++;
    uint8_t buf[12];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u64(&w, e);
    fl_put_u32(&w, raft_crc32(w.data, 8, 0));
    for (int i = 0; i < 2; i++) {
        fl_disk_write(n, copies[i], w.data, w.len);
        fl_disk_sync(n, copies[i]);
    }
    fl_writer_deinit(&w);
    if (bad)
        fl_log(n, "an epoch copy on disk failed its check; the other was used");
    if (damaged)
        *damaged = bad;
    return e;
}
