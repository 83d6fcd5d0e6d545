/* vr: Viewstamped Replication Revisited, replicating a linearizable store.
 *
 * Design notes.  Sections are those of Liskov and Cowling, "Viewstamped
 * Replication Revisited", MIT-CSAIL-TR-2012-021.
 *
 * 1. Status (§4, Figure 2).  A replica is normal, in a view change, or
 *    recovering.  The primary of view v is replica v mod n; nobody is
 *    elected.  Every change of status goes through become_primary(),
 *    become_backup(), start_view_change() or start_recovery(), which also
 *    declare the role to the trace with fl_role().
 *
 * 2. No disk.  VR keeps nothing on disk: a crash loses the replica's whole
 *    memory, and the recovery protocol (note 6) is what makes that safe, as
 *    long as at most f = (n-1)/2 replicas are crashed or recovering at
 *    once.  More than that and the system stops (recovery waits for f+1
 *    normal replicas), it never forgets a committed operation.
 *
 * 3. Normal operation (§4.1).  The primary appends a client request to its
 *    log (op-number + 1) and sends Prepare to the backups.  Unlike the
 *    paper's one Prepare per op, a Prepare carries a run of ops (a backup
 *    told where it stands resumes from there), and the primary keeps, per
 *    backup, the highest op it acknowledged (`acked`) and where to resend
 *    from (`next`).  A backup appends only in order: ops it holds are
 *    skipped, a gap is not filled (it answers with its op-number, and asks
 *    for the rest with GetState, note 7).  PrepareOK(v, op) says "my log
 *    holds ops 1..op of view v's log".  An op is committed once f backups
 *    and the primary hold it; ops before it commit with it.  Every
 *    `heartbeat` the primary resends from `next` to each backup behind, and
 *    sends Commit to the others, which tells backups the commit number and
 *    that the primary is alive.
 *
 * 4. Clients (§4.1 and the client table).  A replica that is not a normal
 *    primary redirects to the primary it knows of.  Reads and writes alike
 *    go through the log (§4.1 has no read shortcut without leases), and
 *    fl_store_apply_request keeps the client table: a request proposed
 *    twice (a retry after a redirect or a view change) takes effect once,
 *    and the second copy gets the first's answer.  The primary answers when
 *    it applies the op it proposed; when it leaves normal status it
 *    redirects the clients it had not answered: their ops may still commit
 *    in the next view, and a retry is then deduplicated.  A client whose
 *    primary went silent times out, recorded as `info` (it may have
 *    happened); only a cas whose value did not match, or a request refused
 *    before it entered the log (note 8), is a `fail`.
 *
 * 5. View change (§4.2).  A backup that has not heard from its primary for
 *    a view timeout (drawn anew from `view_timeout` each time) moves to
 *    view v+1, status view-change, and sends StartViewChange.  A replica
 *    that learns of a higher view joins it.  Having StartViewChange for its
 *    view from f others, a replica sends DoViewChange (log, last normal
 *    view, op-number, commit number) to the new primary.  With f+1 of them
 *    (its own included) the new primary takes the log of the largest last
 *    normal view, then of the largest op-number, the largest commit
 *    number, becomes normal and sends StartView with that log.  A view
 *    change that does not finish within a view timeout moves on to the
 *    next view.  Lost messages are resent every heartbeat.
 *
 * 6. Recovery (§4.3).  A restarted replica (FlProtocol.recover: memory
 *    zeroed) is recovering: it draws a nonce, sends Recovery to all, and
 *    waits for RecoveryResponse with that nonce from f+1 others, one of
 *    them the primary of the largest view among the answers; only the
 *    primary's answer carries the log, which it then adopts.  Only normal
 *    replicas answer.  Until recovered it takes no part in normal
 *    operation or view changes (it ignores every other message), so the
 *    acknowledgements it gave before the crash, now forgotten, cannot be
 *    contradicted by it.  A primary answering a Recovery also forgets the
 *    sender's old acknowledgement (`acked`), so that it never counts an op
 *    the replica no longer holds.
 *
 * 7. State transfer (§5.2).  A replica that learns of a newer view from a
 *    Prepare or Commit (it missed the view change) keeps only its
 *    committed prefix (op-number := commit number: the rest may not be in
 *    the new view's log), joins the view and sends GetState(v, op) to the
 *    primary; so does a backup that sees a gap in its own view.  A normal
 *    replica of view v answers with NewState: the ops after op, and the
 *    commit number.  Logs are never truncated to a checkpoint here, so
 *    NewState always has what was asked for.
 *
 * 8. Bounds.  The log holds at most VR_MAX_LOG ops (vr.h), so that a whole
 *    log fits in one DoViewChange; a primary whose log is full fails new
 *    requests (`fail`: certainly not applied).
 *
 * 9. Teachable bug (param `bug`), a realistic mistake:
 *    skip-recovery  a restarted replica skips note 6 and rejoins at once as
 *                   a normal replica of view 0 with an empty log, as if it
 *                   were starting for the first time.  It answers
 *                   StartViewChange and DoViewChange with that empty log
 *                   and acknowledges Prepares again from op 1, so the
 *                   acknowledgements it gave before the crash are
 *                   forgotten: once a majority has crashed in sequence
 *                   (each restart finishing before the next crash, never
 *                   more than f down at a time), a view change can be
 *                   decided by replicas none of which holds a committed
 *                   op, and it is gone.  Restarted as the primary of the
 *                   view everyone is still in, it even proposes new ops
 *                   over the committed ones.
 *
 * 10. Timers.  One periodic tick every `heartbeat` drives everything timed:
 *     the primary's resends and Commits, a backup's view timeout, a stalled
 *     view change, resent StartViewChange/DoViewChange and Recovery.  It is
 *     armed at start and rearmed by itself, so nothing can be left armed
 *     from an earlier status.
 *
 * 11. BUGGIFY sites (sim/node.h fl_buggify), each a choice VR leaves open:
 *     vr.batch-of-one     a Prepare carries one op where it could carry
 *                         max_batch: backups catch up in the smallest steps.
 *     vr.commit-skipped   one backup's Commit not sent, as if lost: view
 *                         timeouts must tolerate a missing one.
 *     vr.view-timeout-min the view timeout at the bottom of its range, so
 *                         that backups start view changes together.
 *     vr.no-piggyback     a Prepare sent with an older commit number (the
 *                         commit number is only a hint to backups).
 *
 * 12. Exploration (`faultline explore`).  vr_digest hashes what decides a
 *     replica's future: status, view, last normal view, the log, commit
 *     number, the store, the primary's per-backup progress and waiting
 *     clients, the view change and recovery being collected; it leaves
 *     out local times and the nonce (a name).  vr_invariant checks, over
 *     the live replicas: committed prefixes agree, and in a view whose
 *     primary is normal, every normal backup's log is a prefix of the
 *     primary's.
 */
