/* PBFT statements on the wire, and the checks of what they certify. */
#include "protocols/pbft/pbft.h"

#include <string.h>

void pbft_stmt_begin(FlWriter *w, uint8_t type, const PbftKeys *k)
{
    fl_put_u8(w, type);
    fl_put_u32(w, k->self);
}

bool pbft_type_signed(uint8_t type)
{
    return type != PBFT_COMMIT && type != PBFT_STATUS && type != PBFT_STATE;
}

void pbft_stmt_end(FlWriter *w, size_t start, const PbftKeys *k)
{
    g_assert(w->len > start);
    if (!pbft_type_signed(w->data[start]))
        return;
    uint8_t sig[PBFT_SIG_BYTES];
    pbft_sign(k, w->data + start, w->len - start, sig);
    fl_put_raw(w, sig, sizeof sig);
}

static bool get_subs(FlReader *r, PbftStmt *st, PbftScratch *sc, uint32_t cap)
{
    st->nsub = fl_get_u32(r);
    st->subs = sc->subs;
    if (!fl_reader_ok(r) || st->nsub > cap || st->nsub > PBFT_MAX_NODES)
        return false;
    for (uint32_t i = 0; i < st->nsub; i++) {
        sc->subs[i].p = fl_get_bytes(r, &sc->subs[i].len);
        if (!sc->subs[i].p)
            return false;
    }
    return true;
}

bool pbft_stmt_parse(const uint8_t *p, size_t len, uint32_t n, const PbftKeys *k, PbftStmt *st,
                     PbftScratch *sc)
{
    if (len < PBFT_STMT_MIN)
        return false;
    size_t sig = pbft_type_signed(p[0]) ? PBFT_SIG_BYTES : 0;
    if (len < PBFT_STMT_MIN + sig)
        return false;
    FlReader r;
    fl_reader_init(&r, p, len - sig);
    memset(st, 0, sizeof *st);
    st->raw = (PbftBytes){ p, len };
    st->type = fl_get_u8(&r);
    st->signer = fl_get_u32(&r);
    if (st->signer >= n)
        return false;
    switch (st->type) {
    case PBFT_PRE_PREPARE:
        st->view = fl_get_u64(&r);
        st->seq = fl_get_u64(&r);
        st->digest = fl_get_u64(&r);
        if (!fl_request_decode(&r, &st->req))
            return false;
        break;
    case PBFT_PREPARE:
    case PBFT_COMMIT:
        st->view = fl_get_u64(&r);
        st->seq = fl_get_u64(&r);
        st->digest = fl_get_u64(&r);
        break;
    case PBFT_CHECKPOINT:
        st->seq = fl_get_u64(&r);
        st->digest = fl_get_u64(&r);
        break;
    case PBFT_VIEW_CHANGE:
        st->view = fl_get_u64(&r);
        st->seq = fl_get_u64(&r);
        st->digest = fl_get_u64(&r);   /* the stable checkpoint's state digest */
        if (!get_subs(&r, st, sc, n))
            return false;
        st->ncert = fl_get_u32(&r);
        st->certs = sc->certs;
        if (!fl_reader_ok(&r) || st->ncert > PBFT_MAX_WINDOW || !sc->certs)
            return false;
        for (uint32_t i = 0; i < st->ncert; i++) {
            PbftCertRaw *c = &sc->certs[i];
            c->pp.p = fl_get_bytes(&r, &c->pp.len);
            c->nprep = fl_get_u32(&r);
            if (!c->pp.p || c->nprep > n || c->nprep > PBFT_MAX_NODES)
                return false;
            for (uint32_t j = 0; j < c->nprep; j++) {
                c->prep[j].p = fl_get_bytes(&r, &c->prep[j].len);
                if (!c->prep[j].p)
                    return false;
            }
        }
        break;
    case PBFT_NEW_VIEW:
        st->view = fl_get_u64(&r);
        if (!get_subs(&r, st, sc, n))
            return false;
        break;
    case PBFT_STATUS:
        st->view = fl_get_u64(&r);
        {
            uint8_t flags = fl_get_u8(&r);
            if (flags > (PBFT_STATUS_IN_VC | PBFT_STATUS_AMNESIAC))
                return false;
            st->in_vc = (flags & PBFT_STATUS_IN_VC) != 0;
            st->amnesiac = (flags & PBFT_STATUS_AMNESIAC) != 0;
        }
        st->seq = fl_get_u64(&r);
        st->stable = fl_get_u64(&r);
        st->promised = fl_get_u64(&r);
        st->reach = fl_get_u64(&r);
        break;
    case PBFT_STATE:
        st->seq = fl_get_u64(&r);
        st->digest = fl_get_u64(&r);
        st->blob.p = fl_get_bytes(&r, &st->blob.len);
        if (!st->blob.p || !get_subs(&r, st, sc, n))
            return false;
        break;
    default:
        return false;
    }
    if (!fl_reader_done(&r))
        return false;
    /* Last, since it costs the most: the parse above is cheap. */
    return !k || pbft_stmt_verify(k, st);
}

