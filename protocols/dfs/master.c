/* The DFS master (node 0) and its backup (node 1): the namespace, chunk
 * versions and placement, file locks, checks, re-replication, and the
 * synchronous copy of the metadata.  See the design notes in dfs.c; the
 * numbers cited are theirs. */
#include "protocols/dfs/dfs.h"

#include <inttypes.h>
#include <string.h>

#define META_MAGIC 0x4154454du   /* "META" */
#define MAX_DELETIONS 4096

/* ---- Helpers ------------------------------------------------------------- */

static FlDuration since(FlNode *n, FlTime t)
{
    FlTime now = fl_now(n);
    return now > t ? (FlDuration)(now - t) : 0;
}

static DfsChunk *chunk(DfsMaster *m, uint64_t handle)
{
    if (handle == 0 || handle > m->chunks->len)
        return NULL;
    return &g_array_index(m->chunks, DfsChunk, handle - 1);
}

static bool has(const GArray *a, uint32_t v)
{
    for (guint i = 0; a && i < a->len; i++)
        if (g_array_index(a, uint32_t, i) == v)
            return true;
    return false;
}

static void remove_value(GArray *a, uint32_t v)
{
    for (guint i = a->len; i-- > 0;)
        if (g_array_index(a, uint32_t, i) == v)
            g_array_remove_index(a, i);
}

static bool is_server(const Dfs *d, FlNode *n, uint32_t s)
{
    return s >= d->first_server && s < fl_nodes(n);
}

static DfsSession *session(DfsMaster *m, uint32_t client, bool create)
{
    guint lo = 0, hi = m->sessions->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        DfsSession *s = &g_array_index(m->sessions, DfsSession, mid);
        if (s->client == client)
            return s;
        if (s->client < client)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!create)
        return NULL;
    DfsSession fresh = { .client = client };
    g_array_insert_val(m->sessions, lo, fresh);
    return &g_array_index(m->sessions, DfsSession, lo);
}

/* Records @client's answer to request @req, unless the client has moved on
 * to a later request already (a timed-out request finishing late must not
 * make the table forget the later one). */
static void record(DfsMaster *m, uint32_t client, uint64_t req, uint8_t status, int64_t value)
{
    DfsSession *s = session(m, client, true);
    if (s->req > req)
        return;
    s->req = req;
    s->status = status;
    s->value = value;
}

static void grant_free(DfsGrant *g)
{
    if (!g)
        return;
    for (guint i = 0; i < g->parts->len; i++)
        g_array_free(g_array_index(g->parts, DfsGrantPart, i).chain, TRUE);
    g_array_free(g->parts, TRUE);
    g_free(g);
}

static void chunk_clear_volatile(DfsChunk *c)
{
    if (c->replicas)
        g_array_free(c->replicas, TRUE);
    if (c->answers)
        g_array_free(c->answers, TRUE);
    c->replicas = NULL;
    c->answers = NULL;
}

static void clear_metadata(Dfs *d, DfsMaster *m)
{
    for (uint32_t f = 0; f < d->max_files; f++) {
        DfsFile *file = &m->files[f];
        if (file->chunks)
            g_array_free(file->chunks, TRUE);
        if (file->waiting)
            g_array_free(file->waiting, TRUE);
        grant_free(file->grant);
        memset(file, 0, sizeof *file);
        file->chunks = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        file->waiting = g_array_new(FALSE, FALSE, sizeof(DfsWaiting));
    }
    for (guint i = 0; i < m->chunks->len; i++)
        chunk_clear_volatile(&g_array_index(m->chunks, DfsChunk, i));
    g_array_set_size(m->chunks, 0);
    g_array_set_size(m->sessions, 0);
    m->next_handle = 1;
    m->next_grant = 1;
}

/* Note 10: @c's replicas change now (a grant, a commit, a check's verdict,
 * a copy, a corrupt replica), so a report asked for before now may not
 * show it. */
static void touch(DfsMaster *m, DfsChunk *c)
{
    c->changed = ++m->mark;
}

static DfsChunk *new_chunk(DfsMaster *m, uint32_t file, uint32_t index)
{
    DfsChunk c = { .handle = m->next_handle++, .file = file, .index = index, .live = true };
    c.replicas = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    g_array_append_val(m->chunks, c);
    return &g_array_index(m->chunks, DfsChunk, m->chunks->len - 1);
}

/* ---- The snapshot (note 3) ---------------------------------------------- */

static void encode_meta(Dfs *d, DfsMaster *m, FlWriter *w)
{
    fl_put_u64(w, m->seq);
    fl_put_u64(w, m->next_handle);
    fl_put_u64(w, m->next_grant);
    fl_put_u32(w, d->max_files);
    for (uint32_t f = 0; f < d->max_files; f++) {
        const DfsFile *file = &m->files[f];
        fl_put_u8(w, file->exists);
        fl_put_u32(w, file->size);
        fl_put_u32(w, file->chunks->len);
        for (guint i = 0; i < file->chunks->len; i++)
            fl_put_u64(w, g_array_index(file->chunks, uint64_t, i));
    }
    fl_put_u32(w, m->chunks->len);
    for (guint i = 0; i < m->chunks->len; i++) {
        const DfsChunk *c = &g_array_index(m->chunks, DfsChunk, i);
        fl_put_u32(w, c->file);
        fl_put_u32(w, c->index);
        fl_put_u8(w, c->live);
        fl_put_u64(w, c->version);
        fl_put_u64(w, c->max_granted);
    }
    fl_put_u32(w, m->sessions->len);
    for (guint i = 0; i < m->sessions->len; i++) {
        const DfsSession *s = &g_array_index(m->sessions, DfsSession, i);
        fl_put_u32(w, s->client);
        fl_put_u64(w, s->req);
        fl_put_u8(w, s->status);
        fl_put_i64(w, s->value);
    }
}

/* Replaces the metadata with the snapshot in @p; false (and empty
 * metadata) on malformed input. */
static bool decode_meta(Dfs *d, DfsMaster *m, const uint8_t *p, size_t len)
{
    clear_metadata(d, m);
    FlReader r;
    fl_reader_init(&r, p, len);
    m->seq = fl_get_u64(&r);
    m->next_handle = fl_get_u64(&r);
    m->next_grant = fl_get_u64(&r);
    uint32_t nf = fl_get_u32(&r);
    if (!fl_reader_ok(&r) || nf != d->max_files)
        goto bad;
    for (uint32_t f = 0; f < nf && fl_reader_ok(&r); f++) {
        DfsFile *file = &m->files[f];
        file->exists = fl_get_u8(&r) != 0;
        file->size = fl_get_u32(&r);
        uint32_t nc = fl_get_u32(&r);
        if (nc > DFS_MAX_CHUNKS_PER_FILE || nc > fl_reader_left(&r) / 8)
            goto bad;
        for (uint32_t i = 0; i < nc; i++) {
            uint64_t h = fl_get_u64(&r);
            g_array_append_val(file->chunks, h);
        }
    }
    uint32_t nchunks = fl_get_u32(&r);
    if (!fl_reader_ok(&r) || nchunks > fl_reader_left(&r) / 25 || nchunks + 1 != m->next_handle)
        goto bad;
    for (uint32_t i = 0; i < nchunks; i++) {
        DfsChunk c = { .handle = i + 1 };
        c.file = fl_get_u32(&r);
        c.index = fl_get_u32(&r);
        c.live = fl_get_u8(&r) != 0;
        c.version = fl_get_u64(&r);
        c.max_granted = fl_get_u64(&r);
        c.replicas = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        g_array_append_val(m->chunks, c);
    }
    uint32_t ns = fl_get_u32(&r);
    if (!fl_reader_ok(&r) || ns > fl_reader_left(&r) / 21)
        goto bad;
    for (uint32_t i = 0; i < ns; i++) {
        DfsSession s;
        s.client = fl_get_u32(&r);
        s.req = fl_get_u64(&r);
        s.status = fl_get_u8(&r);
        s.value = fl_get_i64(&r);
        g_array_append_val(m->sessions, s);
    }
    if (fl_reader_done(&r))
        return true;
bad:
    clear_metadata(d, m);
    m->seq = 0;
    return false;
}

