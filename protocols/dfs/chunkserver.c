/* A DFS chunk server: stores replicas with checksums, applies pushed
 * bytes on top of the version a grant names and forwards them down the
 * chain, serves reads, answers the master's probes, stamps, copies and
 * deletions.  See the design notes in dfs.c; the numbers cited are theirs. */
#include "protocols/dfs/dfs.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HEADER 32
#define MAGIC 0x43534644u   /* "DFSC" */

enum { LOAD_OK, LOAD_MISSING, LOAD_CORRUPT };

static void chunk_file(char *buf, size_t cap, uint64_t handle)
{
    snprintf(buf, cap, "c/%" PRIx64, handle);
}

static uint64_t content_sum(uint64_t handle, uint64_t version, const uint8_t *data, size_t len)
{
    uint8_t hv[16];
    memcpy(hv, &handle, 8);
    memcpy(hv + 8, &version, 8);
    return dfs_checksum(data, len, dfs_checksum(hv, sizeof hv, 0));
}

/* An index record: the handle and a checksum of it (note 2), so that a
 * flipped byte is found at restart instead of naming another chunk. */
#define INDEX_RECORD 16

static uint64_t index_sum(uint64_t handle)
{
    uint8_t h[8];
    memcpy(h, &handle, 8);
    return dfs_checksum(h, sizeof h, MAGIC);
}

/* Note 2: header and bytes, rewritten and synced. */
static void chunk_store(FlNode *n, uint64_t handle, uint64_t version, const uint8_t *data, size_t len)
{
    char name[32];
    chunk_file(name, sizeof name, handle);
    FlWriter w;
    uint8_t buf[256];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u32(&w, MAGIC);
    fl_put_u64(&w, handle);
    fl_put_u64(&w, version);
    fl_put_u32(&w, (uint32_t)len);
    fl_put_u64(&w, content_sum(handle, version, data, len));
    fl_put_raw(&w, data, len);
    fl_disk_write(n, name, w.data, w.len);
    fl_disk_sync(n, name);
    fl_writer_deinit(&w);
}

/* Reads and verifies a replica; on LOAD_OK *@data (borrowed until the next
 * disk call) and *@len hold its bytes. */
static int chunk_load(FlNode *n, uint64_t handle, uint64_t *version, const uint8_t **data,
                      size_t *len)
{
    char name[32];
    chunk_file(name, sizeof name, handle);
    size_t flen;
    const uint8_t *p = fl_disk_view(n, name, &flen);
    if (!p || flen == 0)
        return LOAD_MISSING;
    FlReader r;
    fl_reader_init(&r, p, flen);
    uint32_t magic = fl_get_u32(&r);
    uint64_t h = fl_get_u64(&r);
    uint64_t v = fl_get_u64(&r);
    uint32_t l = fl_get_u32(&r);
    uint64_t sum = fl_get_u64(&r);
    if (!fl_reader_ok(&r) || magic != MAGIC || h != handle || fl_reader_left(&r) != l)
        return LOAD_CORRUPT;
    const uint8_t *bytes = p + HEADER;
    if (content_sum(handle, v, bytes, l) != sum)
        return LOAD_CORRUPT;
    *version = v;
    *data = bytes;
    *len = l;
    return LOAD_OK;
}

