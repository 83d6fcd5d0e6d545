/* sim/world: one run of a scenario.
 *
 * The world owns the scheduler, the network, the nodes with their state and
 * disks, the clients and their history, the trace and the faults' runtime.
 * fl_world_run processes events until the scenario's duration.  Faults and
 * tools drive it through the functions below; protocol code never sees it.
 * Memory: the world borrows the scenario (which must outlive it) and owns
 * the rest. */
#pragma once

#include "sim/disk.h"
#include "sim/net.h"
#include "sim/scenario.h"
#include "sim/trace.h"

#include <glib.h>

typedef struct FlWorld FlWorld;

typedef struct FlWorldOptions {
    const char *trace_path;     /* write trace.jsonl here; NULL: hash only */
    bool record_history;        /* keep history lines (default in runs) */
    struct FlCoverage *coverage;  /* guided fuzzing: told of every event (sim/coverage.h);
                                   * NULL: none.  Borrowed for the world's life. */
    /* Explore mode (below): nothing happens by time; the caller chooses
     * each step.  A scenario with a `schedule` is always run so. */
    bool explore;
    /* Time series (sim/series.h): windows of this length; 0: none.  Not in
     * explore mode, where time does not pass by itself. */
    FlDuration series_window;
} FlWorldOptions;

/* Counts and samples a run produces. */
typedef struct FlRunStats {
    uint64_t invoked, ok, fail, info;
    GArray *latencies;          /* of FlDuration, ok operations, from intended arrival */
    GArray *services;           /* of FlDuration, the same operations from invocation */
    uint64_t sent, delivered, dropped;
    uint64_t events;
    FlTime end;
    /* Liveness phase: ok operations invoked after healing that completed
     * within the budget, and when the first such completed. */
    uint64_t live_ok;
    FlTime live_first_ok;
} FlRunStats;

FlWorld *fl_world_new(const FlScenario *sc, const FlWorldOptions *opt, GError **err);
void fl_world_free(FlWorld *w);

/* Runs to the scenario's duration (or until nothing is pending).  Returns 0,
 * or -1 with @err set when the run had to stop (event limit, a write error). */
int fl_world_run(FlWorld *w, GError **err);

uint64_t fl_world_trace_hash(const FlWorld *w);
const FlRunStats *fl_world_stats(const FlWorld *w);
/* Bytes the world's event queue holds (fl_sched_bytes), for benchmarks. */
size_t fl_world_sched_bytes(const FlWorld *w);
/* The history as JSON lines (borrowed). */
const GString *fl_world_history(const FlWorld *w);
/* The history (transfer full: free with g_string_free), leaving the world
 * an empty one: for a caller done with the run, instead of a copy. */
GString *fl_world_take_history(FlWorld *w);
/* The index of the history's lines, an array of FlHistoryEvent
 * (sim/check/check.h) that the checker may read instead of tokenizing the
 * text again (transfer full: free with g_array_unref), leaving the world an
 * empty one.  It indexes the text that fl_world_take_history gives (take
 * both, or neither). */
GArray *fl_world_take_history_index(FlWorld *w);
/* Fault intervals as a JSON array (transfer full). */
json_t *fl_world_fault_intervals(const FlWorld *w);
/* The run's time series (transfer full: free with fl_series_free), or
 * NULL without FlWorldOptions.series_window.  Call after fl_world_run. */
struct FlSeries *fl_world_take_series(FlWorld *w);
/* Protocol counters from fl_metric_add, as a JSON object sorted by name
 * (transfer full). */
json_t *fl_world_counters(const FlWorld *w);
/* The scenario's `resources` over the run (world.c note 5): per node CPU
 * utilisation, messages served and dropped, peak queue; links' bytes-time
 * utilisation (the busiest and the mean of the links used).  NULL when the
 * scenario has no `resources` (transfer full). */
json_t *fl_world_resource_metrics(const FlWorld *w);
/* The logs of world.c note 7, for sim/sla.h (borrowed until the world is
 * freed): instants of role changes and suspicions, ascending; the leader
 * after each change, ascending. */
const FlTime *fl_world_sla_signals(const FlWorld *w, size_t *n);
const struct FlSlaLeader *fl_world_sla_leaders(const FlWorld *w, size_t *n);
/* The failure detectors' figures (see sim/fd.h), or NULL when no node ran
 * a detector (transfer full). */
json_t *fl_world_fd_metrics(const FlWorld *w);

