/* raft: the Raft consensus algorithm, replicating a linearizable store.
 *
 * Design notes.  Figures and sections are those of the extended Raft paper;
 * "thesis" is Ongaro's dissertation.
 *
 * 1. Roles.  A node is a follower, a pre-candidate, a candidate or the
 *    leader (Figure 4, with the pre-vote state of thesis §9.6 in front of
 *    candidate).  Every change goes through become_follower(),
 *    start_prevote(), start_election() or become_leader(), which also
 *    declare the role to the trace with fl_role() and log the term.
 *
 * 2. Persistence.  currentTerm, votedFor and the log (Figure 2, "persistent
 *    state") are written to the WAL and synced before the node answers any
 *    RPC, grants a vote, or counts itself in a majority: every handler
 *    persists first and sends last.  The engine applies effects only after
 *    a handler returns, so "synced before the reply" holds even though both
 *    happen in one call.  The commit index and the store are volatile: after
 *    a crash the node restarts from its snapshot and relearns the commit
 *    index from the leader (§5, "volatile state").
 *
 * 3. Replication (§5.3).  The leader keeps nextIndex and matchIndex per
 *    follower.  A follower is probed (one AppendEntries per heartbeat or
 *    reply, nextIndex moving back on rejections using the conflict hint)
 *    until it accepts one; then it is replicated to optimistically
 *    (nextIndex moves past what was sent, so new entries go out at once).
 *    Each heartbeat resends from matchIndex + 1: that repairs lost
 *    messages.  A follower whose nextIndex fell into the snapshot gets
 *    InstallSnapshot instead (Figure 13), in chunks.
 *
 * 4. Commit (§5.4.2, Figure 8).  The leader commits index N once a majority
 *    holds it AND the entry at N is of the leader's own term; older entries
 *    commit with it.  To commit them promptly, a new leader appends a no-op
 *    of its term (§8).  Only the leader that proposed an entry in its term
 *    answers the client, when it applies the entry.
 *
 * 5. Reads (§6.4, thesis §6.4 "ReadIndex").  Reads are not logged.  The
 *    leader waits until it has committed an entry of its term (its no-op),
 *    takes the commit index as the read index, confirms it is still leader
 *    with a round of heartbeats that a majority answers (each round has a
 *    sequence number carried in AppendEntries and echoed in replies; only
 *    rounds started after the read arrived count), then answers from the
 *    store once it has applied up to the read index.
 *
 * 6. Pre-vote and check-quorum (thesis §9.6, §6.2).  On an election timeout
 *    a node first asks whether it could win, without changing any term; a
 *    node grants a pre-vote only if it has not heard from a leader within
 *    the minimum election timeout and the asker's log is up to date.  A
 *    partitioned node therefore keeps its term and does not depose a
 *    working leader when it returns.  A leader that has not heard from a
 *    majority for an election timeout steps down, so that clients stop
 *    waiting on it.
 *
 * 7. Snapshots (§7).  When more than `snapshot_entries` applied entries sit
 *    in the log, the node encodes its store (values and client table) into
 *    raft.snap, then rewrites the WAL without the covered entries.
 *
 * 8. Clients.  A node that is not leader redirects to the leader it knows
 *    of.  Writes go through the log and fl_store_apply_request, whose
 *    per-client table makes a request proposed twice (a retry after a
 *    redirect, a duplicate) take effect once (§8).  When a leader steps
 *    down it redirects the clients it had not answered: their entries may
 *    still commit, and the retry is then deduplicated.
 *
 * 9. Teachable bugs (param `bug`), each a realistic mistake:
 *    commit-old-term  the leader commits any entry a majority holds, even
 *                     of an older term (the Figure 8 mistake).  Believing
 *                     that enough, it skips the no-op, and serves reads
 *                     once the log it inherited is "committed" so.
 *    no-persist       term, vote and log are written but synced only once
 *                     a second in the background ("fsync everysec"), so a
 *                     node answers before its promise is durable.
 *    stale-read       the leader answers reads from its own store without
 *                     confirming that it still leads.
 *    no-log-check     a follower accepts AppendEntries whenever it holds
 *                     an entry at prevLogIndex, without comparing terms.
 *    naive-recovery   the recovery of note 11 as first written: the node
 *                     keeps "recovering" in memory only, is cured by any
 *                     leader whose commit index it has reached (or by a
 *                     snapshot), and acknowledges as usual meanwhile, so
 *                     the leader counts it, at the match index it had
 *                     before the damage, in every majority.
 *    change-before-noop  a new leader starts a membership change before
 *                     an entry of its own term is committed: the
 *                     single-server change bug Ongaro reported in 2015
 *                     (note 14f).
 *
 * 10. Timers.  Each armed timer's tag holds its kind (low 4 bits) and a
 *     generation drawn from one counter; the handler acts only on the tag
 *     it last armed for that kind, so a timer replaced or left over from
 *     an earlier role is ignored without relying on timer ids.
 *
 * 11. Damaged disks.  Raft assumes that what was synced stays.  When
 *     recovery finds that it did not (a torn or corrupt record, a snapshot
 *     that does not decode), the node may have forgotten a vote, a term,
 *     or entries it acknowledged.  Following protocol-aware recovery
 *     (Alagappan et al., FAST 2018: a node whose promises may be lost
 *     neither votes nor acknowledges until it has recovered them) and
 *     Paxos Made Live §5.1 (a replica with a corrupted disk is a
 *     non-voting member until it has seen a full instance that began after
 *     its recovery), the node becomes amnesiac:
 *     a. It counts its vote in the last term it remembers as cast (a torn
 *        write loses only the last record, so that is the term a lost vote
 *        was in), and it neither votes nor campaigns, though it follows.
 *     b. Its AppendEntries and InstallSnapshot replies say so, and the
 *        leader counts them neither toward a commit nor toward a ReadIndex
 *        round: having forgotten a newer term, it could accept a deposed
 *        leader's entries, and the match it acknowledged before the damage
 *        may be gone (the leader takes its match from what it says now, and
 *        probes back below the old one).
 *     c. It stays amnesiac until its log matches a leader's up to that
 *        leader's commit index, the entry there is of the leader's own
 *        term, and the leader's AppendEntries says it has heard that the
 *        node is recovering.  Own term: every entry committed in earlier
 *        terms lies below that index (a commit index carried over from an
 *        earlier term can stop short of entries the node acknowledged and
 *        lost).  Heard: until its first flagged reply arrives, the leader
 *        still counts the node at the match it acknowledged before the
 *        damage, and may commit more with it; once heard, the commit index
 *        rests on live acknowledgements only.  This is Paxos Made Live's
 *        "a full instance that began after its recovery".  A snapshot does
 *        not cure it.
 *     d. The state is durable (an AMNESIA record in the WAL, cleared by a
 *        later one): the WAL is rewritten whole at every start, so the
 *        checksums no longer show the damage, and a plain crash before the
 *        cure must not turn the node back into a voter with holes in its
 *        log.  Seeds 90 and 157 of raft-disk-crash.json were exactly that:
 *        a restarted node voted with a log missing committed entries.
 *     What stays beyond reach: a corrupt block may lose more than the last
 *     record, so the term of a lost vote may be above the one remembered
 *     (the vote was then in a term whose RequestVote reached too few
 *     others to matter unless messages were delayed past the restart); and
 *     when a majority is amnesiac at once nobody can be elected until a
 *     leader of a new term catches one of them up, which needs a majority
 *     of voters: safety over liveness, as it must be when what was
 *     promised may be gone.
 *
 * 12. BUGGIFY sites (sim/node.h fl_buggify), each a choice Raft leaves
 *     open, taken where fuzzing would seldom reach it by chance:
 *     raft.batch-of-one          AppendEntries carries one entry where it
 *                                could carry max_batch: the follower's log
 *                                grows in the smallest steps, and the
 *                                optimistic nextIndex (note 3) runs ahead
 *                                of one-entry messages.
 *     raft.snapshot-short-chunk  an InstallSnapshot chunk cut short at an
 *                                odd offset (Figure 13 allows any size).
 *     raft.election-timeout-min  the timeout at the bottom of its range,
 *                                so that nodes time out together and
 *                                split votes (§5.2).
 *     raft.snapshot-early        a snapshot at whatever index was just
 *                                applied, well below snapshot_entries
 *                                (§7 lets a node snapshot any applied
 *                                prefix): followers then need
 *                                InstallSnapshot far more often.
 *     raft.heartbeat-skipped     one follower's heartbeat not sent, as if
 *                                lost: check-quorum, pre-vote and ReadIndex
 *                                rounds must cope with a missing one.
 *
 * 13. Exploration (`faultline explore`).  raft_digest hashes what decides a
 *     node's future: term, vote, role, leader, the log's terms and
 *     requests, commit and applied indexes, the store, the leader's
 *     per-peer progress and waiting clients, which timers are armed (not
 *     their generations), the snapshot being received and the amnesia
 *     state; it leaves out local times (leader contact, acks, deadlines),
 *     which exploration abstracts.  raft_invariant checks, over the live
 *     nodes, the safety properties of Figure 3: Election Safety (at most
 *     one leader per term), Log Matching (two logs with an entry of the
 *     same index and term hold the same entries up to it) and State
 *     Machine Safety (committed prefixes agree).
 *
 * 14. Membership changes (thesis chapter 4, single-server changes of §4.1;
 *     conf.c holds the pure rules).  Every node of cluster.nodes exists;
 *     param `voters` makes only nodes 0 .. voters-1 the initial voters, the
 *     rest spares.  Without `voters` below the node count and without
 *     `reconfigure_every`, `membership` is false and every node votes in a
 *     fixed configuration, exactly as before this note (traces unchanged).
 *     a. A configuration is a log entry (raft.h); a node uses the latest
 *        one in its log as soon as it is appended, committed or not
 *        (refresh_conf after every change to the log, including a
 *        truncation that removes one).  The snapshot holds the
 *        configuration at its index, in front of the store's encoding.
 *     b. Only voters vote and count: an election, a commit (majorities of
 *        voters' match indexes), a ReadIndex round and check-quorum all
 *        count voters of the node's own latest configuration.  A node
 *        that is not a voter in its log never campaigns.
 *     c. The leader sends the log to the members of its configuration and
 *        of the one before it, so that a node being removed learns of its
 *        removal and stays quiet instead of campaigning (§4.2.3).
 *     d. A leader that removes itself keeps leading, not counting itself,
 *        until the configuration without it is committed, then steps
 *        down (§4.2.2).
 *     e. Changes are driven by the leader, every `reconfigure_every`
 *        (maybe_reconfigure): promote a learner that holds everything
 *        committed (or drop one that has not caught up within five
 *        periods), else add a spare as a learner or remove a voter, drawn
 *        from the leader's own stream.  Learners (§4.2.1) catch up before
 *        they count, so adding one never leaves the cluster waiting on a
 *        node with an empty log.
 *     f. One change at a time: a leader starts one only when the previous
 *        configuration entry in its log is committed, and only once an
 *        entry of its own term is committed.  Without the second rule a
 *        leader may commit a change while another leader's uncommitted
 *        change, which it never saw, is in effect elsewhere: each is one
 *        server away from their common ancestor but two away from each
 *        other, and their majorities need not overlap (Ongaro, raft-dev,
 *        2015; bugs/raft-change-before-noop.json plays it out).
 *     g. Why the leader and not the engine drives changes: a change is a
 *        log entry the leader appends, so the leader is where it starts
 *        anyway; a plan in the protocol's parameters needs nothing new in
 *        sim/ (no admin command, no fault kind that names protocol
 *        operations), and the nemesis runs alongside unchanged.
 */
