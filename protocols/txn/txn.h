/* protocols/txn: atomic commitment of bank transfers (2PC and 3PC).
 *
 * What the two protocols share: where accounts live, the messages and
 * their encoding, the participants' ledger (balances, locks, the record of
 * each transaction, the synced log and its replay), the coordinator's
 * records and log, audits for the final read phase, and the queue that
 * carries a node's messages to itself (a node may coordinate a transaction
 * it also takes part in).  twopc.c and threepc.c hold what differs: what a
 * participant does when the coordinator falls silent.
 *
 * Placement: with `coordinators: "all"` every node coordinates the
 * transfers clients send it and holds accounts k with k % nodes == self;
 * with `coordinators: "one"` node 0 coordinates every transfer and holds no
 * account, and node 1 + k % (nodes - 1) holds account k.
 *
 * A transaction's participants are the holders of its two accounts (one
 * node when both live together).  Ids are the workload's (unique in a run). */
#pragma once

#include "sim/node.h"

#include <glib.h>

typedef enum {
    TS_NONE = 0,
    TS_READY,        /* voted yes, uncertain ("w" in Skeen's diagrams) */
    TS_PRECOMMIT,    /* 3PC: knows everyone voted yes ("p") */
    TS_COMMITTED,
    TS_ABORTED,
} TxnState;

enum {
    TXN_PREPARE = 1,   /* info: vote on it */
    TXN_VOTE,          /* id, yes */
    TXN_PRECOMMIT,     /* id (3PC) */
    TXN_ACK,           /* id, what (TXN_ACK_*) */
    TXN_DECISION,      /* id, TS_COMMITTED or TS_ABORTED */
    TXN_STATE_REQ,     /* info: what do you know about it? */
    TXN_STATE,         /* id, state (TS_NONE: a coordinator alive but undecided) */
};
enum { TXN_ACK_PRECOMMIT = 1, TXN_ACK_DECISION };

/* Names a message's kind for faults aimed at protocol events (the `trigger`
 * fault), as the textbooks do: a vote is VOTE-YES or VOTE-NO and a decision
 * COMMIT or ABORT, so a scenario can crash a node right after one of them.
 * NULL when the bytes are no message of ours.  Messages a node queues to
 * itself are not sent, and never named. */
const char *txn_msg_kind(const uint8_t *msg, size_t len);
#define TXN_KINDS_2PC "PREPARE|VOTE-YES|VOTE-NO|ACK|COMMIT|ABORT|STATE-REQ|STATE"
#define TXN_KINDS_3PC "PREPARE|VOTE-YES|VOTE-NO|PRECOMMIT|ACK|COMMIT|ABORT|STATE-REQ|STATE"

enum { TXN_TIMER_TICK = 1, TXN_TIMER_SELF };

#define TXN_MAX_PARTS 2
/* Records a node keeps (one per transaction it saw); past this it refuses
 * new transactions, and says so in the trace. */
#define TXN_MAX_RECORDS (1u << 20)

typedef struct TxnInfo {
    uint64_t id;
    uint32_t from, to;       /* accounts */
    int64_t amount;
    uint32_t coord;          /* the node that coordinates it */
    uint8_t nparts;
    uint32_t parts[TXN_MAX_PARTS];   /* ascending */
} TxnInfo;

/* 3PC termination, at one participant (threepc.c). */
enum { TERM_NONE = 0, TERM_COLLECT, TERM_WAIT, TERM_PRECOMMIT };

/* A participant's record of one transaction. */
typedef struct TxnPart {
    TxnInfo info;
    bool known;              /* info filled in (an abort may come before the prepare) */
    uint8_t state;           /* TxnState */
    bool recovered;          /* rebuilt from the log after a crash, still undecided */
    FlTime deadline;         /* local time: when to stop waiting (see twopc.c, threepc.c) */
    FlTime blocked_since;    /* local time it began waiting past its timeout; 0: not */
    FlTime blocked_counted;  /* up to when txn.blocked_ms already holds its wait */
    bool active;             /* listed in TxnNode.active_parts */
    uint8_t term;            /* TERM_* */
    uint8_t seen[TXN_MAX_PARTS];   /* states collected in termination; TS_NONE: no answer */
    uint8_t acks;            /* bit i: parts[i] acknowledged this backup's precommit */
    uint8_t alive;           /* bit i: parts[i] answered the last collection */
    bool coord_heard;        /* the coordinator (not a participant) answered it */
} TxnPart;

typedef enum { CP_VOTING = 1, CP_PRECOMMITTING, CP_DECIDED, CP_DONE, CP_ASKING } TxnCoordPhase;

/* A coordinator's record of one transaction. */
typedef struct TxnCoord {
    TxnInfo info;
    uint8_t phase;           /* TxnCoordPhase */
    uint8_t decision;        /* TS_COMMITTED or TS_ABORTED once decided */
    uint8_t votes, acks;     /* bit i: parts[i] */
    bool has_client;
    FlRequest req;           /* the client's request, while it waits */
    FlTime deadline, retry_at;
    bool active;
} TxnCoord;

typedef struct TxnNode {
    bool three;              /* 3PC */
    bool one_coordinator;
    bool cooperative;        /* 2PC: blocked participants ask each other */
    bool sync;               /* false: the log is never synced (a bug, on purpose) */
    FlDuration timeout, retry, tick;
    int64_t initial;
    GArray *balance;         /* int64_t per account (index: account) */
    GArray *lock;            /* uint64_t per account: the transaction holding it, 0: free */
    GTree *parts;            /* id -> TxnPart*, owned */
    GTree *coords;           /* id -> TxnCoord*, owned */
    GPtrArray *active_parts; /* borrowed: records still undecided */
    GPtrArray *active_coords;/* borrowed: records not done */
    GQueue *self_msgs;       /* of GBytes*: messages to ourselves */
    bool self_armed;
    FlTime last_tick;        /* when the tick last fired: only for txn_digest */
} TxnNode;

