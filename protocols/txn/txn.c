/* protocols/txn/txn.c: what 2PC and 3PC share.
 *
 * Design notes.
 * 1. Write-ahead, synced.  A participant logs PREPARED (synced) before it
 *    votes yes, PRECOMMIT before it acknowledges a precommit, and the
 *    decision before it applies it.  A coordinator logs START before it
 *    asks for votes, PRECOMMIT (3PC) before it sends one, and its decision
 *    before it tells anyone, the client included.  So whatever a node has
 *    said survives its crash.
 * 2. Votes.  A participant votes yes when the accounts it holds for the
 *    transaction are free (no-wait locking: a lock held by another
 *    transaction is a no, which also rules out deadlock) and the payer, if
 *    it holds it, has the money.  Yes locks the accounts until the
 *    decision.  A participant that never voted may abort unilaterally, and
 *    does so when someone asks it about the transaction (a state request),
 *    so that it can never vote yes afterwards.
 * 3. Presumed abort.  A coordinator asked about a transaction it has no
 *    record of never started it (START is logged first), so it answers
 *    abort and records that.
 * 4. Recovery.  A participant rebuilds balances, locks and records from its
 *    log; records still undecided are marked `recovered` and wait for news.
 *    A coordinator finishes what its log says: a decision is resent until
 *    every participant acknowledges it; a START with no decision is
 *    aborted (no participant can have committed: commit needs the
 *    coordinator's logged decision, or in 3PC its logged precommit); a 3PC
 *    precommit with no decision asks the participants, because their
 *    termination protocol may have decided either way.
 * 5. Every record stays (as a small struct) for the rest of the run, so a
 *    late question always gets the same answer; TXN_MAX_RECORDS bounds it.
 * 6. Messages to oneself go through a queue drained by a zero-delay timer,
 *    never by a direct call, so that a handler never runs inside another.
 * 7. BUGGIFY sites (sim/node.h fl_buggify), for 2PC and 3PC alike: a
 *    PREPARE or a decision resent before its retry is due, and a
 *    decision's acknowledgement withheld as if lost.  Duplicates and
 *    losses are what notes 1-5 are built to absorb; these sites make them
 *    happen where the network seldom does (twopc.c note 4 lists them). */
#include "protocols/txn/txn.h"

#include <inttypes.h>
#include <string.h>

#define PART_LOG "txn-part"
#define COORD_LOG "txn-coord"

enum { REC_PREPARED = 1, REC_PRECOMMIT, REC_COMMIT, REC_ABORT, REC_START, REC_DECIDE, REC_END };

static gint cmp_id(gconstpointer a, gconstpointer b, gpointer data)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- Placement and encoding ------------------------------------------ */

uint32_t txn_holder(const FlNode *n, const TxnNode *t, uint32_t account)
{
    uint32_t nodes = fl_nodes(n);
    if (t->one_coordinator && nodes > 1)
        return 1 + account % (nodes - 1);
    return account % nodes;
}

bool txn_holds(const FlNode *n, const TxnNode *t, uint32_t account)
{
    return txn_holder(n, t, account) == fl_self(n);
}

int txn_part_index(const TxnInfo *info, uint32_t node)
{
    for (int i = 0; i < info->nparts; i++)
        if (info->parts[i] == node)
            return i;
    return -1;
}

uint8_t txn_all_parts(const TxnInfo *info)
{
    return (uint8_t)((1u << info->nparts) - 1);
}

static void fill_parts(const FlNode *n, const TxnNode *t, TxnInfo *info)
{
    uint32_t a = txn_holder(n, t, info->from), b = txn_holder(n, t, info->to);
    info->nparts = a == b ? 1 : 2;
    info->parts[0] = a < b ? a : b;
    info->parts[1] = a < b ? b : a;
}

void txn_info_put(FlWriter *w, const TxnInfo *info)
{
    fl_put_u64(w, info->id);
    fl_put_u32(w, info->from);
    fl_put_u32(w, info->to);
    fl_put_i64(w, info->amount);
    fl_put_u32(w, info->coord);
    fl_put_u8(w, info->nparts);
    for (int i = 0; i < info->nparts; i++)
        fl_put_u32(w, info->parts[i]);
}

bool txn_info_get(FlNode *n, const TxnNode *t, FlReader *r, TxnInfo *info)
{
    memset(info, 0, sizeof *info);
    info->id = fl_get_u64(r);
    info->from = fl_get_u32(r);
    info->to = fl_get_u32(r);
    info->amount = fl_get_i64(r);
    info->coord = fl_get_u32(r);
    info->nparts = fl_get_u8(r);
    if (!fl_reader_ok(r) || info->nparts < 1 || info->nparts > TXN_MAX_PARTS)
        return false;
    for (int i = 0; i < info->nparts; i++)
        info->parts[i] = fl_get_u32(r);
    if (!fl_reader_ok(r) || info->id == 0 || info->from >= FL_MAX_KEYS || info->to >= FL_MAX_KEYS ||
        info->amount < 1 || info->amount > FL_TXN_AMOUNT_MAX || info->coord >= fl_nodes(n) ||
        (t->one_coordinator && info->coord != 0))
        return false;
    /* The participants must be the ones the placement gives. */
    TxnInfo want = *info;
    fill_parts(n, t, &want);
    if (want.nparts != info->nparts)
        return false;
    for (int i = 0; i < info->nparts; i++)
        if (want.parts[i] != info->parts[i])
            return false;
    return true;
}

