/* Multi-Paxos messages on the wire, and the phase-1 value rule. */
#include "protocols/paxos/paxos.h"

bool paxos_adopt(PaxosVote *best, const PaxosVote *v)
{
    if (v->ballot <= best->ballot)
        return false;
    *best = *v;
    return true;
}

bool paxos_select(const PaxosVote *votes, size_t n, FlRequest *out)
{
    PaxosVote best = { 0 };
    for (size_t i = 0; i < n; i++)
        paxos_adopt(&best, &votes[i]);
    if (best.ballot == 0)
        return false;
    *out = best.value;
    return true;
}

static void put_entries(FlWriter *w, const PaxosMsg *m, bool ballots)
{
    fl_put_u32(w, m->count);
    for (uint32_t i = 0; i < m->count; i++) {
        fl_put_u64(w, m->entries[i].slot);
        if (ballots)
            fl_put_u64(w, m->entries[i].ballot);
        fl_request_encode(w, &m->entries[i].value);
    }
}

void paxos_encode(FlWriter *w, const PaxosMsg *m)
{
    fl_put_u8(w, m->type);
    switch (m->type) {
    case PAXOS_PREPARE:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->slot);
        break;
    case PAXOS_PROMISE:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->slot);
        fl_put_u8(w, m->more);
        fl_put_u64(w, m->last);
        put_entries(w, m, true);
        break;
    case PAXOS_ACCEPT:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->slot);
        fl_request_encode(w, &m->value);
        break;
    case PAXOS_ACCEPTED:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->slot);
        break;
    case PAXOS_NACK:
        fl_put_u64(w, m->ballot);
        break;
    case PAXOS_DECIDE:
        put_entries(w, m, false);
        break;
    case PAXOS_HEARTBEAT:
    case PAXOS_HEARTBEAT_ACK:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->commit);
        break;
    case PAXOS_RECOVER:
        fl_put_u64(w, m->nonce);
        break;
    case PAXOS_RECOVER_ACK:
        fl_put_u64(w, m->nonce);
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->last);
        break;
    default:
        g_assert_not_reached();
    }
}

static bool slot_ok(uint64_t slot, uint64_t max_slot)
{
    return slot >= 1 && slot <= max_slot;
}

static bool get_entries(FlReader *r, PaxosMsg *m, PaxosEntry *buf, uint32_t cap, bool ballots,
                        uint64_t max_slot)
{
    m->count = fl_get_u32(r);
    m->entries = buf;
    if (!fl_reader_ok(r) || m->count > cap || m->count > PAXOS_MAX_ENTRIES)
        return false;
    for (uint32_t i = 0; i < m->count; i++) {
        PaxosEntry *e = &buf[i];
        e->slot = fl_get_u64(r);
        e->ballot = ballots ? fl_get_u64(r) : 0;
        if (!fl_request_decode(r, &e->value) || !slot_ok(e->slot, max_slot))
            return false;
    }
    return true;
}

bool paxos_decode(const uint8_t *msg, size_t len, PaxosMsg *m, PaxosEntry *buf, uint32_t cap,
                  uint64_t max_slot)
{
    FlReader r;
    fl_reader_init(&r, msg, len);
    *m = (PaxosMsg){ .type = fl_get_u8(&r) };
    switch (m->type) {
    case PAXOS_PREPARE:
        m->ballot = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        if (!slot_ok(m->slot, max_slot))
            return false;
        break;
    case PAXOS_PROMISE:
        m->ballot = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        m->more = fl_get_u8(&r) != 0;
        m->last = fl_get_u64(&r);
        if (!slot_ok(m->slot, max_slot) || !get_entries(&r, m, buf, cap, true, max_slot))
            return false;
        if (m->more && (m->last < m->slot || m->last > max_slot))
            return false;
        break;
    case PAXOS_ACCEPT:
        m->ballot = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        if (!fl_request_decode(&r, &m->value) || !slot_ok(m->slot, max_slot))
            return false;
        break;
    case PAXOS_ACCEPTED:
        m->ballot = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        if (!slot_ok(m->slot, max_slot))
            return false;
        break;
    case PAXOS_NACK:
        m->ballot = fl_get_u64(&r);
        break;
    case PAXOS_DECIDE:
        if (!get_entries(&r, m, buf, cap, false, max_slot))
            return false;
        break;
    case PAXOS_HEARTBEAT:
    case PAXOS_HEARTBEAT_ACK:
        m->ballot = fl_get_u64(&r);
        m->commit = fl_get_u64(&r);
        if (m->commit > max_slot)
            return false;
        break;
    case PAXOS_RECOVER:
        m->nonce = fl_get_u64(&r);
        break;
    case PAXOS_RECOVER_ACK:
        m->nonce = fl_get_u64(&r);
        m->ballot = fl_get_u64(&r);
        m->last = fl_get_u64(&r);
        if (m->last > max_slot)
            return false;
        break;
    default:
        return false;
    }
    return fl_reader_done(&r);
}

