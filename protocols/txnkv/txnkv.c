/* protocols/txnkv: a sharded transactional key-value store for the
 * list-append and rw-register workloads, with its isolation level as the
 * parameter `mode`.
 *
 * Design notes.
 *  1. Roles.  Every node is a shard: it holds keys k with k % nodes == self.
 *     The node a client sends a transaction to coordinates it.  Node 0 is
 *     also the timestamp oracle of `si` (Percolator's TSO: one counter,
 *     Peng and Dabek, OSDI 2010, section 2.2).  A node's messages to itself
 *     go through a queue drained by a zero-delay timer, since fl_send may
 *     not address the sender.
 *  2. A key holds its committed elements in commit order and, per commit,
 *     a version (commit ts, length of the list after it).  A register is the
 *     same list: a read returns its last element.  One exclusive lock per
 *     key; its holder's writes wait in `pending` until commit.
 *  3. Execution.  The coordinator sends the micro-ops one at a time to the
 *     key's shard (OP), in the transaction's order, so a transaction reads
 *     its own writes at the shard.  A shard answers OP_OK with what a read
 *     saw, or CONFLICT, which aborts the transaction.  A key the
 *     transaction read before is not read again: the coordinator answers
 *     from that read plus the transaction's own writes since, so every mode
 *     keeps a transaction consistent with itself (the checker's `internal`
 *     anomaly, which no level allows; rc would otherwise show a
 *     non-repeatable read as one).  For the same reason a write to a key
 *     the transaction read carries the length of the list it saw (`seen`),
 *     and is a CONFLICT when the key has changed since: the transaction's
 *     later reads of it would otherwise claim an order of the list that
 *     no one else saw.  (This also rules out lost updates in every mode.)
 *  4. Commit is two-phase (Gray; Bernstein, Hadzilacos and Goodman ch. 7):
 *     PREPARE to every shard where the transaction holds a lock, a VOTE from
 *     each (yes while the shard still holds its locks), then COMMIT with the
 *     commit ts, and the client's ok.  A transaction that holds no lock
 *     (a read-only one, except under s2pl) commits at once.  A coordinator
 *     that has not decided within `txn_timeout` aborts (ABORT to the shards
 *     it touched, fail to the client): this is how s2pl's deadlocks end.
 *  5. The modes differ only in what a shard does with an OP:
 *     - s2pl: strict two-phase locking.  Reads and writes take the key's
 *       lock, waiting in a FIFO queue when another transaction holds it;
 *       every lock is held until COMMIT or ABORT.  Serializable (and, since
 *       a later transaction waits for the locks of an earlier one, strict).
 *     - si: snapshot isolation, Percolator-style.  The start ts comes from
 *       the oracle before the first micro-op and the commit ts after the
 *       votes.  A read returns the versions with ts <= start ts, and is a
 *       CONFLICT if a transaction that started earlier holds the key's lock
 *       (its commit ts may fall below our start ts: Percolator waits, we
 *       abort).  A write is a CONFLICT if another transaction holds the lock
 *       or a version newer than our start ts exists: first committer wins.
 *       Write skew is allowed: two transactions that read x and y and write
 *       one each both commit (G2-item).
 *     - rc: read committed.  A read returns the latest committed version,
 *       whatever the lock; writes take the lock without waiting (CONFLICT if
 *       held) and keep it until the decision, so no dirty writes and no G1c.
 *       A transaction that reads x, then y, may see a commit that wrote both
 *       between the reads: read skew, G-single.
 *     - read-uncommitted (the teachable bug): rc, but a read also returns
 *       the lock holder's pending writes: it sees writes that later abort
 *       (G1a) and a transaction's intermediate writes (G1b).
 *  6. Durability: none.  State lives in memory (volatile_state); a crashed
 *     node restarts empty and its keys' history is gone, so scenarios for
 *     this protocol inject no crashes.  Nothing is persisted, so nothing is
 *     claimed durable beyond the node's life.
 *  7. Message loss: an ABORT or COMMIT lost leaves a lock held for good; the
 *     key then refuses (or queues) later writers, which fail.  Safe, not
 *     live: scenarios for this protocol keep the network reliable.
 */