/* ---- Messages -------------------------------------------------------- */

void txn_send(FlNode *n, TxnNode *t, uint32_t to, const void *msg, size_t len)
{
    if (to != fl_self(n)) {
        fl_send(n, to, msg, len);
        return;
    }
    g_queue_push_tail(t->self_msgs, g_bytes_new(msg, len));
    if (!t->self_armed) {
        t->self_armed = true;
        fl_timer(n, 0, TXN_TIMER_SELF);
    }
}

void txn_flush_self(FlNode *n, TxnNode *t, void *state, TxnHandler fn)
{
    t->self_armed = false;
    /* Only what is queued now: what these handlers queue waits for the
     * next timer, like any other message. */
    guint count = g_queue_get_length(t->self_msgs);
    for (guint i = 0; i < count; i++) {
        GBytes *b = g_queue_pop_head(t->self_msgs);
        gsize len;
        const uint8_t *p = g_bytes_get_data(b, &len);
        fn(n, state, fl_self(n), p, len);
        g_bytes_unref(b);
    }
}

const char *txn_msg_kind(const uint8_t *msg, size_t len)
{
    /* A vote and a decision carry their value in the byte after the id
     * (txn_send_id). */
    uint8_t extra = len >= 10 ? msg[9] : 0;
    switch (len ? msg[0] : 0) {
    case TXN_PREPARE: return "PREPARE";
    case TXN_VOTE: return len < 10 ? NULL : extra ? "VOTE-YES" : "VOTE-NO";
    case TXN_PRECOMMIT: return "PRECOMMIT";
    case TXN_ACK: return "ACK";
    case TXN_DECISION:
        return extra == TS_COMMITTED ? "COMMIT" : extra == TS_ABORTED ? "ABORT" : NULL;
    case TXN_STATE_REQ: return "STATE-REQ";
    case TXN_STATE: return "STATE";
    default: return NULL;
    }
}

void txn_send_info(FlNode *n, TxnNode *t, uint32_t to, uint8_t type, const TxnInfo *info)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, type);
    txn_info_put(&w, info);
    txn_send(n, t, to, w.data, w.len);
    fl_writer_deinit(&w);
}

void txn_send_id(FlNode *n, TxnNode *t, uint32_t to, uint8_t type, uint64_t id, int extra)
{
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, type);
    fl_put_u64(&w, id);
    if (extra >= 0)
        fl_put_u8(&w, (uint8_t)extra);
    txn_send(n, t, to, w.data, w.len);
    fl_writer_deinit(&w);
}

/* ---- Logs ------------------------------------------------------------ */

static void log_info(FlNode *n, const TxnNode *t, const char *file, uint8_t type, const TxnInfo *info)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, type);
    txn_info_put(&w, info);
    fl_disk_append(n, file, w.data, w.len);
    if (t->sync)
        fl_disk_sync(n, file);
    fl_writer_deinit(&w);
}

static void log_id(FlNode *n, const TxnNode *t, const char *file, uint8_t type, uint64_t id,
                   int extra, bool sync)
{
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, type);
    fl_put_u64(&w, id);
    if (extra >= 0)
        fl_put_u8(&w, (uint8_t)extra);
    fl_disk_append(n, file, w.data, w.len);
    if (sync && t->sync)
        fl_disk_sync(n, file);
    fl_writer_deinit(&w);
}

/* An abort record carries the info when the participant has it (audits
 * list the transaction under its accounts), else only the id. */
static void log_abort(FlNode *n, const TxnNode *t, const TxnPart *p)
{
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, REC_ABORT);
    fl_put_u8(&w, p->known);
    if (p->known)
        txn_info_put(&w, &p->info);
    else
        fl_put_u64(&w, p->info.id);
    fl_disk_append(n, PART_LOG, w.data, w.len);
    if (t->sync)
        fl_disk_sync(n, PART_LOG);
    fl_writer_deinit(&w);
}

/* ---- Ledger ---------------------------------------------------------- */

static int64_t *balance(TxnNode *t, uint32_t account)
{
    while (t->balance->len <= account) {
        int64_t v = t->initial;
        g_array_append_val(t->balance, v);
    }
    return &g_array_index(t->balance, int64_t, account);
}

static uint64_t *lock_of(TxnNode *t, uint32_t account)
{
    if (t->lock->len <= account)
        g_array_set_size(t->lock, account + 1);
    return &g_array_index(t->lock, uint64_t, account);
}

/* Note 2.  Returns NULL for yes, or why not (for the metrics). */
static const char *vote_against(FlNode *n, TxnNode *t, const TxnInfo *info)
{
    uint32_t acc[2] = { info->from, info->to };
    for (int i = 0; i < 2; i++) {
        if (!txn_holds(n, t, acc[i]))
            continue;
        uint64_t l = *lock_of(t, acc[i]);
        if (l != 0 && l != info->id)
            return "txn.vote_no_locked";
    }
    if (info->from != info->to && txn_holds(n, t, info->from) && *balance(t, info->from) < info->amount)
        return "txn.vote_no_funds";
    return NULL;
}

static void lock_accounts(FlNode *n, TxnNode *t, const TxnInfo *info, bool on)
{
    uint32_t acc[2] = { info->from, info->to };
    for (int i = 0; i < 2; i++) {
        if (!txn_holds(n, t, acc[i]))
            continue;
        uint64_t *l = lock_of(t, acc[i]);
        if (on)
            *l = info->id;
        else if (*l == info->id)
            *l = 0;
    }
}

