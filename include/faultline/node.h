/* faultline/node (in-tree also "sim/node.h"): the node API, everything protocol code may call.
 *
 * A protocol is one FlProtocol: a state struct the engine allocates (zeroed)
 * for each node, and handlers for a message, a timer and a client request.
 * Handlers act only through the functions below; they never see the
 * scheduler, the network or the faults.  Everything a handler receives is
 * borrowed for the duration of the call.  Nothing here touches the real
 * clock, real files or global state: runs are deterministic. */
#pragma once

#include <faultline/codec.h>
#include <faultline/rng.h>
#include <faultline/store.h>
#include <faultline/time.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FlNode FlNode;
typedef uint64_t FlTimerId;   /* 0 is never a timer */

/* Bounds: a message larger than this is refused by fl_send (and logged). */
#define FL_MAX_MESSAGE (1u << 20)
#define FL_MAX_NODES 4096

/* ---- Declared parameters -------------------------------------------- */

typedef enum {
    FL_PARAM_INT,        /* integer, JSON number */
    FL_PARAM_DOUBLE,     /* real, JSON number */
    FL_PARAM_BOOL,
    FL_PARAM_DURATION,   /* "150ms"; a range is drawn once when loading */
    FL_PARAM_RANGE,      /* a duration range ["150ms","300ms"] kept as a range:
                            the protocol draws from it (election timeouts) */
    FL_PARAM_ENUM,       /* one of `choices`, "a|b|c" */
} FlParamType;

typedef struct FlParam {
    const char *name;
    FlParamType type;
    const char *def;       /* default, as JSON text: "3", "\"150ms\"", "[\"1s\",\"2s\"]" */
    const char *doc;       /* one line */
    const char *choices;   /* FL_PARAM_ENUM only */
    double min, max;       /* inclusive bounds for numbers (ns for durations); min == max: none */
} FlParam;

/* A parameter's value as loaded (see fl_param_*). */
typedef struct FlParamValue {
    int64_t i;             /* INT, BOOL, DURATION, RANGE low bound */
    int64_t hi;            /* RANGE high bound */
    double d;              /* DOUBLE */
    const char *s;         /* ENUM: points into FlParam.choices' copy, owned by the scenario */
} FlParamValue;

/* ---- The protocol --------------------------------------------------- */

/* What a field of a message means, for small-scope mutations (the
 * `byzantine` fault's `mutate` behaviour, ByzzFuzz-style). */
typedef enum {
    FL_FIELD_ROUND = 1,   /* round-like: a term, view, ballot, round or sequence number;
                             a mutation moves it by one */
    FL_FIELD_VALUE,       /* value-like: a log index, a slot, a request id, a digest, a
                             vote granted; a mutation puts another message's value there */
} FlFieldRole;

/* One mutable field of an encoded message: @width bytes at byte @offset,
 * an unsigned little-endian integer (sim/codec.h), named @name (a static
 * string: "term", "prev_index").  Fields of the same name in two messages
 * mean the same thing and have the same width. */
typedef struct FlMsgField {
    const char *name;
    uint32_t offset;
    uint8_t width;        /* 1, 2, 4 or 8 */
    FlFieldRole role;
} FlMsgField;

#define FL_MAX_MSG_FIELDS 16

/* How clients talk to a protocol. */
typedef enum {
    FL_CLIENT_ONE = 0,   /* to one node at a time, following redirects (default) */
    FL_CLIENT_ALL,       /* to every node at once; the first ok or fail answer counts
                            (Fast Paxos: clients propose straight to acceptors) */
    FL_CLIENT_BFT,       /* to every node; an answer counts once f+1 nodes gave the
                            same one, f = (n-1)/3 (PBFT): one liar cannot fool it */
} FlClientMode;