#include "protocols/txnkv/txnkv.h"
#include "sim/node.h"

#include <glib.h>
#include <string.h>

/* ---- Messages ---------------------------------------------------------- */

void txnkv_encode(FlWriter *w, const TxnkvMsg *m)
{
    fl_put_u8(w, m->type);
    fl_put_u64(w, m->tid);
    switch (m->type) {
    case TXNKV_TS:
    case TXNKV_COMMIT:
        fl_put_u64(w, m->ts);
        break;
    case TXNKV_OP:
        fl_put_u64(w, m->ts);
        fl_put_u8(w, m->seq);
        fl_put_u8(w, m->kind);
        fl_put_u32(w, m->mop);
        fl_put_u32(w, m->seen);
        break;
    case TXNKV_OP_OK:
        fl_put_u8(w, m->seq);
        fl_put_u8(w, m->flag);
        fl_put_u32(w, m->len);
        fl_put_u16(w, (uint16_t)m->n_elems);
        fl_put_raw(w, m->elems, (size_t)m->n_elems * 8);
        break;
    case TXNKV_CONFLICT:
        fl_put_u8(w, m->seq);
        break;
    case TXNKV_VOTE:
        fl_put_u8(w, m->flag);
        break;
    default:
        break;
    }
}

bool txnkv_decode(const uint8_t *buf, size_t len, TxnkvMsg *m)
{
    FlReader r;
    fl_reader_init(&r, buf, len);
    memset(m, 0, sizeof *m);
    m->type = fl_get_u8(&r);
    m->tid = fl_get_u64(&r);
    uint8_t flag = 0;
    switch (m->type) {
    case TXNKV_TS:
    case TXNKV_COMMIT:
        m->ts = fl_get_u64(&r);
        break;
    case TXNKV_OP:
        m->ts = fl_get_u64(&r);
        m->seq = fl_get_u8(&r);
        m->kind = fl_get_u8(&r);
        m->mop = fl_get_u32(&r);
        m->seen = fl_get_u32(&r);
        if (m->kind != FL_OP_TXN_APPEND && m->kind != FL_OP_TXN_RW)
            return false;
        if (fl_mop_f(m->mop) != FL_MOP_R && fl_mop_f(m->mop) != FL_MOP_W)
            return false;
        break;
    case TXNKV_OP_OK:
        m->seq = fl_get_u8(&r);
        flag = fl_get_u8(&r);
        m->len = fl_get_u32(&r);
        m->n_elems = fl_get_u16(&r);
        if (m->n_elems > TXNKV_MAX_ELEMS || m->n_elems > m->len)
            return false;
        m->elems = fl_get_raw(&r, (size_t)m->n_elems * 8);
        break;
    case TXNKV_CONFLICT:
        m->seq = fl_get_u8(&r);
        break;
    case TXNKV_VOTE:
        flag = fl_get_u8(&r);
        break;
    case TXNKV_TS_REQ:
    case TXNKV_PREPARE:
    case TXNKV_ABORT:
        break;
    default:
        return false;
    }
    m->flag = flag == 1;
    return fl_reader_ok(&r) && fl_reader_done(&r) && flag <= 1 && m->seq < FL_MOPS_MAX &&
           m->tid != 0;
}

int64_t txnkv_elem(const TxnkvMsg *m, uint32_t i)
{
    g_assert(i < m->n_elems);
    FlReader r;
    fl_reader_init(&r, m->elems + (size_t)i * 8, 8);
    return fl_get_i64(&r);
}

/* ---- State ------------------------------------------------------------- */

typedef enum { MODE_S2PL, MODE_SI, MODE_RC, MODE_RU } Mode;

typedef struct Version {
    uint64_t ts;      /* commit ts (si), else the shard's commit count */
    uint32_t len;     /* the list's length after this commit */
} Version;

typedef struct Waiter {   /* s2pl: an OP queued behind the lock */
    uint32_t from;
    TxnkvMsg op;          /* an OP: no borrowed elements */
} Waiter;

