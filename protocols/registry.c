/* The table of protocols: add one by adding its file and one line here. */
#include "protocols/registry.h"

#include <string.h>

extern const FlProtocol fl_proto_single;
extern const FlProtocol fl_proto_primary_backup;
extern const FlProtocol fl_proto_lww;
extern const FlProtocol fl_proto_crdt;
extern const FlProtocol fl_proto_causal;
extern const FlProtocol fl_proto_abd;
extern const FlProtocol fl_proto_chain;
extern const FlProtocol fl_proto_dynamo;
extern const FlProtocol fl_proto_mapreduce;
extern const FlProtocol fl_proto_dfs;
extern const FlProtocol fl_proto_stream;
extern const FlProtocol fl_proto_fd_demo;
extern const FlProtocol fl_proto_twopc;
extern const FlProtocol fl_proto_txnkv;
extern const FlProtocol fl_proto_threepc;
extern const FlProtocol fl_proto_shard_kv;
extern const FlProtocol fl_proto_raft;
extern const FlProtocol fl_proto_paxos;
extern const FlProtocol fl_proto_fastpaxos;
extern const FlProtocol fl_proto_pbft;
extern const FlProtocol fl_proto_hotstuff;
extern const FlProtocol fl_proto_vr;
extern const FlProtocol fl_proto_clocks;
extern const FlProtocol fl_proto_election_bully;
extern const FlProtocol fl_proto_election_ring;
extern const FlProtocol fl_proto_snapshot;
extern const FlProtocol fl_proto_broadcast;
extern const FlProtocol fl_proto_lease;
extern const FlProtocol fl_proto_mutex;
extern const FlProtocol fl_proto_swim;
extern const FlProtocol fl_proto_clocksync;
#ifdef FL_HAVE_CANONICAL_RAFT
extern const FlProtocol fl_proto_canonical_raft;   /* only when libraft is installed */
#endif

static const FlProtocol *const protocols[] = {
    &fl_proto_single,
    &fl_proto_primary_backup,
    &fl_proto_lww,
    &fl_proto_crdt,
    &fl_proto_causal,
    &fl_proto_abd,
    &fl_proto_chain,
    &fl_proto_dynamo,
    &fl_proto_mapreduce,
    &fl_proto_dfs,
    &fl_proto_stream,
    &fl_proto_fd_demo,
    &fl_proto_twopc,
    &fl_proto_txnkv,
    &fl_proto_threepc,
    &fl_proto_shard_kv,
    &fl_proto_raft,
    &fl_proto_paxos,
    &fl_proto_fastpaxos,
    &fl_proto_pbft,
    &fl_proto_hotstuff,
    &fl_proto_vr,
    &fl_proto_clocks,
    &fl_proto_election_bully,
    &fl_proto_election_ring,
    &fl_proto_snapshot,
    &fl_proto_broadcast,
    &fl_proto_mutex,
    &fl_proto_lease,
    &fl_proto_swim,
    &fl_proto_clocksync,
#ifdef FL_HAVE_CANONICAL_RAFT
    &fl_proto_canonical_raft,
#endif
    NULL,
};

const FlProtocol *const *fl_protocols(void)
{
    return protocols;
}

const FlProtocol *fl_protocol_find(const char *name)
{
    for (const FlProtocol *const *p = protocols; *p; p++)
        if (strcmp((*p)->name, name) == 0)
            return *p;
    return NULL;
}
