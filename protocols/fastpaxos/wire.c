/* Fast Paxos messages on the wire, and rule O4. */
#include "protocols/fastpaxos/fastpaxos.h"

FpPick fp_pick(const FpVote *reports, uint32_t q, uint32_t n, FlRequest *out)
{
    uint64_t k = 0;
    for (uint32_t i = 0; i < q; i++)
        if (reports[i].rnd > k)
            k = reports[i].rnd;
    if (k == 0)
        return FP_PICK_FREE;
    if (!fp_round_fast(k)) {
        /* A classic round has one value per slot: its coordinator's. */
        for (uint32_t i = 0; i < q; i++)
            if (reports[i].rnd == k) {
                *out = reports[i].value;
                return FP_PICK_VALUE;
            }
    }
    uint32_t need = paxos_fast_quorum(n) - (n - q);
    uint32_t best = 0;
    for (uint32_t i = 0; i < q; i++) {
        if (reports[i].rnd != k)
            continue;
        uint32_t c = 0;
        for (uint32_t j = 0; j < q; j++)
            if (reports[j].rnd == k && paxos_value_eq(&reports[j].value, &reports[i].value))
                c++;
        if (c >= need) {
            *out = reports[i].value;
            return FP_PICK_VALUE;
        }
        if (c > best) {
            best = c;
            *out = reports[i].value;
        }
    }
    return FP_PICK_ANY;
}

static void put_entries(FlWriter *w, const FpMsg *m, bool rounds)
{
    fl_put_u32(w, m->count);
    for (uint32_t i = 0; i < m->count; i++) {
        fl_put_u64(w, m->entries[i].slot);
        if (rounds)
            fl_put_u64(w, m->entries[i].rnd);
        fl_request_encode(w, &m->entries[i].value);
    }
}

void fp_encode(FlWriter *w, const FpMsg *m)
{
    fl_put_u8(w, m->type);
    switch (m->type) {
    case FP_PREPARE:
    case FP_ANY:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->slot);
        break;
    case FP_PROMISE:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->slot);
        fl_put_u8(w, m->more);
        fl_put_u64(w, m->last);
        put_entries(w, m, true);
        break;
    case FP_ACCEPT:
    case FP_ACCEPTED:
        fl_put_u64(w, m->rnd);
        fl_put_u64(w, m->slot);
        fl_request_encode(w, &m->value);
        break;
    case FP_RECOVER:
        fl_put_u64(w, m->rnd);
        fl_put_u64(w, m->slot);
        break;
    case FP_RECOVERED:
        fl_put_u64(w, m->rnd);
        fl_put_u64(w, m->slot);
        put_entries(w, m, true);
        break;
    case FP_NACK:
        fl_put_u64(w, m->ballot);
        break;
    case FP_DECIDE:
        put_entries(w, m, false);
        break;
    case FP_HEARTBEAT:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->commit);
        fl_put_u64(w, m->slot);
        break;
    case FP_HEARTBEAT_ACK:
        fl_put_u64(w, m->ballot);
        fl_put_u64(w, m->commit);
        break;
    case FP_REJOIN:
        fl_put_u64(w, m->nonce);
        break;
    case FP_REJOIN_ACK:
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

static bool get_entries(FlReader *r, FpMsg *m, FpEntry *buf, uint32_t cap, bool rounds,
                        uint64_t max_slot)
{
    m->count = fl_get_u32(r);
    m->entries = buf;
    if (!fl_reader_ok(r) || m->count > cap || m->count > FP_MAX_ENTRIES)
        return false;
    for (uint32_t i = 0; i < m->count; i++) {
        FpEntry *e = &buf[i];
        e->slot = fl_get_u64(r);
        e->rnd = rounds ? fl_get_u64(r) : 0;
        if (!fl_request_decode(r, &e->value) || !slot_ok(e->slot, max_slot))
            return false;
    }
    return true;
}