typedef struct FlProtocol {
    const char *name;
    const char *summary;              /* one line, for `faultline list` */
    const FlParam *params;            /* terminated by a {NULL} entry; may be NULL */
    size_t state_size;
    /* First start.  @state is zeroed. */
    void (*init)(FlNode *n, void *state);
    /* Restart after a crash: @state is zeroed again; only the synced disk
     * survived.  NULL means "same as init". */
    void (*recover)(FlNode *n, void *state);
    /* Frees what the state owns (not the state itself).  Called at a crash
     * and at the end of the run.  May be NULL. */
    void (*destroy)(FlNode *n, void *state);
    void (*on_message)(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len);
    void (*on_timer)(FlNode *n, void *state, FlTimerId t, uint64_t tag);
    /* A client operation.  @req is borrowed: copy it to answer later. */
    void (*on_request)(FlNode *n, void *state, const FlRequest *req);
    /* Optional, for the `byzantine` fault's `lie` behaviour: rewrite the
     * outgoing message in @msg (capacity @cap) into a lie that still parses;
     * returns the new length, or 0 to send it unchanged. */
    size_t (*lie)(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len, size_t cap);
    FlClientMode client_mode;
    /* The counters this protocol may create (fl_metric_add, fl_metric),
     * NULL-terminated; `*` matches any text, for names built at run time
     * ("txn.abort_*").  With a list, a scenario that bounds a counter not
     * on it is refused at load (exit 2), and a listed counter the run never
     * created reads as 0.  NULL: not declared; then a bound on a counter the
     * run never created is an unmet expectation, never a silent pass. */
    const char *const *counters;
    /* Optional: names the kind of the message @msg ("RequestVote",
     * "PREPARE"): a static string, one of `kinds`, or NULL when the bytes do
     * not decode as any.  Only the engine calls it, for faults aimed at
     * protocol events (the `trigger` fault); it reads @msg (borrowed) and
     * nothing else, so it must not depend on a node's state. */
    const char *(*msg_kind)(const uint8_t *msg, size_t len);
    /* The names msg_kind may return, "a|b|c" (shown by `faultline list`,
     * checked when a scenario names a kind); NULL with msg_kind NULL. */
    const char *kinds;
    /* Optional, for the `byzantine` fault's `mutate` behaviour: the fields
     * of @msg (borrowed) that a Byzantine sender could plausibly change,
     * written to @out (at most @max of them, in the order they appear), and
     * their number; 0 when @msg does not decode as a message this protocol
     * sends.  Like msg_kind it reads only @msg, never a node's state, so
     * the fault may call it on any node's messages.  Leave out what
     * authenticates a message (checksums, signatures, MACs: see reseal),
     * who signs it, and fields whose change only makes it fail to decode. */
    int (*fields)(const uint8_t *msg, size_t len, FlMsgField *out, int max);
    /* Optional, with `fields`, for protocols that authenticate messages:
     * after a field of @msg changed, recomputes in place what authenticates
     * it as the sending node @n would when sending it to @to.  It runs on
     * the sender's own @state (the engine calls it through
     * fl_world_reseal), so it can only use that node's keys.  Returns false
     * when the sender could not have sealed it (a statement signed by
     * another node); the fault then sends the message unchanged. */
    bool (*reseal)(FlNode *n, void *state, uint32_t to, uint8_t *msg, size_t len);
    /* True when the protocol stays safe with up to f = (n-1)/3 Byzantine
     * nodes (PBFT); false (the default): its safety assumes every node
     * follows it, only crashing, pausing or losing messages.  The nemesis
     * draws Byzantine faults only for a protocol that declares this. */
    bool tolerates_byzantine;
    /* True when the protocol keeps nothing on disk, so that a crash loses
     * all a node promised and the node, once restarted, counts as failed
     * until its recovery protocol has rebuilt its state from the others
     * (Viewstamped Replication).  The nemesis then counts a drawn crash
     * against `max_down` for `recover` after the restart, as it counts a
     * damaged disk (faults/nemesis.c note 4).  False: a crash loses only
     * what was never synced. */
    bool volatile_state;
    /* The most server nodes the protocol runs (a bitmap of voters, a
     * fixed array); 0: up to FL_MAX_NODES.  A scenario asking for more is
     * refused at load (exit 2, naming $.cluster.nodes). */
    uint32_t max_nodes;
    /* Optional, for `faultline explore` (visited-state pruning): a hash of
     * what in @state (borrowed) decides the node's future behaviour (terms,
     * logs, roles, which timers it has armed and what for), leaving out
     * what only the clock gives (times) and numbers that only name things
     * (timer generations).  Two states with equal digests are taken to be
     * one, so the search prunes the second: a digest that forgets a field
     * the node acts on can hide schedules.  NULL: explored without pruning. */
    uint64_t (*digest)(const void *state);
    /* Optional, for `faultline explore`: checks a cluster-wide safety
     * property over every node's state at once (Raft: one leader per term,
     * log matching, committed prefixes agree).  @states[i] is node i's state
     * (borrowed), NULL while it is down.  Returns true when it holds; false
     * with one line in @why saying what broke, naming nodes, terms and
     * indexes.  It must only read. */
    bool (*invariant)(const void *const *states, uint32_t nodes, GString *why);
    /* Optional: checks what each parameter's bounds cannot, a combination
     * of them with the node count (Raft's membership needs at most 64
     * nodes).  @values holds one value per `params` entry, in order, as
     * loaded; returns true when the protocol can run them, or false with
     * @bad set to the offending parameter's name (a static string) and one
     * line in @why saying what is expected.  The loader then refuses the
     * scenario (exit 2, naming $.cluster.params.<bad>).  It must only
     * read. */
    bool (*check_params)(const FlParamValue *values, uint32_t nodes, const char **bad,
                         GString *why);
} FlProtocol;

