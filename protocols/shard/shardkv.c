/* shard-kv: a sharded key-value store over replication groups, with a router.
 *
 * Node 0 is the router (and the configuration master); the other nodes form
 * replication groups of `group_size` nodes (group g is nodes 1 + g*size ...,
 * its first node the primary).  Clients talk to the router, which forwards
 * each operation to the primary of the group that owns the key and relays
 * the answer.  Where a key lives is the `placement`:
 *   range      the key space cut into `ranges` ranges, each owned by a group
 *              (a table the router keeps); `move_every` moves a random range
 *              to another group, and joins and leaves hand ranges over;
 *   hash       modulo hashing over the active groups;
 *   consistent consistent hashing over the active groups, `vnodes` points
 *              each (ring.c);
 *   vertical   a record is `columns` keys (key = record * columns + column)
 *              and column c lives in group c: a query that needs the whole
 *              record (a share `join_fraction` of gets) reads every column
 *              from its group and joins them at the router.
 * With `churn`, groups join and leave during the run (alternately, from
 * `initial_groups` active ones), and the router moves the keys whose owner
 * changed.
 *
 * Design notes.
 * 1. Groups replicate like primary-backup (primary_backup.c): the primary
 *    appends every entry to its log (synced), applies it, and sends it to
 *    the backups, which log, apply in order and acknowledge.  An entry is
 *    committed when every backup has it; only then does its effect leave
 *    the group (an answer, shipped data, a "moved").  Entries: a client
 *    write; FREEZE (keys leave); INSTALL (keys arrive).  Reads are served
 *    by the primary, which orders every write of its keys.
 * 2. A move of keys K from group A to group B, driven by the router:
 *      router: logs MOVE, stops forwarding K (requests wait at the router),
 *              and sends MOVE_OUT(id, K, B) to A until it hears MOVED;
 *      A:      logs FREEZE(id, K): from then on it refuses K (WRONG);
 *              once FREEZE commits it sends DATA(id, values of K, its
 *              client table) to B;
 *      B:      logs INSTALL(id, ...) once (a move id installs only once,
 *              so a late copy cannot overwrite newer writes), and once it
 *              commits tells the router MOVED(id);
 *      router: logs DONE, makes B the owner, releases the waiting requests.
 *    Every write of K before FREEZE is in the data; none after it happens
 *    at A.  So no write is lost, and none happens twice: a request the
 *    router resends to B after A applied it finds its id in the client
 *    table B merged from A (each client's latest request, the larger id
 *    wins: a client has one request open at a time).
 * 3. The router logs membership, the range table and moves (synced); after
 *    a crash it resumes the move in progress and recomputes the rest.  A
 *    group node rebuilds its keys from the initial placement plus its log.
 * 4. The placement figures (fraction of keys moved by a membership change,
 *    keys moved between two groups neither of which joined or left, load
 *    spread) are computed on `sample_keys` virtual keys, so that they do
 *    not depend on the few keys a workload uses.  Counters ending in _last
 *    and _max hold a latest value and a maximum: the router adds the
 *    difference to the previous one. */
#include "protocols/shard/ring.h"
#include "sim/node.h"

#include <inttypes.h>
#include <string.h>

enum {
    M_FWD = 1,      /* router -> primary: epoch, request */
    M_RES,          /* primary -> router: id, status, has_value, value, text */
    M_MOVE_OUT,     /* router -> source primary: move id, to group, keys */
    M_DATA,         /* source primary -> destination primary: move payload */
    M_MOVED,        /* destination primary -> router: move id */
    M_REPL,         /* primary -> backup: seq, entry */
    M_ACK,          /* backup -> primary: highest seq held */
};

enum { E_OP = 1, E_FREEZE, E_INSTALL };                 /* group log entries */
enum { R_ACTIVE = 1, R_RANGES, R_MOVE, R_DONE };        /* router log records */
enum { RES_OK = 1, RES_FAIL, RES_WRONG };
enum { TIMER_TICK = 1 };
enum { PL_RANGE, PL_HASH, PL_CONSISTENT, PL_VERTICAL };

#define GROUP_LOG "shard-group"
#define ROUTER_LOG "shard-router"
#define FIGURES_FILE "shard-figures"
#define MAX_PENDING 4096
#define MAX_KEYSPACE 65536
#define MAX_RANGES 4096
#define WINDOW 64

/* ---- State ------------------------------------------------------------ */

typedef struct Value {
    bool set;        /* register */
    int64_t v;
    GString *text;   /* kv; NULL: "" */
    bool owned;      /* this group serves the key */
} Value;

typedef struct Session {
    uint32_t client;
    uint64_t last_id;
    uint64_t seq;    /* the log entry of that request */
    uint8_t status;
    bool has_value;
    int64_t value;
    GString *text;
} Session;

typedef struct MoveRec {
    uint64_t id;
    uint8_t kind;    /* E_FREEZE or E_INSTALL */
    uint64_t seq;    /* its log entry (0: none, the unsafe `freeze: false`) */
    uint32_t to;     /* E_FREEZE: destination group */
    GArray *keys;    /* E_FREEZE: uint32_t, the keys that leave */
} MoveRec;

typedef struct Pending {
    FlRequest req;
    uint64_t parent;     /* a join's part: the client request it serves (0: none) */
    uint32_t group;      /* where it was sent */
    FlTime sent_at, first_at;
    bool held;           /* waiting for a move of its key */
    bool done;
    uint8_t parts_left;  /* a join: answers still expected (main included) */
    bool join;           /* a query that needs every column of its record */
    FlResult res;        /* a join: the main part's answer, text in `text` */
    GString *text;
} Pending;

typedef struct Move {
    uint64_t id;
    uint32_t from, to;
    GArray *keys;        /* uint32_t */
    FlTime started, sent_at;
} Move;

typedef struct Shard {
    /* parameters */
    int placement;
    uint32_t group_size, groups, initial, vnodes, keyspace, ranges, columns, sample;
    FlDuration churn, churn_until, move_every, retry;
    double join_fraction;
    bool freeze;

    /* group side */
    int32_t group;       /* -1: not in a group */
    uint32_t index;      /* position in the group; 0 is the primary */
    GArray *values;      /* Value per key */
    GArray *sessions;    /* Session, sorted by client */
    GHashTable *moves;   /* uint64_t* id -> MoveRec* (lookups only) */
    GPtrArray *log;      /* GBytes*: entry seq is index + 1 */
    uint64_t committed, quiet;
    uint64_t acked[64];  /* primary: per member index */

    /* router side */
    bool router;
    uint64_t epoch, next_move, next_internal;
    uint32_t *owner;     /* keyspace */
    uint8_t *moving;
    uint64_t active;     /* bit g: group g is a member */
    uint32_t *range_owner;
    ShardRing *ring;
    Move *cur;
    GQueue *queued;      /* Move* */
    GHashTable *pend;    /* uint64_t* request id -> Pending* (lookups only) */
    GPtrArray *plist;    /* Pending*, in arrival order: owns them (g_free) */
    uint32_t changes;
    FlTime next_churn, next_shuffle;
    double last_moved, max_moved, last_spread, max_spread;
} Shard;

