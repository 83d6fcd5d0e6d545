/* Failure detectors: the library protocols embed (top half) and the
 * engine's accounting of how well they guess (bottom half).
 *
 * Design notes.
 * 1. One tick timer sends a heartbeat to every peer each `interval`.  Each
 *    peer has at most one deadline timer pending: when it fires, the peer is
 *    suspected if its deadline has passed, else the timer is armed again for
 *    the deadline as it is now.  So a heartbeat costs no timer operation,
 *    and a peer costs about one timer event per timeout.
 * 2. A heartbeat carries the sender's epoch (its local time when its
 *    detector started) and a sequence number.  A new epoch means the peer
 *    restarted: its silence was a crash, not a slow link, so
 *    eventually-perfect does not grow the timeout and phi-accrual does not
 *    sample the gap.
 * 3. All times are the observer's local clock: a drifting or jumping clock
 *    misleads its detector, as it would a real one.
 * 4. The accounting keeps one record per (observer, target): trusting,
 *    suspecting truly (the target was down when the suspicion began) or
 *    suspecting falsely.  A crash turns a false suspicion into a true one
 *    (detected at once); a restart leaves a true suspicion true until the
 *    observer trusts again.  Each (observer, crash) counts once: detected
 *    when first suspected, or missed if a live observer never suspects it
 *    before the target restarts or the run ends. */
#include "sim/fd.h"

#include "sim/world_impl.h"

#include <math.h>
#include <string.h>

struct FlFdPeer {
    FlTime last;            /* local time of the last heartbeat (or of the start) */
    FlDuration timeout;     /* heartbeat, perfect, eventually-perfect */
    uint64_t epoch;
    bool heard, suspected, armed;
    uint32_t nsamples, next;
    double *samples;        /* phi-accrual: FL_FD_WINDOW inter-arrival times, ns */
};

static void book_register(FlWorld *w, uint32_t observer, FlFdKind kind);
static void book_report(FlWorld *w, uint32_t observer, uint32_t target, bool suspect);
static void book_observe(FlWorld *w, uint32_t observer);

const char *fl_fd_kind_name(FlFdKind kind)
{
    switch (kind) {
    case FL_FD_PERFECT: return "perfect";
    case FL_FD_HEARTBEAT: return "heartbeat";
    case FL_FD_EVENTUALLY_PERFECT: return "eventually-perfect";
    case FL_FD_PHI_ACCRUAL: return "phi-accrual";
    }
    return "?";
}

bool fl_fd_kind_parse(const char *name, FlFdKind *kind)
{
    for (int k = FL_FD_PERFECT; k <= FL_FD_PHI_ACCRUAL; k++) {
        if (strcmp(name, fl_fd_kind_name((FlFdKind)k)) == 0) {
            *kind = (FlFdKind)k;
            return true;
        }
    }
    return false;
}

void fl_fd_config_from_params(FlNode *n, FlFdConfig *cfg, uint8_t msg_type, uint64_t timer_tag)
{
    memset(cfg, 0, sizeof *cfg);
    bool ok = fl_fd_kind_parse(fl_param_enum(n, "detector"), &cfg->kind);
    g_assert(ok);
    cfg->interval = fl_param_duration(n, "fd_interval");
    cfg->timeout = fl_param_duration(n, "fd_timeout");
    cfg->increase = fl_param_duration(n, "fd_increase");
    cfg->threshold = fl_param_double(n, "fd_phi");
    cfg->min_std = fl_param_duration(n, "fd_min_std");
    cfg->msg_type = msg_type;
    cfg->timer_tag = timer_tag;
}

/* ---- phi-accrual ------------------------------------------------------ */

/* Mean and standard deviation of the peer's inter-arrival times; before
 * two samples, the interval with a quarter of it (as Akka bootstraps). */
static void arrival_law(const FlFd *fd, const FlFdPeer *p, double *mu, double *sigma)
{
    if (p->nsamples < 2) {
        *mu = (double)fd->cfg.interval;
        *sigma = *mu / 4;
    } else {
        double sum = 0, sumsq = 0;
        for (uint32_t i = 0; i < p->nsamples; i++) {
            sum += p->samples[i];
            sumsq += p->samples[i] * p->samples[i];
        }
        *mu = sum / p->nsamples;
        double var = sumsq / p->nsamples - *mu * *mu;
        *sigma = var > 0 ? sqrt(var) : 0;
    }
    if (*sigma < (double)fd->cfg.min_std)
        *sigma = (double)fd->cfg.min_std;
}

