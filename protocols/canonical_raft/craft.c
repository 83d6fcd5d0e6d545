/* canonical-raft: the canonical/raft library (libraft, the Raft under dqlite
 * and LXD), run unmodified on faultline's node API.
 *
 * The library does the protocol; this file is only what its uv backend
 * would be on a real machine (an implementation of `struct raft_io`) and a
 * key-value state machine (`struct raft_fsm`).  Design notes, cited below:
 *
 * 1. One node, one `struct raft`, embedded in the node's state (whose
 *    address the engine keeps fixed for the node's life).  raft_init,
 *    raft_bootstrap (first start only: every node bootstraps the same
 *    configuration, servers 1..N, as the library's documentation asks) and
 *    raft_start run in init/recover; raft_close in destroy.  Server id i+1
 *    is faultline node i.
 *
 * 2. Asynchrony.  The library expects send, append, snapshot_put and
 *    snapshot_get to complete later, through a callback, never from inside
 *    the call.  Each request does its work at once (the bytes leave, the
 *    disk is written and synced) and queues its completion; a zero-delay
 *    timer per completion pops the queue in order (equal-time timers fire
 *    in insertion order).  So the library sees what it sees with uv: the
 *    callback comes from the event loop, after the call returned, and other
 *    events (a message, a tick) may come first.
 *
 * 3. Durability.  term and vote: two metadata files written alternately
 *    with a version and a checksum, as uv does, so that a torn write leaves
 *    the older one readable; synced before set_term/set_vote return (they
 *    are synchronous in the library's contract).  The log: a header
 *    (generation, first index, length after the rewrite, checksum) then one
 *    record per entry (term, type, data, checksum), appended and synced
 *    before the append callback is queued; truncate cuts and syncs.  A
 *    snapshot is written and synced into the other of two snapshot files,
 *    then the log, less what the snapshot covers (all of it for an
 *    installed snapshot, trailing = 0), is rewritten into the other of two
 *    log files, in the same handler.  The older copies stay until the next
 *    snapshot, as uv keeps old segments and snapshots until the new ones
 *    are durable: a torn snapshot or rewrite falls back to them (an earlier
 *    version rewrote one file in place, and fuzzing found nodes that could
 *    no longer start).  What was not synced is lost by a crash; `load`
 *    takes the newest snapshot and log that check and join, and stops the
 *    log at the first record whose checksum fails (a torn tail).
 *
 * 4. Time and randomness.  `time` is fl_now in milliseconds, but never
 *    going back: uv's clock is monotonic (uv_now), and the library
 *    subtracts times as unsigned numbers, so a clock jumped backwards would
 *    read as a wait of 2^64 ms.  Forward jumps pass through.  `random` draws
 *    from the node's stream.
 *
 * 5. Clients.  A node that is not leader redirects to the leader it knows
 *    of.  Every operation, reads included, is a log entry (raft_apply), so
 *    reads are linearizable without a read-index protocol.  The state
 *    machine applies entries with fl_store_apply_request, whose per-client
 *    table makes a request proposed twice (a retry after a redirect)
 *    take effect once.  The leader answers when the library applies the
 *    entry; if the apply fails (leadership lost), the entry may still
 *    commit, so the client is redirected, never told `fail`: its retry is
 *    then deduplicated, or times out as `info`.
 *
 * 6. Messages are encoded in wire.c; one that fails to decode is dropped
 *    and counted (craft.dropped).  Other counters: craft.snapshot_taken,
 *    craft.snapshot_installed, craft.log_cut (a torn log tail found at a
 *    restart), craft.corrupt (a damaged log: the node refuses to start). */
#include "protocols/canonical_raft/wire.h"
#include "sim/node.h"

#include <raft.h>
#include <string.h>

enum { TAG_TICK = 1, TAG_DONE = 2 };

#define META_MAGIC 0x4154454d54465243ULL   /* "CRFTMETA" */
#define LOG_HEADER 28   /* u64 generation, first index, length after the rewrite; u32 checksum */

static const char *const log_files[2] = { "craft.log1", "craft.log2" };
static const char *const snap_files[2] = { "craft.snap1", "craft.snap2" };

typedef enum { DONE_SEND, DONE_APPEND, DONE_SNAP_PUT, DONE_SNAP_GET } DoneKind;

/* A completion waiting for its zero-delay timer (note 2). */
typedef struct Done {
    DoneKind kind;
    void *req;                       /* the library's request, borrowed */
    int status;
    struct raft_snapshot *snapshot;  /* DONE_SNAP_GET: handed to the library */
} Done;

typedef struct Craft Craft;

/* A client operation proposed by this leader. */
typedef struct Apply {
    struct raft_apply req;
    FlRequest client;
    Craft *c;
} Apply;

