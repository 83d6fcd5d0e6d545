/* canonical/raft's messages as bytes: see wire.h.
 *
 * Layout (little-endian, sim/codec): u8 type, then the fields of that
 * type's struct in header order; booleans are u8 0 or 1, the pre_vote
 * tribool is u8 0..2, entries are u32 count then per entry u64 term, u8
 * type (RAFT_COMMAND, RAFT_BARRIER or RAFT_CHANGE) and the data as bytes. */
#include "protocols/canonical_raft/wire.h"

#include <string.h>

/* The most servers a configuration may name: more than any scenario runs,
 * and a bound on what a garbled count can make us allocate. */
#define CRAFT_MAX_SERVERS 64

void craft_conf_encode(FlWriter *w, const struct raft_configuration *conf)
{
    fl_put_u32(w, conf->n);
    for (unsigned i = 0; i < conf->n; i++) {
        fl_put_u64(w, conf->servers[i].id);
        fl_put_str(w, conf->servers[i].address);
        fl_put_u8(w, (uint8_t)conf->servers[i].role);
    }
}

bool craft_conf_decode(FlReader *r, struct raft_configuration *conf)
{
    uint32_t n = fl_get_u32(r);
    if (!fl_reader_ok(r) || n > CRAFT_MAX_SERVERS)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = fl_get_u64(r);
        char *address = fl_get_str(r);
        uint8_t role = fl_get_u8(r);
        /* raft_configuration_add refuses id 0, duplicates and bad roles,
         * so a garbled configuration fails here rather than in the library. */
        bool ok = fl_reader_ok(r) && address &&
                  raft_configuration_add(conf, id, address, role) == 0;
        g_free(address);
        if (!ok) {
            raft_configuration_close(conf);
            raft_configuration_init(conf);
            return false;
        }
    }
    return true;
}

static void put_entries(FlWriter *w, const struct raft_entry *e, unsigned n)
{
    fl_put_u32(w, n);
    for (unsigned i = 0; i < n; i++) {
        fl_put_u64(w, e[i].term);
        fl_put_u8(w, (uint8_t)e[i].type);
        fl_put_bytes(w, e[i].buf.base, e[i].buf.len);
    }
}

void craft_encode(FlWriter *w, const struct raft_message *m)
{
    fl_put_u8(w, (uint8_t)m->type);
    switch (m->type) {
    case RAFT_IO_APPEND_ENTRIES: {
        const struct raft_append_entries *p = &m->append_entries;
        fl_put_u64(w, p->term);
        fl_put_u64(w, p->prev_log_index);
        fl_put_u64(w, p->prev_log_term);
        fl_put_u64(w, p->leader_commit);
        put_entries(w, p->entries, p->n_entries);
        break;
    }
    case RAFT_IO_APPEND_ENTRIES_RESULT: {
        const struct raft_append_entries_result *p = &m->append_entries_result;
        fl_put_u64(w, p->term);
        fl_put_u64(w, p->rejected);
        fl_put_u64(w, p->last_log_index);
        break;
    }
    case RAFT_IO_REQUEST_VOTE: {
        const struct raft_request_vote *p = &m->request_vote;
        fl_put_u64(w, p->term);
        fl_put_u64(w, p->candidate_id);
        fl_put_u64(w, p->last_log_index);
        fl_put_u64(w, p->last_log_term);
        fl_put_u8(w, p->disrupt_leader);
        fl_put_u8(w, p->pre_vote);
        break;
    }
    case RAFT_IO_REQUEST_VOTE_RESULT: {
        const struct raft_request_vote_result *p = &m->request_vote_result;
        fl_put_u64(w, p->term);
        fl_put_u8(w, p->vote_granted);
        fl_put_u8(w, (uint8_t)p->pre_vote);
        break;
    }
    case RAFT_IO_INSTALL_SNAPSHOT: {
        const struct raft_install_snapshot *p = &m->install_snapshot;
        fl_put_u64(w, p->term);
        fl_put_u64(w, p->last_index);
        fl_put_u64(w, p->last_term);
        craft_conf_encode(w, &p->conf);
        fl_put_u64(w, p->conf_index);
        fl_put_bytes(w, p->data.base, p->data.len);
        break;
    }
    case RAFT_IO_TIMEOUT_NOW: {
        const struct raft_timeout_now *p = &m->timeout_now;
        fl_put_u64(w, p->term);
        fl_put_u64(w, p->last_log_index);
        fl_put_u64(w, p->last_log_term);
        break;
    }
    default:
        /* The library sends only the types above. */
        g_assert_not_reached();
    }
}

static bool get_bool(FlReader *r, bool *out)
{
    uint8_t v = fl_get_u8(r);
    *out = v == 1;
    return fl_reader_ok(r) && v <= 1;
}

/* Reads the entries into one raft_malloc'd array and one batch holding all
 * their data, as the library's recv path expects (entryBatchesDestroy
 * frees them by batch). */
