/* Raft's configurations: the pure rules of single-server membership
 * changes (Ongaro's thesis, chapter 4).  See raft.h for the representation
 * and raft.c note 14 for how the node uses them. */
#include "protocols/raft/raft.h"

RaftConf raft_conf_all(uint32_t nodes)
{
    g_assert(nodes >= 1 && nodes <= RAFT_CONF_MAX_NODES);
    RaftConf c = { .voters = nodes == 64 ? UINT64_MAX : (UINT64_C(1) << nodes) - 1 };
    return c;
}

bool raft_conf_valid(const RaftConf *c, uint32_t nodes)
{
    if (nodes == 0 || nodes > RAFT_CONF_MAX_NODES)
        return false;
    uint64_t all = raft_conf_all(nodes).voters;
    return c->voters != 0 && (c->voters & c->learners) == 0 && ((c->voters | c->learners) & ~all) == 0;
}

bool raft_conf_single_change(const RaftConf *a, const RaftConf *b)
{
    /* The servers whose role (absent, learner, voter) differs. */
    uint64_t changed = (a->voters ^ b->voters) | (a->learners ^ b->learners);
    return changed != 0 && (changed & (changed - 1)) == 0;
}

bool raft_conf_quorum(const RaftConf *c, uint64_t acks)
{
    return 2 * (unsigned)__builtin_popcountll(acks & c->voters) >
           (unsigned)__builtin_popcountll(c->voters);
}

void raft_conf_entry(RaftEntry *e, uint64_t term, const RaftConf *c)
{
    *e = (RaftEntry){ .term = term };
    e->req.client = RAFT_NO_NODE;
    e->req.op.kind = FL_OP_NOOP;
    e->req.op.key = RAFT_CONF_KEY;
    e->req.op.a = (int64_t)c->voters;
    e->req.op.b = (int64_t)c->learners;
}

bool raft_conf_of(const RaftEntry *e, uint32_t nodes, RaftConf *c)
{
    if (e->req.op.kind != FL_OP_NOOP || e->req.op.key != RAFT_CONF_KEY ||
        e->req.client != RAFT_NO_NODE)
        return false;
    RaftConf t = { (uint64_t)e->req.op.a, (uint64_t)e->req.op.b };
    if (!raft_conf_valid(&t, nodes))
        return false;
    *c = t;
    return true;
}

uint64_t raft_log_conf(const RaftLog *log, uint64_t index, const RaftConf *base, uint32_t nodes,
                       RaftConf *out)
{
    if (index > raft_log_last_index(log))
        index = raft_log_last_index(log);
    for (uint64_t i = index; i > log->base; i--)
        if (raft_conf_of(raft_log_get(log, i), nodes, out))
            return i;
    *out = *base;
    return log->base;
}

uint64_t raft_conf_commit_index(const RaftLog *log, const RaftConf *c, const uint64_t *match,
                                uint32_t nodes, uint64_t term, uint64_t commit, bool any_term)
{
    uint64_t voters[RAFT_CONF_MAX_NODES];
    uint32_t k = 0;
    for (uint32_t i = 0; i < nodes && i < RAFT_CONF_MAX_NODES; i++)
        if (c->voters >> i & 1)
            voters[k++] = match[i];
    g_assert(k >= 1);
    return raft_log_commit_index(log, voters, k, term, commit, any_term);
}

void raft_conf_put(FlWriter *w, const RaftConf *c)
{
    fl_put_u64(w, c->voters);
    fl_put_u64(w, c->learners);
}

bool raft_conf_get(FlReader *r, uint32_t nodes, RaftConf *c)
{
    RaftConf t;
    t.voters = fl_get_u64(r);
    t.learners = fl_get_u64(r);
    if (!fl_reader_ok(r) || !raft_conf_valid(&t, nodes))
        return false;
    *c = t;
    return true;
}
