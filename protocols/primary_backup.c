/* primary-backup: passive replication with failover (Budhiraja, Marzullo,
 * Schneider and Toueg, "The Primary-Backup Approach", 1993).
 *
 * One node, the primary, orders every update, applies it, and sends it to
 * the backups; clients talk to the primary only.  When the backups' failure
 * detector suspects the primary, the next node takes over in a new view.
 *
 * Design notes.
 *  1. Views.  The primary of view v is node v mod n.  A node that suspects
 *     the primary of its view looks for the next view whose primary it
 *     does not suspect; if that primary is itself, it takes over: it
 *     collects the survivors' state first (note 8), then installs the view
 *     and sends its whole state (STATE) to every backup.
 *     A node that hears of a higher view adopts it; a primary that does
 *     steps down.  Views are written to disk, so a restarted node never
 *     goes back to an older one.
 *  2. Backups apply updates strictly in sequence order (keeping those that
 *     arrive early, up to `window` ahead), and only once they
 *     are synced in their view (they received the view's STATE): a backup
 *     of an older view may hold updates the new primary never had.  A
 *     backup that is behind, or not synced, asks with NEED; the primary
 *     answers with STATE (or the missing updates, if it still has them).
 *     Acknowledgements carry the highest sequence number held.
 *  3. Modes (param `mode`).
 *       sync   the primary answers an update, and a read, only once every
 *              backup it does not suspect has acknowledged everything before
 *              it: an acknowledged update is on every live replica, and a
 *              crash of the primary loses nothing that was answered.
 *       async  the primary answers at once and replicates every
 *              `retransmit`: fast, and a failover loses the updates it had
 *              acknowledged but not yet sent.  The checker shows it: an
 *              acknowledged write vanishes, not linearizable.
 *     Both rely on the failure detector being right.  A partition that cuts
 *     the primary off makes the others elect a new primary while the old one
 *     goes on serving its clients alone (it suspects its backups, so sync
 *     waits for nobody): two primaries, split brain.  That is what
 *     consensus protocols (Raft, Paxos) are for.
 *  4. Durability: every node writes its state (view, seq, store, and a
 *     checksum) to disk and syncs it before it answers or acknowledges an
 *     update.  A restarted backup still asks for STATE, since it may have
 *     missed updates (and a torn or corrupted file fails its checksum and
 *     counts as empty).  With failover, a restarted primary does the same:
 *     if nobody has taken over yet, its NEED tells the backups that their
 *     primary restarted, which they treat as a suspicion (note 1).
 *  7. Param `failover` (default false) turns views on.  Without it, in sync
 *     mode, the protocol is the classic one (primary_backup_classic.c):
 *     node 0 is the primary for ever, waits for every backup (one backup
 *     down blocks every update, the lesson of synchronous replication), and
 *     replays an unchecked log after a crash.  Async without failover runs
 *     this file's code with views frozen: node 0 primary for ever, no
 *     detector, and a restarted primary resumes from its synced state.
 *  5. Final reads (FL_OP_F_LOCAL) are answered by every node from its own
 *     copy, so the eventual check sees each replica.
 *  6. Bounds: the primary keeps the last `window` updates for resending;
 *     a backup further behind gets a STATE.  Pending answers are bounded by
 *     MAX_PENDING; past it, updates are refused (fail: not applied).
 *  8. The view change gathers before it installs, as Viewstamped
 *     Replication's does (Liskov and Cowling, "Viewstamped Replication
 *     Revisited", 2012, section 4.2: the new primary takes the log of the
 *     DO-VIEW-CHANGE with the largest last normal view, then the largest
 *     op-number).  The node next in line may itself be behind: a backup
 *     that has just restarted holds only what its disk kept and is not
 *     synced until the primary sends it the state, and if the primary
 *     crashes in that window, the next in line may be exactly that node.
 *     Taking over with its own state would serve values older than
 *     acknowledged writes (03-replication/pb-failover-crash-restart).  So
 *     the node taking over view w first sends GATHER(w) to every other
 *     node, which answers HAVE(w) with the view its state belongs to (the
 *     view it was synced in when it last wrote it: `state_view`), its seq
 *     and its store, synced or not: what a node acknowledged is on its disk
 *     (note 4), so even a restarted node's old state counts.  Once every
 *     node it does not suspect has answered, it keeps the greatest
 *     (state_view, seq), its own included, and only then serves.  Why that
 *     one holds every acknowledged update: in sync mode an update of view
 *     v was answered only once every backup the primary did not suspect
 *     had it on disk; with an accurate detector the others were down, and
 *     came back unsynced with what their disks kept: an older view's state,
 *     or a shorter prefix of view v's.  States of one view are prefixes of
 *     one sequence (a view has one primary), so as long as one node that
 *     held the update is up (the fault bound), the greatest seq of the
 *     latest view contains it, and that view's initial state was itself
 *     the greatest of its own gathering.  Views are compared before seqs: an
 *     old primary's longer state of an older view holds updates nobody
 *     acknowledged after it, and must not win.  In async mode the gathering
 *     still picks the most up-to-date survivor, but what the old primary
 *     answered and never sent is gone anyway (note 3).
 *     The param `bug` "stale-failover" keeps the earlier rule, kept for
 *     teaching (03-replication/bugs/pb-stale-failover): the node next in
 *     line takes over at once with whatever it holds, which is right only
 *     while every survivor is caught up.
 *  9. BUGGIFY sites (sim/node.h fl_buggify), with views on (this file's
 *     code; the classic mode stays as it was):
 *     pb.repl-deferred   an update is not sent to the backups when the
 *                        primary applies it; the next resend carries it.
 *     pb.ack-skipped     a backup withholds an acknowledgement, as if lost.
 *     pb.state-instead   the primary sends STATE to a backup that lacks
 *                        only a few updates, as if it were far behind.
 */