struct Craft {
    FlNode *n;                 /* the node whose handler runs now */
    struct raft raft;
    struct raft_io io;
    struct raft_fsm fsm;
    bool inited;               /* raft_init succeeded: raft_close is due */
    bool started;              /* raft_start succeeded */
    bool closing;              /* in destroy: no effects, no replies */
    int role;                  /* last raft_state shown with fl_role */
    FlStore *store;
    FlResult result;           /* the last apply's result, for apply_cb */
    raft_io_tick_cb tick_cb;
    raft_io_recv_cb recv_cb;
    unsigned tick_ms;
    GQueue done;               /* Done*, oldest first */
    raft_index start_index;    /* index of the log file's first record */
    GArray *offsets;           /* size_t: byte offset of each record */
    int log_slot, snap_slot;   /* which of the two files is current (note 3) */
    uint64_t log_gen;          /* the newest log file's generation */
    uint64_t meta_version;
    raft_term term;
    raft_id vote;
    raft_time last_ms;         /* note 4 */
    char from_addr[16];
};

/* ---- Checksums ---------------------------------------------------------- */

/* FNV-1a over 32 bits: catches the flipped bytes and torn tails of the
 * `disk` fault; not a defence against an adversary. */
static uint32_t checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void put_checksum(FlWriter *w, size_t from)
{
    fl_put_u32(w, checksum(w->data + from, w->len - from));
}

/* ---- Completions (note 2) ------------------------------------------------- */

static void queue_done(Craft *c, DoneKind kind, void *req, int status, struct raft_snapshot *s)
{
    Done *d = g_new0(Done, 1);
    *d = (Done){ .kind = kind, .req = req, .status = status, .snapshot = s };
    g_queue_push_tail(&c->done, d);
    if (!c->closing)
        fl_timer(c->n, 0, TAG_DONE);
}

static void snapshot_free(struct raft_snapshot *s)
{
    if (!s)
        return;
    raft_configuration_close(&s->configuration);
    for (unsigned i = 0; i < s->n_bufs; i++)
        raft_free(s->bufs[i].base);
    raft_free(s->bufs);
    raft_free(s);
}

static void complete(Done *d)
{
    switch (d->kind) {
    case DONE_SEND: {
        struct raft_io_send *r = d->req;
        if (r->cb)
            r->cb(r, d->status);
        break;
    }
    case DONE_APPEND: {
        struct raft_io_append *r = d->req;
        if (r->cb)
            r->cb(r, d->status);
        break;
    }
    case DONE_SNAP_PUT: {
        struct raft_io_snapshot_put *r = d->req;
        if (r->cb)
            r->cb(r, d->status);
        break;
    }
    case DONE_SNAP_GET: {
        struct raft_io_snapshot_get *r = d->req;
        if (d->status != 0) {
            snapshot_free(d->snapshot);
            d->snapshot = NULL;
        }
        r->cb(r, d->snapshot, d->status);
        break;
    }
    }
    g_free(d);
}

/* ---- Disk: term and vote (note 3) ------------------------------------------ */

static const char *meta_file(uint64_t version)
{
    return version % 2 ? "craft.meta1" : "craft.meta2";
}

static bool meta_read(Craft *c, const char *file, uint64_t *version, raft_term *term, raft_id *vote)
{
    size_t len;
    const uint8_t *p = fl_disk_view(c->n, file, &len);
    if (!p || len != 36 || checksum(p, 32) != (uint32_t)(p[32] | p[33] << 8 | p[34] << 16 | (uint32_t)p[35] << 24))
        return false;
    FlReader r;
    fl_reader_init(&r, p, 32);
    if (fl_get_u64(&r) != META_MAGIC)
        return false;
    *version = fl_get_u64(&r);
    *term = fl_get_u64(&r);
    *vote = fl_get_u64(&r);
    return fl_reader_done(&r);
}

static void meta_write(Craft *c)
{
    uint8_t buf[36];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    c->meta_version++;
    fl_put_u64(&w, META_MAGIC);
    fl_put_u64(&w, c->meta_version);
    fl_put_u64(&w, c->term);
    fl_put_u64(&w, c->vote);
    put_checksum(&w, 0);
    const char *file = meta_file(c->meta_version);
    fl_disk_write(c->n, file, w.data, w.len);
    fl_disk_sync(c->n, file);
    fl_writer_deinit(&w);
}

/* ---- Disk: the log (note 3) -------------------------------------------------- */

static void put_record(FlWriter *w, const struct raft_entry *e)
{
    size_t from = w->len;
    fl_put_u64(w, e->term);
    fl_put_u8(w, (uint8_t)e->type);
    fl_put_bytes(w, e->buf.base, e->buf.len);
    put_checksum(w, from);
}

typedef enum {
    LOG_GOOD,      /* header and every complete record check */
    LOG_TORN,      /* absent, or shorter than its rewrite left it: a torn rewrite */
    LOG_CORRUPT,   /* a header or a complete record fails its checksum */
} LogState;

/* Scans log file @slot: its header (generation, first index, the length
 * the rewrite left it at) and the offsets of its good records.  A torn
 * rewrite (the other slot still holds the log) and a torn last append (an
 * incomplete record at the end: *@end is where the good records stop) are
 * what a crash leaves; a complete record or a header that fails its
 * checksum is damage that no crash explains, and the node refuses to
 * start, as uv does (RAFT_CORRUPT): falling back to the older slot then
 * would silently forget entries it had acknowledged (fuzzing found exactly
 * that: a stale read after a corrupt block). */