typedef struct KeyState {
    GArray *elems;        /* int64: committed elements, commit order (note 2) */
    GArray *versions;     /* Version */
    uint64_t holder;      /* tid holding the lock; 0: free */
    uint64_t holder_ts;   /* its start ts */
    GArray *pending;      /* int64: the holder's writes */
    GQueue waiters;       /* Waiter*, FIFO */
} KeyState;

typedef struct ShardTxn { /* what a shard knows of a transaction */
    uint64_t tid;
    GArray *keys;         /* uint32: the keys it locked, in order */
    int64_t waiting_key;  /* s2pl: the key it queues for; -1: none */
} ShardTxn;

typedef enum { P_START_TS, P_EXEC, P_PREPARE, P_COMMIT_TS } Phase;

typedef struct Txn {      /* what a coordinator knows of a transaction */
    uint64_t tid;
    FlRequest req;
    uint32_t mops[FL_MOPS_MAX];
    unsigned n, next;
    Phase phase;
    uint64_t start_ts;
    uint64_t parts;       /* shards holding its locks (bit per node) */
    uint64_t voted;
    uint32_t waiting_on;  /* the shard of the OP in flight; UINT32_MAX: none */
    GString *reads[FL_MOPS_MAX];
    /* What it knows of the keys it read (note 3): each key's last read,
     * with its own writes since.  n_known of them. */
    uint32_t known_key[FL_MOPS_MAX];
    GArray *known[FL_MOPS_MAX];   /* int64 */
    uint32_t known_len[FL_MOPS_MAX];   /* the list's length as the shard counts it */
    unsigned n_known;
    FlTimerId timer;
} Txn;

typedef struct Txnkv {
    Mode mode;
    FlDuration timeout;
    uint64_t next_ts;     /* node 0: the oracle's counter */
    uint64_t commits;     /* this shard's commit count (version ts outside si) */
    GHashTable *keys;     /* key + 1 -> KeyState* */
    GHashTable *shard_txns;   /* &tid -> ShardTxn* */
    GHashTable *txns;     /* &tid -> Txn* (coordinator) */
    GQueue self_q;        /* GBytes*: messages to itself (note 1) */
    bool self_armed;
} Txnkv;

enum { TIMER_SELF = 0 };   /* other tags are transaction ids (never 0) */

static void key_free(gpointer p)
{
    KeyState *ks = p;
    g_array_free(ks->elems, TRUE);
    g_array_free(ks->versions, TRUE);
    g_array_free(ks->pending, TRUE);
    g_queue_clear_full(&ks->waiters, g_free);
    g_free(ks);
}

static void shard_txn_free(gpointer p)
{
    ShardTxn *st = p;
    g_array_free(st->keys, TRUE);
    g_free(st);
}

static void txn_free(gpointer p)
{
    Txn *t = p;
    for (unsigned i = 0; i < FL_MOPS_MAX; i++)
        g_string_free(t->reads[i], TRUE);
    for (unsigned i = 0; i < t->n_known; i++)
        g_array_free(t->known[i], TRUE);
    g_free(t);
}

static void txnkv_init(FlNode *n, void *state)
{
    Txnkv *s = state;
    const char *mode = fl_param_enum(n, "mode");
    s->mode = strcmp(mode, "si") == 0 ? MODE_SI : strcmp(mode, "rc") == 0 ? MODE_RC
              : strcmp(mode, "read-uncommitted") == 0 ? MODE_RU : MODE_S2PL;
    s->timeout = fl_param_duration(n, "txn_timeout");
    s->keys = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, key_free);
    s->shard_txns = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, shard_txn_free);
    s->txns = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, txn_free);
    g_queue_init(&s->self_q);
    fl_role(n, fl_self(n) == 0 && s->mode == MODE_SI ? "oracle" : "shard");
}

static void txnkv_destroy(FlNode *n, void *state)
{
    Txnkv *s = state;
    g_hash_table_destroy(s->keys);
    g_hash_table_destroy(s->shard_txns);
    g_hash_table_destroy(s->txns);
    g_queue_clear_full(&s->self_q, (GDestroyNotify)g_bytes_unref);
}

