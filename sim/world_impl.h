/* sim/world_impl: the world's insides, shared by world.c, node.c,
 * client.c, fd.c and choice.c only.  Nothing outside sim/ includes this. */
#pragma once

#include "sim/check/check.h"
#include "sim/rng.h"
#include "sim/sched.h"
#include "sim/sla.h"
#include "sim/workload.h"
#include "sim/world.h"

enum {
    EV_DELIVER = 1,   /* node = to, peer = from, a = len, b = content hash, data = bytes */
    EV_TIMER,         /* node, a = tag, b = incarnation */
    EV_CLIENT,        /* node = client index, a = what, b = request id */
    EV_CALL,          /* data = Call */
    EV_SERVE,         /* as EV_DELIVER: a message its node's CPU has served (resources) */
    EV_DEPART,        /* node = from, peer = to, a = len | incarnation << 32, b = hash, data:
                         a message held until its sender's disk sync ends (resources) */
    EV_END,
};

enum { CLIENT_NEXT = 1, CLIENT_TIMEOUT, CLIENT_RETRY };

/* Message kinds between clients and servers (the engine's own). */
enum { CMSG_REQUEST = 0xC1 };

struct FlNode {
    FlWorld *w;
    uint32_t id;
    const FlProtocol *proto;
    void *state;
    bool up, paused;
    uint32_t incarnation;
    FlRng rng;
    FlDisk *disk;
    int64_t clock_offset;   /* local = global * (1 + drift) + offset */
    double drift;
    /* fl_clock_report: this node's last reported error (believed - true). */
    bool sync_reported;
    int64_t sync_error;
    char role[FL_ROLE_MAX];
    uint64_t role_seq;      /* w->role_changes when its role last changed; 0: never */
    GArray *held;           /* events waiting for a paused node (of Held) */
    FlTime down_since;      /* when it last crashed; FL_TIME_NEVER while up */
    FlWorldSendHook send_hook;  /* Byzantine faults: sees its outgoing messages */
    void *send_hook_ctx;
    /* A trigger fault crashed it in the middle of a handler: the crash takes
     * effect when the handler returns, and the handler's later effects are
     * lost (counted in `lost_effects`).  See world.c note 4. */
    bool crash_pending;
    uint32_t lost_effects;
    /* The session token of the request on_request handles (borrowed from
     * the message), for fl_request_session. */
    uint64_t session_req;
    const uint8_t *session;
    size_t session_len;
};

/* An event parked while its node is paused; it keeps its scheduler id, so
 * the protocol can still cancel a parked timer. */
typedef struct Held {
    FlEventId id;
    FlEvent ev;
} Held;

typedef struct Client {
    uint32_t addr;          /* network endpoint */
    uint64_t process;
    bool busy;
    FlRequest req;
    FlTime invoked;
    FlTime arrival;         /* when the current or next operation arrived */
    uint32_t target;
    uint32_t leader_guess;  /* FL_NO_HINT: none */
    uint32_t redirects;
    FlTime deadline;        /* the current operation's timeout */
    FlTime timer_at;        /* when the client's one timeout event fires; FL_TIME_NEVER: none */
    FlRng rng;
    GArray *answers;        /* FL_CLIENT_BFT: of Answer, for the current request */
    uint64_t final_next;    /* next of this client's final reads: index into keys x nodes */
    GByteArray *session;    /* the last session token an ok answer carried (FlResult.session); NULL: none */
} Client;

/* One distinct answer to the current request, and who gave it. */
typedef struct Answer {
    uint8_t status;
    bool has_value;
    int64_t value;
    uint64_t text_hash;
    size_t text_len;
    char *text;
    uint64_t voters;        /* bitmap of nodes (the first 64) */
    uint32_t votes;
} Answer;

/* Explore mode (choice.c): what is in flight and armed, as lists the
 * caller chooses from instead of a queue ordered by time. */
typedef struct ExMsg {
    uint64_t id;            /* 1, 2, ...: the n-th message sent */
    uint32_t from, to;
    size_t len;
    uint64_t hash;          /* fl_trace_bytes_hash of the bytes */
    uint8_t *data;          /* owned: fl_world_buf_alloc */
} ExMsg;