#include "protocols/vr/vr.h"

#include <inttypes.h>
#include <string.h>

typedef enum { NORMAL, VIEW_CHANGE, RECOVERING } Status;

typedef enum { BUG_NONE, BUG_SKIP_RECOVERY } Bug;

enum { TIMER_TICK = 1 };

/* A client request the primary proposed and has not answered. */
typedef struct Pending {
    uint64_t op;
    FlRequest req;
    FlTime proposed;
} Pending;

typedef struct Vr {
    /* Parameters. */
    uint32_t self, nodes;
    FlDuration heartbeat, view_lo, view_hi;
    uint32_t max_batch;
    Bug bug;

    /* Replica state (§4, Figure 2). */
    Status status;
    uint64_t view, last_normal;
    GArray *log;            /* of FlRequest: log[k] is op k + 1 */
    uint64_t commit, applied;
    FlStore *store;         /* ops 1..applied applied */
    FlTime last_heard;      /* backup: last word from its primary (note 5) */
    FlDuration view_timeout;

    /* Primary (note 3). */
    uint64_t *acked, *next;  /* indexed by replica */
    GArray *pending;         /* of Pending, by increasing op */

    /* View change (note 5). */
    FlTime vc_started;
    bool *svc;               /* StartViewChange for `view` heard from */
    bool dvc_sent;
    bool *dvc;               /* new primary: DoViewChange for `view` from */
    GArray *best_log;        /* the log chosen so far, owned */
    uint64_t best_last_normal, best_commit;
    bool have_best;

    /* Recovery (note 6). */
    uint64_t nonce;
    bool *rr;                /* RecoveryResponse with our nonce from */
    uint64_t rr_view;        /* the largest view among them */
    bool rr_have_primary;    /* rr_log is the answer of rr_primary_view's primary */
    uint64_t rr_primary_view, rr_commit;
    GArray *rr_log;

    double *commits_count, *commit_latency_count;
} Vr;

static const FlParam vr_params[] = {
    { "view_timeout", FL_PARAM_RANGE, "[\"150ms\",\"300ms\"]",
      "a backup that has not heard from its primary for this long starts a view change (§4.2); "
      "drawn anew from the range each time", NULL, 0, 0 },
    { "heartbeat", FL_PARAM_DURATION, "\"50ms\"",
      "how often the primary sends Commit when idle and resends Prepares", NULL, 1, 1e12 },
    { "max_batch", FL_PARAM_INT, "64", "most ops in one Prepare or NewState", NULL, 1, VR_MAX_LOG },
    { "bug", FL_PARAM_ENUM, "\"none\"", "a deliberate mistake, for teaching (see vr.c note 9)",
      "none|skip-recovery", 0, 0 },
    { NULL },
};

static uint32_t primary_of(const Vr *v, uint64_t view)
{
    return (uint32_t)(view % v->nodes);
}

static bool is_primary(const Vr *v)
{
    return primary_of(v, v->view) == v->self;
}