/* ---- Sending (note 1) -------------------------------------------------- */

static void send(FlNode *n, Txnkv *s, uint32_t to, const TxnkvMsg *m)
{
    uint8_t buf[256];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    txnkv_encode(&w, m);
    if (to == fl_self(n)) {
        g_queue_push_tail(&s->self_q, g_bytes_new(w.data, w.len));
        if (!s->self_armed) {
            fl_timer(n, 0, TIMER_SELF);
            s->self_armed = true;
        }
    } else {
        fl_send(n, to, w.data, w.len);
    }
    fl_writer_deinit(&w);
}

static uint32_t shard_of(const FlNode *n, uint32_t key)
{
    return key % fl_nodes(n);
}

/* ---- Shard (notes 2, 5) ------------------------------------------------ */

static KeyState *key_get(Txnkv *s, uint32_t key)
{
    gpointer k = GUINT_TO_POINTER(key + 1);
    KeyState *ks = g_hash_table_lookup(s->keys, k);
    if (!ks) {
        ks = g_new0(KeyState, 1);
        ks->elems = g_array_new(FALSE, FALSE, sizeof(int64_t));
        ks->versions = g_array_new(FALSE, FALSE, sizeof(Version));
        ks->pending = g_array_new(FALSE, FALSE, sizeof(int64_t));
        g_queue_init(&ks->waiters);
        g_hash_table_insert(s->keys, k, ks);
    }
    return ks;
}

static ShardTxn *shard_txn(Txnkv *s, uint64_t tid, bool create)
{
    ShardTxn *st = g_hash_table_lookup(s->shard_txns, &tid);
    if (!st && create) {
        st = g_new0(ShardTxn, 1);
        st->tid = tid;
        st->keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        st->waiting_key = -1;
        g_hash_table_insert(s->shard_txns, &st->tid, st);
    }
    return st;
}

static uint64_t latest_ts(const KeyState *ks)
{
    return ks->versions->len ? g_array_index(ks->versions, Version, ks->versions->len - 1).ts : 0;
}

/* The length of the committed list a read at @ts sees: si reads its
 * snapshot, the other modes the latest commit. */
static uint32_t visible_len(const Txnkv *s, const KeyState *ks, uint64_t ts)
{
    if (s->mode != MODE_SI)
        return ks->elems->len;
    uint32_t len = 0;
    for (guint i = 0; i < ks->versions->len; i++) {
        const Version *v = &g_array_index(ks->versions, Version, i);
        if (v->ts > ts)
            break;
        len = v->len;
    }
    return len;
}

static void reply_op(FlNode *n, Txnkv *s, uint32_t to, const TxnkvMsg *op, const KeyState *ks,
                     bool locked)
{
    TxnkvMsg m = { .type = TXNKV_OP_OK, .tid = op->tid, .seq = op->seq, .flag = locked };
    uint8_t raw[TXNKV_MAX_ELEMS * 8];
    uint32_t count = 0;
    if (fl_mop_f(op->mop) == FL_MOP_R) {
        /* What the read sees: committed elements, then pending writes when
         * they are its own or, in read-uncommitted, anyone's (note 5). */
        GArray *all = g_array_new(FALSE, FALSE, sizeof(int64_t));
        g_array_append_vals(all, ks->elems->data, visible_len(s, ks, op->ts));
        if (ks->holder != 0 && (ks->holder == op->tid || s->mode == MODE_RU))
            g_array_append_vals(all, ks->pending->data, ks->pending->len);
        uint32_t from = 0;
        count = m.len = all->len;
        if (op->kind == FL_OP_TXN_RW && count > 1) {
            from = count - 1;   /* a register reads its last write */
            count = 1;
        }
        g_assert(count <= TXNKV_MAX_ELEMS);
        FlWriter w;
        fl_writer_init(&w, raw, sizeof raw);
        for (uint32_t i = 0; i < count; i++)
            fl_put_i64(&w, g_array_index(all, int64_t, from + i));
        g_assert(w.data == raw);   /* fits: no reallocation */
        fl_writer_deinit(&w);
        g_array_free(all, TRUE);
    }
    m.n_elems = count;
    m.elems = raw;
    send(n, s, to, &m);
}

