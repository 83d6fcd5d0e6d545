/* protocols/raft: Raft's insides, shared by its three files.
 *
 *   log.c   the replicated log (entries after a snapshot base), the pure
 *           rules of Figure 2 that decide on it (log matching, conflict
 *           truncation, the commit rule, the up-to-date check), and its
 *           persistence: a checksummed write-ahead log and a snapshot file.
 *   msg.c   the messages and their encode/decode; a decode validates every
 *           field and fails rather than trust a peer.
 *   raft.c  the node: state, handlers for messages, timers and client
 *           requests, and the protocol table.
 *
 * References are to the extended Raft paper (Ongaro and Ousterhout, "In
 * Search of an Understandable Consensus Algorithm", 2014) and to Ongaro's
 * thesis ("Consensus: Bridging Theory and Practice", 2014) for pre-vote and
 * ReadIndex. */
#pragma once

#include "sim/node.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define RAFT_NO_NODE UINT32_MAX

/* Bounds on what a peer may send; anything larger is refused at decode. */
#define RAFT_MAX_BATCH 4096u             /* entries in one AppendEntries */
#define RAFT_MAX_SNAPSHOT (64u << 20)    /* bytes of one snapshot */
#define RAFT_MAX_INDEX (UINT64_MAX / 4)  /* log indexes and terms stay below */

/* ---- The log (log.c) --------------------------------------------------- */

/* One entry: the term it was created in and the client request it carries
 * (op.kind FL_OP_NOOP for the no-op a leader appends when its term starts). */
typedef struct RaftEntry {
    uint64_t term;
    FlRequest req;
} RaftEntry;

/* The log after the snapshot: entries[k] has index base + 1 + k.  Index
 * base (term base_term) is the last one the snapshot covers; 0 when there
 * is no snapshot. */
typedef struct RaftLog {
    GArray *entries;   /* of RaftEntry, owned */
    uint64_t base;
    uint64_t base_term;
} RaftLog;

void raft_log_init(RaftLog *log);
void raft_log_deinit(RaftLog *log);
void raft_log_clear(RaftLog *log, uint64_t base, uint64_t base_term);

/* The accessors are inline: the handlers call them in loops, on every
 * message. */
static inline uint64_t raft_log_last_index(const RaftLog *log)
{
    return log->base + log->entries->len;
}

static inline uint64_t raft_log_last_term(const RaftLog *log)
{
    if (log->entries->len == 0)
        return log->base_term;
    return g_array_index(log->entries, RaftEntry, log->entries->len - 1).term;
}

/* Term of entry @index: true and *term if known (0 for index 0, base_term
 * for base, the entry's term after it); false if compacted or absent. */
static inline bool raft_log_term_at(const RaftLog *log, uint64_t index, uint64_t *term)
{
    if (index == log->base) {
        *term = log->base_term;
        return true;
    }
    if (index < log->base || index > raft_log_last_index(log))
        return false;
    *term = g_array_index(log->entries, RaftEntry, index - log->base - 1).term;
    return true;
}

/* Entry @index (borrowed until the log changes), or NULL if it is in the
 * snapshot or past the end. */
static inline const RaftEntry *raft_log_get(const RaftLog *log, uint64_t index)
{
    if (index <= log->base || index > raft_log_last_index(log))
        return NULL;
    return &g_array_index(log->entries, RaftEntry, index - log->base - 1);
}

void raft_log_append(RaftLog *log, const RaftEntry *e);
/* Keeps entries up to @index (>= base), drops the rest. */
void raft_log_truncate_after(RaftLog *log, uint64_t index);

/* §5.4.1: is a log ending at (last_term, last_index) at least as up to date
 * as ours, ending at (my_term, my_index)?  Terms first, then length. */
bool raft_log_up_to_date(uint64_t my_term, uint64_t my_index, uint64_t last_term,
                         uint64_t last_index);

/* Figure 2, AppendEntries rule 2: does the log hold an entry at
 * @prev_index whose term is @prev_term?  Indexes in the snapshot are
 * committed, hence match whatever a legitimate leader says. */
bool raft_log_match(const RaftLog *log, uint64_t prev_index, uint64_t prev_term);

/* Figure 2, AppendEntries rules 3 and 4: the @n entries follow @prev_index;
 * an existing entry that conflicts (same index, other term) is deleted with
 * all that follow it, and entries not already in the log are appended.
 * Entries at or below the base are skipped (committed, so equal).  Returns
 * the lowest index written, or 0 if the log did not change. */
uint64_t raft_log_merge(RaftLog *log, uint64_t prev_index, const RaftEntry *entries,
                        size_t n);

/* §5.3's optimisation: where the leader should retry after a rejection of
 * @prev_index.  Past our end: our last index.  On a term mismatch: just
 * before the first entry of the conflicting term, but never below
 * @commit (committed entries match).  Always below @prev_index. */
uint64_t raft_log_conflict_hint(const RaftLog *log, uint64_t prev_index, uint64_t commit);

