/* protocols/dfs: shared declarations of the distributed file system.
 *
 * dfs.c holds the design notes (cited by number in every file), the
 * protocol table and the dispatch; master.c the metadata server and its
 * backup; chunkserver.c the chunk servers; gateway.c the client library
 * that runs on every chunk server. */
#pragma once

#include "sim/node.h"

#include <glib.h>

#define DFS_MASTER 0
#define DFS_BACKUP 1
#define DFS_MAX_FILES 4096
#define DFS_MAX_CHUNKS_PER_FILE 1024
#define DFS_MAX_REPLICAS 16
#define DFS_MAX_GATEWAY_OPS 256     /* client operations open at one gateway */
#define DFS_MAX_WAITING 16          /* mutations queued on one file */
#define DFS_GRANT_ATTEMPTS 4        /* pushes of one mutation before it is given up */

/* Message types: the first byte. */
enum {
    /* gateway <-> master */
    DFS_LOOKUP = 1,       /* tag, file */
    DFS_LOOKUP_REPLY,     /* tag, status, size, chunks [handle, version, replicas] */
    DFS_CREATE,           /* tag, client, id, file */
    DFS_DELETE,           /* tag, client, id, file */
    DFS_GRANT_REQ,        /* tag, client, id, file, kind, offset, records */
    DFS_GRANT,            /* tag, grant, attempt, offset, chunks [index, handle, base, version, replicas] */
    DFS_GRANT_FAIL,       /* grant, attempt */
    DFS_COMMIT,           /* tag, client, id, grant, attempt */
    DFS_RESULT,           /* tag, status, value */
    /* gateway <-> chunk servers */
    DFS_DATA,             /* grant, attempt, handle, base, version, offset, bytes, chain, gateway */
    DFS_DATA_ACK,         /* grant, attempt, handle, version */
    DFS_DATA_NACK,        /* grant, attempt, handle, server */
    DFS_READ,             /* tag, handle, version */
    DFS_READ_REPLY,       /* tag, handle, status, version, bytes */
    /* master <-> chunk servers */
    DFS_HEARTBEAT,        /* epoch, master epoch seen */
    DFS_HB_ACK,           /* master epoch, mark, want report, deletions [handle, version] */
    DFS_REPORT,           /* epoch, master epoch, mark, chunks [handle, version, healthy] */
    DFS_PROBE,            /* check, handle */
    DFS_PROBE_REPLY,      /* check, handle, has, version, healthy */
    DFS_STAMP,            /* handle, from, to */
    DFS_STAMP_ACK,        /* handle, to, ok */
    DFS_COPY,             /* handle, version, source */
    DFS_COPY_DONE,        /* handle, version, ok */
    DFS_CORRUPT,          /* handle, version */
    DFS_FETCH,            /* copy: handle, version (chunk server -> chunk server) */
    DFS_FETCH_REPLY,      /* copy: handle, status, version, bytes */
    /* master <-> backup */
    DFS_SYNC,             /* seq, snapshot */
    DFS_SYNC_ACK,         /* seq */
    DFS_META_FETCH,       /* (empty) */
    DFS_META_SNAPSHOT,    /* valid, seq, snapshot */
};

/* DFS_RESULT, DFS_LOOKUP_REPLY and DFS_READ_REPLY statuses. */
enum {
    DFS_OK = 0,
    DFS_FAIL,        /* certainly not applied (no such file, bad offset, full) */
    DFS_BUSY,        /* not now (recovering, no backup ack yet): try again */
    DFS_NOFILE,      /* lookup: no such file */
    DFS_STALE,       /* read: this replica does not hold that version */
    DFS_CORRUPTED,   /* read: checksum mismatch */
};

/* Mutation kinds in DFS_GRANT_REQ. */
enum { DFS_K_WRITE = 1, DFS_K_APPEND = 2 };

/* Timer tags. */
enum { DFS_T_TICK = 1, DFS_T_HEARTBEAT, DFS_T_OP, DFS_T_LOOPBACK };

