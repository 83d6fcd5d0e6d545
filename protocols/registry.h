/* protocols/registry: the one table that lists every protocol. */
#pragma once

#include "sim/node.h"

/* NULL-terminated list of every protocol. */
const FlProtocol *const *fl_protocols(void);
const FlProtocol *fl_protocol_find(const char *name);