bool fp_decode(const uint8_t *msg, size_t len, FpMsg *m, FpEntry *buf, uint32_t cap,
               uint64_t max_slot)
{
    FlReader r;
    fl_reader_init(&r, msg, len);
    *m = (FpMsg){ .type = fl_get_u8(&r) };
    switch (m->type) {
    case FP_PREPARE:
    case FP_ANY:
        m->ballot = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        if (!slot_ok(m->slot, max_slot))
            return false;
        break;
    case FP_PROMISE:
        m->ballot = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        m->more = fl_get_u8(&r) != 0;
        m->last = fl_get_u64(&r);
        if (!slot_ok(m->slot, max_slot) || !get_entries(&r, m, buf, cap, true, max_slot))
            return false;
        if (m->more && (m->last < m->slot || m->last > max_slot))
            return false;
        break;
    case FP_ACCEPT:
    case FP_ACCEPTED:
        m->rnd = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        if (!fl_request_decode(&r, &m->value) || !slot_ok(m->slot, max_slot))
            return false;
        break;
    case FP_RECOVER:
        m->rnd = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        if (!slot_ok(m->slot, max_slot))
            return false;
        break;
    case FP_RECOVERED:
        m->rnd = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        if (!slot_ok(m->slot, max_slot) || !get_entries(&r, m, buf, cap < 1 ? cap : 1, true, max_slot))
            return false;
        if (m->count == 1 && m->entries[0].slot != m->slot)
            return false;
        break;
    case FP_NACK:
        m->ballot = fl_get_u64(&r);
        break;
    case FP_DECIDE:
        if (!get_entries(&r, m, buf, cap, false, max_slot))
            return false;
        break;
    case FP_HEARTBEAT:
        m->ballot = fl_get_u64(&r);
        m->commit = fl_get_u64(&r);
        m->slot = fl_get_u64(&r);
        if (m->commit > max_slot || !slot_ok(m->slot, max_slot))
            return false;
        break;
    case FP_HEARTBEAT_ACK:
        m->ballot = fl_get_u64(&r);
        m->commit = fl_get_u64(&r);
        if (m->commit > max_slot)
            return false;
        break;
    case FP_REJOIN:
        m->nonce = fl_get_u64(&r);
        break;
    case FP_REJOIN_ACK:
        m->nonce = fl_get_u64(&r);
        m->ballot = fl_get_u64(&r);
        m->last = fl_get_u64(&r);
        if (m->last > max_slot)
            return false;
        break;
    default:
        return false;
    }
    if (m->ballot >> (64 - FP_SUB_BITS - 1))
        return false;   /* a ballot whose rounds would overflow */
    return fl_reader_done(&r);
}

/* The fields a Byzantine sender could plausibly change (sim/node.h), at the
 * offsets fp_encode gives them: type u8 at 0, then the type's fields in
 * order; a request is client u32, id u64, then its op (kind u8, flags u8,
 * key u32, a i64, b i64).  Ballots and rounds are round-like (a round is a
 * ballot and a sub-round: one more may turn a classic round fast); the rest
 * are values.  Field names follow paxos_fields where they mean the same. */
int fp_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max)
{
    if (len == 0)
        return 0;
    uint32_t cap = 0;
    size_t at = msg[0] == FP_PROMISE ? 26 : msg[0] == FP_DECIDE ? 1 : msg[0] == FP_RECOVERED ? 17 : 0;
    if (at && len >= at + 4) {
        FlReader r;
        fl_reader_init(&r, msg + at, 4);
        cap = fl_get_u32(&r);
        if (cap > FP_MAX_ENTRIES)
            return 0;
    }
    g_autofree FpEntry *buf = cap ? g_new(FpEntry, cap) : NULL;
    FpMsg m;
    if (!fp_decode(msg, len, &m, buf, cap, UINT64_MAX))
        return 0;
    const FlFieldRole R = FL_FIELD_ROUND, V = FL_FIELD_VALUE;
    FlMsgField f[8];
    int n = 0;
    switch (m.type) {
    case FP_PREPARE:
    case FP_ANY:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        f[n++] = (FlMsgField){ "slot", 9, 8, V };
        break;
    case FP_PROMISE:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        f[n++] = (FlMsgField){ "slot", 9, 8, V };
        f[n++] = (FlMsgField){ "last", 18, 8, V };
        break;
    case FP_ACCEPT:
    case FP_ACCEPTED:
        f[n++] = (FlMsgField){ "rnd", 1, 8, R };
        f[n++] = (FlMsgField){ "slot", 9, 8, V };
        f[n++] = (FlMsgField){ "request_id", 21, 8, V };
        f[n++] = (FlMsgField){ "value", 35, 8, V };
        break;
    case FP_RECOVER:
    case FP_RECOVERED:
        f[n++] = (FlMsgField){ "rnd", 1, 8, R };
        /* A RECOVERED that carries its vote names the slot twice and
         * decodes only if both agree: changing one would only get it
         * dropped. */
        if (m.type == FP_RECOVER || m.count == 0)
            f[n++] = (FlMsgField){ "slot", 9, 8, V };
        break;
    case FP_NACK:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        break;
    case FP_DECIDE:
        if (m.count > 0)
            f[n++] = (FlMsgField){ "slot", 5, 8, V };   /* the first entry's */
        break;
    case FP_HEARTBEAT:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        f[n++] = (FlMsgField){ "commit", 9, 8, V };
        f[n++] = (FlMsgField){ "slot", 17, 8, V };
        break;
    case FP_HEARTBEAT_ACK:
        f[n++] = (FlMsgField){ "ballot", 1, 8, R };
        f[n++] = (FlMsgField){ "commit", 9, 8, V };
        break;
    case FP_REJOIN:
        f[n++] = (FlMsgField){ "nonce", 1, 8, V };
        break;
    case FP_REJOIN_ACK:
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