#include "protocols/primary_backup.h"
#include "sim/fd.h"
#include "sim/node.h"
#include "sim/trace.h"

#include <string.h>

enum { MSG_REPL = 1, MSG_ACK, MSG_STATE, MSG_NEED, MSG_VIEW, MSG_GATHER, MSG_HAVE, MSG_FD = 0xFD };
enum { TIMER_TICK = 1, TIMER_FD = 100 };

#define MAX_PENDING 4096

typedef struct Pending {
    uint64_t seq;         /* answer once everyone holds this */
    FlRequest req;
    FlResult res;
    char *text;
} Pending;

typedef struct Entry {
    uint64_t seq;
    FlRequest req;
} Entry;

typedef struct PB {
    FlFd fd;
    bool fd_running;
    bool async;
    bool failover;
    uint32_t nodes, self;
    uint64_t view;
    bool synced;          /* holds this view's state (always true for its primary) */
    bool primary_restarted;   /* our primary said NEED: it lost its state */
    bool bug_stale_failover;  /* note 8: take over without gathering */
    FlStore *store;
    uint64_t seq;         /* updates applied */
    uint64_t state_view;  /* the view the store and seq belong to (note 8) */
    /* Taking over this view, gathering states (note 8). */
    bool gathering;
    bool *heard;          /* per node: its HAVE arrived */
    uint64_t best_view, best_seq;   /* the greatest state heard, ours included */
    FlStore *best_store;  /* owned; NULL while ours is the greatest */
    /* Primary only. */
    int64_t *acked;       /* per node: highest seq acknowledged in this view, -1 unknown */
    GArray *recent;       /* of Entry: the last `window` updates */
    /* Backup only. */
    GArray *ahead;        /* of Entry: updates received before their turn, by seq */
    GArray *pending;      /* of Pending, ascending seq */
    FlDuration retransmit;
    uint32_t window;
} PB;

static const FlParam pb_params[] = {
    { "retransmit", FL_PARAM_DURATION, "\"50ms\"", "how often the primary resends (and, async, replicates)", NULL, 1, 1e12 },
    { "window", FL_PARAM_INT, "64", "updates the primary keeps for resending", NULL, 1, 1e6 },
    { "mode", FL_PARAM_ENUM, "\"sync\"", "sync: answer once every live backup has it; async: answer at once",
      "sync|async", 0, 0 },
    { "failover", FL_PARAM_BOOL, "false", "views: a backup takes over when the detector suspects the primary",
      NULL, 0, 0 },
    { "bug", FL_PARAM_ENUM, "\"none\"",
      "a deliberate mistake: stale-failover (take over without gathering the survivors' state)",
      "none|stale-failover", 0, 0 },
    FL_FD_PARAMS,
    { NULL },
};
static uint32_t primary_of(const PB *pb, uint64_t view)
{
    return (uint32_t)(view % pb->nodes);
}