static void conflict(FlNode *n, Txnkv *s, uint32_t to, const TxnkvMsg *op)
{
    TxnkvMsg m = { .type = TXNKV_CONFLICT, .tid = op->tid, .seq = op->seq };
    send(n, s, to, &m);
}

/* An OP (note 5): lock, check, record the write, answer. */
static void on_op(FlNode *n, Txnkv *s, uint32_t from, const TxnkvMsg *op)
{
    uint32_t key = fl_mop_key(op->mop);
    if (shard_of(n, key) != fl_self(n))
        return;   /* not ours: a confused or lying sender */
    KeyState *ks = key_get(s, key);
    bool write = fl_mop_f(op->mop) == FL_MOP_W;
    bool own = ks->holder == op->tid;
    bool lock = write || s->mode == MODE_S2PL;
    if (!own && ks->holder != 0) {
        if (s->mode == MODE_S2PL) {
            Waiter *wt = g_new0(Waiter, 1);
            wt->from = from;
            wt->op = *op;
            g_queue_push_tail(&ks->waiters, wt);
            shard_txn(s, op->tid, true)->waiting_key = key;
            return;
        }
        if (write || (s->mode == MODE_SI && ks->holder_ts < op->ts)) {
            conflict(n, s, from, op);
            return;
        }
    }
    if (write && s->mode == MODE_SI && !own && latest_ts(ks) > op->ts) {
        conflict(n, s, from, op);   /* first committer wins */
        return;
    }
    if (write && op->seen != TXNKV_UNSEEN &&
        op->seen != ks->elems->len + (own ? ks->pending->len : 0)) {
        conflict(n, s, from, op);   /* changed since the transaction read it (note 3) */
        return;
    }
    if (lock && !own) {
        ks->holder = op->tid;
        ks->holder_ts = op->ts;
        g_array_set_size(ks->pending, 0);
        ShardTxn *st = shard_txn(s, op->tid, true);
        g_array_append_val(st->keys, key);
        st->waiting_key = -1;
    }
    if (write) {
        int64_t v = fl_mop_value(op->mop);
        g_array_append_val(ks->pending, v);
    }
    reply_op(n, s, from, op, ks, ks->holder == op->tid);
}

/* Frees @ks's lock and hands it to the first waiter (s2pl). */
static void release(FlNode *n, Txnkv *s, KeyState *ks)
{
    ks->holder = 0;
    ks->holder_ts = 0;
    g_array_set_size(ks->pending, 0);
    Waiter *wt = g_queue_pop_head(&ks->waiters);
    if (wt) {
        on_op(n, s, wt->from, &wt->op);
        g_free(wt);
    }
}

static void on_prepare(FlNode *n, Txnkv *s, uint32_t from, const TxnkvMsg *m)
{
    ShardTxn *st = shard_txn(s, m->tid, false);
    TxnkvMsg v = { .type = TXNKV_VOTE, .tid = m->tid, .flag = st && st->keys->len > 0 };
    send(n, s, from, &v);
}

static void on_decision(FlNode *n, Txnkv *s, const TxnkvMsg *m, bool commit)
{
    ShardTxn *st = shard_txn(s, m->tid, false);
    if (!st)
        return;
    if (st->waiting_key >= 0) {
        KeyState *ks = key_get(s, (uint32_t)st->waiting_key);
        for (GList *l = ks->waiters.head; l; l = l->next) {
            Waiter *wt = l->data;
            if (wt->op.tid == m->tid) {
                g_queue_delete_link(&ks->waiters, l);
                g_free(wt);
                break;
            }
        }
    }
    for (guint i = 0; i < st->keys->len; i++) {
        KeyState *ks = key_get(s, g_array_index(st->keys, uint32_t, i));
        if (ks->holder != m->tid)
            continue;
        if (commit) {
            g_array_append_vals(ks->elems, ks->pending->data, ks->pending->len);
            Version v = { .ts = s->mode == MODE_SI ? m->ts : ++s->commits, .len = ks->elems->len };
            g_array_append_val(ks->versions, v);
        }
        release(n, s, ks);
    }
    g_hash_table_remove(s->shard_txns, &m->tid);
}