#include "protocols/raft/raft.h"

#include <inttypes.h>
#include <string.h>

typedef enum { FOLLOWER, PRECANDIDATE, CANDIDATE, LEADER } Role;

typedef enum {
    BUG_NONE,
    BUG_COMMIT_OLD_TERM,
    BUG_NO_PERSIST,
    BUG_STALE_READ,
    BUG_NO_LOG_CHECK,
    BUG_NAIVE_RECOVERY,
    BUG_CHANGE_BEFORE_NOOP,
} Bug;

enum { TIMER_ELECTION = 1, TIMER_HEARTBEAT, TIMER_FLUSH };

/* The `no-persist` bug's background sync period. */
#define FLUSH_EVERY FL_SEC(1)

/* What the leader knows of one follower (Figure 2, "volatile state on
 * leaders", plus what pre-vote, ReadIndex and check-quorum need). */
typedef struct Peer {
    uint64_t next, match;
    bool replicating;      /* note 3: accepted since the last rejection */
    bool vote;             /* granted a (pre-)vote in the current round */
    uint64_t read_acked;   /* highest ReadIndex round it answered this term */
    FlTime last_ack;       /* leader's local time of its last reply */
    uint64_t snap_offset;  /* bytes of the leader's snapshot it holds */
    bool amnesiac;         /* its last reply said it is recovering (note 11):
                              its match does not count toward a commit */
} Peer;

/* A client write the leader proposed and has not answered. */
typedef struct Pending {
    uint64_t index, term;
    FlRequest req;
    FlTime proposed;
} Pending;

/* A client read waiting for its ReadIndex (note 5). */
typedef struct Read {
    FlRequest req;
    uint64_t seq;          /* the heartbeat round that must confirm it */
    bool has_index;
    uint64_t index;        /* the read index, once known */
} Read;

typedef struct Raft {
    /* Parameters. */
    uint32_t self, nodes;
    FlDuration election_lo, election_hi, heartbeat;
    uint32_t max_batch, snapshot_chunk;
    uint64_t snapshot_entries;
    bool prevote, check_quorum;
    Bug bug;
    FlDuration reconfigure_every;   /* note 14: 0, no changes */
    uint32_t min_voters;

    /* Membership (note 14); all of it unused when `membership` is false. */
    bool membership;
    RaftConf conf;         /* the latest configuration in the log */
    uint64_t conf_index;   /* its entry's index (log.base: from the snapshot) */
    RaftConf base_conf;    /* the configuration at log.base */
    uint64_t reach;        /* who the leader sends the log to: members of conf
                              and of the configuration before it */
    FlTime last_change;    /* leader: local time of its last change */

    /* Persistent state on all servers (Figure 2). */
    uint64_t term;
    uint32_t vote;         /* RAFT_NO_NODE: none */
    RaftLog log;

    /* Volatile state on all servers. */
    Role role;
    uint32_t leader;       /* the leader of `term` if known, else RAFT_NO_NODE */
    uint64_t commit, applied;
    FlStore *store;
    GByteArray *snap;      /* the store's encoding at log.base, or NULL */
    uint64_t timer_gen;    /* note 10 */
    FlTimerId election_timer;
    uint64_t election_tag; /* 0: not armed */
    FlTime election_fires, election_deadline;
    FlTime leader_contact; /* last time a leader of our term spoke to us */

    /* Leader. */
    Peer *peers;           /* indexed by node id; peers[self] unused */
    FlTimerId heartbeat_timer;
    uint64_t heartbeat_tag;
    FlTime leader_since;
    uint64_t term_start;   /* index of this term's first entry (the no-op) */
    GArray *pending;       /* of Pending, by increasing index */
    GArray *reads;         /* of Read, in arrival order */
    uint64_t read_seq;     /* last ReadIndex round started */
    uint64_t read_done;    /* last round a majority answered */

    /* Follower: the snapshot being received. */
    GByteArray *snap_in;
    uint64_t snap_in_index, snap_in_term, snap_in_total;

    /* Disk. */
    uint64_t wal_gen;      /* generation of the WAL being appended to */
    bool amnesiac;         /* note 11 */
    uint64_t amnesia_term;

    /* The no-persist bug's deferred syncs. */
    FlTimerId flush_timer;
    uint64_t flush_tag;
    bool dirty_wal[2], dirty_snap;

    /* Counters added to per message or entry (see metric_add()); NULL until
     * first used. */
    double *messages_count, *commits_count, *commit_latency_count, *reads_count;
} Raft;

static const FlParam raft_params[] = {
    { "election_timeout", FL_PARAM_RANGE, "[\"150ms\",\"300ms\"]",
      "election timeout, drawn anew from this range each time it is reset (§5.2)", NULL, 0, 0 },
    { "heartbeat", FL_PARAM_DURATION, "\"50ms\"",
      "how often the leader sends AppendEntries when idle, and retransmits", NULL, 1, 1e12 },
    { "max_batch", FL_PARAM_INT, "64", "most entries in one AppendEntries", NULL, 1, RAFT_MAX_BATCH },
    { "snapshot_entries", FL_PARAM_INT, "1000",
      "take a snapshot once this many applied entries are in the log (0: never)", NULL, 0, 1e9 },
    { "snapshot_chunk", FL_PARAM_INT, "65536", "bytes of snapshot per InstallSnapshot message", NULL, 64, 1 << 19 },
    { "prevote", FL_PARAM_BOOL, "true", "ask for pre-votes before raising the term (thesis §9.6)", NULL, 0, 0 },
    { "check_quorum", FL_PARAM_BOOL, "true",
      "a leader that has not heard from a majority for an election timeout steps down", NULL, 0, 0 },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake, for teaching (see raft.c note 9)",
      "none|commit-old-term|no-persist|stale-read|no-log-check|naive-recovery|change-before-noop", 0, 0 },
    { "voters", FL_PARAM_INT, "0",
      "the initial configuration: nodes 0 .. voters-1 vote, the others are spares (0: all vote; note 14)",
      NULL, 0, RAFT_CONF_MAX_NODES },
    { "reconfigure_every", FL_PARAM_DURATION, "\"0s\"",
      "the leader starts a membership change this often: add a spare as a learner, promote a caught-up learner, or remove a voter (0: never; note 14)",
      NULL, 0, 1e12 },
    { "min_voters", FL_PARAM_INT, "3", "membership changes never leave fewer voters than this", NULL, 1,
      RAFT_CONF_MAX_NODES },
    { NULL },
};

static void become_follower(FlNode *n, Raft *r, uint64_t term, uint32_t leader);
static void start_election(FlNode *n, Raft *r);
static void apply_committed(FlNode *n, Raft *r);
static void serve_reads(FlNode *n, Raft *r);

static uint32_t majority(const Raft *r)
{
    return r->nodes / 2 + 1;
}

/* Note 14: does node @i vote and count in majorities?  Without membership
 * every node does. */
static bool is_voter(const Raft *r, uint32_t i)
{
    return !r->membership || (r->conf.voters >> i & 1);
}

/* Note 14: does the leader send the log to node @i? */
static bool reaches(const Raft *r, uint32_t i)
{
    return i != r->self && (!r->membership || (r->reach >> i & 1));
}

static void log_conf(FlNode *n, const char *what, const RaftConf *c)
{
    char v[3 * RAFT_CONF_MAX_NODES + 1] = "", l[3 * RAFT_CONF_MAX_NODES + 1] = "";
    size_t vl = 0, ll = 0;
    for (uint32_t i = 0; i < RAFT_CONF_MAX_NODES; i++) {
        if (c->voters >> i & 1)
            vl += (size_t)g_snprintf(v + vl, sizeof v - vl, "%s%u", vl ? "," : "", i);
        if (c->learners >> i & 1)
            ll += (size_t)g_snprintf(l + ll, sizeof l - ll, "%s%u", ll ? "," : "", i);
    }
    fl_log(n, "%s: voters {%s} learners {%s}", what, v, l);
}

/* Note 14: the latest configuration in the log takes effect at once,
 * committed or not; called after every change to the log.  A node that
 * joins the leader's reach starts from a blank Peer, as at an election. */