/* The snapshot file: magic, length, checksum, body. */
static void store_meta(FlNode *n, const uint8_t *body, size_t len)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u32(&w, META_MAGIC);
    fl_put_u32(&w, (uint32_t)len);
    fl_put_u64(&w, dfs_checksum(body, len, 0));
    fl_put_raw(&w, body, len);
    fl_disk_write(n, "meta", w.data, w.len);
    fl_disk_sync(n, "meta");
    fl_writer_deinit(&w);
}

/* The body of the snapshot file, or NULL if missing or damaged (*@damaged
 * tells which, if not NULL). */
static const uint8_t *load_meta(FlNode *n, size_t *len, bool *damaged)
{
    size_t flen;
    const uint8_t *p = fl_disk_view(n, "meta", &flen);
    if (damaged)
        *damaged = p && flen > 0;
    FlReader r;
    fl_reader_init(&r, p, p ? flen : 0);
    uint32_t magic = fl_get_u32(&r);
    uint32_t blen = fl_get_u32(&r);
    uint64_t sum = fl_get_u64(&r);
    if (!p || !fl_reader_ok(&r) || magic != META_MAGIC || fl_reader_left(&r) != blen ||
        dfs_checksum(p + 16, blen, 0) != sum)
        return NULL;
    if (damaged)
        *damaged = false;
    *len = blen;
    return p + 16;
}

static void send_sync(FlNode *n, Dfs *d, DfsMaster *m)
{
    FlWriter body;
    fl_writer_init(&body, NULL, 0);
    encode_meta(d, m, &body);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, DFS_SYNC);
    fl_put_u64(&w, m->seq);
    fl_put_bytes(&w, body.data, body.len);
    dfs_send(n, d, DFS_BACKUP, &w);
    fl_writer_deinit(&body);
    m->last_sync_sent = fl_now(n);
}

/* Note 3: every change is synced here and sent to the backup; returns the
 * sequence number replies that depend on it must wait for. */
static uint64_t persist(FlNode *n, Dfs *d, DfsMaster *m)
{
    m->seq++;
    FlWriter body;
    fl_writer_init(&body, NULL, 0);
    encode_meta(d, m, &body);
    store_meta(n, body.data, body.len);
    fl_writer_deinit(&body);
    if (d->backup)
        send_sync(n, d, m);
    return m->seq;
}

/* Sends @w's message to @to once the backup holds snapshot @seq. */
static void reply_after(FlNode *n, Dfs *d, DfsMaster *m, uint32_t to, FlWriter *w, uint64_t seq)
{
    if (!d->backup || m->backup_acked >= seq) {
        dfs_send(n, d, to, w);
        return;
    }
    DfsReply r = { .seq = seq, .to = to, .msg = g_byte_array_new() };
    g_byte_array_append(r.msg, w->data, (guint)w->len);
    fl_writer_deinit(w);
    g_array_append_val(m->outbox, r);
}

static void send_result(FlNode *n, Dfs *d, DfsMaster *m, uint32_t to, uint64_t tag, uint8_t status,
                        int64_t value, uint64_t seq)
{
    FlWriter w;
    uint8_t buf[32];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_RESULT);
    fl_put_u64(&w, tag);
    fl_put_u8(&w, status);
    fl_put_i64(&w, value);
    reply_after(n, d, m, to, &w, seq);
}

/* ---- Init ---------------------------------------------------------------- */

void dfs_master_init(FlNode *n, Dfs *d, bool recover)
{
    fl_role(n, "master");
    DfsMaster *m = d->master = g_new0(DfsMaster, 1);
    m->files = g_new0(DfsFile, d->max_files);
    m->chunks = g_array_new(FALSE, TRUE, sizeof(DfsChunk));
    m->sessions = g_array_new(FALSE, FALSE, sizeof(DfsSession));
    m->outbox = g_array_new(FALSE, FALSE, sizeof(DfsReply));
    m->nodes = fl_nodes(n);
    m->servers = g_new0(DfsServerView, fl_nodes(n));
    for (uint32_t s = 0; s < fl_nodes(n); s++)
        m->servers[s].deletions = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    clear_metadata(d, m);
    m->settled = true;
    if (!recover)
        return;
    size_t len;
    const uint8_t *body = load_meta(n, &len, NULL);
    if (body && decode_meta(d, m, body, len)) {
        fl_log(n, "metadata restored from disk (snapshot %" PRIu64 ")", m->seq);
    } else if (d->backup) {
        /* Note 3: a damaged or missing snapshot; the backup has one. */
        fl_log(n, "metadata on disk is damaged or missing: fetching the backup's");
        m->recovering = true;
    } else if (body || fl_disk_view(n, "meta", &len)) {
        fl_log(n, "metadata on disk is damaged and there is no backup: starting empty");
    }
    m->backup_acked = m->seq;   /* the backup held at least what we persisted */
    /* Note 8: replicas are learned from reports first. */
    m->settled = false;
    m->settle_until = fl_now(n) + (FlTime)d->settle;
}

void dfs_master_destroy(Dfs *d)
{
    DfsMaster *m = d->master;
    if (!m)
        return;
    for (uint32_t f = 0; f < d->max_files; f++) {
        if (m->files[f].chunks)
            g_array_free(m->files[f].chunks, TRUE);
        if (m->files[f].waiting)
            g_array_free(m->files[f].waiting, TRUE);
        grant_free(m->files[f].grant);
    }
    g_free(m->files);
    for (guint i = 0; i < m->chunks->len; i++)
        chunk_clear_volatile(&g_array_index(m->chunks, DfsChunk, i));
    g_array_free(m->chunks, TRUE);
    g_array_free(m->sessions, TRUE);
    for (guint i = 0; i < m->outbox->len; i++)
        g_byte_array_free(g_array_index(m->outbox, DfsReply, i).msg, TRUE);
    g_array_free(m->outbox, TRUE);
    for (uint32_t s = 0; s < m->nodes; s++)
        g_array_free(m->servers[s].deletions, TRUE);
    g_free(m->servers);
    g_free(m);
    d->master = NULL;
}

