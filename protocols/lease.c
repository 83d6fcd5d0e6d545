/* lease: a lock service that grants leases, a storage service, and workers
 * that update a shared resource under the lock; with fencing tokens
 * (Gray, Cheriton, "Leases", SOSP 1989; the fencing token as Kleppmann
 * tells it in "How to do distributed locking", 2016) or without.
 *
 * Design notes.
 *  1. Roles by id: node 0 is the lock service ("lock"), node 1 the storage
 *     ("storage"), nodes 2.. are workers.  A client step asks a worker to
 *     increment the resource, a counter on the storage, once: acquire the
 *     lock, read the counter, work for `work`, write the counter + 1,
 *     release.  A step sent to node 0 or 1, or to a busy worker, is
 *     redirected to a random worker.  The step's value is what it wrote.
 *  2. The lock service grants one lease at a time, for `lease` by its own
 *     clock, with a token one above the last it granted.  The token is
 *     synced to disk before the grant leaves, so tokens only grow, even
 *     across its crashes; after a restart it grants nothing for `lease`,
 *     since it cannot know whether a lease it granted before is still
 *     running.  A resent ACQUIRE of the holder's attempt gets its GRANT
 *     again; a RELEASE naming the current token frees the lock early.
 *  3. A worker counts its lease from when it sent the ACQUIRE that was
 *     granted (the lease began later): while the lock is held it asks again
 *     every `retry`, numbering each ask, and the GRANT names the ask it
 *     answers (a GRANT sent again names the first); an ask it no longer
 *     remembers the time of counts as expired.  It checks the lease once, when the read
 *     comes back: if it has run out the worker releases and starts over;
 *     otherwise it works and writes without looking again.  That is how
 *     real clients fail: between the check and the write the process can
 *     stop (a GC pause, the `pause` fault), its clock can run slow, or the
 *     write can sit in the network, and the write then lands after the
 *     lease went to someone else.
 *  4. Fencing (param `fencing`, on by default): every READ and WRITE carries
 *     the token, and the storage refuses one whose token is below the
 *     highest it has seen (REJECTED; the worker starts over).  Reads count
 *     too: a holder with an older token that read before a newer holder
 *     read would otherwise still write, on the value both read, and an
 *     increment is lost.  Without fencing the storage takes every access,
 *     and a late writer overwrites its successor's increment.  The storage
 *     syncs the highest token, the counter and its log line before it
 *     answers.
 *  5. Lost messages: a worker resends its current message every `retry`;
 *     the storage applies a worker's write once per token (a resent WRITE
 *     of the token it applied last for that worker is only acknowledged).
 *  6. Logs (workload `events`; sim/check/lease.c judges them): the header
 *     "lease node=I nodes=N role=R fencing=0|1", then on the lock service
 *     "g W TOKEN" (granted), and on the storage "r W TOKEN V" (served a read
 *     of V), "a W TOKEN V" (applied a write of V), "j W TOKEN" (rejected).
 *     Workers log nothing but their header.
 *  7. Messages: u8 type, u64 X, u64 Y, u64 Z (note 8).  One that does not decode,
 *     or comes to the wrong role, is dropped (lease.dropped).
 *  8. ACQUIRE(attempt, -, ask) and GRANT(attempt, token, ask) between a worker and the
 *     lock service; RELEASE(token); READ(token), VALUE(token, v),
 *     WRITE(token, v), ACCEPTED(token, v), REJECTED(token) between a worker
 *     and the storage. */
#include "protocols/eventlog.h"
#include "sim/node.h"

#include <inttypes.h>
#include <string.h>

#define LEASE_MAX_NODES 64
#define QUEUE_MAX 4
#define LOG_MAX (512u * 1024u)
#define ASKS 16   /* the asks whose send times a worker remembers (note 3) */
#define LOCK 0u
#define STORAGE 1u

enum { M_ACQUIRE = 0x71, M_GRANT, M_RELEASE, M_READ, M_VALUE, M_WRITE, M_ACCEPTED, M_REJECTED };
enum { T_RETRY = 1, T_WORK };
enum { W_IDLE, W_ACQUIRING, W_READING, W_WORKING, W_WRITING };

