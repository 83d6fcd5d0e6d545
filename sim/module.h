/* sim/module: loads out-of-tree protocol modules (shared objects built
 * against <faultline/node.h> that end with FL_MODULE(...)).
 *
 * A loaded module stays loaded until the process exits, so the protocols
 * it exports are borrowed for the whole run by whoever finds them here.
 * The loader knows nothing of the built-in protocols: the caller hands it
 * the table a module's names must not collide with.  Loading is
 * idempotent per file (a scenario and --module may name the same one).
 * Single-threaded, like the rest of the engine; forked workers inherit what
 * the parent loaded. */
#pragma once

#include "sim/node.h"

#include <glib.h>
#include <stdbool.h>

/* Loads the module at @path (borrowed).  @taken is a NULL-terminated table
 * of protocols whose names a module may not reuse (the built-ins); may be
 * NULL.  On failure returns false and sets @err to "module PATH: REASON",
 * the reason one of: no such file, not a shared object (with the loader's
 * message), no fl_module symbol, another ABI version, a malformed protocol
 * table, a protocol name already taken.  A module that failed is not kept. */
bool fl_module_load(const char *path, const FlProtocol *const *taken, GError **err);

/* The protocol named @name among every module loaded so far, or NULL. */
const FlProtocol *fl_module_protocol_find(const char *name);

/* The @i-th protocol loaded (in load order, then table order), or NULL past
 * the last: for listing them. */
const FlProtocol *fl_module_protocol(size_t i);