/* Figure 2, rules for leaders, last bullet, with the restriction of §5.4.2
 * (Figure 8): the highest N replicated on a majority of the @nodes servers
 * (@match holds every server's match index, the leader's own included)
 * whose entry is of @term; returns @commit if there is none higher.  With
 * @any_term the term check is skipped: the `commit-old-term` bug. */
uint64_t raft_log_commit_index(const RaftLog *log, const uint64_t *match, uint32_t nodes,
                               uint64_t term, uint64_t commit, bool any_term);

/* Figure 13, InstallSnapshot rules 6 and 7: if the log has an entry at
 * @index of @term, keeps the entries after it; otherwise discards the whole
 * log.  The base becomes (@index, @term). */
void raft_log_install(RaftLog *log, uint64_t index, uint64_t term);
/* Drops the entries up to @index (base < index <= last), which a snapshot
 * now covers (§7). */
void raft_log_compact(RaftLog *log, uint64_t index);

/* ---- Persistence (log.c) ----------------------------------------------- *
 * The write-ahead log is a sequence of records
 *     u32 length, u8 type, payload, u32 crc32(type + payload)
 * It starts with BASE(generation, index, term), the snapshot point it
 * follows, and STATE(term, vote); STATE is appended again whenever term or
 * vote change, AMNESIA(term) whenever the node starts or ends recovering from
 * a damaged disk (it follows STATE in a rewrite while it lasts), and ENTRY(index, term, request) replaces the log from its
 * index on (etcd's WAL does the same).  Replay stops at the first record
 * that does not decode or whose checksum fails: a torn or corrupt tail is
 * treated as absent.  A WAL is rewritten whole (at a snapshot, and at every
 * start) into the other of two files, with the next generation, so that a
 * rewrite torn by a crash leaves the previous WAL intact.  The snapshot
 * file holds one record: magic, index, term, the store's encoding, crc32. */

#define RAFT_WAL_0 "raft.wal.0"
#define RAFT_WAL_1 "raft.wal.1"
#define RAFT_SNAP "raft.snap"

uint32_t raft_crc32(const void *data, size_t len, uint32_t crc);

void raft_wal_put_state(FlWriter *w, uint64_t term, uint32_t vote);
void raft_wal_put_entry(FlWriter *w, uint64_t index, const RaftEntry *e);
void raft_wal_put_base(FlWriter *w, uint64_t gen, uint64_t index, uint64_t term);
/* AMNESIA(term): from here on the node is recovering from damage found with
 * its promises up to @term possibly lost; 0: it has recovered (raft.c
 * note 11).  A plain crash must not make it forget that. */
void raft_wal_put_amnesia(FlWriter *w, uint64_t term);
/* Encodes a whole WAL of generation @gen for (@log, @term, @vote): base,
 * state, entries. */
void raft_wal_put_all(FlWriter *w, uint64_t gen, const RaftLog *log, uint64_t term,
                      uint32_t vote);

/* What a replay found. */
typedef struct RaftDurable {
    uint64_t gen;          /* from the BASE record */
    uint64_t term;
    uint32_t vote;
    uint64_t records;      /* whole records read */
    bool whole;            /* it starts with BASE then STATE: a usable WAL */
    bool torn;             /* replay stopped before the end */
    uint64_t amnesia_term; /* from the last AMNESIA record: 0 if none, or the node
                              had recovered (raft.c note 11) */
} RaftDurable;

/* Replays @len bytes of WAL into @log (cleared first) and @d.  Pure: no
 * node needed. */
void raft_wal_replay(const uint8_t *p, size_t len, RaftLog *log, RaftDurable *d);

void raft_snap_put(FlWriter *w, uint64_t index, uint64_t term, const uint8_t *data, size_t len);
/* Decodes a snapshot file: true with the borrowed payload, or false if it is
 * absent, torn or corrupt. */
bool raft_snap_get(const uint8_t *p, size_t len, uint64_t *index, uint64_t *term,
                   const uint8_t **data, size_t *data_len);

/* ---- Configurations (conf.c) ------------------------------------------ *
 * Membership changes, thesis chapter 4 (raft.c note 14).  A configuration
 * names its voters and its learners (non-voting members that receive the
 * log, thesis §4.2.1) as bitmasks over node ids, so membership changes are
 * bounded to RAFT_CONF_MAX_NODES nodes.  It travels as a log entry: a
 * no-op request (client RAFT_NO_NODE, op.kind FL_OP_NOOP) whose key is
 * RAFT_CONF_KEY, with the voters in op.a and the learners in op.b; the
 * ordinary no-op has key 0.  So it needs no new message or WAL record, and
 * nodes that do not use membership never write one. */

#define RAFT_CONF_MAX_NODES 64u
#define RAFT_CONF_KEY 1u

typedef struct RaftConf {
    uint64_t voters;     /* bit i: node i votes and counts in majorities */
    uint64_t learners;   /* bit i: node i receives the log, does not count */
} RaftConf;

/* Every node of a @nodes-node cluster a voter (@nodes <= RAFT_CONF_MAX_NODES). */
RaftConf raft_conf_all(uint32_t nodes);
/* A configuration a node may adopt: at least one voter, no node both voter
 * and learner, no node id at or above @nodes. */