/* ---- Explore mode (choice points, sim/choice.c) -----------------------
 *
 * A world in explore mode draws no delays and fires no timer by time.
 * Each message sent waits in flight until a choice delivers, drops or
 * duplicates it; each armed timer waits until a choice fires it.  Each
 * node reads its own clock, which its own steps advance (by 1us, and a
 * timer firing to when it was due, if later: handlers that compare local
 * times still see time pass); the world's time advances by 1us per choice
 * so that the history's events are ordered.  Clients run a
 * bounded workload, explore.clients x explore.ops: an invocation is a
 * choice too (so a read may start after a write completed, or before),
 * a client has no timeout (it waits for its answer as long as the
 * schedule goes on; what is still open at the end is left open, which
 * the checkers read as "may have happened"), and a redirect is followed
 * at once.  Faults are choices within the scenario's budgets.  Messages to
 * a crashed node stay in flight until it restarts (a loss is a drop).
 * The scenario's fault list must be empty. */

/* The enabled choices (appended to @out, of FlChoice), in this order:
 * deliveries by message id (messages to a live node or a client), timers
 * by id, invocations by client, crashes by node (while the budget lasts),
 * restarts by node, drops and then duplicates by message id (while their
 * budgets last).  The same world state gives the same list. */
void fl_world_choices(FlWorld *w, GArray *out);
/* Takes choice @c.  Returns 0, or -1 when @c is not enabled now (nothing
 * happened). */
int fl_world_choose(FlWorld *w, const FlChoice *c);
/* What an enabled choice touches, for partial-order reduction (sim/explore.c):
 * two choices commute when neither's handler runs at the other's node or
 * client, they take different messages, and they share no budget and not
 * the history.  Their order then changes nothing but the world's time and
 * ids, which the digest leaves out too (each node reads its own clock,
 * which only its own steps move). */
#define FL_FOOT_NOBODY UINT32_MAX
enum {
    FL_FOOT_HISTORY = 1,     /* writes a history line (an invocation, a client's answer) */
    FL_FOOT_CRASHES = 2,     /* spends the crash budget */
    FL_FOOT_DROPS = 4,
    FL_FOOT_DUPLICATES = 8,
};
typedef struct FlChoiceFootprint {
    uint64_t key;            /* the choice by content (kind, sender, receiver and bytes of a
                                message; node, tag and due time ahead of its node's clock of a timer;
                                client; node), not by id:
                                equal in two schedules that reach states with equal digests */
    uint64_t msg;            /* the id of the message it takes or copies, or 0 */
    uint32_t actor;          /* the node (0..) or client (nodes + c) whose code runs, or
                                FL_FOOT_NOBODY (a drop or a duplicate) */
    uint32_t shared;         /* FL_FOOT_* bits */
} FlChoiceFootprint;
/* Fills @f for @c, which must be enabled in @w (asserted). */
void fl_world_choice_footprint(FlWorld *w, const FlChoice *c, FlChoiceFootprint *f);
/* True when choices with footprints @a and @b (enabled in one state)
 * commute: taking both in either order reaches states with equal digests,
 * and neither enables or disables the other. */
bool fl_choice_independent(const FlChoiceFootprint *a, const FlChoiceFootprint *b);
/* Ends an explore-mode run: records the end in the trace and closes it.
 * Returns 0 or -1 with @err set (a write error, a refusal). */
int fl_world_finish(FlWorld *w, GError **err);
/* True when the protocol has a `digest` hook, so fl_world_digest prunes. */
bool fl_world_has_digest(const FlWorld *w);
/* The state of the world as one hash: each node's up flag, protocol digest
 * and durable disk, the number of timers each node has armed, the
 * messages in flight (as a multiset of sender, receiver and bytes), the
 * budgets spent, and each client's progress (busy or not, operations
 * invoked, leader guess, and its history without times).  Virtual time
 * and ids are left out. */
uint64_t fl_world_digest(FlWorld *w);
/* Runs the protocol's `invariant` hook over every node's state: true when
 * it holds or there is none; false with a line in @why. */
bool fl_world_invariant(FlWorld *w, GString *why);
/* Replaying a schedule (fl_world_run in explore mode) checks the
 * protocol's invariant after every choice: the first violation (owned by
 * the world), and in *@at the number of choices taken then; NULL when it
 * held throughout. */
const char *fl_world_invariant_broken(const FlWorld *w, uint32_t *at);
/* Messages in flight and timers armed (explore mode). */
guint fl_world_in_flight(const FlWorld *w);

/* ---- For faults ----------------------------------------------------- */