typedef struct ExTimer {
    FlTimerId id;           /* 1, 2, ...: the n-th timer armed */
    uint32_t node;
    uint64_t tag;
    FlTime at;              /* when it would fire in a timed run */
} ExTimer;

typedef struct Explore {
    GArray *msgs;           /* of ExMsg, by id */
    GArray *timers;         /* of ExTimer, by id */
    uint64_t next_msg, next_timer;
    uint32_t crashes, drops, duplicates;   /* spent of the budgets */
    uint32_t *ops;          /* per client: operations invoked */
    FlTime *clock;          /* per node: its own virtual time (choice.c note 3) */
    char *broken;           /* a schedule's replay: the first invariant violation */
    uint32_t broken_at;
} Explore;

typedef struct Interval {
    uint32_t fault;
    char *kind;
    char *text;
    FlTime start, stop;     /* stop FL_TIME_NEVER: still on */
} Interval;

/* Message buffers up to SMALL_BUF bytes come from pools by size class:
 * 64, 128 and 256 bytes (world.c note 3). */
#define SMALL_BUF 256
enum { BUF_CLASSES = 3 };

/* World.c note 7: a role change or suspicion happened now; w->leader
 * becomes @node (FL_NO_HINT: none), logged when it changes. */
void fl_world_sla_signal(FlWorld *w);
void fl_world_set_leader(FlWorld *w, uint32_t node);

struct FlWorld {
    const FlScenario *sc;
    FlSched *sched;
    FlNet *net;
    FlTrace trace;
    FlTime now;
    FlTime end;
    uint32_t nnodes;
    FlNode *nodes;
    uint32_t nclients;
    Client *clients;
    FlRng workload_rng;
    FlRng fault_rng;
    uint8_t *outside_core;  /* liveness "core": per node, 1 if cut off; NULL before */
    uint64_t next_request;
    FlWorkloadGen gen;      /* unique values and recent ones per key */
    FlTime final_at;        /* when the final read phase starts, or FL_TIME_NEVER */
    uint32_t leader;        /* FL_NO_HINT if none */
    bool leader_seen;       /* a node has held a leader or primary role (world.c note 8) */
    uint64_t role_changes;  /* fl_role calls that changed a role: orders them */
    bool record_history;
    GString *history;
    GArray *history_index;  /* FlHistoryEvent, one per line of history */
    FlRunStats stats;
    GArray *intervals;      /* of Interval */
    GTree *counters;        /* name -> double*, sorted */
    void *small_bufs[BUF_CLASSES];  /* per size class (world.c note 3): free buffers, linked through their first word */
    GPtrArray *buf_slabs;   /* the slabs they are cut from (owned) */
    FlTime heal_at;         /* liveness phase start, or FL_TIME_NEVER */
    bool stopping;          /* the run must end: `refusal` says why */
    char *refusal;
    uint32_t next_fault_index;  /* for faults made at run time */
    GByteArray *hook_buf;   /* scratch for send hooks */
    /* The network's defences (sim/channel.h, world.c note 9), or NULL:
     * off, and every path below costs one untaken branch. */
    struct FlChannel *chan;
    GArray *wire_hooks;     /* of WireHook (world.c): attackers on the wire, or NULL */
    GByteArray *wire_buf;   /* a message's wire bytes while it is sent */
    GByteArray *open_buf;   /* a message's payload while it is delivered */
    struct FdBook *fd;      /* failure detectors' accounting (fd.c), or NULL */
    bool buggify;           /* the scenario's "buggify" (node.c fl_buggify) */
    FlRng buggify_rng;      /* whether an enabled BUGGIFY site fires: a stream of
                               its own, so runs without it draw what they did */
    FlNode *running;        /* the node whose handler runs now, or NULL */
    uint64_t handler_calls; /* handler calls so far: FlProtoEvent.handler */
    GArray *event_hooks;    /* of EventHook (world.c): protocol-event hooks, or NULL */
    Explore *ex;            /* explore mode (choice.c), or NULL: a timed run */
    struct FlSeries *series; /* time series (sim/series.h), or NULL: none */
    struct Resources *res;  /* the scenario's `resources` (world.c note 5), or NULL: none */
    /* For the availability figures (sim/sla.h, world.c note 7): measured,
     * never read by the run itself. */
    GArray *sla_signals;    /* of FlTime: role changes and detector suspicions */
    GArray *sla_leaders;    /* of FlSlaLeader: each change of w->leader */
};