static const FlParam shard_params[] = {
    { "placement", FL_PARAM_ENUM, "\"consistent\"", "range, hash (modulo), consistent (hashing with virtual nodes) or vertical (columns)", "range|hash|consistent|vertical", 0, 0 },
    { "group_size", FL_PARAM_INT, "1", "nodes per replication group (node 0 is the router)", NULL, 1, 16 },
    { "initial_groups", FL_PARAM_INT, "0", "groups active at the start (0: all)", NULL, 0, 64 },
    { "vnodes", FL_PARAM_INT, "64", "consistent hashing: points per group on the ring", NULL, 1, SHARD_MAX_VNODES },
    { "keyspace", FL_PARAM_INT, "64", "keys 0 .. keyspace-1 are served (give at least the workload's keys)", NULL, 1, MAX_KEYSPACE },
    { "ranges", FL_PARAM_INT, "16", "range placement: how many ranges", NULL, 1, MAX_RANGES },
    { "columns", FL_PARAM_INT, "2", "vertical placement: columns per record", NULL, 1, 64 },
    { "join_fraction", FL_PARAM_DOUBLE, "0.5", "vertical placement: share of gets that need the whole record", NULL, 0, 1 },
    { "churn", FL_PARAM_DURATION, "\"0s\"", "every this long a group joins or leaves (alternately); 0: never", NULL, 0, 1e15 },
    { "churn_until", FL_PARAM_DURATION, "\"0s\"", "no membership change after this time (0: no limit)", NULL, 0, 1e15 },
    { "move_every", FL_PARAM_DURATION, "\"0s\"", "range placement: every this long a random range moves to another group; 0: never", NULL, 0, 1e15 },
    { "sample_keys", FL_PARAM_INT, "10000", "virtual keys the placement figures are computed on", NULL, 1, 1e6 },
    { "retry", FL_PARAM_DURATION, "\"20ms\"", "resend interval for unanswered messages", NULL, 1, 1e12 },
    { "freeze", FL_PARAM_BOOL, "true", "false: naive copy-then-switch moves: the router keeps forwarding to the source while it ships a snapshot and keeps writing (a bug: writes are lost, and the checker sees it)", NULL, 0, 0 },
    { NULL },
};

/* ---- Placement ---------------------------------------------------------- */

static uint32_t primary_of(const Shard *s, uint32_t g)
{
    return 1 + g * s->group_size;
}

static uint32_t active_list(const Shard *s, uint64_t active, uint32_t *out)
{
    uint32_t n = 0;
    for (uint32_t g = 0; g < s->groups; g++)
        if (active >> g & 1)
            out[n++] = g;
    return n;
}

/* The range table the router starts with: ranges dealt round-robin to the
 * initially active groups. */
static void initial_ranges(const Shard *s, uint64_t active, uint32_t *table)
{
    uint32_t list[SHARD_MAX_MEMBERS];
    uint32_t n = active_list(s, active, list);
    for (uint32_t r = 0; r < s->ranges; r++)
        table[r] = list[r % n];
}

/* Where @key should live with members @active (and, for ranges, @table).
 * @space is the key space the key is drawn from (the sample's for figures). */
static uint32_t desired(const Shard *s, const ShardRing *ring, uint64_t active,
                        const uint32_t *table, uint64_t key, uint64_t space)
{
    uint32_t list[SHARD_MAX_MEMBERS];
    uint32_t n = active_list(s, active, list);
    switch (s->placement) {
    case PL_RANGE:
        return table[shard_range_of(key, space, s->ranges)];
    case PL_HASH:
        return shard_modulo_owner(list, n, key);
    case PL_CONSISTENT:
        return shard_ring_owner(ring, key);
    default:
        return list[(key % s->columns) % n];
    }
}

static uint64_t initial_active(const Shard *s)
{
    uint32_t n = s->initial && s->initial < s->groups ? s->initial : s->groups;
    return n >= 64 ? UINT64_MAX : (1ull << n) - 1;
}

/* ---- The group's store -------------------------------------------------- */

static Value *value(Shard *s, uint32_t key)
{
    g_assert(key < s->keyspace);
    return &g_array_index(s->values, Value, key);
}

static Session *session(Shard *s, uint32_t client, bool create)
{
    guint lo = 0, hi = s->sessions->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        uint32_t c = g_array_index(s->sessions, Session, mid).client;
        if (c == client)
            return &g_array_index(s->sessions, Session, mid);
        if (c < client)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!create)
        return NULL;
    Session fresh = { .client = client };
    g_array_insert_val(s->sessions, lo, fresh);
    return &g_array_index(s->sessions, Session, lo);
}

static void read_value(const Value *v, uint8_t kind, FlResult *res)
{
    memset(res, 0, sizeof *res);
    res->status = FL_RESULT_OK;
    res->hint = FL_NO_HINT;
    if (kind == FL_OP_READ) {
        res->has_value = v->set;
        res->value = v->v;
    } else {
        res->has_value = true;
        res->text = v->text ? v->text->str : "";
        res->text_len = v->text ? v->text->len : 0;
    }
}

/* Applies a write to the store (the sequential semantics of sim/store.c). */
static void apply_write(Value *v, const FlOp *op, FlResult *res)
{
    memset(res, 0, sizeof *res);
    res->status = FL_RESULT_OK;
    res->hint = FL_NO_HINT;
    char tok[24];
    size_t n;
    switch (op->kind) {
    case FL_OP_WRITE:
        v->set = true;
        v->v = op->a;
        break;
    case FL_OP_CAS:
        if (v->set && v->v == op->a)
            v->v = op->b;
        else
            res->status = FL_RESULT_FAIL;
        break;
    case FL_OP_PUT:
    case FL_OP_APPEND:
        n = fl_kv_token(op->a, tok);
        if (!v->text)
            v->text = g_string_new(NULL);
        if (op->kind == FL_OP_PUT)
            g_string_truncate(v->text, 0);
        g_string_append_len(v->text, tok, (gssize)n);
        break;
    default:
        res->status = FL_RESULT_FAIL;
        break;
    }
}

static bool is_write(uint8_t kind)
{
    return kind == FL_OP_WRITE || kind == FL_OP_CAS || kind == FL_OP_PUT || kind == FL_OP_APPEND;
}

static bool is_read(uint8_t kind)
{
    return kind == FL_OP_READ || kind == FL_OP_GET;
}

static void session_store(Session *ss, uint64_t id, uint64_t seq, const FlResult *res)
{
    ss->last_id = id;
    ss->seq = seq;
    ss->status = (uint8_t)res->status;
    ss->has_value = res->has_value;
    ss->value = res->value;
    if (res->text) {
        if (!ss->text)
            ss->text = g_string_new(NULL);
        g_string_assign(ss->text, "");
        g_string_append_len(ss->text, res->text, (gssize)res->text_len);
    } else if (ss->text) {
        g_string_free(ss->text, TRUE);
        ss->text = NULL;
    }
}

/* ---- Group log entries -------------------------------------------------- */

static void put_keys(FlWriter *w, const uint32_t *keys, uint32_t n)
{
    fl_put_u32(w, n);
    for (uint32_t i = 0; i < n; i++)
        fl_put_u32(w, keys[i]);
}

/* Reads a key list (each < keyspace) into @out (GArray of uint32_t). */
static bool get_keys(Shard *s, FlReader *r, GArray *out)
{
    uint32_t n = fl_get_u32(r);
    if (!fl_reader_ok(r) || n > s->keyspace || n > fl_reader_left(r) / 4)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = fl_get_u32(r);
        if (k >= s->keyspace)
            return false;
        g_array_append_val(out, k);
    }
    return fl_reader_ok(r);
}

/* The data of a move: the values of @keys and the whole client table. */
static void put_payload(Shard *s, FlWriter *w, const uint32_t *keys, uint32_t n)
{
    fl_put_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        const Value *v = value(s, keys[i]);
        fl_put_u32(w, keys[i]);
        fl_put_u8(w, v->set);
        fl_put_i64(w, v->v);
        fl_put_bytes(w, v->text ? v->text->str : "", v->text ? v->text->len : 0);
    }
    fl_put_u32(w, s->sessions->len);
    for (guint i = 0; i < s->sessions->len; i++) {
        const Session *ss = &g_array_index(s->sessions, Session, i);
        fl_put_u32(w, ss->client);
        fl_put_u64(w, ss->last_id);
        fl_put_u8(w, ss->status);
        fl_put_u8(w, ss->has_value);
        fl_put_i64(w, ss->value);
        fl_put_u8(w, ss->text != NULL);
        fl_put_bytes(w, ss->text ? ss->text->str : "", ss->text ? ss->text->len : 0);
    }
}

