#include "sim/store.h"
#include "sim/fmt.h"

#include "sim/rng.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct Entry {
    bool set;         /* register: written at least once */
    int64_t v;        /* register value */
    GString *text;    /* kv value (NULL: "") */
} Entry;

typedef struct Session {
    uint32_t client;
    uint64_t last_id;
    FlResult res;     /* text, if any, owned in `text` */
    GString *text;
} Session;

struct FlStore {
    GArray *entries;  /* of Entry, indexed by key */
    GArray *sessions; /* of Session, sorted by client */
};

size_t fl_kv_token(int64_t a, char *buf)
{
    size_t n = fl_fmt_i64(buf, a);   /* "%" PRId64 ",", without printf */
    buf[n] = ',';
    buf[n + 1] = '\0';
    return n + 1;
}

void fl_file_record(uint32_t id, uint32_t k, char *out)
{
    char buf[FL_FILE_RECORD + 1];
    snprintf(buf, sizeof buf, "w=%08x k=%02x\n", id, k & 0xff);
    memcpy(out, buf, FL_FILE_RECORD);
}

const char *fl_op_name(uint8_t kind)
{
    switch (kind) {
    case FL_OP_READ: return "read";
    case FL_OP_WRITE: return "write";
    case FL_OP_CAS: return "cas";
    case FL_OP_GET: return "get";
    case FL_OP_PUT: return "put";
    case FL_OP_APPEND: return "append";
    case FL_OP_NOOP: return "noop";
    case FL_OP_TRANSFER: return "transfer";
    case FL_OP_AUDIT: return "audit";
    case FL_OP_ADD: return "add";
    case FL_OP_REMOVE: return "remove";
    case FL_OP_SREAD: return "read";
    case FL_OP_INCR: return "add";
    case FL_OP_DECR: return "add";
    case FL_OP_MR_WORDCOUNT: return "wordcount";
    case FL_OP_MR_INDEX: return "index";
    case FL_OP_FILE_CREATE: return "create";
    case FL_OP_FILE_WRITE: return "write";
    case FL_OP_FILE_APPEND: return "append";
    case FL_OP_FILE_READ: return "read";
    case FL_OP_FILE_DELETE: return "delete";
    case FL_OP_STREAM_SEND: return "send";
    case FL_OP_STREAM_READ: return "read";
    case FL_OP_EVENT_STEP: return "step";
    case FL_OP_EVENT_READ: return "read";
    case FL_OP_TXN_APPEND: return "txn";
    case FL_OP_TXN_RW: return "txn";
    }
    return "?";
}

bool fl_op_is_read(uint8_t kind)
{
    return kind == FL_OP_READ || kind == FL_OP_GET || kind == FL_OP_SREAD ||
           kind == FL_OP_AUDIT || kind == FL_OP_FILE_READ || kind == FL_OP_STREAM_READ ||
           kind == FL_OP_EVENT_READ;
}

/* Sets keep their members as kv tokens "3,7," in insertion order; returns
 * the offset of @a's token in @text, or -1. */
static gssize token_find(const GString *text, int64_t a)
{
    char tok[24];
    size_t n = fl_kv_token(a, tok);
    for (size_t i = 0; text && i < text->len;) {
        const char *end = memchr(text->str + i, ',', text->len - i);
        size_t len = end ? (size_t)(end - (text->str + i)) + 1 : text->len - i;
        if (len == n && memcmp(text->str + i, tok, n) == 0)
            return (gssize)i;
        i += len;
    }
    return -1;
}

void fl_op_encode(FlWriter *w, const FlOp *op)
{
    fl_put_u8(w, op->kind);
    fl_put_u8(w, op->flags);
    fl_put_u32(w, op->key);
    fl_put_i64(w, op->a);
    fl_put_i64(w, op->b);
}