static bool is_primary(const PB *pb)
{
    return primary_of(pb, pb->view) == pb->self && pb->synced;
}

/* ---- Messages ------------------------------------------------------------ */

static void send_hdr(FlWriter *w, uint8_t type, uint64_t view)
{
    fl_put_u8(w, type);
    fl_put_u64(w, view);
}

static void send_repl(FlNode *n, PB *pb, uint32_t to, const Entry *e)
{
    uint8_t buf[96];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    send_hdr(&w, MSG_REPL, pb->view);
    fl_put_u64(&w, e->seq);
    fl_request_encode(&w, &e->req);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_state(FlNode *n, PB *pb, uint32_t to)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    send_hdr(&w, MSG_STATE, pb->view);
    fl_put_u64(&w, pb->seq);
    fl_store_encode(pb->store, &w);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

/* HAVE: our state and the view it belongs to, for a gathering (note 8). */
static void send_have(FlNode *n, PB *pb, uint32_t to)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    send_hdr(&w, MSG_HAVE, pb->view);
    fl_put_u64(&w, pb->state_view);
    fl_put_u64(&w, pb->seq);
    fl_store_encode(pb->store, &w);
    fl_send(n, to, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_simple(FlNode *n, PB *pb, uint8_t type, uint32_t to)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    send_hdr(&w, type, pb->view);
    fl_put_u64(&w, pb->seq);
    fl_send(n, to, w.data, w.len);
}

/* ---- Views (note 1) ------------------------------------------------------- */

static void pending_free(PB *pb)
{
    if (!pb->pending)
        return;
    for (guint i = 0; i < pb->pending->len; i++)
        g_free(g_array_index(pb->pending, Pending, i).text);
    g_array_set_size(pb->pending, 0);
}

static void save_view(FlNode *n, PB *pb)
{
    uint8_t buf[8];
    memcpy(buf, &pb->view, 8);
    fl_disk_write(n, "view", buf, 8);
    fl_disk_sync(n, "view");
}

static void show_role(FlNode *n, PB *pb)
{
    fl_role(n, is_primary(pb)    ? "primary"
               : pb->gathering ? "gathering"
               : pb->synced    ? "backup"
                               : "joining");
}

static void gather_stop(PB *pb)
{
    pb->gathering = false;
    if (pb->best_store)
        fl_store_free(pb->best_store);
    pb->best_store = NULL;
}

/* Adopts a higher view as a backup, not synced yet. */
static void enter_view(FlNode *n, PB *pb, uint64_t view)
{
    g_assert(view > pb->view);
    pb->view = view;
    pb->synced = false;
    pb->primary_restarted = false;
    gather_stop(pb);   /* a higher view's primary gathers instead */
    g_array_set_size(pb->ahead, 0);
    pending_free(pb);   /* a deposed primary's unanswered clients time out */
    save_view(n, pb);
    show_role(n, pb);
}

/* Takes over @view: this node's state becomes the view's (note 1). */
static void take_over(FlNode *n, PB *pb, uint64_t view)
{
    pb->view = view;
    pb->synced = true;
    pb->primary_restarted = false;
    save_view(n, pb);
    for (uint32_t i = 0; i < pb->nodes; i++)
        pb->acked[i] = -1;
    g_array_set_size(pb->recent, 0);
    pending_free(pb);
    fl_log(n, "takes over as primary of view %" G_GUINT64_FORMAT " at seq %" G_GUINT64_FORMAT,
           view, pb->seq);
    fl_metric_add(n, "failovers", 1);
    show_role(n, pb);
    for (uint32_t i = 0; i < pb->nodes; i++)
        if (i != pb->self)
            send_state(n, pb, i);
}

static bool suspects(const PB *pb, uint32_t peer)
{
    return peer != pb->self && pb->fd_running && fl_fd_suspects(&pb->fd, peer);
}

static void persist(FlNode *n, PB *pb);

/* Note 8: once every node we do not suspect has sent its state, take over
 * with the greatest.  A node that crashes meanwhile is soon suspected and
 * waited for no more; one that restarts is trusted again and asked again. */
static void gather_check(FlNode *n, PB *pb)
{
    if (!pb->gathering)
        return;
    for (uint32_t i = 0; i < pb->nodes; i++)
        if (!pb->heard[i] && !suspects(pb, i))
            return;
    if (pb->best_store) {
        fl_store_free(pb->store);
        pb->store = pb->best_store;
        pb->best_store = NULL;
        pb->seq = pb->best_seq;
    }
    gather_stop(pb);
    g_array_set_size(pb->ahead, 0);
    pb->synced = true;   /* persist() labels the state with this view */
    persist(n, pb);
    take_over(n, pb, pb->view);
}

static void gather_ask(FlNode *n, PB *pb)
{
    for (uint32_t i = 0; i < pb->nodes; i++)
        if (!pb->heard[i] && !suspects(pb, i))
            send_simple(n, pb, MSG_GATHER, i);
}

/* Note 8: enters @view as its primary-to-be and asks everyone for their
 * state; serves nothing until gather_check() says it holds the greatest. */
static void gather_start(FlNode *n, PB *pb, uint64_t view)
{
    enter_view(n, pb, view);
    pb->gathering = true;
    for (uint32_t i = 0; i < pb->nodes; i++)
        pb->heard[i] = i == pb->self;
    pb->best_view = pb->state_view;
    pb->best_seq = pb->seq;
    fl_log(n, "gathers states for view %" G_GUINT64_FORMAT " (holds view %" G_GUINT64_FORMAT
           " seq %" G_GUINT64_FORMAT ")", view, pb->state_view, pb->seq);
    show_role(n, pb);
    gather_ask(n, pb);
    gather_check(n, pb);   /* alone: at once */
}

/* Note 1: if the primary is suspected, the next view whose primary is not;
 * take it over if that is us. */
static void check_view(FlNode *n, PB *pb)
{
    if (!pb->failover)
        return;   /* note 7 */
    gather_check(n, pb);   /* a suspicion may end a gathering (note 8) */
    uint32_t p = primary_of(pb, pb->view);
    if (p == pb->self || (!suspects(pb, p) && !pb->primary_restarted))
        return;
    for (uint64_t v = pb->view + 1; v <= pb->view + pb->nodes; v++) {
        uint32_t q = primary_of(pb, v);
        if (q == pb->self) {
            if (pb->bug_stale_failover)
                take_over(n, pb, v);   /* the bug (note 8): with what we hold */
            else
                gather_start(n, pb, v);
            return;
        }
        if (!suspects(pb, q))
            return;   /* q should take over: wait for its STATE */
    }
}

/* ---- Replication ----------------------------------------------------------- */

/* Applies @req as the next update; fills @res if not NULL. */
static void apply(PB *pb, const FlRequest *req, FlResult *res)
{
    FlResult tmp;
    if (!res)
        res = &tmp;
    pb->seq++;
    /* A request older than the client's last is stale: nobody waits for it. */
    if (!fl_store_apply_request(pb->store, req, res))
        *res = (FlResult){ .status = FL_RESULT_FAIL, .hint = FL_NO_HINT };
}

/* Note 4: the state on disk, checksummed. */
static void persist(FlNode *n, PB *pb)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u64(&w, pb->view);
    fl_put_u64(&w, pb->seq);
    fl_store_encode(pb->store, &w);
    uint64_t sum = fl_trace_bytes_hash(w.data, w.len);
    fl_put_u64(&w, sum);
    fl_disk_write(n, "state", w.data, w.len);
    fl_disk_sync(n, "state");
    fl_writer_deinit(&w);
    pb->state_view = pb->view;   /* only ever written while synced in it */
}