static LogState log_scan(Craft *c, int slot, uint64_t *gen, raft_index *start, GArray *offsets, size_t *end)
{
    size_t len;
    const uint8_t *p = fl_disk_view(c->n, log_files[slot], &len);
    g_array_set_size(offsets, 0);
    if (!p || len < LOG_HEADER)
        return LOG_TORN;
    FlReader r;
    fl_reader_init(&r, p, len);
    *gen = fl_get_u64(&r);
    *start = fl_get_u64(&r);
    uint64_t base = fl_get_u64(&r);
    if (checksum(p, 24) != fl_get_u32(&r) || *start == 0 || base < LOG_HEADER)
        return LOG_CORRUPT;
    *end = LOG_HEADER;
    while (fl_reader_left(&r) > 0) {
        size_t at = r.pos, dlen;
        (void)fl_get_u64(&r);
        uint8_t type = fl_get_u8(&r);
        (void)fl_get_bytes(&r, &dlen);
        uint32_t sum = checksum(p + at, r.pos - at);
        uint32_t want = fl_get_u32(&r);
        if (!fl_reader_ok(&r))
            break;   /* an incomplete last record: a torn append */
        if (want != sum || type < RAFT_COMMAND || type > RAFT_CHANGE)
            return LOG_CORRUPT;
        g_array_append_val(offsets, at);
        *end = r.pos;
    }
    return *end >= base ? LOG_GOOD : LOG_TORN;
}

static raft_index log_last(const Craft *c)
{
    return c->start_index + c->offsets->len - 1;
}

/* Writes a log whose first index is @start, holding the @len bytes of
 * records at @records (borrowed; NULL with len 0), which sat at byte offset
 * @from of the current file, into the other slot with the next generation,
 * and makes it current.  The current file is left alone, so a torn
 * rewrite falls back to it (note 3). */
static void log_rewrite(Craft *c, raft_index start, const uint8_t *records, size_t len, size_t from)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    c->log_gen++;
    fl_put_u64(&w, c->log_gen);
    fl_put_u64(&w, start);
    fl_put_u64(&w, LOG_HEADER + len);
    put_checksum(&w, 0);
    GArray *offsets = g_array_new(FALSE, FALSE, sizeof(size_t));
    for (guint i = 0; i < c->offsets->len; i++) {
        size_t off = g_array_index(c->offsets, size_t, i);
        if (off >= from && off - from < len) {
            size_t moved = off - from + LOG_HEADER;
            g_array_append_val(offsets, moved);
        }
    }
    if (len > 0)
        fl_put_raw(&w, records, len);
    c->log_slot = 1 - c->log_slot;
    fl_disk_write(c->n, log_files[c->log_slot], w.data, w.len);
    fl_disk_sync(c->n, log_files[c->log_slot]);
    fl_writer_deinit(&w);
    g_array_unref(c->offsets);
    c->offsets = offsets;
    c->start_index = start;
}

/* The current log's entries as the library's load wants them: one
 * raft_malloc'd array and one batch. */
static void log_entries(Craft *c, struct raft_entry **entries, size_t *n_entries)
{
    size_t len;
    const uint8_t *p = fl_disk_view(c->n, log_files[c->log_slot], &len);
    size_t n = c->offsets->len, total = 0;
    *entries = NULL;
    *n_entries = 0;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        FlReader er;
        size_t at = g_array_index(c->offsets, size_t, i), dlen;
        fl_reader_init(&er, p + at + 9, len - at - 9);
        (void)fl_get_bytes(&er, &dlen);
        total += dlen;
    }
    struct raft_entry *e = raft_calloc(n, sizeof *e);
    uint8_t *batch = raft_malloc(total > 0 ? total : 1);
    g_assert(e && batch);
    uint8_t *cursor = batch;
    for (size_t i = 0; i < n; i++) {
        FlReader er;
        size_t at = g_array_index(c->offsets, size_t, i), dlen;
        fl_reader_init(&er, p + at, len - at);
        e[i].term = fl_get_u64(&er);
        e[i].type = fl_get_u8(&er);
        const uint8_t *d = fl_get_bytes(&er, &dlen);
        memcpy(cursor, d, dlen);
        e[i].buf = (struct raft_buffer){ .base = cursor, .len = dlen };
        e[i].batch = batch;
        cursor += dlen;
    }
    *entries = e;
    *n_entries = n;
}

/* ---- Disk: the snapshot ---------------------------------------------------------- */

/* Writes @s into the slot that does not hold the newest snapshot, so that a
 * torn write leaves the previous one readable (note 3). */
static void snap_write(Craft *c, const struct raft_snapshot *s)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u64(&w, s->index);
    fl_put_u64(&w, s->term);
    craft_conf_encode(&w, &s->configuration);
    fl_put_u64(&w, s->configuration_index);
    size_t total = 0;
    for (unsigned i = 0; i < s->n_bufs; i++)
        total += s->bufs[i].len;
    fl_put_u32(&w, (uint32_t)total);
    for (unsigned i = 0; i < s->n_bufs; i++)
        fl_put_raw(&w, s->bufs[i].base, s->bufs[i].len);
    put_checksum(&w, 0);
    c->snap_slot = 1 - c->snap_slot;
    fl_disk_write(c->n, snap_files[c->snap_slot], w.data, w.len);
    fl_disk_sync(c->n, snap_files[c->snap_slot]);
    fl_writer_deinit(&w);
}