/* Checks a payload without changing anything. */
static bool payload_valid(Shard *s, const uint8_t *p, size_t len)
{
    FlReader r;
    fl_reader_init(&r, p, len);
    uint32_t n = fl_get_u32(&r);
    if (n > s->keyspace)
        return false;
    for (uint32_t i = 0; i < n && fl_reader_ok(&r); i++) {
        if (fl_get_u32(&r) >= s->keyspace)
            return false;
        fl_get_u8(&r);
        fl_get_i64(&r);
        size_t tl;
        fl_get_bytes(&r, &tl);
    }
    uint32_t m = fl_get_u32(&r);
    if (m > fl_reader_left(&r))
        return false;
    for (uint32_t i = 0; i < m && fl_reader_ok(&r); i++) {
        fl_get_u32(&r);
        fl_get_u64(&r);
        uint8_t st = fl_get_u8(&r);
        fl_get_u8(&r);
        fl_get_i64(&r);
        fl_get_u8(&r);
        size_t tl;
        fl_get_bytes(&r, &tl);
        if (st < FL_RESULT_OK || st > FL_RESULT_FAIL)
            return false;
    }
    return fl_reader_done(&r);
}

/* Installs a checked payload: the keys become ours with their values, and
 * each client's latest request is the later of ours and theirs (note 2). */
static void install_payload(Shard *s, const uint8_t *p, size_t len, uint64_t seq)
{
    FlReader r;
    fl_reader_init(&r, p, len);
    uint32_t n = fl_get_u32(&r);
    for (uint32_t i = 0; i < n; i++) {
        Value *v = value(s, fl_get_u32(&r));
        v->set = fl_get_u8(&r) != 0;
        v->v = fl_get_i64(&r);
        size_t tl;
        const uint8_t *t = fl_get_bytes(&r, &tl);
        if (v->text)
            g_string_free(v->text, TRUE);
        v->text = tl ? g_string_new_len((const char *)t, (gssize)tl) : NULL;
        v->owned = true;
    }
    uint32_t m = fl_get_u32(&r);
    for (uint32_t i = 0; i < m; i++) {
        uint32_t client = fl_get_u32(&r);
        uint64_t last = fl_get_u64(&r);
        FlResult res = { .hint = FL_NO_HINT };
        res.status = fl_get_u8(&r);
        res.has_value = fl_get_u8(&r) != 0;
        res.value = fl_get_i64(&r);
        bool has_text = fl_get_u8(&r) != 0;
        size_t tl;
        const uint8_t *t = fl_get_bytes(&r, &tl);
        res.text = has_text ? (const char *)t : NULL;
        res.text_len = has_text ? tl : 0;
        Session *ss = session(s, client, true);
        if (last > ss->last_id)
            session_store(ss, last, seq, &res);
    }
}

static MoveRec *move_rec(Shard *s, uint64_t id)
{
    return g_hash_table_lookup(s->moves, &id);
}

static MoveRec *move_rec_new(Shard *s, uint64_t id, uint8_t kind, uint64_t seq, uint32_t to,
                             const GArray *keys)
{
    MoveRec *m = g_new0(MoveRec, 1);
    *m = (MoveRec){ .id = id, .kind = kind, .seq = seq, .to = to };
    m->keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    if (keys)
        g_array_append_vals(m->keys, keys->data, keys->len);
    g_hash_table_insert(s->moves, &m->id, m);
    return m;
}

static void move_rec_free(gpointer p)
{
    MoveRec *m = p;
    g_array_free(m->keys, TRUE);
    g_free(m);
}

/* Whether @p is a well-formed entry (checked before a backup logs it). */
static bool entry_valid(Shard *s, const uint8_t *p, size_t len)
{
    FlReader r;
    fl_reader_init(&r, p, len);
    uint8_t type = fl_get_u8(&r);
    FlRequest req;
    g_autoptr(GArray) keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    size_t pl;
    const uint8_t *payload;
    switch (type) {
    case E_OP:
        return fl_request_decode(&r, &req) && fl_reader_done(&r) && req.op.key < s->keyspace &&
               is_write(req.op.kind);
    case E_FREEZE:
        fl_get_u64(&r);
        return fl_get_u32(&r) < s->groups && get_keys(s, &r, keys) && fl_reader_done(&r);
    case E_INSTALL:
        fl_get_u64(&r);
        payload = fl_get_bytes(&r, &pl);
        return fl_reader_done(&r) && payload_valid(s, payload, pl);
    default:
        return false;
    }
}

/* Applies log entry @seq (on the primary when it is made, on a backup when
 * it arrives, on anyone replaying its log).  Fills @res for a client write.
 * Returns false if the entry is malformed (a torn log tail). */
static bool apply_entry(Shard *s, uint64_t seq, const uint8_t *p, size_t len, FlResult *res)
{
    FlReader r;
    fl_reader_init(&r, p, len);
    uint8_t type = fl_get_u8(&r);
    FlResult tmp;
    if (!res)
        res = &tmp;
    switch (type) {
    case E_OP: {
        FlRequest req;
        if (!fl_request_decode(&r, &req) || !fl_reader_done(&r) || req.op.key >= s->keyspace ||
            !is_write(req.op.kind))
            return false;
        Session *ss = session(s, req.client, true);
        if (req.id <= ss->last_id)
            return true;   /* applied already: the primary logs only new ones */
        apply_write(value(s, req.op.key), &req.op, res);
        session_store(ss, req.id, seq, res);
        return true;
    }
    case E_FREEZE: {
        uint64_t id = fl_get_u64(&r);
        uint32_t to = fl_get_u32(&r);
        g_autoptr(GArray) keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        if (!get_keys(s, &r, keys) || !fl_reader_done(&r) || to >= s->groups)
            return false;
        if (move_rec(s, id))
            return true;
        for (guint i = 0; i < keys->len; i++)
            value(s, g_array_index(keys, uint32_t, i))->owned = false;
        move_rec_new(s, id, E_FREEZE, seq, to, keys);
        return true;
    }
    case E_INSTALL: {
        uint64_t id = fl_get_u64(&r);
        size_t pl;
        const uint8_t *payload = fl_get_bytes(&r, &pl);
        if (!fl_reader_done(&r) || !payload_valid(s, payload, pl))
            return false;
        if (move_rec(s, id))
            return true;   /* installed once only (note 2) */
        install_payload(s, payload, pl, seq);
        move_rec_new(s, id, E_INSTALL, seq, 0, NULL);
        return true;
    }
    default:
        return false;
    }
}

/* ---- Group: replication (note 1) ----------------------------------------- */

static bool is_primary(const Shard *s)
{
    return s->group >= 0 && s->index == 0;
}

static void log_append(FlNode *n, Shard *s, const uint8_t *entry, size_t len)
{
    uint8_t hdr[4];
    FlWriter w;
    fl_writer_init(&w, hdr, sizeof hdr);
    fl_put_u32(&w, (uint32_t)len);
    fl_disk_append(n, GROUP_LOG, w.data, w.len);
    fl_disk_append(n, GROUP_LOG, entry, len);
    fl_disk_sync(n, GROUP_LOG);
    fl_writer_deinit(&w);
    g_ptr_array_add(s->log, g_bytes_new(entry, len));
}