static DfsReplica *find(DfsChunkServer *cs, uint64_t handle, guint *pos)
{
    guint lo = 0, hi = cs->replicas->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        uint64_t h = g_array_index(cs->replicas, DfsReplica, mid).handle;
        if (h == handle) {
            if (pos)
                *pos = mid;
            return &g_array_index(cs->replicas, DfsReplica, mid);
        }
        if (h < handle)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

static DfsReplica *add(FlNode *n, DfsChunkServer *cs, uint64_t handle, bool new_on_disk)
{
    guint pos;
    DfsReplica *r = find(cs, handle, &pos);
    if (r)
        return r;
    DfsReplica fresh = { .handle = handle, .healthy = true };
    g_array_insert_val(cs->replicas, pos, fresh);
    if (new_on_disk) {
        uint8_t buf[INDEX_RECORD];
        FlWriter w;
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u64(&w, handle);
        fl_put_u64(&w, index_sum(handle));
        fl_disk_append(n, "index", w.data, w.len);
        fl_disk_sync(n, "index");
        fl_writer_deinit(&w);
    }
    return &g_array_index(cs->replicas, DfsReplica, pos);
}

static void drop(FlNode *n, DfsChunkServer *cs, uint64_t handle)
{
    guint pos;
    if (!find(cs, handle, &pos))
        return;
    g_array_remove_index(cs->replicas, pos);
    char name[32];
    chunk_file(name, sizeof name, handle);
    fl_disk_truncate(n, name, 0);
    fl_disk_sync(n, name);
}

/* Rebuilds the replica table from the disk, checking every checksum
 * (note 2): a damaged replica is kept as unhealthy and reported. */
void dfs_cs_init(FlNode *n, Dfs *d, bool recover)
{
    fl_role(n, "chunkserver");
    DfsChunkServer *cs = d->cs = g_new0(DfsChunkServer, 1);
    cs->replicas = g_array_new(FALSE, FALSE, sizeof(DfsReplica));
    cs->copies = g_array_new(FALSE, FALSE, sizeof(DfsCopy));
    size_t len;
    const uint8_t *p = fl_disk_view(n, "index", &len);
    g_autoptr(GArray) handles = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    FlReader r;
    fl_reader_init(&r, p, p ? len : 0);
    uint32_t bad = 0;
    while (fl_reader_left(&r) >= INDEX_RECORD) {
        uint64_t h = fl_get_u64(&r);
        if (fl_get_u64(&r) == index_sum(h))
            g_array_append_val(handles, h);
        else
            bad++;
    }
    for (guint i = 0; i < handles->len; i++) {
        uint64_t h = g_array_index(handles, uint64_t, i);
        uint64_t version;
        const uint8_t *data;
        size_t dlen;
        int st = chunk_load(n, h, &version, &data, &dlen);
        if (st == LOAD_MISSING)
            continue;
        DfsReplica *rep = add(n, cs, h, false);
        rep->version = st == LOAD_OK ? version : 0;
        rep->healthy = st == LOAD_OK;
        bad += st != LOAD_OK;
    }
    if (bad) {
        fl_log(n, "found %u corrupt replica%s on disk", bad, bad == 1 ? "" : "s");
        fl_metric_add(n, "dfs_corrupt_found", bad);
    }
}

void dfs_cs_destroy(Dfs *d)
{
    if (!d->cs)
        return;
    g_array_free(d->cs->replicas, TRUE);
    g_array_free(d->cs->copies, TRUE);
    g_free(d->cs);
    d->cs = NULL;
}

void dfs_cs_heartbeat(FlNode *n, Dfs *d)
{
    FlWriter w;
    uint8_t buf[32];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_HEARTBEAT);
    fl_put_u64(&w, d->epoch);
    fl_put_u64(&w, d->cs->master_epoch);
    dfs_send(n, d, DFS_MASTER, &w);
}

/* What this server holds now, for the master incarnation @master_epoch,
 * which asked at its @mark (note 10: the master uses it to tell how old
 * the report is). */
static void send_report(FlNode *n, Dfs *d, uint64_t master_epoch, uint64_t mark)
{
    DfsChunkServer *cs = d->cs;
    FlWriter w;
    uint8_t buf[256];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_REPORT);
    fl_put_u64(&w, d->epoch);
    fl_put_u64(&w, master_epoch);
    fl_put_u64(&w, mark);
    fl_put_u32(&w, cs->replicas->len);
    for (guint i = 0; i < cs->replicas->len; i++) {
        const DfsReplica *r = &g_array_index(cs->replicas, DfsReplica, i);
        fl_put_u64(&w, r->handle);
        fl_put_u64(&w, r->version);
        fl_put_u8(&w, r->healthy);
    }
    dfs_send(n, d, DFS_MASTER, &w);
}

/* A replica found damaged when it was read: tell the master (note 7). */
static void found_corrupt(FlNode *n, Dfs *d, DfsReplica *rep)
{
    if (rep->healthy) {
        fl_log(n, "replica of chunk %" PRIu64 " fails its checksum", rep->handle);
        fl_metric_add(n, "dfs_corrupt_found", 1);
    }
    rep->healthy = false;
    uint64_t version = rep->version;
    rep->version = 0;
    FlWriter w;
    uint8_t buf[32];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_CORRUPT);
    fl_put_u64(&w, rep->handle);
    fl_put_u64(&w, version);
    dfs_send(n, d, DFS_MASTER, &w);
}