/* Reads the state back; false (and nothing changed) if it is missing,
 * torn or corrupted. */
static bool load(FlNode *n, PB *pb)
{
    size_t len;
    const uint8_t *data = fl_disk_view(n, "state", &len);
    if (!data || len < 8)
        return false;
    uint64_t sum;
    memcpy(&sum, data + len - 8, 8);
    if (fl_trace_bytes_hash(data, len - 8) != sum)
        return false;
    FlReader r;
    fl_reader_init(&r, data, len - 8);
    uint64_t view = fl_get_u64(&r), seq = fl_get_u64(&r);
    FlStore *s = fl_store_new();
    if (!fl_reader_ok(&r) || !fl_store_decode(s, &r) || !fl_reader_done(&r)) {
        fl_store_free(s);
        return false;
    }
    fl_store_free(pb->store);
    pb->store = s;
    pb->seq = seq;
    pb->state_view = view;
    if (view > pb->view)
        pb->view = view;
    return true;
}

/* The highest seq every backup we do not suspect holds. */
static uint64_t everyone(const PB *pb)
{
    uint64_t low = pb->seq;
    for (uint32_t i = 0; i < pb->nodes; i++) {
        if (i == pb->self || (pb->failover && suspects(pb, i)))
            continue;   /* note 3; without failover, everyone (note 7) */
        uint64_t a = pb->acked[i] < 0 ? 0 : (uint64_t)pb->acked[i];
        if (a < low)
            low = a;
    }
    return low;
}