/* ---- Identity and parameters ---------------------------------------- */

uint32_t fl_self(const FlNode *n);
/* Number of server nodes; they are 0 .. fl_nodes()-1. */
uint32_t fl_nodes(const FlNode *n);
/* The run's seed, for what a real deployment would provision once and a
 * restart finds again: long-lived keys (PBFT derives its replicas' key
 * pairs from it and the node id).  Not a source of randomness: draws come
 * from fl_random. */
uint64_t fl_run_seed(const FlNode *n);
/* The network's delay bound under the `sync` timing model (and `partial`
 * after GST), or 0 when the model promises none. */
FlDuration fl_net_bound(const FlNode *n);

int64_t fl_param_int(const FlNode *n, const char *name);
double fl_param_double(const FlNode *n, const char *name);
bool fl_param_bool(const FlNode *n, const char *name);
FlDuration fl_param_duration(const FlNode *n, const char *name);
void fl_param_range(const FlNode *n, const char *name, FlDuration *lo, FlDuration *hi);
const char *fl_param_enum(const FlNode *n, const char *name);

/* For digest hooks: folds @v into the running hash @h (FNV-style step,
 * then a full mix), and a client request's every field. */
static inline uint64_t fl_digest_mix(uint64_t h, uint64_t v)
{
    return fl_mix64(h * 0x100000001b3ULL ^ v);
}

static inline uint64_t fl_digest_request(uint64_t h, const FlRequest *q)
{
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, q->client), q->id), q->op.kind);
    h = fl_digest_mix(fl_digest_mix(h, q->op.flags), q->op.key);
    return fl_digest_mix(fl_digest_mix(h, (uint64_t)q->op.a), (uint64_t)q->op.b);
}

/* ---- Effects -------------------------------------------------------- */

/* Sends a copy of @msg to node @to (not to itself: use a timer). */
void fl_send(FlNode *n, uint32_t to, const void *msg, size_t len);
/* Sends a copy to every other node. */
void fl_broadcast(FlNode *n, const void *msg, size_t len);
/* Answers a client request (copied; @req may be freed after). */
void fl_reply(FlNode *n, const FlRequest *req, const FlResult *res);
/* The session token the client sent with @req (FlResult.session), while
 * on_request handles @req; NULL (and *@len 0) when it sent none, and after
 * on_request returns: copy what a deferred answer needs. */
const uint8_t *fl_request_session(FlNode *n, const FlRequest *req, size_t *len);
/* Shorthand replies. */
void fl_reply_redirect(FlNode *n, const FlRequest *req, uint32_t hint);
void fl_reply_fail(FlNode *n, const FlRequest *req);

/* Arms a timer that fires after @after of this node's local time. */
FlTimerId fl_timer(FlNode *n, FlDuration after, uint64_t tag);
/* Cancels it; a no-op if it fired already. */
void fl_timer_cancel(FlNode *n, FlTimerId t);

/* This node's local clock (skew and drift apply). */
FlTime fl_now(const FlNode *n);
/* This node's own random stream. */
uint64_t fl_random(FlNode *n);
FlRng *fl_rng(FlNode *n);
/* A duration drawn uniformly from [lo, hi] from this node's stream. */
FlDuration fl_random_duration(FlNode *n, FlDuration lo, FlDuration hi);

/* ---- BUGGIFY ---------------------------------------------------------- */
/* Rare paths taken on purpose, as FoundationDB's BUGGIFY does: protocol
 * code asks `if (fl_buggify(n, "raft.batch-of-one"))` where a legal but
 * seldom-seen choice hides (a batch of one, an early election, a skipped
 * heartbeat), and takes that choice when the answer is true.  The protocol
 * must stay correct either way.
 *
 * Off (always false, nothing drawn) unless the scenario says
 * "buggify": true, which `faultline fuzz` does by default.  When on, a site
 * is enabled for the whole run on about a quarter of the seeds (a hash of
 * the seed and the site's name decides), and an enabled site fires on about
 * 5% of its calls (fl_buggify_p: probability @p), drawn from a stream of its
 * own, so turning BUGGIFY on never changes what any other stream draws.
 * Each firing is a trace line "buggify SITE" and adds 1 to the counter
 * `buggify.fired`.
 *
 * @site names the call site, "protocol.what" (borrowed): a name rather than
 * __FILE__/__LINE__, so that which sites a seed enables does not move when
 * code is edited above it or built from another folder, and the trace says
 * what happened. */
bool fl_buggify(FlNode *n, const char *site);
bool fl_buggify_p(FlNode *n, const char *site, double p);