static void on_hb_ack(FlNode *n, Dfs *d, FlReader *r)
{
    uint64_t master_epoch = fl_get_u64(r);
    uint64_t mark = fl_get_u64(r);
    uint8_t want = fl_get_u8(r);
    uint32_t ndel = fl_get_u32(r);
    if (!fl_reader_ok(r) || fl_reader_left(r) != (size_t)ndel * 16)
        return;
    for (uint32_t i = 0; i < ndel; i++) {
        uint64_t h = fl_get_u64(r), v = fl_get_u64(r);
        DfsReplica *rep = find(d->cs, h, NULL);
        /* Only the exact version ordered (UINT64_MAX: any, the file is
         * gone): a good copy placed here since is never dropped.  An
         * unhealthy replica has version 0. */
        if (rep && (v == UINT64_MAX || rep->version == v))
            drop(n, d->cs, h);
    }
    if (master_epoch != d->cs->master_epoch || want) {
        d->cs->master_epoch = master_epoch;
        send_report(n, d, master_epoch, mark);
    }
}

static void nack(FlNode *n, Dfs *d, uint32_t gateway, uint64_t grant, uint32_t attempt, uint64_t handle)
{
    FlWriter w;
    uint8_t buf[40];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_DATA_NACK);
    fl_put_u64(&w, grant);
    fl_put_u32(&w, attempt);
    fl_put_u64(&w, handle);
    fl_put_u32(&w, fl_self(n));
    dfs_send(n, d, gateway, &w);
}

/* Note 5: apply on top of the base version, sync, pass it on. */
static void on_data(FlNode *n, Dfs *d, FlReader *r, const uint8_t *msg, size_t len)
{
    uint64_t grant = fl_get_u64(r);
    uint32_t attempt = fl_get_u32(r);
    uint64_t handle = fl_get_u64(r);
    uint64_t base = fl_get_u64(r);
    uint64_t version = fl_get_u64(r);
    uint32_t offset = fl_get_u32(r);
    size_t blen;
    const uint8_t *bytes = fl_get_bytes(r, &blen);
    uint32_t chain_len = fl_get_u32(r);
    if (!fl_reader_ok(r) || chain_len == 0 || chain_len > DFS_MAX_REPLICAS ||
        fl_reader_left(r) != (size_t)chain_len * 4 + 4)
        return;
    uint32_t chain[DFS_MAX_REPLICAS];
    int32_t me = -1;
    for (uint32_t i = 0; i < chain_len; i++) {
        chain[i] = fl_get_u32(r);
        if (chain[i] == fl_self(n) && me < 0)
            me = (int32_t)i;
    }
    uint32_t gateway = fl_get_u32(r);
    uint32_t max_bytes = d->max_file_records * FL_FILE_RECORD;
    if (!fl_reader_done(r) || me < 0 || gateway >= fl_nodes(n) || version <= base ||
        (uint64_t)offset * FL_FILE_RECORD + blen > max_bytes)
        return;
    DfsChunkServer *cs = d->cs;
    DfsReplica *rep = find(cs, handle, NULL);
    if (!rep && base == 0)
        rep = add(n, cs, handle, true);
    if (!rep || !rep->healthy || (rep->version != base && rep->version != version)) {
        fl_log(n, "refused a push to chunk %" PRIu64 ": version %" PRIu64 " -> %" PRIu64
               ", holding %s%" PRIu64, handle, base, version, rep ? "" : "nothing ",
               rep ? rep->version : 0);
        nack(n, d, gateway, grant, attempt, handle);
        return;
    }
    if (rep->version == base) {
        g_autoptr(GByteArray) content = g_byte_array_new();
        if (base != 0) {
            uint64_t v;
            const uint8_t *old;
            size_t olen;
            if (chunk_load(n, handle, &v, &old, &olen) != LOAD_OK || v != base) {
                found_corrupt(n, d, rep);
                nack(n, d, gateway, grant, attempt, handle);
                return;
            }
            g_byte_array_append(content, old, (guint)olen);
        }
        size_t at = (size_t)offset * FL_FILE_RECORD;
        if (content->len < at)
            g_byte_array_set_size(content, (guint)at);   /* never happens for a current replica */
        if (content->len < at + blen)
            g_byte_array_set_size(content, (guint)(at + blen));
        memcpy(content->data + at, bytes, blen);
        chunk_store(n, handle, version, content->data, content->len);
        rep->version = version;
    }
    /* Pipelined: forward the same bytes to the next replica, or, at the
     * tail, acknowledge to the gateway. */
    if ((uint32_t)me + 1 < chain_len) {
        fl_send(n, chain[me + 1], msg, len);
    } else {
        FlWriter w;
        uint8_t buf[40];
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u8(&w, DFS_DATA_ACK);
        fl_put_u64(&w, grant);
        fl_put_u32(&w, attempt);
        fl_put_u64(&w, handle);
        fl_put_u64(&w, version);
        dfs_send(n, d, gateway, &w);
    }
}