static void apply_commit(FlNode *n, TxnNode *t, const TxnInfo *info)
{
    if (info->from == info->to)
        return;
    if (txn_holds(n, t, info->from))
        *balance(t, info->from) -= info->amount;
    if (txn_holds(n, t, info->to))
        *balance(t, info->to) += info->amount;
}

/* ---- Records --------------------------------------------------------- */

static size_t records(const TxnNode *t)
{
    return (size_t)g_tree_nnodes(t->parts) + (size_t)g_tree_nnodes(t->coords);
}

TxnPart *txn_part(TxnNode *t, uint64_t id)
{
    return g_tree_lookup(t->parts, &id);
}

static TxnPart *part_new(TxnNode *t, uint64_t id)
{
    TxnPart *p = g_new0(TxnPart, 1);
    p->info.id = id;
    g_tree_insert(t->parts, &p->info.id, p);
    return p;
}

static void part_activate(TxnNode *t, TxnPart *p)
{
    if (!p->active) {
        p->active = true;
        g_ptr_array_add(t->active_parts, p);
    }
}

static void count_blocked(FlNode *n, TxnPart *p)
{
    if (!p->blocked_since)
        return;
    FlTime now = fl_now(n);
    if (now > p->blocked_counted)
        fl_metric_add(n, "txn.blocked_ms", (double)(now - p->blocked_counted) / 1e6);
    p->blocked_counted = now;
}

void txn_parts_tick_end(FlNode *n, TxnNode *t)
{
    guint k = 0;
    for (guint i = 0; i < t->active_parts->len; i++) {
        TxnPart *p = g_ptr_array_index(t->active_parts, i);
        if (p->state == TS_READY || p->state == TS_PRECOMMIT) {
            count_blocked(n, p);
            g_ptr_array_index(t->active_parts, k++) = p;
        } else {
            p->active = false;
        }
    }
    g_ptr_array_set_size(t->active_parts, k);
}

TxnCoord *txn_coord(TxnNode *t, uint64_t id)
{
    return g_tree_lookup(t->coords, &id);
}

static TxnCoord *coord_new(TxnNode *t, const TxnInfo *info)
{
    TxnCoord *c = g_new0(TxnCoord, 1);
    c->info = *info;
    g_tree_insert(t->coords, &c->info.id, c);
    return c;
}

static void coord_activate(TxnNode *t, TxnCoord *c)
{
    if (!c->active) {
        c->active = true;
        g_ptr_array_add(t->active_coords, c);
    }
}

/* ---- Life cycle ------------------------------------------------------ */

void txn_init(FlNode *n, TxnNode *t, bool three)
{
    t->three = three;
    t->one_coordinator = strcmp(fl_param_enum(n, "coordinators"), "one") == 0;
    t->cooperative = !three && fl_param_bool(n, "cooperative");
    t->timeout = fl_param_duration(n, "timeout");
    t->retry = fl_param_duration(n, "retry");
    t->tick = t->retry < t->timeout / 4 ? t->retry : t->timeout / 4;
    if (t->tick < FL_MS(1))
        t->tick = FL_MS(1);
    t->initial = fl_param_int(n, "initial_balance");
    t->sync = fl_param_bool(n, "sync");
    t->balance = g_array_new(FALSE, FALSE, sizeof(int64_t));
    t->lock = g_array_new(FALSE, TRUE, sizeof(uint64_t));
    t->parts = g_tree_new_full(cmp_id, NULL, NULL, g_free);
    t->coords = g_tree_new_full(cmp_id, NULL, NULL, g_free);
    t->active_parts = g_ptr_array_new();
    t->active_coords = g_ptr_array_new();
    t->self_msgs = g_queue_new();
    if (t->one_coordinator)
        fl_role(n, fl_self(n) == 0 ? "coordinator" : "participant");
    fl_timer(n, t->tick, TXN_TIMER_TICK);
}

static void replay_parts(FlNode *n, TxnNode *t)
{
    size_t len;
    const uint8_t *data = fl_disk_view(n, PART_LOG, &len);
    FlReader r;
    fl_reader_init(&r, data, len);
    while (fl_reader_left(&r) > 0) {
        uint8_t type = fl_get_u8(&r);
        TxnInfo info;
        uint64_t id;
        TxnPart *p;
        switch (type) {
        case REC_PREPARED:
            if (!txn_info_get(n, t, &r, &info))
                return;   /* a torn or foreign tail: what follows is not trusted */
            p = txn_part(t, info.id);
            if (!p)
                p = part_new(t, info.id);
            p->info = info;
            p->known = true;
            p->state = TS_READY;
            lock_accounts(n, t, &info, true);
            break;
        case REC_PRECOMMIT:
        case REC_COMMIT:
            id = fl_get_u64(&r);
            if (!fl_reader_ok(&r))
                return;
            p = txn_part(t, id);
            if (!p || !p->known || (p->state != TS_READY && p->state != TS_PRECOMMIT))
                break;
            if (type == REC_PRECOMMIT) {
                p->state = TS_PRECOMMIT;
            } else {
                apply_commit(n, t, &p->info);
                lock_accounts(n, t, &p->info, false);
                p->state = TS_COMMITTED;
            }
            break;
        case REC_ABORT: {
            bool has_info = fl_get_u8(&r) != 0;
            if (has_info) {
                if (!txn_info_get(n, t, &r, &info))
                    return;
                id = info.id;
            } else {
                id = fl_get_u64(&r);
                if (!fl_reader_ok(&r))
                    return;
            }
            p = txn_part(t, id);
            if (!p)
                p = part_new(t, id);
            if (has_info && !p->known) {
                p->info = info;
                p->known = true;
            }
            if (p->known && (p->state == TS_READY || p->state == TS_PRECOMMIT))
                lock_accounts(n, t, &p->info, false);
            p->state = TS_ABORTED;
            break;
        }
        default:
            return;
        }
    }
}