static void refresh_conf(FlNode *n, Raft *r)
{
    if (!r->membership)
        return;
    RaftConf old = r->conf, prev;
    uint64_t old_reach = r->reach;
    r->conf_index = raft_log_conf(&r->log, raft_log_last_index(&r->log), &r->base_conf, r->nodes,
                                  &r->conf);
    if (r->conf_index > r->log.base)
        raft_log_conf(&r->log, r->conf_index - 1, &r->base_conf, r->nodes, &prev);
    else
        prev = r->conf;
    r->reach = r->conf.voters | r->conf.learners | prev.voters | prev.learners;
    if (old.voters != r->conf.voters || old.learners != r->conf.learners)
        log_conf(n, "configuration", &r->conf);
    if (r->role != LEADER)
        return;
    FlTime now = fl_now(n);
    for (uint32_t i = 0; i < r->nodes; i++)
        if (i != r->self && (r->reach >> i & 1) && !(old_reach >> i & 1))
            r->peers[i] = (Peer){ .next = raft_log_last_index(&r->log) + 1, .last_ack = now };
}

/* Local time since @then, 0 if the clock went back past it. */
static FlDuration since(const FlNode *n, FlTime then)
{
    FlTime now = fl_now(n);
    return now > then ? (FlDuration)(now - then) : 0;
}

static uint64_t last_index(const Raft *r)
{
    return raft_log_last_index(&r->log);
}

static uint64_t last_term(const Raft *r)
{
    return raft_log_last_term(&r->log);
}

/* Adds @v to the counter @name of metrics.json, whose handle is cached in
 * *@c: a lookup by name per message showed in profiles. */
static void metric_add(FlNode *n, double **c, const char *name, double v)
{
    if (!*c)
        *c = fl_metric(n, name);
    **c += v;
}

/* fl_log(n, "commit %" PRIu64, c) without printf: every node logs every
 * commit, and formatting was a twentieth of a run. */
static void log_commit(FlNode *n, uint64_t c)
{
    char digits[20];
    int k = 0;
    do {
        digits[k++] = (char)('0' + c % 10);
        c /= 10;
    } while (c);
    char line[sizeof "commit " + sizeof digits] = "commit ";
    char *p = line + sizeof "commit " - 1;
    while (k)
        *p++ = digits[--k];
    *p = '\0';
    fl_log_text(n, line);
}

/* ---- Persistence (note 2) ------------------------------------------- */

/* Note 10: arms a timer whose tag names its kind and a fresh generation. */
static FlTimerId arm(FlNode *n, Raft *r, FlDuration after, unsigned kind, uint64_t *tag)
{
    *tag = kind | (++r->timer_gen << 4);
    return fl_timer(n, after, *tag);
}

static const char *wal_file(uint64_t gen)
{
    return gen & 1 ? RAFT_WAL_1 : RAFT_WAL_0;
}

static void make_durable(FlNode *n, Raft *r, const char *file)
{
    if (r->bug != BUG_NO_PERSIST) {
        fl_disk_sync(n, file);
        return;
    }
    /* The bug: the sync happens later, in the background. */
    if (strcmp(file, RAFT_SNAP) == 0)
        r->dirty_snap = true;
    else
        r->dirty_wal[strcmp(file, RAFT_WAL_1) == 0] = true;
    if (!r->flush_tag)
        r->flush_timer = arm(n, r, FLUSH_EVERY, TIMER_FLUSH, &r->flush_tag);
}

static void persist_state(FlNode *n, Raft *r)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    raft_wal_put_state(&w, r->term, r->vote);
    fl_disk_append(n, wal_file(r->wal_gen), w.data, w.len);
    fl_writer_deinit(&w);
    make_durable(n, r, wal_file(r->wal_gen));
}

/* Appends entries @from .. last to the WAL. */
static void persist_entries(FlNode *n, Raft *r, uint64_t from)
{
    uint8_t buf[512];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    for (uint64_t i = from; i <= last_index(r); i++)
        raft_wal_put_entry(&w, i, raft_log_get(&r->log, i));
    fl_disk_append(n, wal_file(r->wal_gen), w.data, w.len);
    fl_writer_deinit(&w);
    make_durable(n, r, wal_file(r->wal_gen));
}

/* Rewrites the WAL whole into the other file, as the next generation:
 * after a snapshot, and at every start (so that new records never follow
 * a torn tail). */
static void persist_all(FlNode *n, Raft *r)
{
    r->wal_gen++;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_wal_put_all(&w, r->wal_gen, &r->log, r->term, r->vote);
    if (r->amnesiac && r->bug != BUG_NAIVE_RECOVERY)
        raft_wal_put_amnesia(&w, r->amnesia_term);   /* note 11: it outlives a plain crash */
    fl_disk_write(n, wal_file(r->wal_gen), w.data, w.len);
    fl_writer_deinit(&w);
    make_durable(n, r, wal_file(r->wal_gen));
}

/* The snapshot first, then the WAL that no longer holds what it covers: a
 * crash in between leaves a snapshot and a longer WAL, which recovery
 * reconciles (load_disk). */
static void persist_snapshot(FlNode *n, Raft *r)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    raft_snap_put(&w, r->log.base, r->log.base_term, r->snap->data, r->snap->len);
    fl_disk_write(n, RAFT_SNAP, w.data, w.len);
    fl_writer_deinit(&w);
    make_durable(n, r, RAFT_SNAP);
    persist_all(n, r);
}

static void flush(FlNode *n, Raft *r)
{
    r->flush_tag = 0;
    if (r->dirty_snap)
        fl_disk_sync(n, RAFT_SNAP);
    for (int i = 0; i < 2; i++)
        if (r->dirty_wal[i])
            fl_disk_sync(n, i ? RAFT_WAL_1 : RAFT_WAL_0);
    r->dirty_snap = r->dirty_wal[0] = r->dirty_wal[1] = false;
}

/* ---- Sending -------------------------------------------------------- */

static void send_msg(FlNode *n, Raft *r, uint32_t to, const RaftMsg *m)
{
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    raft_msg_encode(&w, m);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
    metric_add(n, &r->messages_count, "raft.messages", 1);
}

static void broadcast_msg(FlNode *n, Raft *r, const RaftMsg *m)
{
    for (uint32_t i = 0; i < r->nodes; i++)
        if (i != r->self)
            send_msg(n, r, i, m);
}

/* Figure 13: one chunk of the leader's snapshot, from what @to holds. */
static void send_snapshot(FlNode *n, Raft *r, uint32_t to)
{
    Peer *p = &r->peers[to];
    g_assert(r->snap);
    uint64_t total = r->snap->len;
    if (p->snap_offset > total)
        p->snap_offset = 0;
    uint64_t len = total - p->snap_offset;
    if (len > r->snapshot_chunk)
        len = r->snapshot_chunk;
    if (len > 1 && fl_buggify(n, "raft.snapshot-short-chunk"))
        len = len / 3 + 1;   /* note 12: a chunk that ends anywhere */
    RaftMsg m = { .type = RAFT_MSG_SNAP, .term = r->term };
    m.snap.last_index = r->log.base;
    m.snap.last_term = r->log.base_term;
    m.snap.offset = p->snap_offset;
    m.snap.total = total;
    m.snap.data = r->snap->data + p->snap_offset;
    m.snap.len = (size_t)len;
    m.snap.read_seq = r->read_seq;
    uint8_t buf[1024];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    raft_msg_encode(&w, &m);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
    metric_add(n, &r->messages_count, "raft.messages", 1);
}

/* Figure 2, AppendEntries from the leader: the entries @to lacks after
 * nextIndex (none for a heartbeat), or the snapshot if they are gone. */
static void send_append(FlNode *n, Raft *r, uint32_t to)
{
    Peer *p = &r->peers[to];
    if (p->next <= r->log.base) {
        send_snapshot(n, r, to);
        return;
    }
    uint64_t prev = p->next - 1, prev_term = 0;
    gboolean known = raft_log_term_at(&r->log, prev, &prev_term);
    g_assert(known);
    uint64_t count = last_index(r) - prev;
    if (count > r->max_batch)
        count = r->max_batch;
    if (count > 1 && fl_buggify(n, "raft.batch-of-one"))
        count = 1;   /* note 12 */
    RaftMsg m = { .type = RAFT_MSG_APPEND, .term = r->term };
    m.append.prev_index = prev;
    m.append.prev_term = prev_term;
    m.append.commit = r->commit;
    m.append.read_seq = r->read_seq;
    m.append.amnesia_seen = p->amnesiac;
    m.append.n = (uint32_t)count;
    m.append.entries = count ? (RaftEntry *)raft_log_get(&r->log, prev + 1) : NULL;
    /* A heartbeat takes 46 bytes, and each entry 42 more. */
    uint8_t buf[1024];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    raft_msg_encode(&w, &m);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
    metric_add(n, &r->messages_count, "raft.messages", 1);
    if (p->replicating)
        p->next = prev + count + 1;   /* note 3: optimistic */
}

/* ---- Timers ---------------------------------------------------------- */

/* §5.2: a new randomized election timeout from now.  The one timer is kept
 * and re-armed when it fires early, instead of re-armed on every
 * heartbeat. */
static void reset_election_timer(FlNode *n, Raft *r)
{
    FlDuration d = fl_random_duration(n, r->election_lo, r->election_hi);
    if (fl_buggify(n, "raft.election-timeout-min"))
        d = r->election_lo;   /* note 12: drawn after, so the node's stream is unchanged */
    FlTime now = fl_now(n);
    r->election_deadline = now + (FlTime)d;
    if (r->election_tag && r->election_fires <= r->election_deadline)
        return;
    if (r->election_tag)
        fl_timer_cancel(n, r->election_timer);
    r->election_timer = arm(n, r, d, TIMER_ELECTION, &r->election_tag);
    r->election_fires = r->election_deadline;
}

/* ---- Clients --------------------------------------------------------- */

/* Note 8: a leader stepping down hands its unanswered clients to whoever
 * leads now (or to nobody known). */
static void release_clients(FlNode *n, Raft *r)
{
    for (guint i = 0; r->pending && i < r->pending->len; i++)
        fl_reply_redirect(n, &g_array_index(r->pending, Pending, i).req, r->leader);
    for (guint i = 0; r->reads && i < r->reads->len; i++)
        fl_reply_redirect(n, &g_array_index(r->reads, Read, i).req, r->leader);
    if (r->pending)
        g_array_set_size(r->pending, 0);
    if (r->reads)
        g_array_set_size(r->reads, 0);
}

/* ---- Role changes (note 1) ------------------------------------------ */