/* Serves a read (DFS_READ) or a copy (DFS_FETCH): the bytes only if the
 * replica has at least @version and passes its checksum. */
static void serve(FlNode *n, Dfs *d, uint32_t from, uint8_t reply_type, uint64_t tag,
                  uint64_t handle, uint64_t version)
{
    DfsReplica *rep = find(d->cs, handle, NULL);
    uint8_t status = DFS_OK;
    uint64_t have = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    if (!rep || !rep->healthy) {
        status = rep ? DFS_CORRUPTED : DFS_STALE;
    } else if (chunk_load(n, handle, &have, &data, &len) != LOAD_OK) {
        found_corrupt(n, d, rep);
        status = DFS_CORRUPTED;
        data = NULL;
        len = 0;
    } else if (have < version) {
        status = DFS_STALE;
        data = NULL;
        len = 0;
    }
    FlWriter w;
    uint8_t buf[256];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, reply_type);
    if (reply_type == DFS_READ_REPLY)
        fl_put_u64(&w, tag);
    fl_put_u64(&w, handle);
    fl_put_u8(&w, status);
    fl_put_u64(&w, have);
    fl_put_bytes(&w, data ? data : (const uint8_t *)"", len);
    dfs_send(n, d, from, &w);
}

static void on_read(FlNode *n, Dfs *d, uint32_t from, FlReader *r)
{
    uint64_t tag = fl_get_u64(r);
    uint64_t handle = fl_get_u64(r);
    uint64_t version = fl_get_u64(r);
    if (fl_reader_done(r))
        serve(n, d, from, DFS_READ_REPLY, tag, handle, version);
}

static void on_fetch(FlNode *n, Dfs *d, uint32_t from, FlReader *r)
{
    uint64_t handle = fl_get_u64(r);
    uint64_t version = fl_get_u64(r);
    if (fl_reader_done(r) && from >= d->first_server)
        serve(n, d, from, DFS_FETCH_REPLY, 0, handle, version);
}

static void on_probe(FlNode *n, Dfs *d, FlReader *r)
{
    uint64_t check = fl_get_u64(r);
    uint64_t handle = fl_get_u64(r);
    if (!fl_reader_done(r))
        return;
    DfsReplica *rep = find(d->cs, handle, NULL);
    uint64_t v = 0;
    const uint8_t *data;
    size_t len;
    /* A probe reads the disk too: a replica that rotted is not offered. */
    if (rep && rep->healthy && chunk_load(n, handle, &v, &data, &len) != LOAD_OK)
        found_corrupt(n, d, rep);
    FlWriter w;
    uint8_t buf[48];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_PROBE_REPLY);
    fl_put_u64(&w, check);
    fl_put_u64(&w, handle);
    fl_put_u8(&w, rep != NULL);
    fl_put_u64(&w, rep ? rep->version : 0);
    fl_put_u8(&w, rep && rep->healthy);
    dfs_send(n, d, DFS_MASTER, &w);
}