bool fl_op_decode(FlReader *r, FlOp *op)
{
    op->kind = fl_get_u8(r);
    op->flags = fl_get_u8(r);
    op->key = fl_get_u32(r);
    op->a = fl_get_i64(r);
    op->b = fl_get_i64(r);
    return fl_reader_ok(r) && op->kind >= FL_OP_READ && op->kind < FL_OP_MAX &&
           op->key < FL_MAX_KEYS && op->flags <= FL_OP_F_LOCAL;
}

void fl_request_encode(FlWriter *w, const FlRequest *req)
{
    fl_put_u32(w, req->client);
    fl_put_u64(w, req->id);
    fl_op_encode(w, &req->op);
}

bool fl_request_decode(FlReader *r, FlRequest *req)
{
    req->client = fl_get_u32(r);
    req->id = fl_get_u64(r);
    return fl_op_decode(r, &req->op);
}

FlStore *fl_store_new(void)
{
    FlStore *s = g_new0(FlStore, 1);
    s->entries = g_array_new(FALSE, TRUE, sizeof(Entry));
    s->sessions = g_array_new(FALSE, TRUE, sizeof(Session));
    return s;
}

static void store_clear(FlStore *s)
{
    for (guint i = 0; i < s->entries->len; i++) {
        Entry *e = &g_array_index(s->entries, Entry, i);
        if (e->text)
            g_string_free(e->text, TRUE);
    }
    g_array_set_size(s->entries, 0);
    for (guint i = 0; i < s->sessions->len; i++) {
        Session *ss = &g_array_index(s->sessions, Session, i);
        if (ss->text)
            g_string_free(ss->text, TRUE);
    }
    g_array_set_size(s->sessions, 0);
}

void fl_store_free(FlStore *s)
{
    if (!s)
        return;
    store_clear(s);
    g_array_free(s->entries, TRUE);
    g_array_free(s->sessions, TRUE);
    g_free(s);
}

static Entry *entry(FlStore *s, uint32_t key)
{
    g_assert(key < FL_MAX_KEYS);
    if (key >= s->entries->len)
        g_array_set_size(s->entries, key + 1);
    return &g_array_index(s->entries, Entry, key);
}

static void read_entry(const Entry *e, uint8_t kind, FlResult *res)
{
    res->status = FL_RESULT_OK;
    if (kind == FL_OP_AUDIT) {
        /* An account: its balance, and in `text` the decisions on it. */
        res->has_value = true;
        res->value = e && e->set ? e->v : FL_TXN_INITIAL_BALANCE;
        res->text = e && e->text ? e->text->str : "";
        res->text_len = e && e->text ? e->text->len : 0;
    } else if (kind == FL_OP_READ) {
        res->has_value = e && e->set;   /* a counter never added to reads null: 0 */
        res->value = e ? e->v : 0;
    } else {
        res->has_value = true;
        res->text = e && e->text ? e->text->str : "";
        res->text_len = e && e->text ? e->text->len : 0;
    }
}

void fl_store_read(const FlStore *s, const FlOp *op, FlResult *res)
{
    memset(res, 0, sizeof *res);
    const Entry *e = op->key < s->entries->len
                         ? &g_array_index(s->entries, Entry, op->key) : NULL;
    read_entry(e, op->kind, res);
}

bool fl_store_get_int(const FlStore *s, uint32_t key, int64_t *v)
{
    if (key >= s->entries->len)
        return false;
    const Entry *e = &g_array_index(s->entries, Entry, key);
    *v = e->v;
    return e->set;
}

/* An account is an Entry: v its balance (set: opened), text its decisions. */
static void note_decision(Entry *e, char letter, int64_t id)
{
    if (!e->text)
        e->text = g_string_sized_new(32);
    g_string_append_printf(e->text, "%c%" PRId64 ",", letter, id);
}

/* A transfer on one store is atomic by construction: both accounts are
 * here.  It aborts when the payer is short. */
