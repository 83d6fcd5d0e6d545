/* sim/cli/tables: the catalog the faultline program hands the engine
 * (sim/catalog.h): the built-in protocols (protocols/registry.h), the fault
 * kinds (faults/registry.h) and the nemesis's explicit schedule
 * (faults/nemesis.h).  Here, in the program, is the one place where the
 * engine and the layers built on it meet. */
#pragma once

/* Sets the engine's catalog to the built-in tables.  Call once before
 * loading a scenario; test programs that load scenarios do the same
 * (tests/tables.c). */
void fl_cli_tables_install(void);