/* Sync mode: answers what everyone now holds (note 3). */
static void release(FlNode *n, PB *pb)
{
    if (!is_primary(pb))
        return;
    uint64_t all = everyone(pb);
    guint done = 0;
    while (done < pb->pending->len && g_array_index(pb->pending, Pending, done).seq <= all) {
        Pending *p = &g_array_index(pb->pending, Pending, done);
        fl_reply(n, &p->req, &p->res);
        g_free(p->text);
        done++;
    }
    if (done)
        g_array_remove_range(pb->pending, 0, done);
}

/* Brings every live backup up to date: missing updates, or STATE. */
static void resend(FlNode *n, PB *pb)
{
    uint64_t first = pb->recent->len ? g_array_index(pb->recent, Entry, 0).seq : pb->seq + 1;
    for (uint32_t b = 0; b < pb->nodes; b++) {
        if (b == pb->self || suspects(pb, b))
            continue;
        int64_t a = pb->acked[b];
        if (a >= 0 && (uint64_t)a >= pb->seq)
            continue;
        /* Note 9: the whole state where the missing updates would do. */
        if (a < 0 || (uint64_t)a + 1 < first || fl_buggify_p(n, "pb.state-instead", 0.01)) {
            send_state(n, pb, b);
            continue;
        }
        for (guint i = 0; i < pb->recent->len; i++) {
            const Entry *e = &g_array_index(pb->recent, Entry, i);
            if (e->seq > (uint64_t)a)
                send_repl(n, pb, b, e);
        }
    }
}

/* ---- Life cycle -------------------------------------------------------------- */

static void pb_start(FlNode *n, PB *pb)
{
    pb->nodes = fl_nodes(n);
    pb->self = fl_self(n);
    pb->async = strcmp(fl_param_enum(n, "mode"), "async") == 0;
    pb->failover = fl_param_bool(n, "failover");
    pb->bug_stale_failover = strcmp(fl_param_enum(n, "bug"), "stale-failover") == 0;
    pb->store = fl_store_new();
    pb->heard = g_new0(bool, pb->nodes);
    pb->retransmit = fl_param_duration(n, "retransmit");
    pb->window = (uint32_t)fl_param_int(n, "window");
    pb->acked = g_new(int64_t, pb->nodes);
    for (uint32_t i = 0; i < pb->nodes; i++)
        pb->acked[i] = -1;
    pb->recent = g_array_new(FALSE, FALSE, sizeof(Entry));
    pb->ahead = g_array_new(FALSE, FALSE, sizeof(Entry));
    pb->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
    FlFdConfig cfg;
    fl_fd_config_from_params(n, &cfg, MSG_FD, TIMER_FD);
    pb->fd_running = pb->failover && pb->nodes > 1 && fl_fd_init(&pb->fd, n, &cfg) == 0;
    fl_timer(n, pb->retransmit, TIMER_TICK);
}

static void fo_init(FlNode *n, void *state)
{
    PB *pb = state;
    pb_start(n, pb);
    pb->synced = true;   /* view 0: everyone starts empty, hence in step */
    for (uint32_t i = 0; i < pb->nodes; i++)
        pb->acked[i] = 0;
    show_role(n, pb);
}

