/* dfs: a distributed file system in the style of GFS and HDFS.
 *
 * Design notes.
 * 1. Roles.  Node 0 is the master (metadata server); node 1 its backup
 *    when `backup` is on; every other node is a chunk server and also runs
 *    the client library (the "gateway").  The engine's clients send one
 *    request to one node, so the client library cannot run in the client:
 *    it runs on the chunk server the request reaches, as an HDFS client
 *    co-located with a DataNode does.  What matters is kept real: the
 *    gateway asks the master only for metadata (where the chunks are,
 *    which offsets and versions a mutation gets), and moves the bytes
 *    itself, straight to and from chunk servers, through a pipelined chain
 *    of the R replicas.  The master and its backup redirect clients to a
 *    chunk server.
 * 2. Data.  A file is a sequence of 16-byte records (see sim/store.h) cut
 *    into chunks of `chunk_records` records.  A chunk server keeps each
 *    replica in its own disk file: a header (version, length, a checksum
 *    of handle, version and bytes) and the bytes, rewritten and synced
 *    before it acknowledges.  Reads check the checksum, so a corrupted or
 *    torn replica is never served: it is reported and repaired (note 7).
 *    The list of replicas a server holds (its `index` file) is checked
 *    too, record by record: a damaged record names no chunk the server can
 *    trust, so it is counted as found corruption and left out of the
 *    server's report, and the master re-replicates what went missing.
 * 3. Metadata.  The master holds the namespace (file -> size, chunks) and,
 *    per chunk, its version; it persists a checksummed snapshot on every
 *    change and replicates it to the backup (primary-backup, synchronous):
 *    a reply that depends on a change waits until the backup holds it.  A
 *    master that restarts with a damaged snapshot fetches the backup's.
 *    Where replicas are is not persisted: chunk servers report what they
 *    hold after every restart of either side, as in GFS.  There is no
 *    automatic failover of the master (GFS restarts it elsewhere from the
 *    replicated log); while it is down, operations time out.
 * 4. Reads.  The gateway looks the file up (size, chunks, versions,
 *    replicas), reads each chunk from one replica, trying the next one on
 *    a stale, corrupt or silent replica, and answers with the file's bytes.
 * 5. Mutations (write at an offset, append) are serialised per file by a
 *    lock in the master (HDFS's single-writer lease).  The master checks
 *    the offset (no holes: a write starts at most at the end; an append
 *    gets the end), allocates chunks on the least loaded live servers, and
 *    grants each touched chunk a fresh version.  Writes need min_replicas
 *    replicas (R unless a scenario lowers it): a chunk with fewer is
 *    re-replicated before it is written, so an acknowledged write is never
 *    on fewer copies than the cluster promises.  The gateway pushes the
 *    bytes to the chain's head; each replica applies them only on top of
 *    the base version the grant names, syncs, and forwards; the tail
 *    acknowledges to the gateway.  When every chunk is acknowledged the
 *    gateway commits at the master, which publishes the new size and
 *    versions, and the client gets ok (an append: its offset).  A client
 *    table in the master's snapshot answers a retried create, delete or
 *    commit with its first result.
 * 6. Versions name contents.  Each (chunk, version) is one content ever:
 *    grants and repairs use max_granted + 1, never an old number, so a
 *    replica that comes back from the dead with some version is either
 *    current or recognisably stale.
 * 7. Checks and repair.  A failed push (a NACK, a silent replica) or an
 *    expired lease makes the master check every touched chunk: it probes
 *    the live servers, keeps the replicas with the highest version found
 *    (the mutation applied there or nowhere: both are allowed, the client
 *    has no answer yet), stamps them with a fresh version if that is not
 *    the current one, tells the others to delete theirs, and then either
 *    grants the mutation again (same offset, same bytes: idempotent) or
 *    gives it up (the client sees a time-out: info).  Chunks with fewer
 *    than R replicas (a dead server, a stale or corrupt replica) are
 *    copied from a good replica (re-replication), a corrupt one onto the
 *    same server first: repaired in place.  A copy that fails means the
 *    source does not hold what the master thinks (a push that reached it
 *    after a check's probe leaves it one version ahead), so the chunk is
 *    checked again rather than copied from it forever.
 * 8. Master restart.  The snapshot has the versions; replicas come from
 *    reports during `settle`; then any chunk none of whose replicas has the
 *    snapshot's version (a grant that was never applied) is checked, which
 *    adopts the best version found if it is newer (never an older one: a
 *    chunk with only older copies in sight keeps its version, holds no
 *    replica and is checked again), and deletes nothing while no replica
 *    is kept.  Settle is a wait, not a verdict: reports that come after it
 *    still count (note 10).
 * 9. Determinism and bounds: servers, chunks and files are visited in
 *    index order; every list has a bound (files, chunks per file, ops per
 *    gateway, waiting mutations); decode failures drop the message.
 * 10. Reports are old news.  A report says what a server held when it
 *    was sent, and the network may take longer to deliver it than the
 *    master takes to grant, commit, check or copy the chunk again.  Read
 *    at arrival, it can say "not here" of a chunk placed there since, or
 *    "version 5" of one that has committed version 6 since: the master
 *    would forget replicas that hold acknowledged bytes, or call them
 *    stale, and a chunk whose every replica it forgot is unreadable for
 *    good (nothing re-checks a chunk nobody holds; the servers do not
 *    report again).  So the master counts the changes it makes to
 *    replicas (`mark`), stamps each chunk with the mark of its last change
 *    (`changed`), and sends its current mark with every request for a
 *    report; the server echoes it, with the master's epoch.  A report
 *    asked for by an earlier incarnation of the master is dropped (the
 *    server is asked again); a chunk changed after the report was asked
 *    for is skipped: the report neither adds, removes, answers a check
 *    nor deletes on its account, since the master's own record is newer.
 *    HDFS met the same race (HDFS-10301: block reports processed out of
 *    order declared live storages empty) and tags reports with ids for the
 *    same reason; GFS and HDFS likewise treat a replica they have not
 *    heard of as missing, to be found again, never as lost. */