/* Akka's logistic approximation of the normal law's tail: the probability
 * that the next heartbeat comes later than @delta. */
static double p_later(double delta, double mu, double sigma)
{
    double y = (delta - mu) / sigma;
    double e = exp(-y * (1.5976 + 0.070566 * y * y));
    return delta > mu ? e / (1.0 + e) : 1.0 - 1.0 / (1.0 + e);
}

double fl_fd_phi(const FlFd *fd, uint32_t peer, FlTime now)
{
    if (fd->cfg.kind != FL_FD_PHI_ACCRUAL || peer >= fd->nodes || peer == fd->self)
        return 0;
    const FlFdPeer *p = &fd->peers[peer];
    double mu, sigma;
    arrival_law(fd, p, &mu, &sigma);
    double q = p_later((double)(now > p->last ? now - p->last : 0), mu, sigma);
    return q > 1e-300 ? -log10(q) : 300;
}

/* The silence after which phi reaches the threshold: solves
 * y (1.5976 + 0.070566 y^2) = -ln(q / (1 - q)), q = 10^-threshold, by
 * bisection (the left side increases with y), and returns mu + y sigma. */
static FlDuration phi_silence(const FlFd *fd, const FlFdPeer *p)
{
    double mu, sigma;
    arrival_law(fd, p, &mu, &sigma);
    double q = pow(10, -fd->cfg.threshold);
    double l = -log(q / (1 - q));
    double lo = l < 0 ? l / 1.5976 : 0, hi = l > 0 ? l / 1.5976 : 0;
    for (int i = 0; i < 80; i++) {
        double mid = (lo + hi) / 2;
        if (mid * (1.5976 + 0.070566 * mid * mid) < l)
            lo = mid;
        else
            hi = mid;
    }
    double d = mu + hi * sigma;
    return d > 0 ? (FlDuration)ceil(d) : 0;
}

/* ---- the detector ----------------------------------------------------- */

static FlTime deadline(const FlFd *fd, const FlFdPeer *p)
{
    FlDuration silence = fd->cfg.kind == FL_FD_PHI_ACCRUAL ? phi_silence(fd, p) : p->timeout;
    return p->last + (FlTime)silence;
}

static void arm(FlFd *fd, FlNode *n, uint32_t peer)
{
    FlFdPeer *p = &fd->peers[peer];
    if (p->armed || p->suspected)
        return;
    FlTime now = fl_now(n), due = deadline(fd, p);
    fl_timer(n, due > now ? (FlDuration)(due - now) : 0, fd->cfg.timer_tag + 1 + peer);
    p->armed = true;
}

static void send_heartbeats(FlFd *fd, FlNode *n)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, fd->cfg.msg_type);
    fl_put_u64(&w, fd->epoch);
    fl_put_u64(&w, ++fd->seq);
    fl_broadcast(n, w.data, w.len);
    fl_writer_deinit(&w);
}

int fl_fd_init(FlFd *fd, FlNode *n, const FlFdConfig *cfg)
{
    FlWorld *w = n->w;
    memset(fd, 0, sizeof *fd);
    g_assert(cfg->interval > 0);
    if (cfg->kind == FL_FD_PERFECT && fl_net_spec(w->net)->timing != FL_TIMING_SYNC) {
        const char *t = fl_net_spec(w->net)->timing == FL_TIMING_ASYNC ? "async" : "partial";
        fl_world_refuse(w, "%s: the perfect failure detector needs the sync timing model "
                        "(/network/timing is \"%s\": no delay bound holds from the start); "
                        "use eventually-perfect, heartbeat or phi-accrual",
                        w->sc->file ? w->sc->file : w->sc->name, t);
        return -1;
    }
    if (fl_nodes(n) > FL_FD_MAX_NODES) {
        fl_world_refuse(w, "%s: failure detectors support at most %u nodes (/cluster/nodes is %u)",
                        w->sc->file ? w->sc->file : w->sc->name, FL_FD_MAX_NODES, fl_nodes(n));
        return -1;
    }
    fd->cfg = *cfg;
    if (cfg->kind == FL_FD_PERFECT) {
        /* Heartbeats leave every interval and take at most the bound, so no
         * two arrive further apart than interval + bound; a tenth of the
         * interval more absorbs the clocks' drift. */
        fd->cfg.timeout = cfg->interval + fl_net_bound(n) + cfg->interval / 10;
    }
    fd->self = fl_self(n);
    fd->nodes = fl_nodes(n);
    fd->epoch = fl_now(n) + 1;   /* never 0: 0 marks "not heard yet" */
    fd->peers = g_new0(FlFdPeer, fd->nodes);
    FlTime now = fl_now(n);
    for (uint32_t i = 0; i < fd->nodes; i++) {
        FlFdPeer *p = &fd->peers[i];
        p->last = now;
        p->timeout = fd->cfg.timeout;
        if (cfg->kind == FL_FD_PHI_ACCRUAL)
            p->samples = g_new0(double, FL_FD_WINDOW);
    }
    book_register(w, fd->self, cfg->kind);
    send_heartbeats(fd, n);
    fl_timer(n, fd->cfg.interval, fd->cfg.timer_tag);
    for (uint32_t i = 0; i < fd->nodes; i++)
        if (i != fd->self)
            arm(fd, n, i);
    return 0;
}