/* The fields a Byzantine sender could plausibly change (sim/node.h), at the
 * offsets paxos_encode gives them: type u8 at 0, then the type's fields in
 * order; a request is client u32, id u64, then its op (kind u8, flags u8,
 * key u32, a i64, b i64), so an Accept's request id is at 21 and the value
 * it writes (op.a) at 35.  Ballots are round-like; the rest are values. */
int paxos_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max)
{
    if (len == 0)
        return 0;
    /* Only a Promise or a Decide carries entries: room for as many as it
     * says, within the bound paxos_decode checks. */
    uint32_t cap = 0;
    size_t at = msg[0] == PAXOS_PROMISE ? 26 : msg[0] == PAXOS_DECIDE ? 1 : 0;
    if (at && len >= at + 4) {
        FlReader r;
        fl_reader_init(&r, msg + at, 4);
        cap = fl_get_u32(&r);
        if (cap > PAXOS_MAX_ENTRIES)
            return 0;
    }
    g_autofree PaxosEntry *buf = cap ? g_new(PaxosEntry, cap) : NULL;
    PaxosMsg m;
    if (!paxos_decode(msg, len, &m, buf, cap, UINT64_MAX))
        return 0;
    const FlFieldRole R = FL_FIELD_ROUND, V = FL_FIELD_VALUE;
    FlMsgField f[8];
    int n = 0;
    switch (m.type) {
    case PAXOS_PREPARE:
    case PAXOS_ACCEPTED:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        f[n++] = (FlMsgField){ "slot", 9, 8, V };
        break;
    case PAXOS_PROMISE:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        f[n++] = (FlMsgField){ "slot", 9, 8, V };
        f[n++] = (FlMsgField){ "last", 18, 8, V };
        break;
    case PAXOS_ACCEPT:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        f[n++] = (FlMsgField){ "slot", 9, 8, V };
        f[n++] = (FlMsgField){ "request_id", 21, 8, V };
        f[n++] = (FlMsgField){ "value", 35, 8, V };
        break;
    case PAXOS_NACK:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        break;
    case PAXOS_DECIDE:
        if (m.count > 0)
            f[n++] = (FlMsgField){ "slot", 5, 8, V };   /* the first entry's */
        break;
    case PAXOS_HEARTBEAT:
    case PAXOS_HEARTBEAT_ACK:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        f[n++] = (FlMsgField){ "commit", 9, 8, V };
        break;
    case PAXOS_RECOVER:
        f[n++] = (FlMsgField){ "nonce", 1, 8, V };
        break;
    case PAXOS_RECOVER_ACK:
        f[n++] = (FlMsgField){ "nonce", 1, 8, V };
        f[n++] = (FlMsgField){ "ballot", 9, 8, R };
        f[n++] = (FlMsgField){ "last", 17, 8, V };
        break;
    }
    if (n > max)
        n = max;
    memcpy(out, f, (size_t)n * sizeof *f);
    return n;
}