static void send_repl(FlNode *n, Shard *s, uint32_t member, uint64_t seq)
{
    GBytes *e = g_ptr_array_index(s->log, seq - 1);
    gsize len;
    const uint8_t *p = g_bytes_get_data(e, &len);
    uint8_t buf[128];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, M_REPL);
    fl_put_u64(&w, seq);
    fl_put_bytes(&w, p, len);
    fl_send(n, primary_of(s, (uint32_t)s->group) + member, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_res(FlNode *n, Shard *s, uint64_t id, uint8_t status, const FlResult *res)
{
    uint8_t buf[128];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, M_RES);
    fl_put_u64(&w, id);
    fl_put_u8(&w, status);
    fl_put_u8(&w, res ? res->has_value : 0);
    fl_put_i64(&w, res ? res->value : 0);
    fl_put_bytes(&w, res && res->text ? res->text : "", res && res->text ? res->text_len : 0);
    fl_send(n, 0, w.data, w.len);
    fl_writer_deinit(&w);
}

static void send_data(FlNode *n, Shard *s, const MoveRec *m)
{
    /* The frozen keys never change again here: the payload is the same
     * whenever it is (re)built. */
    const GArray *keys = m->keys;
    FlWriter pw;
    fl_writer_init(&pw, NULL, 0);
    put_payload(s, &pw, (const uint32_t *)keys->data, keys->len);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, M_DATA);
    fl_put_u64(&w, m->id);
    fl_put_bytes(&w, pw.data, pw.len);
    fl_send(n, primary_of(s, m->to), w.data, w.len);
    fl_writer_deinit(&w);
    fl_writer_deinit(&pw);
}

static void send_moved(FlNode *n, uint64_t id)
{
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, M_MOVED);
    fl_put_u64(&w, id);
    fl_send(n, 0, w.data, w.len);
}

/* What a committed entry lets out of the group (note 1). */
static void on_commit(FlNode *n, Shard *s, uint64_t seq)
{
    if (seq <= s->quiet)
        return;   /* from before a restart: nobody waits for it */
    GBytes *e = g_ptr_array_index(s->log, seq - 1);
    gsize len;
    const uint8_t *p = g_bytes_get_data(e, &len);
    FlReader r;
    fl_reader_init(&r, p, len);
    uint8_t type = fl_get_u8(&r);
    if (type == E_OP) {
        FlRequest req;
        if (!fl_request_decode(&r, &req))
            return;
        Session *ss = session(s, req.client, false);
        if (!ss || ss->last_id != req.id || ss->seq != seq)
            return;
        FlResult res = { .status = ss->status, .hint = FL_NO_HINT, .has_value = ss->has_value,
                         .value = ss->value, .text = ss->text ? ss->text->str : NULL,
                         .text_len = ss->text ? ss->text->len : 0 };
        send_res(n, s, req.id, ss->status == FL_RESULT_OK ? RES_OK : RES_FAIL, &res);
    } else {
        uint64_t id = fl_get_u64(&r);
        MoveRec *m = move_rec(s, id);
        if (!m || m->seq != seq)
            return;
        if (type == E_FREEZE)
            send_data(n, s, m);
        else
            send_moved(n, id);
    }
}

static void advance_commit(FlNode *n, Shard *s)
{
    uint64_t everyone = s->log->len;
    for (uint32_t i = 1; i < s->group_size; i++)
        if (s->acked[i] < everyone)
            everyone = s->acked[i];
    while (s->committed < everyone)
        on_commit(n, s, ++s->committed);
}

/* The primary makes an entry: logged (synced), applied, replicated. */
static void primary_append(FlNode *n, Shard *s, const uint8_t *entry, size_t len, FlResult *res)
{
    log_append(n, s, entry, len);
    uint64_t seq = s->log->len;
    bool ok = apply_entry(s, seq, entry, len, res);
    g_assert(ok);   /* the primary builds only well-formed entries */
    for (uint32_t i = 1; i < s->group_size; i++)
        if (s->acked[i] + 1 == seq)
            send_repl(n, s, i, seq);
    advance_commit(n, s);
}

static void on_repl(FlNode *n, Shard *s, uint32_t from, FlReader *r)
{
    uint64_t seq = fl_get_u64(r);
    size_t len;
    const uint8_t *p = fl_get_bytes(r, &len);
    if (!fl_reader_done(r) || s->group < 0 || is_primary(s) || from != primary_of(s, (uint32_t)s->group))
        return;
    if (seq == s->log->len + 1) {
        /* Checked before logging: a malformed entry never reaches the disk. */
        if (!entry_valid(s, p, len))
            return;
        log_append(n, s, p, len);
        bool ok = apply_entry(s, seq, p, len, NULL);
        g_assert(ok);
    }
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, M_ACK);
    fl_put_u64(&w, s->log->len);
    fl_send(n, from, w.data, w.len);
}

static void on_ack(FlNode *n, Shard *s, uint32_t from, FlReader *r)
{
    uint64_t seq = fl_get_u64(r);
    if (!fl_reader_done(r) || !is_primary(s))
        return;
    uint32_t base = primary_of(s, (uint32_t)s->group);
    if (from <= base || from >= base + s->group_size)
        return;
    uint32_t i = from - base;
    if (seq > s->log->len)
        seq = s->log->len;
    if (seq > s->acked[i])
        s->acked[i] = seq;
    advance_commit(n, s);
}

/* ---- Group: requests and moves -------------------------------------------- */

static void on_fwd(FlNode *n, Shard *s, uint32_t from, FlReader *r)
{
    fl_get_u64(r);   /* epoch: informational */
    FlRequest req;
    if (!fl_request_decode(r, &req) || !fl_reader_done(r) || from != 0 || !is_primary(s) ||
        req.op.key >= s->keyspace)
        return;
    Value *v = value(s, req.op.key);
    if (!v->owned) {
        send_res(n, s, req.id, RES_WRONG, NULL);
        return;
    }
    FlResult res;
    if (is_read(req.op.kind)) {
        read_value(v, req.op.kind, &res);
        send_res(n, s, req.id, RES_OK, &res);
        return;
    }
    if (!is_write(req.op.kind)) {
        send_res(n, s, req.id, RES_FAIL, NULL);
        return;
    }
    Session *ss = session(s, req.client, false);
    if (ss && req.id < ss->last_id)
        return;   /* stale: its client has moved on */
    if (ss && req.id == ss->last_id) {
        /* Applied already, maybe in another group (note 2): answer once committed. */
        if (ss->seq <= s->committed) {
            FlResult old = { .status = ss->status, .hint = FL_NO_HINT, .has_value = ss->has_value,
                             .value = ss->value, .text = ss->text ? ss->text->str : NULL,
                             .text_len = ss->text ? ss->text->len : 0 };
            send_res(n, s, req.id, ss->status == FL_RESULT_OK ? RES_OK : RES_FAIL, &old);
        }
        return;
    }
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, E_OP);
    fl_request_encode(&w, &req);
    primary_append(n, s, w.data, w.len, &res);
    fl_writer_deinit(&w);
}

static void on_move_out(FlNode *n, Shard *s, uint32_t from, FlReader *r)
{
    uint64_t id = fl_get_u64(r);
    uint32_t to = fl_get_u32(r);
    g_autoptr(GArray) keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    if (!get_keys(s, r, keys) || !fl_reader_done(r) || from != 0 || !is_primary(s) ||
        to >= s->groups || (int32_t)to == s->group)
        return;
    MoveRec *m = move_rec(s, id);
    if (m) {
        if (m->kind == E_FREEZE && m->seq <= s->committed)
            send_data(n, s, m);   /* a resend: the data may have been lost */
        return;
    }
    if (!s->freeze) {
        /* The bug on purpose: ship now, keep serving.  A write that reaches
         * us after this snapshot is lost when the router switches. */
        m = move_rec_new(s, id, E_FREEZE, 0, to, keys);
        send_data(n, s, m);
        return;
    }
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, E_FREEZE);
    fl_put_u64(&w, id);
    fl_put_u32(&w, to);
    put_keys(&w, (const uint32_t *)keys->data, keys->len);
    primary_append(n, s, w.data, w.len, NULL);
    fl_writer_deinit(&w);
}