static void replay_coords(FlNode *n, TxnNode *t)
{
    size_t len;
    const uint8_t *data = fl_disk_view(n, COORD_LOG, &len);
    FlReader r;
    fl_reader_init(&r, data, len);
    while (fl_reader_left(&r) > 0) {
        uint8_t type = fl_get_u8(&r);
        TxnInfo info;
        TxnCoord *c;
        uint64_t id;
        uint8_t d;
        switch (type) {
        case REC_START:
            if (!txn_info_get(n, t, &r, &info))
                return;
            if (!txn_coord(t, info.id))
                coord_new(t, &info)->phase = CP_VOTING;
            break;
        case REC_PRECOMMIT:
        case REC_DECIDE:
        case REC_END:
            id = fl_get_u64(&r);
            d = type == REC_DECIDE ? fl_get_u8(&r) : 0;
            if (!fl_reader_ok(&r))
                return;
            c = txn_coord(t, id);
            if (!c && type == REC_DECIDE && d == TS_ABORTED) {
                /* A presumed abort (note 3): decided with no START. */
                TxnInfo none = { .id = id };
                c = coord_new(t, &none);
                c->phase = CP_DONE;
                c->decision = TS_ABORTED;
            }
            if (!c)
                break;
            if (type == REC_PRECOMMIT && c->phase == CP_VOTING)
                c->phase = CP_PRECOMMITTING;
            if (type == REC_DECIDE && (d == TS_COMMITTED || d == TS_ABORTED)) {
                c->decision = d;
                c->phase = CP_DECIDED;
            }
            if (type == REC_END)
                c->phase = CP_DONE;
            break;
        default:
            return;
        }
    }
}

static gboolean collect_cb(gpointer key, gpointer value, gpointer data)
{
    g_ptr_array_add(data, value);
    return FALSE;
}

void txn_recover(FlNode *n, TxnNode *t, bool three)
{
    txn_init(n, t, three);
    replay_parts(n, t);
    replay_coords(n, t);
    FlTime now = fl_now(n);
    /* Undecided participants wait for news (note 4). */
    g_autoptr(GPtrArray) ps = g_ptr_array_new();
    g_tree_foreach(t->parts, collect_cb, ps);
    for (guint i = 0; i < ps->len; i++) {
        TxnPart *p = g_ptr_array_index(ps, i);
        if (p->state == TS_READY || p->state == TS_PRECOMMIT) {
            p->recovered = true;
            p->deadline = now;
            part_activate(t, p);
        }
    }
    /* The coordinator finishes what its log says (note 4), walking a copy:
     * deciding must not run inside a tree walk. */
    g_ptr_array_set_size(ps, 0);
    g_tree_foreach(t->coords, collect_cb, ps);
    for (guint i = 0; i < ps->len; i++) {
        TxnCoord *c = g_ptr_array_index(ps, i);
        switch (c->phase) {
        case CP_VOTING:
            fl_log(n, "recovery: txn %" PRIu64 " started but undecided: abort", c->info.id);
            txn_coord_decide(n, t, c, TS_ABORTED, "recovery");
            break;
        case CP_PRECOMMITTING:
            fl_log(n, "recovery: txn %" PRIu64 " precommitted but undecided: ask", c->info.id);
            c->phase = CP_ASKING;
            c->retry_at = now;
            coord_activate(t, c);
            break;
        case CP_DECIDED:
            fl_log(n, "recovery: txn %" PRIu64 " decided %s: tell the participants", c->info.id,
                   c->decision == TS_COMMITTED ? "commit" : "abort");
            c->acks = 0;
            c->retry_at = now;
            coord_activate(t, c);
            break;
        default:
            break;
        }
    }
}

void txn_destroy(FlNode *n, TxnNode *t)
{
    /* Time blocked so far counts, whether the run ends or the node crashes. */
    for (guint i = 0; t->active_parts && i < t->active_parts->len; i++) {
        TxnPart *p = g_ptr_array_index(t->active_parts, i);
        if (p->state == TS_READY || p->state == TS_PRECOMMIT)
            count_blocked(n, p);
    }
    if (t->balance)
        g_array_free(t->balance, TRUE);
    if (t->lock)
        g_array_free(t->lock, TRUE);
    if (t->parts)
        g_tree_destroy(t->parts);
    if (t->coords)
        g_tree_destroy(t->coords);
    if (t->active_parts)
        g_ptr_array_free(t->active_parts, TRUE);
    if (t->active_coords)
        g_ptr_array_free(t->active_coords, TRUE);
    if (t->self_msgs)
        g_queue_free_full(t->self_msgs, (GDestroyNotify)g_bytes_unref);
}

/* ---- Participant ----------------------------------------------------- */

static void send_vote(FlNode *n, TxnNode *t, uint32_t to, uint64_t id, bool yes)
{
    txn_send_id(n, t, to, TXN_VOTE, id, yes);
}