static void transfer(FlStore *s, const FlOp *op, FlResult *res)
{
    if (op->a < 0 || op->a >= FL_MAX_KEYS) {
        res->status = FL_RESULT_FAIL;
        return;
    }
    /* Grow the array once, so that neither pointer moves. */
    entry(s, op->key > (uint32_t)op->a ? op->key : (uint32_t)op->a);
    Entry *from = entry(s, op->key);
    Entry *to = entry(s, (uint32_t)op->a);
    int64_t id = fl_txn_id(op->b), amount = fl_txn_amount(op->b);
    if (!from->set) {
        from->set = true;
        from->v = FL_TXN_INITIAL_BALANCE;
    }
    if (!to->set) {
        to->set = true;
        to->v = FL_TXN_INITIAL_BALANCE;
    }
    bool ok = from->v >= amount;
    if (ok && from != to) {
        from->v -= amount;
        to->v += amount;
    }
    note_decision(from, ok ? 'c' : 'a', id);
    if (to != from)
        note_decision(to, ok ? 'c' : 'a', id);
    res->status = ok ? FL_RESULT_OK : FL_RESULT_FAIL;
}

void fl_store_apply(FlStore *s, const FlOp *op, FlResult *res)
{
    memset(res, 0, sizeof *res);
    res->status = FL_RESULT_OK;
    if (op->kind == FL_OP_NOOP)
        return;
    Entry *e = entry(s, op->key);
    char tok[24];
    size_t n;
    switch (op->kind) {
    case FL_OP_READ:
    case FL_OP_GET:
    case FL_OP_AUDIT:
        read_entry(e, op->kind, res);
        break;
    case FL_OP_TRANSFER:
        transfer(s, op, res);
        break;
    case FL_OP_WRITE:
        e->set = true;
        e->v = op->a;
        break;
    case FL_OP_CAS:
        if (e->set && e->v == op->a)
            e->v = op->b;
        else
            res->status = FL_RESULT_FAIL;
        break;
    case FL_OP_PUT:
    case FL_OP_APPEND:
        n = fl_kv_token(op->a, tok);
        if (!e->text)
            e->text = g_string_sized_new(32);
        if (op->kind == FL_OP_PUT)
            g_string_truncate(e->text, 0);
        g_string_append_len(e->text, tok, (gssize)n);
        break;
    case FL_OP_SREAD:
        read_entry(e, op->kind, res);
        break;
    case FL_OP_ADD:
        if (!e->text)
            e->text = g_string_sized_new(32);
        if (token_find(e->text, op->a) < 0) {
            n = fl_kv_token(op->a, tok);
            g_string_append_len(e->text, tok, (gssize)n);
        }
        break;
    case FL_OP_REMOVE: {
        gssize at = token_find(e->text, op->a);
        if (at >= 0)
            g_string_erase(e->text, at, (gssize)fl_kv_token(op->a, tok));
        break;
    }
    case FL_OP_INCR:
    case FL_OP_DECR:
        e->set = true;
        e->v += op->kind == FL_OP_INCR ? op->a : -op->a;
        break;
    default:
        /* A kind fl_op_decode accepts but this store does not model: it came
         * from a peer (a corrupted or forged message), not from a client,
         * so it fails rather than crashing the run. */
        res->status = FL_RESULT_FAIL;
        res->hint = FL_NO_HINT;
        break;
    }
}

static Session *session(FlStore *s, uint32_t client, bool create)
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

bool fl_store_apply_request(FlStore *s, const FlRequest *req, FlResult *res)
{
    Session *ss = session(s, req->client, true);
    if (ss->last_id != 0 && req->id < ss->last_id)
        return false;
    if (ss->last_id != 0 && req->id == ss->last_id) {
        *res = ss->res;
        if (ss->text) {
            res->text = ss->text->str;
            res->text_len = ss->text->len;
        }
        return true;
    }
    fl_store_apply(s, &req->op, res);
    ss->last_id = req->id;
    ss->res = *res;
    ss->res.text = NULL;
    if (res->text) {
        if (!ss->text)
            ss->text = g_string_sized_new(res->text_len + 1);
        g_string_assign(ss->text, "");
        g_string_append_len(ss->text, res->text, (gssize)res->text_len);
        res->text = ss->text->str;   /* stays valid as long as the session's copy */
    } else if (ss->text) {
        g_string_free(ss->text, TRUE);
        ss->text = NULL;
    }
    return true;
}