static void on_data(FlNode *n, Shard *s, uint32_t from, FlReader *r)
{
    uint64_t id = fl_get_u64(r);
    size_t len;
    const uint8_t *p = fl_get_bytes(r, &len);
    if (!fl_reader_done(r) || !is_primary(s) || from == 0 || !payload_valid(s, p, len))
        return;
    MoveRec *m = move_rec(s, id);
    if (m) {
        if (m->kind == E_INSTALL && m->seq <= s->committed)
            send_moved(n, id);
        return;
    }
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, E_INSTALL);
    fl_put_u64(&w, id);
    fl_put_bytes(&w, p, len);
    primary_append(n, s, w.data, w.len, NULL);
    fl_writer_deinit(&w);
}

/* ---- Router ------------------------------------------------------------- */

static void router_log(FlNode *n, FlWriter *w)
{
    fl_disk_append(n, ROUTER_LOG, w->data, w->len);
    fl_disk_sync(n, ROUTER_LOG);
}

static void log_active(FlNode *n, Shard *s)
{
    uint8_t buf[32];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, R_ACTIVE);
    fl_put_u64(&w, s->active);
    fl_put_u32(&w, s->changes);
    router_log(n, &w);
    fl_writer_deinit(&w);
}

static void log_ranges(FlNode *n, Shard *s)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, R_RANGES);
    put_keys(&w, s->range_owner, s->ranges);
    router_log(n, &w);
    fl_writer_deinit(&w);
}

static void move_free(Move *m)
{
    if (!m)
        return;
    g_array_free(m->keys, TRUE);
    g_free(m);
}

/* Adds @v - @last to counter @name and remembers @v (note 4).  What was
 * added survives a crash of the router (the counters are the engine's), so
 * the remembered values must too: save_figures. */
static void metric_set(FlNode *n, const char *name, double v, double *last)
{
    fl_metric_add(n, name, v - *last);
    *last = v;
}

static void save_figures(FlNode *n, Shard *s)
{
    double f[4] = { s->last_moved, s->max_moved, s->last_spread, s->max_spread };
    fl_disk_write(n, FIGURES_FILE, f, sizeof f);
    fl_disk_sync(n, FIGURES_FILE);
}

static void load_figures(FlNode *n, Shard *s)
{
    double f[4];
    if (fl_disk_read(n, FIGURES_FILE, f, sizeof f) != sizeof f)
        return;
    s->last_moved = f[0];
    s->max_moved = f[1];
    s->last_spread = f[2];
    s->max_spread = f[3];
}

static void send_fwd(FlNode *n, Shard *s, Pending *p)
{
    p->group = s->owner[p->req.op.key];
    p->sent_at = fl_now(n);
    uint8_t buf[64];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, M_FWD);
    fl_put_u64(&w, s->epoch);
    fl_request_encode(&w, &p->req);
    fl_send(n, primary_of(s, p->group), w.data, w.len);
    fl_writer_deinit(&w);
}

/* Sends @p on, or holds it while its key moves. */
static void dispatch(FlNode *n, Shard *s, Pending *p)
{
    if (s->moving[p->req.op.key] && s->freeze) {
        if (!p->held)
            fl_metric_add(n, "shard.held_requests", 1);
        p->held = true;
        return;
    }
    p->held = false;
    send_fwd(n, s, p);
}

static Pending *pending_new(Shard *s, const FlRequest *req, uint64_t parent, FlTime now)
{
    Pending *p = g_new0(Pending, 1);
    p->req = *req;
    p->parent = parent;
    p->first_at = now;
    g_ptr_array_add(s->plist, p);
    g_hash_table_insert(s->pend, &p->req.id, p);
    return p;
}

static void pending_done(Shard *s, Pending *p)
{
    p->done = true;
    g_hash_table_remove(s->pend, &p->req.id);
}

static void router_request(FlNode *n, Shard *s, const FlRequest *req)
{
    if (req->op.key >= s->keyspace || (!is_read(req->op.kind) && !is_write(req->op.kind))) {
        fl_reply_fail(n, req);
        return;
    }
    if (g_hash_table_contains(s->pend, &req->id))
        return;   /* a duplicate: the first copy is on its way */
    if (g_hash_table_size(s->pend) >= MAX_PENDING) {
        fl_reply_fail(n, req);   /* never forwarded: certainly not applied */
        return;
    }
    FlTime now = fl_now(n);
    Pending *p = pending_new(s, req, 0, now);
    p->parts_left = 1;
    /* Vertical: a query that needs the whole record joins every column. */
    if (s->placement == PL_VERTICAL && req->op.kind == FL_OP_GET && s->columns > 1 &&
        fl_rng_double(fl_rng(n)) < s->join_fraction) {
        uint32_t record = req->op.key / s->columns;
        for (uint32_t c = 0; c < s->columns; c++) {
            uint32_t k = record * s->columns + c;
            if (k == req->op.key || k >= s->keyspace)
                continue;
            FlRequest part = { .client = 0, .id = ++s->next_internal | (1ull << 63),
                               .op = { .kind = FL_OP_GET, .key = k } };
            Pending *q = pending_new(s, &part, req->id, now);
            q->parts_left = 1;
            p->parts_left++;
            dispatch(n, s, q);
            fl_metric_add(n, "shard.join_messages", 2);
        }
        p->join = p->parts_left > 1;
        fl_metric_add(n, p->join ? "shard.join_queries" : "shard.narrow_queries", 1);
    } else if (s->placement == PL_VERTICAL && req->op.kind == FL_OP_GET) {
        fl_metric_add(n, "shard.narrow_queries", 1);
    }
    dispatch(n, s, p);
}

/* One part of a query answered; the client hears when every part has. */
static void part_answered(FlNode *n, Shard *s, Pending *p)
{
    if (p->parts_left > 0)
        p->parts_left--;
    if (p->parts_left > 0)
        return;
    FlResult res = p->res;
    res.text = p->text ? p->text->str : NULL;
    res.text_len = p->text ? p->text->len : 0;
    fl_reply(n, &p->req, &res);
    if (s->placement == PL_VERTICAL && p->req.op.kind == FL_OP_GET) {
        double ms = (double)(fl_now(n) - p->first_at) / 1e6;
        fl_metric_add(n, p->join ? "shard.join_ms" : "shard.narrow_ms", ms);
    }
    if (p->text)
        g_string_free(p->text, TRUE);
    p->text = NULL;
    pending_done(s, p);
}

static void on_res(FlNode *n, Shard *s, uint32_t from, FlReader *r)
{
    uint64_t id = fl_get_u64(r);
    uint8_t status = fl_get_u8(r);
    FlResult res = { .hint = FL_NO_HINT };
    res.has_value = fl_get_u8(r) != 0;
    res.value = fl_get_i64(r);
    size_t tl;
    res.text = (const char *)fl_get_bytes(r, &tl);
    res.text_len = tl;
    if (!fl_reader_done(r) || !s->router || status < RES_OK || status > RES_WRONG)
        return;
    Pending *p = g_hash_table_lookup(s->pend, &id);
    if (!p || p->held || from != primary_of(s, p->group))
        return;
    if (status == RES_WRONG) {
        /* Not there (any more): send it where the key is now; safe even
         * if an earlier copy was applied there first (note 2). */
        fl_metric_add(n, "shard.wrong_group", 1);
        if (s->owner[p->req.op.key] != p->group || s->moving[p->req.op.key])
            dispatch(n, s, p);
        return;
    }
    Pending *main = p->parent ? g_hash_table_lookup(s->pend, &p->parent) : p;
    if (p->parent) {
        pending_done(s, p);
        if (main)
            part_answered(n, s, main);
        return;
    }
    p->res = res;
    p->res.status = status == RES_OK ? FL_RESULT_OK : FL_RESULT_FAIL;
    if (res.text) {
        p->text = g_string_new_len(res.text, (gssize)res.text_len);
    }
    part_answered(n, s, p);
}