/* node.c */
void fl_node_start(FlWorld *w, FlNode *n, bool recover);
void fl_node_stop(FlWorld *w, FlNode *n);
void fl_node_deliver(FlWorld *w, FlNode *n, uint32_t from, const uint8_t *msg, size_t len);
void fl_node_timer(FlWorld *w, FlNode *n, FlEventId id, uint64_t tag);
FlTime fl_node_local(const FlNode *n, FlTime global);
/* Brackets every call into a protocol's handler (world.c note 4): enter
 * returns the node that ran before (handlers may nest only through hooks),
 * leave restores it and applies a crash a trigger asked for. */
FlNode *fl_node_enter(FlWorld *w, FlNode *n);
void fl_node_leave(FlWorld *w, FlNode *n, FlNode *prev);
/* Tells the protocol-event hooks (world.c note 4) of @ev. */
void fl_world_proto_event(FlWorld *w, const FlProtoEvent *ev);
/* Sends bytes from endpoint @from to @to through the network (copies). */
void fl_world_send(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len);
/* world.c: a node's fl_disk_sync of @bytes made durable (note 5): with a
 * disk resource, its later sends wait until the sync ends. */
void fl_world_disk_sync(FlWorld *w, uint32_t node, uint64_t bytes);
uint8_t *fl_world_buf_alloc(FlWorld *w, size_t len);
void fl_world_buf_free(FlWorld *w, void *buf, size_t len);

/* Stops the run: it ends with an error saying @fmt (the first refusal
 * wins).  For configurations found impossible only at run time, such as a
 * perfect failure detector without a synchronous network. */
void fl_world_refuse(FlWorld *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Refuses the run because the event queue is full (FL_SCHED_MAX_PENDING). */
void fl_world_queue_full(FlWorld *w);

/* choice.c: explore mode.  A message sent (copied) joins the messages in
 * flight; a timer armed joins the armed ones (returns its id); cancelling
 * removes it.  Crash drops the node's timers. */
void fl_explore_send(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len,
                     uint64_t hash);
FlTimerId fl_explore_timer(FlWorld *w, uint32_t node, FlTime at, uint64_t tag);
void fl_explore_timer_cancel(FlWorld *w, FlTimerId t);
void fl_explore_crashed(FlWorld *w, uint32_t node);
void fl_explore_free(FlWorld *w);
/* world.c: delivers the message of @ev (EV_DELIVER) now, and frees its bytes. */
void fl_world_deliver(FlWorld *w, FlEvent *ev);
/* Ends a run at w->end: the detectors' books, the trace's last event, the
 * trace file closed; -1 with @err if the run was refused or the trace
 * could not be written. */
int fl_world_close(FlWorld *w, GError **err);

/* fd.c: the failure detectors' accounting, told of every crash and
 * restart, closed at the end of the run. */
void fl_fd_book_crash(FlWorld *w, uint32_t node);
void fl_fd_book_restart(FlWorld *w, uint32_t node);
void fl_fd_book_finish(FlWorld *w);
void fl_fd_book_free(FlWorld *w);

/* client.c */
void fl_clients_init(FlWorld *w);
void fl_clients_free(FlWorld *w);
void fl_client_event(FlWorld *w, uint32_t client, uint64_t what, uint64_t req);
void fl_client_deliver(FlWorld *w, uint32_t client, uint32_t from, const uint8_t *msg, size_t len);
/* Explore mode: client @client, idle, invokes its next operation now. */
void fl_client_invoke(FlWorld *w, uint32_t client);