void fl_fd_deinit(FlFd *fd)
{
    for (uint32_t i = 0; fd->peers && i < fd->nodes; i++)
        g_free(fd->peers[i].samples);
    g_free(fd->peers);
    fd->peers = NULL;
}

bool fl_fd_suspects(const FlFd *fd, uint32_t peer)
{
    return fd->peers && peer < fd->nodes && peer != fd->self && fd->peers[peer].suspected;
}

/* A heartbeat from @from: the peer is alive; a suspected one is trusted
 * again, and eventually-perfect learns from its mistake. */
static void on_heartbeat(FlFd *fd, FlNode *n, uint32_t from, uint64_t epoch)
{
    FlFdPeer *p = &fd->peers[from];
    FlTime now = fl_now(n);
    bool same_life = p->heard && p->epoch == epoch;
    if (same_life && now >= p->last && fd->cfg.kind == FL_FD_PHI_ACCRUAL) {
        p->samples[p->next] = (double)(now - p->last);
        p->next = (p->next + 1) % FL_FD_WINDOW;
        if (p->nsamples < FL_FD_WINDOW)
            p->nsamples++;
    }
    if (!same_life && p->heard && fd->cfg.kind == FL_FD_PHI_ACCRUAL)
        p->nsamples = p->next = 0;   /* a new life: the old gaps say nothing */
    if (p->suspected) {
        p->suspected = false;
        if (same_life && fd->cfg.kind == FL_FD_EVENTUALLY_PERFECT)
            p->timeout += fd->cfg.increase;
        book_report(n->w, fd->self, from, false);
    }
    p->heard = true;
    p->epoch = epoch;
    p->last = now;
    arm(fd, n, from);
}

bool fl_fd_on_message(FlFd *fd, FlNode *n, uint32_t from, const uint8_t *msg, size_t len)
{
    if (len == 0 || msg[0] != fd->cfg.msg_type || !fd->peers)
        return false;
    FlReader r;
    fl_reader_init(&r, msg, len);
    fl_get_u8(&r);
    uint64_t epoch = fl_get_u64(&r);
    fl_get_u64(&r);   /* seq: only for traces */
    if (fl_reader_done(&r) && from < fd->nodes && from != fd->self && epoch != 0)
        on_heartbeat(fd, n, from, epoch);
    return true;
}

bool fl_fd_on_timer(FlFd *fd, FlNode *n, uint64_t tag)
{
    if (!fd->peers || tag < fd->cfg.timer_tag || tag > fd->cfg.timer_tag + fd->nodes)
        return false;
    if (tag == fd->cfg.timer_tag) {
        send_heartbeats(fd, n);
        fl_timer(n, fd->cfg.interval, fd->cfg.timer_tag);
        return true;
    }
    uint32_t peer = (uint32_t)(tag - fd->cfg.timer_tag - 1);
    FlFdPeer *p = &fd->peers[peer];
    p->armed = false;
    if (p->suspected || peer == fd->self)
        return true;
    if (fl_now(n) >= deadline(fd, p)) {
        p->suspected = true;
        book_report(n->w, fd->self, peer, true);
    } else {
        arm(fd, n, peer);
    }
    return true;
}

