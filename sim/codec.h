/* sim/codec: the in-tree name of <faultline/codec.h>, the installed node API
 * header (include/faultline/codec.h), kept so engine and protocol code include
 * it as "sim/codec.h" like the rest of sim/. */
#pragma once

#include <faultline/codec.h>