/* The snapshot in @slot, allocated as the library frees it; NULL if there
 * is none or it does not check. */
static struct raft_snapshot *snap_read(Craft *c, int slot)
{
    size_t len;
    const uint8_t *p = fl_disk_view(c->n, snap_files[slot], &len);
    if (!p || len < 4)
        return NULL;
    FlReader r;
    fl_reader_init(&r, p, len - 4);
    FlReader tail;
    fl_reader_init(&tail, p + len - 4, 4);
    if (checksum(p, len - 4) != fl_get_u32(&tail))
        return NULL;
    struct raft_snapshot *s = raft_calloc(1, sizeof *s);
    g_assert(s);
    s->index = fl_get_u64(&r);
    s->term = fl_get_u64(&r);
    raft_configuration_init(&s->configuration);
    bool ok = craft_conf_decode(&r, &s->configuration);
    s->configuration_index = fl_get_u64(&r);
    size_t dlen;
    const uint8_t *d = fl_get_bytes(&r, &dlen);
    if (!ok || !d || !fl_reader_done(&r)) {
        snapshot_free(s);
        return NULL;
    }
    s->bufs = raft_malloc(sizeof *s->bufs);
    s->bufs[0].base = raft_malloc(dlen > 0 ? dlen : 1);
    g_assert(s->bufs && s->bufs[0].base);
    memcpy(s->bufs[0].base, d, dlen);
    s->bufs[0].len = dlen;
    s->n_bufs = 1;
    return s;
}

/* Picks what `load` returns (note 3): the newest snapshot that checks, and
 * the newest log that checks and joins it (starts at most one past it and
 * reaches it; with no snapshot, starts at 1).  When the newest of either
 * is torn, the other slot's older copy still joins the other.  The chosen
 * log becomes current; if it is not the newest generation it is rewritten
 * as the newest, so that a stale log never wins a later load. */
static struct raft_snapshot *disk_load(Craft *c, bool *corrupt)
{
    *corrupt = false;
    struct raft_snapshot *snaps[2] = { snap_read(c, 0), snap_read(c, 1) };
    int order[3], k = 0;   /* snapshot slots, newest first, then -1: none */
    int newer = snaps[0] && snaps[1] ? (snaps[0]->index >= snaps[1]->index ? 0 : 1)
                                     : snaps[0] ? 0 : snaps[1] ? 1 : -1;
    if (newer >= 0) {
        order[k++] = newer;
        if (snaps[1 - newer])
            order[k++] = 1 - newer;
    }
    order[k++] = -1;
    uint64_t gens[2] = { 0, 0 };
    raft_index starts[2] = { 0, 0 };
    size_t ends[2] = { 0, 0 };
    GArray *offs[2] = { g_array_new(FALSE, FALSE, sizeof(size_t)), g_array_new(FALSE, FALSE, sizeof(size_t)) };
    bool ok[2];
    for (int i = 0; i < 2; i++) {
        LogState st = log_scan(c, i, &gens[i], &starts[i], offs[i], &ends[i]);
        ok[i] = st == LOG_GOOD;
        if (st == LOG_CORRUPT) {
            fl_log(c->n, "canonical-raft: %s is damaged (a checksum fails): refusing to start", log_files[i]);
            fl_metric_add(c->n, "craft.corrupt", 1);
            for (int j = 0; j < 2; j++) {
                snapshot_free(snaps[j]);
                g_array_unref(offs[j]);
            }
            *corrupt = true;
            return NULL;
        }
    }
    c->log_gen = MAX(gens[0], gens[1]);
    int logs[2] = { gens[0] >= gens[1] ? 0 : 1, gens[0] >= gens[1] ? 1 : 0 };
    int snap = -1, log = -1;
    for (int i = 0; i < k && log < 0; i++) {
        const struct raft_snapshot *s = order[i] >= 0 ? snaps[order[i]] : NULL;
        for (int j = 0; j < 2 && log < 0; j++) {
            int l = logs[j];
            raft_index last = starts[l] + offs[l]->len - 1;
            if (ok[l] && (s ? starts[l] <= s->index + 1 && last >= s->index : starts[l] == 1))
                snap = order[i], log = l;
        }
        if (log < 0 && s) {
            snap = order[i];   /* a snapshot no log joins: it is the whole state */
            break;
        }
    }
    struct raft_snapshot *s = snap >= 0 ? snaps[snap] : NULL;
    for (int i = 0; i < 2; i++)
        if (i != snap)
            snapshot_free(snaps[i]);
    c->snap_slot = snap >= 0 ? snap : 1;
    if (log >= 0) {
        c->log_slot = log;
        c->start_index = starts[log];
        g_array_unref(c->offsets);
        c->offsets = offs[log];
        offs[log] = NULL;
        size_t len;
        (void)fl_disk_view(c->n, log_files[log], &len);
        if (ends[log] < len) {
            fl_log(c->n, "canonical-raft: log cut at byte %zu of %zu (torn or damaged tail)", ends[log], len);
            fl_metric_add(c->n, "craft.log_cut", 1);
            fl_disk_truncate(c->n, log_files[log], ends[log]);
            fl_disk_sync(c->n, log_files[log]);
        }
        if (gens[log] < c->log_gen) {
            const uint8_t *p = fl_disk_view(c->n, log_files[log], &len);
            g_autofree uint8_t *copy = g_memdup2(p + LOG_HEADER, len - LOG_HEADER);
            log_rewrite(c, c->start_index, copy, len - LOG_HEADER, LOG_HEADER);
        }
    } else {
        if (ok[0] || ok[1] || gens[0] || gens[1])
            fl_log(c->n, "canonical-raft: no log joins the %s", s ? "snapshot" : "start of the log");
        c->log_slot = logs[0];   /* rewrite into the other slot, keeping the newest */
        g_array_set_size(c->offsets, 0);
        log_rewrite(c, s ? s->index + 1 : 1, NULL, 0, 0);
    }
    for (int i = 0; i < 2; i++)
        if (offs[i])
            g_array_unref(offs[i]);
    return s;
}