static uint32_t quorum_f(const Vr *v)
{
    return (v->nodes - 1) / 2;
}

static uint64_t op_number(const Vr *v)
{
    return v->log->len;
}

static const FlRequest *op_at(const GArray *log, uint64_t op)
{
    return &g_array_index(log, FlRequest, op - 1);
}

static FlDuration since(const FlNode *n, FlTime then)
{
    FlTime now = fl_now(n);
    return now > then ? (FlDuration)(now - then) : 0;
}

static uint32_t count(const bool *set, uint32_t nodes)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < nodes; i++)
        c += set[i];
    return c;
}

static void metric_add(FlNode *n, double **c, const char *name, double v)
{
    if (!*c)
        *c = fl_metric(n, name);
    **c += v;
}

/* ---- Sending ---------------------------------------------------------- */

static void send_msg(FlNode *n, uint32_t to, const VrMsg *m)
{
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    vr_msg_encode(&w, m);
    if (to == UINT32_MAX)
        fl_broadcast(n, w.data, w.len);
    else
        fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

/* A message whose entries are ops @from..@to of @log (borrowed). */
static VrMsg with_ops(uint8_t type, uint64_t view, const GArray *log, uint64_t from, uint64_t to)
{
    VrMsg m = { .type = type, .view = view, .op = to };
    if (to >= from) {
        m.n = (uint32_t)(to - from + 1);
        m.entries = (FlRequest *)(void *)&g_array_index(log, FlRequest, from - 1);
    }
    return m;
}

/* Note 3: ops next[to].. (at most max_batch) to a backup, or Commit when
 * it has them all. */
static void send_prepare(FlNode *n, Vr *v, uint32_t to)
{
    uint64_t from = v->next[to], last = op_number(v);
    if (from > last) {
        VrMsg m = { .type = VR_COMMIT, .view = v->view, .op = last, .commit = v->commit };
        send_msg(n, to, &m);
        return;
    }
    uint64_t batch = v->max_batch;
    if (batch > 1 && fl_buggify(n, "vr.batch-of-one"))
        batch = 1;
    if (last - from + 1 > batch)
        last = from + batch - 1;
    VrMsg m = with_ops(VR_PREPARE, v->view, v->log, from, last);
    m.commit = v->commit < last ? v->commit : last;
    if (fl_buggify(n, "vr.no-piggyback"))
        m.commit = 0;
    send_msg(n, to, &m);
    /* Optimistic: the next send goes on from here; a PrepareOK that says
     * otherwise moves it back (note 3). */
    v->next[to] = last + 1;
}

static void draw_view_timeout(FlNode *n, Vr *v)
{
    v->view_timeout = fl_buggify(n, "vr.view-timeout-min")
                          ? v->view_lo
                          : fl_random_duration(n, v->view_lo, v->view_hi);
}

/* ---- Clients (note 4) ------------------------------------------------- */

static void release_clients(FlNode *n, Vr *v, uint32_t hint)
{
    for (guint i = 0; i < v->pending->len; i++)
        fl_reply_redirect(n, &g_array_index(v->pending, Pending, i).req, hint);
    g_array_set_size(v->pending, 0);
}

/* Applies the committed ops (§4.1 step 7 and 8); the primary answers the
 * clients of the ops it proposed in this view. */
static void apply_committed(FlNode *n, Vr *v)
{
    while (v->applied < v->commit) {
        v->applied++;
        const FlRequest *e = op_at(v->log, v->applied);
        FlResult res = { 0 };
        bool has = fl_store_apply_request(v->store, e, &res);
        while (v->pending->len && g_array_index(v->pending, Pending, 0).op <= v->applied) {
            Pending *p = &g_array_index(v->pending, Pending, 0);
            if (p->op == v->applied && vr_request_eq(&p->req, e)) {
                metric_add(n, &v->commits_count, "vr.commits", 1);
                metric_add(n, &v->commit_latency_count, "vr.commit_latency_ms",
                           (double)since(n, p->proposed) / 1e6);
                /* An older request than the client's last: nobody waits. */
                if (has)
                    fl_reply(n, &p->req, &res);
            }
            g_array_remove_index(v->pending, 0);
        }
    }
}

/* ---- Status changes (note 1) ------------------------------------------ */

static void clear_view_change(Vr *v)
{
    memset(v->svc, 0, v->nodes * sizeof *v->svc);
    memset(v->dvc, 0, v->nodes * sizeof *v->dvc);
    v->dvc_sent = false;
    v->have_best = false;
    g_array_set_size(v->best_log, 0);
    v->best_last_normal = v->best_commit = 0;
}

/* Replaces the log by ops 1..@op (@ops, borrowed) and raises the commit
 * number to @commit.  Our committed prefix is in every later view's log at
 * the same places (§4.2's correctness argument), so what the store applied
 * stays valid.  Only a broken run (the skip-recovery bug) can hand us a log
 * that contradicts what we applied: then the store is rebuilt from the new
 * log, rather than trusting either, and the damage shows in the history. */
static void adopt_log(Vr *v, const FlRequest *ops, uint64_t op, uint64_t commit)
{
    bool keep = v->applied <= op;
    for (uint64_t k = 1; keep && k <= v->applied; k++)
        keep = vr_request_eq(op_at(v->log, k), &ops[k - 1]);
    if (!keep) {
        fl_store_free(v->store);
        v->store = fl_store_new();
        v->applied = 0;
        v->commit = 0;
    }
    g_array_set_size(v->log, 0);
    g_array_append_vals(v->log, ops, (guint)op);
    if (commit > op)
        commit = op;
    if (v->commit > op)
        v->commit = op;
    if (commit > v->commit)
        v->commit = commit;
    if (v->applied > v->commit)
        v->commit = v->applied;
}

static void become_backup(FlNode *n, Vr *v, uint64_t view)
{
    bool was_primary = v->status == NORMAL && is_primary(v);
    v->status = NORMAL;
    v->view = view;
    if (was_primary)
        release_clients(n, v, primary_of(v, view));
    v->last_normal = view;
    v->last_heard = fl_now(n);
    draw_view_timeout(n, v);
    clear_view_change(v);
    fl_role(n, "backup");
    fl_log(n, "backup in view %" PRIu64 " (op %" PRIu64 ", commit %" PRIu64 ")", view,
           op_number(v), v->commit);
}

static void become_primary(FlNode *n, Vr *v)
{
    v->status = NORMAL;
    v->last_normal = v->view;
    for (uint32_t i = 0; i < v->nodes; i++) {
        v->acked[i] = 0;
        v->next[i] = op_number(v) + 1;
    }
    g_array_set_size(v->pending, 0);
    clear_view_change(v);
    fl_role(n, "primary");
    fl_log(n, "primary of view %" PRIu64 " (op %" PRIu64 ", commit %" PRIu64 ")", v->view,
           op_number(v), v->commit);
}

static void record_dvc(Vr *v, uint32_t from, uint64_t last_normal, const FlRequest *ops,
                       uint64_t op, uint64_t commit);

/* §4.2 step 1: move to view @view and tell everyone. */
static void start_view_change(FlNode *n, Vr *v, uint64_t view)
{
    if (v->status == NORMAL && is_primary(v))
        release_clients(n, v, FL_NO_HINT);
    v->status = VIEW_CHANGE;
    v->view = view;
    v->vc_started = fl_now(n);
    draw_view_timeout(n, v);
    clear_view_change(v);
    fl_role(n, "view-change");
    fl_log(n, "view change to %" PRIu64, view);
    fl_metric_add(n, "vr.view_changes", 1);
    /* The new primary's own DoViewChange: its log cannot change while it
     * is in a view change. */
    if (primary_of(v, view) == v->self)
        record_dvc(v, v->self, v->last_normal,
                   v->log->len ? op_at(v->log, 1) : NULL, op_number(v), v->commit);
    VrMsg m = { .type = VR_START_VIEW_CHANGE, .view = view };
    send_msg(n, UINT32_MAX, &m);
}

static void send_recovery(FlNode *n, Vr *v)
{
    VrMsg m = { .type = VR_RECOVERY, .aux = v->nonce };
    send_msg(n, UINT32_MAX, &m);
}

/* §4.3 step 1. */
static void start_recovery(FlNode *n, Vr *v)
{
    v->status = RECOVERING;
    v->nonce = fl_random(n) | 1;
    memset(v->rr, 0, v->nodes * sizeof *v->rr);
    v->rr_view = 0;
    v->rr_have_primary = false;
    fl_role(n, "recovering");
    fl_log(n, "recovering");
    send_recovery(n, v);
}

/* ---- Normal operation (note 3) ---------------------------------------- */

/* §4.1 step 5: the highest op held by f backups and the primary. */
static void advance_commit(FlNode *n, Vr *v)
{
    for (uint64_t c = op_number(v); c > v->commit; c--) {
        uint32_t holders = 1;
        for (uint32_t i = 0; i < v->nodes; i++)
            if (i != v->self && v->acked[i] >= c)
                holders++;
        if (holders >= quorum_f(v) + 1) {
            v->commit = c;
            break;
        }
    }
    apply_committed(n, v);
}

static void ask_state(FlNode *n, Vr *v)
{
    VrMsg m = { .type = VR_GET_STATE, .view = v->view, .op = op_number(v) };
    send_msg(n, primary_of(v, v->view), &m);
    fl_metric_add(n, "vr.state_transfers", 1);
}

/* Appends ops of @m that follow our log (note 3: in order only); true if
 * there was a gap. */
static bool append_ops(Vr *v, const VrMsg *m)
{
    uint64_t first = vr_msg_first(m);
    if (m->n == 0)
        return m->op > op_number(v);
    if (first > op_number(v) + 1)
        return true;
    for (uint64_t k = op_number(v) + 1; k <= m->op; k++)
        g_array_append_val(v->log, m->entries[k - first]);
    return false;
}

/* Prepare, Commit and NewState at a backup (§4.1 steps 4 and 6, §5.2). */
static void on_ops(FlNode *n, Vr *v, uint32_t from, const VrMsg *m)
{
    if (v->status == RECOVERING || m->view < v->view)
        return;
    if (m->view == v->view && v->status == NORMAL && is_primary(v))
        return;   /* a message of our own view claiming to come from its primary */
    bool newer = m->view > v->view || v->status == VIEW_CHANGE;
    if (m->type != VR_NEW_STATE && from != primary_of(v, m->view))
        return;
    if (newer) {
        if (m->type == VR_NEW_STATE)
            return;   /* only answers our GetState of our view */
        /* Note 7: keep the committed prefix only, join the view. */
        g_array_set_size(v->log, (guint)v->commit);
        become_backup(n, v, m->view);
    }
    v->last_heard = fl_now(n);
    bool gap = append_ops(v, m);
    uint64_t c = m->commit < op_number(v) ? m->commit : op_number(v);
    if (c > v->commit) {
        v->commit = c;
        apply_committed(n, v);
    }
    if (gap || newer)
        ask_state(n, v);
    if (m->type != VR_COMMIT || gap) {
        VrMsg ok = { .type = VR_PREPARE_OK, .view = v->view, .op = op_number(v) };
        send_msg(n, primary_of(v, v->view), &ok);
    }
}

static void on_prepare_ok(FlNode *n, Vr *v, uint32_t from, const VrMsg *m)
{
    if (v->status != NORMAL || m->view != v->view || !is_primary(v) || from == v->self)
        return;
    uint64_t held = m->op < op_number(v) ? m->op : op_number(v);
    if (held > v->acked[from])
        v->acked[from] = held;
    /* next only moves forward here: a PrepareOK overtaken by Prepares in
     * flight must not resend them; lost ones are resent by the tick. */
    bool all_sent_held = held + 1 >= v->next[from];
    if (all_sent_held)
        v->next[from] = held + 1;
    advance_commit(n, v);
    if (all_sent_held && v->next[from] <= op_number(v))
        send_prepare(n, v, from);
}

static void on_get_state(FlNode *n, Vr *v, uint32_t from, const VrMsg *m)
{
    if (v->status != NORMAL || m->view != v->view || m->op >= op_number(v))
        return;
    uint64_t last = op_number(v);
    if (last - m->op > VR_MAX_LOG)
        last = m->op + VR_MAX_LOG;
    VrMsg r = with_ops(VR_NEW_STATE, v->view, v->log, m->op + 1, last);
    r.commit = v->commit < last ? v->commit : last;
    send_msg(n, from, &r);
}

/* ---- View change (note 5) --------------------------------------------- */

static void send_dvc(FlNode *n, Vr *v)
{
    VrMsg m = with_ops(VR_DO_VIEW_CHANGE, v->view, v->log, 1, op_number(v));
    m.aux = v->last_normal;
    m.commit = v->commit;
    send_msg(n, primary_of(v, v->view), &m);
}

/* §4.2 step 3: keeps the log of the largest last normal view, then of the
 * largest op-number. */
static void record_dvc(Vr *v, uint32_t from, uint64_t last_normal, const FlRequest *ops,
                       uint64_t op, uint64_t commit)
{
    if (v->dvc[from])
        return;
    v->dvc[from] = true;
    if (!v->have_best || last_normal > v->best_last_normal ||
        (last_normal == v->best_last_normal && op > v->best_log->len)) {
        g_array_set_size(v->best_log, 0);
        g_array_append_vals(v->best_log, ops, (guint)op);
        v->best_last_normal = last_normal;
        v->have_best = true;
    }
    if (commit > v->best_commit)
        v->best_commit = commit;
}

static void send_start_view(FlNode *n, Vr *v, uint32_t to)
{
    VrMsg m = with_ops(VR_START_VIEW, v->view, v->log, 1, op_number(v));
    m.commit = v->commit;
    send_msg(n, to, &m);
}

/* §4.2 steps 3 and 4: with f+1 DoViewChange, start the view. */
static void maybe_start_view(FlNode *n, Vr *v)
{
    if (count(v->dvc, v->nodes) < quorum_f(v) + 1)
        return;
    adopt_log(v, v->best_log->len ? op_at(v->best_log, 1) : NULL, v->best_log->len,
              v->best_commit);
    become_primary(n, v);
    send_start_view(n, v, UINT32_MAX);
    apply_committed(n, v);
    advance_commit(n, v);
}

static void on_start_view_change(FlNode *n, Vr *v, uint32_t from, const VrMsg *m)
{
    if (v->status == RECOVERING || m->view < v->view)
        return;
    if (m->view > v->view)
        start_view_change(n, v, m->view);
    else if (v->status != VIEW_CHANGE)
        return;
    v->svc[from] = true;
    if (!v->dvc_sent && count(v->svc, v->nodes) >= quorum_f(v)) {
        v->dvc_sent = true;
        if (primary_of(v, v->view) == v->self)
            maybe_start_view(n, v);
        else
            send_dvc(n, v);
    }
}

static void on_do_view_change(FlNode *n, Vr *v, uint32_t from, const VrMsg *m)
{
    if (v->status == RECOVERING || m->view < v->view || primary_of(v, m->view) != v->self)
        return;
    if (m->view == v->view && v->status == NORMAL) {
        send_start_view(n, v, from);   /* it missed our StartView */
        return;
    }
    if (m->view > v->view)
        start_view_change(n, v, m->view);
    record_dvc(v, from, m->aux, m->entries, m->op, m->commit);
    maybe_start_view(n, v);
}

/* §4.2 step 5. */
static void on_start_view(FlNode *n, Vr *v, uint32_t from, const VrMsg *m)
{
    if (v->status == RECOVERING || m->view < v->view || from != primary_of(v, m->view))
        return;
    if (m->view == v->view && v->status == NORMAL)
        return;
    adopt_log(v, m->entries, m->op, m->commit);
    become_backup(n, v, m->view);
    apply_committed(n, v);
    if (op_number(v) > v->commit) {
        VrMsg ok = { .type = VR_PREPARE_OK, .view = v->view, .op = op_number(v) };
        send_msg(n, from, &ok);
    }
}

/* ---- Recovery (note 6) ------------------------------------------------ */

static void on_recovery(FlNode *n, Vr *v, uint32_t from, const VrMsg *m)
{
    if (v->status != NORMAL)
        return;
    VrMsg r = { .type = VR_RECOVERY_RESPONSE, .view = v->view, .aux = m->aux };
    if (is_primary(v)) {
        r = with_ops(VR_RECOVERY_RESPONSE, v->view, v->log, 1, op_number(v));
        r.aux = m->aux;
        r.primary = true;
        r.commit = v->commit;
        /* It forgot what it acknowledged: count none of it. */
        v->acked[from] = 0;
        v->next[from] = op_number(v) + 1;
    }
    send_msg(n, from, &r);
}

static void on_recovery_response(FlNode *n, Vr *v, uint32_t from, const VrMsg *m)
{
    if (v->status != RECOVERING || m->aux != v->nonce || from == v->self)
        return;
    if (m->primary && from != primary_of(v, m->view))
        return;
    v->rr[from] = true;
    if (m->view > v->rr_view)
        v->rr_view = m->view;
    if (m->primary && (!v->rr_have_primary || m->view > v->rr_primary_view)) {
        g_array_set_size(v->rr_log, 0);
        g_array_append_vals(v->rr_log, m->entries, m->n);
        v->rr_primary_view = m->view;
        v->rr_commit = m->commit;
        v->rr_have_primary = true;
    }
    if (count(v->rr, v->nodes) < quorum_f(v) + 1 || !v->rr_have_primary ||
        v->rr_primary_view != v->rr_view)
        return;
    adopt_log(v, v->rr_log->len ? op_at(v->rr_log, 1) : NULL, v->rr_log->len, v->rr_commit);
    fl_metric_add(n, "vr.recoveries", 1);
    become_backup(n, v, v->rr_view);
    apply_committed(n, v);
    g_array_set_size(v->rr_log, 0);
}

/* ---- Dispatch ----------------------------------------------------------- */

static void invariants(const Vr *v)
{
    g_assert(v->applied <= v->commit);
    g_assert(v->commit <= op_number(v));
    g_assert(op_number(v) <= VR_MAX_LOG);
    g_assert(v->last_normal <= v->view);
}

static void vr_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Vr *v = state;
    VrMsg m;
    if (from >= v->nodes || !vr_msg_decode(msg, len, &m))
        return;   /* a client's or a malformed message: dropped */
    switch (m.type) {
    case VR_PREPARE:
    case VR_COMMIT:
    case VR_NEW_STATE:
        on_ops(n, v, from, &m);
        break;
    case VR_PREPARE_OK:
        on_prepare_ok(n, v, from, &m);
        break;
    case VR_START_VIEW_CHANGE:
        on_start_view_change(n, v, from, &m);
        break;
    case VR_DO_VIEW_CHANGE:
        on_do_view_change(n, v, from, &m);
        break;
    case VR_START_VIEW:
        on_start_view(n, v, from, &m);
        break;
    case VR_RECOVERY:
        on_recovery(n, v, from, &m);
        break;
    case VR_RECOVERY_RESPONSE:
        on_recovery_response(n, v, from, &m);
        break;
    case VR_GET_STATE:
        on_get_state(n, v, from, &m);
        break;
    default:
        break;
    }
    vr_msg_clear(&m);
    invariants(v);
}