/* Note 4. */
static void fo_recover(FlNode *n, void *state)
{
    PB *pb = state;
    pb_start(n, pb);
    uint8_t buf[8];
    if (fl_disk_read(n, "view", buf, sizeof buf) == 8)
        memcpy(&pb->view, buf, 8);
    bool loaded = load(n, pb);
    /* Without failover the primary's synced state is the truth (note 7). */
    pb->synced = !pb->failover && pb->self == 0 && loaded;
    if (pb->synced)
        for (uint32_t i = 0; i < pb->nodes; i++)
            pb->acked[i] = -1;
    show_role(n, pb);
    if (!pb->synced)
        for (uint32_t i = 0; i < pb->nodes; i++)
            if (i != pb->self)
                send_simple(n, pb, MSG_NEED, i);
}

static void fo_destroy(FlNode *n, void *state)
{
    PB *pb = state;
    if (pb->fd_running)
        fl_fd_deinit(&pb->fd);
    fl_store_free(pb->store);
    gather_stop(pb);
    g_free(pb->heard);
    g_free(pb->acked);
    g_array_free(pb->recent, TRUE);
    g_array_free(pb->ahead, TRUE);
    pending_free(pb);
    g_array_free(pb->pending, TRUE);
}

/* ---- Handlers ------------------------------------------------------------------ */

/* A message of view @view from @from: adopt a higher view; false if it is
 * from an older one (then it is stale: dropped). */
static bool view_ok(FlNode *n, PB *pb, uint64_t view)
{
    if (view < pb->view)
        return false;
    if (view > pb->view)
        enter_view(n, pb, view);
    return true;
}

static void on_repl(FlNode *n, PB *pb, uint32_t from, uint64_t view, FlReader *r)
{
    uint64_t seq = fl_get_u64(r);
    FlRequest req;
    if (!fl_request_decode(r, &req) || !fl_reader_done(r) || !view_ok(n, pb, view) ||
        from != primary_of(pb, view) || from == pb->self)
        return;
    if (!pb->synced) {
        send_simple(n, pb, MSG_NEED, from);
        return;
    }
    if (seq > pb->seq && seq <= pb->seq + pb->window) {
        /* The network reorders: keep early updates until the gap fills. */
        guint i = 0;
        while (i < pb->ahead->len && g_array_index(pb->ahead, Entry, i).seq < seq)
            i++;
        if (i == pb->ahead->len || g_array_index(pb->ahead, Entry, i).seq != seq) {
            Entry e = { .seq = seq, .req = req };
            g_array_insert_val(pb->ahead, i, e);
        }
        guint used = 0;
        while (used < pb->ahead->len && g_array_index(pb->ahead, Entry, used).seq == pb->seq + 1)
            apply(pb, &g_array_index(pb->ahead, Entry, used++).req, NULL);
        g_array_remove_range(pb->ahead, 0, used);
        if (used)
            persist(n, pb);   /* durable before acknowledged (note 4) */
    }
    /* Note 9: an acknowledgement withheld, as if lost; the primary's resend
     * brings another chance. */
    if (fl_buggify(n, "pb.ack-skipped"))
        return;
    send_simple(n, pb, MSG_ACK, from);   /* also answers a gap with what we have */
}

static void on_state(FlNode *n, PB *pb, uint32_t from, uint64_t view, FlReader *r)
{
    uint64_t seq = fl_get_u64(r);
    if (!fl_reader_ok(r) || view < pb->view || from != primary_of(pb, view) || from == pb->self)
        return;
    FlStore *s = fl_store_new();
    if (!fl_store_decode(s, r) || !fl_reader_done(r)) {
        fl_store_free(s);
        return;
    }
    if (view > pb->view)
        enter_view(n, pb, view);
    if (pb->synced && seq <= pb->seq) {
        fl_store_free(s);   /* old news */
    } else {
        fl_store_free(pb->store);
        pb->store = s;
        pb->seq = seq;
        g_array_set_size(pb->ahead, 0);
        pb->synced = true;
        show_role(n, pb);
        persist(n, pb);
    }
    send_simple(n, pb, MSG_ACK, from);
}

static void on_ack(FlNode *n, PB *pb, uint32_t from, uint64_t view, FlReader *r)
{
    uint64_t seq = fl_get_u64(r);
    if (!fl_reader_done(r) || !view_ok(n, pb, view) || !is_primary(pb))
        return;
    if (seq > pb->seq)
        seq = pb->seq;   /* a backup cannot hold more than we sent */
    if ((int64_t)seq > pb->acked[from])
        pb->acked[from] = (int64_t)seq;
    release(n, pb);
}

