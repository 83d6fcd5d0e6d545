/* faults/registry: the table of fault kinds, one entry per file. */
#pragma once

#include "sim/fault.h"

/* NULL-terminated list of every fault kind. */
const FlFaultKind *const *fl_fault_kinds(void);
const FlFaultKind *fl_fault_kind_find(const char *name);