/* Note 10: one tick drives every timeout and resend. */
static void on_tick(FlNode *n, Vr *v)
{
    switch (v->status) {
    case NORMAL:
        if (is_primary(v)) {
            for (uint32_t i = 0; i < v->nodes; i++) {
                if (i == v->self)
                    continue;
                if (v->next[i] > op_number(v) && fl_buggify(n, "vr.commit-skipped"))
                    continue;
                /* Resend from what it acknowledged: Prepares may be lost. */
                if (v->next[i] > v->acked[i] + 1)
                    v->next[i] = v->acked[i] + 1;
                send_prepare(n, v, i);
            }
        } else if (since(n, v->last_heard) >= v->view_timeout) {
            start_view_change(n, v, v->view + 1);
        }
        break;
    case VIEW_CHANGE:
        if (since(n, v->vc_started) >= v->view_timeout) {
            start_view_change(n, v, v->view + 1);
            break;
        }
        {
            VrMsg m = { .type = VR_START_VIEW_CHANGE, .view = v->view };
            send_msg(n, UINT32_MAX, &m);
        }
        if (v->dvc_sent && primary_of(v, v->view) != v->self)
            send_dvc(n, v);
        break;
    case RECOVERING:
        send_recovery(n, v);
        break;
    }
}

static void vr_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Vr *v = state;
    (void)t;
    if (tag != TIMER_TICK)
        return;
    on_tick(n, v);
    fl_timer(n, v->heartbeat, TIMER_TICK);
    invariants(v);
}

