/* sim/node: the in-tree name of <faultline/node.h>, the installed node API
 * header (include/faultline/node.h), kept so engine and protocol code include
 * it as "sim/node.h" like the rest of sim/. */
#pragma once

#include <faultline/node.h>