bool pbft_stmt_verify(const PbftKeys *k, const PbftStmt *st)
{
    if (!pbft_type_signed(st->type))
        return true;
    size_t body = st->raw.len - PBFT_SIG_BYTES;   /* parse checked the length */
    return pbft_verify(k, st->signer, st->raw.p, body, st->raw.p + body);
}

void pbft_stmt_note_authentic(const PbftKeys *k, const PbftStmt *st)
{
    if (!pbft_type_signed(st->type))
        return;
    size_t body = st->raw.len - PBFT_SIG_BYTES;
    pbft_note_authentic(k, st->signer, st->raw.p, body, st->raw.p + body);
}

/* The fields a Byzantine replica could change in its own statements, at
 * the offsets pbft_stmt_parse reads them: type u8 at 0, signer u32 at 1,
 * the body from 5.  Views and sequence numbers are round-like (the paper's
 * v and n); digests are values.  A digest of the state (checkpoints, view
 * changes, state transfer) is named apart from a request's. */
int pbft_fields(const uint8_t *msg, size_t len, FlMsgField *out, int max)
{
    if (len < PBFT_MAC_BYTES + PBFT_STMT_MIN)
        return 0;
    PbftStmt st;
    PbftScratch sc = { 0 };
    /* Only a VIEW-CHANGE has certificates: room for them only then. */
    if (msg[0] == PBFT_VIEW_CHANGE)
        sc.certs = g_new(PbftCertRaw, PBFT_MAX_WINDOW);
    bool ok = pbft_stmt_parse(msg, len - PBFT_MAC_BYTES, PBFT_MAX_NODES, NULL, &st, &sc);
    g_free(sc.certs);
    if (!ok)
        return 0;
    const FlFieldRole R = FL_FIELD_ROUND, V = FL_FIELD_VALUE;
    FlMsgField f[8];
    int n = 0;
    switch (st.type) {
    case PBFT_PRE_PREPARE:
    case PBFT_PREPARE:
    case PBFT_COMMIT:
        f[n++] = (FlMsgField){ "view", 5, 8, R };
        f[n++] = (FlMsgField){ "seq", 13, 8, R };
        f[n++] = (FlMsgField){ "digest", 21, 8, V };
        break;
    case PBFT_CHECKPOINT:
    case PBFT_STATE:
        f[n++] = (FlMsgField){ "seq", 5, 8, R };
        f[n++] = (FlMsgField){ "state_digest", 13, 8, V };
        break;
    case PBFT_VIEW_CHANGE:
        f[n++] = (FlMsgField){ "view", 5, 8, R };
        f[n++] = (FlMsgField){ "stable", 13, 8, R };
        f[n++] = (FlMsgField){ "state_digest", 21, 8, V };
        break;
    case PBFT_NEW_VIEW:
        f[n++] = (FlMsgField){ "view", 5, 8, R };
        break;
    case PBFT_STATUS:
        f[n++] = (FlMsgField){ "view", 5, 8, R };
        f[n++] = (FlMsgField){ "seq", 14, 8, R };
        f[n++] = (FlMsgField){ "stable", 22, 8, R };
        f[n++] = (FlMsgField){ "promised", 30, 8, R };
        f[n++] = (FlMsgField){ "reach", 38, 8, R };
        break;
    }
    if (n > max)
        n = max;
    memcpy(out, f, (size_t)n * sizeof *f);
    return n;
}

bool pbft_reseal_keys(const PbftKeys *k, uint32_t to, uint8_t *msg, size_t len)
{
    return pbft_reseal_with(k, to, msg, len, PBFT_STMT_MIN, pbft_type_signed);
}

bool pbft_reseal_with(const PbftKeys *k, uint32_t to, uint8_t *msg, size_t len, size_t stmt_min,
                      bool (*is_signed)(uint8_t type))
{
    if (len < PBFT_MAC_BYTES + stmt_min || to >= k->n)
        return false;
    FlReader r;
    fl_reader_init(&r, msg + 1, 4);
    if (fl_get_u32(&r) != k->self)
        return false;   /* another's statement: we hold no key to sign it */
    size_t stmt = len - PBFT_MAC_BYTES;
    if (is_signed(msg[0])) {
        if (stmt < stmt_min + PBFT_SIG_BYTES)
            return false;
        size_t body = stmt - PBFT_SIG_BYTES;
        pbft_sign(k, msg, body, msg + body);
    }
    pbft_mac(k, to, msg, stmt, msg + stmt);
    return true;
}