/* ---- Client requests (note 4) ----------------------------------------- */

static void on_request(FlNode *n, Vr *v, const FlRequest *req)
{
    if (v->status != NORMAL || !is_primary(v)) {
        fl_reply_redirect(n, req, v->status == NORMAL ? primary_of(v, v->view) : FL_NO_HINT);
        return;
    }
    if (req->op.kind == FL_OP_NOOP || op_number(v) >= VR_MAX_LOG) {
        fl_reply_fail(n, req);   /* not a client operation, or the log is full (note 8) */
        return;
    }
    /* A request this primary already proposed (a retry or a duplicate) is
     * answered when that op applies. */
    for (guint i = 0; i < v->pending->len; i++) {
        const Pending *p = &g_array_index(v->pending, Pending, i);
        if (p->req.client == req->client && p->req.id == req->id)
            return;
    }
    g_array_append_val(v->log, *req);
    Pending p = { .op = op_number(v), .req = *req, .proposed = fl_now(n) };
    g_array_append_val(v->pending, p);
    for (uint32_t i = 0; i < v->nodes; i++)
        if (i != v->self && v->next[i] == op_number(v))
            send_prepare(n, v, i);
    advance_commit(n, v);
}

static void vr_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Vr *v = state;
    on_request(n, v, req);
    invariants(v);
}