/* Note 2.  The participant waits twice the timeout for the decision: the
 * coordinator's own wait for votes began before this vote. */
void txn_on_prepare(FlNode *n, TxnNode *t, uint32_t from, const TxnInfo *info)
{
    if (from != info->coord || txn_part_index(info, fl_self(n)) < 0)
        return;
    TxnPart *p = txn_part(t, info->id);
    if (p && p->known) {
        send_vote(n, t, from, info->id, p->state != TS_ABORTED);
        return;
    }
    if (p) {
        /* Aborted before it ever came: remember what it was, vote no. */
        p->info = *info;
        p->known = true;
        log_abort(n, t, p);
        send_vote(n, t, from, info->id, false);
        return;
    }
    if (records(t) >= TXN_MAX_RECORDS) {
        fl_log(n, "txn: record limit reached, voting no on %" PRIu64, info->id);
        send_vote(n, t, from, info->id, false);
        return;
    }
    const char *no = vote_against(n, t, info);
    bool yes = no == NULL;
    p = part_new(t, info->id);
    p->info = *info;
    p->known = true;
    if (yes) {
        log_info(n, t, PART_LOG, REC_PREPARED, info);   /* durable before the vote */
        lock_accounts(n, t, info, true);
        p->state = TS_READY;
        p->deadline = fl_now(n) + (FlTime)(2 * t->timeout);
        part_activate(t, p);
    } else {
        log_abort(n, t, p);
        p->state = TS_ABORTED;
        fl_metric_add(n, no, 1);
    }
    send_vote(n, t, from, info->id, yes);
}

void txn_part_block(FlNode *n, TxnNode *t, TxnPart *p)
{
    if (p->blocked_since)
        return;
    p->blocked_since = fl_now(n);
    if (p->blocked_since == 0)
        p->blocked_since = 1;
    p->blocked_counted = p->blocked_since;
    fl_metric_add(n, "txn.blocked", 1);
    fl_log(n, "txn %" PRIu64 ": %s and the coordinator is silent", p->info.id,
           p->state == TS_PRECOMMIT ? "precommitted" : "voted yes");
}

void txn_part_decide(FlNode *n, TxnNode *t, TxnPart *p, uint8_t d, const char *how)
{
    g_assert(d == TS_COMMITTED || d == TS_ABORTED);
    if (p->state == TS_COMMITTED || p->state == TS_ABORTED) {
        if (p->state != d) {
            /* Atomicity is broken: keep what was applied, and say so. */
            fl_log(n, "txn %" PRIu64 ": told to %s, but it was %s here", p->info.id,
                   d == TS_COMMITTED ? "commit" : "abort",
                   p->state == TS_COMMITTED ? "committed" : "aborted");
            fl_metric_add(n, "txn.conflicting_decisions", 1);
        }
        return;
    }
    g_assert(p->known);
    if (d == TS_COMMITTED) {
        log_id(n, t, PART_LOG, REC_COMMIT, p->info.id, -1, true);
        apply_commit(n, t, &p->info);
    } else {
        log_abort(n, t, p);
    }
    lock_accounts(n, t, &p->info, false);
    p->state = d;
    p->term = TERM_NONE;
    count_blocked(n, p);
    p->blocked_since = 0;
    if (strcmp(how, "coordinator") != 0) {
        g_autofree char *name = g_strdup_printf("txn.decided_by_%s", how);
        fl_metric_add(n, name, 1);
    }
}

void txn_part_precommit(FlNode *n, TxnNode *t, TxnPart *p)
{
    g_assert(p->state == TS_READY);
    log_id(n, t, PART_LOG, REC_PRECOMMIT, p->info.id, -1, true);
    p->state = TS_PRECOMMIT;
}

void txn_on_decision(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, uint8_t d)
{
    TxnPart *p = txn_part(t, id);
    if (!p) {
        if (d != TS_ABORTED) {
            fl_log(n, "txn %" PRIu64 ": a commit for a transaction never prepared here", id);
            return;   /* no ack: this participant cannot have voted yes */
        }
        if (records(t) >= TXN_MAX_RECORDS)
            return;
        p = part_new(t, id);
        log_abort(n, t, p);
        p->state = TS_ABORTED;
    } else if (p->state == TS_READY || p->state == TS_PRECOMMIT) {
        bool from_coord = p->known && from == p->info.coord;
        txn_part_decide(n, t, p, d, from_coord ? "coordinator" : "peer");
    } else {
        txn_part_decide(n, t, p, d, "coordinator");   /* only reports a conflict */
    }
    /* Note 7: an ack lost; the coordinator resends the decision. */
    if (fl_buggify(n, "txn.decision-ack-skipped"))
        return;
    txn_send_id(n, t, from, TXN_ACK, id, TXN_ACK_DECISION);
}

/* Notes 2 and 3. */
void txn_on_state_req(FlNode *n, TxnNode *t, uint32_t from, const TxnInfo *info)
{
    int st = -1;
    TxnCoord *c = txn_coord(t, info->id);
    TxnPart *p = txn_part(t, info->id);
    if (c && (c->phase == CP_DECIDED || c->phase == CP_DONE)) {
        st = c->decision;
    } else if (p) {
        st = p->state;
    } else if (c) {
        st = TS_NONE;   /* a coordinator, alive, that has not decided */
    } else if (txn_part_index(info, fl_self(n)) >= 0) {
        if (records(t) >= TXN_MAX_RECORDS)
            return;
        p = part_new(t, info->id);
        p->info = *info;
        p->known = true;
        log_abort(n, t, p);
        p->state = TS_ABORTED;
        fl_metric_add(n, "txn.unilateral_abort", 1);
        st = TS_ABORTED;
    } else if (info->coord == fl_self(n) && !c) {
        if (records(t) >= TXN_MAX_RECORDS)
            return;
        c = coord_new(t, info);
        c->decision = TS_ABORTED;
        c->phase = CP_DONE;
        log_id(n, t, COORD_LOG, REC_DECIDE, info->id, TS_ABORTED, true);
        st = TS_ABORTED;
    }
    if (st >= 0)
        txn_send_id(n, t, from, TXN_STATE, info->id, st);
}