/* ---- struct raft_io ------------------------------------------------------------ */

static int io_init(struct raft_io *io, raft_id id, const char *address)
{
    (void)io;
    (void)id;
    (void)address;
    return 0;
}

/* Only destroy closes, at a crash or at the end of the run: the process
 * died, so what was queued never completes.  The completions are dropped,
 * not run with RAFT_CANCELED: running them made the library free a client's
 * entry twice (found by fuzzing; the library's cancel paths are not what a
 * crash exercises on a real machine, and a dying process runs no
 * callbacks).  The requests they held leak, a few small blocks per crash.
 * Then it closes at once: a crashed node has no later event to close from. */
static void io_close(struct raft_io *io, raft_io_close_cb cb)
{
    Craft *c = io->impl;
    Done *d;
    while ((d = g_queue_pop_head(&c->done))) {
        snapshot_free(d->snapshot);
        g_free(d);
    }
    c->tick_cb = NULL;
    c->recv_cb = NULL;
    if (cb)
        cb(io);
}

static int io_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                   struct raft_snapshot **snapshot, raft_index *start_index,
                   struct raft_entry *entries[], size_t *n_entries)
{
    Craft *c = io->impl;
    uint64_t v1 = 0, v2 = 0;
    raft_term t1 = 0, t2 = 0;
    raft_id o1 = 0, o2 = 0;
    bool ok1 = meta_read(c, "craft.meta1", &v1, &t1, &o1);
    bool ok2 = meta_read(c, "craft.meta2", &v2, &t2, &o2);
    c->meta_version = 0;
    c->term = 0;
    c->vote = 0;
    if (ok1 && (!ok2 || v1 > v2)) {
        c->meta_version = v1, c->term = t1, c->vote = o1;
    } else if (ok2) {
        c->meta_version = v2, c->term = t2, c->vote = o2;
    }
    *term = c->term;
    *voted_for = c->vote;
    bool corrupt;
    *snapshot = disk_load(c, &corrupt);
    if (corrupt) {
        *entries = NULL;
        *n_entries = 0;
        return RAFT_CORRUPT;
    }
    const struct raft_snapshot *s = *snapshot;
    if (!s && c->start_index != 1) {
        fl_log(c->n, "canonical-raft: log starts at %llu but there is no snapshot", c->start_index);
        return RAFT_CORRUPT;
    }
    log_entries(c, entries, n_entries);
    *start_index = c->start_index;
    return 0;
}

static int io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    Craft *c = io->impl;
    c->tick_ms = msecs;
    c->tick_cb = tick;
    c->recv_cb = recv;
    fl_timer(c->n, FL_MS(msecs), TAG_TICK);
    return 0;
}

static int io_append(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n, raft_io_append_cb cb);

/* As uv does: the first entry, a configuration, at index 1 of term 1. */
static int io_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
    Craft *c = io->impl;
    if (c->term != 0 || c->offsets->len > 0 || c->start_index != 1)
        return RAFT_CANTBOOTSTRAP;
    struct raft_buffer buf;
    int rv = raft_configuration_encode(conf, &buf);
    if (rv != 0)
        return rv;
    /* The library pads the encoding to 8 bytes without clearing the padding
     * (valgrind: uninitialised bytes reached the disk and the checksums).
     * Its format: u8 version, u64 count, then per server u64 id, the
     * address with its NUL, u8 role.  Clear what follows, so that the disk
     * and any message holding this entry are the same bytes on every run. */
    size_t used = 1 + 8;
    for (unsigned i = 0; i < conf->n; i++)
        used += 8 + strlen(conf->servers[i].address) + 1 + 1;
    if (used < buf.len)
        memset((uint8_t *)buf.base + used, 0, buf.len - used);
    struct raft_entry e = { .term = 1, .type = RAFT_CHANGE, .buf = buf };
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    size_t len;
    (void)fl_disk_view(c->n, log_files[c->log_slot], &len);
    put_record(&w, &e);
    fl_disk_append(c->n, log_files[c->log_slot], w.data, w.len);
    fl_disk_sync(c->n, log_files[c->log_slot]);
    g_array_append_val(c->offsets, len);
    fl_writer_deinit(&w);
    raft_free(buf.base);
    c->term = 1;
    c->vote = 0;
    meta_write(c);
    return 0;
}