/* ---- Oracle (note 1) --------------------------------------------------- */

static void on_ts_req(FlNode *n, Txnkv *s, uint32_t from, const TxnkvMsg *m)
{
    if (fl_self(n) != 0)
        return;
    TxnkvMsg r = { .type = TXNKV_TS, .tid = m->tid, .ts = ++s->next_ts };
    send(n, s, from, &r);
}

/* ---- Coordinator (notes 3, 4) ------------------------------------------ */

static void finish(FlNode *n, Txnkv *s, Txn *t, bool ok, const char *metric)
{
    fl_timer_cancel(n, t->timer);
    fl_metric_add(n, metric, 1);
    if (ok) {
        GString *text = g_string_new(NULL);
        for (unsigned i = 0; i < FL_MOPS_MAX; i++) {
            if (i)
                g_string_append_c(text, ';');
            g_string_append_len(text, t->reads[i]->str, (gssize)t->reads[i]->len);
        }
        FlResult res = { .status = FL_RESULT_OK, .has_value = true, .text = text->str,
                         .text_len = text->len };
        fl_reply(n, &t->req, &res);
        g_string_free(text, TRUE);
    } else {
        fl_reply_fail(n, &t->req);
    }
    g_hash_table_remove(s->txns, &t->tid);
}

static void abort_txn(FlNode *n, Txnkv *s, Txn *t, const char *metric)
{
    TxnkvMsg m = { .type = TXNKV_ABORT, .tid = t->tid };
    uint64_t to = t->parts;
    if (t->waiting_on < 64)
        to |= 1ull << t->waiting_on;
    for (uint32_t i = 0; i < fl_nodes(n); i++)
        if (to & (1ull << i))
            send(n, s, i, &m);
    finish(n, s, t, false, metric);
}

static int known_index(const Txn *t, uint32_t key)
{
    for (unsigned i = 0; i < t->n_known; i++)
        if (t->known_key[i] == key)
            return (int)i;
    return -1;
}

static GArray *known(Txn *t, uint32_t key)
{
    int i = known_index(t, key);
    return i >= 0 ? t->known[i] : NULL;
}

static void append_read(GString *r, const GArray *elems)
{
    for (guint i = 0; i < elems->len; i++)
        g_string_append_printf(r, "%s%" G_GINT64_FORMAT, i ? "," : "", g_array_index(elems, int64_t, i));
}

static void exec_next(FlNode *n, Txnkv *s, Txn *t)
{
    /* A key read before is not read again (note 3). */
    while (t->next < t->n && fl_mop_f(t->mops[t->next]) == FL_MOP_R &&
           known(t, fl_mop_key(t->mops[t->next]))) {
        append_read(t->reads[t->next], known(t, fl_mop_key(t->mops[t->next])));
        t->next++;
    }
    if (t->next < t->n) {
        uint32_t mop = t->mops[t->next];
        int ki = known_index(t, fl_mop_key(mop));
        TxnkvMsg m = { .type = TXNKV_OP, .tid = t->tid, .ts = t->start_ts,
                       .seq = (uint8_t)t->next, .kind = t->req.op.kind, .mop = mop,
                       .seen = ki >= 0 ? t->known_len[ki] : TXNKV_UNSEEN };
        t->waiting_on = shard_of(n, fl_mop_key(mop));
        send(n, s, t->waiting_on, &m);
        return;
    }
    t->waiting_on = UINT32_MAX;
    if (t->parts == 0) {
        finish(n, s, t, true, "txnkv.commit");   /* nothing to install */
        return;
    }
    t->phase = P_PREPARE;
    TxnkvMsg m = { .type = TXNKV_PREPARE, .tid = t->tid };
    for (uint32_t i = 0; i < fl_nodes(n); i++)
        if (t->parts & (1ull << i))
            send(n, s, i, &m);
}