/* ---- Audits ---------------------------------------------------------- */

typedef struct Audit {
    uint32_t account;
    GString *text;
    uint32_t pending;
} Audit;

static gboolean audit_one(gpointer key, gpointer value, gpointer data)
{
    const TxnPart *p = value;
    Audit *a = data;
    if (!p->known || (p->info.from != a->account && p->info.to != a->account))
        return FALSE;
    char letter = p->state == TS_COMMITTED ? 'c' : p->state == TS_ABORTED ? 'a' : 'p';
    a->pending += letter == 'p';
    g_string_append_printf(a->text, "%c%" PRIu64 ",", letter, p->info.id);
    return FALSE;
}

static void audit(FlNode *n, TxnNode *t, const FlRequest *req)
{
    FlResult res = { .status = FL_RESULT_OK, .hint = FL_NO_HINT };
    uint32_t account = req->op.key;
    if (!txn_holds(n, t, account)) {
        fl_reply(n, req, &res);   /* has_value false: not held here */
        return;
    }
    Audit a = { .account = account, .text = g_string_new(NULL) };
    if (t->initial != FL_TXN_INITIAL_BALANCE)
        g_string_append_printf(a.text, "i%" PRId64 ",", t->initial);
    g_tree_foreach(t->parts, audit_one, &a);
    if (a.pending)
        fl_metric_add(n, "txn.audit_in_doubt", a.pending);
    res.has_value = true;
    res.value = *balance(t, account);
    res.text = a.text->str;
    res.text_len = a.text->len;
    fl_reply(n, req, &res);
    g_string_free(a.text, TRUE);
}

/* ---- Coordinator ----------------------------------------------------- */

static void reply_client(FlNode *n, TxnCoord *c)
{
    if (!c->has_client)
        return;
    FlResult res = { .status = c->decision == TS_COMMITTED ? FL_RESULT_OK : FL_RESULT_FAIL,
                     .hint = FL_NO_HINT };
    fl_reply(n, &c->req, &res);
    c->has_client = false;
}

void txn_on_request(FlNode *n, TxnNode *t, const FlRequest *req)
{
    const FlOp *op = &req->op;
    if (op->kind == FL_OP_AUDIT) {
        audit(n, t, req);
        return;
    }
    if (op->kind != FL_OP_TRANSFER) {
        fl_reply_fail(n, req);
        return;
    }
    if (t->one_coordinator && fl_self(n) != 0) {
        fl_reply_redirect(n, req, 0);
        return;
    }
    TxnInfo info = {
        .id = (uint64_t)fl_txn_id(op->b), .from = op->key, .to = (uint32_t)op->a,
        .amount = fl_txn_amount(op->b), .coord = fl_self(n),
    };
    if (info.id == 0 || op->a < 0 || op->a >= FL_MAX_KEYS || info.amount < 1) {
        fl_reply_fail(n, req);
        return;
    }
    TxnCoord *c = txn_coord(t, info.id);
    if (c) {
        /* The same transfer again (a retry): answer once it is decided. */
        c->req = *req;
        c->has_client = true;
        if (c->phase == CP_DECIDED || c->phase == CP_DONE)
            reply_client(n, c);
        return;
    }
    if (records(t) >= TXN_MAX_RECORDS) {
        fl_log(n, "txn: record limit reached, refusing %" PRIu64, info.id);
        fl_reply_fail(n, req);
        return;
    }
    fill_parts(n, t, &info);
    c = coord_new(t, &info);
    c->phase = CP_VOTING;
    c->req = *req;
    c->has_client = true;
    log_info(n, t, COORD_LOG, REC_START, &info);   /* note 1 */
    FlTime now = fl_now(n);
    c->deadline = now + (FlTime)t->timeout;
    c->retry_at = now + (FlTime)t->retry;
    coord_activate(t, c);
    for (int i = 0; i < info.nparts; i++)
        txn_send_info(n, t, info.parts[i], TXN_PREPARE, &info);
}

void txn_coord_decide(FlNode *n, TxnNode *t, TxnCoord *c, uint8_t d, const char *why)
{
    g_assert(d == TS_COMMITTED || d == TS_ABORTED);
    c->decision = d;
    c->phase = CP_DECIDED;
    c->acks = 0;
    log_id(n, t, COORD_LOG, REC_DECIDE, c->info.id, d, true);   /* note 1 */
    fl_metric_add(n, d == TS_COMMITTED ? "txn.commit" : "txn.abort", 1);
    if (d == TS_ABORTED) {
        g_autofree char *name = g_strdup_printf("txn.abort_%s", why);
        fl_metric_add(n, name, 1);
    }
    reply_client(n, c);
    c->retry_at = fl_now(n) + (FlTime)t->retry;
    coord_activate(t, c);
    for (int i = 0; i < c->info.nparts; i++)
        txn_send_id(n, t, c->info.parts[i], TXN_DECISION, c->info.id, d);
}

