/* sim/fd: failure detectors, a library that protocol code embeds.
 *
 * A protocol that must know which peers are alive embeds an FlFd in its
 * state, starts it from init (and recover), and hands it first every
 * message and timer: fl_fd_on_message and fl_fd_on_timer return true when
 * the input was the detector's.  The detector is ordinary protocol code: it
 * sends heartbeats with fl_send and keeps time with fl_timer on the node's
 * local clock, so every fault (loss, delay, pause, clock drift, Byzantine
 * bytes) reaches it as it would reach the protocol.
 *
 * Each change of suspicion is reported to the engine, which knows which
 * nodes really crashed, and measures the detectors in metrics.json
 * ("detectors"): the time to detect each real crash, the crashes a live
 * observer never detected, and the number and length of false suspicions
 * (suspecting a node that is up, paused or merely slow).
 *
 * Kinds.  Two of them are named for the class of detector they implement
 * (Chandra and Toueg: what a detector promises), two for how real systems
 * build one (an implementation, which belongs to a class only under a
 * timing model):
 *   perfect             class P: heartbeats every `interval`; suspects a
 *                       peer silent for interval + bound (+ interval/10 for
 *                       clock drift).  P needs every delay bounded, so it
 *                       is refused unless the network is `sync`.
 *   eventually-perfect  class ◇P, by adaptive timeouts: like heartbeat, but
 *                       each false suspicion of a peer adds `increase` to
 *                       that peer's timeout, so some time after GST the
 *                       mistakes stop.  On an `async` network nothing
 *                       implements ◇P (it would solve consensus, against
 *                       FLP): there it is only a heuristic.
 *   heartbeat           an implementation: suspects a peer silent for a
 *                       fixed `timeout`.  It is P under `sync` timing when
 *                       the timeout exceeds interval + bound, and no class
 *                       otherwise: any delay past it is a false suspicion.
 *   phi-accrual         an implementation (Hayashibara et al., as in
 *                       Cassandra and Akka): a window of inter-arrival times
 *                       gives a normal law; suspects when phi = -log10
 *                       P(a heartbeat this late) exceeds `threshold`.  An
 *                       accrual detector outputs a suspicion level; with a
 *                       threshold it behaves like an adaptive heartbeat.
 *
 * Determinism: no randomness; timers and messages only.  Memory: fl_fd_init
 * allocates per-peer state that fl_fd_deinit frees (call it from the
 * protocol's destroy). */
#pragma once

#include "sim/node.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    FL_FD_PERFECT,
    FL_FD_HEARTBEAT,
    FL_FD_EVENTUALLY_PERFECT,
    FL_FD_PHI_ACCRUAL,
} FlFdKind;

typedef struct FlFdConfig {
    FlFdKind kind;
    FlDuration interval;     /* between two heartbeats to each peer */
    FlDuration timeout;      /* heartbeat; eventually-perfect: the first timeout */
    FlDuration increase;     /* eventually-perfect: added after a false suspicion */
    double threshold;        /* phi-accrual: suspect when phi exceeds it */
    FlDuration min_std;      /* phi-accrual: floor of the standard deviation */
    uint8_t msg_type;        /* first byte of the detector's messages: one the
                                protocol does not use for its own */
    uint64_t timer_tag;      /* the detector's timers use the tags timer_tag ..
                                timer_tag + nodes: the protocol must not */
} FlFdConfig;

/* Inter-arrival samples phi-accrual keeps per peer. */
#define FL_FD_WINDOW 64
/* Largest cluster whose detectors the engine measures. */
#define FL_FD_MAX_NODES 1024

typedef struct FlFdPeer FlFdPeer;

typedef struct FlFd {
    FlFdConfig cfg;
    uint32_t self, nodes;
    uint64_t epoch;          /* local time at start: peers tell a restart from a gap */
    uint64_t seq;
    FlFdPeer *peers;         /* owned: one per node (self unused) */
} FlFd;

/* Starts the detector on node @n: sends the first heartbeats and arms its
 * timers.  Returns 0, or -1 when the configuration is refused (perfect
 * without a sync network, a cluster above FL_FD_MAX_NODES): the run then
 * stops with an error that says why, and @fd holds nothing to free. */
int fl_fd_init(FlFd *fd, FlNode *n, const FlFdConfig *cfg);
/* Frees what fl_fd_init allocated.  Safe on a zeroed FlFd. */
void fl_fd_deinit(FlFd *fd);

/* Feeds a message.  Returns true if it was the detector's (the protocol
 * must then ignore it), including a malformed one, which is dropped. */
bool fl_fd_on_message(FlFd *fd, FlNode *n, uint32_t from, const uint8_t *msg, size_t len);
/* Feeds a timer.  Returns true if @tag was the detector's. */
bool fl_fd_on_timer(FlFd *fd, FlNode *n, uint64_t tag);

/* A protocol that runs a detector of its own (SWIM's probes and
 * suspicions, protocols/swim.c) instead of an FlFd still gets the engine's
 * measurement: it calls fl_fd_own_start from init (and recover), then
 * fl_fd_own_report each time it starts (@suspect true) or stops holding
 * @target failed.  metrics.json "detectors" then counts its detections and
 * false suspicions as it does an FlFd's, and lists @name (a static string,
 * borrowed for the run) among the kinds.  Reports of the node itself or
 * of a node out of range are ignored. */
void fl_fd_own_start(FlNode *n, const char *name);
void fl_fd_own_report(FlNode *n, uint32_t target, bool suspect);

/* Whether @peer is suspected now (never the node itself). */
bool fl_fd_suspects(const FlFd *fd, uint32_t peer);
/* phi-accrual's suspicion level of @peer at local time @now (0 for the
 * other kinds).  Exposed for tests and for protocols that grade trust. */
double fl_fd_phi(const FlFd *fd, uint32_t peer, FlTime now);

const char *fl_fd_kind_name(FlFdKind kind);
/* Returns false if @name is not a detector kind. */
bool fl_fd_kind_parse(const char *name, FlFdKind *kind);

/* The parameters a protocol declares to let scenarios choose and tune its
 * detector: put FL_FD_PARAMS in its FlParam table, then call
 * fl_fd_config_from_params. */
#define FL_FD_PARAMS                                                                          \
    { "detector", FL_PARAM_ENUM, "\"heartbeat\"", "failure detector",                         \
      "perfect|heartbeat|eventually-perfect|phi-accrual", 0, 0 },                             \
    { "fd_interval", FL_PARAM_DURATION, "\"100ms\"", "time between two heartbeats", NULL, 1e3,  \
      1e12 },                                                                               \
    { "fd_timeout", FL_PARAM_DURATION, "\"300ms\"",                                           \
      "silence after which heartbeat (and first, eventually-perfect) suspects", NULL, 1e3, 1e12 }, \
    { "fd_increase", FL_PARAM_DURATION, "\"100ms\"",                                          \
      "eventually-perfect: timeout added after each false suspicion", NULL, 0, 1e12 },        \
    { "fd_phi", FL_PARAM_DOUBLE, "8", "phi-accrual: suspicion threshold", NULL, 0.1, 100 },   \
    { "fd_min_std", FL_PARAM_DURATION, "\"10ms\"",                                            \
      "phi-accrual: floor of the inter-arrival standard deviation", NULL, 1, 1e12 }

/* Fills @cfg from the FL_FD_PARAMS parameters of @n's protocol; msg_type and
 * timer_tag are the caller's. */
void fl_fd_config_from_params(FlNode *n, FlFdConfig *cfg, uint8_t msg_type, uint64_t timer_tag);