/* ---- Placement ----------------------------------------------------------- */

static bool usable(DfsMaster *m, uint32_t s)
{
    return m->servers[s].alive && m->servers[s].reported;
}

static uint32_t load_of(DfsMaster *m, uint32_t s)
{
    uint32_t load = 0;
    for (guint i = 0; i < m->chunks->len; i++) {
        const DfsChunk *c = &g_array_index(m->chunks, DfsChunk, i);
        load += c->live && has(c->replicas, s);
    }
    return load;
}

/* Up to @k usable servers not in @exclude, least loaded first (ties by id). */
static GArray *choose_servers(FlNode *n, Dfs *d, DfsMaster *m, uint32_t k, const GArray *exclude)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    uint32_t nodes = fl_nodes(n);
    g_autofree uint32_t *load = g_new0(uint32_t, nodes);
    for (uint32_t s = d->first_server; s < nodes; s++)
        load[s] = usable(m, s) ? load_of(m, s) : UINT32_MAX;
    while (out->len < k) {
        uint32_t best = UINT32_MAX;
        for (uint32_t s = d->first_server; s < nodes; s++) {
            if (load[s] == UINT32_MAX || has(out, s) || has(exclude, s))
                continue;
            if (best == UINT32_MAX || load[s] < load[best])
                best = s;
        }
        if (best == UINT32_MAX)
            break;
        g_array_append_val(out, best);
    }
    return out;
}

static void delete_later(DfsMaster *m, uint32_t server, uint64_t handle, uint64_t version)
{
    GArray *del = m->servers[server].deletions;
    if (del->len >= 2 * MAX_DELETIONS)
        return;   /* bounded; the next report repeats it */
    g_array_append_val(del, handle);
    g_array_append_val(del, version);
}

/* ---- Grants (note 5) ----------------------------------------------------- */

static void check_chunk(FlNode *n, Dfs *d, DfsMaster *m, DfsChunk *c);

static void send_grant(FlNode *n, Dfs *d, DfsMaster *m, DfsGrant *g, uint64_t seq)
{
    FlWriter w;
    uint8_t buf[256];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_GRANT);
    fl_put_u64(&w, g->tag);
    fl_put_u64(&w, g->id);
    fl_put_u32(&w, g->attempt);
    fl_put_u32(&w, g->offset);
    fl_put_u32(&w, g->parts->len);
    for (guint i = 0; i < g->parts->len; i++) {
        const DfsGrantPart *p = &g_array_index(g->parts, DfsGrantPart, i);
        fl_put_u32(&w, p->index);
        fl_put_u64(&w, p->handle);
        fl_put_u64(&w, p->base);
        fl_put_u64(&w, p->version);
        fl_put_u32(&w, p->chain->len);
        for (guint k = 0; k < p->chain->len; k++)
            fl_put_u32(&w, g_array_index(p->chain, uint32_t, k));
    }
    reply_after(n, d, m, g->gateway, &w, seq);
}

/* Fresh versions and chains for every part: the first attempt, or a new
 * one after a check (note 7).  Returns false when a chunk has nowhere to
 * go (every replica of written data gone, or no live server). */
static bool prepare_attempt(FlNode *n, Dfs *d, DfsMaster *m, DfsGrant *g)
{
    for (guint i = 0; i < g->parts->len; i++) {
        DfsGrantPart *p = &g_array_index(g->parts, DfsGrantPart, i);
        DfsChunk *c = chunk(m, p->handle);
        if (c->version == 0 && c->replicas->len == 0) {
            g_autoptr(GArray) fresh = choose_servers(n, d, m, d->replication, NULL);
            if (fresh->len < d->min_replicas)
                return false;
            g_array_append_vals(c->replicas, fresh->data, fresh->len);
        }
        /* An acknowledged write is on min_replicas replicas at least (R by
         * default): fewer, and the chunk is re-replicated first. */
        if (c->replicas->len == 0 || c->replicas->len < d->min_replicas)
            return false;
        touch(m, c);
        p->base = c->version;
        p->version = ++c->max_granted;
        g_array_set_size(p->chain, 0);
        g_array_append_vals(p->chain, c->replicas->data, c->replicas->len);
    }
    return true;
}

static void next_waiting(FlNode *n, Dfs *d, DfsMaster *m, uint32_t f);

static void unlock(FlNode *n, Dfs *d, DfsMaster *m, uint32_t f)
{
    DfsFile *file = &m->files[f];
    grant_free(file->grant);
    file->grant = NULL;
    /* Reports that disagreed meanwhile are looked at now. */
    for (guint i = 0; i < file->chunks->len; i++) {
        DfsChunk *c = chunk(m, g_array_index(file->chunks, uint64_t, i));
        if (c && c->needs_check && !c->checking)
            check_chunk(n, d, m, c);
    }
    next_waiting(n, d, m, f);
}

/* Starts the mutation @w on file @f, which is unlocked. */
static void start_grant(FlNode *n, Dfs *d, DfsMaster *m, uint32_t f, const DfsWaiting *w)
{
    DfsFile *file = &m->files[f];
    g_assert(!file->grant);
    DfsSession *s = session(m, w->client, false);
    if (s && s->req > w->req)
        return;   /* the client gave up on it and moved on: nobody waits */
    if (!file->exists) {
        record(m, w->client, w->req, DFS_FAIL, 0);
        send_result(n, d, m, w->gateway, w->tag, DFS_FAIL, 0, persist(n, d, m));
        return;
    }
    uint32_t off = w->kind == DFS_K_APPEND ? file->size : w->offset;
    uint64_t end = (uint64_t)off + w->records;
    if (w->records == 0 || off > file->size || end > d->max_file_records) {
        record(m, w->client, w->req, DFS_FAIL, 0);
        send_result(n, d, m, w->gateway, w->tag, DFS_FAIL, 0, persist(n, d, m));
        return;
    }
    uint32_t first = off / d->chunk_records, last = (uint32_t)((end - 1) / d->chunk_records);
    /* Every touched chunk must be writable now; otherwise try again later. */
    for (uint32_t i = first; i <= last && i < file->chunks->len; i++) {
        DfsChunk *c = chunk(m, g_array_index(file->chunks, uint64_t, i));
        if (c->checking || (c->version > 0 && c->replicas->len == 0)) {
            send_result(n, d, m, w->gateway, w->tag, DFS_BUSY, 0, 0);
            return;
        }
    }
    g_autoptr(GArray) probe = choose_servers(n, d, m, 1, NULL);
    if (probe->len == 0) {
        send_result(n, d, m, w->gateway, w->tag, DFS_BUSY, 0, 0);
        return;
    }
    while (file->chunks->len <= last) {
        DfsChunk *c = new_chunk(m, f, file->chunks->len);
        g_array_append_val(file->chunks, c->handle);
    }
    DfsGrant *g = g_new0(DfsGrant, 1);
    g->parts = g_array_new(FALSE, FALSE, sizeof(DfsGrantPart));
    g->id = m->next_grant++;
    g->attempt = 1;
    g->gateway = w->gateway;
    g->tag = w->tag;
    g->client = w->client;
    g->req = w->req;
    g->kind = w->kind;
    g->offset = off;
    g->records = w->records;
    g->deadline = fl_now(n) + (FlTime)d->lease;
    for (uint32_t i = first; i <= last; i++) {
        DfsGrantPart p = { .index = i, .handle = g_array_index(file->chunks, uint64_t, i) };
        p.chain = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        g_array_append_val(g->parts, p);
    }
    file->grant = g;
    if (!prepare_attempt(n, d, m, g)) {
        file->grant = NULL;
        grant_free(g);
        send_result(n, d, m, w->gateway, w->tag, DFS_BUSY, 0, persist(n, d, m));
        return;
    }
    send_grant(n, d, m, g, persist(n, d, m));
}