/* ---- Router: moves (note 2) ------------------------------------------------ */

static void send_move_out(FlNode *n, Shard *s, Move *m)
{
    m->sent_at = fl_now(n);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, M_MOVE_OUT);
    fl_put_u64(&w, m->id);
    fl_put_u32(&w, m->to);
    put_keys(&w, (const uint32_t *)m->keys->data, m->keys->len);
    fl_send(n, primary_of(s, m->from), w.data, w.len);
    fl_writer_deinit(&w);
}

static void start_next_move(FlNode *n, Shard *s)
{
    if (s->cur || g_queue_is_empty(s->queued))
        return;
    Move *m = g_queue_pop_head(s->queued);
    s->cur = m;
    m->started = fl_now(n);
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    fl_put_u8(&w, R_MOVE);
    fl_put_u64(&w, m->id);
    fl_put_u32(&w, m->from);
    fl_put_u32(&w, m->to);
    put_keys(&w, (const uint32_t *)m->keys->data, m->keys->len);
    router_log(n, &w);
    fl_writer_deinit(&w);
    for (guint i = 0; i < m->keys->len; i++)
        s->moving[g_array_index(m->keys, uint32_t, i)] = 1;
    fl_log(n, "move %" PRIu64 ": %u keys from group %u to group %u", m->id, m->keys->len,
           m->from, m->to);
    send_move_out(n, s, m);
}

/* Queues the moves that bring every key to where the placement wants it. */
static void plan(FlNode *n, Shard *s)
{
    while (!g_queue_is_empty(s->queued))
        move_free(g_queue_pop_head(s->queued));
    for (uint32_t k = 0; k < s->keyspace; k++) {
        uint32_t want = desired(s, s->ring, s->active, s->range_owner, k, s->keyspace);
        if (want == s->owner[k] || s->moving[k])
            continue;
        Move *m = NULL;
        for (GList *l = s->queued->head; l && !m; l = l->next) {
            Move *q = l->data;
            if (q->from == s->owner[k] && q->to == want)
                m = q;
        }
        if (!m) {
            m = g_new0(Move, 1);
            m->id = ++s->next_move;
            m->from = s->owner[k];
            m->to = want;
            m->keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
            g_queue_push_tail(s->queued, m);
        }
        g_array_append_val(m->keys, k);
    }
    start_next_move(n, s);
}

static void on_moved(FlNode *n, Shard *s, uint32_t from, FlReader *r)
{
    uint64_t id = fl_get_u64(r);
    if (!fl_reader_done(r) || !s->router || !s->cur || s->cur->id != id ||
        from != primary_of(s, s->cur->to))
        return;
    Move *m = s->cur;
    uint8_t buf[16];
    FlWriter w;
    fl_writer_init(&w, buf, sizeof buf);
    fl_put_u8(&w, R_DONE);
    fl_put_u64(&w, id);
    router_log(n, &w);
    for (guint i = 0; i < m->keys->len; i++) {
        uint32_t k = g_array_index(m->keys, uint32_t, i);
        s->owner[k] = m->to;
        s->moving[k] = 0;
    }
    s->epoch++;
    fl_metric_add(n, "shard.moves", 1);
    fl_metric_add(n, "shard.keys_moved", m->keys->len);
    fl_metric_add(n, "shard.move_ms", (double)(fl_now(n) - m->started) / 1e6);
    fl_log(n, "move %" PRIu64 " done: epoch %" PRIu64, id, s->epoch);
    s->cur = NULL;
    move_free(m);
    /* Release what waited for these keys, in arrival order. */
    for (guint i = 0; i < s->plist->len; i++) {
        Pending *p = g_ptr_array_index(s->plist, i);
        if (!p->done && p->held && !s->moving[p->req.op.key])
            dispatch(n, s, p);
    }
    start_next_move(n, s);
}

/* ---- Router: membership (note 4) --------------------------------------------- */

static void ranges_rebalance(FlNode *n, Shard *s, int32_t left)
{
    uint32_t list[SHARD_MAX_MEMBERS];
    uint32_t count = active_list(s, s->active, list);
    uint32_t load[SHARD_MAX_MEMBERS] = { 0 };
    for (uint32_t r = 0; r < s->ranges; r++)
        if ((int32_t)s->range_owner[r] != left)
            load[s->range_owner[r]]++;
    /* Ranges of a group that left go to the least loaded. */
    for (uint32_t r = 0; r < s->ranges; r++) {
        if ((int32_t)s->range_owner[r] != left)
            continue;
        uint32_t best = list[0];
        for (uint32_t i = 1; i < count; i++)
            if (load[list[i]] < load[best])
                best = list[i];
        s->range_owner[r] = best;
        load[best]++;
    }
    /* Then the most loaded give to the least loaded until even. */
    for (;;) {
        uint32_t hi = list[0], lo = list[0];
        for (uint32_t i = 1; i < count; i++) {
            if (load[list[i]] > load[hi])
                hi = list[i];
            if (load[list[i]] < load[lo])
                lo = list[i];
        }
        if (load[hi] <= load[lo] + 1)
            break;
        for (uint32_t r = s->ranges; r-- > 0;) {
            if (s->range_owner[r] == hi) {
                s->range_owner[r] = lo;
                break;
            }
        }
        load[hi]--;
        load[lo]++;
    }
}

static void sample_owners(Shard *s, const ShardRing *ring, uint64_t active, const uint32_t *table,
                          uint32_t *out)
{
    for (uint32_t i = 0; i < s->sample; i++)
        out[i] = desired(s, ring, active, table, i, s->sample);
}

/* A group joins (@joined) or leaves: figures, then moves. */
static void membership_change(FlNode *n, Shard *s, uint32_t g, bool joined)
{
    g_autofree uint32_t *before = g_new(uint32_t, s->sample);
    g_autofree uint32_t *after = g_new(uint32_t, s->sample);
    sample_owners(s, s->ring, s->active, s->range_owner, before);
    if (joined) {
        s->active |= 1ull << g;
        shard_ring_add(s->ring, g);
    } else {
        s->active &= ~(1ull << g);
        shard_ring_remove(s->ring, g);
    }
    s->changes++;
    log_active(n, s);
    if (s->placement == PL_RANGE) {
        ranges_rebalance(n, s, joined ? -1 : (int32_t)g);
        log_ranges(n, s);
    }
    sample_owners(s, s->ring, s->active, s->range_owner, after);
    size_t bystanders;
    double moved = shard_moved_fraction(before, after, s->sample, g, &bystanders);
    uint32_t list[SHARD_MAX_MEMBERS];
    uint32_t count = active_list(s, s->active, list);
    double spread = shard_load_spread(after, s->sample, list, count);
    fl_log(n, "group %u %s: %u groups, %.1f%% of keys move (%zu between bystanders), load spread %.3f",
           g, joined ? "joins" : "leaves", count, 100 * moved, bystanders, spread);
    fl_metric_add(n, joined ? "shard.joins" : "shard.leaves", 1);
    fl_metric_add(n, "shard.membership_changes", 1);
    fl_metric_add(n, "shard.moved_fraction_sum", moved);
    fl_metric_add(n, "shard.bystander_moves", (double)bystanders);
    metric_set(n, "shard.moved_fraction_last", moved, &s->last_moved);
    if (moved > s->max_moved)
        metric_set(n, "shard.moved_fraction_max", moved, &s->max_moved);
    metric_set(n, "shard.load_spread_last", spread, &s->last_spread);
    if (spread > s->max_spread)
        metric_set(n, "shard.load_spread_max", spread, &s->max_spread);
    save_figures(n, s);
    plan(n, s);
}

