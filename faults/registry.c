/* The table of fault kinds: add a kind by adding its file and one line. */
#include "faults/registry.h"

#include <string.h>

extern const FlFaultKind fl_fault_crash;
extern const FlFaultKind fl_fault_pause;
extern const FlFaultKind fl_fault_omission;
extern const FlFaultKind fl_fault_partition;
extern const FlFaultKind fl_fault_delay;
extern const FlFaultKind fl_fault_duplicate;
extern const FlFaultKind fl_fault_clog;
extern const FlFaultKind fl_fault_byzantine;
extern const FlFaultKind fl_fault_clock;
extern const FlFaultKind fl_fault_disk;
extern const FlFaultKind fl_fault_nemesis;
extern const FlFaultKind fl_fault_reorder;
extern const FlFaultKind fl_fault_pct;
extern const FlFaultKind fl_fault_slow_link;
extern const FlFaultKind fl_fault_slow_node;
extern const FlFaultKind fl_fault_trigger;
extern const FlFaultKind fl_fault_attacker;

static const FlFaultKind *const kinds[] = {
    &fl_fault_crash,
    &fl_fault_pause,
    &fl_fault_omission,
    &fl_fault_partition,
    &fl_fault_delay,
    &fl_fault_duplicate,
    &fl_fault_clog,
    &fl_fault_byzantine,
    &fl_fault_clock,
    &fl_fault_disk,
    &fl_fault_nemesis,
    &fl_fault_reorder,
    &fl_fault_pct,
    &fl_fault_slow_link,
    &fl_fault_slow_node,
    &fl_fault_trigger,
    &fl_fault_attacker,
    NULL,
};

const FlFaultKind *const *fl_fault_kinds(void)
{
    return kinds;
}

const FlFaultKind *fl_fault_kind_find(const char *name)
{
    for (const FlFaultKind *const *k = kinds; *k; k++)
        if (strcmp((*k)->name, name) == 0)
            return *k;
    return NULL;
}