void fl_store_encode(const FlStore *s, FlWriter *w)
{
    fl_put_u32(w, s->entries->len);
    for (guint i = 0; i < s->entries->len; i++) {
        const Entry *e = &g_array_index(s->entries, Entry, i);
        fl_put_u8(w, e->set);
        fl_put_i64(w, e->v);
        fl_put_bytes(w, e->text ? e->text->str : "", e->text ? e->text->len : 0);
    }
    fl_put_u32(w, s->sessions->len);
    for (guint i = 0; i < s->sessions->len; i++) {
        const Session *ss = &g_array_index(s->sessions, Session, i);
        fl_put_u32(w, ss->client);
        fl_put_u64(w, ss->last_id);
        fl_put_u8(w, (uint8_t)ss->res.status);
        fl_put_u8(w, ss->res.has_value);
        fl_put_i64(w, ss->res.value);
        fl_put_bytes(w, ss->text ? ss->text->str : "", ss->text ? ss->text->len : 0);
        fl_put_u8(w, ss->text != NULL);
    }
}

bool fl_store_decode(FlStore *s, FlReader *r)
{
    store_clear(s);
    uint32_t n = fl_get_u32(r);
    if (n > FL_MAX_KEYS || n > fl_reader_left(r))
        goto bad;
    for (uint32_t i = 0; i < n && fl_reader_ok(r); i++) {
        Entry e = { 0 };
        e.set = fl_get_u8(r) != 0;
        e.v = fl_get_i64(r);
        size_t len;
        const uint8_t *p = fl_get_bytes(r, &len);
        if (p && len)
            e.text = g_string_new_len((const char *)p, (gssize)len);
        g_array_append_val(s->entries, e);
    }
    uint32_t m = fl_get_u32(r);
    if (m > fl_reader_left(r))
        goto bad;
    for (uint32_t i = 0; i < m && fl_reader_ok(r); i++) {
        Session ss = { 0 };
        ss.client = fl_get_u32(r);
        ss.last_id = fl_get_u64(r);
        ss.res.status = fl_get_u8(r);
        ss.res.has_value = fl_get_u8(r) != 0;
        ss.res.value = fl_get_i64(r);
        size_t len;
        const uint8_t *p = fl_get_bytes(r, &len);
        bool has_text = fl_get_u8(r) != 0;
        if (p && has_text)
            ss.text = g_string_new_len((const char *)p, (gssize)len);
        bool sorted = s->sessions->len == 0 ||
            g_array_index(s->sessions, Session, s->sessions->len - 1).client < ss.client;
        g_array_append_val(s->sessions, ss);
        if (!sorted || ss.res.status < FL_RESULT_OK || ss.res.status > FL_RESULT_REDIRECT)
            goto bad;
    }
    if (fl_reader_ok(r))
        return true;
bad:
    r->err = true;
    store_clear(s);
    return false;
}

uint64_t fl_store_hash(const FlStore *s)
{
    uint64_t h = 0x51ed270b27a6f3c9ULL;
    for (guint i = 0; i < s->entries->len; i++) {
        const Entry *e = &g_array_index(s->entries, Entry, i);
        /* Keys never written are not content, however far the array grew
         * (a read or a failed cas of a high key grows it on one replica). */
        if (!e->set && !e->text)
            continue;
        h = fl_mix64(h ^ (e->set ? (uint64_t)e->v * 31 + 7 : 0) ^ ((uint64_t)i << 40));
        if (e->text)
            h = fl_mix64(h ^ fl_hash_str(e->text->str));
    }
    return h;
}