/* Note 6: a new version for unchanged bytes. */
static void on_stamp(FlNode *n, Dfs *d, FlReader *r)
{
    uint64_t handle = fl_get_u64(r);
    uint64_t from = fl_get_u64(r);
    uint64_t to = fl_get_u64(r);
    if (!fl_reader_done(r) || to <= from)
        return;
    DfsReplica *rep = find(d->cs, handle, NULL);
    bool ok = false;
    if (rep && rep->healthy && rep->version == to) {
        ok = true;   /* a resent stamp */
    } else if (rep && rep->healthy && rep->version == from) {
        uint64_t v;
        const uint8_t *data;
        size_t len;
        if (chunk_load(n, handle, &v, &data, &len) == LOAD_OK) {
            g_autoptr(GByteArray) copy = g_byte_array_new();
            g_byte_array_append(copy, data, (guint)len);
            chunk_store(n, handle, to, copy->data, copy->len);
            rep->version = to;
            ok = true;
        } else {
            found_corrupt(n, d, rep);
        }
    }
    FlWriter w;
    uint8_t buf[32];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_STAMP_ACK);
    fl_put_u64(&w, handle);
    fl_put_u64(&w, to);
    fl_put_u8(&w, ok);
    dfs_send(n, d, DFS_MASTER, &w);
}

static void copy_done(FlNode *n, Dfs *d, uint64_t handle, uint64_t version, bool ok)
{
    FlWriter w;
    uint8_t buf[32];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_COPY_DONE);
    fl_put_u64(&w, handle);
    fl_put_u64(&w, version);
    fl_put_u8(&w, ok);
    dfs_send(n, d, DFS_MASTER, &w);
}

/* Note 7: re-replication, pulled from a good replica. */
static void on_copy(FlNode *n, Dfs *d, FlReader *r)
{
    uint64_t handle = fl_get_u64(r);
    uint64_t version = fl_get_u64(r);
    uint32_t source = fl_get_u32(r);
    if (!fl_reader_done(r) || source < d->first_server || source >= fl_nodes(n) ||
        source == fl_self(n))
        return;
    GArray *copies = d->cs->copies;
    for (guint i = 0; i < copies->len; i++)
        if (g_array_index(copies, DfsCopy, i).handle == handle)
            g_array_remove_index(copies, i--);
    if (copies->len >= 64)
        g_array_remove_index(copies, 0);   /* bounded: the master retries */
    DfsCopy c = { .handle = handle, .version = version, .source = source };
    g_array_append_val(copies, c);
    FlWriter w;
    uint8_t buf[32];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_FETCH);
    fl_put_u64(&w, handle);
    fl_put_u64(&w, version);
    dfs_send(n, d, source, &w);
}

static void on_fetch_reply(FlNode *n, Dfs *d, uint32_t from, FlReader *r)
{
    uint64_t handle = fl_get_u64(r);
    uint8_t status = fl_get_u8(r);
    uint64_t version = fl_get_u64(r);
    size_t len;
    const uint8_t *data = fl_get_bytes(r, &len);
    if (!fl_reader_done(r))
        return;
    GArray *copies = d->cs->copies;
    for (guint i = 0; i < copies->len; i++) {
        DfsCopy c = g_array_index(copies, DfsCopy, i);
        if (c.handle != handle || c.source != from)
            continue;
        g_array_remove_index(copies, i);
        if (status != DFS_OK || version != c.version ||
            len > (size_t)d->max_file_records * FL_FILE_RECORD) {
            copy_done(n, d, handle, c.version, false);
            return;
        }
        DfsReplica *rep = add(n, d->cs, handle, true);
        chunk_store(n, handle, version, data, len);
        rep->version = version;
        rep->healthy = true;
        copy_done(n, d, handle, version, true);
        return;
    }
}

void dfs_cs_message(FlNode *n, Dfs *d, uint32_t from, uint8_t type, FlReader *r)
{
    bool from_master = from == DFS_MASTER;
    switch (type) {
    case DFS_HB_ACK: if (from_master) on_hb_ack(n, d, r); break;
    case DFS_DATA: on_data(n, d, r, r->p, r->len); break;
    case DFS_READ: on_read(n, d, from, r); break;
    case DFS_FETCH: on_fetch(n, d, from, r); break;
    case DFS_FETCH_REPLY: on_fetch_reply(n, d, from, r); break;
    case DFS_PROBE: if (from_master) on_probe(n, d, r); break;
    case DFS_STAMP: if (from_master) on_stamp(n, d, r); break;
    case DFS_COPY: if (from_master) on_copy(n, d, r); break;
    default: break;   /* not a chunk server's: drop */
    }
}