/* Note 11c: recovered once our log matches that of a leader of a term at
 * least amnesia_term up to its commit index @commit, the entry there is of
 * the leader's own term, and the leader said (@seen) that it had heard we
 * are recovering, so that @commit counted none of our lost
 * acknowledgements. */
static void cure_amnesia(FlNode *n, Raft *r, uint64_t leader_term, uint64_t match,
                         uint64_t commit, bool seen)
{
    uint64_t t;
    if (!r->amnesiac || leader_term < r->amnesia_term || match < commit)
        return;
    if (r->bug != BUG_NAIVE_RECOVERY &&
        (!seen || !raft_log_term_at(&r->log, commit, &t) || t != leader_term))
        return;
    r->amnesiac = false;
    r->amnesia_term = 0;
    if (r->bug == BUG_NAIVE_RECOVERY) {
        fl_log(n, "caught up by the leader of term %" PRIu64 ": voting again", leader_term);
        return;
    }
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    raft_wal_put_amnesia(&w, 0);
    fl_disk_append(n, wal_file(r->wal_gen), w.data, w.len);
    fl_writer_deinit(&w);
    make_durable(n, r, wal_file(r->wal_gen));
    fl_log(n, "caught up by the leader of term %" PRIu64 ": voting again", leader_term);
}

/* Figure 2, rules for all servers: a higher term makes any node a follower
 * of that term (with no vote yet), persisted before anything else. */
static void become_follower(FlNode *n, Raft *r, uint64_t term, uint32_t leader)
{
    g_assert(term >= r->term);
    bool was_leader = r->role == LEADER;
    if (term > r->term) {
        r->term = term;
        r->vote = RAFT_NO_NODE;
        persist_state(n, r);
        fl_log(n, "term %" PRIu64, r->term);
    }
    r->role = FOLLOWER;
    r->leader = leader;
    fl_role(n, "follower");
    if (was_leader) {
        if (r->heartbeat_tag)
            fl_timer_cancel(n, r->heartbeat_timer);
        r->heartbeat_tag = 0;
        release_clients(n, r);
    }
    /* A leader was in touch with itself until now (raft.leaderless_ms). */
    if (leader != RAFT_NO_NODE || was_leader)
        r->leader_contact = fl_now(n);
    reset_election_timer(n, r);
}

static void clear_votes(Raft *r)
{
    for (uint32_t i = 0; i < r->nodes; i++)
        r->peers[i].vote = false;
}

static uint32_t count_votes(const Raft *r)
{
    uint32_t c = 1;   /* our own */
    for (uint32_t i = 0; i < r->nodes; i++)
        if (i != r->self && r->peers[i].vote)
            c++;
    return c;
}

/* Figure 2 and note 14: have the (pre-)votes granted, our own included,
 * made a majority of the voters of our configuration? */
static bool won(const Raft *r)
{
    if (!r->membership)
        return count_votes(r) >= majority(r);
    uint64_t acks = UINT64_C(1) << r->self;
    for (uint32_t i = 0; i < r->nodes; i++)
        if (i != r->self && r->peers[i].vote)
            acks |= UINT64_C(1) << i;
    return raft_conf_quorum(&r->conf, acks);
}

/* Thesis §9.6: ask whether we could win, at term + 1, without raising our
 * own term. */
static void start_prevote(FlNode *n, Raft *r)
{
    r->role = PRECANDIDATE;
    r->leader = RAFT_NO_NODE;
    fl_role(n, "pre-candidate");
    clear_votes(r);
    if (won(r)) {
        start_election(n, r);
        return;
    }
    RaftMsg m = { .type = RAFT_MSG_VOTE, .term = r->term + 1 };
    m.vote.pre = true;
    m.vote.last_index = last_index(r);
    m.vote.last_term = last_term(r);
    broadcast_msg(n, r, &m);
}

static void become_leader(FlNode *n, Raft *r);

/* Figure 2, rules for candidates: increment currentTerm, vote for self
 * (both synced before counting that vote), reset the election timer, send
 * RequestVote to all other servers. */
static void start_election(FlNode *n, Raft *r)
{
    r->term++;
    r->vote = r->self;
    persist_state(n, r);
    r->role = CANDIDATE;
    r->leader = RAFT_NO_NODE;
    fl_role(n, "candidate");
    fl_log(n, "term %" PRIu64 ": candidate", r->term);
    clear_votes(r);
    reset_election_timer(n, r);
    if (won(r)) {
        become_leader(n, r);
        return;
    }
    RaftMsg m = { .type = RAFT_MSG_VOTE, .term = r->term };
    m.vote.last_index = last_index(r);
    m.vote.last_term = last_term(r);
    broadcast_msg(n, r, &m);
}

static void advance_commit(FlNode *n, Raft *r);
static void maybe_reconfigure(FlNode *n, Raft *r);

/* Figure 2, rules for leaders: reinitialize nextIndex and matchIndex, send
 * heartbeats at once.  §8: append a no-op of the new term, so that entries
 * of earlier terms commit with it and reads can be served (note 5). */
static void become_leader(FlNode *n, Raft *r)
{
    FlTime now = fl_now(n);
    r->role = LEADER;
    r->leader = r->self;
    fl_role(n, "leader");
    fl_log(n, "term %" PRIu64 ": leader", r->term);
    fl_metric_add(n, "raft.elections", 1);
    fl_metric_add(n, "raft.leaderless_ms", (double)since(n, r->leader_contact) / 1e6);
    r->leader_contact = now;
    r->leader_since = now;
    for (uint32_t i = 0; i < r->nodes; i++) {
        Peer *p = &r->peers[i];
        *p = (Peer){ .next = last_index(r) + 1, .last_ack = now };
    }
    r->read_seq = r->read_done = 0;
    /* Reads wait until the commit index reaches this term's first entry
     * (note 5); the commit-old-term bug waits for the end of the log it
     * inherited instead, which counting replicas soon reaches. */
    r->term_start = r->bug == BUG_COMMIT_OLD_TERM ? last_index(r) : last_index(r) + 1;
    if (r->bug != BUG_COMMIT_OLD_TERM) {
        RaftEntry noop = { .term = r->term };
        noop.req.client = RAFT_NO_NODE;
        noop.req.op.kind = FL_OP_NOOP;
        raft_log_append(&r->log, &noop);
        persist_entries(n, r, last_index(r));
    }
    for (uint32_t i = 0; i < r->nodes; i++)
        if (reaches(r, i))
            send_append(n, r, i);
    r->heartbeat_timer = arm(n, r, r->heartbeat, TIMER_HEARTBEAT, &r->heartbeat_tag);
    advance_commit(n, r);
    maybe_reconfigure(n, r);
}

/* ---- Commit and apply (note 4) -------------------------------------- */

static void advance_commit(FlNode *n, Raft *r)
{
    uint64_t small[16];
    g_autofree uint64_t *big = r->nodes > G_N_ELEMENTS(small) ? g_new(uint64_t, r->nodes) : NULL;
    uint64_t *match = big ? big : small;
    for (uint32_t i = 0; i < r->nodes; i++)
        match[i] = i == r->self ? last_index(r) : r->peers[i].amnesiac ? 0 : r->peers[i].match;
    uint64_t c = r->membership
                     ? raft_conf_commit_index(&r->log, &r->conf, match, r->nodes, r->term, r->commit,
                                              r->bug == BUG_COMMIT_OLD_TERM)
                     : raft_log_commit_index(&r->log, match, r->nodes, r->term, r->commit,
                                             r->bug == BUG_COMMIT_OLD_TERM);
    if (c > r->commit) {
        r->commit = c;
        log_commit(n, c);
        apply_committed(n, r);
    }
    /* Thesis §4.2.2: a leader removed from the configuration manages the
     * cluster, without counting itself, until that configuration is
     * committed, then steps down; not a voter, it never campaigns again. */
    if (r->membership && r->role == LEADER && !is_voter(r, r->self) && r->commit >= r->conf_index) {
        fl_log(n, "term %" PRIu64 ": removed from the configuration, stepping down", r->term);
        become_follower(n, r, r->term, RAFT_NO_NODE);
    }
}

/* §7: once enough applied entries sit in the log, snapshot the store. */
static void maybe_snapshot(FlNode *n, Raft *r)
{
    if (r->snapshot_entries == 0 || r->applied == r->log.base)
        return;
    /* Note 12: now and then a snapshot at whatever index was just applied. */
    if (r->applied - r->log.base < r->snapshot_entries && !fl_buggify(n, "raft.snapshot-early"))
        return;
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    RaftConf at;
    if (r->membership) {
        /* Note 14: the snapshot holds the configuration at its index. */
        raft_log_conf(&r->log, r->applied, &r->base_conf, r->nodes, &at);
        raft_conf_put(&w, &at);
    }
    fl_store_encode(r->store, &w);
    if (r->snap)
        g_byte_array_unref(r->snap);
    r->snap = g_byte_array_sized_new((guint)w.len);
    g_byte_array_append(r->snap, w.data, (guint)w.len);
    fl_writer_deinit(&w);
    raft_log_compact(&r->log, r->applied);
    if (r->membership) {
        r->base_conf = at;
        refresh_conf(n, r);
    }
    persist_snapshot(n, r);
    for (uint32_t i = 0; i < r->nodes; i++)
        r->peers[i].snap_offset = 0;
    fl_log(n, "snapshot at %" PRIu64 " (%u bytes)", r->log.base, r->snap->len);
}

/* Figure 2, rules for all servers: if commitIndex > lastApplied, apply
 * log[lastApplied] to the state machine.  The leader answers the clients of
 * the entries it proposed in this term. */
