/* sim/check/consistency.h: the names of the consistency models the checker
 * decides, for code outside the checker (scenario loading) that must not
 * see the checker's types. */
#pragma once

/* Every consistency name `faultline check` takes, NULL-terminated:
 * linearizable, sequential-per-key, atomic-commit (old name atomic),
 * sequential (old name sequential-multikey), causal, causal-memory,
 * causal-convergence, session, read-your-writes, monotonic-reads,
 * monotonic-writes, writes-follow-reads, eventual (see weak.h). */
const char *const *fl_consistency_names(void);
/* One line on what @name promises, or NULL if it is not a name above. */
const char *fl_consistency_doc(const char *name);