static int io_recover(struct raft_io *io, const struct raft_configuration *conf)
{
    (void)io;
    (void)conf;
    return RAFT_INVALID;   /* raft_recover is for operators; no scenario calls it */
}

static int io_set_term(struct raft_io *io, raft_term term)
{
    Craft *c = io->impl;
    c->term = term;
    c->vote = 0;
    meta_write(c);
    return 0;
}

static int io_set_vote(struct raft_io *io, raft_id server_id)
{
    Craft *c = io->impl;
    c->vote = server_id;
    meta_write(c);
    return 0;
}

static int io_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
                   raft_io_send_cb cb)
{
    Craft *c = io->impl;
    req->cb = cb;
    if (m->server_id == 0 || m->server_id > fl_nodes(c->n) || m->server_id == fl_self(c->n) + 1) {
        queue_done(c, DONE_SEND, req, RAFT_NOCONNECTION, NULL);
        return 0;
    }
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    craft_encode(&w, m);
    fl_send(c->n, (uint32_t)(m->server_id - 1), w.data, w.len);
    fl_writer_deinit(&w);
    queue_done(c, DONE_SEND, req, 0, NULL);
    return 0;
}

static int io_append(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
    Craft *c = io->impl;
    size_t len;
    (void)fl_disk_view(c->n, log_files[c->log_slot], &len);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    for (unsigned i = 0; i < n; i++) {
        size_t at = len + w.len;
        g_array_append_val(c->offsets, at);
        put_record(&w, &entries[i]);
    }
    fl_disk_append(c->n, log_files[c->log_slot], w.data, w.len);
    fl_disk_sync(c->n, log_files[c->log_slot]);
    fl_writer_deinit(&w);
    req->cb = cb;
    queue_done(c, DONE_APPEND, req, 0, NULL);
    return 0;
}

static int io_truncate(struct raft_io *io, raft_index index)
{
    Craft *c = io->impl;
    if (index < c->start_index) {
        log_rewrite(c, index, NULL, 0, 0);
        return 0;
    }
    if (index > log_last(c))
        return 0;
    size_t at = g_array_index(c->offsets, size_t, index - c->start_index);
    g_array_set_size(c->offsets, (guint)(index - c->start_index));
    fl_disk_truncate(c->n, log_files[c->log_slot], at);
    fl_disk_sync(c->n, log_files[c->log_slot]);
    return 0;
}

static int io_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                           const struct raft_snapshot *s, raft_io_snapshot_put_cb cb)
{
    Craft *c = io->impl;
    snap_write(c, s);
    size_t len;
    const uint8_t *p = fl_disk_view(c->n, log_files[c->log_slot], &len);
    fl_metric_add(c->n, trailing == 0 ? "craft.snapshot_installed" : "craft.snapshot_taken", 1);
    if (trailing == 0) {
        log_rewrite(c, s->index + 1, NULL, 0, 0);
    } else if (s->index > trailing && s->index - trailing + 1 > c->start_index) {
        raft_index start = s->index - trailing + 1;
        if (start > log_last(c) + 1)
            start = log_last(c) + 1;
        size_t from = start <= log_last(c) ? g_array_index(c->offsets, size_t, start - c->start_index) : len;
        /* log_rewrite writes the file anew: copy the kept records first,
         * since the view dies with the write. */
        g_autofree uint8_t *kept = g_memdup2(p + from, len - from);
        log_rewrite(c, start, kept, len - from, from);
    }
    req->cb = cb;
    queue_done(c, DONE_SNAP_PUT, req, 0, NULL);
    return 0;
}

static int io_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req, raft_io_snapshot_get_cb cb)
{
    Craft *c = io->impl;
    struct raft_snapshot *s = snap_read(c, c->snap_slot);
    req->cb = cb;
    queue_done(c, DONE_SNAP_GET, req, s ? 0 : RAFT_NOTFOUND, s);
    return 0;
}

static raft_time io_time(struct raft_io *io)
{
    Craft *c = io->impl;
    raft_time now = fl_now(c->n) / FL_MS(1);
    if (now > c->last_ms)
        c->last_ms = now;
    return c->last_ms;
}

static int io_random(struct raft_io *io, int min, int max)
{
    Craft *c = io->impl;
    if (max <= min)
        return min;
    return min + (int)(fl_random(c->n) % (uint64_t)(max - min));
}