/* ---- Master (master.c) ------------------------------------------------- */

typedef struct DfsChunk {
    uint64_t handle;
    uint32_t file, index;
    bool live;               /* false once its file is deleted */
    uint64_t version;        /* the content every replica must have (note 6) */
    uint64_t max_granted;    /* highest version ever handed out (note 6) */
    /* Volatile. */
    GArray *replicas;        /* uint32_t servers holding `version` */
    bool checking;           /* a check (note 7) is under way */
    uint64_t check_id;
    GArray *answers;         /* of DfsProbeAnswer, during a check */
    uint32_t asked;
    FlTime check_deadline;
    uint32_t stamping;       /* stamp acks awaited */
    uint64_t stamp_to;
    bool copying;
    uint32_t copy_dest;
    FlTime copy_deadline;
    bool needs_check;        /* a report disagreed while the file was locked */
    uint32_t prefer_dest;    /* 1 + a server whose corrupt replica to repair in place */
    uint64_t changed;        /* the master's mark when its replicas last changed (note 10) */
} DfsChunk;

typedef struct DfsProbeAnswer {
    uint32_t server;
    bool has, healthy;
    uint64_t version;
} DfsProbeAnswer;

typedef struct DfsGrantPart {
    uint32_t index;
    uint64_t handle, base, version;
    GArray *chain;           /* uint32_t */
} DfsGrantPart;

typedef struct DfsGrant {
    GArray *parts;           /* of DfsGrantPart */
    uint64_t id;
    uint32_t attempt;
    uint32_t gateway;
    uint64_t tag;            /* the gateway's tag for this operation */
    uint32_t client;
    uint64_t req;
    uint8_t kind;
    uint32_t offset, records;
    FlTime deadline;         /* the lease: given up after it */
    bool repairing;          /* waiting for checks before a new attempt */
    bool gateway_waits;      /* the gateway asked for another attempt */
} DfsGrant;

typedef struct DfsWaiting {
    uint32_t gateway;
    uint64_t tag;
    uint32_t client;
    uint64_t req;
    uint8_t kind;
    uint32_t offset, records;
} DfsWaiting;

typedef struct DfsFile {
    bool exists;
    uint32_t size;           /* committed records */
    GArray *chunks;          /* uint64_t handles, in order */
    /* Volatile. */
    DfsGrant *grant;         /* the mutation holding the lock (note 5) */
    GArray *waiting;         /* of DfsWaiting */
} DfsFile;

typedef struct DfsSession {
    uint32_t client;
    uint64_t req;
    uint8_t status;
    int64_t value;
} DfsSession;

typedef struct DfsServerView {
    uint64_t epoch;
    FlTime last_heard;
    bool alive;
    bool reported;           /* sent a report since its epoch began */
    GArray *deletions;       /* of uint64_t pairs (handle, version) to send */
    uint32_t load;           /* chunks it holds, for placement */
} DfsServerView;

typedef struct DfsReply {
    uint64_t seq;            /* sent once the backup holds this snapshot */
    uint32_t to;
    GByteArray *msg;
} DfsReply;

typedef struct DfsMaster {
    bool recovering;         /* waiting for the backup's snapshot (note 3) */
    FlTime settle_until;     /* after a restart: reports come in first (note 8) */
    bool settled;
    /* Persistent. */
    uint64_t next_handle, next_grant;
    DfsFile *files;          /* max_files */
    GArray *chunks;          /* of DfsChunk, index handle - 1 */
    GArray *sessions;        /* of DfsSession, sorted by client */
    /* Replication to the backup (note 3). */
    uint64_t seq, backup_acked;
    FlTime last_sync_sent;
    GArray *outbox;          /* of DfsReply */
    uint32_t nodes;
    DfsServerView *servers;  /* per node */
    uint64_t next_check;
    uint32_t copies;         /* copies in flight */
    uint64_t mark;           /* counts changes to replicas; sent with report requests (note 10) */
} DfsMaster;

/* ---- Chunk server (chunkserver.c) -------------------------------------- */

