/* sim/store: the in-tree name of <faultline/store.h>, the installed node API
 * header (include/faultline/store.h), kept so engine and protocol code include
 * it as "sim/store.h" like the rest of sim/. */
#pragma once

#include <faultline/store.h>