/* ---- Start, recovery, teardown ---------------------------------------- */

static void setup(FlNode *n, Vr *v)
{
    v->self = fl_self(n);
    v->nodes = fl_nodes(n);
    fl_param_range(n, "view_timeout", &v->view_lo, &v->view_hi);
    if (v->view_lo < 1)
        v->view_lo = 1;
    if (v->view_hi < v->view_lo)
        v->view_hi = v->view_lo;
    v->heartbeat = fl_param_duration(n, "heartbeat");
    v->max_batch = (uint32_t)fl_param_int(n, "max_batch");
    v->bug = strcmp(fl_param_enum(n, "bug"), "skip-recovery") == 0 ? BUG_SKIP_RECOVERY : BUG_NONE;
    v->log = g_array_new(FALSE, FALSE, sizeof(FlRequest));
    v->store = fl_store_new();
    v->acked = g_new0(uint64_t, v->nodes);
    v->next = g_new0(uint64_t, v->nodes);
    v->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
    v->svc = g_new0(bool, v->nodes);
    v->dvc = g_new0(bool, v->nodes);
    v->best_log = g_array_new(FALSE, FALSE, sizeof(FlRequest));
    v->rr = g_new0(bool, v->nodes);
    v->rr_log = g_array_new(FALSE, FALSE, sizeof(FlRequest));
    fl_timer(n, v->heartbeat, TIMER_TICK);
}