static void next_waiting(FlNode *n, Dfs *d, DfsMaster *m, uint32_t f)
{
    DfsFile *file = &m->files[f];
    while (!file->grant && file->waiting->len > 0) {
        DfsWaiting w = g_array_index(file->waiting, DfsWaiting, 0);
        g_array_remove_index(file->waiting, 0);
        start_grant(n, d, m, f, &w);
    }
}

static void on_grant_req(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    DfsWaiting w = { .gateway = from };
    w.tag = fl_get_u64(r);
    w.client = fl_get_u32(r);
    w.req = fl_get_u64(r);
    uint32_t f = fl_get_u32(r);
    w.kind = fl_get_u8(r);
    w.offset = fl_get_u32(r);
    w.records = fl_get_u32(r);
    if (!fl_reader_done(r) || (w.kind != DFS_K_WRITE && w.kind != DFS_K_APPEND))
        return;
    if (m->recovering || !m->settled) {
        send_result(n, d, m, from, w.tag, DFS_BUSY, 0, 0);
        return;
    }
    DfsSession *s = session(m, w.client, false);
    if (s && s->req == w.req) {
        send_result(n, d, m, from, w.tag, s->status, s->value, m->seq);
        return;
    }
    if (s && s->req > w.req)
        return;   /* older than what this client already did: nobody waits */
    if (f >= d->max_files) {
        send_result(n, d, m, from, w.tag, DFS_FAIL, 0, 0);
        return;
    }
    DfsFile *file = &m->files[f];
    if (file->grant && file->grant->client == w.client && file->grant->req == w.req) {
        if (!file->grant->repairing) {
            file->grant->tag = w.tag;
            file->grant->gateway = from;
            send_grant(n, d, m, file->grant, m->seq);
        }
        return;
    }
    if (file->grant) {
        for (guint i = 0; i < file->waiting->len; i++) {
            DfsWaiting *q = &g_array_index(file->waiting, DfsWaiting, i);
            if (q->client == w.client && q->req == w.req) {
                q->tag = w.tag;
                q->gateway = from;
                return;
            }
        }
        if (file->waiting->len >= DFS_MAX_WAITING) {
            send_result(n, d, m, from, w.tag, DFS_BUSY, 0, 0);
            return;
        }
        g_array_append_val(file->waiting, w);
        return;
    }
    start_grant(n, d, m, f, &w);
}

static DfsFile *file_of_grant(Dfs *d, DfsMaster *m, uint64_t grant, uint32_t *fno)
{
    for (uint32_t f = 0; f < d->max_files; f++) {
        if (m->files[f].grant && m->files[f].grant->id == grant) {
            *fno = f;
            return &m->files[f];
        }
    }
    return NULL;
}

static void on_commit(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t tag = fl_get_u64(r);
    uint32_t client = fl_get_u32(r);
    uint64_t req = fl_get_u64(r);
    uint64_t grant = fl_get_u64(r);
    uint32_t attempt = fl_get_u32(r);
    if (!fl_reader_done(r))
        return;
    if (m->recovering) {
        send_result(n, d, m, from, tag, DFS_BUSY, 0, 0);
        return;
    }
    DfsSession *s = session(m, client, false);
    if (s && s->req == req) {
        send_result(n, d, m, from, tag, s->status, s->value, m->seq);
        return;
    }
    uint32_t f;
    DfsFile *file = file_of_grant(d, m, grant, &f);
    if (!file) {
        /* Given up (note 7) or lost in a restart: its effect is unknown,
         * which the gateway reports by not answering. */
        send_result(n, d, m, from, tag, DFS_FAIL, 0, 0);
        return;
    }
    DfsGrant *g = file->grant;
    if (g->attempt != attempt || g->repairing)
        return;
    for (guint i = 0; i < g->parts->len; i++) {
        DfsGrantPart *p = &g_array_index(g->parts, DfsGrantPart, i);
        DfsChunk *c = chunk(m, p->handle);
        touch(m, c);
        c->version = p->version;
        g_array_set_size(c->replicas, 0);
        for (guint k = 0; k < p->chain->len; k++) {
            uint32_t sv = g_array_index(p->chain, uint32_t, k);
            if (m->servers[sv].alive)
                g_array_append_val(c->replicas, sv);
        }
    }
    uint32_t end = g->offset + g->records;
    if (end > file->size)
        file->size = end;
    int64_t value = g->kind == DFS_K_APPEND ? g->offset : 0;
    record(m, client, req, DFS_OK, value);
    uint64_t seq = persist(n, d, m);
    send_result(n, d, m, from, tag, DFS_OK, value, seq);
    unlock(n, d, m, f);
}

static void start_repair(FlNode *n, Dfs *d, DfsMaster *m, DfsGrant *g, bool gateway_waits);

static void on_grant_fail(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t grant = fl_get_u64(r);
    uint32_t attempt = fl_get_u32(r);
    if (!fl_reader_done(r) || m->recovering)
        return;
    uint32_t f;
    DfsFile *file = file_of_grant(d, m, grant, &f);
    if (!file || file->grant->attempt != attempt || file->grant->repairing)
        return;
    file->grant->gateway = from;
    start_repair(n, d, m, file->grant, true);
}

/* ---- Checks (note 7) ----------------------------------------------------- */

static void check_chunk(FlNode *n, Dfs *d, DfsMaster *m, DfsChunk *c)
{
    if (c->checking || !c->live)
        return;
    c->checking = true;
    c->needs_check = false;
    c->check_id = ++m->next_check;
    c->stamping = 0;
    c->stamp_to = 0;
    if (!c->answers)
        c->answers = g_array_new(FALSE, FALSE, sizeof(DfsProbeAnswer));
    g_array_set_size(c->answers, 0);
    c->asked = 0;
    c->check_deadline = fl_now(n) + 2 * (FlTime)d->op_timeout;
    for (uint32_t s = d->first_server; s < fl_nodes(n); s++) {
        if (!m->servers[s].alive)
            continue;
        FlWriter w;
        uint8_t buf[32];
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u8(&w, DFS_PROBE);
        fl_put_u64(&w, c->check_id);
        fl_put_u64(&w, c->handle);
        dfs_send(n, d, s, &w);
        c->asked++;
    }
    fl_metric_add(n, "dfs_checks", 1);
}