/* ---- the engine's accounting ------------------------------------------ */

enum { TRUSTS = 0, SUSPECTS_TRULY, SUSPECTS_FALSELY };

typedef struct Pair {
    FlTime since;     /* suspecting: when it began; trusting and pending: when
                         detection time starts counting */
    uint8_t state;
    bool pending;     /* trusting a crashed target: a detection is owed */
} Pair;

struct FdBook {
    uint32_t n;
    Pair *pairs;      /* n x n, observer-major */
    bool *observing;  /* the node runs a detector in its current life */
    int kinds;        /* bit set of FlFdKind */
    const char *own;  /* the kind of a protocol's own detector, or NULL */
    uint64_t suspicions, detections, missed, false_count;
    FlDuration false_total, false_max;
    GArray *det_times;   /* of FlDuration */
};

static struct FdBook *book(FlWorld *w)
{
    if (!w->fd) {
        struct FdBook *b = g_new0(struct FdBook, 1);
        b->n = w->nnodes;
        b->pairs = g_new0(Pair, (size_t)b->n * b->n);
        b->observing = g_new0(bool, b->n);
        b->det_times = g_array_new(FALSE, FALSE, sizeof(FlDuration));
        w->fd = b;
    }
    return w->fd;
}

static Pair *pair(struct FdBook *b, uint32_t observer, uint32_t target)
{
    return &b->pairs[(size_t)observer * b->n + target];
}

static void end_false(FlWorld *w, struct FdBook *b, Pair *p)
{
    FlDuration d = (FlDuration)(w->now - p->since);
    b->false_count++;
    b->false_total += d;
    if (d > b->false_max)
        b->false_max = d;
}

static void detected(struct FdBook *b, FlDuration d)
{
    b->detections++;
    g_array_append_val(b->det_times, d);
}

/* Crashed and not restarted.  (Not `!up`: at the start, nodes not yet
 * started are not down.) */
static bool crashed(const FlWorld *w, uint32_t node)
{
    return w->nodes[node].down_since != FL_TIME_NEVER;
}

static void book_register(FlWorld *w, uint32_t observer, FlFdKind kind)
{
    struct FdBook *b = book(w);
    b->kinds |= 1 << kind;
    book_observe(w, observer);
}

void fl_fd_own_start(FlNode *n, const char *name)
{
    book(n->w)->own = name;
    book_observe(n->w, fl_self(n));
}

void fl_fd_own_report(FlNode *n, uint32_t target, bool suspect)
{
    if (target < n->w->nnodes && target != fl_self(n))
        book_report(n->w, fl_self(n), target, suspect);
}

static void book_observe(FlWorld *w, uint32_t observer)
{
    struct FdBook *b = book(w);
    b->observing[observer] = true;
    for (uint32_t t = 0; t < b->n; t++) {
        bool down = crashed(w, t);
        *pair(b, observer, t) = (Pair){ .since = w->now, .state = TRUSTS, .pending = down };
    }
}

static void book_report(FlWorld *w, uint32_t observer, uint32_t target, bool suspect)
{
    struct FdBook *b = book(w);
    Pair *p = pair(b, observer, target);
    bool down = crashed(w, target);
    const char *note;
    if (suspect) {
        if (p->state != TRUSTS)
            return;
        b->suspicions++;
        fl_world_sla_signal(w);
        if (down) {
            if (p->pending)
                detected(b, (FlDuration)(w->now - p->since));
            p->pending = false;
            p->state = SUSPECTS_TRULY;
            note = "crashed";
        } else {
            p->state = SUSPECTS_FALSELY;
            note = "up: a false suspicion";
        }
        p->since = w->now;
    } else {
        if (p->state == TRUSTS)
            return;
        if (p->state == SUSPECTS_FALSELY)
            end_false(w, b, p);
        /* Trusting a crashed node again (a heartbeat it sent before the
         * crash came late) is no new crash to detect: the first suspicion
         * counted. */
        p->state = TRUSTS;
        p->since = w->now;
        note = down ? "crashed" : "up";
    }
    g_autofree char *text = g_strdup_printf("fd %s %u (%s)", suspect ? "suspects" : "trusts",
                                            target, note);
    fl_trace(&w->trace, FL_TR_LOG, w->now, observer, target, 0, 0, text);
}