/* ---- struct raft_fsm: the kv store (note 5) -------------------------------------- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    Craft *c = fsm->data;
    FlReader r;
    FlRequest req;
    fl_reader_init(&r, buf->base, buf->len);
    *result = NULL;
    if (!fl_request_decode(&r, &req) || !fl_reader_done(&r))
        return 0;   /* not ours: only this file proposes commands */
    if (fl_store_apply_request(c->store, &req, &c->result))
        *result = &c->result;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    Craft *c = fsm->data;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_store_encode(c->store, &w);
    *bufs = raft_malloc(sizeof **bufs);
    (*bufs)[0].base = raft_malloc(w.len > 0 ? w.len : 1);
    g_assert(*bufs && (*bufs)[0].base);
    memcpy((*bufs)[0].base, w.data, w.len);
    (*bufs)[0].len = w.len;
    *n_bufs = 1;
    fl_writer_deinit(&w);
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    Craft *c = fsm->data;
    FlReader r;
    fl_reader_init(&r, buf->base, buf->len);
    bool ok = fl_store_decode(c->store, &r) && fl_reader_done(&r);
    raft_free(buf->base);
    return ok ? 0 : RAFT_MALFORMED;
}

/* ---- The protocol --------------------------------------------------------------- */

static const FlParam craft_params[] = {
    { "election_timeout", FL_PARAM_DURATION, "\"150ms\"",
      "the library's election timeout; it draws each timeout from [1x, 2x] of it", NULL, FL_MS(1), 1e12 },
    { "heartbeat", FL_PARAM_DURATION, "\"50ms\"",
      "the library's heartbeat timeout, also its tick", NULL, FL_MS(1), 1e12 },
    { "snapshot_entries", FL_PARAM_INT, "1024",
      "raft_set_snapshot_threshold: take a snapshot after this many applied entries", NULL, 1, 1e9 },
    /* At least 1: snapshot_put reads trailing 0 as an installed snapshot
     * and empties the log, as uv does, so a taken snapshot must keep one. */
    { "snapshot_trailing", FL_PARAM_INT, "128",
      "raft_set_snapshot_trailing: entries kept in the log behind a snapshot", NULL, 1, 1e9 },
    { "prevote", FL_PARAM_BOOL, "true", "raft_set_pre_vote (thesis §9.6)", NULL, 0, 0 },
    { NULL },
};

static void show_role(Craft *c)
{
    static const char *const names[] = {
        [RAFT_UNAVAILABLE] = "unavailable", [RAFT_FOLLOWER] = "follower",
        [RAFT_CANDIDATE] = "candidate", [RAFT_LEADER] = "leader",
    };
    int s = c->started ? raft_state(&c->raft) : RAFT_UNAVAILABLE;
    if (s != c->role && s >= 0 && s <= RAFT_LEADER) {
        c->role = s;
        fl_role(c->n, names[s]);
    }
}

/* Note 1: first start and restart differ only in the bootstrap. */
static void start(FlNode *n, Craft *c, bool first)
{
    c->n = n;
    c->role = -1;
    c->store = fl_store_new();
    c->offsets = g_array_new(FALSE, FALSE, sizeof(size_t));
    g_queue_init(&c->done);
    c->start_index = 1;
    c->io = (struct raft_io){
        .version = 1, .impl = c, .init = io_init, .close = io_close, .load = io_load,
        .start = io_start, .bootstrap = io_bootstrap, .recover = io_recover,
        .set_term = io_set_term, .set_vote = io_set_vote, .send = io_send,
        .append = io_append, .truncate = io_truncate, .snapshot_put = io_snapshot_put,
        .snapshot_get = io_snapshot_get, .time = io_time, .random = io_random,
    };
    c->fsm = (struct raft_fsm){
        .version = 1, .data = c, .apply = fsm_apply, .snapshot = fsm_snapshot, .restore = fsm_restore,
    };
    char address[16];
    g_snprintf(address, sizeof address, "%u", fl_self(n) + 1);
    int rv = raft_init(&c->raft, &c->io, &c->fsm, fl_self(n) + 1, address);
    if (rv != 0) {
        fl_log(n, "canonical-raft: raft_init: %s", raft_strerror(rv));
        return;
    }
    c->inited = true;
    raft_set_election_timeout(&c->raft, (unsigned)(fl_param_duration(n, "election_timeout") / FL_MS(1)));
    raft_set_heartbeat_timeout(&c->raft, (unsigned)(fl_param_duration(n, "heartbeat") / FL_MS(1)));
    raft_set_snapshot_threshold(&c->raft, (unsigned)fl_param_int(n, "snapshot_entries"));
    raft_set_snapshot_trailing(&c->raft, (unsigned)fl_param_int(n, "snapshot_trailing"));
    raft_set_pre_vote(&c->raft, fl_param_bool(n, "prevote"));
    if (first) {
        /* io_bootstrap appends to the log file: give it its header. */
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        for (uint32_t i = 0; i < fl_nodes(n); i++) {
            char a[16];
            g_snprintf(a, sizeof a, "%u", i + 1);
            rv = raft_configuration_add(&conf, i + 1, a, RAFT_VOTER);
            g_assert(rv == 0);
        }
        c->snap_slot = 1;
        log_rewrite(c, 1, NULL, 0, 0);
        rv = raft_bootstrap(&c->raft, &conf);
        raft_configuration_close(&conf);
        if (rv != 0)
            fl_log(n, "canonical-raft: raft_bootstrap: %s", raft_strerror(rv));
    }
    rv = raft_start(&c->raft);
    if (rv != 0) {
        fl_log(n, "canonical-raft: raft_start: %s (%s)", raft_strerror(rv), raft_errmsg(&c->raft));
        fl_role(n, "broken");
        return;
    }
    c->started = true;
    show_role(c);
}