bool raft_conf_valid(const RaftConf *c, uint32_t nodes);
/* Thesis §4.1: @b differs from @a by one server only (added as a learner,
 * promoted, or removed), so that any majority of @a and any majority of @b
 * overlap. */
bool raft_conf_single_change(const RaftConf *a, const RaftConf *b);
/* Is the set @acks (bit per node) a majority of @c's voters? */
bool raft_conf_quorum(const RaftConf *c, uint64_t acks);

/* Fills @e (term @term) as the configuration entry for @c. */
void raft_conf_entry(RaftEntry *e, uint64_t term, const RaftConf *c);
/* True, with *@c, if @e is a configuration entry valid for @nodes nodes.  A
 * malformed one (no voters, unknown nodes: only a corrupted or forged log
 * holds one) is not a configuration: the node ignores it, as it drops a
 * message that does not decode. */
bool raft_conf_of(const RaftEntry *e, uint32_t nodes, RaftConf *c);
/* Thesis §4.1: a server uses the latest configuration in its log, committed
 * or not.  Returns the index of the last configuration entry at or below
 * @index (not below the log's base), with *@out; if there is none, the
 * log's base and *@base (the configuration the snapshot holds). */
uint64_t raft_log_conf(const RaftLog *log, uint64_t index, const RaftConf *base, uint32_t nodes,
                       RaftConf *out);
/* The commit rule of raft_log_commit_index with majorities of @c's voters
 * only: @match holds every node's match index (the leader's own included;
 * non-voters are skipped). */
uint64_t raft_conf_commit_index(const RaftLog *log, const RaftConf *c, const uint64_t *match,
                                uint32_t nodes, uint64_t term, uint64_t commit, bool any_term);
/* The configuration a snapshot holds, in front of the store's encoding
 * (only when membership is in use: raft.c note 14). */
void raft_conf_put(FlWriter *w, const RaftConf *c);
/* Reads it back; false if it is truncated or not valid for @nodes nodes. */
bool raft_conf_get(FlReader *r, uint32_t nodes, RaftConf *c);

/* ---- Messages (msg.c) --------------------------------------------------- */

typedef enum {
    RAFT_MSG_VOTE = 1,         /* RequestVote, or a pre-vote (thesis §9.6) */
    RAFT_MSG_VOTE_REPLY,
    RAFT_MSG_APPEND,           /* AppendEntries; also heartbeats */
    RAFT_MSG_APPEND_REPLY,
    RAFT_MSG_SNAP,             /* InstallSnapshot, one chunk */
    RAFT_MSG_SNAP_REPLY,
} RaftMsgType;

typedef struct RaftMsg {
    uint8_t type;
    uint64_t term;
    union {
        struct {
            bool pre;
            uint64_t last_index, last_term;
        } vote;
        struct {
            bool pre, granted;
        } vote_reply;
        struct {
            uint64_t prev_index, prev_term, commit;
            uint64_t read_seq;        /* ReadIndex round this message belongs to */
            bool amnesia_seen;        /* the leader has heard that this follower is
                                         recovering and counts none of its old
                                         acknowledgements (raft.c note 11) */
            uint32_t n;
            RaftEntry *entries;       /* n of them (NULL if none); see raft_msg_decode */
            bool entries_owned;       /* decoded onto the heap: raft_msg_clear frees */
        } append;
        struct {
            bool success;
            uint64_t index;           /* success: last index now matching; else a retry hint */
            uint64_t read_seq;
            bool amnesiac;            /* the sender may have lost promises (raft.c note 11):
                                         its acknowledgement does not count */
        } append_reply;
        struct {
            uint64_t last_index, last_term;
            uint64_t offset, total;   /* this chunk's place in the snapshot */
            const uint8_t *data;      /* borrowed from the message */
            size_t len;
            uint64_t read_seq;
        } snap;
        struct {
            uint64_t last_index;
            uint64_t offset;          /* bytes of that snapshot held so far */
            uint64_t read_seq;
            bool amnesiac;            /* as in append_reply */
        } snap_reply;
    };
} RaftMsg;

void raft_msg_encode(FlWriter *w, const RaftMsg *m);
/* Decodes and validates @len bytes into @m.  Returns false for anything
 * malformed (then @m holds nothing to free).  On success, the caller frees
 * with raft_msg_clear; m->snap.data borrows from @p. */
bool raft_msg_decode(const uint8_t *p, size_t len, RaftMsg *m);
/* The same, but AppendEntries' entries go into the caller's @buf (room for
 * @cap entries; borrowed, so it must outlive @m) if they fit, and onto the
 * heap only if not: the receiver's common case then allocates nothing. */
bool raft_msg_decode_into(const uint8_t *p, size_t len, RaftMsg *m, RaftEntry *buf, size_t cap);
void raft_msg_clear(RaftMsg *m);
/* FlProtocol.fields: the term of every message, and the indexes, terms
 * and answers after it (not entries, snapshot bytes or recovery flags), at
 * their offsets in @p; 0 unless @p decodes. */
int raft_msg_fields(const uint8_t *p, size_t len, FlMsgField *out, int max);