static bool get_entries(FlReader *r, struct raft_entry **out, unsigned *n_out)
{
    uint32_t n = fl_get_u32(r);
    *out = NULL;
    *n_out = 0;
    /* Each entry takes at least 13 bytes: a garbled count cannot make us
     * allocate more than the message could hold. */
    if (!fl_reader_ok(r) || n > fl_reader_left(r) / 13)
        return false;
    if (n == 0)
        return true;
    /* First pass: check every entry and add up the data. */
    FlReader probe = *r;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        (void)fl_get_u64(&probe);
        uint8_t type = fl_get_u8(&probe);
        (void)fl_get_bytes(&probe, &len);
        if (!fl_reader_ok(&probe) || type < RAFT_COMMAND || type > RAFT_CHANGE)
            return false;
        total += len;
    }
    struct raft_entry *e = raft_calloc(n, sizeof *e);
    uint8_t *batch = raft_malloc(total > 0 ? total : 1);
    g_assert(e && batch);
    uint8_t *cursor = batch;
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        e[i].term = fl_get_u64(r);
        e[i].type = fl_get_u8(r);
        const uint8_t *p = fl_get_bytes(r, &len);
        memcpy(cursor, p, len);
        e[i].buf.base = cursor;
        e[i].buf.len = len;
        e[i].batch = batch;
        cursor += len;
    }
    *out = e;
    *n_out = n;
    return true;
}

bool craft_decode(const uint8_t *data, size_t len, struct raft_message *m)
{
    FlReader r;
    fl_reader_init(&r, data, len);
    memset(m, 0, sizeof *m);
    m->type = fl_get_u8(&r);
    switch (m->type) {
    case RAFT_IO_APPEND_ENTRIES: {
        struct raft_append_entries *p = &m->append_entries;
        p->term = fl_get_u64(&r);
        p->prev_log_index = fl_get_u64(&r);
        p->prev_log_term = fl_get_u64(&r);
        p->leader_commit = fl_get_u64(&r);
        if (!get_entries(&r, &p->entries, &p->n_entries))
            return false;
        break;
    }
    case RAFT_IO_APPEND_ENTRIES_RESULT: {
        struct raft_append_entries_result *p = &m->append_entries_result;
        p->term = fl_get_u64(&r);
        p->rejected = fl_get_u64(&r);
        p->last_log_index = fl_get_u64(&r);
        break;
    }
    case RAFT_IO_REQUEST_VOTE: {
        struct raft_request_vote *p = &m->request_vote;
        p->term = fl_get_u64(&r);
        p->candidate_id = fl_get_u64(&r);
        p->last_log_index = fl_get_u64(&r);
        p->last_log_term = fl_get_u64(&r);
        if (!get_bool(&r, &p->disrupt_leader) || !get_bool(&r, &p->pre_vote))
            return false;
        break;
    }
    case RAFT_IO_REQUEST_VOTE_RESULT: {
        struct raft_request_vote_result *p = &m->request_vote_result;
        p->term = fl_get_u64(&r);
        if (!get_bool(&r, &p->vote_granted))
            return false;
        uint8_t t = fl_get_u8(&r);
        if (t > raft_tribool_false)
            return false;
        p->pre_vote = (raft_tribool)t;
        break;
    }
    case RAFT_IO_INSTALL_SNAPSHOT: {
        struct raft_install_snapshot *p = &m->install_snapshot;
        p->term = fl_get_u64(&r);
        p->last_index = fl_get_u64(&r);
        p->last_term = fl_get_u64(&r);
        raft_configuration_init(&p->conf);
        if (!craft_conf_decode(&r, &p->conf))
            return false;
        p->conf_index = fl_get_u64(&r);
        size_t n;
        const uint8_t *d = fl_get_bytes(&r, &n);
        if (!d || !fl_reader_done(&r)) {
            raft_configuration_close(&p->conf);
            return false;
        }
        p->data.base = raft_malloc(n > 0 ? n : 1);
        g_assert(p->data.base);
        memcpy(p->data.base, d, n);
        p->data.len = n;
        return true;
    }
    case RAFT_IO_TIMEOUT_NOW: {
        struct raft_timeout_now *p = &m->timeout_now;
        p->term = fl_get_u64(&r);
        p->last_log_index = fl_get_u64(&r);
        p->last_log_term = fl_get_u64(&r);
        break;
    }
    default:
        return false;
    }
    if (!fl_reader_done(&r)) {
        craft_message_free(m);
        return false;
    }
    return true;
}

void craft_message_free(struct raft_message *m)
{
    if (m->type == RAFT_IO_APPEND_ENTRIES && m->append_entries.entries) {
        raft_free(m->append_entries.entries[0].batch);
        raft_free(m->append_entries.entries);
        m->append_entries.entries = NULL;
        m->append_entries.n_entries = 0;
    } else if (m->type == RAFT_IO_INSTALL_SNAPSHOT) {
        raft_configuration_close(&m->install_snapshot.conf);
        raft_configuration_init(&m->install_snapshot.conf);
        raft_free(m->install_snapshot.data.base);
        m->install_snapshot.data.base = NULL;
    }
}