typedef struct Lease {
    uint32_t self, n;
    FlDuration lease, work, retry;
    bool fencing, full;
    /* lock service */
    uint64_t last_token;        /* the last token granted (synced) */
    uint32_t holder;            /* LEASE_MAX_NODES: none */
    uint64_t holder_attempt, holder_ask;
    FlTime expires, quiet_until;
    /* storage */
    uint64_t value, max_token;
    uint64_t applied[LEASE_MAX_NODES];   /* the token of each worker's last applied write */
    /* worker */
    int phase;
    FlRequest queue[QUEUE_MAX];
    uint32_t queued;
    uint64_t attempt, token, read_value, asks;
    FlTime ask_sent[ASKS], lease_end;
} Lease;

static const FlParam lease_params[] = {
    { "lease", FL_PARAM_DURATION, "\"100ms\"", "how long a lease lasts, by the lock service's clock", NULL, 1e6, 1e12 },
    { "work", FL_PARAM_DURATION, "\"20ms\"", "how long a worker works between reading the resource and writing it", NULL, 0, 1e12 },
    { "retry", FL_PARAM_DURATION, "\"10ms\"", "how often a worker resends its current message", NULL, 1e5, 1e12 },
    { "fencing", FL_PARAM_BOOL, "true", "the storage refuses an access whose token is below the highest it has seen (note 4)", NULL, 0, 0 },
    { NULL },
};

static const char *const lease_counters[] = {
    "lease.granted", "lease.released", "lease.expired_local", "lease.rejected", "lease.applied", "lease.resent",
    "lease.dropped", "lease.full", NULL,
};

static void log_line(FlNode *n, Lease *s, const char *line)
{
    fl_eventlog_append(n, &s->full, LOG_MAX, "lease.full", line);
}

static void send_msg3(FlNode *n, uint32_t to, uint8_t type, uint64_t x, uint64_t y, uint64_t z)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, type);
    fl_put_u64(&w, x);
    fl_put_u64(&w, y);
    fl_put_u64(&w, z);
    size_t len = w.len;
    fl_writer_deinit(&w);
    fl_send(n, to, buf, len);
}

static void send_msg(FlNode *n, uint32_t to, uint8_t type, uint64_t x, uint64_t y)
{
    send_msg3(n, to, type, x, y, 0);
}

/* ---- lock service (note 2) ---- */

static void lock_persist(FlNode *n, Lease *s)
{
    uint8_t b[8];
    memcpy(b, &s->last_token, 8);
    fl_disk_write(n, "token", b, 8);
    fl_disk_sync(n, "token");
}

static void lock_on_acquire(FlNode *n, Lease *s, uint32_t from, uint64_t attempt, uint64_t ask)
{
    FlTime now = fl_now(n);
    if (s->holder == from && s->holder_attempt == attempt && now < s->expires) {
        /* The GRANT was lost: the same lease, from the same ask. */
        send_msg3(n, from, M_GRANT, attempt, s->last_token, s->holder_ask);
        return;
    }
    if ((s->holder < s->n && now < s->expires) || now < s->quiet_until)
        return;   /* held: the worker asks again */
    s->last_token++;
    s->holder = from;
    s->holder_attempt = attempt;
    s->holder_ask = ask;
    s->expires = now + s->lease;
    g_autofree char *l = g_strdup_printf("g %u %" PRIu64 "\n", from, s->last_token);
    log_line(n, s, l);
    fl_disk_sync(n, "log");
    lock_persist(n, s);
    fl_metric_add(n, "lease.granted", 1);
    send_msg3(n, from, M_GRANT, attempt, s->last_token, ask);
}

static void lock_on_release(FlNode *n, Lease *s, uint32_t from, uint64_t token)
{
    if (s->holder == from && token == s->last_token) {
        s->holder = LEASE_MAX_NODES;
        fl_metric_add(n, "lease.released", 1);
    }
}

/* ---- storage (notes 4, 5) ---- */

typedef struct {
    uint64_t value, max_token, applied[LEASE_MAX_NODES];
} StorageDisk;

static void storage_persist(FlNode *n, Lease *s)
{
    StorageDisk d = { .value = s->value, .max_token = s->max_token };
    memcpy(d.applied, s->applied, sizeof d.applied);
    fl_disk_write(n, "state", &d, sizeof d);
    fl_disk_sync(n, "state");
    fl_disk_sync(n, "log");
}

/* Note 4: whether the storage takes an access with @token. */
static bool storage_admits(FlNode *n, Lease *s, uint32_t from, uint64_t token)
{
    if (!s->fencing || token >= s->max_token)
        return true;
    g_autofree char *l = g_strdup_printf("j %u %" PRIu64 "\n", from, token);
    log_line(n, s, l);
    fl_metric_add(n, "lease.rejected", 1);
    send_msg(n, from, M_REJECTED, token, 0);
    return false;
}