static void coord_precommit(FlNode *n, TxnNode *t, TxnCoord *c)
{
    c->phase = CP_PRECOMMITTING;
    c->acks = 0;
    log_id(n, t, COORD_LOG, REC_PRECOMMIT, c->info.id, -1, true);   /* note 1 */
    FlTime now = fl_now(n);
    c->deadline = now + (FlTime)t->timeout;
    c->retry_at = now + (FlTime)t->retry;
    for (int i = 0; i < c->info.nparts; i++)
        txn_send_id(n, t, c->info.parts[i], TXN_PRECOMMIT, c->info.id, -1);
}

void txn_on_vote(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, bool yes)
{
    TxnCoord *c = txn_coord(t, id);
    if (!c)
        return;
    int i = txn_part_index(&c->info, from);
    if (i < 0)
        return;
    if (c->phase == CP_DECIDED || c->phase == CP_DONE) {
        /* A late vote: its sender may be waiting for the outcome. */
        txn_send_id(n, t, from, TXN_DECISION, id, c->decision);
        return;
    }
    if (c->phase != CP_VOTING)
        return;
    if (!yes) {
        txn_coord_decide(n, t, c, TS_ABORTED, "vote_no");
        return;
    }
    c->votes |= (uint8_t)(1u << i);
    if (c->votes != txn_all_parts(&c->info))
        return;
    if (t->three)
        coord_precommit(n, t, c);
    else
        txn_coord_decide(n, t, c, TS_COMMITTED, "");
}

void txn_on_coord_ack(FlNode *n, TxnNode *t, uint32_t from, uint64_t id, uint8_t what)
{
    TxnCoord *c = txn_coord(t, id);
    if (!c)
        return;
    int i = txn_part_index(&c->info, from);
    if (i < 0)
        return;
    if (what == TXN_ACK_PRECOMMIT && c->phase == CP_PRECOMMITTING) {
        c->acks |= (uint8_t)(1u << i);
        if (c->acks == txn_all_parts(&c->info))
            txn_coord_decide(n, t, c, TS_COMMITTED, "");
    } else if (what == TXN_ACK_DECISION && c->phase == CP_DECIDED) {
        c->acks |= (uint8_t)(1u << i);
        if (c->acks == txn_all_parts(&c->info)) {
            c->phase = CP_DONE;
            log_id(n, t, COORD_LOG, REC_END, id, -1, false);   /* lost on a crash: resent, harmless */
        }
    }
}

void txn_coord_tick(FlNode *n, TxnNode *t)
{
    FlTime now = fl_now(n);
    /* Deciding may not add records, but iterate over a stable count. */
    guint len = t->active_coords->len;
    for (guint i = 0; i < len; i++) {
        TxnCoord *c = g_ptr_array_index(t->active_coords, i);
        const TxnInfo *info = &c->info;
        switch (c->phase) {
        case CP_VOTING:
            if (now >= c->deadline) {
                txn_coord_decide(n, t, c, TS_ABORTED, "timeout");
            } else if (now >= c->retry_at || fl_buggify(n, "txn.prepare-resent")) {   /* note 7 */
                for (int k = 0; k < info->nparts; k++)
                    if (!(c->votes & (1u << k)))
                        txn_send_info(n, t, info->parts[k], TXN_PREPARE, info);
                c->retry_at = now + (FlTime)t->retry;
            }
            break;
        case CP_PRECOMMITTING:
            if (now >= c->deadline) {
                /* Skeen: a participant that did not acknowledge is taken
                 * for crashed; those that did can commit.  Only true when
                 * a silence is a crash (the sync model). */
                fl_metric_add(n, "txn.commit_without_all_acks", 1);
                txn_coord_decide(n, t, c, TS_COMMITTED, "");
            } else if (now >= c->retry_at) {
                for (int k = 0; k < info->nparts; k++)
                    if (!(c->acks & (1u << k)))
                        txn_send_id(n, t, info->parts[k], TXN_PRECOMMIT, info->id, -1);
                c->retry_at = now + (FlTime)t->retry;
            }
            break;
        case CP_DECIDED:
            if (now >= c->retry_at || fl_buggify(n, "txn.decision-resent")) {   /* note 7 */
                for (int k = 0; k < info->nparts; k++)
                    if (!(c->acks & (1u << k)))
                        txn_send_id(n, t, info->parts[k], TXN_DECISION, info->id, c->decision);
                c->retry_at = now + (FlTime)t->retry;
            }
            break;
        case CP_ASKING:
            if (now >= c->retry_at) {
                for (int k = 0; k < info->nparts; k++)
                    txn_send_info(n, t, info->parts[k], TXN_STATE_REQ, info);
                c->retry_at = now + (FlTime)t->timeout;
            }
            break;
        default:
            break;
        }
    }
    guint k = 0;
    for (guint i = 0; i < t->active_coords->len; i++) {
        TxnCoord *c = g_ptr_array_index(t->active_coords, i);
        if (c->phase != CP_DONE)
            g_ptr_array_index(t->active_coords, k++) = c;
        else
            c->active = false;
    }
    g_ptr_array_set_size(t->active_coords, k);
}

/* ---- Exploration ------------------------------------------------------ */