static void apply_committed(FlNode *n, Raft *r)
{
    while (r->applied < r->commit) {
        r->applied++;
        const RaftEntry *e = raft_log_get(&r->log, r->applied);
        g_assert(e);
        FlResult res = { 0 };
        bool has = e->req.op.kind != FL_OP_NOOP && fl_store_apply_request(r->store, &e->req, &res);
        if (r->role != LEADER)
            continue;
        while (r->pending->len && g_array_index(r->pending, Pending, 0).index <= r->applied) {
            Pending *p = &g_array_index(r->pending, Pending, 0);
            if (p->index == r->applied && p->term == e->term) {
                metric_add(n, &r->commits_count, "raft.commits", 1);
                metric_add(n, &r->commit_latency_count, "raft.commit_latency_ms",
                      (double)since(n, p->proposed) / 1e6);
                /* An older request than the client's last: nobody waits. */
                if (has)
                    fl_reply(n, &p->req, &res);
            }
            g_array_remove_index(r->pending, 0);
        }
    }
    maybe_snapshot(n, r);
    serve_reads(n, r);
}

/* ---- Reads (note 5) -------------------------------------------------- */

static void start_read_round(FlNode *n, Raft *r)
{
    r->read_seq++;
    if (r->nodes == 1)
        r->read_done = r->read_seq;
    for (uint32_t i = 0; i < r->nodes; i++)
        if (reaches(r, i))
            send_append(n, r, i);
}

static void serve_reads(FlNode *n, Raft *r)
{
    if (r->role != LEADER || r->reads->len == 0)
        return;
    /* The highest round that a majority, ourselves included, answered. */
    uint64_t small[16];
    g_autofree uint64_t *big = r->nodes > G_N_ELEMENTS(small) ? g_new(uint64_t, r->nodes) : NULL;
    uint64_t *acked = big ? big : small;
    uint32_t k_voters = 0;   /* note 14: only voters confirm a round */
    for (uint32_t i = 0; i < r->nodes; i++)
        if (is_voter(r, i))
            acked[k_voters++] = i == r->self ? r->read_seq : r->peers[i].read_acked;
    for (uint32_t i = 1; i < k_voters; i++)   /* insertion sort, descending */
        for (uint32_t k = i; k > 0 && acked[k] > acked[k - 1]; k--) {
            uint64_t t = acked[k];
            acked[k] = acked[k - 1];
            acked[k - 1] = t;
        }
    if (acked[k_voters / 2] > r->read_done)
        r->read_done = acked[k_voters / 2];
    bool term_committed = r->commit >= r->term_start;
    bool want_round = false;
    guint keep = 0;
    for (guint i = 0; i < r->reads->len; i++) {
        Read rd = g_array_index(r->reads, Read, i);
        if (!rd.has_index && term_committed) {
            rd.has_index = true;
            rd.index = r->commit;
        }
        if (rd.has_index && rd.seq <= r->read_done && r->applied >= rd.index) {
            FlResult res;
            fl_store_read(r->store, &rd.req.op, &res);
            fl_reply(n, &rd.req, &res);
            metric_add(n, &r->reads_count, "raft.reads", 1);
            continue;
        }
        if (rd.seq > r->read_seq)
            want_round = true;
        g_array_index(r->reads, Read, keep++) = rd;
    }
    g_array_set_size(r->reads, keep);
    if (want_round && r->read_done == r->read_seq) {
        start_read_round(n, r);
        if (r->nodes == 1)
            serve_reads(n, r);   /* alone, the round is over at once */
    }
}

/* ---- Invariants -------------------------------------------------------- */

/* What must hold after every step of one node (cluster-wide safety is the
 * checker's).  Cheap: O(nodes). */
static void invariants(const Raft *r)
{
    g_assert(r->log.base <= r->applied);
    g_assert(r->applied <= r->commit);
    g_assert(r->commit <= last_index(r));
    g_assert(last_term(r) <= r->term);
    g_assert(r->vote == RAFT_NO_NODE || r->vote < r->nodes);
    g_assert(r->leader == RAFT_NO_NODE || r->leader < r->nodes);
    g_assert((r->role == LEADER) == (r->leader == r->self));
    g_assert(r->role == LEADER || (r->pending->len == 0 && r->reads->len == 0));
    if (r->role == LEADER) {
        g_assert(r->vote == r->self);
        g_assert(r->heartbeat_tag != 0);
        g_assert(r->read_done <= r->read_seq);
        for (uint32_t i = 0; i < r->nodes; i++) {
            if (i == r->self)
                continue;
            g_assert(r->peers[i].next >= 1);
            g_assert(r->peers[i].next <= last_index(r) + 1);
            g_assert(r->peers[i].match <= last_index(r));
        }
    }
}

/* ---- Message handlers ------------------------------------------------ */

/* Figure 2, RequestVote RPC, receiver implementation; thesis §9.6 for a
 * pre-vote, which changes nothing on the receiver. */
static void on_vote(FlNode *n, Raft *r, uint32_t from, const RaftMsg *m)
{
    bool up_to_date = raft_log_up_to_date(last_term(r), last_index(r), m->vote.last_term,
                                          m->vote.last_index);
    RaftMsg reply = { .type = RAFT_MSG_VOTE_REPLY };
    reply.vote_reply.pre = m->vote.pre;
    if (m->vote.pre) {
        bool leader_alive = r->role == LEADER || (r->leader != RAFT_NO_NODE &&
                                                  since(n, r->leader_contact) < r->election_lo);
        reply.vote_reply.granted = m->term > r->term && !leader_alive && up_to_date;
        /* A grant carries the term it is for; a refusal, ours. */
        reply.term = reply.vote_reply.granted ? m->term : r->term;
        send_msg(n, r, from, &reply);
        return;
    }
    if (m->term > r->term)
        become_follower(n, r, m->term, RAFT_NO_NODE);
    bool granted = m->term == r->term && (r->vote == RAFT_NO_NODE || r->vote == from) &&
                   up_to_date && !r->amnesiac;
    if (granted && r->vote != from) {
        r->vote = from;
        persist_state(n, r);
    }
    if (granted)
        reset_election_timer(n, r);
    reply.term = r->term;
    reply.vote_reply.granted = granted;
    send_msg(n, r, from, &reply);
}

/* Figure 2, rules for candidates: votes from a majority make a leader;
 * thesis §9.6: pre-votes from a majority make a candidate. */
static void on_vote_reply(FlNode *n, Raft *r, uint32_t from, const RaftMsg *m)
{
    if (m->term > r->term && !(m->vote_reply.pre && m->vote_reply.granted)) {
        become_follower(n, r, m->term, RAFT_NO_NODE);
        return;
    }
    if (!m->vote_reply.granted)
        return;
    if (m->vote_reply.pre) {
        if (r->role != PRECANDIDATE || m->term != r->term + 1)
            return;
        r->peers[from].vote = true;
        if (won(r))
            start_election(n, r);
        return;
    }
    if (r->role != CANDIDATE || m->term != r->term)
        return;
    r->peers[from].vote = true;
    if (won(r))
        become_leader(n, r);
}

/* Note 11: whether our acknowledgements must not count; the
 * naive-recovery bug never says so. */
static bool ack_withheld(const Raft *r)
{
    return r->amnesiac && r->bug != BUG_NAIVE_RECOVERY;
}

/* Figure 2, AppendEntries RPC, receiver implementation, rules 1 to 5. */
static void on_append(FlNode *n, Raft *r, uint32_t from, const RaftMsg *m)
{
    RaftMsg reply = { .type = RAFT_MSG_APPEND_REPLY };
    reply.append_reply.read_seq = m->append.read_seq;
    /* Rule 1: reply false if term < currentTerm. */
    if (m->term < r->term) {
        reply.term = r->term;
        reply.append_reply.amnesiac = ack_withheld(r);
        send_msg(n, r, from, &reply);
        return;
    }
    /* §5.2: a leader of our term (or a newer one) makes us its follower. */
    if (m->term > r->term || r->role != FOLLOWER)
        become_follower(n, r, m->term, from);
    r->leader = from;
    r->leader_contact = fl_now(n);
    reset_election_timer(n, r);
    reply.term = r->term;

    /* Rule 2: reply false if the log has no entry at prevLogIndex whose
     * term matches prevLogTerm.  The no-log-check bug only checks that
     * there is an entry there. */
    const uint64_t prev = m->append.prev_index;
    bool ok = r->bug == BUG_NO_LOG_CHECK
                  ? prev <= last_index(r)
                  : raft_log_match(&r->log, prev, m->append.prev_term);
    if (!ok) {
        reply.append_reply.index = raft_log_conflict_hint(&r->log, prev, r->commit);
        reply.append_reply.amnesiac = ack_withheld(r);
        send_msg(n, r, from, &reply);
        return;
    }
    /* Rules 3 and 4, then durable before the reply. */
    uint64_t changed = raft_log_merge(&r->log, prev, m->append.entries, m->append.n);
    if (changed) {
        persist_entries(n, r, changed);
        refresh_conf(n, r);
    }
    /* A correct cluster never cuts a committed entry here (Leader
     * Completeness); the commit-old-term and no-log-check bugs can, and so
     * can a message changed on the wire (the `attacker` fault: Raft has no
     * integrity check of its own, so a tampered prevLogIndex is believed).
     * Peer data, so no assertion: like an implementation without a check
     * for it (etcd panics instead), the node forgets its commit point past
     * the new end and later applies the new entries over a state machine
     * that already holds the old ones. */
    if (r->commit > last_index(r)) {
        r->commit = last_index(r);
        if (r->applied > r->commit)
            r->applied = r->commit;
        fl_metric_add(n, "raft.committed_cut", 1);
    }
    uint64_t match = prev + m->append.n;
    /* Rule 5: commitIndex = min(leaderCommit, index of last new entry). */
    uint64_t c = m->append.commit < match ? m->append.commit : match;
    if (c > r->commit) {
        r->commit = c;
        log_commit(n, c);
        apply_committed(n, r);
    }
    cure_amnesia(n, r, m->term, match, m->append.commit, m->append.amnesia_seen);
    reply.append_reply.success = true;
    reply.append_reply.index = match;
    reply.append_reply.amnesiac = ack_withheld(r);   /* note 11: not counted while set */
    send_msg(n, r, from, &reply);
}

/* What any reply from a follower of our term tells the leader: it is alive
 * (check-quorum) and it answered ReadIndex round @read_seq. */