#include "protocols/epoch.h"
#include "protocols/dfs/dfs.h"

#include <string.h>

static const FlParam dfs_params[] = {
    { "replication", FL_PARAM_INT, "3", "R: replicas of each chunk", NULL, 1, DFS_MAX_REPLICAS },
    { "min_replicas", FL_PARAM_INT, "0", "replicas a chunk needs to be written (0: R); fewer, and it is re-replicated first", NULL, 0, DFS_MAX_REPLICAS },
    { "chunk_records", FL_PARAM_INT, "8", "records (16 bytes each) per chunk", NULL, 1, 4096 },
    { "max_file_records", FL_PARAM_INT, "128", "largest file, in records", NULL, 1, 65536 },
    { "max_files", FL_PARAM_INT, "64", "file numbers 0 .. max_files-1", NULL, 1, DFS_MAX_FILES },
    { "backup", FL_PARAM_BOOL, "true", "node 1 keeps a synchronous copy of the master's metadata", NULL, 0, 0 },
    { "heartbeat", FL_PARAM_DURATION, "\"100ms\"", "chunk server heartbeat interval", NULL, 1, 1e12 },
    { "server_timeout", FL_PARAM_DURATION, "\"500ms\"", "silence after which a chunk server is dead", NULL, 1, 1e12 },
    { "lease", FL_PARAM_DURATION, "\"1s\"", "how long a mutation may hold its file's lock", NULL, 1, 1e12 },
    { "op_timeout", FL_PARAM_DURATION, "\"150ms\"", "gateway: wait before resending or giving up a step", NULL, 1, 1e12 },
    { "settle", FL_PARAM_DURATION, "\"400ms\"", "master: time for chunk servers to report after a restart", NULL, 0, 1e12 },
    { "max_copies", FL_PARAM_INT, "4", "re-replications in flight at once", NULL, 1, 1000 },
    { NULL },
};

/* FNV-1a over 64 bits, seeded: the replicas' and snapshots' checksum. */
uint64_t dfs_checksum(const void *p, size_t len, uint64_t seed)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}


void dfs_send(FlNode *n, Dfs *d, uint32_t to, FlWriter *w)
{
    if (to == fl_self(n)) {
        if (g_queue_get_length(d->loopback) < 4096) {
            GByteArray *b = g_byte_array_sized_new((guint)w->len);
            g_byte_array_append(b, w->data, (guint)w->len);
            g_queue_push_tail(d->loopback, b);
            fl_timer(n, FL_US(1), DFS_T_LOOPBACK);
        }
    } else if (to < fl_nodes(n)) {
        fl_send(n, to, w->data, w->len);
    }
    fl_writer_deinit(w);
}

