/* The table of fault kinds: add a kind by adding its file and one line. */
#include "faults/registry.h"

#include <string.h>

extern const FlFaultKind fl_fault_crash;
extern const FlFaultKind fl_fault_partition;
extern const FlFaultKind fl_fault_omission;

static const FlFaultKind *const kinds[] = {
    &fl_fault_crash,
    &fl_fault_partition,
    &fl_fault_omission,
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