static Peer *leader_heard(FlNode *n, Raft *r, uint32_t from, uint64_t term, uint64_t read_seq,
                          bool amnesiac)
{
    if (term > r->term) {
        become_follower(n, r, term, RAFT_NO_NODE);
        return NULL;
    }
    if (r->role != LEADER || term != r->term)
        return NULL;
    Peer *p = &r->peers[from];
    p->last_ack = fl_now(n);
    /* Note 11: a recovering follower may have forgotten a newer term, so
     * it confirms neither a commit nor our leadership for a read. */
    p->amnesiac = amnesiac;
    if (!amnesiac && read_seq <= r->read_seq && read_seq > p->read_acked)
        p->read_acked = read_seq;
    return p;
}

/* Figure 2, rules for leaders: on success update nextIndex and matchIndex;
 * on failure decrement nextIndex (here: jump to the follower's hint) and
 * retry. */
static void on_append_reply(FlNode *n, Raft *r, uint32_t from, const RaftMsg *m)
{
    Peer *p = leader_heard(n, r, from, m->term, m->append_reply.read_seq,
                           m->append_reply.amnesiac);
    if (!p)
        return;
    uint64_t last = last_index(r);
    uint64_t index = m->append_reply.index;
    if (index > last)
        return;   /* more than we ever sent: not to be trusted */
    if (m->append_reply.success) {
        /* A recovering follower says what it holds now, which may be less
         * than it acknowledged before its disk was damaged (note 11). */
        if (index > p->match || m->append_reply.amnesiac)
            p->match = index;
        if (p->next < p->match + 1)
            p->next = p->match + 1;
        p->replicating = true;
        advance_commit(n, r);
        if (r->role == LEADER && p->next <= last_index(r))
            send_append(n, r, from);
    } else {
        /* Entries it acknowledged are gone if it is recovering (note 11):
         * probe back from its hint, below what it had matched. */
        if (m->append_reply.amnesiac)
            p->match = 0;
        uint64_t next = index + 1 > p->match + 1 ? index + 1 : p->match + 1;
        if (next < p->next) {
            p->next = next;
            p->replicating = false;
            send_append(n, r, from);
        }
    }
    serve_reads(n, r);
}

/* Figure 13, InstallSnapshot RPC, receiver implementation: chunks are
 * written at their offset until the last one, then the snapshot replaces
 * the store and the log up to its last included index. */
static void install_snapshot(FlNode *n, Raft *r)
{
    FlStore *s = fl_store_new();
    FlReader rd;
    fl_reader_init(&rd, r->snap_in->data, r->snap_in->len);
    RaftConf at = r->base_conf;
    if ((r->membership && !raft_conf_get(&rd, r->nodes, &at)) || !fl_store_decode(s, &rd) ||
        !fl_reader_done(&rd)) {
        fl_store_free(s);
        g_byte_array_set_size(r->snap_in, 0);
        return;   /* a snapshot that does not decode is dropped */
    }
    fl_store_free(r->store);
    r->store = s;
    raft_log_install(&r->log, r->snap_in_index, r->snap_in_term);
    if (r->snap)
        g_byte_array_unref(r->snap);
    r->snap = r->snap_in;
    r->snap_in = NULL;
    r->commit = r->applied = r->log.base;
    r->base_conf = at;
    refresh_conf(n, r);
    persist_snapshot(n, r);
    fl_log(n, "installed snapshot at %" PRIu64 "; commit %" PRIu64, r->log.base, r->commit);
}

static void on_snap(FlNode *n, Raft *r, uint32_t from, const RaftMsg *m)
{
    RaftMsg reply = { .type = RAFT_MSG_SNAP_REPLY };
    reply.snap_reply.last_index = m->snap.last_index;
    reply.snap_reply.read_seq = m->snap.read_seq;
    /* Rule 1: reply immediately if term < currentTerm. */
    reply.snap_reply.amnesiac = ack_withheld(r);   /* note 11; a snapshot does not cure it */
    if (m->term < r->term) {
        reply.term = r->term;
        send_msg(n, r, from, &reply);
        return;
    }
    if (m->term > r->term || r->role != FOLLOWER)
        become_follower(n, r, m->term, from);
    r->leader = from;
    r->leader_contact = fl_now(n);
    reset_election_timer(n, r);
    reply.term = r->term;
    if (m->snap.last_index <= r->commit) {
        /* We hold it all, committed: say so. */
        if (r->bug == BUG_NAIVE_RECOVERY)
            cure_amnesia(n, r, m->term, 0, 0, false);
        reply.snap_reply.offset = m->snap.total;
        send_msg(n, r, from, &reply);
        return;
    }
    bool same = r->snap_in && r->snap_in_index == m->snap.last_index &&
                r->snap_in_term == m->snap.last_term && r->snap_in_total == m->snap.total;
    if (!same) {
        /* Rule 2: a new snapshot starts at offset 0. */
        if (m->snap.offset != 0) {
            send_msg(n, r, from, &reply);
            return;
        }
        if (!r->snap_in)
            r->snap_in = g_byte_array_new();
        g_byte_array_set_size(r->snap_in, 0);
        r->snap_in_index = m->snap.last_index;
        r->snap_in_term = m->snap.last_term;
        r->snap_in_total = m->snap.total;
    }
    /* Rules 3 and 4: write the chunk at its offset (in order only). */
    if (m->snap.offset == r->snap_in->len)
        g_byte_array_append(r->snap_in, m->snap.data, (guint)m->snap.len);
    reply.snap_reply.offset = r->snap_in->len;
    /* Rules 5 to 8: the last chunk installs it. */
    if (r->snap_in->len == r->snap_in_total) {
        install_snapshot(n, r);
        reply.snap_reply.offset = r->snap_in ? 0 : m->snap.total;
        if (!r->snap_in && r->bug == BUG_NAIVE_RECOVERY)
            cure_amnesia(n, r, m->term, 0, 0, false);
    }
    send_msg(n, r, from, &reply);
}

static void on_snap_reply(FlNode *n, Raft *r, uint32_t from, const RaftMsg *m)
{
    Peer *p = leader_heard(n, r, from, m->term, m->snap_reply.read_seq,
                           m->snap_reply.amnesiac);
    if (!p)
        return;
    if (r->snap && m->snap_reply.last_index == r->log.base && m->snap_reply.offset <= r->snap->len) {
        p->snap_offset = m->snap_reply.offset;
        if (p->snap_offset == r->snap->len) {
            /* Installed: the follower now matches up to the base. */
            p->snap_offset = 0;
            if (p->match < r->log.base)
                p->match = r->log.base;
            if (p->next <= r->log.base)
                p->next = r->log.base + 1;
            p->replicating = true;
            advance_commit(n, r);
            if (r->role == LEADER && p->next <= last_index(r))
                send_append(n, r, from);
        } else if (p->next <= r->log.base) {
            send_snapshot(n, r, from);
        }
    }
    serve_reads(n, r);
}

static void raft_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Raft *r = state;
    RaftMsg m;
    RaftEntry entries[16];   /* most AppendEntries carry a few entries at most */
    if (from >= r->nodes || from == r->self ||
        !raft_msg_decode_into(msg, len, &m, entries, G_N_ELEMENTS(entries)))
        return;   /* not from a peer, or malformed: dropped */
    switch (m.type) {
    case RAFT_MSG_VOTE: on_vote(n, r, from, &m); break;
    case RAFT_MSG_VOTE_REPLY: on_vote_reply(n, r, from, &m); break;
    case RAFT_MSG_APPEND: on_append(n, r, from, &m); break;
    case RAFT_MSG_APPEND_REPLY: on_append_reply(n, r, from, &m); break;
    case RAFT_MSG_SNAP: on_snap(n, r, from, &m); break;
    case RAFT_MSG_SNAP_REPLY: on_snap_reply(n, r, from, &m); break;
    default: break;
    }
    raft_msg_clear(&m);
    invariants(r);
}

/* ---- Timers ---------------------------------------------------------- */

/* Figure 2, rules for followers and candidates: if the election timeout
 * elapses without hearing from a leader or granting a vote, start an
 * election (a pre-vote first, note 6). */
static void on_election_timer(FlNode *n, Raft *r)
{
    r->election_tag = 0;
    if (r->role == LEADER)
        return;
    FlTime now = fl_now(n);
    if (now < r->election_deadline) {
        r->election_timer = arm(n, r, (FlDuration)(r->election_deadline - now), TIMER_ELECTION,
                                &r->election_tag);
        r->election_fires = r->election_deadline;
        return;
    }
    reset_election_timer(n, r);   /* to try again if this round fails */
    if (r->amnesiac)
        return;   /* note 11: it must not lead either */
    if (!is_voter(r, r->self))
        return;   /* note 14: learners and spares do not campaign */
    if (r->prevote)
        start_prevote(n, r);
    else
        start_election(n, r);
}

/* Figure 2, rules for leaders: heartbeats during idle periods, which also
 * retransmit what was lost (note 3); thesis §6.2: check quorum. */
static void on_heartbeat_timer(FlNode *n, Raft *r)
{
    r->heartbeat_timer = arm(n, r, r->heartbeat, TIMER_HEARTBEAT, &r->heartbeat_tag);
    if (r->check_quorum && since(n, r->leader_since) >= r->election_lo) {
        uint32_t alive = 1;
        uint64_t alive_set = r->membership ? UINT64_C(1) << r->self : 0;
        for (uint32_t i = 0; i < r->nodes; i++)
            if (i != r->self && since(n, r->peers[i].last_ack) < r->election_lo) {
                alive++;
                if (r->membership)
                    alive_set |= UINT64_C(1) << i;
            }
        if (r->membership ? !raft_conf_quorum(&r->conf, alive_set) : alive < majority(r)) {
            fl_log(n, "term %" PRIu64 ": lost touch with a majority, stepping down", r->term);
            become_follower(n, r, r->term, RAFT_NO_NODE);
            return;
        }
    }
    for (uint32_t i = 0; i < r->nodes; i++) {
        if (!reaches(r, i))
            continue;
        Peer *p = &r->peers[i];
        if (p->replicating)
            p->next = p->match + 1;
        if (fl_buggify(n, "raft.heartbeat-skipped"))
            continue;   /* note 12: as if this one were lost */
        send_append(n, r, i);
    }
    maybe_reconfigure(n, r);
}