static void dfs_start(FlNode *n, void *state, bool recover)
{
    Dfs *d = state;
    d->replication = (uint32_t)fl_param_int(n, "replication");
    d->min_replicas = (uint32_t)fl_param_int(n, "min_replicas");
    if (d->min_replicas == 0 || d->min_replicas > d->replication)
        d->min_replicas = d->replication;
    d->chunk_records = (uint32_t)fl_param_int(n, "chunk_records");
    d->max_file_records = (uint32_t)fl_param_int(n, "max_file_records");
    d->max_files = (uint32_t)fl_param_int(n, "max_files");
    d->backup = fl_param_bool(n, "backup");
    d->heartbeat = fl_param_duration(n, "heartbeat");
    d->server_timeout = fl_param_duration(n, "server_timeout");
    d->lease = fl_param_duration(n, "lease");
    d->op_timeout = fl_param_duration(n, "op_timeout");
    d->settle = fl_param_duration(n, "settle");
    d->max_copies = (uint32_t)fl_param_int(n, "max_copies");
    d->first_server = d->backup ? 2 : 1;
    bool damaged;
    d->epoch = fl_epoch_next_checked(n, &damaged);
    if (damaged)
        fl_metric_add(n, "dfs_corrupt_found", 1);
    d->loopback = g_queue_new();
    uint32_t self = fl_self(n);
    if (self == DFS_MASTER) {
        dfs_master_init(n, d, recover);
        fl_timer(n, d->heartbeat, DFS_T_TICK);
    } else if (self < d->first_server) {
        dfs_backup_init(n, d);
    } else {
        dfs_cs_init(n, d, recover);
        dfs_gw_init(n, d);
        fl_timer(n, d->heartbeat, DFS_T_HEARTBEAT);
    }
}

static void dfs_init(FlNode *n, void *state)
{
    dfs_start(n, state, false);
}

static void dfs_recover(FlNode *n, void *state)
{
    dfs_start(n, state, true);
}

static void dfs_destroy(FlNode *n, void *state)
{
    Dfs *d = state;
    dfs_master_destroy(d);
    if (d->backup_meta)
        g_byte_array_free(d->backup_meta, TRUE);
    dfs_cs_destroy(d);
    dfs_gw_destroy(d);
    if (d->loopback)
        g_queue_free_full(d->loopback, (GDestroyNotify)g_byte_array_unref);
}

static void dfs_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Dfs *d = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    if (!fl_reader_ok(&r) || from >= fl_nodes(n))
        return;
    uint32_t self = fl_self(n);
    if (self == DFS_MASTER) {
        dfs_master_message(n, d, from, type, &r);
    } else if (self < d->first_server) {
        dfs_backup_message(n, d, from, type, &r);
    } else if (type == DFS_LOOKUP_REPLY || type == DFS_GRANT || type == DFS_RESULT ||
               type == DFS_DATA_ACK || type == DFS_DATA_NACK || type == DFS_READ_REPLY) {
        dfs_gw_message(n, d, from, type, &r);
    } else {
        dfs_cs_message(n, d, from, type, &r);
    }
}

static void dfs_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Dfs *d = state;
    switch (tag) {
    case DFS_T_TICK:
        dfs_master_tick(n, d);
        fl_timer(n, d->heartbeat, DFS_T_TICK);
        break;
    case DFS_T_HEARTBEAT:
        dfs_cs_heartbeat(n, d);
        fl_timer(n, d->heartbeat, DFS_T_HEARTBEAT);
        break;
    case DFS_T_OP:
        dfs_gw_timer(n, d, t);
        break;
    case DFS_T_LOOPBACK: {
        GByteArray *b = g_queue_pop_head(d->loopback);
        if (b) {
            dfs_on_message(n, d, fl_self(n), b->data, b->len);
            g_byte_array_free(b, TRUE);
        }
        break;
    }
    }
}

static void dfs_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Dfs *d = state;
    uint32_t self = fl_self(n);
    if (self < d->first_server) {
        /* Note 1: the client library runs on the chunk servers. */
        uint32_t servers = fl_nodes(n) - d->first_server;
        if (servers == 0) {
            fl_reply_fail(n, req);
            return;
        }
        fl_reply_redirect(n, req, d->first_server + (uint32_t)(req->id % servers));
        return;
    }
    dfs_gw_request(n, d, req);
}

/* The counters the master, chunkservers and gateway create
 * (FlProtocol.counters). */
static const char *const dfs_counters[] = {
    "dfs_corrupt_found", "dfs_push_failures", "dfs_checks", "dfs_repairs", "dfs_regrants",
    "dfs_given_up", "dfs_repaired_in_place", "dfs_rereplicated", NULL,
};

const FlProtocol fl_proto_dfs = {
    .name = "dfs",
    .summary = "distributed file system: master with a backup, chunk servers with checksums, chain writes, re-replication",
    .params = dfs_params,
    .state_size = sizeof(Dfs),
    .init = dfs_init,
    .recover = dfs_recover,
    .destroy = dfs_destroy,
    .on_message = dfs_on_message,
    .on_timer = dfs_on_timer,
    .on_request = dfs_on_request,
    .counters = dfs_counters,
};
