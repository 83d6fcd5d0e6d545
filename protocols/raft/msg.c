/* Raft's messages on the wire.
 *
 * Every message starts with its type and the sender's term; the rest
 * depends on the type (see RaftMsg in raft.h).  Encoding and decoding sit
 * side by side so that they stay each other's mirror.  A decode checks
 * every field against what an honest peer could send (sizes, booleans,
 * index and term relations) and refuses the whole message otherwise: a
 * corrupted or forged message is dropped, never half-trusted.  What only
 * the receiver can judge (is this node id a server, is this match index
 * beyond my log) is checked in raft.c. */
#include "protocols/raft/raft.h"

#include <string.h>

/* Fewest bytes one entry can take (its term, then a request: client, id,
 * and at least an op kind), to bound a count before allocating for it. */
enum { MIN_ENTRY_BYTES = 8 + 4 + 8 + 1 };

static void put_bool(FlWriter *w, bool b)
{
    fl_put_u8(w, b ? 1 : 0);
}

static bool get_bool(FlReader *r, bool *b)
{
    uint8_t v = fl_get_u8(r);
    *b = v == 1;
    return v <= 1;
}

void raft_msg_encode(FlWriter *w, const RaftMsg *m)
{
    fl_put_u8(w, m->type);
    fl_put_u64(w, m->term);
    switch (m->type) {
    case RAFT_MSG_VOTE:
        put_bool(w, m->vote.pre);
        fl_put_u64(w, m->vote.last_index);
        fl_put_u64(w, m->vote.last_term);
        break;
    case RAFT_MSG_VOTE_REPLY:
        put_bool(w, m->vote_reply.pre);
        put_bool(w, m->vote_reply.granted);
        break;
    case RAFT_MSG_APPEND:
        fl_put_u64(w, m->append.prev_index);
        fl_put_u64(w, m->append.prev_term);
        fl_put_u64(w, m->append.commit);
        fl_put_u64(w, m->append.read_seq);
        put_bool(w, m->append.amnesia_seen);
        fl_put_u32(w, m->append.n);
        for (uint32_t i = 0; i < m->append.n; i++) {
            fl_put_u64(w, m->append.entries[i].term);
            fl_request_encode(w, &m->append.entries[i].req);
        }
        break;
    case RAFT_MSG_APPEND_REPLY:
        put_bool(w, m->append_reply.success);
        fl_put_u64(w, m->append_reply.index);
        fl_put_u64(w, m->append_reply.read_seq);
        put_bool(w, m->append_reply.amnesiac);
        break;
    case RAFT_MSG_SNAP:
        fl_put_u64(w, m->snap.last_index);
        fl_put_u64(w, m->snap.last_term);
        fl_put_u64(w, m->snap.offset);
        fl_put_u64(w, m->snap.total);
        fl_put_u64(w, m->snap.read_seq);
        fl_put_bytes(w, m->snap.data, m->snap.len);
        break;
    case RAFT_MSG_SNAP_REPLY:
        fl_put_u64(w, m->snap_reply.last_index);
        fl_put_u64(w, m->snap_reply.offset);
        fl_put_u64(w, m->snap_reply.read_seq);
        put_bool(w, m->snap_reply.amnesiac);
        break;
    default:
        g_assert_not_reached();
    }
}

static bool sane(uint64_t v)
{
    return v <= RAFT_MAX_INDEX;
}

static bool decode_vote(FlReader *r, RaftMsg *m)
{
    bool ok = get_bool(r, &m->vote.pre);
    m->vote.last_index = fl_get_u64(r);
    m->vote.last_term = fl_get_u64(r);
    return ok && fl_reader_done(r) && m->term >= 1 && sane(m->vote.last_index) &&
           m->vote.last_term <= m->term && (m->vote.last_index == 0) == (m->vote.last_term == 0);
}