static void churn_step(FlNode *n, Shard *s)
{
    uint32_t list[SHARD_MAX_MEMBERS];
    uint32_t count = active_list(s, s->active, list);
    int32_t inactive = -1;
    for (uint32_t g = 0; g < s->groups && inactive < 0; g++)
        if (!(s->active >> g & 1))
            inactive = (int32_t)g;
    bool join = (s->changes % 2 == 0 && inactive >= 0) || count <= 1;
    if (join && inactive >= 0) {
        membership_change(n, s, (uint32_t)inactive, true);
    } else if (count > 1) {
        uint32_t g = list[fl_rng_below(fl_rng(n), count)];
        membership_change(n, s, g, false);
    }
}

static void spread_now(FlNode *n, Shard *s)
{
    g_autofree uint32_t *own = g_new(uint32_t, s->sample);
    sample_owners(s, s->ring, s->active, s->range_owner, own);
    uint32_t list[SHARD_MAX_MEMBERS];
    uint32_t count = active_list(s, s->active, list);
    double spread = shard_load_spread(own, s->sample, list, count);
    metric_set(n, "shard.load_spread_last", spread, &s->last_spread);
    if (spread > s->max_spread)
        metric_set(n, "shard.load_spread_max", spread, &s->max_spread);
    save_figures(n, s);
}

/* range placement: a random range moves to another active group. */
static void shuffle_step(FlNode *n, Shard *s)
{
    uint32_t list[SHARD_MAX_MEMBERS];
    uint32_t count = active_list(s, s->active, list);
    if (count < 2)
        return;
    uint32_t r = (uint32_t)fl_rng_below(fl_rng(n), s->ranges);
    uint32_t to = list[fl_rng_below(fl_rng(n), count - 1)];
    if (to == s->range_owner[r])
        to = list[count - 1];
    s->range_owner[r] = to;
    log_ranges(n, s);
    fl_metric_add(n, "shard.range_moves", 1);
    plan(n, s);
    spread_now(n, s);
}

/* ---- Router: start and recovery (note 3) ------------------------------------ */

static void router_replay(FlNode *n, Shard *s)
{
    size_t len;
    const uint8_t *data = fl_disk_view(n, ROUTER_LOG, &len);
    FlReader r;
    fl_reader_init(&r, data, len);
    g_autoptr(GArray) keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    while (fl_reader_left(&r) > 0) {
        uint8_t type = fl_get_u8(&r);
        if (type == R_ACTIVE) {
            uint64_t active = fl_get_u64(&r);
            uint32_t changes = fl_get_u32(&r);
            if (!fl_reader_ok(&r))
                break;
            for (uint32_t g = 0; g < s->groups; g++) {
                if (active >> g & 1)
                    shard_ring_add(s->ring, g);
                else
                    shard_ring_remove(s->ring, g);
            }
            s->active = active;
            s->changes = changes;
        } else if (type == R_RANGES) {
            g_array_set_size(keys, 0);
            uint32_t cnt = fl_get_u32(&r);
            if (!fl_reader_ok(&r) || cnt != s->ranges)
                break;
            for (uint32_t i = 0; i < cnt; i++)
                s->range_owner[i] = fl_get_u32(&r);
            if (!fl_reader_ok(&r))
                break;
        } else if (type == R_MOVE) {
            Move *m = g_new0(Move, 1);
            m->id = fl_get_u64(&r);
            m->from = fl_get_u32(&r);
            m->to = fl_get_u32(&r);
            m->keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
            if (!get_keys(s, &r, m->keys) || m->from >= s->groups || m->to >= s->groups) {
                move_free(m);
                break;
            }
            move_free(s->cur);
            s->cur = m;
            if (m->id > s->next_move)
                s->next_move = m->id;
        } else if (type == R_DONE) {
            uint64_t id = fl_get_u64(&r);
            if (!fl_reader_ok(&r))
                break;
            if (s->cur && s->cur->id == id) {
                for (guint i = 0; i < s->cur->keys->len; i++)
                    s->owner[g_array_index(s->cur->keys, uint32_t, i)] = s->cur->to;
                s->epoch++;
                move_free(s->cur);
                s->cur = NULL;
            }
        } else {
            break;
        }
    }
}

static void router_init(FlNode *n, Shard *s, bool recover)
{
    s->router = true;
    fl_role(n, "router");
    s->owner = g_new0(uint32_t, s->keyspace);
    s->moving = g_new0(uint8_t, s->keyspace);
    s->range_owner = g_new0(uint32_t, s->ranges);
    s->ring = shard_ring_new(s->vnodes);
    s->queued = g_queue_new();
    s->pend = g_hash_table_new(g_int64_hash, g_int64_equal);
    s->plist = g_ptr_array_new();
    s->active = initial_active(s);
    for (uint32_t g = 0; g < s->groups; g++)
        if (s->active >> g & 1)
            shard_ring_add(s->ring, g);
    initial_ranges(s, s->active, s->range_owner);
    for (uint32_t k = 0; k < s->keyspace; k++)
        s->owner[k] = desired(s, s->ring, s->active, s->range_owner, k, s->keyspace);
    FlTime now = fl_now(n);
    s->next_churn = s->churn ? now + (FlTime)s->churn : FL_TIME_NEVER;
    s->next_shuffle = s->move_every && s->placement == PL_RANGE ? now + (FlTime)s->move_every
                                                               : FL_TIME_NEVER;
    if (recover) {
        load_figures(n, s);
        router_replay(n, s);
        if (s->cur) {
            for (guint i = 0; i < s->cur->keys->len; i++)
                s->moving[g_array_index(s->cur->keys, uint32_t, i)] = 1;
            s->cur->started = now;
            send_move_out(n, s, s->cur);
        }
        plan(n, s);
    } else {
        spread_now(n, s);
    }
}

/* ---- Protocol glue -------------------------------------------------------- */

static void group_init(FlNode *n, Shard *s)
{
    uint32_t self = fl_self(n);
    s->group = (int32_t)((self - 1) / s->group_size);
    s->index = (self - 1) % s->group_size;
    fl_role(n, s->index == 0 ? "primary" : "backup");
    /* What this group owns at the start: the router's initial placement. */
    g_autofree uint32_t *table = g_new0(uint32_t, s->ranges);
    ShardRing *ring = shard_ring_new(s->vnodes);
    uint64_t active = initial_active(s);
    for (uint32_t g = 0; g < s->groups; g++)
        if (active >> g & 1)
            shard_ring_add(ring, g);
    initial_ranges(s, active, table);
    for (uint32_t k = 0; k < s->keyspace; k++)
        value(s, k)->owned = desired(s, ring, active, table, k, s->keyspace) == (uint32_t)s->group;
    shard_ring_free(ring);
}

static void group_replay(FlNode *n, Shard *s)
{
    size_t len;
    const uint8_t *data = fl_disk_view(n, GROUP_LOG, &len);
    FlReader r;
    fl_reader_init(&r, data, len);
    while (fl_reader_left(&r) > 0) {
        uint32_t elen = fl_get_u32(&r);
        const uint8_t *p = fl_get_raw(&r, elen);
        if (!p)
            break;   /* a torn tail */
        g_ptr_array_add(s->log, g_bytes_new(p, elen));
        if (!apply_entry(s, s->log->len, p, elen, NULL)) {
            g_ptr_array_remove_index(s->log, s->log->len - 1);
            break;
        }
    }
    /* Nobody waits for what was logged before the crash (clients time out;
     * moves are resent by the router and answered from the records). */
    s->quiet = s->log->len;
    s->committed = s->group_size == 1 ? s->log->len : 0;
}

static void clear_value(gpointer p)
{
    Value *v = p;
    if (v->text)
        g_string_free(v->text, TRUE);
}

static void clear_session(gpointer p)
{
    Session *ss = p;
    if (ss->text)
        g_string_free(ss->text, TRUE);
}