static void check_finished(FlNode *n, Dfs *d, DfsMaster *m, DfsChunk *c);

/* The probes are in (or their time is up): keep the best replicas. */
static void decide(FlNode *n, Dfs *d, DfsMaster *m, DfsChunk *c)
{
    GArray *ans = c->answers;
    uint64_t best = 0;
    bool current = false;
    for (guint i = 0; i < ans->len; i++) {
        const DfsProbeAnswer *a = &g_array_index(ans, DfsProbeAnswer, i);
        if (!a->has || !a->healthy)
            continue;
        current |= a->version == c->version;
        if (a->version > best)
            best = a->version;
    }
    uint64_t keep = current ? c->version : best;
    GString *dbg = g_string_new(NULL);   /* "server:version", ! when damaged */
    for (guint i = 0; i < ans->len; i++) {
        const DfsProbeAnswer *a = &g_array_index(ans, DfsProbeAnswer, i);
        if (a->has)
            g_string_append_printf(dbg, " %u:v%" PRIu64 "%s", a->server, a->version, a->healthy ? "" : "!");
    }
    fl_log(n, "check of chunk %" PRIu64 " at version %" PRIu64 ": replicas%s; keeping version %" PRIu64,
           c->handle, c->version, dbg->len ? dbg->str : " none", keep);
    g_string_free(dbg, TRUE);
    /* Replicas that did not answer although their server is up (a lost
     * probe, a one-way partition) are not judged: kept as they were, and
     * the chunk is checked again later, with nothing dropped meanwhile. */
    g_autoptr(GArray) silent = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    for (guint i = 0; i < c->replicas->len; i++) {
        uint32_t sv = g_array_index(c->replicas, uint32_t, i);
        bool answered = false;
        for (guint k = 0; k < ans->len && !answered; k++)
            answered = g_array_index(ans, DfsProbeAnswer, k).server == sv;
        if (!answered && m->servers[sv].alive)
            g_array_append_val(silent, sv);
    }
    g_array_set_size(c->replicas, 0);
    if (silent->len > 0) {
        for (guint i = 0; i < ans->len; i++) {
            const DfsProbeAnswer *a = &g_array_index(ans, DfsProbeAnswer, i);
            if (a->has && a->healthy && a->version == c->version)
                g_array_append_val(c->replicas, a->server);
        }
        g_array_append_vals(c->replicas, silent->data, silent->len);
        g_array_set_size(ans, 0);   /* nothing is dropped */
        c->needs_check = true;
        check_finished(n, d, m, c);   /* may start a grant: @c may move */
        return;
    }
    for (guint i = 0; i < ans->len; i++) {
        const DfsProbeAnswer *a = &g_array_index(ans, DfsProbeAnswer, i);
        if (a->has && a->healthy && a->version == keep && keep > 0)
            g_array_append_val(c->replicas, a->server);
    }
    if (current || c->replicas->len == 0 || keep < c->version) {
        if (keep < c->version && c->replicas->len > 0) {
            /* Only older copies are left: the current one may come back
             * with a server that is down; never serve older bytes. */
            g_array_set_size(c->replicas, 0);
        }
        check_finished(n, d, m, c);
        return;
    }
    /* Note 6: the bytes of an unfinished grant are kept under a version
     * never used before. */
    c->stamp_to = ++c->max_granted;
    c->stamping = c->replicas->len;
    c->check_deadline = fl_now(n) + 2 * (FlTime)d->op_timeout;
    for (guint i = 0; i < c->replicas->len; i++) {
        FlWriter w;
        uint8_t buf[32];
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u8(&w, DFS_STAMP);
        fl_put_u64(&w, c->handle);
        fl_put_u64(&w, keep);
        fl_put_u64(&w, c->stamp_to);
        dfs_send(n, d, g_array_index(c->replicas, uint32_t, i), &w);
    }
    g_array_set_size(c->replicas, 0);   /* refilled by the acks */
}

static void on_probe_reply(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t check = fl_get_u64(r);
    uint64_t handle = fl_get_u64(r);
    DfsProbeAnswer a = { .server = from };
    a.has = fl_get_u8(r) != 0;
    a.version = fl_get_u64(r);
    a.healthy = fl_get_u8(r) != 0;
    DfsChunk *c = chunk(m, handle);
    if (!fl_reader_done(r) || !c || !c->checking || c->check_id != check || c->stamping)
        return;
    for (guint i = 0; i < c->answers->len; i++)
        if (g_array_index(c->answers, DfsProbeAnswer, i).server == from)
            return;
    g_array_append_val(c->answers, a);
    if (c->answers->len >= c->asked)
        decide(n, d, m, c);
}

static void on_stamp_ack(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t handle = fl_get_u64(r);
    uint64_t to = fl_get_u64(r);
    bool ok = fl_get_u8(r) != 0;
    DfsChunk *c = chunk(m, handle);
    if (!fl_reader_done(r) || !c || !c->checking || !c->stamping || to != c->stamp_to)
        return;
    if (ok && !has(c->replicas, from))
        g_array_append_val(c->replicas, from);
    if (--c->stamping == 0) {
        if (c->replicas->len > 0)
            c->version = c->stamp_to;
        check_finished(n, d, m, c);
    }
}

/* A grant whose push failed, or whose lease ran out: check its chunks
 * (note 7), then try again or give up. */
static void start_repair(FlNode *n, Dfs *d, DfsMaster *m, DfsGrant *g, bool gateway_waits)
{
    g->repairing = true;
    g->gateway_waits = gateway_waits;
    fl_metric_add(n, "dfs_repairs", 1);
    for (guint i = 0; i < g->parts->len; i++) {
        DfsChunk *c = chunk(m, g_array_index(g->parts, DfsGrantPart, i).handle);
        check_chunk(n, d, m, c);
    }
}

static void check_finished(FlNode *n, Dfs *d, DfsMaster *m, DfsChunk *c)
{
    touch(m, c);
    /* The other copies go only once the kept ones are safe; if none is
     * kept, nothing is dropped and the chunk is checked again. */
    if (c->replicas->len > 0) {
        for (guint i = 0; c->answers && i < c->answers->len; i++) {
            const DfsProbeAnswer *a = &g_array_index(c->answers, DfsProbeAnswer, i);
            if (a->has && !has(c->replicas, a->server))
                delete_later(m, a->server, c->handle, a->healthy ? a->version : 0);
        }
    } else if (c->live && c->max_granted > 0) {
        /* Nobody holds it that answered (lost probes or stamps, servers
         * away): ask again later; the bytes may be on a server we did not
         * hear from. */
        c->needs_check = true;
    }
    c->checking = false;
    c->stamping = 0;
    c->stamp_to = 0;
    if (c->answers)
        g_array_set_size(c->answers, 0);
    uint64_t seq = persist(n, d, m);
    if (!c->live || c->file >= d->max_files)
        return;
    uint32_t f = c->file;
    DfsGrant *g = m->files[f].grant;
    if (!g || !g->repairing)
        return;
    for (guint i = 0; i < g->parts->len; i++)
        if (chunk(m, g_array_index(g->parts, DfsGrantPart, i).handle)->checking)
            return;
    /* Every touched chunk is settled. */
    g->repairing = false;
    if (g->gateway_waits && g->attempt < DFS_GRANT_ATTEMPTS && since(n, g->deadline) == 0 &&
        prepare_attempt(n, d, m, g)) {
        g->attempt++;
        fl_metric_add(n, "dfs_regrants", 1);
        send_grant(n, d, m, g, persist(n, d, m));
        return;
    }
    (void)seq;
    fl_log(n, "mutation of file %u at %u given up after %u attempt%s", f, g->offset, g->attempt,
           g->attempt == 1 ? "" : "s");
    fl_metric_add(n, "dfs_given_up", 1);
    unlock(n, d, m, f);
}