/* ---- Disk ----------------------------------------------------------- */
/* Each node has its own disk of named files.  Writes go to a cache that
 * reads see at once; only what fl_disk_sync made durable survives a crash. */

/* Replaces the whole content of @file. */
void fl_disk_write(FlNode *n, const char *file, const void *data, size_t len);
/* Appends to @file. */
void fl_disk_append(FlNode *n, const char *file, const void *data, size_t len);
/* Cuts @file to @len bytes (no-op if shorter). */
void fl_disk_truncate(FlNode *n, const char *file, size_t len);
/* Makes the file's current content durable. */
void fl_disk_sync(FlNode *n, const char *file);
/* Copies up to @cap bytes from offset 0 into @buf; returns the file's size
 * (0 if it does not exist). */
size_t fl_disk_read(FlNode *n, const char *file, void *buf, size_t cap);
/* Borrowed view of the whole file, valid until the next disk call; NULL and
 * 0 if it does not exist. */
const uint8_t *fl_disk_view(FlNode *n, const char *file, size_t *len);

/* ---- Observability -------------------------------------------------- */

/* Declares this node's role ("leader", "follower", "primary", ...): shown in
 * the trace, and the "leader" selector picks the last node to claim it.
 * @role is copied (at most 31 bytes kept). */
void fl_role(FlNode *n, const char *role);
/* Adds a line to the trace. */
void fl_log(FlNode *n, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Adds @text (borrowed) to the trace as a line, as fl_log(n, "%s", text)
 * does but without printf: for a line logged on every step. */
void fl_log_text(FlNode *n, const char *text);
/* Adds to a named counter in metrics.json ("elections": 1). */
void fl_metric_add(FlNode *n, const char *name, double v);
/* The named counter itself, created at 0 if new, for a protocol that adds
 * to it on every message (`*c += v`), where fl_metric_add's lookup by name
 * shows.  The pointer stays valid until the run ends, across crashes and
 * restarts.  A counter is in metrics.json once created, so ask for it when
 * first adding to it, not ahead of time. */
double *fl_metric(FlNode *n, const char *name);

/* Measurement only, for clock synchronisation protocols: tells the engine
 * that this node now believes the true time is @believed (its synchronised
 * clock).  The engine, which knows true time, keeps the error (believed -
 * true) in counters the protocol need not read: @prefix.error_max_us, the
 * largest |error| reported by any node in the run, and @prefix.spread_us,
 * the largest minus the smallest of the nodes' last reported errors (how
 * far apart the synchronised clocks are, whatever true time is); both in
 * microseconds, and the error is shown in the trace.  @prefix is borrowed
 * for the call; list the two counters in the protocol's `counters`. */
void fl_clock_report(FlNode *n, const char *prefix, FlTime believed);

/* ---- Out-of-tree modules -------------------------------------------- */
/* A protocol built outside faultline's tree is a shared object that the
 * `faultline` program loads (a scenario's "cluster": {"module": PATH} or
 * --module PATH).  Its C file includes this header and ends with
 *
 *     FL_MODULE(&my_proto, &my_other_proto);
 *
 * which exports one symbol, `fl_module`: the ABI version the file was
 * compiled against and its NULL-terminated list of protocols.  The module
 * calls the fl_ functions above, which the loading program provides, so it
 * need not link libfaultline.  The protocols are borrowed by the program for
 * as long as the module stays loaded (until it exits).
 *
 * FL_ABI_VERSION counts incompatible changes to what a module sees: the
 * layout of FlProtocol, FlParam, FlRequest, FlResult, FlOp, FlWriter,
 * FlReader and FlRng, the inline functions of these headers, and the
 * meaning of the fl_ calls.  The loader refuses a module built with another
 * version (exit 2) rather than run it on a mismatched layout. */
#define FL_ABI_VERSION 2

typedef struct FlModule {
    uint32_t abi_version;                /* FL_ABI_VERSION when it was built: read first */
    uint32_t reserved;                   /* 0 */
    const FlProtocol *const *protocols;  /* NULL-terminated, static storage */
} FlModule;

/* The one symbol a module exports (declared here so that in C++ the
 * definition FL_MODULE writes has C linkage and external visibility). */
#if defined(__GNUC__)
#define FL_MODULE_EXPORT __attribute__((visibility("default")))
#else
#define FL_MODULE_EXPORT
#endif

/* Visible even when the module is built with -fvisibility=hidden. */
extern FL_MODULE_EXPORT const FlModule fl_module;

#define FL_MODULE(...) \
    static const FlProtocol *const fl_module_protocols_[] = { __VA_ARGS__, NULL }; \
    const FlModule fl_module = { FL_ABI_VERSION, 0, fl_module_protocols_ }

#ifdef __cplusplus
}
#endif