static void commit(FlNode *n, Txnkv *s, Txn *t, uint64_t ts)
{
    TxnkvMsg m = { .type = TXNKV_COMMIT, .tid = t->tid, .ts = ts };
    for (uint32_t i = 0; i < fl_nodes(n); i++)
        if (t->parts & (1ull << i))
            send(n, s, i, &m);
    finish(n, s, t, true, "txnkv.commit");
}

static void on_ts(FlNode *n, Txnkv *s, const TxnkvMsg *m)
{
    Txn *t = g_hash_table_lookup(s->txns, &m->tid);
    if (!t)
        return;
    if (t->phase == P_START_TS) {
        t->start_ts = m->ts;
        t->phase = P_EXEC;
        exec_next(n, s, t);
    } else if (t->phase == P_COMMIT_TS) {
        commit(n, s, t, m->ts);
    }
}

static void on_op_ok(FlNode *n, Txnkv *s, uint32_t from, const TxnkvMsg *m)
{
    Txn *t = g_hash_table_lookup(s->txns, &m->tid);
    if (!t || t->phase != P_EXEC || m->seq != t->next || from != t->waiting_on)
        return;   /* late, duplicated or misdirected */
    uint32_t mop = t->mops[m->seq];
    int ki = known_index(t, fl_mop_key(mop));
    GArray *k = ki >= 0 ? t->known[ki] : NULL;
    if (fl_mop_f(mop) == FL_MOP_R) {
        g_assert(k == NULL);   /* exec_next answers known keys itself */
        g_assert(t->n_known < FL_MOPS_MAX);
        k = t->known[t->n_known] = g_array_new(FALSE, FALSE, sizeof(int64_t));
        t->known_len[t->n_known] = m->len;
        t->known_key[t->n_known++] = fl_mop_key(mop);
        for (uint32_t i = 0; i < m->n_elems; i++) {
            int64_t v = txnkv_elem(m, i);
            g_array_append_val(k, v);
        }
        append_read(t->reads[m->seq], k);
    } else if (k) {
        int64_t v = fl_mop_value(mop);
        if (t->req.op.kind == FL_OP_TXN_RW)
            g_array_set_size(k, 0);   /* a register holds its last write */
        g_array_append_val(k, v);
        t->known_len[ki]++;
    }
    if (m->flag && from < 64)
        t->parts |= 1ull << from;
    t->next++;
    exec_next(n, s, t);
}

static void on_conflict(FlNode *n, Txnkv *s, uint32_t from, const TxnkvMsg *m)
{
    Txn *t = g_hash_table_lookup(s->txns, &m->tid);
    if (!t || t->phase != P_EXEC || m->seq != t->next || from != t->waiting_on)
        return;
    abort_txn(n, s, t, "txnkv.abort_conflict");
}

static void on_vote(FlNode *n, Txnkv *s, uint32_t from, const TxnkvMsg *m)
{
    Txn *t = g_hash_table_lookup(s->txns, &m->tid);
    if (!t || t->phase != P_PREPARE || from >= 64 || !(t->parts & (1ull << from)))
        return;
    if (!m->flag) {
        abort_txn(n, s, t, "txnkv.abort_vote");
        return;
    }
    t->voted |= 1ull << from;
    if (t->voted != t->parts)
        return;
    if (s->mode == MODE_SI) {
        t->phase = P_COMMIT_TS;
        TxnkvMsg q = { .type = TXNKV_TS_REQ, .tid = t->tid };
        send(n, s, 0, &q);
    } else {
        commit(n, s, t, 0);
    }
}

static void txnkv_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Txnkv *s = state;
    if (req->op.kind != FL_OP_TXN_APPEND && req->op.kind != FL_OP_TXN_RW) {
        fl_reply_fail(n, req);
        return;
    }
    uint64_t tid = req->id;
    if (tid == 0 || g_hash_table_contains(s->txns, &tid))
        return;   /* a duplicate delivery of a transaction under way */
    Txn *t = g_new0(Txn, 1);
    t->tid = tid;
    t->req = *req;
    for (unsigned i = 0; i < FL_MOPS_MAX; i++) {
        t->reads[i] = g_string_new(NULL);
        uint32_t m = fl_mop_get(&req->op, i);
        if (fl_mop_f(m) == FL_MOP_R || fl_mop_f(m) == FL_MOP_W)
            t->mops[t->n++] = m;
    }
    t->waiting_on = UINT32_MAX;
    t->start_ts = tid;
    t->timer = fl_timer(n, s->timeout, tid);
    g_hash_table_insert(s->txns, &t->tid, t);
    if (s->mode == MODE_SI) {
        t->phase = P_START_TS;
        TxnkvMsg q = { .type = TXNKV_TS_REQ, .tid = tid };
        send(n, s, 0, &q);
    } else {
        t->phase = P_EXEC;
        exec_next(n, s, t);
    }
}

