/* sim/rng: the in-tree name of <faultline/rng.h>, the installed node API
 * header (include/faultline/rng.h), kept so engine and protocol code include
 * it as "sim/rng.h" like the rest of sim/. */
#pragma once

#include <faultline/rng.h>