typedef void (*TxnHandler)(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len);

/* ---- Exploration (`faultline explore`) -------------------------------- */

/* A hash of what decides @t's future: balances, locks, every participant
 * and coordinator record (states, votes, acks, termination progress, the
 * client waiting), the messages queued to itself; deadlines only as whole
 * ticks from the last tick (clipped), since ticks compare them with the
 * clock; other times are left out. */
uint64_t txn_digest(const TxnNode *t);
/* Atomicity across nodes: no two live nodes (participant or coordinator
 * records) hold different decisions for one transaction.  @nodes[i] is
 * NULL while node i is down.  False with a line in @why. */
bool txn_invariant(const TxnNode *const *nodes, uint32_t count, GString *why);

/* ---- Life cycle ------------------------------------------------------ */

void txn_init(FlNode *n, TxnNode *t, bool three);
/* init, then the participant's log and the coordinator's log replayed. */
void txn_recover(FlNode *n, TxnNode *t, bool three);
void txn_destroy(FlNode *n, TxnNode *t);

/* ---- Placement and encoding ------------------------------------------ */

uint32_t txn_holder(const FlNode *n, const TxnNode *t, uint32_t account);
bool txn_holds(const FlNode *n, const TxnNode *t, uint32_t account);
/* Index of @node in @info's participants, or -1. */
int txn_part_index(const TxnInfo *info, uint32_t node);
uint8_t txn_all_parts(const TxnInfo *info);
void txn_info_put(FlWriter *w, const TxnInfo *info);
/* Reads an info and checks it against the placement: false (drop the
 * message) if anything is off. */
bool txn_info_get(FlNode *n, const TxnNode *t, FlReader *r, TxnInfo *info);

/* ---- Messages -------------------------------------------------------- */

/* Sends @len bytes to @to; to ourselves through the self queue. */
void txn_send(FlNode *n, TxnNode *t, uint32_t to, const void *msg, size_t len);
/* Delivers the queued messages to ourselves through @fn (TXN_TIMER_SELF). */
void txn_flush_self(FlNode *n, TxnNode *t, void *state, TxnHandler fn);
void txn_send_info(FlNode *n, TxnNode *t, uint32_t to, uint8_t type, const TxnInfo *info);
void txn_send_id(FlNode *n, TxnNode *t, uint32_t to, uint8_t type, uint64_t id, int extra);

/* ---- Participant ----------------------------------------------------- */

TxnPart *txn_part(TxnNode *t, uint64_t id);
/* Votes on a prepare (common to both protocols). */
void txn_on_prepare(FlNode *n, TxnNode *t, uint32_t from, const TxnInfo *info);
/* Learns decision @d (TS_COMMITTED or TS_ABORTED): logs it synced, then
 * applies it and releases the locks.  @how names who told it, for the
 * metrics: "coordinator", "peer" or "termination". */
void txn_part_decide(FlNode *n, TxnNode *t, TxnPart *p, uint8_t d, const char *how);
void txn_on_decision(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, uint8_t d);
/* Moves a READY participant to PRECOMMIT (3PC), logged. */
void txn_part_precommit(FlNode *n, TxnNode *t, TxnPart *p);
/* Answers a state request (and aborts unilaterally a transaction this
 * node never voted on). */
void txn_on_state_req(FlNode *n, TxnNode *t, uint32_t from, const TxnInfo *info);
/* Starts counting a participant as blocked (if it is not already). */
void txn_part_block(FlNode *n, TxnNode *t, TxnPart *p);
/* Once per tick: adds the time blocked so far to txn.blocked_ms (so the
 * figure is right even for a wait that lasts to the end of the run), and
 * drops decided records from the active list. */
void txn_parts_tick_end(FlNode *n, TxnNode *t);

/* ---- Coordinator ----------------------------------------------------- */

TxnCoord *txn_coord(TxnNode *t, uint64_t id);
void txn_on_request(FlNode *n, TxnNode *t, const FlRequest *req);
void txn_on_vote(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, bool yes);
void txn_on_coord_ack(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, uint8_t what);
void txn_coord_decide(FlNode *n, TxnNode *t, TxnCoord *c, uint8_t d, const char *why);
/* Retransmissions and the coordinator's timeouts, once per tick. */
void txn_coord_tick(FlNode *n, TxnNode *t);

/* Parameters both protocols declare. */
#define TXN_COMMON_PARAMS \
    { "coordinators", FL_PARAM_ENUM, "\"all\"", "all: every node coordinates the transfers sent to it and holds accounts; one: node 0 coordinates every transfer and holds none", "all|one", 0, 0 }, \
    { "timeout", FL_PARAM_DURATION, "\"100ms\"", "coordinator: wait for votes and acks; participant: twice this for the decision before suspecting the coordinator", NULL, 1, 1e12 }, \
    { "retry", FL_PARAM_DURATION, "\"20ms\"", "resend interval for unanswered messages", NULL, 1, 1e12 }, \
    { "initial_balance", FL_PARAM_INT, "100", "every account's opening balance", NULL, 0, 1e12 }, \
    { "sync", FL_PARAM_BOOL, "true", "false: votes and decisions are logged but never synced, so a crash forgets them (a bug, to see the atomic check catch it)", NULL, 0, 0 }