static bool decode_vote_reply(FlReader *r, RaftMsg *m)
{
    bool ok = get_bool(r, &m->vote_reply.pre);
    ok = get_bool(r, &m->vote_reply.granted) && ok;
    return ok && fl_reader_done(r);
}

static bool decode_append(FlReader *r, RaftMsg *m, RaftEntry *buf, size_t cap)
{
    m->append.prev_index = fl_get_u64(r);
    m->append.prev_term = fl_get_u64(r);
    m->append.commit = fl_get_u64(r);
    m->append.read_seq = fl_get_u64(r);
    bool flag_ok = get_bool(r, &m->append.amnesia_seen);
    m->append.n = fl_get_u32(r);
    m->append.entries = NULL;
    if (!flag_ok || !fl_reader_ok(r) || m->term < 1 || !sane(m->append.prev_index) ||
        m->append.prev_term > m->term || (m->append.prev_index == 0) != (m->append.prev_term == 0) ||
        !sane(m->append.commit) || !sane(m->append.read_seq) || m->append.n > RAFT_MAX_BATCH ||
        m->append.n > fl_reader_left(r) / MIN_ENTRY_BYTES)
        return false;
    if (m->append.n > cap) {
        m->append.entries = g_new(RaftEntry, m->append.n);
        m->append.entries_owned = true;
    } else if (m->append.n) {
        m->append.entries = buf;
    }
    uint64_t prev = m->append.prev_term;
    for (uint32_t i = 0; i < m->append.n; i++) {
        RaftEntry *e = &m->append.entries[i];
        e->term = fl_get_u64(r);
        /* Terms along a log never decrease and never pass the leader's. */
        if (!fl_request_decode(r, &e->req) || e->term < prev || e->term < 1 || e->term > m->term)
            goto bad;
        prev = e->term;
    }
    if (fl_reader_done(r))
        return true;
bad:
    if (m->append.entries_owned)
        g_free(m->append.entries);
    m->append.entries = NULL;
    m->append.entries_owned = false;
    return false;
}

static bool decode_append_reply(FlReader *r, RaftMsg *m)
{
    bool ok = get_bool(r, &m->append_reply.success);
    m->append_reply.index = fl_get_u64(r);
    m->append_reply.read_seq = fl_get_u64(r);
    ok = get_bool(r, &m->append_reply.amnesiac) && ok;
    return ok && fl_reader_done(r) && m->term >= 1 && sane(m->append_reply.index) &&
           sane(m->append_reply.read_seq);
}

static bool decode_snap(FlReader *r, RaftMsg *m)
{
    m->snap.last_index = fl_get_u64(r);
    m->snap.last_term = fl_get_u64(r);
    m->snap.offset = fl_get_u64(r);
    m->snap.total = fl_get_u64(r);
    m->snap.read_seq = fl_get_u64(r);
    m->snap.data = fl_get_bytes(r, &m->snap.len);
    return m->snap.data && fl_reader_done(r) && m->term >= 1 && m->snap.last_index >= 1 &&
           sane(m->snap.last_index) && m->snap.last_term >= 1 && m->snap.last_term <= m->term &&
           m->snap.total >= 1 && m->snap.total <= RAFT_MAX_SNAPSHOT &&
           m->snap.offset <= m->snap.total && m->snap.len <= m->snap.total - m->snap.offset &&
           sane(m->snap.read_seq);
}

static bool decode_snap_reply(FlReader *r, RaftMsg *m)
{
    m->snap_reply.last_index = fl_get_u64(r);
    m->snap_reply.offset = fl_get_u64(r);
    m->snap_reply.read_seq = fl_get_u64(r);
    bool ok = get_bool(r, &m->snap_reply.amnesiac);
    return ok && fl_reader_done(r) && m->term >= 1 && sane(m->snap_reply.last_index) &&
           m->snap_reply.offset <= RAFT_MAX_SNAPSHOT && sane(m->snap_reply.read_seq);
}