static void on_need(FlNode *n, PB *pb, uint32_t from, uint64_t view, FlReader *r)
{
    fl_get_u64(r);
    if (!fl_reader_done(r) || view > pb->view + pb->nodes)
        return;
    if (view < pb->view || is_primary(pb)) {
        /* Tell it where we are: the primary sends state, a backup the view. */
        if (is_primary(pb)) {
            pb->acked[from] = -1;
            send_state(n, pb, from);
        } else {
            send_simple(n, pb, MSG_VIEW, from);
        }
        return;
    }
    if (view > pb->view) {
        enter_view(n, pb, view);
        return;
    }
    /* Our own primary lost its state (note 4). */
    if (from == primary_of(pb, pb->view)) {
        pb->primary_restarted = true;
        check_view(n, pb);
    }
}

/* Note 8: the node taking over @view asks for our state.  Whatever we hold
 * counts, synced or not: what we acknowledged is on our disk. */
static void on_gather(FlNode *n, PB *pb, uint32_t from, uint64_t view, FlReader *r)
{
    fl_get_u64(r);
    if (!fl_reader_done(r) || from != primary_of(pb, view) || from == pb->self ||
        !view_ok(n, pb, view))
        return;
    send_have(n, pb, from);
}

/* Note 8: a state for our gathering; keep the greatest (state_view, seq). */
static void on_have(FlNode *n, PB *pb, uint32_t from, uint64_t view, FlReader *r)
{
    uint64_t state_view = fl_get_u64(r), seq = fl_get_u64(r);
    if (!fl_reader_ok(r) || !pb->gathering || view != pb->view || from == pb->self ||
        pb->heard[from] || state_view >= view)
        return;   /* a state of this view or later cannot exist before we install it */
    FlStore *s = fl_store_new();
    if (!fl_store_decode(s, r) || !fl_reader_done(r)) {
        fl_store_free(s);
        return;
    }
    pb->heard[from] = true;
    if (state_view > pb->best_view || (state_view == pb->best_view && seq > pb->best_seq)) {
        if (pb->best_store)
            fl_store_free(pb->best_store);
        pb->best_store = s;
        pb->best_view = state_view;
        pb->best_seq = seq;
    } else {
        fl_store_free(s);
    }
    gather_check(n, pb);
}

static void fo_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                          size_t len)
{
    PB *pb = state;
    if (from >= pb->nodes)
        return;
    if (pb->fd_running && fl_fd_on_message(&pb->fd, n, from, msg, len)) {
        check_view(n, pb);
        return;
    }
    FlReader r;
    fl_reader_init(&r, msg, len);
    uint8_t type = fl_get_u8(&r);
    uint64_t view = fl_get_u64(&r);
    if (!fl_reader_ok(&r))
        return;
    if (view < pb->view && type != MSG_NEED) {
        send_simple(n, pb, MSG_VIEW, from);   /* it is behind: tell it (note 1) */
        return;
    }
    switch (type) {
    case MSG_VIEW: if (view > pb->view) enter_view(n, pb, view); break;
    case MSG_REPL: on_repl(n, pb, from, view, &r); break;
    case MSG_STATE: on_state(n, pb, from, view, &r); break;
    case MSG_ACK: on_ack(n, pb, from, view, &r); break;
    case MSG_NEED: on_need(n, pb, from, view, &r); break;
    case MSG_GATHER: on_gather(n, pb, from, view, &r); break;
    case MSG_HAVE: on_have(n, pb, from, view, &r); break;
    default: break;   /* not ours: drop */
    }
}

static void fo_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    PB *pb = state;
    if (pb->fd_running && fl_fd_on_timer(&pb->fd, n, tag)) {
        check_view(n, pb);
        release(n, pb);   /* a backup suspected is waited for no more */
        return;
    }
    if (tag != TIMER_TICK)
        return;
    check_view(n, pb);
    if (is_primary(pb)) {
        resend(n, pb);
        release(n, pb);
    } else if (pb->gathering) {
        gather_ask(n, pb);   /* GATHER or HAVE may have been lost */
    } else if (!pb->synced) {
        send_simple(n, pb, MSG_NEED, primary_of(pb, pb->view));
    }
    fl_timer(n, pb->retransmit, TIMER_TICK);
}