FlTime fl_world_now(const FlWorld *w);
uint32_t fl_world_nodes(const FlWorld *w);
const FlScenario *fl_world_scenario(const FlWorld *w);
FlNet *fl_world_net(FlWorld *w);
/* The faults' own random stream. */
FlRng *fl_world_fault_rng(FlWorld *w);

bool fl_world_node_up(const FlWorld *w, uint32_t node);
bool fl_world_node_paused(const FlWorld *w, uint32_t node);
/* Crashes a running node: its state and timers are gone, messages to it are
 * dropped, its disk keeps only what was synced.  No-op if already down. */
void fl_world_crash(FlWorld *w, uint32_t node);
/* Restarts a crashed node: `recover` runs with its disk.  No-op if up. */
void fl_world_restart(FlWorld *w, uint32_t node);
/* Freezes a node: nothing runs, messages and timers wait until resume. */
void fl_world_pause(FlWorld *w, uint32_t node);
void fl_world_resume(FlWorld *w, uint32_t node);
FlDisk *fl_world_disk(FlWorld *w, uint32_t node);
/* Changes a node's clock: the local clock jumps by @jump and runs at rate
 * 1 + @drift from now on. */
void fl_world_set_clock(FlWorld *w, uint32_t node, FlDuration jump, double drift);
/* The node's local clock now, and its rate offset. */
FlTime fl_world_local_time(const FlWorld *w, uint32_t node);
double fl_world_clock_drift(const FlWorld *w, uint32_t node);
/* The node's role ("" if none). */
const char *fl_world_role(const FlWorld *w, uint32_t node);

/* Resolves a selector now into node ids (appended to @ids, a GArray of
 * uint32_t, ascending).  "leader", "leader+K" and "minority-with-leader"
 * give nothing when no live node leads; "role:..." and "last-role-change"
 * nothing when no live node holds a matching role.  Every choice among
 * candidates (sorted by id) is drawn from the seed: "random", "minority"
 * and "majority" from the faults' stream, the role selectors from a stream
 * of their own derived from the seed, the instant and the selector, so
 * that they pick the same node however the faults before them drew. */
void fl_world_select(FlWorld *w, const FlSelector *sel, GArray *ids);

typedef void (*FlWorldCallback)(FlWorld *w, void *ctx, uint64_t arg);
/* Calls @fn at virtual time @at (>= now). */
void fl_world_at(FlWorld *w, FlTime at, FlWorldCallback fn, void *ctx, uint64_t arg);

/* A fresh fault index for a fault made at run time (the nemesis's): after
 * the scenario's own faults and every index given out before. */
uint32_t fl_world_new_fault_index(FlWorld *w);

/* ---- For Byzantine faults ------------------------------------------- */

/* Sees each message the protocol of node @from sends to another server,
 * before the network does: it may rewrite @msg (content and length, at
 * most FL_MAX_MESSAGE bytes) and returns true to send it, false to drop it.
 * Replies to clients do not pass through it: the clients' history must stay
 * what the protocol answered, so the checker judges the protocol. */
typedef bool (*FlWorldSendHook)(FlWorld *w, void *ctx, uint32_t from, uint32_t to,
                                GByteArray *msg);
/* Installs @fn as @node's send hook (NULL removes it).  One hook per node:
 * a new one replaces the old.  @ctx is borrowed until removed. */
void fl_world_set_send_hook(FlWorld *w, uint32_t node, FlWorldSendHook fn, void *ctx);
/* Sends @len bytes (copied) from server @from to @to as if its protocol had
 * sent them, bypassing the send hook: replays and equivocation.  Nothing
 * is sent while @from is down. */
void fl_world_inject(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len);
/* Asks @node's protocol, through its `lie` hook, to rewrite @msg (capacity
 * @cap) into a lie meant for @to.  Returns the lie's length, or 0 when the
 * protocol has no hook, declines, or the node is down. */
size_t fl_world_lie(FlWorld *w, uint32_t node, uint32_t to, uint8_t *msg, size_t len,
                    size_t cap);
/* Calls node @node's protocol reseal hook on its own state for @msg (@len
 * bytes, rewritten in place) on its way to @to.  False when the node is
 * down, its protocol has no reseal, or the hook refused. */
bool fl_world_reseal(FlWorld *w, uint32_t node, uint32_t to, uint8_t *msg, size_t len);

/* ---- For attackers on the wire (faults/attacker.c; world.c note 9) ----- */

/* Sees each message between any two endpoints as it goes on the wire:
 * after the network's defences sealed it (sim/channel.h), before the
 * network routes it.  It may rewrite @wire (content and length) and returns
 * true to send it, false to drop it.  Must be deterministic (the faults'
 * stream only) and must not add or remove wire hooks. */