/* ---- Dispatch ---------------------------------------------------------- */

static void handle(FlNode *n, Txnkv *s, uint32_t from, const uint8_t *msg, size_t len)
{
    TxnkvMsg m;
    if (!txnkv_decode(msg, len, &m))
        return;   /* not a message of ours: dropped */
    switch (m.type) {
    case TXNKV_TS_REQ: on_ts_req(n, s, from, &m); break;
    case TXNKV_TS: on_ts(n, s, &m); break;
    case TXNKV_OP: on_op(n, s, from, &m); break;
    case TXNKV_OP_OK: on_op_ok(n, s, from, &m); break;
    case TXNKV_CONFLICT: on_conflict(n, s, from, &m); break;
    case TXNKV_PREPARE: on_prepare(n, s, from, &m); break;
    case TXNKV_VOTE: on_vote(n, s, from, &m); break;
    case TXNKV_COMMIT: on_decision(n, s, &m, true); break;
    case TXNKV_ABORT: on_decision(n, s, &m, false); break;
    default: break;
    }
}

static void txnkv_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    handle(n, state, from, msg, len);
}

static void txnkv_on_timer(FlNode *n, void *state, FlTimerId id, uint64_t tag)
{
    Txnkv *s = state;
    if (tag == TIMER_SELF) {
        /* Only what is queued now: messages the handlers queue meanwhile
         * wait for the next timer, so one drain cannot run forever. */
        s->self_armed = false;
        guint count = s->self_q.length;
        for (guint i = 0; i < count; i++) {
            GBytes *b = g_queue_pop_head(&s->self_q);
            gsize len;
            const uint8_t *p = g_bytes_get_data(b, &len);
            handle(n, s, fl_self(n), p, len);
            g_bytes_unref(b);
        }
        if (!g_queue_is_empty(&s->self_q) && !s->self_armed) {
            fl_timer(n, 0, TIMER_SELF);
            s->self_armed = true;
        }
        return;
    }
    Txn *t = g_hash_table_lookup(s->txns, &tag);
    if (t && t->timer == id)
        abort_txn(n, s, t, "txnkv.abort_timeout");   /* note 4 */
}

static const FlParam txnkv_params[] = {
    { "mode", FL_PARAM_ENUM, "\"s2pl\"", "isolation: s2pl (serializable), si (snapshot isolation), rc (read committed), read-uncommitted (bug: dirty reads)", "s2pl|si|rc|read-uncommitted", 0, 0 },
    { "txn_timeout", FL_PARAM_DURATION, "\"100ms\"", "a coordinator aborts a transaction undecided after this long (ends s2pl deadlocks)", NULL, FL_MS(1), FL_MS(60000) },
    { NULL },
};

static const char *const txnkv_counters[] = {
    "txnkv.commit", "txnkv.abort_conflict", "txnkv.abort_vote", "txnkv.abort_timeout", NULL,
};

const FlProtocol fl_proto_txnkv = {
    .name = "txn-kv",
    .summary = "sharded transactional kv with 2PC; mode s2pl, si (Percolator), rc, or bug read-uncommitted",
    .params = txnkv_params,
    .state_size = sizeof(Txnkv),
    .init = txnkv_init,
    .destroy = txnkv_destroy,
    .on_message = txnkv_on_message,
    .on_timer = txnkv_on_timer,
    .on_request = txnkv_on_request,
    .counters = txnkv_counters,
    .volatile_state = true,
    .max_nodes = 64,
};