bool pbft_cert_check(const PbftCertRaw *c, uint32_t n, const PbftKeys *k, uint32_t quorum,
                     PbftPrepared *out)
{
    PbftStmt pp, pr;
    PbftScratch sc = { 0 };
    if (!pbft_stmt_parse(c->pp.p, c->pp.len, n, k, &pp, &sc) || pp.type != PBFT_PRE_PREPARE ||
        pp.signer != pbft_primary(pp.view, n) || pp.digest != pbft_digest(&pp.req))
        return false;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < c->nprep; i++) {
        if (!pbft_stmt_parse(c->prep[i].p, c->prep[i].len, n, k, &pr, &sc) || pr.type != PBFT_PREPARE ||
            pr.view != pp.view || pr.seq != pp.seq || pr.digest != pp.digest ||
            pr.signer == pp.signer)
            return false;
        seen |= paxos_bit(pr.signer);
    }
    if (paxos_count(seen) + 1 < quorum)
        return false;
    *out = (PbftPrepared){ .seq = pp.seq, .view = pp.view, .digest = pp.digest, .req = pp.req };
    return true;
}

bool pbft_proof_check(const PbftBytes *subs, uint32_t count, uint32_t n, const PbftKeys *k,
                      uint32_t quorum, uint64_t seq, uint64_t digest)
{
    if (seq == 0)
        return true;
    uint64_t seen = 0;
    PbftStmt st;
    PbftScratch sc = { 0 };
    for (uint32_t i = 0; i < count; i++) {
        if (!pbft_stmt_parse(subs[i].p, subs[i].len, n, k, &st, &sc) || st.type != PBFT_CHECKPOINT ||
            st.seq != seq || st.digest != digest)
            return false;
        seen |= paxos_bit(st.signer);
    }
    return paxos_count(seen) >= quorum;
}

bool pbft_vc_check(const uint8_t *p, size_t len, uint32_t n, const PbftKeys *k, uint32_t quorum,
                   uint64_t window, PbftVC *out, PbftScratch *sc)
{
    PbftStmt st;
    bool ok = pbft_stmt_parse(p, len, n, k, &st, sc) && st.type == PBFT_VIEW_CHANGE &&
              pbft_proof_check(st.subs, st.nsub, n, k, quorum, st.seq, st.digest) &&
              st.ncert <= window;
    out->signer = st.signer;
    out->view = st.view;
    out->stable = st.seq;
    out->stable_digest = st.digest;
    out->nprepared = 0;
    uint64_t last = 0;
    for (uint32_t i = 0; ok && i < st.ncert; i++) {
        PbftPrepared pr;
        ok = pbft_cert_check(&st.certs[i], n, k, quorum, &pr) && pr.view < st.view &&
             pr.seq > st.seq && pr.seq <= st.seq + window && pr.seq > last;
        last = pr.seq;   /* ascending: one certificate per sequence number */
        if (ok)
            out->prepared[out->nprepared++] = pr;
    }
    return ok;
}

int pbft_new_view_ops(const PbftVC *vcs, uint32_t k, PbftPrepared *ops, uint32_t cap,
                      uint64_t *min_s, uint32_t *min_vc)
{
    uint64_t lo = 0, hi = 0;
    uint32_t lo_vc = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (vcs[i].stable > lo || i == 0) {
            lo = vcs[i].stable;
            lo_vc = i;
        }
    }
    for (uint32_t i = 0; i < k; i++)
        for (uint32_t j = 0; j < vcs[i].nprepared; j++)
            if (vcs[i].prepared[j].seq > hi)
                hi = vcs[i].prepared[j].seq;
    *min_s = lo;
    *min_vc = lo_vc;
    if (hi <= lo)
        return 0;
    if (hi - lo > cap || hi - lo > PBFT_MAX_WINDOW)
        return -1;
    uint32_t count = (uint32_t)(hi - lo);
    for (uint32_t s = 0; s < count; s++)
        ops[s] = (PbftPrepared){ .seq = lo + 1 + s, .view = 0, .digest = 0, .req = pbft_null_request() };
    bool has[PBFT_MAX_WINDOW] = { 0 };
    for (uint32_t i = 0; i < k; i++)
        for (uint32_t j = 0; j < vcs[i].nprepared; j++) {
            const PbftPrepared *p = &vcs[i].prepared[j];
            if (p->seq <= lo)
                continue;
            PbftPrepared *o = &ops[p->seq - lo - 1];
            if (!has[p->seq - lo - 1] || p->view > o->view) {
                *o = *p;
                has[p->seq - lo - 1] = true;
            }
        }
    for (uint32_t s = 0; s < count; s++)
        if (!has[s])
            ops[s].digest = pbft_digest(&ops[s].req);
    return (int)count;
}