typedef bool (*FlWorldWireHook)(FlWorld *w, void *ctx, uint32_t from, uint32_t to,
                                GByteArray *wire);
/* Adds a hook (called in the order added); @ctx is borrowed until removed
 * or the world is freed.  Removing one that is not there is a no-op. */
void fl_world_add_wire_hook(FlWorld *w, FlWorldWireHook fn, void *ctx);
void fl_world_remove_wire_hook(FlWorld *w, FlWorldWireHook fn, void *ctx);
/* Puts @len wire bytes (copied) on the network from endpoint @from to
 * endpoint @to: as if @from had sent them, but nothing seals them and no
 * wire hook sees them.  @from may be fl_world_outsider.  No-op in explore
 * mode. */
void fl_world_wire_inject(FlWorld *w, uint32_t from, uint32_t to, const void *msg, size_t len);
/* Where the body of a wire message of @len bytes lies (*@off, *@plen: the
 * protocol's bytes, or their ciphertext; all of it without defences), and
 * whether it is in clear (false when encrypted: see fl_channel_clear). */
bool fl_world_wire_clear(const FlWorld *w, size_t len, size_t *off, size_t *plen);
/* An endpoint outside the cluster (neither a server nor a client): it holds
 * no key, and servers take what it sends as a client's. */
uint32_t fl_world_outsider(const FlWorld *w);
/* Values clients were given to write so far: the workloads draw unique
 * values 1, 2, ... (sim/workload.h), so these are 1 .. the result. */
int64_t fl_world_values_written(const FlWorld *w);
/* Adds @v to the counter @name of metrics.json (made at 0 first). */
void fl_world_count(FlWorld *w, const char *name, double v);

/* ---- For faults aimed at protocol events (faults/trigger.c) ------------ */

typedef enum {
    FL_PEV_SEND = 1,     /* the node's protocol sent a message to another server */
    FL_PEV_ROLE,         /* the node declared a new role with fl_role */
    FL_PEV_DISK_WRITE,   /* the node wrote or appended to a file (not yet synced) */
    FL_PEV_REPLY,        /* the node acknowledged a client operation (an ok reply left) */
} FlProtoEventKind;

typedef struct FlProtoEvent {
    FlProtoEventKind kind;
    uint32_t node;
    uint32_t peer;              /* SEND: the receiver; REPLY: the client; else 0 */
    /* SEND: the message's kind as the protocol's msg_kind names it (NULL
     * when it has no msg_kind or the bytes did not decode); ROLE: the new
     * role; DISK_WRITE: the file's name; REPLY: NULL.  Borrowed for the
     * call. */
    const char *name;
    const uint8_t *data;        /* SEND: the message; DISK_WRITE: the bytes written */
    size_t len;
    bool append;                /* DISK_WRITE: an append (else the file was replaced) */
    /* SEND: hooks see each send twice, first with @before set (the message
     * is not sent yet: a crash asked for now loses it), then after it left. */
    bool before;
    /* Which handler call made the event: equal for events of one call,
     * increasing over the run. */
    uint64_t handler;
} FlProtoEvent;

/* Called right after a protocol event happened (and right before a send),
 * inside the node's handler.
 * It may call fl_world_crash_at_return and fl_world_at, and must not run
 * other nodes' handlers. */
typedef void (*FlWorldEventHook)(FlWorld *w, void *ctx, const FlProtoEvent *ev);
/* Adds a hook (called in the order added); @ctx is borrowed until removed.
 * Removing a hook that is not there is a no-op. */
void fl_world_add_event_hook(FlWorld *w, FlWorldEventHook fn, void *ctx);
void fl_world_remove_event_hook(FlWorld *w, FlWorldEventHook fn, void *ctx);
/* Crashes @node as soon as the handler it is running returns, as
 * fl_world_crash does; the handler's effects after this call (sends,
 * replies, timers, disk writes and syncs, role changes) are lost.  Outside
 * that node's handler, it crashes at once.  No-op if the node is down. */
void fl_world_crash_at_return(FlWorld *w, uint32_t node);
/* The kind of @msg as @node's protocol names it, or NULL. */
const char *fl_world_msg_kind(const FlWorld *w, uint32_t node, const uint8_t *msg, size_t len);

/* Records a fault event in the trace and, for start/stop, in the fault
 * intervals of metrics.json.  @what: "start" or "stop" (or another word for
 * events that are not intervals); @text describes it. */
void fl_world_fault_event(FlWorld *w, uint32_t fault_index, const char *kind,
                          const char *what, const char *text);