bool raft_msg_decode(const uint8_t *p, size_t len, RaftMsg *m)
{
    return raft_msg_decode_into(p, len, m, NULL, 0);
}

bool raft_msg_decode_into(const uint8_t *p, size_t len, RaftMsg *m, RaftEntry *buf, size_t cap)
{
    memset(m, 0, sizeof *m);
    FlReader r;
    fl_reader_init(&r, p, len);
    m->type = fl_get_u8(&r);
    m->term = fl_get_u64(&r);
    if (!fl_reader_ok(&r) || !sane(m->term))
        return false;
    bool ok;
    switch (m->type) {
    case RAFT_MSG_VOTE: ok = decode_vote(&r, m); break;
    case RAFT_MSG_VOTE_REPLY: ok = decode_vote_reply(&r, m); break;
    case RAFT_MSG_APPEND: ok = decode_append(&r, m, buf, cap); break;
    case RAFT_MSG_APPEND_REPLY: ok = decode_append_reply(&r, m); break;
    case RAFT_MSG_SNAP: ok = decode_snap(&r, m); break;
    case RAFT_MSG_SNAP_REPLY: ok = decode_snap_reply(&r, m); break;
    default: ok = false; break;
    }
    if (!ok)
        memset(m, 0, sizeof *m);
    return ok;
}

void raft_msg_clear(RaftMsg *m)
{
    if (m->type == RAFT_MSG_APPEND && m->append.entries_owned)
        g_free(m->append.entries);
    memset(m, 0, sizeof *m);
}

/* The fields a Byzantine sender could plausibly change (sim/node.h), at the
 * offsets raft_msg_encode gives them: type u8 at 0, term u64 at 1, then the
 * type's fields in order (a bool takes one byte).  Terms and read_seq (a
 * heartbeat round) are round-like; indexes and answers are values. */
int raft_msg_fields(const uint8_t *p, size_t len, FlMsgField *out, int max)
{
    RaftMsg m;
    if (!raft_msg_decode(p, len, &m))
        return 0;
    uint8_t type = m.type;
    raft_msg_clear(&m);
    const FlFieldRole R = FL_FIELD_ROUND, V = FL_FIELD_VALUE;
    FlMsgField f[8];
    int n = 0;
    f[n++] = (FlMsgField){ "term", 1, 8, R };
    switch (type) {
    case RAFT_MSG_VOTE:
        f[n++] = (FlMsgField){ "last_index", 10, 8, V };
        f[n++] = (FlMsgField){ "last_term", 18, 8, R };
        break;
    case RAFT_MSG_VOTE_REPLY:
        f[n++] = (FlMsgField){ "granted", 10, 1, V };
        break;
    case RAFT_MSG_APPEND:
        f[n++] = (FlMsgField){ "prev_index", 9, 8, V };
        f[n++] = (FlMsgField){ "prev_term", 17, 8, R };
        f[n++] = (FlMsgField){ "commit", 25, 8, V };
        f[n++] = (FlMsgField){ "read_seq", 33, 8, R };
        break;
    case RAFT_MSG_APPEND_REPLY:
        f[n++] = (FlMsgField){ "success", 9, 1, V };
        f[n++] = (FlMsgField){ "index", 10, 8, V };
        f[n++] = (FlMsgField){ "read_seq", 18, 8, R };
        break;
    case RAFT_MSG_SNAP:
        f[n++] = (FlMsgField){ "last_index", 9, 8, V };
        f[n++] = (FlMsgField){ "last_term", 17, 8, R };
        f[n++] = (FlMsgField){ "read_seq", 41, 8, R };
        break;
    case RAFT_MSG_SNAP_REPLY:
        f[n++] = (FlMsgField){ "last_index", 9, 8, V };
        f[n++] = (FlMsgField){ "read_seq", 25, 8, R };
        break;
    }
    if (n > max)
        n = max;
    memcpy(out, f, (size_t)n * sizeof *f);
    return n;
}