static void shard_start(FlNode *n, void *state, bool recover)
{
    Shard *s = state;
    s->placement = 0;
    const char *pl = fl_param_enum(n, "placement");
    s->placement = strcmp(pl, "range") == 0 ? PL_RANGE : strcmp(pl, "hash") == 0 ? PL_HASH
                 : strcmp(pl, "consistent") == 0 ? PL_CONSISTENT : PL_VERTICAL;
    s->group_size = (uint32_t)fl_param_int(n, "group_size");
    uint32_t nodes = fl_nodes(n);
    s->groups = nodes > 1 ? (nodes - 1) / s->group_size : 0;
    if (s->groups > SHARD_MAX_MEMBERS)
        s->groups = SHARD_MAX_MEMBERS;
    s->initial = (uint32_t)fl_param_int(n, "initial_groups");
    s->vnodes = (uint32_t)fl_param_int(n, "vnodes");
    s->keyspace = (uint32_t)fl_param_int(n, "keyspace");
    s->ranges = (uint32_t)fl_param_int(n, "ranges");
    s->columns = (uint32_t)fl_param_int(n, "columns");
    s->join_fraction = fl_param_double(n, "join_fraction");
    s->churn = fl_param_duration(n, "churn");
    s->churn_until = fl_param_duration(n, "churn_until");
    s->move_every = fl_param_duration(n, "move_every");
    s->sample = (uint32_t)fl_param_int(n, "sample_keys");
    s->retry = fl_param_duration(n, "retry");
    s->freeze = fl_param_bool(n, "freeze");
    s->group = -1;
    s->values = g_array_new(FALSE, TRUE, sizeof(Value));
    g_array_set_clear_func(s->values, clear_value);
    g_array_set_size(s->values, s->keyspace);
    s->sessions = g_array_new(FALSE, TRUE, sizeof(Session));
    g_array_set_clear_func(s->sessions, clear_session);
    s->moves = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, move_rec_free);
    s->log = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    uint32_t self = fl_self(n);
    if (s->groups == 0) {
        fl_log(n, "shard-kv needs at least 1 + group_size nodes");
    } else if (self == 0) {
        router_init(n, s, recover);
    } else if (self <= s->groups * s->group_size) {
        group_init(n, s);
        if (recover)
            group_replay(n, s);
    } else {
        fl_role(n, "spare");
    }
    fl_timer(n, s->retry / 2 > 0 ? s->retry / 2 : 1, TIMER_TICK);
}

static void shard_init(FlNode *n, void *state)
{
    shard_start(n, state, false);
}

static void shard_recover(FlNode *n, void *state)
{
    shard_start(n, state, true);
}

static void shard_destroy(FlNode *n, void *state)
{
    Shard *s = state;
    g_array_free(s->values, TRUE);
    g_array_free(s->sessions, TRUE);
    g_hash_table_destroy(s->moves);
    g_ptr_array_free(s->log, TRUE);
    if (s->router) {
        for (guint i = 0; i < s->plist->len; i++) {
            Pending *p = g_ptr_array_index(s->plist, i);
            if (p->text)
                g_string_free(p->text, TRUE);
            g_free(p);
        }
        g_ptr_array_free(s->plist, TRUE);
        g_hash_table_destroy(s->pend);
        move_free(s->cur);
        while (!g_queue_is_empty(s->queued))
            move_free(g_queue_pop_head(s->queued));
        g_queue_free(s->queued);
        shard_ring_free(s->ring);
        g_free(s->owner);
        g_free(s->moving);
        g_free(s->range_owner);
    }
}

static void shard_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    Shard *s = state;
    FlReader r;
    fl_reader_init(&r, msg, len);
    switch (fl_get_u8(&r)) {
    case M_FWD: on_fwd(n, s, from, &r); break;
    case M_RES: on_res(n, s, from, &r); break;
    case M_MOVE_OUT: on_move_out(n, s, from, &r); break;
    case M_DATA: on_data(n, s, from, &r); break;
    case M_MOVED: on_moved(n, s, from, &r); break;
    case M_REPL: on_repl(n, s, from, &r); break;
    case M_ACK: on_ack(n, s, from, &r); break;
    default: break;   /* not ours: drop */
    }
}

static void router_tick(FlNode *n, Shard *s)
{
    FlTime now = fl_now(n);
    bool churn_open = s->churn_until == 0 || now < (FlTime)s->churn_until;
    if (now >= s->next_churn && churn_open) {
        churn_step(n, s);
        s->next_churn = now + (FlTime)s->churn;
    }
    if (now >= s->next_shuffle && churn_open) {
        shuffle_step(n, s);
        s->next_shuffle = now + (FlTime)s->move_every;
    }
    if (s->cur && now >= s->cur->sent_at + (FlTime)s->retry)
        send_move_out(n, s, s->cur);
    /* Resend what is unanswered, and forget what is done. */
    guint k = 0;
    for (guint i = 0; i < s->plist->len; i++) {
        Pending *p = g_ptr_array_index(s->plist, i);
        if (p->done) {
            g_free(p);
            continue;
        }
        if (!p->held && now >= p->sent_at + (FlTime)s->retry)
            dispatch(n, s, p);
        g_ptr_array_index(s->plist, k++) = p;
    }
    g_ptr_array_set_size(s->plist, k);
}

static void primary_tick(FlNode *n, Shard *s)
{
    for (uint32_t i = 1; i < s->group_size; i++) {
        uint64_t last = s->log->len;
        uint64_t end = s->acked[i] + WINDOW < last ? s->acked[i] + WINDOW : last;
        for (uint64_t seq = s->acked[i] + 1; seq <= end; seq++)
            send_repl(n, s, i, seq);
    }
}

static void shard_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    Shard *s = state;
    if (tag != TIMER_TICK)
        return;
    if (s->router)
        router_tick(n, s);
    else if (is_primary(s))
        primary_tick(n, s);
    fl_timer(n, s->retry / 2 > 0 ? s->retry / 2 : 1, TIMER_TICK);
}

static void shard_on_request(FlNode *n, void *state, const FlRequest *req)
{
    Shard *s = state;
    if (s->groups == 0) {
        fl_reply_fail(n, req);   /* no group to serve anything */
        return;
    }
    if (s->router) {
        router_request(n, s, req);
        return;
    }
    /* A group node answers its own copy in the final read phase; anything
     * else goes through the router. */
    if ((req->op.flags & FL_OP_F_LOCAL) && s->group >= 0 && req->op.key < s->keyspace &&
        is_read(req->op.kind) && value(s, req->op.key)->owned) {
        FlResult res;
        read_value(value(s, req->op.key), req->op.kind, &res);
        fl_reply(n, req, &res);
        return;
    }
    fl_reply_redirect(n, req, 0);
}

/* The counters this protocol creates (FlProtocol.counters). */
static const char *const shard_counters[] = {
    "shard.held_requests", "shard.join_messages", "shard.join_queries",
    "shard.narrow_queries", "shard.join_ms", "shard.narrow_ms", "shard.wrong_group",
    "shard.moves", "shard.keys_moved", "shard.move_ms", "shard.joins", "shard.leaves",
    "shard.membership_changes", "shard.moved_fraction_sum", "shard.bystander_moves",
    "shard.moved_fraction_last", "shard.moved_fraction_max", "shard.load_spread_last",
    "shard.load_spread_max", "shard.range_moves", NULL,
};

const FlProtocol fl_proto_shard_kv = {
    .name = "shard-kv",
    .summary = "sharded kv: a router over primary-backup groups; range, hash, consistent or vertical placement; live moves on joins, leaves and rebalancing",
    .params = shard_params,
    .state_size = sizeof(Shard),
    .init = shard_init,
    .recover = shard_recover,
    .destroy = shard_destroy,
    .on_message = shard_on_message,
    .on_timer = shard_on_timer,
    .on_request = shard_on_request,
    .counters = shard_counters,
};