static void storage_on_read(FlNode *n, Lease *s, uint32_t from, uint64_t token)
{
    if (!storage_admits(n, s, from, token))
        return;
    if (token > s->max_token)
        s->max_token = token;
    g_autofree char *l = g_strdup_printf("r %u %" PRIu64 " %" PRIu64 "\n", from, token, s->value);
    log_line(n, s, l);
    storage_persist(n, s);
    send_msg(n, from, M_VALUE, token, s->value);
}

static void storage_on_write(FlNode *n, Lease *s, uint32_t from, uint64_t token, uint64_t v)
{
    if (token == s->applied[from]) {
        send_msg(n, from, M_ACCEPTED, token, v);   /* note 5: a resent WRITE */
        return;
    }
    if (!storage_admits(n, s, from, token))
        return;
    if (token > s->max_token)
        s->max_token = token;
    s->value = v;
    s->applied[from] = token;
    g_autofree char *l = g_strdup_printf("a %u %" PRIu64 " %" PRIu64 "\n", from, token, v);
    log_line(n, s, l);
    storage_persist(n, s);
    fl_metric_add(n, "lease.applied", 1);
    send_msg(n, from, M_ACCEPTED, token, v);
}

/* ---- worker (notes 1, 3, 5) ---- */

static void worker_send_current(FlNode *n, Lease *s)
{
    if (s->phase == W_ACQUIRING) {
        s->asks++;
        s->ask_sent[s->asks % ASKS] = fl_now(n);
        send_msg3(n, LOCK, M_ACQUIRE, s->attempt, 0, s->asks);
    } else if (s->phase == W_READING)
        send_msg(n, STORAGE, M_READ, s->token, 0);
    else if (s->phase == W_WRITING)
        send_msg(n, STORAGE, M_WRITE, s->token, s->read_value + 1);
}

static void worker_acquire(FlNode *n, Lease *s)
{
    s->phase = W_ACQUIRING;
    s->attempt++;
    s->token = 0;
    worker_send_current(n, s);
}

static void worker_start_over(FlNode *n, Lease *s)
{
    send_msg(n, LOCK, M_RELEASE, s->token, 0);
    worker_acquire(n, s);
}

static void worker_next(FlNode *n, Lease *s)
{
    s->phase = W_IDLE;
    if (s->queued)
        worker_acquire(n, s);
}

static void worker_on_message(FlNode *n, Lease *s, uint8_t type, uint64_t x, uint64_t y, uint64_t z)
{
    if (type == M_GRANT && s->phase == W_ACQUIRING && x == s->attempt) {
        s->token = y;
        /* Note 3: from the ask it answers; an ask too old to remember, or
         * one never made, leaves no lease at all. */
        bool known = z <= s->asks && s->asks - z < ASKS;
        s->lease_end = known ? s->ask_sent[z % ASKS] + s->lease : 0;
        s->phase = W_READING;
        worker_send_current(n, s);
    } else if (type == M_VALUE && s->phase == W_READING && x == s->token) {
        if (fl_now(n) >= s->lease_end) {
            fl_metric_add(n, "lease.expired_local", 1);   /* note 3: the only check */
            worker_start_over(n, s);
            return;
        }
        s->read_value = y;
        s->phase = W_WORKING;
        fl_timer(n, s->work, T_WORK);
    } else if (type == M_ACCEPTED && s->phase == W_WRITING && x == s->token) {
        send_msg(n, LOCK, M_RELEASE, s->token, 0);
        FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT, .has_value = true, .value = (int64_t)y };
        fl_reply(n, &s->queue[0], &res);
        memmove(&s->queue[0], &s->queue[1], (s->queued - 1) * sizeof s->queue[0]);
        s->queued--;
        worker_next(n, s);
    } else if (type == M_REJECTED && (s->phase == W_READING || s->phase == W_WRITING) && x == s->token) {
        worker_start_over(n, s);
    }
}

/* ---- the node ---- */