/* First start: everyone is normal in view 0, whose primary is replica 0. */
static void vr_init(FlNode *n, void *state)
{
    Vr *v = state;
    setup(n, v);
    if (is_primary(v))
        become_primary(n, v);
    else
        become_backup(n, v, 0);
    invariants(v);
}

/* Restart after a crash: memory is gone (note 2), so recover (note 6) --
 * unless the skip-recovery bug starts afresh as vr_init does (note 9). */
static void vr_recover(FlNode *n, void *state)
{
    Vr *v = state;
    if (strcmp(fl_param_enum(n, "bug"), "skip-recovery") == 0) {
        fl_log(n, "restarted: rejoining as normal without recovery (bug skip-recovery)");
        vr_init(n, state);
        return;
    }
    setup(n, v);
    start_recovery(n, v);
    invariants(v);
}

static void vr_destroy(FlNode *n, void *state)
{
    Vr *v = state;
    (void)n;
    if (v->log)
        g_array_free(v->log, TRUE);
    fl_store_free(v->store);
    g_free(v->acked);
    g_free(v->next);
    if (v->pending)
        g_array_free(v->pending, TRUE);
    g_free(v->svc);
    g_free(v->dvc);
    if (v->best_log)
        g_array_free(v->best_log, TRUE);
    g_free(v->rr);
    if (v->rr_log)
        g_array_free(v->rr_log, TRUE);
}