static void craft_init(FlNode *n, void *state)
{
    start(n, state, true);
}

static void craft_recover(FlNode *n, void *state)
{
    start(n, state, false);
}

static void craft_destroy(FlNode *n, void *state)
{
    Craft *c = state;
    c->n = n;
    c->closing = true;
    if (c->inited)
        raft_close(&c->raft, NULL);
    Done *d;
    while ((d = g_queue_pop_head(&c->done))) {
        snapshot_free(d->snapshot);
        g_free(d);
    }
    if (c->offsets)
        g_array_unref(c->offsets);
    if (c->store)
        fl_store_free(c->store);
    c->offsets = NULL;
    c->store = NULL;
}

static void craft_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Craft *c = state;
    c->n = n;
    if (!c->started || !c->recv_cb)
        return;
    struct raft_message m;
    if (!craft_decode(msg, len, &m)) {
        fl_metric_add(n, "craft.dropped", 1);
        return;
    }
    g_snprintf(c->from_addr, sizeof c->from_addr, "%u", from + 1);
    m.server_id = from + 1;
    m.server_address = c->from_addr;
    c->recv_cb(&c->io, &m);
    show_role(c);
}

static void craft_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Craft *c = state;
    (void)t;
    c->n = n;
    if (tag == TAG_TICK) {
        if (!c->tick_cb)
            return;
        fl_timer(n, FL_MS(c->tick_ms), TAG_TICK);
        c->tick_cb(&c->io);
    } else if (tag == TAG_DONE) {
        Done *d = g_queue_pop_head(&c->done);
        if (d)
            complete(d);
    }
    show_role(c);
}

static uint32_t leader_hint(Craft *c)
{
    raft_id id = 0;
    const char *address = NULL;
    raft_leader(&c->raft, &id, &address);
    return id >= 1 && id <= fl_nodes(c->n) ? (uint32_t)(id - 1) : FL_NO_HINT;
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    Apply *a = req->data;
    Craft *c = a->c;
    if (!c->closing) {
        if (status == 0 && result)
            fl_reply(c->n, &a->client, result);
        else if (status != 0)
            fl_reply_redirect(c->n, &a->client, leader_hint(c));
        /* status 0 without a result: an older request of that client,
         * which it no longer waits for. */
    }
    g_free(a);
}

/* Note 5. */
static void craft_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Craft *c = state;
    c->n = n;
    if (!c->started) {
        fl_reply_redirect(n, req, FL_NO_HINT);
        return;
    }
    if (raft_state(&c->raft) != RAFT_LEADER) {
        fl_reply_redirect(n, req, leader_hint(c));
        return;
    }
    if (req->op.kind == FL_OP_NOOP) {
        fl_reply_fail(n, req);   /* not a client operation */
        return;
    }
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_request_encode(&w, req);
    struct raft_buffer buf = { .base = raft_malloc(w.len), .len = w.len };
    g_assert(buf.base);
    memcpy(buf.base, w.data, w.len);
    fl_writer_deinit(&w);
    Apply *a = g_new0(Apply, 1);
    a->client = *req;
    a->c = c;
    a->req.data = a;
    int rv = raft_apply(&c->raft, &a->req, &buf, 1, apply_cb);
    if (rv != 0) {
        /* RAFT_NOTLEADER is refused before the library takes the buffer. */
        if (rv == RAFT_NOTLEADER)
            raft_free(buf.base);
        g_free(a);
        fl_reply_redirect(n, req, leader_hint(c));
    }
    show_role(c);
}

static const char *craft_msg_kind(const uint8_t *msg, size_t len)
{
    static const char *const names[] = {
        [RAFT_IO_APPEND_ENTRIES] = "AppendEntries",
        [RAFT_IO_APPEND_ENTRIES_RESULT] = "AppendEntriesResult",
        [RAFT_IO_REQUEST_VOTE] = "RequestVote",
        [RAFT_IO_REQUEST_VOTE_RESULT] = "RequestVoteResult",
        [RAFT_IO_INSTALL_SNAPSHOT] = "InstallSnapshot",
        [RAFT_IO_TIMEOUT_NOW] = "TimeoutNow",
    };
    if (len == 0 || msg[0] >= G_N_ELEMENTS(names))
        return NULL;
    return names[msg[0]];
}

const FlProtocol fl_proto_canonical_raft = {
    .name = "canonical-raft",
    .summary = "the canonical/raft library (libraft " RAFT_LIB_VERSION "), unmodified, with a kv state machine",
    .params = craft_params,
    .state_size = sizeof(Craft),
    .init = craft_init,
    .recover = craft_recover,
    .destroy = craft_destroy,
    .on_message = craft_on_message,
    .on_timer = craft_on_timer,
    .on_request = craft_on_request,
    .msg_kind = craft_msg_kind,
    .kinds = "AppendEntries|AppendEntriesResult|RequestVote|RequestVoteResult|InstallSnapshot|TimeoutNow",
    .max_nodes = 64,
};
