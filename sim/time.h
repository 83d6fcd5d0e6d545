/* sim/time: the in-tree name of <faultline/time.h>, the installed node API
 * header (include/faultline/time.h), kept so engine and protocol code include
 * it as "sim/time.h" like the rest of sim/. */
#pragma once

#include <faultline/time.h>