/* ---- Namespace ------------------------------------------------------------ */

static void on_lookup(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t tag = fl_get_u64(r);
    uint32_t f = fl_get_u32(r);
    if (!fl_reader_done(r))
        return;
    FlWriter w;
    uint8_t buf[256];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_LOOKUP_REPLY);
    fl_put_u64(&w, tag);
    if (m->recovering || !m->settled) {
        fl_put_u8(&w, DFS_BUSY);
    } else if (f >= d->max_files || !m->files[f].exists) {
        fl_put_u8(&w, DFS_NOFILE);
    } else {
        DfsFile *file = &m->files[f];
        uint32_t need = (file->size + d->chunk_records - 1) / d->chunk_records;
        fl_put_u8(&w, DFS_OK);
        fl_put_u32(&w, file->size);
        fl_put_u32(&w, need);
        for (uint32_t i = 0; i < need; i++) {
            DfsChunk *c = chunk(m, g_array_index(file->chunks, uint64_t, i));
            fl_put_u64(&w, c->handle);
            fl_put_u64(&w, c->version);
            uint32_t live = 0;
            for (guint k = 0; k < c->replicas->len; k++)
                live += m->servers[g_array_index(c->replicas, uint32_t, k)].alive;
            fl_put_u32(&w, live);
            for (guint k = 0; k < c->replicas->len; k++) {
                uint32_t s = g_array_index(c->replicas, uint32_t, k);
                if (m->servers[s].alive)
                    fl_put_u32(&w, s);
            }
        }
    }
    /* A lookup changes nothing, but must not show what the backup may not
     * hold yet: it waits for the last change to be replicated. */
    reply_after(n, d, m, from, &w, m->seq);
}

static void on_create_delete(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, uint8_t type,
                             FlReader *r)
{
    uint64_t tag = fl_get_u64(r);
    uint32_t client = fl_get_u32(r);
    uint64_t req = fl_get_u64(r);
    uint32_t f = fl_get_u32(r);
    if (!fl_reader_done(r))
        return;
    if (m->recovering || !m->settled) {
        send_result(n, d, m, from, tag, DFS_BUSY, 0, 0);
        return;
    }
    DfsSession *s = session(m, client, true);
    if (s->req == req) {
        send_result(n, d, m, from, tag, s->status, s->value, m->seq);
        return;
    }
    if (s->req > req)
        return;
    uint8_t status = DFS_OK;
    if (f >= d->max_files) {
        status = DFS_FAIL;
    } else if (type == DFS_CREATE) {
        DfsFile *file = &m->files[f];
        if (file->exists)
            status = DFS_FAIL;
        else
            file->exists = true;
    } else {
        DfsFile *file = &m->files[f];
        if (!file->exists) {
            status = DFS_FAIL;
        } else {
            /* Its chunks become garbage, collected through heartbeats. */
            for (guint i = 0; i < file->chunks->len; i++) {
                DfsChunk *c = chunk(m, g_array_index(file->chunks, uint64_t, i));
                c->live = false;
                for (guint k = 0; k < c->replicas->len; k++)
                    delete_later(m, g_array_index(c->replicas, uint32_t, k), c->handle, UINT64_MAX);
                g_array_set_size(c->replicas, 0);
            }
            g_array_set_size(file->chunks, 0);
            file->exists = false;
            file->size = 0;
            /* An unfinished mutation is ordered just before the delete,
             * which erases it: it is done (ok, its offset), as its gateway
             * learns when it asks again.  Waiting ones never started: fail. */
            DfsGrant *g = file->grant;
            if (g) {
                record(m, g->client, g->req, DFS_OK, g->kind == DFS_K_APPEND ? g->offset : 0);
                grant_free(g);
                file->grant = NULL;
            }
            for (guint i = 0; i < file->waiting->len; i++) {
                DfsWaiting *q = &g_array_index(file->waiting, DfsWaiting, i);
                send_result(n, d, m, q->gateway, q->tag, DFS_FAIL, 0, 0);
            }
            g_array_set_size(file->waiting, 0);
        }
    }
    record(m, client, req, status, 0);
    send_result(n, d, m, from, tag, status, 0, persist(n, d, m));
}

/* ---- Chunk servers ------------------------------------------------------ */

/* A chunk server is gone (silent) or came back as a new incarnation. */
static void server_lost(FlNode *n, Dfs *d, DfsMaster *m, uint32_t s, const char *why)
{
    fl_log(n, "chunk server %u lost: %s", s, why);
    for (guint i = 0; i < m->chunks->len; i++) {
        DfsChunk *c = &g_array_index(m->chunks, DfsChunk, i);
        remove_value(c->replicas, s);
        if (c->copying && c->copy_dest == s) {
            c->copying = false;
            m->copies--;
        }
    }
    m->servers[s].reported = false;
}

static void on_heartbeat(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t epoch = fl_get_u64(r);
    uint64_t seen = fl_get_u64(r);
    if (!fl_reader_done(r) || !is_server(d, n, from))
        return;
    DfsServerView *sv = &m->servers[from];
    if (epoch < sv->epoch)
        return;
    if (epoch > sv->epoch) {
        if (sv->epoch != 0)
            server_lost(n, d, m, from, "it restarted");
        sv->epoch = epoch;
        sv->reported = false;
    }
    sv->last_heard = fl_now(n);
    sv->alive = true;
    FlWriter w;
    uint8_t buf[256];
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, DFS_HB_ACK);
    fl_put_u64(&w, d->epoch);
    fl_put_u64(&w, m->mark);
    fl_put_u8(&w, !sv->reported || seen != d->epoch);
    fl_put_u32(&w, sv->deletions->len / 2);
    for (guint i = 0; i < sv->deletions->len; i++)
        fl_put_u64(&w, g_array_index(sv->deletions, uint64_t, i));
    g_array_set_size(sv->deletions, 0);
    dfs_send(n, d, from, &w);
}

static bool file_locked(DfsMaster *m, const DfsChunk *c, const Dfs *d)
{
    return c->file < d->max_files && m->files[c->file].grant != NULL;
}

/* What a server holds, after each of its restarts and each of ours.
 * Note 10: a report is old news by the time it arrives; what it says of a
 * chunk whose replicas changed since it was asked for is not believed. */