/* A deadline as whole ticks after the last tick, clipped to -1..8. */
static uint64_t ticks_to(const TxnNode *t, FlTime deadline)
{
    int64_t d = ((int64_t)deadline - (int64_t)t->last_tick) / (int64_t)(t->tick ? t->tick : 1);
    return (uint64_t)(d < -1 ? -1 : d > 8 ? 8 : d);
}

static uint64_t digest_info(uint64_t h, const TxnInfo *i)
{
    h = fl_digest_mix(fl_digest_mix(fl_digest_mix(fl_digest_mix(h, i->id), i->from), i->to), (uint64_t)i->amount);
    return fl_digest_mix(fl_digest_mix(fl_digest_mix(fl_digest_mix(h, i->coord), i->nparts), i->parts[0]), i->parts[1]);
}

static gboolean digest_part(gpointer key, gpointer value, gpointer data)
{
    const TxnPart *p = value;
    uint64_t *h = data;
    uint64_t x = fl_digest_mix(fl_digest_mix(fl_digest_mix(*h, p->known), p->state), p->recovered);
    x = fl_digest_mix(fl_digest_mix(fl_digest_mix(x, p->active), p->term), p->seen[0]);
    x = fl_digest_mix(fl_digest_mix(fl_digest_mix(x, p->seen[1]), p->acks), p->alive);
    x = fl_digest_mix(fl_digest_mix(x, p->coord_heard), p->blocked_since != 0);
    *h = digest_info(x, &p->info);
    return FALSE;
}

typedef struct DigestCtx {
    const TxnNode *t;
    uint64_t h;
} DigestCtx;

static gboolean digest_coord(gpointer key, gpointer value, gpointer data)
{
    const TxnCoord *c = value;
    DigestCtx *d = data;
    uint64_t x = fl_digest_mix(fl_digest_mix(fl_digest_mix(d->h, c->phase), c->decision), c->votes);
    x = fl_digest_mix(fl_digest_mix(fl_digest_mix(x, c->acks), c->has_client), c->active);
    if (c->has_client)
        x = fl_digest_mix(fl_digest_mix(x, c->req.client), c->req.id);
    x = fl_digest_mix(fl_digest_mix(x, ticks_to(d->t, c->deadline)), ticks_to(d->t, c->retry_at));
    d->h = digest_info(x, &c->info);
    return FALSE;
}

uint64_t txn_digest(const TxnNode *t)
{
    uint64_t h = fl_digest_mix(fl_digest_mix(t->balance->len, t->self_armed), g_queue_get_length(t->self_msgs));
    for (guint i = 0; i < t->balance->len; i++)
        h = fl_digest_mix(fl_digest_mix(h, (uint64_t)g_array_index(t->balance, int64_t, i)),
                 g_array_index(t->lock, uint64_t, i));
    for (GList *l = t->self_msgs->head; l; l = l->next) {
        gsize len;
        const uint8_t *b = g_bytes_get_data(l->data, &len);
        for (gsize k = 0; k < len; k++)
            h = fl_digest_mix(h, b[k]);
    }
    g_tree_foreach(t->parts, digest_part, &h);   /* in id order */
    for (guint i = 0; i < t->active_parts->len; i++) {
        const TxnPart *p = g_ptr_array_index(t->active_parts, i);
        h = fl_digest_mix(fl_digest_mix(h, p->info.id), ticks_to(t, p->deadline));
    }
    DigestCtx d = { t, h };
    g_tree_foreach(t->coords, digest_coord, &d);
    return d.h;
}

typedef struct CheckCtx {
    const TxnNode *const *nodes;
    uint32_t count, self;
    GString *why;
    bool ok;
} CheckCtx;

static bool decided(uint8_t s)
{
    return s == TS_COMMITTED || s == TS_ABORTED;
}

static const char *decision_name(uint8_t s)
{
    return s == TS_COMMITTED ? "commit" : "abort";
}

/* The decision node @k knows for @id (participant or coordinator), or 0. */
static uint8_t known_decision(const TxnNode *k, uint64_t id, const char **as)
{
    const TxnPart *p = g_tree_lookup(k->parts, &id);
    if (p && decided(p->state)) {
        *as = "participant";
        return p->state;
    }
    const TxnCoord *c = g_tree_lookup(k->coords, &id);
    if (c && c->phase >= CP_DECIDED && c->phase != CP_ASKING && decided(c->decision)) {
        *as = "coordinator";
        return c->decision;
    }
    return 0;
}

static gboolean check_part(gpointer key, gpointer value, gpointer data)
{
    const TxnPart *p = value;
    CheckCtx *c = data;
    if (!decided(p->state))
        return FALSE;
    for (uint32_t j = 0; j < c->count; j++) {
        const char *as = NULL;
        uint8_t d = j == c->self || !c->nodes[j] ? 0 : known_decision(c->nodes[j], p->info.id, &as);
        if (d && d != p->state) {
            g_string_printf(c->why, "atomicity: transaction %" G_GUINT64_FORMAT " decided %s at "
                            "participant %u and %s at %s %u", p->info.id, decision_name(p->state),
                            c->self, decision_name(d), as, j);
            c->ok = false;
            return TRUE;
        }
    }
    return FALSE;
}

bool txn_invariant(const TxnNode *const *nodes, uint32_t count, GString *why)
{
    CheckCtx c = { nodes, count, 0, why, true };
    for (c.self = 0; c.self < count && c.ok; c.self++)
        if (nodes[c.self])
            g_tree_foreach(nodes[c.self]->parts, check_part, &c);
    return c.ok;
}