static void lease_init(FlNode *n, void *state)
{
    Lease *s = state;
    s->self = fl_self(n);
    s->n = fl_nodes(n);
    s->lease = fl_param_duration(n, "lease");
    s->work = fl_param_duration(n, "work");
    s->retry = fl_param_duration(n, "retry");
    s->fencing = fl_param_bool(n, "fencing");
    s->holder = LEASE_MAX_NODES;
    const char *role = s->self == LOCK ? "lock" : s->self == STORAGE ? "storage" : "worker";
    fl_role(n, role);
    size_t len = 0;
    if (!fl_disk_view(n, "log", &len)) {
        g_autofree char *h = g_strdup_printf("lease node=%u nodes=%u role=%s fencing=%d\n", s->self, s->n, role,
                                             s->fencing);
        fl_disk_write(n, "log", h, strlen(h));
        fl_disk_sync(n, "log");
    } else if (len > LOG_MAX) {
        s->full = true;
    }
    if (s->self == LOCK) {
        fl_disk_read(n, "token", &s->last_token, sizeof s->last_token);
        /* Note 2: a lease granted before a crash may still run. */
        if (s->last_token)
            s->quiet_until = fl_now(n) + s->lease;
    } else if (s->self == STORAGE) {
        StorageDisk d;
        if (fl_disk_read(n, "state", &d, sizeof d) == sizeof d) {
            s->value = d.value;
            s->max_token = d.max_token;
            memcpy(s->applied, d.applied, sizeof s->applied);
        }
    }
    if (s->self >= 2)
        fl_timer(n, s->retry, T_RETRY);
}

static void lease_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Lease *s = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    uint64_t x = fl_get_u64(&r);
    uint64_t y = fl_get_u64(&r);
    uint64_t z = fl_get_u64(&r);
    bool to_lock = type == M_ACQUIRE || type == M_RELEASE;
    bool to_storage = type == M_READ || type == M_WRITE;
    bool from_worker = from >= 2 && from < s->n;
    bool ok = fl_reader_done(&r) && from < s->n && type >= M_ACQUIRE && type <= M_REJECTED &&
              (s->self == LOCK ? to_lock && from_worker
               : s->self == STORAGE ? to_storage && from_worker
                                    : !to_lock && !to_storage && from == (type == M_GRANT ? LOCK : STORAGE));
    if (!ok) {
        fl_metric_add(n, "lease.dropped", 1);   /* note 7 */
        return;
    }
    if (type == M_ACQUIRE)
        lock_on_acquire(n, s, from, x, z);
    else if (type == M_RELEASE)
        lock_on_release(n, s, from, x);
    else if (type == M_READ)
        storage_on_read(n, s, from, x);
    else if (type == M_WRITE)
        storage_on_write(n, s, from, x, y);
    else
        worker_on_message(n, s, type, x, y, z);
}

static void lease_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    (void)t;
    Lease *s = state;
    if (tag == T_WORK) {
        if (s->phase == W_WORKING) {
            s->phase = W_WRITING;
            worker_send_current(n, s);
        }
        return;
    }
    if (tag != T_RETRY)
        return;
    if (s->phase == W_ACQUIRING || s->phase == W_READING || s->phase == W_WRITING) {
        if (s->phase == W_READING && fl_now(n) >= s->lease_end) {
            fl_metric_add(n, "lease.expired_local", 1);
            worker_start_over(n, s);
            fl_timer(n, s->retry, T_RETRY);
            return;
        }
        fl_metric_add(n, "lease.resent", 1);
        worker_send_current(n, s);
    }
    fl_timer(n, s->retry, T_RETRY);
}

static void lease_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Lease *s = state;
    if (req->op.kind == FL_OP_EVENT_READ) {
        fl_eventlog_reply(n, req);
        return;
    }
    if (req->op.kind != FL_OP_EVENT_STEP || s->n < 3) {
        fl_reply_fail(n, req);
        return;
    }
    if (s->self < 2 || s->queued == QUEUE_MAX || (s->queued && s->n > 3)) {
        /* Note 1: not a worker, or busy: try another worker. */
        uint32_t workers = s->n - 2, to = 2 + (uint32_t)fl_rng_below(fl_rng(n), workers);
        if (s->self >= 2 && workers > 1 && to == s->self)
            to = 2 + (to - 2 + 1) % workers;
        if (to == s->self) {
            fl_reply_fail(n, req);
            return;
        }
        fl_reply_redirect(n, req, to);
        return;
    }
    s->queue[s->queued++] = *req;
    if (s->phase == W_IDLE)
        worker_acquire(n, s);
}

const FlProtocol fl_proto_lease = {
    .name = "lease",
    .summary = "a lock service granting leases and a storage service, with or without fencing tokens (workload events, check serial-resource)",
    .params = lease_params,
    .state_size = sizeof(Lease),
    .init = lease_init,
    .on_message = lease_on_message,
    .on_timer = lease_on_timer,
    .on_request = lease_on_request,
    .counters = lease_counters,
    .max_nodes = LEASE_MAX_NODES,
};