static void on_report(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t epoch = fl_get_u64(r);
    uint64_t master_epoch = fl_get_u64(r);
    uint64_t mark = fl_get_u64(r);
    uint32_t count = fl_get_u32(r);
    if (!fl_reader_ok(r) || !is_server(d, n, from) || count > fl_reader_left(r) / 17 ||
        epoch != m->servers[from].epoch || m->recovering)
        return;
    /* Asked for by an earlier incarnation of this master, whose marks mean
     * nothing now: this one asks again (the heartbeat's "seen" differs).  A
     * mark this incarnation never sent is a damaged message: dropped. */
    if (master_epoch != d->epoch || mark > m->mark)
        return;
    g_autoptr(GArray) held = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    for (uint32_t i = 0; i < count; i++) {
        uint64_t h = fl_get_u64(r), v = fl_get_u64(r);
        bool healthy = fl_get_u8(r) != 0;
        if (!fl_reader_ok(r))
            return;
        g_array_append_val(held, h);
        DfsChunk *c = chunk(m, h);
        if (!c || !c->live) {
            delete_later(m, from, h, UINT64_MAX);
            continue;
        }
        if (c->changed > mark)
            continue;   /* note 10: it may predate the change */
        if (c->checking && !c->stamping) {
            /* A report during a check is an answer to it: a server that was
             * away when the probes went out counts too. */
            bool answered = false;
            for (guint k = 0; k < c->answers->len && !answered; k++)
                answered = g_array_index(c->answers, DfsProbeAnswer, k).server == from;
            if (!answered) {
                DfsProbeAnswer a = { .server = from, .has = true, .version = v, .healthy = healthy };
                g_array_append_val(c->answers, a);
            }
            continue;
        }
        if (c->checking || file_locked(m, c, d)) {
            if (!(healthy && v == c->version))
                c->needs_check = true;
            else if (!has(c->replicas, from) && !c->checking)
                g_array_append_val(c->replicas, from);
            else if (c->checking)
                c->needs_check = true;   /* the stamp will make it stale: look again */
            continue;
        }
        if (healthy && v == c->version) {
            if (!has(c->replicas, from))
                g_array_append_val(c->replicas, from);
        } else if (healthy && v > c->version) {
            c->needs_check = true;   /* an unfinished grant's bytes (note 8) */
        } else {
            remove_value(c->replicas, from);
            if (!healthy && !c->prefer_dest)
                c->prefer_dest = from + 1;
            delete_later(m, from, h, healthy ? v : 0);
        }
    }
    if (!fl_reader_done(r))
        return;
    /* What it did not list, it does not have: unless the chunk changed
     * since the report was asked for (note 10). */
    for (guint i = 0; i < m->chunks->len; i++) {
        DfsChunk *c = &g_array_index(m->chunks, DfsChunk, i);
        if (!has(c->replicas, from) || c->changed > mark)
            continue;
        bool listed = false;
        for (guint k = 0; k < held->len && !listed; k++)
            listed = g_array_index(held, uint64_t, k) == c->handle;
        if (!listed)
            remove_value(c->replicas, from);
    }
    m->servers[from].reported = true;
}

static void on_corrupt(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t handle = fl_get_u64(r);
    uint64_t version = fl_get_u64(r);
    DfsChunk *c = chunk(m, handle);
    if (!fl_reader_done(r) || !c || !is_server(d, n, from))
        return;
    (void)version;
    if (has(c->replicas, from)) {
        touch(m, c);
        remove_value(c->replicas, from);
        c->prefer_dest = from + 1;   /* note 7: repaired in place */
        fl_log(n, "replica of chunk %" PRIu64 " on server %u is corrupt", handle, from);
    }
}

static void on_copy_done(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t handle = fl_get_u64(r);
    uint64_t version = fl_get_u64(r);
    bool ok = fl_get_u8(r) != 0;
    DfsChunk *c = chunk(m, handle);
    if (!fl_reader_done(r) || !c || !c->copying || c->copy_dest != from)
        return;
    c->copying = false;
    m->copies--;
    touch(m, c);
    if (ok && c->live && version == c->version && !c->checking && !has(c->replicas, from)) {
        g_array_append_val(c->replicas, from);
        if (c->prefer_dest == from + 1) {
            c->prefer_dest = 0;
            fl_metric_add(n, "dfs_repaired_in_place", 1);
        }
        fl_metric_add(n, "dfs_rereplicated", 1);
    } else if (ok && !has(c->replicas, from)) {
        delete_later(m, from, handle, version);
    } else if (!ok && c->live) {
        /* Note 7: the source did not serve the version we think it holds
         * (a push that reached it after a check's probe left it with a
         * newer one, say): copying again would fail again, so look. */
        c->needs_check = true;
    }
}

/* Note 7: chunks below R replicas get copies from a good one. */
static void rereplicate(FlNode *n, Dfs *d, DfsMaster *m)
{
    for (guint i = 0; i < m->chunks->len && m->copies < d->max_copies; i++) {
        DfsChunk *c = &g_array_index(m->chunks, DfsChunk, i);
        if (!c->live || c->version == 0 || c->checking || c->copying || file_locked(m, c, d) ||
            c->replicas->len == 0 || c->replicas->len >= d->replication)
            continue;
        uint32_t dest = UINT32_MAX;
        if (c->prefer_dest) {
            uint32_t p = c->prefer_dest - 1;
            if (usable(m, p) && !has(c->replicas, p))
                dest = p;
            else if (!m->servers[p].alive)
                c->prefer_dest = 0;
        }
        if (dest == UINT32_MAX) {
            g_autoptr(GArray) pick = choose_servers(n, d, m, 1, c->replicas);
            if (pick->len == 0)
                continue;
            dest = g_array_index(pick, uint32_t, 0);
        }
        FlWriter w;
        uint8_t buf[32];
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u8(&w, DFS_COPY);
        fl_put_u64(&w, c->handle);
        fl_put_u64(&w, c->version);
        fl_put_u32(&w, g_array_index(c->replicas, uint32_t, 0));
        dfs_send(n, d, dest, &w);
        touch(m, c);
        c->copying = true;
        c->copy_dest = dest;
        c->copy_deadline = fl_now(n) + 4 * (FlTime)d->op_timeout;
        m->copies++;
    }
}

/* ---- Backup replication ------------------------------------------------- */

static void flush_outbox(FlNode *n, DfsMaster *m)
{
    guint kept = 0;
    for (guint i = 0; i < m->outbox->len; i++) {
        DfsReply *r = &g_array_index(m->outbox, DfsReply, i);
        if (r->seq <= m->backup_acked) {
            fl_send(n, r->to, r->msg->data, r->msg->len);
            g_byte_array_free(r->msg, TRUE);
        } else {
            g_array_index(m->outbox, DfsReply, kept++) = *r;
        }
    }
    g_array_set_size(m->outbox, kept);
}

static void on_sync_ack(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    uint64_t seq = fl_get_u64(r);
    if (!fl_reader_done(r) || from != DFS_BACKUP || seq > m->seq)
        return;
    if (seq > m->backup_acked)
        m->backup_acked = seq;
    flush_outbox(n, m);
}