typedef struct DfsReplica {
    uint64_t handle;
    uint64_t version;
    bool healthy;
} DfsReplica;

typedef struct DfsCopy {
    uint64_t handle, version;
    uint32_t source;
} DfsCopy;

typedef struct DfsChunkServer {
    uint64_t master_epoch;
    GArray *replicas;        /* of DfsReplica, sorted by handle */
    GArray *copies;          /* of DfsCopy in progress */
} DfsChunkServer;

/* ---- Gateway (gateway.c) ------------------------------------------------ */

typedef struct DfsGwChunk {
    uint32_t index;
    uint64_t handle, base, version;
    GArray *chain;           /* uint32_t */
    bool acked;
    uint32_t tried;          /* read: replicas tried */
    GByteArray *data;        /* read: what came back */
} DfsGwChunk;

enum { GW_LOOKUP = 1, GW_READ, GW_META, GW_GRANT, GW_PUSH, GW_COMMIT };

typedef struct DfsGwOp {
    uint64_t tag;
    FlRequest req;
    uint8_t stage;
    uint32_t file_size;      /* read: from the lookup */
    uint64_t grant;
    uint32_t attempt;
    uint32_t offset;
    GArray *chunks;          /* of DfsGwChunk */
    FlTimerId timer;
    uint32_t retries;
    uint32_t lookups;        /* read: lookups after the first */
    FlTime started;
} DfsGwOp;

typedef struct DfsGateway {
    uint64_t next_tag;
    GArray *ops;             /* of DfsGwOp* */
} DfsGateway;

/* ---- The node ---------------------------------------------------------- */

typedef struct Dfs {
    /* Parameters. */
    uint32_t replication, min_replicas, chunk_records, max_file_records, max_files;
    bool backup;
    FlDuration heartbeat, server_timeout, lease, op_timeout, settle;
    uint32_t max_copies;
    uint64_t epoch;
    uint32_t first_server;   /* lowest chunk server id */
    DfsMaster *master;       /* node 0 */
    GByteArray *backup_meta; /* node 1 with a backup: the last snapshot */
    uint64_t backup_seq;
    bool backup_valid;       /* false after a restart with a damaged copy */
    DfsChunkServer *cs;      /* chunk servers */
    DfsGateway *gw;          /* chunk servers */
    GQueue *loopback;        /* of GByteArray*: messages to this node itself */
} Dfs;

/* dfs.c */
uint64_t dfs_checksum(const void *p, size_t len, uint64_t seed);
/* Sends what @w holds to @to and releases @w.  A message to the node
 * itself goes through a loopback queue and arrives from a timer, as
 * fl_send allows no self-sends and handlers must not nest. */
void dfs_send(FlNode *n, Dfs *d, uint32_t to, FlWriter *w);

/* master.c */
void dfs_master_init(FlNode *n, Dfs *d, bool recover);
void dfs_master_destroy(Dfs *d);
void dfs_master_message(FlNode *n, Dfs *d, uint32_t from, uint8_t type, FlReader *r);
void dfs_master_tick(FlNode *n, Dfs *d);
void dfs_backup_message(FlNode *n, Dfs *d, uint32_t from, uint8_t type, FlReader *r);
void dfs_backup_init(FlNode *n, Dfs *d);

/* chunkserver.c */
void dfs_cs_init(FlNode *n, Dfs *d, bool recover);
void dfs_cs_destroy(Dfs *d);
void dfs_cs_message(FlNode *n, Dfs *d, uint32_t from, uint8_t type, FlReader *r);
void dfs_cs_heartbeat(FlNode *n, Dfs *d);

/* gateway.c */
void dfs_gw_init(FlNode *n, Dfs *d);
void dfs_gw_destroy(Dfs *d);
void dfs_gw_request(FlNode *n, Dfs *d, const FlRequest *req);
void dfs_gw_message(FlNode *n, Dfs *d, uint32_t from, uint8_t type, FlReader *r);
void dfs_gw_timer(FlNode *n, Dfs *d, FlTimerId t);