void fl_fd_book_crash(FlWorld *w, uint32_t node)
{
    struct FdBook *b = w->fd;
    if (!b)
        return;
    /* As an observer: its detector dies with it. */
    if (b->observing[node]) {
        for (uint32_t t = 0; t < b->n; t++) {
            Pair *p = pair(b, node, t);
            if (p->state == SUSPECTS_FALSELY)
                end_false(w, b, p);
            *p = (Pair){ 0 };
        }
        b->observing[node] = false;
    }
    /* As a target: every live observer now owes a detection. */
    for (uint32_t o = 0; o < b->n; o++) {
        if (!b->observing[o] || o == node)
            continue;
        Pair *p = pair(b, o, node);
        if (p->state == SUSPECTS_FALSELY) {
            end_false(w, b, p);
            p->state = SUSPECTS_TRULY;
            p->since = w->now;
            detected(b, 0);
        } else if (p->state == SUSPECTS_TRULY) {
            detected(b, 0);
        } else {
            p->pending = true;
            p->since = w->now;
        }
    }
}

void fl_fd_book_restart(FlWorld *w, uint32_t node)
{
    struct FdBook *b = w->fd;
    if (!b)
        return;
    for (uint32_t o = 0; o < b->n; o++) {
        Pair *p = pair(b, o, node);
        if (b->observing[o] && o != node && p->pending) {
            b->missed++;
            p->pending = false;
        }
    }
}

void fl_fd_book_finish(FlWorld *w)
{
    struct FdBook *b = w->fd;
    if (!b)
        return;
    for (uint32_t o = 0; o < b->n; o++) {
        if (!b->observing[o])
            continue;
        for (uint32_t t = 0; t < b->n; t++) {
            Pair *p = pair(b, o, t);
            if (t == o)
                continue;
            if (p->state == SUSPECTS_FALSELY) {
                end_false(w, b, p);
                p->state = TRUSTS;
            }
            if (p->pending) {
                b->missed++;
                p->pending = false;
            }
        }
    }
}

void fl_fd_book_free(FlWorld *w)
{
    struct FdBook *b = w->fd;
    if (!b)
        return;
    g_free(b->pairs);
    g_free(b->observing);
    g_array_free(b->det_times, TRUE);
    g_free(b);
    w->fd = NULL;
}

static int cmp_dur(const void *a, const void *b)
{
    FlDuration x = *(const FlDuration *)a, y = *(const FlDuration *)b;
    return x < y ? -1 : x > y;
}

json_t *fl_world_fd_metrics(const FlWorld *w)
{
    const struct FdBook *b = w->fd;
    if (!b)
        return NULL;
    json_t *kinds = json_array();
    for (int k = FL_FD_PERFECT; k <= FL_FD_PHI_ACCRUAL; k++)
        if (b->kinds & (1 << k))
            json_array_append_new(kinds, json_string(fl_fd_kind_name((FlFdKind)k)));
    if (b->own)
        json_array_append_new(kinds, json_string(b->own));
    g_autoptr(GArray) d = g_array_sized_new(FALSE, FALSE, sizeof(FlDuration), b->det_times->len);
    g_array_append_vals(d, b->det_times->data, b->det_times->len);
    g_array_sort(d, cmp_dur);
    double sum = 0;
    for (guint i = 0; i < d->len; i++)
        sum += (double)g_array_index(d, FlDuration, i);
    FlDuration p50 = d->len ? g_array_index(d, FlDuration, (d->len - 1) / 2) : 0;
    FlDuration max = d->len ? g_array_index(d, FlDuration, d->len - 1) : 0;
    return json_pack("{s:o,s:I,s:{s:I,s:I},s:{s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I}}",
                     "kinds", kinds,
                     "suspicions", (json_int_t)b->suspicions,
                     "detections", "count", (json_int_t)b->detections, "missed", (json_int_t)b->missed,
                     "detection_time_ns", "mean", (json_int_t)(d->len ? sum / d->len : 0),
                     "p50", (json_int_t)p50, "max", (json_int_t)max,
                     "false_suspicions", "count", (json_int_t)b->false_count,
                     "total_ns", (json_int_t)b->false_total,
                     "mean_ns", (json_int_t)(b->false_count ? b->false_total / (FlDuration)b->false_count : 0),
                     "max_ns", (json_int_t)b->false_max);
}