static void on_meta_snapshot(FlNode *n, Dfs *d, DfsMaster *m, uint32_t from, FlReader *r)
{
    bool valid = fl_get_u8(r) != 0;
    uint64_t seq = fl_get_u64(r);
    size_t len;
    const uint8_t *body = fl_get_bytes(r, &len);
    if (!fl_reader_done(r) || from != DFS_BACKUP || !m->recovering)
        return;
    if (!valid) {
        /* Both copies are damaged: stay unavailable rather than forget the
         * namespace (the tick asks again; a later SYNC cannot come, as
         * nothing changes while we recover). */
        return;
    }
    if (len > 0 && !decode_meta(d, m, body, len))
        return;
    m->seq = seq;
    m->recovering = false;
    fl_log(n, "metadata restored from the backup (snapshot %" PRIu64 ")", seq);
    m->backup_acked = seq;
    persist(n, d, m);
    m->settle_until = fl_now(n) + (FlTime)d->settle;
}

void dfs_master_message(FlNode *n, Dfs *d, uint32_t from, uint8_t type, FlReader *r)
{
    DfsMaster *m = d->master;
    switch (type) {
    case DFS_LOOKUP: on_lookup(n, d, m, from, r); break;
    case DFS_CREATE:
    case DFS_DELETE: on_create_delete(n, d, m, from, type, r); break;
    case DFS_GRANT_REQ: on_grant_req(n, d, m, from, r); break;
    case DFS_GRANT_FAIL: on_grant_fail(n, d, m, from, r); break;
    case DFS_COMMIT: on_commit(n, d, m, from, r); break;
    case DFS_HEARTBEAT: on_heartbeat(n, d, m, from, r); break;
    case DFS_REPORT: on_report(n, d, m, from, r); break;
    case DFS_PROBE_REPLY: on_probe_reply(n, d, m, from, r); break;
    case DFS_STAMP_ACK: on_stamp_ack(n, d, m, from, r); break;
    case DFS_COPY_DONE: on_copy_done(n, d, m, from, r); break;
    case DFS_CORRUPT: on_corrupt(n, d, m, from, r); break;
    case DFS_SYNC_ACK: on_sync_ack(n, d, m, from, r); break;
    case DFS_META_SNAPSHOT: on_meta_snapshot(n, d, m, from, r); break;
    default: break;   /* not the master's: drop */
    }
}

void dfs_master_tick(FlNode *n, Dfs *d)
{
    DfsMaster *m = d->master;
    if (m->recovering) {
        FlWriter w;
        uint8_t buf[8];
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u8(&w, DFS_META_FETCH);
        dfs_send(n, d, DFS_BACKUP, &w);
        return;
    }
    FlTime now = fl_now(n);
    for (uint32_t s = d->first_server; s < fl_nodes(n); s++) {
        DfsServerView *sv = &m->servers[s];
        if (sv->alive && since(n, sv->last_heard) > d->server_timeout) {
            sv->alive = false;
            server_lost(n, d, m, s, "silent");
        }
    }
    if (!m->settled && now >= m->settle_until) {
        /* Note 8: chunks whose current version nobody reported. */
        m->settled = true;
        for (guint i = 0; i < m->chunks->len; i++) {
            DfsChunk *c = &g_array_index(m->chunks, DfsChunk, i);
            if (c->live && (c->needs_check || (c->version > 0 && c->replicas->len == 0)))
                check_chunk(n, d, m, c);
        }
    }
    if (!m->settled)
        return;
    for (uint32_t f = 0; f < d->max_files; f++) {
        DfsGrant *g = m->files[f].grant;
        if (g && !g->repairing && now > g->deadline) {
            fl_log(n, "lease of the mutation of file %u ran out", f);
            start_repair(n, d, m, g, false);
        }
    }
    for (guint i = 0; i < m->chunks->len; i++) {
        DfsChunk *c = &g_array_index(m->chunks, DfsChunk, i);
        if (c->checking && now > c->check_deadline) {
            if (c->stamping) {
                if (c->replicas->len > 0)
                    c->version = c->stamp_to;
                check_finished(n, d, m, c);
            } else {
                decide(n, d, m, c);
            }
        } else if (c->copying && now > c->copy_deadline) {
            c->copying = false;
            m->copies--;
        } else if (c->live && c->needs_check && !c->checking && !file_locked(m, c, d)) {
            check_chunk(n, d, m, c);
        }
    }
    rereplicate(n, d, m);
    /* Resend what the backup has not acknowledged; and now and then resend
     * anyway, so that a backup that lost its copy gets it back. */
    if (d->backup && ((m->backup_acked < m->seq && since(n, m->last_sync_sent) > d->op_timeout) ||
                      since(n, m->last_sync_sent) > 10 * d->op_timeout))
        send_sync(n, d, m);
}

/* ---- The backup ------------------------------------------------------------ */

void dfs_backup_init(FlNode *n, Dfs *d)
{
    fl_role(n, "backup");
    size_t len;
    bool damaged;
    const uint8_t *body = load_meta(n, &len, &damaged);
    d->backup_meta = g_byte_array_new();
    /* A damaged copy is no copy: until the master sends its snapshot again,
     * this backup must not hand out an empty namespace as if it were one. */
    d->backup_valid = !damaged;
    if (damaged)
        fl_log(n, "metadata copy on disk is damaged: waiting for the master's");
    if (body) {
        g_byte_array_append(d->backup_meta, body, (guint)len);
        FlReader r;
        fl_reader_init(&r, body, len);
        d->backup_seq = fl_get_u64(&r);
    }
}

void dfs_backup_message(FlNode *n, Dfs *d, uint32_t from, uint8_t type, FlReader *r)
{
    if (from != DFS_MASTER || !d->backup_meta)
        return;
    if (type == DFS_SYNC) {
        uint64_t seq = fl_get_u64(r);
        size_t len;
        const uint8_t *body = fl_get_bytes(r, &len);
        if (!fl_reader_done(r))
            return;
        if (seq >= d->backup_seq || !d->backup_valid) {
            d->backup_seq = seq;
            d->backup_valid = true;
            g_byte_array_set_size(d->backup_meta, 0);
            g_byte_array_append(d->backup_meta, body, (guint)len);
            store_meta(n, body, len);
        }
        FlWriter w;
        uint8_t buf[16];
        fl_writer_init(&w, buf, sizeof buf);
        fl_put_u8(&w, DFS_SYNC_ACK);
        fl_put_u64(&w, d->backup_seq);
        dfs_send(n, d, DFS_MASTER, &w);
    } else if (type == DFS_META_FETCH) {
        if (!fl_reader_done(r))
            return;
        FlWriter w;
        fl_writer_init(&w, NULL, 0);
        fl_put_u8(&w, DFS_META_SNAPSHOT);
        fl_put_u8(&w, d->backup_valid);
        fl_put_u64(&w, d->backup_seq);
        fl_put_bytes(&w, d->backup_meta->data, d->backup_meta->len);
        dfs_send(n, d, DFS_MASTER, &w);
    }
}