static void raft_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Raft *r = state;
    if (tag == 0)
        return;
    if (tag == r->election_tag)
        on_election_timer(n, r);
    else if (tag == r->heartbeat_tag && r->role == LEADER)
        on_heartbeat_timer(n, r);
    else if (tag == r->flush_tag)
        flush(n, r);
    invariants(r);
}

/* ---- Client requests (note 8) --------------------------------------- */

static void on_request(FlNode *n, Raft *r, const FlRequest *req)
{
    if (r->role != LEADER) {
        fl_reply_redirect(n, req, r->leader);
        return;
    }
    if (req->op.kind == FL_OP_NOOP) {
        fl_reply_fail(n, req);   /* not a client operation */
        return;
    }
    if (fl_op_is_read(req->op.kind)) {
        if (r->bug == BUG_STALE_READ) {
            FlResult res;
            fl_store_read(r->store, &req->op, &res);
            fl_reply(n, req, &res);
            return;
        }
        Read rd = { .req = *req, .seq = r->read_seq + 1 };
        g_array_append_val(r->reads, rd);
        serve_reads(n, r);
        return;
    }
    /* A request this leader already proposed (a retry or a duplicate) is
     * answered when that entry applies. */
    for (guint i = 0; i < r->pending->len; i++) {
        const Pending *p = &g_array_index(r->pending, Pending, i);
        if (p->req.client == req->client && p->req.id == req->id)
            return;
    }
    RaftEntry e = { .term = r->term, .req = *req };
    raft_log_append(&r->log, &e);
    persist_entries(n, r, last_index(r));
    Pending p = { .index = last_index(r), .term = r->term, .req = *req, .proposed = fl_now(n) };
    g_array_append_val(r->pending, p);
    for (uint32_t i = 0; i < r->nodes; i++)
        if (reaches(r, i) && r->peers[i].replicating && r->peers[i].next <= last_index(r))
            send_append(n, r, i);
    advance_commit(n, r);
}

/* ---- Membership changes (note 14) ---------------------------------- */

/* Proposes @next, one server away from the current configuration (thesis
 * §4.1); it takes effect here at once. */
static void propose_conf(FlNode *n, Raft *r, const RaftConf *next)
{
    g_assert(raft_conf_single_change(&r->conf, next));
    g_assert(raft_conf_valid(next, r->nodes));
    RaftEntry e;
    raft_conf_entry(&e, r->term, next);
    raft_log_append(&r->log, &e);
    persist_entries(n, r, last_index(r));
    refresh_conf(n, r);
    r->last_change = fl_now(n);
    fl_metric_add(n, "raft.conf_changes", 1);
    for (uint32_t i = 0; i < r->nodes; i++)
        if (reaches(r, i) && r->peers[i].next <= last_index(r))
            send_append(n, r, i);
    advance_commit(n, r);
}

/* Note 14: the leader's plan.  A change starts only once the previous one
 * is committed and, the 2015 fix, once an entry of the leader's own term
 * is (the change-before-noop bug skips that).  A learner is promoted when
 * it holds everything committed (thesis §4.2.1's catch-up, in one round),
 * or dropped if it has not caught up after five periods (it may be down);
 * otherwise the leader adds a spare as a learner or removes a voter, at
 * random from its own stream, keeping at least min_voters voters. */
static void maybe_reconfigure(FlNode *n, Raft *r)
{
    if (!r->membership || r->reconfigure_every == 0 || r->role != LEADER)
        return;
    if (since(n, r->last_change) < r->reconfigure_every)
        return;
    if (r->conf_index > r->commit)
        return;   /* the previous change is not committed */
    if (r->bug != BUG_CHANGE_BEFORE_NOOP && r->commit < r->term_start)
        return;   /* no entry of this term committed yet */
    RaftConf next = r->conf;
    for (uint32_t i = 0; i < r->nodes; i++) {
        if (!(r->conf.learners >> i & 1))
            continue;
        const Peer *p = &r->peers[i];
        if (i != r->self && p->match >= r->commit && !p->amnesiac) {
            next.learners &= ~(UINT64_C(1) << i);
            next.voters |= UINT64_C(1) << i;
        } else if (since(n, r->last_change) >= 5 * r->reconfigure_every) {
            next.learners &= ~(UINT64_C(1) << i);
        } else {
            return;   /* still catching up */
        }
        propose_conf(n, r, &next);
        return;
    }
    uint64_t all = raft_conf_all(r->nodes).voters;
    uint64_t spares = all & ~(r->conf.voters | r->conf.learners);
    uint32_t nv = (uint32_t)__builtin_popcountll(r->conf.voters);
    uint64_t pick = fl_random(n);
    uint64_t from;
    if (spares && (nv <= r->min_voters || (pick & 1)))
        from = spares;
    else if (nv > r->min_voters)
        from = r->conf.voters;
    else
        return;
    /* The k-th member of @from, counting from node 0. */
    uint64_t k = (pick >> 1) % (uint64_t)__builtin_popcountll(from);
    uint32_t who = 0;
    for (uint32_t i = 0; i < r->nodes; i++)
        if ((from >> i & 1) && k-- == 0) {
            who = i;
            break;
        }
    if (from == spares)
        next.learners |= UINT64_C(1) << who;
    else
        next.voters &= ~(UINT64_C(1) << who);
    propose_conf(n, r, &next);
}

static void raft_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Raft *r = state;
    on_request(n, r, req);
    invariants(r);
}

/* ---- Start, recovery, teardown --------------------------------------- */

static Bug parse_bug(const char *s)
{
    if (strcmp(s, "commit-old-term") == 0)
        return BUG_COMMIT_OLD_TERM;
    if (strcmp(s, "no-persist") == 0)
        return BUG_NO_PERSIST;
    if (strcmp(s, "stale-read") == 0)
        return BUG_STALE_READ;
    if (strcmp(s, "no-log-check") == 0)
        return BUG_NO_LOG_CHECK;
    if (strcmp(s, "naive-recovery") == 0)
        return BUG_NAIVE_RECOVERY;
    if (strcmp(s, "change-before-noop") == 0)
        return BUG_CHANGE_BEFORE_NOOP;
    return BUG_NONE;
}

/* Rebuilds the persistent state from the disk: the snapshot if it is
 * whole, then the newer whole WAL of the two up to its first bad record,
 * reconciled with the snapshot as InstallSnapshot would (Figure 13, rules 6
 * and 7).  Any damage found makes the node amnesiac (note 11). */
static void load_disk(FlNode *n, Raft *r)
{
    bool damaged = false;
    size_t len;
    const uint8_t *p = fl_disk_view(n, RAFT_SNAP, &len);
    uint64_t snap_index = 0, snap_term = 0;
    const uint8_t *data;
    size_t data_len;
    if (p && raft_snap_get(p, len, &snap_index, &snap_term, &data, &data_len)) {
        FlReader rd;
        fl_reader_init(&rd, data, data_len);
        if ((!r->membership || raft_conf_get(&rd, r->nodes, &r->base_conf)) &&
            fl_store_decode(r->store, &rd) && fl_reader_done(&rd)) {
            r->snap = g_byte_array_sized_new((guint)data_len);
            g_byte_array_append(r->snap, data, (guint)data_len);
        } else {
            snap_index = snap_term = 0;
            damaged = true;
        }
    } else if (p) {
        snap_index = snap_term = 0;
        damaged = true;
    }

    RaftLog other;
    raft_log_init(&other);
    RaftDurable d[2];
    size_t lens[2];
    p = fl_disk_view(n, RAFT_WAL_0, &lens[0]);
    raft_wal_replay(p, lens[0], &r->log, &d[0]);
    p = fl_disk_view(n, RAFT_WAL_1, &lens[1]);
    raft_wal_replay(p, lens[1], &other, &d[1]);
    int use = 0;
    if (d[1].whole && (!d[0].whole || d[1].gen > d[0].gen)) {
        RaftLog t = r->log;
        r->log = other;
        other = t;
        use = 1;
    }
    raft_log_deinit(&other);
    /* A torn tail on the WAL we use, or another file that is not a whole
     * WAL (a torn rewrite, a corrupt header), means something synced is
     * gone. */
    if (d[use].torn || (lens[!use] > 0 && !d[!use].whole))
        damaged = true;
    r->wal_gen = d[use].whole ? d[use].gen : 0;
    r->term = d[use].term;
    r->vote = d[use].vote < r->nodes ? d[use].vote : RAFT_NO_NODE;
    if (r->log.base > snap_index) {
        /* The WAL was compacted by a snapshot that did not survive: what it
         * covered is lost with it. */
        raft_log_clear(&r->log, snap_index, snap_term);
        damaged = true;
    } else {
        raft_log_install(&r->log, snap_index, snap_term);
    }
    r->commit = r->applied = r->log.base;
    refresh_conf(n, r);
    if (d[use].amnesia_term) {
        /* Note 11: damage found at an earlier start, not yet recovered from;
         * the rewrite since then hid it from the checksums. */
        r->amnesiac = true;
        r->amnesia_term = d[use].amnesia_term;
    }
    if (damaged) {
        uint64_t t = r->term > last_term(r) ? r->term : last_term(r);
        if (!r->amnesiac || t > r->amnesia_term)
            r->amnesia_term = t;
        r->amnesiac = true;
        /* Our vote in this term may be what was lost: count it as cast. */
        if (r->term < r->amnesia_term)
            r->term = r->amnesia_term;
        r->vote = r->self;
    }
    persist_all(n, r);
    if (r->term || r->log.base || last_index(r))
        fl_log(n, "recovered: term %" PRIu64 ", log %" PRIu64 "..%" PRIu64, r->term,
               r->log.base, last_index(r));
    if (damaged)
        fl_log(n, "disk damage found: no votes until a leader has caught us up");
    else if (r->amnesiac)
        fl_log(n, "still recovering from disk damage: no votes until a leader has caught us up");
}