static void reply_local(FlNode *n, PB *pb, const FlRequest *req)
{
    FlResult res;
    fl_store_read(pb->store, &req->op, &res);
    fl_reply(n, req, &res);
}

static void fo_on_request(FlNode *n, void *state, const FlRequest *req)
{
    PB *pb = state;
    bool read = fl_op_is_read(req->op.kind);
    if (read && (req->op.flags & FL_OP_F_LOCAL)) {
        reply_local(n, pb, req);   /* note 5 */
        return;
    }
    if (!is_primary(pb)) {
        uint32_t p = primary_of(pb, pb->view);
        fl_reply_redirect(n, req, pb->synced && p != pb->self ? p : FL_NO_HINT);
        return;
    }
    if (pb->pending->len >= MAX_PENDING) {
        fl_reply_fail(n, req);
        return;
    }
    FlResult res;
    if (read) {
        fl_store_read(pb->store, &req->op, &res);
    } else {
        apply(pb, req, &res);
        persist(n, pb);   /* note 4 */
        Entry e = { .seq = pb->seq, .req = *req };
        g_array_append_val(pb->recent, e);
        if (pb->recent->len > pb->window)
            g_array_remove_index(pb->recent, 0);
        /* Note 9: now and then left for the next resend, as if lost. */
        if (!pb->async && !fl_buggify(n, "pb.repl-deferred"))
            for (uint32_t b = 0; b < pb->nodes; b++)
                if (b != pb->self && pb->acked[b] >= 0 && (uint64_t)pb->acked[b] + 1 == e.seq)
                    send_repl(n, pb, b, &e);
    }
    if (pb->async) {
        fl_reply(n, req, &res);   /* note 3: replicated at the next tick */
        return;
    }
    Pending p = { .seq = pb->seq, .req = *req, .res = res };
    if (res.text) {
        p.text = g_strndup(res.text, res.text_len);
        p.res.text = p.text;
    }
    g_array_append_val(pb->pending, p);
    release(n, pb);   /* with no live backup, at once */
}

/* ---- The protocol: classic or with views (note 7) ------------------------- */

typedef struct PbNode {
    bool classic;
    void *impl;           /* owned: a PbClassic or a PB */
} PbNode;

static void start(FlNode *n, PbNode *p)
{
    p->classic = !fl_param_bool(n, "failover") && strcmp(fl_param_enum(n, "mode"), "sync") == 0;
    p->impl = g_malloc0(p->classic ? fl_pb_classic_size() : sizeof(PB));
}

static void pb_init(FlNode *n, void *state)
{
    PbNode *p = state;
    start(n, p);
    (p->classic ? fl_pb_classic_init : fo_init)(n, p->impl);
}

static void pb_recover(FlNode *n, void *state)
{
    PbNode *p = state;
    start(n, p);
    (p->classic ? fl_pb_classic_recover : fo_recover)(n, p->impl);
}

static void pb_destroy(FlNode *n, void *state)
{
    PbNode *p = state;
    if (!p->impl)
        return;
    (p->classic ? fl_pb_classic_destroy : fo_destroy)(n, p->impl);
    g_free(p->impl);
    p->impl = NULL;
}

static void pb_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    PbNode *p = state;
    (p->classic ? fl_pb_classic_on_message : fo_on_message)(n, p->impl, from, msg, len);
}

static void pb_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    PbNode *p = state;
    (p->classic ? fl_pb_classic_on_timer : fo_on_timer)(n, p->impl, t, tag);
}

static void pb_on_request(FlNode *n, void *state, const FlRequest *req)
{
    PbNode *p = state;
    (p->classic ? fl_pb_classic_on_request : fo_on_request)(n, p->impl, req);
}

const FlProtocol fl_proto_primary_backup = {
    .name = "primary-backup",
    .summary = "a primary orders updates for its backups; with failover, the next node takes over when the detector suspects it (modes sync, async)",
    .params = pb_params,
    .state_size = sizeof(PbNode),
    .init = pb_init,
    .recover = pb_recover,
    .destroy = pb_destroy,
    .on_message = pb_on_message,
    .on_timer = pb_on_timer,
    .on_request = pb_on_request,
};