/* ---- Exploration (note 12) -------------------------------------------- */

static uint64_t digest_log(uint64_t h, const GArray *log)
{
    h = fl_digest_mix(h, log->len);
    for (guint k = 0; k < log->len; k++)
        h = fl_digest_request(h, &g_array_index(log, FlRequest, k));
    return h;
}

static uint64_t vr_digest(const void *state)
{
    const Vr *v = state;
    uint64_t h = fl_digest_mix(fl_digest_mix(fl_digest_mix(v->status, v->view), v->last_normal),
                               v->commit);
    h = fl_digest_mix(fl_digest_mix(h, v->applied), fl_store_hash(v->store));
    h = digest_log(h, v->log);
    switch (v->status) {
    case NORMAL:
        if (!is_primary(v))
            break;
        for (uint32_t i = 0; i < v->nodes; i++)
            h = fl_digest_mix(fl_digest_mix(h, v->acked[i]), v->next[i]);
        for (guint k = 0; k < v->pending->len; k++) {
            const Pending *p = &g_array_index(v->pending, Pending, k);
            h = fl_digest_request(fl_digest_mix(h, p->op), &p->req);
        }
        break;
    case VIEW_CHANGE:
        h = fl_digest_mix(h, v->dvc_sent);
        for (uint32_t i = 0; i < v->nodes; i++)
            h = fl_digest_mix(fl_digest_mix(h, v->svc[i]), v->dvc[i]);
        h = fl_digest_mix(fl_digest_mix(h, v->best_last_normal), v->best_commit);
        h = digest_log(h, v->best_log);
        break;
    case RECOVERING:
        for (uint32_t i = 0; i < v->nodes; i++)
            h = fl_digest_mix(h, v->rr[i]);
        h = fl_digest_mix(fl_digest_mix(fl_digest_mix(h, v->rr_view), v->rr_have_primary),
                          v->rr_primary_view);
        h = digest_log(fl_digest_mix(h, v->rr_commit), v->rr_log);
        break;
    }
    return h;
}

/* Note 12: committed prefixes agree; a normal backup's log is a prefix of
 * its normal primary's. */
static bool vr_invariant(const void *const *states, uint32_t nodes, GString *why)
{
    for (uint32_t i = 0; i < nodes; i++) {
        const Vr *a = states[i];
        if (!a)
            continue;
        for (uint32_t j = 0; j < nodes; j++) {
            const Vr *b = states[j];
            if (!b || j == i)
                continue;
            uint64_t c = a->commit < b->commit ? a->commit : b->commit;
            for (uint64_t k = 1; j > i && k <= c; k++) {
                if (!vr_request_eq(op_at(a->log, k), op_at(b->log, k))) {
                    g_string_append_printf(why, "replicas %u and %u both committed op %" PRIu64
                                           " with different requests", i, j, k);
                    return false;
                }
            }
            if (a->status != NORMAL || b->status != NORMAL || a->view != b->view ||
                !is_primary(a) || b->self == a->self)
                continue;
            bool prefix = op_number(b) <= op_number(a);
            for (uint64_t k = 1; prefix && k <= op_number(b); k++)
                prefix = vr_request_eq(op_at(a->log, k), op_at(b->log, k));
            if (!prefix) {
                g_string_append_printf(why, "view %" PRIu64 ": backup %u's log (op %" PRIu64
                                       ") is not a prefix of primary %u's (op %" PRIu64 ")",
                                       a->view, j, op_number(b), i, op_number(a));
                return false;
            }
        }
    }
    return true;
}

const FlProtocol fl_proto_vr = {
    .name = "vr",
    .summary = "Viewstamped Replication Revisited: normal operation, view change, "
               "recovery without disk, state transfer",
    .params = vr_params,
    .state_size = sizeof(Vr),
    .init = vr_init,
    .recover = vr_recover,
    .destroy = vr_destroy,
    .on_message = vr_on_message,
    .on_timer = vr_on_timer,
    .on_request = vr_on_request,
    .msg_kind = vr_msg_kind,
    .kinds = "Prepare|PrepareOK|Commit|StartViewChange|DoViewChange|StartView|Recovery|"
             "RecoveryResponse|GetState|NewState",
    .fields = vr_msg_fields,
    .digest = vr_digest,
    .invariant = vr_invariant,
    .volatile_state = true,
};