static void raft_init(FlNode *n, void *state)
{
    Raft *r = state;
    r->self = fl_self(n);
    r->nodes = fl_nodes(n);
    fl_param_range(n, "election_timeout", &r->election_lo, &r->election_hi);
    if (r->election_lo < 1)
        r->election_lo = 1;
    if (r->election_hi < r->election_lo)
        r->election_hi = r->election_lo;
    r->heartbeat = fl_param_duration(n, "heartbeat");
    r->max_batch = (uint32_t)fl_param_int(n, "max_batch");
    r->snapshot_entries = (uint64_t)fl_param_int(n, "snapshot_entries");
    r->snapshot_chunk = (uint32_t)fl_param_int(n, "snapshot_chunk");
    r->prevote = fl_param_bool(n, "prevote");
    r->check_quorum = fl_param_bool(n, "check_quorum");
    r->bug = parse_bug(fl_param_enum(n, "bug"));
    r->reconfigure_every = fl_param_duration(n, "reconfigure_every");
    r->min_voters = (uint32_t)fl_param_int(n, "min_voters");
    /* Note 14: membership is in use when some node starts as a spare or
     * changes are planned; otherwise every node votes, as before. */
    uint32_t voters = (uint32_t)fl_param_int(n, "voters");
    r->membership = r->nodes <= RAFT_CONF_MAX_NODES &&
                    ((voters > 0 && voters < r->nodes) || r->reconfigure_every > 0);
    if (r->membership) {
        r->base_conf = raft_conf_all(voters > 0 && voters < r->nodes ? voters : r->nodes);
        r->conf = r->base_conf;
    }
    r->vote = RAFT_NO_NODE;
    r->leader = RAFT_NO_NODE;
    raft_log_init(&r->log);
    r->store = fl_store_new();
    r->peers = g_new0(Peer, r->nodes);
    r->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
    r->reads = g_array_new(FALSE, FALSE, sizeof(Read));
    load_disk(n, r);
    r->role = FOLLOWER;
    fl_role(n, "follower");
    r->leader_contact = fl_now(n);
    reset_election_timer(n, r);
    invariants(r);
}

static void raft_destroy(FlNode *n, void *state)
{
    Raft *r = state;
    raft_log_deinit(&r->log);
    fl_store_free(r->store);
    if (r->snap)
        g_byte_array_unref(r->snap);
    if (r->snap_in)
        g_byte_array_unref(r->snap_in);
    g_free(r->peers);
    if (r->pending)
        g_array_free(r->pending, TRUE);
    if (r->reads)
        g_array_free(r->reads, TRUE);
}

/* ---- Exploration (note 13) ------------------------------------------ */

static uint64_t raft_digest(const void *state)
{
    const Raft *r = state;
    uint64_t h = fl_digest_mix(fl_digest_mix(fl_digest_mix(r->term, r->vote), r->role), r->leader);
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, r->commit), r->applied), fl_store_hash(r->store));
    h = fl_digest_mix(fl_digest_mix(h, r->log.base), r->log.base_term);
    for (guint k = 0; k < r->log.entries->len; k++) {
        const RaftEntry *e = &g_array_index(r->log.entries, RaftEntry, k);
        h = fl_digest_request(fl_digest_mix(h, e->term), &e->req);
    }
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, r->election_tag != 0), r->heartbeat_tag != 0), r->flush_tag != 0);
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, r->amnesiac), r->amnesia_term), r->snap ? r->snap->len : 0);
    if (r->snap_in)
        h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, r->snap_in->len), r->snap_in_index), r->snap_in_term);
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, r->dirty_wal[0]), r->dirty_wal[1]), r->dirty_snap);
    if (r->membership)   /* note 14: follows from the log, save the snapshot's */
        h = fl_digest_mix(fl_digest_mix(h, r->base_conf.voters), r->base_conf.learners);
    if (r->role != LEADER)
        return h;
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, r->term_start), r->read_seq), r->read_done);
    for (uint32_t i = 0; i < r->nodes; i++) {
        const Peer *p = &r->peers[i];
        h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, p->next), p->match), p->replicating);
        h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, p->read_acked), p->snap_offset), p->amnesiac);
    }
    for (guint k = 0; k < r->pending->len; k++) {
        const Pending *p = &g_array_index(r->pending, Pending, k);
        h = fl_digest_request(fl_digest_mix(fl_digest_mix(h, p->index), p->term), &p->req);
    }
    for (guint k = 0; k < r->reads->len; k++) {
        const Read *rd = &g_array_index(r->reads, Read, k);
        h = fl_digest_request(fl_digest_mix(fl_digest_mix(fl_digest_mix(h, rd->seq), rd->has_index), rd->index), &rd->req);
    }
    return h;
}

/* The entry at @index of @r's log, or NULL when compacted or absent. */
static const RaftEntry *entry_at(const Raft *r, uint64_t index)
{
    if (index <= r->log.base || index > last_index(r))
        return NULL;
    return &g_array_index(r->log.entries, RaftEntry, index - r->log.base - 1);
}

static bool same_entry(const RaftEntry *a, const RaftEntry *b)
{
    return a->term == b->term && a->req.client == b->req.client && a->req.id == b->req.id &&
           a->req.op.kind == b->req.op.kind;
}

/* Figure 3's safety properties over the live nodes (note 13). */
static bool raft_invariant(const void *const *states, uint32_t nodes, GString *why)
{
    for (uint32_t i = 0; i < nodes; i++) {
        const Raft *a = states[i];
        if (!a)
            continue;
        for (uint32_t j = i + 1; j < nodes; j++) {
            const Raft *b = states[j];
            if (!b)
                continue;
            if (a->role == LEADER && b->role == LEADER && a->term == b->term) {
                g_string_append_printf(why, "election safety: nodes %u and %u both lead term %"
                                       PRIu64, i, j, a->term);
                return false;
            }
            uint64_t lo = (a->log.base > b->log.base ? a->log.base : b->log.base) + 1;
            uint64_t hi = last_index(a) < last_index(b) ? last_index(a) : last_index(b);
            /* Log Matching: below the highest index where the terms agree,
             * everything agrees. */
            uint64_t top = 0;
            for (uint64_t k = hi; k >= lo && k > 0; k--) {
                if (entry_at(a, k)->term == entry_at(b, k)->term) {
                    top = k;
                    break;
                }
            }
            for (uint64_t k = lo; k <= top; k++) {
                if (!same_entry(entry_at(a, k), entry_at(b, k))) {
                    g_string_append_printf(
                        why, "log matching: nodes %u and %u agree on the term of index %" PRIu64
                        " (%" PRIu64 ") but differ at index %" PRIu64 " (terms %" PRIu64 " and %"
                        PRIu64 ")", i, j, top, entry_at(a, top)->term, k, entry_at(a, k)->term,
                        entry_at(b, k)->term);
                    return false;
                }
            }
            /* State Machine Safety: what both committed is the same. */
            uint64_t c = a->commit < b->commit ? a->commit : b->commit;
            for (uint64_t k = lo; k <= c && k <= hi; k++) {
                if (!same_entry(entry_at(a, k), entry_at(b, k))) {
                    g_string_append_printf(
                        why, "state machine safety: nodes %u and %u both committed index %" PRIu64
                        " with different entries (terms %" PRIu64 " and %" PRIu64 ")", i, j, k,
                        entry_at(a, k)->term, entry_at(b, k)->term);
                    return false;
                }
            }
        }
    }
    return true;
}

/* Names a message's kind for faults aimed at protocol events (the
 * `trigger` fault): the first byte is the type (a pre-vote is a RequestVote too).  NULL for
 * a type this protocol does not send. */
static const char *raft_msg_kind(const uint8_t *msg, size_t len)
{
    static const char *const names[] = {
        [RAFT_MSG_VOTE] = "RequestVote",
        [RAFT_MSG_VOTE_REPLY] = "RequestVoteReply",
        [RAFT_MSG_APPEND] = "AppendEntries",
        [RAFT_MSG_APPEND_REPLY] = "AppendEntriesReply",
        [RAFT_MSG_SNAP] = "InstallSnapshot",
        [RAFT_MSG_SNAP_REPLY] = "InstallSnapshotReply",
    };
    if (len == 0 || msg[0] >= G_N_ELEMENTS(names))
        return NULL;
    return names[msg[0]];
}

/* FlProtocol.check_params: note 14's configurations are bitmaps of 64
 * nodes, and `voters` names the first k of the cluster's nodes. */
static const FlParamValue *param_value(const FlParamValue *values, const char *name)
{
    for (size_t i = 0; raft_params[i].name; i++)
        if (strcmp(raft_params[i].name, name) == 0)
            return &values[i];
    g_assert_not_reached();
}

static bool raft_check_params(const FlParamValue *values, uint32_t nodes, const char **bad,
                              GString *why)
{
    int64_t voters = param_value(values, "voters")->i;
    int64_t every = param_value(values, "reconfigure_every")->i;
    if (voters > (int64_t)nodes) {
        *bad = "voters";
        g_string_printf(why, "expected at most the %u nodes of the cluster, got %" PRId64,
                        nodes, voters);
        return false;
    }
    if (nodes > RAFT_CONF_MAX_NODES && ((voters > 0 && voters < (int64_t)nodes) || every > 0)) {
        *bad = voters > 0 && voters < (int64_t)nodes ? "voters" : "reconfigure_every";
        g_string_printf(why, "membership changes need at most %d nodes (the cluster has %u); "
                        "leave out voters and reconfigure_every", RAFT_CONF_MAX_NODES, nodes);
        return false;
    }
    return true;
}

const FlProtocol fl_proto_raft = {
    .name = "raft",
    .summary = "Raft: leader election with pre-vote, log replication, snapshots, ReadIndex reads",
    .params = raft_params,
    .state_size = sizeof(Raft),
    .init = raft_init,
    .recover = raft_init,
    .destroy = raft_destroy,
    .on_message = raft_on_message,
    .on_timer = raft_on_timer,
    .on_request = raft_on_request,
    .msg_kind = raft_msg_kind,
    .kinds = "RequestVote|RequestVoteReply|AppendEntries|AppendEntriesReply|InstallSnapshot|InstallSnapshotReply",
    .fields = raft_msg_fields,
    .digest = raft_digest,
    .invariant = raft_invariant,
    .check_params = raft_check_params,
};
